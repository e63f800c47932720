"""The stages of the cohort pipeline, one recording at a time. Each stage checks whether its
output is already complete and valid (not merely present) and returns ``"built"``, ``"hit"``,
``"skipped: ..."`` or ``"error: ..."``; outputs are written under temporary names and renamed.

* ingest: the recording as a zea-format HDF5 file (``<stem>.hdf5``) unless it already is one;
  done when the file validates.
* video: one lossless mp4 + frame index (+ ``.dnav-toc``) per image stream; done when the index
  matches the video.
* qc: completeness (frames vs declared), timing gaps, calibration, LUT inversion (Telemed).
* dicom (optional): an Ultrasound Multi-frame object (``<stem>.dcm``); done when it decodes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.recording import Recording
from ..errors import SonobridgeError

GAP_FACTOR = 2.0          # an interval longer than this many median intervals is a timing gap


@dataclass(frozen=True)
class Item:
    """One recording of the cohort: where it is, its format, the stem of its outputs and the
    reader options (e.g. ``probe`` for captures that do not record theirs)."""

    label: str
    format: str
    stem: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def root(self) -> Path:
        """The file or folder the recording lives in (a Clarius label is ``container:prefix``)."""
        return Path(self.label.rpartition(":")[0] if self.format == "clarius-raw" else self.label)

    def open(self) -> Recording:
        """Read the recording."""
        from ..formats import find_recordings

        for source in find_recordings(self.root):
            if source.label == self.label:
                return source.open(**dict(self.options))
        raise SonobridgeError(self.label, "no longer found")


Opener = Callable[[], "Recording"]


def _status(function, *args: Any, **kwargs: Any) -> str:
    try:
        return function(*args, **kwargs)
    except SonobridgeError as error:
        return f"error: {error.problem}"
    except (ValueError, OSError, IndexError) as error:
        return f"error: {type(error).__name__}: {error}"


def source_key(item: Item) -> list:
    """Size and modification time of the recording's source (all files of a folder): a re-run
    reuses the previous run's results only while this is unchanged."""
    root = item.root
    files = sorted(p for p in root.iterdir() if p.is_file()) if root.is_dir() else [root]
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def zea_done(path: Path) -> bool:
    from ..zea import validate

    return path.exists() and validate(path).valid


def dicom_done(path: Path) -> bool:
    from ..formats.dicom.pixels import decode

    if not path.exists():
        return False
    try:
        decode(path, frame=1)
    except SonobridgeError:
        return False
    return True


def outputs_complete(result: dict[str, Any], out_dir: Path, item: Item) -> bool:
    """Whether every output a previous result lists is still there and checks out."""
    from ..formats.video.index import load_index

    if any(str(result.get(stage, "")).startswith("error") for stage in ("ingest", "dicom")) or "run" in result:
        return False
    if result.get("ingest") in ("built", "hit") and not zea_done(out_dir / f"{item.stem}.hdf5"):
        return False
    if result.get("dicom") in ("built", "hit") and not dicom_done(out_dir / f"{item.stem}.dcm"):
        return False
    videos = result.get("video")
    if not isinstance(videos, dict) or any(str(s).startswith("error") for s in videos.values()):
        return False
    return all(load_index(path) is not None for path in videos)


def _one_file(target: Path, done: Callable[[Path], bool], write: Callable, overwrite: bool,
              recording: Opener) -> str:
    """A stage with one output file: "hit" when ``done(target)``, else ``write(recording, target)``."""
    def run() -> str:
        if not overwrite and done(target):
            return "hit"
        write(recording(), target, overwrite=True)
        return "built"
    return _status(run)


def ingest(item: Item, out_dir: Path, overwrite: bool, recording: Opener) -> str:
    from ..export.zea import export_zea

    if item.format == "zea":
        return "skipped: already zea"
    return _one_file(out_dir / f"{item.stem}.hdf5", zea_done, export_zea, overwrite, recording)


def video(item: Item, out_dir: Path, overwrite: bool, recording: Opener) -> dict[str, str]:
    try:
        from ..export.video import export_video

        return export_video(recording(), out_dir, stem=item.stem, skip_existing=not overwrite, overwrite=overwrite,
                            progress=False)
    except SonobridgeError as error:
        return {str(out_dir / f"{item.stem}.mp4"): f"error: {error.problem}"}


def dicom(item: Item, out_dir: Path, overwrite: bool, recording: Opener) -> str:
    from ..export.dicom import export_dicom

    return _one_file(out_dir / f"{item.stem}.dcm", dicom_done, export_dicom, overwrite, recording)


def qc(item: Item, out_dir: Path, overwrite: bool, recording: Opener) -> dict[str, Any]:
    """Per stream: frames vs declared, timing gaps, calibration present; LUT inversion for Telemed."""
    from ..telemed import COMPLETENESS_TOLERANCE, looks_lut_inverted

    try:
        streams = recording().streams
    except SonobridgeError as error:
        return {"error": error.problem}
    report: dict[str, Any] = {}
    for name, stream in streams.items():
        times = stream.timestamps_s
        gaps = 0
        if times is not None and times.size > 2:
            steps = np.diff(times)
            gaps = int(np.sum(steps > GAP_FACTOR * np.median(steps)))
        declared = stream.declared_n_frames
        report[name] = {"n_frames": stream.n_frames, "declared": declared,
                        "complete": None if not declared else stream.n_frames >= declared - COMPLETENESS_TOLERANCE,
                        "timing_gaps": gaps, "calibrated": stream.geometry is not None,
                        "has_frames": stream.has_frames}
    if item.format == "telemed-tvd-h5":
        report["lut_inverted"] = looks_lut_inverted(item.label)
    return report


STAGES = {"ingest": ingest, "video": video, "qc": qc, "dicom": dicom}
