"""sonobridge.dicom.rt: RT Dose read / write (pydicom's RT Dose fixtures, dciodvfy on what we write) and
DVHs compared with dicompyler-core's ``dvhcalc.get_dvh`` on generated RT Structure Set + RT Dose pairs."""
from __future__ import annotations

import numpy as np
import pytest

from support import DICOM, dciodvfy_errors

PYDICOM = DICOM / "pydicom"


# ---------------------------------------------------------------- generated inputs
def structure_set(path, rois, frame_of_reference_uid: str) -> None:
    """An RT Structure Set of ``rois`` = [(name, [(z, [polygon (n, 2) mm, ...]), ...]), ...] (pydicom)."""
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from sonobridge.dicom.rt import RT_STRUCT

    meta = FileMetaDataset()
    uid = generate_uid()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = RT_STRUCT, uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = RT_STRUCT, uid, "RTSTRUCT"
    ds.PatientName, ds.PatientID = "Phantom^Water", "RT1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StructureSetLabel = "synthetic"
    roi_items, contour_items = [], []
    for number, (name, planes) in enumerate(rois, 1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = number, name, frame_of_reference_uid
        roi.ROIGenerationAlgorithm = "MANUAL"
        roi_items.append(roi)
        contours = []
        for z, polygons in planes:
            for polygon in polygons:
                contour = Dataset()
                contour.ContourGeometricType = "CLOSED_PLANAR"
                points = np.column_stack([polygon, np.full(len(polygon), z)])
                contour.NumberOfContourPoints = len(points)
                contour.ContourData = [f"{v:.4f}" for v in points.ravel()]
                contours.append(contour)
        item = Dataset()
        item.ReferencedROINumber, item.ROIDisplayColor, item.ContourSequence = number, [255, 0, 0], contours
        contour_items.append(item)
    ds.StructureSetROISequence, ds.ROIContourSequence = roi_items, contour_items
    ds.save_as(path, enforce_file_format=True)


def circle(cx: float, cy: float, radius: float, n: int = 40) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])


def gaussian_dose(shape=(12, 30, 32), spacing=(2.0, 2.0, 2.5), peak_gy: float = 60.0) -> np.ndarray:
    """A smooth dose blob ``(frames, rows, columns)`` in Gy."""
    zz, yy, xx = np.meshgrid(np.arange(shape[0]) * spacing[2], np.arange(shape[1]) * spacing[0],
                             np.arange(shape[2]) * spacing[1], indexing="ij")
    return peak_gy * np.exp(-((xx - 31) ** 2 + (yy - 29) ** 2 + (zz - 14) ** 2) / (2 * 12 ** 2))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(structure set, dose) files: a PTV on planes between dose frames (interpolated dose planes), a
    ring (an inner contour cuts a hole) and a structure reaching beyond the dose grid."""
    from pydicom.uid import generate_uid

    from sonobridge.dicom.rt import write_rtdose

    folder = tmp_path_factory.mktemp("rt")
    frame_of_reference = generate_uid()
    write_rtdose(gaussian_dose(), origin=(0.3, -0.7, 0.0), spacing=(2.0, 2.0, 2.5),
                 frame_of_reference_uid=frame_of_reference, output=folder / "dose.dcm")
    rois = [("PTV", [(z, [circle(31, 29, 9 + 0.2 * z)]) for z in np.arange(3.0, 24.0, 3.0)]),
            ("ring", [(z, [circle(30, 30, 14), circle(30, 30, 6)]) for z in np.arange(5.0, 20.0, 2.5)]),
            ("beyond", [(z, [circle(20, 20, 5)]) for z in np.arange(20.0, 40.0, 3.0)])]
    structure_set(folder / "rtstruct.dcm", rois, frame_of_reference)
    return folder / "rtstruct.dcm", folder / "dose.dcm"


@pytest.fixture(scope="module")
def dicompyler():
    """dicompyler-core's dvhcalc. Its 0.5.6 reads files with ``pydicom.dicomio.read_file``, which
    pydicom 3 renamed ``dcmread``: the alias is given back for it (the computation is dicompyler's)."""
    import pydicom
    import pydicom.dicomio

    if not hasattr(pydicom.dicomio, "read_file"):
        pydicom.dicomio.read_file = pydicom.dcmread
    from dicompylercore import dvhcalc

    return dvhcalc


# ---------------------------------------------------------------- RT Dose
@pytest.mark.parametrize("name", ["rtdose.dcm", "rtdose_rle.dcm", "rtdose_expb.dcm"])
def test_read_rtdose_scales_pydicoms_fixtures(name):
    import pydicom

    from sonobridge.dicom.rt import read_rtdose

    grid = read_rtdose(PYDICOM / name)
    ds = pydicom.dcmread(PYDICOM / name)
    expected = ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
    np.testing.assert_array_equal(grid.dose, expected)
    assert grid.max_dose == expected.max() and grid.dose_grid_scaling == float(ds.DoseGridScaling)
    assert grid.grid_frame_offsets == [float(v) for v in ds.GridFrameOffsetVector] and grid.uniform_offsets
    assert grid.spacing == (10.0, 10.0, 5.0) and grid.dose_units == "RELATIVE"
    matrix = grid.matrix                                          # voxel (col, row, frame) -> LPS mm
    corner = matrix @ [9, 9, 14, 1]
    position = np.asarray([float(v) for v in ds.ImagePositionPatient])
    np.testing.assert_allclose(corner[:3], position + [90, 90, 70])
    np.testing.assert_allclose(grid.affine, matrix.ravel(order="F"))


def test_read_rtdose_single_frame_with_surplus_offsets():
    """pydicom's one-frame dose keeps the 15 offsets of the original: the first one places the frame."""
    import pydicom.data

    from sonobridge.dicom.rt import read_rtdose

    grid = read_rtdose(pydicom.data.get_testdata_file("rtdose_1frame.dcm"))
    assert grid.dose.shape == (1, 10, 10) and grid.grid_frame_offsets == [0.0]


def test_write_rtdose_round_trip_and_dciodvfy(tmp_path):
    """Written doses read back within half a scaling step; the 16-bit object is dciodvfy-clean (the
    installed dciodvfy cannot parse 32-bit OW pixel data, pydicom's own RT Dose included)."""
    from sonobridge.dicom.rt import read_rtdose, write_rtdose

    dose = gaussian_dose()
    for bits in (32, 16):
        path = write_rtdose(dose, origin=(0.3, -0.7, 0.0), spacing=(2.0, 2.0, 2.5), bits=bits, ref_plan_uid="1.2.3.4",
                            output=tmp_path / f"dose{bits}.dcm")
        grid = read_rtdose(path)
        assert np.max(np.abs(grid.dose - dose)) <= grid.dose_grid_scaling / 2 * (1 + 1e-9)
        assert grid.max_dose == pytest.approx(dose.max(), abs=grid.dose_grid_scaling)
        assert grid.grid_frame_offsets == [i * 2.5 for i in range(12)] and grid.spacing == (2.0, 2.0, 2.5)
        assert grid.referenced_plan_uid == "1.2.3.4"
    assert dciodvfy_errors(tmp_path / "dose16.dcm") == []
    single = write_rtdose(dose[0], origin=(0, 0, 0), spacing=(2.0, 2.0), bits=16, ref_plan_uid="1.2.3.4",
                          output=tmp_path / "single.dcm")
    assert dciodvfy_errors(single) == []
    assert read_rtdose(single).dose.shape == (1, 30, 32)


def test_write_rtdose_affine_and_reference(tmp_path):
    """The affine of a read grid writes the same geometry; an RT Plan reference gives its identity and
    its SOP Instance UID as the referenced plan; bytes come back without output."""
    import pydicom

    from sonobridge.dicom.rt import read_rtdose, write_rtdose

    original = read_rtdose(PYDICOM / "rtdose.dcm")
    data = write_rtdose(original.dose, affine=original.affine, reference=PYDICOM / "rtplan.dcm", bits=16)
    assert isinstance(data, bytes)
    again = read_rtdose(data)
    np.testing.assert_allclose(again.matrix, original.matrix)
    assert again.grid_frame_offsets == original.grid_frame_offsets
    plan = pydicom.dcmread(PYDICOM / "rtplan.dcm")
    assert again.referenced_plan_uid == plan.SOPInstanceUID
    assert pydicom.dcmread(__import__("io").BytesIO(data)).PatientID == plan.PatientID
    np.testing.assert_allclose(again.dose, original.dose, atol=again.dose_grid_scaling)
    rotated = original.matrix.copy()
    rotated[:3, :3] = np.diag([-10.0, 10.0, -5.0])                  # feet-first supine
    back = read_rtdose(write_rtdose(original.dose, affine=rotated))
    np.testing.assert_allclose(back.matrix, rotated)


@pytest.mark.parametrize("dose, options", [
    (np.full((2, 3, 3), -1.0), {"origin": (0, 0, 0), "spacing": (1, 1, 1)}),
    (np.ones((2, 3, 3)), {"origin": (0, 0, 0), "spacing": (1, 1)}),          # frames without a frame step
    (np.ones((3, 3)), {}),                                                    # no geometry
    (np.ones((3, 3)), {"origin": (0, 0, 0), "spacing": (1, 1), "bits": 8}),
    (np.ones((3, 3)) * 100, {"origin": (0, 0, 0), "spacing": (1, 1), "bits": 16, "scaling": 1e-6}),
])
def test_write_rtdose_refuses_what_does_not_fit(tmp_path, dose, options):
    from sonobridge.dicom.rt import write_rtdose
    from sonobridge.errors import SonobridgeError

    with pytest.raises(SonobridgeError):
        write_rtdose(dose, output=tmp_path / "x.dcm", **options)
    assert list(tmp_path.iterdir()) == []


def test_read_rtdose_of_something_else_is_the_package_error():
    from sonobridge.dicom.content import content
    from sonobridge.dicom.rt import read_rtdose
    from sonobridge.errors import FormatError, UnsupportedInputError

    with pytest.raises(UnsupportedInputError, match="not an RT Dose"):
        read_rtdose(PYDICOM / "rtplan.dcm")
    assert content(PYDICOM / "rtdose.dcm").max_dose == pytest.approx(1.254)     # content() dispatches here
    import pydicom

    ds = pydicom.dcmread(PYDICOM / "rtdose.dcm")
    del ds.ImageOrientationPatient
    with pytest.raises(FormatError, match="ImageOrientationPatient"):
        read_rtdose(ds)


# ---------------------------------------------------------------- DVH against dicompyler-core
@pytest.mark.parametrize("roi", [1, 2, 3])
def test_dvhcalc_matches_dicompyler(pair, dicompyler, roi):
    from sonobridge.dicom.rt import dvhcalc

    structure, dose = pair
    ours = dvhcalc(structure, dose, roi)
    theirs = dicompyler.get_dvh(str(structure), str(dose), roi)
    np.testing.assert_allclose(ours.cumulative, theirs.counts, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.counts, theirs.differential.counts, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.bins, theirs.bins)
    for statistic in ("volume", "min", "max", "mean"):
        assert getattr(ours, statistic) == pytest.approx(getattr(theirs, statistic), rel=1e-9), statistic
    assert ours.notes == (theirs.notes or "")
    assert ours.volume > 1.0


def test_dvhcalc_by_name_and_limit(pair, dicompyler):
    from sonobridge.dicom.rt import dvhcalc

    structure, dose = pair
    ours = dvhcalc(structure, dose, "PTV", limit=3000)
    theirs = dicompyler.get_dvh(str(structure), str(dose), 1, limit=3000)
    assert len(ours.counts) == len(theirs.differential.counts) <= 3000
    np.testing.assert_allclose(ours.cumulative, theirs.counts, rtol=1e-9)
    assert ours.name == "PTV" and ours.roi_number == 1


def test_dvhcalc_errors(pair):
    from sonobridge.dicom.rt import dvhcalc
    from sonobridge.errors import FormatError, UnsupportedInputError

    structure, dose = pair
    with pytest.raises(FormatError, match="no ROI 'bladder'"):
        dvhcalc(structure, dose, "bladder")
    with pytest.raises(UnsupportedInputError, match="not an RT Structure Set"):
        dvhcalc(dose, dose, 1)


@pytest.mark.parametrize("scaling", ["1e12", "1e300"])
def test_dvhcalc_refuses_a_lying_dose_grid_scaling(pair, tmp_path, scaling):
    import pydicom

    from sonobridge.dicom.rt import dvhcalc
    from sonobridge.errors import FormatError

    structure, dose = pair
    lying = pydicom.dcmread(dose)
    lying.DoseGridScaling = scaling
    lying.save_as(tmp_path / "lying.dcm")
    with pytest.raises(FormatError, match="not a dose"):
        dvhcalc(structure, tmp_path / "lying.dcm", 1)
