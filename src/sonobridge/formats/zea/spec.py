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


def _write(recording, path: str | os.PathLike, *, compression: Any = "fast", **options: Any):
    """:func:`export_zea` (``compression="none"``: uncompressed; unknown options ignored)."""
    from .writer import export_zea

    known = ("scan_converted", "pixel_size_m", "overwrite", "progress", "anonymise")
    return export_zea(recording, path, compression=None if compression == "none" else compression,
                      **{key: value for key, value in options.items() if key in known})


def _validate(path: str | os.PathLike):
    from .validate import validate

    return validate(path)


def _convert_dataset(name: str, source: str | os.PathLike, destination: str | os.PathLike, **options: Any):
    """:func:`~sonobridge.formats.zea.datasets.convert_dataset` (public datasets as zea converts them)."""
    from .datasets import convert_dataset

    return convert_dataset(name, source, destination, **options)


def _dataset_names() -> tuple[str, ...]:
    from .datasets import DATASETS

    return tuple(DATASETS)


SPECS = (
    FormatSpec(name="zea", title="zea HDF5", suffixes=HDF5_SUFFIXES, claim=_claim, order=20, write=_write,
               write_suffix=".hdf5", stage="ingest", validate=_validate,
               datasets=_dataset_names(), convert_dataset=_convert_dataset,
               preload=("h5py", "hdf5plugin", "numcodecs", "sonobridge.formats.zea.reader",
                        "sonobridge.formats.zea.validate", "sonobridge.formats.zea.schema",
                        "sonobridge.formats.zea.tree", "sonobridge.formats.zea.writer")),
)
