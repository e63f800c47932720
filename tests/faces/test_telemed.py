"""Telemed sidecars: compatibility with the real `telemed` package (PyPI 0.1.0), Log, autocrop,
per-panel video export, completeness QC, and the core model."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

import sonobridge
import sonobridge.telemed as ours
import sonobridge.zea
from sonobridge.formats import open_recording

from telemed_synth import INNER, PANELS, make_legacy_sidecar, make_sidecar, uiff_bytes

logging.getLogger().setLevel(logging.WARNING)


@pytest.fixture(scope="module")
def theirs():
    warnings.simplefilter("ignore")
    import telemed

    return telemed


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    return {
        "single": make_sidecar(folder / "single.tvd.h5"),
        "dual": make_sidecar(folder / "dual.tvd.h5", panels=(1, 2), seed=1),
        "flipped": make_sidecar(folder / "flipped.tvd.h5", flipped=True, seed=2),
        "timing_only": make_sidecar(folder / "timing.tvd.h5", frames=False, seed=3),
        "truncated": make_sidecar(folder / "truncated.tvd.h5", n=30, declared=80, seed=4),
        "legacy_v1a3": make_legacy_sidecar(folder / "legacy_a.tvd.h5", "v1a3"),
        "legacy_int": make_legacy_sidecar(folder / "legacy_i.tvd.h5", 2),
    }


SCALARS = ["n_frames", "full_frame_width", "full_frame_height", "n_b_images", "schema_version", "source_tvd_path",
           "extracted_at_iso", "duration_s", "mean_fps", "has_frames", "physical_dx_cm_per_px",
           "physical_dy_cm_per_px", "image_dx_cm_per_px", "image_dy_cm_per_px"]


@pytest.mark.parametrize("name", ["single", "dual", "flipped", "timing_only", "truncated", "legacy_v1a3",
                                  "legacy_int"])
def test_our_sidecars_load_identically_in_telemed(theirs, cohort, name):
    path = cohort[name]
    their_log, our_log = theirs.Log(path), ours.Log(path)
    for key in SCALARS:
        assert getattr(our_log, key) == pytest.approx(getattr(their_log, key)), key
    assert np.array_equal(our_log.time_ms, their_log.time_ms) and np.array_equal(our_log.ifi_ms, their_log.ifi_ms)
    assert our_log.params == their_log.params
    assert sorted(our_log.b_mode_rois) == sorted(their_log.b_mode_rois)
    for panel, roi in our_log.b_mode_rois.items():
        assert roi.__dict__ == their_log.b_mode_rois[panel].__dict__
        assert roi.as_slice() == their_log.b_mode_rois[panel].as_slice()
        assert our_log.mp4_path(panel) == their_log.mp4_path(panel)
        if our_log.has_frames:
            for index in (0, our_log.n_frames - 1):
                for crop in (False, "panel"):
                    assert np.array_equal(our_log.frame(index, crop=crop, panel=panel),
                                          their_log.frame(index, crop=crop, panel=panel))


def test_documented_errors_match_telemed(theirs, cohort):
    for log in (theirs.Log(cohort["timing_only"]), ours.Log(cohort["timing_only"])):
        with pytest.raises(RuntimeError):
            log.frame(0)
    for log in (theirs.Log(cohort["single"]), ours.Log(cohort["single"])):
        with pytest.raises(IndexError):
            log.frame(log.n_frames)
        with pytest.raises(KeyError):
            log.frame(0, panel=2)
        with pytest.raises(ValueError):
            log.frame(0, crop="everything")
    with pytest.raises(FileNotFoundError):
        ours.Log(cohort["single"].with_name("missing.tvd.h5"))


def test_inner_image_autocrop(cohort):
    """telemed's rule: the panel top is kept, the ruler and margin columns and bright bottom tick
    rows are stripped (this synthetic tick row is too faint to be peeled)."""
    log = ours.Log(cohort["dual"])
    _, _, left, right = INNER
    for panel in (1, 2):
        x1, _, y1, y2 = PANELS[panel]
        rows, columns = log.image_slice(panel)
        assert (rows.start, rows.stop, columns.start, columns.stop) == (y1 - 1, y2, x1 - 1 + left, x1 - 1 + right)
        assert log.frame(3, crop=True, panel=panel).shape == (y2 - y1 + 1, right - left)


def test_autocrop_falls_back_to_the_panel_with_a_warning(tmp_path):
    path = make_sidecar(tmp_path / "blank.tvd.h5")
    import h5py

    with h5py.File(path, "r+") as handle:
        handle["frames/gray"][...] = 0
    log = ours.Log(path)
    with pytest.warns(UserWarning, match="inner image not found"):
        assert log.image_slice(1) == log.b_mode_roi.as_slice()


def test_per_panel_video_export_with_flip(cohort, tmp_path):
    status = ours.export_video([cohort["dual"], cohort["flipped"]], out_dir=tmp_path, progress=False)
    names = sorted(p.split("/")[-1] for p in status)
    assert names == ["dual_b1.mp4", "dual_b2.mp4", "flipped.mp4"] and set(status.values()) == {"built"}
    flipped = ours.Log(cohort["flipped"])
    with sonobridge.VideoReader(tmp_path / "flipped.mp4") as video:
        assert len(video) == flipped.n_frames
        assert np.array_equal(video[5], flipped.frame(5, crop=True)[:, ::-1])
        assert np.allclose(video.time_s, flipped.time_ms / 1000)
    dual = ours.Log(cohort["dual"])
    with sonobridge.VideoReader(tmp_path / "dual_b2.mp4") as video:
        assert np.array_equal(video[7], dual.frame(7, crop=True, panel=2))
    again = ours.export_video(cohort["dual"], out_dir=tmp_path, progress=False, crop="panel", overwrite=False)
    assert set(again.values()) == {"hit"}
    assert (tmp_path / "dual_b1.mp4.dnav-toc").exists()


def test_sidecar_in_the_core_model_and_through_the_exports(cohort, tmp_path):
    recording = open_recording(cohort["dual"])
    assert sorted(recording.streams) == ["b1", "b2"]
    stream = recording["b2"]
    log = ours.Log(cohort["dual"])
    assert stream.geometry.pixel_size_m == pytest.approx(log.image_dx_cm_per_px / 100)
    assert np.allclose(stream.timestamps_s, log.time_ms / 1000)
    assert np.array_equal(stream.frames[4], log.frame(4, crop="panel", panel=2))
    from sonobridge.formats.dicom.writer import export_dicom
    from sonobridge.formats.zea.writer import export_zea

    single = open_recording(cohort["single"])
    assert sonobridge.zea.validate(export_zea(single, tmp_path / "s.hdf5")).valid
    assert open_recording(export_dicom(single, tmp_path / "s.dcm"))["image"].n_frames == single["b1"].n_frames


# ---------------------------------------------------------------- completeness QC
def test_read_tvd_n_frames(tmp_path):
    good = tmp_path / "rec.tvd"
    good.write_bytes(uiff_bytes(declared=123))
    assert ours.read_tvd_n_frames(good) == 123
    for name, content in {"empty": b"", "garbage": bytes(range(256)) * 100, "riff": b"RIFF" + bytes(100),
                          "cut": uiff_bytes(declared=5)[:30], "huge": b"UIFF" + b"\xff" * 12 + b"UDI "}.items():
        path = tmp_path / f"{name}.tvd"
        path.write_bytes(content)
        assert ours.read_tvd_n_frames(path) is None, name
    assert ours.read_tvd_n_frames(tmp_path / "missing.tvd") is None


def test_verify_complete_and_backfill(tmp_path):
    complete = make_sidecar(tmp_path / "complete.tvd.h5", n=40)
    (tmp_path / "complete.tvd").write_bytes(uiff_bytes(declared=42))         # ~2 above EchoWave's count
    truncated = make_sidecar(tmp_path / "cut.tvd.h5", n=30, declared=80)
    unknown = make_sidecar(tmp_path / "unknown.tvd.h5", n=10)
    report = ours.verify_complete(tmp_path, progress=False)
    assert report[str(complete)]["status"] == "complete" and report[str(complete)]["declared"] == 42
    assert report[str(truncated)]["status"] == "truncated" and report[str(truncated)]["extracted"] == 30
    assert report[str(unknown)]["status"] == "unknown"
    assert ours.backfill_tvd_n_frames(complete, progress=False) == {str(complete): "added (42)"}
    assert ours.Log(complete).tvd_declared_n_frames == 42
    assert not list(tmp_path.glob("*.partial"))


def test_looks_lut_inverted(tmp_path):
    normal = make_sidecar(tmp_path / "normal.tvd.h5")
    inverted = make_sidecar(tmp_path / "inverted.tvd.h5")
    import h5py

    with h5py.File(inverted, "r+") as handle:
        handle["frames/gray"][...] = 255 - handle["frames/gray"][...]
    assert not ours.looks_lut_inverted(normal) and ours.looks_lut_inverted(inverted)


def test_view_renders_headless(cohort, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    log = ours.Log(cohort["single"])
    figure = log.view(frame_idx_0n=2)
    assert isinstance(figure, Figure)                   # a Figure, as telemed documents
    viewer = figure.viewer
    assert np.array_equal(viewer.image.get_array(), log.frame(2, crop=True))
    viewer.on_key(type("Key", (), {"key": "right"})())
    viewer.on_key(type("Key", (), {"key": "up"})())
    assert viewer.index == 13 and np.array_equal(viewer.image.get_array(), log.frame(13, crop=True))
    assert "1 cm" in [text.get_text() for text in viewer.axes.texts]
    viewer.figure.savefig(tmp_path / "view.png")
    assert (tmp_path / "view.png").stat().st_size > 10_000
    with pytest.raises(RuntimeError):
        ours.Log(cohort["timing_only"]).view()


# ---------------------------------------------------------------- COM-free .tvd
def synthetic_tvd(path, n=(12, 9), sub_header=48):
    from telemed_synth import tvd_bytes

    rng = np.random.default_rng(5)
    streams = [rng.integers(0, 256, (count, 64, 200), dtype=np.uint8) for count in n]
    ticks = [np.cumsum(rng.integers(330_000, 340_000, count)).astype(np.uint64) + 10**12 for count in n]
    path.write_bytes(tvd_bytes(streams, ticks, sub_header=sub_header))
    return streams, ticks


@pytest.mark.parametrize("sub_header", [48, 64])
def test_com_free_tvd_reading(tmp_path, sub_header):
    from sonobridge.formats.telemed.tvd import time_ms

    path = tmp_path / "rec.tvd"
    streams, ticks = synthetic_tvd(path, sub_header=sub_header)
    recording = open_recording(path)
    assert sorted(recording.streams) == ["b1", "b2"]
    for number, (frames, tick) in enumerate(zip(streams, ticks), start=1):
        stream = recording[f"b{number}"]
        assert np.array_equal(np.asarray(stream.frames), frames) and stream.declared_n_frames == len(frames) + 2
        assert np.array_equal(time_ms(stream), (tick.astype(np.int64) - int(tick[0])) / 10000.0)
        assert stream.parameters["frame_sub_header_bytes"] == sub_header
    assert ours.read_tvd_n_frames(path) == len(streams[0]) + 2


def test_tvd_damage_is_reported(tmp_path):
    from sonobridge.errors import FormatError, TruncatedDataWarning, TruncatedFileError
    from sonobridge.formats.telemed.tvd import read_tvd

    path = tmp_path / "rec.tvd"
    streams, _ = synthetic_tvd(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.tvd"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(TruncatedFileError, match="cut.tvd"):
        read_tvd(cut)
    with pytest.warns(TruncatedDataWarning):
        partial = read_tvd(cut, allow_truncated=True)
    assert 0 < partial["b1"].n_frames < len(streams[0])
    assert np.array_equal(np.asarray(partial["b1"].frames), streams[0][:partial["b1"].n_frames])
    bad = bytearray(data)
    first = bytes(bad).find(b"00bb")
    bad[first + 12 + 0x0C:first + 12 + 0x10] = (12345).to_bytes(4, "little")   # a lying datasize
    (tmp_path / "bad.tvd").write_bytes(bytes(bad))
    with pytest.raises(FormatError, match="bad.tvd.*sub-header"):
        read_tvd(tmp_path / "bad.tvd")
    (tmp_path / "junk.tvd").write_bytes(b"UIFF" + bytes(64))
    with pytest.raises(FormatError, match="junk.tvd"):
        read_tvd(tmp_path / "junk.tvd")


def test_legacy_side_by_side_crop(tmp_path):
    from sonobridge.formats.video.writer import write_video
    from sonobridge.formats.video.reader import VideoReader

    from support import image_stream

    frames = np.zeros((6, 620, 1500), np.uint8)                   # flat views: exact at the default CRF 24
    frames[:, 42:600, 72:777], frames[:, 42:600, 777:1483] = 90, 200
    (tmp_path / "raw").mkdir()
    write_video(image_stream(frames), tmp_path / "raw" / "S01 telemed export 2024.mp4")
    with pytest.warns(DeprecationWarning):
        status = ours.crop_folder(tmp_path / "raw", tmp_path / "out", left_suffix="_L", right_suffix="_R")
    assert set(status.values()) == {"built"} and sorted(p.split("/")[-1] for p in status) == ["S01_L.mp4", "S01_R.mp4"]
    with VideoReader(tmp_path / "out" / "S01_L.mp4") as left, VideoReader(tmp_path / "out" / "S01_R.mp4") as right:
        assert np.abs(left[3].astype(int) - frames[3, 42:600, 777:1483]).mean() < 1
        assert np.abs(right[3].astype(int) - frames[3, 42:600, 72:778]).mean() < 1
    with pytest.warns(DeprecationWarning):
        assert ours.crop_video(tmp_path / "raw" / "S01 telemed export 2024.mp4", tmp_path / "out" / "S01_L.mp4",
                               "left") == "hit"


def test_process_triage_and_idempotency(tmp_path):
    make_sidecar(tmp_path / "a.tvd.h5")
    make_sidecar(tmp_path / "b.tvd.h5", panels=(1, 2), seed=3)
    synthetic_tvd(tmp_path / "raw_only.tvd")
    first = ours.process(tmp_path, progress=False)
    assert set(first) == {"h5", "video", "toc"}
    assert first["h5"] == {str(tmp_path / "raw_only.tvd"): first["h5"][str(tmp_path / "raw_only.tvd")]}
    assert first["h5"][str(tmp_path / "raw_only.tvd")].startswith("error: extraction needs")
    assert sorted(p.split("/")[-1] for p in first["video"]) == ["a.mp4", "b_b1.mp4", "b_b2.mp4"]
    assert set(first["video"].values()) == {"built"} and set(first["toc"]) == set(first["video"])
    again = ours.process(tmp_path, progress=False)
    assert set(again["video"].values()) == {"hit"}
    with pytest.raises(TypeError, match="unknown keyword arguments"):
        ours.process(tmp_path, colour=True)


# ---------------------------------------------------------------- AutoInt1 extraction (test double)
def test_extraction_through_the_autoint1_simulator(tmp_path):
    from autoint1_simulator import AutoInt1Simulator
    from telemed_synth import uiff_bytes

    from sonobridge.formats.telemed.autoint import AutoInt1Client, export_h5

    source = make_sidecar(tmp_path / "truth.tvd.h5", panels=(1, 2), seed=9)
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "scan.tvd").write_bytes(uiff_bytes(declared=42))
    simulator = AutoInt1Simulator({"scan.tvd": source})
    seen, hooks = [], []
    status = export_h5(tmp_path / "rec", out_dir=tmp_path / "out", client=AutoInt1Client(simulator), progress=False,
                       postprocess=lambda *args: hooks.append(args), progress_callback=lambda *args: seen.append(args))
    target = tmp_path / "out" / "scan.tvd.h5"
    assert status == {str(tmp_path / "rec" / "scan.tvd"): "built"} and len(seen) == 1
    assert [(staged.dst_h5, success) for staged, success in hooks] == [(target, True)]
    assert not simulator.crashed and simulator.run == simulator.record == 0
    truth, extracted = ours.Log(source), ours.Log(target)
    assert np.array_equal(extracted.time_ms, truth.time_ms) and extracted.b_mode_rois == truth.b_mode_rois
    assert np.array_equal(extracted.frame(7), truth.frame(7))
    assert extracted.params["probe_name"] == "L12-5N40-A4" and extracted.params["b_depth"] == 40
    assert extracted.tvd_declared_n_frames == 42
    assert export_h5(tmp_path / "rec", out_dir=tmp_path / "out", client=AutoInt1Client(simulator),
                     progress=False) == {str(tmp_path / "rec" / "scan.tvd"): "hit"}
    timing = export_h5(tmp_path / "rec", out_dir=tmp_path / "timing", client=AutoInt1Client(simulator),
                       progress=False, frames=False)
    assert list(timing.values()) == ["built"] and not ours.Log(tmp_path / "timing" / "scan.tvd.h5").has_frames


def test_network_sources_are_staged_and_cleaned_even_on_error(tmp_path, monkeypatch):
    import tempfile

    from autoint1_simulator import AutoInt1Simulator
    from telemed_synth import uiff_bytes

    from sonobridge.formats.telemed.autoint import AutoInt1Client, export_h5

    share = tmp_path / "share"
    share.mkdir()
    (share / "net.tvd").write_bytes(uiff_bytes(declared=10))
    (share / "broken.tvd").write_bytes(uiff_bytes(declared=10))
    source = make_sidecar(tmp_path / "truth.tvd.h5")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "local"))
    (tmp_path / "local").mkdir()
    simulator = AutoInt1Simulator({"net.tvd": source})              # broken.tvd: OpenFile fails
    simulator.network.add(str(share))
    status = export_h5([share / "net.tvd", share / "broken.tvd"], out_dir=tmp_path / "out", progress=False,
                       client=AutoInt1Client(simulator), network=lambda path: str(path).startswith(str(share)))
    assert status[str(share / "net.tvd")] == "built" and (tmp_path / "out" / "net.tvd.h5").is_file()
    assert status[str(share / "broken.tvd")].startswith("error: EchoWave could not open")
    assert all(str(tmp_path / "local") in path for path in simulator.opened)       # EchoWave saw local copies
    assert list((tmp_path / "local").iterdir()) == []                                # and they are gone


def test_connect_explains_where_extraction_cannot_run():
    import sys

    from sonobridge.formats.telemed.autoint import EchoWaveError, connect, keep_full_speed

    if sys.platform != "win32":
        with pytest.raises(EchoWaveError, match="Windows"):
            connect()
        with keep_full_speed():                                          # a no-op here
            pass


def test_process_extracts_with_a_client_then_encodes(tmp_path):
    from autoint1_simulator import AutoInt1Simulator
    from telemed_synth import uiff_bytes

    from sonobridge.formats.telemed.autoint import AutoInt1Client

    source = make_sidecar(tmp_path / "truth.tvd.h5", seed=11)
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "s1.tvd").write_bytes(uiff_bytes(declared=42))
    result = ours.process(tmp_path / "study", client=AutoInt1Client(AutoInt1Simulator({"s1.tvd": source})),
                          progress=False)
    assert result["h5"] == {str(tmp_path / "study" / "s1.tvd"): "built"}
    assert result["video"] == {str(tmp_path / "study" / "s1.mp4"): "built"}


def test_sidecar_written_from_another_format_loads_in_telemed(theirs, tmp_path):
    from sonobridge.formats.telemed.sidecar import sidecar_from_stream, write_sidecar

    from support import SHARED

    grey_us = SHARED / "data" / "dicom" / "wheels" / "pydicom-data" / "JPGLosslessP14SV1_1s_1f_8b.dcm"
    stream = open_recording(grey_us)["image"]                    # 8-bit grey US with a calibrated region
    path = write_sidecar(sidecar_from_stream(stream), tmp_path / "from_dicom.tvd.h5")
    their_log = theirs.Log(path)
    assert their_log.n_frames == 1 and np.array_equal(their_log.frame(0), np.asarray(stream.frames[0]))
    assert their_log.image_dx_cm_per_px == pytest.approx(stream.geometry.pixel_size_m * 100)


def test_sidecars_written_by_telemed_load_identically_in_ours(theirs, tmp_path, monkeypatch):
    """The telemed package's own extraction code writes the sidecar (its COM calls answered by the
    AutoInt1 simulator test double through a stand-in win32com module); ours reads it the same."""
    import sys
    import types

    from autoint1_simulator import AutoInt1Simulator
    from telemed_synth import uiff_bytes

    source = make_sidecar(tmp_path / "truth.tvd.h5", panels=(1, 2), flipped=True, seed=9)
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "scan.tvd").write_bytes(uiff_bytes(declared=42))
    simulator = AutoInt1Simulator({"scan.tvd": source})
    client = types.ModuleType("win32com.client")
    client.GetActiveObject = lambda prog_id: simulator
    package = types.ModuleType("win32com")
    package.client = client
    monkeypatch.setitem(sys.modules, "win32com", package)
    monkeypatch.setitem(sys.modules, "win32com.client", client)
    assert set(theirs.export_h5(tmp_path / "rec" / "scan.tvd", progress=False).values()) == {"built"}
    written = tmp_path / "rec" / "scan.tvd.h5"
    their_log, our_log = theirs.Log(written), ours.Log(written)
    for key in SCALARS:
        assert getattr(our_log, key) == pytest.approx(getattr(their_log, key)), key
    assert our_log.params == their_log.params and our_log.b_mode_rois.keys() == their_log.b_mode_rois.keys()
    assert np.array_equal(our_log.time_ms, their_log.time_ms)
    for panel in (1, 2):
        assert np.array_equal(our_log.frame(5, crop="panel", panel=panel), their_log.frame(5, crop="panel", panel=panel))
    assert sorted(open_recording(written).streams) == ["b1", "b2"]


def test_a_tvd_with_its_sidecar_is_one_recording(tmp_path):
    from sonobridge.formats import find_recordings

    synthetic_tvd(tmp_path / "scan.tvd")
    assert [s.format for s in find_recordings(tmp_path)] == ["telemed-tvd"]
    make_sidecar(tmp_path / "scan.tvd.h5")
    assert [s.format for s in find_recordings(tmp_path)] == ["telemed-tvd-h5"]
