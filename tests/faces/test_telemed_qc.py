"""sonobridge.telemed: completeness QC (verify_complete, backfill_tvd_n_frames, read_tvd_n_frames),
export(kind=), and the legacy crop helpers (encoder_flags, crop_video(encoder=, mono=False)), with
the real telemed package as the oracle where it runs here, and the signatures of these names
checked against the reference (../shared/reference/telemed-api.txt)."""
from __future__ import annotations

import ast
import inspect
import logging
import re
import struct
import warnings

import h5py
import numpy as np
import pytest

import sonobridge.telemed as ours
from sonobridge.formats.telemed import probe as probe_module

from support import SHARED
from telemed_synth import make_sidecar, uiff_bytes


@pytest.fixture(scope="module")
def theirs():
    warnings.simplefilter("ignore")
    import telemed

    return telemed


# ---------------------------------------------------------------- signatures against the reference
REFERENCE = SHARED / "reference" / "telemed-api.txt"
OURS = {"read_tvd_n_frames": ours.read_tvd_n_frames, "encoder_flags": ours.encoder_flags,
        "crop_video": ours.crop_video, "crop_folder": ours.crop_folder, "parse_doc": probe_module.parse_doc,
        "probe": probe_module.probe, "write_report": probe_module.write_report}


def _documented() -> dict[str, str]:
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    found = {}
    for line in lines:
        match = re.match(r"^- telemed\.[\w.]*?(\w+)\((.*)\)$", line.strip())
        if match and match.group(1) in OURS:
            found[match.group(1)] = match.group(2)
    return found


def _parameters(text: str) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a documented parameter list (defaults as source text)."""
    function = ast.parse(f"def f({text}): pass").body[0]
    args = function.args
    out = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        out.append((arg.arg, "POSITIONAL_OR_KEYWORD", ast.unparse(default) if default else inspect.Parameter.empty))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        out.append((arg.arg, "KEYWORD_ONLY", ast.unparse(default) if default else inspect.Parameter.empty))
    return out


def _ours(function) -> list[tuple[str, str, object]]:
    out = []
    for parameter in inspect.signature(function).parameters.values():
        default = parameter.default
        if default is not inspect.Parameter.empty:
            default = f"PosixPath({str(default)!r})" if type(default).__name__.endswith("Path") else repr(default)
        out.append((parameter.name, parameter.kind.name, default))
    return out


def test_the_reference_documents_every_name_checked_here():
    assert sorted(_documented()) == sorted(OURS)


@pytest.mark.parametrize("name", sorted(OURS))
def test_signature_matches_the_reference(name):
    documented = _parameters(_documented()[name])
    assert _ours(OURS[name])[:len(documented)] == documented
    assert all(kind == "KEYWORD_ONLY" for _, kind, _ in _ours(OURS[name])[len(documented):])   # extras: keywords


# ---------------------------------------------------------------- read_tvd_n_frames
def test_only_the_first_header_bytes_are_read(tmp_path):
    path = tmp_path / "scan.tvd"
    path.write_bytes(uiff_bytes(declared=2002))
    assert ours.read_tvd_n_frames(path) == 2002
    assert ours.read_tvd_n_frames(path, _header_bytes=68) == 2002           # strh count at bytes 64..68
    assert ours.read_tvd_n_frames(path, _header_bytes=67) is None          # the count ends beyond the window


def test_a_hostile_header_does_not_exhaust_the_stack(tmp_path):
    nested = b"".join(b"LIST" + struct.pack("<Q", 1 << 40) + b"hdrl" for _ in range(4000))
    path = tmp_path / "deep.tvd"
    path.write_bytes(b"UIFF" + struct.pack("<Q", 1 << 40) + b"UDI " + nested)
    assert ours.read_tvd_n_frames(path) is None


def test_chunks_after_a_short_form_are_still_walked(tmp_path):
    strh = b"\0" * 0x14 + struct.pack("<I", 77) + b"\0" * 8
    body = b"UIFF" + struct.pack("<Q", 4) + b"UDI " + b"strh" + struct.pack("<Q", len(strh)) + strh
    path = tmp_path / "short.tvd"
    path.write_bytes(body)
    assert ours.read_tvd_n_frames(path) == 77


# ---------------------------------------------------------------- verify_complete
@pytest.fixture
def cohort(tmp_path):
    paths = {"complete": make_sidecar(tmp_path / "complete.tvd.h5", n=40),
             "truncated": make_sidecar(tmp_path / "cut.tvd.h5", n=30, declared=80),
             "unknown": make_sidecar(tmp_path / "unknown.tvd.h5", n=10),
             "broken": tmp_path / "broken.tvd.h5"}
    (tmp_path / "complete.tvd").write_bytes(uiff_bytes(declared=42))          # ~2 above EchoWave's count
    paths["broken"].write_bytes(b"not hdf5")
    return paths


def test_verify_complete_reports_status_extracted_and_issues(cohort, tmp_path):
    report = ours.verify_complete(tmp_path, progress=False)
    assert report[str(cohort["complete"])] == {"extracted": 40, "declared": 42, "native_mp4": None,
                                               "status": "complete", "issues": []}
    assert report[str(cohort["truncated"])] == {"extracted": 30, "declared": 80, "native_mp4": None,
                                                "status": "truncated",
                                                "issues": [".tvd header declares 80 (~50 missing)"]}
    assert report[str(cohort["unknown"])]["status"] == "unknown"
    broken = report[str(cohort["broken"])]
    assert broken["status"].startswith("error: ") and broken["extracted"] is None
    assert ours.verify_complete(tmp_path, progress=False, tol=60)[str(cohort["truncated"])]["status"] == "complete"
    assert list(ours.verify_complete(tmp_path / "complete.tvd", progress=False)) == [str(cohort["complete"])]


def test_a_short_native_mp4_beside_the_sidecar_is_a_second_reference(tmp_path):
    from sonobridge.formats.video.writer import write_video

    from support import image_stream

    sidecar = make_sidecar(tmp_path / "dual.tvd.h5", n=10)
    write_video(image_stream(np.zeros((40, 64, 64), np.uint8)), tmp_path / "dual.mp4")
    info = ours.verify_complete(sidecar, progress=False)[str(sidecar)]
    assert info["native_mp4"] == 40 and info["status"] == "truncated"
    assert info["issues"] == ["native mp4 has 40 (~30 missing)"]


def test_progress_logs_a_line_per_file_and_a_summary(cohort, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="sonobridge.telemed"):
        ours.verify_complete(tmp_path)
    text = caplog.text
    assert "[complete]  complete.tvd.h5: extracted=40 [.tvd=42]" in text
    assert "[TRUNCATED]  cut.tvd.h5: extracted=30 [.tvd=80] -- .tvd header declares 80 (~50 missing)" in text
    assert "unknown.tvd.h5: extracted=10 [no reference]" in text and "[error]" in text
    assert "4 checked, 1 truncated, 1 with no reference" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sonobridge.telemed"):
        ours.verify_complete(tmp_path, progress=False)
    assert caplog.text == ""


# ---------------------------------------------------------------- backfill_tvd_n_frames
def test_backfill_returns_a_status_per_file(tmp_path):
    added = make_sidecar(tmp_path / "a.tvd.h5", n=5)
    (tmp_path / "a.tvd").write_bytes(uiff_bytes(declared=2002))
    updated = make_sidecar(tmp_path / "b.tvd.h5", n=5, declared=9)
    (tmp_path / "b.tvd").write_bytes(uiff_bytes(declared=2002))
    lonely = make_sidecar(tmp_path / "c.tvd.h5", n=5)
    garbled = make_sidecar(tmp_path / "d.tvd.h5", n=5)
    (tmp_path / "d.tvd").write_bytes(b"RIFF" + bytes(64))
    assert ours.backfill_tvd_n_frames(tmp_path, progress=False) == {
        str(added): "added (2002)", str(updated): "updated (2002)", str(lonely): "skipped: no sibling .tvd",
        str(garbled): "skipped: unparseable .tvd header"}
    assert ours.Log(added).tvd_declared_n_frames == ours.Log(updated).tvd_declared_n_frames == 2002
    with h5py.File(added, "r") as handle:
        assert int(handle.attrs["tvd_declared_n_frames"]) == 2002
    assert not list(tmp_path.glob("*.partial"))
    assert ours.verify_complete(added, progress=False)[str(added)]["declared"] == 2002
    broken = tmp_path / "e.tvd.h5"
    broken.write_bytes(b"not hdf5")
    (tmp_path / "e.tvd").write_bytes(uiff_bytes(declared=5))
    assert ours.backfill_tvd_n_frames(broken, progress=False)[str(broken)].startswith("error: ")
    assert broken.read_bytes() == b"not hdf5" and not list(tmp_path.glob("*.partial"))


# ---------------------------------------------------------------- export(kind=)
def test_export_dispatches_on_kind(tmp_path):
    sidecar = make_sidecar(tmp_path / "one.tvd.h5", n=6)
    assert ours.export(sidecar, kind="video", progress=False) == {str(tmp_path / "one.mp4"): "built"}
    both = ours.export(tmp_path, kind="both", progress=False)
    assert both["video"] == {str(tmp_path / "one.mp4"): "hit"}
    (tmp_path / "empty").mkdir()
    assert ours.export(tmp_path / "empty", kind="h5", progress=False) == {}          # the default kind: export_h5
    assert ours.export(tmp_path / "empty", progress=False) == {}
    with pytest.raises(ValueError, match="kind='mp4'"):
        ours.export(sidecar, kind="mp4")


# ---------------------------------------------------------------- legacy crop helpers
@pytest.mark.parametrize("encoder, crf, preset", [("h264_nvenc", 28, "slow"), ("libx264", 22, "fast"),
                                                  ("hevc_nvenc", 30, "p4")])
def test_encoder_flags_equal_telemeds(theirs, encoder, crf, preset):
    assert ours.encoder_flags(encoder, crf=crf, preset=preset) == theirs.crop.encoder_flags(encoder, crf=crf,
                                                                                             preset=preset)
    assert ours.encoder_flags(encoder) == theirs.crop.encoder_flags(encoder)


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    from sonobridge.formats.video.writer import write_video

    from support import image_stream

    folder = tmp_path_factory.mktemp("crop")
    frames = np.zeros((4, 620, 1500), np.uint8)
    frames[:, 42:600, 72:777], frames[:, 42:600, 777:1483] = 90, 200
    frames[:, 100:200, 900:1000] = 30                                  # something to find in the left view
    write_video(image_stream(frames), folder / "S01 telemed export.mp4")
    return folder, frames


def _decoded(path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray()[:frame.height] for frame in container.decode(video=0)])   # luma as stored


@pytest.mark.parametrize("options", [{}, {"mono": False}, {"mono": False, "encoder": "libx264", "crf": 18}])
def test_crop_video_matches_telemed(theirs, side_by_side, tmp_path, options):
    folder, frames = side_by_side
    source = folder / "S01 telemed export.mp4"
    with pytest.warns(DeprecationWarning):
        assert ours.crop_video(source, tmp_path / "ours.mp4", "left", **options) == "built"
    theirs.crop_video(source, tmp_path / "theirs.mp4", "left", **options)
    mine, reference = _decoded(tmp_path / "ours.mp4"), _decoded(tmp_path / "theirs.mp4")
    assert mine.shape == reference.shape == (4, 558, 706)
    assert np.abs(mine.astype(int) - reference).mean() < 2
    assert np.abs(mine.astype(int) - frames[:, 42:600, 777:1483]).mean() < 2
    with pytest.warns(DeprecationWarning):
        assert ours.crop_video(source, tmp_path / "ours.mp4", "left", **options) == "hit"


def test_crop_video_refuses_what_telemed_refuses(theirs, side_by_side, tmp_path):
    folder, _ = side_by_side
    source = folder / "S01 telemed export.mp4"
    for arguments in ({"side": "middle"}, {"side": "left", "encoder": "libx264"}):
        with pytest.raises(ValueError):
            theirs.crop_video(source, tmp_path / "t.mp4", **arguments)
        with pytest.raises(ValueError), pytest.warns(DeprecationWarning):
            ours.crop_video(source, tmp_path / "o.mp4", **arguments)
