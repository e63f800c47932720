"""The cohort pipeline: mixed formats, reports, idempotency, SIGKILL at random points, and a real
Dask LocalCluster (with a worker killed mid-run)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import sonobridge.zea as sz
from sonobridge.formats.video.index import load_index
from sonobridge.pipeline.run import REPORT_HTML, REPORT_JSON, process

from support import CINE, PALETTE, REPO, SHARED
from synth import write_capture
from telemed_synth import make_sidecar



def make_cohort(root: Path) -> Path:
    """Mixed formats in a folder tree: two Clarius captures, a DICOM cine, a Telemed sidecar, a zea
    image file and one broken DICOM."""
    write_capture(root / "clarius" / "a", "env", 1, frames=20, lines=48, samples=120, seed=1)
    write_capture(root / "clarius" / "b", "env", 1, frames=25, lines=48, samples=140, seed=2)
    (root / "dicom").mkdir(parents=True)
    shutil.copy(SHARED / "data" / "dicom" / "wheels" / "pydicom" / "examples_ybr_color.dcm", root / "dicom")
    (root / "dicom" / "broken.dcm").write_bytes(b"DICM" * 50)
    (root / "telemed").mkdir()
    make_sidecar(root / "telemed" / "scan.tvd.h5", n=30)
    (root / "zea").mkdir()
    frames = np.random.default_rng(0).integers(0, 256, (12, 64, 48), dtype=np.uint8)
    sz.File.create(root / "zea" / "image.hdf5", data={"image": {"values": frames, "timestamps": np.arange(12) / 20,
                                                                "start_time_offset": 0.0}})
    return root


def outputs_valid(out: Path, results: dict) -> None:
    for label, result in results.items():
        if "broken" in label:
            continue
        if result["ingest"] == "built" or result["ingest"] == "hit":
            stem_files = [p for p in out.glob("*.hdf5")]
            assert all(sz.validate(p).valid for p in stem_files)
        for video, status in result["video"].items():
            assert status in ("built", "hit") and load_index(video) is not None, (label, video, status)
    assert not list(out.glob(".*.partial"))


def test_mixed_cohort_report_and_rerun(tmp_path):
    cohort = make_cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    results = process([cohort], out, probe="L7", progress=False)
    assert len(results) == 6
    broken = [label for label in results if "broken" in label]
    assert len(broken) == 1 and results[broken[0]]["ingest"].startswith("error")
    formats = {result["format"] for result in results.values()}
    assert formats == {"clarius-raw", "dicom", "telemed-tvd-h5", "zea"}
    for label, result in results.items():
        if "broken" not in label:
            assert result["ingest"] in ("built", "skipped: already zea") and set(result["video"].values()) == {"built"}
    outputs_valid(out, results)
    report = json.loads((out / REPORT_JSON).read_text())
    assert report["summary"]["status"][broken[0]] == "error"
    page = (out / REPORT_HTML).read_text()
    assert page.index("broken.dcm") < page.index("examples_ybr_color") and "data:image/png;base64" in page
    again = process([cohort], out, probe="L7", progress=False)
    statuses = json.loads((out / REPORT_JSON).read_text())["summary"]["status"]
    assert {s for label, s in statuses.items() if "broken" not in label} == {"hit"}
    assert again[broken[0]]["ingest"].startswith("error")


def test_sigkill_at_random_points_then_resume(tmp_path):
    cohort = make_cohort(tmp_path / "cohort")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sonobridge.cli", "process", str(cohort), "--out", str(out), "--probe", "L7",
               "-q", "--workers", "2"]
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    rng = np.random.default_rng(42)
    for delay in rng.uniform(0.5, 3.0, 3):
        run = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait()
    finished_before = {str(p) for p in out.glob("*.mp4") if load_index(p) is not None}
    results = process([cohort], out, probe="L7", progress=False)
    outputs_valid(out, results)
    for result in results.values():
        for video, status in result.get("video", {}).items():
            if video in finished_before:
                assert status == "hit", video            # nothing complete is done twice
    statuses = json.loads((out / REPORT_JSON).read_text())["summary"]["status"]
    assert sum(s == "error" for s in statuses.values()) == 1


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed", reason="the test extra installs dask.distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_cluster_gives_the_local_results(tmp_path, dask_client):
    cohort = make_cohort(tmp_path / "cohort")
    local = process([cohort], tmp_path / "local", probe="L7", progress=False)
    remote = process([cohort], tmp_path / "remote", probe="L7", progress=False, executor=dask_client)
    assert local.keys() == remote.keys()
    for label in local:
        for stage in ("ingest", "qc"):
            assert local[label].get(stage) == remote[label].get(stage), (label, stage)
        assert [Path(p).name for p in local[label].get("video", {})] == [Path(p).name for p in
                                                                            remote[label].get("video", {})]
    for video in (tmp_path / "local").glob("*.mp4"):
        assert (tmp_path / "remote" / video.name).read_bytes() == video.read_bytes()


def test_a_worker_killed_mid_run(tmp_path, dask_client):
    cohort = make_cohort(tmp_path / "cohort")
    box = {}
    runner = threading.Thread(target=lambda: box.update(result=process([cohort], tmp_path / "out", probe="L7",
                                                                       progress=False, executor=dask_client)))
    runner.start()
    deadline = time.time() + 30
    while time.time() < deadline and not any(dask_client.processing().values()):
        time.sleep(0.05)
    victim = next(address for address, tasks in dask_client.processing().items() if tasks)
    before = set(dask_client.scheduler_info()["workers"])
    try:                                                # the worker process dies mid-task
        dask_client.run(os._exit, 1, workers=[victim])
    except Exception:  # noqa: BLE001 - the call's connection dies with the worker
        pass
    runner.join(120)
    assert victim not in dask_client.scheduler_info()["workers"] or set(dask_client.scheduler_info()["workers"]) != before
    results = box["result"]
    statuses = json.loads((tmp_path / "out" / REPORT_JSON).read_text())["summary"]["status"]
    assert sum(s == "error" for s in statuses.values()) == 1          # only the broken file
    outputs_valid(tmp_path / "out", results)


def test_stage_limits_progress_and_cancel(tmp_path):
    cohort = make_cohort(tmp_path / "cohort")
    seen = []
    results = process([cohort], tmp_path / "out", probe="L7", progress=True, stage_limits={"video": 1},
                      progress_callback=lambda *args: seen.append(args), workers=3)
    assert len(seen) == len(results) == 6 and {s[3] for s in seen} <= {"built", "hit", "error"}
    partial = process([cohort], tmp_path / "cancelled", probe="L7", progress=False, workers=1,
                      cancel_check=lambda: True)
    assert len(partial) < 6                                   # stopped after the first recording
    assert not list((tmp_path / "cancelled").glob(".*.partial"))


def test_outputs_inside_the_source_tree_are_not_reprocessed(tmp_path):
    cohort = make_cohort(tmp_path / "cohort")
    first = process([cohort], cohort / "out", probe="L7", progress=False)
    second = process([cohort], cohort / "out", probe="L7", progress=False)
    assert first.keys() == second.keys() and not any("/out/" in label for label in second)


def test_same_named_recordings_get_their_own_outputs(tmp_path):
    (tmp_path / "coh" / "p1").mkdir(parents=True)
    (tmp_path / "coh" / "p2").mkdir()
    shutil.copy(CINE, tmp_path / "coh" / "p1" / "IM0001.dcm")
    shutil.copy(PALETTE, tmp_path / "coh" / "p2" / "IM0001.dcm")
    results = process([tmp_path / "coh"], tmp_path / "out", progress=False)
    assert sorted(r["ingest"] for r in results.values()) == ["built", "built"]
    assert len(list((tmp_path / "out").glob("IM0001-*.hdf5"))) == 2


def test_a_deleted_dicom_output_is_rebuilt(tmp_path):
    (tmp_path / "coh").mkdir()
    shutil.copy(CINE, tmp_path / "coh" / "cine.dcm")
    process([tmp_path / "coh"], tmp_path / "out", dicom=True, progress=False)
    (tmp_path / "out" / "cine.dcm").unlink()
    again = process([tmp_path / "coh"], tmp_path / "out", dicom=True, progress=False)
    assert next(iter(again.values()))["dicom"] == "built" and (tmp_path / "out" / "cine.dcm").exists()
