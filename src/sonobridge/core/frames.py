"""Lazy frame arrays: read frames on demand, never a whole recording at once.

A stream's frames are either a NumPy array (often a read-only ``np.memmap``, already lazy) or a
:class:`LazyFrames`, which reads a contiguous range of frames through a callback (used for
compressed sources). Both support ``len``, ``shape``, ``dtype``, integer/slice/index-array access
on the first axis and :func:`iter_chunks`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Union

import numpy as np

ReadRange = Callable[[int, int], np.ndarray]


class LazyFrames:
    """Read-only array of shape ``(n_frames, *frame_shape)`` whose frames are read on access.

    ``read_range(start, stop)`` must return the frames ``start:stop`` as an array of shape
    ``(stop - start, *frame_shape)`` and dtype ``dtype``.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, read_range: ReadRange):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self._read_range = read_range

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    nbytes = property(lambda self: self.size * self.dtype.itemsize)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyFrames(shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key: Any) -> np.ndarray:
        frame_key, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        frames = self._frames(frame_key)
        if not rest:
            return frames
        # frame axis already applied: keep it (or not) and index the rest
        axis_kept = not isinstance(frame_key, (int, np.integer))
        return frames[(slice(None), *rest)] if axis_kept else frames[rest]

    def _frames(self, key: Any) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            index = int(key) + n if key < 0 else int(key)
            if not 0 <= index < n:
                raise IndexError(f"frame {key} out of range for {n} frames")
            return self._read_range(index, index + 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return self._read_range(start, max(start, stop))
            return self._gather(np.arange(start, stop, step))
        if key is Ellipsis:
            return self._read_range(0, n)
        return self._gather(np.asarray(key))

    def _gather(self, indices: np.ndarray) -> np.ndarray:
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        indices = np.where(indices < 0, indices + self.shape[0], indices).astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.shape[0]):
            raise IndexError(f"frame index out of range for {self.shape[0]} frames")
        out = np.empty((indices.size, *self.shape[1:]), self.dtype)
        for slot, index in enumerate(indices):
            out[slot] = self._read_range(int(index), int(index) + 1)[0]
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(self.shape[0]):
            yield self._read_range(index, index + 1)[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        frames = self._read_range(0, self.shape[0])
        return frames if dtype is None else frames.astype(dtype, copy=False)


FrameArray = Union[np.ndarray, LazyFrames]


def iter_chunks(frames: FrameArray, chunk_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_index, frames[first_index:first_index + chunk_frames])`` over all frames."""
    if chunk_frames < 1:
        raise ValueError("chunk_frames must be >= 1")
    for start in range(0, len(frames), chunk_frames):
        yield start, np.asarray(frames[start:start + chunk_frames])
