"""sonobridge.dicom.waveforms: pydicom's waveform fixture read as pydicom reads it, files we write
checked with dciodvfy and read back, and MNE hand-off."""
from __future__ import annotations

import numpy as np
import pytest

from support import DICOM, dciodvfy_errors

ECG = DICOM / "pydicom" / "waveform_ecg.dcm"
TWELVE = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def ecg_like(n: int = 1000, rate: float = 500.0, channels: int = 12) -> np.ndarray:
    """(n, channels) mV: a sine per channel plus sharp beats."""
    t = np.arange(n) / rate
    beats = np.exp(-(((t % 0.8) - 0.2) / 0.01) ** 2) * 1.5
    return np.stack([0.3 * np.sin(2 * np.pi * (1 + c) * t) + beats * (1 if c % 2 else -0.5)
                     for c in range(channels)], axis=1)


@pytest.mark.parametrize("as_raw", [True, False])
def test_multiplex_arrays_match_pydicom(as_raw):
    import pydicom
    from pydicom.waveforms import multiplex_array as theirs

    from sonobridge.dicom.waveforms import generate_multiplex, multiplex_array

    ds = pydicom.dcmread(ECG)
    ours = list(generate_multiplex(ds, as_raw=as_raw))
    assert len(ours) == len(ds.WaveformSequence) == 2
    for index, array in enumerate(ours):
        expected = theirs(ds, index, as_raw=as_raw) if as_raw else ds.waveform_array(index)
        assert array.dtype == expected.dtype
        np.testing.assert_array_equal(array, expected)
        np.testing.assert_array_equal(multiplex_array(ds, index, as_raw), array)


def test_read_waveform_of_pydicoms_ecg():
    import pydicom

    from sonobridge.dicom.waveforms import is_ecg, read_waveform

    ds = pydicom.dcmread(ECG)
    result = read_waveform(ECG)
    assert (result["modality"], result["sop_class_uid"]) == ("ECG", "1.2.840.10008.5.1.4.1.1.9.1.1")
    rhythm, median = result["groups"]
    assert (rhythm["label"], median["label"]) == ("RHYTHM", "MEDIAN BEAT")
    assert rhythm["sampling_frequency"] == 1000.0 and rhythm["num_samples"] == 10000 and rhythm["duration_s"] == 10.0
    np.testing.assert_array_equal(rhythm["signals"], ds.waveform_array(0))
    lead = rhythm["channels"][1]
    assert lead["source"] == "Lead II" and lead["units"] == "uV" and lead["sensitivity"] == 1.25
    assert (lead["filter_low"], lead["filter_high"], lead["notch"]) == (0.05, 300.0, 0.0)
    assert len(result["annotations"]) == len(ds.WaveformAnnotationSequence)
    rr = next(a for a in result["annotations"] if a["concept"] and a["concept"]["meaning"] == "RR Interval")
    assert rr["value"] == 982.0 and rr["units"] == "ms" and rr["channels"] == [(1, 0)]
    assert any(a["text"] == "RITMO SINUSALE" for a in rhythm["annotations"])
    assert is_ecg(rhythm)


def test_write_12_lead_ecg_is_valid_and_reads_back(tmp_path):
    import pydicom

    from sonobridge.dicom.waveforms import read_waveform, write_waveform

    signals = ecg_like()
    uid = write_waveform(tmp_path / "ecg.dcm", signals, sampling_frequency=500, labels=TWELVE, patient_id="P1",
                         patient_name="Doe^John")
    assert dciodvfy_errors(tmp_path / "ecg.dcm") == []
    ds = pydicom.dcmread(tmp_path / "ecg.dcm")
    assert ds.SOPInstanceUID == uid and ds.Modality == "ECG"
    group = read_waveform(tmp_path / "ecg.dcm")["groups"][0]
    steps = np.array([c["sensitivity"] for c in group["channels"]])
    assert np.all(np.abs(group["signals"] - signals) <= steps / 2 + 1e-12)            # quantisation only
    np.testing.assert_array_equal(group["signals"], ds.waveform_array(0))               # pydicom agrees
    assert [c["source_code"]["value"] for c in group["channels"][:4]] == ["2:1", "2:2", "2:61", "2:62"]
    assert group["channels"][3]["source"] == "Lead aVR" and group["channels"][0]["units"] == "mV"
    assert np.abs(group["raw"]).max() == 2 ** 15 - 1                                   # auto sensitivity: full range


@pytest.mark.parametrize("kind, bits", [("ecg", 16), ("ambulatory_ecg", 8), ("hemodynamic", 16), ("eps", 16),
                                        ("ecg32", 32), ("eeg", 32), ("respiratory", 8), ("audio", 16)])
def test_every_kind_reads_back(tmp_path, kind, bits):
    """Each kind writes its IOD and reads back; dciodvfy checks the IODs it knows (this dicom3tools
    predates the EEG / EMG / EOG, 32-bit ECG, respiratory and general audio IODs)."""
    import pydicom

    from sonobridge.dicom.waveforms import KINDS, read_waveform, write_waveform

    signals = ecg_like(400, 250.0, 3)
    write_waveform(tmp_path / "w.dcm", signals, sampling_frequency=250, kind=kind, labels=["II", "Fp1", "x"],
                   units=["mV", "uV", "mm[Hg]"], sample_bits=bits)
    ds = pydicom.dcmread(tmp_path / "w.dcm")
    assert ds.SOPClassUID == KINDS[kind].sop_class_uid and ds.Modality == KINDS[kind].modality
    group = read_waveform(ds)["groups"][0]
    steps = np.array([c["sensitivity"] for c in group["channels"]])
    assert np.all(np.abs(group["signals"] - signals) <= steps / 2 + 1e-12)
    assert [c["units"] for c in group["channels"]] == ["mV", "uV", "mm[Hg]"]
    if kind in ("ecg", "ambulatory_ecg", "hemodynamic", "eps"):
        assert dciodvfy_errors(tmp_path / "w.dcm") == []


def test_list_of_channels_and_explicit_sensitivity(tmp_path):
    from sonobridge.dicom.waveforms import read_waveform, write_waveform

    channels = [np.linspace(-1, 1, 300), np.linspace(0, 2, 300)]
    write_waveform(tmp_path / "w.dcm", channels, sampling_frequency=300, kind="ecg", labels=["I", "II"],
                   sensitivity=[0.001, 0.01])
    group = read_waveform(tmp_path / "w.dcm")["groups"][0]
    assert [c["sensitivity"] for c in group["channels"]] == [0.001, 0.01]
    np.testing.assert_allclose(group["signals"][:, 1], channels[1], atol=0.005)
    assert group["raw"].dtype == np.int16


@pytest.mark.parametrize("signals, options", [
    (np.ones((10, 2)), {"kind": "ultrasound"}),
    (np.ones((10, 2)), {"sample_bits": 12}),
    (np.ones((10, 2)), {"kind": "ecg12", "sample_bits": 32}),
    (np.full((10, 1), np.nan), {}),
    (np.ones((10, 2)), {"labels": ["I"]}),
    (np.ones((10, 1)) * 100, {"sensitivity": 0.001}),             # beyond 16 bits
    (np.ones((0, 1)), {}),
    (np.ones((10, 1)), {"sampling_frequency": 0}),
])
def test_write_refuses_what_does_not_fit(tmp_path, signals, options):
    from sonobridge.dicom.waveforms import write_waveform
    from sonobridge.errors import SonobridgeError

    options = {"sampling_frequency": 500, **options}
    with pytest.raises(SonobridgeError):
        write_waveform(tmp_path / "w.dcm", signals, **options)
    assert list(tmp_path.iterdir()) == []


def test_damaged_or_missing_waveforms_are_the_package_errors(tmp_path):
    import pydicom

    from sonobridge.dicom.content import content
    from sonobridge.dicom.waveforms import multiplex_array, read_waveform
    from sonobridge.errors import FormatError

    ds = pydicom.dcmread(ECG)
    ds.WaveformSequence[0].WaveformData = ds.WaveformSequence[0].WaveformData[:100]
    with pytest.raises(FormatError, match="bytes of waveform data"):
        multiplex_array(ds, 0)
    with pytest.raises(FormatError, match="no multiplex group 5"):
        multiplex_array(ds, 5)
    with pytest.raises(FormatError, match="no Waveform Sequence"):
        read_waveform(DICOM / "pydicom" / "CT_small.dcm")
    assert content(ECG)["groups"][1]["label"] == "MEDIAN BEAT"                         # content() dispatches here


def test_to_mne(tmp_path):
    """MNE (the waveforms extra) gets the channels in volts, ECG leads typed ``ecg``, EEG ``eeg``."""
    mne = pytest.importorskip("mne", reason="MNE-Python (the waveforms extra) is not installed")
    from sonobridge.dicom.waveforms import read_waveform, to_mne, write_waveform

    signals = ecg_like(500, 250.0, 2) * [1.0, 50.0]
    write_waveform(tmp_path / "eeg.dcm", signals, sampling_frequency=250, kind="ecg", labels=["II", "Fp1"],
                   units=["mV", "uV"])
    group = read_waveform(tmp_path / "eeg.dcm")["groups"][0]
    raw = to_mne(group)
    assert isinstance(raw, mne.io.RawArray) and raw.info["sfreq"] == 250.0
    assert raw.get_channel_types() == ["ecg", "eeg"] and raw.ch_names == ["II", "Fp1"]
    np.testing.assert_allclose(raw.get_data(), (group["signals"] * [1e-3, 1e-6]).T)


def test_to_mne_without_mne_names_the_extra(monkeypatch):
    import sys

    from sonobridge.dicom.waveforms import read_waveform, to_mne
    from sonobridge.errors import MissingDependencyError

    group = read_waveform(ECG)["groups"][1]
    monkeypatch.setitem(sys.modules, "mne", None)                                      # import mne fails
    with pytest.raises(MissingDependencyError, match=r"sonobridge\[waveforms\]"):
        to_mne(group)
