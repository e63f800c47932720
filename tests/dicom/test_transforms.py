"""sonobridge.dicom.transforms (pydcm.transforms): every documented name with its signature, each
operation against its obvious reference (numpy index ops, scipy.ndimage, scikit-image, nibabel's
orientation codes, hand-computed cases), world coordinates kept by the exact index operations, torch
optional and never imported."""
from __future__ import annotations

import doctest
import functools
import inspect
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from sonobridge.dicom import transforms as T
from sonobridge.dicom.volume import Volume

#: the names of the reference's transforms section and the signatures it documents
DOCUMENTED = {
    "resample_to_spacing": "(vol, spacing, *, is_label=None, interp='linear')",
    "resample_to_reference": "(moving, reference, *, is_label=None, interp='linear')",
    "resize_with_pad_or_crop": "(vol, size, *, mode='constant', value=0.0)",
    "spatial_pad": "(vol, size, *, mode='constant', value=0.0, is_label=None)",
    "divisible_pad": "(vol, k, *, mode='constant', value=0.0, is_label=None)",
    "scale_intensity_range": "(vol, a_min, a_max, b_min, b_max, *, clip=True)",
    "scale_intensity_range_percentiles": "(vol, lower, upper, b_min, b_max, *, clip=True)",
    "keep_largest_connected_component": "(vol, *, connectivity=6, per_class=True)",
    "remove_small_objects": "(vol, *, min_size, connectivity=6, per_class=True)",
    "gaussian_importance_map": "(roi_size, *, sigma_scale=0.125, convention='nnunet')",
    "sliding_window_inference": "(image, roi_size, predictor, *, overlap=0.25, mode='gaussian', sigma_scale=0.125, "
                                "convention='nnunet', padding_mode='constant', cval=0.0)",
}
NAMES = {"Compose", "resample_to_spacing", "resample_to_reference", "affine", "resample_separate_z", "resample_cubic",
         "resample_nearest", "resample_grid_sample", "resize", "resize_with_pad_or_crop", "reorient", "crop", "pad",
         "crop_foreground", "flip", "center_crop", "spatial_pad", "divisible_pad", "rotate90", "normalize_zscore",
         "scale_intensity_range", "normalize_ct", "scale_intensity_range_percentiles", "adjust_contrast",
         "gaussian_smooth", "argmax", "connected_components", "keep_largest_connected_component", "fill_holes",
         "as_discrete", "remove_small_objects", "one_hot", "sliding_window_positions", "gaussian_importance_map",
         "sliding_window_inference"}

OBLIQUE = np.array([[0.0, 0.0, 2.5, -30.0],
                    [0.6 * np.cos(0.3), 0.8 * np.sin(0.3), 0.0, 12.0],
                    [-0.6 * np.sin(0.3), 0.8 * np.cos(0.3), 0.0, 40.0],
                    [0.0, 0.0, 0.0, 1.0]])


def numbered(shape=(4, 5, 6), affine=OBLIQUE) -> Volume:
    """A volume whose voxel values are their flat index (unique), on an oblique grid."""
    return Volume(pixels=np.arange(np.prod(shape), dtype=np.int32).reshape(shape), affine=affine.copy())


def world(affine: np.ndarray, index_zyx: np.ndarray) -> np.ndarray:
    """LPS millimetres of numpy indices [n, 3]."""
    xyz = np.asarray(index_zyx, float)[:, ::-1]
    return xyz @ affine[:3, :3].T + affine[:3, 3]


def assert_world_kept(source: Volume, out: Volume) -> None:
    """Every output voxel holding a source value sits where that source voxel sits in the world."""
    values = np.asarray(out.pixels)
    where = np.argwhere(values >= 0)
    source_index = np.stack(np.unravel_index(values[tuple(where.T)], source.pixels.shape), axis=1)
    np.testing.assert_allclose(world(out.affine, where), world(source.affine, source_index), atol=1e-9)
    if hasattr(out, "spacing") and out.spacing is not None:
        np.testing.assert_allclose(out.spacing, np.linalg.norm(out.affine[:3, :3], axis=0)[::-1])


def test_every_documented_name_exists_with_its_signature():
    assert set(T.__all__) == NAMES and len(NAMES) == 35
    assert all(callable(getattr(T, name)) for name in NAMES)
    for name, signature in DOCUMENTED.items():
        bare = inspect.signature(getattr(T, name)).replace(return_annotation=inspect.Signature.empty)
        bare = bare.replace(parameters=[p.replace(annotation=p.empty) for p in bare.parameters.values()])
        assert str(bare).replace(" ", "") == signature.replace(" ", ""), name


def test_docstring_examples_run():
    assert doctest.testmod(T, optionflags=doctest.ELLIPSIS).failed == 0


def test_compose_applies_left_to_right():
    chain = T.Compose([functools.partial(T.crop, start=(0, 0, 0), size=(2, 2, 2)), T.normalize_zscore])
    out = chain(numbered())
    values = numbered().pixels[:2, :2, :2].astype(float)
    np.testing.assert_allclose(out.pixels, (values - values.mean()) / values.std(), rtol=1e-6)
    assert len(chain) == 2 and out.pixels.dtype == np.float32


# ---------------------------------------------------------------- exact index operations
def test_crop_and_pad_are_numpy_slicing_and_padding_with_world_kept():
    vol = numbered()
    out = T.crop(vol, (1, 2, 3), (2, 3, 2))
    np.testing.assert_array_equal(out.pixels, vol.pixels[1:3, 2:5, 3:5])
    assert_world_kept(vol, out)
    padded = T.pad(vol, (1, 0, 2), (0, 3, 1), value=-1)
    np.testing.assert_array_equal(padded.pixels, np.pad(vol.pixels, [(1, 0), (0, 3), (2, 1)], constant_values=-1))
    assert_world_kept(vol, padded)
    for mode in ("edge", "reflect"):
        np.testing.assert_array_equal(T.pad(vol, 1, 2, mode=mode).pixels, np.pad(vol.pixels, [(1, 2)] * 3, mode=mode))
    with pytest.raises(ValueError):
        T.crop(vol, (3, 0, 0), (2, 1, 1))


def test_flip_and_rotate90_match_numpy_with_world_kept():
    vol = numbered()
    out = T.flip(vol, (True, False, True))
    np.testing.assert_array_equal(out.pixels, vol.pixels[::-1, :, ::-1])
    assert_world_kept(vol, out)
    for k in range(-1, 5):
        for axes in ((1, 2), (0, 1), (2, 0)):
            out = T.rotate90(vol, k, axes)
            np.testing.assert_array_equal(out.pixels, np.rot90(vol.pixels, k, axes))
            assert_world_kept(vol, out)


def test_centre_crop_and_pads_follow_monai_centring():
    vol = numbered((5, 6, 7))
    out = T.center_crop(vol, (3, 4, 9))                        # x larger than the volume: clamped
    np.testing.assert_array_equal(out.pixels, vol.pixels[1:4, 1:5, :])
    assert_world_kept(vol, out)
    padded = T.spatial_pad(vol, (8, 6, 4), value=-1)           # z: 3 extra -> 1 before, 2 after
    np.testing.assert_array_equal(padded.pixels, np.pad(vol.pixels, [(1, 2), (0, 0), (0, 0)], constant_values=-1))
    assert_world_kept(vol, padded)
    divisible = T.divisible_pad(vol, 4, value=-1)
    assert divisible.pixels.shape == (8, 8, 8)
    np.testing.assert_array_equal(divisible.pixels[1:6, 1:7, 0:7], vol.pixels)
    assert_world_kept(vol, divisible)
    both = T.resize_with_pad_or_crop(vol, (7, 4, 7), value=-1)
    np.testing.assert_array_equal(both.pixels, np.pad(vol.pixels[:, 1:5, :], [(1, 1), (0, 0), (0, 0)],
                                                      constant_values=-1))
    assert_world_kept(vol, both)


def test_crop_foreground_is_the_bounding_box_plus_margin():
    pixels = np.zeros((6, 7, 8), np.uint8)
    pixels[2, 3:5, 4] = 1
    pixels[3, 3, 6] = 2
    vol = Volume(pixels=pixels, affine=OBLIQUE.copy())
    out = T.crop_foreground(vol)
    np.testing.assert_array_equal(out.pixels, pixels[2:4, 3:5, 4:7])
    np.testing.assert_allclose(out.affine[:3, 3], world(OBLIQUE, [[2, 3, 4]])[0])
    assert T.crop_foreground(vol, margin=(1, 5, 0)).pixels.shape == (4, 7, 3)
    empty = Volume(pixels=np.zeros((2, 2, 2)), affine=np.eye(4))
    assert T.crop_foreground(empty) is empty


@pytest.mark.parametrize("codes", ["LPS", "RAS", "SAR", "IPL", "ALI"])
def test_reorient_matches_nibabel_orientation_codes_and_keeps_world(codes):
    from nibabel.orientations import aff2axcodes

    axis_aligned = np.array([[0.0, 0.0, -2.5, 5.0], [0.0, 0.8, 0.0, -3.0], [-0.6, 0.0, 0.0, 7.0], [0, 0, 0, 1]])
    vol = numbered(affine=axis_aligned)
    out = T.reorient(vol, codes)
    lps_labels = (("R", "L"), ("A", "P"), ("I", "S"))        # LPS world: +x is L, +y is P, +z is S
    assert "".join(aff2axcodes(out.affine, labels=lps_labels)) == codes
    assert_world_kept(vol, out)
    with pytest.raises(ValueError, match="oblique"):
        T.reorient(numbered(), codes)
    with pytest.raises(ValueError):
        T.reorient(vol, "LLS")


# ---------------------------------------------------------------- resampling
def test_resample_to_spacing_reproduces_a_linear_field():
    affine = np.diag([2.0, 1.5, 3.0, 1.0])
    affine[:3, 3] = [10.0, -4.0, 2.0]
    grid = np.indices((6, 8, 10), dtype=float)
    gradient = np.array([0.3, -0.7, 1.1])                      # per LPS millimetre

    def field(points):
        return points @ gradient + 5.0

    positions = world(affine, grid.reshape(3, -1).T)
    vol = Volume(pixels=field(positions).reshape(grid.shape[1:]).astype(np.float32), affine=affine)
    out = T.resample_to_spacing(vol, (1.0, 1.0, 1.5))
    np.testing.assert_allclose(np.diag(out.affine)[:3], [1.0, 1.0, 1.5])
    assert out.pixels.shape == (12, 12, 20) and out.pixels.dtype == np.float32
    index = np.argwhere(np.ones(out.pixels.shape, bool))
    where = world(out.affine, index)
    inside = np.all((where >= positions.min(0)) & (where <= positions.max(0)), axis=1)
    np.testing.assert_allclose(out.pixels.reshape(-1)[inside], field(where[inside]), atol=1e-4)
    labels = T.resample_to_spacing(Volume(pixels=np.arange(8, dtype=np.uint8).reshape(2, 2, 2), affine=np.eye(4)), 0.5)
    assert labels.pixels.dtype == np.uint8 and set(np.unique(labels.pixels)) == set(range(8))


def test_resample_to_reference_inverts_reorient_and_crop():
    axis_aligned = np.array([[0.0, 0.0, -2.5, 5.0], [0.0, 0.8, 0.0, -3.0], [-0.6, 0.0, 0.0, 7.0], [0, 0, 0, 1]])
    vol = numbered(affine=axis_aligned)
    processed = T.crop(T.reorient(vol, "LPS"), (1, 1, 0), (3, 3, 3))
    back = T.resample_to_reference(processed, vol)
    assert back.pixels.shape == vol.pixels.shape and np.array_equal(back.affine, vol.affine)
    kept = back.pixels != 0
    assert kept.sum() == 27
    np.testing.assert_array_equal(back.pixels[kept], vol.pixels[kept])


def test_affine_translation_is_a_scipy_shift():
    pixels = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    matrix = np.eye(4)
    matrix[:3, 3] = [1.0, -2.0, 0.5]                            # x, y, z voxels
    out = T.affine(pixels, matrix)
    np.testing.assert_allclose(out, ndimage.shift(pixels.astype(float), (0.5, -2.0, 1.0), order=1, mode="constant"),
                               atol=1e-6)
    labels = T.affine(np.arange(8, dtype=np.int16).reshape(2, 2, 2), matrix)
    assert labels.dtype == np.int16


def test_resample_cubic_and_nearest_match_skimage_resize():
    from skimage.transform import resize

    image = np.random.default_rng(1).normal(size=(5, 7, 6)).astype(np.float32)
    for shape in [(9, 4, 11), (5, 14, 3)]:
        ours = T.resample_cubic(image, shape)
        theirs = resize(image.astype(np.float64), shape, order=3, mode="edge", clip=True, anti_aliasing=False)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
        labels = np.random.default_rng(2).integers(0, 4, (5, 7, 6)).astype(np.uint8)
        nearest = T.resample_nearest(labels, shape)
        np.testing.assert_array_equal(nearest, resize(labels, shape, order=0, mode="edge", anti_aliasing=False,
                                                      preserve_range=True))
        assert nearest.dtype == np.uint8


def test_resample_separate_z_is_inplane_cubic_then_nearest_z():
    from skimage.transform import resize

    image = np.random.default_rng(3).normal(size=(5, 6, 8))
    out = T.resample_separate_z(image, (3, 9, 12))
    inplane = np.stack([resize(s, (9, 12), order=3, mode="edge", anti_aliasing=False) for s in image])
    np.testing.assert_allclose(out, inplane[[0, 2, 4]], atol=1e-5)  # half-pixel z: 0.33, 2, 3.67 -> 0, 2, 4


def test_grid_sample_resize_hand_computed():
    ramp = np.arange(4, dtype=np.float32).reshape(1, 1, 4)
    up = T.resample_grid_sample(Volume(pixels=ramp, affine=np.eye(4)), (1, 1, 8))
    np.testing.assert_allclose(up.pixels[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_allclose(up.affine[0, [0, 3]], [0.5, -0.25])   # half the step; centre of voxel 0
    np.testing.assert_allclose(T.resample_grid_sample(ramp, (1, 1, 2))[0, 0], [0.5, 2.5])
    np.testing.assert_allclose(T.resize(ramp, (1, 1, 8)), up.pixels)
    labels = T.resize(np.array([[[1, 2]]], np.uint8), (1, 1, 4))
    assert labels.dtype == np.uint8 and labels[0, 0].tolist() == [1, 1, 2, 2]
    np.testing.assert_allclose(T.resize(ramp, (1, 1, 8), interp="cubic"), T.resample_cubic(ramp, (1, 1, 8)))


def test_colour_volumes_resample_per_sample():
    colour = np.random.default_rng(9).random((4, 5, 6, 3)).astype(np.float32)
    vol = Volume(pixels=colour, affine=np.diag([1.0, 2.0, 3.0, 1.0]))
    for operation in (lambda v: T.resize(v, (3, 7, 5)), lambda v: T.resample_cubic(v, (3, 7, 5)),
                      lambda v: T.resample_separate_z(v, (3, 7, 5)), lambda v: T.resample_to_spacing(v, 1.5),
                      lambda v: T.affine(v, np.diag([1.0, 1.5, 1.0, 1.0])), lambda v: T.rotate90(v)):
        out = operation(vol)
        assert out.pixels.shape[-1] == 3
        for sample in range(3):
            alone = operation(Volume(pixels=colour[..., sample], affine=vol.affine))
            np.testing.assert_allclose(out.pixels[..., sample], alone.pixels, atol=1e-6)
            np.testing.assert_allclose(out.affine, alone.affine)


# ---------------------------------------------------------------- intensity
def test_intensity_normalisations():
    rng = np.random.default_rng(4)
    values = rng.normal(100, 20, (4, 5, 6))
    values[0] = 0
    out = T.normalize_zscore(values)
    np.testing.assert_allclose(out, (values - values.mean()) / values.std(), rtol=1e-5)
    nonzero = T.normalize_zscore(values, nonzero=True)
    chosen = values[values != 0]
    np.testing.assert_allclose(nonzero[values != 0], (chosen - chosen.mean()) / chosen.std(), rtol=1e-5)
    assert np.all(nonzero[0] == 0) and nonzero.dtype == np.float32
    np.testing.assert_allclose(T.scale_intensity_range(values, 80, 120, -1, 1),
                               np.clip((values - 80) / 40 * 2 - 1, -1, 1), rtol=1e-5, atol=1e-6)
    unclipped = T.scale_intensity_range(values, 80, 120, -1, 1, clip=False)
    assert unclipped.max() > 1
    lo, hi = np.percentile(values, [5, 95])
    np.testing.assert_allclose(T.scale_intensity_range_percentiles(values, 5, 95, 0, 1),
                               np.clip((values - lo) / (hi - lo), 0, 1), atol=1e-6)
    np.testing.assert_allclose(T.normalize_ct(values, 60, 140, 100, 20), (np.clip(values, 60, 140) - 100) / 20,
                               rtol=1e-5, atol=1e-6)
    span = values.max() - values.min()
    np.testing.assert_allclose(T.adjust_contrast(values, 2.0),
                               ((values - values.min()) / (span + 1e-7)) ** 2 * span + values.min(), rtol=1e-5)


def test_gaussian_smooth_is_scipy_gaussian_filter_with_zero_padding():
    image = np.random.default_rng(5).random((6, 7, 8))
    out = T.gaussian_smooth(image, (1.0, 0.0, 2.0))
    np.testing.assert_allclose(out, ndimage.gaussian_filter(image, (1.0, 0.0, 2.0), mode="constant"), atol=1e-6)
    assert out.dtype == np.float32


# ---------------------------------------------------------------- post-processing
def test_argmax_as_discrete_and_one_hot():
    probs = np.random.default_rng(6).random((3, 4, 5, 6))
    reference = numbered((4, 5, 6))
    labels = T.argmax(probs, reference)
    np.testing.assert_array_equal(labels.pixels, probs.argmax(0))
    assert labels.pixels.dtype == np.uint8 and np.array_equal(labels.affine, reference.affine)
    assert T.argmax(np.moveaxis(probs, 0, -1), channel_dim=-1).pixels.tolist() == labels.pixels.tolist()
    assert T.argmax(np.zeros((300, 1, 1, 1))).pixels.dtype == np.uint16
    np.testing.assert_array_equal(T.as_discrete(np.array([0.2, 0.5, 0.7])), [0, 0, 1])
    hot = T.one_hot(labels)
    assert hot.shape == (3, 4, 5, 6) and hot.dtype == np.float32
    np.testing.assert_array_equal(hot.argmax(0), labels.pixels)
    assert T.one_hot(labels.pixels, 5, channel_first=False).shape == (4, 5, 6, 5)


@pytest.mark.parametrize("connectivity, rank", [(6, 1), (18, 2), (26, 3)])
def test_connected_components_match_scipy_and_skimage(connectivity, rank):
    from skimage.measure import label

    mask = np.random.default_rng(7).random((8, 9, 10)) > 0.7
    out = T.connected_components(mask, connectivity=connectivity)
    expected, count = ndimage.label(mask, ndimage.generate_binary_structure(3, rank))
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint16 and label(mask, connectivity=rank).max() == count


def test_keep_largest_and_remove_small_objects_hand_computed():
    pixels = np.zeros((1, 5, 9), np.uint8)
    pixels[0, 0, 0:3] = 1        # class 1: 3 voxels
    pixels[0, 4, 0:2] = 1        # class 1: 2 voxels
    pixels[0, 0, 5] = 2          # class 2: 1 voxel
    pixels[0, 2, 6:9] = 2        # class 2: 3 voxels
    pixels[0, 1, 3] = 2          # class 2: touches class 1's row diagonally only
    largest = T.keep_largest_connected_component(pixels)
    expected = np.zeros_like(pixels)
    expected[0, 0, 0:3], expected[0, 2, 6:9] = 1, 2
    np.testing.assert_array_equal(largest, expected)
    joint = T.keep_largest_connected_component(pixels, connectivity=26, per_class=False)
    assert joint[0, 0, 0:3].tolist() == [1, 1, 1] and joint[0, 1, 3] == 2 and joint[0, 2].sum() == 0
    small = T.remove_small_objects(pixels, min_size=3)
    expected = np.zeros_like(pixels)
    expected[0, 0, 0:3], expected[0, 2, 6:9] = 1, 2
    np.testing.assert_array_equal(small, expected)
    assert T.remove_small_objects(pixels, min_size=2, per_class=False, connectivity=26)[0, 1, 3] == 2


def test_fill_holes_matches_scipy_binary_fill_holes():
    mask = np.zeros((7, 7, 7), np.uint8)
    mask[1:6, 1:6, 1:6] = 1
    mask[2:5, 2:5, 2:5] = 0
    opened = mask.copy()
    opened[1, 3, 3] = 0                                         # a gap in the shell: the cavity is no hole
    corner = mask.copy()
    corner[1:3, 1:3, 1:3] = 0                                   # reaches the outside through a corner only
    corner[2, 2, 2] = 0
    corner[1, 1:3, 1:3], corner[1:3, 1, 1:3], corner[1:3, 1:3, 1] = 1, 1, 1
    corner[1, 1, 1] = 0
    for case in (mask, opened, corner):
        for connectivity, rank in ((6, 1), (18, 2), (26, 3)):
            expected = ndimage.binary_fill_holes(case, ndimage.generate_binary_structure(3, rank))
            np.testing.assert_array_equal(T.fill_holes(case, connectivity=connectivity), expected.astype(np.uint8))
    assert T.fill_holes(mask)[3, 3, 3] == 1 and T.fill_holes(opened)[3, 3, 3] == 0
    assert T.fill_holes(corner, connectivity=6)[2, 2, 2] == 1 and T.fill_holes(corner, connectivity=26)[2, 2, 2] == 0
    two = mask * 3
    two[3, 3, 3] = 2                                            # another class inside: not a background hole
    filled = T.fill_holes(two)
    assert filled[3, 3, 3] == 2 and filled[2, 2, 2] == 0
    assert T.fill_holes(mask * 3)[2, 2, 2] == 3


# ---------------------------------------------------------------- sliding windows
def test_sliding_window_positions_follow_monai_scan():
    assert T.sliding_window_positions((10, 4, 4), (4, 4, 4))[:, 0].tolist() == [0, 3, 6]
    assert T.sliding_window_positions((11, 4, 4), (4, 4, 4))[:, 0].tolist() == [0, 3, 6, 7]
    positions = T.sliding_window_positions((5, 6, 4), (3, 4, 4), overlap=0.5)
    assert positions.tolist() == [[0, 0, 0], [0, 2, 0], [1, 0, 0], [1, 2, 0], [2, 0, 0], [2, 2, 0]]
    assert positions.dtype == np.int64
    with pytest.raises(ValueError):
        T.sliding_window_positions((3, 4, 4), (4, 4, 4))


def test_gaussian_importance_maps():
    nnunet = T.gaussian_importance_map((16, 12, 9))
    delta = np.zeros((16, 12, 9))
    delta[8, 6, 4] = 1
    expected = ndimage.gaussian_filter(delta, np.array([16, 12, 9]) * 0.125, 0, mode="constant", cval=0)
    np.testing.assert_array_equal(nnunet, (expected / expected.max()).astype(np.float32))   # bit-exact
    assert nnunet.dtype == np.float32 and nnunet.max() == 1.0
    narrow = T.gaussian_importance_map((20, 20, 20), sigma_scale=0.05)                 # corners beyond 4 sigma
    delta = np.zeros((20, 20, 20))
    delta[10, 10, 10] = 1
    expected = ndimage.gaussian_filter(delta, 1.0, 0, mode="constant", cval=0)
    expected /= expected.max()
    expected[expected == 0] = expected[expected != 0].min()
    np.testing.assert_array_equal(narrow, expected.astype(np.float32))
    monai = T.gaussian_importance_map((16, 16, 16), convention="monai")
    np.testing.assert_allclose(monai.max(), np.exp(-0.5 * (0.5 / 2) ** 2) ** 3, rtol=1e-6)      # ~0.91
    assert np.isclose(monai[0, 0, 0], monai[-1, -1, -1])
    clamped = T.gaussian_importance_map((16, 16, 16), sigma_scale=0.02, convention="monai")
    assert clamped.min() == np.float32(1e-3)


def test_sliding_window_inference_blends_and_pads():
    image = np.random.default_rng(8).random((2, 9, 7, 10)).astype(np.float32)

    def identity(patch):
        return patch[:1] * 1.0

    for mode in ("gaussian", "constant"):
        np.testing.assert_allclose(T.sliding_window_inference(image, (4, 4, 4), identity, mode=mode),
                                   image[:1], rtol=1e-5)
    small = np.ones((3, 2, 2), np.float32)
    out = T.sliding_window_inference(small, (4, 4, 4), lambda p: np.stack([p, 2 * p]), cval=0.0)
    assert out.shape == (2, 3, 2, 2) and np.allclose(out[0], 1) and np.allclose(out[1], 2)
    line = np.zeros((1, 1, 6), np.float32)
    means = iter([1.0, 3.0])                                    # window at x=0, then at x=2 (overlap 0.5)
    blended = T.sliding_window_inference(line, (1, 1, 4), lambda p: np.full((1, 1, 1, 4), next(means)),
                                         overlap=0.5, mode="constant")
    np.testing.assert_allclose(blended[0, 0, 0], [1, 1, 2, 2, 3, 3])


# ---------------------------------------------------------------- presets, volumes, torch
def test_presets_bind_the_framework_conventions():
    from sonobridge.dicom.transforms import monai, nnunet

    assert nnunet.resample is T.resample_cubic and monai.resample is T.resample_grid_sample
    np.testing.assert_array_equal(monai.gaussian_importance_map((8, 8, 8)),
                                  T.gaussian_importance_map((8, 8, 8), convention="monai"))
    assert nnunet.crop is T.crop


def test_volume_results_keep_their_metadata():
    vol = Volume(pixels=np.ones((4, 4, 4), np.int16), affine=np.diag([2.0, 1.0, 3.0, 1.0]), series_instance_uid="1.2") \
        if "series_instance_uid" in Volume.__dataclass_fields__ else Volume(pixels=np.ones((4, 4, 4), np.int16),
                                                                              affine=np.diag([2.0, 1.0, 3.0, 1.0]))
    out = T.resize(vol, (2, 8, 8))
    assert isinstance(out, Volume) and out.pixels.shape == (2, 8, 8)
    assert getattr(out, "series_instance_uid", "1.2") == "1.2"
    np.testing.assert_allclose(out.spacing_mm, (1.0, 0.5, 6.0))


def test_torch_is_never_imported():
    script = ("import sys, numpy as np\nfrom sonobridge.dicom import transforms as T\n"
              "v = np.random.default_rng(0).random((6, 6, 6))\n"
              "T.sliding_window_inference(v, 4, lambda p: p[None]); T.resize(T.flip(v, (1, 0, 1)), (3, 3, 3))\n"
              "T.one_hot(T.argmax(np.stack([v, 1 - v])))\nprint('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_torch_tensors_in_and_out():
    torch = pytest.importorskip("torch")
    tensor = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    out = T.flip(tensor, (True, False, False))
    assert isinstance(out, torch.Tensor) and torch.equal(out, torch.flip(tensor, (0,)))
    blended = T.sliding_window_inference(tensor, (2, 2, 2), lambda p: torch.from_numpy(p)[None])
    assert isinstance(blended, torch.Tensor)
