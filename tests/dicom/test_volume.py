"""Series to volumes (checked against dcm2niix's NIfTI of the same slices) and the map-style dataset."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sonobridge.dicom import DICOMDataset, load_series

from support import PALETTE, SHARED

TEMPLATE = SHARED / "data" / "dicom" / "wheels" / "pydicom" / "MR_small.dcm"


def write_series(folder: Path, n_slices: int = 12) -> np.ndarray:
    """An oblique stack in shuffled file order plus a one-slice localiser of another orientation
    (same series): the largest coherent stack must win. Returns the stack's pixels [z, y, x]."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir()
    rng = np.random.default_rng(0)
    angle = np.deg2rad(20)
    row = np.array([np.cos(angle), np.sin(angle), 0.0])
    column = np.array([0.0, 0.0, -1.0])
    normal = np.cross(row, column)
    series, frame_of_reference = generate_uid(), generate_uid()
    pixels = rng.integers(0, 4000, (n_slices, 64, 64)).astype(np.int16)
    for index in rng.permutation(n_slices):
        ds = pydicom.dcmread(TEMPLATE)
        ds.SeriesInstanceUID, ds.FrameOfReferenceUID = series, frame_of_reference
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.ImageOrientationPatient = [*map(float, row), *map(float, column)]
        ds.ImagePositionPatient = [float(v) for v in np.array([-30.0, 12.0, 40.0]) + normal * 2.5 * index]
        ds.PixelSpacing, ds.SliceThickness = [0.8, 0.6], 2.5
        ds.InstanceNumber = int(index) + 1
        ds.PixelData = pixels[index].tobytes()
        ds.save_as(folder / f"slice_{rng.integers(1e9)}.dcm")
    localiser = pydicom.dcmread(TEMPLATE)
    localiser.SeriesInstanceUID, localiser.SOPInstanceUID = series, generate_uid()
    localiser.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    localiser.save_as(folder / "localiser.dcm")
    (folder / "notes.txt").write_text("not DICOM")
    return pixels


def test_series_volume_matches_dcm2niix(tmp_path):
    import nibabel

    pixels = write_series(tmp_path / "series")
    volume = load_series(tmp_path / "series")
    assert np.array_equal(volume.pixels, pixels)
    assert volume.spacing_mm == pytest.approx((0.6, 0.8, 2.5))
    ours = nibabel.load(volume.to_nifti(tmp_path / "ours.nii.gz"))
    tool = shutil.which("dcm2niix", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if tool is None:
        pytest.fail("dcm2niix is needed (the test extra installs it)")
    (tmp_path / "theirs").mkdir()
    subprocess.run([tool, "-o", str(tmp_path / "theirs"), "-f", "theirs", "-z", "n", str(tmp_path / "series")],
                   capture_output=True, check=True)
    candidates = sorted((tmp_path / "theirs").glob("theirs*.nii"), key=lambda p: -p.stat().st_size)
    theirs = nibabel.load(candidates[0])
    ours_canonical, theirs_canonical = nibabel.as_closest_canonical(ours), nibabel.as_closest_canonical(theirs)
    assert np.allclose(ours_canonical.affine, theirs_canonical.affine, atol=1e-3)
    assert np.array_equal(np.asarray(ours_canonical.dataobj), np.asarray(theirs_canonical.dataobj))


def test_dicom_dataset_is_map_style(tmp_path):
    pixels = write_series(tmp_path / "series", n_slices=3)
    dataset = DICOMDataset(tmp_path / "series")
    assert len(dataset) == 4                                  # 3 slices + the localiser, no text file
    image, meta = dataset[0]
    assert image.shape == (1, 64, 64) and meta["path"].endswith(".dcm")
    assert any(np.array_equal(dataset[i][0][0], pixels[0]) for i in range(len(dataset)))


def test_series_without_pixel_spacing_uses_the_ultrasound_region(tmp_path):
    import pydicom
    from pydicom.uid import generate_uid

    from sonobridge.dicom.volume import load_series

    series = generate_uid()
    for index in range(3):
        ds = pydicom.dcmread(PALETTE)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * index]
        ds.save_as(tmp_path / f"s{index}.dcm")
    volume = load_series(tmp_path)
    assert volume.pixels.shape[0] == 3 and volume.spacing_mm[0] == pytest.approx(0.2623, rel=1e-3)
