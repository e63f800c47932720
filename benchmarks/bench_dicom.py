"""Benchmark: DICOM pixel decoding, sonobridge vs pydicom 3 (`ds.pixel_array`, default plugins), in
one run.

1. The 120-frame US cine `color3d_jpeg_baseline.dcm` (JPEG baseline, YBR_FULL_422, 480 x 640) to
   RGB: time (best of N, file in the page cache) and peak RSS of a fresh process (VmHWM, reset
   after the imports), relative to the decoded array (110.6 MB). Targets: >= 15x pydicom's speed;
   peak RSS <= 1.5x the array.
2. A per-transfer-syntax table on the other fixtures (median of N runs each).

pydicom's plugins are whatever the environment has (the test extra: python-gdcm first, then
pylibjpeg / pyjpegls). Outputs are checked equal (lossless) or close (lossy) before timing.

    .venv/bin/python benchmarks/bench_dicom.py

Always exits 0: this is a report.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DICOM = REPO.parent / "shared" / "data" / "dicom" / "wheels"
CINE = DICOM / "pydicom-data" / "color3d_jpeg_baseline.dcm"
TABLE = ["pydicom-data/OBXXXX1A_rle_2frame.dcm", "pydicom-data/emri_small_jpeg_ls_lossless.dcm",
         "pydicom-data/US1_J2KR.dcm", "pydicom-data/MR2_J2KI.dcm", "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm",
         "pydicom-data/US1_UNCR.dcm", "pydicom-data/OBXXXX1A_expb_2frame.dcm", "pydicom/examples_ybr_color.dcm",
         "pydicom/JPGExtended.dcm", "pydicom-data/emri_small_RLE.dcm"]

MEASURE = """
import sys, time, warnings, numpy as np
warnings.simplefilter("ignore")

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

method, path = sys.argv[1], sys.argv[2]
if method == "ours":
    from sonobridge.dicom.pixels import decode
    import imagecodecs, pydicom
    read = lambda: decode(path)
else:
    import pydicom, pydicom.pixels
    read = lambda: pydicom.dcmread(path).pixel_array
open("/proc/self/clear_refs", "w").write("5")         # reset the peak (VmHWM) after imports
before = status("VmRSS:")
start = time.perf_counter(); pixels = read()
seconds = time.perf_counter() - start
print(seconds, before, status("VmHWM:"), pixels.nbytes)
"""


def fresh_process(method: str, path: Path) -> tuple[float, int, int, int]:
    out = subprocess.run([sys.executable, "-c", MEASURE, method, str(path)], capture_output=True, text=True, check=True)
    seconds, before, peak, nbytes = out.stdout.split()
    return float(seconds), int(before), int(peak), int(nbytes)


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import pydicom

    from sonobridge.dicom.pixels import decode

    warnings.simplefilter("ignore")
    theirs = pydicom.dcmread(CINE).pixel_array
    ours = decode(CINE)
    difference = np.abs(ours.astype(int) - theirs).max()
    print(f"US cine {CINE.name}: outputs differ by at most {difference} levels (lossy JPEG)")
    ours_s = min(timed(lambda: decode(CINE), 1) for _ in range(5))
    theirs_s = min(timed(lambda: pydicom.dcmread(CINE).pixel_array, 1) for _ in range(3))
    ratio = theirs_s / ours_s
    print(f"  decode to RGB: sonobridge {ours_s:.3f} s ({120 / ours_s:.0f} fps), pydicom {theirs_s:.3f} s "
          f"({120 / theirs_s:.0f} fps): {ratio:.1f}x (target >= 15x: {'PASS' if ratio >= 15 else 'FAIL'})")
    for method in ("ours", "pydicom"):
        seconds, before, peak, nbytes = fresh_process(method, CINE)
        growth = (peak - before) / nbytes
        verdict = f" (target <= 1.5x: {'PASS' if growth <= 1.5 else 'FAIL'})" if method == "ours" else ""
        print(f"  peak RSS {method:8}: {peak / 2**20:6.0f} MiB, {(peak - before) / 2**20:6.0f} MiB above the "
              f"process after imports = {growth:.2f}x the {nbytes / 2**20:.0f} MiB array{verdict}")
    print(f"\n{'file':46} {'syntax':24} {'ours ms':>8} {'pydicom ms':>10} {'ratio':>6} {'max diff':>8}")
    for name in TABLE:
        path = DICOM / name
        ds = pydicom.dcmread(path)
        reference = ds.pixel_array
        mine = decode(path)
        difference = np.abs(mine.reshape(reference.shape).astype(float) - reference).max()
        ours_ms = timed(lambda path=path: decode(path), 7) * 1e3
        theirs_ms = timed(lambda path=path: pydicom.dcmread(path).pixel_array, 7) * 1e3
        print(f"{name:46} {ds.file_meta.TransferSyntaxUID.name[:24]:24} {ours_ms:8.1f} {theirs_ms:10.1f} "
              f"{theirs_ms / ours_ms:6.1f} {difference:8g}")


if __name__ == "__main__":
    sys.exit(main())
