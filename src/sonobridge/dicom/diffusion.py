"""Diffusion-weighted MR: gradient tables, 4-D DWI volumes, FSL ``.bval``/``.bvec`` (pydcm.diffusion).

The b-value (s/mm^2) and gradient direction of an image come from the standard MR Diffusion
attributes: the MR Diffusion functional group of an enhanced multi-frame file (per frame), else the
MR Diffusion Sequence or the top-level Diffusion b-value (0018,9087) / Diffusion Gradient
Orientation (0018,9089) of a single-frame file. Vendor private headers (Siemens CSA) are not read.

Gradients are given in the image/voxel frame ``[row . g, column . g, normal . g]`` when rotated,
with our row order (rows stored top-down as in DICOM): dcm2niix, which flips the rows, writes the
same vectors with the second component negated. ``.bval`` and ``.bvec`` are written in FSL's
layout as dcm2niix writes them (one line of b-values; three lines x, y, z; ``%g`` numbers).

>>> format_row([0.0, 1000.0, -0.0])
'0 1000 0'
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SonobridgeError, UnsupportedInputError
from .io import damaged_content, read_dataset
from .ultrasound import floats
from .volume import (FrameCache, PathSource, Slice, assemble, diffusion_of, first_value, list_files, on_one_grid,
                     read_slices, stack_key, write_nifti)

#: gradient vectors shorter than this are the b0 "no direction"
NO_DIRECTION = 1e-6
ORDERS = ("gradient", "acquisition")


def format_row(values) -> str:
    """Numbers as dcm2niix writes them in .bval/.bvec: ``%g`` with 6 significant digits, no ``-0``."""
    return " ".join(f"{(0.0 if abs(v) < 5e-7 else float(v)):g}" for v in values)


def write_fsl(prefix: str | os.PathLike, bvals: np.ndarray, bvecs: np.ndarray) -> tuple[str, str]:
    """Write ``<prefix>.bval`` (b-values ``[N]``) and ``<prefix>.bvec`` (``[3, N]``) atomically;
    returns the two paths."""
    from ..util.atomic import write_bytes_atomic

    bval, bvec = f"{os.fspath(prefix)}.bval", f"{os.fspath(prefix)}.bvec"
    write_bytes_atomic(bval, (format_row(bvals) + "\n").encode())
    write_bytes_atomic(bvec, "".join(format_row(row) + "\n" for row in np.asarray(bvecs)).encode())
    return bval, bvec


def _to_voxel_frame(gradient: np.ndarray | None, orientation: Any) -> np.ndarray:
    """``[row . g, column . g, normal . g]``; the zero vector (b0, or no direction) stays zero."""
    if gradient is None or np.linalg.norm(gradient) < NO_DIRECTION:
        return np.zeros(3)
    cosines = np.asarray(orientation, float)
    row, column = cosines[:3], cosines[3:6]
    return np.array([row @ gradient, column @ gradient, np.cross(row, column) @ gradient])


def _table_entries(path: Path, rotate: bool) -> list[tuple[int, int, float, np.ndarray]]:
    """``(instance, frame, b-value, gradient)`` of each diffusion-weighted frame of one file."""
    try:
        ds = read_dataset(path, stop_before_pixels=True)
    except SonobridgeError:
        return []
    with damaged_content(os.fspath(path)):
        multiframe = "PerFrameFunctionalGroupsSequence" in ds
        n_frames = int(ds.get("NumberOfFrames", 1) or 1) if multiframe else 1
        instance = floats(ds, "InstanceNumber")
        entries = []
        for frame in range(n_frames):
            bvalue, gradient = diffusion_of(ds, frame)
            if bvalue is None:
                continue
            if rotate:
                orientation = (floats(ds, "ImageOrientationPatient")
                               or _frame_orientation(ds, frame) or [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
                vector = _to_voxel_frame(gradient, orientation)
            else:
                vector = gradient if gradient is not None else np.zeros(3)
            entries.append((int(instance[0]) if instance else 0, frame, float(bvalue), np.asarray(vector, float)))
        return entries


def _frame_orientation(ds: Any, frame: int) -> list[float] | None:
    return first_value(ds, frame, ("PlaneOrientationSequence", "ImageOrientationPatient"))


def diffusion_table(files: PathSource, *, output_prefix: str | os.PathLike | None = None,
                    rotate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The b-values and gradient directions of a DWI series (FSL ``.bval``/``.bvec`` content).

    Parameters
    ----------
    files : str, os.PathLike or iterable of them
        A folder (searched recursively), one file or a list of files. A multi-frame file gives one
        entry per frame, a single-frame file one; entries are ordered by (InstanceNumber, frame).
        Files without diffusion attributes are skipped.
    output_prefix : str or os.PathLike, optional
        Also write ``<prefix>.bval`` and ``<prefix>.bvec``.
    rotate : bool
        Give the gradients in the image/voxel frame ``[row . g, column . g, normal . g]`` instead of
        the patient (LPS) frame (the b0 zero vector stays zero).

    Returns
    -------
    bvals : numpy.ndarray
        ``[N]`` float64, s/mm^2.
    bvecs : numpy.ndarray
        ``[3, N]`` float64 unit vectors (zero for b0).

    Raises
    ------
    UnsupportedInputError
        No file with diffusion attributes.
    """
    entries = [entry for path in list_files(files) for entry in _table_entries(path, rotate)]
    if not entries:
        raise UnsupportedInputError(files if isinstance(files, (str, os.PathLike)) else None,
                                    "no diffusion-weighted images (no Diffusion b-value)")
    entries.sort(key=lambda entry: entry[:2])
    bvals = np.array([entry[2] for entry in entries], dtype=np.float64)
    bvecs = np.array([entry[3] for entry in entries], dtype=np.float64).T
    if output_prefix is not None:
        write_fsl(output_prefix, bvals, bvecs)
    return bvals, bvecs


def _direction_key(piece: Slice) -> tuple:
    gradient = piece.gradient
    if piece.bvalue == 0 or gradient is None or np.linalg.norm(gradient) < NO_DIRECTION:
        return (float(piece.bvalue), 0.0, 0.0, 0.0)
    return (float(piece.bvalue), *(round(float(v), 4) for v in gradient))


def load_dwi(series: PathSource, *, recursive: bool = True,
             order: str = "gradient") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A single-frame DWI series as a 4-D volume and its gradient table.

    The slices (of the largest series/orientation/size group) are grouped by their diffusion
    weighting (b-value and gradient direction); slices without diffusion attributes are skipped.
    Each group is assembled into a 3-D volume (sorted along the slice normal, real-world values).

    Parameters
    ----------
    series : str, os.PathLike or iterable of them
        A folder, a file or a list of files.
    recursive : bool
        Search sub-folders of a folder.
    order : {"gradient", "acquisition"}
        ``"gradient"``: volumes sorted by (b-value, direction), b0 first (deterministic);
        ``"acquisition"``: by each volume's smallest InstanceNumber, as dcm2niix orders them.

    Returns
    -------
    data : numpy.ndarray
        ``[V, z, y, x]`` float32 real-world values.
    bvals : numpy.ndarray
        ``[V]`` s/mm^2.
    bvecs : numpy.ndarray
        ``[3, V]`` unit vectors in the image/voxel frame (zero for b0).
    affine : numpy.ndarray
        4x4: voxel ``(x, y, z, 1)`` -> LPS millimetres, shared by every volume.

    Raises
    ------
    UnsupportedInputError
        No diffusion-weighted slices.
    FormatError
        A direction's slices do not form one stack, or the directions do not share one grid.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    slices = [piece for piece in read_slices(list_files(series, recursive)) if piece.bvalue is not None]
    if not slices:
        raise UnsupportedInputError(series if isinstance(series, (str, os.PathLike)) else None,
                                    "no diffusion-weighted slices (no Diffusion b-value)")
    groups: dict[tuple, list[Slice]] = defaultdict(list)
    for piece in slices:
        groups[stack_key(piece)[:4]].append(piece)
    directions: dict[tuple, list[Slice]] = defaultdict(list)
    for piece in max(groups.values(), key=len):
        directions[_direction_key(piece)].append(piece)
    keys = sorted(directions, key=(lambda k: min(p.instance for p in directions[k])) if order == "acquisition"
                  else (lambda k: k))
    cache = FrameCache()
    volumes = [assemble(directions[key], cache) for key in keys]
    data = on_one_grid(volumes, "diffusion directions")
    orientation = directions[keys[0]][0].orientation
    bvals = np.array([key[0] for key in keys], dtype=np.float64)
    bvecs = np.array([_to_voxel_frame(np.asarray(key[1:], float), orientation) for key in keys]).T
    return data, bvals, bvecs, volumes[0].affine


def save_dwi(series: PathSource, output_prefix: str | os.PathLike, *, recursive: bool = True,
             order: str = "acquisition") -> tuple[str, str, str]:
    """Convert a single-frame DWI series to ``<prefix>.nii.gz`` (4-D float32), ``<prefix>.bval``
    and ``<prefix>.bvec`` (dcm2niix's deliverable; ``order`` as in :func:`load_dwi`, by default
    dcm2niix's acquisition order). Returns the three paths."""
    data, bvals, bvecs, affine = load_dwi(series, recursive=recursive, order=order)
    prefix = os.fspath(output_prefix)
    image = write_nifti(data.astype(np.float32, copy=False), affine, prefix + ".nii.gz")
    bval, bvec = write_fsl(prefix, bvals, bvecs)
    return image, bval, bvec


__all__ = ["diffusion_table", "load_dwi", "save_dwi"]
