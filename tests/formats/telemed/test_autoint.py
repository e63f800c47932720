"""The AutoInt1 (EchoWave COM) client against its named test double, and its pure parts against
the real ``telemed`` package: panel rectangles, flat metadata, network-path rule, staging."""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from autoint1_simulator import AutoInt1Simulator
from telemed_synth import make_sidecar, uiff_bytes

from sonobridge.formats.telemed.autoint import (AutoInt1Client, TelemedRecordingMeta, TelemedRoi, TelemedTvdReader,
                                                export_h5, is_network_path, keep_full_speed)


@pytest.fixture(scope="module")
def theirs():
    warnings.simplefilter("ignore")
    import telemed._extract

    return telemed._extract


RECTANGLES = [(73, 400, 50, 300), (0, 0, 0, 0), (5, 5, 10, 20), (10, 20, 7, 7), (30, 10, 5, 50), (-3, 10, 5, 50),
              (0, 10, 0, 50), (1, 2, 1, 2)]


@pytest.mark.parametrize("rectangle", RECTANGLES)
def test_roi_from_cmd_accepts_and_rejects_as_telemed(theirs, rectangle):
    x1, x2, y1, y2 = rectangle
    simulator = AutoInt1Simulator({})
    simulator.loaded = {"attrs": {"roi2_x1": x1, "roi2_x2": x2, "roi2_y1": y1, "roi2_y2": y2,
                                  "physical_dx2_cm_per_px": 0.01, "physical_dy2_cm_per_px": 0.02}}
    ours, reference = TelemedRoi.from_cmd(simulator, 2), theirs.TelemedRoi.from_cmd(simulator, 2)
    assert (ours is None) == (reference is None)
    if ours is not None:
        assert vars(ours) == vars(reference)


def test_roi_from_cmd_is_none_when_the_getters_raise(theirs):
    simulator = AutoInt1Simulator({})                       # nothing loaded: every getter fails
    assert TelemedRoi.from_cmd(simulator, 1) is None is theirs.TelemedRoi.from_cmd(simulator, 1)


@pytest.mark.parametrize("scale", [(0.02, 0.021), (None, None)])
def test_recording_meta_flattens_as_telemed(theirs, scale):
    rois = {1: (73, 400, 50, 300, 0.01, 0.011), 2: (500, 800, 50, 300, 0.02, 0.021)}

    def build(meta_class, roi_class):
        panels = {i: roi_class(i, x1, x2, y1, y2, x2 - x1 + 1, y2 - y1 + 1, dx, dy)
                  for i, (x1, x2, y1, y2, dx, dy) in rois.items()}
        return meta_class(120, 1024, 768, panels, *scale, "C:/data/a.tvd", "2026-01-01T00:00:00+00:00",
                          params={"param_b_depth": 40, "param_probe_name": "L12"})

    ours, reference = build(TelemedRecordingMeta, TelemedRoi), build(theirs.TelemedRecordingMeta, theirs.TelemedRoi)
    assert ours.n_b_images == reference.n_b_images == 2
    assert list(ours.to_flat_attrs().items()) == list(reference.to_flat_attrs().items())


PATHS = ["C:/data/a.tvd", "c:\\data\\a.tvd", "M:/share/a.tvd", "d:\\a.tvd", "\\\\server\\share\\a.tvd",
         "//server/share/a.tvd", "/home/user/a.tvd", "relative/a.tvd", "a"]


@pytest.mark.parametrize("path", PATHS)
def test_network_paths_as_telemed(theirs, path):
    assert is_network_path(path) == theirs._is_network_path(Path(path))


def test_keep_full_speed_is_a_call_and_a_context_manager(caplog):
    with caplog.at_level(logging.INFO, logger="sonobridge.formats.telemed.autoint"):
        handle = keep_full_speed()                          # the documented plain call
        with keep_full_speed():
            pass
    assert handle is not None
    if sys.platform != "win32":
        assert sum("keep_full_speed" in record.getMessage() for record in caplog.records) == 2


def tvd_folder(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(uiff_bytes(declared=42))


def test_export_h5_without_recordings_returns_empty_without_echowave(tmp_path):
    (tmp_path / "empty").mkdir()
    make_sidecar(tmp_path / "empty" / "done.tvd.h5")
    assert export_h5(tmp_path / "empty", progress=False) == {}      # would raise EchoWaveError if it connected
    tvd_folder(tmp_path, ["hit/a.tvd"])
    make_sidecar(tmp_path / "hit" / "a.tvd.h5")
    assert export_h5(tmp_path / "hit", progress=False) == {str(tmp_path / "hit" / "a.tvd"): "hit"}


def test_export_h5_sources_pattern_recursion_and_compression(tmp_path):
    import h5py

    truth = make_sidecar(tmp_path / "truth.tvd.h5", seed=5)
    tvd_folder(tmp_path, ["top/a.tvd", "top/sub/b.tvd", "other/c.tvd"])
    simulator = AutoInt1Simulator({name: truth for name in ("a.tvd", "b.tvd", "c.tvd")})
    client = AutoInt1Client(simulator)
    flat = export_h5((tmp_path / "top",), recursive=False, client=client, progress=False)       # a tuple source
    assert flat == {str(tmp_path / "top" / "a.tvd"): "built"}
    with h5py.File(tmp_path / "top" / "a.tvd.h5") as handle:
        assert handle["frames/gray"].compression == "gzip" and handle["frames/gray"].compression_opts == 4
    walked = export_h5([tmp_path / "top", tmp_path / "other" / "c.tvd", tmp_path / "top" / "a.tvd"], client=client,
                       compression_opts=9, progress=False)
    assert walked == {str(tmp_path / "top" / "a.tvd"): "hit", str(tmp_path / "top" / "sub" / "b.tvd"): "built",
                      str(tmp_path / "other" / "c.tvd"): "built"}
    with h5py.File(tmp_path / "top" / "sub" / "b.tvd.h5") as handle:
        assert handle["frames/gray"].compression_opts == 9
    assert export_h5(tmp_path / "top", pattern="b*.tvd", skip_existing=False, client=client, progress=False,
                     keep_full_speed=False) == {str(tmp_path / "top" / "sub" / "b.tvd"): "built"}


def test_export_h5_stages_network_sources_under_local_temp_root(tmp_path):
    truth = make_sidecar(tmp_path / "truth.tvd.h5", seed=6)
    tvd_folder(tmp_path, ["share/n.tvd", "share/m.tvd"])
    simulator = AutoInt1Simulator({"n.tvd": truth, "m.tvd": truth})
    simulator.network.add(str(tmp_path / "share"))          # EchoWave cannot open files there
    client, staging = AutoInt1Client(simulator), tmp_path / "staging"
    refused = export_h5(tmp_path / "share" / "n.tvd", copy_to_local=False, client=client, progress=False)
    assert refused[str(tmp_path / "share" / "n.tvd")].startswith("error: EchoWave could not open")
    hooks = []

    def hook(staged, success):
        hooks.append((staged.src_tvd, staged.local_tvd.parent.parent, staged.local_h5.is_file(), success))
        from sonobridge.formats.telemed.autoint import unstage

        unstage(staged, success)

    built = export_h5(tmp_path / "share", copy_to_local=True, local_temp_root=staging, postprocess=hook,
                      client=client, progress=False)
    assert set(built.values()) == {"built"}
    assert sorted(hooks) == [(tmp_path / "share" / name, staging, True, True) for name in ("m.tvd", "n.tvd")]
    assert list(staging.iterdir()) == []                    # staging folders removed
    extracted = h5_frames(tmp_path / "share" / "n.tvd.h5")
    assert np.array_equal(extracted, h5_frames(truth))


def h5_frames(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path) as handle:
        return handle["frames/gray"][()]


def test_reader_class_over_the_simulator(tmp_path):
    truth = make_sidecar(tmp_path / "truth.tvd.h5", panels=(1, 2), seed=7)
    tvd_folder(tmp_path, ["r.tvd"])
    reader = TelemedTvdReader()
    with pytest.raises(FileNotFoundError):
        reader.open(tmp_path / "missing.tvd")
    reader.cmd = AutoInt1Simulator({"r.tvd": truth})      # what connect() attaches on Windows
    assert reader.open(tmp_path / "r.tvd") is reader and reader.opened_path == tmp_path / "r.tvd"
    frames = h5_frames(truth)
    assert np.array_equal(reader.get_frame_gray(3), frames[3])
    assert reader.get_frame_time_ms(0) == 0.0 and reader.get_frame_time_ms(5) > 0
    with pytest.raises(IndexError):
        reader.get_frame_gray(len(frames))
    assert sorted(reader.b_mode_rois) == [1, 2] and reader.b_mode_roi == reader.b_mode_rois[1]
    meta = reader.extract_metadata()
    assert isinstance(meta, TelemedRecordingMeta) and meta.n_frames == len(frames) and meta.n_b_images == 2
    assert meta.to_flat_attrs()["roi2_x1"] == reader.b_mode_rois[2].x1
