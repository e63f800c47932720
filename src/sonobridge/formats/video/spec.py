"""Videos in the format registry: written (the pipeline's ``video`` stage), never discovered
as recordings."""
from __future__ import annotations

import os
from typing import Any

from ..spec import FormatSpec


def _write(recording, out_dir: str | os.PathLike, **options: Any):
    from ...export.video import export_video

    return export_video(recording, out_dir, **options)


SPECS = (
    FormatSpec(name="video", title="lossless video with frame index", suffixes=(".mp4",), write=_write,
               write_suffix=".mp4", stage="video", order=200,
               preload=("av", "sonobridge.formats.video.index", "sonobridge.export.video")),
)
