"""content(path) hands each derived object to its family's reader by SOP class."""
from __future__ import annotations

import pytest

pytest.importorskip("highdicom")

from sonobridge.dicom import content, ko, sr  # noqa: E402
from sonobridge.errors import SonobridgeError, UnsupportedInputError  # noqa: E402

from support import CINE  # noqa: E402


def test_dispatch_by_sop_class(tmp_path):
    report, selection = tmp_path / "sr.dcm", tmp_path / "ko.dcm"
    sr.write_length_report(CINE, [(100, 50), (200, 50)], frame=2, output=report)
    ko.write_ko([CINE], output=selection)
    assert content.content(report) == sr.read_measurement_report(report)
    assert content.content(selection) == ko.read_ko(selection)
    assert content.content(CINE) is None                      # an image, not a derived object


def test_other_sr_is_read_as_a_tree(tmp_path):
    out = tmp_path / "tree.dcm"
    sr.write_sr({"title": {"value": "121071", "scheme": "DCM", "meaning": "Finding"},
                 "content": [{"relationship": "CONTAINS", "value_type": "TEXT",
                              "concept": {"value": "121071", "scheme": "DCM", "meaning": "Finding"},
                              "text": "none"}]}, output=out)
    assert content.content(out)["content"][0]["text"] == "none"


def test_missing_family_and_bad_input(tmp_path, monkeypatch):
    selection = tmp_path / "ko.dcm"
    ko.write_ko([CINE], output=selection)
    monkeypatch.setitem(content.READERS, ko.KEY_OBJECT_SELECTION, ("no_such_family", "read"))
    with pytest.raises(UnsupportedInputError, match="no_such_family"):
        content.content(selection)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom at all")
    with pytest.raises(SonobridgeError, match="not a DICOM file"):
        content.content(junk)
