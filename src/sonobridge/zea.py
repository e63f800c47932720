"""zea-compatible access to zea-format HDF5 files with h5py + hdf5plugin only (no Keras, no ML
backend). Names follow zea's ``zea.File``: ``File(path)``, ``.data``, ``.scan``, ``.probe``,
``.tracks``, ``.track_labels``, ``.get_track()``, ``.timestamps``, ``.load_parameters()``.

Reads are lazy: ``File(path).data.image.values[5]`` reads one frame. Writing:
``File.create(path, data={"image": {"values": frames}}, ...)`` checks everything against the format
first, then writes atomically. Validation: :func:`validate` returns a
:class:`~sonobridge.formats.zea.validate.Report` of findings (a damaged file is a finding).

Faults: a damaged file raises :class:`~sonobridge.errors.FormatError` naming it, when opened or
when its damaged part is read (datasets are h5py datasets whose reads do the same); a name that
is not in the file stays a KeyError (``[]``) or AttributeError (``.``).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import FormatError, read_faults
from .formats.h5guard import close_quietly, open_checked
from .formats.zea.schema import dataset_value
from .formats.zea.validate import FREE_FORM, READ_FREE_FORM, Finding, Report, is_legacy, track_groups, validate
from .formats.zea.tree import CODECS, InvalidZeaDataError, file_tree, write_tree

__all__ = ["CODECS", "File", "Finding", "InvalidZeaDataError", "Report", "Track", "validate"]

_Method = TypeVar("_Method", bound=Callable[..., Any])


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
            return super().__getitem__(key)

        @_reads
        def read_direct(self, *args: Any, **kwargs: Any) -> None:
            return super().read_direct(*args, **kwargs)

    return _Dataset


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
    return {key: dataset_value(item) for key, item in group.items() if hasattr(item, "shape")}


class Track:
    """One track: ``data`` (lazy), ``scan`` (dict of values), ``label``, ``index``, sizes."""

    def __init__(self, file: File, index: int, group):
        self.file, self.index, self._group = file, index, group

    path = property(lambda self: self.file.path)

    @property
    def data(self) -> _Node:
        return _Node(_lookup(self._group, "data", self.path), self.path)

    @property
    @_reads
    def scan(self) -> dict[str, Any]:
        return _values(self._group["scan"]) if "scan" in self._group else {}

    @property
    @_reads
    def label(self) -> str | None:
        return _values(self._group).get("label")

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
    def load_parameters(self) -> dict[str, Any]:
        """Probe (without name/type) and scan merged, with n_ax/n_el/n_tx and the wavelength (m)."""
        parameters = {k: v for k, v in self.file.probe.items() if k not in ("name", "type")}
        parameters.update(self.scan)
        parameters.update({k: v for k, v in (("n_ax", self.n_ax), ("n_el", self.n_el), ("n_tx", self.n_tx))
                           if v is not None})
        centre = parameters.get("center_frequency")
        if centre is not None and np.all(np.asarray(centre) > 0):
            parameters["wavelength"] = parameters.get("sound_speed", 1540.0) / np.asarray(centre)
        return parameters

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
    """A zea-format file opened read-only (an ``h5py.File`` underneath, as ``.h5``). Raises
    FormatError naming the file when it is not HDF5 or its root structure is unreadable."""

    def __init__(self, path: str | Path, mode: str = "r"):
        import hdf5plugin  # noqa: F401  (Blosc and the other zea codecs)

        if mode != "r":
            raise ValueError("sonobridge.zea.File opens files for reading; write with the zea writer")
        self.path = str(path)
        self.h5 = open_checked(path, skip=FREE_FORM, keep=READ_FREE_FORM)
        try:
            with _reading(self.path):
                track_groups(self.h5)        # the structure every access relies on is readable
        except FormatError:
            self.close()
            raise

    @classmethod
    def create(cls, path: str | Path, data: dict | None = None, scan: dict | None = None, *,
               tracks: list[dict] | None = None, track_schedule: Any = None, metadata: dict | None = None,
               metrics: dict | None = None, probe: dict | None = None, us_machine: str | None = None,
               description: str | None = None, acquisition_time: Any = None, custom: Any = None,
               compression: str | dict | None = "fast", overwrite: bool = False,
               progress: bool = False) -> Path:
        """Write a zea file, as ``zea.File.create``: ``data``/``scan`` for one track or
        ``tracks=[{"label", "data", "scan", "transmit_only"}, ...]``; data products are dicts
        (``values``, ``coordinates`` in metres ``(..., 3)``, ``timestamps`` in seconds, ...)
        except the flat ``raw_data`` ``(n_frames, n_tx, n_ax, n_el, n_ch)``. Values may be lazy
        (anything with ``shape``, ``dtype`` and slicing, e.g. an h5py dataset): frames are read
        block by block.

        ``compression``: ``"fast"`` (default), ``"small"``, ``"zea"`` (zea's own Blosc zstd 7),
        ``"gzip"``, ``"lzf"``, ``None`` or h5py filter keywords. Raises
        :class:`InvalidZeaDataError` before writing anything if the data breaks the format.
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
        return write_tree(tree, path, compression=compression, overwrite=overwrite, progress=progress)

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        close_quietly(self.h5)

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
            raise AttributeError(f"{len(tracks)} tracks: use .tracks or .get_track()")
        return tracks[0]

    data = property(lambda self: self._single().data)
    scan = property(lambda self: self._single().scan)
    n_frames = property(lambda self: self._single().n_frames)
    n_tx = property(lambda self: self._single().n_tx)
    n_ax = property(lambda self: self._single().n_ax)
    n_el = property(lambda self: self._single().n_el)

    @property
    @_reads
    def probe(self) -> dict[str, Any]:
        """``probe/`` fields (legacy files: ``probe_geometry`` from the scan, name from the attr)."""
        if "probe" in self.h5:
            return _values(self.h5["probe"])
        probe: dict[str, Any] = {}
        if self.legacy and "scan" in self.h5 and "probe_geometry" in self.h5["scan"]:
            probe["probe_geometry"] = self.h5["scan/probe_geometry"][()]
        if "probe" in self.h5.attrs:
            probe["name"] = str(self.h5.attrs["probe"])
        return probe

    def load_parameters(self) -> dict[str, Any]:
        return self._single().load_parameters()

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
