"""The cohort run: discover recordings, run their stages with overlap, write the run report.

Stages with different bottlenecks overlap: each recording's stages run in order, recordings run
side by side on a pool of workers (threads locally; a Dask cluster with ``executor=`` or
``scheduler=``), so the wall time approaches the slowest stage rather than the sum. One failing
recording is reported and the rest complete. Every stage is idempotent (see :mod:`.stages`), so
a run killed at any point and started again only does what is missing. One run per output
folder at a time: a run holds an advisory lock on ``<out>/.sonobridge.lock`` (released by the
operating system when the holder dies, however it ends).
"""
from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.anonymise import key_scope, output_key, pseudonym
from ..core.options import ReadOptions
from ..core.outcome import Outcome, outcome
from ..errors import MissingDependencyError, SonobridgeError
from ..util.naming import unique_stems
from ..formats.registry import get_format, stage_spec
from ..util.atomic import write_bytes_atomic
from .report import html_report, overall, pseudonymous_results, recording_facts
from .stages import STAGES, Item, ItemInputs, output_digest, outputs_complete, source_key, writer_specs
from .workers import WorkerProcesses

log = logging.getLogger(__name__)

REPORT_JSON, REPORT_HTML = "sonobridge-report.json", "sonobridge-report.html"
LOCK_NAME = ".sonobridge.lock"
LOCK_POLL_S = 0.2

#: modules the workers import, imported in the main thread before any worker starts (lazy imports
#: of the same package from several threads at once can meet a partially initialised module);
#: besides these, each stage's format and each recording's format preload theirs
#: (:attr:`sonobridge.formats.FormatSpec.preload`)
_STAGE_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("sonobridge.processing.scan_convert", "scipy.sparse", "sonobridge.core.anonymise"),
    "video": ("sonobridge.processing.scan_convert", "sonobridge.processing.display", "scipy.sparse"),
}
DEFAULT_OUT_NAME = "sonobridge-out"


def discover(sources: Iterable[str | os.PathLike], **reader_options: Any) -> tuple[list[Item], dict[str, str]]:
    """Every recording at ``sources`` (files, packages, folder trees; mixed formats) and the
    sources that could not be read, ``{path: problem}``. ``reader_options``: the fields of
    :class:`~sonobridge.core.options.ReadOptions` (``probe``, ``sound_speed_m_s``,
    ``allow_truncated``)."""
    from ..formats import find_recordings

    options = ReadOptions.from_keywords(**reader_options)
    items, problems = [], {}
    for source in sources:
        try:
            found = find_recordings(source)
        except SonobridgeError as error:
            problems[str(source)] = error.problem
            continue
        items += [Item(s.label, s.format, s.stem, options) for s in found]
    # the same recording reached through two sources (a folder and a file in it) is one item;
    # labels are unique per recording (e.g. ``pkg.tar:p1/x`` and ``pkg.tar:p2/x``), so nothing else merges
    items = list(dict.fromkeys(items))
    stems = unique_stems({item.label: item.stem for item in items})   # colliding stems get a hash of the label
    return [replace(item, stem=stems[item.label]) for item in items], problems


def run_item(item: Item, out_dir: str, stages: tuple[str, ...], overwrite: bool = False,
             previous: dict[str, Any] | None = None, gates: dict[str, Any] | None = None,
             anonymise_key: bytes | None = None) -> dict[str, Any]:
    """All stages of one recording, in order; ``{stage: status, "seconds": {stage: s}}``. When
    the previous run's result for the same, unchanged source lists outputs that all still check
    out, it is returned with every status "hit" (the recording is not even opened).
    ``anonymise_key``: the run's key of UID replacements and pseudonyms (the same in every worker). The modules
    the stages need are imported first (:func:`preload`: a Dask worker has not imported them)."""
    preload([item], stages)
    folder = Path(out_dir)
    if (hits := finished_result(item, folder, stages, overwrite, previous)) is not None:
        return hits
    digest, shown = _source_digests(item)
    result: dict[str, Any] = {"format": item.format, "seconds": {}, "source_key": shown}
    recording = ItemInputs(item)        # opened (and a zea input validated) once, by the first stage needing it
    with key_scope(anonymise_key):
        for stage in stages:
            with (gates or {}).get(stage) or contextlib.nullcontext():
                start = time.perf_counter()
                result[stage] = STAGES[stage](item, folder, overwrite, recording, digest)
                result["seconds"][stage] = round(time.perf_counter() - start, 4)
    # what the HTML report shows; nothing to show of what the pipeline does not process
    result["facts"] = {"stem": item.stem} if recording.not_applicable else recording_facts(recording, folder, item.stem)
    return result


def finished_result(item: Item, folder: Path, stages: tuple[str, ...], overwrite: bool = False,
                    previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The previous run's result for ``item`` with every output a hit, when its source is
    unchanged and every output it lists still checks out (without opening the recording);
    else None (the item must run)."""
    if not previous or overwrite or not set(stages) <= set(previous):
        return None
    digest, shown = _source_digests(item)
    if previous.get("source_key") == shown and outputs_complete(previous, folder, item, digest):
        return _as_hits(previous)
    return None


def _source_digests(item: Item) -> tuple[str, Any]:
    """The digest every output of ``item`` records (an output is done only if it matches: made
    from this source with the same anonymise setting) and the source key the report shows (the
    digest when anonymised: an anonymised report names no source file)."""
    key = source_key(item)
    digest = output_digest(key, item.anonymise)
    return digest, (digest if item.anonymise else key)


def _built(value: Any) -> bool:
    """Whether a stage output's outcome says the output exists (built or hit)."""
    done = outcome(value) if isinstance(value, str) else None
    return done is not None and done.ok


def _as_hits(previous: dict[str, Any]) -> dict[str, Any]:
    """A previous result whose outputs all still check out, as this run reports it: every
    output a hit (a skipped or not_applicable stage stays so)."""
    result = dict(previous, seconds={})
    for stage in writer_specs():
        state = previous.get(stage.stage)
        if stage.writes_folder:
            result[stage.stage] = {path: Outcome.hit(path) if _built(value) else value for path, value in (state or {}).items()}
        elif _built(state):                     # skipped and not_applicable stay as they were
            result[stage.stage] = Outcome.hit()
    return result


def _previous_results(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / REPORT_JSON).read_text()).get("results", {})
    except (OSError, ValueError, AttributeError):
        return {}


def _client(executor: Any, scheduler: str | None):
    if executor is not None:
        return executor
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            from ..errors import MissingDependencyError

            raise MissingDependencyError(None, "--scheduler needs dask.distributed: "
                                               "pip install 'sonobridge[cluster]'") from None
        return Client(scheduler)
    return None


def process(sources: Iterable[str | os.PathLike] | str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
            dicom: bool = False, workers: int = 2, executor: Any = None, scheduler: str | None = None,
            overwrite: bool = False, stage_limits: dict[str, int] | None = None, progress: bool = True,
            progress_callback: Callable[[int, int, str, str], None] | None = None,
            cancel_check: Callable[[], bool] | None = None, lock_timeout_s: float = 0.0, anonymise: bool = False,
            push: str | None = None, **reader_options: Any) -> dict[str, dict[str, Any]]:
    """Bring every recording at ``sources`` to the same state in ``out_dir`` (default: a
    ``sonobridge-out`` folder beside the first source): zea HDF5, videos with indexes, QC
    (and DICOM with ``dicom=True``). Returns ``{recording: {stage: status}}`` and writes
    ``sonobridge-report.json`` and ``sonobridge-report.html`` there. ``executor``: a
    ``dask.distributed.Client`` (or ``scheduler="tcp://host:port"``) to run on a cluster.
    ``stage_limits`` (local runs): at most that many recordings in a stage at once, e.g.
    ``{"video": 1}`` so encodes do not compete while ingests proceed. Local runs with two or
    more ``workers`` build recordings in worker processes (:mod:`sonobridge.pipeline.workers`): a
    script calling this needs multiprocessing's ``if __name__ == "__main__":`` guard.
    ``reader_options`` (e.g. ``probe="L7"``) go to the readers. Temporary files of killed writes
    in ``out_dir`` are removed before and after the run. One run per output folder at a time: a
    second run waits up to ``lock_timeout_s`` seconds for the first to finish, then raises
    :class:`OutputLockedError` naming the folder and the holder's pid. ``anonymise``: every output
    without identity (:mod:`sonobridge.core.anonymise`, DICOM PS3.15 basic profile), named by a
    pseudonym of its source (keyed hash; the key is ``SONOBRIDGE_ANONYMISE_KEY`` or kept in
    ``<out>/.sonobridge-anonymise.key``, so re-runs match), the report listing pseudonyms only.
    ``push``: a PACS URL (``dicom://AET@host:port`` or ``http(s)://host/dicom-web``; implies
    ``dicom=True``): each recording's DICOM output is sent unless the PACS already holds it
    (:func:`sonobridge.pipeline.push.push_files`), reported as the recording's ``"push"`` outcome."""
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    out = Path(out_dir) if out_dir is not None else default_out_dir(sources)
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out, lock_timeout_s):
        return _process_locked(sources, out, dicom=dicom, workers=workers, executor=executor, scheduler=scheduler,
                               overwrite=overwrite, stage_limits=stage_limits, progress=progress,
                               progress_callback=progress_callback, cancel_check=cancel_check,
                               reader_options=reader_options, anonymise=anonymise, push=push)


def default_out_dir(sources: Iterable[str | os.PathLike] | str | os.PathLike) -> Path:
    """Where :func:`process` writes when no output folder is given: ``sonobridge-out`` beside
    the first source (absolute)."""
    first = sources if isinstance(sources, (str, os.PathLike)) else next(iter(sources))
    return Path(first).resolve().parent / DEFAULT_OUT_NAME


class OutputLockedError(SonobridgeError):
    """Another run holds the output folder's lock."""


@contextlib.contextmanager
def output_lock(out: Path, timeout_s: float = 0.0):
    """Hold the advisory lock ``<out>/.sonobridge.lock`` (``flock``; the file holds the holder's
    pid). Waits up to ``timeout_s`` seconds for another holder, then raises
    :class:`OutputLockedError`. The operating system releases it when the holder dies."""
    try:
        import fcntl
    except ImportError:                       # no flock (Windows): run unlocked
        log.warning("%s: no advisory locking on this platform; run one process per folder", out)
        yield
        return
    path = out / LOCK_NAME
    try:
        handle = open(path, "a+")             # never truncated before the lock is ours
    except OSError as error:
        raise SonobridgeError(out, f"cannot create the lock file {LOCK_NAME} ({error.strerror or error})") from None
    with handle:
        if not _wait_for_lock(fcntl, handle, out, timeout_s):
            yield
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for_lock(fcntl, handle, out: Path, timeout_s: float) -> bool:
    """Take the lock on ``handle`` within ``timeout_s`` seconds (True), or raise
    :class:`OutputLockedError`; False where the file system offers no locks (run unlocked)."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise OutputLockedError(out, f"another sonobridge run (pid {holder}) is writing to this folder; "
                                             "wait for it to finish or choose another output folder") from None
            time.sleep(LOCK_POLL_S)
        except OSError as error:              # e.g. ENOLCK on some network file systems
            log.warning("%s: cannot lock %s (%s); run one process per folder", out, LOCK_NAME, error)
            return False


_PRELOAD_LOCK = threading.Lock()
_PRELOADED: set[str] = set()          # stages and formats whose modules are imported in this process


def preload(items: Iterable[Item], stages: Iterable[str]) -> None:
    """Import every module the workers will need for ``items`` and ``stages`` (missing optional
    dependencies are left to the stage that needs them to report). Idempotent and serialised by
    a lock: threads of one process (the local pool, a Dask worker's threads) import one at a time,
    so none meets a partially initialised module."""
    wanted = [f"stage:{stage}" for stage in stages] + [f"format:{item.format}" for item in items]
    if _PRELOADED.issuperset(wanted):
        return
    with _PRELOAD_LOCK:
        for group in dict.fromkeys(wanted):
            if group in _PRELOADED:
                continue
            for module in _modules_of(group):
                try:
                    importlib.import_module(module)
                except ImportError as error:
                    log.debug("preload: %s not importable (%s)", module, error)
            _PRELOADED.add(group)


def _modules_of(group: str) -> tuple[str, ...]:
    """Modules of a preload group: ``stage:<name>`` (the stage's own and its format's) or
    ``format:<name>`` (the format's)."""
    kind, _, name = group.partition(":")
    try:
        if kind == "stage":
            spec = stage_spec(name) if name in _writer_stage_names() else None
            return _STAGE_MODULES.get(name, ()) + (spec.preload if spec else ())
        return get_format(name).preload
    except SonobridgeError:                   # not a registered format
        return ()


def _writer_stage_names() -> set[str]:
    return {spec.stage for spec in writer_specs()}


def _process_locked(sources: list, out: Path, *, dicom: bool, workers: int, executor: Any, scheduler: str | None,
                    overwrite: bool, stage_limits: dict[str, int] | None, progress: bool,
                    progress_callback: Callable[[int, int, str, str], None] | None,
                    cancel_check: Callable[[], bool] | None, reader_options: dict[str, Any],
                    anonymise: bool = False, push: str | None = None) -> dict[str, dict[str, Any]]:
    from ..util.progress import progress_bar

    stages = ("ingest", "video", "qc") + (("dicom",) if dicom or push else ())
    started = time.perf_counter()
    _remove_partials(out)
    items, problems = discover(sources, **reader_options)
    items = [replace(item, anonymise=anonymise) for item in items if not _inside(item, out)]   # never our outputs
    processes = None if executor is not None or scheduler else \
        _worker_processes(workers, len(items), stage_limits, items, stages)
    if processes is not None and not (out / REPORT_JSON).exists():
        processes.start_server()               # a first run: the workers' imports overlap ours
    preload(items, stages)                     # before any worker thread starts
    previous = _previous_results(out)
    secret = output_key(out) if anonymise else None     # one key for the run, handed to every worker
    if anonymise:                              # outputs and report name recordings by pseudonyms only
        items = [replace(item, stem=pseudonym(item.label, secret)) for item in items]
        previous = {item.label: previous[item.stem] for item in items if item.stem in previous}
    results: dict[str, dict[str, Any]] = {path: {"discover": Outcome.error(problem)} for path, problem in problems.items()}
    client = _client(executor, scheduler)
    counts: Counter = Counter()                # per-stage outcome counts shown beside the bar
    with progress_bar(progress=progress, total=len(items), unit="recording") as bar, \
            processes or contextlib.nullcontext():     # worker processes end with the run, however it ends
        if client is not None:
            futures = {client.submit(run_item, item, str(out), stages, overwrite, previous.get(item.label), pure=False,
                                     anonymise_key=secret):
                       item for item in items}
            completed = _dask_completed(futures)
        else:
            pool = ThreadPoolExecutor(max(1, workers))
            gates = {stage: threading.Semaphore(limit) for stage, limit in (stage_limits or {}).items()}
            futures = {pool.submit(_run_local, processes, item, str(out), stages, overwrite, previous.get(item.label),
                                   gates, secret): item
                       for item in items}
            completed = as_completed(futures)
        for number, future in enumerate(completed):
            item = futures[future]
            try:
                results[item.label] = future.result()
            except Exception as error:  # noqa: BLE001 - a worker lost or a bug: report it, carry on
                results[item.label] = {"format": item.format, "run": Outcome.error(f"{type(error).__name__}: {error}")}
            bar.update(1)
            counts.update(f"{stage} {overall({stage: results[item.label].get(stage)}).value}" for stage in stages
                          if stage != "qc" and stage in results[item.label])
            bar.set_postfix_str(", ".join(f"{key}: {n}" for key, n in sorted(counts.items())), refresh=False)
            if progress_callback is not None:
                progress_callback(number, len(items), item.label, overall(results[item.label]).value)
            if cancel_check is not None and cancel_check():
                for other in futures:
                    other.cancel()
                break
        if client is None:
            pool.shutdown(wait=True, cancel_futures=True)
            if processes is not None:
                processes.close()
    _remove_partials(out)               # e.g. left by a worker that was killed mid-write and retried
    _push_step(results, items, out, push)
    if anonymise:
        results = pseudonymous_results(results, {item.label: item.stem for item in items}, secret, (out,))
    write_report(out, results, time.perf_counter() - started)
    return results


def _worker_processes(workers: int, n_items: int, stage_limits: dict[str, int] | None, items: list[Item],
                      stages: tuple[str, ...]) -> WorkerProcesses | None:
    """Worker processes for a local run of ``n_items`` recordings (:mod:`.workers`: the work holds
    the GIL, so threads do not run it side by side); None to run in this process (one worker or
    fewer than two recordings: nothing to overlap)."""
    processes = min(workers, n_items)
    if processes < 2 or _daemonic():
        return None
    groups = [f"stage:{stage}" for stage in stages] + [f"format:{item.format}" for item in items]
    return WorkerProcesses(processes, stage_limits, [m for group in dict.fromkeys(groups) for m in _modules_of(group)])


def _daemonic() -> bool:
    """Whether this is a daemonic process (e.g. a multiprocessing pool's worker), which may not
    start processes of its own: then recordings run on threads."""
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _run_local(processes: WorkerProcesses | None, item: Item, out_dir: str, stages: tuple[str, ...], overwrite: bool,
               previous: dict[str, Any] | None, gates: dict[str, Any], anonymise_key: bytes | None) -> dict[str, Any]:
    """One recording of a local run, in a thread of the run's pool: in this process without
    worker processes; else the previous result when it still holds (checked here, so a re-run
    starts no process), or the item run in a worker process."""
    if processes is None:
        return run_item(item, out_dir, stages, overwrite, previous, gates, anonymise_key=anonymise_key)
    if (hits := finished_result(item, Path(out_dir), stages, overwrite, previous)) is not None:
        return hits
    return processes.run(item, out_dir, stages, overwrite, anonymise_key)


def _push_step(results: dict[str, dict[str, Any]], items: list[Item], out: Path, push: str | None) -> None:
    """Send every recording's ``dicom`` output to the PACS at ``push`` (its ``"push"`` outcome);
    without ``push``, drop the ``"push"`` outcomes carried over from an earlier run."""
    if not push:
        for result in results.values():
            result.pop("push", None)
        return
    from .push import endpoint, push_files

    try:
        target, problem = endpoint(push), None
    except SonobridgeError as error:
        target, problem = None, str(error)
    suffix = stage_spec("dicom").write_suffix
    for item in items:
        result = results.get(item.label, {})
        done = outcome(result.get("dicom"))
        if done is None or not done.ok:
            continue
        result["push"] = Outcome.error(problem) if target is None \
            else push_files(target, [out / f"{item.stem}{suffix}"])


def _inside(item: Item, folder: Path) -> bool:
    """Whether the recording lives in ``folder`` (e.g. an output of an earlier run)."""
    path = item.root
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _remove_partials(out: Path) -> None:
    """Delete temporary files of interrupted writes (none of this run's writers is active)."""
    for leftover in out.glob(".*.partial"):
        leftover.unlink(missing_ok=True)


def _dask_completed(futures):
    from dask.distributed import as_completed as dask_as_completed

    return dask_as_completed(list(futures))


def write_report(out: Path, results: dict[str, dict[str, Any]], seconds: float) -> None:
    summary = {"recordings": len(results), "seconds": round(seconds, 3),
               "status": {label: overall(result).value for label, result in results.items()}}
    document = {"summary": summary, "results": results}
    write_bytes_atomic(out / REPORT_JSON, json.dumps(document, indent=2, default=str).encode())
    try:
        page = html_report(document, out)
    except MissingDependencyError as error:      # no `report` extra: the JSON report only
        log.warning("%s not written: %s", REPORT_HTML, error.problem)
        (out / REPORT_HTML).unlink(missing_ok=True)     # never an earlier run's page beside this JSON
        return
    write_bytes_atomic(out / REPORT_HTML, page.encode())
