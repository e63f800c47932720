"""Frame index sidecars of a video: ours (``<video>.index.json``) and datanavigator's
(``<video>.dnav-toc``, read by datanavigator and DUSTrack).

Both are keyed on the video file: size, mtime and SHA-256 of its first and last 64 KiB (cheap, and
what datanavigator checks). A sidecar whose key differs from the file's is stale and ignored.

Our index: per-frame presentation time stamps (``pts``, stream time base), keyframe flags, the
stream time base, frame size and rate, and the source's real per-frame times in seconds (the video
is constant-rate; the recording's clock is not).

``.dnav-toc`` (schema 2, JSON): ``key``; ``toc.lengths`` / ``toc.ts``: per decoded packet the number
of frames it decodes to and the first one's pts; ``time_base``; ``timestamps.frame_pts`` /
``frame_durations``. Our encodes use no B-frames, so every packet decodes to exactly one frame and
the table is known at encode time, without decoding.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...util.atomic import write_bytes_atomic
from ...util.filekey import PROBE_BYTES, file_key  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

INDEX_SUFFIX = ".index.json"
DNAV_SUFFIX = ".dnav-toc"
INDEX_FORMAT = "sonobridge-video-index/1"


@dataclass
class FrameIndex:
    """Where every frame of a video is: ``pts`` ``(n_frames,)`` int64 in ``time_base`` seconds
    per tick, in display order; ``keyframe`` ``(n_frames,)`` bool; ``durations`` in ticks;
    ``time_s`` the real per-frame times (the source clock, or pts times when unknown)."""

    pts: np.ndarray
    keyframe: np.ndarray
    durations: np.ndarray
    time_base: Fraction
    width: int
    height: int
    fps: Fraction
    time_s: np.ndarray | None = None
    key: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.pts.size)

    @property
    def frame_times_s(self) -> np.ndarray:
        """Per-frame time in seconds: the source's real times when recorded, else pts times."""
        return self.time_s if self.time_s is not None else self.pts * float(self.time_base)

    def to_json(self) -> dict[str, Any]:
        return {"format": INDEX_FORMAT, "key": self.key, "width": self.width, "height": self.height,
                "fps": [self.fps.numerator, self.fps.denominator],
                "time_base": [self.time_base.numerator, self.time_base.denominator],
                "pts": self.pts.tolist(), "durations": self.durations.tolist(),
                "keyframes": np.flatnonzero(self.keyframe).tolist(),
                "time_s": None if self.time_s is None else self.time_s.tolist(), "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameIndex:
        pts = np.asarray(data["pts"], np.int64)
        keyframe = np.zeros(pts.size, bool)
        keyframe[np.asarray(data["keyframes"], np.int64)] = True
        return cls(pts=pts, keyframe=keyframe, durations=np.asarray(data["durations"], np.int64),
                   time_base=Fraction(*data["time_base"]), width=int(data["width"]), height=int(data["height"]),
                   fps=Fraction(*data["fps"]), time_s=None if data["time_s"] is None else np.asarray(data["time_s"]),
                   key=data["key"], source=data.get("source", {}))

    def dnav_toc(self) -> dict[str, Any]:
        """datanavigator's schema-2 sidecar content, valid when every packet decodes to one frame
        in display order (no B-frames: what our encoder writes)."""
        pts = [int(p) for p in self.pts]
        return {"key": self.key, "schema_version": 2, "toc": {"lengths": [1] * len(pts), "ts": pts},
                "time_base": {"num": self.time_base.numerator, "den": self.time_base.denominator},
                "timestamps": {"frame_pts": pts, "frame_durations": [int(d) for d in self.durations]}}


def index_path(video: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(video)}{INDEX_SUFFIX}")


def dnav_path(video: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(video)}{DNAV_SUFFIX}")


def write_sidecars(video: str | os.PathLike, index: FrameIndex, dnav: bool = True) -> None:
    """Write our index (and the ``.dnav-toc``) beside ``video``, keyed on its current state."""
    index.key = file_key(video)
    write_bytes_atomic(index_path(video), json.dumps(index.to_json(), separators=(",", ":")).encode())
    if dnav:
        _write_dnav(video, index)


def _write_dnav(video: str | os.PathLike, index: FrameIndex) -> None:
    write_bytes_atomic(dnav_path(video), (json.dumps(index.dnav_toc(), indent=2, sort_keys=True) + "\n").encode())


def load_index(video: str | os.PathLike) -> FrameIndex | None:
    """Our index of ``video`` if present, readable and not stale; else None."""
    try:
        data = json.loads(index_path(video).read_text())
        if data.get("format") != INDEX_FORMAT or data.get("key") != file_key(video):
            return None
        return FrameIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dnav_current(video: str | os.PathLike, index: FrameIndex) -> bool:
    """Whether the ``.dnav-toc`` beside ``video`` is exactly what ``index`` (which matches the
    video) gives: same key, same table. A missing, unreadable or stale one is not."""
    try:
        return json.loads(dnav_path(video).read_text()) == index.dnav_toc()
    except (OSError, ValueError):
        return False


def complete_index(video: str | os.PathLike, source_digest: str | None = None,
                   dnav: bool = True) -> FrameIndex | None:
    """The index of ``video`` when the video is complete, else None: the video exists, our
    index matches it (:func:`load_index`) and, when ``source_digest`` is given, records that it
    was built from the source with this digest (``source["source_digest"]``). With ``dnav``,
    every sidecar is part of "complete": a missing or stale ``.dnav-toc`` (its key not the
    video's) is rewritten from the index, never trusted.

    Not a pure check: this is also a repair. The done-checks of re-runs
    (:func:`sonobridge.pipeline.stages.stage_done`, ``export_video(skip_existing=True)``) call
    it on their fast path, so a re-run that finds the video and its index intact writes a
    missing or stale ``.dnav-toc`` (atomically, from the index, without decoding the video)."""
    if not os.path.isfile(video):
        return None
    index = load_index(video)
    if index is None or (source_digest is not None and index.source.get("source_digest") != source_digest):
        return None
    if dnav and not dnav_current(video, index):
        log.info("%s: stale or missing %s rewritten from the index", video, DNAV_SUFFIX)
        _write_dnav(video, index)
    return index


def build_index(video: str | os.PathLike) -> FrameIndex:
    """Index ``video`` by one demux pass (packet pts and keyframe flags; nothing is decoded)."""
    import av

    with av.open(os.fspath(video)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, bool(p.is_keyframe), p.duration or 0) for p in container.demux(stream)
                   if p.size and p.pts is not None]
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        width, height, time_base = stream.codec_context.width, stream.codec_context.height, stream.time_base
    packets.sort()
    pts = np.asarray([p[0] for p in packets], np.int64)
    durations = np.asarray([p[2] for p in packets], np.int64)
    return FrameIndex(pts=pts, keyframe=np.asarray([p[1] for p in packets], bool), durations=durations,
                      time_base=Fraction(time_base), width=width, height=height, fps=Fraction(rate),
                      key=file_key(video))
