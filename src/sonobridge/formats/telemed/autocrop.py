"""Find the ultrasound image inside an EchoWave B-mode panel (depth ruler, side margins and the
bottom tick row stripped), from the mean of several frames so it is stable and deterministic.

Over frames, the image area averages to a filled grey field while the ruler, margins and tick row
are black with sparse marks. A column belongs to the image when most of its pixels are above a
threshold set from the panel's bright level; the image is the longest run of such columns, then
the longest run of such rows within them.
"""
from __future__ import annotations

import numpy as np

FILLED = 0.5          # fraction of a column/row above the threshold for it to be image
MIN_FRACTION = 0.3    # the image spans at least this fraction of the panel in both directions
SAMPLE_FRAMES = 32


def panel_mean(frames, roi, n_frames: int = SAMPLE_FRAMES) -> np.ndarray:
    """float32 mean of up to ``n_frames`` evenly spaced frames, cropped to the panel ``roi``."""
    rows, columns = roi.as_slice()
    indices = np.unique(np.linspace(0, len(frames) - 1, min(n_frames, len(frames))).astype(int))
    total = np.zeros((roi.height, roi.width), np.float64)
    for index in indices:
        total += np.asarray(frames[int(index)])[rows, columns]
    return (total / max(len(indices), 1)).astype(np.float32)


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """``(start, stop)`` of the longest run of True (the first one on ties)."""
    best, start = None, None
    for index, value in enumerate([*mask, False]):
        if value and start is None:
            start = index
        elif not value and start is not None:
            if best is None or index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    return best


def inner_image_box(mean: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` (stop-exclusive) of the image in a panel mean, or None."""
    if mean.size == 0 or float(np.percentile(mean, 99)) <= 0:
        return None
    threshold = max(4.0, 0.1 * float(np.percentile(mean, 99)))
    bright = mean > threshold
    columns = _longest_run(bright.mean(axis=0) >= FILLED)
    if columns is None:
        return None
    rows = _longest_run(bright[:, columns[0]:columns[1]].mean(axis=1) >= FILLED)
    if rows is None:
        return None
    height, width = mean.shape
    if rows[1] - rows[0] < MIN_FRACTION * height or columns[1] - columns[0] < MIN_FRACTION * width:
        return None
    return rows[0], rows[1], columns[0], columns[1]
