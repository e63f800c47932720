"""Colour-flow estimation from slow-time ensembles (autocorrelation, Kasai).

Input: complex ensembles ``(n_lines, n_samples, ensemble)`` (slow time last). A polynomial
regression wall filter removes the tissue clutter (order 2 by default: clutter drifts in phase
over an ensemble, so removing the mean alone leaves a parabolic residue); then per pixel

* ``r0 = mean |x|^2`` (Doppler power) and ``r1 = mean x[n+1] conj(x[n])`` (lag-1 autocorrelation),
  averaged over ``axial_window`` samples;
* ``phase = angle(r1) / pi``: mean Doppler shift as a fraction of the Nyquist limit, positive for
  phase advancing with time (conventionally flow towards the probe, shown red);
* ``velocity = phase * c * prf / (4 f0)`` along the beam, metres per second, when the pulse
  repetition frequency is known.

Interpolating phase directly would wrap at +-Nyquist; :func:`scan_convert_flow` interpolates
``r0`` and ``r1`` instead and derives phase afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scan_convert import ScanConverter


@dataclass(frozen=True)
class ColourFlow:
    """Autocorrelation estimates, each ``(n_lines, n_samples)`` (or ``(n_z, n_x)`` after scan
    conversion): ``r0`` float32 power, ``r1`` complex64 lag-1 autocorrelation."""

    r0: np.ndarray
    r1: np.ndarray

    @property
    def phase(self) -> np.ndarray:
        """Mean Doppler phase per pulse as a fraction of Nyquist, in [-1, 1]."""
        return (np.angle(self.r1) / np.pi).astype(np.float32)

    @property
    def power_db(self) -> np.ndarray:
        return (10 * np.log10(np.maximum(self.r0, 1e-30))).astype(np.float32)

    @property
    def coherence(self) -> np.ndarray:
        """``|r1| / r0`` in [0, 1]: 1 for a pure Doppler tone, near 0 for noise."""
        return np.divide(np.abs(self.r1), self.r0, out=np.zeros(self.r0.shape, np.float32),
                         where=self.r0 > 0)

    def velocity_m_s(self, prf_hz: float, centre_frequency_hz: float,
                     sound_speed_m_s: float = 1540.0) -> np.ndarray:
        """Axial velocity (m/s, + towards the probe) for a known PRF and transmit frequency."""
        return self.phase * np.float32(sound_speed_m_s * prf_hz / (4 * centre_frequency_hz))

    def flow_mask(self, power_above_median_db: float = 6.0, min_coherence: float = 0.6) -> np.ndarray:
        """Pixels showing flow: power this far above the median and a coherent Doppler shift."""
        power = self.power_db
        valid = self.r0 > 0
        floor = np.median(power[valid]) if valid.any() else 0.0
        return valid & (power > floor + power_above_median_db) & (self.coherence > min_coherence)


def wall_filter(ensembles: np.ndarray, order: int = 2) -> np.ndarray:
    """Remove polynomials up to ``order`` in slow time (last axis) by orthogonal projection."""
    n = ensembles.shape[-1]
    if not 0 <= order < n - 1:
        raise ValueError(f"wall filter order {order} needs an ensemble longer than {order + 1}")
    basis = np.vander(np.linspace(-1, 1, n), order + 1, increasing=True)
    q, _ = np.linalg.qr(basis)
    projector = (np.eye(n) - q @ q.T).astype(np.float32)
    return ensembles @ projector.T


def autocorrelation(ensembles: np.ndarray, wall_filter_order: int = 2, axial_window: int = 5) -> ColourFlow:
    """Kasai estimates of ensembles ``(n_lines, n_samples, ensemble)`` complex."""
    from scipy.ndimage import uniform_filter1d

    filtered = wall_filter(np.asarray(ensembles, np.complex64), wall_filter_order)
    r1 = np.mean(filtered[..., 1:] * np.conj(filtered[..., :-1]), axis=-1)
    r0 = np.mean(np.abs(filtered) ** 2, axis=-1)
    if axial_window > 1:
        r0 = uniform_filter1d(r0, axial_window, axis=-1, mode="nearest")
        r1 = (uniform_filter1d(r1.real, axial_window, axis=-1, mode="nearest")
              + 1j * uniform_filter1d(r1.imag, axial_window, axis=-1, mode="nearest"))
    return ColourFlow(r0.astype(np.float32), r1.astype(np.complex64))


def scan_convert_flow(flow: ColourFlow, converter: ScanConverter) -> ColourFlow:
    """``flow`` on ``converter``'s pixel grid (``r0`` and ``r1`` interpolated, zero outside)."""
    planes = converter(np.stack([flow.r0, flow.r1.real, flow.r1.imag]).astype(np.float32))
    return ColourFlow(planes[0], (planes[1] + 1j * planes[2]).astype(np.complex64))
