"""Random access to a byte range of a file: a whole file, or a member inside an uncompressed tar.

Readers use :class:`ByteRegion` so that a ``.raw`` inside a ``.tar`` is memory-mapped in place,
never extracted or copied.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, TruncatedFileError

#: metadata files (yml, tgc, imu) are kilobytes to a few megabytes
MAX_TEXT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ByteRegion:
    """``length`` bytes of ``path`` starting at ``offset``; ``name`` is the logical file name
    (the tar member path for archive members) used in messages."""

    path: str
    offset: int
    length: int
    name: str

    @classmethod
    def whole_file(cls, path: str | os.PathLike) -> "ByteRegion":
        path = os.fspath(path)
        return cls(path, 0, os.path.getsize(path), path)

    @property
    def label(self) -> str:
        """How to name this region in messages: the file, or ``archive.tar:member``."""
        return self.path if self.name == self.path else f"{self.path}:{self.name}"

    def read(self, start: int, size: int) -> bytes:
        """``size`` bytes from ``start`` (relative to the region); error if they are not all there."""
        if start < 0 or size < 0 or start + size > self.length:
            raise TruncatedFileError(self.label, f"needs bytes {start}..{start + size} "
                                                 f"but holds {self.length}")
        with open(self.path, "rb") as handle:
            data = os.pread(handle.fileno(), size, self.offset + start)
        if len(data) != size:
            raise TruncatedFileError(self.label, "file shrank while being read")
        return data

    def read_all(self) -> bytes:
        return self.read(0, self.length)

    def text(self, max_bytes: int = MAX_TEXT_BYTES) -> str:
        """The region decoded as UTF-8 (invalid bytes replaced); refuses regions larger than
        ``max_bytes`` so a mislabelled or hostile file cannot exhaust memory."""
        if self.length > max_bytes:
            raise FormatError(self.label, f"{self.length} bytes is too large for a metadata text file "
                                          f"(limit {max_bytes})")
        return self.read_all().decode("utf-8", errors="replace")

    def memmap(self, dtype: np.dtype, start: int, count: int) -> np.ndarray:
        """Read-only memory map of ``count`` items of ``dtype`` from ``start`` (region-relative)."""
        if count == 0:
            return np.zeros(0, dtype)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=self.offset + start, shape=(count,))
