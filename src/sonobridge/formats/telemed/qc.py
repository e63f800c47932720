"""Telemed-specific checks: how many frames an extraction may lack, and EchoWave's inverted LUT."""
from __future__ import annotations

import os

import numpy as np

from ...errors import read_faults
from .autocrop import panel_mean
from .sidecar import read_sidecar

#: EchoWave reports about 2 frames fewer than the ``.tvd`` container declares; an extraction
#: holding at least ``declared - COMPLETENESS_TOLERANCE`` frames is complete
COMPLETENESS_TOLERANCE = 16


def looks_lut_inverted(h5: str | os.PathLike, frames: int = 16) -> bool:
    """Whether the primary panel of sidecar ``h5`` looks LUT-inverted (EchoWave < 4.4.0 exported
    ``255 - x``): its median over the first ``frames`` frames is above mid-grey, where B-mode
    images are mostly dark."""
    sidecar = read_sidecar(h5)
    try:
        if sidecar.frames is None or 1 not in sidecar.rois:
            return False
        with read_faults(h5, "/frames/gray unreadable"):
            return float(np.median(panel_mean(sidecar.frames, sidecar.rois[1], frames))) > 127
    finally:
        sidecar.close()
