"""Benchmark: curvilinear scan conversion, 192 lines x 2000 samples -> 600 x 800 pixels.

Compares ``sonobridge.processing.scan_convert.ScanConverter`` (precomputed bilinear taps applied
by a numba-compiled gather, and the fallback without numba: one SciPy sparse matrix-vector product
per frame) against ``scipy.ndimage.map_coordinates(frame, coords, order=1, prefilter=False)`` with
the same precomputed coordinates, per frame, on one core. Also checks accuracy against the same
interpolation in float64. Run from the repository root:

    .venv/bin/python benchmarks/bench_scan_convert.py [--quick]

Geometry: curved array, radius 45 mm, 192 elements at 0.286 mm pitch (a 70 degree sector), one
line per element, 2000 samples at 75 um (150 mm); output grid 600 rows (z) x 800 columns (x) over
the bounding box of all samples. Frames: 32 distinct random float32 frames (values 0..255),
cycled so that no frame is cache-hot. Always exits 0: this is a report.
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_name] = "1"  # single core: before numpy is imported

import argparse
import statistics
import sys
import time

import numpy as np
import scipy
import scipy.ndimage
import scipy.sparse

from sonobridge.core.geometry import LineGeometry, PixelGrid, Probe
from sonobridge.processing.gather import compiled_gather, numpy_gather
from sonobridge.processing.scan_convert import ScanConverter

LINES, SAMPLES = 192, 2000
RADIUS_M, PITCH_M, SAMPLE_SPACING_M = 0.045, 0.286e-3, 75e-6
N_Z, N_X = 600, 800
BATCH = 32
TARGET_RATIO = 10.0
TARGET_ERROR = 1e-3


# --------------------------------------------------------------------------- geometry

def geometry() -> LineGeometry:
    probe = Probe("C", "curved", LINES, PITCH_M, radius_m=RADIUS_M)
    return LineGeometry(np.arange(float(LINES)), np.zeros(LINES), SAMPLE_SPACING_M, 0.0, 20e6,
                        probe=probe)


def grid_for(geo: LineGeometry) -> PixelGrid:
    x, z = geo.sample_positions_m(SAMPLES)
    return PixelGrid(np.linspace(x.min(), x.max(), N_X), np.linspace(z.min(), z.max(), N_Z))


# --------------------------------------------------------------------------- timing helpers

def timed(variants: dict[str, tuple[callable, int]], n_frames: int,
          repeats: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and process-CPU ms per frame of each variant per round (one round converts each of
    the ``n_frames`` frames once), the variants interleaved."""
    times = {name: ([], []) for name in variants}
    for _ in range(repeats):
        for name, (fn, per_call) in variants.items():
            calls = range(0, n_frames, per_call)
            cpu, wall = time.process_time(), time.perf_counter()
            for i in calls:
                fn(i)
            times[name][0].append((time.perf_counter() - wall) * 1e3 / n_frames)
            times[name][1].append((time.process_time() - cpu) * 1e3 / n_frames)
    return times


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW TARGET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9

    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{os.cpu_count()} CPUs, OMP/OPENBLAS_NUM_THREADS=1")
    geo, grid = geometry(), None
    grid = grid_for(geo)
    builds = []
    for _ in range(3):
        start = time.perf_counter()
        conv = ScanConverter.build(geo, SAMPLES, grid=grid)
        builds.append(time.perf_counter() - start)
    matrix = conv.matrix
    mask = conv.grid.mask
    sector = float(np.ptp(geo.line_angles_rad()))
    print(f"geometry: curved R {RADIUS_M * 1e3:g} mm, {LINES} lines, sector {np.degrees(sector):.1f} deg, "
          f"{SAMPLES} samples x {SAMPLE_SPACING_M * 1e6:g} um; grid {N_Z} x {N_X}, pixel "
          f"{np.diff(grid.z_m)[0] * 1e3:.3f} (z) x {np.diff(grid.x_m)[0] * 1e3:.3f} (x) mm, "
          f"{mask.mean():.1%} inside")
    print(f"converter build: best {min(builds) * 1e3:.0f} ms, median {statistics.median(builds) * 1e3:.0f} ms "
          f"(of 3); matrix {type(matrix).__name__} {matrix.shape} {matrix.dtype}, nnz {matrix.nnz} "
          f"({matrix.nnz / mask.sum():.2f} per inside pixel), indices {matrix.indices.dtype}, "
          f"indptr {matrix.indptr.dtype}, {(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20:.1f} MiB")

    # reference coordinates: fractional (line, sample); lines are stored left to right here
    assert np.array_equal(conv.line_order, np.arange(LINES)), "line order is not the identity"
    coords = np.stack([conv.line_coordinate, conv.sample_coordinate])
    coords = np.where(np.isnan(coords), -1.0, coords)

    rng = np.random.default_rng(0)
    frames = (rng.random((BATCH, LINES, SAMPLES), dtype=np.float32) * 255).astype(np.float32)

    def reference(i):
        return scipy.ndimage.map_coordinates(frames[i], coords, order=1, prefilter=False,
                                             mode="constant", cval=0.0)

    # accuracy, once, outside timing: ours (single and batched) vs float64 map_coordinates
    batched = conv(frames)
    sparse_batched = conv(frames, compiled=False)
    assert np.abs(sparse_batched - batched).max() <= 1e-5 * 255, "compiled and sparse paths differ"
    errors, errors_f32 = [], []
    for i in range(BATCH):
        exact = scipy.ndimage.map_coordinates(frames[i].astype(np.float64), coords, order=1,
                                              prefilter=False, mode="constant", cval=0.0)
        value_range = float(np.ptp(frames[i]))
        ours = conv(frames[i])
        assert np.array_equal(ours, batched[i]), "batched output differs from per-frame output"
        errors.append(float(np.abs(ours - exact)[mask].max()) / value_range)
        errors_f32.append(float(np.abs(reference(i) - exact)[mask].max()) / value_range)
        assert not np.any(ours[~mask]), "non-zero pixel outside the sector"
    max_error = max(errors)
    print(f"accuracy: max |ours - float64 map_coordinates| inside / frame range = {max_error:.2e} "
          f"(32 frames; float32 map_coordinates: {max(errors_f32):.2e}); batched == per frame")

    if compiled_gather() is None:
        print("numba is not installed: [a] and [b] run the sparse path (scripts/setup.sh installs numba)")
    else:
        conv(frames[0], compiled=True)     # load the compiled gather, as a long job does (no 0.6 s in the timings)
    taps = conv.taps

    def numpy_path(i):
        out = np.zeros((1, mask.size), np.float32)
        numpy_gather(frames[i].reshape(1, -1), taps.pixels, taps.low, taps.high, taps.line_fraction,
                     taps.sample_fraction, out)
        return out

    variants = {
        "map_coordinates(order=1), float32": (reference, 1),
        "[a] ours conv(frame)": (lambda i: conv(frames[i]), 1),
        f"[b] ours conv(frames[{BATCH}]) batched": (lambda _: conv(frames), BATCH),
        "[c] sparse path conv(frame, compiled=False)": (lambda i: conv(frames[i], compiled=False), 1),
        "[d] sparse path batched": (lambda _: conv(frames, compiled=False), BATCH),
        "[e] numpy gather (short jobs, bit-exact with [a])": (numpy_path, 1),
    }
    times = timed(variants, BATCH, repeats)

    ref_wall = times["map_coordinates(order=1), float32"][0]
    ref_best, ref_median = min(ref_wall), statistics.median(ref_wall)
    print(f"\nms per frame, best / median of {repeats} rounds of {BATCH} distinct frames; "
          "process CPU per frame of the best round; ratio = map_coordinates / variant")
    for name, (wall, cpu) in times.items():
        best, median = min(wall), statistics.median(wall)
        print(f"  {name:45s} best {best:6.3f}  median {median:6.3f}  cpu {cpu[wall.index(best)]:6.3f}  "
              f"ratio best {ref_best / best:5.1f}x  median {ref_median / median:5.1f}x  "
              f"{1e3 / best:5.0f} frames/s")

    a, b = min(times["[a] ours conv(frame)"][0]), min(times[f"[b] ours conv(frames[{BATCH}]) batched"][0])
    c = min(times["[c] sparse path conv(frame, compiled=False)"][0])
    print(f"\ntarget [a] conv(frame) >= {TARGET_RATIO:g}x map_coordinates: {ref_best / a:.1f}x "
          f"{verdict(ref_best / a >= TARGET_RATIO)}")
    print(f"target [b] batched >= {TARGET_RATIO:g}x map_coordinates:     {ref_best / b:.1f}x "
          f"{verdict(ref_best / b >= TARGET_RATIO)}")
    print(f"  without numba (sparse path, per frame): {ref_best / c:.1f}x (not the default install: "
          f"scripts/setup.sh installs numba)")
    print(f"default install (numba from scripts/setup.sh) >= {TARGET_RATIO:g}x map_coordinates: "
          f"{ref_best / a:.1f}x {verdict(compiled_gather() is not None and ref_best / a >= TARGET_RATIO)}")
    print(f"target accuracy max error < {TARGET_ERROR:g} of range: {max_error:.2e} "
          f"{verdict(max_error < TARGET_ERROR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
