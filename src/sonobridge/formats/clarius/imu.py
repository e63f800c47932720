"""Clarius ``<capture>_imu.yml``: multi-document YAML, one document per IMU sample.

Each document holds ``timestamp`` (probe clock, ns), ``gyroscope x/y/z``, ``accelerometer x/y/z``,
``magnetometer x/y/z``, ``roll``, ``pitch``, ``yaw``, ``temperature``, ``orientation: {q0..q3}``,
``stationary``. Keys ``<name> x/y/z`` become one ``(n, 3)`` channel, mappings one ``(n, k)``
channel, scalars ``(n,)``. Units are not documented by Clarius and are recorded as unknown.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import yaml

from ...core.recording import Provenance, Signal
from ...errors import FormatError
from .yml import YAML_LOADER, snake_case


def _flatten(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"gyroscope x": 1}`` -> ``{"gyroscope": {"x": 1}}``; mappings keep their keys."""
    channels: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in document.items():
        name, _, axis = str(key).rpartition(" ")
        if name and axis in ("x", "y", "z"):
            channels[snake_case(name)][axis] = value
        elif isinstance(value, dict):
            channels[snake_case(key)].update({str(k): v for k, v in value.items()})
        else:
            channels[snake_case(key)][""] = value
    return channels


def parse_imu(text: str, label: str, provenance: Provenance | None = None) -> Signal:
    """Parse an ``_imu.yml`` text into a :class:`Signal` named ``"imu"``."""
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=YAML_LOADER) if doc is not None]
    except yaml.YAMLError as exc:
        raise FormatError(label, f"not a readable Clarius IMU yml: {getattr(exc, 'problem', exc)}") from None
    if not all(isinstance(doc, dict) and "timestamp" in doc for doc in documents):
        raise FormatError(label, "every IMU record needs a 'timestamp'")
    rows = [_flatten(doc) for doc in documents]
    names = list(dict.fromkeys(name for row in rows for name in row if name != "timestamp"))
    channels: dict[str, np.ndarray] = {}
    for name in names:
        components = list(dict.fromkeys(c for row in rows for c in row.get(name, {})))
        table = [[row.get(name, {}).get(c) for c in components] for row in rows]
        try:
            values = np.asarray(table, dtype=bool if name == "stationary" else np.float64)
        except (TypeError, ValueError):
            raise FormatError(label, f"IMU field {name!r} holds non-numeric values") from None
        channels[name] = values[:, 0] if components == [""] else values
    try:
        clock = np.asarray([int(row["timestamp"][""]) for row in rows], np.uint64)
    except (TypeError, ValueError):
        raise FormatError(label, "IMU 'timestamp' values must be integers (ns)") from None
    units = {name: "unknown" for name in channels}
    units.update({"stationary": "", "orientation": "quaternion q0..q3"})
    return Signal(name="imu", channels=channels, clock_source=clock, clock_unit_s=1e-9,
                  units={k: v for k, v in units.items() if k in channels}, provenance=provenance)
