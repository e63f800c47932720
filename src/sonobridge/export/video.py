"""Streams of the core model -> lossless monochrome HEVC ``.mp4`` with a frame index.

Encoder: libx265 through PyAV (its wheels carry it), ``pix_fmt gray``, ``lossless=1`` (or a
``crf`` for lossy output), preset ultrafast, constant frame rate at the stream's mean rate (real
per-frame times go to the index). GOP: closed (``open-gop=0``), a keyframe every ``keyint`` frames
(default 30) and no B-frames, so that

* a random frame costs at most ``keyint`` decoded frames (x265's default of 250 costs ~9x more per
  seek for ~2% smaller files, ../shared/notes/telemed-and-video.md);
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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..core.geometry import LineGeometry
from ..core.recording import Recording, SampleKind, Stream
from ..errors import SonobridgeError
from ..formats.video.index import FrameIndex, complete_index, write_sidecars
from .atomic import atomic_path
from .naming import safe_name

log = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(30)
CHUNK_FRAMES = 16


class Cancelled(SonobridgeError):
    """``cancel_check()`` asked to stop; the unfinished output was removed."""


@dataclass(frozen=True)
class EncoderSettings:
    """libx265 settings: ``crf`` None = lossless; ``keyint`` frames between keyframes."""

    crf: float | None = None
    keyint: int = 30
    preset: str = "ultrafast"

    def x265_params(self) -> str:
        quality = "lossless=1" if self.crf is None else f"crf={self.crf:g}"
        return f"{quality}:keyint={self.keyint}:open-gop=0:bframes=0:log-level=error"


def encode_frames(frames: Iterable[np.ndarray], path: str | os.PathLike, width: int, height: int,
                  fps: Fraction, settings: EncoderSettings = EncoderSettings(),
                  cancel_check: Callable[[], bool] | None = None) -> FrameIndex:
    """Encode uint8 ``(height, width)`` frames to an mp4 at ``path`` (written in place: callers
    use a temporary name); returns the frame index taken from the muxed packets."""
    from ..formats.video.reader import require_av

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
def _display(stream: Stream) -> Callable[[Stream], Stream] | None:
    """How a stream becomes uint8 ``(n_frames, height, width)`` display frames (None: no video):
    grey images and B-mode as they are, RGB images as their luma; envelope lines scan-converted
    when the probe is known, else shown depth-down (samples as rows, lines as columns); float
    images in dB through their dynamic range (:func:`db_to_uint8`) and linear amplitude log
    compressed (:func:`display_amplitude`), the mapping recorded in the index."""
    if not stream.has_frames:
        return None
    if stream.dtype != np.uint8:
        if len(stream.frame_shape) == 2 and stream.dtype.kind == "f" and stream.kind in (SampleKind.IMAGE,
                                                                                            SampleKind.BMODE):
            return display_db
        if len(stream.frame_shape) == 2 and stream.dtype.kind in "fiu" and stream.kind is SampleKind.AMPLITUDE:
            return display_amplitude
        return None
    if stream.kind in (SampleKind.BMODE, SampleKind.IMAGE) and len(stream.frame_shape) == 2:
        return lambda s: s
    if stream.kind is SampleKind.IMAGE and stream.frame_shape[2:] == (3,):
        return _grey
    if stream.kind is SampleKind.ENVELOPE:
        return _display_envelope
    return None


def _grey(stream: Stream) -> Stream:
    """RGB frames as grey (ITU-R BT.601 luma, rounded): exact where R = G = B, as in the grey parts
    of ultrasound screens; colour overlays become their luminance."""
    frames = stream.require_frames()
    weights = np.asarray([0.299, 0.587, 0.114], np.float32)

    def read_range(start: int, stop: int) -> np.ndarray:
        return np.rint(np.asarray(frames[start:stop], np.float32) @ weights).astype(np.uint8)

    return stream.derive(stream.name, stream.kind, stream.frame_shape[:2], np.uint8, read_range,
                         step="RGB shown as grey (BT.601 luma)")


DEFAULT_DB_RANGE = (-60.0, 0.0)     # dB shown black and white when a dB image states no range


def db_to_uint8(values: np.ndarray, low_db: float, high_db: float) -> np.ndarray:
    """dB values (any shape, float) -> uint8 for display, as ``zea.display.to_8bit``: NaN taken
    as ``low_db``, ``(v - low_db) * 255 / (high_db - low_db)`` in float32, clipped to [0, 255]
    and truncated: ``low_db`` (and below, -inf) is 0, ``high_db`` (and above) 255."""
    low, high = np.float32(low_db), np.float32(high_db)
    levels = np.asarray(values, np.float32)
    levels = np.where(np.isnan(levels), low, levels)
    scaled = (levels - low) * np.float32(255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def db_range(stream: Stream) -> tuple[float, float]:
    """The dynamic range ``(low, high)`` dB of a dB image: the stream's ``dynamic_range``
    parameter or its zea scan's ``dynamic_range`` when given as two values, else
    :data:`DEFAULT_DB_RANGE`."""
    for candidate in (stream.parameters.get("dynamic_range"),
                      (stream.parameters.get("scan") or {}).get("dynamic_range")):
        values = np.asarray(candidate, np.float64).ravel() if candidate is not None else np.zeros(0)
        if values.size == 2 and np.all(np.isfinite(values)) and values[1] > values[0]:
            return float(values[0]), float(values[1])
    return DEFAULT_DB_RANGE


def _with_mapping(stream: Stream, mapping: dict[str, Any]) -> Stream:
    from dataclasses import replace

    return replace(stream, parameters={**stream.parameters, "display_mapping": mapping})


def display_db(stream: Stream) -> Stream:
    """A float image in dB (zea's ``image``: 0 dB white) as uint8 through its dynamic range."""
    frames = stream.require_frames()
    low, high = db_range(stream)
    mapping = {"rule": "dB window (as zea.display.to_8bit): NaN -> low; "
                       "uint8(clip((v - low) * 255 / (high - low), 0, 255))",
               "range_db": [low, high], "source_dtype": stream.dtype.name}
    return _with_mapping(stream.derive(stream.name, SampleKind.IMAGE, stream.frame_shape, np.uint8,
                                       lambda start, stop: db_to_uint8(frames[start:stop], low, high),
                                       step=f"dB image shown through [{low:g}, {high:g}] dB"), mapping)


def display_amplitude(stream: Stream) -> Stream:
    """Linear amplitude as uint8: log compressed as :func:`sonobridge.processing.envelope.bmode`
    (60 dB, white at the reference level fixed from the first frames), then shown as an envelope
    (lines first, the core convention) or, on a pixel grid or from a zea product, as the image it is."""
    from ..core.geometry import PixelGrid
    from ..processing.envelope import bmode

    detected = bmode(stream)
    compression = detected.parameters["log_compression"]
    mapping = {"rule": "log compression (sonobridge.processing.envelope.LogCompression): "
                       "rint(clip((20 log10(a) + gain_db - reference_db + dynamic_range_db) * 255 / "
                       "dynamic_range_db, 0, 255))", **compression, "source_dtype": stream.dtype.name}
    if isinstance(stream.geometry, PixelGrid) or "zea_product" in stream.parameters:
        shown = detected                           # already depth-first (z, x)
    else:
        shown = _display_envelope(detected)
    return _with_mapping(shown, mapping)


def _display_envelope(stream: Stream) -> Stream:
    geometry = stream.geometry
    if isinstance(geometry, LineGeometry) and geometry.probe is not None:
        from ..processing.scan_convert import scan_convert

        return scan_convert(stream)
    frames = stream.require_frames()
    lines, samples = stream.frame_shape
    return stream.derive(stream.name, stream.kind, (samples, lines), np.uint8,
                         lambda start, stop: np.swapaxes(np.asarray(frames[start:stop]), 1, 2),
                         step="pre-scan lines shown depth-down (no probe geometry to scan-convert)")


def stream_fps(stream: Stream) -> Fraction:
    """The stream's mean frame rate as a Fraction (30 fps when unknown, e.g. one frame)."""
    rate = stream.mean_frame_rate_hz
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
    from tqdm.auto import tqdm

    if stream.dtype != np.uint8 or len(stream.frame_shape) != 2:
        raise SonobridgeError(stream.label, f"video needs uint8 (height, width) frames, not {stream.dtype} "
                                            f"{stream.frame_shape}")
    top, bottom, left, right = crop or (0, stream.frame_shape[0], 0, stream.frame_shape[1])
    height, width = np.broadcast_to(np.uint8(0), stream.frame_shape)[top:bottom, left:right].shape
    if not height or not width:
        raise SonobridgeError(stream.label, f"crop {crop} leaves no pixels of {stream.frame_shape}")
    rate = Fraction(fps).limit_denominator(1001 * 1000) if fps else stream_fps(stream)
    frames = tqdm(_frames(stream, crop, flip), total=stream.n_frames, unit="frame", desc=Path(path).name,
                  disable=not progress, leave=False)
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
    from ..core.frames import LazyFrames
    from ..core.recording import Provenance
    from ..formats.video.reader import VideoReader

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
                 fps: float | None = None, crf: float | None = None, keyint: int = 30,
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
            from ..formats import open_recording

            out_dir = out_dir if out_dir is not None else Path(source).parent
            source = open_recording(source, **reader_options)
        displays = {n: (s, d) for n, s in source.streams.items() if (d := _display(s)) is not None}
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
                                             dict(crop=crop, flip=flip, fps=fps, settings=settings,
                                                  progress=progress, cancel_check=cancel_check, dnav_toc=dnav_toc,
                                                  source_digest=source_digest, anonymise=anonymise))
        if progress_callback is not None:
            progress_callback(number, len(displays), str(path), results[str(path)])
    return results


def export_stream(stream: Stream, path: Path, skip_existing: bool, overwrite: bool, options: dict[str, Any]) -> str:
    """One display stream to ``path`` unless a complete video is there: ``"hit"`` (its index
    matches), ``"built"``, or ``"error: ..."``. ``options`` go to :func:`write_video`."""
    if path.exists() and not overwrite:
        if skip_existing and complete_index(path, options.get("source_digest"),
                                            options.get("dnav_toc", True)) is not None:
            return "hit"
        if not skip_existing:
            return "error: exists (pass overwrite=True to replace it)"
        log.info("%s: exists without a matching index (interrupted run?): encoding again", path)
    try:
        write_video(stream, path, **options)
    except SonobridgeError as error:
        return f"error: {error.problem}"
    return "built"
