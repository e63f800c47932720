"""Compiled bilinear gather for scan conversion: the optional fast path (needs numba, installed by
the ``fast`` extra). Without numba, :class:`~sonobridge.processing.scan_convert.ScanConverter`
applies the same weights as a SciPy sparse matrix; results agree to float32 rounding."""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)
_compiled: Callable | None | bool = None


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
