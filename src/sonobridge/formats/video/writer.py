"""Streams of the core model -> lossless monochrome HEVC ``.mp4`` with a frame index.

Encoder: libx265 through PyAV (its wheels carry it), ``pix_fmt gray``, ``lossless=1`` (or a
``crf`` for lossy output), preset ultrafast, constant frame rate at the stream's mean rate (real
per-frame times go to the index). GOP: closed (``open-gop=0``), a keyframe every ``keyint`` frames
(default 2) and no B-frames, so that

* a random frame costs at most ``keyint`` decoded frames: 2 by default. Measured on 150 frames of
  600 x 500 (benchmarks/RESULTS.md, "Random frame access"): keyint 2 costs 21 ms per random frame
  and +1.3% size vs keyint 30 (124 ms). keyint 1 (11 ms, +3.6%) would decode each frame alone, so
  the reader could no longer check an unconfirmed sidecar index while decoding (a lie shifting pts
  by one frame is caught only when a run spans two frames, see :mod:`.reader`); x265's default of
  250 costs ~9x more per seek than keyint 30 for ~2% smaller files
  (../shared/notes/telemed-and-video.md);
* every packet decodes to exactly one frame in display order: the frame index and datanavigator's
  ``.dnav-toc`` are written from the encoder's own packets, with no second pass over the video
  (``benchmarks/bench_video.py`` measures the size cost of each choice).

Outputs are written under a temporary name and renamed when complete, then the sidecars are
written; a video counts as done only when its index matches it, so an interrupted run is redone.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ...core.recording import Recording, SampleKind, Stream
from ...errors import SonobridgeError
from .index import FrameIndex, complete_index, write_sidecars
from ...processing.display import (DEFAULT_DB_RANGE, db_range, db_to_uint8, display_amplitude, display_db,  # noqa: F401
                                  display_stream)
from ...util.atomic import atomic_path
from ...util.naming import safe_name

log = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(30)
CHUNK_FRAMES = 16


class Cancelled(SonobridgeError):
    """``cancel_check()`` asked to stop; the unfinished output was removed."""


@dataclass(frozen=True)
class EncoderSettings:
    """libx265 settings: ``crf`` None = lossless; ``keyint`` frames between keyframes."""

    crf: float | None = None
    keyint: int = 2
    preset: str = "ultrafast"

    def x265_params(self) -> str:
        quality = "lossless=1" if self.crf is None else f"crf={self.crf:g}"
        return f"{quality}:keyint={self.keyint}:open-gop=0:bframes=0:log-level=error"


@dataclass(frozen=True)
class VideoOptions:
    """How :func:`write_video` encodes one display stream (see there for each field).

    ``crop``: ``(top, bottom, left, right)`` pixels or None; ``flip``: mirror left/right; ``fps``:
    override of the stream's mean frame rate; ``settings``: the encoder's; ``progress``: a
    progress bar; ``cancel_check()``: polled per frame; ``dnav_toc``: write datanavigator's
    ``.dnav-toc``; ``source_digest``: recorded in the index (an existing video is kept only when
    its index records the same); ``anonymise``: the index names the stream only.
    """

    crop: tuple[int, int, int, int] | None = None
    flip: bool = False
    fps: float | Fraction | None = None
    settings: EncoderSettings = EncoderSettings()
    progress: bool = False
    cancel_check: Callable[[], bool] | None = None
    dnav_toc: bool = True
    source_digest: str | None = None
    anonymise: bool = False

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :func:`write_video` (shallow: settings stay objects)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


def encode_frames(frames: Iterable[np.ndarray], path: str | os.PathLike, width: int, height: int,
                  fps: Fraction, settings: EncoderSettings = EncoderSettings(),
                  cancel_check: Callable[[], bool] | None = None) -> FrameIndex:
    """Encode uint8 ``(height, width)`` frames to an mp4 at ``path`` (written in place: callers
    use a temporary name); returns the frame index taken from the muxed packets."""
    from .reader import require_av

    av = require_av()
    pts, keyframe, durations = [], [], []

    def mux(packets) -> None:
        for packet in packets:
            container.mux(packet)
            pts.append(int(packet.pts))
            keyframe.append(bool(packet.is_keyframe))
            durations.append(int(packet.duration or 0))

    try:
        with av.open(os.fspath(path), "w", format="mp4") as container:
            stream = container.add_stream("libx265", rate=fps, options={"preset": settings.preset,
                                                                          "x265-params": settings.x265_params()})
            stream.width, stream.height, stream.pix_fmt = width, height, "gray"
            for number, frame in enumerate(frames):
                if cancel_check is not None and cancel_check():
                    raise Cancelled(path, "cancelled")
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, np.uint8), format="gray")
                video_frame.pts = number
                mux(stream.encode(video_frame))
            mux(stream.encode(None))
            time_base = Fraction(stream.time_base)
    except av.error.FFmpegError as error:               # e.g. x265 refuses frames narrower than 8 px
        raise SonobridgeError(path, f"the encoder refused {width} x {height} frames ({error})") from None
    order = np.argsort(pts, kind="stable")
    step = round(1 / (fps * time_base))
    return FrameIndex(pts=np.asarray(pts, np.int64)[order], keyframe=np.asarray(keyframe, bool)[order],
                      durations=np.where(np.asarray(durations, np.int64) > 0, durations, step)[order],
                      time_base=time_base, width=width, height=height, fps=fps)


# ---------------------------------------------------------------- streams to videos
def stream_fps(stream: Stream) -> Fraction:
    """The stream's frame rate as a Fraction: its mean rate, else its stated rate (a one-frame
    capture's yml), else 30 fps."""
    from ...core.describe import nominal_frame_rate_hz

    rate = nominal_frame_rate_hz(stream)
    return Fraction(rate).limit_denominator(1001 * 1000) if rate else DEFAULT_FPS


def _frames(stream: Stream, crop: tuple[int, int, int, int] | None, flip: bool) -> Iterator[np.ndarray]:
    frames = stream.require_frames()
    top, bottom, left, right = crop or (0, stream.frame_shape[0], 0, stream.frame_shape[1])
    for start in range(0, stream.n_frames, CHUNK_FRAMES):
        block = np.asarray(frames[start:start + CHUNK_FRAMES])[:, top:bottom, left:right]
        yield from (block[:, :, ::-1] if flip else block)


def write_video(stream: Stream, path: str | os.PathLike, *, crop: tuple[int, int, int, int] | None = None,
                flip: bool = False, fps: float | Fraction | None = None, settings: EncoderSettings = EncoderSettings(),
                progress: bool = False, cancel_check: Callable[[], bool] | None = None,
                dnav_toc: bool = True, source_digest: str | None = None, anonymise: bool = False) -> FrameIndex:
    """Encode one uint8 ``(n_frames, height, width)`` stream to ``path`` atomically and write its
    index (and ``.dnav-toc``). ``crop``: ``(top, bottom, left, right)`` pixels; ``flip``: mirror
    left/right; ``fps``: override of the mean frame rate; ``anonymise``: the index names the
    stream only (no source path, which may carry identity). A display mapping of non-uint8
    sources (``parameters["display_mapping"]``) is recorded in the index."""
    from ...util.progress import progress_bar

    if stream.dtype != np.uint8 or len(stream.frame_shape) != 2:
        raise SonobridgeError(stream.label, f"video needs uint8 (height, width) frames, not {stream.dtype} "
                                            f"{stream.frame_shape}")
    top, bottom, left, right = crop or (0, stream.frame_shape[0], 0, stream.frame_shape[1])
    height, width = np.broadcast_to(np.uint8(0), stream.frame_shape)[top:bottom, left:right].shape
    if not height or not width:
        raise SonobridgeError(stream.label, f"crop {crop} leaves no pixels of {stream.frame_shape}")
    rate = Fraction(fps).limit_denominator(1001 * 1000) if fps else stream_fps(stream)
    frames = progress_bar(_frames(stream, crop, flip), progress=progress, total=stream.n_frames, unit="frame",
                          desc=Path(path).name, leave=False)
    with atomic_path(path) as temporary:
        index = encode_frames(frames, temporary, width, height, rate, settings, cancel_check)
    times = stream.timestamps_s
    index.time_s = times if times is not None and times.size == len(index) else None
    index.source = {"stream": stream.name, "label": stream.name if anonymise else stream.label, "crop": crop,
                    "flip": flip, **({"source_digest": source_digest} if source_digest else {}),
                    **({"display_mapping": stream.parameters["display_mapping"]}
                       if "display_mapping" in stream.parameters else {}),
                    **({"anonymised": True} if anonymise else {})}
    write_sidecars(path, index, dnav=dnav_toc)
    return index


def video_stream(path: str | os.PathLike) -> Stream:
    """An existing video as a grey uint8 stream (frames decoded on access, timed by the index)."""
    from ...core.frames import LazyFrames
    from ...core.recording import Provenance
    from .reader import VideoReader

    reader = VideoReader(path)
    return Stream(name=Path(path).stem, kind=SampleKind.IMAGE, frame_shape=reader.shape[1:], dtype=np.uint8,
                  frames=LazyFrames(reader.shape, np.uint8, lambda start, stop: reader[start:stop]),
                  clock_source=np.asarray(reader.time_s, np.float64), clock_unit_s=1.0, time_origin=0.0,
                  provenance=Provenance((os.fspath(path),), "video"))


def output_names(stem: str, names: list[str]) -> dict[str, str]:
    """``<stem>.mp4`` for a single stream, ``<stem>_<stream>.mp4`` for several; stream names (which
    may come from inside a file, e.g. zea track labels) are reduced to safe file-name characters."""
    safe = {name: safe_name(name, "stream") for name in names}
    stem = safe_name(stem, "recording")
    if len(names) == 1:
        return {names[0]: f"{stem}.mp4"}
    return {name: f"{stem}_{safe[name]}.mp4" for name in names}


def export_video(source: str | os.PathLike | Recording | Stream, out_dir: str | os.PathLike | None = None, *,
                 stem: str | None = None, crop: tuple[int, int, int, int] | None = None, flip: bool = False,
                 fps: float | None = None, crf: float | None = None, keyint: int = 2,
                 skip_existing: bool = True, overwrite: bool = False, progress: bool = True,
                 progress_callback: Callable[[int, int, str, str], None] | None = None,
                 cancel_check: Callable[[], bool] | None = None, dnav_toc: bool = True,
                 source_digest: str | None = None, anonymise: bool = False,
                 **reader_options: Any) -> dict[str, str]:
    """Write one ``.mp4`` (+ ``.index.json`` + ``.dnav-toc``) per video-able stream of ``source``
    (a path, a Recording or one Stream) into ``out_dir`` (default: beside a path source, else the
    current folder). Returns ``{path: "built" | "hit" | "error: ..."}``.

    ``crf``: lossy quality (None = lossless); ``keyint``: frames between keyframes;
    ``skip_existing``: keep an output whose index matches it ("hit"); ``overwrite``: re-encode
    anyway; ``progress_callback(index, total, path, status)`` after each output;
    ``cancel_check()`` polled per frame (a cancelled output is removed, status "error: cancelled");
    ``source_digest``: recorded in each index, and an existing video is kept only when its index
    records the same (outputs follow their sources, see :mod:`sonobridge.pipeline.stages`);
    ``anonymise``: sidecars without source paths (see :func:`write_video`).
    """
    if isinstance(source, Stream):
        displays, name = {source.name: (source, lambda s: s)}, source.name
    else:
        if not isinstance(source, Recording):
            from .. import open_recording

            out_dir = out_dir if out_dir is not None else Path(source).parent
            source = open_recording(source, **reader_options)
        displays = {n: (s, d) for n, s in source.streams.items() if (d := display_stream(s)) is not None}
        name = source.name
    folder = Path(out_dir if out_dir is not None else ".")
    names = output_names(stem or name, list(displays))
    settings = EncoderSettings(crf=crf, keyint=keyint)
    results: dict[str, str] = {}
    for number, (stream_name, (stream, display)) in enumerate(displays.items()):
        path = folder / names[stream_name]
        if skip_existing and not overwrite and complete_index(path, source_digest, dnav_toc) is not None:
            results[str(path)] = "hit"                  # decided before any display stream is built
        else:
            results[str(path)] = export_stream(display(stream), path, skip_existing and not overwrite, overwrite,
                                               VideoOptions(crop=crop, flip=flip, fps=fps, settings=settings,
                                                            progress=progress, cancel_check=cancel_check,
                                                            dnav_toc=dnav_toc, source_digest=source_digest,
                                                            anonymise=anonymise))
        if progress_callback is not None:
            progress_callback(number, len(displays), str(path), results[str(path)])
    return results


def export_stream(stream: Stream, path: Path, skip_existing: bool, overwrite: bool,
                  options: VideoOptions = VideoOptions()) -> str:
    """One display stream to ``path`` unless a complete video is there.

    Parameters
    ----------
    stream : Stream
        uint8 display frames ``(n_frames, height, width)``.
    path : Path
        The ``.mp4`` to write (its index and ``.dnav-toc`` beside it).
    skip_existing : bool
        Keep an existing video whose index matches it.
    overwrite : bool
        Encode again even when a video is there.
    options : VideoOptions
        How to encode (:func:`write_video`).

    Returns
    -------
    str
        ``"hit"`` (a matching video is there), ``"built"`` or ``"error: ..."``.
    """
    if path.exists() and not overwrite:
        if skip_existing and complete_index(path, options.source_digest, options.dnav_toc) is not None:
            return "hit"
        if not skip_existing:
            return "error: exists (pass overwrite=True to replace it)"
        log.info("%s: exists without a matching index (interrupted run?): encoding again", path)
    try:
        write_video(stream, path, **options.keywords())
    except SonobridgeError as error:
        return f"error: {error.problem}"
    return "built"
