"""``process`` / ``export_h5`` / ``keep_full_speed`` and the extraction objects of
``sonobridge.telemed`` against the real ``telemed`` package (same inputs, same status maps and
early exits) and against the documented signatures (../shared/reference/telemed-api.txt)."""
from __future__ import annotations

import inspect
import logging
import re
import shutil
import warnings
from pathlib import Path

import pytest
from telemed_synth import make_sidecar, uiff_bytes

import sonobridge.telemed as ours

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "telemed-api.txt"


@pytest.fixture(scope="module")
def theirs():
    warnings.simplefilter("ignore")
    import telemed

    return telemed


def relative(result: dict, root: Path) -> dict:
    """A status map (or a map of them) with paths relative to ``root``."""
    if all(isinstance(value, dict) for value in result.values()) and result:
        return {key: relative(value, root) for key, value in result.items()}
    return {str(Path(path).relative_to(root)): status for path, status in result.items()}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    make_sidecar(folder / "a.tvd.h5", n=12, seed=1)
    make_sidecar(folder / "timing.tvd.h5", n=12, frames=False, seed=2)
    (folder / "sub").mkdir()
    make_sidecar(folder / "sub" / "dual.tvd.h5", n=12, panels=(1, 2), seed=3)
    return folder


def twin(batch: Path, tmp_path: Path) -> tuple[Path, Path]:
    mine, reference = tmp_path / "ours", tmp_path / "theirs"
    shutil.copytree(batch, mine)
    shutil.copytree(batch, reference)
    return mine, reference


def test_timing_only_sidecar_is_an_error_in_a_batch_as_telemed(theirs, batch, tmp_path):
    mine, reference = twin(batch, tmp_path)
    got = relative(ours.export_video(mine, progress=False, build_toc=False), mine)
    expected = relative(theirs.export_video(reference, progress=False, build_toc=False), reference)
    assert got == expected
    assert got["timing.mp4"].startswith("error: timing.tvd.h5 has no /frames/gray")
    assert got["a.mp4"] == "built"


def test_process_status_maps_match_telemed(theirs, batch, tmp_path):
    mine, reference = twin(batch, tmp_path)
    got = ours.process(mine, progress=False)
    expected = theirs.process(reference)            # telemed's process cannot take progress= (passed twice)
    assert relative(got, mine) == relative(expected, reference)
    assert got["h5"] == {} and "error" in got["video"][str(mine / "timing.mp4")]
    again = ours.process(mine, progress=False)
    assert relative(again, mine) == relative(theirs.process(reference), reference)


def test_process_and_export_h5_early_exits_as_telemed(theirs, tmp_path, caplog):
    missing = tmp_path / "nowhere"
    for function in (ours.process, theirs.process):
        with pytest.raises(FileNotFoundError, match=re.escape(repr(str(missing)))):
            function(missing, progress=False)
        with pytest.raises(TypeError, match=r"unknown .*\['colour'\]"):
            function(tmp_path, colour=True)
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.WARNING, logger="sonobridge.telemed"):
        assert ours.process(tmp_path / "empty", progress=False) == theirs.process(tmp_path / "empty", progress=False)
    assert "no .tvd or .tvd.h5 files found" in caplog.text
    make_sidecar(tmp_path / "empty" / "x.tvd.h5", n=5)
    assert ours.export_h5(tmp_path / "empty", progress=False) == theirs.export_h5(tmp_path / "empty") == {}
    assert ours.export_h5((tmp_path / "empty",), progress=False) == {}


def test_process_routes_the_extraction_keywords(tmp_path):
    from autoint1_simulator import AutoInt1Simulator

    from sonobridge.formats.telemed.autoint import AutoInt1Client

    truth = make_sidecar(tmp_path / "truth.tvd.h5", n=10, seed=4)
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / "s.tvd").write_bytes(uiff_bytes(declared=12))
    simulator = AutoInt1Simulator({"s.tvd": truth})
    simulator.network.add(str(tmp_path / "share"))
    result = ours.process(tmp_path / "share", client=AutoInt1Client(simulator), copy_to_local=True,
                          local_temp_root=tmp_path / "staging", compression_opts=1, keep_full_speed=False,
                          progress=False, build_toc=False)
    assert result["h5"] == {str(tmp_path / "share" / "s.tvd"): "built"}
    assert result["video"] == {str(tmp_path / "share" / "s.mp4"): "built"}
    assert list((tmp_path / "staging").iterdir()) == []


# ---------------------------------------------------------------- documented signatures
def documented(name: str) -> list[tuple[str, str | None]]:
    """``[(parameter, default text or None)]`` of ``name`` in the reference (``*`` as a marker)."""
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(rf"^- (?:class )?telemed\.[\w.]*?\b{name}(?:\((.*)\))?$", text, re.M)
    if match is None:                                   # documented only as a plain call: telemed.name()
        assert re.search(rf"telemed\.{name}\(\)", text) is not None, name
        return []
    parameters = []
    for part in filter(None, (p.strip() for p in (match.group(1) or "").split(", "))):
        key, _, default = part.partition("=")
        parameters.append((key, default or None))
    return [p for p in parameters if p[0] != "*"]


def ours_parameters(target) -> list[tuple[str, str | None]]:
    out = []
    for parameter in inspect.signature(target).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            out.append((f"**{parameter.name}", None))
        elif parameter.default is parameter.empty:
            out.append((parameter.name, None))
        else:
            out.append((parameter.name, repr(parameter.default)))
    return out


@pytest.mark.parametrize("name", ["export_h5", "process", "keep_full_speed", "TelemedRoi", "TelemedRecordingMeta",
                                  "TelemedTvdReader", "connect"])
def test_signatures_match_the_reference(name):
    expected = documented(name)
    got = ours_parameters(getattr(ours, name))
    if name == "TelemedRecordingMeta":                    # a dataclass field factory reads "<factory>"
        got = [(key, "<factory>" if key == "params" else default) for key, default in got]
    assert got[:len(expected)] == expected
    if name == "export_h5":                               # extras are test-double hooks, after the documented
        assert [key for key, _ in got[len(expected):]] == ["out_dir", "client", "network"]
    else:
        assert len(got) == len(expected)


def test_extraction_objects_are_public(theirs):
    for name in ("TelemedRoi", "TelemedRecordingMeta", "TelemedTvdReader"):
        assert name in ours.__all__
    assert hasattr(ours.TelemedRoi, "from_cmd") and hasattr(ours.TelemedRecordingMeta, "to_flat_attrs")
    for method in ("connect", "open", "get_frame_time_ms", "get_frame_gray", "extract_metadata"):
        assert callable(getattr(ours.TelemedTvdReader, method))
