"""The resumable, parallel driver of the dataset converters.

``run_dataset(name, source, destination)`` asks the dataset module for its plan (one
:class:`~.job.DatasetJob` per output), skips the outputs that are complete and were built from
the sources as they are now, converts the rest on all cores and returns one
:class:`DatasetResult` per output.

Resumable, idempotent per output:

- every output is written under a temporary name beside it (``.<name>.<random>.partial``) and
  renamed when complete; a killed run leaves only such partial files, which a later run removes;
- once an output is renamed into place, a line ``{output, digest, size, mtime_ns}`` is appended
  to the journal ``.sonobridge-convert.jsonl`` in the destination folder. The digest covers the
  dataset, the job's options and the cheap content key (:func:`~sonobridge.util.filekey.file_key`)
  of every source file. An output counts as done only when the journal's last line for it matches
  the digest of the job now and the output's size and modification time, so an output renamed
  before its line was written (a kill between the two) is rebuilt, and so is one whose source
  changed.

Examples
--------
>>> from sonobridge.formats.zea.datasets.driver import JOURNAL
>>> JOURNAL
'.sonobridge-convert.jsonl'
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ....core.outcome import Outcome, Status
from ....errors import FormatError, OutputError, SonobridgeError, UnsupportedInputError, read_faults
from ....util.filekey import file_key
from .job import DatasetJob

log = logging.getLogger(__name__)

#: the journal of finished outputs, in the destination folder
JOURNAL = ".sonobridge-convert.jsonl"
#: bump when a converter's output changes for the same input: every output is then rebuilt once
DRIVER_VERSION = 1
PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class DatasetResult:
    """What happened to one planned output.

    Parameters
    ----------
    job : DatasetJob
        The job (with its final output path).
    outcome : Outcome
        ``built``, ``hit`` (already complete and up to date) or ``error: <reason>``; the reason
        names the input file.
    seconds : float
        Wall time spent converting (0 for a hit).
    """

    job: DatasetJob
    outcome: Outcome
    seconds: float = 0.0

    @property
    def output(self) -> Path:
        return self.job.output

    @property
    def status(self) -> Status:
        return self.outcome.status

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def failed(self) -> bool:
        return self.outcome.failed

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {"output": str(self.job.output), "sources": [str(s) for s in self.job.sources],
                "status": self.outcome.status.value, "reason": self.outcome.reason,
                "seconds": round(self.seconds, 3)}


# ------------------------------------------------------------------ digests and the journal
def job_digest(job: DatasetJob) -> str:
    """SHA-256 hex of the job's dataset, options and sources' content keys (the output path
    excluded: it is the journal's key)."""
    keys = []
    for source in job.sources:
        key = file_key(source)
        keys.append([str(source), key["size"], key["mtime"], key["head_sha256"], key["tail_sha256"]])
    text = json.dumps([DRIVER_VERSION, job.dataset, [[k, repr(v)] for k, v in job.options], keys],
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def journal_root(destination: Path) -> Path:
    """The folder holding the journal: ``destination``, or its parent when it names one file."""
    return destination.parent if destination.suffix.lower() in (".hdf5", ".h5") else destination


class Journal:
    """The append-only record of finished outputs under ``root`` (last line per output wins)."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / JOURNAL
        self.entries: dict[str, dict[str, Any]] = {}
        with contextlib.suppress(OSError), open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    self.entries[str(entry["output"])] = entry
                except (ValueError, KeyError, TypeError):
                    continue        # a line cut short by a kill: that output is rebuilt

    def key(self, output: Path) -> str:
        try:
            return output.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(output.resolve())

    def done(self, output: Path, digest: str) -> bool:
        """Whether ``output`` is complete and was built from sources with ``digest``."""
        entry = self.entries.get(self.key(output))
        if entry is None or entry.get("digest") != digest:
            return False
        try:
            stat = output.stat()
        except OSError:
            return False
        return entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns

    def record(self, output: Path, digest: str) -> None:
        """Append the line saying ``output`` (now in place) was built from ``digest``."""
        stat = output.stat()
        entry = {"output": self.key(output), "digest": digest, "size": stat.st_size,
                 "mtime_ns": stat.st_mtime_ns}
        self.root.mkdir(parents=True, exist_ok=True)
        # no fsync: a line lost to a power cut only means a rebuild, and a line that outlives its
        # output's data is caught by the size and mtime check of done()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
        self.entries[entry["output"]] = entry

    def compact(self) -> None:
        """Rewrite the journal with one line per output that still exists."""
        from ....util.atomic import write_bytes_atomic

        kept = [entry for key, entry in self.entries.items() if (self.root / key).exists()]
        if self.path.exists():
            write_bytes_atomic(self.path, "".join(json.dumps(e) + "\n" for e in kept).encode())


# ------------------------------------------------------------------ running jobs
def dataset_module(name: str) -> ModuleType:
    """The converter module of the dataset ``name``; UnsupportedInputError for an unknown name."""
    from . import DATASETS

    if name not in DATASETS:
        raise UnsupportedInputError(None, f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    return importlib.import_module(DATASETS[name])


def remove_partials(folders: Iterable[Path]) -> None:
    """Delete what killed runs left: ``.<name>.*.partial`` files in ``folders``."""
    for folder in set(folders):
        with contextlib.suppress(OSError):
            for leftover in folder.glob(f".*{PARTIAL_SUFFIX}"):
                with contextlib.suppress(OSError):
                    leftover.unlink()


def _failure(job: DatasetJob, error: BaseException) -> Outcome:
    """``error`` as a failed outcome naming the input file (an output's own fault names the output)."""
    if isinstance(error, OutputError):
        return Outcome.error(str(error), path=job.output)
    if isinstance(error, SonobridgeError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    source = str(job.sources[0]) if job.sources else str(job.output)
    if source not in text:
        text = f"{source}: {text}"
    return Outcome.error(text, path=job.output)


def run_job(module_name: str, job: DatasetJob) -> tuple[Outcome, float]:
    """Convert one job (in a worker process) under a temporary name renamed into place
    (:func:`~sonobridge.util.atomic.atomic_path`: an unwritable folder or a full disk is an
    OutputError naming the output). Returns the outcome (``built`` or ``error: ...``) and the
    seconds spent."""
    from ....util.atomic import atomic_path

    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        with atomic_path(job.output) as temporary:
            temporary.unlink()                      # converters write a new file at the path given
            module.convert(dataclasses.replace(job, output=temporary))
            if not temporary.exists():
                raise SonobridgeError(job.output, "the converter wrote nothing")
    except Exception as error:              # noqa: BLE001 - one bad input must not end the run
        log.debug("conversion failed", exc_info=True)
        return _failure(job, error), time.perf_counter() - started
    return Outcome.built(job.output), time.perf_counter() - started


def run_jobs(module_name: str, jobs: list[DatasetJob]) -> list[tuple[Outcome, float]]:
    """:func:`run_job` for each of ``jobs`` in turn (one task of the pool: small outputs are
    sent in batches, so inter-process traffic does not outweigh the work)."""
    return [run_job(module_name, job) for job in jobs]


def _batches(pending: list, workers: int) -> list[list]:
    """``pending`` split into about 4 batches per worker (at most 16 jobs each)."""
    size = max(1, min(16, len(pending) // (4 * workers)))
    return [pending[start:start + size] for start in range(0, len(pending), size)]


def _checked_plan(jobs: list[DatasetJob], destination: Path) -> list[DatasetJob]:
    """``jobs`` unless one writes outside ``destination`` (a path part read from the dataset's own
    files, e.g. ``../``) or two write the same output: then FormatError, before anything is written."""
    root = journal_root(destination).resolve()
    seen: dict[Path, DatasetJob] = {}
    for job in jobs:
        output = job.output.resolve()
        if output != root and root not in output.parents:
            raise FormatError(job.sources[0] if job.sources else None,
                              f"its output {job.output} would lie outside {destination}")
        if output in seen:
            raise FormatError(job.sources[0] if job.sources else None,
                              f"two inputs would both be written to {job.output}")
        seen[output] = job
    return jobs


def _run_pooled(module_name: str, pending: list, workers: int, finished, bar) -> None:
    """Run ``pending`` ``(index, job, digest)`` on ``workers`` processes in batches, calling
    ``finished(index, job, digest, outcome, seconds)`` for each. A worker that dies (killed, out of
    memory) breaks the whole pool: the jobs left without a result are then run once more, each
    alone in a process of its own, so only a job that kills its worker by itself is failed."""
    from concurrent.futures.process import BrokenProcessPool

    unfinished: list = []
    with _executor(workers) as pool:
        futures = {pool.submit(run_jobs, module_name, [job for _, job, _ in batch]): batch
                   for batch in _batches(pending, workers)}
        for future in as_completed(futures):
            try:
                done = future.result()
            except BrokenProcessPool:
                unfinished += futures[future]
                continue
            for (index, job, digest), (outcome, seconds) in zip(futures[future], done):
                finished(index, job, digest, outcome, seconds)
            bar.update(len(done))
    for index, job, digest in unfinished:
        with _executor(1) as alone:
            try:
                outcome, seconds = alone.submit(run_job, module_name, job).result()
            except BrokenProcessPool as error:
                outcome, seconds = _failure(job, SonobridgeError(None, f"its worker process died ({error})")), 0.0
        finished(index, job, digest, outcome, seconds)
        bar.update()


def _executor(workers: int) -> ProcessPoolExecutor:
    """Worker processes: forked where the OS can (starting costs milliseconds, not the second a
    fresh interpreter needs to import NumPy and h5py again); the parent holds no open HDF5 file
    and the pool forks all its workers at the first submission, before any progress thread. A
    caller already running threads (a notebook with JAX loaded) gets fresh interpreters instead:
    forking a threaded process can deadlock the child."""
    from ....util.processes import end_with_parent

    forkable = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    method = "fork" if forkable else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=end_with_parent, initargs=(os.getpid(),))   # a killed run ends them


def run_dataset(name: str, source: str | os.PathLike, destination: str | os.PathLike, *,
                workers: int | None = None, overwrite: bool = False,
                options: Mapping[str, object] | None = None,
                progress: bool | None = None) -> list[DatasetResult]:
    """Convert the dataset ``name`` at ``source`` into ``destination`` (see the module docstring).

    Parameters
    ----------
    name : str
        A key of :data:`~sonobridge.formats.zea.datasets.DATASETS`.
    source, destination : path
        The dataset as downloaded; the output folder (or file).
    workers : int, optional
        Worker processes (default: every core); 1 converts in this process.
    overwrite : bool
        Rebuild outputs that are complete and up to date.
    options : mapping, optional
        Dataset-specific options, passed to the module's ``plan`` and ``finish``.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).

    Returns
    -------
    list of DatasetResult
        One per planned output in plan order, then one for ``finish`` if it failed.
    """
    from ....util.progress import progress_bar

    module = dataset_module(name)
    source, destination, options = Path(source), Path(destination), dict(options or {})
    if not source.exists():
        raise UnsupportedInputError(source, "no such file or folder")
    with read_faults(source, f"cannot plan the {name} conversion"):
        jobs = _checked_plan(module.plan(source, destination, options), destination)
    journal = Journal(journal_root(destination))
    remove_partials(job.output.parent for job in jobs)
    results: dict[int, DatasetResult] = {}
    pending: list[tuple[int, DatasetJob, str]] = []
    for index, job in enumerate(jobs):
        try:
            digest = job_digest(job)
        except OSError as error:
            results[index] = DatasetResult(job, _failure(job, SonobridgeError(error.filename, "cannot read: "
                                                                              f"{error.strerror}")))
            continue
        if not overwrite and journal.done(job.output, digest):
            results[index] = DatasetResult(job, Outcome.hit(job.output))
        else:
            pending.append((index, job, digest))
    workers = max(1, min(workers or os.cpu_count() or 1, len(pending) or 1))
    show = progress is None or progress

    def finished(index: int, job: DatasetJob, digest: str, outcome: Outcome, seconds: float) -> None:
        if outcome.status is Status.BUILT:
            journal.record(job.output, digest)
        results[index] = DatasetResult(job, outcome, seconds)

    with progress_bar(progress=show, total=len(pending), unit="file", desc=name) as bar:
        if workers == 1:
            for index, job, digest in pending:
                finished(index, job, digest, *run_job(module.__name__, job))
                bar.update()
        else:
            _run_pooled(module.__name__, pending, workers, finished, bar)
    ordered = [results[index] for index in sorted(results)]
    finish = getattr(module, "finish", None)
    if finish is not None:
        try:
            finish(source, destination, options)
        except Exception as error:                 # noqa: BLE001 - reported as a result
            ordered.append(DatasetResult(DatasetJob(name, (source,), destination), _failure(
                DatasetJob(name, (source,), destination), error)))
    if pending:
        with contextlib.suppress(SonobridgeError, OSError):
            journal.compact()
    return ordered


__all__ = ["DatasetResult", "JOURNAL", "job_digest", "run_dataset", "run_job"]
