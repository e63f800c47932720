"""TIFF stacks in the format registry: written (``sonobridge convert --to tiff`` or OUTPUT.tif),
never discovered as recordings."""
from __future__ import annotations

import os
from typing import Any

from ..spec import FormatSpec


def _write(recording, path: str | os.PathLike, **options: Any):
    """:func:`~.writer.export_tiff` (unknown options ignored)."""
    from .writer import export_tiff

    return export_tiff(recording, path, **{key: value for key, value in options.items() if key == "overwrite"})


SPECS = (
    FormatSpec(name="tiff", title="calibrated TIFF stack (ImageJ)", suffixes=(".tiff", ".tif"), write=_write,
               write_suffix=".tif", order=210, preload=("tifffile", "sonobridge.formats.tiff.writer")),
)
