"""An ECG riding along with an ultrasound cine: the waveform in the cine's Waveform Sequence becomes the
recording's ``ecg`` Signal on the frames' clock, and zea export writes it as zea's ``metadata/ecg``
field, which the real zea 0.1.8 reads and validates."""
from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pytest

from sonobridge.core.recording import Provenance, Recording

from support import image_stream, moving_frames

os.environ.setdefault("KERAS_BACKEND", "jax")

FRAME_RATE_HZ, ECG_RATE_HZ = 25.0, 500.0
OFFSET_S, FRAME_DELAY_S = -0.1, 0.02          # ECG starts 100 ms before the reference time; frame 0 20 ms after


def ecg_trace(n: int) -> np.ndarray:
    """A lead II-like trace in mV: a beat every 0.8 s on a slow sine."""
    t = np.arange(n) / ECG_RATE_HZ
    return 1.2 * np.exp(-(((t % 0.8) - 0.3) / 0.012) ** 2) + 0.1 * np.sin(2 * np.pi * 0.5 * t)


@pytest.fixture
def echo_with_ecg(tmp_path):
    """A synthetic ultrasound cine (written by the DICOM adapter) with a two-lead ECG added: (path, ECG)."""
    import pydicom

    from sonobridge.dicom.waveforms import multiplex_group
    from sonobridge.formats.dicom import export_dicom

    frames = moving_frames(20, 48, 64)
    recording = Recording(name="echo", streams={"image": image_stream(frames, FRAME_RATE_HZ)},
                          provenance=Provenance(("synthetic",), "test"))
    path = export_dicom(recording, tmp_path / "echo.dcm")
    ecg = np.stack([ecg_trace(450), -0.5 * ecg_trace(450)], axis=1)
    ds = pydicom.dcmread(path)
    ds.WaveformSequence = [multiplex_group(ecg, sampling_frequency=ECG_RATE_HZ, labels=["Lead II", "Lead I"],
                                           time_offset_s=OFFSET_S, label="ECG")]
    ds.FrameDelay = str(FRAME_DELAY_S * 1e3)
    ds.save_as(path)
    return path, ecg


def test_ecg_signal_on_the_frames_clock(echo_with_ecg):
    from sonobridge.formats import open_recording

    path, ecg = echo_with_ecg
    recording = open_recording(path)
    stream, signal = recording["image"], recording.signals["ecg"]
    np.testing.assert_allclose(stream.timestamps_s, np.arange(20) / FRAME_RATE_HZ, atol=1e-9)
    expected = OFFSET_S - FRAME_DELAY_S + np.arange(450) / ECG_RATE_HZ
    np.testing.assert_allclose(signal.timestamps_s, expected, atol=1e-9)
    assert list(signal.channels) == ["lead_ii", "lead_i"] and signal.units == {"lead_ii": "mV", "lead_i": "mV"}
    step = np.abs(ecg).max(axis=0) / (2 ** 15 - 1)
    for index, values in enumerate(signal.channels.values()):
        assert np.abs(values - ecg[:, index]).max() <= step[index]
    assert signal.metadata["sampling_frequency_hz"] == ECG_RATE_HZ
    # the frame shown at t = 0.2 s is frame 5; the ECG sample at the same instant is sample (0.2 + 0.12) * 500
    assert np.argmin(np.abs(signal.timestamps_s - stream.timestamps_s[5])) == 160


def test_cine_without_waveform_has_no_signals(tmp_path):
    from sonobridge.formats import open_recording

    from support import CINE

    assert open_recording(CINE).signals == {}


def test_undecodable_waveform_is_left_out_with_a_warning(echo_with_ecg):
    import pydicom

    from sonobridge.formats import open_recording

    path, _ = echo_with_ecg
    ds = pydicom.dcmread(path)
    ds.WaveformSequence[0].WaveformData = b"\0\0"
    with pytest.warns(UserWarning, match="waveform cannot be read"):
        recording = open_recording(ds)
    assert recording.signals == {} and recording["image"].n_frames == 20


def test_zea_export_writes_the_ecg_field(echo_with_ecg, tmp_path):
    """zea 0.1.8 validates the file and reads ``metadata.ecg``: the first lead with its timing (start
    offset from the first frame, sample times); the second lead is the custom signal ``ecg_lead_i``."""
    from sonobridge.formats import open_recording
    from sonobridge.formats.zea.writer import export_zea

    path, ecg = echo_with_ecg
    recording = open_recording(path)
    out = export_zea(recording, tmp_path / "echo.hdf5")
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    validate_file(str(out))
    with zea.File(str(out)) as handle:
        handle.validate_spec()
        metadata = handle.metadata
        samples = np.asarray(metadata.ecg.samples)
        np.testing.assert_allclose(samples, recording.signals["ecg"].channels["lead_ii"], atol=1e-6)
        assert float(metadata.ecg.start_time_offset) == pytest.approx(OFFSET_S - FRAME_DELAY_S, abs=1e-6)
        np.testing.assert_allclose(np.asarray(metadata.ecg.timestamps), np.arange(450) / ECG_RATE_HZ, atol=1e-5)
        second = np.asarray(handle["metadata/ecg_lead_i/samples"])
        np.testing.assert_allclose(second, recording.signals["ecg"].channels["lead_i"], atol=1e-6)
    back = open_recording(out)                                  # sonobridge reads its own ECG back exactly
    np.testing.assert_array_equal(back.signals["ecg"].timestamps_s, recording.signals["ecg"].timestamps_s)
