"""A stream of the core model -> an ImageJ-compatible TIFF stack (``tifffile``, ``imagej=True``).

What ImageJ/Fiji (and napari through ``tifffile``) read as calibration: the pixel size as
resolution in pixels per mm (``unit`` mm) for x (lateral) and y (depth), the frame interval
``finterval`` in seconds (the mean of the stream's frame times), axes ``TYX`` (``TYXS`` for RGB),
and per-frame labels with each frame's time. Frames are written as stored (uint8, uint16 or
float32; other integer types whose values float32 holds exactly become float32), so the stack
reads back bit-exact. Written under a temporary name, renamed when complete.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...core.geometry import PixelGrid
from ...core.recording import Recording, SampleKind, Stream
from ...errors import MissingDependencyError, OutputExistsError, SonobridgeError
from ...util.atomic import atomic_path

#: dtypes ImageJ stacks hold as they are
IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
#: frames per chunk handed to tifffile (bounded memory for long cines)
CHUNK_FRAMES = 64


def tiff_stream(recording: Recording) -> Stream:
    """The stream a TIFF export holds: the first image stream (grey or RGB; one on a pixel grid
    first), else the first envelope as displayed (scan-converted when the probe is known)."""
    from ...processing.display import display_envelope

    images = [s for s in recording if s.has_frames and s.n_frames and s.kind in (SampleKind.IMAGE, SampleKind.BMODE)
              and (len(s.frame_shape) == 2 or s.frame_shape[2:] == (3,))]
    images.sort(key=lambda s: not isinstance(s.geometry, PixelGrid))
    if images:
        return images[0]
    for stream in recording:
        if stream.has_frames and stream.n_frames and stream.kind is SampleKind.ENVELOPE:
            return display_envelope(stream)
    raise SonobridgeError(recording.name, "no image or envelope stream to write as a TIFF stack")


def imagej_calibration(stream: Stream) -> dict[str, Any]:
    """``tifffile.imwrite`` keywords for the stream's calibration: ``resolution`` (pixels per mm,
    x then y) and ``metadata`` (axes, unit, finterval in s, per-frame labels)."""
    rgb = len(stream.frame_shape) == 3
    metadata: dict[str, Any] = {"axes": "TYXS" if rgb else "TYX"}
    options: dict[str, Any] = {}
    grid = stream.geometry
    if isinstance(grid, PixelGrid) and grid.x_m.size > 1 and grid.z_m.size > 1:
        dx_mm, dz_mm = (abs(float(np.diff(axis).mean())) * 1e3 for axis in (grid.x_m, grid.z_m))
        options["resolution"] = (1 / dx_mm, 1 / dz_mm)
        metadata["unit"] = "mm"
    times = stream.timestamps_s
    if times is not None and times.size == stream.n_frames:
        if times.size > 1 and times[-1] > times[0]:
            metadata["finterval"] = float(np.diff(times).mean())
        metadata["Labels"] = [f"t = {t:.6f} s" for t in times - times[0]]
    elif stream.mean_frame_rate_hz:
        metadata["finterval"] = 1 / stream.mean_frame_rate_hz
    return {**options, "metadata": metadata}


def export_tiff(source: Recording | Stream, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``source`` (a Recording: its image stream, see :func:`tiff_stream`; or one Stream) as
    an ImageJ TIFF stack ``(n_frames, rows, columns[, 3])`` at ``path``; returns the path.

    Parameters
    ----------
    source : Recording or Stream
        What to write.
    path : str or os.PathLike
        The ``.tif``/``.tiff`` file.
    overwrite : bool
        Replace an existing file (else :class:`~sonobridge.errors.OutputExistsError`).

    Returns
    -------
    pathlib.Path
    """
    try:
        import tifffile
    except ImportError:
        raise MissingDependencyError(None, "TIFF stacks need tifffile: pip install 'sonobridge[tiff]'") from None
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(path, "exists (overwrite it with overwrite=True or --overwrite)")
    stream = source if isinstance(source, Stream) else tiff_stream(source)
    dtype = stored_dtype(stream)
    frames = stream.require_frames()
    shape = (stream.n_frames, *stream.frame_shape)

    def chunks():
        for start in range(0, stream.n_frames, CHUNK_FRAMES):
            yield from np.asarray(frames[start:start + CHUNK_FRAMES]).astype(dtype, copy=False)

    nbytes = int(np.prod(shape)) * dtype.itemsize
    with atomic_path(path, expected_size=nbytes) as temporary:
        tifffile.imwrite(temporary, data=chunks(), shape=shape, dtype=dtype, imagej=True,
                         photometric="rgb" if len(stream.frame_shape) == 3 else "minisblack",
                         **imagej_calibration(stream))
    return path


def stored_dtype(stream: Stream) -> np.dtype:
    """The dtype the stack holds: the stream's own when ImageJ has it, float32 for integers that
    float32 represents exactly (8/16-bit signed); anything else cannot be stored bit-exact. ImageJ
    keeps colour only as 8-bit RGB, so other colour frames are refused too."""
    dtype = np.dtype(stream.dtype)
    if len(stream.frame_shape) != 2:
        if stream.frame_shape[2:] == (3,) and dtype == np.uint8:
            return dtype
        raise SonobridgeError(stream.label, f"a TIFF stack for ImageJ holds grey frames or 8-bit RGB, not "
                                            f"{dtype} frames of shape {stream.frame_shape}")
    if dtype in IMAGEJ_DTYPES:
        return dtype
    if dtype in (np.dtype(np.int8), np.dtype(np.int16)):
        return np.dtype(np.float32)
    raise SonobridgeError(stream.label, f"a TIFF stack for ImageJ holds uint8, uint16 or float32 frames, not {dtype}")


__all__ = ["export_tiff", "imagej_calibration", "stored_dtype", "tiff_stream"]
