"""DWI gradient tables, 4-D DWI volumes and FSL .bval/.bvec, checked against dcm2niix on a series
built with the standard diffusion attributes (0018,9087) / (0018,9089)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sonobridge.dicom.diffusion import diffusion_table, load_dwi, save_dwi

from support import SHARED, dcm2niix

TEMPLATE = SHARED / "data" / "dicom" / "wheels" / "pydicom" / "MR_small.dcm"
#: (b-value s/mm^2, gradient in the patient frame), in acquisition order
TABLE = [(0, (0, 0, 0)), (1000, (1, 0, 0)), (1000, (0, 0.6, 0.8)), (2000, (0.6, 0, -0.8)),
         (1000, (0, 1, 0)), (2000, (0.48, 0.6, 0.64))]
ANGLE = np.deg2rad(15)
ROW, COLUMN = np.array([np.cos(ANGLE), np.sin(ANGLE), 0.0]), np.array([0.0, 0.0, -1.0])
NORMAL = np.cross(ROW, COLUMN)


def write_dwi(folder: Path, n_slices: int = 3) -> np.ndarray:
    """One single-frame file per (direction, slice), oblique, in shuffled file names. Returns the
    stored pixels [V, z, y, x] in acquisition order."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir()
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 3000, (len(TABLE), n_slices, 64, 64)).astype(np.int16)
    series = generate_uid()
    instance = 0
    for volume, (bvalue, gradient) in enumerate(TABLE):
        for z in range(n_slices):
            instance += 1
            ds = pydicom.dcmread(TEMPLATE)
            ds.SeriesInstanceUID, ds.InstanceNumber, ds.MRAcquisitionType = series, instance, "2D"
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.ImageOrientationPatient = [*map(float, ROW), *map(float, COLUMN)]
            ds.ImagePositionPatient = [float(v) for v in np.array([-10.0, 5.0, 20.0]) + NORMAL * 3 * z]
            ds.DiffusionBValue, ds.DiffusionGradientOrientation = bvalue, [float(v) for v in gradient]
            ds.PixelData = pixels[volume, z].tobytes()
            ds.save_as(folder / f"f{rng.integers(1e9)}.dcm")
    return pixels


def voxel_frame(gradient) -> list[float]:
    return [float(ROW @ gradient), float(COLUMN @ gradient), float(NORMAL @ gradient)]


def test_table_one_entry_per_file_in_instance_order(tmp_path):
    write_dwi(tmp_path / "dwi", n_slices=2)
    bvals, bvecs = diffusion_table(tmp_path / "dwi", output_prefix=tmp_path / "table")
    assert bvals.tolist() == [b for b, _ in TABLE for _ in range(2)] and bvecs.shape == (3, 12)
    assert np.allclose(bvecs[:, 4], voxel_frame(np.array(TABLE[2][1])))
    _, patient = diffusion_table(tmp_path / "dwi", rotate=False)
    assert np.allclose(patient[:, 4], TABLE[2][1])
    assert (tmp_path / "table.bval").read_text().split() == [f"{b:g}" for b in bvals]


def test_save_dwi_matches_dcm2niix(tmp_path):
    import nibabel

    pixels = write_dwi(tmp_path / "dwi")
    image, bval, bvec = save_dwi(tmp_path / "dwi", tmp_path / "ours")
    theirs_nifti = dcm2niix(tmp_path / "dwi", tmp_path / "theirs")[0]
    theirs = {suffix: theirs_nifti.with_suffix(suffix).read_text() for suffix in (".bval", ".bvec")}
    assert Path(bval).read_text() == theirs[".bval"]                     # same numbers, same order
    ours_bvecs = np.loadtxt(bvec)
    theirs_bvecs = np.loadtxt(theirs_nifti.with_suffix(".bvec"))
    # dcm2niix stores the rows flipped, so its second (j) component is negated; ours keeps DICOM's rows
    assert np.allclose(ours_bvecs * [[1], [-1], [1]], theirs_bvecs, atol=1e-5)
    ours, reference = nibabel.load(image), nibabel.load(theirs_nifti)
    assert ours.shape == reference.shape == (64, 64, 3, len(TABLE))
    ours_canonical, theirs_canonical = nibabel.as_closest_canonical(ours), nibabel.as_closest_canonical(reference)
    assert np.allclose(ours_canonical.affine, theirs_canonical.affine, atol=1e-3)
    assert np.array_equal(ours_canonical.get_fdata(), theirs_canonical.get_fdata())
    assert np.array_equal(ours.get_fdata()[:, :, :, 2].transpose(2, 1, 0), pixels[2])


def test_load_dwi_orders_and_keeps_table_aligned(tmp_path):
    import pydicom

    pixels = write_dwi(tmp_path / "dwi")
    other = pydicom.dcmread(next((tmp_path / "dwi").glob("*.dcm")))           # a non-DWI image of the series
    del other.DiffusionBValue, other.DiffusionGradientOrientation
    other.ImagePositionPatient = [0.0, 0.0, 0.0]
    other.save_as(tmp_path / "dwi" / "not_dwi.dcm")
    data, bvals, bvecs, affine = load_dwi(tmp_path / "dwi")                     # "gradient": b0 first, sorted
    expected = sorted(range(len(TABLE)), key=lambda i: (TABLE[i][0], *TABLE[i][1]))
    assert bvals.tolist() == [TABLE[i][0] for i in expected]
    for slot, volume in enumerate(expected):
        assert np.array_equal(data[slot], pixels[volume])
        assert np.allclose(bvecs[:, slot], voxel_frame(np.array(TABLE[volume][1])))
    data, bvals, _, _ = load_dwi(tmp_path / "dwi", order="acquisition")
    assert bvals.tolist() == [b for b, _ in TABLE] and np.array_equal(data, pixels)
    assert np.allclose(affine[:3, 2], NORMAL * 3)


def test_no_diffusion_attributes_is_a_package_error(tmp_path):
    import shutil

    from sonobridge.errors import UnsupportedInputError

    shutil.copy(TEMPLATE, tmp_path / "plain.dcm")
    with pytest.raises(UnsupportedInputError):
        diffusion_table(tmp_path)
    with pytest.raises(UnsupportedInputError):
        load_dwi(tmp_path)
