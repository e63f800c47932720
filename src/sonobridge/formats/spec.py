"""What a file format declares about itself: :class:`FormatSpec`, and :class:`RecordingSource`, a
recording found on disk but not yet read.

Each format subpackage declares its specs in its own ``spec.py`` (``SPECS = (...)``) and the
registry (:mod:`.registry`) loads them by module name; discovery, output naming, the pipeline and
the CLI ask the registry and never name a format. Spec modules import only the standard library
and the core model at import time: readers and writers load when first called.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.recording import Recording

#: ``claim(path, files, explicit)``: the recordings among ``files`` (every file under ``path``, or
#: ``[path]`` when ``explicit``) that this format reads; files claimed by a format earlier in the
#: registry's order are not offered to later ones.
Claimer = Callable[[Path, list[Path], bool], list["RecordingSource"]]


@dataclass(frozen=True)
class RecordingSource:
    """A recording found at a path, not yet read: ``open(**options)`` reads it.

    Parameters
    ----------
    label : str
        Unique name of the recording (a path, or ``container:prefix`` for multi-file captures).
    format : str
        Name of the :class:`FormatSpec` that found it.
    opener : callable
        ``opener(**reader_options) -> Recording``.
    """

    label: str
    format: str
    opener: Callable[..., Recording]

    def open(self, **options: Any) -> Recording:
        """Read the recording (options such as ``probe=`` or ``allow_truncated=`` go to the reader)."""
        return self.opener(**options)

    @property
    def stem(self) -> str:
        """File-name-safe stem of its outputs (its format's stem rule; not yet made unique)."""
        from ..util.naming import safe_name
        from .registry import get_format

        return safe_name(get_format(self.format).stem_of(self.label))

    @property
    def root(self) -> Path:
        """The file or folder holding it."""
        from .registry import get_format

        return get_format(self.format).root_of(self.label)


def _file_stem(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    def stem(label: str) -> str:
        base = Path(label).name
        for suffix in suffixes:
            if base.lower().endswith(suffix):
                return base[: -len(suffix)]
        return base
    return stem


@dataclass(frozen=True)
class FormatSpec:
    """A file format: how its recordings are found, named, read, written and checked.

    Parameters
    ----------
    name : str
        Identifier, as in ``Provenance.format`` and the run report (``"clarius-raw"``).
    title : str
        For people: messages and ``--help`` (``"Clarius raw data"``).
    suffixes : tuple of str
        File-name endings of its files, lower case, longest first.
    claim : Claimer, optional
        Finds its recordings under a path; None for write-only formats (videos).
    order : int
        Claim order: lower claims first (a Telemed ``.tvd.h5`` before generic HDF5).
    stem : callable, optional
        ``stem(label) -> str``: the output name's stem (default: the file name without a suffix
        of this format).
    source_root : callable, optional
        ``source_root(label) -> Path``: the file or folder holding the recording (default: the label).
    source_files : callable, optional
        ``source_files(label) -> list[Path]``: the files it is read from (default: the root).
    write : callable, optional
        ``write(recording, path, **options) -> Path`` for formats sonobridge writes (options the
        writer does not know are ignored).
    writes_folder : bool
        ``write(recording, folder, stem=..., **options)`` writes several files into a folder and
        returns ``{path: Outcome}`` (videos), instead of one file at ``path``.
    write_suffix : str, optional
        Suffix of written files (``".hdf5"``).
    stage : str, optional
        Pipeline stage this format's writer serves (``"ingest"``, ``"video"``, ``"dicom"``).
    output_done : callable, optional
        ``output_done(path, source_digest) -> bool``: a written file is complete and intact beyond
        what the pipeline's output record vouches for (e.g. its first frame decodes); a format
        that records its source itself (the video index) also checks ``source_digest`` (any when
        None). May raise on a damaged file (then it is not done).
    validate : callable, optional
        ``validate(path) -> report``: the file checked against this format's rules; the report
        has ``path``, ``valid``, ``findings`` and ``errors`` (printable) and ``to_json()``; never
        raises for bad content.
    unpack : callable, optional
        ``unpack(path, out_dir, overwrite=False) -> {output path: Outcome}``: the files of its
        recordings at ``path`` written out as plain files (``sonobridge unpack``).
    read_frames : callable, optional
        ``read_frames(path, start=0, stop=None) -> ndarray``: frames ``start:stop`` of a file of this
        format as an array ``(n, rows, cols[, 3])`` (run report pictures, label videos for ``seg``).
    frame_tolerance : int
        Frames a stream may lack against its declared count and still be complete.
    qc : callable, optional
        ``qc(label) -> dict``: format-specific QC findings of one recording.
    manufacturer : str
        DICOM Manufacturer of recordings of this format (``"Clarius"``), if known.
    preload : tuple of str
        Modules imported before worker threads start (lazy imports race in threads).
    read_object : callable, optional
        ``read_object(obj, **options) -> Recording | None``: the recording held by an object in
        memory (a parsed dataset, bytes, a binary file-like object) when it is this format's, else
        None (:func:`~sonobridge.formats.registry.open_recording` asks each format in claim order).
    not_applicable : callable, optional
        ``not_applicable(label) -> str | None``: why the recording labelled ``label`` is nothing
        the pipeline processes (e.g. a DICOM structured report or CT series in an ultrasound
        cohort: status ``not_applicable``, not an error), None when it is; cheap (headers only).
    datasets : tuple of str
        Public datasets this format imports (``sonobridge convert --dataset NAME``).
    convert_dataset : callable, optional
        ``convert_dataset(name, source, destination, *, workers, overwrite, options, progress)
        -> list of results`` (each with ``outcome`` and ``to_json()``) for a name in ``datasets``.
    """

    name: str
    title: str
    suffixes: tuple[str, ...] = ()
    claim: Claimer | None = None
    order: int = 100
    stem: Callable[[str], str] | None = None
    source_root: Callable[[str], Path] | None = None
    source_files: Callable[[str], list[Path]] | None = None
    write: Callable[..., Any] | None = None
    writes_folder: bool = False
    write_suffix: str | None = None
    stage: str | None = None
    output_done: Callable[[Path, str | None], bool] | None = None
    validate: Callable[[str | os.PathLike], Any] | None = None
    unpack: Callable[..., dict[str, Any]] | None = None
    read_frames: Callable[..., Any] | None = None
    frame_tolerance: int = 0
    qc: Callable[[str], dict[str, Any]] | None = None
    manufacturer: str = ""
    preload: tuple[str, ...] = ()
    read_object: Callable[..., Any] | None = None
    not_applicable: Callable[[str], str | None] | None = None
    datasets: tuple[str, ...] = ()
    convert_dataset: Callable[..., list[Any]] | None = None

    def stem_of(self, label: str) -> str:
        """The output stem of a recording labelled ``label`` (not yet made file-name safe)."""
        return (self.stem or _file_stem(self.suffixes))(label)

    def root_of(self, label: str) -> Path:
        """The file or folder holding the recording labelled ``label``."""
        return self.source_root(label) if self.source_root else Path(label)

    def files_of(self, label: str) -> list[Path]:
        """The files the recording labelled ``label`` is read from."""
        if self.source_files:
            return self.source_files(label)
        root = self.root_of(label)
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
