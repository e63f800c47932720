"""Per-frame time-gain compensation: the gain curve (dB over depth along the beam) in force at
each frame, as scanners record it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TgcCurves:
    """TGC curves: ``depth_m`` and ``gain_db`` ``(n_entries, n_points)``, NaN-padded; one row per
    clock value in ``clock`` (uint64, probe clock ns). ``source`` says where they came from."""

    clock: np.ndarray
    depth_m: np.ndarray
    gain_db: np.ndarray
    source: str

    @classmethod
    def from_rows(cls, clock: np.ndarray, rows: list[list[tuple[float, float]]], source: str) -> "TgcCurves":
        width = max((len(row) for row in rows), default=0)
        depth = np.full((len(rows), width), np.nan)
        gain = np.full((len(rows), width), np.nan)
        for index, row in enumerate(rows):
            if row:
                depth[index, :len(row)], gain[index, :len(row)] = zip(*row)
        return cls(np.asarray(clock, np.uint64), depth, gain, source)

    def points(self, index: int) -> list[tuple[float, float]]:
        """``(depth m, gain dB)`` pairs of entry ``index`` (empty if it has no curve)."""
        valid = ~np.isnan(self.depth_m[index])
        return list(zip(self.depth_m[index][valid].tolist(), self.gain_db[index][valid].tolist()))

    def gain_at(self, depths_m: np.ndarray) -> np.ndarray:
        """Gain in dB ``(n_entries, n_depths)`` interpolated linearly (held beyond the ends);
        NaN for entries without a curve."""
        depths = np.asarray(depths_m, np.float64)
        out = np.full((self.depth_m.shape[0], depths.size), np.nan)
        for index, (depth, gain) in enumerate(zip(self.depth_m, self.gain_db)):
            valid = ~np.isnan(depth)
            if valid.any():
                out[index] = np.interp(depths, depth[valid], gain[valid])
        return out

    def for_frames(self, frame_clock: np.ndarray) -> "TgcCurves":
        """The curve in force at each frame: the last entry at or before the frame's clock
        (exact matches are the norm: entries are written per frame). Frames before the first
        entry get no curve (NaN)."""
        frame_clock = np.asarray(frame_clock, np.uint64)
        index = np.searchsorted(self.clock, frame_clock, side="right") - 1
        depth = np.where((index >= 0)[:, None], self.depth_m[np.maximum(index, 0)], np.nan)
        gain = np.where((index >= 0)[:, None], self.gain_db[np.maximum(index, 0)], np.nan)
        return TgcCurves(frame_clock, depth, gain, self.source)
