"""Local cohort runs on worker processes (issue 22): recordings built side by side in separate
processes with the same outputs as one worker, no process for a re-run, and no worker left
running when the run is killed."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sonobridge.pipeline.workers as workers
from sonobridge.pipeline.run import _worker_processes, process

from support import REPO
from synth import write_capture

psutil = pytest.importorskip("psutil")          # comes with the test extra (dask.distributed)
pytestmark = pytest.mark.skipif(workers.START_METHOD != "forkserver", reason="workers start from a fork server on Linux")


def cohort(root: Path, n: int, frames: int = 12) -> Path:
    for index in range(n):
        write_capture(root / f"c{index}", "env", 1, frames=frames, lines=48, samples=160, seed=index)
    return root


def digests(folder: Path) -> dict[str, str]:
    """Videos by their bytes; zea files by what they hold (every dataset's dtype, shape, values and
    attributes, every group's attributes): a Blosc-compressed chunk's bytes may differ from run to
    run while it decodes to the same values. The JSON records hold times and are left out."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() if path.suffix == ".mp4" else _held(path)
            for path in sorted(folder.iterdir()) if path.suffix in (".mp4", ".hdf5")}


def _held(path: Path) -> str:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the Blosc filter)

    digest = hashlib.sha256()

    def add(name: str, node) -> None:
        digest.update(name.encode())
        for key in sorted(node.attrs):
            digest.update(key.encode() + repr(node.attrs[key]).encode())
        if isinstance(node, h5py.Dataset):
            value = node[()]
            digest.update(f"{node.dtype}{node.shape}".encode() + (value.tobytes() if hasattr(value, "tobytes")
                                                                  else repr(value).encode()))

    with h5py.File(path, "r") as file:
        add("/", file)
        file.visititems(add)
    return digest.hexdigest()


def worker_pids(parent: psutil.Process) -> set[int]:
    """The worker processes of a run in ``parent``: the children of its fork server."""
    found = set()
    try:
        for child in parent.children(recursive=True):
            try:
                if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                    found.update(worker.pid for worker in child.children())
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return found


def test_two_workers_build_in_two_processes_with_the_outputs_of_one(tmp_path):
    source = cohort(tmp_path / "cohort", 4)
    one = process([source], tmp_path / "one", probe="L7", progress=False, workers=1)
    seen: set[int] = set()
    running = True

    def watch() -> None:
        me = psutil.Process()
        while running:
            seen.update(worker_pids(me))
            time.sleep(0.02)

    earlier = worker_pids(psutil.Process())          # workers of earlier runs, maybe still ending
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        two = process([source], tmp_path / "two", probe="L7", progress=False, workers=2)
    finally:
        running = False
        watcher.join()
    seen -= earlier
    assert len(seen) == 2 and os.getpid() not in seen                 # two worker processes ran them
    assert {label: result["ingest"] for label, result in two.items()} == \
           {label: result["ingest"] for label, result in one.items()} == {label: "built" for label in one}
    assert digests(tmp_path / "one") == digests(tmp_path / "two")     # the same outputs either way
    assert all(psutil.pid_exists(pid) is False or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
               for pid in seen)                                         # and they are gone


def test_a_rerun_of_a_finished_cohort_starts_no_process(tmp_path, monkeypatch):
    source = cohort(tmp_path / "cohort", 3)
    process([source], tmp_path / "out", probe="L7", progress=False, workers=2)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a worker process was started for a finished recording")

    monkeypatch.setattr(workers.WorkerProcesses, "run", refuse)
    again = process([source], tmp_path / "out", probe="L7", progress=False, workers=2)
    assert {result["ingest"] for result in again.values()} == {"hit"}


def test_processes_only_where_there_is_something_to_overlap():
    assert _worker_processes(1, 16, None, [], ("ingest",)) is None         # one worker: this process
    assert _worker_processes(2, 1, None, [], ("ingest",)) is None          # one recording
    assert _worker_processes(2, 16, None, [], ("ingest",)).workers == 2
    assert _worker_processes(4, 3, {"video": 1}, [], ("ingest",)).workers == 3


def test_a_killed_run_leaves_no_worker_running(tmp_path):
    source = cohort(tmp_path / "cohort", 6, frames=120)
    command = [sys.executable, "-m", "sonobridge.cli", "process", str(source), "--out", str(tmp_path / "out"),
               "--probe", "L7", "-q", "--workers", "2"]
    run = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        main = psutil.Process(run.pid)
        deadline = time.monotonic() + 60
        started: set[int] = set()
        while len(started) < 2 and time.monotonic() < deadline and run.poll() is None:
            started = worker_pids(main)
            time.sleep(0.02)
        assert len(started) == 2, "the run did not start two worker processes"
        everything = [child.pid for child in main.children(recursive=True)]
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in everything):
            time.sleep(0.1)
        assert not [pid for pid in everything if _alive(pid)]          # fork server and workers ended
    finally:
        run.kill()
        run.wait()
    finished = process([source], tmp_path / "out", probe="L7", progress=False, workers=2)
    assert {result["ingest"] for result in finished.values()} <= {"built", "hit"}
    assert not list((tmp_path / "out").glob(".*.partial"))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_worker_killed_mid_run_fails_its_recordings_only(tmp_path):
    source = cohort(tmp_path / "cohort", 6, frames=120)
    box: dict = {}
    runner = threading.Thread(target=lambda: box.update(
        result=process([source], tmp_path / "out", probe="L7", progress=False, workers=2)))
    runner.start()
    me, deadline = psutil.Process(), time.monotonic() + 60
    while not worker_pids(me) and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = min(worker_pids(me))
    os.kill(victim, signal.SIGKILL)
    runner.join(300)
    failed = {label for label, result in box["result"].items() if "run" in result}
    assert failed and all("BrokenProcessPool" in box["result"][label]["run"] for label in failed)
    assert len(failed) < 6                                   # a new pool took the later recordings
    again = process([source], tmp_path / "out", probe="L7", progress=False, workers=2)
    assert {result["ingest"] for result in again.values()} <= {"built", "hit"}
    assert {label for label, result in again.items() if result["ingest"] == "built"} == failed


_WITHOUT_PYAV = """
import json, sys
sys.modules["av"] = None                      # PyAV made unavailable in the caller
from sonobridge.pipeline.run import process

if __name__ == "__main__":
    results = process([sys.argv[1]], sys.argv[2], probe="L7", progress=False, workers=2)
    print(json.dumps({label: result["video"] for label, result in results.items()}, default=str))
"""


def test_workers_see_the_modules_the_caller_blocked(tmp_path):
    source = cohort(tmp_path / "cohort", 2)
    script = tmp_path / "without_pyav.py"
    script.write_text(_WITHOUT_PYAV)
    run = subprocess.run([sys.executable, str(script), str(source), str(tmp_path / "out")], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert run.returncode == 0, run.stderr[-2000:]
    videos = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(videos) == 2 and all("sonobridge[video]" in str(states) for states in videos.values())


def test_a_cohort_with_non_ultrasound_dicom_reruns_without_a_process(tmp_path, monkeypatch):
    """CT and RT dose are not_applicable: never opened for the report, and done on a re-run."""
    from support import CINE, DICOM

    source = tmp_path / "cohort"
    source.mkdir()
    for path in (DICOM / "pydicom" / "CT_small.dcm", DICOM / "pydicom" / "rtdose.dcm", CINE):
        (source / path.name).write_bytes(path.read_bytes())
    first = process([source], tmp_path / "out", progress=False, workers=2)
    assert sorted(str(result["ingest"]).split(":")[0] for result in first.values()) == \
        ["built", "not_applicable", "not_applicable"]
    assert not list((tmp_path / "out").glob("CT_small*")) and not list((tmp_path / "out").glob("rtdose*"))

    def refuse(self, *args, **kwargs):
        raise AssertionError("a worker process was started for a finished recording")

    monkeypatch.setattr(workers.WorkerProcesses, "run", refuse)
    again = process([source], tmp_path / "out", progress=False, workers=2)
    assert sorted(str(result["ingest"]).split(":")[0] for result in again.values()) == \
        ["hit", "not_applicable", "not_applicable"]
