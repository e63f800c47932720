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
