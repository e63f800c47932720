"""The stages of the cohort pipeline, one recording at a time. Each stage checks whether its
output is already complete and valid (not merely present) and returns an
:class:`~sonobridge.core.outcome.Outcome` (report text ``"built"``, ``"hit"``, ``"skipped: ..."``
or ``"error: ..."``); outputs are written under temporary names and renamed.

The stages know no file format: each asks the format registry for the format that serves it
(:func:`sonobridge.formats.stage_spec`) and for the recording's own format.

* ingest: the recording in the interchange format (zea HDF5, ``<stem>.hdf5``) unless it already
  is one (such an input is validated once per recording, for ingest and qc); done when its
  record matches.
* video: one lossless mp4 + frame index (+ ``.dnav-toc``) per image stream; done when the index
  matches the video (and the ``.dnav-toc`` the index: a stale one is rewritten from it).
* qc: completeness (frames vs declared, with the tolerance of the format the stream was read
  from), timing gaps, calibration, whether the first and last frames decode, and the checks the
  recording's format adds (Telemed: LUT inversion; zea: validity of the input).
* dicom (optional): an Ultrasound Multi-frame object (``<stem>.dcm``); done when its record
  matches and its first frame decodes.

Outputs follow their sources: every output records the digest of the source key (names, sizes,
modification times and a content fingerprint of the source files, :func:`source_key`) it was
built from, and counts as done only while that matches the source as it is now. One mechanism
per kind of output: a one-file output has a record beside it, ``<output>.source.json``
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
from pathlib import Path
from typing import Any

import numpy as np

from ..core.options import ReadOptions
from ..core.outcome import Outcome, outcome
from ..core.recording import Recording, Stream
from ..errors import SonobridgeError
from ..formats.registry import get_format, not_applicable, specs, stage_spec
from ..formats.spec import FormatSpec
from ..util.filekey import file_key

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
    options: ReadOptions = ReadOptions()
    anonymise: bool = False          # outputs without identity (sonobridge.core.anonymise)

    @property
    def spec(self) -> FormatSpec:
        """The recording's format."""
        return get_format(self.format)

    @property
    def root(self) -> Path:
        """The file or folder the recording lives in (its format's rule)."""
        return self.spec.root_of(self.label)

    @property
    def source_files(self) -> list[Path]:
        """The files the recording is read from (its format's rule: e.g. a file, a package as a
        whole, or the files of one capture in a folder)."""
        return self.spec.files_of(self.label)

    def open(self) -> Recording:
        """Read the recording."""
        from ..formats import find_recordings

        for source in find_recordings(self.root):
            if source.label == self.label:
                return source.open(**self.options.as_keywords())
        raise SonobridgeError(self.label, "no longer found")


@dataclass(frozen=True)
class Validation:
    """A validated input: ``valid`` and its error ``findings`` (printable, one line each)."""

    valid: bool
    findings: list[str]


def input_validation(item: Item) -> Validation | None:
    """The input checked against its own format's rules (:attr:`FormatSpec.validate`); None for
    formats that define none. A file that cannot be checked is invalid, with that finding."""
    spec = item.spec
    if spec.validate is None:
        return None
    try:
        report = spec.validate(item.label)
        return Validation(bool(report.valid), [str(finding) for finding in report.errors])
    except Exception as error:  # noqa: BLE001 - a damaged file is a finding, not a crash
        return Validation(False, [f"cannot be validated ({type(error).__name__}: {error})"])


class ItemInputs:
    """What the stages of one recording read, each computed once per run of the item (the stages
    of one item run in order, in one thread): calling it opens the recording (on first use),
    :attr:`validation` validates the input (formats that define validation)."""

    def __init__(self, item: Item) -> None:
        self.item = item

    @functools.cached_property
    def recording(self) -> Recording:
        return self.item.open()

    def __call__(self) -> Recording:
        return self.recording

    @functools.cached_property
    def validation(self) -> Validation | None:
        return input_validation(self.item)

    @functools.cached_property
    def not_applicable(self) -> str | None:
        return not_applicable(self.item.label, self.item.format)


Opener = Callable[[], "Recording"]


def _validation(item: Item, recording: Opener) -> Validation | None:
    """:func:`input_validation` of the item, once per :class:`ItemInputs`."""
    return recording.validation if isinstance(recording, ItemInputs) else input_validation(item)


def _not_applicable(item: Item, recording: Opener) -> str | None:
    """Why the pipeline has nothing to do with the item (its format says, e.g. a DICOM SR or a
    CT image in an ultrasound cohort), once per :class:`ItemInputs`; None when it applies."""
    if isinstance(recording, ItemInputs):
        return recording.not_applicable
    return not_applicable(item.label, item.format)


def _outcome(function, *args: Any, **kwargs: Any) -> Outcome:
    try:
        return function(*args, **kwargs)
    except SonobridgeError as error:
        return Outcome.error(error.problem)
    except (ValueError, OSError, IndexError) as error:      # third-party text: its first line only
        return Outcome.error(f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}")


def source_key(item: Item) -> list:
    """Per source file of the recording: name, size, modification time (ns) and SHA-256 of its
    first and last 64 KiB (so that a same-size rewrite keeping the modification time is seen
    too). A re-run reuses an output only while the key it was built from is unchanged."""
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
    from ..util.atomic import write_bytes_atomic

    document = {"format": RECORD_FORMAT, "source_digest": digest, "output_key": file_key(output)}
    write_bytes_atomic(record_path(output), json.dumps(document, indent=1).encode())


def record_matches(output: Path, digest: str | None) -> bool:
    """Whether the record beside ``output`` vouches for it as it is now (same key) and, when
    ``digest`` is given, for the source with that digest."""
    try:
        recorded = json.loads(record_path(output).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("format") == RECORD_FORMAT \
        and (digest is None or recorded.get("source_digest") == digest) \
        and recorded.get("output_key") == file_key(output)


def stage_done(stage: str, path: str | os.PathLike, digest: str | None = None) -> bool:
    """Whether ``path``, an output of ``stage``, is complete, intact and built from the source
    with ``digest`` (any when None). A one-file output: its record matches and its format's
    check passes (:attr:`FormatSpec.output_done`, e.g. a DICOM file's first frame decodes). An
    output of a format that writes a folder (videos): its format's check, which also matches the
    digest its index records. An output that cannot be checked is not done."""
    spec, path = stage_spec(stage), Path(path)
    try:
        if spec.writes_folder:
            return spec.output_done is not None and bool(spec.output_done(path, digest))
        if not path.exists() or not record_matches(path, digest):
            return False
        return spec.output_done is None or bool(spec.output_done(path, digest))
    except Exception as error:  # noqa: BLE001 - a damaged output: rebuild it
        return _unusable(path, error)


def writer_specs() -> list[FormatSpec]:
    """The formats whose writers serve a pipeline stage (:attr:`FormatSpec.stage`), in registry order."""
    return [spec for spec in specs() if spec.stage and spec.write is not None]


def outputs_complete(result: dict[str, Any], out_dir: Path, item: Item, digest: str | None = None) -> bool:
    """Whether every output a previous result lists is still there, checks out and was built
    from the source with ``digest``."""
    if "run" in result:
        return False
    for spec in writer_specs():
        state = result.get(spec.stage)
        if spec.writes_folder:                  # {path: outcome}, every one checked
            if not isinstance(state, dict) or any(_failed(value) for value in state.values()):
                return False
            if not all(stage_done(spec.stage, path, digest) for path, value in state.items()
                       if (done := outcome(value)) is None or done.ok):    # not_applicable: nothing to check
                return False
        elif _failed(state):
            return False
        elif (previous := outcome(state)) is not None and previous.ok \
                and not stage_done(spec.stage, out_dir / f"{item.stem}{spec.write_suffix}", digest):
            return False
    return True


def _failed(value: Any) -> bool:
    state = outcome(value) if isinstance(value, str) else None
    return state is not None and state.failed


def _one_file(stage: str, item: Item, out_dir: Path, overwrite: bool, recording: Opener,
              digest: str | None) -> Outcome:
    """A stage with one output file, ``<stem><suffix>`` in ``out_dir``: hit when
    :func:`stage_done`, else written by its format (record removed first, written after)."""
    spec = stage_spec(stage)
    target = out_dir / f"{item.stem}{spec.write_suffix}"

    def run() -> Outcome:
        if not overwrite and stage_done(stage, target, digest):
            return Outcome.hit(target)
        source = recording()
        record_path(target).unlink(missing_ok=True)        # never a record vouching for another file
        spec.write(source, target, overwrite=True, anonymise=item.anonymise)
        write_record(target, digest)
        return Outcome.built(target)
    return _outcome(run)


def ingest(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> Outcome:
    spec = stage_spec("ingest")
    if reason := _not_applicable(item, recording):
        return Outcome.not_applicable(reason)
    if item.format == spec.name:
        validation = _validation(item, recording)
        findings = validation.findings if validation is not None else []
        if findings:          # not passed through as if it were fine
            more = f" (+{len(findings) - 1} more, see qc)" if len(findings) > 1 else ""
            return Outcome.error(f"the {spec.name} input does not validate: {findings[0]}{more}")
        return Outcome.skipped(f"already {spec.name}")
    return _one_file("ingest", item, out_dir, overwrite, recording, digest)


def video(item: Item, out_dir: Path, overwrite: bool, recording: Opener,
          digest: str | None = None) -> dict[str, Outcome]:
    spec = stage_spec("video")
    if reason := _not_applicable(item, recording):
        return {str(out_dir / f"{item.stem}{spec.write_suffix}"): Outcome.not_applicable(reason)}
    try:
        produced = spec.write(recording(), out_dir, stem=item.stem, skip_existing=not overwrite, overwrite=overwrite,
                              progress=False, source_digest=digest, anonymise=item.anonymise)
    except SonobridgeError as error:
        return {str(out_dir / f"{item.stem}{spec.write_suffix}"): Outcome.error(error.problem)}
    return {path: outcome(state) or state for path, state in produced.items()}


def dicom(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> Outcome:
    if reason := _not_applicable(item, recording):
        return Outcome.not_applicable(reason)
    return _one_file("dicom", item, out_dir, overwrite, recording, digest)


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


def frame_tolerance(stream: Stream, item_format: str) -> int:
    """Frames ``stream`` may lack against its declared count and still be complete: the
    tolerance of the format it was read from (its provenance; a zea file written from a Telemed
    recording keeps Telemed's), else of the recording's format."""
    for name in (stream.provenance.format if stream.provenance else None, item_format):
        if name:
            try:
                return get_format(name).frame_tolerance
            except SonobridgeError:           # e.g. "derived": not a file format
                continue
    return 0


def stream_qc(stream: Stream, tolerance: int) -> dict[str, Any]:
    """QC of one stream: frames vs declared (complete when at most ``tolerance`` are missing),
    timing gaps, calibration, first and last frames decodable."""
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


def qc(item: Item, out_dir: Path, overwrite: bool, recording: Opener, digest: str | None = None) -> dict[str, Any]:
    """Per stream: frames vs declared, timing gaps, calibration present, first and last frames
    decodable; then the checks of the recording's format (:attr:`FormatSpec.validate` of the
    input as ``<format>_valid`` / ``<format>_findings`` first, :attr:`FormatSpec.qc` last)."""
    spec = item.spec
    if reason := _not_applicable(item, recording):
        return {"not_applicable": reason}
    validation = _validation(item, recording)
    report: dict[str, Any] = {} if validation is None else \
        {f"{spec.name}_valid": validation.valid, f"{spec.name}_findings": validation.findings}
    try:
        streams = recording().streams
    except SonobridgeError as error:
        return {**report, "error": error.problem}
    for name, stream in streams.items():
        report[name] = stream_qc(stream, frame_tolerance(stream, item.format))
    if spec.qc is not None:
        report.update(spec.qc(item.label))
    return report


STAGES = {"ingest": ingest, "video": video, "qc": qc, "dicom": dicom}
