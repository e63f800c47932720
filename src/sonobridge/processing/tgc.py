"""Time-gain compensation in dB over range (metres along the beam).

Scanners amplify echoes more the later they arrive (analog TGC); Clarius records the curve in
force for each frame (``stream.per_frame["tgc"]``, a
:class:`~sonobridge.core.tgc.TgcCurves`). :func:`remove_recorded_tgc` divides that gain
out of RF, IQ or amplitude data (gain-free values for quantitative work); :func:`apply_tgc` applies
a user curve. Both return lazy float32 streams of the same kind and shape. Gain is interpolated
linearly between curve points and held beyond the ends; it is evaluated at each sample's range
from its line origin (time of flight), which is depth for unsteered lines.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.geometry import LineGeometry
from ..core.recording import SampleKind, Stream
from ..errors import MissingMetadataError

GainProfile = Callable[[int, int], np.ndarray]  # (start, stop) -> gain dB (frames, n_samples)


def sample_ranges_m(stream: Stream) -> np.ndarray:
    """Range of each sample along its beam, metres ``(n_samples,)``."""
    if not isinstance(stream.geometry, LineGeometry):
        raise MissingMetadataError(stream.label, "no line geometry: sample depths unknown")
    return stream.geometry.sample_depths_m(stream.frame_shape[1])


def recorded_tgc_db(stream: Stream) -> np.ndarray:
    """The recorded TGC gain at every sample, dB ``(n_frames, n_samples)``."""
    curves = stream.per_frame.get("tgc")
    if curves is None:
        raise MissingMetadataError(stream.label, "no TGC recorded for this stream")
    gain = curves.gain_at(sample_ranges_m(stream))
    missing = np.flatnonzero(np.isnan(gain).any(axis=1))
    if missing.size:
        raise MissingMetadataError(stream.label, f"no TGC curve for frame {int(missing[0])} "
                                   f"({missing.size} frames without one)")
    return gain


def remove_recorded_tgc(stream: Stream) -> Stream:
    """Stream with the recorded per-frame TGC divided out (float32, same kind and shape)."""
    gain = recorded_tgc_db(stream)
    return _with_gain(stream, lambda start, stop: -gain[start:stop], "recorded TGC removed")


def apply_tgc(stream: Stream, depth_m: np.ndarray, gain_db: np.ndarray) -> Stream:
    """Stream with the user curve ``gain_db`` (dB) at ``depth_m`` (metres) applied to every frame."""
    depth_m, gain_db = np.asarray(depth_m, float), np.asarray(gain_db, float)
    if depth_m.shape != gain_db.shape or depth_m.ndim != 1 or not depth_m.size:
        raise ValueError("depth_m and gain_db must be 1-D arrays of the same, non-zero length")
    if np.any(np.diff(depth_m) <= 0):
        raise ValueError("depth_m must increase")
    profile = np.interp(sample_ranges_m(stream), depth_m, gain_db)
    points = [(float(d), float(g)) for d, g in zip(depth_m, gain_db)]
    return _with_gain(stream, lambda start, stop: np.broadcast_to(profile, (stop - start, profile.size)),
                      f"TGC applied (depth m, dB): {points}")


def _with_gain(stream: Stream, gain_db: GainProfile, step: str) -> Stream:
    if stream.kind not in (SampleKind.RF, SampleKind.IQ, SampleKind.PW_IQ, SampleKind.AMPLITUDE):
        raise ValueError(f"stream {stream.name!r} holds {stream.kind.value} samples: TGC works on "
                         "linear data (rf, iq, amplitude); scanner envelopes are already "
                         "log-compressed")
    iq = stream.kind in (SampleKind.IQ, SampleKind.PW_IQ)

    def read_range(start: int, stop: int) -> np.ndarray:
        factor = np.power(10.0, gain_db(start, stop) / 20).astype(np.float32)[:, None, :]
        frames = np.asarray(stream.frames[start:stop], np.float32)
        return frames * (factor[..., None] if iq else factor)

    return stream.derive(stream.name, stream.kind, stream.frame_shape, np.float32, read_range, step=step)
