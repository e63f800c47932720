"""Writing zea files: File.create, the checks made before writing, atomic output, storage layout,
and Clarius -> zea conversion that reads back bit-exact into the same recording."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest

import sonobridge.zea as sz
from sonobridge.cli import main
from sonobridge.core.frames import LazyFrames
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import Recording, SampleKind
from sonobridge.errors import FormatError, OutputExistsError, SonobridgeError
from sonobridge.formats.zea.writer import export_zea
from sonobridge.formats import open_recording
from sonobridge.formats.zea.reader import read_zea

from support import CINE, synthetic_stream
from telemed_synth import make_sidecar


RNG = np.random.default_rng(7)
REAL_2020 = "carotid_doppler_2020"


def image_data(n: int = 6, z: int = 40, x: int = 30) -> dict:
    return {"image": {"values": RNG.integers(0, 256, (n, z, x), dtype=np.uint8),
                      "coordinates": np.zeros((z, x, 3), np.float32)}}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


# ---------------------------------------------------------------- File.create
def test_create_round_trip_and_layout(tmp_path):
    data = image_data(n=5, z=600, x=500)
    path = sz.File.create(tmp_path / "a.hdf5", data=data, probe={"name": "L7", "type": "linear"},
                          metadata={"ecg": {"samples": np.sin(np.arange(50.0)), "sampling_frequency": 500.0,
                                            "start_time_offset": 0.0}},
                          description="test", acquisition_time="2026-01-02T03:04:05+00:00")
    assert sz.validate(path).valid
    with sz.File(path) as handle:
        values = handle.data.image.values
        assert np.array_equal(values[3], data["image"]["values"][3])
        assert values.chunks == (1, 600, 500)
        assert "32001" in values._filters                                  # Blosc
        assert handle.h5["metadata/ecg/samples"].dtype == np.float32        # floats stored as zea does
        assert handle.h5.attrs["zea_version"] == "0.1.8"
    assert path.read_bytes()[8] < 3, "superblock newer than HDF5 1.10 writes: libver not pinned"


@pytest.mark.parametrize("compression", ["fast", "small", "zea", "gzip", "lzf", None])
def test_every_codec_round_trips(tmp_path, compression):
    values = RNG.integers(-2000, 2000, (3, 64, 700, 2)).astype(np.float32)
    path = sz.File.create(tmp_path / "c.hdf5", data={"beamformed_data": {"values": values}}, compression=compression)
    with sz.File(path) as handle:
        assert np.array_equal(handle.data.beamformed_data.values[()], values)


def test_lazy_values_are_read_block_by_block(tmp_path):
    calls = []

    def read(start, stop):
        calls.append((start, stop))
        return np.broadcast_to((np.arange(start, stop) % 256).astype(np.uint8)[:, None, None],
                               (stop - start, 1024, 1024))

    sz.File.create(tmp_path / "l.hdf5", data={"image": {"values": LazyFrames((80, 1024, 1024), np.uint8, read)}})
    assert len(calls) > 1 and max(stop - start for start, stop in calls) * 2**20 <= 32 * 2**20
    with sz.File(tmp_path / "l.hdf5") as handle:
        assert handle.data.image.values[79][5, 5] == 79


BAD = {
    "positive dB image": dict(data={"image": {"values": np.ones((2, 4, 4), np.float32)}}),
    "int32 raw data": dict(data={"raw_data": np.zeros((1, 1, 4, 2, 1), np.int32)},
                           probe={"probe_geometry": np.zeros((2, 3))}),
    "raw data without scan": dict(data={"raw_data": np.zeros((1, 1, 4, 2, 1), np.int16)},
                                  probe={"probe_geometry": np.zeros((2, 3))}),
    "frames disagree": dict(data={"image": {"values": np.zeros((2, 4, 4), np.uint8)},
                                  "envelope_data": {"values": np.zeros((3, 4, 4), np.float32)}}),
    "flat custom product": dict(data={"my_map": np.zeros((2, 4, 4), np.uint8)}),
    "CamelCase custom product": dict(data={"MyMap": {"values": np.zeros((2, 4, 4), np.uint8)}}),
    "unlabelled tracks": dict(tracks=[{"data": image_data()}, {"data": image_data()}]),
    "angle beyond pi": dict(data=image_data(), scan={
        "sampling_frequency": 1e7, "center_frequency": 5e6, "demodulation_frequency": 5e6,
        "initial_times": np.zeros(1), "t0_delays": np.zeros((1, 2)), "tx_apodizations": np.ones((1, 2)),
        "focus_distances": np.zeros(1), "transmit_origins": np.zeros((1, 3)), "polar_angles": np.array([4.0])}),
    "timestamps without offset": dict(data={"image": {"values": np.zeros((2, 4, 4), np.uint8),
                                                      "timestamps": np.array([0.0, 0.1])}}),
    "timestamps not increasing": dict(data={"image": {"values": np.zeros((2, 4, 4), np.uint8),
                                                      "timestamps": np.array([0.0, 0.0]),
                                                      "start_time_offset": 0.0}}),
    "wrong coordinates": dict(data={"image": {"values": np.zeros((2, 4, 4), np.uint8),
                                              "coordinates": np.zeros((5, 4, 3))}}),
    "signal without timing": dict(data=image_data(), metadata={"ecg": {"samples": np.zeros(5, np.float32),
                                                                       "start_time_offset": 0.0}}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_data_is_refused_before_writing(tmp_path, case):
    with pytest.raises(sz.InvalidZeaDataError) as caught:
        sz.File.create(tmp_path / "bad.hdf5", **BAD[case])
    assert "bad.hdf5" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_lazy_db_image_checked_while_writing_leaves_nothing(tmp_path):
    def read(start, stop):
        block = np.full((stop - start, 4, 4), -10.0, np.float32)
        block[stop - start - 1] = 1.0 if stop == 4 else -1.0      # the last frame is positive
        return block

    with pytest.raises(sz.InvalidZeaDataError, match="db.hdf5.*dB"):
        sz.File.create(tmp_path / "db.hdf5", data={"image": {"values": LazyFrames((4, 4, 4), np.float32, read)}})
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_unless_overwrite(tmp_path):
    path = sz.File.create(tmp_path / "o.hdf5", data=image_data())
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        sz.File.create(path, data=image_data())
    assert path.read_bytes() == before
    sz.File.create(path, data=image_data(n=2), overwrite=True)
    with sz.File(path) as handle:
        assert handle.n_frames == 2


def test_failure_mid_write_leaves_old_file_and_no_partial(tmp_path):
    path = sz.File.create(tmp_path / "k.hdf5", data=image_data())

    def broken(start, stop):
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        sz.File.create(path, data={"image": {"values": LazyFrames((400, 300, 300), np.uint8, broken)}},
                       overwrite=True)
    assert leftovers(tmp_path) == [] and sz.validate(path).valid
    with sz.File(path) as handle:
        assert handle.n_frames == 6


def test_multi_track_custom_and_labels(tmp_path):
    custom = [type("CustomElement", (), dict(name="lens_profile", data=np.arange(4.0), description="lens",
                                             unit="m", group_name="lens"))()]
    path = sz.File.create(tmp_path / "m.hdf5", tracks=[{"label": "a", "data": image_data()},
                                                      {"label": "b", "data": image_data(n=3)}],
                          custom=custom)
    with sz.File(path) as handle:
        assert handle.track_labels == ["a", "b"] and handle.get_track("b").n_frames == 3
        leaf = handle.h5["custom/lens/lens_profile"]
        assert leaf.dtype == np.float64 and leaf.attrs["unit"] == "m"


# ---------------------------------------------------------------- Clarius -> zea -> core model
def assert_same(a, b, where="value"):
    """Equal values, arrays bit-exact with the same dtype, dataclasses field by field."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{index}]")
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def assert_same_recording(direct, back):
    assert direct.streams.keys() == back.streams.keys()
    for name, stream in direct.streams.items():
        other = back.streams[name]
        for field in ("kind", "frame_shape", "dtype", "clock_unit_s", "time_origin", "declared_n_frames",
                      "geometry", "parameters", "metadata", "per_frame", "provenance"):
            assert_same(getattr(stream, field), getattr(other, field), f"{name}.{field}")
        assert_same(stream.clock, other.clock, f"{name}.clock")
        assert_same(stream.timestamps_s, other.timestamps_s, f"{name}.timestamps_s")
        assert stream.has_frames is other.has_frames
        if stream.has_frames:
            assert_same(np.asarray(stream.frames), np.asarray(other.frames), f"{name} frames")
            assert_same(stream.frames[-1], other.frames[-1], f"{name} last frame")
    assert direct.signals.keys() == back.signals.keys()
    for name, signal in direct.signals.items():
        other = back.signals[name]
        for field in ("channels", "clock", "clock_unit_s", "units", "metadata", "provenance", "time_origin"):
            assert_same(getattr(signal, field), getattr(other, field), f"signal {name}.{field}")
    for field in ("name", "start_time", "parameters", "provenance"):
        assert_same(getattr(direct, field), getattr(back, field), field)


def test_clarius_conversion_is_lossless(full_capture, tmp_path):
    direct = open_recording(full_capture, probe="L7")
    assert {"rf", "iq", "env", "pw_iq"} <= set(direct.streams) and "imu" in direct.signals
    assert "tgc" in direct.streams["rf"].per_frame
    path = export_zea(direct, tmp_path / "cap.hdf5")
    report = sz.validate(path)
    assert report.valid, report.errors
    assert_same_recording(open_recording(full_capture, probe="L7"), read_zea(path))
    with sz.File(path) as handle:                       # zea-native view of the same data
        rf = handle.get_track("rf").data.beamformed_data
        assert rf.values.dtype == np.float32 and rf.values.shape == (5, 300, 16, 1)
        assert np.array_equal(rf.values[2, :, :, 0].T.astype(np.int16), direct.streams["rf"].frames[2])
        assert rf.coordinates.shape == (300, 16, 3)
        assert np.allclose(rf.timestamps[()], direct.streams["rf"].timestamps_s - direct.streams["rf"].timestamps_s[0])
        env = handle.get_track("env").data
        assert "image_sc" in env and env.image_sc.values.dtype == np.uint8
        assert handle.probe["name"] == "L7 HD3" and handle.probe["probe_geometry"].shape == (192, 3)
        assert "imu_gyroscope" in handle.h5["metadata"]


def test_real_capture_conversion_via_cli(clarius_data, tmp_path, capsys):
    out = tmp_path / "real.hdf5"
    assert main(["convert", str(clarius_data / REAL_2020), str(out), "--probe", "L7", "--json", "-q"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert list(status.values()) == [{"output": str(out), "status": "built"}]
    assert_same_recording(open_recording(clarius_data / REAL_2020, probe="L7"), open_recording(out))
    assert main(["convert", str(clarius_data / REAL_2020), str(out), "-q"]) == 1   # exists
    assert "exists" in capsys.readouterr().err
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[str(out)]["streams"]["iq"]["kind"] == "iq"


def test_timing_only_recording_is_refused(clarius_data, tmp_path, capsys):
    assert main(["convert", str(clarius_data / "carotid_2019_metadata"), str(tmp_path / "t.hdf5"), "-q"]) == 1
    assert "timing-only" in capsys.readouterr().err
    assert not (tmp_path / "t.hdf5").exists() and leftovers(tmp_path) == []


def test_generic_zea_file_reads_into_the_core_model(tmp_path):
    x, z = np.linspace(-0.01, 0.01, 30), np.linspace(0.0, 0.04, 40)
    grid_x, grid_z = np.meshgrid(x, z)
    coordinates = np.stack([grid_x, np.zeros_like(grid_x), grid_z], -1)
    values = RNG.integers(0, 256, (4, 40, 30), dtype=np.uint8)
    path = sz.File.create(tmp_path / "g.hdf5", data={"image": {
        "values": values, "coordinates": coordinates, "timestamps": np.arange(4) * 0.05, "start_time_offset": 1.0}})
    recording = read_zea(path)
    stream = recording.streams["image"]
    assert np.array_equal(stream.frames[1], values[1]) and stream.geometry.x_m.size == 30
    assert np.allclose(stream.timestamps_s, 1.0 + np.arange(4) * 0.05)


@pytest.mark.parametrize("content", [b"", b"not hdf5 at all" * 100, b"\x89HDF\r\n\x1a\n" + b"\0" * 50])
def test_hostile_inputs_raise_package_errors(tmp_path, content):
    path = tmp_path / "x.hdf5"
    path.write_bytes(content)
    with pytest.raises(SonobridgeError, match="x.hdf5"):
        read_zea(path)


def test_truncated_and_corrupted_conversions(full_capture, tmp_path):
    path = export_zea(open_recording(full_capture, probe="L7"), tmp_path / "cap.hdf5")
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SonobridgeError, match="cut.hdf5"):
        recording = read_zea(cut)
        np.asarray(recording.streams["rf"].frames)
    with h5py.File(path, "r+") as handle:
        del handle["custom/sonobridge/recording"]
        handle["custom/sonobridge/recording"] = '{"format": "sonobridge-recording/1", "streams": [{"x'
    with pytest.raises(FormatError, match="cap.hdf5"):
        read_zea(path)


def test_channel_data_from_a_generic_file_is_not_mislabelled(tmp_path):
    path = sz.File.create(tmp_path / "raw.hdf5", data={"raw_data": np.zeros((2, 3, 16, 4, 1), np.int16)},
                          scan={"sampling_frequency": 1e7, "center_frequency": 5e6, "demodulation_frequency": 5e6,
                                "initial_times": np.zeros(3), "t0_delays": np.zeros((3, 4)),
                                "tx_apodizations": np.ones((3, 4)), "focus_distances": np.zeros(3),
                                "transmit_origins": np.zeros((3, 3)), "polar_angles": np.zeros(3)},
                          probe={"probe_geometry": np.zeros((4, 3))})
    recording = read_zea(path)
    assert recording.streams["raw_data"].frame_shape == (3, 16, 4)
    export_zea(recording, tmp_path / "again.hdf5")       # read from zea: copied verbatim (formats/zea/test_passthrough.py)
    with h5py.File(tmp_path / "again.hdf5") as handle:
        assert handle["tracks/track_0/data/raw_data"].shape == (2, 3, 16, 4, 1)
    detached = dataclasses.replace(recording.streams["raw_data"], frames=np.zeros((2, 3, 16, 4), np.int16))
    recording.streams["raw_data"] = detached             # channel data from elsewhere: no product holds it
    with pytest.raises(sz.InvalidZeaDataError, match="not lines x samples"):
        export_zea(recording, tmp_path / "detached.hdf5")


def test_pixel_grid_amplitude_that_float32_cannot_hold_is_refused(tmp_path):
    grid = PixelGrid(np.arange(4) * 1e-4, np.arange(3) * 1e-4)
    frames = np.full((2, 3, 4), 2**24 + 1, np.uint32)
    recording = Recording("r", {"a": synthetic_stream(frames, SampleKind.AMPLITUDE, "a", grid)})
    with pytest.raises(SonobridgeError, match="exactly"):
        export_zea(recording, tmp_path / "a.hdf5")


@pytest.mark.parametrize("kind", ["dicom", "telemed"])
def test_other_formats_convert_to_zea_bit_exactly(tmp_path, kind):
    source = CINE if kind == "dicom" else make_sidecar(tmp_path / "s.tvd.h5", panels=(1, 2))
    direct = open_recording(source)
    back = read_zea(export_zea(direct, tmp_path / "out.hdf5"))
    assert direct.streams.keys() == back.streams.keys()
    for name, stream in direct.streams.items():
        other = back.streams[name]
        assert other.dtype == stream.dtype and np.array_equal(np.asarray(other.frames), np.asarray(stream.frames))
        assert np.array_equal(other.timestamps_s, stream.timestamps_s)
        assert np.array_equal(other.geometry.x_m, stream.geometry.x_m)
