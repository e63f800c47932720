"""sonobridge.formats.telemed.sidecar: the ``.tvd.h5`` sidecar (frames and acquisition attributes)."""
from __future__ import annotations

import h5py
import pytest

from sonobridge.errors import FormatError

from telemed_synth import make_sidecar


def test_sidecar_roi_outside_the_frame_is_refused(tmp_path):
    path = make_sidecar(tmp_path / "bad.tvd.h5")
    with h5py.File(path, "r+") as handle:
        handle.attrs["roi1_x2"] = 10_000
    from sonobridge.formats.telemed.sidecar import read_sidecar

    with pytest.raises(FormatError, match="bad.tvd.h5.*does not fit"):
        read_sidecar(path)
