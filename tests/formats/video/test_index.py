"""A frame index sidecar (``<video>.index.json``) edited by hand, its key still matching the video:
each lie from issue 13 (IndexError, ZeroDivisionError, MemoryError, swapped pts returning a wrong
frame) is caught by checking the index against the video's packets, and the reader gives the
right frames from the rebuilt table."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="the test extra installs PyAV")

from sonobridge import VideoReader  # noqa: E402
from sonobridge.formats.video.writer import write_video  # noqa: E402
from sonobridge.formats.video.index import file_key, load_index  # noqa: E402

from support import image_stream, moving_frames  # noqa: E402


def swap(index: dict) -> None:
    index["pts"][3], index["pts"][7] = index["pts"][7], index["pts"][3]


def shift(index: dict) -> None:
    index["pts"] = [p + 1 for p in index["pts"]]


LIES = {
    "swapped_pts": swap,                                            # a wrong frame, silently
    "sorted_but_shifted_pts": shift,                                # no frame found at all
    "fewer_pts": lambda index: index.update(pts=index["pts"][:-5]),
    "more_pts": lambda index: index.update(pts=index["pts"] + [10**9]),
    "keyframe_out_of_range": lambda index: index.update(keyframes=[0, 10**6]),  # IndexError
    "no_keyframes": lambda index: index.update(keyframes=[]),
    "zero_fps": lambda index: index.update(fps=[25, 0]),                   # ZeroDivisionError
    "zero_time_base": lambda index: index.update(time_base=[1, 0]),
    "huge_frames": lambda index: index.update(width=10**7, height=10**7),  # MemoryError
    "short_time_s": lambda index: index.update(time_s=index["time_s"][:3]),
    "text_fields": lambda index: index.update(width="wide", durations="long"),
}


def drop_and_insert(at_drop: int, at_insert: int):
    """Drop frame ``at_drop``'s pts and insert a fake one at ``at_insert`` (between its
    neighbours, or after the last): still strictly increasing, still one pts per frame."""
    def edit(index: dict) -> None:
        pts = index["pts"]
        del pts[at_drop]
        fake = pts[-1] + 100 if at_insert >= len(pts) else (pts[at_insert - 1] + pts[at_insert]) // 2
        pts.insert(at_insert, fake)
    return edit


#: Lies that pass the opening check (:func:`consistent`): caught only while decoding.
CONSISTENT_LIES = {
    "dropped_then_inserted_early": drop_and_insert(5, 1),          # frames 2..5 shifted by one
    "inserted_early_then_dropped": drop_and_insert(1, 6),
    "keyframe_shifted_forward": drop_and_insert(20, 44),           # keyframe 30 points at frame 31
    "keyframe_shifted_back": drop_and_insert(40, 10),              # keyframe 30 points at frame 29
    "keyframe_moved": lambda index: index.update(keyframes=[0, 31]),
    "pts_one_tick_off": lambda index: index["pts"].__setitem__(7, index["pts"][7] + 1),
    "fake_time_base_ticks": lambda index: index.update(pts=[p // 512 for p in index["pts"]]),
}
LIES.update(CONSISTENT_LIES)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple[Path, np.ndarray]:
    frames = moving_frames(45, 24, 40, seed=4)
    path = tmp_path_factory.mktemp("lies") / "v.mp4"
    write_video(image_stream(frames), path)
    return path, frames


@pytest.mark.parametrize("name", sorted(LIES))
def test_a_lying_index_never_gives_a_wrong_frame(tmp_path, video, name):
    source, frames = video
    path = tmp_path / source.name
    shutil.copy2(source, path)
    index = json.loads(Path(f"{source}.index.json").read_text())
    LIES[name](index)
    Path(f"{path}.index.json").write_text(json.dumps(index))
    assert index["key"] == file_key(path)                           # the sidecar still claims to match
    with VideoReader(path) as reader:
        assert reader.shape == frames.shape and reader.fps == pytest.approx(25.0)
        assert reader.time_s.shape == (len(frames),)
        for i in (3, 7, 0, 29, 30, 31, len(frames) - 1, 5):
            assert np.array_equal(reader[i], frames[i]), i
        assert np.array_equal(reader[2:9], frames[2:9])


def test_a_true_index_keeps_the_source_times(tmp_path, video):
    """The check does not throw away a sidecar that agrees with the video."""
    source, frames = video
    with VideoReader(source) as reader:
        assert reader.index.time_s is not None
        assert np.array_equal(reader.index.pts, load_index(source).pts)


@pytest.mark.parametrize("name", sorted(CONSISTENT_LIES))
def test_consistent_lies_reach_the_decoding_check(tmp_path, video, name):
    """These lies are not found on opening (no demux pass there); decoding finds them."""
    import av

    from sonobridge.formats.video.reader import consistent

    source, _ = video
    path = tmp_path / source.name
    shutil.copy2(source, path)
    index = json.loads(Path(f"{source}.index.json").read_text())
    CONSISTENT_LIES[name](index)
    Path(f"{path}.index.json").write_text(json.dumps(index))
    with av.open(str(path)) as container:
        assert consistent(load_index(path), container.streams.video[0], path)


def test_opening_with_a_true_index_reads_no_packets(video, monkeypatch):
    """A sidecar that matches the file is used as it is: opening does no demux pass (which reads
    the whole file), and reading frames confirms it without rebuilding."""
    import sonobridge.formats.video.reader as reader_module

    source, frames = video

    def no_demux(path):
        raise AssertionError("demux pass on opening")

    monkeypatch.setattr(reader_module, "build_index", no_demux)
    with VideoReader(source) as reader:
        for i in (0, 44, 17, 30, 31):
            assert np.array_equal(reader[i], frames[i])
        assert reader.index.time_s is not None
