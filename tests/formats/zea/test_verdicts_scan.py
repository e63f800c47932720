"""Mutation suite, scan side: our verdicts against the real zea 0.1.8's on scan-field mutations of
a raw-data track (``File.create`` acceptance, and ``validate`` on files written by real zea and by
us, then mutated with h5py). The metadata side is tests/formats/zea/test_verdicts.py; the rules are
the same: where zea refuses only by crashing, we refuse with our own error (a finding)."""
from __future__ import annotations

import copy
import os
import shutil

import h5py
import numpy as np
import pytest

import sonobridge.zea as ours

from zea_verdicts import CRASHES, DELETE, load_real_zea, ours_create, zea_create, zea_valid

N_FRAMES, N_TX, N_AX, N_EL = 2, 3, 16, 4


@pytest.fixture(scope="module")
def real_zea():
    return load_real_zea()


def base_inputs() -> dict:
    rng = np.random.default_rng(7)
    return {
        "data": {"raw_data": rng.standard_normal((N_FRAMES, N_TX, N_AX, N_EL, 1)).astype(np.float32)},
        "scan": {
            "sampling_frequency": np.float32(20e6), "center_frequency": np.float32(5e6),
            "demodulation_frequency": np.float32(5e6), "initial_times": np.zeros(N_TX, np.float32),
            "t0_delays": np.zeros((N_TX, N_EL), np.float32), "tx_apodizations": np.ones((N_TX, N_EL), np.float32),
            "focus_distances": np.full(N_TX, np.inf, np.float32), "transmit_origins": np.zeros((N_TX, 3), np.float32),
            "polar_angles": np.linspace(-0.2, 0.2, N_TX).astype(np.float32),
            "azimuth_angles": np.zeros(N_TX, np.float32), "sound_speed": np.float32(1540.0),
            "time_to_next_transmit": np.full((N_FRAMES, N_TX), 1e-4, np.float32),
            "tgc_gain_curve": np.ones(N_AX, np.float32),
            "waveforms_one_way": np.zeros((N_TX, 10), np.float32), "waveforms_two_way": np.zeros((N_TX, 20), np.float32),
        },
        "probe": {"name": "generic", "probe_geometry": np.zeros((N_EL, 3), np.float32)},
    }


def mutated(key: str, value) -> dict:
    inputs = base_inputs()
    if value is DELETE:
        del inputs["scan"][key]
    else:
        inputs["scan"][key] = value
    return inputs


F = np.float32
CREATE_CASES = {
    "valid": (None, None),
    **{f"no_{name}": (name, DELETE) for name in (
        "sampling_frequency", "center_frequency", "demodulation_frequency", "initial_times", "t0_delays",
        "tx_apodizations", "focus_distances", "transmit_origins", "polar_angles", "azimuth_angles", "sound_speed",
        "time_to_next_transmit", "tgc_gain_curve", "waveforms_one_way")},
    "fs_python_float": ("sampling_frequency", 20e6), "fs_python_int": ("sampling_frequency", 20_000_000),
    "fs_int64": ("sampling_frequency", np.int64(20_000_000)), "fs_str": ("sampling_frequency", "20e6"),
    "fs_negative": ("sampling_frequency", F(-1)), "fs_zero": ("sampling_frequency", F(0)),
    "fs_array": ("sampling_frequency", np.full(N_TX, 20e6, F)), "fs_float64": ("sampling_frequency", np.float64(2e7)),
    "cf_per_tx": ("center_frequency", np.full(N_TX, 5e6, F)), "cf_wrong_tx": ("center_frequency", np.full(N_TX + 1, 5e6, F)),
    "cf_negative": ("center_frequency", F(-5e6)), "cf_2d": ("center_frequency", np.full((N_TX, 1), 5e6, F)),
    "demod_zero": ("demodulation_frequency", F(0)), "demod_negative": ("demodulation_frequency", F(-1)),
    "demod_per_tx": ("demodulation_frequency", np.zeros(N_TX, F)),
    "initial_wrong_tx": ("initial_times", np.zeros(N_TX + 1, F)), "initial_2d": ("initial_times", np.zeros((N_TX, 1), F)),
    "initial_scalar": ("initial_times", F(0)), "initial_negative": ("initial_times", np.full(N_TX, -1e-6, F)),
    "initial_list": ("initial_times", [0.0] * N_TX), "initial_int": ("initial_times", np.zeros(N_TX, np.int64)),
    "t0_negative": ("t0_delays", np.full((N_TX, N_EL), -1e-6, F)), "t0_wrong_el": ("t0_delays", np.zeros((N_TX, N_EL + 1), F)),
    "t0_wrong_tx": ("t0_delays", np.zeros((N_TX + 1, N_EL), F)), "t0_1d": ("t0_delays", np.zeros(N_TX, F)),
    "t0_nan": ("t0_delays", np.full((N_TX, N_EL), np.nan, F)), "t0_float64": ("t0_delays", np.zeros((N_TX, N_EL))),
    "apod_2": ("tx_apodizations", np.full((N_TX, N_EL), 2.0, F)), "apod_negative": ("tx_apodizations", np.full((N_TX, N_EL), -1.0, F)),
    "apod_wrong_el": ("tx_apodizations", np.ones((N_TX, N_EL + 2), F)), "apod_bool": ("tx_apodizations", np.ones((N_TX, N_EL), bool)),
    "focus_zero": ("focus_distances", np.zeros(N_TX, F)), "focus_negative": ("focus_distances", np.full(N_TX, -0.01, F)),
    "focus_nan": ("focus_distances", np.full(N_TX, np.nan, F)), "focus_wrong_tx": ("focus_distances", np.zeros(N_TX - 1, F)),
    "origins_2": ("transmit_origins", np.zeros((N_TX, 2), F)), "origins_wrong_tx": ("transmit_origins", np.zeros((N_TX + 1, 3), F)),
    "origins_str": ("transmit_origins", "0"),
    "polar_4": ("polar_angles", np.full(N_TX, 4.0, F)), "polar_pi": ("polar_angles", np.full(N_TX, np.pi, F)),
    "polar_wrong_tx": ("polar_angles", np.zeros(N_TX + 1, F)), "polar_scalar": ("polar_angles", F(0)),
    "azimuth_4": ("azimuth_angles", np.full(N_TX, 4.0, F)), "azimuth_wrong_tx": ("azimuth_angles", np.zeros(2 * N_TX, F)),
    "c_zero": ("sound_speed", F(0)), "c_negative": ("sound_speed", F(-1540)), "c_str": ("sound_speed", "1540"),
    "c_array": ("sound_speed", np.full(N_TX, 1540, F)), "c_int": ("sound_speed", 1540), "c_nan": ("sound_speed", F(np.nan)),
    "ttnt_1d": ("time_to_next_transmit", np.full(N_TX, 1e-4, F)),
    "ttnt_flat": ("time_to_next_transmit", np.full(N_FRAMES * N_TX - 1, 1e-4, F)),
    "ttnt_list": ("time_to_next_transmit", [[1e-4] * N_TX] * N_FRAMES),
    "ttnt_wrong_frames": ("time_to_next_transmit", np.full((N_FRAMES + 1, N_TX), 1e-4, F)),
    "ttnt_wrong_tx": ("time_to_next_transmit", np.full((N_FRAMES, N_TX + 1), 1e-4, F)),
    "ttnt_negative": ("time_to_next_transmit", np.full((N_FRAMES, N_TX), -1e-4, F)),
    "tgc_negative": ("tgc_gain_curve", np.full(N_AX, -1.0, F)), "tgc_wrong_ax": ("tgc_gain_curve", np.ones(N_AX + 1, F)),
    "tgc_2d": ("tgc_gain_curve", np.ones((N_AX, 1), F)),
    "wave_1d": ("waveforms_one_way", np.zeros(10, F)), "wave_wrong_tx": ("waveforms_two_way", np.zeros((N_TX + 1, 20), F)),
    "rx_aperture": ("rx_aperture_indices", np.zeros((N_TX, N_EL), np.int32)),
    "rx_aperture_float": ("rx_aperture_indices", np.zeros((N_TX, N_EL), F)),
    "rx_aperture_wrong_tx": ("rx_aperture_indices", np.zeros((N_TX + 1, N_EL), np.int64)),
    "scan_unknown_key": ("bandwidth", F(1.0)), "scan_unknown_array": ("foo_bar", np.zeros(3, F)),
}




def test_scan_create_verdicts_agree_with_real_zea(real_zea, tmp_path):
    zea, _ = real_zea
    disagreements, crashes = [], []
    for index, (name, (key, value)) in enumerate(CREATE_CASES.items()):
        inputs = base_inputs() if key is None else mutated(key, value)
        theirs = zea_create(zea, tmp_path / f"z{index}.hdf5", copy.deepcopy(inputs))
        mine = ours_create(tmp_path / f"o{index}.hdf5", inputs)
        if theirs == "crash":
            crashes.append(name)
            theirs = "refused"
        if theirs != mine:
            disagreements.append((name, theirs, mine))
    assert not disagreements, disagreements
    assert len(CREATE_CASES) >= 60
    print(f"scan create: {len(CREATE_CASES)} cases agree; zea crashed on {crashes}")


# ---------------------------------------------------------------- validate on mutated files



FILE_MUTATIONS = {
    "valid": (),
    **{f"no_{name}": ((name, DELETE),) for name in (
        "sampling_frequency", "center_frequency", "initial_times", "t0_delays", "tx_apodizations",
        "focus_distances", "transmit_origins", "polar_angles", "sound_speed", "time_to_next_transmit")},
    "fs_negative": (("sampling_frequency", F(-1)),), "fs_int64": (("sampling_frequency", np.int64(20)),),
    "fs_str": (("sampling_frequency", "20e6"),), "fs_float64": (("sampling_frequency", np.float64(2e7)),),
    "cf_per_tx": (("center_frequency", np.full(N_TX, 5e6, F)),), "cf_wrong_tx": (("center_frequency", np.ones(N_TX + 2, F)),),
    "initial_wrong_tx": (("initial_times", np.zeros(N_TX + 1, F)),), "initial_int": (("initial_times", np.zeros(N_TX, np.int32)),),
    "t0_negative": (("t0_delays", np.full((N_TX, N_EL), -1.0, F)),), "t0_wrong_el": (("t0_delays", np.zeros((N_TX, N_EL + 1), F)),),
    "apod_2": (("tx_apodizations", np.full((N_TX, N_EL), 2.0, F)),),
    "focus_nan": (("focus_distances", np.full(N_TX, np.nan, F)),), "focus_zero": (("focus_distances", np.zeros(N_TX, F)),),
    "origins_2": (("transmit_origins", np.zeros((N_TX, 2), F)),), "polar_4": (("polar_angles", np.full(N_TX, 4.0, F)),),
    "c_zero": (("sound_speed", F(0)),), "c_array": (("sound_speed", np.ones(N_TX, F)),),
    "ttnt_wrong_frames": (("time_to_next_transmit", np.ones((N_FRAMES + 1, N_TX), F)),),
    "ttnt_flat": (("time_to_next_transmit", np.ones(N_FRAMES * N_TX - 1, F)),),
    "ttnt_flat_wrong": (("time_to_next_transmit", np.ones(N_FRAMES * N_TX, F)),),
    "tgc_negative": (("tgc_gain_curve", np.full(N_AX, -1.0, F)),), "tgc_wrong_ax": (("tgc_gain_curve", np.ones(N_AX - 1, F)),),
    "rx_aperture_float": (("rx_aperture_indices", np.zeros((N_TX, N_EL), F)),),
    "scan_unknown": (("bandwidth", F(1.0)),), "azimuth_wrong_tx": (("azimuth_angles", np.zeros(N_TX + 1, F)),),
    "raw_wrong_el": (("../data/raw_data", np.zeros((N_FRAMES, N_TX, N_AX, N_EL + 1, 1), F)),),
    "raw_int64": (("../data/raw_data", np.zeros((N_FRAMES, N_TX, N_AX, N_EL, 1), np.int64)),),
    "scan_dataset": ((".", DELETE), (".", np.zeros(3, F))),
}


@pytest.fixture(scope="module")
def base_files(real_zea, tmp_path_factory):
    zea, _ = real_zea
    folder = tmp_path_factory.mktemp("scan-bases")
    zea.File.create(str(folder / "zea.hdf5"), **base_inputs())
    ours.File.create(folder / "ours.hdf5", **base_inputs()).close()
    return {"zea": folder / "zea.hdf5", "ours": folder / "ours.hdf5"}


def _replace(handle, key, value) -> None:
    if key in handle:
        del handle[key]
    if value is not DELETE:
        handle.create_dataset(key, data=value)


@pytest.mark.parametrize("writer", ["zea", "ours"])
def test_scan_validate_verdicts_agree_with_real_zea(real_zea, base_files, tmp_path, writer):
    disagreements = []
    for name, edits in FILE_MUTATIONS.items():
        path = tmp_path / f"{name}.hdf5"
        shutil.copy(base_files[writer], path)
        with h5py.File(path, "r+") as handle:
            scan = "tracks/track_0/scan" if "tracks" in handle else "scan"
            for key, value in edits:
                _replace(handle, os.path.normpath(f"{scan}/{key}"), value)
        theirs = zea_valid(real_zea, path)
        if theirs is not ours.validate(path).valid:
            disagreements.append((name, theirs))
    assert not disagreements, disagreements
    print(f"scan validate ({writer}): {len(FILE_MUTATIONS)} cases agree; zea crashed on {CRASHES}")
