"""Folders of images (PNG, JPEG) to zea files, as zea's ``convert_image_dataset``.

The folder tree of the source is kept: ``<src>/<dir>/<group>.<ext>`` becomes
``<dst>/<dir>/<group>.hdf5``. Images whose names match the same group (option
``group_pattern``, a regular expression whose first group names the output; default: one
image per file) are stacked as the frames of one file, ordered by the integer the option
``sort_pattern`` captures. Every image is read as 8-bit greyscale (PIL mode ``L``) and stored as
``image/values`` ``(n_frames, height, width, 1)`` uint8, one image read at a time.

Options: ``dataset_name`` (the description's first word, default ``image``), ``group_pattern``,
``sort_pattern``.
"""
from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ....errors import FormatError, read_faults
from .job import DatasetJob, write_zea

#: the image suffixes zea converts (compared case-insensitively, as zea does)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_GROUP = r"(.*)\..*"


def _pattern(options: Mapping[str, object], key: str, default: str | None) -> re.Pattern | None:
    text = options.get(key, default)
    if text is None:
        return None
    try:
        return text if isinstance(text, re.Pattern) else re.compile(str(text))
    except re.error as error:
        raise FormatError(None, f"option {key}={text!r} is not a regular expression: {error}") from None


def _match(pattern: re.Pattern, name: str, key: str, folder: Path) -> str:
    found = pattern.match(name)
    if found is None:
        raise FormatError(folder / name, f"does not match {key} {pattern.pattern!r}")
    return found[1]


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per group of images in every folder under ``source``."""
    group = _pattern(options, "group_pattern", DEFAULT_GROUP)
    rank = _pattern(options, "sort_pattern", None)
    name = str(options.get("dataset_name") or "image")
    jobs = []
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        folder = Path(folder)
        images = sorted(f for f in files if f.lower().endswith(IMAGE_SUFFIXES))
        target = destination / folder.relative_to(source)
        for group_id, members in itertools.groupby(images, key=lambda f: _match(group, f, "group_pattern", folder)):
            members = list(members)
            if rank is not None:
                members.sort(key=lambda f: int(_match(rank, f, "sort_pattern", folder)))
            jobs.append(DatasetJob("images", tuple(folder / f for f in members), target / f"{group_id}.hdf5",
                                   (("dataset_name", name),)))
    return jobs


def _grey(path: Path) -> np.ndarray:
    """The image at ``path`` as 8-bit greyscale ``(height, width)`` uint8."""
    from PIL import Image

    with read_faults(path, "not a readable image", also=(Image.UnidentifiedImageError,)), Image.open(path) as image:
        return np.asarray(image.convert("L"))


def convert(job: DatasetJob) -> None:
    """Stack the job's images (read one at a time) into ``image/values`` of ``job.output``."""
    from ....core.frames import LazyFrames

    first = _grey(job.sources[0])

    def frames(start: int, stop: int) -> np.ndarray:
        block = np.empty((stop - start, *first.shape, 1), np.uint8)
        for row, path in enumerate(job.sources[start:stop]):
            frame = first if start + row == 0 else _grey(path)
            if frame.shape != first.shape:
                raise FormatError(path, f"is {frame.shape[1]}x{frame.shape[0]} pixels, the group's first image "
                                        f"{first.shape[1]}x{first.shape[0]}")
            block[row, ..., 0] = frame
        return block

    values = LazyFrames((len(job.sources), *first.shape, 1), np.uint8, frames)
    write_zea(job.output, {"image": {"values": values}}, probe={"name": "generic"},
              description=f"{job.option('dataset_name', 'image')} dataset converted to zea format")
