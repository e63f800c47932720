"""``sonobridge process`` hands every reader option to the readers (issue 14: ``--allow-truncated``
was accepted and dropped), and the CLI asks the format registry for what it writes."""
from __future__ import annotations

import json
import shutil

from support import SHARED
from synth import write_capture

from sonobridge.cli import build_parser, main
from sonobridge.formats import specs

PYDICOM = SHARED / "data" / "dicom" / "wheels" / "pydicom"


def _truncated_capture(folder):
    raw, _, _ = write_capture(folder, "env", 1, frames=6, lines=48, samples=120)
    raw.write_bytes(raw.read_bytes()[:-50])           # the last frame cut short
    return raw


def _process(capsys, *args) -> tuple[int, dict]:
    code = main(["process", *map(str, args), "--workers", "1", "--json", "-q"])
    return code, json.loads(capsys.readouterr().out)


def test_process_passes_allow_truncated_to_the_readers(tmp_path, capsys):
    _truncated_capture(tmp_path / "cohort" / "a")
    code, document = _process(capsys, tmp_path / "cohort", "--out", tmp_path / "strict", "--probe", "L7")
    assert code == 1 and set(document["status"].values()) == {"error"}
    report = json.loads((tmp_path / "strict" / "sonobridge-report.json").read_text())
    (result,) = report["results"].values()
    assert result["ingest"].startswith("error:") and "complete" in result["ingest"]

    code, document = _process(capsys, tmp_path / "cohort", "--out", tmp_path / "lenient", "--probe", "L7",
                              "--allow-truncated")
    assert code == 0 and set(document["status"].values()) == {"built"}
    report = json.loads((tmp_path / "lenient" / "sonobridge-report.json").read_text())
    (result,) = report["results"].values()
    assert result["ingest"] == "built"
    assert result["qc"]["env"]["n_frames"] == 5 and result["qc"]["env"]["complete"] is False


def test_process_prints_the_default_report_folder(tmp_path, capsys):
    source = tmp_path / "in" / "us.dcm"
    source.parent.mkdir()
    shutil.copy(PYDICOM / "SC_rgb_rle_2frame.dcm", source)
    code, document = _process(capsys, source.parent)
    assert code == 0 and document["report"] == str(tmp_path.resolve() / "sonobridge-out" / "sonobridge-report.json")


def test_convert_targets_come_from_the_registry():
    writable = sorted(spec.name for spec in specs() if spec.write is not None and not spec.writes_folder)
    (convert,) = [action for action in build_parser()._subparsers._group_actions[0].choices["convert"]._actions
                  if action.dest == "to"]
    assert sorted(convert.choices) == writable and convert.default == "zea"


def test_convert_picks_the_writer_from_the_output_name(tmp_path, capsys):
    source = PYDICOM / "SC_rgb_rle_2frame.dcm"
    for name, magic in (("x.dcm", b"DICM"), ("x.dicom", b"DICM"), ("x.hdf5", b"\x89HDF")):
        assert main(["convert", str(source), str(tmp_path / name), "-q"]) == 0
        data = (tmp_path / name).read_bytes()
        assert magic in data[:200], name
    assert main(["convert", str(source), str(tmp_path / "x.mp4"), "-q"]) == 2   # no one-file format: refused
    assert main(["convert", str(source), "--out-dir", str(tmp_path / "d"), "--to", "dicom", "-q"]) == 0
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["SC_rgb_rle_2frame.dcm"]
