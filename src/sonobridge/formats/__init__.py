"""File formats: each subpackage reads (and later writes) one format into the core model.

:func:`find_recordings` lists what a path holds; :func:`open_recording` reads exactly one.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.recording import Recording
from ..errors import AmbiguousInputError, UnsupportedInputError


@dataclass(frozen=True)
class RecordingSource:
    """A recording found at a path, not yet read: ``open(**options)`` reads it."""

    label: str
    format: str
    opener: Callable[..., Recording]

    def open(self, **options: Any) -> Recording:
        return self.opener(**options)


def _clarius_sources(path: Path) -> list[RecordingSource] | None:
    from . import clarius

    captures = clarius.find_captures(path)
    if captures is None:
        return None
    return [RecordingSource(c.label, clarius.FORMAT, lambda c=c, **options: clarius.read_capture(c, **options))
            for c in captures]


HDF5_SUFFIXES = (".hdf5", ".h5", ".he5")
DICOM_SUFFIXES = (".dcm", ".dicom", "")     # "": PACS exports such as IM0001 (checked by their DICM magic)


def _zea_sources(files: list[Path], explicit: bool) -> list[RecordingSource]:
    from .zea.reader import FORMAT, read_zea

    return [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_zea(f)) for f in files
            if f.suffix.lower() in HDF5_SUFFIXES]


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dicom_sources(files: list[Path], explicit: bool) -> list[RecordingSource]:
    """``.dcm``/``.dicom`` files and files carrying the DICM magic (any name when given directly;
    without a suffix inside folders)."""
    from .dicom.reader import FORMAT, read_dicom

    return [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_dicom(f)) for f in files
            if (explicit or f.suffix.lower() in DICOM_SUFFIXES) and _is_dicom(f)]


def _telemed_sources(files: list[Path], explicit: bool) -> list[RecordingSource]:
    """Sidecars (``.tvd.h5``) and raw ``.tvd`` recordings (read without EchoWave); a ``.tvd``
    whose sidecar sits beside it is represented by the sidecar (one recording, not two)."""
    from .telemed.sidecar import FORMAT, SUFFIX, read_telemed
    from .telemed.tvd import FORMAT as TVD_FORMAT
    from .telemed.tvd import read_tvd

    sources = [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_telemed(f))
               for f in files if f.name.endswith(SUFFIX)]
    sources += [RecordingSource(str(f), TVD_FORMAT, lambda f=f, allow_truncated=False, **_vendor_options:
                                read_tvd(f, allow_truncated=allow_truncated))
                for f in files if f.suffix.lower() == ".tvd" and not f.with_name(f.name + ".h5").exists()]
    return sources


#: finders of single-file formats, given the files under a path (listed once for all of them), in
#: priority order: a file one finder claims (a Telemed ``.tvd.h5``) is not offered to the next (zea)
_FILE_FINDERS = [_telemed_sources, _zea_sources, _dicom_sources]


def find_recordings(path: str | os.PathLike) -> list[RecordingSource]:
    """Every recording at ``path`` (a file, a package, or a folder tree)."""
    path = Path(path)
    if not path.exists():
        raise UnsupportedInputError(path, "no such file or folder")
    explicit = path.is_file()
    files = [path] if explicit else sorted(p for p in path.rglob("*") if p.is_file())
    sources: list[RecordingSource] = []
    for finder in _FILE_FINDERS:
        found = finder(files, explicit)
        claimed = {source.label for source in found}
        files = [f for f in files if str(f) not in claimed]
        sources += found
    sources += _clarius_sources(path) or []
    if sources:
        return sources
    raise UnsupportedInputError(path, "no supported recording found (supported: Clarius raw data, zea HDF5, "
                                      "DICOM, Telemed .tvd / .tvd.h5)")


def open_recording(path: str | os.PathLike, **options: Any) -> Recording:
    """Read the one recording at ``path``; options go to the format's reader."""
    sources = find_recordings(path)
    if len(sources) > 1:
        names = ", ".join(s.label for s in sources[:5])
        more = ", ..." if len(sources) > 5 else ""
        raise AmbiguousInputError(path, f"holds {len(sources)} recordings ({names}{more}); "
                                        "open one of them")
    return sources[0].open(**options)
