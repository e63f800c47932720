"""Benchmark: writing and reading zea files, sonobridge vs the real zea 0.1.8, in one run.

1. Write 2000 frames of 600 x 500 uint8 speckle (600 MB) with ``sonobridge.zea.File.create``
   (default codec "fast") and with ``zea.File.create`` (its default, Blosc zstd 7 bit-shuffle;
   warmed up first, so Keras' import is not counted): throughput ratio (target >= 10x) and
   compression ratio relative to zea's (target >= 0.9x). Files go to /dev/shm when it has room,
   so the disk's speed does not mask either library's.
2. Random single-frame reads of our file: median time (target < 1 ms); zea's ``File`` on its own
   file for reference.
3. ``import sonobridge.zea`` vs ``import zea`` in fresh interpreters, up to a usable ``File``
   class (target < 0.5 s).
4. The codec table behind ``sonobridge.formats.zea.tree.CODECS``: compression speed (all
   cores, as the writer runs it), decoding speed (one core) and ratio per Blosc candidate on uint8
   speckle and on float32 IQ samples (the real Clarius IQ fixture, int16 values).

Speckle: circular complex Gaussian noise low-pass filtered (axial sigma 2 px, lateral 1.2 px),
envelope log-compressed over 60 dB to uint8; 100 distinct frames, each used 20 times with a
different circular shift (chunks compress independently, so repeats do not help any codec).

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_zea.py [--quick]

Needs the test extra (zea + jax). Always exits 0: this is a report.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = Path(__file__).resolve().parents[1]
SHAPE = (600, 500)
CANDIDATES = [(cname, level, shuffle, block_bytes)
              for (cname, level), shuffle, block_bytes in itertools.product(
                  (("lz4", 5), ("zstd", 1), ("zstd", 7)), ("NOSHUFFLE", "BITSHUFFLE"), (0, 256 << 10))]
DISTINCT = 100


def speckle(n_frames: int, seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    base = np.empty((min(DISTINCT, n_frames), *SHAPE), np.uint8)
    for index in range(len(base)):
        field = rng.standard_normal((2, *SHAPE))
        envelope = np.hypot(gaussian_filter(field[0], (2.0, 1.2)), gaussian_filter(field[1], (2.0, 1.2)))
        db = 20 * np.log10(envelope / np.percentile(envelope, 99.9) + 1e-12)
        base[index] = np.clip((db + 60) / 60 * 255, 0, 255).astype(np.uint8)
    frames = np.empty((n_frames, *SHAPE), np.uint8)
    for index in range(n_frames):
        frames[index] = np.roll(base[index % len(base)], shift=(index // len(base)) * 7, axis=1)
    return frames


def write_ours(path: Path, frames: np.ndarray, compression: str = "fast") -> float:
    import sonobridge.zea as ours

    start = time.perf_counter()
    ours.File.create(path, data={"image": {"values": frames}}, compression=compression, overwrite=True)
    return time.perf_counter() - start


def write_zea(path: Path, frames: np.ndarray) -> float:
    import zea

    zea.File.create(str(path), data={"image": {"values": frames[:2]}}, overwrite=True, ignore_warnings=True)
    start = time.perf_counter()
    zea.File.create(str(path), data={"image": {"values": frames}}, overwrite=True, ignore_warnings=True)
    return time.perf_counter() - start


def read_times_ms(open_file, n_frames: int, reads: int = 300) -> list[float]:
    order = np.random.default_rng(1).integers(0, n_frames, reads)
    with open_file() as handle:
        values = handle.data.image.values
        values[0]
        times = []
        for index in order:
            start = time.perf_counter()
            values[int(index)]
            times.append((time.perf_counter() - start) * 1e3)
    return times


def import_seconds(module: str, repeats: int = 3) -> float:
    """Fresh-interpreter time to import ``module`` and reach its ``File`` class (zea imports
    lazily: ``import zea`` alone defers Keras to the first attribute access)."""
    code = f"import time; t = time.perf_counter(); import {module}; {module}.File; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env={**os.environ, "KERAS_BACKEND": "jax"}).stdout.split()[-1])
            for _ in range(repeats)]
    return min(runs)


def codec_table(quick: bool) -> None:
    """Candidates as the writer uses them: Blosc via numcodecs on all cores (compression), one
    frame per chunk, Blosc's own block size and 256 KiB blocks; decoding on one core (as HDF5
    reads a chunk)."""
    from concurrent.futures import ThreadPoolExecutor

    from numcodecs import Blosc

    from sonobridge.formats import open_recording

    iq = np.asarray(open_recording(REPO / "examples/clarius/carotid_doppler_2020").streams["iq"].frames,
                    np.float32)
    samples = {"uint8 speckle": speckle(40 if quick else 300, seed=5),
               "float32 IQ": np.concatenate([np.roll(iq, 13 * i, axis=1) for i in range(20 if quick else 60)])}
    print(f"\n{'data':14} {'Blosc codec, block KiB':26} {'compress MB/s':>13} {'decode MB/s':>11} {'ratio':>6}")
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        for label, array in samples.items():
            for cname, level, shuffle, block_bytes in CANDIDATES:
                codec = Blosc(cname, level, getattr(Blosc, shuffle), blocksize=block_bytes)
                start = time.perf_counter()
                chunks = list(pool.map(codec.encode, array))
                encode = time.perf_counter() - start
                start = time.perf_counter()
                for chunk in chunks:
                    codec.decode(chunk)
                decode = time.perf_counter() - start
                name = f"{cname} {level} {shuffle.lower()} {block_bytes >> 10 or 'auto'}"
                print(f"{label:14} {name:26} {array.nbytes / encode / 1e6:13.0f} "
                      f"{array.nbytes / decode / 1e6:11.0f} {array.nbytes / sum(map(len, chunks)):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 frames and a short codec table")
    args = parser.parse_args()
    n_frames = 200 if args.quick else 2000
    import sonobridge.zea as ours
    import zea

    frames = speckle(n_frames)
    shm = Path("/dev/shm")
    in_memory = shm.is_dir() and shutil.disk_usage(shm).free > 4 * frames.nbytes
    print(f"files in {'/dev/shm (tmpfs: codec and library speed, not the disk)' if in_memory else 'the repo folder'}")
    with tempfile.TemporaryDirectory(dir=shm if in_memory else REPO) as tmp:
        folder = Path(tmp)
        mine_path, theirs_path = folder / "ours.hdf5", folder / "zea.hdf5"
        ours_s = min(write_ours(mine_path, frames) for _ in range(2))
        zea_s = write_zea(theirs_path, frames)
        mine_ratio = frames.nbytes / mine_path.stat().st_size
        zea_ratio = frames.nbytes / theirs_path.stat().st_size
        small_s = write_ours(folder / "small.hdf5", frames, "small")
        small_ratio = frames.nbytes / (folder / "small.hdf5").stat().st_size
        print(f"write {n_frames} x {SHAPE[0]} x {SHAPE[1]} uint8 speckle ({frames.nbytes / 1e6:.0f} MB)")
        print(f"  sonobridge fast : {ours_s:6.2f} s  {frames.nbytes / ours_s / 1e6:7.0f} MB/s  ratio {mine_ratio:.3f}")
        print(f"  sonobridge small: {small_s:6.2f} s  {frames.nbytes / small_s / 1e6:7.0f} MB/s  "
              f"ratio {small_ratio:.3f}")
        print(f"  zea File.create : {zea_s:6.2f} s  {frames.nbytes / zea_s / 1e6:7.0f} MB/s  ratio {zea_ratio:.3f}")
        speed, size = zea_s / ours_s, mine_ratio / zea_ratio
        print(f"  throughput ratio {speed:.1f}x (target >= 10x): {'PASS' if speed >= 10 else 'FAIL'}")
        print(f"  compression vs zea {size:.2f}x (target >= 0.9x): {'PASS' if size >= 0.9 else 'FAIL'}")
        mine_ms = statistics.median(read_times_ms(lambda: ours.File(mine_path), n_frames))
        zea_ms = statistics.median(read_times_ms(lambda: zea.File(str(theirs_path)), n_frames))
        print(f"random single-frame read, median: sonobridge {mine_ms:.3f} ms (target < 1 ms: "
              f"{'PASS' if mine_ms < 1 else 'FAIL'}); zea on its file {zea_ms:.3f} ms")
        ours_import, zea_import = import_seconds("sonobridge.zea"), import_seconds("zea")
        print(f"import: sonobridge.zea {ours_import:.3f} s (target < 0.5 s: "
              f"{'PASS' if ours_import < 0.5 else 'FAIL'}); zea {zea_import:.2f} s")
    codec_table(args.quick)


if __name__ == "__main__":
    main()
