"""Benchmark: the cohort pipeline (`sonobridge process`) on a synthetic mixed cohort, in one run.

Cohort: 40 recordings: 16 Clarius envelope captures (60 frames, 64 lines x 300 samples, L7
geometry: scan-converted for video), 8 DICOM US cines (the 30-frame YBR JPEG fixture), 8 Telemed
sidecars (60 display frames, 300 x 430), 8 zea image files (60 frames of 256 x 200).

1. Local run, 2 workers: wall time vs the sum of the per-stage times (overlap: sum / wall; with
   2 workers on 2 cores the ceiling is 2).
2. A re-run on the fully processed cohort: time as a fraction of the first run (target < 5%).
3. The same cohort on a Dask LocalCluster with 2 workers vs 1 worker (fresh output folders).

    .venv/bin/python benchmarks/bench_pipeline.py

Needs the test extra (dask.distributed). Always exits 0: this is a report.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from synth import write_capture  # noqa: E402
from telemed_synth import make_sidecar  # noqa: E402

DICOM_FIXTURE = REPO.parent / "shared" / "data" / "dicom" / "wheels" / "pydicom" / "examples_ybr_color.dcm"


def make_cohort(root: Path) -> None:
    import sonobridge.zea as sz

    for index in range(16):
        write_capture(root / "clarius" / f"c{index:02d}", "env", 1, frames=60, lines=64, samples=300, seed=index)
    (root / "dicom").mkdir(parents=True)
    for index in range(8):
        shutil.copy(DICOM_FIXTURE, root / "dicom" / f"cine{index}.dcm")
    (root / "telemed").mkdir()
    for index in range(8):
        make_sidecar(root / "telemed" / f"scan{index}.tvd.h5", n=60, seed=index)
    (root / "zea").mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        frames = rng.integers(0, 256, (60, 256, 200), dtype=np.uint8)
        sz.File.create(root / "zea" / f"img{index}.hdf5", data={"image": {"values": frames}})


def stage_seconds(results: dict) -> float:
    return sum(sum(r.get("seconds", {}).values()) for r in results.values())


def main() -> None:
    from dask.distributed import Client, LocalCluster

    from sonobridge.pipeline.run import process

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_cohort(root / "cohort")
        start = time.perf_counter()
        results = process([root / "cohort"], root / "out", probe="L7", progress=False, workers=2)
        wall = time.perf_counter() - start
        total = stage_seconds(results)
        errors = sum("error" in str(r) for r in results.values())
        print(f"cohort: {len(results)} recordings, {errors} with errors")
        print(f"local, 2 workers: wall {wall:.1f} s, sum of stage times {total:.1f} s, overlap {total / wall:.2f}x")
        start = time.perf_counter()
        process([root / "cohort"], root / "out", probe="L7", progress=False, workers=2)
        rerun = time.perf_counter() - start
        print(f"re-run on the processed cohort: {rerun:.2f} s = {rerun / wall:.1%} of the first run "
              f"(target < 5%: {'PASS' if rerun / wall < 0.05 else 'FAIL'})")
        for n_workers in (1, 2):
            with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster, Client(cluster) as client:
                start = time.perf_counter()
                process([root / "cohort"], root / f"dask{n_workers}", probe="L7", progress=False, executor=client)
                print(f"Dask LocalCluster, {n_workers} worker(s): wall {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
