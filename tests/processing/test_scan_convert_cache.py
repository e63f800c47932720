"""Scan converters built once per geometry and grid (shared by stages and recordings, bounded),
the faster line search giving the same converter, and short jobs that do not load numba while
giving the compiled path's result bit for bit (issue 22)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import importlib
from sonobridge.core.geometry import LineGeometry, PixelGrid, Probe
from sonobridge.core.recording import SampleKind
from sonobridge.processing.gather import NUMPY_BELOW, compiled_gather, gather_for, numpy_gather
from sonobridge.processing.scan_convert import ScanConverter, cached_converter, clear_converter_cache, scan_convert

from support import REPO, synthetic_stream

sc = importlib.import_module("sonobridge.processing.scan_convert")   # the package exports a function of that name

CURVED = Probe("test curved", "curved", 96, 0.3e-3, radius_m=45e-3)
LINEAR = Probe("test linear", "linear", 64, 0.3e-3)


def geometry(probe: Probe = CURVED, steer: float = 0.0) -> LineGeometry:
    n = probe.n_elements
    return LineGeometry(np.arange(float(n)), np.full(n, steer), 0.1e-3, 1e-3, 15e6, probe=probe)


def envelope_stream(geo: LineGeometry, frames: int = 3, samples: int = 200, seed: int = 0):
    data = np.random.default_rng(seed).integers(0, 256, (frames, geo.n_lines, samples), dtype=np.uint8)
    return synthetic_stream(data, SampleKind.ENVELOPE, name="env", geometry=geo), data


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_converter_cache()
    yield
    clear_converter_cache()


def test_one_converter_per_geometry_and_grid_across_streams():
    first, _ = envelope_stream(geometry(), seed=1)
    second, _ = envelope_stream(geometry(), seed=2)         # another recording, same probe
    converter = sc.converter_for(first)
    assert sc.converter_for(second) is converter
    assert sc.converter_for(first, pixel_size_m=0.3e-3) is not converter     # another grid
    grid = PixelGrid(converter.grid.x_m.copy(), converter.grid.z_m.copy())
    assert sc.converter_for(first, grid=grid) is not converter
    assert sc.converter_for(first, grid=grid) is sc.converter_for(second, grid=grid)
    assert sc.converter_for(envelope_stream(geometry(steer=0.01))[0]) is not converter   # another geometry
    assert not converter.taps.low.flags.writeable and not converter.line_coordinate.flags.writeable
    assert grid.x_m.flags.writeable                          # the caller's grid is left as it was


def test_the_cache_is_bounded(monkeypatch):
    converter = cached_converter(geometry(), 200)
    size = sc._nbytes(converter)
    monkeypatch.setattr(sc, "CACHE_BYTES", int(2.5 * size))
    kept = [cached_converter(geometry(steer=0.001 * k), 200) for k in range(6)]
    assert len(sc._converters) <= 3 and sum(sc._nbytes(c) for c in sc._converters.values()) <= 2.5 * size
    assert cached_converter(geometry(steer=0.005), 200) is kept[-1]           # the most recent stays
    assert cached_converter(geometry(steer=0.0), 200) is not kept[0]          # the oldest was evicted


@pytest.mark.parametrize("probe,steer", [(CURVED, 0.0), (LINEAR, 0.2), (Probe("p", "phased", 48, 0.25e-3), 0.0)])
def test_cached_converter_is_the_converter_build_makes(probe, steer):
    geo = geometry(probe, steer)
    built, cached = ScanConverter.build(geo, 150), cached_converter(geo, 150)
    for name in ("line_coordinate", "sample_coordinate", "line_order"):
        assert np.array_equal(getattr(built, name), getattr(cached, name), equal_nan=True)
    for name in ("pixels", "low", "high", "line_fraction", "sample_fraction"):
        assert np.array_equal(getattr(built.taps, name), getattr(cached.taps, name))


def _signed_distance_reference(px, pz, origins, angles, line):
    """The per-step formula before issue 22 (cosine and sine recomputed per pixel)."""
    return (px - origins[line, 0]) * np.cos(angles[line]) - (pz - origins[line, 1]) * np.sin(angles[line])


def test_faster_signed_distance_is_bit_exact():
    geo = geometry()
    origins, angles = geo.line_origins_m(), geo.line_angles_rad()
    rng = np.random.default_rng(3)
    px, pz = rng.uniform(-0.05, 0.05, 5000), rng.uniform(0, 0.1, 5000)
    line = rng.integers(0, geo.n_lines, 5000)
    ours = sc._signed_distance(px, pz, sc._Lines.of(origins, angles), line)
    assert np.array_equal(ours, _signed_distance_reference(px, pz, origins, angles, line))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_numpy_gather_equals_the_compiled_gather_bit_for_bit(dtype):
    pytest.importorskip("numba")
    converter = ScanConverter.build(geometry(), 300)
    taps = converter.taps
    frames = (np.random.default_rng(5).random((3, converter.n_lines * 300)) * 255).astype(dtype)
    compiled = np.zeros((3, converter.grid.mask.size), np.float32)
    vectorised = compiled.copy()
    compiled_gather()(frames, taps.pixels, taps.low, taps.high, taps.line_fraction, taps.sample_fraction, compiled)
    numpy_gather(frames, taps.pixels, taps.low, taps.high, taps.line_fraction, taps.sample_fraction, vectorised)
    assert np.array_equal(compiled, vectorised)


def test_short_and_long_jobs_give_the_same_images():
    pytest.importorskip("numba")
    stream, data = envelope_stream(geometry(), frames=5)
    short = np.asarray(scan_convert(stream).frames[:])
    converter = sc.converter_for(stream)
    assert np.array_equal(short, converter(data, compiled=True))
    assert gather_for(1, NUMPY_BELOW) is compiled_gather()                  # a long job: compiled at once
    assert gather_for(0) is compiled_gather()                                # loaded now: compiled


_SHORT_JOB = """
import sys
import numpy as np
from sonobridge.core.geometry import LineGeometry, Probe
from sonobridge.processing.scan_convert import cached_converter
geo = LineGeometry(np.arange(64.0), np.zeros(64), 1e-4, 1e-3, 15e6, probe=Probe("l", "linear", 64, 3e-4))
converter = cached_converter(geo, 200)
frames = np.random.default_rng(0).integers(0, 256, (10, 64, 200), dtype=np.uint8)
images = converter(frames, job_frames=10)
single = [converter(frame) for frame in frames]            # frame by frame, no job size given
loaded_when_short = "numba" in sys.modules
for _ in range(400):                                       # 400 x 10 frames x ~12k pixels: past NUMPY_BELOW
    converter(frames)
print(loaded_when_short, "numba" in sys.modules, np.array_equal(images, converter(frames)))
"""


def test_short_work_does_not_load_numba_and_long_work_does():
    """Loading numba and the compiled gather costs ~0.6 s per process: more than a short job;
    a process that keeps converting switches to it, with the same images."""
    pytest.importorskip("numba")
    run = subprocess.run([sys.executable, "-c", _SHORT_JOB], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["False", "True", "True"]
