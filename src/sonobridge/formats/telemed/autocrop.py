"""Find the ultrasound image inside an EchoWave B-mode panel, by the rule of the ``telemed``
package (so crops agree pixel for pixel): from the mean of up to 16 evenly spaced frames,

* **columns**: the UI grey is the median of the mean's five leftmost and five rightmost column
  means; a column is margin when its mean is within ``GRAY_TOLERANCE`` of that grey and its
  spread is below ``STD_TOLERANCE`` (rows brighter than the tick threshold left out of both);
  the image is the longest run of non-margin columns;
* **rows**: the panel top is kept; bottom rows brighter (within the image columns) than the
  tick threshold ``max(60, 2 * median + 20)`` are peeled off.

No image (None) when the panel is too small, no run of columns is long enough, or too few rows
remain; callers then use the whole panel.
"""
from __future__ import annotations

import numpy as np

GRAY_TOLERANCE = 12.0   # grey levels: a margin column's mean is this close to the UI grey
STD_TOLERANCE = 12.0    # grey levels: and its spread over rows is below this
TICK_FLOOR, TICK_FACTOR, TICK_OFFSET = 60.0, 2.0, 20.0  # tick rows: mean > max(floor, factor * median + offset)
MIN_RUN = 20            # pixels: the image spans at least this many rows and columns
MIN_FRACTION = 0.2      # and at least this fraction of the panel in each direction
EDGE_COLUMNS = 5        # columns at each side that show the UI grey
SAMPLE_FRAMES = 16


def panel_mean(frames, roi, n_frames: int = SAMPLE_FRAMES) -> np.ndarray:
    """float64 mean of up to ``n_frames`` evenly spaced frames of ``frames`` (a sequence of
    ``(height, width)`` uint8 display frames), cropped to the panel ``roi``; shaped as the crop
    (a panel reaching past the frame is clipped)."""
    rows, columns = roi.as_slice()
    count = min(n_frames, len(frames))
    indices = np.linspace(0, len(frames) - 1, count).astype(int)
    total = None
    for index in indices:
        crop = np.asarray(frames[int(index)])[rows, columns]
        total = crop.astype(np.float64) if total is None else total + crop
    if total is None:
        return np.zeros((0, 0))
    return total / float(len(indices))


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """``(start, stop)`` of the longest run of True (the first one on ties), None when none."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return None
    longest = int(np.argmax(stops - starts))
    return int(starts[longest]), int(stops[longest])


def _tick_threshold(row_means: np.ndarray) -> float:
    return max(TICK_FLOOR, TICK_FACTOR * float(np.median(row_means)) + TICK_OFFSET)


def _image_columns(mean: np.ndarray) -> tuple[int, int] | None:
    """``(left, right)`` of the image columns in the panel mean, or None."""
    row_means = mean.mean(axis=1)
    below_ticks = row_means <= _tick_threshold(row_means)
    body = mean[below_ticks] if below_ticks.sum() >= MIN_RUN else mean
    column_means, column_spread = body.mean(axis=0), body.std(axis=0)
    gray = float(np.median(np.concatenate((column_means[:EDGE_COLUMNS], column_means[-EDGE_COLUMNS:]))))
    margin = (np.abs(column_means - gray) < GRAY_TOLERANCE) & (column_spread < STD_TOLERANCE)
    run = _longest_run(~margin)
    if run is None or run[1] - run[0] < max(MIN_RUN, int(MIN_FRACTION * mean.shape[1])):
        return None
    return run


def _image_bottom(mean: np.ndarray, left: int, right: int) -> int:
    """Stop row of the image: the panel's rows less the bright tick rows at its bottom."""
    row_means = mean[:, left:right].mean(axis=1)
    above = np.flatnonzero(row_means <= _tick_threshold(row_means))
    return int(above[-1]) + 1 if above.size else 0


def inner_image_box(mean: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` (panel-local, stop-exclusive) of the image in a panel mean
    (float, ``(height, width)``), or None when no image is found."""
    mean = np.asarray(mean, dtype=np.float64)
    if mean.ndim != 2 or mean.shape[0] < MIN_RUN or mean.shape[1] < MIN_RUN:
        return None
    columns = _image_columns(mean)
    if columns is None:
        return None
    bottom = _image_bottom(mean, *columns)
    if bottom < max(MIN_RUN, int(MIN_FRACTION * mean.shape[0])):
        return None
    return 0, bottom, columns[0], columns[1]
