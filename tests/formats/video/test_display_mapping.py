"""Videos of any image product: float dB images (zea ``image``) and linear amplitude (zea
``envelope_data``, pre-scan amplitude lines) become 8-bit by a stated rule, frames equal to that
rule applied to the source bit for bit (the encode is lossless), the rule and its range recorded
in the video index; ``video`` and ``process`` make them instead of "no uint8 image stream"."""
from __future__ import annotations

import json

import numpy as np
import pytest

import sonobridge
import sonobridge.zea as sz
from sonobridge.cli import main
from sonobridge.core.recording import Provenance, Recording, SampleKind, Stream
from sonobridge.formats.video.writer import DEFAULT_DB_RANGE, db_to_uint8, export_video
from sonobridge.formats import open_recording
from sonobridge.formats.video.index import load_index
from sonobridge.processing.envelope import LogCompression

from support import ZEA

pytest.importorskip("av", reason="the test extra installs PyAV")


def _decoded(path) -> np.ndarray:
    with sonobridge.VideoReader(path) as reader:
        return np.asarray(reader[:])


def _float_zea(path, rng) -> tuple[np.ndarray, np.ndarray]:
    """A zea file with a dB image (with -inf and values below the range) and linear amplitude."""
    image = -rng.random((6, 40, 32)).astype(np.float32) * 80
    image[0, 0, :4] = -np.inf
    image[1, 1, :4] = 0.0
    amplitude = (rng.random((6, 40, 32)) * 1e3 + 1e-3).astype(np.float32)
    sz.File.create(path, data={"image": {"values": image, "timestamps": np.arange(6) * 0.05,
                                         "start_time_offset": 0.0},
                               "envelope_data": {"values": amplitude}})
    return image, amplitude


def _mapping(path) -> dict:
    return load_index(path).source["display_mapping"]


@pytest.mark.parametrize("name", ["tiny.hdf5", "legacy_0013.hdf5", "legacy_0013_resaved.hdf5"])
def test_db_images_of_the_zea_fixtures_become_videos(name, tmp_path):
    recording = open_recording(ZEA / name)
    results = export_video(recording, tmp_path, progress=False)
    [(video, status)] = results.items()
    assert status == "built"
    source = np.asarray(recording.streams["image"].frames)
    assert np.array_equal(_decoded(video), db_to_uint8(source, *DEFAULT_DB_RANGE))
    mapping = _mapping(video)
    assert mapping["range_db"] == list(DEFAULT_DB_RANGE) and "dB window" in mapping["rule"]


def test_float_image_and_envelope_products_map_by_the_stated_rules(tmp_path):
    image, amplitude = _float_zea(tmp_path / "f.hdf5", np.random.default_rng(5))
    results = export_video(tmp_path / "f.hdf5", tmp_path / "v", progress=False)
    assert sorted(results.values()) == ["built", "built"]
    videos = {load_index(p).source["stream"].split("_bmode")[0]: p for p in results}
    db = _decoded(videos["image"])
    assert np.array_equal(db, db_to_uint8(image, -60, 0))
    assert db[0, 0, :4].tolist() == [0] * 4 and db[1, 1, :4].tolist() == [255] * 4
    mapping = _mapping(videos["envelope_data"])
    assert "log compression" in mapping["rule"] and mapping["dynamic_range_db"] == 60.0
    compression = LogCompression(mapping["dynamic_range_db"], mapping["gain_db"], mapping["reference_db"])
    assert np.array_equal(_decoded(videos["envelope_data"]), compression(amplitude * amplitude))


def test_synthetic_float_streams_and_a_stated_dynamic_range(tmp_path):
    rng = np.random.default_rng(9)
    lines = (rng.random((5, 24, 48)) * 10).astype(np.float32)        # (n, lines, samples): core convention
    clock = np.arange(5) * 0.04
    amplitude = Stream(name="amp", kind=SampleKind.AMPLITUDE, frame_shape=(24, 48), dtype=np.float32, frames=lines,
                       clock_source=clock, clock_unit_s=1.0, provenance=Provenance(("synthetic",), "test"))
    db = -rng.random((5, 30, 20)).astype(np.float32) * 50
    image = Stream(name="db", kind=SampleKind.IMAGE, frame_shape=(30, 20), dtype=np.float32, frames=db,
                   clock_source=clock, clock_unit_s=1.0, parameters={"dynamic_range": [-40.0, 0.0]})
    recording = Recording(name="synthetic", streams={"amp": amplitude, "db": image})
    results = export_video(recording, tmp_path, progress=False)
    assert set(results.values()) == {"built"}
    db_video, amp_video = tmp_path / "synthetic_db.mp4", tmp_path / "synthetic_amp.mp4"
    assert _mapping(db_video)["range_db"] == [-40.0, 0.0]
    assert np.array_equal(_decoded(db_video), db_to_uint8(db, -40.0, 0.0))
    mapping = _mapping(amp_video)
    compression = LogCompression(mapping["dynamic_range_db"], mapping["gain_db"], mapping["reference_db"])
    expected = np.swapaxes(compression(lines * lines), 1, 2)           # shown depth-down, no probe
    assert np.array_equal(_decoded(amp_video), expected)
    assert np.allclose(load_index(amp_video).time_s, clock)


def test_cli_video_and_process_make_float_videos(tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    _float_zea(source / "f.hdf5", np.random.default_rng(1))
    assert main(["video", str(source / "f.hdf5"), "--out-dir", str(tmp_path / "v"), "--json", "-q"]) == 0
    assert sorted(json.loads(capsys.readouterr().out).values()) == ["built", "built"]
    from sonobridge.pipeline.run import process

    results = process([source], tmp_path / "out", progress=False)
    [result] = results.values()
    assert sorted(result["video"].values()) == ["built", "built"], result
