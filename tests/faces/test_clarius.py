"""sonobridge.clarius: the face for users of the Clarius reference readers; geometry."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sonobridge.clarius as clarius
from sonobridge.core.geometry import Probe
from sonobridge.errors import MetadataMismatchError, SonobridgeError

from synth import write_capture


def reference_layout(path):
    """What the Clarius reference readers return, computed independently: header dict,
    int64 timestamps and data (lines, samples[*2 for IQ], frames)."""
    raw = path.read_bytes()
    names = ("id", "frames", "lines", "samples", "samplesize")
    header = dict(zip(names, np.frombuffer(raw[:20], "<u4").tolist()))
    dtype = "u1" if header["samplesize"] == 1 else "<i2"
    per_line = header["samples"] * (2 if header["samplesize"] == 4 else 1)
    record = 8 + header["lines"] * header["samples"] * header["samplesize"]
    stamps, frames = [], []
    for k in range(header["frames"]):
        start = 20 + k * record
        stamps.append(int.from_bytes(raw[start:start + 8], "little"))
        frames.append(np.frombuffer(raw[start + 8:start + record], dtype).reshape(header["lines"], per_line))
    return header, np.array(stamps, np.int64), np.stack(frames, axis=-1)


@pytest.mark.parametrize("reader, stream_id", [(clarius.read_rf, 2), (clarius.read_iq, 0), (clarius.read_env, 1)])
def test_reference_readers_layout(tmp_path, reader, stream_id):
    raw, _, _ = write_capture(tmp_path, "x", stream_id, frames=3, lines=5, samples=7, yml=False)
    header, timestamps, data = reader(raw)
    expected = reference_layout(raw)
    assert header == expected[0]
    np.testing.assert_array_equal(timestamps, expected[1])
    assert data.shape == expected[2].shape and data.dtype == expected[2].dtype
    np.testing.assert_array_equal(data, expected[2])


def test_reference_reader_on_real_files(clarius_data):
    for name, reader in (("carotid_iq", clarius.read_iq), ("carotid_env", clarius.read_env)):
        path = clarius_data / "carotid_doppler_2020" / f"{name}.raw"
        header, timestamps, data = reader(path)
        expected = reference_layout(path)
        assert header == expected[0]
        np.testing.assert_array_equal(data, expected[2])
        packed = reader(clarius_data / "lzop" / f"{name}.raw.lzo")[2]
        np.testing.assert_array_equal(packed, expected[2])


def test_reader_refuses_the_wrong_kind(clarius_data):
    with pytest.raises(MetadataMismatchError, match="holds iq data, not rf"):
        clarius.read_rf(clarius_data / "carotid_doppler_2020/carotid_iq.raw")


def test_read_capture_streams(clarius_data):
    capture = clarius.read(clarius_data / "lzop/carotid_doppler_lzop5F.tar")
    assert capture.rf is None and capture.imu is None
    assert capture.env.data.shape == (1, 304, 592)
    assert capture.iq.complex().shape == (1, 1248, 352)
    assert capture.iq.timestamps_ns.tolist() == [272_578_025_480]
    assert capture.env.meta["type"] == "B pre-scan"
    assert capture.recording.streams["iq"].timestamps_s[0] == pytest.approx(0.03070131)
    metadata_only = clarius.read(clarius_data / "wirephantom_2019_metadata")
    assert metadata_only.rf.data is None and metadata_only.imu.data["orientation"].shape == (57, 4)


def test_depth_origin_from_envelope_delay(clarius_data):
    """Sample 0 of the envelope is at the probe face; the colour box starts (108-16) samples deeper."""
    recording = clarius.read(clarius_data / "carotid_doppler_2020").recording
    env, iq = recording["env"].geometry, recording["iq"].geometry
    spacing = 1540 / (2 * 15e6)
    assert env.first_sample_depth_m == 0 and env.sample_spacing_m == pytest.approx(spacing)
    assert iq.first_sample_depth_m == pytest.approx((108 - 16) * spacing)
    assert np.allclose(iq.steering_angles_rad, math.radians(15))
    assert env.line_origins_m() is None  # probe not recorded in 2020 files


def test_probe_table_and_line_positions(clarius_data):
    recording = clarius.read(clarius_data / "carotid_doppler_2020", probe="l7").recording
    geometry = recording["env"].geometry
    assert geometry.probe.name == "L7 HD3" and geometry.probe.pitch_m == 200e-6
    origins = geometry.line_origins_m()
    assert origins[0, 0] == pytest.approx(-95.5 * 200e-6) and origins[-1, 0] == pytest.approx(95.5 * 200e-6)
    x, z = recording["iq"].geometry.sample_positions_m(352)
    assert np.allclose((x[0, -1] - x[0, 0]) / (z[0, -1] - z[0, 0]), math.tan(math.radians(15)))
    with pytest.raises(SonobridgeError, match="unknown Clarius probe"):
        clarius.find_probe("L99")


def test_curved_probe_geometry():
    probe = Probe("C3 HD3", "curved", 192, 300e-6, radius_m=45e-3)
    positions = probe.element_positions_m(np.array([0.0, 95.5, 191.0]))
    assert positions[1] == pytest.approx([0.0, 0.0])
    assert np.hypot(positions[:, 0], positions[:, 1] + 45e-3) == pytest.approx([45e-3] * 3)
    assert probe.element_normal_angles_rad(np.array([191.0]))[0] == pytest.approx(95.5 * 300e-6 / 45e-3)
