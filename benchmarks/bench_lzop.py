"""Benchmark: lzop decompression throughput on the Clarius IQ fixture.

Decodes ``carotid_iq.raw.lzo`` (``lzop -5F``, 1.757 MB decompressed) with sonobridge's in-process
lzop reader and, when the ``lzop`` tool is on PATH, with ``lzop -dc``. Run from the repository root:

    .venv/bin/python benchmarks/bench_lzop.py [path/to/file.raw.lzo]

Exits 1 if the input file is missing, else 0 (this is a report).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sonobridge.formats.byteregion import ByteRegion
from sonobridge.formats.lzop import LzopStream

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared/data/clarius/lzop/carotid_iq.raw.lzo"
EXPECTED_CANDIDATES = [REPO / "examples/clarius/carotid_doppler_2020/carotid_iq.raw",
                       REPO.parent / "shared/data/clarius/carotid_doppler_2020/carotid_iq.raw"]
REPEATS = 20
TOOL_REPEATS = 5
TARGET_MBPS = 150.0


def decode_read(path: Path) -> bytes:
    """Header parse + block index + full decode through ``read``."""
    s = LzopStream(ByteRegion.whole_file(path))
    return s.read(0, s.size)


def decode_iter(path: Path) -> bytes:
    """Header parse + block index + sequential decode through ``iter_decompressed``."""
    s = LzopStream(ByteRegion.whole_file(path))
    return b"".join(s.iter_decompressed())


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_INPUT
    if not path.is_file():
        print(f"input not found: {path} (pass the path of an .lzo file as the first argument)")
        return 1
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}")

    stream = LzopStream(ByteRegion.whole_file(path))
    print(f"input: {path} ({path.stat().st_size} bytes compressed, {stream.size} bytes "
          f"decompressed, {stream.n_blocks} blocks, method {stream.header.method}, "
          f"flags {stream.header.flags:#x})")

    # correctness, once, outside timing
    via_read, via_iter = bytes(decode_read(path)), decode_iter(path)
    assert via_read == via_iter, "read() and iter_decompressed() disagree"
    expected_path = next((p for p in EXPECTED_CANDIDATES if p.is_file()), None)
    if path.name == "carotid_iq.raw.lzo" and expected_path is not None:
        assert via_read == expected_path.read_bytes(), f"decompressed bytes differ from {expected_path}"
        print(f"check: decompressed bytes equal {expected_path}")
    else:
        print("check: no uncompressed original to compare with (only read() == iter_decompressed())")
    size_mb = len(via_read) / 1e6

    t_read = best_time(lambda: decode_read(path), REPEATS)
    t_iter = best_time(lambda: decode_iter(path), REPEATS)
    mbps_read, mbps_iter = size_mb / t_read, size_mb / t_iter
    print(f"best of {REPEATS}, {size_mb:.3f} MB decompressed:")
    print(f"  LzopStream.read(0, size):           {t_read * 1e3:8.3f} ms  {mbps_read:8.1f} MB/s")
    print(f"  b''.join(iter_decompressed()):      {t_iter * 1e3:8.3f} ms  {mbps_iter:8.1f} MB/s")

    tool = shutil.which("lzop")
    if tool is None:
        print("  lzop -dc: lzop not on PATH, reference skipped")
    else:
        def run_tool() -> None:
            subprocess.run([tool, "-dc", str(path)], stdout=subprocess.DEVNULL, check=True)
        run_tool()
        t_tool = best_time(run_tool, TOOL_REPEATS)
        mbps_tool = size_mb / t_tool
        print(f"  lzop -dc > /dev/null (best of {TOOL_REPEATS}): {t_tool * 1e3:8.3f} ms  {mbps_tool:8.1f} MB/s "
              "(includes process start)")
        print(f"  ratio ours(read)/lzop: {mbps_read / mbps_tool:.2f}x, "
              f"ours(iter)/lzop: {mbps_iter / mbps_tool:.2f}x")

    print(f"target read() >= {TARGET_MBPS:g} MB/s: {'PASS' if mbps_read >= TARGET_MBPS else 'BELOW TARGET'}")
    print(f"target iter   >= {TARGET_MBPS:g} MB/s: {'PASS' if mbps_iter >= TARGET_MBPS else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
