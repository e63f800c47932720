"""The agent-facing MCP server (``pydcm.mcp``): sonobridge over the Model Context Protocol.

Run it as an MCP stdio server (what an agent, Claude Desktop or any MCP client connects to)::

    python -m sonobridge.dicom.mcp          # or: sonobridge mcp

Each tool is a plain Python function registered with :func:`tool`; its parameters (type hints and
numpy-style docstring) become the tool's JSON input schema, and the string it returns becomes the
result: a JSON object (returned as ``structuredContent`` and as text), a
``data:image/*;base64,...`` URI (an image content block), or plain text. A handler may return a
list of such strings for several blocks (an image and its JSON description). The package's errors
become tool errors (``isError``) whose text is the error message, so an agent sees what was wrong.

This module holds the server and the DICOM toolkit's own tools (``dicom_info``, ``dicom_frame``,
``fhir_imaging_study``, ``hl7_parse``, ``hl7_build_oru``, ``sr_read``, ``dicom_volume``). Tools
that need sonobridge's recording model, formats or pipeline (open and inspect a recording, render,
convert, QC, query a PACS) live above the toolkit, in :mod:`sonobridge.mcp_server`; it is found at
run time as a *tool provider*: every entry point of the group :data:`PROVIDER_GROUP` (module or
callable) is loaded by :func:`load_providers` before serving, which is how other packages add tools
too. The server runs on the official ``mcp`` SDK (``pip install 'sonobridge[mcp]'``).

Examples
--------
>>> @tool
... def echo(text: str) -> str:
...     '''Say ``text`` back.'''
...     return text
>>> call("echo", {"text": "hi"})
'hi'
>>> TOOLS["echo"].input_schema["required"]
['text']
>>> del TOOLS["echo"]
"""
from __future__ import annotations

import base64
import inspect
import io
import json
import logging
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MissingDependencyError, SonobridgeError

__all__ = ["tool", "serve", "call", "Tool", "Block", "TOOLS", "PROVIDER_GROUP", "load_providers", "blocks",
           "image_uri", "png_uri", "json_result", "server"]

log = logging.getLogger(__name__)

#: the entry-point group whose members add tools (a module registering with :func:`tool`, or a callable)
PROVIDER_GROUP = "sonobridge.mcp"
SERVER_NAME = "sonobridge"
#: JSON schema type of each Python annotation
_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                               dict: "object", list: "array"}
_DATA_URI = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=\s]*)\Z", re.S)


@dataclass(frozen=True)
class Tool:
    """A registered tool: ``function(**arguments) -> str`` (or a list of str) and its description.

    Attributes
    ----------
    name, description : str
        As listed to clients (the description: the docstring's summary and parameter texts).
    function : callable
        The handler.
    input_schema : dict
        JSON Schema of the arguments (``type: object``), from the signature.
    read_only : bool
        The tool changes nothing (an MCP annotation hint; False for tools that write files).
    """

    name: str
    description: str
    function: Callable[..., Any]
    input_schema: dict[str, Any]
    read_only: bool = True


#: name -> Tool: every registered tool
TOOLS: dict[str, Tool] = {}


def _docstring_parameters(doc: str) -> dict[str, str]:
    """``{parameter: description}`` from a numpy-style ``Parameters`` section."""
    match = re.search(r"^\s*Parameters\s*\n\s*-+\s*\n(.*?)(?:\n\s*\n\s*\w[\w ]*\n\s*-+\s*\n|\Z)", doc, re.S | re.M)
    if not match:
        return {}
    described: dict[str, str] = {}
    current: list[str] = []
    for line in match.group(1).splitlines():
        header = re.match(r"(\w+(?:\s*,\s*\w+)*)\s*:", line)     # unindented: a parameter's header
        if header:
            current = [name.strip() for name in header.group(1).split(",")]
            continue
        for name in current:
            described[name] = f"{described.get(name, '')} {line.strip()}".strip()
    return described


def _json_type(annotation: Any) -> dict[str, Any]:
    """JSON Schema of a parameter annotation (``X | None`` as X; unknown types: no constraint)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _json_type(members[0]) if len(members) == 1 else {}
    if origin is not None:
        schema = {"type": _JSON_TYPES[origin]} if origin in _JSON_TYPES else {}
        arguments = typing.get_args(annotation)
        if origin is list and arguments:
            schema["items"] = _json_type(arguments[0])
        return schema
    return {"type": _JSON_TYPES[annotation]} if annotation in _JSON_TYPES else {}


def _schema(function: Callable[..., Any]) -> dict[str, Any]:
    """The JSON input schema of ``function``'s parameters (required: those without a default)."""
    hints = typing.get_type_hints(function)
    texts = _docstring_parameters(inspect.getdoc(function) or "")
    properties: dict[str, Any] = {}
    required = []
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        prop = _json_type(hints.get(name, Any))
        if name in texts:
            prop["description"] = texts[name]
        if parameter.default is parameter.empty:
            required.append(name)
        elif parameter.default is not None:
            prop["default"] = parameter.default
        properties[name] = prop
    return {"type": "object", "properties": properties, "required": required}


def _summary(function: Callable[..., Any]) -> str:
    """The docstring up to its first numpy section."""
    doc = inspect.getdoc(function) or function.__name__
    return re.split(r"\n\s*\n\s*\w[\w ]*\n\s*-{3,}", doc, maxsplit=1)[0].strip()


def tool(function: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None,
         read_only: bool = True) -> Any:
    """Register ``function`` as an MCP tool (``@tool`` or ``@tool(name=..., read_only=False)``).

    Parameters
    ----------
    function : callable
        ``function(**arguments) -> str`` (or a list of str): a JSON object, a
        ``data:image/...;base64,`` URI, or text (see the module's description).
    name : str, optional
        Tool name (default: the function's name). A later registration of a name replaces it.
    description : str, optional
        Default: the docstring's summary.
    read_only : bool
        False for tools that write files or change anything.

    Returns
    -------
    callable
        ``function`` unchanged (or a decorator, when called with keywords only).
    """
    def register(target: Callable[..., Any]) -> Callable[..., Any]:
        title = name or target.__name__
        TOOLS[title] = Tool(title, description or _summary(target), target, _schema(target), read_only)
        return target

    return register if function is None else register(function)


def call(name: str, arguments: Mapping[str, Any] | None = None) -> Any:
    """Run tool ``name`` in-process with ``arguments``: what its handler returns.

    Raises
    ------
    SonobridgeError
        No such tool, missing or unknown arguments (and whatever the tool raises).
    """
    if name not in TOOLS:
        raise SonobridgeError(None, f"no tool {name!r} (tools: {', '.join(sorted(TOOLS))})")
    entry = TOOLS[name]
    arguments = dict(arguments or {})
    schema = entry.input_schema
    missing = [key for key in schema["required"] if key not in arguments]
    unknown = sorted(set(arguments) - set(schema["properties"]))
    if missing or unknown:
        raise SonobridgeError(None, f"tool {name}: " + "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unknown {', '.join(unknown)}" if unknown else "") if part))
    return entry.function(**arguments)


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class Block:
    """One content block of a tool result: ``kind`` ``"text"`` (``text``; ``structured`` set when it
    is a JSON object) or ``"image"`` (``data`` base64, ``mime`` type)."""

    kind: str
    text: str = ""
    data: str = ""
    mime: str = ""
    structured: dict[str, Any] | None = None


def blocks(result: Any) -> list[Block]:
    """The content blocks of a handler's return value (a string or a list of strings; other
    values are shown as their ``str``).

    Examples
    --------
    >>> [b.kind for b in blocks(['{"a": 1}', "data:image/png;base64,iVBORw0K", "plain"])]
    ['text', 'image', 'text']
    >>> blocks('{"a": 1}')[0].structured
    {'a': 1}
    """
    found = []
    for value in result if isinstance(result, list) else [result]:
        text = value if isinstance(value, str) else str(value)
        image = _DATA_URI.match(text.strip())
        if image:
            found.append(Block("image", data=re.sub(r"\s", "", image.group(2)), mime=image.group(1)))
            continue
        structured = None
        if text.lstrip().startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            structured = parsed if isinstance(parsed, dict) else None
        found.append(Block("text", text=text, structured=structured))
    return found


def image_uri(data: bytes, mime: str = "image/png") -> str:
    """``data`` (an encoded image) as a ``data:`` URI, what a handler returns for an image block."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_uri(image: Any) -> str:
    """A uint8 image ``(rows, cols)`` grey or ``(rows, cols, 3|4)`` colour as a PNG ``data:`` URI;
    other dtypes are scaled from their minimum..maximum to 0..255."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        values = pixels.astype(np.float64)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scale = 255.0 / (high - low) if high > low else 0.0
        pixels = np.nan_to_num((values - low) * scale).round().clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return image_uri(buffer.getvalue())


def json_result(value: Mapping[str, Any]) -> str:
    """``value`` as the JSON object text a handler returns (numpy scalars and other values as text)."""
    def plain(item: Any) -> Any:
        if hasattr(item, "tolist"):
            return item.tolist()
        return str(item)

    return json.dumps(value, default=plain)


# ---------------------------------------------------------------- the DICOM toolkit's tools
_INFO = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "Manufacturer",
         "ManufacturerModelName", "StudyDate", "StudyDescription", "SeriesDescription", "Rows", "Columns",
         "NumberOfFrames", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored",
         "PixelRepresentation")


@tool
def dicom_info(path: str) -> str:
    """The main attributes of a DICOM file: SOP class (and its name), UIDs, modality, device, image
    size, frames, photometric interpretation and bits, transfer syntax; ultrasound regions and
    frame times when present.

    Parameters
    ----------
    path : str
        A DICOM Part-10 file.
    """
    from .io import damaged_content, read_dataset
    from .ultrasound import frame_times_s, us_regions

    ds = read_dataset(path, stop_before_pixels=True)
    with damaged_content(path):
        info: dict[str, Any] = {key: str(ds[key].value) if key.endswith("UID") else ds[key].value
                                for key in _INFO if key in ds and ds[key].value not in (None, "")}
        for key in ("Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "BitsAllocated", "BitsStored"):
            if key in info:
                info[key] = int(info[key])
        if "SOPClassUID" in ds:
            info["SOPClassName"] = ds.SOPClassUID.name
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "TransferSyntaxUID" in meta:
            info["TransferSyntaxUID"], info["TransferSyntaxName"] = str(meta.TransferSyntaxUID), \
                meta.TransferSyntaxUID.name
        regions = us_regions(ds)
        if regions:
            info["ultrasound_regions"] = len(regions)
        times = frame_times_s(ds)
        if times is not None and len(times):
            info["duration_s"] = float(times[-1] - times[0])
    return json_result(info)


@tool
def dicom_frame(path: str, frame: int = 1) -> str:
    """One frame of a DICOM image as a PNG image (any transfer syntax; colour and palette colour
    as RGB, MONOCHROME1 inverted, other bit depths scaled to 8 bits from the frame's
    minimum..maximum).

    Parameters
    ----------
    path : str
        A DICOM Part-10 file with pixel data.
    frame : int
        1-based frame number (DICOM numbering).
    """
    from .io import damaged_content, read_dataset
    from .pixels import decode

    if frame < 1:
        raise SonobridgeError(path, f"frame {frame}: DICOM frames are numbered from 1")
    pixels = decode(path, frame=frame)[0]                 # [rows, cols(, samples)]
    ds = read_dataset(path, stop_before_pixels=True)
    with damaged_content(path):
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        if photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            pixels = apply_color_lut(pixels, ds)
        elif photometric == "MONOCHROME1":
            pixels = pixels.max() - pixels
    return png_uri(pixels)


@tool
def fhir_imaging_study(path: str) -> str:
    """The FHIR R4 ImagingStudy (with a contained Patient) of a DICOM instance.

    Parameters
    ----------
    path : str
        A DICOM Part-10 file.
    """
    from .fhir import imaging_study

    return json_result(imaging_study(path))


@tool
def hl7_parse(message: str) -> str:
    """Parse an HL7 v2 (ER7) message: ``{"segments": [{"id": "MSH", "fields": [...]}, ...]}``.

    Parameters
    ----------
    message : str
        The message text (segments separated by carriage returns or new lines).
    """
    from .hl7 import parse

    return json_result({"segments": parse(message)})


@tool
def hl7_build_oru(config: dict, context: dict, observations: list[dict]) -> str:
    """Build an HL7 v2.5 ORU^R01 result message (ER7 text, segments separated by carriage returns).

    Parameters
    ----------
    config : dict
        MSH: our_app, our_facility, their_app, their_facility, control_id, timestamp, version.
    context : dict
        patient_id, patient_name (Family^Given), patient_birth_date, patient_sex, order_number,
        accession_number, procedure_code, procedure_description, modality, ordering_provider,
        observation_datetime.
    observations : list of dict
        One OBX each: observation_id, value, value_type (default TX), status (default F), units.
    """
    from .hl7 import build_oru

    return build_oru(config, context, observations)


@tool
def sr_read(path: str) -> str:
    """The measurements of a DICOM TID 1500 Structured Report (values, units, referenced frames).

    Parameters
    ----------
    path : str
        A DICOM SR file.
    """
    from .sr import read_report

    return json_result(read_report(path))


@tool
def dicom_volume(path: str) -> str:
    """Assemble the DICOM series in a folder into a 3-D volume and describe it (shape ``[z, y, x]``,
    voxel size in mm, value range, series UID, number of files).

    Parameters
    ----------
    path : str
        A folder of slices (or one multi-frame file) of one series.
    """
    from .volume import load_series

    volume = load_series(path)
    pixels = volume.pixels
    return json_result({"shape": list(pixels.shape), "spacing_mm": list(volume.spacing or ()),
                        "dtype": str(pixels.dtype), "min": float(pixels.min()), "max": float(pixels.max()),
                        "series_instance_uid": volume.series_instance_uid, "n_files": len(set(volume.files))})


# ---------------------------------------------------------------- providers and the server
def load_providers() -> list[str]:
    """Load every tool provider (entry points of :data:`PROVIDER_GROUP`): a module registers its
    tools with :func:`tool` when imported; a callable is called. A provider that fails to load is
    logged and skipped. Returns the names of those loaded."""
    from importlib.metadata import entry_points

    loaded = []
    for point in entry_points(group=PROVIDER_GROUP):
        try:
            provider = point.load()
            if callable(provider) and not isinstance(provider, types.ModuleType):
                provider()
        except Exception as error:  # noqa: BLE001 - a broken plug-in must not stop the server
            log.warning("MCP tool provider %s (%s) not loaded: %s", point.name, point.value, error)
            continue
        loaded.append(point.name)
    return loaded


def _require_sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise MissingDependencyError(None, "the MCP server needs the mcp SDK: pip install 'sonobridge[mcp]'") \
            from None


def _run_tool(name: str, arguments: Mapping[str, Any] | None) -> tuple[list[Block], bool]:
    """``(blocks, is_error)`` of one call: the package's errors (and a tool's failures) as error text."""
    try:
        return blocks(call(name, arguments)), False
    except SonobridgeError as error:
        return [Block("text", text=str(error))], True
    except Exception as error:  # noqa: BLE001 - a failing tool is reported to the agent, the server goes on
        log.exception("tool %s failed", name)
        return [Block("text", text=f"{name} failed: {type(error).__name__}: {error}")], True


def server() -> Any:
    """The MCP server (``mcp.server.lowlevel.Server``) offering :data:`TOOLS`; tools run in worker
    threads so a long conversion does not stall the connection."""
    _require_sdk()
    import anyio
    import mcp_types
    from mcp.server.lowlevel import Server

    from .._version import __version__

    async def list_tools(context: Any, params: Any) -> Any:
        return mcp_types.ListToolsResult(tools=[
            mcp_types.Tool(name=entry.name, description=entry.description, input_schema=entry.input_schema,
                           annotations=mcp_types.ToolAnnotations(read_only_hint=entry.read_only))
            for entry in TOOLS.values()])

    async def call_tool(context: Any, params: Any) -> Any:
        found, failed = await anyio.to_thread.run_sync(_run_tool, params.name, params.arguments)
        content = [mcp_types.ImageContent(data=b.data, mime_type=b.mime) if b.kind == "image"
                   else mcp_types.TextContent(text=b.text) for b in found]
        structured = next((b.structured for b in found if b.structured is not None), None)
        return mcp_types.CallToolResult(content=content, structured_content=structured, is_error=failed)

    return Server(SERVER_NAME, version=__version__, on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions="Ultrasound and DICOM tools: inspect, decode, render, convert, check "
                               "recordings; FHIR/HL7 bridges; PACS queries.")


def serve() -> int:
    """Run the MCP stdio server until stdin EOF. Returns the exit code (0).

    Loads the tool providers (:func:`load_providers`) first; logs go to stderr (stdout carries
    the protocol).

    Raises
    ------
    MissingDependencyError
        The ``mcp`` SDK is not installed (``pip install 'sonobridge[mcp]'``).
    """
    _require_sdk()
    import anyio
    from mcp.server.stdio import stdio_server

    load_providers()
    instance = server()

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await instance.run(read_stream, write_stream, instance.create_initialization_options())

    anyio.run(run)
    return 0


def _main() -> int:
    """``python -m sonobridge.dicom.mcp``: :func:`serve` of the package's module (not of a second
    copy run as ``__main__``: providers register their tools on the package's module)."""
    from importlib import import_module

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="sonobridge-mcp: %(levelname)s: %(message)s")
    try:
        return import_module(__spec__.name if __spec__ else "sonobridge.dicom.mcp").serve()
    except SonobridgeError as error:
        print(f"sonobridge: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(_main())
