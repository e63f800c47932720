"""``sonobridge pacs echo|find``, ``sonobridge pull`` and ``sonobridge process --push``, run as users
run them (subprocesses) against a real PACS (Orthanc, the ``orthanc`` fixture)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pynetdicom")

from synth import write_capture  # noqa: E402


def run(*args):
    return subprocess.run([sys.executable, "-m", "sonobridge.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_process_push_pacs_find_and_pull(orthanc, tmp_path: Path):
    orthanc.reset()
    url = f"dicom://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"
    assert run("pacs", "echo", url).returncode == 0
    write_capture(tmp_path / "coh", "env", 1, frames=4, lines=16, samples=40, seed=1)
    first = run("process", "-q", tmp_path / "coh", "--out", tmp_path / "out", "--push", url)
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "out" / "sonobridge-report.json").read_text())
    assert [r["push"].split(":")[0] for r in report["results"].values()] == ["built"]
    assert run("process", "-q", tmp_path / "coh", "--out", tmp_path / "out", "--push", url).returncode == 0
    report = json.loads((tmp_path / "out" / "sonobridge-report.json").read_text())
    assert [r["push"] for r in report["results"].values()] == ["hit"]
    found = run("pacs", "find", url, "--json")
    studies = json.loads(found.stdout)
    assert found.returncode == 0 and len(studies) == 1
    study = studies[0]["StudyInstanceUID"]
    images = json.loads(run("pacs", "find", url, "--level", "image", "--study", study, "--json").stdout)
    assert len(images) == 1
    pulled = run("pull", url, "--study", study, "--out", tmp_path / "pulled", "--json")
    assert pulled.returncode == 0, pulled.stderr
    folder = Path(json.loads(pulled.stdout)["studies"][study]["folder"])
    assert {p.stem for p in folder.glob("*.dcm")} == {images[0]["SOPInstanceUID"]}
    port = closed_port()
    orthanc.add_modality("SONOPULL", "127.0.0.1", port)
    moved = run("pull", url, "--study", study, "--out", tmp_path / "moved", "--move-aet", "SONOPULL",
                "--move-port", port)
    assert moved.returncode == 0, moved.stderr
    assert {p.name for p in (tmp_path / "moved" / study).glob("*.dcm")} == {p.name for p in folder.glob("*.dcm")}
    web = orthanc.dicomweb_url
    assert run("pacs", "echo", web).returncode == 0
    assert [s["StudyInstanceUID"] for s in json.loads(run("pacs", "find", web, "--json").stdout)] == [study]
    again = run("process", "-q", folder, "--out", tmp_path / "out2", "--json")
    assert again.returncode == 0 and list(json.loads(again.stdout)["status"].values()) == ["built"]


def test_unreachable_pacs_exit_codes(tmp_path: Path):
    url = f"dicom://NOBODY@127.0.0.1:{closed_port()}"
    echo = run("pacs", "echo", url, "--timeout", "2")
    assert echo.returncode == 1 and echo.stderr.count("\n") == 1 and "Traceback" not in echo.stderr
    assert "C-ECHO failed after 3 attempts" in echo.stderr
    assert run("pacs", "find", "ftp://pacs").returncode == 1                    # not a PACS address
    assert run("pacs", "ping", url).returncode == 2                             # usage
    assert run("pull", url, "--out", tmp_path).returncode == 2                  # --study or --patient needed
    write_capture(tmp_path / "coh", "env", 1, frames=4, lines=16, samples=40, seed=1)
    pushed = run("process", "-q", tmp_path / "coh", "--out", tmp_path / "out", "--push", url)
    assert pushed.returncode == 1 and "push: " in pushed.stderr and "Traceback" not in pushed.stderr
    report = json.loads((tmp_path / "out" / "sonobridge-report.json").read_text())
    (result,) = report["results"].values()
    assert result["dicom"] == "built" and result["push"].startswith("error: ")
