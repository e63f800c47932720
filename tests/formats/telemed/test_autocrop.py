"""sonobridge.formats.telemed.autocrop: the image inside an EchoWave B-mode panel (without the
depth ruler, margins and tick rows), found from the panel's mean over frames."""
from __future__ import annotations

import numpy as np
import pytest

from sonobridge.formats.telemed.autocrop import inner_image_box, panel_mean
from sonobridge.formats.telemed.sidecar import Roi

from telemed_synth import INNER, display_frames, rois


def test_the_inner_image_of_a_panel_is_found():
    """The panel top and the rows above the (faint) tick row are kept; ruler and margins go."""
    frames = display_frames(12, panels=(1, 2))
    _, _, left, right = INNER
    for panel, roi in rois((1, 2)).items():
        mean = panel_mean(frames, roi, n_frames=5)
        assert mean.dtype == np.float64 and mean.shape == (roi.height, roi.width)
        assert inner_image_box(mean) == (0, roi.height, left, right), panel


def test_the_mean_samples_evenly_spaced_frames():
    frames = np.arange(20, dtype=np.uint8)[:, None, None] * np.ones((1, 4, 4), np.uint8)
    mean = panel_mean(frames, Roi(1, 1, 4, 1, 4, 4, 4, 0.01, 0.01), n_frames=3)
    assert mean.shape == (4, 4) and np.all(mean == (0 + 9 + 19) / 3)


def panel_with_ticks(tick_level: int) -> np.ndarray:
    """A dark panel: ruler columns 0-9, image columns 10-69, margin 70-79, three tick rows."""
    panel = np.zeros((60, 80))
    panel[::6, 2:8] = 220                                # ruler digits
    panel[:57, 10:70] = 40 + np.random.default_rng(0).uniform(0, 40, (57, 60))
    panel[57:, 4:76] = tick_level
    return panel


def test_bright_bottom_tick_rows_are_peeled_and_faint_ones_kept():
    assert inner_image_box(panel_with_ticks(255)) == (0, 57, 10, 70)
    # a faint tick row stays, and its marks make the ruler and margin columns it crosses non-flat
    assert inner_image_box(panel_with_ticks(100)) == (0, 60, 2, 76)


def test_boxes_match_the_telemed_detector():
    detect = pytest.importorskip("telemed._encode")._detect_image_roi
    panels = [panel_with_ticks(255), panel_with_ticks(100), panel_with_ticks(255) + 30, np.full((50, 60), 40.0)]
    for panel in panels:
        theirs = detect(panel)
        assert inner_image_box(panel) == (None if theirs is None else (theirs[2], theirs[3], theirs[0], theirs[1]))


def test_grey_margins_are_stripped_by_their_level_and_flatness():
    panel = panel_with_ticks(255) + 30                   # UI grey 30 around the image
    assert inner_image_box(panel) == (0, 57, 10, 70)


def test_a_dark_flat_or_tiny_panel_has_no_image():
    assert inner_image_box(np.zeros((50, 60))) is None
    assert inner_image_box(np.full((50, 60), 40.0)) is None          # flat: all margin
    assert inner_image_box(panel_with_ticks(255)[:19]) is None        # fewer rows than MIN_RUN
    speck = np.zeros((50, 60))
    speck[10:14, 10:14] = 200                          # a run far shorter than MIN_FRACTION of the panel
    assert inner_image_box(speck) is None
