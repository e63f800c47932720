"""Quick-look images of one frame of any stream: what a person recognises.

* pre-scan lines (envelope, RF, IQ, amplitude): detected (magnitude of I/Q, envelope of RF; never
  the raw I or Q values), log compressed over ``dynamic_range_db`` below the frame's own 99.9th
  percentile, and scan-converted when the probe geometry is known; else shown depth-down (samples
  as rows, lines as columns);
* colour-flow ensembles (IQ lines that repeat): the ensemble's mean power, one column per
  distinct line (not the firings side by side, which look like stripes);
* channel data with transmits (zea ``raw_data`` ``(n_tx, n_ax, n_el[, 2])``): the first transmit,
  depth-down (transmits are never stacked as colour channels);
* stored images (DICOM, zea ``image``, B-mode): as stored, grey or RGB.

Images are resampled to square pixels where both spacings are known, so they have their true
aspect ratio.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.ensemble import ensemble_geometry, ensembles, is_ensemble_stream
from ..core.geometry import LineGeometry
from ..core.recording import SampleKind, Stream
from ..errors import SonobridgeError
from .envelope import AUTO_REFERENCE_PERCENTILE, LogCompression, power_of
from .render import IMAGE_KINDS, stored_image
from .scan_convert import ScanConverter

__all__ = ["Preview", "preview", "preview_frame"]


@dataclass(frozen=True)
class Preview:
    """A preview image: uint8 grey ``(rows, columns)`` or RGB ``(rows, columns, 3)``, depth down;
    ``pixel_size_m`` its square pixel size (None when not known in both directions); ``how`` what
    was done (``"as stored"``, ``"scan-converted"``, ``"depth-down"``)."""

    image: np.ndarray
    pixel_size_m: float | None
    how: str


def preview_frame(stream: Stream, index: int = 0, dynamic_range_db: float = 60.0) -> np.ndarray:
    """The image of :func:`preview`: uint8 ``(rows, columns)`` or ``(rows, columns, 3)``."""
    return preview(stream, index, dynamic_range_db).image


def preview(stream: Stream, index: int = 0, dynamic_range_db: float = 60.0) -> Preview:
    """Frame ``index`` (0-based) of ``stream`` as a :class:`Preview`.

    Parameters
    ----------
    stream : Stream
        Any stream with frames.
    index : int
        0-based frame index.
    dynamic_range_db : float
        Log-compression range of detected data, dB.

    Returns
    -------
    Preview
    """
    if stream.frames is None:
        raise SonobridgeError(stream.label, f"stream {stream.name!r} has no frames")
    if stream.kind in IMAGE_KINDS:
        rgb, grid = stored_image(stream, index)
        image = rgb if len(stream.frame_shape) == 3 else np.ascontiguousarray(rgb[..., 0])
        return Preview(image, grid.pixel_size_m if grid is not None else None, "as stored")
    lines, geometry = _lines(stream, index, dynamic_range_db)
    if isinstance(geometry, LineGeometry) and geometry.probe is not None:
        try:
            converter = ScanConverter.build(geometry, lines.shape[1])
        except ValueError:                      # incomplete probe: show the lines instead
            converter = None
        if converter is not None:
            return Preview(converter(lines), converter.grid.pixel_size_m, "scan-converted")
    return _depth_down(lines, geometry)


def _lines(stream: Stream, index: int, dynamic_range_db: float) -> tuple[np.ndarray, LineGeometry | None]:
    """uint8 ``(n_lines, n_samples)`` of frame ``index`` (detected and log compressed unless an
    envelope) and the geometry of those lines."""
    geometry = stream.geometry if isinstance(stream.geometry, LineGeometry) else None
    if is_ensemble_stream(stream):
        power = np.mean(np.abs(ensembles(stream, index)) ** 2, axis=-1, dtype=np.float32)
        return _compressed(power, dynamic_range_db), ensemble_geometry(stream)
    frame = np.asarray(stream.frames[index])
    iq = stream.kind in (SampleKind.IQ, SampleKind.PW_IQ) and frame.shape[-1:] == (2,)
    plane = frame.ndim - (1 if iq else 0)
    if plane > 2:                               # transmits first (zea raw_data): the first one
        frame = frame.reshape(-1, *frame.shape[plane - 2:])[0]
        frame = np.swapaxes(frame, 0, 1)        # (n_ax, n_el) -> lines x samples
        geometry = None
    if stream.kind is SampleKind.ENVELOPE:
        return np.asarray(frame, np.uint8), geometry
    return _compressed(power_of(stream.kind, frame), dynamic_range_db), geometry


def _compressed(power: np.ndarray, dynamic_range_db: float) -> np.ndarray:
    reference = 10 * float(np.log10(max(np.percentile(power, AUTO_REFERENCE_PERCENTILE), 1e-30)))
    return LogCompression(dynamic_range_db, 0.0, reference)(power)


def _depth_down(lines: np.ndarray, geometry: LineGeometry | None) -> Preview:
    """Lines as columns, samples as rows; resampled to square pixels when the line spacing is
    known (a probe pitch), so the image has its true aspect."""
    image = np.ascontiguousarray(lines.T)
    if geometry is None or geometry.probe is None or not geometry.probe.pitch_m or geometry.n_lines < 2:
        return Preview(image, None, "depth-down")
    from PIL import Image

    step = abs(float(np.median(np.diff(geometry.element_positions)))) or 1.0
    dx, dz = geometry.probe.pitch_m * step, geometry.sample_spacing_m
    size = min(dx, dz)
    columns = max(1, round(image.shape[1] * dx / size))
    rows = max(1, round(image.shape[0] * dz / size))
    return Preview(np.array(Image.fromarray(image).resize((columns, rows), Image.Resampling.BILINEAR)),
                   size, "depth-down")


def __getattr__(name: str):
    """``save_png`` moved to :func:`sonobridge.util.png.save_png` (processing writes no files)."""
    if name == "save_png":
        from ..util.png import save_png

        return save_png
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
