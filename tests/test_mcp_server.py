"""sonobridge.mcp_server: the recording tools of the MCP server, called in-process on real
recordings (the stdio protocol itself is tested in tests/dicom/test_mcp.py)."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

import sonobridge.mcp_server  # noqa: F401 - registers the recording tools
from sonobridge.dicom import mcp
from sonobridge.errors import AmbiguousInputError, NetworkError, SonobridgeError, UnsupportedInputError
from support import CINE, EXAMPLES, dciodvfy_errors


def _json(name: str, **arguments) -> dict:
    return json.loads(mcp.call(name, arguments))


def _image(uri: str) -> np.ndarray:
    block = mcp.blocks(uri)[0]
    assert block.kind == "image" and block.mime == "image/png"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(block.data))))


def test_recordings_lists_and_a_listed_label_opens():
    found = _json("recordings", path=str(EXAMPLES))["recordings"]
    assert found and all(entry["format"] for entry in found)
    label = found[0]["label"]
    info = _json("inspect_recording", path=label)
    assert info["format"] == found[0]["format"] and info["streams"]


def test_a_folder_of_several_recordings_is_ambiguous_for_one_recording_tools():
    with pytest.raises(AmbiguousInputError, match="recordings tool"):
        mcp.call("inspect_recording", {"path": str(EXAMPLES)})


def test_recording_frame_is_the_preview_image():
    from sonobridge.formats import open_recording
    from sonobridge.processing.preview import preview_frame

    image = _image(mcp.call("recording_frame", {"path": str(CINE), "frame": 3}))
    np.testing.assert_array_equal(image, preview_frame(open_recording(CINE).streams["image"], 3))
    with pytest.raises(SonobridgeError, match="out of range"):
        mcp.call("recording_frame", {"path": str(CINE), "frame": 30})
    with pytest.raises(UnsupportedInputError, match="no stream 'nope'"):
        mcp.call("recording_frame", {"path": str(CINE), "stream": "nope"})


def test_render_frame_gives_the_image_and_its_description():
    image, info = mcp.blocks(mcp.call("render_frame", {"path": str(CINE), "frame": 0}))
    assert info.structured["scale_bar_mm"] > 0 and info.structured["pixel_size_m"] > 0
    assert _image(f"data:{image.mime};base64,{image.data}").shape == (*info.structured["shape"], 3)


def test_convert_to_dicom_is_valid_and_refuses_to_overwrite(tmp_path):
    output = tmp_path / "cine.dcm"
    assert _json("convert", path=str(CINE), output=str(output)) == {"output": str(output), "format": "dicom"}
    assert dciodvfy_errors(output) == []
    with pytest.raises(SonobridgeError, match="exists"):
        mcp.call("convert", {"path": str(CINE), "output": str(output)})
    with pytest.raises(UnsupportedInputError, match="give `to`"):
        mcp.call("convert", {"path": str(CINE), "output": str(tmp_path / "cine.unknown")})


def test_qc_reports_every_stream():
    report = _json("qc", path=str(CINE))["recordings"]
    (stream_report,) = report.values()
    assert stream_report["image"]["n_frames"] == 30 and stream_report["image"]["decodable"] is True


def test_pacs_tools_report_an_unreachable_pacs_as_the_packages_error():
    with pytest.raises(NetworkError):
        mcp.call("pacs_echo", {"url": "http://127.0.0.1:9/dicom-web", "timeout_s": 1.0})
    with pytest.raises(SonobridgeError, match="level 'VOLUME'"):
        mcp.call("pacs_find", {"url": "http://127.0.0.1:9/dicom-web", "level": "volume"})
