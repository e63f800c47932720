"""Clarius ``<capture>_imu.yml``: multi-document YAML, one document per IMU sample.

Each document holds ``timestamp`` (probe clock, ns), ``gyroscope x/y/z``, ``accelerometer x/y/z``,
``magnetometer x/y/z``, ``roll``, ``pitch``, ``yaw``, ``temperature``, ``orientation: {q0..q3}``,
``stationary``. Keys ``<name> x/y/z`` become one ``(n, 3)`` channel, mappings one ``(n, k)``
channel, scalars ``(n,)``. Units are not documented by Clarius and are recorded as unknown.

A file cut short loses its last, incomplete record (unparseable, or with other fields or value
types than the record before it) with a :class:`~sonobridge.errors.TruncatedDataWarning`; the
reader also checks that the samples run to the end of the capture.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import numpy as np
import yaml

from ...core.recording import Provenance, Signal
from ...errors import FormatError, TruncatedDataWarning
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


def _layout(record: Any) -> dict[str, Any] | None:
    """A record's fields and what each value looks like (bool, number, other type, or a mapping's
    keys); None for a record that is not a mapping."""
    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return tuple(value)
        return bool if isinstance(value, bool) else float if isinstance(value, (int, float)) else type(value)

    return {key: shape(value) for key, value in record.items()} if isinstance(record, dict) else None


def _documents(text: str, label: str) -> list[Any]:
    """The YAML documents of ``text``; a last document cut short (unparseable, or with other
    fields or value types than the record before it) is dropped with a warning."""
    documents: list[Any] = []
    try:
        for document in yaml.load_all(text, Loader=YAML_LOADER):
            if document is not None:
                documents.append(document)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None or not documents or text.rfind("\n---", 0, mark.index) < text.rfind("\n---"):
            raise FormatError(label, f"not a readable Clarius IMU yml: {getattr(exc, 'problem', exc)}") from None
        documents.append(None)  # the last document, unparseable
    if len(documents) > 1 and isinstance(documents[-2], dict) and _layout(documents[-1]) != _layout(documents[-2]):
        warnings.warn(f"{label}: the last IMU record is cut short; {len(documents) - 1} of {len(documents)} "
                      "records kept", TruncatedDataWarning, stacklevel=3)
        documents.pop()
    return documents


def parse_imu(text: str, label: str, provenance: Provenance | None = None) -> Signal:
    """Parse an ``_imu.yml`` text into a :class:`Signal` named ``"imu"``."""
    documents = _documents(text, label)
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
