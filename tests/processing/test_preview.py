"""sonobridge.processing.preview returns arrays (writes no files); sonobridge.util.png writes them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sonobridge.core.frames import LazyFrames
from sonobridge.core.recording import SampleKind, Stream
from sonobridge.processing import preview, render
from sonobridge.util.png import save_png


def _stream(kind: SampleKind, values: np.ndarray) -> Stream:
    return Stream("s", kind, values.shape[1:], values.dtype,
                  LazyFrames(values.shape, values.dtype, lambda start, stop: values[start:stop]))


def test_preview_shows_lines_depth_down_and_detects_rf():
    envelope = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    image = preview.preview_frame(_stream(SampleKind.ENVELOPE, envelope), 1)
    assert image.shape == (4, 3) and np.array_equal(image, envelope[1].T)
    rf = np.random.default_rng(0).normal(0, 100, (1, 3, 64)).astype(np.int16)
    detected = preview.preview_frame(_stream(SampleKind.RF, rf))
    assert detected.shape == (64, 3) and detected.dtype == np.uint8 and detected.max() > 200


def test_save_png_is_atomic_and_records_the_pixel_size(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    save_png(grey, tmp_path / "grey.png")
    with Image.open(tmp_path / "grey.png") as png:
        assert np.array_equal(np.asarray(png), grey) and "dpi" not in png.info
    rgb = np.zeros((5, 6, 3), np.uint8)
    save_png(rgb, tmp_path / "rgb.png", pixel_size_m=0.2e-3)                  # 5000 pixels per metre
    with Image.open(tmp_path / "rgb.png") as png:
        assert png.mode == "RGB" and png.info["dpi"][0] == pytest.approx(127, abs=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", "rgb.png"]   # no temporary left


def test_processing_modules_write_no_files():
    """PNG writing lives in sonobridge.util.png: the processing modules only delegate to it."""
    import inspect

    for module in (preview, render):
        source = inspect.getsource(module)
        assert "atomic_path" not in source and "PNG" not in source.replace("as PNG", "")
    assert preview.save_png is save_png                                       # the name callers use
