"""DICOM File-sets: a DICOMDIR we write is conformant (dciodvfy), read back by pydicom and lists
every instance; reading, find / find_values and the record-hierarchy attribute fallback."""
from __future__ import annotations

from pathlib import Path

import pytest

from sonobridge.dicom.fileset import FileInstance, FileSet

from support import DICOM, dciodvfy_errors

SOURCES = ["pydicom/CT_small.dcm", "pydicom/MR_small.dcm", "pydicom/JPEG2000.dcm"]


def instances(folder: Path, copies: int = 2) -> list[Path]:
    """Fixture copies with new SOP Instance UIDs (two studies, three series): the files to index."""
    import pydicom
    from pydicom.uid import generate_uid

    folder.mkdir()
    paths = []
    for source in SOURCES:
        for copy in range(copies):
            ds = pydicom.dcmread(DICOM / source)
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.InstanceNumber = copy + 1
            path = folder / f"{Path(source).stem}_{copy}.dcm"
            ds.save_as(path)
            paths.append(path)
    return paths


def test_written_dicomdir_is_valid_and_lists_every_instance(tmp_path):
    import pydicom
    import pydicom.fileset

    files = instances(tmp_path / "in")
    fs = FileSet()
    for path in files[:-1]:
        fs.add(path)
    extra = pydicom.dcmread(files[-1])                       # staged as a dataset, not a file
    fs.add(extra)
    dicomdir = fs.write(tmp_path / "media")
    assert dicomdir == str(tmp_path / "media" / "DICOMDIR") and dciodvfy_errors(Path(dicomdir)) == []
    theirs = pydicom.fileset.FileSet(pydicom.dcmread(dicomdir))
    wanted = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in files}
    assert {str(i.SOPInstanceUID) for i in theirs} == wanted and len(theirs) == len(files)
    assert theirs.ID == "PYDCM_FILESET"
    by_uid = {str(i.SOPInstanceUID): i for i in fs}
    for path in files[:-1]:                                   # staged files are copied byte for byte
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        assert Path(by_uid[uid].path).read_bytes() == path.read_bytes()
    assert by_uid[str(extra.SOPInstanceUID)].load().PixelData == extra.PixelData


def test_read_find_and_record_fallback(tmp_path):
    import pydicom

    files = instances(tmp_path / "in")
    writer = FileSet()
    for path in files:
        writer.add(path)
    writer.write(tmp_path / "media", file_set_id="SONO")
    fs = FileSet(tmp_path / "media")                          # the folder, or the DICOMDIR itself
    assert len(fs) == len(FileSet(tmp_path / "media" / "DICOMDIR")) == 6 and fs.ID == "SONO"
    assert len(FileSet(pydicom.dcmread(tmp_path / "media" / "DICOMDIR"))) == 6
    ct = pydicom.dcmread(DICOM / SOURCES[0], stop_before_pixels=True)
    found = fs.find(PatientID=ct.PatientID)
    assert len(found) == 2 and all(isinstance(i, FileInstance) for i in found)
    first = found[0]
    assert first.StudyInstanceUID == ct.StudyInstanceUID and first.PatientID == ct.PatientID   # STUDY / PATIENT records
    assert first.SOPClassUID == ct.SOPClassUID and first.FileID[0].startswith("PT")
    assert first.load().Modality == "CT"
    with pytest.raises(AttributeError):
        first.NotAKeyword  # noqa: B018
    assert len(fs.find(load=True, Modality="MR", InstanceNumber=2)) == 1   # file values, not in records
    modalities = [pydicom.dcmread(DICOM / source, stop_before_pixels=True).Modality for source in SOURCES]
    assert fs.find_values("Modality") == list(dict.fromkeys(modalities))          # SERIES records, distinct
    assert fs.find_values("PatientID", found) == [ct.PatientID]


def test_rewriting_a_read_file_set_and_bad_inputs(tmp_path):
    from sonobridge.errors import OutputError, UnsupportedInputError

    files = instances(tmp_path / "in", copies=1)
    first = FileSet()
    first.add(files[0])
    first.write(tmp_path / "one")
    again = FileSet(tmp_path / "one")
    again.add(files[1])
    again.write(tmp_path / "two")
    assert len(FileSet(tmp_path / "two")) == 2
    with pytest.raises(OutputError):
        again.write(tmp_path / "two")                           # a File-set is already there
    with pytest.raises(UnsupportedInputError):
        FileSet(tmp_path / "nowhere")
