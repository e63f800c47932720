"""Quick-look images of a stream's frame (pre-scan, not scan-converted).

Envelope frames are shown as stored; RF is envelope-detected (analytic signal) and IQ taken as
magnitude, both log-compressed to ``dynamic_range_db``. Depth runs down, lines across.
"""
from __future__ import annotations

import numpy as np

from ..core.recording import SampleKind, Stream


def _log_compress(amplitude: np.ndarray, dynamic_range_db: float) -> np.ndarray:
    level_db = 20 * np.log10(np.maximum(amplitude, 1e-12))
    top = np.percentile(level_db, 99.9)
    scaled = (level_db - (top - dynamic_range_db)) / dynamic_range_db
    return np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)


def rf_envelope(lines: np.ndarray) -> np.ndarray:
    """Envelope ``|analytic signal|`` of RF lines ``(..., n_samples)`` (float32)."""
    n = lines.shape[-1]
    weights = np.zeros(n, np.float32)
    weights[0] = 1
    weights[1:(n + 1) // 2] = 2
    if n % 2 == 0:
        weights[n // 2] = 1
    analytic = np.fft.ifft(np.fft.fft(lines.astype(np.float32), axis=-1) * weights, axis=-1)
    return np.abs(analytic).astype(np.float32)


def preview_frame(stream: Stream, index: int = 0, dynamic_range_db: float = 60.0) -> np.ndarray:
    """uint8 image ``(n_samples, n_lines)`` of frame ``index``."""
    if stream.frames is None:
        raise ValueError(f"stream {stream.name!r} has no frames")
    frame = np.asarray(stream.frames[index])
    if stream.kind is SampleKind.ENVELOPE:
        image = frame.astype(np.uint8)
    elif stream.kind in (SampleKind.IQ, SampleKind.PW_IQ):
        image = _log_compress(np.hypot(frame[..., 0].astype(np.float32), frame[..., 1]), dynamic_range_db)
    elif stream.kind is SampleKind.RF:
        image = _log_compress(rf_envelope(frame), dynamic_range_db)
    else:
        return frame.astype(np.uint8)
    return np.ascontiguousarray(image.T)


def save_png(image: np.ndarray, path) -> None:
    """Write a uint8 grey image to ``path`` as PNG (atomically)."""
    from PIL import Image

    from ..export.atomic import atomic_path

    with atomic_path(path) as temporary:
        Image.fromarray(image).save(temporary, format="PNG")
