"""Clarius yml (all firmware generations), per-frame TGC and IMU files."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sonobridge.core.recording import SampleKind
from sonobridge.core.units import Quantity
from sonobridge.errors import FormatError
from sonobridge.formats import open_recording
from sonobridge.formats.clarius.imu import parse_imu
from sonobridge.formats.clarius.tgc import parse_tgc
from sonobridge.formats.clarius.yml import parse_yml

from synth import write_capture

NEWER_FIRMWARE_YML = """# raw data parameters

software version: 12.0.1-673
iso time/date: 2025-01-28T18:45:21Z
probe: {version: 3, elements: 192, pitch: 300, radius: 45}
frames: 2
frame rate: 20 Hz
transmit frequency: 4 MHz
imaging depth: 120 mm
focal depth: 60 mm
auto gain: true
mla: 4
prf: 2000 Hz
tgc:
  - { 0.00mm, 15.00dB }
  - { 120.00mm, 35.00dB }
size: {samples per line: 528,number of lines: 2,sample size: 2 bytes}
type: RF
compression: none
sampling rate: 20 MHz
delay samples: 281
lines:
  - {rx element: 48,tx element: 48,angle: 0 °,duration: 81 µs}
  - {rx element: 49,tx element: 49,angle: -2.5 °,duration: 81 µs}
some future key: {nested value: 3 mm}
"""


def test_every_fixture_yml_parses(clarius_data):
    ymls = sorted(p for p in clarius_data.rglob("*.yml") if not p.name.endswith("_imu.yml"))
    assert len(ymls) == 10
    for path in ymls:
        yml = parse_yml(path.read_text(encoding="utf-8"), str(path))
        assert yml.kind in (SampleKind.ENVELOPE, SampleKind.IQ, SampleKind.RF)
        assert yml.lines["rx_element"].shape == (yml.n_lines,)
        assert len(yml.tgc_points) == 2
        assert isinstance(yml.parameters["sampling_rate"], Quantity)


def test_2019_one_line_tgc_and_units(clarius_data):
    yml = parse_yml((clarius_data / "carotid_2019_metadata/carotid_rf.yml").read_text(), "rf.yml")
    assert yml.tgc_points == [(0.0, 23.0), (pytest.approx(0.04), 26.0)]
    assert yml.parameters["sampling_rate"] == Quantity(60e6, "Hz")
    assert yml.parameters["imaging_depth"].value == pytest.approx(0.04)
    assert yml.parameters["tgc"] == {"depth_m": [0.0, pytest.approx(0.04)], "gain_db": [23.0, 26.0]}
    assert (yml.n_frames, yml.n_lines, yml.n_samples, yml.sample_size) == (17, 192, 3120, 2)


def test_2020_focus_blocks_typed(clarius_data):
    yml = parse_yml((clarius_data / "carotid_doppler_2020/carotid_iq.yml").read_text(), "iq.yml")
    focus = yml.parameters["focus"][0]
    assert focus["depth"].value == pytest.approx(13.706e-3)
    assert focus["receive"][0]["shallowfreq"] == Quantity(5e6, "Hz")
    assert np.allclose(yml.lines["angle_rad"], math.radians(15))
    env = parse_yml((clarius_data / "carotid_doppler_2020/carotid_env.yml").read_text(), "env.yml")
    assert env.parameters["roi"] == {"start_line": 0, "end_line": 303, "start_sample": 0, "end_sample": 584}
    assert env.parameters["compound"]["exponent"] == pytest.approx(1.1)


def test_newer_firmware_blocks():
    yml = parse_yml(NEWER_FIRMWARE_YML, "new.yml")
    assert yml.software_version == "12.0.1-673"
    assert yml.acquisition_time == dt.datetime(2025, 1, 28, 18, 45, 21, tzinfo=dt.timezone.utc)
    probe = yml.probe
    assert (probe.n_elements, probe.pitch_m, probe.radius_m, probe.array_type) == (192, 300e-6, 45e-3, "curved")
    assert yml.tgc_points == [(0.0, 15.0), (pytest.approx(0.12), 35.0)]
    assert yml.lines["duration_s"] == pytest.approx([81e-6, 81e-6])
    assert yml.lines["angle_rad"][1] == pytest.approx(math.radians(-2.5))
    assert yml.parameters["prf"] == Quantity(2000.0, "Hz")
    assert yml.parameters["some_future_key"] == {"nested_value": Quantity(pytest.approx(0.003), "m")}
    assert yml.raw["mla"] == 4 and yml.raw["auto gain"] is True


def test_unreadable_yml_names_file_and_line():
    with pytest.raises(FormatError, match=r"bad\.yml: not a readable Clarius yml at line 3"):
        parse_yml("frames: 1\nsize: {oops: [\n", "bad.yml")
    with pytest.raises(FormatError, match="not a mapping"):
        parse_yml("- just a list\n", "list.yml")
    with pytest.raises(FormatError, match="line 0: cannot read 'angle'"):
        parse_yml("lines:\n  - {rx element: 0, tx element: 0, angle: 5 mm}\n", "angle.yml")


TGC_INLINE = "timestamp: 100 { 7.00mm, 15.70dB }{ 21.00mm, 26.46dB }{ 133.00mm, 35.00dB }\ntimestamp: 200\n"
TGC_LIST = "frames: 3\n\ntimestamp: 100\n  - { 0.00mm, 15.00dB }\n  - { 120.00mm, 35.00dB }\ntimestamp: 200\ntimestamp: 300\n  - { 0.00mm, 20.00dB }\n  - { 120.00mm, 30.00dB }\n"


def test_tgc_layouts(clarius_data):
    curves, declared = parse_tgc((clarius_data / "carotid_2019_metadata/carotid_env.tgc").read_text(), "env.tgc")
    assert declared == 24 and curves.clock.size == 24 and curves.depth_m.shape == (24, 0)
    inline, _ = parse_tgc(TGC_INLINE, "inline")
    assert inline.points(0) == [(0.007, 15.7), (0.021, 26.46), (0.133, 35.0)]
    assert inline.points(1) == inline.points(0)  # empty entry keeps the previous curve
    listed, declared = parse_tgc(TGC_LIST, "list")
    assert declared == 3 and listed.points(1) == [(0.0, 15.0), (0.12, 35.0)]
    assert listed.gain_at([0.06])[:, 0] == pytest.approx([25.0, 25.0, 25.0])


def test_tgc_aligned_to_frames_by_timestamp():
    curves, _ = parse_tgc(TGC_LIST, "list")
    per_frame = curves.for_frames(np.array([50, 100, 250, 300, 999], np.uint64))
    assert np.isnan(per_frame.gain_db[0]).all()
    assert per_frame.points(1) == per_frame.points(2) == [(0.0, 15.0), (0.12, 35.0)]
    assert per_frame.points(3) == per_frame.points(4) == [(0.0, 20.0), (0.12, 30.0)]


def test_tgc_errors():
    with pytest.raises(FormatError, match="no 'timestamp:'"):
        parse_tgc("hello world", "x.tgc")
    with pytest.raises(FormatError, match="increasing"):
        parse_tgc("timestamp: 5\ntimestamp: 4\n", "x.tgc")


def test_capture_tgc_per_frame(tmp_path):
    raw, _, clock = write_capture(tmp_path, frames=3)
    (tmp_path / "cap_rf.tgc").write_text(
        "".join(f"timestamp: {t} {{ 0.00mm, {10 + i}.00dB }}{{ 40.00mm, 30.00dB }}\n" for i, t in enumerate(clock)))
    tgc = open_recording(raw).streams["rf"].per_frame["tgc"]
    assert tgc.source == "tgc file"
    assert tgc.gain_db[:, 0].tolist() == [10.0, 11.0, 12.0]
    (tmp_path / "cap_rf.tgc").unlink()  # newer firmware: .tgc.yml with list entries
    (tmp_path / "cap_rf.tgc.yml").write_text(f"timestamp: {clock[1]}\n  - {{ 0.00mm, 5.00dB }}\n  - {{ 40.00mm, 6.00dB }}\n")
    tgc = open_recording(raw).streams["rf"].per_frame["tgc"]
    assert tgc.source == "tgc file + yml"  # frame 0 precedes the only entry: the yml curve applies
    assert tgc.gain_db[:, 0].tolist() == [23.0, 5.0, 5.0]


def test_2019_capture_streams_share_one_clock(clarius_data):
    recording = open_recording(clarius_data / "carotid_2019_metadata")
    env, rf = recording.streams["env"], recording.streams["rf"]
    assert not env.has_frames and env.n_frames == 24 and rf.n_frames == 17
    np.testing.assert_array_equal(rf.clock, env.clock[-17:])  # RF frames are a subset of B frames
    np.testing.assert_array_equal(rf.timestamps_s, env.timestamps_s[-17:])
    imu = recording.signals["imu"]
    assert imu.timestamps_s[0] == 0.0 and imu.channels["gyroscope"].shape == (84, 3)


def test_imu_arrays(clarius_data):
    imu = parse_imu((clarius_data / "wirephantom_2019_metadata/phantom_imu.yml").read_text(), "imu")
    assert imu.n_samples == 57
    assert imu.channels["orientation"].shape == (57, 4)
    assert imu.channels["stationary"].dtype == bool
    assert np.all(np.diff(imu.clock.astype(np.int64)) > 0)
    with pytest.raises(FormatError, match="timestamp"):
        parse_imu("---\ngyroscope x: 1\n", "imu")


def test_oversized_metadata_file_is_refused(tmp_path):
    raw, _, _ = write_capture(tmp_path)
    with open(tmp_path / "cap_rf.yml", "ab") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: a mislabelled huge file
    with pytest.raises(FormatError, match="too large for a metadata text file"):
        open_recording(raw)
