"""sonobridge.dicom.fhir: DICOM instances as FHIR R4 ImagingStudy resources, validated with
fhir.resources (its R4B models: FHIR 4.3.0, whose ImagingStudy and Patient are R4's; the pydantic-2
releases of fhir.resources carry no 4.0.1 package) on real files and on datasets we fill."""
from __future__ import annotations

import io
import json

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from sonobridge.dicom import fhir
from sonobridge.dicom.io import save_dataset
from sonobridge.errors import FormatError, UnsupportedInputError
from support import CINE, DICOM, PALETTE

pytest.importorskip("fhir.resources")
from fhir.resources.R4B.imagingstudy import ImagingStudy  # noqa: E402
from fhir.resources.R4B.patient import Patient  # noqa: E402

#: R4 ImagingStudy.status (required binding)
STATUSES = {"registered", "available", "cancelled", "entered-in-error", "unknown"}


def _validated(study: dict) -> ImagingStudy:
    """fhir.resources' model of ``study`` (raises on any deviation from the FHIR model)."""
    model = ImagingStudy.model_validate(study)
    assert model.status in STATUSES
    fhir.validate(study)
    return model


def _dataset(**values) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize("path", [CINE, PALETTE, DICOM / "pydicom" / "CT_small.dcm",
                                  DICOM / "pydicom" / "MR_small.dcm"], ids=lambda p: p.name)
def test_real_files_give_valid_imaging_studies(path):
    from pydicom import dcmread

    ds = dcmread(path, stop_before_pixels=True)
    study = fhir.imaging_study(path)
    model = _validated(study)
    assert model.id == ds.StudyInstanceUID
    assert model.identifier[0].system == "urn:dicom:uid"
    assert model.identifier[0].value == f"urn:oid:{ds.StudyInstanceUID}"
    assert model.modality[0].code == ds.Modality and model.modality[0].system == fhir.DCM_SYSTEM
    assert model.numberOfSeries == model.numberOfInstances == 1
    series = model.series[0]
    assert series.uid == ds.SeriesInstanceUID and series.instance[0].uid == ds.SOPInstanceUID
    assert series.instance[0].sopClass.code == f"urn:oid:{ds.SOPClassUID}"
    patient = Patient.model_validate(study["contained"][0])
    assert model.subject.reference == f"#{patient.id}" and patient.id.startswith("patient-")
    if ds.get("PatientID"):
        assert patient.identifier[0].value == ds.PatientID
    json.dumps(study)                                   # plain JSON


def test_bytes_and_file_objects_give_the_same_study():
    data = CINE.read_bytes()
    assert fhir.imaging_study(data) == fhir.imaging_study(io.BytesIO(data)) == fhir.imaging_study(str(CINE))


def test_demographics_dates_and_accession_are_mapped(tmp_path):
    ds = _dataset(Modality="US", PatientName="Doe^Jane^Q^Dr^PhD", PatientID="P-7", PatientSex="F",
                  PatientBirthDate="19800131", AccessionNumber="ACC-1", StudyDate="20240131", StudyTime="142501.25",
                  TimezoneOffsetFromUTC="+0100", StudyDescription="Carotid", SeriesNumber=3, InstanceNumber=7,
                  SeriesDescription="left CCA", BodyPartExamined="NECK", Laterality="L",
                  ReferringPhysicianName="House^Greg")
    path = tmp_path / "us.dcm"
    save_dataset(ds, path)
    study = fhir.imaging_study(path)
    model = _validated(study)
    assert model.started.isoformat() == "2024-01-31T14:25:01.250000+01:00"
    assert model.description == "Carotid" and model.referrer.display == "Greg House"
    assert model.identifier[1].value == "ACC-1" and model.identifier[1].type.coding[0].code == "ACSN"
    series = model.series[0]
    assert (series.number, series.instance[0].number, series.description) == (3, 7, "left CCA")
    assert series.bodySite.display == "NECK" and series.laterality.code == "L"
    patient = Patient.model_validate(study["contained"][0])
    assert patient.gender == "female" and patient.birthDate.isoformat() == "1980-01-31"
    name = patient.name[0]
    assert (name.family, name.given, name.prefix, name.suffix) == ("Doe", ["Jane", "Q"], ["Dr"], ["PhD"])


def test_a_time_without_utc_offset_keeps_the_date_only():
    study = fhir.imaging_study(_dataset(Modality="US", StudyDate="20240131", StudyTime="1425"))
    assert study["started"] == "2024-01-31"
    _validated(study)


def test_empty_values_are_left_out():
    study = fhir.imaging_study(_dataset(Modality="US", PatientName="", PatientID="", AccessionNumber=""))
    _validated(study)
    patient = study["contained"][0]
    assert set(patient) == {"resourceType", "id"} and len(study["identifier"]) == 1


def test_same_patient_same_local_id_other_patient_other_id():
    one = fhir.imaging_study(_dataset(Modality="US", PatientID="A", PatientName="X^Y"))
    again = fhir.imaging_study(_dataset(Modality="US", PatientID="A", PatientName="X^Y"))
    other = fhir.imaging_study(_dataset(Modality="US", PatientID="B", PatientName="X^Y"))
    assert one["subject"] == again["subject"] != other["subject"]


def test_no_study_uid_raises():
    ds = _dataset(Modality="US")
    del ds.StudyInstanceUID
    with pytest.raises(FormatError, match="StudyInstanceUID"):
        fhir.imaging_study(ds)


def test_not_dicom_raises_the_packages_error(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_bytes(b"not dicom at all" * 20)
    with pytest.raises(UnsupportedInputError):
        fhir.imaging_study(path)


def test_validate_finds_model_errors_and_dangling_references():
    study = fhir.imaging_study(_dataset(Modality="US"))
    with pytest.raises(FormatError, match="numberOfSeries"):
        fhir.validate({**study, "numberOfSeries": -1})
    with pytest.raises(FormatError, match="no contained resource"):
        fhir.validate({**study, "subject": {"reference": "#patient-elsewhere"}})


def test_validate_without_fhir_resources_names_the_extra(monkeypatch):
    import sys

    from sonobridge.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "fhir.resources.R4B", None)
    with pytest.raises(MissingDependencyError, match=r"sonobridge\[fhir\]"):
        fhir.validate(fhir.imaging_study(CINE))
