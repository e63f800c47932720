"""Benchmark: reading frame 0 of a 500 MB zea file over HTTP lazily (byte ranges through fsspec,
h5py on the file-like) vs downloading the whole file first, over a local range-capable server on
loopback that counts the bytes it sends (tests/range_server.py).

The file: 500 frames of 1000 x 1000 uint8 noise (incompressible: 500 MB whatever the codec),
written by ``sonobridge.zea.File.create`` to /dev/shm when it has room (else the temp folder).
Reported: bytes transferred, requests and wall time of (a) ``sonobridge.zea.File(url)`` + frame 0,
(b) a streamed full download to a local file + the same read. Loopback has no latency: over a
real network the lazy read's few requests cost a few round trips while the download scales with
the file's size.

    .venv/bin/python benchmarks/bench_zea_remote.py [--frames N]

Needs the remote extra (fsspec, aiohttp) and requests. Always exits 0: this is a report.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from range_server import RangeServer  # noqa: E402

import sonobridge.zea as sz  # noqa: E402

HEIGHT = WIDTH = 1000


def workdir(size: int) -> Path:
    """A temporary folder in /dev/shm when it has room for ``size`` bytes twice, else tmp."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and shutil.disk_usage(shm).free > 3 * size else None
    return Path(tempfile.mkdtemp(prefix="bench_zea_remote_", dir=base))


def write_file(path: Path, n_frames: int) -> np.ndarray:
    """``n_frames`` noise frames written block by block; returns frame 0."""
    rng = np.random.default_rng(0)
    frames = np.empty((n_frames, HEIGHT, WIDTH), np.uint8)
    for start in range(0, n_frames, 50):
        frames[start:start + 50] = rng.integers(0, 256, frames[start:start + 50].shape, dtype=np.uint8)
    sz.File.create(path, data={"image": {"values": frames}}, compression="fast").close()
    return frames[0].copy()


def lazy_read(server: RangeServer, name: str) -> tuple[np.ndarray, float]:
    server.reset()
    start = time.perf_counter()
    with sz.File(server.url(name)) as remote:
        frame = remote.data.image.values[0]
    return frame, time.perf_counter() - start


def download_then_read(server: RangeServer, name: str, folder: Path) -> tuple[np.ndarray, float]:
    import requests

    server.reset()
    target = folder / "downloaded.hdf5"
    start = time.perf_counter()
    with requests.get(server.url(name), stream=True, timeout=60) as response, target.open("wb") as out:
        response.raise_for_status()
        for block in response.iter_content(1 << 22):
            out.write(block)
    with sz.File(target) as local:
        frame = local.data.image.values[0]
    elapsed = time.perf_counter() - start
    target.unlink()
    return frame, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=500, help="frames of 1000 x 1000 uint8 (default 500: 500 MB)")
    args = parser.parse_args()
    folder = workdir(args.frames * HEIGHT * WIDTH)
    try:
        path = folder / "big.hdf5"
        start = time.perf_counter()
        frame0 = write_file(path, args.frames)
        size = path.stat().st_size
        print(f"file: {size / 1e6:.0f} MB in {folder} (written in {time.perf_counter() - start:.1f} s)")
        with RangeServer(folder) as server:
            rows = []
            for label, run in (("lazy (sonobridge.zea.File(url))", lambda: lazy_read(server, path.name)),
                               ("full download, then read", lambda: download_then_read(server, path.name, folder))):
                frame, elapsed = run()
                assert np.array_equal(frame, frame0), label
                rows.append((label, server.bytes_sent, server.requests, elapsed))
        print("\n| frame 0 of a remote file | bytes transferred | requests | time |\n|---|---|---|---|")
        for label, sent, requests, elapsed in rows:
            print(f"| {label} | {sent / 1e6:.2f} MB ({100 * sent / size:.2f} %) | {requests} | {elapsed:.3f} s |")
        print(f"\nlazy / download: {rows[0][1] / rows[1][1]:.4f}x the bytes, {rows[0][3] / rows[1][3]:.3f}x the time")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
