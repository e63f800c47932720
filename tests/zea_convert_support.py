"""Helpers for comparing sonobridge's dataset converters with real zea 0.1.8's
(``python -m zea.data.convert``): run zea's converter, walk two zea files, ask zea to validate.

Used by tests/formats/zea/datasets/test_*.py and benchmarks/bench_zea_convert.py.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: zea writes a ``unit`` and a ``description`` on every spec dataset from its field table, ours from
#: ours (sonobridge.formats.zea.schema): units are compared (zea's "–" for unitless as our "-"),
#: descriptions are each side's own words and only required to be present on both sides
SPEC_ATTRS = ("unit", "description")


def run_zea_convert(*args: str | os.PathLike, timeout: float = 600, cwd: Path | None = None
                    ) -> subprocess.CompletedProcess:
    """Run ``python -m zea.data.convert ARGS`` (real zea) in a subprocess; raise with its output
    if it fails."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.run([sys.executable, "-m", "zea.data.convert", *map(str, args)],
                             capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL)
    if process.returncode != 0:
        raise AssertionError(f"zea convert {args} failed ({process.returncode}):\n{process.stdout}\n"
                             f"{process.stderr}")
    return process


def hdf5_files(root: Path) -> list[str]:
    """The ``.hdf5`` files under ``root``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*.hdf5"))


def file_items(path: Path) -> dict[str, tuple[dict[str, Any], Any]]:
    """``{name: (attrs, value or None for groups)}`` of every object of the HDF5 file at
    ``path`` (the root as ``"/"``; ``zea_version`` left out: the writers differ in it only)."""
    import h5py
    import hdf5plugin  # noqa: F401  (Blosc)

    items: dict[str, tuple[dict[str, Any], Any]] = {}

    def attrs(obj) -> dict[str, Any]:
        return {k: _plain(v) for k, v in obj.attrs.items() if k != "zea_version"}

    with h5py.File(path, "r") as handle:
        items["/"] = (attrs(handle), None)
        handle.visititems(lambda name, obj: items.__setitem__(
            name, (attrs(obj), obj[()] if isinstance(obj, h5py.Dataset) else None)))
    return items


def _comparable(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as compared: descriptions as present/absent, unitless "–" as "-"."""
    out = dict(attrs)
    if "description" in out:
        out["description"] = True
    if out.get("unit") == "\u2013":
        out["unit"] = "-"
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def differences(zea_path: Path, our_path: Path, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """What differs between zea's file and ours: object names (``ignore``: names that only zea
    writes and are known not to matter, e.g. its always-empty ``metrics`` group), attributes
    (zea's spec ``unit``/``description`` compared where ours has them) and values (same dtype,
    same shape, ``np.array_equal``; NaN equal to NaN)."""
    theirs, ours = file_items(zea_path), file_items(our_path)
    problems = []
    only_zea = set(theirs) - set(ours) - set(ignore)
    if only_zea or set(ours) - set(theirs):
        problems.append(f"objects only in zea's: {sorted(only_zea)}, only in ours: "
                        f"{sorted(set(ours) - set(theirs))}")
    for name in sorted(set(theirs) & set(ours)):
        (their_attrs, their_value), (our_attrs, our_value) = theirs[name], ours[name]
        if _comparable(their_attrs) != _comparable(our_attrs):
            problems.append(f"{name}: attributes {their_attrs} (zea) != {our_attrs} (ours)")
        if their_value is None or our_value is None:
            if (their_value is None) != (our_value is None):
                problems.append(f"{name}: a group in one file, a dataset in the other")
            continue
        a, b = np.asarray(their_value), np.asarray(our_value)
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {a.dtype}{a.shape} (zea) != {b.dtype}{b.shape} (ours)")
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            problems.append(f"{name}: values differ")
    return problems


def zea_accepts(path: Path) -> list[str]:
    """Real zea's objections to the file at ``path`` (empty: zea validates it)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    try:
        validate_file(str(path))
        with zea.File(str(path), validate=False) as handle:
            handle.validate_spec()
    except (ValueError, TypeError, AssertionError, KeyError) as error:
        return [f"{type(error).__name__}: {error}"]
    return []
