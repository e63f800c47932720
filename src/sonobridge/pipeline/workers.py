"""Worker processes for a local cohort run: recordings side by side on separate cores.

Much of a recording's work holds Python's global interpreter lock (YAML object building, NumPy
glue, h5py's global lock), so worker threads of one process barely overlap (1.3x on 2 cores,
issue 22). A local run with two or more workers and two or more recordings to build hands each
recording to a pool of worker processes instead:

* processes start from a fork server that has imported the run's modules once (Linux; ``spawn``
  elsewhere), so a worker starts in milliseconds, and a process started by a fork server holds
  no threads of the caller (safe with h5py and thread pools);
* each process runs one recording at a time, all its stages in order (the recording is opened
  once); :func:`~sonobridge.pipeline.run.process`'s ``stage_limits`` hold across processes
  (semaphores handed to each process when it starts);
* log records and warnings of the workers are handled by the caller's logging (its levels and
  handlers: ``-q`` stays quiet); modules the caller has blocked (``sys.modules[name] = None``,
  e.g. to run without an optional dependency) are blocked in the workers too;
* a worker ends when the run's process ends, however it ends: each holds the reading end of a
  pipe whose only writing end the run's process holds, and exits when it reads end-of-file (the
  fork server then ends too), so a killed run leaves nothing writing; outputs are written under
  temporary names and renamed, and the next run removes leftovers, as with threads.

Worker processes start on first use, so a re-run whose recordings are all done starts none (a first
run starts the fork server early, :meth:`WorkerProcesses.start_server`, to overlap its imports).
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

#: how worker processes start: from a fork server (Linux), else fresh interpreters
START_METHOD = "forkserver" if sys.platform.startswith("linux") else "spawn"
ORPHANED_EXIT = 3        #: exit status of a worker whose run's process has ended

_gates: dict[str, Any] = {}          # in a worker process: the run's stage semaphores


class WorkerProcesses:
    """A pool of ``workers`` processes for the recordings of one local run (started on first
    :meth:`run`), with ``stage_limits`` (at most that many recordings in a stage at once, across
    the processes) and ``preload``, the modules the fork server imports once for all workers."""

    def __init__(self, workers: int, stage_limits: dict[str, int] | None = None,
                 preload: Iterable[str] = ()) -> None:
        self.workers = max(1, int(workers))
        self._limits = dict(stage_limits or {})
        self._preload = list(dict.fromkeys(["sonobridge.pipeline.run", *preload]))
        self._lock = threading.Lock()
        self._pool = None
        self._listener: logging.handlers.QueueListener | None = None
        self._lifeline = None             # the writing end: closed (or lost with this process), workers end

    def start_server(self) -> None:
        """Start the fork server now, so that its imports overlap the caller's own work (a first
        run); a no-op where processes are spawned, or once the server runs."""
        if START_METHOD == "forkserver":
            import multiprocessing
            from multiprocessing import forkserver

            blocked = _blocked_modules()
            multiprocessing.get_context(START_METHOD).set_forkserver_preload(
                [name for name in self._preload if name not in blocked])
            forkserver.ensure_running()

    def run(self, item: Any, out_dir: str, stages: tuple[str, ...], overwrite: bool,
            anonymise_key: bytes | None) -> dict[str, Any]:
        """:func:`~sonobridge.pipeline.run.run_item` of ``item`` in a worker process (the caller
        has checked it is not done already); blocks until it has run. A worker that died (e.g.
        killed by the system) fails the recordings it held, and the next ones get a new pool."""
        from concurrent.futures.process import BrokenProcessPool

        pool = self._executor()
        try:
            return pool.submit(_run_item, item, out_dir, stages, overwrite, anonymise_key).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None             # the next recording starts a new pool
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self, cancel: bool = False) -> None:
        """Wait for the running recordings (drop the queued ones when ``cancel``), end the processes."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=cancel)
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

    def __enter__(self) -> WorkerProcesses:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close(cancel=exc_info[0] is not None)

    def _executor(self):
        with self._lock:
            if self._pool is None:
                if self._listener is not None:     # a pool that broke: its log listener goes too
                    self._listener.stop()
                    self._listener = None
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context(START_METHOD)     # (a preload: no effect once the server runs)
                gates = {stage: context.Semaphore(limit) for stage, limit in self._limits.items()}
                blocked = _blocked_modules()
                if START_METHOD == "forkserver":
                    context.set_forkserver_preload([name for name in self._preload if name not in blocked])
                records = context.Queue()
                self._listener = logging.handlers.QueueListener(records, _Forward())
                self._listener.start()
                lifeline, self._lifeline = context.Pipe(duplex=False)
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                                 initargs=(gates, records, _caller_level(), lifeline, blocked))
                log.debug("%d worker processes (%s)", self.workers, START_METHOD)
            return self._pool


def _caller_level() -> int:
    """The most verbose level the caller's logging lets through for this package."""
    return min(logging.getLogger().getEffectiveLevel(), logging.getLogger("sonobridge").getEffectiveLevel())


def _blocked_modules() -> list[str]:
    """Modules the caller has blocked from import (``sys.modules[name] is None``)."""
    return sorted(name for name, module in list(sys.modules.items()) if module is None)


def _start_worker(gates: dict[str, Any], records: Any, level: int, lifeline: Any, blocked: list[str]) -> None:
    """In a new worker process: the run's stage semaphores, the caller's blocked modules, logging
    through the caller, and an end with the run's process (``lifeline``: the reading end of the
    pipe it holds)."""
    for name in blocked:
        sys.modules[name] = None                 # type: ignore[assignment]  # as in the caller
    _gates.clear()
    _gates.update(gates)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    logging.captureWarnings(True)            # warnings too reach the caller's logging (and its -q)
    threading.Thread(target=_end_with_run, args=(lifeline,), name="sonobridge-lifeline", daemon=True).start()


def _end_with_run(lifeline: Any) -> None:
    """Wait for end-of-file on the lifeline (the run's process closed it or ended), then end this
    worker at once, mid-recording if need be (its partial outputs are temporary files)."""
    try:
        while True:
            lifeline.recv()
    except (EOFError, OSError):
        os._exit(ORPHANED_EXIT)


def _run_item(item: Any, out_dir: str, stages: tuple[str, ...], overwrite: bool,
              anonymise_key: bytes | None) -> dict[str, Any]:
    from .run import run_item

    return run_item(item, out_dir, stages, overwrite, None, _gates, anonymise_key=anonymise_key)


class _Forward(logging.Handler):
    """In the caller: a worker's log record handled by the caller's logger of the same name."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
