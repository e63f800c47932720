"""Benchmark: DICOM compression and pixel_array, sonobridge.dicom.pixels vs pydicom 3, in one run.

1. compress: the 120-frame 480 x 640 RGB US cine (the fixture `color3d_jpeg_baseline.dcm` decoded to
   native RGB, 105 MiB) to JPEG-LS lossless and HTJ2K lossless (and JPEG 2000 lossless, RLE) with
   :func:`sonobridge.dicom.pixels.compress` (imagecodecs, frames on a thread pool) vs pydicom's
   ``Dataset.compress`` (pyjpegls, pylibjpeg-openjpeg, its RLE plugins). pydicom 3.0 has no HTJ2K
   encoder: HTJ2K is set against pydicom's JPEG 2000 lossless, the nearest it can write. Target >= 4x.
   Every output is decoded and checked bit-exact before its time counts.
2. pixel_array on the fixtures' multi-frame files, one per transfer syntax (median of N, ms), and on
   the cine as we compressed it (JPEG-LS, HTJ2K, JPEG 2000, RLE), vs ``pydicom.pixels.pixel_array``;
   the US cine must stay >= 15x.

    .venv/bin/python benchmarks/bench_dicom_compress.py

Runs in about 90 s on 2 cores. Always exits 0: this is a report.
"""
from __future__ import annotations

import copy
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DICOM = REPO.parent / "shared" / "data" / "dicom" / "wheels"
CINE = DICOM / "pydicom-data" / "color3d_jpeg_baseline.dcm"
#: (label, our syntax, pydicom's syntax or None, pydicom's encoding plugin)
COMPRESS = [("JPEG-LS lossless", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.80", "pyjpegls"),
            ("HTJ2K lossless (pydicom: J2K lossless)", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.90",
             "pylibjpeg"),
            ("JPEG 2000 lossless", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.90", "pylibjpeg"),
            ("RLE lossless", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.5", "")]
#: the fixtures' multi-frame files, one per transfer syntax
TABLE = ["pydicom-data/color3d_jpeg_baseline.dcm", "pydicom/examples_ybr_color.dcm", "pydicom-data/emri_small.dcm",
         "pydicom-data/emri_small_big_endian.dcm", "pydicom-data/emri_small_RLE.dcm",
         "pydicom-data/emri_small_jpeg_ls_lossless.dcm", "pydicom-data/emri_small_jpeg_2k_lossless.dcm",
         "pydicom/SC_rgb_rle_2frame.dcm", "pydicom-data/OBXXXX1A_expb_2frame.dcm", "pydicom/rtdose.dcm"]


def timed(function, repeats: int) -> float:
    """Median wall time of ``repeats`` calls (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def native_cine():
    """The cine as an Explicit VR Little Endian RGB dataset (what both compressors start from)."""
    import pydicom

    from sonobridge.dicom import pixels

    ds = pydicom.dcmread(CINE)
    pixels.decompress(ds)
    return ds, pixels.pixel_array(ds)


def compress_section(folder: Path) -> list[Path]:
    """The compression table; returns the files written (our output per syntax) for the decode table."""
    import pydicom.pixels

    from sonobridge.dicom import pixels

    native, frames = native_cine()
    print(f"compress {CINE.name} decoded: {frames.shape} {frames.dtype} ({frames.nbytes / 2**20:.0f} MiB), "
          f"{os.cpu_count()} CPUs")
    print(f"{'syntax':40} {'ours s':>7} {'pydicom s':>9} {'ratio':>6} {'ours CR':>7} {'pydicom CR':>10}")
    written = []
    for label, ours_syntax, theirs_syntax, plugin in COMPRESS:
        ours_s, ours_cr = _run(lambda ds: pixels.compress(ds, ours_syntax), native, frames, 3,
                               folder / f"cine_{ours_syntax}.dcm")
        written.append(folder / f"cine_{ours_syntax}.dcm")
        theirs_s, theirs_cr = _run(lambda ds: pydicom.pixels.compress(ds, theirs_syntax, encoding_plugin=plugin),
                                   native, frames, 1)
        ratio = theirs_s / ours_s
        verdict = f"  (>= 4x: {'PASS' if ratio >= 4 else 'FAIL'})" if "RLE" not in label else ""
        print(f"{label:40} {ours_s:7.2f} {theirs_s:9.2f} {ratio:6.1f} {ours_cr:7.2f} {theirs_cr:10.2f}{verdict}")
    return written


def _run(compress, native, frames: np.ndarray, repeats: int, keep: Path | None = None) -> tuple[float, float]:
    """(best time in s, compression ratio) of ``compress`` on fresh copies of ``native``; checked
    lossless; the result saved to ``keep`` when given."""
    from sonobridge.dicom import pixels
    from sonobridge.dicom.io import save_dataset

    best = float("inf")
    for _ in range(repeats):
        ds = copy.deepcopy(native)
        start = time.perf_counter()
        compress(ds)
        best = min(best, time.perf_counter() - start)
    if not np.array_equal(pixels.pixel_array(ds), frames):
        raise SystemExit(f"not lossless: {ds.file_meta.TransferSyntaxUID}")
    if keep is not None:
        save_dataset(ds, keep)
    return best, frames.nbytes / len(ds.PixelData)


def pixel_array_section(made: list[Path]) -> None:
    import pydicom
    from pydicom.pixels import pixel_array as theirs

    from sonobridge.dicom.pixels import pixel_array as ours

    print(f"\npixel_array (median ms) on the multi-frame fixtures\n"
          f"{'file':44} {'syntax':30} {'frames':>6} {'ours':>8} {'pydicom':>8} {'ratio':>6} {'max diff':>8}")
    for path in [DICOM / name for name in TABLE] + made:
        name = path.name if path in made else path.relative_to(DICOM).as_posix()
        meta = pydicom.dcmread(path, stop_before_pixels=True)
        big = int(meta.get("NumberOfFrames", 1)) >= 100
        repeats = 5 if big else 15
        reference, mine = theirs(path), ours(path)
        difference = np.abs(mine.astype(float) - reference).max()
        ours_ms = timed(lambda path=path: ours(path), repeats) * 1e3
        theirs_ms = timed(lambda path=path: theirs(path), 1 if path in made else 3 if big else repeats) * 1e3
        verdict = f"  (>= 15x: {'PASS' if theirs_ms / ours_ms >= 15 else 'FAIL'})" if path == CINE else ""
        print(f"{name:44} {meta.file_meta.TransferSyntaxUID.name[:30]:30} {int(meta.get('NumberOfFrames', 1)):6} "
              f"{ours_ms:8.1f} {theirs_ms:8.1f} {theirs_ms / ours_ms:6.1f} {difference:8g}{verdict}")


def main() -> int:
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        pixel_array_section(compress_section(Path(folder)))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
