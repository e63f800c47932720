"""Exact JSON for the core model's metadata: parameters, vendor metadata, geometry, provenance.

Plain JSON loses types (tuples become lists, int keys become strings, arrays and datetimes are not
representable). :func:`dumps` tags them so that :func:`loads` gives back equal objects: NumPy arrays
(bytes in base64, dtype and shape kept, so values are bit-exact), NumPy scalars, tuples, dicts with
non-string keys, datetimes and dates, and the core model's dataclasses. Decoding only builds the
whitelisted types below (no code execution, unlike pickle).
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

import numpy as np

from .geometry import LineGeometry, PixelGrid, Probe
from .recording import Provenance
from .tgc import TgcCurves
from .units import Quantity

TAG = "__sonobridge__"
DATACLASSES: dict[str, type] = {cls.__name__: cls for cls in (LineGeometry, PixelGrid, Probe, Provenance,
                                                              Quantity, TgcCurves)}


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value).reshape(value.shape)
        return {TAG: "ndarray", "dtype": array.dtype.str, "shape": list(array.shape),
                "data": base64.b64encode(array.tobytes()).decode("ascii")}
    if isinstance(value, np.generic):
        return {TAG: "scalar", "value": _encode(np.asarray(value))}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: _encode(v) for k, v in value.items()}
        return {TAG: "dict", "items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, dt.datetime):
        return {TAG: "datetime", "iso": value.isoformat()}
    if isinstance(value, dt.date):
        return {TAG: "date", "iso": value.isoformat()}
    if dataclasses.is_dataclass(value) and DATACLASSES.get(type(value).__name__) is type(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {TAG: "dataclass", "type": type(value).__name__, "fields": fields}
    if hasattr(value, "value"):          # enums (e.g. SampleKind) by value
        return _encode(value.value)
    raise TypeError(f"cannot store {type(value).__name__} values exactly")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    if tag == "ndarray":
        data = base64.b64decode(value["data"])
        return np.frombuffer(data, np.dtype(value["dtype"])).reshape(value["shape"]).copy()
    if tag == "scalar":
        return _decode(value["value"])[()]
    if tag == "tuple":
        return tuple(_decode(v) for v in value["items"])
    if tag == "dict":
        return {_hashable(_decode(k)): _decode(v) for k, v in value["items"]}
    if tag == "datetime":
        return dt.datetime.fromisoformat(value["iso"])
    if tag == "date":
        return dt.date.fromisoformat(value["iso"])
    if tag == "dataclass":
        cls = DATACLASSES[value["type"]]
        return cls(**{k: _decode(v) for k, v in value["fields"].items()})
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def dumps(value: Any) -> str:
    """JSON text that :func:`loads` turns back into an equal object (arrays bit-exact)."""
    return json.dumps(_encode(value), separators=(",", ":"), allow_nan=True)


def loads(text: str) -> Any:
    """Inverse of :func:`dumps`; ValueError (or KeyError/TypeError) for text it did not write."""
    return _decode(json.loads(text))
