"""zea-compatible access to zea-format HDF5 files with h5py + hdf5plugin only (no Keras, no ML
backend). Names follow zea's ``zea.File``: ``File(path)``, ``.data``, ``.scan``, ``.probe``,
``.tracks``, ``.track_labels``, ``.get_track()``, ``.timestamps``, ``.load_parameters(**overrides)``,
``.keys()``, ``.attrs``, ``.metadata``, ``.metrics``, ``.validate()``; scan, probe, parameters and
metadata are :class:`Record` s (attribute and key access). Remote files (``https://``, ``hf://``)
are read lazily by HTTP byte ranges (:mod:`sonobridge.formats.zea.remote`). Pixel-grid and
probe-geometry helpers: :func:`cartesian_pixel_grid`, :func:`polar_pixel_grid`,
:func:`linear_probe_geometry`, :func:`curved_probe_geometry`.

Reads are lazy: ``File(path).data.image.values[5]`` reads one frame. Writing:
``File.create(path, data={"image": {"values": frames}}, ...)`` checks everything against the format
first, then writes atomically. Validation: :func:`validate` returns a
:class:`~sonobridge.formats.zea.validate.Report` of findings (a damaged file is a finding).

Faults: a damaged file raises :class:`~sonobridge.errors.FormatError` naming it, when opened or
when its damaged part is read (datasets are h5py datasets whose reads do the same); a name that
is not in the file stays a KeyError (``[]``) or AttributeError (``.``).
"""
from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import numpy as np

from .errors import FormatError, read_faults
from .formats.h5guard import close_quietly, open_checked
from .formats.zea.remote import is_remote, open_remote_h5
from .formats.zea.schema import dataset_value
from .formats.zea.validate import FREE_FORM, READ_FREE_FORM, Finding, Report, is_legacy, track_groups
from .formats.zea.validate import validate as _validate
from .formats.zea.tree import CODECS, InvalidZeaDataError, file_tree, write_tree

__all__ = ["CODECS", "File", "Finding", "InvalidZeaDataError", "Record", "Report", "Track", "cartesian_pixel_grid",
           "curved_probe_geometry", "linear_probe_geometry", "polar_pixel_grid", "validate"]

_Method = TypeVar("_Method", bound=Callable[..., Any])


def validate(path: str | os.PathLike) -> Report:
    """The findings on the zea file at ``path`` (a path, an ``https://`` / ``hf://`` URL read
    lazily, or a :class:`File`, e.g. what :meth:`File.create` returns); never raises for bad content."""
    return _validate(path.path if isinstance(path, File) else os.fspath(path))


def _reading(path: str):
    """Within: what h5py/NumPy raise on a damaged file becomes a FormatError naming ``path``."""
    return read_faults(path, "unreadable zea content")


def _reads(method: _Method) -> _Method:
    """A method of an object with a ``path`` whose HDF5 reads may meet a damaged file."""
    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        with _reading(self.path):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _lookup(group, key: str | bytes, path: str):
    """``group[key]``, datasets with reads that speak FormatError: KeyError when a name on the
    path is not listed in its group (as h5py), FormatError when it is listed but cannot be opened
    (h5py's own ``in`` and lookup cannot tell the two apart on a damaged file)."""
    import h5py

    item = group
    separator = b"/" if isinstance(key, bytes) else "/"      # h5py lists undecodable names as bytes
    for name in (part for part in key.split(separator) if part):
        with _reading(path):
            listed = isinstance(item, h5py.Group) and name in list(item)
        if not listed:
            raise KeyError(f"{key!r} not in {group.name}")
        with _reading(path):
            item = item[name]
    return _dataset(item, path) if isinstance(item, h5py.Dataset) else item


@functools.lru_cache(maxsize=1)
def _dataset_class() -> type:
    """An ``h5py.Dataset`` whose reads raise FormatError naming the file on damaged data
    (made on first use: h5py is imported lazily)."""
    import h5py

    class _Dataset(h5py.Dataset):
        path = ""

        @_reads
        def __getitem__(self, key: Any) -> Any:
            return _decoded(super().__getitem__(key)) if _is_text(self.dtype) else super().__getitem__(key)

        @_reads
        def read_direct(self, *args: Any, **kwargs: Any) -> None:
            return super().read_direct(*args, **kwargs)

    return _Dataset


def _is_text(dtype: np.dtype) -> bool:
    """Whether an HDF5 dataset of ``dtype`` holds strings (variable or fixed length)."""
    import h5py

    return h5py.check_string_dtype(dtype) is not None or dtype.kind == "S"


def _decoded(value: Any) -> Any:
    """Strings read from HDF5 as ``str`` (arrays as ``numpy.str_`` arrays), as zea returns them."""
    if isinstance(value, np.ndarray):
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in value.flat],
                        dtype=np.str_).reshape(value.shape)
    return value.decode() if isinstance(value, bytes) else value


def _dataset(dataset, path: str):
    """``dataset`` (an h5py dataset) as a lazy dataset of the same id whose reads speak FormatError."""
    wrapped = _dataset_class()(dataset.id)
    wrapped.path = path
    return wrapped


class _Node:
    """Attribute access over an HDF5 group: groups become nodes, datasets stay lazy h5py datasets
    (reads of damaged data raise FormatError naming ``path``, the file)."""

    def __init__(self, group, path: str):
        self._group, self.path = group, path

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "path" or name not in self:
            raise AttributeError(f"{self._group.name} has no {name!r}")
        return self[name]

    def __getitem__(self, key: str):
        item = _lookup(self._group, key, self.path)
        return item if hasattr(item, "dtype") else _Node(item, self.path)

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` is there (a listed but unreadable item is a FormatError)."""
        try:
            _lookup(self._group, key, self.path)
        except KeyError:
            return False
        return True

    @_reads
    def keys(self) -> list[str]:
        return list(self._group.keys())

    def __dir__(self) -> list[str]:
        return self.keys()

    def __repr__(self) -> str:
        return f"<zea group {self._group.name}: {', '.join(self.keys())}>"


def _values(group) -> dict[str, Any]:
    """Scalars and arrays of a group as Python/NumPy values (strings decoded)."""
    return {key: _value(item) for key, item in group.items() if hasattr(item, "shape")}


def _value(dataset) -> Any:
    """A dataset's value read, strings (also string arrays) as ``str``."""
    value = dataset_value(dataset)
    return _decoded(value) if _is_text(dataset.dtype) else value


class Record(Mapping):
    """Read-only values by name with attribute access (``record.sound_speed``) that also behave
    as a mapping (``record["sound_speed"]``, ``dict(record)``): what zea returns as spec objects."""

    def __init__(self, values: Mapping[str, Any] | None = None, kind: str = "Record"):
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_kind", kind)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._values:
            raise AttributeError(f"{self._kind} has no {name!r} (fields: {', '.join(self._values)})")
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._kind} is read-only")

    def __dir__(self) -> list[str]:
        return [*self._values, "to_dict", "keys", "items", "values", "get"]

    def __call__(self) -> Record:
        """The record itself: zea's documentation also calls ``f.metadata()``."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (nested records become dicts too)."""
        return {k: v.to_dict() if isinstance(v, Record) else v for k, v in self._values.items()}

    def __repr__(self) -> str:
        return f"{self._kind}({', '.join(self._values)})"


def _record(group, kind: str) -> Record:
    """A group and its subgroups, values read (strings decoded), as nested :class:`Record` s."""
    return Record({key: _value(item) if hasattr(item, "shape") else _record(item, key)
                   for key, item in group.items()}, kind)


def parameters(probe: Mapping[str, Any], scan: Mapping[str, Any], sizes: Mapping[str, Any],
               overrides: Mapping[str, Any]) -> Record:
    """Probe (without name/type), scan, sizes and overrides merged (later wins, None dropped), with
    the wavelength (m) derived from ``sound_speed`` (m/s, 1540 by default) and ``center_frequency`` (Hz)."""
    merged = {k: v for k, v in probe.items() if k not in ("name", "type")}
    merged.update(scan)
    merged.update(sizes)
    merged.update(overrides)
    merged = {k: v for k, v in merged.items() if v is not None}
    centre = merged.get("center_frequency")
    if centre is not None and np.all(np.asarray(centre) > 0) and "wavelength" not in overrides:
        merged["wavelength"] = merged.get("sound_speed", 1540.0) / np.asarray(centre)
    return Record(merged, "Parameters")


def cartesian_pixel_grid(xlims: tuple[float, float], zlims: tuple[float, float], *, dx: float | None = None,
                         dz: float | None = None, grid_size_x: int | None = None,
                         grid_size_z: int | None = None) -> np.ndarray:
    """Pixel positions ``(n_z, n_x, 3)`` float64 (x, y=0, z) in metres on a regular grid spanning
    ``xlims`` and ``zlims`` (both ends included), given spacings ``dx``/``dz`` or pixel counts."""
    def axis(lims: tuple[float, float], step: float | None, count: int | None, name: str) -> np.ndarray:
        if count is None:
            if step is None or step <= 0:
                raise ValueError(f"give a positive d{name} or grid_size_{name}")
            count = int(np.floor((lims[1] - lims[0]) / step + 1e-9)) + 1
            return lims[0] + np.arange(count) * step
        return np.linspace(lims[0], lims[1], int(count))

    x, z = axis(xlims, dx, grid_size_x, "x"), axis(zlims, dz, grid_size_z, "z")
    zz, xx = np.meshgrid(z, x, indexing="ij")
    return np.stack([xx, np.zeros_like(xx), zz], axis=-1)


def polar_pixel_grid(rlims: tuple[float, float], dr: float, angles: np.ndarray,
                     origins: np.ndarray | None = None) -> np.ndarray:
    """Pixel positions ``(n_r, n_rays, 3)`` float64 in metres along rays steered by ``angles``
    (radians from the z axis, ``(n_rays,)``) from ``origins`` ``(n_rays, 3)`` (default the origin),
    radii ``rlims[0]``, ``rlims[0] + dr``, ... up to ``rlims[1]`` included."""
    angles = np.asarray(angles, np.float64).ravel()
    origins = np.zeros((angles.size, 3)) if origins is None else np.asarray(origins, np.float64)
    radii = rlims[0] + np.arange(int(np.floor((rlims[1] - rlims[0]) / dr + 1e-9)) + 1) * dr
    rr, tt = np.meshgrid(radii, angles, indexing="ij")
    x, z = rr * np.sin(tt) + origins[:, 0], rr * np.cos(tt) + origins[:, 2]
    return np.stack([x, np.zeros_like(x), z], axis=-1)


def linear_probe_geometry(n_el: int, pitch: float) -> np.ndarray:
    """Element centres ``(n_el, 3)`` float64 in metres of a linear array of pitch ``pitch`` (m),
    centred on x = 0, at y = z = 0."""
    x = (np.arange(n_el) - (n_el - 1) / 2) * pitch
    return np.stack([x, np.zeros(n_el), np.zeros(n_el)], axis=-1)


def curved_probe_geometry(n_el: int, pitch: float, radius: float) -> np.ndarray:
    """Element centres ``(n_el, 3)`` float64 in metres of a convex array of radius ``radius`` (m)
    and arc pitch ``pitch`` (m), apex at the origin, centre of curvature at z = -radius."""
    angles = (np.arange(n_el) - (n_el - 1) / 2) * pitch / radius
    return np.stack([radius * np.sin(angles), np.zeros(n_el), radius * (np.cos(angles) - 1)], axis=-1)


class Track:
    """One track: ``data`` (lazy), ``scan`` (a :class:`Record`), ``label``, ``index``, sizes,
    ``load_parameters(**overrides)``, ``timestamps``."""

    def __init__(self, file: File, index: int, group):
        self.file, self.index, self._group = file, index, group

    path = property(lambda self: self.file.path)

    @property
    def data(self) -> _Node:
        return _Node(_lookup(self._group, "data", self.path), self.path)

    @property
    @_reads
    def scan(self) -> Record:
        """The track's ``scan/`` values (attribute or key access; empty when there is none)."""
        return Record(_values(self._group["scan"]) if "scan" in self._group else {}, "Scan")

    @property
    @_reads
    def label(self) -> str | None:
        label = _values(self._group).get("label")
        return label.decode() if isinstance(label, bytes) else None if label is None else str(label)

    def __repr__(self) -> str:
        label = f' "{self.label}"' if self.label is not None else ""
        with _reading(self.path):
            products = list(self._group["data"].keys()) if "data" in self._group else []
        return f"<Track[{self.index}]{label} data={products}>"

    @_reads
    def _size(self, axis: int, scan_key: str | None = None, scan_axis: int = 0) -> int | None:
        if "data" in self._group and "raw_data" in self._group["data"]:
            return int(self._group["data/raw_data"].shape[axis])
        if scan_key and "scan" in self._group and scan_key in self._group["scan"]:
            return int(self._group["scan"][scan_key].shape[scan_axis])
        return None

    n_frames = property(lambda self: self._size(0) or self._first_map_frames())
    n_tx = property(lambda self: self._size(1, "t0_delays", 0))
    n_ax = property(lambda self: self._size(2))
    n_rx = property(lambda self: self._size(3))

    @property
    @_reads
    def n_el(self) -> int | None:
        if "scan" in self._group and "t0_delays" in self._group["scan"]:
            return int(self._group["scan/t0_delays"].shape[1])
        return self._size(3)

    @_reads
    def _first_map_frames(self) -> int | None:
        data = self._group.get("data")
        for item in (data.values() if data is not None else ()):
            values = item.get("values") if hasattr(item, "get") else item
            if values is not None and hasattr(values, "shape"):
                return int(values.shape[0])
        return None

    @_reads
    def load_parameters(self, **overrides: Any) -> Record:
        """Probe (without name/type) and scan merged with n_ax/n_el/n_tx, then ``overrides``
        (e.g. ``sound_speed=1480.0``), and the wavelength (m): attribute or key access
        (``.probe_geometry`` ``(n_el, 3)`` m, ``.time_to_next_transmit`` ``(n_frames, n_tx)`` s, ...)."""
        sizes = {"n_ax": self.n_ax, "n_el": self.n_el, "n_tx": self.n_tx}
        return parameters(self.file.probe, self.scan, sizes, overrides)

    @_reads
    def _durations(self) -> np.ndarray | None:
        """``scan/time_to_next_transmit`` ``(n_frames, n_tx)`` in seconds, or None."""
        scan = self._group.get("scan")
        if scan is None or "time_to_next_transmit" not in scan:
            return None
        return np.asarray(scan["time_to_next_transmit"], np.float64)

    @property
    def timestamps(self) -> np.ndarray | None:
        """Start time of each of this track's transmits on the file's clock, seconds
        ``(n_frames, n_tx)``: its events in the global schedule (:attr:`File.timestamps`)."""
        durations, times = self._durations(), self.file.timestamps
        if durations is None or times is None:
            return None
        schedule = self.file.track_schedule
        mine = times if schedule is None else times[schedule == self.index]
        return mine.reshape(durations.shape) if mine.size == durations.size else None


class File:
    """A zea-format file opened read-only (an ``h5py.File`` underneath, as ``.h5``): a local path,
    or an ``https://`` / ``hf://owner/repo/file`` URL read lazily by byte ranges (the ``remote``
    extra). Raises FormatError naming the file when it is not HDF5 or its root structure is
    unreadable."""

    def __init__(self, path: str | Path, mode: str = "r", *, _deferred: bool = False):
        import hdf5plugin  # noqa: F401  (Blosc and the other zea codecs)

        if mode != "r":
            raise ValueError("sonobridge.zea.File opens files for reading; write with the zea writer")
        self.path, self.mode = path if isinstance(path, str) else os.fspath(path), mode
        self._h5 = self._remote = None
        if not _deferred:
            self._open()

    @property
    def h5(self):
        """The ``h5py.File`` underneath (a file returned by :meth:`create` opens it on first use,
        so the just-written path can still be opened by h5py with its default locking)."""
        return self._h5 if self._h5 is not None else self._open()

    def _open(self):
        if is_remote(self.path):
            self._h5, self._remote = open_remote_h5(self.path, FREE_FORM, READ_FREE_FORM)
        else:
            self._h5 = open_checked(self.path, skip=FREE_FORM, keep=READ_FREE_FORM)
        try:
            with _reading(self.path):
                track_groups(self._h5)       # the structure every access relies on is readable
        except FormatError:
            self.close()
            raise
        return self._h5

    @classmethod
    def create(cls, path: str | Path, data: dict | None = None, scan: dict | None = None, *,
               tracks: list[dict] | None = None, track_schedule: Any = None, metadata: dict | None = None,
               metrics: dict | None = None, probe: dict | None = None, us_machine: str | None = None,
               description: str | None = None, acquisition_time: Any = None, custom: Any = None,
               compression: str | dict | None = "fast", overwrite: bool = False,
               progress: bool = False) -> File:
        """Write a zea file, as ``zea.File.create``: ``data``/``scan`` for one track or
        ``tracks=[{"label", "data", "scan", "transmit_only"}, ...]``; data products are dicts
        (``values``, ``coordinates`` in metres ``(..., 3)``, ``timestamps`` in seconds, ...)
        except the flat ``raw_data`` ``(n_frames, n_tx, n_ax, n_el, n_ch)``. Values may be lazy
        (anything with ``shape``, ``dtype`` and slicing, e.g. an h5py dataset): frames are read
        block by block.

        ``compression``: ``"fast"`` (default), ``"small"``, ``"zea"`` (zea's own Blosc zstd 7),
        ``"gzip"``, ``"lzf"``, ``None`` or h5py filter keywords. Raises
        :class:`InvalidZeaDataError` before writing anything if the data breaks the format.

        Returns the written file opened for reading (as zea; it is also path-like: ``os.fspath``,
        ``read_bytes()``, ``stat()``, ``exists()``, ``parent``, ``suffix``).
        """
        if tracks is not None and (data is not None or scan is not None):
            raise ValueError("give either data/scan (one track) or tracks, not both")
        if tracks is None:
            tracks = [{"data": data, "scan": scan}]
        if hasattr(acquisition_time, "isoformat"):
            acquisition_time = acquisition_time.isoformat()
        tree = file_tree(tracks=tracks, track_schedule=track_schedule, probe=probe, metadata=metadata,
                         metrics=metrics, custom=custom, us_machine=us_machine, description=description,
                         acquisition_time=acquisition_time)
        return cls(write_tree(tree, path, compression=compression, overwrite=overwrite, progress=progress),
                   _deferred=True)

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._h5 is not None:
            close_quietly(self._h5)
        if self._remote is not None:
            self._remote.close()

    def __fspath__(self) -> str:
        if is_remote(self.path):
            raise TypeError(f"{self.path} is remote: it has no local path")
        return self.path

    def __repr__(self) -> str:
        name = self.path.rstrip("/").rsplit("/", 1)[-1]
        try:
            labels = self.track_labels
            described = f"{len(labels)} track" if len(labels) <= 1 else f"{len(labels)} tracks: " + ", ".join(
                f'"{label}"' if label else str(index) for index, label in enumerate(labels))
        except FormatError:
            described = ""
        return f'<File "{name}" (mode {self.mode}, {described})>'

    @_reads
    def keys(self):
        """Names at the root of the file (as ``h5py.File.keys()``)."""
        return self.h5.keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    @property
    def attrs(self):
        """Root attributes (as ``h5py.File.attrs``: ``zea_version``, ``probe``, ...)."""
        return self.h5.attrs

    @property
    def metadata(self) -> Record:
        """``metadata/`` as nested records (``f.metadata.ecg.samples``; ``f.metadata()`` works too);
        KeyError when absent."""
        return self._group_record("metadata", "Metadata")

    @property
    def metrics(self) -> Record:
        """``metrics/`` as records; KeyError when absent."""
        return self._group_record("metrics", "Metrics")

    def _group_record(self, name: str, kind: str) -> Record:
        with _reading(self.path):
            present = name in self.h5
        if not present:
            raise KeyError(f"{self.path}: no {name!r} group")
        with _reading(self.path):
            return _record(self.h5[name], kind)

    def validate(self) -> dict[str, str]:
        """``{"status": "success"}`` when the file follows the format (as zea's ``File.validate``);
        raises :class:`~sonobridge.errors.FormatError` naming the file and its first errors otherwise."""
        report = validate(self.path)
        if not report.valid:
            raise FormatError(self.path, "not a valid zea file: " + "; ".join(str(f) for f in report.errors[:5]))
        return {"status": "success"}

    def __getitem__(self, key: str):
        """HDF5 item; on single-track files ``data/...`` and ``scan/...`` mean track 0's."""
        with _reading(self.path):
            tracks = track_groups(self.h5)
        if key.split("/", 1)[0] in ("data", "scan") and len(tracks) == 1 and tracks[0][0]:
            key = f"{tracks[0][0]}/{key}"
        return _lookup(self.h5, key, self.path)

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    @property
    @_reads
    def legacy(self) -> bool:
        return is_legacy(self.h5)

    @property
    @_reads
    def zea_version(self) -> str | None:
        version = self.h5.attrs.get("zea_version")
        return None if version is None else str(version)

    @property
    @_reads
    def tracks(self) -> list[Track]:
        return [Track(self, index, group) for index, (_, group) in enumerate(track_groups(self.h5))]

    @property
    def track_labels(self) -> list[str | None]:
        return [track.label for track in self.tracks]

    def get_track(self, label_or_index: str | int) -> Track:
        """A track by label (tried first) or index."""
        tracks = self.tracks
        for track in tracks:
            if track.label == label_or_index:
                return track
        if isinstance(label_or_index, (int, np.integer)) and -len(tracks) <= label_or_index < len(tracks):
            return tracks[label_or_index]
        raise KeyError(f"no track {label_or_index!r} (labels: {self.track_labels})")

    def _single(self) -> Track:
        tracks = self.tracks
        if len(tracks) != 1:
            raise AttributeError(f"This file has {len(tracks)} tracks. Use file.tracks to get a list of tracks "
                                 "and access each track individually: file.tracks[i].data, file.tracks[i].scan, "
                                 "file.tracks[i].load_parameters() (or file.get_track(label))")
        return tracks[0]

    data = property(lambda self: self._single().data)
    scan = property(lambda self: self._single().scan)
    n_frames = property(lambda self: self._single().n_frames)
    n_tx = property(lambda self: self._single().n_tx)
    n_ax = property(lambda self: self._single().n_ax)
    n_el = property(lambda self: self._single().n_el)
    n_rx = property(lambda self: self._single().n_rx)
    name = property(lambda self: PurePosixPath(self.path).name, doc="The file's name (also of a URL).")
    stem = property(lambda self: PurePosixPath(self.path).stem, doc="The file's name without its suffix.")

    @property
    @_reads
    def probe_name(self) -> str:
        """The probe's name: ``probe_name`` attribute, else ``probe/name``, else the legacy
        ``probe`` attribute (zea's order); AttributeError when there is none."""
        attrs = self.h5.attrs
        if "probe_name" in attrs:
            return str(attrs["probe_name"])
        if "probe" in self.h5 and "name" in self.h5["probe"]:
            return str(_value(self.h5["probe/name"]))
        if "probe" in attrs:
            return str(attrs["probe"])
        raise AttributeError(f"{self.path}: no probe name")

    us_machine = property(lambda self: self._root_attribute("us_machine"), doc="``us_machine`` attribute.")
    description = property(lambda self: self._root_attribute("description"), doc="``description`` attribute.")

    @_reads
    def _root_attribute(self, name: str) -> str | None:
        value = self.h5.attrs.get(name)
        return value.decode() if isinstance(value, bytes) else None if value is None else str(value)

    @property
    def acquisition_time(self) -> dt.datetime | None:
        """The ``acquisition_time`` attribute as a timezone-aware datetime (UTC when the text
        names no zone); None when absent or unreadable as ISO 8601."""
        text = self._root_attribute("acquisition_time")
        try:
            moment = dt.datetime.fromisoformat(text) if text else None
        except ValueError:
            return None
        return moment.replace(tzinfo=dt.timezone.utc) if moment and moment.tzinfo is None else moment

    @property
    def probe(self) -> Record:
        """``probe/`` fields as a record (``.name``, ``.probe_geometry`` ``(n_el, 3)`` m, ...)."""
        return Record(self._probe_values(), "Probe")

    @_reads
    def _probe_values(self) -> dict[str, Any]:
        """``probe/`` fields (legacy files: ``probe_geometry`` from the scan, name from the attr)."""
        if "probe" in self.h5:
            return _values(self.h5["probe"])
        probe: dict[str, Any] = {}
        if self.legacy and "scan" in self.h5 and "probe_geometry" in self.h5["scan"]:
            probe["probe_geometry"] = self.h5["scan/probe_geometry"][()]
        if "probe" in self.h5.attrs:
            probe["name"] = str(self.h5.attrs["probe"])
        return probe

    def load_parameters(self, **overrides: Any) -> Record:
        """The single track's parameters (:meth:`Track.load_parameters`); AttributeError pointing
        to ``file.tracks`` on multi-track files."""
        return self._single().load_parameters(**overrides)

    @property
    @_reads
    def track_schedule(self) -> np.ndarray | None:
        return np.asarray(self.h5["track_schedule"], np.int32) if "track_schedule" in self.h5 else None

    @property
    @_reads
    def timestamps(self) -> np.ndarray | None:
        """Global per-transmit start times ``(n_total_tx,)`` in seconds following
        ``track_schedule`` and each track's ``time_to_next_transmit``; None if either is missing
        (a single-track file needs no schedule) and for legacy files."""
        if self.legacy:
            return None                  # as zea 0.1.8, which gives none for the legacy layout
        tracks = self.tracks
        durations = [track._durations() for track in tracks]
        if any(d is None for d in durations):
            return None
        schedule = self.track_schedule
        if schedule is None:
            if len(tracks) != 1:
                return None
            steps = durations[0].ravel()
        else:
            if any(np.count_nonzero(schedule == i) != d.size for i, d in enumerate(durations)):
                return None              # the schedule does not cover every transmit once
            steps = np.empty(schedule.size)
            for index, track_durations in enumerate(durations):
                steps[schedule == index] = track_durations.ravel()
        return np.concatenate([[0.0], np.cumsum(steps)[:-1]])

    def validate_spec(self) -> Report:
        return validate(self.path)


def _path_attribute(name: str) -> property:
    return property(lambda self: getattr(Path(self.__fspath__()), name),
                    doc=f"``pathlib.Path(file).{name}`` (File.create's result stands for the written path).")


for _name in ("read_bytes", "stat", "exists", "parent", "suffix"):
    setattr(File, _name, _path_attribute(_name))
