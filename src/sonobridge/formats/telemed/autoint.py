"""Extraction through EchoWave II's AutoInt1 COM interface (ProgId ``EchoWave2.CmdInt1``): a
``.tvd`` -> a ``.tvd.h5`` sidecar with display frames, timing, panels and parameters.

Requires Windows, EchoWave II and Python both running as Administrator, the AutoInt1 plug-in
registered (``RegAsm AutoInt1.dll``) and pywin32 (extra ``echowave``). Behaviour of the interface
this client relies on (AutoInt1Client.txt and the ``telemed`` package's field notes):

* pywin32 late binding exposes zero-argument methods as properties (``cmd.GetFramesCount``);
  methods with arguments are called (``cmd.GoToFrame1n(i, True)``).
* Frame indices are 1-based (``GoToFrame1n``); this client's are 0-based.
* Before ``OpenFile``: stop recording, freeze scanning, pause playback. ``OpenFile`` returns -1 on
  failure, and fails on network paths, so those are staged through a local temporary copy.
* ``GetUltrasoundX1/X2/Y1/Y2(img_id)`` give 1-based inclusive panel bounds; an inactive panel
  returns all zeros rather than failing.
* Only the ``ParamGet*`` variant documented for an id may be called (others can crash EchoWave).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MissingDependencyError, SonobridgeError
from .sidecar import Roi, Sidecar, write_sidecar
from .uiff import read_tvd_n_frames

log = logging.getLogger(__name__)

PROG_ID = "EchoWave2.CmdInt1"
PANEL_IDS = (1, 2, 3, 4)                    # B, B2, B3, B4
#: acquisition parameters read at extraction: name -> (AutoInt1 id, documented ParamGet variant)
PARAMETERS: dict[str, tuple[int, str]] = {
    "beamformer_code": (915, "Int"), "beamformer_name": (916, "String"), "probe_code": (917, "Int"),
    "probe_name": (918, "String"), "cine_end_datetime_str": (690, "String"), "b_depth": (305, "Int"),
    "b_frequency": (300, "Int"), "b_gain": (309, "Int"), "b_power": (307, "Int"), "b_dynamic_range": (311, "Int"),
    "b_focus_depth": (302, "Int"), "b_focuses_count": (334, "Int"), "b_is_dynamic_focus": (171, "Bool"),
    "b_thi": (177, "Bool"), "b_frame_averaging": (326, "Int"), "b_rejection": (327, "Int"),
    "b_image_enhancement": (328, "Bool"), "b_speckle_reduction": (330, "Bool"), "b_palette": (338, "Int"),
    "b_palette_negative": (319, "Bool"), "b_is_scan_direction_changed": (133, "Bool"), "b_rotate": (132, "Int"),
    "b_view_area": (324, "Int"), "b_scan_type": (340, "Int"), "b_zoom_factor": (112, "Int"),
    "b_image_enhancement_method": (336, "Int"), "b_speckle_reduction_level": (337, "Int"),
    "b_palette_gamma": (313, "Int"), "b_palette_brightness": (315, "Int"), "b_palette_contrast": (317, "Int"),
    "b_steering_trapezoid_angle": (339, "Int"), "b_lines_density": (332, "Int"),
    "is_usg_file_opened": (191, "Bool"), "scanning_state": (200, "Int"), "is_probe_active": (103, "Bool"),
}
SENTINEL = -99999                            # what a corrupt file's ParamGet returns


class EchoWaveError(SonobridgeError):
    """EchoWave or its AutoInt1 interface refused or failed."""


class AutoInt1Client:
    """One connection to EchoWave: open a recording, read its frames, panels and parameters."""

    def __init__(self, cmd: Any):
        self.cmd = cmd

    def open(self, path: Path) -> None:
        cmd = self.cmd                 # zero-argument COM methods run when read (pywin32 properties)
        if cmd.IsRecordingState == 1:
            _ = cmd.RecordStop
        if cmd.IsRunState == 1:
            _ = cmd.FreezeRun
        if cmd.IsPlayState == 1:
            _ = cmd.PlayPause
        if cmd.OpenFile(str(path)) == -1:
            raise EchoWaveError(path, "EchoWave could not open it (OpenFile returned -1)")

    @property
    def n_frames(self) -> int:
        return int(self.cmd.GetFramesCount)

    def time_ms(self, index: int, load: bool = False) -> float:
        """Frame ``index`` (0-based) made current; its time in ms (frame 0 = 0.0)."""
        if self.cmd.GoToFrame1n(index + 1, load) == -1:
            raise EchoWaveError(None, f"EchoWave refused frame {index + 1}")
        return float(self.cmd.GetCurrentFrameTime)

    def frame(self) -> np.ndarray:
        """The current frame's full display image, uint8 ``(H, W)``."""
        return np.clip(np.asarray(self.cmd.GetLoadedFrameGray, np.int64), 0, 255).astype(np.uint8)

    def rois(self) -> dict[int, Roi]:
        """The active B-mode panels by img_id (see :meth:`TelemedRoi.from_cmd`)."""
        found = {img_id: TelemedRoi.from_cmd(self.cmd, img_id) for img_id in PANEL_IDS}
        return {img_id: roi for img_id, roi in found.items() if roi is not None}

    def parameters(self) -> dict[str, Any]:
        values = {}
        for name, (param_id, variant) in PARAMETERS.items():
            try:
                value = getattr(self.cmd, f"ParamGet{variant}")(param_id)
            except Exception:  # noqa: BLE001 - a missing parameter is left out, not fatal
                continue
            if value is not None and value != SENTINEL:
                values[name] = bool(value) if variant == "Bool" else value
        return values


class TelemedRoi(Roi):
    """A B-mode panel as the AutoInt1 interface reports it (the ``telemed`` package's name):
    1-based inclusive pixel bounds of the full display frame, ``width``/``height`` inclusive
    counts, ``physical_d{x,y}_cm_per_px`` the beamformer-native pixel size in cm."""

    @classmethod
    def from_cmd(cls, cmd: Any, img_id: int = 1) -> TelemedRoi | None:
        """Panel ``img_id`` (1 = B .. 4 = B4) read through ``cmd``; None when it is not active:
        a getter raised, or the rectangle is zero, inverted, negative or without area."""
        try:
            x1, x2 = int(cmd.GetUltrasoundX1(img_id)), int(cmd.GetUltrasoundX2(img_id))
            y1, y2 = int(cmd.GetUltrasoundY1(img_id)), int(cmd.GetUltrasoundY2(img_id))
            dx = float(cmd.GetUltrasoundPhysicalDeltaX(img_id))
            dy = float(cmd.GetUltrasoundPhysicalDeltaY(img_id))
        except Exception:  # noqa: BLE001 - inactive panels sometimes raise instead of returning zeros
            return None
        if x2 <= x1 or y2 <= y1 or x1 < 0 or y1 < 0:
            return None
        return cls(img_id, x1, x2, y1, y2, x2 - x1 + 1, y2 - y1 + 1, dx, dy)


@dataclass
class TelemedRecordingMeta:
    """Per-recording metadata stored in a sidecar's root attributes: frame count, full display
    frame size (pixels), the panels by img_id, the display scale (cm per pixel, None when
    unknown), provenance, schema and the ``param_``-prefixed acquisition parameters."""

    n_frames: int
    full_frame_width: int
    full_frame_height: int
    b_mode_rois: dict[int, Roi]
    image_dx_cm_per_px: float | None
    image_dy_cm_per_px: float | None
    source_tvd_path: str
    extracted_at_iso: str
    schema_version: str = "v1"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_b_images(self) -> int:
        """Number of active B-mode panels."""
        return len(self.b_mode_rois)

    def to_flat_attrs(self) -> dict[str, Any]:
        """Flat root attributes: the scalars, ``n_b_images``, ``image_d{x,y}_cm_per_px`` (left out
        when None), ``roi{N}_x1..height`` and ``physical_d{x,y}{N}_cm_per_px`` per panel, then
        ``params`` as they are."""
        flat: dict[str, Any] = {name: getattr(self, name) for name in (
            "n_frames", "full_frame_width", "full_frame_height", "source_tvd_path", "extracted_at_iso",
            "schema_version")}
        flat["n_b_images"] = self.n_b_images
        for axis in ("dx", "dy"):
            if getattr(self, f"image_{axis}_cm_per_px") is not None:
                flat[f"image_{axis}_cm_per_px"] = getattr(self, f"image_{axis}_cm_per_px")
        for img_id, roi in self.b_mode_rois.items():
            for key, value in asdict(roi).items():
                if key.startswith("physical_"):
                    flat[f"physical_{key[9:11]}{img_id}_cm_per_px"] = value
                elif key != "img_id":
                    flat[f"roi{img_id}_{key}"] = value
        flat.update(self.params)
        return flat


class TelemedTvdReader(AutoInt1Client):
    """The ``telemed`` package's reader over EchoWave's AutoInt1 interface: ``connect()``, then
    ``open(tvd)`` (repeatable: EchoWave holds one document), frames by 0-based index."""

    def __init__(self) -> None:
        super().__init__(None)
        self.opened_path: Path | None = None

    def connect(self) -> TelemedTvdReader:
        """Attach to the running EchoWave (:class:`EchoWaveError` where it cannot)."""
        self.cmd = _active_object()
        return self

    def open(self, tvd_path: str | os.PathLike) -> TelemedTvdReader:
        """Stop recording/scanning/playback and open ``tvd_path`` (FileNotFoundError when missing,
        :class:`EchoWaveError` when OpenFile fails, e.g. on a network path)."""
        path = Path(tvd_path)
        if not path.exists():
            raise FileNotFoundError(path)
        if self.cmd is None:
            raise EchoWaveError(path, "not connected; call connect() first")
        super().open(path)
        self.opened_path = path
        return self

    @property
    def b_mode_rois(self) -> dict[int, Roi]:
        return self.rois()

    @property
    def b_mode_roi(self) -> Roi:
        return self.rois()[1]

    def _check(self, frame_idx_0n: int) -> None:
        if not 0 <= frame_idx_0n < self.n_frames:
            raise IndexError(f"frame_idx_0n {frame_idx_0n} out of range [0, {self.n_frames})")

    def get_frame_time_ms(self, frame_idx_0n: int) -> float:
        """Time of frame ``frame_idx_0n`` in ms (frame 0 = 0.0)."""
        self._check(frame_idx_0n)
        return self.time_ms(frame_idx_0n) - (self.time_ms(0) if frame_idx_0n else 0.0)

    def get_frame_gray(self, frame_idx_0n: int) -> np.ndarray:
        """The full display frame ``frame_idx_0n``, uint8 ``(H, W)``."""
        self._check(frame_idx_0n)
        self.time_ms(frame_idx_0n, load=True)
        return self.frame()

    def extract_metadata(self) -> TelemedRecordingMeta:
        """The open recording's metadata (display scale from the depth and panel height)."""
        rois = self.rois()
        if not rois:
            raise EchoWaveError(self.opened_path, "no active B-mode panel (all panel rectangles are zero)")
        params = self.parameters()
        self.time_ms(0, load=True)
        height, width = self.frame().shape
        sidecar = Sidecar(time_ms=np.zeros(0), rois=rois, full_frame_width=width, full_frame_height=height,
                          params=params)
        dx, dy = sidecar.display_scale_cm()
        return TelemedRecordingMeta(self.n_frames, width, height, rois, dx, dy, str(self.opened_path or ""),
                                    dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                    params={f"param_{k}": v for k, v in params.items()})


def _active_object() -> Any:
    """The running EchoWave's AutoInt1 COM object; a clear error where it cannot exist."""
    if sys.platform != "win32":
        raise EchoWaveError(None, "EchoWave extraction needs Windows with EchoWave II running (as Administrator); "
                                  "on this system read .tvd files COM-free with open_recording")
    try:
        import win32com.client
    except ImportError:
        raise MissingDependencyError(None, "EchoWave extraction needs pywin32: pip install 'sonobridge[echowave]'") \
            from None
    try:
        return win32com.client.GetActiveObject(PROG_ID)
    except Exception as error:  # noqa: BLE001 - pywintypes.com_error and friends
        raise EchoWaveError(None, f"no running EchoWave AutoInt1 server ({error}); start EchoWave II and Python as "
                                  "Administrator and register AutoInt1.dll with RegAsm once") from None


def connect() -> TelemedTvdReader:
    """A :class:`TelemedTvdReader` attached to the running EchoWave."""
    return TelemedTvdReader().connect()


def is_network_path(path: str | os.PathLike) -> bool:
    """Whether EchoWave's OpenFile would fail on ``path``, as ``telemed`` decides: UNC paths
    (``\\\\server`` or ``//server``) and every drive letter other than ``C:``."""
    text = str(path)
    if text.startswith(("\\\\", "//")):
        return True
    return len(text) >= 2 and text[1] == ":" and text[0].upper() != "C"


@dataclass
class StagedFile:
    """One ``.tvd`` ready for extraction: the source, where its sidecar must end up, the copy
    EchoWave opens and the sidecar written beside it, and the staging folder (None: no copy)."""

    src_tvd: Path
    dst_h5: Path
    local_tvd: Path
    local_h5: Path
    stage_dir: Path | None


def stage(src_tvd: Path, dst_h5: Path, *, use_copy: bool, temp_root: Path) -> StagedFile:
    """``src_tvd`` itself, or a copy in a new folder under ``temp_root`` when ``use_copy``."""
    if not use_copy:
        return StagedFile(src_tvd, dst_h5, src_tvd, dst_h5, None)
    folder = Path(tempfile.mkdtemp(prefix="sonobridge-tvd-", dir=temp_root))
    try:
        shutil.copy2(src_tvd, folder / src_tvd.name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedFile(src_tvd, dst_h5, folder / src_tvd.name, folder / (src_tvd.name + ".h5"), folder)


def unstage(staged: StagedFile, success: bool) -> None:
    """The default ``postprocess``: copy a staged sidecar back to ``dst_h5`` when the extraction
    succeeded (under a temporary name, then renamed), and remove the staging folder."""
    from ...util.atomic import atomic_path

    try:
        if success and staged.stage_dir is not None and staged.local_h5.exists():
            with atomic_path(staged.dst_h5) as temporary:
                shutil.copy2(staged.local_h5, temporary)
    finally:
        if staged.stage_dir is not None:
            shutil.rmtree(staged.stage_dir, ignore_errors=True)


class FullSpeed:
    """What :func:`keep_full_speed` returns: already in effect; as a context manager it lets the
    system sleep again on exit."""

    def __init__(self, applied: bool):
        self.applied = applied

    def __enter__(self) -> FullSpeed:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.applied:
            import ctypes

            ctypes.windll.kernel32.SetThreadExecutionState(0x80000000)      # ES_CONTINUOUS: sleep allowed
            self.applied = False


def keep_full_speed() -> FullSpeed:
    """On Windows: opt this process and a running EchoWave.exe out of EcoQoS power throttling and
    keep the system awake (the extraction rate drops to 1-2 fps when EchoWave is in the
    background); best effort. Elsewhere a logged no-op. A plain call, or ``with keep_full_speed():``."""
    if sys.platform != "win32":
        log.info("keep_full_speed: no power throttling to turn off on %s", sys.platform)
        return FullSpeed(False)
    return FullSpeed(_windows_full_speed())


def _windows_full_speed() -> bool:  # pragma: no cover - Windows only
    import ctypes
    import subprocess

    kernel32 = ctypes.windll.kernel32

    class _Throttling(ctypes.Structure):
        _fields_ = [("Version", ctypes.c_ulong), ("ControlMask", ctypes.c_ulong), ("StateMask", ctypes.c_ulong)]

    state = _Throttling(1, 0x1, 0x0)                 # execution speed throttling: off
    handles = [kernel32.GetCurrentProcess()]
    try:
        listing = subprocess.run(["tasklist", "/FI", "IMAGENAME eq EchoWave.exe", "/FO", "CSV", "/NH"],
                                 capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            fields = line.strip('"').split('","')
            if len(fields) > 1 and fields[1].isdigit():
                handles.append(kernel32.OpenProcess(0x0200, False, int(fields[1])))   # SET_INFORMATION
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("keep_full_speed: EchoWave.exe not found (%s); only this process opted out", error)
    for handle in handles:
        if handle:
            kernel32.SetProcessInformation(handle, 4, ctypes.byref(state), ctypes.sizeof(state))
    kernel32.SetThreadExecutionState(0x80000000 | 0x00000001)     # ES_CONTINUOUS | ES_SYSTEM_REQUIRED
    return True


def extract(client: AutoInt1Client, tvd: Path, out: Path, *, frames: bool = True, compression: str | None = "gzip",
            compression_opts: int | None = 4, cancel_check: Callable[[], bool] | None = None,
            source_tvd: Path | None = None) -> Path:
    """One ``.tvd`` (as EchoWave can open it: local) -> ``out`` (``.tvd.h5``) through ``client``;
    ``source_tvd`` is the original path recorded in the sidecar."""
    client.open(tvd)
    n = client.n_frames
    times, images = np.empty(n), []
    for index in range(n):
        if cancel_check is not None and cancel_check():
            raise EchoWaveError(tvd, "cancelled")
        times[index] = client.time_ms(index, load=frames)
        if frames:
            images.append(client.frame())
    rois = client.rois()
    if not rois:
        raise EchoWaveError(tvd, "no active B-mode panel (all panel rectangles are zero)")
    height, width = images[0].shape if images else (max(r.y2 for r in rois.values()),
                                                    max(r.x2 for r in rois.values()))
    sidecar = Sidecar(time_ms=times - times[0] if n else times, rois=rois, full_frame_width=width,
                      full_frame_height=height, frames=np.stack(images) if images else None,
                      params=client.parameters(), source_tvd_path=str(source_tvd or tvd),
                      extracted_at_iso=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                      tvd_declared_n_frames=read_tvd_n_frames(tvd))
    return write_sidecar(sidecar, out, compression=compression, compression_opts=compression_opts)


def tvd_sources(source: str | os.PathLike | Iterable[str | os.PathLike], *, recursive: bool, pattern: str
                ) -> list[Path]:
    """``source`` (a file, a folder walked for ``pattern``, or any iterable of these, tuples
    included) as files, each once (by resolved path); named files are taken as they are and
    missing entries are left out."""
    entries = [Path(source)] if isinstance(source, (str, os.PathLike)) else [Path(item) for item in source]
    seen: set[Path] = set()
    files = []
    for entry in entries:
        if entry.is_file():
            candidates = [entry]
        elif entry.is_dir():
            candidates = sorted(entry.rglob(pattern) if recursive else entry.glob(pattern))
        else:
            continue
        for candidate in candidates:
            if candidate.resolve() not in seen:
                seen.add(candidate.resolve())
                files.append(candidate)
    return files


def export_h5(source: str | os.PathLike | Iterable[str | os.PathLike], *, recursive: bool = True,
              pattern: str = "*.tvd", skip_existing: bool = True, frames: bool = True,
              compression: str | None = "gzip", compression_opts: int = 4, copy_to_local: bool | None = None,
              local_temp_root: str | os.PathLike | None = None, keep_full_speed: bool = True,
              postprocess: Callable[[StagedFile, bool], None] | None = None, progress: bool = True,
              progress_callback: Callable[[int, int, Path, str], None] | None = None,
              cancel_check: Callable[[], bool] | None = None, out_dir: str | os.PathLike | None = None,
              client: AutoInt1Client | None = None,
              network: Callable[[Path], bool] = is_network_path) -> dict[str, str]:
    """Extract ``.tvd`` recordings (a file, a folder walked for ``pattern``, or an iterable of
    these) to ``<name>.tvd.h5`` sidecars beside them (or in ``out_dir``) through one EchoWave
    connection, made only when there is something to extract.

    ``frames=False`` writes timing-only sidecars. Network sources (``copy_to_local=None``: as
    :func:`is_network_path` decides) are copied to a folder under ``local_temp_root`` (default:
    the system temp folder) for EchoWave; ``postprocess(staged, success)`` then runs after each
    extraction (default :func:`unstage`: copy the sidecar back, remove the copy). ``cancel_check``
    is polled between files and frames. Returns ``{tvd path: "built" | "hit" | "error: ..."}``.
    """
    from ...util.progress import progress_bar

    tvds = tvd_sources(source, recursive=recursive, pattern=pattern)
    results: dict[str, str] = {}

    def report(number: int, tvd: Path, status: str) -> None:
        results[str(tvd)] = status
        if progress_callback is not None:
            progress_callback(number, len(tvds), tvd, status)

    todo = []
    for number, tvd in enumerate(tvds):
        target = (Path(out_dir) if out_dir is not None else tvd.parent) / (tvd.name + ".h5")
        if skip_existing and target.exists():
            report(number, tvd, "hit")
        else:
            todo.append((number, tvd, target))
    if not todo:
        return results                                   # nothing to extract: EchoWave is not needed
    temp_root = Path(local_temp_root) if local_temp_root is not None else Path(tempfile.gettempdir())
    temp_root.mkdir(parents=True, exist_ok=True)
    finish = postprocess or unstage
    client = client or connect()
    with _full_speed() if keep_full_speed else FullSpeed(False):
        for number, tvd, target in progress_bar(todo, progress=progress, unit="recording"):
            if cancel_check is not None and cancel_check():
                break
            use_copy = network(tvd) if copy_to_local is None else bool(copy_to_local)
            try:
                staged = stage(tvd, target, use_copy=use_copy, temp_root=temp_root)
            except OSError as error:
                report(number, tvd, f"error: staging: {error}")
                continue
            try:
                extract(client, staged.local_tvd, staged.local_h5, frames=frames, compression=compression,
                        compression_opts=compression_opts, cancel_check=cancel_check, source_tvd=tvd)
                success, status = True, "built"
            except (SonobridgeError, OSError) as error:
                success, status = False, f"error: {getattr(error, 'problem', error)}"
            finish(staged, success)
            report(number, tvd, status)
    return results


_full_speed = keep_full_speed
