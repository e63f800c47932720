"""DICOM files as a map-style dataset for PyTorch (pydcm.torchdata).

One sample = one file: single-frame files give ``[rows, cols(, samples)]``, multi-frame files
``[frames, rows, cols(, samples)]``. :class:`DICOMDataset` has ``__len__`` and ``__getitem__``, which
is all ``torch.utils.data.DataLoader`` needs, so torch is imported only for ``to_torch=True``. To
assemble a folder into one spatially ordered volume instead, use :func:`sonobridge.dicom.load_series`.

>>> dataset = DICOMDataset("study_dir/", rescale=True)       # doctest: +SKIP
>>> hu = dataset[0]                                           # float32 [rows, cols]  # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnsupportedInputError
from .io import SUFFIXES, is_dicom


def scan(root: str | os.PathLike, pattern: str | None = None) -> list[Path]:
    """The DICOM instance files under ``root``, sorted.

    Parameters
    ----------
    root : str or os.PathLike
        A folder (searched recursively) or a single file.
    pattern : str, optional
        A glob such as ``"*.dcm"``: files are chosen by name only. When None, a file is taken when its
        name ends in ``.dcm``/``.dicom`` (any case) or it carries the ``DICM`` magic after the
        128-byte preamble (the extension-less files of clinical exports).

    Returns
    -------
    list of pathlib.Path
        Sorted paths; a single file given as ``root`` is returned as the only entry when it matches.

    Raises
    ------
    UnsupportedInputError
        ``root`` does not exist.
    """
    path = Path(root)
    if not path.exists():
        raise UnsupportedInputError(path, "no such file or folder")
    if path.is_dir():
        candidates = path.rglob(pattern) if pattern is not None else path.rglob("*")
        files = sorted(p for p in candidates if p.is_file())
    else:
        files = [path] if path.is_file() and (pattern is None or path.match(pattern)) else []
    if pattern is not None:
        return files
    return [p for p in files if p.suffix.lower() in SUFFIXES or is_dicom(p)]


class DICOMDataset:
    """Map-style dataset over the DICOM files under ``root``: ``dataset[i]`` decodes file ``i``.

    Parameters
    ----------
    root : str or os.PathLike
        A folder (searched recursively) or one file; files are chosen by :func:`scan`.
    pattern : str, optional
        Glob passed to :func:`scan` (name only); None: extension or ``DICM`` magic.
    rescale : bool
        True: float32 real-world values (RescaleSlope/Intercept applied: HU for CT); False: the
        stored integers.
    to_torch : bool
        Return ``torch.Tensor`` samples (torch imported on first use).
    transform : callable, optional
        Applied to each decoded NumPy array; its result is the sample (converted to a tensor with
        ``to_torch`` only when it is still a NumPy array).
    with_meta : bool
        Samples are ``(pixels, meta)``: the geometry sidecar of
        :func:`~sonobridge.dicom.pixels.decode` plus ``"path"``.

    Notes
    -----
    A sample is ``[rows, cols(, samples)]`` for a single-frame file and ``[frames, rows,
    cols(, samples)]`` for a multi-frame one. Unreadable files raise the package's errors.
    """

    def __init__(self, root: str | os.PathLike, *, pattern: str | None = None, rescale: bool = False,
                 to_torch: bool = False, transform: Callable[[np.ndarray], Any] | None = None,
                 with_meta: bool = False):
        self.root = root
        self.files = scan(root, pattern)
        self.rescale = rescale
        self.to_torch = to_torch
        self.transform = transform
        self.with_meta = with_meta

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Any:
        from .pixels import decode

        path = self.files[index]
        pixels, meta = decode(path, rescale=self.rescale, with_meta=True)
        if pixels.shape[0] == 1:
            pixels = pixels[0]                                  # a single-frame file: [rows, cols(, samples)]
        sample = self.transform(pixels) if self.transform is not None else pixels
        if self.to_torch and isinstance(sample, np.ndarray):
            import torch

            sample = torch.from_numpy(np.ascontiguousarray(sample))
        if self.with_meta:
            meta["path"] = os.fspath(path)
            return sample, meta
        return sample

    def __repr__(self) -> str:
        return f"DICOMDataset({os.fspath(self.root)!r}, {len(self)} files)"
