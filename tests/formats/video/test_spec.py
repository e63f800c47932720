"""sonobridge.formats.video.spec: videos written through the spec are complete and give a thumbnail."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sonobridge.core.recording import Recording
from sonobridge.formats.video.spec import SPECS

from support import image_stream, moving_frames

pytest.importorskip("av", reason="the test extra installs PyAV")


def test_a_written_video_is_complete_and_its_thumbnail_is_the_first_frame(tmp_path):
    spec, = SPECS
    assert spec.writes_folder and spec.stage == "video" and spec.claim is None
    frames = moving_frames(6, 32, 48)
    status = spec.write(Recording("r", {"image": image_stream(frames)}), tmp_path, progress=False)
    (path, outcome), = status.items()
    assert outcome == "built" and Path(path).suffix == spec.write_suffix
    assert spec.output_done(Path(path)) is True
    assert np.array_equal(spec.read_frames(path, 0, 1)[0], frames[0])
    assert np.array_equal(spec.read_frames(path), frames)


def test_a_damaged_index_means_the_video_is_not_complete(tmp_path):
    spec, = SPECS
    status = spec.write(Recording("r", {"image": image_stream(moving_frames(4, 16, 16))}), tmp_path,
                        progress=False)
    path = Path(next(iter(status)))
    for index in tmp_path.glob("*.index.json"):
        index.write_text("{")
    assert not spec.output_done(path)
