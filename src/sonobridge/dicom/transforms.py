"""Deterministic medical-image transforms on volumes (pydcm.transforms).

Spatial, intensity and post-processing operations on a :class:`~sonobridge.dicom.volume.Volume`
(``pixels`` ``[z, y, x]`` plus the 4x4 affine from voxel ``(x, y, z)`` to LPS millimetres). Each
operation returns a new volume; index operations (crop, pad, flip, rotate90, reorient) are exact and
update the affine so every voxel keeps its world position. Every operation also takes a bare array
(treated as a volume with the identity affine) and then returns a bare array; a ``torch.Tensor`` is
accepted when torch is installed and a tensor comes back. torch is never imported by this module.

Parameters given per axis follow the documented order of each function: ``(z, y, x)`` (numpy axis
order) for sizes, crops and pads, ``(x, y, z)`` for ``spacing`` (millimetres). Random augmentation is
out of scope.

>>> import numpy as np
>>> from sonobridge.dicom import transforms as T
>>> T.crop(np.arange(27).reshape(3, 3, 3), (1, 1, 1), (2, 2, 2))[0, 0]
array([13, 14])

Two operations differ between frameworks (the resampling kernel and the Gaussian blending window);
the presets :data:`nnunet` and :data:`monai` bind them to one framework's convention.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

_ORDERS = {"nearest": 0, "linear": 1, "cubic": 3}
_PAD_MODES = ("constant", "edge", "reflect")
_RANK = {6: 1, 18: 2, 26: 3}


# ---------------------------------------------------------------- in/out marshalling
def _is_tensor(x: Any) -> bool:
    """True for a torch.Tensor (checked without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if _is_tensor(x) else np.asarray(x)


def _like(result: np.ndarray, template: Any) -> Any:
    """``result`` as a tensor when ``template`` was one, else as is."""
    if _is_tensor(template):
        return sys.modules["torch"].from_numpy(np.ascontiguousarray(result))
    return result


def _is_volume(x: Any) -> bool:
    return hasattr(x, "pixels") and hasattr(x, "affine")


def _split(vol: Any) -> tuple[np.ndarray, np.ndarray]:
    """(pixels [z, y, x], affine 4x4 float64) of a Volume or a bare array (identity affine)."""
    if _is_volume(vol):
        return _numpy(vol.pixels), np.asarray(vol.affine, dtype=np.float64)
    pixels = _numpy(vol)
    return pixels, np.eye(4)


def _rebuild(vol: Any, pixels: np.ndarray, grid_affine: np.ndarray | None = None) -> Any:
    """A new Volume like ``vol`` (or a bare array / tensor like ``vol``) holding ``pixels``."""
    if _is_volume(vol):
        changes = {"pixels": _like(pixels, vol.pixels)}
        if grid_affine is not None:
            changes["affine"] = grid_affine
            if "spacing" in {f.name for f in dataclasses.fields(vol)}:        # (z, y, x) mm, from the affine
                changes["spacing"] = tuple(float(v) for v in np.linalg.norm(grid_affine[:3, :3], axis=0)[::-1])
        return dataclasses.replace(vol, **changes)
    return _like(pixels, vol)


def _triple(value: Any, name: str, cast: type = int) -> tuple:
    """A scalar or 3 values as a 3-tuple of ``cast``."""
    values = np.atleast_1d(np.asarray(value)).ravel().tolist()
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise ValueError(f"{name} must be a scalar or 3 values, got {value!r}")
    return tuple(cast(v) for v in values)


def _is_label(pixels: np.ndarray, is_label: bool | None) -> bool:
    if is_label is not None:
        return bool(is_label)
    return bool(np.issubdtype(pixels.dtype, np.integer) or pixels.dtype == bool)


def _order(interp: str, label: bool) -> int:
    if interp not in _ORDERS:
        raise ValueError(f"interp must be one of {sorted(_ORDERS)}, got {interp!r}")
    return 0 if label else _ORDERS[interp]


def _per_channel(operation: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray, spatial: int = 3) -> np.ndarray:
    """``operation`` on ``[z, y, x]``, applied to each sample of ``[z, y, x, samples]`` (colour)."""
    if pixels.ndim <= spatial:
        return operation(pixels)
    return np.stack([operation(pixels[..., i]) for i in range(pixels.shape[-1])], axis=-1)


def _image_dtype(pixels: np.ndarray) -> type:
    """Interpolated images are float32, float64 ones stay float64."""
    return np.float64 if pixels.dtype == np.float64 else np.float32


def _column(axis: int) -> int:
    """Affine column of numpy axis ``axis`` (numpy z, y, x = affine columns 2, 1, 0)."""
    return 2 - axis


# ---------------------------------------------------------------- composition
class Compose:
    """Apply ``transforms`` (callables ``Volume -> Volume``) left to right.

    Bind parameters with :func:`functools.partial` or a lambda, e.g.
    ``Compose([lambda v: resample_to_spacing(v, 1.0), normalize_zscore])``.

    >>> Compose([lambda a: a + 1, lambda a: a * 2])(1)
    4
    """

    def __init__(self, transforms: Iterable[Callable[[Any], Any]]):
        self.transforms = list(transforms)

    def __call__(self, vol: Any) -> Any:
        for transform in self.transforms:
            vol = transform(vol)
        return vol

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, index: int) -> Callable[[Any], Any]:
        return self.transforms[index]


# ---------------------------------------------------------------- resampling
def _sample(pixels: np.ndarray, coords_zyx: np.ndarray, order: int, mode: str, cval: float = 0.0) -> np.ndarray:
    """``pixels`` sampled at fractional numpy indices ``coords_zyx`` [3, *out]; integer labels kept."""
    from scipy import ndimage

    if pixels.ndim > 3:
        return _per_channel(lambda plane: _sample(plane, coords_zyx, order, mode, cval), pixels)
    if order == 0:
        index = [np.clip(np.rint(c), 0, n - 1).astype(np.intp) for c, n in zip(coords_zyx, pixels.shape)]
        out = pixels[tuple(index)]
        if mode == "constant":
            inside = np.all([(c > -0.5) & (c < n - 0.5) for c, n in zip(coords_zyx, pixels.shape)], axis=0)
            out = np.where(inside, out, np.asarray(cval).astype(pixels.dtype))
        return out
    out = ndimage.map_coordinates(pixels.astype(np.float64), coords_zyx, order=order, mode=mode, cval=cval,
                                  prefilter=order > 1)
    return out.astype(_image_dtype(pixels))


def _world_to_grid(src_affine: np.ndarray, out_affine: np.ndarray, out_shape: Sequence[int]) -> np.ndarray:
    """Source numpy indices [3, D, H, W] of the voxel centres of an output grid."""
    grid = np.indices(tuple(out_shape), dtype=np.float64)[::-1]              # x, y, z
    mapping = np.linalg.inv(src_affine) @ out_affine
    coords = np.tensordot(mapping[:3, :3], grid, axes=1) + mapping[:3, 3].reshape(3, 1, 1, 1)
    return coords[::-1]                                                     # z, y, x


def _resample_grid(vol: Any, out_affine: np.ndarray, out_shape: Sequence[int], is_label: bool | None,
                   interp: str, mode: str) -> Any:
    pixels, grid_affine = _split(vol)
    order = _order(interp, _is_label(pixels, is_label))
    coords = _world_to_grid(grid_affine, out_affine, out_shape)
    return _rebuild(vol, _sample(pixels, coords, order, mode), out_affine)


def resample_to_spacing(vol: Any, spacing: Any, *, is_label: bool | None = None, interp: str = "linear") -> Any:
    """Resample onto an axis-aligned LPS grid with voxels of ``spacing`` millimetres.

    Parameters
    ----------
    vol : Volume
        ``pixels`` ``[z, y, x]`` (any dtype) and its affine.
    spacing : float or (x, y, z)
        Output voxel size in millimetres (a scalar: isotropic).
    is_label : bool, optional
        Nearest-neighbour sampling that keeps the dtype; default: True for integer pixels.
    interp : {"linear", "cubic", "nearest"}
        Interpolation for images (labels always use nearest).

    Returns
    -------
    Volume
        The output grid covers the source's field of view (the box around its voxel edges) with
        ``round(extent / spacing)`` voxels per axis, centred on it; affine diagonal ``spacing``.
        Images become float32 (float64 stays float64); samples beyond the source repeat its edge.
    """
    pixels, grid_affine = _split(vol)
    step = np.asarray(_triple(spacing, "spacing", float))
    if np.any(step <= 0):
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    shape_xyz = np.asarray(pixels.shape[:3][::-1], dtype=np.float64)
    corners = np.array(np.meshgrid(*[[-0.5, n - 0.5] for n in shape_xyz], indexing="ij")).reshape(3, -1)
    world = grid_affine[:3, :3] @ corners + grid_affine[:3, 3:4]
    low, high = world.min(axis=1), world.max(axis=1)
    counts = np.maximum(1, np.rint((high - low) / step).astype(int))
    out_affine = np.eye(4)
    out_affine[:3, :3] = np.diag(step)
    out_affine[:3, 3] = (low + high) / 2 - step * (counts - 1) / 2
    return _resample_grid(vol, out_affine, tuple(counts[::-1]), is_label, interp, "nearest")


def resample_to_reference(moving: Any, reference: Any, *, is_label: bool | None = None,
                          interp: str = "linear") -> Any:
    """Resample ``moving`` onto ``reference``'s grid (its shape and affine, oblique or not).

    Maps a result computed in a processed space (resampled, reoriented, cropped) back onto the
    original volume's grid: only the two affines are used, so any chain of geometric operations is
    undone. Voxels of the reference outside ``moving`` are 0. ``is_label`` defaults to True for
    integer pixels (nearest, dtype kept); images become float32.
    """
    ref_pixels, ref_affine = _split(reference)
    return _resample_grid(moving, ref_affine, ref_pixels.shape[:3], is_label, interp, "constant")


def affine(vol: Any, matrix: Any, *, is_label: bool | None = None, interp: str = "linear") -> Any:
    """Apply the voxel-space transform ``matrix`` to the image, keeping the source grid.

    ``matrix`` is 4x4, the forward map from source voxel ``(x, y, z)`` to output voxel (rotation,
    scale, shear, translation). Output voxels whose source lies outside the image are 0; the affine
    is unchanged. ``is_label`` defaults to True for integer pixels (nearest).
    """
    from scipy import ndimage

    pixels, _ = _split(vol)
    forward = np.asarray(matrix, dtype=np.float64)
    if forward.shape != (4, 4):
        raise ValueError(f"matrix must be 4x4, got shape {forward.shape}")
    flip = np.eye(4)[[2, 1, 0, 3]]                                          # (x, y, z) <-> (z, y, x)
    inverse = flip @ np.linalg.inv(forward) @ flip
    order = _order(interp, _is_label(pixels, is_label))
    source = pixels if order == 0 else pixels.astype(np.float64)
    out = _per_channel(lambda plane: ndimage.affine_transform(plane, inverse[:3, :3], offset=inverse[:3, 3],
                                                              order=order, mode="constant", prefilter=order > 1),
                       source)
    return _rebuild(vol, out if order == 0 else out.astype(_image_dtype(pixels)))


def _zoom_affine(grid_affine: np.ndarray, in_shape: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
    """Affine of an ``out_shape`` grid covering the same field of view as ``in_shape``."""
    scale = np.asarray(in_shape, float)[::-1] / np.asarray(out_shape, float)[::-1]     # x, y, z
    voxel = np.eye(4)
    voxel[:3, :3] = np.diag(scale)
    voxel[:3, 3] = 0.5 * scale - 0.5
    return grid_affine @ voxel


def _half_pixel(n_in: int, n_out: int) -> np.ndarray:
    """Source indices of ``n_out`` output voxel centres over ``n_in`` voxels (half-pixel mapping)."""
    return (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5


def _out_shape(out_shape: Any, ndim: int = 3) -> tuple[int, ...]:
    shape = tuple(int(v) for v in np.atleast_1d(out_shape))
    if len(shape) != ndim or min(shape) < 1:
        raise ValueError(f"out_shape must be {ndim} positive sizes (D, H, W), got {out_shape!r}")
    return shape


def _spline_resize(pixels: np.ndarray, out_shape: Sequence[int], order: int) -> np.ndarray:
    """scipy zoom on the half-pixel grid with edge extension (skimage.transform.resize semantics)."""
    from scipy import ndimage

    if pixels.ndim > len(out_shape):                           # colour: each sample alone (own clip range)
        return _per_channel(lambda plane: _spline_resize(plane, out_shape, order), pixels, len(out_shape))
    if tuple(out_shape) == pixels.shape:
        return pixels.astype(np.float64) if order else pixels.copy()
    factors = [n_out / n_in for n_in, n_out in zip(pixels.shape, out_shape)]
    source = pixels if order == 0 else pixels.astype(np.float64)
    out = ndimage.zoom(source, factors, order=order, mode="nearest", grid_mode=True)
    if order > 1:
        out = np.clip(out, source.min(), source.max())
    return out


def _resized(vol: Any, pixels: np.ndarray, grid_affine: np.ndarray, out: np.ndarray, image: bool = True) -> Any:
    result = out.astype(_image_dtype(pixels)) if image else out
    return _rebuild(vol, result, _zoom_affine(grid_affine, pixels.shape[:3], out.shape[:3]))


def resample_cubic(vol: Any, out_shape: Any) -> Any:
    """Cubic B-spline resample of an image to ``out_shape`` ``(D, H, W)`` over the same field of view.

    scipy spline order 3 in float64 on the half-pixel grid with edge extension, clipped to the input
    range: :func:`skimage.transform.resize` ``(order=3, mode="edge", clip=True, anti_aliasing=False)``,
    the nnU-Net image path. Returns float32 (float64 input stays float64).
    """
    pixels, matrix = _split(vol)
    return _resized(vol, pixels, matrix, _spline_resize(pixels, _out_shape(out_shape), 3))


def resample_nearest(vol: Any, out_shape: Any) -> Any:
    """Nearest-neighbour resample to ``out_shape`` ``(D, H, W)`` (half-pixel grid, scipy order 0).

    The label path of nnU-Net: no class blending; the dtype is kept.
    """
    pixels, matrix = _split(vol)
    return _resized(vol, pixels, matrix, _spline_resize(pixels, _out_shape(out_shape), 0), image=False)


def resample_separate_z(vol: Any, out_shape: Any) -> Any:
    """nnU-Net's anisotropic resample of an image to ``out_shape`` ``(D, H, W)``.

    Each slice is resized in plane with the cubic B-spline of :func:`resample_cubic` (float64), then
    the low-resolution z axis (axis 0) is resampled nearest-neighbour on the half-pixel grid (scipy
    ``map_coordinates(order=0, mode="nearest")``). For thick-slice images; returns float32 (float64 stays float64).
    """
    from scipy import ndimage

    pixels, matrix = _split(vol)
    depth, rows, cols = _out_shape(out_shape)
    planes = np.stack([_spline_resize(plane, (rows, cols), 3) for plane in pixels.astype(np.float64)])
    if depth != planes.shape[0]:
        grid = np.mgrid[0:depth, 0:rows, 0:cols].astype(np.float64)
        grid[0] = _half_pixel(planes.shape[0], depth)[:, None, None]
        planes = _per_channel(lambda plane: ndimage.map_coordinates(plane, grid, order=0, mode="nearest"), planes)
    return _resized(vol, pixels, matrix, planes)


def _trilinear(pixels: np.ndarray, out_shape: Sequence[int]) -> np.ndarray:
    """Half-pixel trilinear sampling with the source index clamped to the image (border padding)."""
    from scipy import ndimage

    axes = [np.clip(_half_pixel(n_in, n_out), 0, n_in - 1) for n_in, n_out in zip(pixels.shape, out_shape)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    return _per_channel(lambda plane: ndimage.map_coordinates(plane, coords, order=1, mode="nearest"),
                        pixels.astype(np.float64))


def resample_grid_sample(vol: Any, out_shape: Any) -> Any:
    """Trilinear resample of an image to ``out_shape`` ``(D, H, W)`` as torch ``grid_sample`` does it.

    ``align_corners=False``, bilinear, ``padding_mode="border"`` on an axis-aligned grid (MONAI's
    Spacing/Resize backend), computed in float64; returns float32 (float64 stays float64).
    """
    pixels, matrix = _split(vol)
    return _resized(vol, pixels, matrix, _trilinear(pixels, _out_shape(out_shape)))


def resize(vol: Any, out_shape: Any, *, is_label: bool | None = None, interp: str = "linear") -> Any:
    """Resample to exactly ``out_shape`` ``(D, H, W)`` voxels over the same field of view.

    ``interp``: "linear" (as :func:`resample_grid_sample`), "cubic" (as :func:`resample_cubic`) or
    "nearest" (as :func:`resample_nearest`); labels (default: integer pixels) always use nearest and
    keep their dtype.
    """
    pixels, matrix = _split(vol)
    shape = _out_shape(out_shape)
    order = _order(interp, _is_label(pixels, is_label))
    if order == 0:
        return _resized(vol, pixels, matrix, _spline_resize(pixels, shape, 0), image=False)
    out = _trilinear(pixels, shape) if order == 1 else _spline_resize(pixels, shape, 3)
    return _resized(vol, pixels, matrix, out)


# ---------------------------------------------------------------- exact index operations
def _shifted(grid_affine: np.ndarray, start_zyx: Sequence[float]) -> np.ndarray:
    """``affine`` with its origin moved to voxel ``start_zyx`` (numpy order)."""
    out = grid_affine.copy()
    out[:3, 3] = grid_affine[:3, :3] @ np.asarray(start_zyx, float)[::-1] + grid_affine[:3, 3]
    return out


def crop(vol: Any, start: Any, size: Any) -> Any:
    """The box ``[start, start + size)``; ``start`` and ``size`` are ``(z, y, x)`` voxel counts.

    Exact; the affine origin moves so world coordinates are kept. The box must lie in the volume.

    >>> crop(np.arange(8).reshape(2, 2, 2), (1, 0, 1), (1, 2, 1)).ravel()
    array([5, 7])
    """
    pixels, matrix = _split(vol)
    start, size = _triple(start, "start"), _triple(size, "size")
    if any(s < 0 or n < 1 or s + n > dim for s, n, dim in zip(start, size, pixels.shape)):
        raise ValueError(f"crop box start={start} size={size} is not inside shape {pixels.shape[:3]}")
    box = tuple(slice(s, s + n) for s, n in zip(start, size))
    return _rebuild(vol, pixels[box].copy(), _shifted(matrix, start))


def _pad_array(pixels: np.ndarray, lo: Sequence[int], hi: Sequence[int], mode: str, value: float) -> np.ndarray:
    if mode not in _PAD_MODES:
        raise ValueError(f"mode must be one of {_PAD_MODES}, got {mode!r}")
    widths = [(a, b) for a, b in zip(lo, hi)] + [(0, 0)] * (pixels.ndim - 3)
    if mode == "constant":
        return np.pad(pixels, widths, mode="constant", constant_values=np.asarray(value).astype(pixels.dtype))
    return np.pad(pixels, widths, mode=mode)


def pad(vol: Any, lo: Any, hi: Any, *, mode: str = "constant", value: float = 0.0) -> Any:
    """Pad ``lo`` voxels before and ``hi`` after each axis (``(z, y, x)``).

    ``mode``: "constant" (``value``), "edge" or "reflect" (as :func:`numpy.pad`). The affine origin
    moves back by ``lo`` voxels; the dtype is kept.
    """
    pixels, matrix = _split(vol)
    lo, hi = _triple(lo, "lo"), _triple(hi, "hi")
    if min(lo + hi) < 0:
        raise ValueError(f"pad widths must be >= 0, got lo={lo} hi={hi}")
    return _rebuild(vol, _pad_array(pixels, lo, hi, mode, value), _shifted(matrix, [-v for v in lo]))


def crop_foreground(vol: Any, margin: Any = 0) -> Any:
    """Crop to the bounding box of the non-zero voxels grown by ``margin`` (scalar or ``(z, y, x)``).

    The box is clipped to the volume; an all-zero volume comes back unchanged.
    """
    pixels, _ = _split(vol)
    margin = _triple(margin, "margin")
    nonzero = pixels != 0 if pixels.ndim == 3 else np.any(pixels != 0, axis=tuple(range(3, pixels.ndim)))
    if not nonzero.any():
        return vol
    start, size = [], []
    for axis, extra in enumerate(margin):
        hits = np.flatnonzero(np.any(nonzero, axis=tuple(a for a in range(3) if a != axis)))
        first, last = max(hits[0] - extra, 0), min(hits[-1] + extra, nonzero.shape[axis] - 1)
        start.append(first)
        size.append(last - first + 1)
    return crop(vol, start, size)


def flip(vol: Any, axis: Any) -> Any:
    """Reverse the voxel order along the axes flagged in ``axis`` (3 bools, ``(z, y, x)``).

    The affine follows, so world coordinates are unchanged.
    """
    pixels, matrix = _split(vol)
    flags = _triple(axis, "axis", bool)
    out, new = pixels, matrix.copy()
    for a, flagged in enumerate(flags):
        if flagged:
            out = np.flip(out, axis=a)
            c = _column(a)
            new[:3, 3] = new[:3, 3] + new[:3, c] * (pixels.shape[a] - 1)
            new[:3, c] = -new[:3, c]
    return _rebuild(vol, np.ascontiguousarray(out), new)


def _transpose(vol: Any, order: Sequence[int]) -> Any:
    """New numpy axis ``i`` = old axis ``order[i]`` (spatial axes only); the affine follows."""
    pixels, matrix = _split(vol)
    new = matrix.copy()
    for i, old in enumerate(order):
        new[:3, _column(i)] = matrix[:3, _column(old)]
    full = list(order) + list(range(3, pixels.ndim))
    return _rebuild(vol, np.ascontiguousarray(pixels.transpose(full)), new)


def center_crop(vol: Any, size: Any) -> Any:
    """Crop ``size`` ``(z, y, x)`` around the centre (start ``dim // 2 - size // 2``).

    Sizes beyond the volume are clamped to it (no padding). Exact; world coordinates kept.
    """
    pixels, _ = _split(vol)
    size = [min(int(s), dim) for s, dim in zip(_triple(size, "size"), pixels.shape)]
    return crop(vol, [dim // 2 - s // 2 for dim, s in zip(pixels.shape, size)], size)


def _centred_pad(vol: Any, target: Sequence[int], mode: str, value: float, is_label: bool | None) -> Any:
    pixels, _ = _split(vol)
    total = [max(t - dim, 0) for t, dim in zip(target, pixels.shape)]
    lo = [t // 2 for t in total]
    if _is_label(pixels, is_label) and mode == "constant":
        value = float(np.rint(value))
    return pad(vol, lo, [t - a for t, a in zip(total, lo)], mode=mode, value=value)


def spatial_pad(vol: Any, size: Any, *, mode: str = "constant", value: float = 0.0,
                is_label: bool | None = None) -> Any:
    """Pad symmetrically to at least ``size`` ``(z, y, x)``; larger axes are untouched.

    The extra voxels go ``total // 2`` before and the rest after. ``mode``: constant/edge/reflect.
    Labels (``is_label``, default: integer pixels) pad with ``value`` rounded to an integer; the
    dtype is kept.
    """
    return _centred_pad(vol, _triple(size, "size"), mode, value, is_label)


def divisible_pad(vol: Any, k: Any, *, mode: str = "constant", value: float = 0.0,
                  is_label: bool | None = None) -> Any:
    """Pad symmetrically so each axis becomes a multiple of ``k`` (scalar or ``(z, y, x)``).

    As :func:`spatial_pad` otherwise (e.g. sizes divisible by ``2**depth`` for a U-Net).
    """
    pixels, _ = _split(vol)
    k = _triple(k, "k")
    if min(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    target = [-(-dim // m) * m for dim, m in zip(pixels.shape, k)]
    return _centred_pad(vol, target, mode, value, is_label)


def resize_with_pad_or_crop(vol: Any, size: Any, *, mode: str = "constant", value: float = 0.0) -> Any:
    """Exactly ``size`` ``(z, y, x)``: centre-pad small axes (:func:`spatial_pad`), then centre-crop
    large ones (:func:`center_crop`). Exact; world coordinates kept."""
    size = _triple(size, "size")
    return center_crop(spatial_pad(vol, size, mode=mode, value=value), size)


def rotate90(vol: Any, k: int = 1, axes: tuple[int, int] = (1, 2)) -> Any:
    """Rotate by ``k`` quarter turns in the plane of numpy ``axes`` (as :func:`numpy.rot90`).

    Default ``(1, 2)``: in plane (H, W). Exact; the affine follows so world coordinates are kept.
    """
    a, b = (int(x) % 3 for x in axes)
    if a == b:
        raise ValueError(f"axes must be two different spatial axes, got {axes!r}")
    swap = [0, 1, 2]
    swap[a], swap[b] = b, a
    k = int(k) % 4
    flags = [False] * 3
    if k == 1:
        flags[b] = True
        return _transpose(flip(vol, flags), swap)
    if k == 2:
        flags[a] = flags[b] = True
        return flip(vol, flags)
    if k == 3:
        flags[b] = True
        return flip(_transpose(vol, swap), flags)
    return _rebuild(vol, _split(vol)[0].copy())


_LETTERS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


def reorient(vol: Any, axcodes: str) -> Any:
    """Permute and flip axes so increasing voxel ``x, y, z`` run toward ``axcodes``' directions.

    ``axcodes``: 3 letters, one of L/R, P/A, S/I each (the world is LPS, so "LPS" is canonical).
    Exact; world coordinates are unchanged. An oblique affine raises ValueError.

    >>> reorient(np.arange(8).reshape(2, 2, 2), "RPS")[0, 0]
    array([1, 0])
    """
    codes = str(axcodes).upper()
    if len(codes) != 3 or any(c not in _LETTERS for c in codes) or len({_LETTERS[c][0] for c in codes}) != 3:
        raise ValueError(f"axcodes must be 3 letters from L/R, P/A, S/I, got {axcodes!r}")
    _, matrix = _split(vol)
    directions = matrix[:3, :3]
    world_of, sign_of = {}, {}
    for column in range(3):                                  # voxel x, y, z
        vector = directions[:, column]
        dominant = int(np.argmax(np.abs(vector)))
        if np.abs(np.delete(vector, dominant)).max() > 1e-6 * np.abs(vector).max():
            raise ValueError("reorient needs an axis-aligned affine; this one is oblique")
        world_of[column], sign_of[column] = dominant, np.sign(vector[dominant])
    source_column = {world: column for column, world in world_of.items()}
    # target voxel axis t (x, y, z) takes source voxel axis source_column[world of letter t]
    order = [_column(source_column[_LETTERS[codes[_column(i)]][0]]) for i in range(3)]
    out = _transpose(vol, order)
    flags = [bool(sign_of[source_column[_LETTERS[codes[_column(i)]][0]]] != _LETTERS[codes[_column(i)]][1])
             for i in range(3)]
    return flip(out, flags)


# ---------------------------------------------------------------- intensity
def _float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64)


def normalize_zscore(vol: Any, *, nonzero: bool = False) -> Any:
    """``(x - mean) / std`` (population std; a zero std divides by 1) -> float32.

    ``nonzero=True``: statistics over, and normalisation of, the non-zero voxels only (zeros stay 0).
    """
    pixels, _ = _split(vol)
    values = _float(pixels)
    mask = values != 0 if nonzero else np.ones(values.shape, bool)
    out = values.copy()
    if mask.any():
        chosen = values[mask]
        std = chosen.std()
        out[mask] = (chosen - chosen.mean()) / (std if std != 0 else 1.0)
    return _rebuild(vol, out.astype(np.float32))


def _linear_map(values: np.ndarray, a_min: float, a_max: float, b_min: float, b_max: float,
                clip: bool) -> np.ndarray:
    if a_max == a_min:
        out = values - a_min + b_min
    else:
        out = (values - a_min) / (a_max - a_min) * (b_max - b_min) + b_min
    if clip:
        out = np.clip(out, min(b_min, b_max), max(b_min, b_max))
    return out.astype(np.float32)


def scale_intensity_range(vol: Any, a_min: float, a_max: float, b_min: float, b_max: float, *,
                          clip: bool = True) -> Any:
    """Map ``[a_min, a_max]`` linearly onto ``[b_min, b_max]`` -> float32 (CT windowing).

    ``clip`` bounds the result to ``[b_min, b_max]``; ``a_min == a_max`` only shifts.

    >>> scale_intensity_range(np.array([-1000, 0, 1000]), -1000, 1000, 0.0, 1.0)
    array([0. , 0.5, 1. ], dtype=float32)
    """
    pixels, _ = _split(vol)
    return _rebuild(vol, _linear_map(_float(pixels), a_min, a_max, b_min, b_max, clip))


def scale_intensity_range_percentiles(vol: Any, lower: float, upper: float, b_min: float, b_max: float, *,
                                      clip: bool = True) -> Any:
    """As :func:`scale_intensity_range` with ``a_min``/``a_max`` the image's ``lower``/``upper``
    percentiles (0-100, :func:`numpy.percentile` linear). -> float32."""
    if not 0 <= lower <= upper <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= lower <= upper <= 100, got {lower}, {upper}")
    pixels, _ = _split(vol)
    values = _float(pixels)
    a_min, a_max = np.percentile(values, [lower, upper])
    return _rebuild(vol, _linear_map(values, float(a_min), float(a_max), b_min, b_max, clip))


def normalize_ct(vol: Any, clip_lo: float, clip_hi: float, mean: float, std: float) -> Any:
    """Clip to ``[clip_lo, clip_hi]``, then ``(x - mean) / max(std, 1e-8)`` -> float32.

    nnU-Net's CT normalisation with the dataset's percentiles and statistics.
    """
    pixels, _ = _split(vol)
    values = np.clip(_float(pixels), clip_lo, clip_hi)
    return _rebuild(vol, ((values - mean) / max(float(std), 1e-8)).astype(np.float32))


def adjust_contrast(vol: Any, gamma: float) -> Any:
    """Gamma contrast ``((x - min) / (range + 1e-7)) ** gamma * range + min`` -> float32."""
    pixels, _ = _split(vol)
    values = _float(pixels)
    low = values.min()
    span = values.max() - low
    return _rebuild(vol, (((values - low) / (span + 1e-7)) ** gamma * span + low).astype(np.float32))


def gaussian_smooth(vol: Any, sigma: Any = 1.0) -> Any:
    """Separable Gaussian smoothing, ``sigma`` in voxels (scalar or ``(z, y, x)``) -> float32.

    Sampled kernel truncated at 4 sigma, zero padding beyond the volume (as a convolution with zero
    padding); an axis with ``sigma <= 0`` is left alone.
    """
    from scipy import ndimage

    pixels, _ = _split(vol)
    out = _float(pixels)
    for axis, s in enumerate(_triple(sigma, "sigma", float)):
        if s > 0:
            out = ndimage.gaussian_filter1d(out, s, axis=axis, mode="constant", cval=0.0, truncate=4.0)
    return _rebuild(vol, out.astype(np.float32))


# ---------------------------------------------------------------- post-processing
def _label_dtype(count: int) -> type:
    return np.uint8 if count <= 256 else np.uint16


def argmax(probs: Any, reference: Any = None, *, channel_dim: int = 0) -> Any:
    """Label volume of the most probable channel of ``probs``.

    Parameters
    ----------
    probs : array [C, z, y, x]
        Probabilities or logits, channel first by default; ``channel_dim`` names another layout.
    reference : Volume, optional
        Gives the output its affine (identity otherwise).

    Returns
    -------
    Volume
        uint8 labels when ``C <= 256``, else uint16.
    """
    from .volume import Volume

    values = _numpy(probs)
    labels = np.argmax(values, axis=channel_dim)
    labels = labels.astype(_label_dtype(values.shape[channel_dim]))
    if reference is not None and _is_volume(reference):
        return dataclasses.replace(reference, pixels=labels)
    return Volume(pixels=labels, affine=np.eye(4))


def _structure(connectivity: int, ndim: int) -> np.ndarray:
    from scipy import ndimage

    if connectivity not in _RANK:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity!r}")
    return ndimage.generate_binary_structure(ndim, min(_RANK[connectivity], ndim))


def _components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    from scipy import ndimage

    return ndimage.label(mask, structure=_structure(connectivity, mask.ndim))


def connected_components(vol: Any, *, connectivity: int = 6) -> Any:
    """Number the connected components of the non-zero voxels 1..N -> uint16 (0 = background).

    ``connectivity``: 6 (faces), 18 (+ edges) or 26 (+ corners); numbering as
    :func:`scipy.ndimage.label`.
    """
    pixels, _ = _split(vol)
    labels, _ = _components(pixels != 0, connectivity)
    return _rebuild(vol, labels.astype(np.uint16))


def _class_masks(pixels: np.ndarray, per_class: bool) -> list[np.ndarray]:
    if per_class:
        return [pixels == c for c in np.unique(pixels) if c != 0]
    return [pixels != 0]


def keep_largest_connected_component(vol: Any, *, connectivity: int = 6, per_class: bool = True) -> Any:
    """Zero every voxel outside the largest connected component.

    ``per_class=True``: each non-zero class keeps its own largest component; ``False``: all non-zero
    voxels form one foreground. The dtype is kept; ties keep the lowest-numbered component.
    """
    pixels, _ = _split(vol)
    keep = np.zeros(pixels.shape, bool)
    for mask in _class_masks(pixels, per_class):
        labels, count = _components(mask, connectivity)
        if count:
            sizes = np.bincount(labels.ravel())[1:]
            keep |= labels == int(np.argmax(sizes)) + 1
    return _rebuild(vol, np.where(keep, pixels, np.zeros((), pixels.dtype)))


def remove_small_objects(vol: Any, *, min_size: int, connectivity: int = 6, per_class: bool = True) -> Any:
    """Zero connected components of fewer than ``min_size`` voxels (each class alone when
    ``per_class``). The dtype is kept."""
    pixels, _ = _split(vol)
    drop = np.zeros(pixels.shape, bool)
    for mask in _class_masks(pixels, per_class):
        labels, count = _components(mask, connectivity)
        if count:
            sizes = np.bincount(labels.ravel())
            small = sizes < min_size
            small[0] = False
            drop |= small[labels]
    return _rebuild(vol, np.where(drop, np.zeros((), pixels.dtype), pixels))


def fill_holes(vol: Any, *, connectivity: int = 6) -> Any:
    """Give each background region enclosed by one class that class's value.

    A hole of class ``c`` is a connected region (``connectivity`` of the background: 6, 18 or 26) of
    voxels other than ``c`` that does not reach the volume's border and is all background (0). Each
    non-zero class is filled independently; the dtype is kept.
    """
    pixels, _ = _split(vol)
    out = pixels.copy()
    for value in [c for c in np.unique(pixels) if c != 0]:
        labels, count = _components(pixels != value, connectivity)
        if not count:
            continue
        border = np.zeros(count + 1, bool)
        for axis in range(labels.ndim):
            border[np.take(labels, [0, -1], axis=axis)] = True
        occupied = np.zeros(count + 1, bool)
        occupied[labels[pixels != 0]] = True                 # regions holding another class
        hole = ~(border | occupied)
        hole[0] = False
        out[hole[labels]] = value
    return _rebuild(vol, out)


def as_discrete(vol: Any, threshold: float = 0.5) -> Any:
    """Binarise: ``x > threshold`` -> 1, else 0, as uint8 labels (for sigmoid outputs)."""
    pixels, _ = _split(vol)
    return _rebuild(vol, (pixels > threshold).astype(np.uint8))


def one_hot(vol: Any, num_classes: int | None = None, *, channel_first: bool = True) -> Any:
    """Integer labels -> one-hot float32: ``[C, z, y, x]`` (``channel_first``) or ``[z, y, x, C]``.

    ``num_classes`` defaults to ``max label + 1``; labels must be in ``[0, num_classes)``. Returns an
    array (a tensor for a tensor input), not a Volume.

    >>> one_hot(np.array([0, 2]), 3)
    array([[1., 0.],
           [0., 0.],
           [0., 1.]], dtype=float32)
    """
    pixels, _ = _split(vol)
    labels = pixels.astype(np.int64)
    count = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= count):
        raise ValueError(f"labels must lie in [0, {count}), got [{labels.min()}, {labels.max()}]")
    out = np.eye(count, dtype=np.float32)[labels]
    if channel_first:
        out = np.moveaxis(out, -1, 0)
    return _like(np.ascontiguousarray(out), vol.pixels if _is_volume(vol) else vol)


# ---------------------------------------------------------------- sliding windows
def _roi(roi_size: Any, ndim: int = 3) -> tuple[int, ...]:
    roi = tuple(int(v) for v in np.atleast_1d(roi_size))
    if len(roi) == 1:
        roi = roi * ndim
    if len(roi) != ndim or min(roi) < 1:
        raise ValueError(f"roi_size must be {ndim} positive sizes, got {roi_size!r}")
    return roi


def sliding_window_positions(spatial: Any, roi_size: Any, overlap: float = 0.25) -> np.ndarray:
    """Window origins covering a ``(D, H, W)`` volume with windows of ``roi_size``.

    The scan interval is ``int(roi * (1 - overlap))`` (at least 1; the whole axis when the window
    equals it); the last window of an axis is moved back to end at the border (MONAI
    ``dense_patch_slices``).

    Returns
    -------
    numpy.ndarray, int64, (n, 3)
        ``(z, y, x)`` origins, z slowest.

    >>> sliding_window_positions((10, 4, 4), (4, 4, 4), overlap=0.5)[:, 0].tolist()
    [0, 2, 4, 6]
    """
    shape = _roi(spatial)
    roi = _roi(roi_size)
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
    if any(r > n for r, n in zip(roi, shape)):
        raise ValueError(f"roi_size {roi} exceeds the volume {shape}")
    starts = []
    for n, r in zip(shape, roi):
        step = r if r == n else max(int(r * (1 - overlap)), 1)
        count = next(i for i in range(math.ceil(n / step) + 1) if i * step + r >= n) + 1
        starts.append([i * step - max(i * step + r - n, 0) for i in range(count)])
    grid = np.meshgrid(*starts, indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.int64)


def _nnunet_line(n: int, sigma: float) -> np.ndarray:
    """nnU-Net's 1-D factor: the sum-normalised Gaussian kernel (radius ``int(4 sigma + 0.5)``, as
    scipy's ``gaussian_filter``) placed at ``n // 2``; 0 beyond the radius."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 / (sigma * sigma) * np.arange(-radius, radius + 1, dtype=np.float64) ** 2)
    taps = taps / taps.sum()
    offset = np.arange(n) - n // 2
    inside = np.abs(offset) <= radius
    return np.where(inside, taps[np.clip(offset + radius, 0, 2 * radius)], 0.0)


def gaussian_importance_map(roi_size: Any, *, sigma_scale: float = 0.125, convention: str = "nnunet") -> np.ndarray:
    """Blending weights of a ``roi_size`` ``(D, H, W)`` window: a separable product of sampled
    Gaussians with ``sigma = roi * sigma_scale`` -> float32.

    ``convention="nnunet"``: centre at ``roi // 2``, divided by its peak (exactly 1), zeros beyond
    the 4-sigma kernel replaced by the smallest non-zero weight: the values of nnU-Net v2's map (a
    Gaussian-filtered delta).
    ``convention="monai"``: centre at ``(roi - 1) / 2``, not normalised (peak below 1 for even
    sizes), clamped below at ``max(min, 1e-3)`` (MONAI ``compute_importance_map(mode="gaussian")``).

    >>> gaussian_importance_map((1, 1, 8))[0, 0].round(2)          # sigma 1 voxel, peak at 8 // 2
    array([0.  , 0.01, 0.14, 0.61, 1.  , 0.61, 0.14, 0.01], dtype=float32)
    """
    roi = _roi(roi_size, 3 if np.size(roi_size) == 1 else np.size(roi_size))
    if convention not in ("nnunet", "monai"):
        raise ValueError(f"convention must be 'nnunet' or 'monai', got {convention!r}")
    if sigma_scale <= 0:
        raise ValueError(f"sigma_scale must be positive, got {sigma_scale!r}")
    weights = np.ones((), np.float64)
    for n in roi:
        sigma = n * sigma_scale
        if convention == "nnunet":
            line = _nnunet_line(n, sigma)
        else:
            line = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / sigma) ** 2)
        weights = np.multiply.outer(weights, line)
    if convention == "nnunet":
        weights = weights / weights.max()
        if not weights.all():
            weights[weights == 0] = weights[weights != 0].min()
        return weights.astype(np.float32)
    weights = weights.astype(np.float32)
    return np.maximum(weights, max(float(weights.min()), 1e-3)).astype(np.float32)


def sliding_window_inference(image: Any, roi_size: Any, predictor: Callable[[Any], Any], *, overlap: float = 0.25,
                             mode: str = "gaussian", sigma_scale: float = 0.125, convention: str = "nnunet",
                             padding_mode: str = "constant", cval: float = 0.0) -> Any:
    """Run ``predictor`` on overlapping windows and blend its outputs.

    Parameters
    ----------
    image : array (D, H, W) or (C_in, D, H, W)
        The input (a tensor comes back as a tensor).
    roi_size : int or (D, H, W)
        Window size.
    predictor : callable
        One window (same leading shape as ``image``, spatial ``roi_size``; numpy) -> ``(C_out, *roi_size)``
        (numpy or tensor).
    overlap : float
        Fractional overlap in ``[0, 1)`` (:func:`sliding_window_positions`).
    mode : {"gaussian", "constant"}
        Blend weights: :func:`gaussian_importance_map` (``sigma_scale``, ``convention``) or uniform.
    padding_mode, cval
        An image smaller than the window is padded symmetrically (``numpy.pad`` mode; ``cval`` for
        "constant") and the result cropped back.

    Returns
    -------
    numpy.ndarray, float32, (C_out, D, H, W)
        Weighted sum of the window outputs divided by the summed weights.
    """
    values = _numpy(image)
    if values.ndim not in (3, 4):
        raise ValueError(f"image must be (D, H, W) or (C, D, H, W), got shape {values.shape}")
    if mode not in ("gaussian", "constant"):
        raise ValueError(f"mode must be 'gaussian' or 'constant', got {mode!r}")
    lead = values.ndim - 3
    spatial = values.shape[lead:]
    roi = _roi(roi_size)
    total = [max(r - n, 0) for r, n in zip(roi, spatial)]
    lo = [t // 2 for t in total]
    widths = [(0, 0)] * lead + [(a, t - a) for a, t in zip(lo, total)]
    if any(total):
        extra = {"constant_values": cval} if padding_mode == "constant" else {}
        values = np.pad(values, widths, mode=padding_mode, **extra)
    padded = values.shape[lead:]
    weight = (gaussian_importance_map(roi, sigma_scale=sigma_scale, convention=convention) if mode == "gaussian"
              else np.ones(roi, np.float32)).astype(np.float64)
    output, norm = None, np.zeros(padded, np.float64)
    for z, y, x in sliding_window_positions(padded, roi, overlap):
        box = (slice(z, z + roi[0]), slice(y, y + roi[1]), slice(x, x + roi[2]))
        patch = values[(slice(None),) * lead + box]
        result = _numpy(predictor(np.ascontiguousarray(patch))).astype(np.float64)
        if result.shape[1:] != roi:
            raise ValueError(f"predictor returned shape {result.shape}; expected (C_out, {', '.join(map(str, roi))})")
        if output is None:
            output = np.zeros((result.shape[0], *padded), np.float64)
        output[(slice(None),) + box] += result * weight
        norm[box] += weight
    output /= norm
    crop_back = (slice(None),) + tuple(slice(a, a + n) for a, n in zip(lo, spatial))
    return _like(output[crop_back].astype(np.float32), image)


# ---------------------------------------------------------------- framework presets
def _preset(name: str, resample: Callable[..., Any], convention: str) -> types.ModuleType:
    """A namespace with every transform, the divergent ones bound to one framework's convention."""
    module = types.ModuleType(f"{__name__}.{name}", f"Transforms with {name}'s resampling and Gaussian window.")
    for public in __all__:
        setattr(module, public, globals()[public])
    module.resample = resample
    module.gaussian_importance_map = lambda roi_size, *, sigma_scale=0.125: gaussian_importance_map(
        roi_size, sigma_scale=sigma_scale, convention=convention)

    def blended(image, roi_size, predictor, **options):
        options.setdefault("convention", convention)
        return sliding_window_inference(image, roi_size, predictor, **options)

    module.sliding_window_inference = blended
    sys.modules[module.__name__] = module
    return module


__all__ = [
    "Compose", "adjust_contrast", "affine", "argmax", "as_discrete", "center_crop", "connected_components", "crop",
    "crop_foreground", "divisible_pad", "fill_holes", "flip", "gaussian_importance_map", "gaussian_smooth",
    "keep_largest_connected_component", "normalize_ct", "normalize_zscore", "one_hot", "pad", "remove_small_objects",
    "reorient", "resample_cubic", "resample_grid_sample", "resample_nearest", "resample_separate_z",
    "resample_to_reference", "resample_to_spacing", "resize", "resize_with_pad_or_crop", "rotate90",
    "scale_intensity_range", "scale_intensity_range_percentiles", "sliding_window_inference",
    "sliding_window_positions", "spatial_pad",
]

#: nnU-Net preset: ``resample`` = :func:`resample_cubic`, Gaussian window centred at ``roi // 2``
nnunet = _preset("nnunet", resample_cubic, "nnunet")
#: MONAI preset: ``resample`` = :func:`resample_grid_sample`, Gaussian window centred at ``(roi - 1) / 2``
monai = _preset("monai", resample_grid_sample, "monai")
