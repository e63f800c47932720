"""Unpack a Clarius package: every capture file written to a folder, ``.raw.lzo`` decompressed.

Nothing is extracted by path: each output is named by its base name only, inside the target
folder, and written under a temporary name then renamed, so an interrupted run leaves no file
that looks complete. Decompressed ``.raw`` data is checked against its header before the rename.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

from ...errors import FormatError
from ...export.atomic import atomic_path
from ..byteregion import ByteRegion
from ..lzop import LzopStream, is_lzop
from . import find_captures
from .raw import HEADER_SIZE, parse_header

log = logging.getLogger(__name__)
_COPY_CHUNK = 8 * 1024 * 1024


def _write_region(region: ByteRegion, destination: Path) -> None:
    with atomic_path(destination) as temporary, open(temporary, "wb") as out:
        for start in range(0, region.length, _COPY_CHUNK):
            out.write(region.read(start, min(_COPY_CHUNK, region.length - start)))


def _write_decompressed(region: ByteRegion, destination: Path) -> None:
    stream = LzopStream(region)
    header = parse_header(stream.read(0, min(HEADER_SIZE, stream.size)), region.label)
    expected = HEADER_SIZE + header.frames * header.record_size
    if stream.size != expected:
        raise FormatError(region.label, f"decompresses to {stream.size} bytes, header declares {expected}")
    with atomic_path(destination) as temporary, open(temporary, "wb") as out:
        for block in stream.iter_decompressed():
            out.write(block)


def unpack(path: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False) -> dict[str, str]:
    """Write every capture file found at ``path`` into ``out_dir`` (lzop data decompressed).

    Returns ``{output path: "built" | "hit"}``; existing outputs are kept unless ``overwrite``.
    """
    out_dir = Path(out_dir)
    captures = find_captures(path)
    if not captures:
        raise FormatError(path, "no Clarius capture found to unpack")
    results: dict[str, str] = {}
    for capture in captures:
        regions = [*capture.raws.values(), *capture.ymls.values(), *capture.tgcs.values(),
                   *([capture.imu] if capture.imu else [])]
        for region in regions:
            name = PurePosixPath(region.name.replace("\\", "/")).name
            compressed = is_lzop(region)
            if compressed:
                name = name.removesuffix(".lzo") if name.endswith(".lzo") else name
            destination = out_dir / name
            if destination.exists() and not overwrite:
                results[str(destination)] = "hit"
                continue
            (_write_decompressed if compressed else _write_region)(region, destination)
            log.info("wrote %s", destination)
            results[str(destination)] = "built"
    return results
