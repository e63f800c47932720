"""Shared fixtures of the dataset-converter tests (conv-A and conv-B: use these, do not copy).

- ``run_zea(code, timeout=...)``: run Python ``code`` with the real zea 0.1.8 in a subprocess
  (KERAS_BACKEND=jax, CPU), failing the test with zea's stderr if it fails.
- ``compare_with_zea(ours, theirs)``: the two output folders hold the same ``.hdf5`` files (by
  relative path), each with the same datasets (keys, dtypes, identical values), the same root
  attributes, and the real zea validates ours.
- ``zea_validates(path)``: zea's ``validate_file`` and ``validate_spec`` accept the file.

For conv-B (from conv-A): the driver hands ``convert`` a job whose ``output`` is a temporary path
that does NOT exist yet (``.<name>.<hex>.partial`` beside the final one); write it whole, do not
rename. ``datasets/job.py`` offers ``write_zea(output, data, probe=..., metadata=...,
description=...)`` (sonobridge's writer, single track, lazy values streamed) and
``SequentialFrames(shape, dtype, make_block_iterator)`` (a lazy frame array fed by an iterator of
frame blocks, so a file is never held whole), ``write_text_if_changed`` and ``dataset_card``
(README.md with ``zea_repo_id: ...`` front matter) for ``finish``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ZEA_ENV = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "",
           "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run_zea(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=ZEA_ENV, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"zea failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def run_zea():
    return _run_zea


def hdf5_files(root: Path) -> list[str]:
    """Relative paths of the ``.hdf5`` files under ``root`` (hidden files excluded)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.hdf5") if not p.name.startswith("."))


def datasets(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of the HDF5 file at ``path`` by name, read whole."""
    import h5py
    import hdf5plugin  # noqa: F401  (Blosc, as zea writes)

    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset)
                          else None)
        found["/attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in handle.attrs.items()}
    return found


def _zea_validates(path: Path) -> None:
    _run_zea(f"""
        import zea
        from zea.data.file import validate_file
        assert validate_file({str(path)!r}) == {{"status": "success"}}
        with zea.File({str(path)!r}, validate=False) as handle:
            handle.validate_spec()
        """)


@pytest.fixture
def zea_validates():
    return _zea_validates


def assert_same_file(ours: Path, theirs: Path, *, tolerance: dict[str, float] | None = None) -> None:
    """Same dataset keys, dtypes and values (exactly, unless ``tolerance`` names the key:
    then within that absolute difference), same root attributes."""
    mine, zeas = datasets(ours), datasets(theirs)
    assert sorted(mine) == sorted(zeas), f"{ours.name}: keys differ"
    for key, expected in zeas.items():
        got = mine[key]
        if key == "/attrs":
            assert got == expected, f"{ours.name}: root attributes differ"
            continue
        assert np.asarray(got).dtype == np.asarray(expected).dtype, f"{ours.name}:{key}: dtype"
        if tolerance and key in tolerance:
            assert np.asarray(got).shape == np.asarray(expected).shape, f"{ours.name}:{key}: shape"
            assert np.max(np.abs(np.asarray(got, float) - np.asarray(expected, float)), initial=0) <= tolerance[key], \
                f"{ours.name}:{key}: values beyond {tolerance[key]}"
        else:
            assert np.array_equal(got, expected), f"{ours.name}:{key}: values differ"


def _compare_with_zea(ours: Path, theirs: Path, *, tolerance: dict[str, float] | None = None,
                      validate: bool = True) -> list[str]:
    names = hdf5_files(theirs)
    assert names, f"zea wrote nothing under {theirs}"
    assert hdf5_files(ours) == names
    for name in names:
        assert_same_file(ours / name, theirs / name, tolerance=tolerance)
    if validate:
        _zea_validates(ours / names[0])
    return names


@pytest.fixture
def compare_with_zea():
    return _compare_with_zea
