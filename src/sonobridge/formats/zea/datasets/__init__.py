"""Converters of public ultrasound datasets into zea files, one module per dataset.

The dataset names and output layouts are those of ``python -m zea.data.convert`` (zea 0.1.8).
Every dataset module exposes ``plan(source, destination, options) -> list[DatasetJob]`` and
``convert(job) -> None`` (and optionally ``finish(source, destination, options) -> None``);
:func:`convert_dataset` runs them through the resumable, parallel driver (:mod:`.driver`).

Examples
--------
>>> from sonobridge.formats.zea.datasets import DATASETS
>>> sorted(DATASETS)[:3]
['camus', 'cetus', 'echonet']
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .job import DatasetJob

if TYPE_CHECKING:
    from .driver import DatasetResult

#: zea's dataset name -> the module converting it
DATASETS: dict[str, str] = {
    name: f"{__name__}.{name}"
    for name in ("echonet", "echonetlvh", "camus", "picmus", "verasonics", "cetus", "echoxflow",
                 "images", "us4us")
}


def convert_dataset(name: str, source: str | os.PathLike, destination: str | os.PathLike, *,
                    workers: int | None = None, overwrite: bool = False,
                    options: Mapping[str, object] | None = None,
                    progress: bool | None = None) -> list[DatasetResult]:
    """Convert the dataset ``name`` found at ``source`` into zea files under ``destination``.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    source, destination : path
        The dataset as downloaded, and the output folder (or file, for single-file datasets).
    workers : int, optional
        Processes to convert with (default: all cores).
    overwrite : bool
        Rebuild outputs that are already complete and up to date.
    options : mapping, optional
        Dataset-specific options (``--option KEY=VALUE`` on the command line).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    list of DatasetResult
        One per planned output, in plan order.
    """
    from .driver import run_dataset

    return run_dataset(name, source, destination, workers=workers, overwrite=overwrite,
                       options=options, progress=progress)


__all__ = ["DATASETS", "DatasetJob", "convert_dataset"]
