"""The cohort run: discover recordings, run their stages with overlap, write the run report.

Stages with different bottlenecks overlap: each recording's stages run in order, recordings run
side by side on a pool of workers (threads locally; a Dask cluster with ``executor=`` or
``scheduler=``), so the wall time approaches the slowest stage rather than the sum. One failing
recording is reported and the rest complete. Every stage is idempotent (see :mod:`.stages`), so
a run killed at any point and started again only does what is missing.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ..errors import SonobridgeError
from ..export.atomic import write_bytes_atomic
from .report import html_report
from ..export.naming import output_stem
from .stages import STAGES, Item, outputs_complete, source_key

REPORT_JSON, REPORT_HTML = "sonobridge-report.json", "sonobridge-report.html"


def discover(sources: Iterable[str | os.PathLike], **reader_options: Any) -> tuple[list[Item], dict[str, str]]:
    """Every recording at ``sources`` (files, packages, folder trees; mixed formats) and the
    sources that could not be read, ``{path: problem}``."""
    from ..formats import find_recordings

    items, problems = [], {}
    for source in sources:
        try:
            found = find_recordings(source)
        except SonobridgeError as error:
            problems[str(source)] = error.problem
            continue
        items += [Item(s.label, s.format, output_stem(s.label), tuple(sorted(reader_options.items())))
                  for s in found]
    return _unique_stems(list({item.label: item for item in items}.values())), problems


def _unique_stems(items: list[Item]) -> list[Item]:
    """Recordings whose stems collide (e.g. ``p1/IM0001.dcm`` and ``p2/IM0001.dcm``) get a short
    hash of their label appended, so no two recordings share outputs."""
    import hashlib
    from dataclasses import replace

    counts = Counter(item.stem for item in items)
    return [replace(item, stem=f"{item.stem}-{hashlib.sha1(item.label.encode()).hexdigest()[:8]}")
            if counts[item.stem] > 1 else item for item in items]


def run_item(item: Item, out_dir: str, stages: tuple[str, ...], overwrite: bool = False,
             previous: dict[str, Any] | None = None, gates: dict[str, Any] | None = None) -> dict[str, Any]:
    """All stages of one recording, in order; ``{stage: status, "seconds": {stage: s}}``. When
    the previous run's result for the same, unchanged source lists outputs that all still check
    out, it is returned with every status "hit" (the recording is not even opened)."""
    folder = Path(out_dir)
    key = source_key(item)
    if previous and not overwrite and previous.get("source_key") == key and set(stages) <= set(previous) \
            and outputs_complete(previous, folder, item):
        return _as_hits(previous)
    result: dict[str, Any] = {"format": item.format, "seconds": {}, "source_key": key}
    recording = functools.cache(item.open)        # opened once, by the first stage that needs it
    for stage in stages:
        with (gates or {}).get(stage) or contextlib.nullcontext():
            start = time.perf_counter()
            result[stage] = STAGES[stage](item, folder, overwrite, recording)
            result["seconds"][stage] = round(time.perf_counter() - start, 4)
    return result


def _as_hits(previous: dict[str, Any]) -> dict[str, Any]:
    result = dict(previous, seconds={})
    for stage in ("ingest", "dicom"):
        if stage in result and not str(result[stage]).startswith("skipped"):
            result[stage] = "hit"
    result["video"] = {path: "hit" for path in previous.get("video", {})}
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
            cancel_check: Callable[[], bool] | None = None, **reader_options: Any) -> dict[str, dict[str, Any]]:
    """Bring every recording at ``sources`` to the same state in ``out_dir`` (default: a
    ``sonobridge-out`` folder beside the first source): zea HDF5, videos with indexes, QC
    (and DICOM with ``dicom=True``). Returns ``{recording: {stage: status}}`` and writes
    ``sonobridge-report.json`` and ``sonobridge-report.html`` there. ``executor``: a
    ``dask.distributed.Client`` (or ``scheduler="tcp://host:port"``) to run on a cluster.
    ``stage_limits`` (local runs): at most that many recordings in a stage at once, e.g.
    ``{"video": 1}`` so encodes do not compete while ingests proceed.
    ``reader_options`` (e.g. ``probe="L7"``) go to the readers. Temporary files of killed writes
    in ``out_dir`` are removed before and after the run (one run per output folder at a time)."""
    from tqdm.auto import tqdm

    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    out = Path(out_dir) if out_dir is not None else Path(sources[0]).resolve().parent / "sonobridge-out"
    out.mkdir(parents=True, exist_ok=True)
    stages = ("ingest", "video", "qc") + (("dicom",) if dicom else ())
    started = time.perf_counter()
    _remove_partials(out)
    items, problems = discover(sources, **reader_options)
    items = [item for item in items if not _inside(item.label, out)]     # never our own outputs
    previous = _previous_results(out)
    results: dict[str, dict[str, Any]] = {path: {"discover": f"error: {problem}"} for path, problem in problems.items()}
    client = _client(executor, scheduler)
    counts: Counter = Counter()                # per-stage outcome counts shown beside the bar
    with tqdm(total=len(items), unit="recording", disable=not progress) as bar:
        if client is not None:
            futures = {client.submit(run_item, item, str(out), stages, overwrite, previous.get(item.label), pure=False):
                       item for item in items}
            completed = _dask_completed(futures)
        else:
            pool = ThreadPoolExecutor(max(1, workers))
            gates = {stage: threading.Semaphore(limit) for stage, limit in (stage_limits or {}).items()}
            futures = {pool.submit(run_item, item, str(out), stages, overwrite, previous.get(item.label), gates): item
                       for item in items}
            completed = as_completed(futures)
        for number, future in enumerate(completed):
            item = futures[future]
            try:
                results[item.label] = future.result()
            except Exception as error:  # noqa: BLE001 - a worker lost or a bug: report it, carry on
                results[item.label] = {"format": item.format, "run": f"error: {type(error).__name__}: {error}"}
            bar.update(1)
            counts.update(f"{stage} {_overall({stage: results[item.label].get(stage)})}" for stage in stages
                          if stage != "qc" and stage in results[item.label])
            bar.set_postfix_str(", ".join(f"{key}: {n}" for key, n in sorted(counts.items())), refresh=False)
            if progress_callback is not None:
                progress_callback(number, len(items), item.label, _overall(results[item.label]))
            if cancel_check is not None and cancel_check():
                for other in futures:
                    other.cancel()
                break
        if client is None:
            pool.shutdown(wait=True, cancel_futures=True)
    _remove_partials(out)               # e.g. left by a worker that was killed mid-write and retried
    write_report(out, results, time.perf_counter() - started)
    return results


def _inside(label: str, folder: Path) -> bool:
    path = Path(label.rpartition(":")[0] or label) if not Path(label).exists() else Path(label)
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


def _overall(result: dict[str, Any]) -> str:
    """``error`` if any stage failed, ``hit`` if every stage was already done, else ``built``."""
    statuses = []
    for key in ("discover", "run", "ingest", "video", "dicom"):
        value = result.get(key)
        statuses += list(value.values()) if isinstance(value, dict) else [value] if value is not None else []
    if any(s.startswith("error") for s in statuses) or "error" in result.get("qc", {}):
        return "error"
    done = [s for s in statuses if not s.startswith("skipped")]
    return "hit" if done and all(s == "hit" for s in done) else "built"


def write_report(out: Path, results: dict[str, dict[str, Any]], seconds: float) -> None:
    summary = {"recordings": len(results), "seconds": round(seconds, 3),
               "status": {label: _overall(result) for label, result in results.items()}}
    document = {"summary": summary, "results": results}
    write_bytes_atomic(out / REPORT_JSON, json.dumps(document, indent=2, default=str).encode())
    write_bytes_atomic(out / REPORT_HTML, html_report(document, out).encode())
