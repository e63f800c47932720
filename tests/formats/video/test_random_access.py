"""Random frame access cost (issue 22 item 1): a random frame of a video we write costs at most
2 decodes (default GOP), and on a foreign x265-default file (open GOP, B-frames) backward reads
around a keyframe are exact and served by the reader's decoded-frame cache, within its byte bound."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="the test extra installs PyAV")

from sonobridge import VideoReader  # noqa: E402
from sonobridge.formats.video.writer import write_video  # noqa: E402

from support import image_stream, moving_frames  # noqa: E402

HEIGHT, WIDTH = 48, 64


def test_random_frame_of_our_video_costs_at_most_two_decodes(tmp_path):
    frames = moving_frames(60, HEIGHT, WIDTH, seed=5)
    path = tmp_path / "ours.mp4"
    write_video(image_stream(frames), path)
    with VideoReader(path, cache_mb=0) as reader:      # no cache: the GOP alone bounds the cost
        for index in np.random.default_rng(3).permutation(len(frames))[:30]:
            before = reader.decoded_frames
            assert np.array_equal(reader[int(index)], frames[index]), index
            assert reader.decoded_frames - before <= 2, index


@pytest.fixture(scope="module")
def open_gop(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """An x265-default encode (open GOP, B-frames; keyint shortened to 24 to stay small) made by
    the ffmpeg CLI, and its frames from one linear decode (the ground truth)."""
    import av

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("Debian's ffmpeg is needed (scripts/setup.sh test installs it)")
    frames = moving_frames(80, HEIGHT, WIDTH, seed=9)
    path = tmp_path_factory.mktemp("open_gop") / "x265_default.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{WIDTH}x{HEIGHT}",
                    "-r", "30", "-i", "-", "-c:v", "libx265", "-x265-params", "lossless=1:keyint=24:log-level=error",
                    str(path)], input=frames.tobytes(), check=True)
    with av.open(str(path)) as container:
        linear = np.stack([frame.to_ndarray(format="gray") for frame in container.decode(video=0)])
    return path, linear


def backwards_around_keyframes(reader: VideoReader) -> list[int]:
    keyframes = np.flatnonzero(reader.index.keyframe)[1:]
    assert len(keyframes) >= 2
    return [int(k + d) for k in keyframes for d in range(5, -7, -1) if 0 <= k + d < len(reader)]


def test_backward_reads_on_open_gop_are_exact_and_cached(open_gop):
    path, linear = open_gop
    with VideoReader(path) as reader:
        targets = backwards_around_keyframes(reader)
        for index in targets:
            assert np.array_equal(reader[index], linear[index]), index
        # each backward step would otherwise decode again from a keyframe (>= 1 GOP per frame)
        assert reader.decoded_frames <= 3 * len(linear)
        before = reader.decoded_frames
        for index in targets:                                    # all nearby frames now come from the cache
            assert np.array_equal(reader[index], linear[index]), index
        assert reader.decoded_frames == before


def test_cache_respects_its_byte_bound(open_gop):
    path, linear = open_gop
    frame_bytes = HEIGHT * WIDTH
    with VideoReader(path, cache_mb=5 * frame_bytes / 2**20) as reader:
        for index in backwards_around_keyframes(reader):
            image = reader[index]
            assert np.array_equal(image, linear[index]), index
            assert reader.cache_bytes <= reader.cache_limit_bytes == 5 * frame_bytes
            image[:] = 0                                         # callers own what they get
        assert np.array_equal(reader[int(np.flatnonzero(reader.index.keyframe)[-1])],
                              linear[np.flatnonzero(reader.index.keyframe)[-1]])
