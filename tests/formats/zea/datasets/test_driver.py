"""The dataset driver: resumable and idempotent per output, atomic outputs, one failed result per
bad input, and the ``sonobridge convert --dataset`` command. Run on the real image-folder
converter (PNG frames written here)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from sonobridge.core.outcome import Status
from sonobridge.errors import UnsupportedInputError
from sonobridge.formats.zea.datasets import DATASETS, convert_dataset
from sonobridge.formats.zea.datasets.driver import JOURNAL, DatasetResult, run_dataset
from sonobridge.formats.zea.datasets.job import DatasetJob

GROUP = {"group_pattern": r"(clip\d+)_\d+\.png", "sort_pattern": r"clip\d+_(\d+)\.png"}


def clips(root: Path, n_clips: int = 3, n_frames: int = 3, size: int = 16) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for clip in range(n_clips):
        for frame in range(n_frames):
            pixels = np.full((size, size), (clip * 40 + frame) % 256, np.uint8)
            Image.fromarray(pixels).save(root / f"clip{clip}_{frame}.png")
    return root


def statuses(results: list[DatasetResult]) -> list[str]:
    return [result.status.value for result in results]


def test_dataset_names_are_zeas():
    assert set(DATASETS) == {"echonet", "echonetlvh", "camus", "picmus", "verasonics", "cetus", "echoxflow",
                             "images", "us4us"}


def test_rerun_converts_nothing_and_changed_source_is_rebuilt(tmp_path):
    source, out = clips(tmp_path / "src"), tmp_path / "out"
    assert statuses(convert_dataset("images", source, out, workers=2, options=GROUP)) == ["built"] * 3
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.hdf5")}
    again = convert_dataset("images", source, out, workers=2, options=GROUP)
    assert statuses(again) == ["hit"] * 3 and all(r.seconds == 0 for r in again)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.hdf5")} == stamps
    time.sleep(0.01)
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(source / "clip1_2.png")     # one source changes
    assert statuses(convert_dataset("images", source, out, workers=1, options=GROUP)) == ["hit", "built", "hit"]
    with h5py.File(out / "clip1.hdf5") as handle:
        assert handle["tracks/track_0/data/image/values"][2].max() == 7
    assert statuses(convert_dataset("images", source, out, workers=1, options=GROUP, overwrite=True)) == ["built"] * 3


def test_changed_options_rebuild(tmp_path):
    source, out = clips(tmp_path / "src", n_clips=1), tmp_path / "out"
    convert_dataset("images", source, out, workers=1, options=GROUP)
    results = convert_dataset("images", source, out, workers=1, options={**GROUP, "dataset_name": "other"})
    assert statuses(results) == ["built"]


def test_output_without_journal_line_is_not_trusted(tmp_path):
    """A run killed between renaming an output and recording it: the output is rebuilt."""
    source, out = clips(tmp_path / "src"), tmp_path / "out"
    convert_dataset("images", source, out, workers=1, options=GROUP)
    lines = (out / JOURNAL).read_text().splitlines()
    (out / JOURNAL).write_text("\n".join(lines[:1]) + "\n" + lines[1][:20])     # last line cut short
    assert statuses(convert_dataset("images", source, out, workers=1, options=GROUP)) == ["hit", "built", "built"]
    (out / "clip0.hdf5").write_bytes(b"replaced by hand")                         # size no longer matches
    assert statuses(convert_dataset("images", source, out, workers=1, options=GROUP))[0] == "built"


def test_bad_input_gives_one_failed_result_naming_it(tmp_path):
    source, out = clips(tmp_path / "src"), tmp_path / "out"
    (source / "clip1_1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    results = convert_dataset("images", source, out, workers=2, options=GROUP)
    assert statuses(results) == ["built", "error", "built"]
    assert "clip1_1.png" in results[1].outcome.reason and results[1].failed
    assert not (out / "clip1.hdf5").exists()
    assert not list(out.glob(".*.partial"))
    assert json.dumps(results[1].to_json())


def test_unknown_dataset_and_missing_source(tmp_path):
    with pytest.raises(UnsupportedInputError, match="unknown dataset"):
        run_dataset("nope", tmp_path, tmp_path / "out")
    with pytest.raises(UnsupportedInputError, match="no such"):
        run_dataset("images", tmp_path / "absent", tmp_path / "out")


def test_job_options_are_hashable():
    job = DatasetJob("images", (Path("a.png"),), Path("a.hdf5"), (("split", "train"),))
    assert hash(job) and job.option("split") == "train"


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sonobridge.cli", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def test_killed_run_leaves_nothing_that_looks_finished(tmp_path):
    """SIGKILL in the middle of writing a large output: no file under a final name is partial, and
    the next run finishes the job (the rest are hits)."""
    source = clips(tmp_path / "src", n_clips=1, n_frames=2, size=16)
    big = np.add.outer(np.arange(1024), np.arange(1024)).astype(np.uint8)
    for frame in range(120):
        Image.fromarray(np.roll(big, frame, axis=1)).save(source / f"big0_{frame}.png", compress_level=1)
    out = tmp_path / "out"
    options = ["--option", r"group_pattern=((?:clip|big)\d+)_\d+\.png",
               "--option", r"sort_pattern=(?:clip|big)\d+_(\d+)\.png"]
    process = subprocess.Popen([sys.executable, "-m", "sonobridge.cli", "convert", "--dataset", "images",
                                str(source), str(out), "--workers", "1", *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".*big0.hdf5.*")) and process.poll() is None:
        time.sleep(0.002)
    killed = process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert killed, "the conversion ended before it could be killed"
    assert not (out / "big0.hdf5").exists()
    for path in out.glob("*.hdf5"):                      # whatever has a final name is complete
        with h5py.File(path) as handle:
            assert handle["tracks/track_0/data/image/values"].shape[0] == 2
    result = _cli("convert", "--dataset", "images", str(source), str(out), "--workers", "1", "--json", *options)
    assert result.returncode == 0, result.stderr
    report = {Path(r["output"]).name: r["status"] for r in json.loads(result.stdout)["results"]}
    assert report["big0.hdf5"] == "built"
    assert not list(out.glob(".*.partial"))
    with h5py.File(out / "big0.hdf5") as handle:
        assert handle["tracks/track_0/data/image/values"].shape == (120, 1024, 1024, 1)


def test_cli_reports_each_failure_on_one_line_and_exits_1(tmp_path):
    source, out = clips(tmp_path / "src"), tmp_path / "out"
    (source / "clip0_0.png").write_bytes(b"not a png")
    (source / "clip2_0.png").write_bytes(b"not a png either")
    result = _cli("convert", "--dataset", "images", str(source), str(out), "--workers", "1",
                  "--option", r"group_pattern=(clip\d+)_\d+\.png")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("sonobridge: error:")]
    assert len(errors) == 2 and "clip0_0.png" in errors[0] and "clip2_0.png" in errors[1]
    assert "Traceback" not in result.stderr
    assert "1 built" in result.stdout
    bad = _cli("convert", "--dataset", "images", str(source), str(out), "--option", "novalue")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    missing = _cli("convert", "--dataset", "images", str(tmp_path / "absent"), str(out))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1


def test_cli_help_has_a_dataset_example():
    result = _cli("convert", "--help")
    assert "--dataset" in result.stdout and "sonobridge convert --dataset echonet" in result.stdout


def test_result_status_is_typed(tmp_path):
    [result] = convert_dataset("images", clips(tmp_path / "src", n_clips=1), tmp_path / "o", workers=1,
                               options=GROUP)
    assert result.status is Status.BUILT and result.ok and result.output == tmp_path / "o" / "clip0.hdf5"


def test_a_plan_that_cannot_be_made_is_one_error_naming_the_source(tmp_path):
    source = clips(tmp_path / "src", n_clips=2, n_frames=2, size=8)
    result = _cli("convert", "--dataset", "images", str(source), str(tmp_path / "out"),
                  "--option", r"group_pattern=clip\d+_\d+\.png")                 # no group in the pattern
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert str(source) in result.stderr and not (tmp_path / "out").exists()
