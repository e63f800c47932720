"""Detection, log compression and TGC on arrays and on streams read from captures."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.signal

from sonobridge.core.recording import SampleKind
from sonobridge.errors import MissingMetadataError
from sonobridge.formats import open_recording
from sonobridge.processing.envelope import LogCompression, bmode, detect, iq_power, rf_power
from sonobridge.processing.tgc import apply_tgc, recorded_tgc_db, remove_recorded_tgc

from synth import write_capture


@pytest.mark.parametrize("n_samples", [300, 301])
def test_rf_power_matches_float64_hilbert(n_samples):
    rf = (np.random.default_rng(1).standard_normal((3, 7, n_samples)) * 3000).astype(np.int16)
    reference = np.abs(scipy.signal.hilbert(rf.astype(np.float64))) ** 2
    power = rf_power(rf)
    assert power.dtype == np.float32 and power.shape == rf.shape
    assert np.max(np.abs(power - reference)) < 1e-5 * reference.max()


def test_rf_power_leaves_float_input_untouched():
    rf = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)
    before = rf.copy()
    rf_power(rf)
    assert np.array_equal(rf, before)


def test_iq_power_of_pairs_and_complex():
    iq = np.array([[[3, 4], [-6, 8]]], np.int16)
    assert iq_power(iq).tolist() == [[25.0, 100.0]]
    assert iq_power(np.array([3 + 4j, 1j], np.complex64)).tolist() == [25.0, 1.0]


def test_log_compression_maps_the_dynamic_range_to_uint8():
    compress = LogCompression(dynamic_range_db=60, gain_db=0, reference_db=20)   # 20 dB = amplitude 10
    amplitude = np.array([10.0, 1.0, 0.01, 1e-9, 100.0], np.float32)
    levels = compress(amplitude ** 2)
    assert levels.dtype == np.uint8
    assert levels.tolist() == [255, round(255 * 40 / 60), 0, 0, 255]
    assert LogCompression(60, gain_db=20, reference_db=20)(np.float32([1.0]))[0] == 255
    with pytest.raises(ValueError):
        LogCompression(dynamic_range_db=0)


def test_bmode_of_rf_stream_is_lazy_chunked_and_stable(tmp_path, monkeypatch):
    raw, data, _ = write_capture(tmp_path, "rf", 2, frames=6, lines=8, samples=128)
    rf = open_recording(raw)["rf"]
    import sonobridge.processing.envelope as envelope
    monkeypatch.setattr(envelope, "DEFAULT_CHUNK_BYTES", 8 * 128 * 4 * 2)  # 2 frames per chunk
    image = bmode(rf, dynamic_range_db=50)
    assert image.kind is SampleKind.ENVELOPE and image.frames.shape == (6, 8, 128)
    reference = image.parameters["log_compression"]["reference_db"]
    expected = LogCompression(50, 0, reference)(np.abs(scipy.signal.hilbert(data.astype(np.float64))) ** 2)
    frames = np.asarray(image.frames[1:6])
    assert np.abs(frames.astype(int) - expected[1:6]).max() <= 1   # rounding at level boundaries
    assert np.array_equal(image.frames[3], frames[2])                # frame access = range access
    assert np.array_equal(image.timestamps_s, rf.timestamps_s)
    assert "log compression" in image.provenance.notes[-1]


def test_detect_iq_stream_gives_amplitude(tmp_path):
    raw, data, _ = write_capture(tmp_path, "iq", 0, frames=2, lines=4, samples=16)
    amplitude = detect(open_recording(raw)["iq"])
    assert amplitude.kind is SampleKind.AMPLITUDE and amplitude.frame_shape == (4, 16)
    expected = np.hypot(data[..., 0].astype(np.float64), data[..., 1])
    assert np.allclose(amplitude.frames[:], expected, rtol=1e-6)


def test_envelope_stream_is_already_bmode_and_cannot_be_detected(clarius_data):
    env = open_recording(clarius_data / "carotid_doppler_2020")["env"]
    assert bmode(env) is env
    with pytest.raises(ValueError, match="cannot detect envelope"):
        detect(env)                                   # refused at once, not at first frame read
    timing_only = replace(env, kind=SampleKind.RF, frames=None)
    for step in (detect, bmode, lambda s: apply_tgc(s, [0.0], [1.0])):
        with pytest.raises(ValueError, match="timing-only"):
            step(timing_only)


def test_remove_recorded_tgc_divides_out_the_curve(tmp_path):
    # yml tgc: 23 dB at 0 mm to 26 dB at 40 mm; fs 15 MHz, env delay origin
    raw, data, _ = write_capture(tmp_path, "rf", 2, frames=3, lines=4, samples=200)
    rf = open_recording(raw)["rf"]
    gain = recorded_tgc_db(rf)
    depths = rf.geometry.sample_depths_m(200)
    assert gain.shape == (3, 200)
    assert np.allclose(gain[0], 23 + 3 * np.clip(depths, 0, 0.04) / 0.04)
    flat = remove_recorded_tgc(rf)
    assert flat.kind is SampleKind.RF and flat.frames.dtype == np.float32
    expected = data[1].astype(np.float64) * 10 ** (-gain[1] / 20)
    assert np.allclose(flat.frames[1], expected, rtol=1e-6)
    back = apply_tgc(flat, np.array([0.0, 0.04]), np.array([23.0, 26.0]))
    assert np.allclose(back.frames[1], data[1], rtol=1e-5, atol=1e-3)


def test_tgc_refuses_log_compressed_and_missing_curves(clarius_data, tmp_path):
    env = open_recording(clarius_data / "carotid_doppler_2020")["env"]
    with pytest.raises(ValueError, match="log-compressed"):
        remove_recorded_tgc(env)
    raw, _, _ = write_capture(tmp_path, "rf", 2, frames=2, lines=4, samples=32)
    rf = open_recording(raw)["rf"]
    rf.per_frame.pop("tgc")
    with pytest.raises(MissingMetadataError, match="no TGC"):
        remove_recorded_tgc(rf)
    with pytest.raises(ValueError, match="increase"):
        apply_tgc(rf, np.array([0.02, 0.01]), np.array([1.0, 2.0]))
