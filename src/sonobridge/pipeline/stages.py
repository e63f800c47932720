"""The stages of the cohort pipeline, one recording at a time. Each stage checks whether its
output is already complete and valid (not merely present) and returns ``"built"``, ``"hit"``,
``"skipped: ..."`` or ``"error: ..."``; outputs are written under temporary names and renamed.

* ingest: the recording as a zea-format HDF5 file (``<stem>.hdf5``) unless it already is one
  (a zea input is validated once per recording, for ingest and qc); done when its record matches.
* video: one lossless mp4 + frame index (+ ``.dnav-toc``) per image stream; done when the index
  matches the video (and the ``.dnav-toc`` the index: a stale one is rewritten from it).
* qc: completeness (frames vs declared), timing gaps, calibration, whether the first and last
  frames decode, LUT inversion (Telemed), validity of a zea input.
* dicom (optional): an Ultrasound Multi-frame object (``<stem>.dcm``); done when its record
  matches and its first frame decodes.

Outputs follow their sources: every output records the digest of the source key (names, sizes,
modification times and a content fingerprint of the source files, :func:`source_key`) it was
built from, and counts as done only while that matches the source as it is now. One mechanism
per kind of output: the zea and DICOM outputs have a record beside them, ``<output>.source.json``
(keeping the outputs themselves free of private data); a video has its index
(``source.source_digest``). Only a digest is stored, never the source's file names.

Outputs must also be intact, without reading them whole on every re-run: the record holds the
output's key (size, modification time in ns, SHA-256 of its first and last 64 KiB), as the video
index keys its video (and datanavigator its ``.dnav-toc``), so an output rewritten, truncated,
copied from elsewhere or changed near its start or end is not trusted. A change of bytes in the
middle of an output that keeps its size and puts its modification time back is not seen (the
price of a re-run that costs a few per cent of the first run); ``--overwrite`` rebuilds. An
output that cannot be opened or checked (damaged bytes) is not done either, and is rebuilt.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..core.recording import Recording, Stream
from ..errors import SonobridgeError

log = logging.getLogger(__name__)

GAP_FACTOR = 2.0          # an interval longer than this many median intervals is a timing gap
RECORD_SUFFIX = ".source.json"        # <output>.source.json: what an output was built from, and its key
RECORD_FORMAT = "sonobridge-output-record/1"


@dataclass(frozen=True)
class Item:
    """One recording of the cohort: where it is, its format, the stem of its outputs and the
    reader options (e.g. ``probe`` for captures that do not record theirs)."""

    label: str
    format: str
    stem: str
    options: tuple[tuple[str, Any], ...] = ()
    anonymise: bool = False          # outputs without identity (sonobridge.core.anonymise)

    @property
    def root(self) -> Path:
        """The file or folder the recording lives in (a Clarius label is ``container:prefix`` or
        ``tar:folder/prefix``; a single Clarius stream file is labelled by its path)."""
        container = self.label.rpartition(":")[0]
        if self.format == "clarius-raw" and container and not Path(self.label).exists():
            return Path(container)
        return Path(self.label)

    @property
    def source_files(self) -> list[Path]:
        """The files the recording is read from: its file (a tar package as a whole), or for
        loose Clarius files the files of the capture (``<prefix>_*``: its streams' ``.raw``,
        ``.yml``, ``.tgc``, IMU) in its folder."""
        from ..formats.clarius.package import split_name

        root = self.root
        if self.format != "clarius-raw":
            return [root]
        if root.is_dir():
            folder, prefix = root, PurePosixPath(self.label.rpartition(":")[2]).name
        elif (parts := split_name(root.name)) is not None:          # one stream file named by the user
            folder, prefix = root.parent, parts[0]
        else:
            return [root]
        return sorted(p for p in folder.iterdir() if p.is_file() and p.name.startswith(f"{prefix}_"))

    def open(self) -> Recording:
        """Read the recording."""
        from ..formats import find_recordings

        for source in find_recordings(self.root):
            if source.label == self.label:
                return source.open(**dict(self.options))
        raise SonobridgeError(self.label, "no longer found")


class ItemInputs:
    """What the stages of one recording read, each computed once per run of the item (the stages
    of one item run in order, in one thread): calling it opens the recording (on first use),
    :meth:`zea_input_qc` validates a zea input."""

    def __init__(self, item: Item) -> None:
        self.item = item

    @functools.cached_property
    def recording(self) -> Recording:
        return self.item.open()

    def __call__(self) -> Recording:
        return self.recording

    @functools.cached_property
    def zea_qc(self) -> dict[str, Any]:
        return zea_input_qc(self.item.label)


Opener = Callable[[], "Recording"]


def _zea_input_qc(item: Item, recording: Opener) -> dict[str, Any]:
    """:func:`zea_input_qc` of a zea input, once per :class:`ItemInputs`."""
    return recording.zea_qc if isinstance(recording, ItemInputs) else zea_input_qc(item.label)


def _status(function, *args: Any, **kwargs: Any) -> str:
    try:
        return function(*args, **kwargs)
    except SonobridgeError as error:
        return f"error: {error.problem}"
    except (ValueError, OSError, IndexError) as error:      # third-party text: its first line only
        return f"error: {type(error).__name__}: {(str(error).splitlines() or [''])[0]}"


def source_key(item: Item) -> list:
    """Per source file of the recording: name, size, modification time (ns) and SHA-256 of its
    first and last 64 KiB (so that a same-size rewrite keeping the modification time is seen
    too). A re-run reuses an output only while the key it was built from is unchanged."""
    from ..formats.video.index import file_key

    key = []
    for path in item.source_files:
        content = file_key(path)
        key.append([path.name, content["size"], path.stat().st_mtime_ns, content["head_sha256"],
                    content["tail_sha256"]])
    return key


def source_digest(key: list) -> str:
    """SHA-256 (hex) of a :func:`source_key`: what outputs record (no file names in them)."""
    return hashlib.sha256(json.dumps(key, separators=(",", ":")).encode()).hexdigest()


def output_digest(key: list, anonymise: bool = False) -> str:
    """The digest outputs of a source with :func:`source_key` ``key`` record: the source digest,
    with the anonymise setting folded in (an anonymised output is another output)."""
    return source_digest([*key, ["anonymised", "PS3.15 basic"]] if anonymise else key)


def _unusable(path: Path, error: BaseException) -> bool:
    log.info("%s: cannot be checked (%s: %s); it will be rebuilt", path, type(error).__name__, error)
    return False


def record_path(output: Path) -> Path:
    """``<output>.source.json``: the output record of ``output``."""
    return Path(f"{os.fspath(output)}{RECORD_SUFFIX}")


def write_record(output: Path, digest: str | None) -> None:
    """Record, beside a finished ``output``, the source digest it was built from and its key
    (size, modification time, SHA-256 of its first and last 64 KiB; the output is not read whole)."""
    from ..export.atomic import write_bytes_atomic
    from ..formats.video.index import file_key

    document = {"format": RECORD_FORMAT, "source_digest": digest, "output_key": file_key(output)}
    write_bytes_atomic(record_path(output), json.dumps(document, indent=1).encode())


def record_matches(output: Path, digest: str | None) -> bool:
    """Whether the record beside ``output`` vouches for it as it is now (same key) and, when
    ``digest`` is given, for the source with that digest."""
    from ..formats.video.index import file_key

    try:
        recorded = json.loads(record_path(output).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("format") == RECORD_FORMAT \
        and (digest is None or recorded.get("source_digest") == digest) \
        and recorded.get("output_key") == file_key(output)


def zea_done(path: Path, digest: str | None = None) -> bool:
    """Whether ``path`` is our zea output, unchanged since it was written (and validated) from
    the source with ``digest`` (any when None): its record matches. A file that cannot be
    checked is not done."""
    if not path.exists():
        return False
    try:
        return record_matches(path, digest)
    except Exception as error:  # noqa: BLE001 - a file that cannot be keyed: rebuild it
        return _unusable(path, error)


def dicom_done(path: Path, digest: str | None = None) -> bool:
    """Whether ``path`` is our intact DICOM output of the source with ``digest`` (any when
    None): its record matches, and its first frame decodes."""
    from ..formats.dicom.pixels import decode

    if not path.exists():
        return False
    try:
        if not record_matches(path, digest):
            return False
        decode(path, frame=1)
    except Exception as error:  # noqa: BLE001 - a damaged output: rebuild it
        return _unusable(path, error)
    return True


def video_done(path: str | os.PathLike, digest: str | None = None) -> bool:
    """Whether a video is complete: its index matches it and records ``digest`` (any when
    None), its ``.dnav-toc`` matches the index (a stale one is rewritten from it)."""
    from ..formats.video.index import complete_index

    try:
        return complete_index(path, digest) is not None
    except Exception as error:  # noqa: BLE001 - a sidecar that cannot be rewritten: rebuild
        return _unusable(Path(path), error)


def outputs_complete(result: dict[str, Any], out_dir: Path, item: Item, digest: str | None = None) -> bool:
    """Whether every output a previous result lists is still there, checks out and was built
    from the source with ``digest``."""
    if any(str(result.get(stage, "")).startswith("error") for stage in ("ingest", "dicom")) or "run" in result:
        return False
    if result.get("ingest") in ("built", "hit") and not zea_done(out_dir / f"{item.stem}.hdf5", digest):
        return False
    if result.get("dicom") in ("built", "hit") and not dicom_done(out_dir / f"{item.stem}.dcm", digest):
        return False
    videos = result.get("video")
    if not isinstance(videos, dict) or any(str(s).startswith("error") for s in videos.values()):
        return False
    return all(video_done(path, digest) for path in videos)


def _one_file(target: Path, done: Callable[[Path, str | None], bool], write: Callable, overwrite: bool,
              recording: Opener, digest: str | None) -> str:
    """A stage with one output file: "hit" when ``done(target, digest)``, else
    ``write(recording, target, digest)``."""
    def run() -> str:
        if not overwrite and done(target, digest):
            return "hit"
        write(recording(), target, digest)
        return "built"
    return _status(run)


def _write_zea(recording: Recording, target: Path, digest: str | None, anonymise: bool = False) -> None:
    from ..export.zea import export_zea

    record_path(target).unlink(missing_ok=True)        # never a record vouching for another file
    export_zea(recording, target, overwrite=True, anonymise=anonymise)
    write_record(target, digest)


def _write_dicom(recording: Recording, target: Path, digest: str | None, anonymise: bool = False) -> None:
    from ..export.dicom import export_dicom

    record_path(target).unlink(missing_ok=True)
    export_dicom(recording, target, overwrite=True, anonymise=anonymise)
    write_record(target, digest)


def ingest(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> str:
    if item.format == "zea":
        findings = _zea_input_qc(item, recording)["zea_findings"]
        if findings:          # not passed through as if it were fine
            more = f" (+{len(findings) - 1} more, see qc)" if len(findings) > 1 else ""
            return f"error: the zea input does not validate: {findings[0]}{more}"
        return "skipped: already zea"
    write = functools.partial(_write_zea, anonymise=item.anonymise)
    return _one_file(out_dir / f"{item.stem}.hdf5", zea_done, write, overwrite, recording, digest)


def video(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> dict[str, str]:
    try:
        from ..export.video import export_video

        return export_video(recording(), out_dir, stem=item.stem, skip_existing=not overwrite, overwrite=overwrite,
                            progress=False, source_digest=digest, anonymise=item.anonymise)
    except SonobridgeError as error:
        return {str(out_dir / f"{item.stem}.mp4"): f"error: {error.problem}"}


def dicom(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> str:
    write = functools.partial(_write_dicom, anonymise=item.anonymise)
    return _one_file(out_dir / f"{item.stem}.dcm", dicom_done, write, overwrite, recording, digest)


def decodable(stream: Stream) -> str | None:
    """None when the stream's first and last frames decode, else why not (a stream that
    declares frames but whose bytes are garbage must not pass as having frames)."""
    if not stream.has_frames or stream.n_frames == 0:
        return None
    try:
        for index in sorted({0, stream.n_frames - 1}):
            np.asarray(stream.frames[index])
    except SonobridgeError as error:
        return error.problem
    except Exception as error:  # noqa: BLE001 - codecs raise arbitrary types on garbage bytes
        return f"{type(error).__name__}: {error}"
    return None


def _stream_qc(stream: Stream, tolerance: int) -> dict[str, Any]:
    times = stream.timestamps_s
    gaps = 0
    if times is not None and times.size > 2:
        steps = np.diff(times)
        gaps = int(np.sum(steps > GAP_FACTOR * np.median(steps)))
    declared = stream.declared_n_frames
    report = {"n_frames": stream.n_frames, "declared": declared,
              "complete": None if not declared else stream.n_frames >= declared - tolerance,
              "timing_gaps": gaps, "calibrated": stream.geometry is not None, "has_frames": stream.has_frames}
    if stream.has_frames:
        problem = decodable(stream)
        report["decodable"] = problem is None
        if problem is not None:
            report["has_frames"], report["decode_error"] = False, problem
    return report


def zea_input_qc(path: str | os.PathLike) -> dict[str, Any]:
    """``{"zea_valid": bool, "zea_findings": [error findings]}`` of a zea input file."""
    from ..zea import validate

    try:
        report = validate(path)
    except Exception as error:  # noqa: BLE001 - a damaged file is a finding, not a crash
        return {"zea_valid": False, "zea_findings": [f"cannot be validated ({type(error).__name__}: {error})"]}
    return {"zea_valid": bool(report.valid), "zea_findings": [str(finding) for finding in report.errors]}


def qc(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> dict[str, Any]:
    """Per stream: frames vs declared, timing gaps, calibration present, first and last frames
    decodable; LUT inversion for Telemed; validity of a zea input."""
    from ..telemed import COMPLETENESS_TOLERANCE, looks_lut_inverted

    report: dict[str, Any] = dict(_zea_input_qc(item, recording)) if item.format == "zea" else {}
    try:
        streams = recording().streams
    except SonobridgeError as error:
        return {**report, "error": error.problem}
    for name, stream in streams.items():
        report[name] = _stream_qc(stream, COMPLETENESS_TOLERANCE)
    if item.format == "telemed-tvd-h5":
        report["lut_inverted"] = looks_lut_inverted(item.label)
    return report


STAGES = {"ingest": ingest, "video": video, "qc": qc, "dicom": dicom}
