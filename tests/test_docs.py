"""The documentation site builds in strict mode (a broken reference or docstring fails) and shows
what the tools print; the example scripts it points to run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import CINE, EXAMPLES, REPO

SITE_COMMANDS = ("info", "preview", "render", "convert", "video", "process", "validate", "unpack")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(out)], cwd=REPO, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_site_builds_strictly_with_a_page_per_user(site):
    pages = {path.parent.name for path in (site / "getting-started").glob("*/index.html")}
    assert pages == {"clarius", "telemed", "dicom-pacs", "zea-ml", "cohorts"}
    assert (site / "changelog" / "index.html").read_text().count("Changelog") >= 1


def test_the_cli_page_is_the_parsers_own_help(site):
    page = (site / "cli" / "index.html").read_text()
    for command in SITE_COMMANDS:
        assert f"sonobridge {command}" in page and f"usage: sonobridge {command}" in page


def test_the_api_reference_comes_from_the_docstrings(site):
    page = (site / "reference" / "core" / "index.html").read_text()
    assert "Recording" in page and "timestamps_s" in page


def test_the_screenshots_the_docs_show_exist(site):
    for name in ("report.png", "render.png"):
        assert (site / "img" / name).stat().st_size > 10_000


def _run_example(script: str, *args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


def test_example_clarius_to_images(tmp_path):
    out = _run_example("clarius_to_images.py", "--out", "frame0.png", cwd=tmp_path)
    assert "mm per pixel" in out and (tmp_path / "frame0.png").stat().st_size > 0


def test_example_zea_for_ml(tmp_path):
    out = _run_example("zea_for_ml.py", "--out", "capture.hdf5", cwd=tmp_path)
    assert "valid zea file" in out and "INVALID" not in out


def test_example_dicom_cine(tmp_path):
    out = _run_example("dicom_cine.py", str(CINE), "--out-dir", "converted", cwd=tmp_path)
    assert "frames identical: True" in out and len(list((tmp_path / "converted").iterdir())) >= 2


def test_example_telemed_sidecar(tmp_path):
    from telemed_synth import make_sidecar

    sidecar = make_sidecar(tmp_path / "scan.tvd.h5")
    out = _run_example("telemed_sidecar.py", str(sidecar), "--out-dir", "videos", cwd=tmp_path)
    assert "40 frames" in out and list((tmp_path / "videos").glob("*.mp4"))


def test_example_cohort_runs_twice(tmp_path):
    first = _run_example("cohort.py", str(EXAMPLES), "--out", "results", cwd=tmp_path)
    second = _run_example("cohort.py", str(EXAMPLES), "--out", "results", cwd=tmp_path)
    assert "ingest: built" in first and "ingest: hit" in second and "built" not in second
    assert (tmp_path / "results" / "sonobridge-report.html").exists()
