"""Clarius raw data, with the names users of the Clarius reference readers know.

Example (needs a recording of your own)::

    capture = sonobridge.clarius.read("2019-11-18T23-25-15+0000_raw.tar")
    capture.rf.data.shape        # (n_frames, n_lines, n_samples), int16, lazy
    capture.iq.complex()         # complex64 (n_frames, n_lines, n_samples)
    hdr, ts, rf = sonobridge.clarius.read_rf("carotid_rf.raw")  # reference layout (lines, samples, frames)

This module is a thin face over :mod:`sonobridge.formats.clarius` and the core model; the full
:class:`~sonobridge.core.recording.Recording` is ``capture.recording``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core.frames import FrameArray
from .core.recording import Recording, SampleKind, Signal, Stream
from .errors import MetadataMismatchError
from .formats import open_recording
from .formats.clarius.probes import find_probe, known_probes

__all__ = ["ClariusCapture", "ClariusStream", "read", "read_env", "read_iq", "read_rf",
           "find_probe", "known_probes"]


@dataclass(frozen=True)
class ClariusStream:
    """One stream: ``data`` ``(n_frames, n_lines, n_samples)`` (IQ: ``(..., 2)`` int16 I/Q),
    ``timestamps_ns`` (uint64 probe clock), ``meta`` (the yml, all keys) and the core ``stream``."""

    data: FrameArray | np.ndarray | None
    timestamps_ns: np.ndarray | None
    meta: dict[str, Any]
    stream: Stream | Signal

    def complex(self, index: Any = slice(None)) -> np.ndarray:
        """IQ frames as complex64 ``(n_frames, n_lines, n_samples)``."""
        return self.stream.to_complex(index)


class ClariusCapture:
    """A Clarius capture: ``env``, ``iq``, ``rf``, ``pw_iq`` and ``imu`` (None when absent)."""

    def __init__(self, recording: Recording):
        self.recording = recording
        for name in ("env", "iq", "rf", "pw_iq"):
            stream = recording.streams.get(name)
            setattr(self, name, None if stream is None else
                    ClariusStream(stream.frames, stream.clock, stream.metadata, stream))
        imu = recording.signals.get("imu")
        self.imu = None if imu is None else ClariusStream(imu.channels, imu.clock, imu.metadata, imu)

    def __repr__(self) -> str:
        present = [n for n in ("env", "iq", "rf", "pw_iq", "imu") if getattr(self, n) is not None]
        return f"ClariusCapture({self.recording.name!r}, streams={present})"


def read(path: str | os.PathLike, **options: Any) -> ClariusCapture:
    """Read a capture (folder, ``.tar`` package, or one ``.raw`` / ``.raw.lzo``).

    Options: ``probe`` (e.g. ``"L7"``), ``sound_speed_m_s``, ``allow_truncated``, ``require_yml``.
    """
    return ClariusCapture(open_recording(path, **options))


def _read_reference(path: str | os.PathLike, kind: SampleKind, **options: Any):
    options.setdefault("require_yml", False)
    recording = open_recording(path, **options)
    stream = next((s for s in recording.streams.values() if s.has_frames), None)
    if stream is None or stream.kind != kind:
        found = stream.kind.value if stream else "no frames"
        raise MetadataMismatchError(path, f"holds {found} data, not {kind.value}")
    frames = np.asarray(stream.frames)
    if kind is SampleKind.IQ:  # the reference layout interleaves I and Q along samples
        frames = frames.reshape(*frames.shape[:2], -1)
    return stream.parameters["raw_header"], stream.clock.astype(np.int64), frames.transpose(1, 2, 0)


def read_rf(path: str | os.PathLike, **options: Any) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """``(header, timestamps, data)`` like the reference reader: data ``(lines, samples, frames)``
    int16 (a view, not a copy, for plain ``.raw`` files). Refuses a file whose header is not RF."""
    return _read_reference(path, SampleKind.RF, **options)


def read_iq(path: str | os.PathLike, **options: Any) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """``(header, timestamps, data)``: data ``(lines, 2 * samples, frames)`` int16, I and Q
    interleaved along the second axis as in the reference reader."""
    return _read_reference(path, SampleKind.IQ, **options)


def read_env(path: str | os.PathLike, **options: Any) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """``(header, timestamps, data)``: data ``(lines, samples, frames)`` uint8."""
    return _read_reference(path, SampleKind.ENVELOPE, **options)
