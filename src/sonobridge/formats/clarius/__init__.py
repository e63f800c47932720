"""Clarius raw data: ``.raw`` / ``.raw.lzo`` streams with ``.yml``, ``.tgc`` and ``_imu.yml``."""
from __future__ import annotations

import os
import re
from pathlib import Path

from ...errors import FormatError
from .package import CaptureFiles, capture_of_file, captures_in_folder, captures_in_tar, split_name
from .reader import FORMAT, read_capture

TAR_MAGIC_OFFSET = 257


def is_tar(path: Path) -> bool:
    """Uncompressed (ustar/gnu) tar, by content."""
    with open(path, "rb") as handle:
        handle.seek(TAR_MAGIC_OFFSET)
        return handle.read(5) == b"ustar"


def find_captures(path: str | os.PathLike) -> list[CaptureFiles] | None:
    """Clarius captures at ``path`` (folder, tar package, or one stream file); None if it is
    not Clarius data."""
    path = Path(path)
    if path.is_dir():
        captures = captures_in_folder(path)
        for archive in sorted(path.rglob("*.tar")):
            if archive.is_file() and is_tar(archive):
                captures += captures_in_tar(archive)
        return captures or None
    if is_tar(path):
        return captures_in_tar(path)
    if re.search(r"\.(tar\.(gz|bz2|xz|zst)|tgz|tbz2|txz)$", path.name, re.IGNORECASE):
        raise FormatError(path, "compressed tar packages are not read in place; Clarius packages are "
                                "plain .tar (decompress this one first, e.g. with 'tar xf')")
    if split_name(path.name) or path.name.lower().endswith((".raw", ".lzo")):
        return [capture_of_file(path)]
    return None


__all__ = ["FORMAT", "CaptureFiles", "find_captures", "read_capture"]
