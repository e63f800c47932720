"""A map-style dataset of DICOM files for PyTorch (pydcm.torchdata).

One sample = one file: ``(pixels, meta)`` as :func:`sonobridge.dicom.pixels.decode` gives them.
torch is imported only when ``to_torch`` is used.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .io import SUFFIXES, is_dicom


def scan(root: str | os.PathLike) -> list[Path]:
    """The DICOM files under ``root`` (a folder, searched recursively, or one file), sorted.

    Parameters
    ----------
    root : str or os.PathLike
        A folder or a file.

    Returns
    -------
    list of pathlib.Path
        Files named ``*.dcm``/``*.dicom`` or carrying the ``DICM`` magic (extension-less exports).
    """
    path = Path(root)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in files if p.suffix.lower() in SUFFIXES or is_dicom(p)]


class DICOMDataset:
    """Map-style dataset of the DICOM image files under ``root``: ``dataset[i]`` is ``(pixels,
    meta)`` as :func:`~sonobridge.dicom.pixels.decode` gives them (``pixels``
    ``[frames, rows, cols(, samples)]``; ``meta`` the geometry sidecar plus ``"path"``;
    ``to_torch``: pixels as a ``torch.Tensor``). Works with ``torch.utils.data.DataLoader``."""

    def __init__(self, root: str | os.PathLike, to_torch: bool = False):
        self.files = scan(root)
        self.to_torch = to_torch

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]]:
        from .pixels import decode

        pixels, meta = decode(self.files[index], with_meta=True)
        meta["path"] = os.fspath(self.files[index])
        if self.to_torch:
            import torch

            return torch.from_numpy(np.ascontiguousarray(pixels)), meta
        return pixels, meta
