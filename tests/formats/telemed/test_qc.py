"""sonobridge.formats.telemed.qc: sidecars exported with an inverted grey LUT (EchoWave < 4.4.0)."""
from __future__ import annotations

import h5py
import numpy as np

from sonobridge.formats.telemed.qc import looks_lut_inverted

from telemed_synth import make_sidecar


def _invert_frames(path) -> None:
    with h5py.File(path, "r+") as handle:
        stacks = []
        handle.visititems(lambda name, item: stacks.append(name)
                          if isinstance(item, h5py.Dataset) and item.ndim == 3 and item.dtype == np.uint8 else None)
        assert stacks, "no frame stack in the synthetic sidecar"
        for name in stacks:
            handle[name][...] = 255 - handle[name][...]


def test_mostly_bright_b_mode_panels_look_inverted(tmp_path):
    normal = make_sidecar(tmp_path / "normal.tvd.h5", n=8)
    assert looks_lut_inverted(normal) is False
    inverted = make_sidecar(tmp_path / "inverted.tvd.h5", n=8)
    _invert_frames(inverted)
    assert looks_lut_inverted(inverted) is True


def test_a_sidecar_without_frames_is_not_inverted(tmp_path):
    assert looks_lut_inverted(make_sidecar(tmp_path / "empty.tvd.h5", n=5, frames=False)) is False
