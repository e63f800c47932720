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


def _zea_sources(path: Path) -> list[RecordingSource] | None:
    from .zea.reader import FORMAT, read_zea

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in HDF5_SUFFIXES)
    files = [f for f in files if f.suffix.lower() in HDF5_SUFFIXES and not f.name.endswith(".tvd.h5")]
    return [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_zea(f)) for f in files] or None


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dicom_sources(path: Path) -> list[RecordingSource] | None:
    from .dicom.reader import FORMAT, read_dicom

    # in folders: .dcm/.dicom files, and files without a suffix (PACS exports such as IM0001)
    # that carry the DICM magic
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower()
                                                 in (".dcm", ".dicom", ""))
    files = [f for f in files if _is_dicom(f)]
    return [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_dicom(f)) for f in files] or None


def _telemed_sources(path: Path) -> list[RecordingSource] | None:
    """Sidecars (``.tvd.h5``) and raw ``.tvd`` recordings (read without EchoWave); a ``.tvd``
    whose sidecar sits beside it is represented by the sidecar (one recording, not two)."""
    from .telemed.sidecar import FORMAT, SUFFIX, read_telemed
    from .telemed.tvd import FORMAT as TVD_FORMAT
    from .telemed.tvd import read_tvd

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.tvd*") if p.is_file())
    sources = [RecordingSource(str(f), FORMAT, lambda f=f, **_vendor_options: read_telemed(f))
               for f in files if f.name.endswith(SUFFIX)]
    sources += [RecordingSource(str(f), TVD_FORMAT, lambda f=f, allow_truncated=False, **_vendor_options:
                                read_tvd(f, allow_truncated=allow_truncated))
                for f in files if f.suffix.lower() == ".tvd" and not f.with_name(f.name + ".h5").exists()]
    return sources or None


_FINDERS = [_telemed_sources, _zea_sources, _dicom_sources, _clarius_sources]


def find_recordings(path: str | os.PathLike) -> list[RecordingSource]:
    """Every recording at ``path`` (a file, a package, or a folder tree)."""
    path = Path(path)
    if not path.exists():
        raise UnsupportedInputError(path, "no such file or folder")
    sources = [source for finder in _FINDERS for source in (finder(path) or [])]
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
