"""Frame-accurate video reading: ``VideoReader(path)[i]`` is exactly frame ``i`` (display order).

Frames are located by the index (:mod:`.index`), never by assuming a constant frame rate. Opening
reads no frame data: the sidecar index is used when its key matches the file and it is consistent
with itself and the container header (:func:`consistent`); else (missing, stale, unreadable or
inconsistent) one demux pass (packets only, nothing decoded) builds the table.

To read frame ``i`` the reader seeks to the last keyframe at or before it in display order and
decodes forward until the frame whose pts is frame ``i``'s; reading forward within a GOP continues
decoding without seeking. Open-GOP files (x265's default) put leading pictures before a keyframe in
display order but after it in decode order; a pts-based seek to such a frame lands on the keyframe
and the decoder drops the leading pictures, so when decoding overshoots the target the reader
starts again one keyframe earlier.

Every decoded frame is checked against the index while decoding: from the first keyframe the
decoder gives after a seek, frames must follow the index one by one (each pts at the next position,
decoder keyframes where the index has keyframes). A sidecar that lies in a self-consistent way is
caught there: the index is then rebuilt by the demux pass and the read retried once, so a
hand-edited or damaged sidecar can never select a wrong frame.

Every frame a decoding run confirms is kept in a small least-recently-used cache bounded in bytes
(``cache_mb``, default 256 MB: one GOP of x265's default keyint 250 at 600 x 500 is 75 MB), so
backward and nearby reads on long-GOP files (each would otherwise decode again from a keyframe)
cost a copy. Our own videos have a keyframe every 2 frames by default (:mod:`.writer`): at most 2
decodes per random frame, and a run of 2 frames still lets an unconfirmed sidecar be checked.
``decoded_frames`` counts the frames the decoder has produced.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
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
    per frame: the source's real times when our index recorded them).

    ``cache_mb``: bound of the decoded-frame cache in MiB (0 disables it); ``decoded_frames``: how
    many frames the decoder has produced so far (a cost counter)."""

    def __init__(self, path: str | os.PathLike, *, cache_mb: float = 256.0):
        av = require_av()
        self.path = Path(path)
        if not cache_mb >= 0:
            raise ValueError(f"cache_mb must be >= 0, not {cache_mb}")
        self.cache_limit_bytes = int(cache_mb * 2**20)
        self.decoded_frames = 0
        try:
            self._container = av.open(os.fspath(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, *READ_ERRORS) as error:
            raise FormatError(self.path, f"not a readable video ({type(error).__name__}: {error})") from None
        try:
            stored = _stored_index(self.path)
            # a sidecar not yet confirmed by decoding: checked frame by frame (see the module docs)
            self._verify = stored is not None and consistent(stored, self._stream, self.path)
            if stored is not None and not self._verify:
                log.warning("%s: the frame index sidecar is inconsistent with the video; rebuilt", self.path)
            self._use(stored if self._verify else build_index(self.path))
        except (av.error.FFmpegError, *READ_ERRORS) as error:
            self._container.close()
            raise FormatError(self.path, f"not a readable video ({type(error).__name__}: {error})") from None
        if len(self.index) == 0:
            self._container.close()
            raise FormatError(self.path, "no video frames")

    def _use(self, index: FrameIndex) -> None:
        """Locate frames with ``index`` from now on (decoding restarts at the next read)."""
        self.index = index
        # seeks start at a keyframe; frame 0 is where decoding can always start
        self._keyframes = np.union1d([0], np.flatnonzero(self.index.keyframe)).astype(np.int64)
        self._decoded = None          # frame iterator of the current decoding run
        self._start = 0               # display index of the keyframe the run was sought to
        self._last = -1               # display index of the last frame that run returned (-1: none yet)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()   # display index -> frame, LRU first
        self.cache_bytes = 0

    def _remember(self, position: int, image: np.ndarray) -> None:
        """Keep a confirmed frame, dropping the least recently used ones beyond the byte bound."""
        if image.nbytes > self.cache_limit_bytes or position in self._cache:
            return
        self._cache[position] = image
        self.cache_bytes += image.nbytes
        while self.cache_bytes > self.cache_limit_bytes:
            self.cache_bytes -= self._cache.popitem(last=False)[1].nbytes

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
            try:
                return self._locate(index)
            except _IndexMismatch as mismatch:
                if not self._verify:
                    raise
                log.warning("%s: the frame index sidecar disagrees with the decoded frames (%s); rebuilt from "
                            "the video's packets", self.path, mismatch)
                self._verify = False
                self._use(build_index(self.path))
                if index >= len(self):
                    raise FormatError(self.path, f"frame {index} is not in the video ({len(self)} frames)") from None
                return self._locate(index)
        except _IndexMismatch as mismatch:
            self._last = -1
            raise FormatError(self.path, f"frame {index} could not be decoded ({mismatch})") from None
        except (require_av().error.FFmpegError, *READ_ERRORS) as error:
            self._last = -1
            raise FormatError(self.path, f"frame {index} could not be decoded ({type(error).__name__}: "
                                         f"{error})") from None

    def _locate(self, index: int) -> np.ndarray:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached.copy()
        position = int(np.searchsorted(self._keyframes, index, side="right")) - 1
        keyframe = int(self._keyframes[max(position, 0)])
        if self._decoded is None or not keyframe <= self._last < index:
            self._seek(keyframe)
        found = self._decode_to(index)
        while found is None and position > 0:       # leading pictures dropped: one keyframe earlier
            position -= 1
            self._seek(int(self._keyframes[position]))
            found = self._decode_to(index)
        if found is None:
            raise _IndexMismatch(f"no decoded frame matches frame {index} (pts {self.index.pts[index]})")
        return found

    def _seek(self, keyframe: int) -> None:
        self._container.seek(int(self.index.pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        self._decoded = self._container.decode(self._stream)
        self._start, self._last = keyframe, -1

    def _decode_to(self, index: int) -> np.ndarray | None:
        """Decode forward to frame ``index``; None if the run passes it or skips a frame (the target
        was dropped). Raises _IndexMismatch when an unconfirmed sidecar does not describe a frame."""
        pts, keyframes = self.index.pts, self.index.keyframe
        for frame in self._decoded:
            self.decoded_frames += 1
            position = None if frame.pts is None else int(np.searchsorted(pts, frame.pts))
            if position is None or position == pts.size or pts[position] != frame.pts:
                if self._verify:
                    raise _IndexMismatch(f"a decoded frame's pts {frame.pts} is not in the index")
                continue                                    # not a frame of the table: never returned
            key = bool(getattr(frame, "key_frame", False))
            if self._verify and key and not keyframes[position]:
                raise _IndexMismatch(f"frame {position} decodes as a keyframe, the index says it is not")
            if self._last < 0:
                if not (key and self._verify) and position < self._start:
                    continue                                # leading pictures of the keyframe sought
            elif position != self._last + 1:
                return None                                 # a frame missing from the run
            self._last = position
            if (frame.height, frame.width) != (self.index.height, self.index.width):
                raise FormatError(self.path, f"frame {position} decodes to {frame.width} x {frame.height} "
                                             f"pixels, the stream declares {self.index.width} x "
                                             f"{self.index.height}")
            if position > index:
                self._remember(position, frame.to_ndarray(format="gray"))
                return None
            image = frame.to_ndarray(format="gray")
            self._remember(position, image)
            if position == index:
                return image.copy() if position in self._cache else image
        return None


class _IndexMismatch(Exception):
    """The frames being decoded are not the ones the index describes."""


def _stored_index(path: Path) -> FrameIndex | None:
    """Our sidecar index of ``path`` when present, keyed on the file as it is and parseable."""
    try:
        return load_index(path)
    except READ_ERRORS:             # a hand-edited sidecar whose fields do not even parse
        return None


def consistent(index: FrameIndex, stream: Any, path: Path) -> bool:
    """Whether a sidecar ``index`` can be used without a demux pass: pts strictly increasing
    (display order), frame 0 a keyframe, per-frame fields (keyframes, durations, finite source
    times in seconds) one per frame, a positive rate, and the container header's time base,
    frame size and frame count (when it declares one; else no more frames than bytes)."""
    try:
        n, declared = len(index), int(stream.frames or 0)
        context = stream.codec_context
        return bool(index.pts.ndim == 1 and n > 0 and np.all(np.diff(index.pts) > 0)
                    and index.keyframe.shape == (n,) and index.keyframe[0] and index.durations.shape == (n,)
                    and index.fps > 0 and index.time_base > 0 and index.time_base == stream.time_base
                    and (int(index.width), int(index.height)) == (context.width, context.height)
                    and (n == declared if declared > 0 else n <= os.path.getsize(path))
                    and (index.time_s is None or _finite_times(index.time_s, n)))
    except READ_ERRORS:
        return False


def _finite_times(times: Any, n: int) -> bool:
    values = np.asarray(times, np.float64)
    return values.shape == (n,) and bool(np.all(np.isfinite(values)))
