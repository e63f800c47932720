"""sonobridge.formats.dicom.writer: recordings written as Ultrasound Multi-frame Image objects,
checked with dciodvfy and read back."""
from __future__ import annotations

import numpy as np
import pytest

from sonobridge.cli import main
from sonobridge.errors import SonobridgeError
from sonobridge.formats import open_recording

from support import DICOM, dciodvfy_errors


@pytest.mark.parametrize("compression", ["none", "rle", "jpeg-ls", "jpeg"])
@pytest.mark.parametrize("source", ["clarius", "dicom_rgb"])
def test_written_us_multiframe_is_valid_and_reads_back(tmp_path, clarius_data, compression, source):
    from sonobridge.formats.dicom import export_dicom

    if source == "clarius":
        recording = open_recording(clarius_data / "carotid_doppler_2020", probe="L7")
    else:
        recording = open_recording(DICOM / "pydicom" / "examples_ybr_color.dcm")
    from sonobridge.formats.dicom.writer import dicom_stream

    stream = dicom_stream(recording)
    path = export_dicom(recording, tmp_path / "us.dcm", compression=compression,
                        patient={"name": "Doe^Jane", "id": "P-1"})
    assert dciodvfy_errors(path) == []
    back = open_recording(path)["image"]
    original = np.asarray(stream.frames)
    tolerance = 12 if compression == "jpeg" else 0
    assert back.shape == stream.shape
    assert np.abs(np.asarray(back.frames).astype(int) - original).max() <= tolerance
    assert back.geometry.pixel_size_m == pytest.approx(stream.geometry.pixel_size_m, rel=1e-6)
    assert np.allclose(back.geometry.x_m, stream.geometry.x_m, atol=stream.geometry.pixel_size_m)
    if stream.n_frames > 1:
        assert np.allclose(back.timestamps_s, stream.timestamps_s - stream.timestamps_s[0], atol=1e-6)
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (str(ds.PatientName), ds.PatientID, ds.Modality) == ("Doe^Jane", "P-1", "US")
    assert ds.LossyImageCompression == ("01" if compression == "jpeg" else "00")


def test_anonymised_export_and_no_invented_identity(tmp_path):
    import pydicom

    from sonobridge.formats.dicom import export_dicom

    recording = open_recording(DICOM / "pydicom" / "examples_ybr_color.dcm")
    plain = export_dicom(recording, tmp_path / "plain.dcm")
    ds = pydicom.dcmread(plain, stop_before_pixels=True)
    assert (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate) == ("", "", "")   # not invented
    assert ds.StudyDate == recording.start_time.strftime("%Y%m%d")
    anonymous = export_dicom(recording, tmp_path / "anon.dcm", anonymise=True,
                             patient={"name": "Doe^Jane", "id": "P-1"})
    ds = pydicom.dcmread(anonymous, stop_before_pixels=True)
    assert (str(ds.PatientName), ds.PatientID, ds.StudyDate, ds.PatientIdentityRemoved) == ("", "", "", "YES")
    assert dciodvfy_errors(anonymous) == []
    with pytest.raises(SonobridgeError, match="exists"):
        export_dicom(recording, anonymous)


def test_cli_converts_a_clarius_capture_to_dicom(tmp_path, clarius_data, capsys):
    out = tmp_path / "capture.dcm"
    assert main(["convert", str(clarius_data / "carotid_doppler_2020"), str(out), "--probe", "L7",
                 "--dicom-compression", "jpeg-ls", "--patient-id", "P-7", "-q"]) == 0
    assert dciodvfy_errors(out) == []
    import pydicom

    ds = pydicom.dcmread(out, stop_before_pixels=True)
    assert ds.PatientID == "P-7" and ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
    assert main(["convert", str(clarius_data / "carotid_doppler_2020"), str(out), "-q"]) == 1
    assert "exists" in capsys.readouterr().err
