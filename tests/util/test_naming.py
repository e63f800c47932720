"""sonobridge.util.naming: file-name-safe output stems, made unique across a cohort."""
from __future__ import annotations

from sonobridge.util.naming import safe_name, unique_stems


def test_names_become_safe_file_names():
    for text in ("scan 1/a.b", "../../etc/passwd", "a\\b:c*?", ""):
        name = safe_name(text)
        assert name and "/" not in name and "\\" not in name and not name.startswith(".")
    assert safe_name("", default="x") == "x"


def test_equal_stems_of_different_recordings_are_made_unique_and_others_kept():
    stems = unique_stems({"p1/IM1.dcm": "IM1", "p2/IM1.dcm": "IM1", "x.dcm": "x"})
    assert stems["x.dcm"] == "x"
    assert stems["p1/IM1.dcm"] != stems["p2/IM1.dcm"] and all(s.startswith("IM1") for s in
                                                               (stems["p1/IM1.dcm"], stems["p2/IM1.dcm"]))
    assert unique_stems({"a": "IM1", "b": "IM1"}) == unique_stems({"a": "IM1", "b": "IM1"})   # stable
