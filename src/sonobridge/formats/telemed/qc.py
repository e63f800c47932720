"""Telemed-specific checks: how many frames an extraction may lack, and EchoWave's inverted LUT."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SonobridgeError, read_faults
from .autocrop import panel_mean
from .sidecar import read_sidecar
from .uiff import read_tvd_n_frames

#: EchoWave reports about 2 frames fewer than the ``.tvd`` container declares; an extraction
#: holding at least ``declared - COMPLETENESS_TOLERANCE`` frames is complete
COMPLETENESS_TOLERANCE = 16
#: report tags of the completeness statuses
TAGS = {"complete": "[complete]", "truncated": "[TRUNCATED]", "unknown": "[unknown] "}


def looks_lut_inverted(h5: str | os.PathLike, frames: int = 16) -> bool:
    """Whether the primary panel of sidecar ``h5`` looks LUT-inverted (EchoWave < 4.4.0 exported
    ``255 - x``): its median over the first ``frames`` frames is above mid-grey, where B-mode
    images are mostly dark."""
    sidecar = read_sidecar(h5)
    try:
        if sidecar.frames is None or 1 not in sidecar.rois:
            return False
        with read_faults(h5, "/frames/gray unreadable"):
            return float(np.median(panel_mean(sidecar.frames, sidecar.rois[1], frames))) > 127
    finally:
        sidecar.close()


def sibling_tvd(h5: str | os.PathLike) -> Path:
    """``<stem>.tvd.h5`` -> the ``<stem>.tvd`` beside it (any other name: its suffix dropped)."""
    path = Path(h5)
    return path.with_name(path.name[:-len(".h5")]) if path.name.endswith(".tvd.h5") else path.with_suffix("")


def native_mp4(h5: str | os.PathLike) -> Path:
    """The ``<stem>.mp4`` beside a sidecar: EchoWave's own export for dual-probe recordings (an
    independent frame count), this package's single-panel output otherwise (a consistency check)."""
    path = Path(h5)
    stem = path.name[:-len(".tvd.h5")] if path.name.endswith(".tvd.h5") else path.stem
    return path.with_name(f"{stem}.mp4")


def mp4_frame_count(path: str | os.PathLike) -> int | None:
    """The frame count an mp4's video stream declares (container metadata, nothing decoded);
    None when it cannot be read or declares none."""
    try:
        import av

        with av.open(os.fspath(path)) as container:
            count = int(container.streams.video[0].frames)
    except Exception:  # noqa: BLE001 - any unreadable or foreign file simply gives no reference
        return None
    return count or None


def completeness(h5: str | os.PathLike, tol: int = COMPLETENESS_TOLERANCE) -> dict[str, Any]:
    """The completeness record of one sidecar: ``extracted`` (frames it holds), ``declared`` (the
    stored ``tvd_declared_n_frames``, else the sibling ``.tvd`` header's), ``native_mp4`` (frames
    of the ``<stem>.mp4`` beside it), ``issues`` (each reference more than ``tol`` frames above
    ``extracted``) and ``status``: "complete", "truncated", "unknown" (no reference) or
    "error: ..." (unreadable sidecar; the counts are then None)."""
    try:
        sidecar = read_sidecar(h5, keep_open=False)
    except SonobridgeError as error:
        return {"extracted": None, "declared": None, "native_mp4": None, "status": f"error: {error.problem}",
                "issues": []}
    extracted, declared = sidecar.n_frames, sidecar.tvd_declared_n_frames
    if declared is None and sibling_tvd(h5).is_file():
        declared = read_tvd_n_frames(sibling_tvd(h5))
    mp4 = native_mp4(h5)
    native = mp4_frame_count(mp4) if mp4.is_file() else None
    issues = []
    if declared is not None and declared - extracted > tol:
        issues.append(f".tvd header declares {declared} (~{declared - extracted} missing)")
    if native is not None and native - extracted > tol:
        issues.append(f"native mp4 has {native} (~{native - extracted} missing)")
    status = "unknown" if declared is None and native is None else "truncated" if issues else "complete"
    return {"extracted": extracted, "declared": declared, "native_mp4": native, "status": status, "issues": issues}


def completeness_line(h5: str | os.PathLike, info: dict[str, Any]) -> str:
    """One report line: ``[complete]  scan.tvd.h5: extracted=40 [.tvd=42]`` (issues appended)."""
    name, status = Path(h5).name, info["status"]
    if status.startswith("error"):
        return f"[error]      {name}: {status[len('error: '):]}"
    references = [f"{label}={info[key]}" for key, label in (("declared", ".tvd"), ("native_mp4", "native_mp4"))
                  if info[key] is not None]
    line = f"{TAGS[status]}  {name}: extracted={info['extracted']} " \
           f"[{', '.join(references) if references else 'no reference'}]"
    return line + (" -- " + "; ".join(info["issues"]) if info["issues"] else "")


def backfill(h5: str | os.PathLike) -> str:
    """Store the sibling ``.tvd``'s declared frame count in sidecar ``h5`` (in a copy that replaces
    it by rename, so a crash leaves the old file). Returns "added (N)", "updated (N)" (an earlier
    value replaced), "skipped: no sibling .tvd", "skipped: unparseable .tvd header" or "error: ..."."""
    import shutil

    import h5py

    from ...util.atomic import atomic_path

    tvd = sibling_tvd(h5)
    if not tvd.is_file():
        return "skipped: no sibling .tvd"
    declared = read_tvd_n_frames(tvd)
    if declared is None:
        return "skipped: unparseable .tvd header"
    try:
        with atomic_path(h5) as temporary:
            shutil.copy2(h5, temporary)
            with read_faults(h5, "not a writable HDF5 sidecar"), h5py.File(temporary, "r+") as handle:
                existed = "tvd_declared_n_frames" in handle.attrs
                handle.attrs["tvd_declared_n_frames"] = int(declared)
    except (SonobridgeError, OSError) as error:
        return f"error: {getattr(error, 'problem', error)}"
    return f"{'updated' if existed else 'added'} ({declared})"
