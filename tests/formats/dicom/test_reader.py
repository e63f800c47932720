"""sonobridge.formats.dicom.reader: DICOM files as recordings of the core model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from sonobridge.dicom import decode
from sonobridge.errors import SonobridgeError
from sonobridge.formats import open_recording
from sonobridge.formats.dicom.reader import read_dicom

from support import CINE, DICOM, PALETTE


def test_a_colour_cine_reads_as_rgb_frames_with_their_times():
    recording = read_dicom(CINE)
    stream, = recording.streams.values()
    ds = pydicom.dcmread(CINE)
    assert stream.n_frames == int(ds.NumberOfFrames) and stream.frame_shape == (ds.Rows, ds.Columns, 3)
    assert stream.dtype == np.uint8 and np.all(np.diff(stream.timestamps_s) > 0)
    assert recording.provenance.source_files == (str(CINE),)


def test_a_palette_image_is_read_and_a_non_dicom_file_is_refused(tmp_path):
    stream, = read_dicom(PALETTE).streams.values()
    assert stream.n_frames >= 1 and stream.frame_shape[-1] == 3
    (tmp_path / "x.dcm").write_bytes(b"not a DICOM file" * 10)
    with pytest.raises(SonobridgeError, match="x.dcm"):
        read_dicom(tmp_path / "x.dcm")


def test_regions_of_a_multi_region_palette_file():
    recording = open_recording(DICOM / "pydicom-data" / "OBXXXX1A_rle_2frame.dcm")
    stream = recording["image"]
    kinds = sorted(r["spatial_format"] for r in stream.parameters["us_regions"])
    assert kinds == ["2D", "waveform"]
    assert stream.geometry.pixel_size_m == pytest.approx(0.0002623, rel=1e-3)
    assert stream.timestamps_s is None                     # no frame timing in this file


def test_dicom_files_without_a_suffix_are_found_in_folders(tmp_path):
    import shutil

    from sonobridge.formats import find_recordings

    (tmp_path / "export" / "SE1").mkdir(parents=True)
    shutil.copy(DICOM / "pydicom" / "examples_ybr_color.dcm", tmp_path / "export" / "SE1" / "IM0001")
    (tmp_path / "export" / "SE1" / "README").write_text("not DICOM")
    assert [Path(s.label).name for s in find_recordings(tmp_path / "export")] == ["IM0001"]


def test_palette_files_read_as_their_display_colours():
    import pydicom
    from pydicom.pixels import apply_color_lut

    path = DICOM / "pydicom-data" / "OBXXXX1A_2frame.dcm"
    stream = open_recording(path)["image"]
    ds = pydicom.dcmread(path)
    expected = (apply_color_lut(ds.pixel_array, ds) >> 8).astype(np.uint8)
    assert stream.frame_shape == (600, 800, 3) and np.array_equal(np.asarray(stream.frames), expected)
    assert decode(path).shape == (2, 600, 800)                    # decode() keeps pydicom's indices
