"""DICOM series -> volumes (pydcm.volume).

:func:`load_series` reads the headers of every file, keeps the largest coherent stack (same series,
same image orientation and size), sorts its slices by position along the slice normal and stacks
them into a :class:`Volume`: pixels ``[z, y, x]`` and the 4x4 affine from voxel indices ``(x, y,
z)`` to patient coordinates in millimetres (DICOM LPS). :meth:`Volume.to_nifti` writes it with the
RAS affine NIfTI readers expect (nibabel).
"""
from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, SonobridgeError, UnsupportedInputError
from .io import read_dataset
from .pixels import decode_dataset
from .ultrasound import floats, tissue_region

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    """``pixels`` ``[z, y, x]``; ``affine`` 4x4: voxel ``(x, y, z, 1)`` -> LPS millimetres;
    ``files``: the slices in stack order."""

    pixels: np.ndarray
    affine: np.ndarray
    files: list[str] = field(default_factory=list)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size ``(x, y, z)`` in millimetres."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    def to_nifti(self, path: str | os.PathLike) -> Path:
        """Write as NIfTI-1 (data ``(x, y, z)``, RAS+ affine), atomically; ``.nii.gz`` is gzipped."""
        try:
            import nibabel
        except ImportError:
            from ..errors import MissingDependencyError

            raise MissingDependencyError(None, "NIfTI export needs nibabel: pip install 'sonobridge[dicom]'") from None
        from ..util.atomic import write_bytes_atomic

        image = nibabel.Nifti1Image(np.ascontiguousarray(self.pixels.transpose(2, 1, 0)), LPS_TO_RAS @ self.affine)
        image.set_qform(image.affine, code=1)
        image.set_sform(image.affine, code=1)
        data = image.to_bytes()
        if str(path).endswith(".gz"):
            import gzip

            data = gzip.compress(data, compresslevel=6)
        return write_bytes_atomic(path, data)


def _files(source: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_dir():
            return sorted(p for p in root.rglob("*") if p.is_file())
        return [root]
    return [Path(p) for p in source]


def _stack_key(ds) -> tuple | None:
    try:
        orientation = tuple(np.round(np.asarray(ds.ImageOrientationPatient, float), 4))
        return (str(ds.get("SeriesInstanceUID", "")), orientation, int(ds.Rows), int(ds.Columns))
    except Exception:  # noqa: BLE001 - missing or malformed values: not part of a stack
        return None


def load_series(source: str | os.PathLike | Iterable[str | os.PathLike]) -> Volume:
    """The largest coherent stack among the DICOM files at ``source`` (a folder or file list)."""
    stacks: dict[tuple, list[tuple[Path, Any]]] = defaultdict(list)
    for path in _files(source):
        try:
            ds = read_dataset(path, stop_before_pixels=True)
        except SonobridgeError:
            continue                                   # not DICOM, or damaged: not part of a stack
        key = _stack_key(ds)
        position = floats(ds, "ImagePositionPatient")
        if key is not None and position is not None and len(position) == 3:
            stacks[key].append((path, ds))
    if not stacks:
        raise UnsupportedInputError(source if isinstance(source, (str, os.PathLike)) else "series",
                                    "no DICOM slices with position and orientation")
    key, members = max(stacks.items(), key=lambda item: len(item[1]))
    row, column = np.asarray(key[1][:3]), np.asarray(key[1][3:])
    normal = np.cross(row, column)
    positions = np.asarray([floats(ds, "ImagePositionPatient") for _, ds in members])
    order = np.argsort(positions @ normal, kind="stable")
    members, positions = [members[i] for i in order], positions[order]
    distances = np.diff(positions @ normal)
    if distances.size and np.any(distances <= 0):
        raise FormatError(members[0][0], "slices share a position: not one stack")
    slice_mm = float(np.median(distances)) if distances.size else float(members[0][1].get("SliceThickness", 1) or 1)
    spacing = _pixel_spacing_mm(members[0][1], members[0][0])         # row spacing (y), column spacing (x)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = row * spacing[1], column * spacing[0], normal * slice_mm
    affine[:3, 3] = positions[0]
    pixels = np.stack([decode_dataset(read_dataset(path), os.fspath(path), frame=1)[0] for path, _ in members])
    return Volume(pixels=pixels, affine=affine, files=[os.fspath(path) for path, _ in members])


def _pixel_spacing_mm(ds, path: Path) -> list[float]:
    """PixelSpacing, else the ultrasound tissue region's pixel size; FormatError when neither."""
    spacing = floats(ds, "PixelSpacing")
    if spacing is not None and len(spacing) == 2:
        return [abs(v) for v in spacing]
    region = tissue_region(ds)
    if region is None:
        raise FormatError(path, "no PixelSpacing and no calibrated ultrasound region: slice spacing unknown")
    return [abs(region.delta_y) * 1e3, abs(region.delta_x) * 1e3]        # magnitudes (deltas may be signed)
