"""The registry of file formats: every :class:`~.spec.FormatSpec` sonobridge knows, and the
questions the rest of the package asks of them (what is at a path, how is it named, who writes
a suffix).

A format registers by listing its spec module in :data:`BUILTIN` (or by :func:`register` at run
time); spec modules are imported by name on first use, so ``import sonobridge.formats`` loads no
format and no format subpackage imports another.

Examples
--------
>>> from sonobridge.formats.registry import get_format, specs
>>> get_format("clarius-raw").title
'Clarius raw data'
>>> [spec.name for spec in specs() if spec.stage]
['zea', 'dicom', 'video']
"""
from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import AmbiguousInputError, UnsupportedInputError
from .spec import FormatSpec, RecordingSource

#: spec modules of the formats shipped with sonobridge (each defines ``SPECS``)
BUILTIN = (
    "sonobridge.formats.telemed.spec",
    "sonobridge.formats.zea.spec",
    "sonobridge.formats.dicom.spec",
    "sonobridge.formats.clarius.spec",
    "sonobridge.formats.video.spec",
    "sonobridge.formats.tiff.spec",
)

_specs: dict[str, FormatSpec] = {}
_loaded = False
_lock = threading.Lock()


def register(spec: FormatSpec) -> FormatSpec:
    """Add ``spec`` (replacing a spec of the same name); returns it."""
    with _lock:
        _specs[spec.name] = spec
    return spec


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for module in BUILTIN:
            for spec in importlib.import_module(module).SPECS:
                _specs.setdefault(spec.name, spec)
        _loaded = True


def specs() -> list[FormatSpec]:
    """Every registered format, in claim order."""
    _load_builtin()
    return sorted(_specs.values(), key=lambda spec: spec.order)


def get_format(name: str) -> FormatSpec:
    """The format called ``name`` (as in ``Provenance.format`` and the run report)."""
    _load_builtin()
    try:
        return _specs[name]
    except KeyError:
        raise UnsupportedInputError(None, f"unknown format {name!r} (known: {', '.join(sorted(_specs))})") from None


def stage_spec(stage: str) -> FormatSpec:
    """The format whose writer serves pipeline stage ``stage``."""
    for spec in specs():
        if spec.stage == stage:
            return spec
    raise UnsupportedInputError(None, f"no format writes the {stage!r} stage")


def writer_for(path: str | os.PathLike) -> FormatSpec | None:
    """The writable format whose written files end like ``path`` (None if none)."""
    name = Path(path).name.lower()
    for spec in specs():
        if spec.write is not None and any(name.endswith(s) for s in (spec.write_suffix, *spec.suffixes) if s):
            return spec
    return None


def not_applicable(label: str, format_name: str) -> str | None:
    """Why the recording ``label`` of format ``format_name`` is nothing the pipeline processes
    (its format's :attr:`FormatSpec.not_applicable`, e.g. a DICOM SR), None when it is."""
    check = get_format(format_name).not_applicable
    return check(label) if check is not None else None


def frames_reader_for(path: str | os.PathLike) -> FormatSpec | None:
    """The format that reads ``path`` as a plain frame array (videos), by its suffix; None if none."""
    name = Path(path).name.lower()
    for spec in specs():
        if spec.read_frames is not None and any(name.endswith(s) for s in spec.suffixes):
            return spec
    return None


def _titles() -> str:
    return ", ".join(spec.title for spec in specs() if spec.claim is not None)


def find_recordings(path: str | os.PathLike) -> list[RecordingSource]:
    """Every recording at ``path`` (a file, a package, or a folder tree).

    The folder tree is listed once for all formats; each format claims its recordings in
    registry order, and a file one format claimed is not offered to the next.
    """
    path = Path(path)
    if not path.exists():
        raise UnsupportedInputError(path, "no such file or folder")
    explicit = path.is_file()
    files = [path] if explicit else sorted(p for p in path.rglob("*") if p.is_file())
    sources: list[RecordingSource] = []
    for spec in specs():
        if spec.claim is None:
            continue
        found = spec.claim(path, files, explicit)
        claimed = {source.label for source in found}
        files = [f for f in files if str(f) not in claimed]
        sources += found
    if sources:
        return sources
    raise UnsupportedInputError(path, f"no supported recording found (supported: {_titles()})")


def open_recording(path: str | os.PathLike | Any, **options: Any):
    """Read the one recording at ``path``; options (``probe=``, ``allow_truncated=`` ...) go to
    the format's reader. ``path`` may also be an object in memory a format reads (a parsed pydicom
    Dataset, a DICOM file's bytes or a binary file-like object holding one): each format's
    ``read_object`` is asked in claim order."""
    if not isinstance(path, (str, os.PathLike)):
        return _open_object(path, **options)
    sources = find_recordings(path)
    if len(sources) > 1:
        names = ", ".join(s.label for s in sources[:5])
        more = ", ..." if len(sources) > 5 else ""
        raise AmbiguousInputError(path, f"holds {len(sources)} recordings ({names}{more}); open one of them")
    return sources[0].open(**options)


def _open_object(source: Any, **options: Any):
    """The recording an in-memory ``source`` holds: the first format whose ``read_object`` reads it."""
    readers = [spec for spec in specs() if spec.read_object is not None]
    for spec in readers:
        recording = spec.read_object(source, **options)
        if recording is not None:
            return recording
    raise UnsupportedInputError(None, f"a {type(source).__name__} object is no recording sonobridge reads from memory "
                                      f"(readable: {', '.join(spec.title for spec in readers) or 'none'})")
