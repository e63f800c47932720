"""Radiomic features over a region of interest, IBSI-defined, with pyradiomics' names.

>>> features = radiomics("ct.dcm", roi=(-100.0, 200.0))                # HU thresholds  # doctest: +SKIP
>>> features = radiomics(hu, mask, spacing=(0.7, 0.7, 2.5), bin_width=25.0)       # arrays  # doctest: +SKIP
>>> features["original_glcm_Contrast"], features["original_shape_Sphericity"]       # doctest: +SKIP
>>> from sonobridge.dicom.radiomics import featureextractor                        # doctest: +SKIP
>>> featureextractor.RadiomicsFeatureExtractor(binWidth=25).execute(image, mask)   # OrderedDict  # doctest: +SKIP

Seven feature classes, computed here with NumPy/SciPy (shape meshes with scikit-image's marching
cubes, wavelets with PyWavelets): ``firstorder``, ``shape`` (``shape2D`` for 2-D input),
``glcm``, ``glrlm``, ``glszm``, ``gldm`` and ``ngtdm``, keyed ``<image type>_<class>_<Feature>``
as pyradiomics keys them (``original_firstorder_Mean``). Definitions follow the IBSI reference
manual (Zwanenburg et al., arXiv:1612.07003): texture matrices use Chebyshev distance 1 (13
directions in 3-D, 4 in 2-D), GLCM and GLRLM features are computed per direction and averaged
("3D, averaged"), zones and dependences use 26- (8-) connectivity, ``Kurtosis`` is pyradiomics'
(not excess) kurtosis, entropies are in bits. The engine is checked against the IBSI digital
phantom's reference values (tests/dicom/test_radiomics.py).

Arrays are ``(H, W)`` or ``(slices, H, W)``; ``spacing`` is ``(x, y, z)`` in mm (columns, rows,
slices), so volumes are mm³ and areas mm².
"""
from __future__ import annotations

import itertools
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..errors import FormatError, MissingDependencyError, SonobridgeError

logger = logging.getLogger(__name__)

FEATURE_CLASSES = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
_EPS = np.spacing(1)


class RadiomicsInputError(SonobridgeError, ValueError):
    """An image / mask pair radiomics cannot use (shapes differ, empty ROI, bad settings); also a ValueError."""


def _need(module: str, extra: str = "radiomics") -> Any:
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"skimage": "scikit-image", "pywt": "PyWavelets"}.get(module.split(".")[0], module.split(".")[0])
        raise MissingDependencyError(None, f"radiomics needs {package}: pip install 'sonobridge[{extra}]'") from None


# ----------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class Settings:
    """Feature-extraction settings (the keyword arguments of :func:`radiomics`)."""

    bins: int = 32
    value_range: tuple[float, float] | None = (-1024.0, 3071.0)
    bin_width: float = 0.0
    resample: float = 0.0
    normalize: bool = False
    normalize_scale: float = 1.0
    log_sigma: tuple[float, ...] = ()
    wavelet: bool = False
    resegment: tuple[float, float] | None = None
    resegment_sigma: bool = False
    resample_bspline: bool = False
    voxel_array_shift: float = 0.0
    classes: tuple[str, ...] = FEATURE_CLASSES
    dependence_alpha: float = 0.0


# ----------------------------------------------------------------------------------------------
# preprocessing


def _discretise(values: np.ndarray, settings: Settings) -> tuple[np.ndarray, int]:
    """Grey levels 1..Ng of ``values`` (the ROI intensities) and Ng.

    Fixed bin width (``bin_width`` > 0, IBSI FBS, pyradiomics' edges): bins start at the
    ROI minimum rounded down to a multiple of the width. Fixed bin number (IBSI FBN):
    ``bins`` equal bins between the ROI minimum and maximum.
    """
    if values.size == 0:
        return values.astype(np.int64), 0
    low, high = float(values.min()), float(values.max())
    if settings.bin_width > 0:
        start = low - (low % settings.bin_width)
        levels = np.floor((values - start) / settings.bin_width).astype(np.int64) + 1
        return levels, int(levels.max())
    if high == low:
        return np.ones(values.shape, np.int64), 1
    levels = np.floor(settings.bins * (values - low) / (high - low)).astype(np.int64) + 1
    return np.minimum(levels, settings.bins), settings.bins


def _resample(image: np.ndarray, mask: np.ndarray, spacing: np.ndarray, size: float, bspline: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (trilinear, or cubic B-spline) and mask (nearest) on an isotropic ``size`` mm grid
    centred on the original grid (IBSI)."""
    from scipy import ndimage
    axis_spacing = spacing[::-1][-image.ndim:]            # array axis order: (z, y, x)
    shape = np.ceil(np.array(image.shape) * axis_spacing / size).astype(int)
    scale = size / axis_spacing
    offset = (np.array(image.shape) - 1) / 2.0 - scale * (shape - 1) / 2.0
    image = ndimage.affine_transform(image.astype(np.float64), scale, offset, output_shape=tuple(shape),
                                     order=3 if bspline else 1, mode="nearest")
    mask = ndimage.affine_transform(mask.astype(np.float64), scale, offset, output_shape=tuple(shape),
                                    order=1, mode="constant") >= 0.5
    return image, mask, np.full(3, float(size))


def _roi_values(image: np.ndarray, mask: np.ndarray, settings: Settings) -> np.ndarray:
    """The ROI after re-segmentation (``resegment`` range, ``resegment_sigma`` mean ± 3 SD)."""
    roi = mask.copy()
    if settings.resegment is not None:
        low, high = settings.resegment
        roi &= (image >= low) & (image <= high)
    if settings.resegment_sigma and roi.any():
        mean, sd = image[roi].mean(), image[roi].std()
        roi &= (image >= mean - 3 * sd) & (image <= mean + 3 * sd)
    return roi


# ----------------------------------------------------------------------------------------------
# first order


def firstorder_features(values: np.ndarray, levels: np.ndarray, voxel_volume: float,
                        shift: float = 0.0) -> dict[str, float]:
    """First-order statistics of the ROI intensities ``values`` (1-D) and their grey ``levels``."""
    x = values.astype(np.float64)
    mean = x.mean()
    centred = x - mean
    variance = float(np.mean(centred ** 2))
    p10, p25, p50, p75, p90 = np.percentile(x, [10, 25, 50, 75, 90])
    robust = x[(x >= p10) & (x <= p90)]
    _, counts = np.unique(levels, return_counts=True)
    p = counts / counts.sum()
    energy = float(np.sum((x + shift) ** 2))
    return {
        "Energy": energy,
        "TotalEnergy": energy * voxel_volume,
        "Entropy": float(-np.sum(p * np.log2(p + _EPS))),
        "Minimum": float(x.min()),
        "10Percentile": float(p10),
        "90Percentile": float(p90),
        "Maximum": float(x.max()),
        "Mean": float(mean),
        "Median": float(p50),
        "InterquartileRange": float(p75 - p25),
        "Range": float(x.max() - x.min()),
        "MeanAbsoluteDeviation": float(np.mean(np.abs(centred))),
        "RobustMeanAbsoluteDeviation": float(np.mean(np.abs(robust - robust.mean()))),
        "RootMeanSquared": math.sqrt(energy / x.size),
        "StandardDeviation": math.sqrt(variance),
        "Skewness": float(np.mean(centred ** 3) / variance ** 1.5) if variance > 0 else 0.0,
        "Kurtosis": float(np.mean(centred ** 4) / variance ** 2) if variance > 0 else 0.0,
        "Variance": variance,
        "Uniformity": float(np.sum(p ** 2)),
    }


# ----------------------------------------------------------------------------------------------
# shape


def _axes(points_mm: np.ndarray) -> np.ndarray:
    """Eigenvalues of the point cloud's sample covariance (N - 1, as the IBSI reference values), largest first."""
    if len(points_mm) < 2:
        return np.zeros(points_mm.shape[1])
    return np.sort(np.linalg.eigvalsh(np.cov(points_mm.T)))[::-1].clip(min=0)


def _max_diameter(points: np.ndarray) -> float:
    if len(points) < 2:
        return 0.0
    from scipy.spatial.distance import pdist
    return float(pdist(points).max())


def shape_features(mask: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """3-D shape of a (slices, rows, cols) boolean mask with voxel ``spacing`` (x, y, z) mm, on
    the marching-cubes mesh of the mask (scikit-image) and the voxel centres."""
    measure = _need("skimage.measure")
    sx, sy, sz = (float(s) for s in spacing)
    step = np.array([sz, sy, sx])
    padded = np.pad(mask.astype(np.float32), 1)
    verts, faces, _, _ = measure.marching_cubes(padded, 0.5, spacing=tuple(step))
    tri = verts[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = float(0.5 * np.linalg.norm(cross, axis=1).sum())
    volume = float(abs(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0)
    voxel_volume = float(mask.sum() * sx * sy * sz)
    centres = np.argwhere(mask) * step
    major, minor, least = np.sqrt(_axes(centres)) * 4
    sphere = (36 * math.pi * volume ** 2) ** (1 / 3)
    slices = {name: _max_2d(verts, axis) for name, axis in (("Slice", 0), ("Column", 2), ("Row", 1))}
    return {
        "MeshVolume": volume,
        "VoxelVolume": voxel_volume,
        "SurfaceArea": area,
        "SurfaceVolumeRatio": area / volume if volume else 0.0,
        "Sphericity": sphere / area if area else 0.0,
        "Compactness1": volume / (math.sqrt(math.pi) * area ** 1.5) if area else 0.0,
        "Compactness2": 36 * math.pi * volume ** 2 / area ** 3 if area else 0.0,
        "SphericalDisproportion": area / sphere if sphere else 0.0,
        "Maximum3DDiameter": _max_diameter(verts),
        "Maximum2DDiameterSlice": slices["Slice"],
        "Maximum2DDiameterColumn": slices["Column"],
        "Maximum2DDiameterRow": slices["Row"],
        "MajorAxisLength": float(major),
        "MinorAxisLength": float(minor),
        "LeastAxisLength": float(least),
        "Elongation": float(minor / major) if major else 0.0,
        "Flatness": float(least / major) if major else 0.0,
    }


def _max_2d(verts: np.ndarray, axis: int) -> float:
    """Largest vertex distance within planes perpendicular to ``axis``."""
    best = 0.0
    for value in np.unique(np.round(verts[:, axis], 6)):
        plane = verts[np.isclose(verts[:, axis], value)]
        best = max(best, _max_diameter(np.delete(plane, axis, axis=1)))
    return best


def shape2d_features(mask: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """2-D shape of a (rows, cols) boolean mask with pixel ``spacing`` (x, y) mm."""
    measure = _need("skimage.measure")
    sx, sy = float(spacing[0]), float(spacing[1])
    padded = np.pad(mask.astype(np.float32), 1)
    contours = measure.find_contours(padded, 0.5)
    area = perimeter = 0.0
    points = []
    for contour in contours:
        xy = contour * np.array([sy, sx])
        shifted = np.roll(xy, -1, axis=0)
        area += 0.5 * float(np.sum(xy[:, 0] * shifted[:, 1] - shifted[:, 0] * xy[:, 1]))
        perimeter += float(np.linalg.norm(shifted - xy, axis=1).sum())
        points.append(xy)
    area = abs(area)
    major, minor = np.sqrt(_axes(np.argwhere(mask) * np.array([sy, sx]))) * 4
    return {
        "MeshSurface": area,
        "PixelSurface": float(mask.sum() * sx * sy),
        "Perimeter": perimeter,
        "PerimeterSurfaceRatio": perimeter / area if area else 0.0,
        "Sphericity": 2 * math.sqrt(math.pi * area) / perimeter if perimeter else 0.0,
        "SphericalDisproportion": perimeter / (2 * math.sqrt(math.pi * area)) if area else 0.0,
        "MaximumDiameter": _max_diameter(np.concatenate(points)) if points else 0.0,
        "MajorAxisLength": float(major),
        "MinorAxisLength": float(minor),
        "Elongation": float(minor / major) if major else 0.0,
    }


# ----------------------------------------------------------------------------------------------
# texture matrices


def _directions(ndim: int) -> list[tuple[int, int, int]]:
    """One of each opposite pair of the 13 (3-D) or 4 (in-plane) unit Chebyshev offsets (z, y, x)."""
    found = []
    for offset in itertools.product((-1, 0, 1), repeat=3):
        if offset == (0, 0, 0) or (ndim == 2 and offset[0] != 0):
            continue
        if tuple(-v for v in offset) not in found:
            found.append(offset)
    return found


def _shifted_pairs(grey: np.ndarray, offset: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(grey[v], grey[v + offset]) for every voxel pair inside the array (0 = outside the ROI)."""
    source = tuple(slice(max(0, -o), grey.shape[k] - max(0, o)) for k, o in enumerate(offset))
    target = tuple(slice(max(0, o), grey.shape[k] - max(0, -o)) for k, o in enumerate(offset))
    return grey[source], grey[target]


def glcm_matrices(grey: np.ndarray, levels: int, ndim: int) -> list[np.ndarray]:
    """Symmetric co-occurrence counts (levels x levels) per direction; ``grey`` 0 outside the ROI."""
    matrices = []
    for offset in _directions(ndim):
        a, b = _shifted_pairs(grey, offset)
        keep = (a > 0) & (b > 0)
        counts = np.zeros((levels, levels))
        np.add.at(counts, (a[keep] - 1, b[keep] - 1), 1)
        counts += counts.T
        matrices.append(counts)
    return matrices


def _glcm_one(counts: np.ndarray) -> dict[str, float]:
    p = counts / counts.sum()
    ng = p.shape[0]
    i, j = np.meshgrid(np.arange(1, ng + 1), np.arange(1, ng + 1), indexing="ij")
    px, py = p.sum(1), p.sum(0)
    mu = float(np.sum(i * p))
    var = float(np.sum((i - mu) ** 2 * p))
    k_diff = np.abs(i - j)
    p_diff = np.bincount(k_diff.ravel(), weights=p.ravel(), minlength=ng)
    p_sum = np.bincount((i + j).ravel(), weights=p.ravel(), minlength=2 * ng + 1)
    k = np.arange(len(p_diff))
    s = np.arange(len(p_sum))
    diff_avg = float(np.sum(k * p_diff))
    sum_avg = float(np.sum(s * p_sum))
    hxy = float(-np.sum(p * np.log2(p + _EPS)))
    outer = np.outer(px, py)
    hxy1 = float(-np.sum(p * np.log2(outer + _EPS)))
    hxy2 = float(-np.sum(outer * np.log2(outer + _EPS)))
    hx = float(-np.sum(px * np.log2(px + _EPS)))
    off = i != j
    return {
        "Autocorrelation": float(np.sum(i * j * p)),
        "JointAverage": mu,
        "ClusterProminence": float(np.sum((i + j - 2 * mu) ** 4 * p)),
        "ClusterShade": float(np.sum((i + j - 2 * mu) ** 3 * p)),
        "ClusterTendency": float(np.sum((i + j - 2 * mu) ** 2 * p)),
        "Contrast": float(np.sum((i - j) ** 2 * p)),
        "Correlation": float((np.sum(i * j * p) - mu ** 2) / var) if var > 0 else 1.0,
        "DifferenceAverage": diff_avg,
        "DifferenceEntropy": float(-np.sum(p_diff * np.log2(p_diff + _EPS))),
        "DifferenceVariance": float(np.sum((k - diff_avg) ** 2 * p_diff)),
        "JointEnergy": float(np.sum(p ** 2)),
        "JointEntropy": hxy,
        "Imc1": (hxy - hxy1) / hx if hx > 0 else 0.0,
        "Imc2": math.sqrt(max(0.0, 1 - math.exp(-2 * (hxy2 - hxy)))),
        "Idm": float(np.sum(p / (1 + (i - j) ** 2))),
        "Idmn": float(np.sum(p / (1 + (i - j) ** 2 / ng ** 2))),
        "Id": float(np.sum(p / (1 + k_diff))),
        "Idn": float(np.sum(p / (1 + k_diff / ng))),
        "InverseVariance": float(np.sum(p[off] / (i - j)[off] ** 2)),
        "MaximumProbability": float(p.max()),
        "SumAverage": sum_avg,
        "SumEntropy": float(-np.sum(p_sum * np.log2(p_sum + _EPS))),
        "SumSquares": var,
    }


def _average(per_direction: Iterable[dict[str, float]]) -> dict[str, float]:
    rows = list(per_direction)
    if not rows:
        return {}
    return {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}


def glcm_features(grey: np.ndarray, levels: int, ndim: int) -> dict[str, float]:
    """GLCM features, per direction then averaged (IBSI "averaged")."""
    return _average(_glcm_one(m) for m in glcm_matrices(grey, levels, ndim) if m.sum() > 0)


def _equal_ahead(grey: np.ndarray, offset: tuple[int, ...], step: int) -> np.ndarray:
    """True where the voxel ``step`` offsets ahead is inside the array and has the same grey level."""
    scaled = tuple(step * o for o in offset)
    if any(abs(o) >= n for o, n in zip(scaled, grey.shape)):
        return np.zeros(grey.shape, bool)
    here, ahead = _shifted_pairs(grey, scaled)
    out = np.zeros(grey.shape, bool)
    out[tuple(slice(max(0, -o), n - max(0, o)) for o, n in zip(scaled, grey.shape))] = here == ahead
    return out


def glrlm_matrices(grey: np.ndarray, levels: int, ndim: int) -> list[np.ndarray]:
    """Run-length counts (levels x longest possible run) per direction; ``grey`` 0 outside the ROI."""
    matrices = []
    for offset in _directions(ndim):
        behind = tuple(-o for o in offset)
        starts = (grey > 0) & ~_equal_ahead(grey, behind, 1)
        length = starts.astype(np.int64)
        alive = starts.copy()
        step = 1
        while alive.any():
            alive &= _equal_ahead(grey, offset, step)
            length += alive
            step += 1
        counts = np.zeros((levels, max(grey.shape)))
        np.add.at(counts, (grey[starts] - 1, length[starts] - 1), 1)
        matrices.append(counts)
    return matrices


def _size_features(counts: np.ndarray, voxels: int, prefix: str) -> dict[str, float]:
    """The GLRLM / GLSZM family of emphases over a (grey level x size) count matrix."""
    n = counts.sum()
    p = counts / n
    i = np.arange(1, counts.shape[0] + 1)[:, None]
    j = np.arange(1, counts.shape[1] + 1)[None, :]
    pg, ps = p.sum(1), p.sum(0)
    mu_i = float(np.sum(i * p))
    mu_j = float(np.sum(j * p))
    small, large = {"Run": ("ShortRun", "LongRun"), "Zone": ("SmallArea", "LargeArea")}[prefix]
    unit = {"Run": "RunLength", "Zone": "Size"}[prefix]
    return {
        f"{small}Emphasis": float(np.sum(p / j ** 2)),
        f"{large}Emphasis": float(np.sum(p * j ** 2)),
        "GrayLevelNonUniformity": float(np.sum(counts.sum(1) ** 2) / n),
        "GrayLevelNonUniformityNormalized": float(np.sum(pg ** 2)),
        f"{unit}NonUniformity": float(np.sum(counts.sum(0) ** 2) / n),
        f"{unit}NonUniformityNormalized": float(np.sum(ps ** 2)),
        f"{prefix}Percentage": float(n / voxels),
        "GrayLevelVariance": float(np.sum((i - mu_i) ** 2 * p)),
        f"{prefix}Variance": float(np.sum((j - mu_j) ** 2 * p)),
        f"{prefix}Entropy": float(-np.sum(p * np.log2(p + _EPS))),
        f"LowGrayLevel{prefix}Emphasis": float(np.sum(p / i ** 2)),
        f"HighGrayLevel{prefix}Emphasis": float(np.sum(p * i ** 2)),
        f"{small}LowGrayLevelEmphasis": float(np.sum(p / (i ** 2 * j ** 2))),
        f"{small}HighGrayLevelEmphasis": float(np.sum(p * i ** 2 / j ** 2)),
        f"{large}LowGrayLevelEmphasis": float(np.sum(p * j ** 2 / i ** 2)),
        f"{large}HighGrayLevelEmphasis": float(np.sum(p * i ** 2 * j ** 2)),
    }


def glrlm_features(grey: np.ndarray, levels: int, ndim: int) -> dict[str, float]:
    """GLRLM features, per direction then averaged."""
    voxels = int((grey > 0).sum())
    return _average(_size_features(m, voxels, "Run") for m in glrlm_matrices(grey, levels, ndim) if m.sum() > 0)


def _structure(ndim: int) -> np.ndarray:
    structure = np.ones((3, 3, 3), bool)
    if ndim == 2:
        structure[0] = structure[2] = False
    return structure


def glszm_matrix(grey: np.ndarray, levels: int, ndim: int) -> np.ndarray:
    """Zone counts (levels x largest zone) of 26- (2-D: 8-) connected same-level zones."""
    from scipy import ndimage
    zones: list[tuple[int, int]] = []
    for level in range(1, levels + 1):
        labels, count = ndimage.label(grey == level, structure=_structure(ndim))
        if count:
            zones += [(level, int(size)) for size in np.bincount(labels.ravel())[1:]]
    largest = max((size for _, size in zones), default=1)
    counts = np.zeros((levels, largest))
    for level, size in zones:
        counts[level - 1, size - 1] += 1
    return counts


def glszm_features(grey: np.ndarray, levels: int, ndim: int) -> dict[str, float]:
    """GLSZM features (pyradiomics names: SmallAreaEmphasis, ZonePercentage, ...)."""
    counts = glszm_matrix(grey, levels, ndim)
    return _size_features(counts, int((grey > 0).sum()), "Zone") if counts.sum() else {}


def _neighbour_offsets(ndim: int) -> list[tuple[int, int, int]]:
    return [o for o in itertools.product((-1, 0, 1), repeat=3) if o != (0, 0, 0) and (ndim == 3 or o[0] == 0)]


def _neighbours(grey: np.ndarray, ndim: int) -> Iterable[np.ndarray]:
    """For each neighbour offset, the neighbour's grey level of every voxel (0 outside the ROI/array)."""
    padded = np.pad(grey, 1)
    for offset in _neighbour_offsets(ndim):
        yield padded[tuple(slice(1 + o, padded.shape[k] - 1 + o) for k, o in enumerate(offset))]


def gldm_features(grey: np.ndarray, levels: int, ndim: int, alpha: float = 0.0) -> dict[str, float]:
    """GLDM (IBSI NGLDM) features: dependence = 1 + neighbours within ``alpha`` grey levels."""
    inside = grey > 0
    dependence = np.ones(grey.shape, np.int64)
    for neighbour in _neighbours(grey, ndim):
        dependence += (neighbour > 0) & (np.abs(neighbour - grey) <= alpha)
    counts = np.zeros((levels, int(dependence[inside].max())))
    np.add.at(counts, (grey[inside] - 1, dependence[inside] - 1), 1)
    n = counts.sum()
    p = counts / n
    i = np.arange(1, levels + 1)[:, None]
    j = np.arange(1, counts.shape[1] + 1)[None, :]
    mu_i, mu_j = float(np.sum(i * p)), float(np.sum(j * p))
    return {
        "SmallDependenceEmphasis": float(np.sum(p / j ** 2)),
        "LargeDependenceEmphasis": float(np.sum(p * j ** 2)),
        "GrayLevelNonUniformity": float(np.sum(counts.sum(1) ** 2) / n),
        "DependenceNonUniformity": float(np.sum(counts.sum(0) ** 2) / n),
        "DependenceNonUniformityNormalized": float(np.sum(p.sum(0) ** 2)),
        "GrayLevelVariance": float(np.sum((i - mu_i) ** 2 * p)),
        "DependenceVariance": float(np.sum((j - mu_j) ** 2 * p)),
        "DependenceEntropy": float(-np.sum(p * np.log2(p + _EPS))),
        "LowGrayLevelEmphasis": float(np.sum(p / i ** 2)),
        "HighGrayLevelEmphasis": float(np.sum(p * i ** 2)),
        "SmallDependenceLowGrayLevelEmphasis": float(np.sum(p / (i ** 2 * j ** 2))),
        "SmallDependenceHighGrayLevelEmphasis": float(np.sum(p * i ** 2 / j ** 2)),
        "LargeDependenceLowGrayLevelEmphasis": float(np.sum(p * j ** 2 / i ** 2)),
        "LargeDependenceHighGrayLevelEmphasis": float(np.sum(p * i ** 2 * j ** 2)),
    }


def ngtdm_features(grey: np.ndarray, levels: int, ndim: int) -> dict[str, float]:
    """NGTDM features: each ROI voxel against the mean of its ROI neighbours (IBSI: voxels without
    an ROI neighbour are left out)."""
    total = np.zeros(grey.shape)
    count = np.zeros(grey.shape)
    for neighbour in _neighbours(grey, ndim):
        total += neighbour
        count += neighbour > 0
    valid = (grey > 0) & (count > 0)
    g = grey[valid]
    diff = np.abs(g - total[valid] / count[valid])
    n = np.bincount(g, minlength=levels + 1)[1:].astype(float)
    s = np.bincount(g, weights=diff, minlength=levels + 1)[1:]
    nv = n.sum()
    if nv == 0:
        return {}
    p = n / nv
    present = p > 0
    i = np.arange(1, levels + 1, dtype=float)
    ip, pp, sp = i[present], p[present], s[present]
    ngp = int(present.sum())
    pi_pj = np.abs(ip[:, None] * pp[:, None] - ip[None, :] * pp[None, :])
    busy_den = float(pi_pj.sum())
    sum_ps = float(np.sum(pp * sp))
    return {
        "Coarseness": 1.0 / sum_ps if sum_ps > 0 else 1e6,
        "Contrast": (float(np.sum(pp[:, None] * pp[None, :] * (ip[:, None] - ip[None, :]) ** 2))
                     / (ngp * (ngp - 1)) * float(s.sum()) / nv) if ngp > 1 else 0.0,
        "Busyness": sum_ps / busy_den if busy_den > 0 else 0.0,
        "Complexity": float(np.sum(np.abs(ip[:, None] - ip[None, :]) * (pp[:, None] * sp[:, None]
                                                                        + pp[None, :] * sp[None, :])
                                   / (pp[:, None] + pp[None, :]))) / nv,
        "Strength": (float(np.sum((pp[:, None] + pp[None, :]) * (ip[:, None] - ip[None, :]) ** 2))
                     / float(s.sum())) if s.sum() > 0 else 0.0,
    }


# ----------------------------------------------------------------------------------------------
# one image type


def _features_of(image: np.ndarray, mask: np.ndarray, spacing: np.ndarray, settings: Settings,
                 prefix: str, with_shape: bool) -> OrderedDict[str, float]:
    """Every feature class of one (filtered) image, keyed ``<prefix>_<class>_<Feature>``."""
    roi = _roi_values(image, mask, settings)
    if not roi.any():
        raise RadiomicsInputError(None, "the region of interest is empty after re-segmentation")
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in np.nonzero(mask))    # the ROI's bounding box
    image, mask, roi = image[box], mask[box], roi[box]
    values = image[roi].astype(np.float64)
    levels, ng = _discretise(values, settings)
    grey = np.zeros(image.shape, np.int64)
    grey[roi] = levels
    flat = image.ndim == 2
    volume_grey = grey[None] if flat else grey
    ndim = 2 if flat else 3
    voxel_volume = float(np.prod(spacing[:2] if flat else spacing))
    out: OrderedDict[str, float] = OrderedDict()
    for name in settings.classes:
        if name == "shape":
            if not with_shape:
                continue
            found = shape2d_features(mask, spacing) if flat else shape_features(mask, spacing)
            name = "shape2D" if flat else "shape"
        elif name == "firstorder":
            found = firstorder_features(values, levels, voxel_volume, settings.voxel_array_shift)
        elif name == "glcm":
            found = glcm_features(volume_grey, ng, ndim)
        elif name == "glrlm":
            found = glrlm_features(volume_grey, ng, ndim)
        elif name == "glszm":
            found = glszm_features(volume_grey, ng, ndim)
        elif name == "gldm":
            found = gldm_features(volume_grey, ng, ndim, settings.dependence_alpha)
        elif name == "ngtdm":
            found = ngtdm_features(volume_grey, ng, ndim)
        else:
            raise RadiomicsInputError(None, f"unknown feature class {name!r}: one of {', '.join(FEATURE_CLASSES)}")
        for feature, value in found.items():
            out[f"{prefix}_{name}_{feature}"] = value
    return out


def _filtered_images(image: np.ndarray, spacing: np.ndarray, settings: Settings
                     ) -> list[tuple[str, np.ndarray]]:
    """(image type, image) for the original and each filter, pyradiomics' image-type names."""
    images = [("original", image)]
    axis_spacing = spacing[::-1][-image.ndim:]
    for sigma in settings.log_sigma:
        from scipy import ndimage
        response = ndimage.gaussian_laplace(image.astype(np.float64), sigma=float(sigma) / axis_spacing)
        images.append((f"log-sigma-{_number(sigma)}-mm-{image.ndim}D", response))
    if settings.wavelet:
        images += _wavelet_bands(image)
    return images


def _number(value: float) -> str:
    text = f"{float(value):g}"
    return text.replace(".", "-")


def _wavelet_bands(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The coif1 stationary wavelet sub-bands (level 1), named ``wavelet-LLH`` ... (pyradiomics
    order: the letter of each array axis, last axis first)."""
    pywt = _need("pywt")
    padded_shape = [s + (s % 2) for s in image.shape]
    padded = np.pad(image.astype(np.float64), [(0, p - s) for p, s in zip(padded_shape, image.shape)], mode="edge")
    bands = pywt.swtn(padded, "coif1", level=1, start_level=0, trim_approx=False)[0]
    crop = tuple(slice(0, s) for s in image.shape)
    out = []
    for key, band in sorted(bands.items()):
        letters = "".join("L" if c == "a" else "H" for c in key[::-1])
        if set(letters) == {"L"}:
            continue
        out.append((f"wavelet-{letters}", band[crop]))
    approx = "a" * image.ndim
    out.append((f"wavelet-{'L' * image.ndim}", bands[approx][crop]))
    return out


# ----------------------------------------------------------------------------------------------
# reading inputs


def _read_dicom(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(real-world pixels (slices, H, W) or (H, W), spacing (x, y, z) mm) of a DICOM file, or of
    the series in a folder (:func:`sonobridge.dicom.volume.load_series`)."""
    if os.path.isdir(path):
        from .volume import load_series
        volume = load_series(path)
        z, y, x = volume.spacing if volume.spacing is not None else (1.0, 1.0, 1.0)
        return np.asarray(volume.pixels, dtype=np.float64), np.array([x, y, z], dtype=float)
    from .io import damaged_content, read_dataset
    from .pixels import decode
    ds = read_dataset(path)
    if int(ds.get("SamplesPerPixel", 1) or 1) > 1:
        raise RadiomicsInputError(path, "radiomics needs a grey-scale image, this one is colour")
    values = np.asarray(decode(path, rescale=True), dtype=np.float64)
    if values.shape[0] == 1:
        values = values[0]
    with damaged_content(os.fspath(path)):
        spacing_yx = [float(v) for v in (ds.get("PixelSpacing", None) or _shared_spacing(ds) or (1.0, 1.0))]
        z = float(ds.get("SpacingBetweenSlices", None) or ds.get("SliceThickness", None) or 1.0)
    spacing = np.array([*spacing_yx[::-1], z])
    if len(spacing_yx) != 2 or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise FormatError(path, f"pixel spacing {spacing_yx} mm and slice spacing {z} mm are not two and one "
                                f"positive numbers")
    return values, spacing


def _shared_spacing(ds: Any) -> list[float] | None:
    try:
        return list(ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing)
    except (AttributeError, IndexError, KeyError):
        return None


def _as_array(image: Any, what: str) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        return _read_dicom(image)[0]
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise RadiomicsInputError(None, f"{what} must be a (H, W) or (slices, H, W) array, not shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise RadiomicsInputError(None, f"{what} must be numeric, not {array.dtype}")
    return array


# ----------------------------------------------------------------------------------------------
# the public surface


def _settings(bins: int, value_range: Any, bin_width: float, resample: float, normalize: bool,
              normalize_scale: float, log_sigma: Any, wavelet: bool, resegment: Any, resegment_sigma: bool,
              resample_bspline: bool, voxel_array_shift: float, filters: Any) -> Settings:
    if bin_width < 0 or (bin_width == 0 and int(bins) < 1):
        raise RadiomicsInputError(None, f"bins={bins}, bin_width={bin_width}: need bins >= 1 or bin_width > 0")
    sigmas: tuple[float, ...] = ()
    if log_sigma is not None:
        sigmas = tuple(float(s) for s in (log_sigma if isinstance(log_sigma, Iterable) else [log_sigma]))
    if any(s <= 0 for s in sigmas):
        raise RadiomicsInputError(None, f"log_sigma {sigmas} must be positive (mm)")
    classes = FEATURE_CLASSES
    if filters:
        for name, value in dict(filters).items():
            key = name.lower()
            if key in ("log", "log_sigma"):
                sigmas += tuple(float(s) for s in (value.get("sigma", []) if isinstance(value, Mapping) else value))
            elif key == "wavelet":
                wavelet = bool(value) or value == {}
            elif key == "classes":
                classes = tuple(value)
            elif key != "original":
                raise RadiomicsInputError(None, f"unknown filter {name!r}: log, wavelet, original or classes")
    return Settings(bins=int(bins), value_range=None if value_range is None else (float(value_range[0]),
                                                                                  float(value_range[1])),
                    bin_width=float(bin_width), resample=float(resample), normalize=bool(normalize),
                    normalize_scale=float(normalize_scale), log_sigma=sigmas, wavelet=bool(wavelet),
                    resegment=None if resegment is None else (float(resegment[0]), float(resegment[1])),
                    resegment_sigma=bool(resegment_sigma), resample_bspline=bool(resample_bspline),
                    voxel_array_shift=float(voxel_array_shift), classes=classes)


def extract(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float], settings: Settings
            ) -> OrderedDict[str, float]:
    """Every feature of ``image`` (real-world values) over ``mask`` (non-zero inside) with voxel
    ``spacing`` (x, y[, z]) mm: the engine under :func:`radiomics` and the extractor."""
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask) != 0
    if image.shape != mask.shape:
        raise RadiomicsInputError(None, f"image shape {image.shape} and mask shape {mask.shape} differ")
    spacing_arr = np.array([float(s) for s in spacing] + [1.0] * (3 - len(spacing)))[:3]
    if (spacing_arr <= 0).any() or not np.isfinite(spacing_arr).all():
        raise RadiomicsInputError(None, f"spacing {tuple(spacing)} must be positive mm")
    if not np.isfinite(image[mask]).all():
        raise RadiomicsInputError(None, "the image has non-finite values inside the mask")
    if not mask.any():
        raise RadiomicsInputError(None, "the mask is empty")
    if settings.value_range is not None:
        image = np.clip(image, *settings.value_range)
    if settings.normalize:
        sd = image.std()
        image = (image - image.mean()) / (sd if sd > 0 else 1.0) * settings.normalize_scale
    if settings.resample > 0:
        image, mask, spacing_arr = _resample(image, mask, spacing_arr, settings.resample, settings.resample_bspline)
        if not mask.any():
            raise RadiomicsInputError(None, "the mask vanished when resampled")
    images = _filtered_images(image, spacing_arr, settings)
    out: OrderedDict[str, float] = OrderedDict()
    for index, (kind, filtered) in enumerate(images):
        out.update(_features_of(filtered, mask, spacing_arr, settings, kind, with_shape=index == 0))
    return out


def radiomics(
    image,
    mask=None,
    *,
    roi=None,
    spacing=None,
    bins=32,
    value_range=(-1024.0, 3071.0),
    bin_width=0.0,
    resample=0.0,
    normalize=False,
    normalize_scale=1.0,
    log_sigma=None,
    wavelet=False,
    averaged=True,
    resegment=None,
    resegment_sigma=False,
    resample_bspline=False,
    voxel_array_shift=0.0,
    filters=None,
) -> dict[str, float]:
    """IBSI radiomic features over an ROI: 7 classes, pyradiomics-standard names.

    Parameters
    ----------
    image
        A DICOM path (decoded to real-world values, spacing from PixelSpacing / slice spacing) or
        a real-world-valued array (H, W) or (slices, H, W).
    mask
        A co-framed DICOM path or array, non-zero inside the ROI.
    roi
        (min, max) real-world thresholds defining the ROI instead of a mask.
    spacing
        (x, y[, z]) voxel size in mm for array input (default 1 mm).
    bins, value_range, bin_width
        Fixed bin number ``bins`` over the ROI range (IBSI FBN), or fixed bin width
        ``bin_width`` > 0 (FBS); intensities are first clipped to ``value_range`` (None: not).
    resample, resample_bspline
        > 0: resample to isotropic voxels of that size in mm (trilinear / cubic B-spline image,
        nearest mask).
    normalize, normalize_scale
        z-score the image (x ``normalize_scale``).
    log_sigma, wavelet, filters
        Filtered images: LoG sigma(s) in mm (``log-sigma-<s>-mm-3D_...``), the coif1 SWT
        sub-bands (``wavelet-LLH_...``), or ``filters={"log": [1, 2], "wavelet": True,
        "classes": [...]}``. With any filter every key, the original's included, has its
        image-type prefix (``original_...``).
    averaged
        Texture features averaged over directions (the only aggregation implemented: False
        raises :class:`RadiomicsInputError`).
    resegment, resegment_sigma
        Keep only ROI voxels within (min, max) / within mean ± 3 SD.
    voxel_array_shift
        Added to intensities for Energy / TotalEnergy (pyradiomics' voxelArrayShift).

    Returns
    -------
    dict
        ``{feature_name: value}``; without filters names are ``<class>_<Feature>``
        (``firstorder_Mean``, ``glcm_Contrast``), with filters ``<type>_<class>_<Feature>``.
    """
    if not averaged:
        raise RadiomicsInputError(None, "averaged=False (merged texture matrices) is not implemented")
    settings = _settings(bins, value_range, bin_width, resample, normalize, normalize_scale, log_sigma, wavelet,
                         resegment, resegment_sigma, resample_bspline, voxel_array_shift, filters)
    if isinstance(image, (str, os.PathLike)):
        pixels_, file_spacing = _read_dicom(image)
        spacing = spacing if spacing is not None else file_spacing
    else:
        pixels_ = _as_array(image, "image").astype(np.float64)
    if mask is not None and roi is not None:
        raise RadiomicsInputError(None, "give mask= or roi=, not both")
    if mask is not None:
        region = _as_array(mask, "mask") != 0
    elif roi is not None:
        low, high = (float(v) for v in roi)
        region = (pixels_ >= low) & (pixels_ <= high)
    else:
        raise RadiomicsInputError(None, "give the region of interest: mask= or roi=(min, max)")
    found = extract(pixels_, region, spacing if spacing is not None else (1.0, 1.0, 1.0), settings)
    if len(settings.log_sigma) == 0 and not settings.wavelet:
        return {key.removeprefix("original_"): value for key, value in found.items()}
    return dict(found)


# ----------------------------------------------------------------------------------------------
# pyradiomics-compatible extractor


_SETTING_NAMES = {"binWidth": "bin_width", "binCount": "bins", "resampledPixelSpacing": "resample",
                  "normalize": "normalize", "normalizeScale": "normalize_scale",
                  "resegmentRange": "resegment", "voxelArrayShift": "voxel_array_shift",
                  "gldm_a": "dependence_alpha"}


class RadiomicsFeatureExtractor:
    """pyradiomics-compatible extractor over the native IBSI engine.

    Accepts pyradiomics' settings as keyword arguments (``binWidth`` (default 25, as
    pyradiomics), ``binCount``, ``resampledPixelSpacing``, ``normalize``, ``normalizeScale``,
    ``resegmentRange``, ``resegmentMode="sigma"``, ``voxelArrayShift``, ``gldm_a``) or a
    parameter mapping; :meth:`enableImageTypeByName` / :meth:`enableFeatureClassByName` as
    pyradiomics has them.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        params: dict[str, Any] = {}
        for arg in args:
            if isinstance(arg, Mapping):
                params.update(arg.get("setting", arg))
            else:
                raise RadiomicsInputError(arg if isinstance(arg, (str, os.PathLike)) else None,
                                          "parameter files are not read: pass the settings as a mapping")
        params.update(kwargs)
        self.settings: dict[str, Any] = {"binWidth": 25.0, **params}
        self.enabledImagetypes: dict[str, dict[str, Any]] = {"Original": {}}
        self.enabledFeatures: dict[str, list[str]] = {name: [] for name in FEATURE_CLASSES}

    def enableAllFeatures(self) -> None:
        self.enabledFeatures = {name: [] for name in FEATURE_CLASSES}

    def disableAllFeatures(self) -> None:
        self.enabledFeatures = {}

    def enableFeatureClassByName(self, featureClass: str, enabled: bool = True) -> None:
        if featureClass not in (*FEATURE_CLASSES, "shape2D"):
            raise RadiomicsInputError(None, f"unknown feature class {featureClass!r}")
        name = "shape" if featureClass == "shape2D" else featureClass
        if enabled:
            self.enabledFeatures[name] = []
        else:
            self.enabledFeatures.pop(name, None)

    def enableFeaturesByName(self, **enabledFeatures: list[str]) -> None:
        for name, features in enabledFeatures.items():
            self.enableFeatureClassByName(name)
            self.enabledFeatures["shape" if name == "shape2D" else name] = list(features or [])

    def enableImageTypeByName(self, imageType: str, enabled: bool = True,
                              customArgs: Mapping[str, Any] | None = None) -> None:
        if imageType not in ("Original", "LoG", "Wavelet"):
            raise RadiomicsInputError(None, f"image type {imageType!r} is not supported: Original, LoG, Wavelet")
        if enabled:
            self.enabledImagetypes[imageType] = dict(customArgs or {})
        else:
            self.enabledImagetypes.pop(imageType, None)

    def enableAllImageTypes(self) -> None:
        for name in ("Original", "LoG", "Wavelet"):
            self.enabledImagetypes.setdefault(name, {})

    def _engine_settings(self) -> Settings:
        values: dict[str, Any] = {"bins": 32, "bin_width": 0.0, "value_range": None}
        for name, value in self.settings.items():
            if name in _SETTING_NAMES:
                values[_SETTING_NAMES[name]] = value
        if "binCount" in self.settings:
            values["bin_width"] = 0.0
        spacing = values.pop("resample", None)
        if spacing:
            spacing = [float(s) for s in (spacing if isinstance(spacing, Iterable) else [spacing])]
            if len(set(spacing)) != 1:
                raise RadiomicsInputError(None, f"resampledPixelSpacing {spacing}: only isotropic resampling")
            values["resample"] = spacing[0]
        if list(self.settings.get("distances", [1])) != [1]:
            raise RadiomicsInputError(None, "only distances=[1] (Chebyshev distance 1) is implemented")
        values["resegment_sigma"] = str(self.settings.get("resegmentMode", "absolute")).lower() == "sigma"
        if values["resegment_sigma"]:
            values.pop("resegment", None)
        elif values.get("resegment") is not None:
            low, high = list(values["resegment"]) + [np.inf] * (2 - len(values["resegment"]))
            values["resegment"] = (float(low), float(high))
        log = self.enabledImagetypes.get("LoG")
        values["log_sigma"] = tuple(float(s) for s in (log or {}).get("sigma", self.settings.get("sigma", [])))
        values["wavelet"] = "Wavelet" in self.enabledImagetypes
        values["classes"] = tuple(name for name in FEATURE_CLASSES if name in self.enabledFeatures)
        return replace(Settings(), **values)

    def execute(self, imageFilepath: Any, maskFilepath: Any, label: int | None = None,
                label_channel: int | None = None, voxelBased: bool = False) -> OrderedDict[str, float]:
        """Return an OrderedDict of features over the ROI (pyradiomics-shaped).

        ``imageFilepath`` / ``maskFilepath``: DICOM paths or arrays, or SimpleITK images (their
        spacing is used); ``label`` selects the mask value (default 1, pyradiomics' default;
        a binary mask of any non-zero value also works). Keys: ``diagnostics_Configuration_Settings``
        style diagnostics are not produced; features are ``<type>_<class>_<Feature>``.
        """
        if voxelBased:
            raise RadiomicsInputError(None, "voxel-based extraction is not implemented")
        image, spacing = self._load(imageFilepath, "image")
        mask, _ = self._load(maskFilepath, "mask")
        wanted = int(label if label is not None else self.settings.get("label", 1))
        region = mask == wanted
        if not region.any() and label is None:
            region = mask != 0
        if not region.any():
            raise RadiomicsInputError(None, f"label {wanted} is not present in the mask")
        settings = self._engine_settings()
        found = extract(image, region, spacing, settings)
        result: OrderedDict[str, float] = OrderedDict()
        for key, value in found.items():
            kind, cls, feature = key.split("_", 2)
            wanted_features = self.enabledFeatures.get("shape" if cls.startswith("shape") else cls, [])
            if wanted_features and feature not in wanted_features:
                continue
            if kind.startswith("original") and "Original" not in self.enabledImagetypes:
                continue
            result[key] = value
        return result

    @staticmethod
    def _load(source: Any, what: str) -> tuple[np.ndarray, tuple[float, ...]]:
        if isinstance(source, (str, os.PathLike)):
            values, spacing = _read_dicom(source)
            return values, tuple(spacing)
        if hasattr(source, "GetSpacing") and hasattr(source, "GetSize"):       # a SimpleITK image
            sitk = _need("SimpleITK")
            return sitk.GetArrayFromImage(source).astype(np.float64), tuple(float(s) for s in source.GetSpacing())
        return _as_array(source, what).astype(np.float64), (1.0, 1.0, 1.0)


#: ``from sonobridge.dicom.radiomics import featureextractor`` as ``from radiomics import featureextractor``
featureextractor = SimpleNamespace(RadiomicsFeatureExtractor=RadiomicsFeatureExtractor)

__all__ = ["radiomics", "RadiomicsFeatureExtractor", "featureextractor", "extract", "Settings",
           "RadiomicsInputError", "FEATURE_CLASSES", "firstorder_features", "shape_features",
           "shape2d_features", "glcm_features", "glrlm_features", "glszm_features", "gldm_features",
           "ngtdm_features"]
