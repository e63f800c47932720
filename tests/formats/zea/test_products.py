"""sonobridge.formats.zea.products: the zea product of each stream kind, stored exactly."""
from __future__ import annotations

import numpy as np
import pytest

from sonobridge.core.recording import SampleKind
from sonobridge.formats.zea.products import layout_for

CASES = [  # kind, frame shape, dtype, on lines, product, stored shape
    (SampleKind.ENVELOPE, (16, 300), np.uint8, True, "image", (300, 16)),
    (SampleKind.RF, (16, 300), np.int16, True, "beamformed_data", (300, 16, 1)),
    (SampleKind.IQ, (16, 150, 2), np.int16, True, "beamformed_data", (150, 16, 2)),
    (SampleKind.PW_IQ, (1, 64, 2), np.int16, True, "pw_iq", (64, 1, 2)),
    (SampleKind.AMPLITUDE, (40, 30), np.float32, False, "envelope_data", (40, 30)),
    (SampleKind.IMAGE, (40, 30, 3), np.uint8, False, "image_rgb", (40, 30, 3)),
]


@pytest.mark.parametrize("kind, shape, dtype, on_lines, product, stored", CASES)
def test_frames_go_to_their_product_and_come_back_bit_exactly(kind, shape, dtype, on_lines, product, stored):
    layout = layout_for(kind, shape, np.dtype(dtype), on_lines)
    assert layout.product == product and layout.stored_shape(shape) == stored
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    rng = np.random.default_rng(0)
    frames = (rng.integers(info.min, info.max, (3, *shape), endpoint=True) if info else
              rng.standard_normal((3, *shape))).astype(dtype)
    values = layout.to_stored(frames)
    assert values.shape == (3, *stored) and values.dtype == np.dtype(layout.dtype)
    back = layout.to_stream(values, np.dtype(dtype))
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, frames)


def test_samples_float32_cannot_hold_and_shapes_no_product_takes_are_refused():
    with pytest.raises(ValueError, match="int32 rf samples cannot be stored exactly"):
        layout_for(SampleKind.RF, (16, 300), np.dtype(np.int32), True)
    with pytest.raises(ValueError, match="not lines x samples"):
        layout_for(SampleKind.RF, (16, 300, 4), np.dtype(np.int16), True)
    with pytest.raises(ValueError, match="no zea product"):
        layout_for(SampleKind.IMAGE, (40, 30, 4), np.dtype(np.uint8), False)
