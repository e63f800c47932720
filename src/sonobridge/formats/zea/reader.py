"""A zea-format HDF5 file -> :class:`~sonobridge.core.recording.Recording` (frames lazy).

Files written by sonobridge carry ``custom/sonobridge/recording`` and come back exactly as the
recording that was written (same streams, dtypes, clocks, geometry, metadata). Any other zea file
is read generically: one stream per data product of each track (named ``<product>``, or
``<track label>/<product>`` on multi-track files), timed by the product's ``timestamps``, with a
:class:`~sonobridge.core.geometry.PixelGrid` when its coordinates form a regular x-z grid; one
signal per metadata signal.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...core import serialize
from ...core.frames import LazyFrames
from ...core.geometry import PixelGrid
from ...core.recording import Provenance, Recording, SampleKind, Signal, Stream
from ...core.tgc import TgcCurves
from ...errors import READ_ERRORS, FormatError, UnsupportedInputError, read_faults
from ..h5guard import close_quietly, open_checked
from .products import Layout
from .passthrough import ZeaFrames
from .remote import is_remote, open_remote_h5
from .schema import dataset_value
from .validate import FREE_FORM, READ_FREE_FORM, is_dataset, is_legacy, track_groups

FORMAT = "zea"
CORE_KEY = "custom/sonobridge/recording"
KINDS = {"image": SampleKind.IMAGE, "envelope_data": SampleKind.AMPLITUDE, "image_sc": SampleKind.BMODE}


def open_zea(path: str | os.PathLike):
    """The file opened read-only (zea's codecs registered); errors name the file. ``https://``
    and ``hf://`` paths are read lazily by byte ranges (:mod:`.remote`)."""
    import hdf5plugin  # noqa: F401

    if is_remote(path):
        handle, _ = open_remote_h5(path, FREE_FORM, READ_FREE_FORM)    # h5py keeps the file object
    else:
        handle = open_checked(path, skip=FREE_FORM, keep=READ_FREE_FORM)
    try:
        tracks = track_groups(handle)
    except READ_ERRORS as error:
        close_quietly(handle)
        raise FormatError(path, f"unreadable zea structure ({type(error).__name__}: {error})") from None
    if not tracks:
        close_quietly(handle)
        raise UnsupportedInputError(path, "HDF5 file without zea tracks/ or data/ groups")
    return handle


def read_zea(path: str | os.PathLike) -> Recording:
    """Read the zea file at ``path``; the file stays open while its frames are in use."""
    handle = open_zea(path)
    try:
        source = _source_path(path)
        if CORE_KEY in handle:
            return _CoreReader(handle, source).recording()
        return _GenericReader(handle, source).recording()
    except READ_ERRORS as error:
        close_quietly(handle)
        raise FormatError(path, f"unreadable zea content ({type(error).__name__}: {error})") from None


class _RemotePath(str):
    """A URL standing for a path where the readers use one: ``name`` and ``stem`` of its file,
    ``str`` and ``os.fspath`` the URL itself."""

    name = property(lambda self: self.rstrip("/").rsplit("/", 1)[-1])
    stem = property(lambda self: self.name.rsplit(".", 1)[0] if "." in self.name[1:] else self.name)

    def __fspath__(self) -> str:
        return str(self)


def _source_path(path: str | os.PathLike) -> Path | _RemotePath:
    """``path`` as a Path for naming the recording and errors (a URL keeps its text)."""
    return _RemotePath(path) if is_remote(path) else Path(path)


def _lazy(dataset, convert, frame_shape: tuple[int, ...], dtype: np.dtype, path: Path) -> LazyFrames:
    """Frames read on access; a damaged chunk (or a closed file) is a FormatError naming ``path``."""
    key = dataset.name

    def read(start: int, stop: int) -> np.ndarray:
        with read_faults(path, f"frames {start}..{stop - 1} of {key} unreadable"):
            return convert(dataset[start:stop])

    return ZeaFrames((dataset.shape[0], *frame_shape), dtype, read, dataset)   # knows its dataset: zea -> zea copies


class _CoreReader:
    """Files written by :func:`sonobridge.formats.zea.writer.export_zea`."""

    def __init__(self, handle, path: Path):
        self.handle, self.path = handle, path
        self.core = serialize.loads(dataset_value(handle[CORE_KEY]))
        self.tracks = [group for _, group in track_groups(handle)]

    def stream(self, record: dict[str, Any]) -> Stream:
        dtype, frame_shape = np.dtype(record["dtype"]), tuple(record["frame_shape"])
        frames = None
        if record["track"] is not None:
            layout = Layout(**record["layout"])
            values = self.tracks[record["track"]]["data"][layout.product]
            values = values if is_dataset(values) else values["values"]
            frames = _lazy(values, lambda block: layout.to_stream(block, dtype), frame_shape, dtype, self.path)
        return Stream(name=record["name"], kind=SampleKind(record["kind"]), frame_shape=frame_shape,
                      dtype=dtype, frames=frames, clock_source=record["clock"],
                      clock_unit_s=record["clock_unit_s"], geometry=record["geometry"],
                      parameters=record["parameters"], metadata=record["metadata"],
                      per_frame=_checked_per_frame(record["per_frame"]), provenance=record["provenance"],
                      time_origin=record["time_origin"], declared_n_frames=record["declared_n_frames"],
                      ensemble_order=record.get("ensemble_order"))

    def recording(self) -> Recording:
        core = self.core
        streams = [self.stream(record) for record in core["streams"]]
        signals = [Signal(**record) for record in core["signals"]]
        return Recording(name=core["name"], streams={s.name: s for s in streams},
                         signals={s.name: s for s in signals}, start_time=core["start_time"],
                         parameters=core["parameters"], provenance=core["provenance"])


def _checked_per_frame(per_frame: dict[str, Any]) -> dict[str, Any]:
    """The per-frame values of a stream record, with TGC curves checked for consistent shapes
    (``depth_m`` and ``gain_db`` ``(n_entries, n_points)``, one clock value per entry): the record
    is JSON a damaged file can garble into something that only fails later, far from the file."""
    for name, value in per_frame.items():
        if isinstance(value, TgcCurves):
            depth, gain, clock = (np.asarray(v) for v in (value.depth_m, value.gain_db, value.clock))
            if depth.ndim != 2 or depth.shape != gain.shape or clock.shape != depth.shape[:1]:
                raise ValueError(f"per-frame {name}: depth {depth.shape}, gain {gain.shape}, clock {clock.shape}")
    return per_frame


class _GenericReader:
    """Any zea file (current or legacy layout)."""

    def __init__(self, handle, path: Path):
        self.handle, self.path = handle, path
        version = handle.attrs.get("zea_version")
        self.provenance = Provenance((str(path),), FORMAT, format_version=None if version is None else str(version))

    def recording(self) -> Recording:
        tracks = track_groups(self.handle)
        streams: dict[str, Stream] = {}
        for key, group in tracks:
            label = dataset_value(group["label"]) if "label" in group else None
            for product, item in (group["data"].items() if "data" in group else ()):
                name = f"{label or key}/{product}" if len(tracks) > 1 else product
                stream = self.stream(name, product, item, group)
                if stream is not None:
                    streams[name] = stream
        return Recording(name=self.path.stem, streams=streams, signals=self.signals(),
                         start_time=self.start_time(), provenance=self.provenance)

    def stream(self, name: str, product: str, item, track) -> Stream | None:
        values = item if is_dataset(item) else item.get("values")
        if values is None or values.ndim < 2:
            return None
        parameters: dict[str, Any] = {"zea_product": product}
        if "scan" in track:
            parameters["scan"] = {k: dataset_value(v) for k, v in track["scan"].items() if is_dataset(v)}
        if product in ("raw_data", "beamformed_data", "aligned_data"):
            kind = SampleKind.IQ if values.shape[-1] == 2 else SampleKind.RF
            frame_shape = values.shape[1:] if kind is SampleKind.IQ else values.shape[1:-1]
            convert = (lambda block: block) if kind is SampleKind.IQ else (lambda block: block[..., 0])
        else:
            kind, frame_shape, convert = KINDS.get(product, SampleKind.IMAGE), values.shape[1:], (lambda b: b)
        clock, origin = self.clock(item)
        return Stream(name=name, kind=kind, frame_shape=tuple(frame_shape), dtype=values.dtype,
                      frames=_lazy(values, convert, tuple(frame_shape), values.dtype, self.path), clock_source=clock,
                      clock_unit_s=1.0, geometry=None if is_dataset(item) else pixel_grid(item, values.shape),
                      parameters=parameters, provenance=self.provenance, time_origin=origin)

    @staticmethod
    def clock(item) -> tuple[np.ndarray | None, float | None]:
        """Seconds on the file's clock (``start_time_offset`` + ``timestamps``), origin 0."""
        if is_dataset(item) or "timestamps" not in item:
            return None, None
        offset = float(np.asarray(item["start_time_offset"])) if "start_time_offset" in item else 0.0
        return offset + np.asarray(item["timestamps"], np.float64), 0.0

    def signals(self) -> dict[str, Signal]:
        metadata = self.handle.get("metadata")
        signals = {}
        for name, item in (metadata.items() if metadata is not None else ()):
            if is_dataset(item) or "samples" not in item:
                continue
            samples = np.asarray(item["samples"])
            if "timestamps" in item:
                clock = np.asarray(item["timestamps"], np.float64)
            elif "sampling_frequency" in item:
                clock = np.arange(samples.shape[0]) / float(np.asarray(item["sampling_frequency"]))
            else:
                continue
            offset = float(np.asarray(item["start_time_offset"])) if "start_time_offset" in item else 0.0
            signals[name] = Signal(name=name, channels={"samples": samples}, clock_source=clock + offset,
                                   clock_unit_s=1.0, provenance=self.provenance, time_origin=0.0)
        return signals

    def start_time(self) -> dt.datetime | None:
        text = self.handle.attrs.get("acquisition_time")
        if text is None or is_legacy(self.handle):
            return None
        try:
            return dt.datetime.fromisoformat(str(text.decode() if isinstance(text, bytes) else text))
        except ValueError:
            return None


def pixel_grid(group, values_shape: tuple[int, ...]) -> PixelGrid | None:
    """A PixelGrid when ``coordinates`` ``(z, x, 3)`` (or with a frame axis, first frame) are a
    regular grid: x varying along columns only, z along rows only, y constant."""
    if "coordinates" not in group or len(values_shape) != 3:
        return None
    coordinates = np.asarray(group["coordinates"][0] if group["coordinates"].ndim == 4 else group["coordinates"])
    if coordinates.shape != (*values_shape[1:], 3):
        return None
    x, y, z = coordinates[..., 0], coordinates[..., 1], coordinates[..., 2]
    if np.ptp(y) > 0 or np.any(x != x[:1]) or np.any(z != z[:, :1]):
        return None
    return PixelGrid(x_m=x[0].astype(np.float64), z_m=z[:, 0].astype(np.float64))
