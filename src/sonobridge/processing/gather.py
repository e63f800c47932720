"""Compiled bilinear gather for scan conversion: the fast path (needs numba, installed by the
``fast`` extra and by ``scripts/setup.sh``). Without numba, :class:`~sonobridge.processing.scan_convert.ScanConverter`
applies the same weights as a SciPy sparse matrix; results agree to float32 rounding.

Loading numba and the compiled function from its disk cache costs ~0.6 s per process, more than a
short job takes: :func:`gather_for` hands out :func:`numpy_gather`, the same float32 operations in
the same order (bit for bit the compiled result), until a process has done :data:`NUMPY_BELOW`
pixel-frames with it or meets a job that large."""
from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)
_compiled: Callable | None | bool = None
#: pixel-frames (inside pixels x frames) under which a job does not load numba: the numpy gather is
#: ~15 ns per pixel slower, loading numba ~0.6 s (benchmarks/RESULTS.md, issue 22)
NUMPY_BELOW = 40_000_000
_numpy_work = 0                      # pixel-frames numpy_gather has done in this process
_lock = threading.Lock()


def bilinear_gather(frames: np.ndarray, pixels: np.ndarray, low: np.ndarray, high: np.ndarray,
                    line_fraction: np.ndarray, sample_fraction: np.ndarray, out: np.ndarray) -> None:
    """``out[f, pixels[i]]`` = bilinear mix of ``frames[f]`` at ``low[i], low[i] + 1`` (one line)
    and ``high[i], high[i] + 1`` (the next line). ``frames`` ``(n_frames, n_lines * n_samples)``,
    ``out`` float32 ``(n_frames, n_pixels)``."""
    for f in range(frames.shape[0]):
        x = frames[f]
        y = out[f]
        for i in range(pixels.size):
            a = low[i]
            b = high[i]
            w = sample_fraction[i]
            near = np.float32(x[a]) + w * (np.float32(x[a + 1]) - np.float32(x[a]))
            far = np.float32(x[b]) + w * (np.float32(x[b + 1]) - np.float32(x[b]))
            y[pixels[i]] = near + line_fraction[i] * (far - near)


def numpy_gather(frames: np.ndarray, pixels: np.ndarray, low: np.ndarray, high: np.ndarray,
                 line_fraction: np.ndarray, sample_fraction: np.ndarray, out: np.ndarray) -> None:
    """:func:`bilinear_gather` vectorised over the pixels with NumPy: the same float32 operations
    in the same order, so the same result bit for bit. Arguments as for :func:`bilinear_gather`."""
    after_low, after_high = low + 1, high + 1
    for f in range(frames.shape[0]):
        x = frames[f]
        near = x.take(low).astype(np.float32, copy=False)
        step = x.take(after_low).astype(np.float32, copy=False)
        step -= near
        step *= sample_fraction
        near += step
        far = x.take(high).astype(np.float32, copy=False)
        step = x.take(after_high).astype(np.float32, copy=False)
        step -= far
        step *= sample_fraction
        far += step
        far -= near
        far *= line_fraction
        far += near
        out[f, pixels] = far


def gather_for(work: int, job: int | None = None) -> Callable | None:
    """The gather for ``work`` pixel-frames now, part of a job of ``job`` pixel-frames in all
    (default: just these). None without numba (the sparse-matrix path, as always). With numba: the
    compiled gather once it is loaded in this process, or for a job of at least
    :data:`NUMPY_BELOW`; before that, :func:`numpy_gather` (bit for bit the same) until this
    process has gathered :data:`NUMPY_BELOW` pixel-frames with it, so a short run never pays for
    loading numba and a long one pays at most about that cost twice."""
    global _numpy_work
    if not _numba_installed():
        return None
    if _compiled and getattr(_compiled, "signatures", None):
        return _compiled
    with _lock:
        if max(work, job or 0) < NUMPY_BELOW and _numpy_work + work < NUMPY_BELOW:
            _numpy_work += work
            return numpy_gather
    return compiled_gather()


@functools.cache
def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def compiled_gather() -> Callable | None:
    """:func:`bilinear_gather` compiled with numba (cached on disk), or None without numba."""
    global _compiled
    if _compiled is None:
        try:
            import numba
        except ImportError:
            log.debug("numba not installed: scan conversion uses the sparse-matrix path")
            _compiled = False
        else:
            _compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(bilinear_gather)
    return _compiled or None
