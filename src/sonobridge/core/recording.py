"""The recording: one acquisition, its imaging streams and its auxiliary signals.

* :class:`Stream`: frames ``(n_frames, *frame_shape)`` (lazy), per-frame clock, sample kind,
  geometry, parameters with units, vendor metadata and provenance. A stream may be timing-only
  (``frames is None``) when only its metadata survived.
* :class:`Signal`: a sampled non-image time series (IMU, ECG, probe pose) with named channels.
* :class:`Recording`: the streams and signals of one acquisition on a common time origin.

Time: each stream keeps its clock as stored (``clock``, e.g. uint64 nanoseconds of the probe clock)
and ``clock_unit_s`` (seconds per tick); ``timestamps_s`` are float64 seconds from the
recording's time origin, shared by all its streams and signals.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from .._version import __version__
from .ensemble import EnsembleOrder
from .frames import FrameArray, LazyFrames
from .geometry import Geometry

#: Parameter key naming the stored data product of an image stream (set by the zea reader, under
#: zea's product names): frames of such a stream are already depth-first ``(z, x)`` images.
PRODUCT_PARAMETER = "zea_product"


class SampleKind(str, Enum):
    """What a stream's samples are."""

    ENVELOPE = "envelope"   #: log-compressed detected lines, uint8 (Clarius "B pre-scan")
    RF = "rf"               #: beamformed radio-frequency lines, int16 or float
    IQ = "iq"               #: complex baseband lines as (I, Q) pairs on the last axis
    AMPLITUDE = "amplitude"  #: detected linear amplitude (envelope before log compression), float32
    PW_IQ = "pw_iq"         #: pulsed-wave Doppler IQ
    BMODE = "bmode"         #: scan-converted grey image, uint8
    IMAGE = "image"         #: display image (grey or RGB), e.g. DICOM or video frames


@dataclass(frozen=True)
class Provenance:
    """Where data came from and what read it."""

    source_files: tuple[str, ...]
    format: str
    format_version: str | None = None
    software_version: str | None = None
    reader: str = f"sonobridge {__version__}"
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


class _TimeBase:
    """Shared clock handling of streams and signals: raw clock, unit and time origin."""

    clock_unit_s: float
    time_origin: int | float | None

    def __init__(self, clock: np.ndarray | Callable[[], np.ndarray] | None):
        self._clock = clock

    @property
    def clock(self) -> np.ndarray | None:
        """Per-sample clock values as stored (e.g. uint64 ns); loaded on first use."""
        if callable(self._clock):
            self._clock = self._clock()
        return self._clock

    @property
    def timestamps_s(self) -> np.ndarray | None:
        """float64 seconds from the recording's time origin (first value if none is set)."""
        clock = self.clock
        if clock is None or clock.size == 0:
            return clock if clock is None else np.zeros(0)
        origin = clock[0] if self.time_origin is None else self.time_origin
        # subtract in integer arithmetic first to keep nanosecond precision on large clocks
        if clock.dtype.kind in "ui":
            return (clock.astype(np.int64) - np.int64(origin)).astype(np.float64) * self.clock_unit_s
        return (clock.astype(np.float64) - float(origin)) * self.clock_unit_s

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample in seconds (0 for fewer than two)."""
        clock = self.clock
        if clock is None or clock.size < 2:
            return 0.0
        if clock.dtype.kind in "ui":     # integer ticks: subtract exactly before scaling
            return float(np.int64(clock[-1]) - np.int64(clock[0])) * self.clock_unit_s
        return float(clock[-1] - clock[0]) * self.clock_unit_s


@dataclass(eq=False)
class Stream(_TimeBase):
    """One imaging stream: frames ``(n_frames, *frame_shape)``, e.g. ``(n_frames, n_lines,
    n_samples)`` for pre-scan data, ``(n_frames, n_lines, n_samples, 2)`` for IQ, ``(n_frames,
    n_z, n_x)`` for images."""

    name: str
    kind: SampleKind
    frame_shape: tuple[int, ...]
    dtype: np.dtype
    frames: FrameArray | None = None
    clock_source: np.ndarray | Callable[[], np.ndarray] | None = None
    clock_unit_s: float = 1e-9
    geometry: Geometry | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    per_frame: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None
    time_origin: int | float | None = None
    declared_n_frames: int | None = None
    #: layout of colour-flow ensembles in the frames (set by the reader; None: not an ensemble stream)
    ensemble_order: EnsembleOrder | None = None

    def __post_init__(self) -> None:
        _TimeBase.__init__(self, self.clock_source)
        self.dtype = np.dtype(self.dtype)
        if self.ensemble_order is not None:
            self.ensemble_order = EnsembleOrder(self.ensemble_order)

    @property
    def has_frames(self) -> bool:
        return self.frames is not None

    @property
    def n_frames(self) -> int:
        """Frames available (from the data; from the clock or declaration if timing-only)."""
        if self.frames is not None:
            return len(self.frames)
        clock = self.clock
        if clock is not None:
            return int(clock.size)
        return int(self.declared_n_frames or 0)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n_frames, *self.frame_shape)

    @property
    def mean_frame_rate_hz(self) -> float | None:
        duration = self.duration_s
        return (self.n_frames - 1) / duration if duration > 0 else None

    @property
    def label(self) -> str:
        """``"<first source file> [<stream name>]"`` for messages (the name alone if no source)."""
        sources = self.provenance.source_files if self.provenance else ()
        return f"{sources[0]} [{self.name}]" if sources else self.name

    def require_frames(self) -> FrameArray:
        """The frames; ValueError for a timing-only stream (its data did not survive)."""
        if self.frames is None:
            raise ValueError(f"stream {self.name!r} is timing-only (no frame data)")
        return self.frames

    def derive(self, name: str, kind: SampleKind, frame_shape: tuple[int, ...], dtype: Any,
               read_range: Callable[[int, int], np.ndarray], step: str, **changes: Any) -> Stream:
        """A lazy stream computed from this one: frames ``read_range(start, stop)``, the same
        clock, time origin and per-frame metadata; ``step`` (e.g. ``"scan conversion: ..."``) is
        appended to the provenance notes. ``changes`` replace other fields (geometry, parameters)."""
        self.require_frames()
        provenance = self.provenance or Provenance(source_files=(), format="derived")
        fields: dict[str, Any] = dict(
            clock_source=lambda: self.clock, clock_unit_s=self.clock_unit_s, geometry=self.geometry,
            parameters=dict(self.parameters), metadata=self.metadata, per_frame=self.per_frame,
            time_origin=self.time_origin, ensemble_order=self.ensemble_order,
            provenance=replace(provenance, notes=(*provenance.notes, step)))
        fields.update(changes)
        return Stream(name=name, kind=kind, frame_shape=tuple(frame_shape), dtype=np.dtype(dtype),
                      frames=LazyFrames((self.n_frames, *frame_shape), dtype, read_range), **fields)

    def to_complex(self, index: Any = slice(None)) -> np.ndarray:
        """IQ frames ``frames[index]`` as complex64 ``(..., n_lines, n_samples)``."""
        if self.kind not in (SampleKind.IQ, SampleKind.PW_IQ) or self.frames is None:
            raise ValueError(f"stream {self.name!r} holds no IQ frames")
        pairs = np.asarray(self.frames[index])
        out = np.empty(pairs.shape[:-1], np.complex64)
        out.real, out.imag = pairs[..., 0], pairs[..., 1]
        return out


@dataclass(eq=False)
class Signal(_TimeBase):
    """A sampled time series: ``channels[name]`` arrays ``(n_samples, ...)`` with ``units``."""

    name: str
    channels: dict[str, np.ndarray]
    clock_source: np.ndarray | None = None
    clock_unit_s: float = 1e-9
    units: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None
    time_origin: int | float | None = None

    def __post_init__(self) -> None:
        _TimeBase.__init__(self, self.clock_source)

    @property
    def n_samples(self) -> int:
        clock = self.clock
        return int(clock.size) if clock is not None else len(next(iter(self.channels.values()), ()))


@dataclass(eq=False)
class Recording:
    """One acquisition: named imaging ``streams`` and auxiliary ``signals`` on one time base.

    ``start_time`` is the wall-clock start when the source records it (timezone-aware).
    """

    name: str
    streams: dict[str, Stream]
    signals: dict[str, Signal] = field(default_factory=dict)
    start_time: dt.datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    def __getitem__(self, name: str) -> Stream:
        return self.streams[name]

    def __iter__(self):
        return iter(self.streams.values())

    def align_clocks(self) -> None:
        """Set every stream's and signal's time origin to the earliest clock value among them.

        Only valid when they share one clock (same unit and epoch), as a Clarius capture does.
        """
        firsts = [item.clock[0] for item in self._timed() if item.clock is not None and item.clock.size]
        origin = min(firsts) if firsts else None
        for item in self._timed():
            item.time_origin = origin

    def _timed(self) -> list[_TimeBase]:
        return [*self.streams.values(), *self.signals.values()]

