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
from .formats.telemed.autoint import connect, export_h5, keep_full_speed
from .formats.telemed.sidecar import SUFFIX, Roi, Sidecar, read_sidecar, recording_from_sidecar, write_sidecar
from .errors import SonobridgeError, read_faults
from .formats.telemed.qc import COMPLETENESS_TOLERANCE, looks_lut_inverted
from .formats.telemed.spec import has_sidecar
from .formats.telemed.uiff import read_tvd_n_frames

if TYPE_CHECKING:
    from .formats.video.writer import VideoOptions

__all__ = ["Log", "Roi", "Sidecar", "backfill_tvd_n_frames", "connect", "crop_folder", "crop_video", "export_h5",
           "export_video", "keep_full_speed", "looks_lut_inverted", "process", "read_tvd_n_frames", "verify_complete",
           "write_sidecar"]


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
                    warnings.warn(f"{self.fname.name} panel {panel}: inner image not found; using the panel",
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

    def view(self, *, crop: bool | str = True, frame_idx_0n: int = 0, panel: int = 1) -> LogViewer:
        """Interactive frame browser (matplotlib): a slider and the arrow keys step through frames;
        a scale bar shows 1 cm at the display scale. Returns the viewer (``.figure``)."""
        return LogViewer(self, crop=crop, panel=panel, start=frame_idx_0n)

    def __repr__(self) -> str:
        return (f"Log({self.name!r}, n_frames={self.n_frames}, panels={sorted(self.b_mode_rois)}, "
                f"{self.mean_fps:.1f} fps)")


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
_VIDEO_KWARGS = {"out_dir", "codec", "lossless", "crf", "preset", "fps", "normalize_orientation", "crop",
                 "skip_existing", "overwrite", "build_toc", "progress", "progress_callback", "cancel_check"}
_H5_KWARGS = {"frames", "compression", "postprocess", "client", "skip_existing", "progress", "progress_callback",
              "cancel_check"}


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


def process(source: str | os.PathLike | Iterable, *, recursive: bool = True, **kwargs: Any) -> dict[str, dict]:
    """``.tvd -> .tvd.h5 -> .mp4 (+ index, .dnav-toc)`` for every recording in ``source``, each
    stage skipped when its output is complete. Keyword arguments go to the stage that takes them
    (:func:`export_video`'s). Returns ``{"h5": {...}, "video": {...}, "toc": {...}}`` of
    ``{path: "built" | "hit" | "error: ..."}``. Extraction needs EchoWave's AutoInt1 COM server
    (Windows); elsewhere recordings without a sidecar are reported as errors, and their ``.tvd``
    can still be read COM-free (``open_recording``)."""
    unknown = set(kwargs) - _VIDEO_KWARGS - _H5_KWARGS
    if unknown:
        raise TypeError(f"process() got unexpected keyword arguments {sorted(unknown)}")
    need_extraction, sidecars = _triage(source, recursive)
    h5: dict[str, str] = {str(p): "hit" for p in sidecars}
    if need_extraction and (kwargs.get("client") is not None or sys.platform == "win32"):
        extracted = export_h5(need_extraction, **{k: v for k, v in kwargs.items() if k in _H5_KWARGS})
        h5.update(extracted)
        sidecars += [Path(path) for path, status in extracted.items() if not status.startswith("error")]
    else:
        for tvd in need_extraction:
            h5[str(tvd.with_name(tvd.name + ".h5"))] = ("error: extraction needs EchoWave II's AutoInt1 COM server "
                                                        "(Windows); read the .tvd COM-free with open_recording")
    video_options = {k: v for k, v in kwargs.items() if k in _VIDEO_KWARGS}
    video = export_video(sidecars, **video_options) if sidecars else {}
    toc = {f"{path}.dnav-toc": status if status.startswith("error") or kwargs.get("build_toc", True)
           else "skipped" for path, status in video.items()}
    return {"h5": h5, "video": video, "toc": toc}


# ---------------------------------------------------------------- legacy mp4 cropping
#: EchoWave's side-by-side mp4 export: each view is 706 x 558 pixels at y = 42, x = 777 / 72
CROP_W, CROP_H, CROP_Y, X_LEFT, X_RIGHT = 706, 558, 42, 777, 72
_DEPRECATED = ("crop_video/crop_folder re-encode EchoWave's own side-by-side mp4 exports; use export_video on "
               ".tvd.h5 sidecars (or .tvd files) instead")


def crop_video(src: str | os.PathLike, dst: str | os.PathLike, side: str, *, crf: float | None = 24,
               preset: str = "slow", mono: bool = True) -> str:
    """Deprecated: crop one EchoWave side-by-side mp4 to its ``"left"`` or ``"right"`` view as
    grey HEVC (``crf=None`` for lossless); an existing ``dst`` is kept. Returns the status."""
    from .formats.video.writer import EncoderSettings, VideoOptions, export_stream, video_stream

    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
    if side not in ("left", "right") or not mono:
        raise ValueError("side must be 'left' or 'right'; only mono (grey HEVC) output is written")
    x = X_LEFT if side == "left" else X_RIGHT
    return export_stream(video_stream(src), Path(dst), True, False,
                         VideoOptions(crop=(CROP_Y, CROP_Y + CROP_H, x, x + CROP_W),
                                      settings=EncoderSettings(crf=crf, preset=preset)))


def crop_folder(data_dir: str | os.PathLike, dest_dir: str | os.PathLike, *, left_suffix: str, right_suffix: str,
                stem_split: str = " ", crf: float | None = 24, preset: str = "slow", mono: bool = True
                ) -> dict[str, str]:
    """Deprecated: :func:`crop_video` both views of every ``*telemed*.mp4`` under ``data_dir``
    (paths containing "archive" skipped) into ``dest_dir`` as ``<stem><suffix>.mp4``."""
    results = {}
    for source in sorted(Path(data_dir).rglob("*.mp4")):
        if "telemed" not in source.name.lower() or "archive" in str(source).lower():
            continue
        stem = source.stem.split(stem_split)[0]
        for side, suffix in (("left", left_suffix), ("right", right_suffix)):
            target = Path(dest_dir) / f"{stem}{suffix}.mp4"
            results[str(target)] = crop_video(source, target, side, crf=crf, preset=preset, mono=mono)
    return results


# ---------------------------------------------------------------- completeness QC
def _declared(sidecar_path: Path, sidecar: Sidecar) -> int | None:
    if sidecar.tvd_declared_n_frames:
        return sidecar.tvd_declared_n_frames
    for candidate in (Path(sidecar.source_tvd_path) if sidecar.source_tvd_path else None,
                      sidecar_path.with_name(_stem(sidecar_path) + ".tvd")):
        if candidate is not None and candidate.is_file():
            return read_tvd_n_frames(candidate)
    return None


def verify_complete(source: str | os.PathLike | Iterable, *, tolerance: int = COMPLETENESS_TOLERANCE
                    ) -> dict[str, dict[str, Any]]:
    """For each sidecar: extracted vs declared frame counts. ``complete`` is True when the
    extraction holds at least ``declared - tolerance`` frames (EchoWave reports ~2 fewer than the
    container declares), False when more are missing (a truncated load), None when no declared
    count is known (stored, or read from the ``.tvd``)."""
    report = {}
    for path in _sidecars(source, True, "*.tvd.h5"):
        sidecar = read_sidecar(path, keep_open=False)
        declared = _declared(path, sidecar)
        report[str(path)] = {"n_frames": sidecar.n_frames, "declared": declared,
                             "missing": None if declared is None else max(0, declared - sidecar.n_frames),
                             "complete": None if declared is None else sidecar.n_frames >= declared - tolerance}
    return report


def backfill_tvd_n_frames(source: str | os.PathLike | Iterable) -> dict[str, int | None]:
    """Add ``tvd_declared_n_frames`` (read from the ``.tvd``) to sidecars that lack it. Each
    sidecar is updated in a copy that replaces it by rename, so a crash leaves the old file."""
    import shutil

    import h5py

    from .util.atomic import atomic_path

    results = {}
    for path in _sidecars(source, True, "*.tvd.h5"):
        sidecar = read_sidecar(path, keep_open=False)
        declared = _declared(path, sidecar)
        if declared and not sidecar.tvd_declared_n_frames:
            with atomic_path(path) as temporary:
                shutil.copy2(path, temporary)
                with h5py.File(temporary, "r+") as handle:
                    handle.attrs["tvd_declared_n_frames"] = declared
        results[str(path)] = declared
    return results
