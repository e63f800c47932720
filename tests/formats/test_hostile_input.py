"""Randomly damaged captures (seeded): every outcome is a result or a SonobridgeError, never a crash."""
from __future__ import annotations

import random
import shutil
import warnings

import numpy as np
import pytest

from sonobridge.core.describe import describe
from sonobridge.errors import SonobridgeError
from sonobridge.formats import open_recording

from support import mutate

CASES = [("carotid_doppler_2020", ["carotid_env.raw", "carotid_env.yml"]),
         ("lzop", ["carotid_env.raw.lzo", "carotid_env.yml"]),
         ("carotid_2019_metadata", ["carotid_rf.yml", "carotid_rf.tgc", "carotid_imu.yml"])]


@pytest.mark.parametrize("folder, files", CASES)
def test_damaged_files_never_crash(tmp_path, clarius_data, folder, files):
    rng = random.Random(folder)
    for trial in range(120):
        capture = tmp_path / str(trial)
        capture.mkdir()
        for name in files:
            shutil.copy(clarius_data / folder / name, capture / name)
        victim = capture / rng.choice(files)
        victim.write_bytes(mutate(bytearray(victim.read_bytes()), rng))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                recording = open_recording(capture, allow_truncated=True)
                describe(recording)
                for stream in recording.streams.values():
                    if stream.has_frames and stream.n_frames:
                        np.asarray(stream.frames[-1])
        except SonobridgeError as error:
            assert str(capture) in str(error)
