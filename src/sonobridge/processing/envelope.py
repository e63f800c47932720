"""Detection and log compression: pre-scan lines to linear amplitude and to uint8 B-mode.

* RF lines (int16 or float): the envelope is the magnitude of the analytic signal ``x + j H{x}``,
  computed in float32 with a real FFT pair along the samples (``rfft`` -> ``-j`` -> ``irfft``
  gives the Hilbert transform) in frame chunks, so memory stays bounded.
* IQ lines (``(..., 2)`` I/Q pairs): the envelope is ``|I + jQ|``.
* Log compression maps power in dB to uint8: ``reference_db`` (the level shown white) minus
  ``dynamic_range_db`` is black, ``gain_db`` lifts everything.

Functions work on arrays; :func:`detect` and :func:`bmode` wrap a :class:`~sonobridge.core.Stream`
and return lazy streams (frames computed on access, chunk by chunk).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.recording import SampleKind, Stream

DEFAULT_CHUNK_BYTES = 4 << 20    #: float32 working set per chunk (small chunks stay in cache)
AUTO_REFERENCE_PERCENTILE = 99.9  #: ``reference_db="auto"``: this percentile of the first frames


def rf_power(rf: np.ndarray, workers: int = 1) -> np.ndarray:
    """Squared envelope ``|x + j H{x}|^2`` of RF lines ``(..., n_samples)``, float32."""
    import scipy.fft

    x = np.asarray(rf, np.float32)
    n = x.shape[-1]
    spectrum = scipy.fft.rfft(x, axis=-1, workers=workers)
    spectrum *= -1j                       # Hilbert transform: -j sign(f)
    spectrum[..., 0] = 0
    if n % 2 == 0:
        spectrum[..., -1] = 0
    hilbert = scipy.fft.irfft(spectrum, n=n, axis=-1, workers=workers, overwrite_x=True)
    hilbert *= hilbert
    power = np.multiply(x, x, out=None if np.may_share_memory(x, rf) else x)
    power += hilbert
    return power


def iq_power(iq: np.ndarray) -> np.ndarray:
    """``I^2 + Q^2`` of I/Q pairs ``(..., 2)`` (or complex samples ``(...)``), float32."""
    iq = np.asarray(iq)
    if np.iscomplexobj(iq):
        return (iq.real.astype(np.float32) ** 2 + iq.imag.astype(np.float32) ** 2)
    i, q = iq[..., 0].astype(np.float32), iq[..., 1].astype(np.float32)
    i *= i
    q *= q
    i += q
    return i


def power_of(kind: SampleKind, frames: np.ndarray, workers: int = 1) -> np.ndarray:
    """Detected power (float32, amplitude squared) of frames of sample ``kind``."""
    if kind is SampleKind.RF:
        return rf_power(frames, workers)
    if kind in (SampleKind.IQ, SampleKind.PW_IQ):
        return iq_power(frames)
    if kind is SampleKind.AMPLITUDE:
        amplitude = np.asarray(frames, np.float32)
        return amplitude * amplitude
    raise ValueError(f"cannot detect {kind.value} samples (need rf, iq or amplitude)")


@dataclass(frozen=True)
class LogCompression:
    """Power in dB -> uint8: ``reference_db - dynamic_range_db`` maps to 0, ``reference_db`` to
    255, after adding ``gain_db``. Levels are ``10 log10(power)``, i.e. dB of amplitude."""

    dynamic_range_db: float = 60.0
    gain_db: float = 0.0
    reference_db: float = 0.0

    def __post_init__(self) -> None:
        if not self.dynamic_range_db > 0:
            raise ValueError("dynamic_range_db must be > 0")

    def __call__(self, power: np.ndarray) -> np.ndarray:
        level = np.log10(np.maximum(power, np.float32(1e-30), dtype=np.float32))
        # level_db = 10 * level; out = (level_db + gain - reference + range) * 255 / range
        scale = np.float32(10 * 255 / self.dynamic_range_db)
        offset = np.float32((self.gain_db - self.reference_db + self.dynamic_range_db) * 255
                            / self.dynamic_range_db)
        level *= scale
        level += offset
        np.clip(level, 0, 255, out=level)
        return np.rint(level, out=level).astype(np.uint8)

    def to_json(self) -> dict[str, float]:
        return dict(self.__dict__)


def chunk_frames_for(stream: Stream, bytes_per_value: int = 4) -> int:
    """Frames per chunk so one float32 working copy stays under ``DEFAULT_CHUNK_BYTES``."""
    values = int(np.prod(stream.frame_shape)) or 1
    return max(1, DEFAULT_CHUNK_BYTES // (values * bytes_per_value))


DETECTABLE = (SampleKind.RF, SampleKind.IQ, SampleKind.PW_IQ, SampleKind.AMPLITUDE)


def detect(stream: Stream, workers: int = 1) -> Stream:
    """Linear amplitude (float32, ``(n_frames, n_lines, n_samples)``) of an RF or IQ stream."""
    _require_detectable(stream)
    frame_shape = _detected_shape(stream)

    def read_range(start: int, stop: int) -> np.ndarray:
        return np.sqrt(power_of(stream.kind, stream.frames[start:stop], workers))

    return stream.derive(f"{stream.name}_amplitude", SampleKind.AMPLITUDE, frame_shape, np.float32,
                         read_range, step=f"detection of {stream.kind.value} (analytic signal)")


def auto_reference_db(stream: Stream, workers: int = 1) -> float:
    """dB level of the ``AUTO_REFERENCE_PERCENTILE`` of power over the first chunk of frames."""
    _require_detectable(stream)
    chunk = min(stream.n_frames, chunk_frames_for(stream))
    power = power_of(stream.kind, stream.frames[:chunk], workers)
    top = float(np.percentile(power, AUTO_REFERENCE_PERCENTILE))
    return 10 * float(np.log10(max(top, 1e-30)))


def bmode(stream: Stream, dynamic_range_db: float = 60.0, gain_db: float = 0.0,
          reference_db: float | str = "auto", workers: int = 1) -> Stream:
    """Log-compressed uint8 pre-scan frames ``(n_frames, n_lines, n_samples)`` of an RF, IQ or
    amplitude stream (an envelope stream, already compressed by the scanner, is returned as is).

    ``reference_db``: dB (re 1 unit of amplitude) shown white; ``"auto"`` fixes it once from the
    first frames, so brightness does not flicker from frame to frame. ``workers``: threads of the
    FFT (``-1``: all cores); 1 by default, chosen by measurement (``benchmarks/bench_bmode.py``, 2
    cores): ``-1`` gains 1.19x for one stream converted alone on an idle machine (+7% CPU) but
    0.92x on busy cores, and a cohort run already keeps each core busy with its own recording.
    Pass ``-1`` to convert a single stream interactively.
    """
    if stream.kind is SampleKind.ENVELOPE:
        return stream
    _require_detectable(stream)
    if reference_db == "auto":
        reference_db = auto_reference_db(stream, workers)
    compression = LogCompression(float(dynamic_range_db), float(gain_db), float(reference_db))
    chunk = chunk_frames_for(stream)

    def read_range(start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *_detected_shape(stream)), np.uint8)
        for first in range(start, stop, chunk):
            last = min(first + chunk, stop)
            out[first - start:last - start] = compression(
                power_of(stream.kind, stream.frames[first:last], workers))
        return out

    parameters = {**stream.parameters, "log_compression": compression.to_json()}
    return stream.derive(f"{stream.name}_bmode", SampleKind.ENVELOPE, _detected_shape(stream),
                         np.uint8, read_range, parameters=parameters,
                         step=f"log compression {compression.to_json()}")


def _detected_shape(stream: Stream) -> tuple[int, ...]:
    if stream.kind in (SampleKind.IQ, SampleKind.PW_IQ):
        return tuple(stream.frame_shape[:-1])
    return tuple(stream.frame_shape)


def _require_detectable(stream: Stream) -> None:
    stream.require_frames()
    if stream.kind not in DETECTABLE:
        raise ValueError(f"cannot detect {stream.kind.value} samples of stream {stream.name!r} "
                         "(need rf, iq or amplitude)")
