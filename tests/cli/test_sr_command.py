"""`sonobridge sr`: a length drawn on an ultrasound frame written as a TID 1500 SR in mm, read back
with --json; faults as one line, exit 1, nothing written."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("highdicom")

from support import CINE, dciodvfy_errors  # noqa: E402

SONOBRIDGE = [sys.executable, "-m", "sonobridge.cli"]


def run(*args):
    return subprocess.run([*SONOBRIDGE, *map(str, args)], capture_output=True, text=True)


def test_length_written_and_read_back(tmp_path):
    out = tmp_path / "sr.dcm"
    written = run("sr", CINE, "--length", "100,50,200,50", "--frame", "4", "--out", out)
    assert written.returncode == 0, written.stderr
    assert "51.050 mm frame 4" in written.stdout
    assert dciodvfy_errors(out) == []
    read = run("sr", out, "--json")
    (measurement,) = json.loads(read.stdout)
    assert measurement["value"] == pytest.approx(100 * 0.5104970559477806)
    assert measurement["unit_code"] == "mm" and measurement["ref_frames"] == [4]
    assert measurement["scoord"] == [100.0, 50.0, 200.0, 50.0]
    again = run("sr", CINE, "--length", "100,50,200,50", "--out", out)
    assert again.returncode == 1 and "exists" in again.stderr


@pytest.mark.parametrize("args, message", [
    (["--length", "100,50,900,50"], "outside"),
    (["--length", "100,50,200,50", "--frame", "99"], "beyond"),
])
def test_faults_write_nothing(tmp_path, args, message):
    out = tmp_path / "sr.dcm"
    result = run("sr", CINE, *args, "--out", out)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
