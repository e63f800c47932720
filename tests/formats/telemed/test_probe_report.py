"""sonobridge.formats.telemed.probe: the AutoInt1 discovery probe, run against the AutoInt1 simulator,
with the documented report sections (direct, ultrasound_regions, params, failed, skipped,
dim_consistency, provenance) and write_report returning the markdown path."""
from __future__ import annotations

import json

import pytest

from autoint1_simulator import AutoInt1Simulator
from telemed_synth import PANELS, make_sidecar

from sonobridge.errors import FormatError
from sonobridge.formats.telemed.autoint import AutoInt1Client
from sonobridge.formats.telemed.probe import parse_doc, parse_ids, probe, write_report

DOCUMENT = "\n".join([
    "// AutoInt1 parameter ids (synthetic excerpt in the documented format)",
    "#define id_get_current_probe_name 918 // ParamGetString(id, ...) returns the probe name",
    "#define id_b_depth_shift 305 // shift by index",
    "#define id_b_is_scan_direction_changed 133 // ParamGetBool",
    "#define id_b_gain 309 // ParamGetFloat: gain",
    "#define id_b_flip_up_down 105 // val = 0; toggles the image",
    "#define id_mystery 999 // no hint",
    "  #define id_indented 5 // ParamGetInt: not at the start of the line, not a definition",
    "#define id_get_current_probe_name 1 // a later redefinition is ignored"])


def test_ids_are_classified_as_telemed_does():
    ids = parse_ids(DOCUMENT)
    assert [(i.name, i.param_id, i.strategy, i.variant) for i in ids] == [
        ("id_get_current_probe_name", 918, "documented_get", "string"),
        ("id_b_depth_shift", 305, "shift_inferred", "int"),
        ("id_b_is_scan_direction_changed", 133, "documented_get", "bool"),
        ("id_b_gain", 309, "documented_get", "double"),
        ("id_b_flip_up_down", 105, "action_only", None), ("id_mystery", 999, "unknown", None)]


def test_a_missing_document_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="AutoInt1 document"):
        parse_doc(tmp_path / "missing.txt")


@pytest.fixture
def swept(tmp_path):
    doc = tmp_path / "AutoInt1Client.txt"
    doc.write_text(DOCUMENT)
    simulator = AutoInt1Simulator({"scan.tvd": make_sidecar(tmp_path / "t.tvd.h5", panels=(1, 2), flipped=True)})
    (tmp_path / "scan.tvd").write_bytes(b"x")
    result = probe(tmp_path / "scan.tvd", doc_path=doc, client=AutoInt1Client(simulator))
    assert not simulator.crashed
    return result, tmp_path


def test_the_probe_reports_every_documented_section(swept):
    result, folder = swept
    assert set(result) == {"source_tvd", "probed_at_iso", "direct", "ultrasound_regions", "params", "failed",
                           "skipped", "dim_consistency"}
    assert result["source_tvd"] == str(folder / "scan.tvd")
    assert result["direct"] == {"n_frames": 40, "loaded_frame_width_at_frame1": 430,
                                "loaded_frame_height_at_frame1": 300, "current_frame_idx_1n_after_seek": 1,
                                "current_frame_time_ms_at_frame1": 0.0}
    assert sorted(result["ultrasound_regions"]) == ["B", "B2"]                 # inactive ids left out
    x1, x2, y1, y2 = PANELS[2]
    region = result["ultrasound_regions"]["B2"]
    assert (region["img_id"], region["x1"], region["x2"], region["y1"], region["y2"]) == (2, x1, x2, y1, y2)
    assert {name: info["value"] for name, info in result["params"].items()} == {
        "id_get_current_probe_name": "L12-5N40-A4", "id_b_depth_shift": 40, "id_b_is_scan_direction_changed": True}
    assert result["params"]["id_b_depth_shift"] == {"param_id": 305, "variant": "int", "strategy": "shift_inferred",
                                                    "description": "shift by index", "value": 40}
    assert list(result["failed"]) == ["id_b_gain"] and result["failed"]["id_b_gain"]["err"]   # refused: reported
    assert sorted(result["skipped"]) == ["id_b_flip_up_down", "id_mystery"]
    consistency = result["dim_consistency"]
    assert consistency["constant"] is True and consistency["frame_1"] == consistency["frame_n"]
    assert consistency["frame_n"]["b_x2"] == PANELS[1][1]


def test_write_report_returns_the_markdown_path(swept):
    result, folder = swept
    markdown = write_report(result, folder / "reports" / "probe.json")
    assert markdown == folder / "reports" / "probe.md"
    assert json.loads((folder / "reports" / "probe.json").read_text())["params"]["id_b_depth_shift"]["value"] == 40
    text = markdown.read_text()
    for heading in ("## Direct getters", "## Ultrasound regions", "## ParamGet sweep (summary)", "### Populated",
                    "### Failed", "### Skipped", "## Dimension consistency (frame 1 vs frame N)"):
        assert heading in text, heading
    assert "- Populated: **3**" in text and "| `id_mystery` | 999 | unknown | no hint |" in text
    assert '| `id_get_current_probe_name` | 918 | string | documented_get | `"L12-5N40-A4"` |' in text
