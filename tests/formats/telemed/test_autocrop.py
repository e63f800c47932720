"""sonobridge.formats.telemed.autocrop: the image inside an EchoWave B-mode panel (without the
depth ruler, margins and tick rows), found from the panel's mean over frames."""
from __future__ import annotations

import numpy as np

from sonobridge.formats.telemed.autocrop import inner_image_box, panel_mean

from telemed_synth import INNER, display_frames, rois


def test_the_inner_image_of_a_panel_is_found():
    frames = display_frames(12, panels=(1, 2))
    for panel, roi in rois((1, 2)).items():
        mean = panel_mean(frames, roi, n_frames=5)
        assert mean.dtype == np.float32 and mean.shape == (roi.height, roi.width)
        assert inner_image_box(mean) == INNER, panel


def test_a_dark_or_nearly_empty_panel_has_no_image():
    assert inner_image_box(np.zeros((50, 60), np.float32)) is None
    speck = np.zeros((50, 60), np.float32)
    speck[10:14, 10:14] = 200                          # far smaller than MIN_FRACTION of the panel
    assert inner_image_box(speck) is None
