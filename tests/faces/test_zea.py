"""zea-format files read and validated with h5py + hdf5plugin only: every fixture in
../shared/data/zea gets zea 0.1.8's verdict (recorded in its MANIFEST.md), and the zea-compatible
File surface reads them lazily."""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

import sonobridge.zea as zea
from sonobridge.core.frames import LazyFrames
from sonobridge.cli import main

from support import VERDICTS, ZEA

def test_manifest_covers_every_fixture():
    assert sorted(VERDICTS) == sorted(p.name for p in ZEA.iterdir() if p.suffix in (".hdf5", ".h5"))


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict_matches_zea(name):
    report = zea.validate(ZEA / name)
    assert report.valid is VERDICTS[name], [str(f) for f in report.findings]
    if not report.valid:
        assert all(f.problem for f in report.errors)


def test_findings_name_the_path_and_reason():
    findings = {f.key: f.problem for f in zea.validate(ZEA / "hand_bad_int32_raw.hdf5").errors}
    assert "int32" in findings["tracks/track_0/data/raw_data"]
    findings = {f.key: f.problem for f in zea.validate(ZEA / "hand_bad_no_probe_geometry.hdf5").errors}
    assert "probe/probe_geometry" in findings["tracks/track_0/data/raw_data"]
    warnings = zea.validate(ZEA / "img_lzf.hdf5").warnings
    assert [w.key for w in warnings] == ["tracks/track_0/data/image"]


def test_file_surface_single_track():
    with zea.File(ZEA / "tiny.hdf5") as f:
        assert not f.legacy and f.zea_version == "0.1.8"
        values = f.data.image.values
        assert isinstance(values, h5py.Dataset)          # lazy: nothing read yet
        with h5py.File(ZEA / "tiny.hdf5", "r", locking=False) as raw:
            assert np.array_equal(values[1], raw["tracks/track_0/data/image/values"][1])
            assert np.array_equal(f["data/raw_data"][:], raw["tracks/track_0/data/raw_data"][:])
        assert (f.n_frames, f.n_tx, f.n_ax, f.n_el) == (2, 3, 64, 8)
        assert f.track_labels == [None] and f.probe["name"]
        parameters = f.load_parameters()
        assert "name" not in parameters and parameters["probe_geometry"].shape == (8, 3)
        assert parameters["wavelength"] == pytest.approx(parameters["sound_speed"] / parameters["center_frequency"])
        assert f.timestamps.shape == (6,) and f.timestamps[0] == 0 and np.all(np.diff(f.timestamps) > 0)


def test_file_surface_multitrack():
    with zea.File(ZEA / "multitrack.hdf5") as f:
        labels = f.track_labels
        assert len(labels) == 2 and all(labels)
        assert f.get_track(labels[1]).index == 1 and f.get_track(0).label == labels[0]
        with pytest.raises(AttributeError):
            _ = f.data
        with pytest.raises(KeyError):
            f.get_track("nope")
        assert f.timestamps.shape == f.track_schedule.shape
        # a track's transmits keep their place on the file's clock (as zea's Track.timestamps)
        first = f.get_track(0).timestamps.ravel()
        assert np.array_equal(first, f.timestamps[f.track_schedule == 0])
        assert f.get_track(1).data.raw_data.shape[-1] == 2


def test_file_surface_legacy_layout():
    with zea.File(ZEA / "legacy_0013.hdf5") as f:
        assert f.legacy and f.zea_version is None
        assert f.data.image.shape == (2, 32, 16) and f.n_frames == 2
        assert f.probe["probe_geometry"].shape == (8, 3) and f.probe["name"] == "generic"
    with pytest.raises(ValueError):
        zea.File(ZEA / "tiny.hdf5", mode="a")


def test_hostile_files_are_reported_not_crashed(tmp_path):
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes((ZEA / "tiny.hdf5").read_bytes()[:40_000])
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    for path in (truncated, junk, tmp_path / "missing.hdf5"):
        report = zea.validate(path)
        assert not report.valid and report.errors[0].key == ""
    # groups where datasets belong, and the reverse: findings, not exceptions
    misshapen = tmp_path / "misshapen.hdf5"
    shutil.copy(ZEA / "tiny.hdf5", misshapen)
    with h5py.File(misshapen, "r+") as f:
        del f["tracks/track_0/scan"]
        f["tracks/track_0/scan"] = np.zeros(3)
        del f["probe/name"]
        f.create_group("probe/name")
    assert not zea.validate(misshapen).valid
    # a dB image with a positive value is invalid
    bad = tmp_path / "positive_db.hdf5"
    shutil.copy(ZEA / "img_None.hdf5", bad)
    with h5py.File(bad, "r+") as f:
        f["tracks/track_0/data/image/values"][0, 0, 0] = 3.0
    assert any("<= 0" in e.problem for e in zea.validate(bad).errors)


def test_cli_validate(capsys):
    assert main(["validate", str(ZEA / "tiny.hdf5"), str(ZEA / "img_gzip4.hdf5")]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", "--json", str(ZEA / "not_zea.h5")]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert reports[0]["valid"] is False and reports[0]["findings"][0]["problem"]


def test_a_source_giving_wrong_frame_shapes_is_refused_not_scrambled(tmp_path):
    lazy = LazyFrames((10, 64, 64), np.uint8, lambda a, b: np.zeros((b - a, 64, 80), np.uint8))
    with pytest.raises(zea.InvalidZeaDataError, match="shape"):
        zea.File.create(tmp_path / "x.hdf5", data={"image": {"values": lazy}})
    assert not list(tmp_path.iterdir())


def test_long_one_dimensional_signals_are_not_chunked_per_sample(tmp_path):
    samples = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    path = zea.File.create(tmp_path / "s.hdf5", data={"image": {"values": np.zeros((2, 4, 4), np.uint8)}},
                          metadata={"ecg": {"samples": samples, "sampling_frequency": 500.0, "start_time_offset": 0.0}})
    with h5py.File(path, "r") as handle:
        assert handle["metadata/ecg/samples"].chunks[0] > 1000
