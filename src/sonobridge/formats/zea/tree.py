"""Write zea-format HDF5 files (zea >= 0.1.0 layout) with h5py + hdf5plugin.

A file is first built as an in-memory tree (:class:`Group` nodes holding arrays, strings and lazy
frame arrays), checked against the format with the same rules as the validator, and only then
written: to a temporary name beside the target, renamed into place when complete. Files are pinned
to the HDF5 1.14 format (``libver=("earliest", "v114")``) so HDF5 1.14 readers open them, per-frame
arrays are stored one frame per chunk (random frame access), and the codec is chosen per dtype
(:data:`CODECS`, measured in ``benchmarks/bench_zea.py``).

With a :data:`CODECS` codec, frames are compressed on all cores by numcodecs' Blosc (the same
Blosc 1 format the HDF5 filter 32001 reads) and handed to HDF5 as finished chunks; HDF5's own
filter pipeline, which compresses one chunk at a time, serves the other codecs.

A full disk or an unwritable folder is an :class:`~sonobridge.errors.OutputError` /
:class:`~sonobridge.errors.DiskFullError` with nothing left behind: free space is checked before
writing (against the arrays stored uncompressed), and HDF5 writes through
:func:`~sonobridge.util.atomic.hdf5_file`, so a failed write never reaches the HDF5 library.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ...core.frames import LazyFrames
from ...errors import FormatError, OutputExistsError
from ...util.atomic import atomic_path, hdf5_file
from .schema import (ATTENUATION_FIELDS, MAP_FIELDS, METADATA_FIELDS, METADATA_GROUPS, METRICS_FIELDS,
                     PROBE_SPEC, SIGNAL_ND_FIELDS, coerce, field_attributes, scan_as_zea)
from .validate import check_tree, is_dataset

log = logging.getLogger(__name__)

ZEA_VERSION = "0.1.8"              # the layout version written (parsed by zea; >= 0.1.0 = current)
MAX_CHUNK_BYTES = 8 << 20          # as zea: a chunk is the unit of parallel decoding
CONTIGUOUS_BYTES = 64 << 10        # smaller arrays are stored unfiltered in one piece
BLOCK_BYTES = 32 << 20             # frames handed to HDF5 per write call
FRAME_KEYS = {"values", "raw_data", "samples"}   # arrays whose first axis is frames / samples


class InvalidZeaDataError(FormatError, TypeError, ValueError):
    """What was to be written breaks the zea format; nothing was written. Also a ``TypeError`` and
    a ``ValueError``, so code catching what ``zea.File.create`` raises catches it."""


class Group(dict):
    """An HDF5 group in memory: children by name (``Group`` or arrays), the group's ``attrs`` and
    ``leaf_attrs`` (attributes of its datasets by name, e.g. ``unit`` and ``description``; a dataset
    without an entry gets the unit and description of its field in the table,
    :func:`~.schema.field_attributes`)."""

    def __init__(self, items: Mapping[str, Any] | None = None, attrs: Mapping[str, Any] | None = None,
                 name: str = "/"):
        super().__init__(items or {})
        self.attrs = dict(attrs or {})
        self.leaf_attrs: dict[str, dict[str, Any]] = {}
        self.name = name


def _blosc(cname: str, level: int, shuffle: str) -> dict[str, Any]:
    import hdf5plugin

    return dict(hdf5plugin.Blosc(cname=cname, clevel=level, shuffle=getattr(hdf5plugin.Blosc, shuffle)))


#: Blosc codec per element size as (compressor, level, shuffle, block bytes; 0 = Blosc's choice),
#: from the candidates ``benchmarks/bench_zea.py`` measures. ``"fast"`` (the default): lz4 after
#: bit-shuffling for 1-byte data (uint8 speckle: ~0.96x zea's size at >10x its speed, decoding
#: ~1.7x faster than zstd), zstd 1 after bit-shuffling for int16/float32 samples (within ~4% of zea's
#: size). ``"small"``: zstd 7, unshuffled for 1-byte data (the smallest uint8 files), bit-shuffled
#: for wider types. ``"zea"``: zea 0.1.8's own choice (zstd 7, bit-shuffle).
CODECS: dict[str, dict[str, tuple[str, int, str, int]]] = {
    "fast": {"narrow": ("lz4", 5, "BITSHUFFLE", 256 << 10), "wide": ("zstd", 1, "BITSHUFFLE", 256 << 10)},
    "small": {"narrow": ("zstd", 7, "NOSHUFFLE", 0), "wide": ("zstd", 7, "BITSHUFFLE", 0)},
    "zea": {"narrow": ("zstd", 7, "BITSHUFFLE", 0), "wide": ("zstd", 7, "BITSHUFFLE", 0)},
}


def _codec(compression: str, dtype: np.dtype) -> tuple[str, int, str, int]:
    if compression not in CODECS:
        raise ValueError(f"unknown compression {compression!r} (choose {', '.join(CODECS)}, gzip, lzf or None)")
    return CODECS[compression]["narrow" if np.dtype(dtype).itemsize == 1 else "wide"]


def chunk_encoder(compression: str | Mapping | None, dtype: np.dtype) -> Callable[[np.ndarray], bytes] | None:
    """A thread-safe function compressing one chunk exactly as the HDF5 Blosc filter would (for
    :data:`CODECS` names), or None (other codecs go through HDF5's filter pipeline)."""
    if not isinstance(compression, str) or compression not in CODECS:
        return None
    from numcodecs import Blosc

    cname, level, shuffle, block_bytes = _codec(compression, dtype)
    return Blosc(cname=cname, clevel=level, shuffle=getattr(Blosc, shuffle), blocksize=block_bytes).encode


def filter_options(compression: str | Mapping | None, dtype: np.dtype) -> dict[str, Any]:
    """h5py ``create_dataset`` keywords for ``compression``: a :data:`CODECS` name, ``"gzip"``,
    ``"lzf"``, ``None`` (no filter, readable without hdf5plugin) or h5py keywords (e.g. an
    ``hdf5plugin`` filter)."""
    if compression is None:
        return {}
    if isinstance(compression, Mapping):
        return dict(compression)
    if compression in ("gzip", "lzf"):
        return {"compression": compression}
    return _blosc(*_codec(compression, dtype)[:3])


def chunk_shape(shape: tuple[int, ...], itemsize: int, per_frame: bool) -> tuple[int, ...]:
    """One frame per chunk for per-frame arrays (the whole array otherwise), then the next axes
    halved until a chunk holds at most :data:`MAX_CHUNK_BYTES`."""
    chunk = [1 if per_frame else n for n in shape[:1]] + list(shape[1:])
    chunk = [max(1, n) for n in chunk]
    axis = 0
    while int(np.prod(chunk)) * itemsize > MAX_CHUNK_BYTES and axis < len(chunk):
        if chunk[axis] > 1:
            chunk[axis] = (chunk[axis] + 1) // 2
        else:
            axis += 1
    return tuple(chunk)


def _string_dtype():
    import h5py

    return h5py.string_dtype("utf-8")


class _TreeWriter:
    def __init__(self, path: Path, compression: str | Mapping | None, progress: bool, pool: ThreadPoolExecutor):
        self.path, self.compression, self.progress, self.pool = path, compression, progress, pool

    def write_group(self, target, group: Group) -> None:
        target.attrs.update({key: value for key, value in group.attrs.items() if value is not None})
        for name, item in group.items():
            if isinstance(item, Group):
                self.write_group(target.create_group(name), item)
            else:
                self.write_array(target, name, item)
                # given attributes (a copied file's, a custom element's) replace the field table's
                attributes = group.leaf_attrs[name] if name in group.leaf_attrs else \
                    field_attributes(f"{target.name}/{name}")
                target[name].attrs.update({k: v for k, v in attributes.items() if v is not None})

    def write_array(self, target, name: str, value: Any) -> None:
        if isinstance(value, np.ndarray) and value.dtype.kind in "UO":
            target.create_dataset(name, data=value.astype(object), dtype=_string_dtype())
            return
        dtype, shape = np.dtype(value.dtype), tuple(value.shape)
        db_image = name == "values" and target.name.endswith("/image") and dtype == np.float32
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if not shape or nbytes < CONTIGUOUS_BYTES:
            array = self.checked(np.asarray(value), db_image, f"{target.name}/{name}")
            if array.shape != shape:
                raise InvalidZeaDataError(self.path, f"not written: {target.name}/{name}: the source gave shape "
                                                     f"{array.shape}, not {shape}")
            target.create_dataset(name, data=array)
            return
        per_frame = name in FRAME_KEYS and len(shape) > 1          # 1-D signals: whole chunks
        dataset = target.create_dataset(name, shape=shape, dtype=dtype,
                                        chunks=chunk_shape(shape, dtype.itemsize, per_frame),
                                        **filter_options(self.compression, dtype))
        self.copy_frames(dataset, value, db_image)

    def copy_frames(self, dataset, value: Any, db_image: bool) -> None:
        """Copy ``value`` block by block; whole-frame chunks are compressed in parallel."""
        from ...util.progress import progress_bar

        frame_bytes = max(1, int(np.prod(dataset.shape[1:])) * dataset.dtype.itemsize)
        step = max(1, BLOCK_BYTES // frame_bytes)
        n = dataset.shape[0]
        whole_frames = dataset.chunks == (1, *dataset.shape[1:])
        encode = chunk_encoder(self.compression, dataset.dtype) if whole_frames else None
        origin = (0,) * (dataset.ndim - 1)
        with progress_bar(progress=self.progress and n >= 2 * step, total=n, unit="frame", desc=dataset.name,
                          leave=False) as bar:
            for start in range(0, n, step):
                block = self.checked(np.asarray(value[start:start + step], dataset.dtype), db_image, dataset.name)
                expected = (min(step, n - start), *dataset.shape[1:])
                if block.shape != expected:
                    raise InvalidZeaDataError(self.path, f"not written: {dataset.name}: the source gave frames of "
                                                         f"shape {block.shape[1:]} x {block.shape[0]}, not "
                                                         f"{expected[1:]} x {expected[0]}")
                if encode is None:
                    dataset[start:start + len(block)] = block
                else:
                    for offset, chunk in enumerate(self.pool.map(encode, np.ascontiguousarray(block))):
                        dataset.id.write_direct_chunk((start + offset, *origin), chunk)
                bar.update(len(block))

    def checked(self, block: np.ndarray, db_image: bool, key: str) -> np.ndarray:
        """``block`` unchanged; InvalidZeaDataError if it is a dB image with values above 0, NaN
        or +inf (lazily computed frames are only seen here)."""
        if db_image and (np.any(block > 0) or np.any(np.isnan(block)) or np.any(block == np.inf)):
            raise InvalidZeaDataError(self.path, f"not written: {key}: dB image values must be <= 0 "
                                                 f"(finite or -inf)")
        return block


def write_tree(root: Group, path: str | os.PathLike, *, compression: str | Mapping | None = "fast",
               overwrite: bool = False, progress: bool = False) -> Path:
    """Check ``root`` against the zea format and write it to ``path`` atomically.

    Raises :class:`InvalidZeaDataError` (listing every problem) before anything is written,
    :class:`~sonobridge.errors.OutputExistsError` if ``path`` exists and ``overwrite`` is false.
    """
    import hdf5plugin  # noqa: F401  (registers the Blosc filter)

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(path, "exists (overwrite it with overwrite=True or --overwrite)")
    report = check_tree(root, str(path))
    if not report.valid:
        raise InvalidZeaDataError(path, "not written, the data breaks the zea format:\n  "
                                        + "\n  ".join(str(f) for f in report.errors))
    for finding in report.warnings:
        log.info("%s: %s", path, finding)
    with atomic_path(path, expected_size=stored_size_floor(root, compression)) as temporary, \
            ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        with hdf5_file(temporary, libver=("earliest", "v114")) as handle:
            _TreeWriter(path, compression, progress, pool).write_group(handle, root)
    return path


def stored_size_floor(root: Group, compression: str | Mapping | None) -> int:
    """Bytes the file of ``root`` needs at least: every array stored without a filter at full
    size (compressed arrays count nothing: how small they get is only known once written)."""
    total = 0
    for item in root.values():
        if isinstance(item, Group):
            total += stored_size_floor(item, compression)
            continue
        dtype, shape = np.dtype(getattr(item, "dtype", np.uint8)), tuple(getattr(item, "shape", ()))
        if dtype.kind in "UO":
            total += sum(len(str(text).encode()) for text in np.asarray(item).ravel())
            continue
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if compression is None or not shape or nbytes < CONTIGUOUS_BYTES:
            total += nbytes
    return total


# ------------------------------------------------------------------ building trees from values
def as_array(value: Any, *, keep_dtype: bool = False) -> Any:
    """A leaf value as stored: text as a str array, Python and NumPy floats as float32 (as zea
    stores them; ``keep_dtype`` keeps custom data as given), arrays and lazy frames unchanged
    otherwise."""
    if isinstance(value, np.generic):               # NumPy scalars are stored as 0-D arrays
        value = np.asarray(value)
    if isinstance(value, LazyFrames) or (is_dataset(value) and not isinstance(value, np.ndarray)):
        if not keep_dtype and np.dtype(value.dtype).kind == "f" and value.dtype != np.float32:
            return LazyFrames(value.shape, np.float32,
                              lambda start, stop, v=value: np.asarray(v[start:stop], np.float32))
        return value
    if isinstance(value, (str, bytes)):
        return np.asarray(value.decode("utf-8") if isinstance(value, bytes) else value, dtype=object)
    array = np.asarray(value)
    if array.dtype.kind in "US":
        return array.astype(str).astype(object)
    if not keep_dtype and array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    if not keep_dtype and array.dtype == np.complex128:
        return array.astype(np.complex64)
    return array


def as_group(values: Mapping[str, Any], name: str, *, keep_dtype: bool = False) -> Group:
    """A nested mapping as a :class:`Group`; None values are dropped."""
    group = Group(name=name)
    for key, value in values.items():
        if value is None:
            continue
        child = f"{name.rstrip('/')}/{key}"
        group[key] = (as_group(value, child, keep_dtype=keep_dtype) if isinstance(value, Mapping)
                      else as_array(value, keep_dtype=keep_dtype))
    return group


def _custom_group(custom: Any) -> Group:
    """``custom``: a nested mapping, or zea ``CustomElement``-like items (``name``, ``data``,
    ``description``, ``unit``, ``group_name``); stored as given, with ``unit``/``description``."""
    if isinstance(custom, Mapping):
        return as_group(custom, "/custom", keep_dtype=True)
    root = Group(name="/custom")
    for element in custom:
        group = root
        for part in [p for p in str(getattr(element, "group_name", "") or "").split("/") if p]:
            group = group.setdefault(part, Group(name=f"{group.name}/{part}"))
        group[element.name] = as_array(element.data, keep_dtype=True)
        group.leaf_attrs[element.name] = {"unit": getattr(element, "unit", None),
                                          "description": getattr(element, "description", None)}
    return root


def _coerced(key: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``probe``/``metadata``/``metrics`` values with Python numbers and lists typed as the field table says
    (:func:`~.schema.coerce`), as zea types them before checking."""
    if key == "metrics":
        return {name: coerce(v, METRICS_FIELDS[name]) if name in METRICS_FIELDS else v
                for name, v in values.items()}
    if key == "probe":
        return {name: coerce(v, PROBE_SPEC[name]) if name in PROBE_SPEC else v for name, v in values.items()}
    if key != "metadata":
        return dict(values)
    out: dict[str, Any] = {}
    for name, value in values.items():
        table = METADATA_GROUPS.get(name, SIGNAL_ND_FIELDS)
        if name in METADATA_FIELDS:
            out[name] = coerce(value, METADATA_FIELDS[name])
        elif isinstance(value, Mapping):
            out[name] = {k: coerce(v, table[k]) if k in table else v for k, v in value.items()}
        else:
            out[name] = value
    return out


def _product_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Data products with their optional fields (``min``, ``gamma``, ...) typed as zea types them."""
    table = {**MAP_FIELDS, **ATTENUATION_FIELDS}
    return {name: {k: coerce(v, table[k]) if k in table else v for k, v in product.items()}
            if isinstance(product, Mapping) else product for name, product in data.items()}


def file_tree(*, tracks: list[Mapping[str, Any]], track_schedule: Any = None, probe: Mapping | None = None,
              metadata: Mapping | None = None, metrics: Mapping | None = None, custom: Any = None,
              us_machine: str | None = None, description: str | None = None,
              acquisition_time: str | None = None) -> Group:
    """The tree of a zea file from zea-style values: ``tracks`` are mappings with ``data``,
    ``scan``, ``label`` and ``transmit_only``; data products are mappings (``values``,
    ``coordinates``, ...) except the flat ``raw_data`` array."""
    root = Group(attrs={"zea_version": ZEA_VERSION, "us_machine": us_machine, "description": description,
                        "acquisition_time": acquisition_time})
    tracks_group = root["tracks"] = Group(name="/tracks")
    for index, track in enumerate(tracks):
        name = f"/tracks/track_{index}"
        group = tracks_group[f"track_{index}"] = Group(name=name)
        if track.get("label") is not None:
            group["label"] = as_array(str(track["label"]))
        group["transmit_only"] = np.bool_(bool(track.get("transmit_only", False)))
        for part in ("data", "scan"):
            if track.get(part) is not None:
                if not isinstance(track[part], Mapping):
                    raise InvalidZeaDataError(None, f"not written: {part} must be a mapping, "
                                                    f"got {type(track[part]).__name__}")
                try:
                    values = _product_fields(track[part]) if part == "data" else scan_as_zea(
                        track[part], getattr((track.get("data") or {}).get("raw_data"), "shape", None))
                except TypeError as error:
                    raise InvalidZeaDataError(None, f"not written: {part}: {error}") from None
                group[part] = as_group(values, f"{name}/{part}")
    if track_schedule is not None:
        root["track_schedule"] = np.asarray(track_schedule, np.int32)
    for key, values in (("probe", probe), ("metadata", metadata), ("metrics", metrics)):
        if values is not None and not isinstance(values, Mapping):
            raise InvalidZeaDataError(None, f"not written: {key} must be a mapping of fields, "
                                            f"got {type(values).__name__}")
        if values:
            try:
                root[key] = as_group(_coerced(key, values), f"/{key}")
            except TypeError as error:     # a value zea refuses before any check (bytes for text)
                raise InvalidZeaDataError(None, f"not written: {key}: {error}") from None
    if custom:
        root["custom"] = _custom_group(custom)
    return root
