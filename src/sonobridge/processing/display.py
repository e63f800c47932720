"""Display mapping: any imaging stream as 8-bit grey frames ``(n_frames, height, width)``.

What a video or a DICOM secondary capture shows, decided per stream by :func:`display_stream`:

* uint8 grey images and B-mode as stored; RGB images as their luma (:func:`display_grey`);
* envelope lines scan-converted when the probe is known, else shown depth-down
  (:func:`display_envelope`);
* float images in dB through their dynamic range (:func:`display_db`, :func:`db_to_uint8`);
* linear amplitude log compressed (:func:`display_amplitude`).

Mappings of non-uint8 sources are recorded in ``parameters["display_mapping"]`` of the result.
Everything here is lazy: frames are computed on access.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..core.geometry import LineGeometry, PixelGrid
from ..core.recording import PRODUCT_PARAMETER, SampleKind, Stream

#: dB shown black and white when a dB image states no range
DEFAULT_DB_RANGE = (-60.0, 0.0)

DisplayMapping = Callable[[Stream], Stream]


def _as_stored(stream: Stream) -> Stream:
    return stream


def display_stream(stream: Stream) -> DisplayMapping | None:
    """How ``stream`` becomes uint8 ``(n_frames, height, width)`` display frames.

    Parameters
    ----------
    stream : Stream
        Any imaging stream.

    Returns
    -------
    callable or None
        A function taking the stream and returning its lazy uint8 display stream, or None when
        the stream has no frames or no display (e.g. RF, IQ).

    Examples
    --------
    >>> from sonobridge.core.frames import LazyFrames
    >>> db = Stream("image", SampleKind.IMAGE, (2, 3), np.float32,
    ...             LazyFrames((1, 2, 3), np.float32, lambda a, b: np.full((b - a, 2, 3), -30, np.float32)))
    >>> shown = display_stream(db)(db)
    >>> shown.dtype, np.asarray(shown.frames[0:1])[0, 0, 0]
    (dtype('uint8'), np.uint8(127))
    """
    if not stream.has_frames:
        return None
    two_d = len(stream.frame_shape) == 2
    if stream.dtype != np.uint8:
        if two_d and stream.dtype.kind == "f" and stream.kind in (SampleKind.IMAGE, SampleKind.BMODE):
            return display_db
        if two_d and stream.dtype.kind in "fiu" and stream.kind is SampleKind.AMPLITUDE:
            return display_amplitude
        return None
    if stream.kind in (SampleKind.BMODE, SampleKind.IMAGE) and two_d:
        return _as_stored
    if stream.kind is SampleKind.IMAGE and stream.frame_shape[2:] == (3,):
        return display_grey
    if stream.kind is SampleKind.ENVELOPE:
        return display_envelope
    return None


def display_grey(stream: Stream) -> Stream:
    """RGB frames as grey (ITU-R BT.601 luma, rounded).

    Exact where R = G = B, as in the grey parts of ultrasound screens; colour overlays become
    their luminance.

    Parameters
    ----------
    stream : Stream
        uint8 frames ``(n_frames, height, width, 3)``.

    Returns
    -------
    Stream
        uint8 ``(n_frames, height, width)``.
    """
    frames = stream.require_frames()
    weights = np.asarray([0.299, 0.587, 0.114], np.float32)

    def read_range(start: int, stop: int) -> np.ndarray:
        return np.rint(np.asarray(frames[start:stop], np.float32) @ weights).astype(np.uint8)

    return stream.derive(stream.name, stream.kind, stream.frame_shape[:2], np.uint8, read_range,
                         step="RGB shown as grey (BT.601 luma)")


def db_to_uint8(values: np.ndarray, low_db: float, high_db: float) -> np.ndarray:
    """dB values as uint8 for display, as ``zea.display.to_8bit``.

    NaN is taken as ``low_db``; ``(v - low_db) * 255 / (high_db - low_db)`` in float32, clipped to
    [0, 255] and truncated: ``low_db`` (and below, -inf) is 0, ``high_db`` (and above) 255.

    Parameters
    ----------
    values : numpy.ndarray
        Levels in dB, any shape, float.
    low_db, high_db : float
        The dB shown black and white.

    Returns
    -------
    numpy.ndarray
        uint8, the shape of ``values``.

    Examples
    --------
    >>> db_to_uint8(np.array([-70.0, -60.0, -30.0, 0.0, np.nan]), -60.0, 0.0)
    array([  0,   0, 127, 255,   0], dtype=uint8)
    """
    low, high = np.float32(low_db), np.float32(high_db)
    levels = np.asarray(values, np.float32)
    levels = np.where(np.isnan(levels), low, levels)
    scaled = (levels - low) * np.float32(255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def db_range(stream: Stream) -> tuple[float, float]:
    """The dynamic range of a dB image.

    Parameters
    ----------
    stream : Stream
        A float image in dB.

    Returns
    -------
    tuple of float
        ``(low, high)`` dB: the stream's ``dynamic_range`` parameter or its zea scan's
        ``dynamic_range`` when given as two increasing finite values, else :data:`DEFAULT_DB_RANGE`.
    """
    for candidate in (stream.parameters.get("dynamic_range"),
                      (stream.parameters.get("scan") or {}).get("dynamic_range")):
        values = np.asarray(candidate, np.float64).ravel() if candidate is not None else np.zeros(0)
        if values.size == 2 and np.all(np.isfinite(values)) and values[1] > values[0]:
            return float(values[0]), float(values[1])
    return DEFAULT_DB_RANGE


def with_mapping(stream: Stream, mapping: dict[str, Any]) -> Stream:
    """A copy of ``stream`` recording ``mapping`` as ``parameters["display_mapping"]``."""
    return replace(stream, parameters={**stream.parameters, "display_mapping": mapping})


def display_db(stream: Stream) -> Stream:
    """A float image in dB (zea's ``image``: 0 dB white) as uint8 through its dynamic range.

    Parameters
    ----------
    stream : Stream
        float frames ``(n_frames, n_z, n_x)`` in dB.

    Returns
    -------
    Stream
        uint8 IMAGE frames of the same shape (:func:`db_to_uint8` over :func:`db_range`), the
        mapping in ``parameters["display_mapping"]``.
    """
    frames = stream.require_frames()
    low, high = db_range(stream)
    mapping = {"rule": "dB window (as zea.display.to_8bit): NaN -> low; "
                       "uint8(clip((v - low) * 255 / (high - low), 0, 255))",
               "range_db": [low, high], "source_dtype": stream.dtype.name}
    return with_mapping(stream.derive(stream.name, SampleKind.IMAGE, stream.frame_shape, np.uint8,
                                      lambda start, stop: db_to_uint8(frames[start:stop], low, high),
                                      step=f"dB image shown through [{low:g}, {high:g}] dB"), mapping)


def display_amplitude(stream: Stream) -> Stream:
    """Linear amplitude as uint8.

    Log compressed as :func:`sonobridge.processing.envelope.bmode` (60 dB, white at the reference
    level fixed from the first frames), then shown as an envelope (lines first, the core
    convention) or, on a pixel grid or as a stored image product, as the image it is.

    Parameters
    ----------
    stream : Stream
        Linear amplitude frames ``(n_frames, n_lines, n_samples)`` or ``(n_frames, n_z, n_x)``.

    Returns
    -------
    Stream
        uint8 display frames ``(n_frames, height, width)``, the mapping in
        ``parameters["display_mapping"]``.
    """
    from .envelope import bmode

    detected = bmode(stream)
    compression = detected.parameters["log_compression"]
    mapping = {"rule": "log compression (sonobridge.processing.envelope.LogCompression): "
                       "rint(clip((20 log10(a) + gain_db - reference_db + dynamic_range_db) * 255 / "
                       "dynamic_range_db, 0, 255))", **compression, "source_dtype": stream.dtype.name}
    if isinstance(stream.geometry, PixelGrid) or PRODUCT_PARAMETER in stream.parameters:
        shown = detected                           # already depth-first (z, x)
    else:
        shown = display_envelope(detected)
    return with_mapping(shown, mapping)


def display_envelope(stream: Stream) -> Stream:
    """Envelope lines as an image: scan-converted when the probe is known, else depth-down.

    Parameters
    ----------
    stream : Stream
        uint8 envelope frames ``(n_frames, n_lines, n_samples)``.

    Returns
    -------
    Stream
        uint8 ``(n_frames, n_z, n_x)`` on a pixel grid (scan conversion), or ``(n_frames,
        n_samples, n_lines)`` (samples as rows, lines as columns) without probe geometry.
    """
    geometry = stream.geometry
    if isinstance(geometry, LineGeometry) and geometry.probe is not None:
        from .scan_convert import scan_convert

        return scan_convert(stream)
    frames = stream.require_frames()
    lines, samples = stream.frame_shape
    return stream.derive(stream.name, stream.kind, (samples, lines), np.uint8,
                         lambda start, stop: np.swapaxes(np.asarray(frames[start:stop]), 1, 2),
                         step="pre-scan lines shown depth-down (no probe geometry to scan-convert)")


__all__ = ["DEFAULT_DB_RANGE", "db_range", "db_to_uint8", "display_amplitude", "display_db", "display_envelope",
           "display_grey", "display_stream", "with_mapping"]
