"""Key Object Selection documents (sonobridge.dicom.ko): ultrasound images of two studies flagged,
dciodvfy-clean, read back by highdicom and by read_ko with the same references; bad input refused
before anything is written."""
from __future__ import annotations

import warnings

import pytest

pytest.importorskip("highdicom")

import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402

from sonobridge.dicom import ko  # noqa: E402
from sonobridge.errors import FormatError  # noqa: E402

from support import CINE, PALETTE, dciodvfy_errors  # noqa: E402


def test_flag_images_of_two_studies(tmp_path):
    out = tmp_path / "ko.dcm"
    ko.write_ko([CINE, PALETTE], output=out)
    assert dciodvfy_errors(out) == []
    ours = ko.read_ko(out)
    sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in (CINE, PALETTE)]
    assert ours["references"] == [{"sop_class_uid": s.SOPClassUID, "sop_instance_uid": s.SOPInstanceUID}
                                  for s in sources]
    assert ours["title"] == {"value": "113000", "scheme": "DCM", "meaning": "Of Interest"}
    assert ours["study_uid"] == sources[0].StudyInstanceUID and ours["patient_id"] == sources[0].PatientID
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = hd.ko.KeyObjectSelectionDocument.from_dataset(pydicom.dcmread(out))
    assert [r.referenced_sop_instance_uid for r in document.content.get_references()] == \
        [r["sop_instance_uid"] for r in ours["references"]]
    # highdicom alone keeps only the first study's evidence; ours lists the second study too
    assert document.resolve_reference(sources[1].SOPInstanceUID)[0] == sources[1].StudyInstanceUID


def test_reference_dicts_title_and_identity(tmp_path):
    reference = {"study_uid": "1.2.826.0.1.3680043.8.498.20", "series_uid": "1.2.826.0.1.3680043.8.498.21",
                 "sop_class_uid": "1.2.840.10008.5.1.4.1.1.6.1", "sop_instance_uid": "1.2.826.0.1.3680043.8.498.22"}
    data = ko.write_ko([reference], patient_name="Doe^Jane", patient_id="P7",
                       title=("113001", "DCM", "Rejected for Quality Reasons"))
    back = ko.read_ko(pydicom.filebase.DicomBytesIO(data))
    assert back["patient_name"] == "Doe^Jane" and back["patient_id"] == "P7"
    assert back["study_uid"] == reference["study_uid"]
    assert back["title"]["meaning"] == "Rejected for Quality Reasons"
    assert back["references"] == [{"sop_class_uid": reference["sop_class_uid"],
                                   "sop_instance_uid": reference["sop_instance_uid"]}]
    assert ko.read_ko(CINE) is None


@pytest.mark.parametrize("references, title, message", [
    ([], None, "at least one"),
    ([{"study_uid": "1.2.3"}], None, "lacks"),
    ([CINE], ("999999", "DCM", "Nonsense"), "unknown"),
])
def test_bad_input_is_refused_before_writing(tmp_path, references, title, message):
    with pytest.raises(FormatError, match=message):
        ko.write_ko(references, title=title, output=tmp_path / "ko.dcm")
    assert list(tmp_path.iterdir()) == []


def test_document_constructor():
    source = pydicom.dcmread(CINE, stop_before_pixels=True)
    content = ko.KeyObjectSelection(hd.sr.CodedConcept("113000", "DCM", "Of Interest"), [source])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = ko.KeyObjectSelectionDocument([source], content, "1.2.826.0.1.3680043.8.498.30", 1,
                                                 "1.2.826.0.1.3680043.8.498.31", 1, manufacturer="x")
    assert document.SOPClassUID == ko.KEY_OBJECT_SELECTION
    assert document.content.get_references()[0].referenced_sop_instance_uid == source.SOPInstanceUID
