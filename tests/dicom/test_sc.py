"""Secondary capture (sonobridge.dicom.sc)."""
from __future__ import annotations

import numpy as np
import pytest

from support import dciodvfy_errors, image_stream, moving_frames

pytest.importorskip("highdicom")

GREY = np.arange(2 * 8 * 6, dtype=np.uint8).reshape(2, 8, 6)


@pytest.mark.parametrize("array, photometric", [(GREY, "MONOCHROME2"), (GREY[0], "MONOCHROME2"),
                                                (np.stack([GREY] * 3, -1), "RGB"),
                                                (GREY[0].astype(np.uint16) * 100, "MONOCHROME2")])
def test_sc_is_valid_and_pixels_round_trip(tmp_path, array, photometric):
    import highdicom as hd
    import pydicom

    from sonobridge.dicom import sc

    out = tmp_path / "sc.dcm"
    sc.write_sc(array, photometric, output=out)
    assert dciodvfy_errors(out) == []
    assert np.array_equal(pydicom.dcmread(out).pixel_array, array)
    if array.ndim == 2:
        assert np.array_equal(hd.imread(out).get_frame(1), array)


def test_sc_derived_from_an_ultrasound_cine(tmp_path):
    import pydicom

    from sonobridge.dicom import sc
    from sonobridge.dicom.uid import generate_uid
    from sonobridge.errors import SonobridgeError
    from sonobridge.formats.dicom import export_dicom

    us = pydicom.dcmread(export_dicom(image_stream(moving_frames(3, 32, 24)), tmp_path / "us.dcm"))
    ds = sc.SCImage.from_ref_dataset(us, pixel_array=us.pixel_array[0], photometric_interpretation="MONOCHROME2",
                                     bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=generate_uid(),
                                     series_number=3, sop_instance_uid=generate_uid(), instance_number=1,
                                     manufacturer="sonobridge")
    sc.derived_from(ds, us, [1], "frame 1 of the cine with the ML contour burnt in")
    out = tmp_path / "sc_from_us.dcm"
    ds.save_as(out, enforce_file_format=True)
    assert dciodvfy_errors(out) == []
    back = pydicom.dcmread(out)
    assert back.StudyInstanceUID == us.StudyInstanceUID and back.PatientID == us.PatientID
    assert back.SourceImageSequence[0].ReferencedSOPInstanceUID == us.SOPInstanceUID
    assert back.SourceImageSequence[0].ReferencedFrameNumber == 1
    np.testing.assert_array_equal(back.pixel_array, us.pixel_array[0])
    with pytest.raises(SonobridgeError):
        sc.derived_from(ds, us, [4])


@pytest.mark.parametrize("array", [GREY.astype(np.float32), np.zeros((0, 4), np.uint8),
                                   np.zeros((2, 3, 4, 5), np.uint8)])
def test_bad_input_raises_before_writing(tmp_path, array):
    from sonobridge.dicom import sc
    from sonobridge.errors import SonobridgeError

    with pytest.raises(SonobridgeError):
        sc.write_sc(array, output=tmp_path / "sc.dcm")
    assert list(tmp_path.iterdir()) == []
