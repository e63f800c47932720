"""zea -> zea without loss: the source file's own tree, copied dataset by dataset.

A stream read from a zea file keeps a reference to the dataset it reads (:class:`ZeaFrames`).
When such a recording is written to zea again, what the core model cannot express (channel data
``raw_data`` ``(n_tx, n_ax, n_el, n_ch)``, scan and probe groups, track schedules, metrics, custom
groups, dataset and group attributes, float64 or fixed-length-string scalars, legacy layouts) is
carried over verbatim: :func:`source_tree` is the source's tree with every dataset's values (same
dtype, same shape) and attributes, which the writer checks and writes as any other tree.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ...core.frames import LazyFrames
from .tree import CONTIGUOUS_BYTES, Group


class ZeaFrames(LazyFrames):
    """Frames read on access from ``dataset`` (an open h5py dataset of a zea file)."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, read_range: Callable[[int, int], np.ndarray],
                 dataset: Any):
        super().__init__(shape, dtype, read_range)
        self.dataset = dataset

    @property
    def source(self) -> Path:
        """The file the frames are read from."""
        return Path(self.dataset.file.filename)

    @property
    def key(self) -> str:
        """HDF5 path of the dataset, e.g. ``/tracks/track_0/data/raw_data``."""
        return str(self.dataset.name)


def _leaf(dataset) -> Any:
    """A dataset as the writer takes it: small ones read (strings decoded to ``str``, which the
    writer stores as UTF-8 variable-length strings; fixed-length ones stay bytes), large ones
    left lazy (read block by block while writing)."""
    import h5py

    string = h5py.check_string_dtype(dataset.dtype)
    if string is not None and string.length is None:
        value = dataset[()]
        decode = np.vectorize(lambda item: item.decode(string.encoding, "surrogateescape")
                              if isinstance(item, bytes) else str(item), otypes=[object])
        return np.asarray(decode(value) if np.ndim(value) else decode(np.asarray(value, object)), object)
    if dataset.shape is None or dataset.size * dataset.dtype.itemsize < CONTIGUOUS_BYTES or dataset.ndim == 0:
        return np.asarray(dataset[()])
    return dataset


def source_tree(handle, skip: Iterable[str] = ()) -> Group:
    """The tree of the open zea file ``handle``: every group, dataset (values and dtype as
    stored) and attribute, except the HDF5 paths in ``skip`` (e.g. ``/custom/sonobridge``)."""
    import h5py

    skipped = {"/" + key.strip("/") for key in skip}

    def fill(target: Group, source) -> None:
        for name, item in source.items():
            if item.name in skipped:
                continue
            if isinstance(item, h5py.Group):
                child = target[name] = Group(attrs=dict(item.attrs), name=item.name)
                fill(child, item)
            else:
                target[name] = _leaf(item)
                target.leaf_attrs[name] = dict(item.attrs)      # as they are, even none

    root = Group(attrs=dict(handle.attrs))
    fill(root, handle)
    return root


def subgroup(root: Group, path: str) -> Group:
    """The group at ``path`` below ``root`` (created when missing)."""
    group = root
    for part in [p for p in path.split("/") if p]:
        if not isinstance(group.get(part), Group):
            group[part] = Group(name=f"{group.name.rstrip('/')}/{part}")
        group = group[part]
    return group
