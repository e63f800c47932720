"""Units and descriptions from the field table (sonobridge.formats.zea.schema) are written on every
dataset of the spec, as zea writes its own; the units agree with real zea 0.1.8's for the same
input (zea's "–" for unitless read as "-"); custom datasets keep the unit/description given."""
from __future__ import annotations

import logging
import os
import warnings

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest

import sonobridge.zea as ours
from sonobridge.formats.zea.schema import PROBE_SPEC, SCAN_SPEC, field_attributes, field_of

os.environ.setdefault("KERAS_BACKEND", "jax")


def inputs() -> dict:
    rng = np.random.default_rng(3)
    n_tx, n_el = 2, 4
    return {
        "data": {"raw_data": rng.standard_normal((2, n_tx, 8, n_el, 1)).astype(np.float32),
                 "image": {"values": -rng.random((2, 6, 5)).astype(np.float32),
                           "coordinates": np.zeros((6, 5, 3), np.float32), "timestamps": np.array([0.0, 0.1]),
                           "start_time_offset": 0.0}},
        "scan": {"sampling_frequency": 2e7, "center_frequency": 5e6, "demodulation_frequency": 5e6,
                 "initial_times": np.zeros(n_tx), "t0_delays": np.zeros((n_tx, n_el)),
                 "tx_apodizations": np.ones((n_tx, n_el)), "focus_distances": np.full(n_tx, np.inf),
                 "transmit_origins": np.zeros((n_tx, 3)), "polar_angles": np.zeros(n_tx),
                 "azimuth_angles": np.zeros(n_tx), "sound_speed": 1540.0,
                 "time_to_next_transmit": np.full((2, n_tx), 1e-4), "tgc_gain_curve": np.ones(8)},
        "probe": {"name": "generic", "type": "linear", "probe_geometry": np.zeros((n_el, 3), np.float32),
                  "element_width": 3e-4, "probe_center_frequency": 5e6},
        "metadata": {"subject": {"id": "s1", "type": "phantom"}, "credit": "lab",
                     "ecg": {"samples": np.zeros(10, np.float32), "sampling_frequency": 500.0,
                             "start_time_offset": 0.0}},
    }


def spec_datasets(path) -> dict[str, dict]:
    found = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, obj: found.__setitem__(name, {k: (v.decode() if isinstance(v, bytes) else v)
                                                                    for k, v in obj.attrs.items()})
                          if isinstance(obj, h5py.Dataset) else None)
    return found


def test_every_spec_dataset_carries_the_tables_unit_and_description(tmp_path):
    ours.File.create(tmp_path / "a.hdf5", **inputs()).close()
    written = spec_datasets(tmp_path / "a.hdf5")
    for name, attrs in written.items():
        expected = field_attributes(f"/{name}")
        assert expected, f"{name} is outside the field table"
        assert attrs == expected, name
    assert written["tracks/track_0/scan/t0_delays"] == {"unit": "s", "description": SCAN_SPEC["t0_delays"].description}
    assert written["probe/probe_geometry"]["unit"] == PROBE_SPEC["probe_geometry"].unit == "m"
    assert field_of("/custom/anything") is None and field_of("/tracks/track_0/scan/bogus") is None


def test_custom_datasets_keep_their_own_unit_and_description(tmp_path):
    element = type("Element", (), {"name": "lens", "data": np.float64(0.5), "description": "Lens delay.",
                                   "unit": "wavelengths", "group_name": ""})()
    ours.File.create(tmp_path / "c.hdf5", custom=[element], **inputs()).close()
    assert spec_datasets(tmp_path / "c.hdf5")["custom/lens"] == {"unit": "wavelengths", "description": "Lens delay."}


def test_units_agree_with_real_zea(tmp_path):
    warnings.simplefilter("ignore")
    zea = pytest.importorskip("zea")
    logging.getLogger("zea").setLevel(logging.CRITICAL)
    zea.File.create(str(tmp_path / "zea.hdf5"), **inputs())
    ours.File.create(tmp_path / "ours.hdf5", **inputs()).close()
    theirs, mine = spec_datasets(tmp_path / "zea.hdf5"), spec_datasets(tmp_path / "ours.hdf5")
    compared = [name for name in mine if name in theirs and "unit" in theirs[name]]
    assert len(compared) >= 25
    for name in compared:
        assert mine[name]["unit"] == theirs[name]["unit"].replace("\u2013", "-"), name
