"""sonobridge.zea's API next to the real zea 0.1.8 on the shared fixtures: File.create's result,
records with attribute and key access, keys/attrs, metadata/metrics, validate(), repr, the
multi-track errors, load_parameters overrides, decoded string labels, grid and probe helpers."""
from __future__ import annotations

import logging
import os
import warnings

import h5py
import numpy as np
import pytest

import sonobridge.zea as sz
from sonobridge.errors import FormatError
from support import ZEA

FIXTURES = ["tiny", "multitrack", "sim_planewave", "hand_ok_minimal", "img_lzf", "h5py_only", "legacy_0013_resaved"]


@pytest.fixture(scope="module")
def zea():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zea = pytest.importorskip("zea")
    logging.getLogger("zea").setLevel(logging.ERROR)
    return zea


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "US" or b.dtype.kind in "US":
        return a.astype(str).tolist() == b.astype(str).tolist()
    return a.shape == b.shape and np.allclose(a.astype(np.float64), b.astype(np.float64), equal_nan=True)


@pytest.mark.parametrize("name", FIXTURES)
def test_file_surface_matches_zea(zea, name):
    path = ZEA / f"{name}.hdf5"
    with zea.File(str(path)) as theirs, sz.File(path) as mine:
        assert repr(mine) == repr(theirs) and str(mine) == repr(mine)
        assert [repr(t) for t in mine.tracks] == [repr(t) for t in theirs.tracks]
        assert list(mine.keys()) == list(theirs.keys()) and list(mine) == list(theirs.keys())
        assert dict(mine.attrs) == dict(theirs.attrs)
        assert mine.validate() == theirs.validate() == {"status": "success"}
        assert mine.track_labels == theirs.track_labels
        assert all(isinstance(label, str) for label in mine.track_labels if label is not None)
        for ours_track, their_track in zip(mine.tracks, theirs.tracks):
            if "scan" in ours_track._group:
                for key, value in ours_track.scan.items():
                    assert same(value, getattr(their_track.scan, key)), (name, key)
                    assert same(getattr(ours_track.scan, key), value)


@pytest.mark.parametrize("name", ["tiny", "sim_planewave", "hand_ok_minimal"])
def test_load_parameters_and_overrides_match_zea(zea, name):
    path = ZEA / f"{name}.hdf5"
    with zea.File(str(path)) as theirs, sz.File(path) as mine:
        for overrides in ({}, {"sound_speed": 1480.0}):
            their_parameters, parameters = theirs.load_parameters(**overrides), mine.load_parameters(**overrides)
            assert isinstance(parameters, sz.Record) and len(parameters) > 5
            for key in parameters:
                assert same(getattr(parameters, key), getattr(their_parameters, key)), (name, key, overrides)
                assert parameters[key] is getattr(parameters, key)
        assert same(mine.load_parameters().probe_geometry, theirs.probe.probe_geometry)
        assert mine.load_parameters(sound_speed=1480.0).sound_speed == 1480.0
        assert mine.probe.name == theirs.probe.name and mine.probe["name"] == mine.probe.name


def test_time_to_next_transmit_and_track_parameters(zea):
    with zea.File(str(ZEA / "multitrack.hdf5")) as theirs, sz.File(ZEA / "multitrack.hdf5") as mine:
        for ours_track, their_track in zip(mine.tracks, theirs.tracks):
            parameters = ours_track.load_parameters(sound_speed=1500.0)
            their_parameters = their_track.load_parameters(sound_speed=1500.0)
            assert same(parameters.time_to_next_transmit, their_parameters.time_to_next_transmit)
            assert same(parameters.probe_geometry, their_parameters.probe_geometry)
            assert parameters.sound_speed == their_parameters.sound_speed == 1500.0


@pytest.mark.parametrize("attribute", ["data", "scan", "load_parameters"])
def test_multi_track_access_points_to_tracks(zea, attribute):
    with sz.File(ZEA / "multitrack.hdf5") as mine, zea.File(str(ZEA / "multitrack.hdf5")) as theirs:
        for handle in (mine, theirs):
            with pytest.raises(AttributeError, match="file.tracks"):
                value = getattr(handle, attribute)
                value() if callable(value) else None


def test_metadata_and_metrics_records(zea):
    with zea.File(str(ZEA / "tiny.hdf5")) as theirs, sz.File(ZEA / "tiny.hdf5") as mine:
        assert mine.metadata.subject.type == theirs.metadata.subject.type == "phantom"
        assert mine.metadata.subject.id == theirs.metadata.subject.id
        assert mine.metadata.credit == theirs.metadata.credit
        assert mine.metadata() is not None and mine.metadata()["credit"] == mine.metadata.credit
        assert dict(mine.metrics) == {}
        assert mine.metadata.to_dict()["subject"]["type"] == "phantom"
    with sz.File(ZEA / "hand_ok_minimal.hdf5") as mine, pytest.raises(KeyError, match="metadata"):
        mine.metadata


def test_record_is_a_read_only_mapping():
    record = sz.Record({"a": 1, "b": np.arange(3)}, "Scan")
    assert record.a == record["a"] == 1 and dict(record).keys() == {"a", "b"} and "a" in record
    with pytest.raises(AttributeError, match="Scan has no 'c'"):
        record.c
    with pytest.raises(AttributeError):
        record.a = 2


def test_create_returns_an_open_file_that_is_also_the_path(tmp_path, zea):
    frames = np.zeros((2, 8, 6), np.uint8)
    f = sz.File.create(tmp_path / "c.hdf5", data={"image": {"values": frames}})
    assert isinstance(f, sz.File) and os.fspath(f) == str(tmp_path / "c.hdf5")
    with h5py.File(f, "r") as plain:                      # default locking: not yet held open by f
        assert "tracks" in plain
    assert f.n_frames == 2 and f.read_bytes()[:4] == b"\x89HDF" and f.exists() and f.suffix == ".hdf5"
    assert sz.validate(f).valid and zea.File(os.fspath(f)).validate() == {"status": "success"}
    f.close()


def test_segmentation_labels_and_text_annotations_are_str(tmp_path, zea):
    labels = np.array(["background", "LV_endo", "LV_myo"])
    values = np.zeros((2, 8, 6, 3), bool)
    coordinates = np.broadcast_to(sz.cartesian_pixel_grid((-0.01, 0.01), (0.0, 0.02), grid_size_x=6,
                                                          grid_size_z=8), (2, 8, 6, 3)).astype(np.float32)
    path = os.fspath(sz.File.create(tmp_path / "seg.hdf5", data={
        "segmentation": {"values": values, "labels": labels, "coordinates": coordinates}},
        metadata={"annotations": {"label": np.array(["a", "b"])}}))
    with sz.File(path) as mine, zea.File(path) as theirs:
        ours_labels = mine.data.segmentation.labels[:]
        assert ours_labels.dtype.kind == "U" and ours_labels.tolist() == labels.tolist()
        assert ours_labels.tolist() == theirs.data.segmentation.labels[:].tolist()
        assert mine.data.segmentation.labels[0] == "background"
        assert mine.metadata.annotations.label.tolist() == ["a", "b"]


def test_pixel_grids_match_zea(zea):
    from zea.beamform.pixelgrid import cartesian_pixel_grid, radial_pixel_grid

    theirs = cartesian_pixel_grid(xlims=(-0.02, 0.02), zlims=(0.0, 0.03), dx=0.001, dz=0.0005)
    assert same(sz.cartesian_pixel_grid((-0.02, 0.02), (0.0, 0.03), dx=0.001, dz=0.0005), theirs)
    theirs = cartesian_pixel_grid(xlims=(-0.02, 0.02), zlims=(0.0, 0.03), grid_size_x=64, grid_size_z=80)
    assert same(sz.cartesian_pixel_grid((-0.02, 0.02), (0.0, 0.03), grid_size_x=64, grid_size_z=80), theirs)
    angles = np.linspace(-0.5, 0.5, 11)
    origins = np.zeros((11, 3))
    theirs = radial_pixel_grid((0.0, 0.05), 0.001, origins, np.stack([angles, np.zeros(11)], axis=1))
    assert same(sz.polar_pixel_grid((0.0, 0.05), 0.001, angles, origins), np.swapaxes(theirs, 0, 1))


def test_probe_geometry_helpers_match_zea(zea):
    from zea.probes import create_probe_geometry

    assert same(sz.linear_probe_geometry(128, 0.0003), create_probe_geometry(128, 0.0003))
    geometry = sz.curved_probe_geometry(64, 0.0005, 0.06)
    assert same(np.linalg.norm(geometry - [0, 0, -0.06], axis=1), np.full(64, 0.06))
    assert np.allclose(np.linalg.norm(np.diff(geometry, axis=0), axis=1), 2 * 0.06 * np.sin(0.0005 / 0.06 / 2))


def test_validate_raises_package_error_on_a_bad_file(zea):
    with sz.File(ZEA / "hand_bad_int32_raw.hdf5") as mine, pytest.raises(FormatError, match="hand_bad_int32_raw"):
        mine.validate()


@pytest.mark.parametrize("name", ["tiny", "multitrack", "sim_planewave", "legacy_0013_resaved"])
def test_file_attributes_match_zea(zea, name):
    path = ZEA / f"{name}.hdf5"
    with zea.File(str(path)) as theirs, sz.File(path) as mine:
        assert (mine.name, mine.stem) == (theirs.name, theirs.stem)
        assert mine.probe_name == str(theirs.probe_name)
        assert mine.acquisition_time == theirs.acquisition_time
        for attribute in ("us_machine", "description"):
            if attribute in theirs.attrs:
                assert getattr(mine, attribute) == str(getattr(theirs, attribute))
        if len(mine.tracks) == 1:
            assert (mine.n_frames, mine.n_tx, mine.n_ax, mine.n_el) == \
                (theirs.n_frames, theirs.n_tx, theirs.n_ax, theirs.n_el)
