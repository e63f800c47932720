"""sonobridge.formats.zea.spec: zea HDF5 files found, written, validated and read through the spec."""
from __future__ import annotations

import numpy as np

from sonobridge.core.recording import Recording
from sonobridge.formats.zea.spec import HDF5_SUFFIXES, SPECS

from support import image_stream, moving_frames


def test_a_recording_written_by_the_spec_validates_and_is_claimed_back(tmp_path):
    spec, = SPECS
    assert spec.write_suffix in HDF5_SUFFIXES and spec.stage == "ingest"
    frames = moving_frames(4, 20, 24)
    path = spec.write(Recording("r", {"image": image_stream(frames)}), tmp_path / "r.hdf5", compression="none")
    assert spec.validate(path).valid
    (tmp_path / "notes.txt").write_text("not hdf5")
    source, = spec.claim(tmp_path, sorted(tmp_path.iterdir()), False)
    assert source.label == str(path) and source.format == "zea"
    assert np.array_equal(np.asarray(source.open()["image"].frames), frames)
