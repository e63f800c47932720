"""Regression tests for problems a code review found (each names the failure it guards against)."""
from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

import sonobridge.zea as sz
from sonobridge.core.frames import LazyFrames
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import Provenance, Recording, SampleKind, Stream
from sonobridge.errors import FormatError, SonobridgeError
from sonobridge.formats.zea.writer import export_zea
from sonobridge.pipeline.run import process

from conftest import SHARED
from telemed_synth import make_sidecar

CINE = SHARED / "data" / "dicom" / "wheels" / "pydicom" / "examples_ybr_color.dcm"
PALETTE = SHARED / "data" / "dicom" / "wheels" / "pydicom-data" / "OBXXXX1A.dcm"


def stream(frames, kind=SampleKind.IMAGE, name="image", geometry=None):
    return Stream(name=name, kind=kind, frame_shape=frames.shape[1:], dtype=frames.dtype, frames=frames,
                  clock_source=(np.arange(len(frames)) * 4e7).astype(np.uint64), geometry=geometry,
                  provenance=Provenance(("test",), "test"))


def test_same_named_recordings_get_their_own_outputs(tmp_path):
    (tmp_path / "coh" / "p1").mkdir(parents=True)
    (tmp_path / "coh" / "p2").mkdir()
    shutil.copy(CINE, tmp_path / "coh" / "p1" / "IM0001.dcm")
    shutil.copy(PALETTE, tmp_path / "coh" / "p2" / "IM0001.dcm")
    results = process([tmp_path / "coh"], tmp_path / "out", progress=False)
    assert sorted(r["ingest"] for r in results.values()) == ["built", "built"]
    assert len(list((tmp_path / "out").glob("IM0001-*.hdf5"))) == 2


def test_a_source_giving_wrong_frame_shapes_is_refused_not_scrambled(tmp_path):
    lazy = LazyFrames((10, 64, 64), np.uint8, lambda a, b: np.zeros((b - a, 64, 80), np.uint8))
    with pytest.raises(sz.InvalidZeaDataError, match="shape"):
        sz.File.create(tmp_path / "x.hdf5", data={"image": {"values": lazy}})
    assert not list(tmp_path.iterdir())


def test_pixel_grid_amplitude_that_float32_cannot_hold_is_refused(tmp_path):
    grid = PixelGrid(np.arange(4) * 1e-4, np.arange(3) * 1e-4)
    frames = np.full((2, 3, 4), 2**24 + 1, np.uint32)
    recording = Recording("r", {"a": stream(frames, SampleKind.AMPLITUDE, "a", grid)})
    with pytest.raises(SonobridgeError, match="exactly"):
        export_zea(recording, tmp_path / "a.hdf5")


def test_a_deleted_dicom_output_is_rebuilt(tmp_path):
    (tmp_path / "coh").mkdir()
    shutil.copy(CINE, tmp_path / "coh" / "cine.dcm")
    process([tmp_path / "coh"], tmp_path / "out", dicom=True, progress=False)
    (tmp_path / "out" / "cine.dcm").unlink()
    again = process([tmp_path / "coh"], tmp_path / "out", dicom=True, progress=False)
    assert next(iter(again.values()))["dicom"] == "built" and (tmp_path / "out" / "cine.dcm").exists()


def test_tvd_stream_header_without_format_is_a_format_error(tmp_path):
    import struct

    def chunk(chunk_id, payload):
        return chunk_id + struct.pack("<Q", len(payload)) + payload + b"\0" * (len(payload) & 1)

    strh = b"2DusB".ljust(20, b"\0") + struct.pack("<I", 3) + bytes(40)
    data = chunk(b"UIFF", b"UDI " + chunk(b"LIST", b"hdrl" + chunk(b"strh", strh)))
    (tmp_path / "x.tvd").write_bytes(data)
    from sonobridge.formats.telemed.tvd import read_tvd

    with pytest.raises(FormatError, match="x.tvd.*no format"):
        read_tvd(tmp_path / "x.tvd")


def test_stream_names_from_inside_a_file_cannot_escape_the_output_folder(tmp_path):
    from sonobridge.formats.video.writer import output_names

    names = output_names("rec", ["/../../../escaped", "track_0/image"])
    assert all("/" not in name and not name.startswith(".") for name in names.values())


def test_encoder_refusal_is_a_status_not_an_exception(tmp_path):
    from sonobridge.formats.video.writer import export_video

    status = export_video(stream(np.zeros((5, 6, 64), np.uint8)), tmp_path, progress=False)
    assert list(status.values())[0].startswith("error") and not list(tmp_path.glob("*.mp4"))


def test_series_without_pixel_spacing_uses_the_ultrasound_region(tmp_path):
    import pydicom
    from pydicom.uid import generate_uid

    from sonobridge.dicom.volume import load_series

    series = generate_uid()
    for index in range(3):
        ds = pydicom.dcmread(PALETTE)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * index]
        ds.save_as(tmp_path / f"s{index}.dcm")
    volume = load_series(tmp_path)
    assert volume.pixels.shape[0] == 3 and volume.spacing_mm[0] == pytest.approx(0.2623, rel=1e-3)


def test_adobe_app14_transform_flag_is_read():
    from sonobridge.dicom.pixels import _jpeg_colour

    def app14(transform):
        return b"\xff\xd8\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + bytes([transform]) + b"\xff\xc0"

    assert _jpeg_colour(app14(0), "YBR_FULL_422") == "RGB" and _jpeg_colour(app14(1), "RGB") == "YCbCr"


def test_sidecar_roi_outside_the_frame_is_refused(tmp_path):
    path = make_sidecar(tmp_path / "bad.tvd.h5")
    with h5py.File(path, "r+") as handle:
        handle.attrs["roi1_x2"] = 10_000
    from sonobridge.formats.telemed.sidecar import read_sidecar

    with pytest.raises(FormatError, match="bad.tvd.h5.*does not fit"):
        read_sidecar(path)


def test_long_one_dimensional_signals_are_not_chunked_per_sample(tmp_path):
    samples = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    path = sz.File.create(tmp_path / "s.hdf5", data={"image": {"values": np.zeros((2, 4, 4), np.uint8)}},
                          metadata={"ecg": {"samples": samples, "sampling_frequency": 500.0, "start_time_offset": 0.0}})
    with h5py.File(path, "r") as handle:
        assert handle["metadata/ecg/samples"].chunks[0] > 1000


@pytest.mark.parametrize("kind", ["dicom", "telemed"])
def test_other_formats_convert_to_zea_bit_exactly(tmp_path, kind):
    from sonobridge.formats import open_recording
    from sonobridge.formats.zea.reader import read_zea

    source = CINE if kind == "dicom" else make_sidecar(tmp_path / "s.tvd.h5", panels=(1, 2))
    direct = open_recording(source)
    back = read_zea(export_zea(direct, tmp_path / "out.hdf5"))
    assert direct.streams.keys() == back.streams.keys()
    for name, stream in direct.streams.items():
        other = back.streams[name]
        assert other.dtype == stream.dtype and np.array_equal(np.asarray(other.frames), np.asarray(stream.frames))
        assert np.array_equal(other.timestamps_s, stream.timestamps_s)
        assert np.array_equal(other.geometry.x_m, stream.geometry.x_m)
