"""Unpack a Clarius package: every capture file written to a folder, ``.raw.lzo`` decompressed.

Nothing is extracted by path: each output is named by its base name only, inside the target
folder, and written under a temporary name then renamed, so an interrupted run leaves no file
that looks complete. The whole plan is checked before anything is written: each ``.raw`` against
its header (decompressed size, lzop blocks), lzop data that runs on past what its header
declares (a decompression bomb) is refused, two files that would land on one name are refused,
and the outputs' total size must fit in the free space of the target folder.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ...errors import FormatError, UnsafeArchiveError
from ...util.atomic import atomic_path, output_error, require_free_space
from ..byteregion import ByteRegion
from ..lzop import is_lzop
from . import find_captures
from .raw import RawStreamData

log = logging.getLogger(__name__)

COMPARE_LIMIT = 1 << 20      # bytes: an existing output up to this size is compared by content


class _Output(NamedTuple):
    region: ByteRegion
    destination: Path
    raw: RawStreamData | None   # a .raw (checked, decompressed if lzop); None: copied as stored

    @property
    def size(self) -> int:
        return self.raw.stored_size if self.raw is not None else self.region.length

    def chunks(self) -> Iterable[bytes | bytearray]:
        return self.raw.iter_bytes() if self.raw is not None else (self.region.read_all(),)


def _write(chunks: Iterable[bytes | bytearray], destination: Path, size: int) -> None:
    with atomic_path(destination, expected_size=size) as temporary, open(temporary, "wb") as out:
        for chunk in chunks:
            out.write(chunk)


def _plan(path: str | os.PathLike, out_dir: Path, overwrite: bool) -> tuple[list[_Output], list[Path]]:
    """The outputs to write and those kept (existing, no ``overwrite``), every ``.raw`` checked."""
    captures = find_captures(path)
    if not captures:
        raise FormatError(path, "no Clarius capture found to unpack")
    to_write: list[_Output] = []
    kept: list[Path] = []
    sources: dict[Path, str] = {}
    for capture in captures:
        others = [*capture.ymls.values(), *capture.tgcs.values(), *([capture.imu] if capture.imu else [])]
        for region, is_raw in [(r, True) for r in capture.raws.values()] + [(r, False) for r in others]:
            name = PurePosixPath(region.name.replace("\\", "/")).name
            compressed = is_raw and is_lzop(region)
            destination = out_dir / (name.removesuffix(".lzo") if compressed else name)
            if destination in sources:
                raise UnsafeArchiveError(path, f"{sources[destination]} and {region.label} would both be "
                                               f"unpacked to {destination.name}; nothing unpacked")
            sources[destination] = region.label
            raw = RawStreamData(region, compressed=compressed) if is_raw else None
            if raw is not None and raw.beyond_declared:
                raise FormatError(region.label, f"the lzop data runs on past the {raw.stored_size} bytes its "
                                                ".raw header declares (a decompression bomb?); not unpacked")
            output = _Output(region, destination, raw)
            if not overwrite and _unpacked(output):
                kept.append(destination)
            else:
                to_write.append(output)
    return to_write, kept


def _unpacked(output: _Output) -> bool:
    """Whether ``output.destination`` already holds what would be written: same size, and for
    files up to :data:`COMPARE_LIMIT` bytes the same content (a larger file of the right size is
    trusted: comparing would cost a full unpack)."""
    try:
        size = output.destination.stat().st_size
    except OSError:
        return False
    if not output.destination.is_file() or size != output.size:
        return False
    if size > COMPARE_LIMIT:
        return True
    expected = hashlib.sha256()
    for chunk in output.chunks():
        expected.update(chunk)
    try:
        return hashlib.sha256(output.destination.read_bytes()).digest() == expected.digest()
    except OSError:
        return False


def unpack(path: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False) -> dict[str, str]:
    """Write every capture file found at ``path`` into ``out_dir`` (lzop data decompressed).

    Returns ``{output path: "built" | "hit"}``; an existing output is kept ("hit") unless
    ``overwrite`` when it has the size it would have (and, up to 1 MiB, the same content),
    else it is rewritten.
    Raises :class:`~sonobridge.errors.DiskFullError` before writing anything when the outputs
    do not fit in the free space of ``out_dir``.
    """
    out_dir = Path(out_dir)
    to_write, kept = _plan(path, out_dir, overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(out_dir, error) from None
    require_free_space(out_dir, sum(output.size for output in to_write))
    results = {str(destination): "hit" for destination in kept}
    for output in to_write:
        _write(output.chunks(), output.destination, output.size)
        log.info("wrote %s", output.destination)
        results[str(output.destination)] = "built"
    return results
