"""Benchmark: the cohort pipeline (`sonobridge process`), issue 22 figures, in one run.

1. Parallel cohorts: a mixed cohort of 16 recordings (6 Clarius envelope captures of 60 frames,
   64 lines x 300 samples, L7, scan-converted; 4 DICOM US cines of 30 frames; 3 Telemed sidecars
   of 60 frames; 3 zea image files of 60 frames). wall(workers=1) / wall(workers=2), locally and
   on a Dask LocalCluster with 1 vs 2 worker processes (1 thread each). Runs interleaved
   (1, 2, 1, 2, ...), each into a fresh output folder; the figure is the ratio of the medians.
   Target >= 1.7x (2 cores).
2. Peak memory vs cohort size (workers=2): the peak of the summed PSS of this process and all its
   children (fork server, workers), sampled every 0.1 s, for Clarius-only cohorts of 8 and 16
   recordings. Target: flat (16 within 1.25x of 8).
3. Small recordings (converters built once per geometry and grid, the faster line search, no
   numba load for short jobs): 12 Clarius C3 captures of 10 frames, 192 lines x 512 samples, run
   with workers=1 in a fresh interpreter each (a user's short run), "before" (a converter built by
   every stage of every recording with the line search of before, the compiled gather for every
   job) vs "now", interleaved; per-recording cost = wall / 12. Expect ~1.7x.
4. Re-run of the finished 16-recording cohort (workers=2): time as a fraction of the first run
   (median of 3; target < 5%), every output's record and key still checked. The time spent
   writing the report (JSON + HTML) is shown apart, for both runs.

    .venv/bin/python benchmarks/bench_pipeline.py [--quick] [--skip-dask]

Needs the test extra (dask.distributed, psutil). Always exits 0: this is a report. On a shared
machine the parallel ratio needs both cores free: run it alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

DICOM_FIXTURE = REPO.parent / "shared" / "data" / "dicom" / "wheels" / "pydicom" / "examples_ybr_color.dcm"
PARALLEL_TARGET, RERUN_TARGET, RSS_TARGET, SMALL_EXPECTED = 1.7, 0.05, 1.25, 1.7
SMALL_N = 12


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW"


# --------------------------------------------------------------------------- cohorts

def make_mixed_cohort(root: Path) -> Path:
    """16 recordings of four formats."""
    import sonobridge.zea as sz
    from synth import write_capture
    from telemed_synth import make_sidecar

    for index in range(6):
        write_capture(root / "clarius" / f"c{index:02d}", "env", 1, frames=60, lines=64, samples=300, seed=index)
    (root / "dicom").mkdir(parents=True)
    for index in range(4):
        shutil.copy(DICOM_FIXTURE, root / "dicom" / f"cine{index}.dcm")
    (root / "telemed").mkdir()
    for index in range(3):
        make_sidecar(root / "telemed" / f"scan{index}.tvd.h5", n=60, seed=index)
    (root / "zea").mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        frames = rng.integers(0, 256, (60, 256, 200), dtype=np.uint8)
        sz.File.create(root / "zea" / f"img{index}.hdf5", data={"image": {"values": frames}})
    return root


def make_clarius_cohort(root: Path, n: int, frames: int = 60, lines: int = 64, samples: int = 300) -> Path:
    from synth import write_capture

    for index in range(n):
        write_capture(root / f"c{index:02d}", "env", 1, frames=frames, lines=lines, samples=samples, seed=index)
    return root


# --------------------------------------------------------------------------- measuring

class ReportTimer:
    """Time spent in ``write_report`` (JSON + HTML) during a run, by wrapping it."""

    def __init__(self) -> None:
        import sonobridge.pipeline.run as run

        self.seconds = 0.0
        real = run.write_report

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        run.write_report = timed


class PeakMemory:
    """Peak of the summed proportional set size (PSS) of this process and its descendants."""

    def __init__(self, interval_s: float = 0.1) -> None:
        import psutil

        self._psutil, self._interval = psutil, interval_s
        self.peak = 0
        self._running = False

    def _sample(self) -> int:
        me = self._psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += process.memory_full_info().pss
            except self._psutil.Error:
                continue
        return total

    def __enter__(self) -> PeakMemory:
        self._running = True
        self.peak = self._sample()

        def loop() -> None:
            while self._running:
                self.peak = max(self.peak, self._sample())
                time.sleep(self._interval)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._running = False
        self._thread.join()


def timed_run(cohort: Path, out: Path, **options) -> tuple[float, dict]:
    from sonobridge.pipeline.run import process

    start = time.perf_counter()
    results = process([cohort], out, probe="L7", progress=False, **options)
    return time.perf_counter() - start, results


def errors_in(results: dict) -> int:
    return sum("error" in str(result.get("ingest", "")) or "run" in result for result in results.values())


# --------------------------------------------------------------------------- 1. parallel cohorts

def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (user + system), seconds."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parallel_local(cohort: Path, work: Path, rounds: int) -> float:
    walls: dict[int, list[float]] = {1: [], 2: []}
    cores_used: list[float] = []
    for round_ in range(rounds):
        for workers in (1, 2):
            cpu = _cpu_seconds()
            wall, results = timed_run(cohort, work / f"local{workers}-{round_}", workers=workers)
            walls[workers].append(wall)
            if workers == 1:
                cores_used.append((_cpu_seconds() - cpu) / wall)
            print(f"  local workers={workers}: {wall:.2f} s ({len(results)} recordings, {errors_in(results)} errors)",
                  flush=True)
    ratio = statistics.median(walls[1]) / statistics.median(walls[2])
    busy = statistics.median(cores_used)
    print(f"local: median wall workers=1 {statistics.median(walls[1]):.2f} s, workers=2 "
          f"{statistics.median(walls[2]):.2f} s: ratio {ratio:.2f}x (target >= {PARALLEL_TARGET}x: "
          f"{verdict(ratio >= PARALLEL_TARGET)})")
    print(f"  one worker already keeps {busy:.2f} of {os.cpu_count()} cores busy (x265, Blosc and DICOM decoding "
          f"are multi-threaded): a second worker can gain at most {os.cpu_count() / busy:.2f}x "
          f"({ratio / (os.cpu_count() / busy):.0%} of that reached)")
    return ratio


def parallel_dask(cohort: Path, work: Path, rounds: int) -> float | None:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("Dask: dask.distributed not installed (test extra): skipped")
        return None
    walls: dict[int, list[float]] = {1: [], 2: []}
    logging.getLogger("distributed").setLevel(logging.ERROR)     # the in-process scheduler's INFO lines
    clusters = {n: LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                dashboard_address=":0", silence_logs=logging.ERROR) for n in (1, 2)}
    clients = {n: Client(cluster) for n, cluster in clusters.items()}
    try:
        for round_ in range(rounds):
            for n in (1, 2):
                wall, results = timed_run(cohort, work / f"dask{n}-{round_}", executor=clients[n])
                walls[n].append(wall)
                print(f"  Dask LocalCluster {n} worker process(es): {wall:.2f} s ({errors_in(results)} errors)",
                      flush=True)
    finally:
        for n in clients:
            clients[n].close()
            clusters[n].close()
    ratio = statistics.median(walls[1]) / statistics.median(walls[2])
    print(f"Dask: median wall 1 worker {statistics.median(walls[1]):.2f} s, 2 workers "
          f"{statistics.median(walls[2]):.2f} s: ratio {ratio:.2f}x (target >= {PARALLEL_TARGET}x: "
          f"{verdict(ratio >= PARALLEL_TARGET)})")
    return ratio


# --------------------------------------------------------------------------- 2. memory

def memory_vs_size(work: Path, sizes: tuple[int, ...]) -> None:
    peaks = {}
    for n in sizes:
        cohort = make_clarius_cohort(work / f"mem{n}", n)
        with PeakMemory() as memory:
            timed_run(cohort, work / f"mem{n}-out", workers=2)
        peaks[n] = memory.peak
        print(f"  cohort of {n}: peak PSS (this process + workers) {memory.peak / 2**20:.0f} MiB", flush=True)
    small, large = peaks[sizes[0]], peaks[sizes[-1]]
    print(f"peak memory {sizes[-1]} vs {sizes[0]} recordings: {large / small:.2f}x "
          f"(flat: <= {RSS_TARGET}x: {verdict(large / small <= RSS_TARGET)})")


# --------------------------------------------------------------------------- 3. small recordings

def _fractional_indices_before(origins, angles, depths, grid):
    """The line search as it was before issue 22 (cosine and sine per pixel and step, every pixel
    searched), for the "before" variant."""
    def distance(px, pz, line):
        return (px - origins[line, 0]) * np.cos(angles[line]) - (pz - origins[line, 1]) * np.sin(angles[line])

    pz, px = (a.ravel() for a in np.meshgrid(grid.z_m, grid.x_m, indexing="ij"))
    tolerance = 1e-9 * max(1.0, float(np.ptp(depths)))
    low, high = np.zeros(px.size, np.intp), np.full(px.size, len(angles) - 1, np.intp)
    inside = (distance(px, pz, low) >= -tolerance) & (distance(px, pz, high) <= tolerance)
    while np.any(high - low > 1):
        middle = (low + high) // 2
        right = distance(px, pz, middle) >= 0
        low, high = np.where(right, middle, low), np.where(right, high, middle)
    s_low, s_high = distance(px, pz, low), distance(px, pz, high)
    span = s_low - s_high
    fraction = np.clip(np.divide(s_low, span, out=np.zeros_like(span), where=span != 0), 0, 1)
    origin_x = (1 - fraction) * origins[low, 0] + fraction * origins[high, 0]
    origin_z = (1 - fraction) * origins[low, 1] + fraction * origins[high, 1]
    angle = (1 - fraction) * angles[low] + fraction * angles[high]
    along = (px - origin_x) * np.sin(angle) + (pz - origin_z) * np.cos(angle)
    sample = (along - depths[0]) / (depths[1] - depths[0])
    inside &= (sample >= -tolerance) & (sample <= len(depths) - 1 + tolerance)
    line = np.where(inside, low + fraction, np.nan)
    sample = np.where(inside, np.clip(sample, 0, len(depths) - 1), np.nan)
    return line.reshape(grid.z_m.size, grid.x_m.size), sample.reshape(grid.z_m.size, grid.x_m.size)


def small_variant(variant: str, cohort: str, out: str) -> None:
    """In a fresh interpreter: one run of the small cohort, workers=1; prints the wall time."""
    import importlib

    if variant == "before":
        sc = importlib.import_module("sonobridge.processing.scan_convert")
        gather = importlib.import_module("sonobridge.processing.gather")
        sc.cached_converter = lambda geometry, n, pixel=None, grid=None: sc.ScanConverter.build(geometry, n, pixel, grid)
        sc._fractional_indices = _fractional_indices_before
        sc.gather_for = lambda work, job=None: gather.compiled_gather()
    from sonobridge.pipeline.run import process

    timer = ReportTimer()
    start = time.perf_counter()
    results = process([cohort], out, probe="C3", progress=False, workers=1)
    wall = time.perf_counter() - start
    assert errors_in(results) == 0, results
    print(f"{wall:.4f} {timer.seconds:.4f}")


def small_recordings(work: Path, rounds: int) -> None:
    cohort = make_clarius_cohort(work / "small", SMALL_N, frames=10, lines=192, samples=512)
    walls: dict[str, list[float]] = {"before": [], "now": []}
    reports: dict[str, list[float]] = {"before": [], "now": []}
    for round_ in range(rounds):
        for variant in ("before", "now"):
            out = work / f"small-{variant}-{round_}"
            run = subprocess.run([sys.executable, __file__, "--small-variant", variant, str(cohort), str(out)],
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
            if run.returncode != 0:
                print(f"  small cohort, {variant}: failed\n{run.stderr[-1500:]}")
                return
            wall, report = (float(value) for value in run.stdout.split()[-2:])
            walls[variant].append(wall)
            reports[variant].append(report)
            print(f"  small cohort, {variant}: {wall:.2f} s = {wall / SMALL_N * 1e3:.0f} ms per recording "
                  f"(of which report writing {report / SMALL_N * 1e3:.0f} ms)", flush=True)
    before, now = statistics.median(walls["before"]), statistics.median(walls["now"])
    work_before = statistics.median(w - r for w, r in zip(walls["before"], reports["before"]))
    work_now = statistics.median(w - r for w, r in zip(walls["now"], reports["now"]))
    print(f"small recordings ({SMALL_N} x 10 frames, 192 x 512, C3; fresh process, workers=1): per recording "
          f"{before / SMALL_N * 1e3:.0f} ms before vs {now / SMALL_N * 1e3:.0f} ms now: {before / now:.2f}x; "
          f"without report writing {work_before / SMALL_N * 1e3:.0f} vs {work_now / SMALL_N * 1e3:.0f} ms: "
          f"{work_before / work_now:.2f}x (expected ~{SMALL_EXPECTED}x: {verdict(work_before / work_now >= SMALL_EXPECTED)})")


# --------------------------------------------------------------------------- 4. re-run

def rerun(cohort: Path, work: Path, timer: ReportTimer) -> None:
    out = work / "rerun"
    timer.seconds = 0.0
    first, results = timed_run(cohort, out, workers=2)
    first_report = timer.seconds
    walls, reports = [], []
    for _ in range(3):
        timer.seconds = 0.0
        wall, again = timed_run(cohort, out, workers=2)
        walls.append(wall)
        reports.append(timer.seconds)
    hits = sum(result.get("ingest") in ("hit", "skipped: already zea") for result in again.values())
    wall, report = statistics.median(walls), statistics.median(reports)
    print(f"first run {first:.2f} s (report writing {first_report:.2f} s); re-run median {wall * 1e3:.0f} ms "
          f"({wall / len(results) * 1e3:.1f} ms per recording; report writing {report * 1e3:.0f} ms), "
          f"{hits}/{len(results)} recordings reused")
    print(f"re-run / first run: {wall / first:.1%} (target < {RERUN_TARGET:.0%}: {verdict(wall / first < RERUN_TARGET)}); "
          f"without report writing in either: {(wall - report) / (first - first_report):.1%}")


# --------------------------------------------------------------------------- main

def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, load average {load:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--sections", default="1,2,3,4", help="which figures, e.g. 1,4 (default all)")
    parser.add_argument("--small-variant", nargs=3, metavar=("VARIANT", "COHORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.small_variant:
        small_variant(*args.small_variant)
        return 0
    rounds = 1 if args.quick else 2
    sections = {int(part) for part in args.sections.split(",")}
    print(machine())
    timer = ReportTimer()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cohort = make_mixed_cohort(work / "cohort")
        if 1 in sections:
            print("1. cohort of 16 (6 Clarius, 4 DICOM, 3 Telemed, 3 zea): wall(workers=1) / wall(workers=2)")
            parallel_local(cohort, work, rounds)
            if not args.skip_dask:
                parallel_dask(cohort, work, rounds)
        if 2 in sections:
            print("2. peak memory vs cohort size (Clarius, workers=2)")
            memory_vs_size(work, (8, 16))
        if 3 in sections:
            print("3. small recordings: converter reuse, faster line search, no numba load for short jobs")
            small_recordings(work, rounds + 1)
        if 4 in sections:
            print("4. re-run of the finished cohort of 16")
            rerun(cohort, work, timer)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
