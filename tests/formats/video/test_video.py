"""Video export and reading: lossless grey HEVC checked bit for bit with PyAV, the ffmpeg CLI and
OpenCV; ffprobe's view; frame-accurate random access (also on plain ffmpeg encodes with open GOPs
and B-frames); the frame index and datanavigator's .dnav-toc; atomic, resumable export."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import sonobridge
import sonobridge.errors
import sonobridge.zea as sz
from sonobridge.cli import main
from sonobridge.formats.video.writer import export_video, write_video
from sonobridge.formats import open_recording
from sonobridge.formats.video.index import build_index, dnav_path, index_path, load_index

from support import image_stream, moving_frames, synthetic_stream
from synth import write_capture

av = pytest.importorskip("av", reason="the test extra installs PyAV")  # noqa: F841 (import check)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"Debian's {name} is needed (scripts/setup.sh test installs it)")
    return path


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> dict[tuple[int, int], tuple[Path, np.ndarray]]:
    folder = tmp_path_factory.mktemp("videos")
    out = {}
    for height, width, n in ((61, 97, 70), (499, 601, 40)):
        frames = moving_frames(n, height, width, seed=height)
        path = folder / f"v{width}x{height}.mp4"
        write_video(image_stream(frames), path)
        out[(height, width)] = (path, frames)
    return out


@pytest.mark.parametrize("size", [(61, 97), (499, 601)])
def test_lossless_with_pyav_ffmpeg_and_opencv(encoded, size):
    import av
    import cv2

    path, frames = encoded[size]
    height, width = size
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray() for f in container.decode(video=0)])
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, frames)
    raw = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    assert np.array_equal(np.frombuffer(raw, np.uint8).reshape(frames.shape), frames)
    capture = cv2.VideoCapture(str(path))
    by_opencv = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        by_opencv.append(image[..., 0])
    assert np.array_equal(np.stack(by_opencv), frames)
    probe = json.loads(subprocess.run([tool("ffprobe"), "-v", "error", "-count_frames", "-show_streams", "-of", "json",
                                       str(path)], capture_output=True, check=True, text=True).stdout)["streams"][0]
    assert (probe["codec_name"], probe["pix_fmt"], probe["width"], probe["height"]) == ("hevc", "gray", width, height)
    assert int(probe["nb_read_frames"]) == len(frames)


def test_reader_is_frame_accurate_everywhere(encoded):
    path, frames = encoded[(61, 97)]
    with sonobridge.VideoReader(path) as reader:
        assert len(reader) == len(frames) and reader.shape == frames.shape and reader.fps == pytest.approx(25.0)
        keyframes = np.flatnonzero(reader.index.keyframe)
        assert list(keyframes) == list(range(0, 70, 2))           # closed GOP every 2 frames (default)
        near = [k + d for k in keyframes for d in (-2, -1, 0, 1) if 0 <= k + d < len(frames)]
        for index in [*near[::-1], *np.random.default_rng(1).integers(0, len(frames), 25), -1]:
            assert np.array_equal(reader[int(index)], frames[index]), index
        assert np.array_equal(reader[5:12], frames[5:12]) and np.array_equal(reader[[3, 1]], frames[[3, 1]])
        assert np.allclose(reader.time_s, np.arange(len(frames)) / 25.0)
        with pytest.raises(IndexError):
            reader[len(frames)]


@pytest.mark.parametrize("codec_args", [
    ["-c:v", "libx265", "-x265-params", "lossless=1:keyint=24:log-level=error"],   # open GOP, B-frames
    ["-c:v", "libx264", "-g", "20"],                                                  # default h264 (lossy, yuv420p)
])
def test_reader_on_plain_ffmpeg_encodes(tmp_path, codec_args):
    import av

    frames = moving_frames(80, 48, 64, seed=3)
    path = tmp_path / "plain.mp4"
    subprocess.run([tool("ffmpeg"), "-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x48", "-r", "30",
                    "-i", "-", *codec_args, str(path)], input=frames.tobytes(), check=True)
    with av.open(str(path)) as container:                      # ground truth: one linear decode
        linear = np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    with sonobridge.VideoReader(path) as reader:
        assert len(reader) == len(linear)
        keyframes = np.flatnonzero(reader.index.keyframe)
        assert len(keyframes) >= 3
        near = [k + d for k in keyframes for d in (-3, -2, -1, 0, 1) if 0 <= k + d < len(linear)]
        for index in [*near[::-1], *np.random.default_rng(2).integers(0, len(linear), 20)]:
            assert np.array_equal(reader[int(index)], linear[index]), index


def test_index_written_at_encode_matches_a_demux_and_detects_staleness(encoded, tmp_path):
    path, frames = encoded[(61, 97)]
    written, rebuilt = load_index(path), build_index(path)
    assert written is not None
    assert np.array_equal(written.pts, rebuilt.pts) and np.array_equal(written.keyframe, rebuilt.keyframe)
    copy = tmp_path / "copy.mp4"
    shutil.copy(path, copy)
    shutil.copy(index_path(path), index_path(copy))
    assert load_index(copy) is None                           # different file: stale, rebuilt by a demux
    with sonobridge.VideoReader(copy) as reader:
        assert np.array_equal(reader[33], frames[33])


def test_datanavigator_uses_our_sidecar(encoded, monkeypatch):
    import datanavigator.video_reader as dnav

    path, frames = encoded[(61, 97)]
    theirs_toc, theirs_times, theirs_base = dnav._build_toc_and_timestamps(str(path))
    ours = json.loads(dnav_path(path).read_text())
    assert ours["toc"] == theirs_toc and ours["timestamps"] == theirs_times and ours["time_base"] == theirs_base

    def no_rebuild(*args, **kwargs):
        raise AssertionError("datanavigator rebuilt the frame table instead of using our .dnav-toc")

    monkeypatch.setattr(dnav, "_build_toc_and_timestamps", no_rebuild)
    reader = dnav.VideoReader(str(path))
    assert len(reader) == len(frames)
    for index in (0, 29, 30, 31, 59, 60, 69, 12):
        assert np.array_equal(np.asarray(reader[index].asnumpy()).reshape(frames.shape[1:]), frames[index]), index


def test_export_from_a_clarius_capture_resumes_and_is_atomic(tmp_path):
    write_capture(tmp_path / "cap", "env", 1, frames=12, lines=32, samples=90, seed=5)
    recording = open_recording(tmp_path / "cap", probe="L7")
    calls = []
    status = export_video(recording, tmp_path / "out", progress=False,
                          progress_callback=lambda *args: calls.append(args))
    [(video, result)] = status.items()
    assert result == "built" and Path(video).name == "cap.mp4" and len(calls) == 1
    with sonobridge.VideoReader(video) as reader:
        assert len(reader) == 12 and reader.index.source["stream"] == "env_sc"   # scan-converted B-mode
        assert np.allclose(reader.time_s, recording["env"].timestamps_s)
    assert export_video(recording, tmp_path / "out", progress=False) == {video: "hit"}
    assert export_video(recording, tmp_path / "out", progress=False, skip_existing=False)[video].startswith("error")
    index_path(video).unlink()                                   # as if killed before the index was written
    assert export_video(recording, tmp_path / "out", progress=False) == {video: "built"}

    stop_after = iter(range(5))
    status = export_video(recording, tmp_path / "cancel", progress=False,
                          cancel_check=lambda: next(stop_after, None) is None)
    assert list(status.values()) == ["error: cancelled"]
    assert not any((tmp_path / "cancel").iterdir())


def test_crash_mid_encode_leaves_nothing(tmp_path):
    def broken(start, stop):
        if start >= 16:
            raise OSError("source went away")
        return moving_frames(stop - start, 32, 32)

    from sonobridge.core.frames import LazyFrames

    stream = image_stream(np.zeros((40, 32, 32), np.uint8))
    stream.frames = LazyFrames((40, 32, 32), np.uint8, broken)
    with pytest.raises(OSError):
        write_video(stream, tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_lossy_branch_and_flip(tmp_path):
    frames = moving_frames(20, 40, 50)
    write_video(image_stream(frames), tmp_path / "lossy.mp4", settings=__import__(
        "sonobridge.formats.video.writer", fromlist=["EncoderSettings"]).EncoderSettings(crf=28))
    write_video(image_stream(frames), tmp_path / "flip.mp4", flip=True, crop=(5, 35, 10, 50))
    with sonobridge.VideoReader(tmp_path / "lossy.mp4") as lossy, sonobridge.VideoReader(tmp_path / "flip.mp4") as flip:
        assert np.abs(lossy[7].astype(int) - frames[7]).mean() < 20
        assert np.array_equal(flip[7], frames[7, 5:35, 10:50][:, ::-1])


def test_zea_image_to_video_and_cli(tmp_path, capsys):
    frames = moving_frames(15, 30, 40)
    sz.File.create(tmp_path / "img.hdf5", data={"image": {"values": frames, "timestamps": np.arange(15) * 0.04,
                                                          "start_time_offset": 0.0}})
    assert main(["video", str(tmp_path / "img.hdf5"), "--out-dir", str(tmp_path / "v"), "--json", "-q"]) == 0
    [(video, status)] = json.loads(capsys.readouterr().out).items()
    assert status == "built"
    with sonobridge.VideoReader(video) as reader:
        assert np.array_equal(reader[:], frames) and reader.fps == pytest.approx(25.0)
    assert main(["video", str(tmp_path / "img.hdf5"), "--out-dir", str(tmp_path / "v"), "-q"]) == 0
    assert "hit" in capsys.readouterr().out
    (tmp_path / "bad.mp4").write_bytes(b"\0" * 1000)
    with pytest.raises(sonobridge.errors.SonobridgeError, match="bad.mp4"):
        sonobridge.VideoReader(tmp_path / "bad.mp4")


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_video_gives_a_clear_error(encoded, tmp_path, keep):
    path, frames = encoded[(499, 601)]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])
    with pytest.raises(sonobridge.errors.FormatError, match="cut.mp4"):
        with sonobridge.VideoReader(cut) as reader:
            reader[len(frames) - 1]


def test_stream_names_from_inside_a_file_cannot_escape_the_output_folder(tmp_path):
    from sonobridge.formats.video.writer import output_names

    names = output_names("rec", ["/../../../escaped", "track_0/image"])
    assert all("/" not in name and not name.startswith(".") for name in names.values())


def test_encoder_refusal_is_a_status_not_an_exception(tmp_path):
    from sonobridge.formats.video.writer import export_video

    status = export_video(synthetic_stream(np.zeros((5, 6, 64), np.uint8)), tmp_path, progress=False)
    assert list(status.values())[0].startswith("error") and not list(tmp_path.glob("*.mp4"))
