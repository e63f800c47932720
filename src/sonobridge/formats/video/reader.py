"""Frame-accurate video reading: ``VideoReader(path)[i]`` is exactly frame ``i`` (display order).

Frames are located by the index (:mod:`.index`), never by assuming a constant frame rate. The
sidecar is trusted only for what the file cannot tell (the source's real frame times): on opening,
one demux pass (packets only, nothing decoded) gives the file's frame table, and a sidecar that is
missing, stale, unreadable or whose table disagrees with it (pts, keyframes, time base, frame size)
is replaced by that table, so a hand-edited or damaged sidecar can never select a wrong frame.

To read frame ``i`` the reader seeks to the last keyframe at or before it in display order and
decodes forward until the frame whose pts is frame ``i``'s; reading forward within a GOP continues
decoding without seeking. Open-GOP files (x265's default) put leading pictures before a keyframe in
display order but after it in decode order; a pts-based seek to such a frame lands on the keyframe
and the decoder drops the leading pictures, so when decoding overshoots the target the reader
starts again one keyframe earlier.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import READ_ERRORS, FormatError, MissingDependencyError
from .index import FrameIndex, build_index, load_index

log = logging.getLogger(__name__)


def require_av():
    try:
        import av
    except ImportError:
        raise MissingDependencyError(None, "video support needs PyAV: pip install 'sonobridge[video]'") from None
    return av


class VideoReader:
    """A video's frames as uint8 ``(height, width)`` grey images: ``len(reader)``, ``reader[i]``,
    ``reader[a:b]`` / ``reader[[i, j]]`` ``(n, height, width)``, ``fps``, ``time_s`` (seconds,
    per frame: the source's real times when our index recorded them)."""

    def __init__(self, path: str | os.PathLike):
        av = require_av()
        self.path = Path(path)
        try:
            self.index: FrameIndex = trusted_index(self.path)
            self._container = av.open(os.fspath(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, *READ_ERRORS) as error:
            raise FormatError(self.path, f"not a readable video ({type(error).__name__}: {error})") from None
        # seeks start at a keyframe; frame 0 is where decoding can always start
        self._keyframes = np.union1d([0], np.flatnonzero(self.index.keyframe)).astype(np.int64)
        self._decoded = None          # frame iterator of the current decoding run
        self._last = -1               # display index of the last frame that run returned
        if len(self.index) == 0:
            self._container.close()
            raise FormatError(self.path, "no video frames")

    def __len__(self) -> int:
        return len(self.index)

    @property
    def fps(self) -> float:
        return float(self.index.fps)

    @property
    def time_s(self) -> np.ndarray:
        return self.index.frame_times_s

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self), self.index.height, self.index.width

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self.frame(int(key))
        indices = np.arange(len(self))[key]
        out = np.empty((indices.size, self.index.height, self.index.width), np.uint8)
        for slot, index in enumerate(indices):
            out[slot] = self.frame(int(index))
        return out

    def __iter__(self):
        for index in range(len(self)):
            yield self.frame(index)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as uint8 ``(height, width)``."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        index %= n
        try:
            return self._locate(index)
        except (require_av().error.FFmpegError, *READ_ERRORS) as error:
            self._last = -1
            raise FormatError(self.path, f"frame {index} could not be decoded ({type(error).__name__}: "
                                         f"{error})") from None

    def _locate(self, index: int) -> np.ndarray:
        position = int(np.searchsorted(self._keyframes, index, side="right")) - 1
        keyframe = int(self._keyframes[max(position, 0)])
        if not keyframe <= self._last < index:
            self._seek(keyframe)
        found = self._decode_to(index)
        while found is None and position > 0:       # leading pictures dropped: one keyframe earlier
            position -= 1
            self._seek(int(self._keyframes[position]))
            found = self._decode_to(index)
        if found is None:
            raise FormatError(self.path, f"frame {index} (pts {self.index.pts[index]}) could not be decoded")
        return found

    def _seek(self, keyframe: int) -> None:
        self._container.seek(int(self.index.pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        self._decoded = self._container.decode(self._stream)
        self._last = -1

    def _decode_to(self, index: int) -> np.ndarray | None:
        """Decode forward to frame ``index``; None if the run passes it (the target was dropped)."""
        target = int(self.index.pts[index])
        for frame in self._decoded:
            if frame.pts is None or frame.pts < target:
                continue
            self._last = int(np.searchsorted(self.index.pts, frame.pts))
            if frame.pts != target:
                return None
            if (frame.height, frame.width) != (self.index.height, self.index.width):
                raise FormatError(self.path, f"frame {index} decodes to {frame.width} x {frame.height} pixels, "
                                             f"the stream declares {self.index.width} x {self.index.height}")
            return frame.to_ndarray(format="gray")
        return None


def trusted_index(path: Path) -> FrameIndex:
    """The index of the video at ``path``: its sidecar when that agrees with the file's packets
    (one demux pass, see :func:`agrees`), else the table of that pass (the sidecar's source times
    are then dropped: nothing ties them to the file's frames)."""
    fresh = build_index(path)
    try:
        stored = load_index(path)
    except READ_ERRORS:             # a hand-edited sidecar whose fields do not even parse
        stored = None
    if stored is None:
        return fresh
    if agrees(stored, fresh):
        return stored
    log.warning("%s: the frame index sidecar disagrees with the video's packets; using the packets", path)
    return fresh


def agrees(stored: FrameIndex, fresh: FrameIndex) -> bool:
    """Whether ``stored`` describes the frames ``fresh`` (a demux pass) found: same pts in display
    order, keyframes, time base and frame size, a positive rate, and per-frame fields (durations,
    finite source times in seconds) of the same length."""
    n = len(fresh)
    try:
        return bool(stored.pts.shape == (n,) and np.array_equal(stored.pts, fresh.pts)
                    and np.array_equal(stored.keyframe, fresh.keyframe) and stored.durations.shape == (n,)
                    and stored.time_base == fresh.time_base and stored.fps > 0
                    and (int(stored.width), int(stored.height)) == (fresh.width, fresh.height)
                    and (stored.time_s is None or _finite_times(stored.time_s, n)))
    except READ_ERRORS:
        return False


def _finite_times(times: Any, n: int) -> bool:
    values = np.asarray(times, np.float64)
    return values.shape == (n,) and bool(np.all(np.isfinite(values)))
