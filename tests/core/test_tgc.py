"""sonobridge.core.tgc: per-frame time-gain compensation curves (dB over depth in metres)."""
from __future__ import annotations

import numpy as np

from sonobridge.core.tgc import TgcCurves


def curves() -> TgcCurves:
    rows = [[(0.0, 10.0), (0.04, 30.0)], [], [(0.0, 20.0), (0.02, 20.0), (0.04, 40.0)]]
    return TgcCurves.from_rows(np.array([100, 200, 300], np.uint64), rows, "test")


def test_rows_of_different_lengths_are_nan_padded():
    tgc = curves()
    assert tgc.clock.dtype == np.uint64 and tgc.depth_m.shape == tgc.gain_db.shape == (3, 3)
    assert tgc.points(0) == [(0.0, 10.0), (0.04, 30.0)] and tgc.points(1) == []
    assert len(tgc.points(2)) == 3


def test_gain_is_interpolated_linearly_held_beyond_the_ends_and_nan_without_a_curve():
    gain = curves().gain_at(np.array([0.0, 0.02, 0.06]))
    assert np.allclose(gain[0], [10.0, 20.0, 30.0])
    assert np.isnan(gain[1]).all()
    assert np.allclose(gain[2], [20.0, 20.0, 40.0])


def test_each_frame_gets_the_last_curve_at_or_before_its_clock():
    framed = curves().for_frames(np.array([50, 100, 250, 300, 400], np.uint64))
    assert np.isnan(framed.depth_m[0]).all()                 # before the first entry: no curve
    assert framed.points(1) == curves().points(0)
    assert framed.points(2) == []                             # the empty entry at 200 is in force
    assert framed.points(3) == framed.points(4) == curves().points(2)
