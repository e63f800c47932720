"""Telemed recordings with the names users of the ``telemed`` package know: ``Log``,
``export_video``, ``read_tvd_n_frames``, ``verify_complete``, ``backfill_tvd_n_frames``,
``looks_lut_inverted``.

Example (needs a recording of your own)::

    lf = sonobridge.telemed.Log("scan.tvd.h5")
    lf.n_frames, lf.mean_fps, lf.b_mode_rois, lf.image_dy_cm_per_px
    lf.frame(0, crop=True, panel=2)                    # inner ultrasound image of panel B2
    sonobridge.telemed.export_video("cohort/")        # {mp4 path: "built" | "hit" | "error: ..."}

A thin face over :mod:`sonobridge.formats.telemed` (sidecar, UIFF header, autocrop) and the
video export of :mod:`sonobridge.formats.video.writer`.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from .formats.telemed.autocrop import inner_image_box, panel_mean
from .formats.telemed.autoint import (StagedFile, TelemedRecordingMeta, TelemedRoi, TelemedTvdReader, connect,
                                      export_h5, keep_full_speed, unstage)
from .formats.telemed.sidecar import SUFFIX, Roi, Sidecar, read_sidecar, recording_from_sidecar, write_sidecar
from .errors import SonobridgeError, read_faults
from .formats.telemed.qc import (COMPLETENESS_TOLERANCE, backfill, completeness, completeness_line,
                                 looks_lut_inverted)
from .formats.telemed.spec import has_sidecar
from .formats.telemed.uiff import read_tvd_n_frames

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .formats.video.writer import VideoOptions

__all__ = ["Log", "Roi", "Sidecar", "TelemedRecordingMeta", "TelemedRoi", "TelemedTvdReader", "backfill_tvd_n_frames",
           "connect", "crop_folder", "crop_video", "encoder_flags", "export", "export_h5",
           "export_video", "keep_full_speed", "looks_lut_inverted", "process", "read_tvd_n_frames", "verify_complete",
           "write_sidecar"]

_log = logging.getLogger(__name__)


def _stem(path: Path) -> str:
    return path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem


def _from_sidecar(name: str, doc: str) -> property:
    """A read-only property of the Log giving its sidecar's ``name`` (as telemed's attribute)."""
    return property(lambda self: getattr(self._sidecar, name), doc=doc)


class Log:
    """A ``.tvd.h5`` sidecar: timing, panels, calibration, parameters and lazy frames.

    One :class:`~sonobridge.formats.telemed.sidecar.Sidecar` holds the values; the attributes
    below keep the names of the ``telemed`` package's ``Log``.
    """

    def __init__(self, fname: str | os.PathLike):
        self.fname = Path(fname)
        if not self.fname.is_file():
            raise FileNotFoundError(self.fname)
        self._attach(read_sidecar(self.fname, keep_open=False))     # frames read per call, as telemed

    @classmethod
    def from_sidecar(cls, fname: str | os.PathLike, sidecar: Sidecar) -> Log:
        """The Log of an already read sidecar (its frames are read from it when it is kept open)."""
        log = cls.__new__(cls)
        log.fname = Path(fname)
        log._attach(sidecar)
        return log

    def _attach(self, sidecar: Sidecar) -> None:
        self.name = self.fname.name.split(".")[0]
        self._sidecar = sidecar
        self._image_slices: dict[int, tuple[slice, slice]] = {}

    @contextmanager
    def _gray(self) -> Iterator[Any]:
        """The ``(n_frames, height, width)`` uint8 frames: the sidecar's open dataset, else the
        file opened for this read (closed after it)."""
        with read_faults(self.fname, "/frames/gray unreadable"):
            if self._sidecar.frames is not None:
                yield self._sidecar.frames
            else:
                with h5py.File(self.fname, "r", locking=False) as handle:   # as the readers open it
                    yield handle["frames/gray"]

    n_frames = _from_sidecar("n_frames", "Frames extracted (int).")
    full_frame_width = _from_sidecar("full_frame_width", "Width of the full display frame in pixels.")
    full_frame_height = _from_sidecar("full_frame_height", "Height of the full display frame in pixels.")
    source_tvd_path = _from_sidecar("source_tvd_path", "The .tvd the sidecar was extracted from.")
    extracted_at_iso = _from_sidecar("extracted_at_iso", "When it was extracted (ISO 8601 text).")
    schema_version = _from_sidecar("schema_version", "The sidecar's schema version.")
    b_mode_rois = _from_sidecar("rois", "B-mode panels by img_id: ``{1: Roi, 2: Roi}``.")
    params = _from_sidecar("params", "EchoWave's acquisition parameters (dict).")
    time_ms = _from_sidecar("time_ms", "Frame times in milliseconds, float64 ``(n_frames,)``.")
    ifi_ms = _from_sidecar("ifi_ms", "Inter-frame intervals in milliseconds (first 0), ``(n_frames,)``.")
    tvd_declared_n_frames = _from_sidecar("tvd_declared_n_frames", "Frames the .tvd declares (None: unknown).")
    has_frames = _from_sidecar("has_frames", "Whether the file holds frame data.")
    n_b_images = property(lambda self: len(self._sidecar.rois), doc="Number of B-mode panels.")
    duration_s = property(lambda self: float(self.time_ms[-1] / 1000.0) if self.n_frames else 0.0)
    b_mode_roi = property(lambda self: self.b_mode_rois[1])
    physical_dx_cm_per_px = property(lambda self: self.b_mode_rois[1].physical_dx_cm_per_px)
    physical_dy_cm_per_px = property(lambda self: self.b_mode_rois[1].physical_dy_cm_per_px)
    image_dx_cm_per_px = property(lambda self: self._sidecar.display_scale_cm()[0])
    image_dy_cm_per_px = property(lambda self: self._sidecar.display_scale_cm()[1])

    @property
    def mean_fps(self) -> float:
        return float((self.n_frames - 1) / self.duration_s) if self.duration_s else 0.0

    def _panel(self, panel: int) -> Roi:
        if panel not in self.b_mode_rois:
            raise KeyError(f"panel={panel} not in this recording; active img_ids: {sorted(self.b_mode_rois)}")
        return self.b_mode_rois[panel]

    def frame(self, frame_idx_0n: int, *, crop: bool | str = False, panel: int = 1) -> np.ndarray:
        """Frame ``frame_idx_0n`` as uint8: the full display frame (``crop=False``), the panel
        (``"panel"``) or the inner ultrasound image (``True`` / ``"image"``)."""
        if not self.has_frames:
            raise RuntimeError(f"{self.fname.name} contains no frame data (extracted with frames=False)")
        if not 0 <= frame_idx_0n < self.n_frames:
            raise IndexError(f"frame_idx_0n {frame_idx_0n} out of range [0, {self.n_frames})")
        roi = self._panel(panel)
        if crop not in (False, True, "image", "panel"):
            raise ValueError(f"crop={crop!r} not understood; use False/True/'image'/'panel'.")
        with self._gray() as gray:
            full = gray[frame_idx_0n]
        if crop is False:
            return full
        rows, columns = roi.as_slice() if crop == "panel" else self.image_slice(panel)
        return full[rows, columns]

    def image_slice(self, panel: int = 1) -> tuple[slice, slice]:
        """``(rows, columns)`` of the inner ultrasound image in the full frame, detected once from
        a multi-frame mean of the panel; the panel itself (with a warning) when not found."""
        roi = self._panel(panel)
        if panel not in self._image_slices:
            rows, columns = roi.as_slice()
            box = None
            if self.has_frames:
                with self._gray() as gray:
                    box = inner_image_box(panel_mean(gray, roi))
            if box is None:
                if self.has_frames:
                    warnings.warn(f"{self.fname.name} img_id={panel}: inner image not found (the detector "
                                  "couldn't identify the inner ultrasound image); using the outer panel ROI",
                                  stacklevel=2)
                self._image_slices[panel] = (rows, columns)
            else:
                top, bottom, left, right = box
                self._image_slices[panel] = (slice(rows.start + top, rows.start + bottom),
                                             slice(columns.start + left, columns.start + right))
        return self._image_slices[panel]

    def mp4_path(self, panel: int = 1, *, out_dir: str | os.PathLike | None = None) -> Path:
        """Where the panel's mp4 lands: ``<stem>.mp4`` (one panel) or ``<stem>_b{panel}.mp4``."""
        self._panel(panel)
        folder = Path(out_dir) if out_dir is not None else self.fname.parent
        stem = _stem(self.fname)
        return folder / (f"{stem}.mp4" if self.n_b_images == 1 else f"{stem}_b{panel}.mp4")

    def to_video(self, out_dir: str | os.PathLike | None = None, **kwargs: Any) -> dict[str, str]:
        return export_video(self.fname, out_dir=out_dir, **kwargs)

    def ensure_mp4(self, panel: int = 1, *, out_dir: str | os.PathLike | None = None, **kwargs: Any) -> Path:
        target = self.mp4_path(panel, out_dir=out_dir)
        if not target.exists():
            self.to_video(out_dir=out_dir, **kwargs)
        return target

    def view(self, *, crop: bool | str = True, frame_idx_0n: int = 0, panel: int = 1) -> Figure:
        """Interactive frame browser (matplotlib): a slider and the arrow keys step through frames;
        a scale bar shows 1 cm at the display scale. Returns the matplotlib ``Figure`` (its
        :class:`LogViewer` stays alive as ``figure.viewer``); ``plt.show()`` displays it."""
        viewer = LogViewer(self, crop=crop, panel=panel, start=frame_idx_0n)
        viewer.figure.viewer = viewer            # keeps the slider and key handler referenced
        return viewer.figure

    def __repr__(self) -> str:
        roi = self.b_mode_roi
        return (f"sonobridge.telemed.Log(name={self.name!r}, n_frames={self.n_frames}, "
                f"duration={self.duration_s:.3f}s, roi={roi.width}x{roi.height})")


class LogViewer:
    """The figure behind :meth:`Log.view`: ``show(index)`` draws a frame, ``on_key`` steps with
    the arrow keys (left/right: one frame; up/down: ten)."""

    STEPS = {"right": 1, "left": -1, "up": 10, "down": -10}

    def __init__(self, log: Log, crop: bool | str, panel: int, start: int):
        try:
            import matplotlib.pyplot as plt
            from matplotlib.widgets import Slider
        except ImportError:
            from .errors import MissingDependencyError

            raise MissingDependencyError(None, "Log.view needs matplotlib: pip install matplotlib") from None
        if not log.has_frames:
            raise RuntimeError(f"{log.fname.name} contains no frame data (extracted with frames=False)")
        self.log, self.crop, self.panel = log, crop, panel
        self.figure, self.axes = plt.subplots(figsize=(7, 7))
        self.figure.subplots_adjust(bottom=0.12)
        self.image = self.axes.imshow(log.frame(start, crop=crop, panel=panel), cmap="gray", vmin=0, vmax=255)
        self.axes.set_axis_off()
        self._scale_bar()
        slider_axes = self.figure.add_axes((0.15, 0.03, 0.7, 0.03))
        self.slider = Slider(slider_axes, "frame", 0, log.n_frames - 1, valinit=start, valstep=1)
        self.slider.on_changed(lambda value: self.show(int(value)))
        self.figure.canvas.mpl_connect("key_press_event", self.on_key)
        self.index = start
        self.show(start)

    def _scale_bar(self) -> None:
        dy = self.log.image_dy_cm_per_px
        if dy is None or self.crop is False:
            return
        height, width = self.image.get_array().shape
        pixels = 1.0 / dy                                   # 1 cm
        x = width - 8
        self.axes.plot([x, x], [height - 8 - pixels, height - 8], color="yellow", linewidth=3)
        self.axes.text(x - 4, height - 8 - pixels / 2, "1 cm", color="yellow", ha="right", va="center")

    def show(self, index: int) -> None:
        self.index = int(np.clip(index, 0, self.log.n_frames - 1))
        self.image.set_data(self.log.frame(self.index, crop=self.crop, panel=self.panel))
        self.axes.set_title(f"{self.log.name}  frame {self.index + 1}/{self.log.n_frames}  "
                            f"t = {self.log.time_ms[self.index] / 1000:.3f} s")
        if int(self.slider.val) != self.index:
            self.slider.set_val(self.index)
        self.figure.canvas.draw_idle()

    def on_key(self, event) -> None:
        if event.key in self.STEPS:
            self.show(self.index + self.STEPS[event.key])


def _sidecars(source: str | os.PathLike | Iterable, recursive: bool, pattern: str) -> list[Path]:
    """The sidecars at ``source`` (see :func:`_triage`)."""
    return _triage(source, recursive, pattern)[1]


def export_video(source: str | os.PathLike | Iterable, *, recursive: bool = True, pattern: str = "*.tvd.h5",
                 out_dir: str | os.PathLike | None = None, codec: str = "h265_mono", lossless: bool = True,
                 crf: int = 24, preset: str = "ultrafast", fps: float | None = None,
                 normalize_orientation: bool = True, crop: str = "image", skip_existing: bool = True,
                 overwrite: bool = False, build_toc: bool = True, progress: bool = True,
                 progress_callback: Callable[[int, int, Path, str], None] | None = None,
                 cancel_check: Callable[[], bool] | None = None) -> dict[str, str]:
    """Encode ``.tvd.h5`` sidecars (a file, a ``.tvd`` with its sidecar, a folder walked for
    ``pattern``, or an iterable of these) to one lossless grey HEVC mp4 per B-mode panel, with the
    frame index (and ``.dnav-toc`` when ``build_toc``). ``crop``: ``"image"`` (inner image) or
    ``"panel"``; L/R flip when ``b_is_scan_direction_changed`` and ``normalize_orientation``.
    Returns ``{mp4 path: "built" | "hit" | "error: ..."}``."""
    from .formats.video.writer import EncoderSettings, VideoOptions

    if codec != "h265_mono":
        raise ValueError(f"codec {codec!r}: only 'h265_mono' is supported")
    if crop not in ("image", "panel"):
        raise ValueError(f"crop={crop!r}: use 'image' or 'panel'")
    settings = EncoderSettings(crf=None if lossless else crf, preset=preset)
    options = VideoOptions(fps=fps, settings=settings, progress=progress, cancel_check=cancel_check,
                           dnav_toc=build_toc)
    sidecars = _sidecars(source, recursive, pattern)
    results: dict[str, str] = {}
    for number, sidecar_path in enumerate(sidecars):       # one sidecar open at a time
        try:
            results.update(_export_panels(sidecar_path, out_dir, crop, normalize_orientation, skip_existing,
                                          overwrite, options))
        except SonobridgeError as error:
            results[str(sidecar_path)] = f"error: {error.problem}"
        if progress_callback is not None:
            progress_callback(number, len(sidecars), sidecar_path, results.get(str(sidecar_path), "built"))
    return results


def _export_panels(sidecar_path: Path, out_dir, crop: str, normalize_orientation: bool, skip_existing: bool,
                   overwrite: bool, options: VideoOptions) -> dict[str, str]:
    from .formats.video.writer import export_stream

    sidecar = read_sidecar(sidecar_path)                    # one read: the Log and the streams share it
    log = Log.from_sidecar(sidecar_path, sidecar)
    recording = recording_from_sidecar(sidecar, sidecar_path)
    flip = normalize_orientation and bool(log.params.get("b_is_scan_direction_changed", False))
    results = {}
    try:
        for panel, roi in log.b_mode_rois.items():
            if not log.has_frames:                          # timing-only: this file fails, the batch goes on
                path = log.mp4_path(panel, out_dir=out_dir)
                results[str(path)] = "hit" if skip_existing and not overwrite and path.exists() else (
                    f"error: {sidecar_path.name} has no /frames/gray (extracted with frames=False). "
                    "Re-extract with frames=True before encoding.")
                continue
            box = None
            if crop == "image":
                rows, columns = log.image_slice(panel)
                panel_rows, panel_columns = roi.as_slice()
                box = (rows.start - panel_rows.start, rows.stop - panel_rows.start,
                       columns.start - panel_columns.start, columns.stop - panel_columns.start)
            path = log.mp4_path(panel, out_dir=out_dir)
            results[str(path)] = export_stream(recording.streams[f"b{panel}"], path, skip_existing, overwrite,
                                               replace(options, crop=box, flip=flip))
    finally:
        sidecar.close()
    return results


# ---------------------------------------------------------------- process
_VIDEO_KWARGS = {"recursive", "pattern", "out_dir", "codec", "lossless", "crf", "preset", "fps",
                 "normalize_orientation", "crop", "skip_existing", "overwrite", "build_toc", "progress",
                 "progress_callback", "cancel_check"}
_H5_KWARGS = {"recursive", "pattern", "skip_existing", "frames", "compression", "compression_opts", "copy_to_local",
              "local_temp_root", "keep_full_speed", "progress", "progress_callback", "cancel_check", "client"}
_NO_ECHOWAVE = "extraction needs EchoWave II's AutoInt1 COM server (Windows); read the .tvd COM-free with open_recording"


def _triage(source: str | os.PathLike | Iterable, recursive: bool, pattern: str = "*.tvd.h5"
            ) -> tuple[list[Path], list[Path]]:
    """``(need extraction, have a sidecar)``: ``.tvd`` files without a ``.tvd.h5`` beside them,
    and sidecars (given directly, matching ``pattern`` in folders, or beside a given ``.tvd``)."""
    if not isinstance(source, (str, os.PathLike)):
        pairs = [_triage(item, recursive, pattern) for item in source]
        return [p for a, _ in pairs for p in a], [p for _, b in pairs for p in b]
    path = Path(source)
    if path.is_dir():
        walk = path.rglob if recursive else path.glob
        sidecars = sorted(walk(pattern))
        tvds = [t for t in sorted(walk("*.tvd")) if not has_sidecar(t)]
        return tvds, sidecars
    if path.suffix.lower() == ".tvd":
        return ([], [path.with_name(path.name + ".h5")]) if has_sidecar(path) else ([path], [])
    return [], [path]


def process(source: str | os.PathLike | Iterable, **kwargs: Any) -> dict[str, dict]:
    """``.tvd -> .tvd.h5 -> .mp4 (+ index, .dnav-toc)`` for every recording in ``source`` (a file,
    a folder, or an iterable of these), each stage skipped when its output exists.

    Keyword arguments go to the stage that takes them: :func:`export_h5`'s (``frames``,
    ``compression``, ``compression_opts``, ``copy_to_local``, ``local_temp_root``,
    ``keep_full_speed``), :func:`export_video`'s (``out_dir``, ``codec``, ... ``build_toc``), both
    (``recursive``, ``skip_existing``, ``progress``, ``progress_callback``, ``cancel_check``).
    Returns ``{"h5": {tvd: status}, "video": {mp4: status}, "toc": {mp4: "hit" | "missing"}}``
    with status ``"built" | "hit" | "error: ..."``. Extraction needs EchoWave's AutoInt1 COM
    server (Windows); elsewhere each ``.tvd`` without a sidecar is reported as an error.

    Raises
    ------
    TypeError
        A keyword argument neither stage knows (named in the message).
    FileNotFoundError
        A named source path does not exist (named in the message).
    """
    import logging

    unknown = set(kwargs) - _VIDEO_KWARGS - _H5_KWARGS
    if unknown:
        raise TypeError(f"process(): unknown keyword arguments {sorted(unknown)}; accepted: "
                        f"h5={sorted(_H5_KWARGS - _VIDEO_KWARGS)}, video={sorted(_VIDEO_KWARGS - _H5_KWARGS)}, "
                        f"common={sorted(_H5_KWARGS & _VIDEO_KWARGS)}")
    entries = [Path(source)] if isinstance(source, (str, os.PathLike)) else [Path(item) for item in source]
    missing = [str(entry) for entry in entries if not entry.exists()]
    if missing:
        raise FileNotFoundError(f"process: source path(s) not found: {', '.join(map(repr, missing))}. An elevated "
                                "Windows Python does not see mapped network drives: use the UNC path")
    recursive = kwargs.get("recursive", True)
    need_extraction, sidecars = _triage(entries, recursive)
    if not need_extraction and not sidecars:
        logging.getLogger(__name__).warning("process: no .tvd or .tvd.h5 files found under %r (recursive=%s); "
                                            "nothing to do", str(source), recursive)
    video_options = {k: v for k, v in kwargs.items() if k in _VIDEO_KWARGS and k not in ("recursive", "pattern")}
    h5: dict[str, str] = {}
    video: dict[str, str] = {}
    if need_extraction and (kwargs.get("client") is not None or sys.platform == "win32"):
        def encode(staged: StagedFile, success: bool) -> None:
            unstage(staged, success)
            if success:
                video.update(_encode_one(staged.dst_h5, video_options))
        h5.update(export_h5(need_extraction, postprocess=encode,
                            **{k: v for k, v in kwargs.items() if k in _H5_KWARGS and k not in ("pattern",)}))
    else:
        h5.update({str(tvd): f"error: {_NO_ECHOWAVE}" for tvd in need_extraction})
    for sidecar_path in sidecars:
        video.update(_encode_one(sidecar_path, video_options))
    toc = {path: "hit" if Path(f"{path}.dnav-toc").exists() else "missing"
           for path, status in video.items() if status in ("built", "hit")}
    return {"h5": h5, "video": video, "toc": toc}


def _encode_one(sidecar_path: Path, video_options: dict[str, Any]) -> dict[str, str]:
    """:func:`export_video` of one sidecar; an unexpected failure becomes its error status."""
    try:
        return export_video(sidecar_path, **video_options)
    except (SonobridgeError, OSError, ValueError) as error:
        return {str(sidecar_path): f"error: {getattr(error, 'problem', error)}"}


# ---------------------------------------------------------------- export(kind=)
_EXPORT_KINDS = ("h5", "video", "both")


def export(source: str | os.PathLike | Iterable, *, kind: str = "h5", **kwargs: Any) -> dict:
    """One entry for the stages: ``kind="h5"`` extracts ``.tvd -> .tvd.h5`` (:func:`export_h5`),
    ``"video"`` encodes ``.tvd.h5 -> .mp4`` (:func:`export_video`), ``"both"`` runs the pipeline
    (:func:`process`); ``kwargs`` go to that function and its result is returned."""
    stages = {"h5": export_h5, "video": export_video, "both": process}
    if kind not in stages:
        raise ValueError(f"kind={kind!r} not understood; use one of {list(_EXPORT_KINDS)}")
    return stages[kind](source, **kwargs)


# ---------------------------------------------------------------- legacy mp4 cropping
#: EchoWave's side-by-side mp4 export: each view is 706 x 558 pixels at y = 42, x = 777 / 72
CROP_W, CROP_H, CROP_Y, X_LEFT, X_RIGHT = 706, 558, 42, 777, 72
_DEPRECATED = ("crop_video/crop_folder re-encode EchoWave's own side-by-side mp4 exports; use export_video on "
               ".tvd.h5 sidecars (or .tvd files) instead")


#: CRF of the grey HEVC crop when none is given; of the ``mono=False`` crop through ``encoder``
MONO_CRF, ENCODER_CRF = 24, 28


def encoder_flags(encoder: str, crf: int = 28, preset: str = "slow") -> list[str]:
    """The ffmpeg ``-c:v ...`` arguments for ``encoder``: ``h264_nvenc`` at constant quality
    ``crf`` (VBR, no bitrate cap), ``libx264`` at ``crf``, any other encoder with ``preset`` only."""
    if encoder == "h264_nvenc":
        return ["-c:v", encoder, "-rc:v", "vbr", "-cq:v", str(crf), "-b:v", "0", "-preset", preset]
    if encoder == "libx264":
        return ["-c:v", encoder, "-crf", str(crf), "-preset", preset]
    return ["-c:v", encoder, "-preset", preset]


def crop_video(src: str | os.PathLike, dst: str | os.PathLike, side: str, *, encoder: str | None = None,
               crf: float | None = None, preset: str = "slow", mono: bool = True) -> str:
    """Deprecated: crop one EchoWave side-by-side mp4 to its ``"left"`` (x = 777) or ``"right"``
    (x = 72) 706 x 558 view; an existing ``dst`` is kept ("hit"). ``mono``: grey HEVC at ``crf``
    (default 24; only ``encoder`` None or "libx265"); else colour through ``encoder`` (None:
    libx264 at its default quality; named: :func:`encoder_flags` at ``crf``, default 28).
    Returns "built" or "hit"."""
    from .formats.video.writer import EncoderSettings, VideoOptions, export_stream, video_stream

    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if mono and encoder not in (None, "libx265"):
        raise ValueError(f"mono=True writes grey HEVC (libx265); encoder={encoder!r} cannot: drop encoder, or "
                         "pass mono=False")
    x = X_LEFT if side == "left" else X_RIGHT
    box = (CROP_Y, CROP_Y + CROP_H, x, x + CROP_W)
    if mono:
        return export_stream(video_stream(src), Path(dst), True, False,
                             VideoOptions(crop=box, settings=EncoderSettings(crf=MONO_CRF if crf is None else crf,
                                                                             preset=preset)))
    if Path(dst).exists():
        return "hit"
    flags = ["-c:v", "libx264", "-preset", preset] if encoder is None else \
        encoder_flags(encoder, crf=ENCODER_CRF if crf is None else crf, preset=preset)
    _crop_colour(Path(src), Path(dst), box, flags)
    return "built"


def _crop_colour(src: Path, dst: Path, box: tuple[int, int, int, int], flags: list[str]) -> None:
    """Re-encode ``src`` cropped to ``box`` (top, bottom, left, right) in colour (yuv420p) with
    the encoder and options of ffmpeg-style ``flags``, written under a temporary name."""
    from .formats.video.reader import require_av
    from .util.atomic import atomic_path

    av = require_av()
    pairs = dict(zip(flags[::2], flags[1::2]))
    codec = pairs.pop("-c:v")
    options = {key.lstrip("-").split(":")[0]: value for key, value in pairs.items()}
    top, bottom, left, right = box
    with read_faults(src, "unreadable video", also=(av.error.FFmpegError,)), atomic_path(dst) as temporary, \
            av.open(os.fspath(src)) as source, av.open(os.fspath(temporary), "w", format="mp4") as target:
        video = source.streams.video[0]
        stream = target.add_stream(codec, rate=video.average_rate or 30, options=options)
        stream.width, stream.height, stream.pix_fmt = right - left, bottom - top, "yuv420p"
        for frame in source.decode(video):
            target.mux(stream.encode(av.VideoFrame.from_ndarray(_yuv420p_crop(frame, box), format="yuv420p")))
        target.mux(stream.encode(None))


def _yuv420p_crop(frame: Any, box: tuple[int, int, int, int]) -> np.ndarray:
    """The ``box`` of a decoded frame as planar yuv420p ``(3 h / 2, w)`` uint8, as ffmpeg's crop
    then its conversion to the encoder's yuv420p give it: grey luma kept as it is (neutral
    chroma); a yuv420p source cropped per plane from an even corner (ffmpeg aligns the crop to
    the chroma grid); anything else converted through RGB."""
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    name = frame.format.name
    if name == "gray":
        luma = frame.to_ndarray()[top:bottom, left:right]
        return np.concatenate([luma, np.full((height // 2, width), 128, np.uint8)])
    if name in ("yuv420p", "yuvj420p"):
        planes = frame.to_ndarray()
        rows = frame.height
        y, x = top & ~1, left & ~1
        luma = planes[:rows][y:y + height, x:x + width]
        chroma = planes[rows:].reshape(2, rows // 2, frame.width // 2)[:, y // 2:(y + height) // 2,
                                                                        x // 2:(x + width) // 2]
        return np.concatenate([luma, chroma.reshape(height // 2, width)])
    rgb = frame.to_ndarray(format="rgb24")[top:bottom, left:right]
    return frame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p").to_ndarray()


def crop_folder(data_dir: str | os.PathLike, dest_dir: str | os.PathLike, *, left_suffix: str, right_suffix: str,
                stem_split: str = " ", encoder: str | None = None, crf: float | None = None, preset: str = "slow",
                mono: bool = True) -> dict[str, str]:
    """Deprecated: :func:`crop_video` both views of every ``*telemed*.mp4`` under ``data_dir``
    (paths containing "archive" skipped) into ``dest_dir`` as ``<stem><suffix>.mp4``."""
    results = {}
    for source in sorted(Path(data_dir).rglob("*.mp4")):
        if "telemed" not in source.name.lower() or "archive" in str(source).lower():
            continue
        stem = source.stem.split(stem_split)[0]
        for side, suffix in (("left", left_suffix), ("right", right_suffix)):
            target = Path(dest_dir) / f"{stem}{suffix}.mp4"
            results[str(target)] = crop_video(source, target, side, encoder=encoder, crf=crf, preset=preset,
                                              mono=mono)
    return results


# ---------------------------------------------------------------- completeness QC
def _audit(source: str | os.PathLike | Iterable, recursive: bool, progress: bool,
           one: Callable[[Path], Any], line: Callable[[Path, Any], str]) -> dict[str, Any]:
    """``{sidecar: one(sidecar)}`` over the sidecars at ``source`` (a ``.tvd.h5``, a ``.tvd`` with
    its sidecar, a folder walked for ``*.tvd.h5``, or an iterable of these), each logged as
    ``line(sidecar, result)`` when ``progress`` (with a progress bar)."""
    from .util.progress import progress_bar

    results = {}
    for path in progress_bar(_sidecars(source, recursive, "*.tvd.h5"), progress=progress, unit="file", leave=False):
        results[str(path)] = one(path)
        if progress:
            _log.info(line(path, results[str(path)]))
    return results


def verify_complete(source: str | os.PathLike | Iterable, *, recursive: bool = True,
                    tol: int = COMPLETENESS_TOLERANCE, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Catch extractions EchoWave truncated to fit its memory: for each sidecar, ``{"extracted",
    "declared", "native_mp4", "status", "issues"}`` (see
    :func:`~sonobridge.formats.telemed.qc.completeness`). ``status`` is "truncated" when the
    ``.tvd`` header's count (stored, else read from the sibling ``.tvd``) or the sibling
    ``<stem>.mp4``'s exceeds the extracted count by more than ``tol`` frames (EchoWave reports ~2
    fewer than the header on complete recordings), "complete" otherwise, "unknown" without a
    reference, "error: ..." for an unreadable sidecar. ``progress``: a line per file and a
    summary (logged; truncations as warnings)."""
    report = _audit(source, recursive, progress, lambda path: completeness(path, tol), completeness_line)
    if progress:
        statuses = [info["status"] for info in report.values()]
        summary = (f"verify_complete: {len(report)} checked, {statuses.count('truncated')} truncated, "
                   f"{statuses.count('unknown')} with no reference")
        _log.log(logging.WARNING if "truncated" in statuses else logging.INFO, summary)
    return report


def backfill_tvd_n_frames(source: str | os.PathLike | Iterable, *, recursive: bool = True,
                          progress: bool = True) -> dict[str, str]:
    """Store each sidecar's declared frame count (read from the sibling ``.tvd`` header, no
    re-extraction) as ``tvd_declared_n_frames``. Returns ``{sidecar: status}``: "added (N)",
    "updated (N)", "skipped: no sibling .tvd", "skipped: unparseable .tvd header" or "error: ..."."""
    return _audit(source, recursive, progress, backfill, lambda path, status: f"{path.name}: {status}")
