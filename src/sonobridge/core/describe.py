"""Summaries of recordings as JSON-ready dicts (used by ``sonobridge info``)."""
from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import numpy as np

from .recording import Recording, Signal, Stream
from .units import Quantity


def jsonable(value: Any) -> Any:
    """Convert quantities, NumPy values, enums and datetimes to plain JSON types."""
    if isinstance(value, Quantity):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


#: SI unit -> [(lower bound, display unit, factor)], first match wins: how people read quantities
DISPLAY_UNITS: dict[str, list[tuple[float, str, float]]] = {
    "Hz": [(1e6, "MHz", 1e-6), (1e3, "kHz", 1e-3), (0.0, "Hz", 1.0)],
    "m": [(1.0, "m", 1.0), (0.0, "mm", 1e3)],
    "s": [(1.0, "s", 1.0), (0.0, "ms", 1e3)],
    "rad": [(0.0, "deg", 180 / np.pi)],
}


def human_quantity(value: float, unit: str) -> str:
    """``value`` in SI ``unit`` as people read it: frequencies in MHz/kHz/Hz, lengths in mm,
    times below a second in ms, angles in degrees (4 significant digits).

    Examples
    --------
    >>> human_quantity(1e7, "Hz"), human_quantity(18.0, "Hz"), human_quantity(0.015, "m")
    ('10 MHz', '18 Hz', '15 mm')
    >>> human_quantity(0.0025, "s"), human_quantity(0.2617994, "rad"), human_quantity(3.0, "B")
    ('2.5 ms', '15 deg', '3 B')
    """
    for lower, shown, factor in DISPLAY_UNITS.get(unit, []):
        if abs(value) >= lower:
            return f"{value * factor:.4g} {shown}"
    return f"{value:.4g} {unit}".rstrip()


def nominal_frame_rate_hz(stream: Stream) -> float | None:
    """The stream's frame rate: the mean of its frame times, else its stated ``frame_rate``
    parameter (e.g. 18 Hz from a Clarius yml for a one-frame capture); None when neither is known."""
    rate = stream.mean_frame_rate_hz
    if rate:
        return rate
    stated = stream.parameters.get("frame_rate")
    if isinstance(stated, Quantity) and stated.unit == "Hz" and stated.value > 0:
        return float(stated.value)
    return None


def describe_stream(stream: Stream) -> dict[str, Any]:
    times = stream.timestamps_s
    info: dict[str, Any] = {
        "kind": stream.kind.value,
        "has_frames": stream.has_frames,
        "n_frames": stream.n_frames,
        "frame_shape": list(stream.frame_shape),
        "dtype": stream.dtype.name,
        "nbytes": stream.n_frames * int(np.prod(stream.frame_shape)) * stream.dtype.itemsize,
        "time_range_s": [float(times[0]), float(times[-1])] if times is not None and times.size else None,
        "duration_s": stream.duration_s,
        "mean_frame_rate_hz": stream.mean_frame_rate_hz,
        "geometry": stream.geometry.describe(stream.frame_shape[1]) if stream.geometry else None,
        "parameters": stream.parameters,
        "source_files": list(stream.provenance.source_files) if stream.provenance else [],
    }
    if stream.declared_n_frames is not None and stream.declared_n_frames != stream.n_frames:
        info["declared_n_frames"] = stream.declared_n_frames
    tgc = stream.per_frame.get("tgc")
    if tgc is not None:
        info["tgc"] = {"source": tgc.source, "points_per_frame": int(tgc.depth_m.shape[1]),
                       "distinct_curves": len(np.unique(np.nan_to_num(np.hstack([tgc.depth_m, tgc.gain_db])),
                                                        axis=0))}
    return jsonable(info)


def describe_signal(signal: Signal) -> dict[str, Any]:
    return jsonable({"n_samples": signal.n_samples, "duration_s": signal.duration_s,
                     "channels": {name: list(values.shape) for name, values in signal.channels.items()},
                     "units": signal.units})


def describe(recording: Recording) -> dict[str, Any]:
    """Everything ``sonobridge info`` reports about a recording, JSON-ready."""
    provenance = recording.provenance
    return jsonable({
        "name": recording.name,
        "format": provenance.format if provenance else None,
        "start_time": recording.start_time,
        "provenance": provenance.to_json() if provenance else None,
        "streams": {name: describe_stream(s) for name, s in recording.streams.items()},
        "signals": {name: describe_signal(s) for name, s in recording.signals.items()},
    })
