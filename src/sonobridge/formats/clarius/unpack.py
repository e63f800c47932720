"""Unpack a Clarius package: every capture file written to a folder, ``.raw.lzo`` decompressed.

Nothing is extracted by path: each output is named by its base name only, inside the target
folder, and written under a temporary name then renamed, so an interrupted run leaves no file
that looks complete. Decompressed ``.raw`` data is checked against its header before the rename.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ...errors import FormatError
from ...export.atomic import atomic_path
from ..lzop import is_lzop
from . import find_captures
from .raw import RawStreamData

log = logging.getLogger(__name__)


def _write(chunks: Iterable[bytes | bytearray], destination: Path) -> None:
    with atomic_path(destination) as temporary, open(temporary, "wb") as out:
        for chunk in chunks:
            out.write(chunk)


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
        others = [*capture.ymls.values(), *capture.tgcs.values(), *([capture.imu] if capture.imu else [])]
        for region, is_raw in [(r, True) for r in capture.raws.values()] + [(r, False) for r in others]:
            name = PurePosixPath(region.name.replace("\\", "/")).name
            compressed = is_raw and is_lzop(region)
            destination = out_dir / (name.removesuffix(".lzo") if compressed else name)
            if destination.exists() and not overwrite:
                results[str(destination)] = "hit"
                continue
            # a .raw is checked (header vs. size, lzop blocks) as it is written; any error
            # removes the temporary file, so no incomplete .raw appears under its final name
            source = RawStreamData(region, compressed=compressed) if is_raw else None
            _write(source.iter_bytes() if source else (region.read_all(),), destination)
            log.info("wrote %s", destination)
            results[str(destination)] = "built"
    return results
