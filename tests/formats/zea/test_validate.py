"""sonobridge.formats.zea.validate: every zea fixture gets zea 0.1.8's verdict (its MANIFEST)."""
from __future__ import annotations

import json

import h5py

from sonobridge.formats.zea.validate import validate

from support import VERDICTS, ZEA


def test_each_fixture_gets_the_manifest_verdict_and_a_json_report():
    assert VERDICTS
    for name, valid in VERDICTS.items():
        report = validate(ZEA / name)
        assert report.valid is valid, (name, [str(e) for e in report.errors])
        assert bool(report.errors) is not valid
        assert json.loads(json.dumps(report.to_json()))["valid"] is valid


def test_a_file_without_zea_structure_is_invalid(tmp_path):
    with h5py.File(tmp_path / "plain.hdf5", "w") as handle:
        handle["x"] = [1, 2, 3]
    report = validate(tmp_path / "plain.hdf5")
    assert not report.valid and report.errors
