"""Clarius raw data in the format registry.

A capture is several files (``<prefix>_<stream>.raw`` / ``.raw.lzo`` with ``.yml``, ``.tgc``,
``_imu.yml``) in a folder or a ``.tar`` package, labelled ``<container>:<prefix>`` (or
``<container>:<folder>/<prefix>`` inside a package's sub-folder); a single stream file named
directly is labelled by its path. This module is the one place that knows that grammar.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ..spec import FormatSpec, RecordingSource

NAME = "clarius-raw"


def _claim(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    from . import find_captures, read_capture

    def opener(capture):
        def read(**reader_options: Any):
            return read_capture(capture, **reader_options)
        return read

    return [RecordingSource(c.label, NAME, opener(c)) for c in find_captures(path) or []]


def _split(label: str) -> tuple[Path, str] | None:
    """``(container, capture)`` of a ``container:capture`` label; None for a file label."""
    container, _, capture = label.rpartition(":")
    if container and not Path(label).exists():
        return Path(container), capture
    return None


def source_root(label: str) -> Path:
    """The folder or package holding the capture (the file itself for a single stream file)."""
    parts = _split(label)
    return parts[0] if parts else Path(label)


def stem(label: str) -> str:
    """``<container>-<capture>``, the container without its ``.tar`` suffix (a package's sub-folder
    stays in the capture part, made file-name safe by the caller), else the file name."""
    parts = _split(label)
    if parts is None:
        return Path(label).name
    container = parts[0].name.removesuffix(".tar") if parts[0].is_file() else parts[0].name
    return f"{container}-{parts[1]}"


def source_files(label: str) -> list[Path]:
    """The capture's own files: a package as a whole, else ``<prefix>_*`` in its folder (its
    streams' ``.raw``, ``.yml``, ``.tgc``, IMU)."""
    from .package import split_name

    root = source_root(label)
    if root.is_dir():
        folder, prefix = root, PurePosixPath(label.rpartition(":")[2]).name
    elif (parts := split_name(root.name)) is not None:          # one stream file named by the user
        folder, prefix = root.parent, parts[0]
    else:
        return [root]
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.startswith(f"{prefix}_"))


def _unpack(path, out_dir, *, overwrite: bool = False) -> dict[str, Any]:
    """:func:`.unpack.unpack`: the captures' files, ``.raw.lzo`` decompressed."""
    from .unpack import unpack

    return unpack(path, out_dir, overwrite=overwrite)


SPECS = (
    FormatSpec(name=NAME, title="Clarius raw data", suffixes=(".raw.lzo", ".raw", ".tar"), claim=_claim,
               order=90, stem=stem, source_root=source_root, source_files=source_files, manufacturer="Clarius",
               unpack=_unpack,
               preload=("yaml", "sonobridge.formats.clarius", "sonobridge.formats.clarius.reader",
                        "sonobridge.formats.lzop")),
)
