"""Quick-look images of a stream's frame (pre-scan, not scan-converted): depth runs down, lines
across. Envelope and B-mode frames are shown as stored; RF and IQ are detected and log-compressed
over ``dynamic_range_db`` below the frame's own 99.9th percentile."""
from __future__ import annotations

import numpy as np

from ..core.geometry import PixelGrid
from ..core.recording import SampleKind, Stream
from .envelope import AUTO_REFERENCE_PERCENTILE, LogCompression, power_of

__all__ = ["preview_frame"]


def preview_frame(stream: Stream, index: int = 0, dynamic_range_db: float = 60.0) -> np.ndarray:
    """uint8 image ``(n_samples, n_lines)`` of frame ``index``."""
    if stream.frames is None:
        raise ValueError(f"stream {stream.name!r} has no frames")
    frame = np.asarray(stream.frames[index])
    if stream.kind in (SampleKind.RF, SampleKind.IQ, SampleKind.PW_IQ, SampleKind.AMPLITUDE):
        power = power_of(stream.kind, frame)
        reference = 10 * float(np.log10(max(np.percentile(power, AUTO_REFERENCE_PERCENTILE), 1e-30)))
        image = LogCompression(dynamic_range_db, 0.0, reference)(power)
    else:
        image = frame.astype(np.uint8)
    line_major = stream.kind is not SampleKind.BMODE and not isinstance(stream.geometry, PixelGrid)
    return np.ascontiguousarray(image.T) if line_major and stream.kind is not SampleKind.IMAGE else image


def __getattr__(name: str):
    """``save_png`` moved to :func:`sonobridge.util.png.save_png` (processing writes no files)."""
    if name == "save_png":
        from ..util.png import save_png

        return save_png
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
