"""sonobridge.processing.display: every kind of stream as 8-bit display frames (and the video
export's options that take them to an mp4)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sonobridge.core.frames import LazyFrames
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import PRODUCT_PARAMETER, SampleKind, Stream
from sonobridge.processing import display


def _stream(kind: SampleKind, values: np.ndarray, **fields) -> Stream:
    return Stream("s", kind, values.shape[1:], values.dtype,
                  LazyFrames(values.shape, values.dtype, lambda start, stop: values[start:stop]), **fields)


def test_db_to_uint8_windows_truncates_and_maps_nan_to_black():
    values = np.array([-np.inf, -60.0, -30.0, -0.1, 0.0, 3.0, np.nan])
    assert display.db_to_uint8(values, *display.DEFAULT_DB_RANGE).tolist() == [0, 0, 127, 254, 255, 255, 0]
    assert display.db_to_uint8(np.array([-20.0]), -40.0, 0.0).tolist() == [127]


def test_db_images_use_their_stated_range_else_the_default():
    image = np.full((2, 3, 4), -20.0, np.float32)
    stated = _stream(SampleKind.IMAGE, image, parameters={"scan": {"dynamic_range": np.array([-40.0, 0.0])}})
    assert display.db_range(stated) == (-40.0, 0.0)
    shown = display.display_stream(stated)(stated)
    assert shown.dtype == np.uint8 and np.all(np.asarray(shown.frames[0:2]) == 127)
    assert shown.parameters["display_mapping"]["range_db"] == [-40.0, 0.0]
    plain = _stream(SampleKind.BMODE, image, parameters={"dynamic_range": [0.0, -1.0]})    # not increasing
    assert display.db_range(plain) == display.DEFAULT_DB_RANGE


def test_uint8_rgb_and_envelope_streams():
    grey = _stream(SampleKind.IMAGE, np.zeros((1, 4, 6), np.uint8))
    assert display.display_stream(grey)(grey) is grey
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[0, 0, 0] = (255, 0, 0)
    rgb[0, 1, 1] = (90, 90, 90)
    luma = np.asarray(display.display_stream(_stream(SampleKind.IMAGE, rgb))(_stream(SampleKind.IMAGE, rgb)).frames[0:1])
    assert luma.tolist() == [[[76, 0], [0, 90]]]
    lines = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)           # (frames, lines, samples)
    envelope = _stream(SampleKind.ENVELOPE, lines)
    shown = display.display_stream(envelope)(envelope)
    assert shown.frame_shape == (5, 3) and np.array_equal(np.asarray(shown.frames[0:2]), lines.swapaxes(1, 2))


def test_amplitude_is_log_compressed_and_shown_depth_down_unless_already_an_image():
    rng = np.random.default_rng(0)
    amplitude = rng.rayleigh(1.0, (2, 3, 8)).astype(np.float32)
    as_lines = _stream(SampleKind.AMPLITUDE, amplitude)
    assert display.display_stream(as_lines)(as_lines).frame_shape == (8, 3)
    for fields in ({"parameters": {PRODUCT_PARAMETER: "envelope"}},
                   {"geometry": PixelGrid(x_m=np.arange(8) * 1e-4, z_m=np.arange(3) * 1e-4)}):
        image = _stream(SampleKind.AMPLITUDE, amplitude, **fields)
        shown = display.display_stream(image)(image)
        assert shown.frame_shape == (3, 8) and shown.dtype == np.uint8
        assert "log compression" in shown.parameters["display_mapping"]["rule"]


def test_streams_without_a_display():
    assert display.display_stream(_stream(SampleKind.RF, np.zeros((1, 2, 3), np.int16))) is None
    assert display.display_stream(Stream("t", SampleKind.IMAGE, (2, 2), np.uint8)) is None   # timing-only


def test_the_video_export_keeps_its_names_and_takes_frozen_options(tmp_path):
    from sonobridge.formats.video import writer as video

    assert video.db_to_uint8 is display.db_to_uint8 and video.DEFAULT_DB_RANGE is display.DEFAULT_DB_RANGE
    options = video.VideoOptions(crop=(0, 16, 8, 24), flip=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.flip = False                                                  # type: ignore[misc]
    frames = np.random.default_rng(1).integers(0, 255, (3, 16, 32), np.uint8)
    stream = _stream(SampleKind.IMAGE, frames)
    path = tmp_path / "s.mp4"
    assert video.export_stream(stream, path, True, False, options) == "built"
    assert video.export_stream(stream, path, True, False, options) == "hit"
    from sonobridge import VideoReader

    with VideoReader(path) as reader:
        assert np.array_equal(reader[1], frames[1, 0:16, 8:24][:, ::-1])
