"""Series to volumes (checked against dcm2niix's NIfTI of the same slices) and the map-style dataset."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sonobridge.dicom import DICOMDataset, load_series

from support import PALETTE, SHARED, dcm2niix

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
    theirs = nibabel.load(dcm2niix(tmp_path / "series", tmp_path / "theirs")[0])
    ours_canonical, theirs_canonical = nibabel.as_closest_canonical(ours), nibabel.as_closest_canonical(theirs)
    assert np.allclose(ours_canonical.affine, theirs_canonical.affine, atol=1e-3)
    assert np.array_equal(np.asarray(ours_canonical.dataobj), np.asarray(theirs_canonical.dataobj))


def test_dicom_dataset_is_map_style(tmp_path):
    pixels = write_series(tmp_path / "series", n_slices=3)
    dataset = DICOMDataset(tmp_path / "series")
    assert len(dataset) == 4                                  # 3 slices + the localiser, no text file
    image = dataset[0]                                        # pydcm: one single-frame file -> [rows, cols]
    assert image.shape == (64, 64)
    assert any(np.array_equal(dataset[i], pixels[0]) for i in range(len(dataset)))


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


CT_TEMPLATE = SHARED / "data" / "dicom" / "wheels" / "pydicom" / "CT_small.dcm"
KNOWN_VOXEL = (2, 10, 20)                                   # (z, y, x) of the -847 HU voxel


def write_ct_series(folder: Path, n_slices: int = 5) -> np.ndarray:
    """A CT series stored unsigned with RescaleIntercept -1024 (slices in reverse file order, the
    last slice with slope 2 to check the per-slice rescale). Returns the HU volume [z, y, x]."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir()
    rng = np.random.default_rng(1)
    hu = rng.integers(-1024, 2000, (n_slices, 32, 32)).astype(np.float32)
    hu[KNOWN_VOXEL] = -847
    series = generate_uid()
    for index in range(n_slices):
        slope = 2.0 if index == n_slices - 1 else 1.0
        ds = pydicom.dcmread(CT_TEMPLATE)
        ds.SeriesInstanceUID, ds.InstanceNumber = series, n_slices - index
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [-50.0, -60.0, 10.0 + 3 * index]
        ds.Rows = ds.Columns = 32
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 16, 15
        ds.RescaleIntercept, ds.RescaleSlope = -1024, slope
        if slope != 1:
            hu[index] = np.round(hu[index] / 2) * 2
        ds.PixelData = np.round((hu[index] + 1024) / slope).astype(np.uint16).tobytes()
        ds.save_as(folder / f"ct{n_slices - index}.dcm")
    return hu


def test_ct_series_is_hounsfield_units_in_the_volume_and_its_nifti(tmp_path):
    """The reported bug: stored integers instead of HU (a -847 HU voxel read back as 177)."""
    import nibabel

    from sonobridge.dicom.volume import from_nifti

    hu = write_ct_series(tmp_path / "ct")
    volume = load_series(tmp_path / "ct")
    assert volume.pixels.dtype == np.float32 and volume.pixels[KNOWN_VOXEL] == -847
    assert np.array_equal(volume.pixels, hu)                              # per-slice slope too
    assert volume.spacing == pytest.approx((3.0, 0.661468, 0.661468)) and volume.series_instance_uid
    ours = nibabel.load(volume.to_nifti(tmp_path / "ct.nii.gz"))
    assert ours.get_fdata()[KNOWN_VOXEL[::-1]] == -847                  # NIfTI is (x, y, z)
    theirs = nibabel.load(dcm2niix(tmp_path / "ct", tmp_path / "theirs")[0])
    ours_canonical, theirs_canonical = nibabel.as_closest_canonical(ours), nibabel.as_closest_canonical(theirs)
    assert np.allclose(ours_canonical.affine, theirs_canonical.affine, atol=1e-3)
    assert np.array_equal(ours_canonical.get_fdata(), theirs_canonical.get_fdata())
    again = from_nifti(tmp_path / "ct.nii.gz")                             # RAS file -> our LPS affine
    assert np.allclose(again.affine, volume.affine, atol=1e-4) and np.array_equal(again.pixels, volume.pixels)


def test_from_nifti_keeps_integer_masks_and_refuses_4d(tmp_path):
    from sonobridge.dicom.volume import Volume, from_nifti, write_nifti
    from sonobridge.errors import FormatError, UnsupportedInputError

    mask = (np.arange(24).reshape(2, 3, 4) % 3).astype(np.uint8)
    affine = np.array([[0, 0, 2.0, -5], [0, 1.5, 0, 3], [-1.0, 0, 0, 7], [0, 0, 0, 1]])
    path = Volume(mask, affine=affine).to_nifti(tmp_path / "mask.nii")
    assert isinstance(path, str)
    back = from_nifti(path)
    assert back.pixels.dtype == np.uint8 and np.array_equal(back.pixels, mask)
    assert np.allclose(back.affine, affine) and back.spacing == pytest.approx((2.0, 1.5, 1.0))
    write_nifti(np.zeros((3, 2, 3, 4), np.float32), affine, tmp_path / "4d.nii")
    with pytest.raises(FormatError):
        from_nifti(tmp_path / "4d.nii")
    (tmp_path / "bad.nii").write_bytes(b"not nifti")
    with pytest.raises(UnsupportedInputError):
        from_nifti(tmp_path / "bad.nii")


def test_volume_takes_pydcm_positional_fields():
    from sonobridge.dicom.volume import Volume

    affine = np.diag([0.5, 0.7, 3.0, 1.0])
    volume = Volume(np.zeros((4, 3, 2), np.float32), (3.0, 0.7, 0.5), affine, "1.2.3")
    assert volume.shape == (4, 3, 2) and volume.series_instance_uid == "1.2.3"
    assert volume.spacing == (3.0, 0.7, 0.5) and volume.spacing_mm == pytest.approx((0.5, 0.7, 3.0))


@pytest.mark.parametrize("kind", ["mr", "ct"])
def test_bids_sidecar_matches_dcm2niix(tmp_path, kind):
    from sonobridge.dicom.volume import bids_sidecar

    if kind == "mr":
        write_series(tmp_path / "series", n_slices=3)
    else:
        write_ct_series(tmp_path / "series", n_slices=3)
    nifti = dcm2niix(tmp_path / "series", tmp_path / "theirs")[0]
    theirs = json.loads(nifti.with_suffix(".json").read_text())
    instance = next(p for p in sorted((tmp_path / "series").glob("*.dcm")) if "localiser" not in p.name)
    ours = bids_sidecar(instance)
    shared = (set(ours) & set(theirs)) - {"ConversionSoftware"}
    expected = {"Modality", "Manufacturer", "ManufacturersModelName", "ImageType", "SeriesNumber",
                "ImageOrientationPatientDICOM"}
    expected |= {"EchoTime", "RepetitionTime", "FlipAngle", "ImagingFrequency", "MRAcquisitionType",
                 "SliceThickness"} if kind == "mr" else {"ExposureTime", "XRayTubeCurrent", "AcquisitionTime"}
    assert expected <= shared
    for name in shared:
        if isinstance(theirs[name], float) or name == "ImageOrientationPatientDICOM":
            assert ours[name] == pytest.approx(theirs[name], abs=1e-5), name
        else:
            assert ours[name] == theirs[name], name


def test_bids_phase_encoding_axis_and_polarity(tmp_path):
    import pydicom

    from sonobridge.dicom.volume import bids_sidecar

    ds = pydicom.dcmread(TEMPLATE)
    ds.MRAcquisitionType, ds.InPlanePhaseEncodingDirection = "2D", "COL"
    ds.save_as(tmp_path / "axis.dcm")
    assert bids_sidecar(tmp_path / "axis.dcm")["PhaseEncodingAxis"] == "j"
    ds.RectilinearPhaseEncodeReordering = "REVERSE_LINEAR"
    ds.save_as(tmp_path / "polarity.dcm")
    sidecar = bids_sidecar(tmp_path / "polarity.dcm")
    assert sidecar["PhaseEncodingDirection"] == "j" and "PhaseEncodingAxis" not in sidecar
    ds.MRAcquisitionType = "3D"
    ds.save_as(tmp_path / "3d.dcm")
    assert not {"PhaseEncodingAxis", "PhaseEncodingDirection"} & set(bids_sidecar(tmp_path / "3d.dcm"))


def write_us_volume(path: Path, n_times: int = 2, n_slices: int = 4) -> np.ndarray:
    """An Enhanced US Volume: frames placed with Plane Position/Orientation (Volume), two temporal
    positions, frames stored in shuffled order. Returns the pixels [t, z, y, x]."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(3)
    volumes = rng.integers(0, 255, (n_times, n_slices, 16, 24)).astype(np.uint8)
    order = [(t, z) for t in range(n_times) for z in range(n_slices)]
    order = [order[i] for i in rng.permutation(len(order))]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID, ds.Modality = generate_uid(), "US"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16, 24, len(order)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([Dataset()])
    shared.PixelMeasuresSequence[0].PixelSpacing = [0.3, 0.2]
    shared.PixelMeasuresSequence[0].SliceThickness = 0.5
    shared.PlaneOrientationVolumeSequence = Sequence([Dataset()])
    shared.PlaneOrientationVolumeSequence[0].ImageOrientationVolume = [0, 1, 0, 0, 0, -1]
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for t, z in order:
        item = Dataset()
        item.FrameContentSequence = Sequence([Dataset()])
        item.FrameContentSequence[0].TemporalPositionIndex = t + 1
        item.PlanePositionVolumeSequence = Sequence([Dataset()])
        item.PlanePositionVolumeSequence[0].ImagePositionVolume = [-1.5 * z, 0.0, 0.0]  # normal: -x
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.stack([volumes[t, z] for t, z in order]).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return volumes


def test_enhanced_us_volume_3d_and_4d(tmp_path):
    from sonobridge.dicom.volume import load_4d

    volumes = write_us_volume(tmp_path / "us3d.dcm")
    first = load_series(tmp_path / "us3d.dcm")
    assert np.array_equal(first.pixels, volumes[0]) and first.pixels.dtype == np.float32
    assert first.spacing == pytest.approx((1.5, 0.3, 0.2))
    assert np.allclose(first.affine[:3, :3], [[0, 0, -1.5], [0.2, 0, 0], [0, -0.3, 0]])
    stack = load_4d(tmp_path / "us3d.dcm")
    assert stack.shape == (2, 4, 16, 24) and np.array_equal(stack.pixels, volumes)
    assert stack.axis("temporal").values.tolist() == [1, 2] and stack.coords(1) == {"temporal": 2.0}
    assert np.array_equal(stack[1].pixels, volumes[1])


def test_unknown_spacing_is_a_format_error_and_damaged_strays_are_skipped(tmp_path):
    import pydicom

    from sonobridge.errors import FormatError

    write_series(tmp_path / "series", n_slices=3)
    (tmp_path / "series" / "damaged.dcm").write_bytes(TEMPLATE.read_bytes()[:700])
    assert load_series(tmp_path / "series").shape == (3, 64, 64)
    ds = pydicom.dcmread(TEMPLATE)
    del ds.PixelSpacing
    ds.save_as(tmp_path / "no_spacing.dcm")
    with pytest.raises(FormatError, match="spacing"):
        load_series(tmp_path / "no_spacing.dcm")
