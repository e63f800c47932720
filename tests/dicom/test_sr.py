"""TID 1500 structured reports (sonobridge.dicom.sr) on a real ultrasound cine: a length drawn in
pixels on one frame, reported in mm from the US region calibration; dciodvfy accepts the objects,
highdicom reads them back with the content our reader gives; measurement -> SR -> measurement round
trips with units and tracking ids; bad input is refused before anything is written."""
from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("highdicom")

import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402

from sonobridge.dicom import sr  # noqa: E402
from sonobridge.dicom.ultrasound import tissue_region  # noqa: E402
from sonobridge.errors import FormatError  # noqa: E402

from support import CINE, PALETTE, dciodvfy_errors  # noqa: E402

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
LENGTH = {"value": "410668003", "scheme": "SCT", "meaning": "Length"}
MM = {"value": "mm", "scheme": "UCUM", "meaning": "millimeter"}


@pytest.fixture(scope="module")
def source():
    return pydicom.dcmread(CINE, stop_before_pixels=True)


@pytest.fixture(scope="module")
def length_sr(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr") / "length.dcm"
    sr.write_length_report(CINE, [(100, 50), (200, 150)], frame=5, tracking_id="Femur", output=out)
    return out


def test_highdicom_cannot_calibrate_an_ultrasound_frame(source):
    """highdicom reaches physical units only through plane geometry, which US images lack; the
    calibration is in the Sequence of Ultrasound Regions, which our report uses."""
    with pytest.raises((AttributeError, ValueError, KeyError)):
        hd.spatial.ImageToReferenceTransformer.for_image(source, frame_number=5)
    with pytest.raises((AttributeError, ValueError)):
        hd.sr.ImageRegion3D("POINT", [[1.0, 2.0, 3.0]], source.FrameOfReferenceUID)
    assert "PixelSpacing" not in source and tissue_region(source) is not None


def test_length_in_mm_from_the_region_calibration(length_sr, source):
    delta_mm = tissue_region(source).delta_x * 1e3                  # 0.5105 mm per pixel
    report = sr.read_measurement_report(length_sr)
    (group,) = report["groups"]
    assert group["tracking_id"] == "Femur"
    assert group["roi"] == {"graphic_type": "POLYLINE", "scoord": [100.0, 50.0, 200.0, 150.0],
                            "ref_sop_class_uid": US_MULTIFRAME, "ref_sop_instance_uid": str(source.SOPInstanceUID),
                            "ref_frames": [5]}
    (measurement,) = group["measurements"]
    assert measurement["name"] == LENGTH and measurement["unit"] == MM
    assert measurement["value"] == pytest.approx(100 * math.sqrt(2) * delta_mm, rel=1e-9)
    assert report["study_uid"] == str(source.StudyInstanceUID)     # the report joins the image's study


def test_single_frame_ultrasound(tmp_path):
    """A single-frame US image (palette colour, two regions: B-mode and a Doppler strip) is
    referenced without frame numbers; the length comes from the B-mode region."""
    out = tmp_path / "single.dcm"
    sr.write_length_report(PALETTE, [(300, 100), (300, 200)], frame=1, output=out)
    assert dciodvfy_errors(out) == []
    (group,) = sr.read_measurement_report(out)["groups"]
    assert "ref_frames" not in group["roi"]
    delta_mm = tissue_region(pydicom.dcmread(PALETTE, stop_before_pixels=True)).delta_y * 1e3
    assert group["measurements"][0]["value"] == pytest.approx(100 * abs(delta_mm))


def test_dciodvfy_accepts_the_report(length_sr):
    assert dciodvfy_errors(length_sr) == []
    assert sr.sr_validate(length_sr) == []


def test_highdicom_reads_what_our_reader_reads(length_sr):
    ours = sr.read_measurement_report(length_sr)["groups"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = hd.sr.srread(length_sr)
    (group,) = document.content.get_planar_roi_measurement_groups()
    assert group.tracking_identifier == ours["tracking_id"] and group.tracking_uid == ours["tracking_uid"]
    assert group.roi.graphic_type.value == ours["roi"]["graphic_type"]
    assert group.roi.value.ravel().tolist() == ours["roi"]["scoord"]
    image = group.roi.ContentSequence[0].ReferencedSOPSequence[0]
    assert int(image.ReferencedFrameNumber) == ours["roi"]["ref_frames"][0]
    (measurement,) = group.get_measurements()
    assert measurement.value == ours["measurements"][0]["value"]
    assert measurement.unit.value == "mm" and measurement.name.value == LENGTH["value"]
    evidence = document.get_evidence()
    assert [ours["roi"]["ref_sop_instance_uid"] in reference for reference in evidence] == [True]


def _document(source) -> dict:
    return {"patient_name": "Doe^Jane", "patient_id": "P1", "study_uid": str(source.StudyInstanceUID),
            "study_date": "20240102", "series_uid": "1.2.826.0.1.3680043.8.498.1",
            "observer": {"type": "person", "name": "Doe^John"},
            "procedure_reported": {"value": "363679005", "scheme": "SCT", "meaning": "Imaging procedure"},
            "language": "en-US",
            "groups": [
                {"tracking_id": "Lesion 1", "tracking_uid": "1.2.826.0.1.3680043.8.498.2",
                 "finding": {"value": "52988006", "scheme": "SCT", "meaning": "Lesion"},
                 "finding_sites": [{"value": "10200004", "scheme": "SCT", "meaning": "Liver"}],
                 "roi": {"graphic_type": "POLYLINE", "scoord": [110.0, 60.0, 150.0, 90.0],
                         "ref_sop_class_uid": US_MULTIFRAME, "ref_sop_instance_uid": str(source.SOPInstanceUID),
                         "ref_frames": [30]},
                 "measurements": [{"name": LENGTH, "value": 25.5, "unit": MM,
                                   "derivation": {"value": "255605001", "scheme": "SCT", "meaning": "Minimum"}}],
                 "qualitative_evaluations": [{"name": {"value": "272741003", "scheme": "SCT", "meaning": "Laterality"},
                                              "value": {"value": "7771000", "scheme": "SCT", "meaning": "Left"}}]},
                {"tracking_id": "Volume", "tracking_uid": "1.2.826.0.1.3680043.8.498.3",
                 "measurements": [{"name": {"value": "118565006", "scheme": "SCT", "meaning": "Volume"},
                                   "value": 3.25, "unit": {"value": "ml", "scheme": "UCUM", "meaning": "milliliter"}}]}]}


def test_measurement_report_round_trip(tmp_path, source):
    document = _document(source)
    out = tmp_path / "report.dcm"
    sr.write_measurement_report(document, reference=CINE, output=out)
    assert dciodvfy_errors(out) == []
    back = sr.read_measurement_report(out)
    for key in ("patient_name", "patient_id", "study_uid", "study_date", "series_uid", "procedure_reported",
                "language", "groups"):
        assert back[key] == document[key], key
    assert back["observer"] == document["observer"]


def test_flat_report_round_trip(tmp_path, source):
    flat = [{"concept_value": "410668003", "concept_scheme": "SCT", "concept_meaning": "Length", "value": 12.5,
             "unit_code": "mm", "unit_meaning": "millimeter", "ref_sop_class_uid": US_MULTIFRAME,
             "ref_sop_instance_uid": str(source.SOPInstanceUID), "graphic_type": "POLYLINE",
             "scoord": [100.0, 100.0, 120.0, 100.0], "tracking_id": "A", "tracking_uid": "1.2.3.4"}]
    data = sr.write_report(flat, reference=CINE, patient_id="X")
    document = sr.read_report(pydicom.filebase.DicomBytesIO(data))
    assert document["measurements"] == flat and document["patient_id"] == "X"
    again = sr.write_report(document)                               # write_report(read_report(x))
    assert sr.read_report(pydicom.filebase.DicomBytesIO(again))["measurements"] == flat


@pytest.mark.parametrize("change, message", [
    (lambda d: d["groups"][0]["measurements"][0].update(name={"value": "999999999", "scheme": "SCT",
                                                              "meaning": "Nonsense"}), "unknown"),
    (lambda d: d["groups"][0]["roi"].update(scoord=[110.0, 60.0, 400.0, 90.0]), "outside"),
    (lambda d: d["groups"][0]["roi"].update(ref_frames=[31]), "beyond"),
    (lambda d: d["groups"][1].update(measurements=[]), "no measurements"),
])
def test_bad_input_is_refused_before_writing(tmp_path, source, change, message):
    document = _document(source)
    change(document)
    out = tmp_path / "bad.dcm"
    with pytest.raises(FormatError, match=message):
        sr.write_measurement_report(document, reference=CINE, output=out)
    assert list(tmp_path.iterdir()) == []


def test_length_report_refuses_bad_points_and_frames(tmp_path):
    out = tmp_path / "x.dcm"
    for points, frame, message in (([(100, 50), (400, 50)], 1, "outside"), ([(100, 50), (200, 50)], 31, "beyond"),
                                   ([(10, 5), (20, 5)], 1, "no calibration")):
        with pytest.raises(FormatError, match=message):
            sr.write_length_report(CINE, points, frame=frame, output=out)
    assert list(tmp_path.iterdir()) == []


def test_codes():
    assert sr.sr_code_meaning("DCM", "126000") == "Imaging Measurement Report"
    assert sr.sr_code_meaning("SCT", "999999999") is None
    assert sr.sr_validate_code("SCT", "410668003", "Length") and not sr.sr_validate_code("SCT", "410668003", "Width")
    assert sr.sr_cid_has(7469, "SCT", "410668003") and not sr.sr_cid_has(7469, "DCM", "126000")


def test_general_sr_tree_round_trip(tmp_path, source):
    document = {"patient_name": "Doe^Jane", "patient_id": "P1", "study_uid": "1.2.826.0.1.3680043.8.498.10",
                "study_date": "20240102", "series_uid": "1.2.826.0.1.3680043.8.498.11",
                "title": {"value": "126000", "scheme": "DCM", "meaning": "Imaging Measurement Report"},
                "content": [
                    {"relationship": "HAS CONCEPT MOD", "value_type": "CODE",
                     "concept": {"value": "121049", "scheme": "DCM",
                                 "meaning": "Language of Content Item and Descendants"},
                     "code": {"value": "en-US", "scheme": "RFC5646", "meaning": "English, United States"}},
                    {"relationship": "CONTAINS", "value_type": "TEXT",
                     "concept": {"value": "121071", "scheme": "DCM", "meaning": "Finding"}, "text": "normal"},
                    {"relationship": "CONTAINS", "value_type": "NUM", "concept": LENGTH, "value": 4.5, "unit": MM,
                     "content": [{"relationship": "INFERRED FROM", "value_type": "SCOORD", "graphic_type": "POINT",
                                  "graphic_data": [10.0, 20.0],
                                  "content": [{"relationship": "SELECTED FROM", "value_type": "IMAGE",
                                               "ref_sop_class": US_MULTIFRAME,
                                               "ref_sop_instance": str(source.SOPInstanceUID), "ref_frames": [2]}]}]}]}
    out = tmp_path / "tree.dcm"
    sr.write_sr(document, output=out)
    assert dciodvfy_errors(out) == []
    back = sr.content_json(out)
    assert {k: back[k] for k in document} == document
    assert sr.sr_validate(out) == []
    assert sr.content_json(CINE) is None
    document["content"][2]["unit"] = None
    with pytest.raises(FormatError, match="unit"):
        sr.write_sr(document, output=tmp_path / "bad.dcm")
    assert not (tmp_path / "bad.dcm").exists()


def test_comprehensive_3d_sr_constructor(source):
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(),
        procedure_reported=hd.sr.CodedConcept("363679005", "SCT", "Imaging procedure"),
        imaging_measurements=[hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(identifier="x"),
            measurements=[hd.sr.Measurement(hd.sr.CodedConcept("410668003", "SCT", "Length"), 1.0,
                                            hd.sr.CodedConcept("mm", "UCUM", "millimeter"))])])
    assert sr.MeasurementReport is hd.sr.MeasurementReport
    with pytest.raises(FormatError, match="evidence"):
        sr.Comprehensive3DSR([], report, "1.2.3", 1, "1.2.3.4", 1)


def test_damaged_or_foreign_input(tmp_path, length_sr):
    from sonobridge.errors import SonobridgeError

    cut = tmp_path / "cut.dcm"
    cut.write_bytes(length_sr.read_bytes()[:1500])
    for reader in (sr.read_measurement_report, sr.content_json, sr.sr_validate):
        with pytest.raises(SonobridgeError):
            reader(cut)
    assert sr.read_measurement_report(CINE)["groups"] == []      # an image: no measurement report
