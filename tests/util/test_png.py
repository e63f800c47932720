"""sonobridge.util.png: PNG previews with their physical pixel size (pHYs), written atomically."""
from __future__ import annotations

import numpy as np
from PIL import Image

from sonobridge.util.png import save_png


def test_grey_and_rgb_images_round_trip_with_their_pixel_size(tmp_path):
    grey = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    save_png(grey, tmp_path / "grey.png", pixel_size_m=2e-4)            # 5000 pixels per metre
    with Image.open(tmp_path / "grey.png") as image:
        assert np.array_equal(np.asarray(image), grey)
        assert round(image.info["dpi"][0]) == round(0.0254 / 2e-4)
    rgb = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    save_png(rgb, tmp_path / "rgb.png")
    with Image.open(tmp_path / "rgb.png") as image:
        assert image.mode == "RGB" and np.array_equal(np.asarray(image), rgb) and "dpi" not in image.info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", "rgb.png"]
