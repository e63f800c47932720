"""Privacy: ``anonymise`` (DICOM PS3.15 basic profile) applies to every output sonobridge writes.

A DICOM with distinctive identity (names, IDs, institution, physicians, dates and times,
accession number, UIDs, a private tag) is converted to zea (also zea -> zea), DICOM and video, and
processed (and previewed), with anonymise on: no identifying value of the source appears in any output file's
bytes, nor in any string read back from the HDF5 files (datasets and attributes, JSON included),
nor in the name of any file written (the source sits at ``<Name_Surname_ID>/<Name_date>.dcm``: outputs
and reports name it by a keyed pseudonym, stable under the output folder's key, the same in every
worker process). Without anonymise, identity is kept as given, never invented."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import re
import stat
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.datadict import keyword_for_tag
from pydicom.uid import ExplicitVRLittleEndian

from sonobridge.cli import main
from sonobridge.core.anonymise import (BASIC_PROFILE, KEY_ENV, KEY_FILE, anonymise_dicom_json, identifying_values,
                                       output_key, pseudonym, replace_uid)
from sonobridge.errors import SonobridgeError
from sonobridge.pipeline.report import overall
from sonobridge.pipeline.run import discover, process, run_item
from sonobridge.formats.zea.writer import export_zea
from sonobridge.formats import open_recording

IDENTITY = {
    "PatientName": "Zyxwvut^Qwerty", "PatientID": "PID987654", "PatientBirthDate": "19710203",
    "PatientSex": "F", "PatientAge": "052Y", "PatientAddress": "12 Qxlane Rdx", "OtherPatientIDs": "OPID4455",
    "InstitutionName": "Qqxyzzy Hospital", "InstitutionAddress": "77 Zzqstreet", "StationName": "STATIONQ77",
    "ReferringPhysicianName": "Drwhoqq^Jekyllx", "PerformingPhysicianName": "Vvmedic^Hydeqq",
    "OperatorsName": "Oopera^Torqq", "AccessionNumber": "ACC55544433", "StudyID": "STUDYX998",
    "StudyDate": "20230417", "StudyTime": "101112", "SeriesDate": "20230418", "ContentDate": "20230419",
    "ContentTime": "131415", "AcquisitionDateTime": "20230420161718", "DeviceSerialNumber": "SNQ123987",
    "StudyDescription": "Qzstudy of Zyxwvut", "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.98765432101",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.98765432102",
    "SOPInstanceUID": "1.2.826.0.1.3680043.8.498.98765432103",
    # free text of PS3.15 Table E.1-1 that tables tend to forget
    "IdentifyingComments": "Idcomment Zyxwvutqq", "VisitComments": "Visit of Qwertyqq", "PatientState": "Stateqq77",
    "RequestedProcedureComments": "Reqproc Zzcomment", "ImagingServiceRequestComments": "Isrcomment Qq55",
    "ScheduledProcedureStepDescription": "Spsdesc Qq66", "ScheduledProcedureStepID": "SPSIDQ4411",
    "CommentsOnThePerformedProcedureStep": "Ppscomment Qq88", "InsurancePlanIdentification": "INSPLANQ3322",
    "ResponsibleOrganization": "Resporg Qqltd", "PlateID": "PLATEQ9911", "DetectorID": "DETQ8822",
    "PatientComments": "Patcomment Qq44", "AdditionalPatientHistory": "History of Qqfever", "Occupation": "Qqwelder",
    "EthnicGroup": "Qqethnic", "MilitaryRank": "Qqcaptain", "InstitutionalDepartmentName": "Qqradiology dept",
    "RequestingPhysician": "Reqdoc^Qqname", "OtherPatientNames": "Otherqq^Namezz",
}
#: sequences of Table E.1-1 whose items hold free text no table entry of their own removes
SEQUENCE_TEXT = {"AcquisitionContextSequence": "ACQCTXQQ5501", "AuthorObserverSequence": "AUTHORQQ6602",
                 "CustodialOrganizationSequence": "CUSTODYQQ7703", "OtherPatientIDsSequence": "OTHERIDSQQ8804"}
PRIVATE = "PRIVATEQQ123"
#: text forms the values may take in outputs: as stored, and dates/times as ISO text
SEARCHED = [v for v in IDENTITY.values() if len(v) > 3] + list(SEQUENCE_TEXT.values()) + [
    PRIVATE, "Zyxwvut", "Qwerty", "1971-02-03", "2023-04-17", "2023-04-19", "2023-04-20", "10:11:12", "13:14:15"]


def write_identified_dicom(path: Path) -> Path:
    """An 8-bit grey US multi-frame file carrying the identity above and a private element."""
    frames = np.random.default_rng(4).integers(0, 256, (4, 48, 64), dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.file_meta.MediaStorageSOPInstanceUID = IDENTITY["SOPInstanceUID"]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    for keyword, value in IDENTITY.items():
        setattr(ds, keyword, value)
    for keyword, text in SEQUENCE_TEXT.items():
        item = Dataset()
        item.TextValue = text
        setattr(ds, keyword, [item])
    ds.Modality = "US"
    ds.add_new(0x00090010, "LO", "QQ PRIVATE CREATOR")
    ds.add_new(0x00091001, "LO", PRIVATE)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 48, 64, 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = 40.0
    ds.FrameIncrementPointer = 0x00181063
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _strings(path: Path) -> list[str]:
    """Every string held in an HDF5 file: attribute and dataset values (JSON text included)."""
    found: list[str] = []

    def add(value) -> None:
        for item in np.asarray(value, dtype=object).ravel():
            found.append(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item))

    with h5py.File(path, "r", locking=False) as handle:
        def visit(name, item):
            found.append(name)
            for value in item.attrs.values():
                add(value)
            if isinstance(item, h5py.Dataset) and (item.dtype.kind in "SUO" or item.dtype == bool):
                add(item[()])
        for value in handle.attrs.values():
            add(value)
        handle.visititems(visit)
    return found


def assert_no_identity(folder: Path) -> list[Path]:
    """No identifying value in any file's bytes (nor strings of HDF5 files) nor in any name written."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        texts = [data.decode("latin-1"), str(path.relative_to(folder))]
        if data[:8] == b"\x89HDF\r\n\x1a\n":
            texts += _strings(path)
        for value in SEARCHED:
            assert not any(value in text for text in texts), f"{value!r} in {path.name}"
    return files


@pytest.fixture()
def source(tmp_path) -> Path:
    """The identified file, named as sites name them: the subject's folder, name and study date."""
    folder = tmp_path / "in" / "Zyxwvut_Qwerty_PID987654"
    folder.mkdir(parents=True)
    return write_identified_dicom(folder / "Zyxwvut_20230417.dcm")


def test_profile_table_names_the_dicom_attributes_of_its_tags():
    assert all(keyword_for_tag(tag) == keyword for tag, (keyword, _) in BASIC_PROFILE.items())
    assert replace_uid("1.2.3") == replace_uid("1.2.3") != replace_uid("1.2.4")
    assert len(replace_uid("1.2.3")) <= 64


def test_the_profile_on_the_kept_header(source):
    header = pydicom.dcmread(source).to_json_dict()
    anonymised = anonymise_dicom_json(header)
    text = str(anonymised)
    assert not [value for value in SEARCHED if value in text]
    assert anonymised["00100010"] == {"vr": "PN"} and anonymised["00080050"] == {"vr": "SH"}   # Type 2: empty
    assert "00080080" not in anonymised and "00091001" not in anonymised                      # removed
    assert anonymised["0020000D"]["Value"] == [replace_uid(IDENTITY["StudyInstanceUID"])]      # consistent
    assert anonymised["00120062"]["Value"] == ["YES"]
    assert anonymised["00080016"] == header["00080016"] and anonymised["00080060"] == header["00080060"]
    assert {"Zyxwvut^Qwerty", "PID987654", "20230417"} <= set(identifying_values(header))


def test_without_anonymise_identity_is_kept_as_given_never_invented(source, tmp_path):
    out = export_zea(open_recording(source), tmp_path / "kept.hdf5")
    text = "\n".join(_strings(out))
    assert "Zyxwvut^Qwerty" in text and "PID987654" in text and "Qqxyzzy Hospital" in text
    assert main(["convert", str(source), str(tmp_path / "kept.dcm"), "-q"]) == 0
    written = pydicom.dcmread(tmp_path / "kept.dcm")
    assert str(written.PatientName) == "" and written.PatientID == ""               # not invented
    assert main(["convert", str(source), str(tmp_path / "named.dcm"), "--patient-name", "Given^Name", "-q"]) == 0
    assert str(pydicom.dcmread(tmp_path / "named.dcm").PatientName) == "Given^Name"


def test_convert_and_video_with_anonymise_write_no_identity(source, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", str(source), str(out / "a.hdf5"), "--anonymise", "-q"]) == 0
    assert main(["convert", str(source), str(out / "a.dcm"), "--anonymise", "-q"]) == 0
    assert main(["video", str(source), "--out-dir", str(out), "--anonymise", "-q"]) == 0
    assert main(["preview", str(source), "--out-dir", str(out), "--anonymise", "-q"]) == 0
    identified = export_zea(open_recording(source), tmp_path / "identified.hdf5")      # zea -> zea too
    assert main(["convert", str(identified), str(out / "again.hdf5"), "--anonymise", "-q"]) == 0
    files = assert_no_identity(out)
    assert {p.suffix for p in files} >= {".hdf5", ".dcm", ".mp4", ".json", ".dnav-toc", ".png"}
    recording = open_recording(out / "a.hdf5")
    assert recording.start_time is None and np.array_equal(np.asarray(recording.streams["image"].frames),
                                                           np.asarray(open_recording(source).streams["image"].frames))
    header = recording.streams["image"].metadata
    assert header["00120062"]["Value"] == ["YES"] and header["00100010"] == {"vr": "PN"}
    written = pydicom.dcmread(out / "a.dcm")
    assert written.PatientIdentityRemoved == "YES"
    assert written.DeidentificationMethodCodeSequence[0].CodeValue == "113100"


def test_process_with_anonymise_names_by_pseudonym_writes_no_identity_and_rematches(source, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    out = tmp_path / "processed"
    assert main(["process", str(source.parent.parent), "--out", str(out), "--dicom", "--anonymise", "-q"]) == 0
    files = assert_no_identity(out)                    # output file names included
    assert {p.suffix for p in files} >= {".hdf5", ".dcm", ".mp4", ".json", ".html"}
    (label,) = json.loads((out / "sonobridge-report.json").read_text())["results"]
    assert re.fullmatch(r"recording-[0-9a-f]{16}", label) and (out / f"{label}.hdf5").is_file()
    assert stat.S_IMODE((out / KEY_FILE).stat().st_mode) == 0o600
    written = open_recording(out / f"{label}.hdf5")
    assert written.name.startswith("recording-") and written.streams["image"].provenance.source_files == ()
    # a re-run finds its previous results under the same pseudonym (the folder's key): all hits
    results = process(source.parent.parent, out, dicom=True, anonymise=True, progress=False)
    assert list(results) == [label] and overall(results[label]) == "hit"
    assert sorted(assert_no_identity(out)) == sorted(files)      # nothing new written, nothing identifying
    # without anonymise identity is kept, under the source's own name
    kept = tmp_path / "kept"
    assert main(["process", str(source.parent.parent), "--out", str(kept), "-q"]) == 0
    assert "Zyxwvut^Qwerty" in "\n".join(_strings(kept / "Zyxwvut_20230417.hdf5"))


def test_anonymised_report_names_no_unreadable_source(tmp_path):
    broken = tmp_path / "in" / "Zyxwvut_Qwerty_PID987654" / "Zyxwvut_20230417.dcm"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"DICM" * 10)
    out = tmp_path / "out"
    missing = broken.parent / "Qwerty_PID987654_19710203.dcm"
    results = process([broken, missing], out, anonymise=True, progress=False)
    assert len(results) == 2 and all(re.fullmatch(r"recording-[0-9a-f]{16}", label) for label in results)
    assert all(overall(result) == "error" for result in results.values())
    assert_no_identity(out)


def test_convert_to_a_folder_with_anonymise_names_outputs_by_pseudonym(source, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    out = tmp_path / "converted"
    assert main(["convert", str(source.parent.parent), "--out-dir", str(out), "--anonymise", "-q"]) == 0
    assert main(["convert", str(source), "--out-dir", str(out), "--to", "dicom", "--anonymise", "-q"]) == 0
    files = assert_no_identity(out)
    stems = {p.name.split(".")[0] for p in files if not p.name.startswith(".")}
    assert len(stems) == 1 and re.fullmatch(r"recording-[0-9a-f]{16}", stems.pop())
    assert {p.suffix for p in files} >= {".hdf5", ".dcm"}
    again = tmp_path / "again"                           # another folder, another key: another pseudonym
    assert main(["convert", str(source), "--out-dir", str(again), "--anonymise", "-q"]) == 0
    assert {p.name for p in again.glob("*.hdf5")}.isdisjoint(p.name for p in files)
    # a file name the user gives is theirs, kept as given
    assert main(["convert", str(source), str(tmp_path / "named" / "mine.hdf5"), "--anonymise", "-q"]) == 0
    assert (tmp_path / "named" / "mine.hdf5").is_file()


def test_output_key_is_made_once_private_and_overridden_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = output_key(tmp_path / "a")
    assert len(key) == 32 and stat.S_IMODE((tmp_path / "a" / KEY_FILE).stat().st_mode) == 0o600
    assert output_key(tmp_path / "a") == key != output_key(tmp_path / "b")
    assert pseudonym("p/x.dcm", key) == pseudonym("p/x.dcm", key) != pseudonym("p/x.dcm", output_key(tmp_path / "b"))
    assert replace_uid("1.2.3", key) != replace_uid("1.2.3", output_key(tmp_path / "b"))
    assert not list((tmp_path / "a").glob("*.partial"))
    (tmp_path / "b" / KEY_FILE).write_text("not a key")
    with pytest.raises(SonobridgeError, match="anonymisation key"):
        output_key(tmp_path / "b")
    monkeypatch.setenv(KEY_ENV, "shared-secret")
    assert output_key(tmp_path / "a") == output_key(tmp_path / "c") == b"shared-secret"


def test_workers_in_separate_processes_replace_a_uid_alike(tmp_path, monkeypatch):
    """Two recordings of one study, each run by a worker in its own process (as on a Dask
    cluster) with the run's key: the study's UID maps to the same replacement in both."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    (tmp_path / "in").mkdir()
    for name in ("a.dcm", "b.dcm"):
        write_identified_dicom(tmp_path / "in" / name)
    out = tmp_path / "out"
    key = output_key(out)
    items, _ = discover([tmp_path / "in"])
    items = [replace(item, anonymise=True, stem=pseudonym(item.label, key)) for item in items]
    spawn = multiprocessing.get_context("spawn")
    for item in items:                                   # one fresh process per item
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            assert pool.submit(run_item, item, str(out), ("ingest",), anonymise_key=key).result()["ingest"] == "built"
    uids = {open_recording(out / f"{item.stem}.hdf5").streams["image"].metadata["0020000D"]["Value"][0]
            for item in items}
    assert len(items) == 2 and uids == {replace_uid(IDENTITY["StudyInstanceUID"], key)}


def test_zea_subject_and_acquisition_time_are_not_copied_when_anonymising(tmp_path):
    from sonobridge.zea import validate

    from support import ZEA

    out = export_zea(open_recording(ZEA / "tiny.hdf5"), tmp_path / "anon.hdf5", anonymise=True)
    with h5py.File(out, "r", locking=False) as handle, h5py.File(ZEA / "tiny.hdf5", "r", locking=False) as source:
        assert "metadata/subject/id" in source and "metadata/subject" not in handle
        assert "acquisition_time" not in handle.attrs
        assert np.array_equal(handle["tracks/track_0/data/raw_data"][()], source["tracks/track_0/data/raw_data"][()])
    assert validate(out).valid
    stamped = tmp_path / "stamped.hdf5"
    with h5py.File(stamped, "w") as handle, h5py.File(ZEA / "img_None.hdf5", "r", locking=False) as source:
        for key in source:
            source.copy(source[key], handle, key)
        handle.attrs.update({**source.attrs, "acquisition_time": dt.datetime(2023, 4, 17, 10, 11, 12).isoformat()})
    assert open_recording(stamped).start_time is not None
    out = export_zea(open_recording(stamped), tmp_path / "stamped_anon.hdf5", anonymise=True)
    assert open_recording(out).start_time is None and "2023-04-17" not in "\n".join(_strings(out))
