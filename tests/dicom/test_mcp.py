"""sonobridge.dicom.mcp: the MCP stdio server driven by the official SDK's client (a subprocess
started as an agent starts it: initialize, tools/list, tools/call), on real fixtures; and the
registry it is built on (schemas from signatures, result blocks, tool errors) in-process."""
from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sonobridge.dicom import mcp
from sonobridge.errors import SonobridgeError
from support import CINE, PALETTE, REPO

pytest.importorskip("mcp")
import anyio  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

TIMEOUT_S = 60.0
#: every tool the server must offer: the toolkit's and the recording tools (entry-point provider)
DICOM_TOOLS = {"dicom_info", "dicom_frame", "fhir_imaging_study", "hl7_parse", "hl7_build_oru", "sr_read",
               "dicom_volume"}
RECORDING_TOOLS = {"recordings", "inspect_recording", "recording_frame", "render_frame", "convert", "qc",
                   "pacs_echo", "pacs_find"}


def _session(command: list[str], calls):
    """Start ``command`` as an MCP stdio server, initialize, run ``await calls(session)`` and return
    its result; everything within :data:`TIMEOUT_S`."""
    async def main():
        parameters = StdioServerParameters(command=command[0], args=command[1:], cwd=str(REPO))
        with anyio.fail_after(TIMEOUT_S):
            async with stdio_client(parameters) as (read, write), ClientSession(read, write) as session:
                initialized = await session.initialize()
                return initialized, await calls(session)

    return anyio.run(main)


def _png(block) -> np.ndarray:
    assert block.type == "image" and block.mime_type == "image/png"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(block.data))))


def test_python_m_serves_the_tools_and_a_frame_as_an_image_block(tmp_path):
    async def calls(session):
        listed = await session.list_tools()
        frame = await session.call_tool("dicom_frame", {"path": str(CINE), "frame": 2})
        info = await session.call_tool("inspect_recording", {"path": str(CINE)})
        rendered = await session.call_tool("render_frame", {"path": str(CINE), "frame": 1})
        converted = await session.call_tool("convert", {"path": str(CINE), "output": str(tmp_path / "cine.hdf5")})
        missing = await session.call_tool("dicom_frame", {"path": str(tmp_path / "absent.dcm")})
        return listed, frame, info, rendered, converted, missing

    initialized, (listed, frame, info, rendered, converted, missing) = _session(
        [sys.executable, "-m", "sonobridge.dicom.mcp"], calls)
    assert initialized.server_info.name == "sonobridge"
    names = {entry.name for entry in listed.tools}
    assert DICOM_TOOLS | RECORDING_TOOLS <= names
    schema = next(entry for entry in listed.tools if entry.name == "dicom_frame").input_schema
    assert schema["required"] == ["path"] and schema["properties"]["frame"]["type"] == "integer"

    from sonobridge.dicom import decode

    assert not frame.is_error and len(frame.content) == 1
    np.testing.assert_array_equal(_png(frame.content[0]), decode(CINE, frame=2)[0])    # lossless PNG of the frame

    assert not info.is_error and info.structured_content["format"] == "dicom"
    assert info.structured_content["streams"]["image"]["n_frames"] == 30
    assert json.loads(info.content[0].text) == info.structured_content

    assert [block.type for block in rendered.content] == ["image", "text"]
    assert _png(rendered.content[0]).shape[:2] == tuple(rendered.structured_content["shape"])

    assert not converted.is_error and (tmp_path / "cine.hdf5").is_file()
    assert converted.structured_content == {"output": str(tmp_path / "cine.hdf5"), "format": "zea"}

    assert missing.is_error and "absent.dcm" in missing.content[0].text      # the package's error, as text


def test_sonobridge_mcp_command_serves_the_same_tools():
    async def calls(session):
        listed = await session.list_tools()
        study = await session.call_tool("fhir_imaging_study", {"path": str(PALETTE)})
        return listed, study

    _, (listed, study) = _session([sys.executable, "-m", "sonobridge.cli", "mcp"], calls)
    assert DICOM_TOOLS | RECORDING_TOOLS <= {entry.name for entry in listed.tools}
    assert study.structured_content["resourceType"] == "ImagingStudy"


def test_the_server_ends_at_stdin_eof():
    result = subprocess.run([sys.executable, "-m", "sonobridge.dicom.mcp"], input=b"", capture_output=True,
                            timeout=TIMEOUT_S, cwd=REPO)
    assert result.returncode == 0 and result.stdout == b""


def test_the_recording_tools_come_through_the_entry_point_not_an_import():
    """Importing the toolkit's server loads no layer above the toolkit; the provider does, when loaded."""
    code = ("import sys, sonobridge.dicom.mcp as m; above = lambda: sorted(n for n in sys.modules if n.startswith("
            "('sonobridge.mcp_server', 'sonobridge.formats', 'sonobridge.pipeline', 'sonobridge.core'))); "
            "print(above()); m.load_providers(); print('sonobridge.mcp_server' in above())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.stdout.split("\n")[:2] == ["[]", "True"], result.stderr
    from importlib.metadata import entry_points

    assert [p.value for p in entry_points(group=mcp.PROVIDER_GROUP) if p.name == "sonobridge"] == \
        ["sonobridge.mcp_server"]


@pytest.mark.parametrize("command", [["sonobridge.cli", "mcp"], ["sonobridge.dicom.mcp"]])
def test_without_the_sdk_one_line_names_the_extra(command):
    code = f"import runpy, sys; sys.modules['mcp'] = None; runpy.run_module({command[0]!r}, run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code, *command[1:]], capture_output=True, text=True,
                            timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "pip install 'sonobridge[mcp]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the registry, in-process
def test_tool_decorator_schema_from_signature_and_docstring():
    def measure(path: str, frame: int = 0, scale: float | None = None, labels: list[str] | None = None,
                verbose: bool = False) -> str:
        """Measure something.

        Parameters
        ----------
        path : str
            The file.
        frame : int
            0-based frame.
        """
        return json.dumps({"path": path, "frame": frame})

    try:
        assert mcp.tool(name="measure_it", read_only=False)(measure) is measure
        entry = mcp.TOOLS["measure_it"]
        assert entry.description == "Measure something." and not entry.read_only
        assert entry.input_schema == {
            "type": "object", "required": ["path"],
            "properties": {"path": {"type": "string", "description": "The file."},
                           "frame": {"type": "integer", "description": "0-based frame.", "default": 0},
                           "scale": {"type": "number"}, "labels": {"type": "array", "items": {"type": "string"}},
                           "verbose": {"type": "boolean", "default": False}}}
        assert mcp.call("measure_it", {"path": "x", "frame": 3}) == '{"path": "x", "frame": 3}'
        with pytest.raises(SonobridgeError, match="missing path"):
            mcp.call("measure_it", {})
        with pytest.raises(SonobridgeError, match="unknown colour"):
            mcp.call("measure_it", {"path": "x", "colour": 1})
    finally:
        mcp.TOOLS.pop("measure_it", None)


def test_result_blocks_json_image_text():
    png = mcp.png_uri(np.arange(12, dtype=np.uint16).reshape(3, 4))
    found = mcp.blocks([png, '{"a": [1, 2]}', "[1, 2]", "plain"])
    assert [b.kind for b in found] == ["image", "text", "text", "text"]
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(found[0].data))))
    assert image.dtype == np.uint8 and image[0, 0] == 0 and image[-1, -1] == 255      # min..max scaled
    assert found[1].structured == {"a": [1, 2]} and found[2].structured is None       # only objects are structured


def test_unknown_tool_and_failing_tool_are_tool_errors():
    assert mcp._run_tool("no_such_tool", {})[1]
    blocks, failed = mcp._run_tool("hl7_parse", {"message": "PID|1"})
    assert failed and "MSH" in blocks[0].text


def test_dicom_tools_in_process(tmp_path):
    info = json.loads(mcp.call("dicom_info", {"path": str(CINE)}))
    assert info["Modality"] == "US" and info["NumberOfFrames"] == 30 and info["ultrasound_regions"] >= 1
    palette = mcp.blocks(mcp.call("dicom_frame", {"path": str(PALETTE)}))[0]
    assert np.asarray(Image.open(io.BytesIO(base64.b64decode(palette.data)))).shape == (600, 800, 3)  # RGB
    with pytest.raises(SonobridgeError, match="numbered from 1"):
        mcp.call("dicom_frame", {"path": str(CINE), "frame": 0})
    message = mcp.call("hl7_build_oru", {"config": {"control_id": "9"}, "context": {"patient_id": "P"},
                                         "observations": [{"observation_id": "IMP", "value": "ok"}]})
    parsed = json.loads(mcp.call("hl7_parse", {"message": message}))
    assert [s["id"] for s in parsed["segments"]] == ["MSH", "PID", "ORC", "OBR", "OBX"]


def test_volume_and_structured_report_tools(tmp_path):
    import shutil

    from sonobridge.dicom import sr
    from support import DICOM

    shutil.copy(DICOM / "pydicom" / "CT_small.dcm", tmp_path / "slice.dcm")
    volume = json.loads(mcp.call("dicom_volume", {"path": str(tmp_path)}))
    assert volume["shape"] == [1, 128, 128] and volume["spacing_mm"][1] == pytest.approx(0.661468)
    sr.write_length_report(CINE, [(100, 50), (200, 50)], frame=2, output=tmp_path / "sr.dcm")
    report = json.loads(mcp.call("sr_read", {"path": str(tmp_path / "sr.dcm")}))
    assert report["measurements"][0]["concept_meaning"] == "Length" and report["measurements"][0]["value"] > 0
