"""Videos in the format registry: written (the pipeline's ``video`` stage), never discovered
as recordings."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..spec import FormatSpec


def _write(recording, out_dir: str | os.PathLike, **options: Any):
    from .writer import export_video

    return export_video(recording, out_dir, **options)


def _complete(path: Path, digest: str | None = None) -> bool:
    """A video is done when its index matches it and records ``digest`` (any when None), and its
    ``.dnav-toc`` matches the index (a stale one is rewritten from it)."""
    from .index import complete_index

    return complete_index(path, digest) is not None


def _read_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None):
    """Frames ``start:stop`` of the video at ``path``: uint8 ``(n, rows, cols[, 3])``."""
    import numpy as np

    from .reader import VideoReader

    with VideoReader(path) as reader:
        return np.asarray(reader[start:len(reader) if stop is None else stop])


SPECS = (
    FormatSpec(name="video", title="lossless video with frame index", suffixes=(".mp4", ".mkv", ".mov", ".avi"), write=_write,
               writes_folder=True, write_suffix=".mp4", stage="video", order=200, output_done=_complete,
               read_frames=_read_frames,
               preload=("av", "sonobridge.formats.video.reader", "sonobridge.formats.video.index",
                        "sonobridge.formats.video.writer")),
)
