"""Telemed ``<stem>.tvd.h5`` sidecars (schema "v1", as written by the ``telemed`` package's
EchoWave AutoInt1 extraction), read into and written from the core model.

Layout: ``/frames/gray`` ``(n_frames, H, W)`` uint8 full EchoWave display frames (absent for
timing-only extractions), ``/timing/time_ms`` (frame 0 = 0.0) and ``/timing/ifi_ms`` (ifi[0] =
0), root attributes ``n_frames``, ``full_frame_width/height``, ``n_b_images``, per-panel blocks
``roi{N}_x1/x2/y1/y2/width/height`` (AutoInt1 1-based inclusive pixels; img_id 1 = B .. 4 = B4) and
``physical_dx{N}_cm_per_px`` / ``physical_dy{N}_cm_per_px`` (beamformer-native), display scales
``image_dx_cm_per_px`` / ``image_dy_cm_per_px`` (``b_depth_mm / 10 / panel_height_px``),
``source_tvd_path``, ``extracted_at_iso``, ``schema_version``, ``tvd_declared_n_frames`` and
``param_*`` acquisition parameters. Legacy sidecars (schema strings v1a1..v1a5 or integers 1..4, one
unprefixed ``roi_*`` block, no display scale) read through the same path and report "v1".
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...core.frames import LazyFrames
from ...core.geometry import PixelGrid
from ...core.recording import Provenance, Recording, SampleKind, Stream
from ...errors import READ_ERRORS, FormatError, read_faults
from ..h5guard import close_quietly, open_checked

FORMAT = "telemed-tvd-h5"
SCHEMA = "v1"
SUFFIX = ".tvd.h5"


@dataclass(frozen=True)
class Roi:
    """One B-mode panel: AutoInt1 1-based inclusive pixel bounds, ``img_id`` 1 = B .. 4 = B4, and
    the beamformer-native pixel size in cm."""

    img_id: int
    x1: int
    x2: int
    y1: int
    y2: int
    width: int
    height: int
    physical_dx_cm_per_px: float
    physical_dy_cm_per_px: float

    def as_slice(self) -> tuple[slice, slice]:
        """``(rows, columns)`` 0-based slices of the panel in a full display frame."""
        return slice(self.y1 - 1, self.y2), slice(self.x1 - 1, self.x2)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value.item() if isinstance(value, np.generic) else value


def normalise_schema(value: Any) -> str:
    """"v1" for the production schema and every legacy label (v1a1..v1a5, integers 1..4)."""
    value = _text(value)
    if isinstance(value, int) or (isinstance(value, str) and (value == "v1" or value.startswith("v1a"))):
        return SCHEMA
    return str(value)


def rois_from_attrs(attrs: dict[str, Any]) -> dict[int, Roi]:
    """``{img_id: Roi}`` from the per-panel ``roi{N}_*`` blocks, else the legacy ``roi_*`` block."""
    def block(prefix: str, scale: str, img_id: int) -> Roi:
        return Roi(img_id, *(int(attrs[f"{prefix}_{k}"]) for k in ("x1", "x2", "y1", "y2", "width", "height")),
                   float(attrs[f"physical_dx{scale}_cm_per_px"]), float(attrs[f"physical_dy{scale}_cm_per_px"]))

    rois = {n: block(f"roi{n}", str(n), n) for n in (1, 2, 3, 4) if f"roi{n}_x1" in attrs}
    if not rois and "roi_x1" in attrs:
        rois = {1: block("roi", "", 1)}
    return rois


@dataclass
class Sidecar:
    """A sidecar's content. ``frames``: ``(n, H, W)`` uint8 array or lazy dataset (None when
    timing-only); ``time_ms``: per-frame times from frame 0; ``params``: ``param_*`` without the
    prefix; ``image_d{x,y}_cm_per_px`` None when the sidecar does not store them."""

    time_ms: np.ndarray
    rois: dict[int, Roi]
    full_frame_width: int
    full_frame_height: int
    frames: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    image_dx_cm_per_px: float | None = None
    image_dy_cm_per_px: float | None = None
    source_tvd_path: str = ""
    extracted_at_iso: str = ""
    schema_version: str = SCHEMA
    tvd_declared_n_frames: int | None = None
    has_frames: bool = False

    @property
    def n_frames(self) -> int:
        return int(self.time_ms.size)

    def close(self) -> None:
        """Close the file the frames are read from (when they come from one)."""
        file = getattr(self.frames, "file", None)
        if file is not None:
            close_quietly(file)

    @property
    def ifi_ms(self) -> np.ndarray:
        return np.diff(self.time_ms, prepend=self.time_ms[:1])

    def display_scale_cm(self) -> tuple[float | None, float | None]:
        """``(dx, dy)`` display cm per pixel: stored, else ``b_depth_mm / 10 / panel height``."""
        dy = self.image_dy_cm_per_px
        if dy is None and self.params.get("b_depth") is not None and 1 in self.rois:
            dy = float(self.params["b_depth"]) / 10.0 / float(self.rois[1].height)
        dx = self.image_dx_cm_per_px if self.image_dx_cm_per_px is not None else dy
        return dx, dy


def read_sidecar(path: str | os.PathLike, keep_open: bool = True) -> Sidecar:
    """Parse a sidecar. ``keep_open``: ``frames`` is the open h5py dataset (else the file is
    closed and ``frames`` is None; ``has_frames`` tells whether the file holds any)."""
    handle = open_checked(path)          # every item is checked: the sidecar has no free-form group
    try:
        sidecar, attrs = _parse(handle)
        problem = _inconsistency(sidecar, attrs)
    except READ_ERRORS as error:
        close_quietly(handle)
        raise FormatError(path, f"not a readable Telemed sidecar ({type(error).__name__}: {error})") from None
    if problem:
        close_quietly(handle)
        raise FormatError(path, problem)
    sidecar.has_frames = sidecar.frames is not None
    if not keep_open:
        sidecar.close()
        sidecar.frames = None
    return sidecar


def _parse(handle) -> tuple[Sidecar, dict[str, Any]]:
    """The sidecar in an open file and its decoded root attributes (raises what h5py and the
    conversions raise on a damaged or foreign file: see :data:`~sonobridge.errors.READ_ERRORS`)."""
    attrs = {key: _text(value) for key, value in handle.attrs.items()}
    time_ms = np.asarray(handle["timing/time_ms"], np.float64)
    sidecar = Sidecar(
        time_ms=time_ms, rois=rois_from_attrs(attrs),
        full_frame_width=int(attrs["full_frame_width"]), full_frame_height=int(attrs["full_frame_height"]),
        frames=handle["frames/gray"] if "frames/gray" in handle else None,
        params={key[len("param_"):]: value for key, value in attrs.items() if key.startswith("param_")},
        image_dx_cm_per_px=float(attrs["image_dx_cm_per_px"]) if "image_dx_cm_per_px" in attrs else None,
        image_dy_cm_per_px=float(attrs["image_dy_cm_per_px"]) if "image_dy_cm_per_px" in attrs else None,
        source_tvd_path=str(attrs.get("source_tvd_path", "")),
        extracted_at_iso=str(attrs.get("extracted_at_iso", "")),
        schema_version=normalise_schema(attrs.get("schema_version", SCHEMA)),
        tvd_declared_n_frames=_declared_count(attrs.get("tvd_declared_n_frames")))
    return sidecar, attrs


def _declared_count(value: Any) -> int | None:
    """The stored ``tvd_declared_n_frames``; None when absent, empty or 0 (older sonobridge
    wrote 0 for "unknown"; a recording always declares at least one frame)."""
    if value in (None, ""):
        return None
    return int(value) or None


def _inconsistency(sidecar: Sidecar, attrs: dict[str, Any]) -> str | None:
    """What does not add up in a parsed sidecar (None when it is consistent)."""
    try:
        declared = int(attrs.get("n_frames", sidecar.n_frames))
    except (TypeError, ValueError):
        return f"n_frames {attrs.get('n_frames')!r} is not a number"
    if declared != sidecar.n_frames:
        return f"n_frames says {declared}, timing holds {sidecar.n_frames}"
    frames = sidecar.frames
    if frames is not None and (frames.ndim != 3 or frames.shape[0] != sidecar.n_frames or frames.dtype != np.uint8):
        return f"/frames/gray {frames.shape} {frames.dtype} does not match {sidecar.n_frames} uint8 frames"
    if not sidecar.rois:
        return "no B-mode panel ROI in the attributes"
    for n, roi in sidecar.rois.items():
        if not (1 <= roi.x1 <= roi.x2 <= sidecar.full_frame_width and 1 <= roi.y1 <= roi.y2 <= sidecar.full_frame_height
                and roi.width == roi.x2 - roi.x1 + 1 and roi.height == roi.y2 - roi.y1 + 1):
            return (f"panel {n} ROI x {roi.x1}..{roi.x2}, y {roi.y1}..{roi.y2} ({roi.width} x {roi.height}) does not "
                    f"fit the {sidecar.full_frame_width} x {sidecar.full_frame_height} frame")
    return None


def write_sidecar(sidecar: Sidecar, path: str | os.PathLike, *, compression: str | None = "gzip",
                  compression_opts: int | None = None) -> Path:
    """Write ``sidecar`` as schema v1 at ``path`` atomically (frames one per chunk; ``compression_opts``:
    the gzip level 0-9, ignored for other filters)."""
    import h5py

    from ...util.atomic import atomic_path

    dx, dy = sidecar.display_scale_cm()
    attrs: dict[str, Any] = {
        "n_frames": sidecar.n_frames, "full_frame_width": sidecar.full_frame_width,
        "full_frame_height": sidecar.full_frame_height, "n_b_images": len(sidecar.rois),
        "source_tvd_path": sidecar.source_tvd_path, "extracted_at_iso": sidecar.extracted_at_iso,
        "schema_version": SCHEMA}
    if sidecar.tvd_declared_n_frames is not None:         # unknown: absent, as telemed writes it
        attrs["tvd_declared_n_frames"] = int(sidecar.tvd_declared_n_frames)
    if dx is not None and dy is not None:
        attrs.update(image_dx_cm_per_px=dx, image_dy_cm_per_px=dy)
    for n, roi in sidecar.rois.items():
        attrs.update({f"roi{n}_{k}": getattr(roi, k) for k in ("x1", "x2", "y1", "y2", "width", "height")})
        attrs[f"physical_dx{n}_cm_per_px"] = roi.physical_dx_cm_per_px
        attrs[f"physical_dy{n}_cm_per_px"] = roi.physical_dy_cm_per_px
    attrs.update({f"param_{key}": value for key, value in sidecar.params.items() if value is not None})
    with atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
        handle.attrs.update(attrs)
        handle["timing/frame_idx_1n"] = np.arange(1, sidecar.n_frames + 1, dtype=np.int32)
        handle["timing/time_ms"] = np.asarray(sidecar.time_ms, np.float64)
        handle["timing/ifi_ms"] = sidecar.ifi_ms
        if sidecar.frames is not None:
            shape = (sidecar.n_frames, sidecar.full_frame_height, sidecar.full_frame_width)
            dataset = handle.create_dataset("frames/gray", shape=shape, dtype=np.uint8, chunks=(1, *shape[1:]),
                                            compression=compression,
                                            compression_opts=compression_opts if compression == "gzip" else None)
            for start in range(0, shape[0], 64):
                dataset[start:start + 64] = np.asarray(sidecar.frames[start:start + 64])
    return Path(path)


def sidecar_from_stream(stream: Stream, *, source: str = "") -> Sidecar:
    """A one-panel sidecar of a grey uint8 ``(n, H, W)`` stream (the whole frame is the B panel):
    times from the stream's clock, the display scale from its PixelGrid (cm per pixel)."""
    if stream.dtype != np.uint8 or len(stream.frame_shape) != 2:
        raise FormatError(stream.label, f"a sidecar holds uint8 grey frames, not {stream.dtype} {stream.frame_shape}")
    height, width = stream.frame_shape
    times = stream.timestamps_s
    time_ms = (times - times[0]) * 1000 if times is not None and times.size == stream.n_frames else \
        np.arange(stream.n_frames) * 1000 / (stream.mean_frame_rate_hz or 30.0)
    grid = stream.geometry if isinstance(stream.geometry, PixelGrid) else None
    dx = abs(float(grid.x_m[1] - grid.x_m[0])) * 100 if grid is not None and grid.x_m.size > 1 else 0.0
    dz = abs(float(grid.z_m[1] - grid.z_m[0])) * 100 if grid is not None and grid.z_m.size > 1 else 0.0
    roi = Roi(1, 1, width, 1, height, width, height, dx, dz)
    return Sidecar(time_ms=np.asarray(time_ms, np.float64), rois={1: roi}, full_frame_width=width,
                   full_frame_height=height, frames=stream.require_frames(),
                   image_dx_cm_per_px=dx or None, image_dy_cm_per_px=dz or None,
                   source_tvd_path=source or (stream.provenance.source_files[0] if stream.provenance and
                                              stream.provenance.source_files else ""))


def read_frames(sidecar: Sidecar, path: str | os.PathLike, key: Any) -> np.ndarray:
    """``sidecar.frames[key]`` (uint8); a damaged chunk, or a file closed or replaced under the
    reader, is a FormatError naming ``path``."""
    with read_faults(path, "/frames/gray unreadable"):
        return np.asarray(sidecar.frames[key])


def panel_grid(sidecar: Sidecar, roi: Roi) -> PixelGrid | None:
    """The panel's pixel centres in metres on the display scale (origin at the panel's top left)."""
    dx, dy = sidecar.display_scale_cm()
    if dx is None or dy is None:
        return None
    return PixelGrid(x_m=np.arange(roi.width) * dx / 100, z_m=np.arange(roi.height) * dy / 100)


def read_telemed(path: str | os.PathLike) -> Recording:
    """A sidecar as a Recording: one stream per B-mode panel (``b1``, ``b2`` ...) of uint8 frames
    cropped to the panel, timed by ``time_ms``, on the display-scale grid (the file stays open
    while the frames are in use)."""
    return recording_from_sidecar(read_sidecar(path), path)


def recording_from_sidecar(sidecar: Sidecar, path: str | os.PathLike) -> Recording:
    """The Recording of an already read sidecar (see :func:`read_telemed`)."""
    label = os.fspath(path)
    provenance = Provenance((label,), FORMAT, format_version=sidecar.schema_version)
    clock = sidecar.time_ms
    streams = {}
    for n, roi in sidecar.rois.items():
        rows, columns = roi.as_slice()
        frames = None
        if sidecar.frames is not None:
            frames = LazyFrames((sidecar.n_frames, roi.height, roi.width), np.uint8,
                                lambda start, stop, rows=rows, columns=columns:
                                read_frames(sidecar, path, (slice(start, stop), rows, columns)))
        streams[f"b{n}"] = Stream(
            name=f"b{n}", kind=SampleKind.IMAGE, frame_shape=(roi.height, roi.width), dtype=np.uint8, frames=frames,
            clock_source=clock, clock_unit_s=1e-3, geometry=panel_grid(sidecar, roi),
            parameters={"roi": roi.__dict__, **sidecar.params}, metadata={"source_tvd_path": sidecar.source_tvd_path},
            provenance=provenance, time_origin=0.0, declared_n_frames=sidecar.tvd_declared_n_frames)
    return Recording(name=Path(label).name.split(".")[0], streams=streams, provenance=provenance)
