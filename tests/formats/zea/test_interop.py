"""Interop with the real zea package (test dependency, KERAS_BACKEND=jax, CPU): the same verdict
and the same arrays on every fixture in ../shared/data/zea."""
from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pytest

import sonobridge.zea as ours

from support import VERDICTS, ZEA

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def real_zea():
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    return zea, validate_file


def zea_verdict(real_zea, path) -> bool:
    zea, validate_file = real_zea
    try:
        validate_file(str(path))
        with zea.File(str(path), validate=False) as handle:
            handle.validate_spec()
    except (ValueError, TypeError, AssertionError, KeyError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_same_verdict_as_real_zea(real_zea, name):
    assert ours.validate(ZEA / name).valid is zea_verdict(real_zea, ZEA / name)


@pytest.mark.parametrize("name", sorted(n for n, valid in VERDICTS.items() if valid))
def test_same_arrays_as_real_zea(real_zea, name):
    zea, _ = real_zea
    with zea.File(str(ZEA / name), validate=False) as theirs, ours.File(ZEA / name) as mine:
        tracks = mine.tracks
        if not mine.legacy:
            assert len(theirs.tracks) == len(tracks)
        for index, track in enumerate(tracks):
            their_track = theirs.get_track(index) if len(tracks) > 1 or not mine.legacy else None
            their_data = their_track.data if their_track is not None else theirs.data
            for key in track.data.keys():
                item = track.data[key]
                mine_values = item[()] if hasattr(item, "shape") else item.values[()]
                their_item = getattr(their_data, key)
                their_values = their_item[()] if hasattr(their_item, "shape") else their_item.values[()]
                assert np.array_equal(np.asarray(their_values), mine_values), key
        if theirs.timestamps is None:
            assert mine.timestamps is None
        else:
            assert np.allclose(np.asarray(theirs.timestamps), mine.timestamps)
        for index, track in enumerate(tracks if not mine.legacy else ()):
            expected = theirs.tracks[index].timestamps
            assert (expected is None) == (track.timestamps is None)
            if expected is not None:
                assert np.allclose(np.asarray(expected), track.timestamps)
        if len(tracks) == 1:
            their_parameters = theirs.load_parameters()
            for key, value in mine.load_parameters().items():
                if key in ("wavelength",) or key not in their_parameters:
                    continue
                assert np.allclose(np.asarray(their_parameters[key], float), np.asarray(value, float)), key


# ---------------------------------------------------------------- files we write
def written_files(tmp_path, clarius_data, capture) -> dict[str, object]:
    from sonobridge.formats.zea.writer import export_zea
    from sonobridge.formats import open_recording

    rng = np.random.default_rng(3)
    image = {"values": rng.integers(0, 256, (4, 50, 40), dtype=np.uint8),
             "coordinates": np.zeros((50, 40, 3), np.float32),
             "timestamps": np.arange(4) * 0.02, "start_time_offset": 0.5}
    files = {
        "clarius_all_kinds": export_zea(open_recording(capture, probe="L7"), tmp_path / "all.hdf5"),
        "clarius_real_2020": export_zea(open_recording(clarius_data / "carotid_doppler_2020", probe="L7"),
                                        tmp_path / "real.hdf5", compression="small"),
        "clarius_no_probe": export_zea(open_recording(clarius_data / "carotid_doppler_2020"),
                                       tmp_path / "noprobe.hdf5", compression=None),
        "multitrack_signals_custom": ours.File.create(
            tmp_path / "multi.hdf5",
            tracks=[{"label": "bmode", "data": {"image": image}},
                    {"label": "db", "data": {"image": {"values": -rng.random((3, 20, 10)) * 60}}}],
            metadata={"ecg": {"samples": rng.standard_normal(100), "sampling_frequency": 250.0,
                              "start_time_offset": 0.0},
                      "imu_accelerometer": {"samples": rng.standard_normal((30, 3)),
                                            "timestamps": np.arange(30) * 0.01, "start_time_offset": 0.1}},
            custom={"notes": {"text": "hello", "table": np.arange(6, dtype=np.int32)}}),
    }
    for codec in ("gzip", "lzf", "zea"):
        files[f"codec_{codec}"] = ours.File.create(tmp_path / f"{codec}.hdf5", data={"image": image},
                                                   compression=codec)
    return files


def test_real_zea_accepts_every_file_we_write(real_zea, tmp_path, clarius_data, full_capture):
    zea, validate_file = real_zea
    for name, path in written_files(tmp_path, clarius_data, full_capture).items():
        assert validate_file(os.fspath(path)) == {"status": "success"}, name
        with zea.File(os.fspath(path)) as theirs, ours.File(path) as mine:
            theirs.validate_spec()
            assert ours.validate(path).valid, name
            assert len(theirs.tracks) == len(mine.tracks)
            for index, track in enumerate(mine.tracks):
                their_data = theirs.get_track(index).data
                for key in track.data.keys():
                    for field in ("values", "coordinates", "timestamps"):
                        if field in track.data[key]:
                            mine_values = track.data[key][field][()]
                            their_values = np.asarray(getattr(getattr(their_data, key), field)[()])
                            assert np.array_equal(their_values, mine_values), (name, key, field)
