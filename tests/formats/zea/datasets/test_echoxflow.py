"""EchoXFlow converter: against real zea 0.1.8's ``zea convert echoxflow`` where zea's converter can
run, and against the generated input everywhere.

zea reads EchoXFlow through the ``echoxflow`` package, which is published only on GitHub (not on
PyPI, so no project file can install it). The comparison with zea therefore runs when that package
is importable or its source folder is named by ``ECHOXFLOW_SRC`` (a checkout's ``src``), and is
skipped otherwise; it was run with EchoXFlow's reader at commit b782e0a. The other tests need
only zarr.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zarr")

from sonobridge.errors import FormatError, UnsupportedInputError  # noqa: E402
from sonobridge.formats.zea.datasets import echoxflow  # noqa: E402
from sonobridge.formats.zea.validate import validate  # noqa: E402
from zea_convert_support import differences, file_items, hdf5_files, run_zea_convert, zea_accepts  # noqa: E402
from zea_dataset_synth import echoxflow_root  # noqa: E402

#: zea always writes a metrics group (empty here); ours writes none when there are no metrics
ZEA_ONLY = ("metrics",)
EXPECTED = ["exam_A/rec_0.hdf5", "exam_B/rec_1.hdf5", "exam_B/rec_2.hdf5"]


def echoxflow_reader() -> str | None:
    """A PYTHONPATH entry giving zea the ``echoxflow`` package, "" if installed, None if neither."""
    if importlib.util.find_spec("echoxflow") is not None:
        return ""
    source = os.environ.get("ECHOXFLOW_SRC")
    return source if source and (Path(source) / "echoxflow").is_dir() else None


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("echoxflow")
    echoxflow_root(root / "src")
    for job in echoxflow.plan(root / "src", root / "ours", {}):
        echoxflow.convert(job)
    echoxflow.finish(root / "src", root / "ours", {})
    return root


def test_selects_the_recordings_zea_selects(converted):
    assert hdf5_files(converted / "ours") == EXPECTED        # too_short (< 10 frames), too_slow (<= 30 Hz) left out
    limited = echoxflow.plan(converted / "src", converted / "x", {"limit": "1", "min_frames": "12"})
    assert [job.output.name for job in limited] == ["rec_0.hdf5"]


def test_same_files_datasets_and_arrays_as_zea(converted, monkeypatch):
    reader = echoxflow_reader()
    if reader is None:
        pytest.skip("zea's EchoXFlow converter needs the echoxflow package (GitHub only): set ECHOXFLOW_SRC")
    if reader:
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [reader, os.environ.get("PYTHONPATH")])))
    run_zea_convert("echoxflow", converted / "src", converted / "zea", timeout=300)
    assert hdf5_files(converted / "zea") == EXPECTED
    for name in EXPECTED:
        assert differences(converted / "zea" / name, converted / "ours" / name, ignore=ZEA_ONLY) == [], name


def test_frames_timestamps_ecg_and_coordinates_come_from_the_store(converted):
    import zarr

    group = zarr.open_group(converted / "src" / "exam_A" / "rec_0.zarr", mode="r")
    items = file_items(converted / "ours" / "exam_A" / "rec_0.hdf5")
    image = "tracks/track_0/data/image"
    assert np.array_equal(items[f"{image}/values"][1], group["data/2d_brightness_mode"][:])
    times = np.asarray(group["timestamps/2d_brightness_mode"][:], np.float32)
    assert np.array_equal(items[f"{image}/timestamps"][1], times - times[0])
    coordinates = items[f"{image}/coordinates"][1]
    assert coordinates.shape == (24, 16, 3) and coordinates.dtype == np.float32
    depth = np.hypot(coordinates[..., 0], coordinates[..., 2])
    assert np.isclose(depth[0].min(), 0.0, atol=1e-7) and np.isclose(depth[-1].max(), 0.08)
    assert np.array_equal(items["metadata/ecg/samples"][1], group["data/ecg"][:])
    assert items["metadata/ecg/sampling_frequency"][1] == np.float32(500.0)
    assert items["metadata/subject/id"][1] in (b"exam_A", "exam_A")
    assert "tracks/track_0/data/image/coordinates" not in file_items(converted / "ours" / "exam_B" / "rec_2.hdf5")


def test_the_dataset_card_names_the_repo(converted):
    assert "zea_repo_id: zeahub/echoxflow" in (converted / "ours" / "README.md").read_text()


def test_real_zea_and_ours_validate_our_files(converted):
    for name in EXPECTED:
        assert zea_accepts(converted / "ours" / name) == [], name
        assert validate(converted / "ours" / name).valid, name


def test_a_zipped_store_converts(tmp_path):
    echoxflow_root(tmp_path / "src", [{"exam_id": "e", "recording_id": "z", "frames": (10, 8, 6), "fps": 60.0,
                                       "geometry": None, "ecg": None, "zip": True}])
    (job,) = echoxflow.plan(tmp_path / "src", tmp_path / "out", {})
    echoxflow.convert(job)
    assert file_items(tmp_path / "out" / "e" / "z.hdf5")["tracks/track_0/data/image/values"][1].shape == (10, 8, 6)


def test_bad_inputs_raise_the_packages_errors(tmp_path):
    with pytest.raises(UnsupportedInputError, match="croissant.json"):
        echoxflow.plan(tmp_path, tmp_path / "out", {})
    echoxflow_root(tmp_path / "src", [{"exam_id": "e", "recording_id": "gone", "frames": (10, 8, 6), "fps": 60.0,
                                       "geometry": None, "ecg": None}])
    (job,) = echoxflow.plan(tmp_path / "src", tmp_path / "out", {})
    shutil.rmtree(tmp_path / "src" / "e" / "gone.zarr")
    with pytest.raises(FormatError, match="gone.zarr"):
        echoxflow.convert(job)
    with pytest.raises(UnsupportedInputError, match="must be numbers"):
        echoxflow.plan(tmp_path / "src", tmp_path / "out", {"min_frames": "ten"})
    (tmp_path / "src" / "croissant.json").write_text("{not json")
    with pytest.raises(FormatError, match="croissant.json"):
        echoxflow.plan(tmp_path / "src", tmp_path / "out", {})
