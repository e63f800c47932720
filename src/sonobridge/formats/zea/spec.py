"""zea HDF5 in the format registry: read any zea file, write recordings as zea (the pipeline's
``ingest`` stage)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..spec import FormatSpec, RecordingSource

HDF5_SUFFIXES = (".hdf5", ".h5", ".he5")


def _claim(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    def opener(f: Path):
        def read(**_reader_options: Any):
            from .reader import read_zea

            return read_zea(f)
        return read

    return [RecordingSource(str(f), "zea", opener(f)) for f in files if f.suffix.lower() in HDF5_SUFFIXES]


def _write(recording, path: str | os.PathLike, **options: Any):
    from ...export.zea import export_zea

    return export_zea(recording, path, **options)


def _findings(path: str | os.PathLike) -> list[str]:
    from .validate import validate

    return [f"{finding.key}: {finding.problem}" for finding in validate(path).errors]


SPECS = (
    FormatSpec(name="zea", title="zea HDF5", suffixes=HDF5_SUFFIXES, claim=_claim, order=20, write=_write,
               write_suffix=".hdf5", stage="ingest", validate=_findings,
               preload=("h5py", "hdf5plugin", "sonobridge.formats.zea.reader", "sonobridge.formats.zea.validate",
                        "sonobridge.formats.zea.writer", "sonobridge.export.zea")),
)
