"""sonobridge.core.describe: the JSON-ready summary ``sonobridge info`` prints."""
from __future__ import annotations

import json

import numpy as np

from sonobridge.core.describe import describe, jsonable
from sonobridge.core.recording import Recording

from support import image_stream, moving_frames


def test_a_recording_is_summarised_as_plain_json():
    recording = Recording("demo", {"image": image_stream(moving_frames(5, 8, 10), rate_hz=20.0)})
    summary = describe(recording)
    json.dumps(summary, allow_nan=False)
    assert summary["name"] == "demo" and list(summary["streams"]) == ["image"]
    assert summary["streams"]["image"]["n_frames"] == 5 and summary["signals"] == {}


def test_numpy_values_tuples_and_paths_become_json_values():
    value = jsonable({"a": np.uint64(2**63), "b": np.float32(0.5), "c": (1, 2), "d": np.arange(3)})
    assert json.loads(json.dumps(value)) == {"a": 2**63, "b": 0.5, "c": [1, 2], "d": [0, 1, 2]}
