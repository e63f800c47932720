"""Benchmark: dataset converters, ``sonobridge convert --dataset`` vs the real zea 0.1.8's
``zea convert``, on the same generated inputs (made by the generators of the comparison tests in
tests/formats/zea/datasets/, in each dataset's real layout).

For every dataset: frames converted per second (all frames of all outputs over the wall time of
the conversion call, imports excluded: each side runs in a fresh interpreter that imports first,
then times only the call) and peak resident memory (``ru_maxrss`` of the interpreter and the
worker processes it waited for, i.e. the largest single process, from ``os.wait4``). Both sides
use their default parallelism (zea: its process pool where it has one; ours: one worker per core).

Target (chosen): ours at least as fast as zea's (ratio >= 1.0x -> PASS, else BELOW) and peak RSS
reported beside it (lower is better; not a pass criterion, zea's converters hold whole files too).

    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_zea_convert.py [--quick] [--only NAME ...]

Needs the test extra (zea, jax, SimpleITK, nibabel, av). Always exits 0: this is a report.
Adding a dataset: one :class:`Case` in :data:`CASES` (a generator, zea's call, our options).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests" / "formats" / "zea" / "datasets"
ENV = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _test_module(name: str):
    """A comparison-test module by file name (its input generators are reused here)."""
    sys.path.insert(0, str(REPO / "tests"))
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Case:
    """One dataset: ``generate(root, quick) -> source``; ``zea_call`` is Python run after
    ``import``-ing zea's converter, with ``SRC``/``DST`` defined; ``options`` are ours (or a
    function of the source folder giving them)."""

    generate: Callable[[Path, bool], Path]
    zea_import: str
    zea_call: str
    options: dict[str, str] | Callable[[Path], dict[str, str]] = field(default_factory=dict)


def _echonet(root: Path, quick: bool) -> Path:
    return _test_module("test_echonet").echonet_source(root, n_accepted=3 if quick else 8,
                                                       n_frames=10 if quick else 40)


def _camus(root: Path, quick: bool) -> Path:
    patients = (1, 2, 401) if quick else (1, 2, 3, 401, 402, 451)
    return _test_module("test_camus").camus_source(root, patients=patients, n_frames=10 if quick else 20,
                                                   height=300, width=240)


def _cetus(root: Path, quick: bool) -> Path:
    patients = (1, 31) if quick else (1, 2, 31, 39)
    return _test_module("test_cetus").cetus_source(root, patients=patients, shape=(48, 56, 64) if quick
                                                   else (96, 112, 128))


def _echonetlvh(root: Path, quick: bool) -> Path:
    source, _ = _test_module("test_echonetlvh").lvh_source(root, n_frames=8 if quick else 32)
    return source


def _images(root: Path, quick: bool) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for index in range(60 if quick else 300):
        Image.fromarray(rng.integers(0, 256, (256, 256), dtype=np.uint8)).save(root / f"img{index:04d}.png")
    return root


def _synth():
    """tests/zea_dataset_synth.py: the generators of the picmus/verasonics/us4us/echoxflow tests."""
    sys.path.insert(0, str(REPO / "tests"))
    import zea_dataset_synth

    return zea_dataset_synth


def _picmus(root: Path, quick: bool) -> Path:
    return _synth().picmus_tree(root, n_tx=11 if quick else 75, n_el=64 if quick else 128,
                                n_ax=512 if quick else 1024)


def _verasonics(root: Path, quick: bool) -> Path:
    sizes = dict(n_frames=6, n_el=64, n_tx=4, n_ax=256, n_channels=64) if quick else \
        dict(n_frames=20, n_el=128, n_tx=8, n_ax=512, n_channels=128)
    for index in range(2 if quick else 4):
        _synth().verasonics_file(root / f"run{index}.mat", seed=index, **sizes)
    return root


def _us4us(root: Path, quick: bool) -> Path:
    sizes = dict(n_frames=10, n_el=64, n_tx=8, n_ax=256, n_rx=32, image_shape=(128, 64)) if quick else \
        dict(n_frames=50, n_el=128, n_tx=16, n_ax=512, n_rx=64, image_shape=(256, 128))
    for index in range(2 if quick else 4):
        _synth().us4us_capture(root / f"capture{index}.pkl", seed=index, **sizes)
    return root


def _echoxflow(root: Path, quick: bool) -> Path:
    # zea reads EchoXFlow through the GitHub-only `echoxflow` package: give its source folder
    # with ECHOXFLOW_SRC, else zea's side is not measured
    if os.environ.get("ECHOXFLOW_SRC"):
        ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ["ECHOXFLOW_SRC"], ENV.get("PYTHONPATH")]))
    shape = (30, 200, 150) if quick else (80, 400, 300)
    recordings = [{"exam_id": f"exam_{i // 2}", "recording_id": f"rec_{i}", "frames": shape, "fps": 50.0,
                   "geometry": {"DepthStart": 0.0, "DepthEnd": 0.15, "Tilt": 0.0, "Width": 1.3},
                   "ecg": 2000 if i % 2 else None} for i in range(3 if quick else 6)]
    return _synth().echoxflow_root(root, recordings)


#: zea 0.1.8 recognises MATLAB struct arrays by the reference fill value HDF5 2.0 cannot write
#: (see tests/formats/zea/datasets/test_verasonics.py): its reader runs with that one check by dtype
_ZEA_VERASONICS = (
    "import h5py; from zea.data.convert import verasonics as zv; "
    "refs = lambda d: h5py.check_dtype(ref=d.dtype) is not None; "
    "zv.VerasonicsFile.dereference_index = lambda self, d, i: self[d[i].item()][:] if refs(d) else d; "
    "zv.VerasonicsFile.get_reference_size = staticmethod(lambda d: len(d) if refs(d) else 1)")


CASES: dict[str, Case] = {
    "echonet": Case(_echonet, "from zea.data.convert.echonet import convert_echonet",
                    "convert_echonet(SimpleNamespace(src=SRC, dst=DST, split_path=None, no_hyperthreading=False))"),
    "camus": Case(_camus, "from zea.data.convert.camus import convert_camus",
                  "convert_camus(SimpleNamespace(src=SRC, dst=DST, download=False, no_hyperthreading=False, "
                  "upload=False, reduced_dataset=False))"),
    "cetus": Case(_cetus, "from zea.data.convert.cetus import convert_cetus",
                  "convert_cetus(SimpleNamespace(src=SRC, dst=DST, download=False, no_hyperthreading=False, "
                  "upload=False))"),
    "echonetlvh": Case(_echonetlvh, "from zea.data.convert.echonetlvh import convert_echonetlvh",
                       "convert_echonetlvh(SRC, DST, False, SRC.parent / 'rejections.txt', False, False, None, False, "
                       "os.cpu_count())",
                       lambda source: {"rejection_path": str(source.parent / "rejections.txt")}),
    "images": Case(_images, "from zea.data.convert.images import convert_image_dataset",
                   "convert_image_dataset(SRC, DST)"),
    "picmus": Case(_picmus, "from zea.data.convert.picmus import convert_picmus",
                   "convert_picmus(SimpleNamespace(src=SRC, dst=DST, download=False, upload=False))"),
    "verasonics": Case(_verasonics, _ZEA_VERASONICS,
                       "[zv._zea_from_verasonics_workspace(p, DST / (p.stem + '.hdf5')) for p in sorted(SRC.glob('*.mat'))]"),
    "us4us": Case(_us4us, "from zea.data.convert.us4us import convert_us4us",
                  "convert_us4us(SimpleNamespace(src=SRC, dst=DST, mapping=['0:image', '1:beamformed_data', "
                  "'2:raw_data'], metadata=None, separate_tracks=False, overwrite=False))",
                  {"mapping": "0:image 1:beamformed_data 2:raw_data"}),
    "echoxflow": Case(_echoxflow, "from zea.data.convert.echoxflow import convert_echoxflow",
                      "convert_echoxflow(SimpleNamespace(src=str(SRC), dst=str(DST), croissant=None, min_frames=10, "
                      "min_fps=30.0, limit=None, overwrite=False, upload=False, revision=None, hf_repo_id=''))"),
}


#: appended to every measured program: its peak RSS and that of the workers it waited for (KiB)
PEAK_RSS = """
import resource
print(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
"""


def _timed(code: str) -> tuple[float, float]:
    """Run ``code`` (which prints the seconds of its timed part) in a fresh interpreter; return
    (seconds, peak RSS in MB). The interpreter is a child of a shell, not of this process: Linux
    carries a process's peak RSS across ``exec``, so a child exec'd from this (large) process
    would report this process's size as its own."""
    program = textwrap.dedent(code) + PEAK_RSS
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        result = subprocess.run(["sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, program], env=ENV,
                                cwd=REPO, stdout=stdout, stderr=stderr, text=True)   # files: never blocks
        stdout.seek(0), stderr.seek(0)
        out, err = stdout.read().split(), stderr.read()
    if result.returncode != 0 or len(out) < 2:
        raise RuntimeError(err[-2000:])
    return float(out[-2]), float(out[-1]) / 1024


def run_zea(case: Case, source: Path, destination: Path) -> tuple[float, float]:
    return _timed(f"""
        import os
        import time
        from types import SimpleNamespace
        from pathlib import Path
        {case.zea_import}
        SRC, DST = Path({str(source)!r}), Path({str(destination)!r})
        DST.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        {case.zea_call}
        print(time.perf_counter() - start)
        """)


def run_ours(name: str, case: Case, source: Path, destination: Path) -> tuple[float, float]:
    options = case.options(source) if callable(case.options) else case.options
    return _timed(f"""
        import time
        from sonobridge.formats.zea.datasets import convert_dataset
        from sonobridge.formats.zea.datasets.driver import dataset_module
        dataset_module({name!r})
        start = time.perf_counter()
        results = convert_dataset({name!r}, {str(source)!r}, {str(destination)!r}, options={options!r},
                                  progress=False)
        assert not [r for r in results if r.failed], [r.outcome for r in results if r.failed]
        print(time.perf_counter() - start)
        """)


def frames_in(folder: Path) -> int:
    """Frames of all zea files under ``folder`` (first axis of each track's first product)."""
    import h5py
    import hdf5plugin  # noqa: F401

    total = 0
    for path in folder.rglob("*.hdf5"):
        with h5py.File(path, "r") as handle:
            data = handle["tracks/track_0/data"]
            product = data[sorted(data)[0]]
            total += (product["values"] if isinstance(product, h5py.Group) else product).shape[0]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="datasets to run (default: all)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; target: ours >= 1.0x zea's frames/s")
    lines = []
    for name in args.only or list(CASES):
        case = CASES[name]
        work = Path(tempfile.mkdtemp(prefix=f"bench-convert-{name}-"))
        try:
            source = case.generate(work / "raw", args.quick)
            zea_s, zea_mb = run_zea(case, source, work / "zea")
            ours_s, ours_mb = run_ours(name, case, source, work / "ours")
            frames = frames_in(work / "ours")
            if frames != frames_in(work / "zea"):
                print(f"{name}: warning: zea wrote {frames_in(work / 'zea')} frames, ours {frames}")
            ratio = zea_s / ours_s
            lines.append(f"{name:10s} {frames:6d} frames  zea {frames / zea_s:9.1f} frames/s {zea_mb:7.0f} MB  "
                         f"ours {frames / ours_s:9.1f} frames/s {ours_mb:7.0f} MB  speed {ratio:6.2f}x  "
                         f"RSS {ours_mb / zea_mb:4.2f}x  {'PASS' if ratio >= 1.0 else 'BELOW'}")
            print(lines[-1], flush=True)
        except Exception as error:      # noqa: BLE001 - a report, never a failure
            print(f"{name}: not measured: {type(error).__name__}: {str(error)[-500:]}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"lines": lines}))


if __name__ == "__main__":
    main()
