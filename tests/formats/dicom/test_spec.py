"""sonobridge.formats.dicom.spec: DICOM files found by suffix or by their DICM magic, written as
ultrasound multi-frame objects through the spec."""
from __future__ import annotations

import shutil

import numpy as np

from sonobridge.core.recording import Recording
from sonobridge.formats.dicom.spec import SPECS

from support import CINE, image_stream, moving_frames


def test_dicom_files_are_claimed_by_suffix_or_magic_and_open(tmp_path):
    spec, = SPECS
    shutil.copy(CINE, tmp_path / "cine.dcm")
    shutil.copy(CINE, tmp_path / "IM0001")                    # DICOMDIR style: no suffix, DICM magic
    (tmp_path / "README").write_text("not DICOM " * 20)
    (tmp_path / "notes.txt").write_bytes(CINE.read_bytes())   # a suffix of another kind: not offered
    sources = spec.claim(tmp_path, sorted(tmp_path.iterdir()), False)
    assert sorted(s.label for s in sources) == sorted(str(tmp_path / n) for n in ("IM0001", "cine.dcm"))
    assert all(s.format == "dicom" for s in sources)
    recording = sources[0].open()
    assert recording.streams


def test_a_recording_written_through_the_spec_decodes_and_names_the_patient(tmp_path):
    import pydicom

    spec, = SPECS
    frames = moving_frames(3, 24, 32)
    path = spec.write(Recording("r", {"image": image_stream(frames)}), tmp_path / "r.dcm",
                      patient_name="Doe^Jane", patient_id="P-1", compression="rle")
    assert spec.output_done(path)
    ds = pydicom.dcmread(path)
    assert str(ds.PatientName) == "Doe^Jane" and ds.PatientID == "P-1"
    assert np.array_equal(ds.pixel_array, frames)
