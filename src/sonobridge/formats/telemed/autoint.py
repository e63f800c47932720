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

import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import FormatError, MissingDependencyError, SonobridgeError
from .sidecar import SUFFIX, Roi, Sidecar, write_sidecar
from .uiff import read_tvd_n_frames

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
    "is_usg_file_opened": (191, "Bool"), "scanning_state": (200, "Int"), "is_probe_active": (103, "Bool"),
}
SENTINEL = -99999                            # what a corrupt file's ParamGet returns


class EchoWaveError(SonobridgeError):
    """EchoWave or its AutoInt1 interface refused or failed."""


def connect() -> AutoInt1Client:
    """The running EchoWave's AutoInt1 interface; a clear error where it cannot exist."""
    if sys.platform != "win32":
        raise EchoWaveError(None, "EchoWave extraction needs Windows with EchoWave II running (as Administrator); "
                                  "on this system read .tvd files COM-free with open_recording")
    try:
        import win32com.client
    except ImportError:
        raise MissingDependencyError(None, "EchoWave extraction needs pywin32: pip install 'sonobridge[echowave]'") \
            from None
    try:
        return AutoInt1Client(win32com.client.GetActiveObject(PROG_ID))
    except Exception as error:  # noqa: BLE001 - pywintypes.com_error and friends
        raise EchoWaveError(None, f"no running EchoWave AutoInt1 server ({error}); start EchoWave II and Python as "
                                  "Administrator and register AutoInt1.dll with RegAsm once") from None


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
        out = {}
        for img_id in PANEL_IDS:
            cmd = self.cmd
            x1, x2, y1, y2 = (int(cmd.GetUltrasoundX1(img_id)), int(cmd.GetUltrasoundX2(img_id)),
                              int(cmd.GetUltrasoundY1(img_id)), int(cmd.GetUltrasoundY2(img_id)))
            if x2 > x1 > 0 and y2 > y1 > 0:          # all zeros: an inactive panel
                out[img_id] = Roi(img_id, x1, x2, y1, y2, x2 - x1 + 1, y2 - y1 + 1,
                                  float(cmd.GetUltrasoundPhysicalDeltaX(img_id)),
                                  float(cmd.GetUltrasoundPhysicalDeltaY(img_id)))
        return out

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


def is_network_path(path: Path) -> bool:
    """UNC paths, and on Windows mapped network drives (where EchoWave's OpenFile fails)."""
    text = str(path)
    if text.startswith(("\\\\", "//")):
        return True
    if sys.platform == "win32" and len(text) > 1 and text[1] == ":":
        import ctypes

        return ctypes.windll.kernel32.GetDriveTypeW(f"{text[0]}:\\") == 4    # DRIVE_REMOTE
    return False


@contextlib.contextmanager
def staged(path: Path, network: Callable[[Path], bool] = is_network_path) -> Iterator[Path]:
    """``path`` itself, or a local temporary copy of a network file (removed afterwards, also on
    error)."""
    if not network(path):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="sonobridge-tvd-"))
    try:
        local = folder / path.name
        shutil.copy2(path, local)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def keep_full_speed() -> Iterator[None]:
    """On Windows: opt this process out of EcoQoS power throttling and keep the system awake (the
    extraction rate drops to 1-2 fps when EchoWave runs in the background); elsewhere a no-op."""
    if sys.platform != "win32":
        yield
        return
    import ctypes

    kernel32 = ctypes.windll.kernel32
    es_continuous, es_system_required = 0x80000000, 0x00000001

    class _Throttling(ctypes.Structure):
        _fields_ = [("Version", ctypes.c_ulong), ("ControlMask", ctypes.c_ulong), ("StateMask", ctypes.c_ulong)]

    state = _Throttling(1, 0x1, 0x0)                 # execution speed throttling: off
    kernel32.SetProcessInformation(kernel32.GetCurrentProcess(), 4, ctypes.byref(state), ctypes.sizeof(state))
    kernel32.SetThreadExecutionState(es_continuous | es_system_required)
    try:
        yield
    finally:
        kernel32.SetThreadExecutionState(es_continuous)


def extract(client: AutoInt1Client, tvd: Path, out: Path, *, frames: bool = True, compression: str | None = "gzip",
            cancel_check: Callable[[], bool] | None = None, network: Callable[[Path], bool] = is_network_path) -> Path:
    """One ``.tvd`` -> ``out`` (``.tvd.h5``) through ``client``."""
    with staged(tvd, network) as local:
        client.open(local)
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
                          params=client.parameters(), source_tvd_path=str(tvd),
                          extracted_at_iso=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          tvd_declared_n_frames=read_tvd_n_frames(local))
    return write_sidecar(sidecar, out, compression=compression)


def export_h5(source: str | os.PathLike | list, *, out_dir: str | os.PathLike | None = None,
              skip_existing: bool = True, frames: bool = True, compression: str | None = "gzip",
              postprocess: Callable[[Path], None] | None = None, progress: bool = True,
              progress_callback: Callable[[int, int, Path, str], None] | None = None,
              cancel_check: Callable[[], bool] | None = None, client: AutoInt1Client | None = None,
              network: Callable[[Path], bool] = is_network_path) -> dict[str, str]:
    """Extract ``.tvd`` recordings (a file, a folder walked for ``*.tvd``, or a list) to sidecars
    through one EchoWave connection. ``frames=False`` writes timing-only sidecars;
    ``postprocess(h5_path)`` runs after each new sidecar. Returns ``{h5 path: status}``."""
    from tqdm.auto import tqdm

    items = [Path(s) for s in (source if isinstance(source, list) else [source])]
    tvds = [t for item in items for t in (sorted(item.rglob("*.tvd")) if item.is_dir() else [item])]
    results: dict[str, str] = {}
    client = client or connect()
    with keep_full_speed():
        for number, tvd in enumerate(tqdm(tvds, unit="recording", disable=not progress)):
            out = (Path(out_dir) if out_dir else tvd.parent) / (tvd.name + ".h5" if tvd.suffix == ".tvd"
                                                                 else tvd.stem + SUFFIX)
            if skip_existing and out.exists():
                status = "hit"
            else:
                try:
                    extract(client, tvd, out, frames=frames, compression=compression, cancel_check=cancel_check,
                            network=network)
                    if postprocess is not None:
                        postprocess(out)
                    status = "built"
                except (EchoWaveError, FormatError) as error:
                    status = f"error: {error.problem}"
            results[str(out)] = status
            if progress_callback is not None:
                progress_callback(number, len(tvds), out, status)
    return results
