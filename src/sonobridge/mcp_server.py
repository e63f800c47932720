"""sonobridge's recording tools for the MCP server (:mod:`sonobridge.dicom.mcp`): find, open and
inspect recordings of every format, show a frame, render a scan-converted B-mode image, convert,
check (QC), and query a PACS.

The server itself and the DICOM toolkit's tools live in :mod:`sonobridge.dicom.mcp`; these tools
need the recording model, the formats and the pipeline, which sit above the toolkit, so they
register themselves here (with :func:`sonobridge.dicom.mcp.tool`) and the server finds this module
as a tool provider: the entry point ``sonobridge`` of the group ``sonobridge.mcp`` in the package
metadata. ``sonobridge mcp`` (the command line) imports this module and serves directly.

Frames are numbered from 0 here, as on the command line (``sonobridge render --frame``); the
DICOM tool ``dicom_frame`` numbers them from 1, as DICOM does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .core.options import ReadOptions
from .dicom.mcp import json_result, png_uri, tool
from .errors import AmbiguousInputError, SonobridgeError, UnsupportedInputError

__all__ = ["serve", "recordings", "inspect_recording", "recording_frame", "render_frame", "convert", "qc",
           "pacs_echo", "pacs_find"]


def _options(probe: str, sound_speed_m_s: float, allow_truncated: bool) -> ReadOptions:
    return ReadOptions(probe=probe or None, sound_speed_m_s=sound_speed_m_s or None, allow_truncated=allow_truncated)


def _source(path: str):
    """The one recording at ``path`` (not yet read): a path, or a label the ``recordings`` tool
    listed (``container:prefix`` for one capture of several in a package)."""
    from .formats import find_recordings

    container, _, _ = path.rpartition(":")
    if not Path(path).exists() and container and Path(container).exists():
        found = [source for source in find_recordings(container) if source.label == path]
    else:
        found = find_recordings(path)
    if not found:
        raise UnsupportedInputError(path, "holds no recording of a supported format")
    if len(found) > 1:
        names = ", ".join(source.label for source in found[:5])
        raise AmbiguousInputError(path, f"holds {len(found)} recordings ({names}{', ...' if len(found) > 5 else ''}); "
                                        "name one of them (see the recordings tool)")
    return found[0]


def _open(path: str, probe: str = "", sound_speed_m_s: float = 0.0, allow_truncated: bool = False):
    return _source(path).open(**_options(probe, sound_speed_m_s, allow_truncated).as_keywords())


@tool
def recordings(path: str) -> str:
    """The recordings at a path (a file, a package or a folder tree): label and format of each.

    Parameters
    ----------
    path : str
        File, package or folder.
    """
    from .formats import find_recordings

    return json_result({"recordings": [{"label": s.label, "format": s.format} for s in find_recordings(path)]})


@tool
def inspect_recording(path: str, probe: str = "", sound_speed_m_s: float = 0.0, allow_truncated: bool = False) -> str:
    """Open a recording and describe it: format, start time, and per stream its kind, frames,
    shape, dtype, duration, frame rate, geometry (metres) and acquisition parameters; signals.

    Parameters
    ----------
    path : str
        The recording (a file or package holding one recording).
    probe : str
        Probe for captures that name none (e.g. L7, C3).
    sound_speed_m_s : float
        Speed of sound in m/s (0: the recording's or 1540).
    allow_truncated : bool
        Read the complete frames of a truncated file.
    """
    from .core.describe import describe

    return json_result(describe(_open(path, probe, sound_speed_m_s, allow_truncated)))


def _stream(recording, name: str):
    """The stream ``name`` of ``recording`` (default: the first with frames)."""
    if name:
        if name not in recording.streams:
            raise UnsupportedInputError(None, f"no stream {name!r} (streams: {', '.join(recording.streams)})")
        return recording.streams[name]
    for stream in recording.streams.values():
        if stream.has_frames and stream.n_frames:
            return stream
    raise UnsupportedInputError(None, "no stream with frames")


@tool
def recording_frame(path: str, frame: int = 0, stream: str = "", probe: str = "") -> str:
    """One frame of a recording's stream as a PNG quick look (pre-scan: depth down, lines across;
    RF and IQ detected and log-compressed over 60 dB).

    Parameters
    ----------
    path : str
        The recording.
    frame : int
        0-based frame index.
    stream : str
        Stream name (default: the first stream with frames).
    probe : str
        Probe for captures that name none.
    """
    from .processing.preview import preview_frame

    chosen = _stream(_open(path, probe), stream)
    if not 0 <= frame < chosen.n_frames:
        raise SonobridgeError(path, f"frame {frame} out of range: stream {chosen.name!r} has {chosen.n_frames} frames")
    return png_uri(preview_frame(chosen, frame))


@tool
def render_frame(path: str, frame: int = 0, dynamic_range_db: float = 60.0, gain_db: float = 0.0,
                 colour: bool = True, probe: str = "") -> list[str]:
    """A frame rendered as a scan-converted B-mode PNG in physical proportions, with a millimetre
    scale bar and the colour-flow box when the recording has one; plus its description (pixel
    size in metres, shape, scale bar in mm).

    Parameters
    ----------
    path : str
        The recording.
    frame : int
        0-based frame index.
    dynamic_range_db : float
        Log-compression range for RF/IQ in dB.
    gain_db : float
        Display gain for RF/IQ in dB.
    colour : bool
        Overlay colour flow when present.
    probe : str
        Probe for captures that name none.
    """
    from .processing.render import display_streams, render

    recording = _open(path, probe)
    stream, flow = display_streams(recording)
    if stream is None:
        raise UnsupportedInputError(path, "no imaging stream with frames to render")
    try:
        rendering = render(stream, frame, colour=flow if colour else None, dynamic_range_db=dynamic_range_db,
                           gain_db=gain_db)
    except IndexError as error:
        raise SonobridgeError(path, str(error)) from None
    return [png_uri(rendering.image), json_result(rendering.info)]


@tool(read_only=False)
def convert(path: str, output: str, to: str = "", overwrite: bool = False, anonymise: bool = False,
            probe: str = "") -> str:
    """Convert a recording to another format: zea HDF5 (``.hdf5``) or Ultrasound Multi-frame
    DICOM (``.dcm``), chosen by the output's name or by ``to``.

    Parameters
    ----------
    path : str
        The recording.
    output : str
        The file to write (written whole or not at all).
    to : str
        Format name when the output's name does not tell (``zea``, ``dicom``).
    overwrite : bool
        Replace an existing output.
    anonymise : bool
        DICOM PS3.15 basic profile: no patient identity, dates, institution or source UIDs.
    probe : str
        Probe for captures that name none.
    """
    import contextlib

    from .formats import get_format, writer_for

    spec = writer_for(output)
    if spec is None or spec.writes_folder:
        if not to:
            raise UnsupportedInputError(output, "the output's name names no format: give `to` (zea, dicom)")
        spec = get_format(to)
    if spec.write is None or spec.writes_folder:
        raise UnsupportedInputError(output, f"format {spec.name} has no one-file writer")
    recording = _open(path, probe)
    scope: Any = contextlib.nullcontext()
    if anonymise:
        from .core.anonymise import key_scope, output_key

        scope = key_scope(output_key(Path(output).parent))
    with scope:
        spec.write(recording, Path(output), overwrite=overwrite, anonymise=anonymise, progress=False)
    return json_result({"output": str(output), "format": spec.name})


@tool
def qc(path: str, probe: str = "") -> str:
    """Quality check of every recording at a path, as ``sonobridge process`` does: per stream the
    frames against the declared count, timing gaps, calibration, first and last frames decodable;
    the format's own validation and checks.

    Parameters
    ----------
    path : str
        File, package or folder.
    probe : str
        Probe for captures that name none.
    """
    import tempfile

    from .formats import find_recordings
    from .pipeline import stages

    options = _options(probe, 0.0, False)
    report = {}
    with tempfile.TemporaryDirectory(prefix="sonobridge-qc-") as scratch:
        for source in find_recordings(path):
            item = stages.Item(source.label, source.format, source.stem, options)
            report[source.label] = stages.qc(item, Path(scratch), False, stages.ItemInputs(item))
    return json_result({"recordings": report})


def _endpoint(url: str, timeout_s: float, auth: str):
    from .pipeline.push import endpoint

    return endpoint(url, timeout_s=timeout_s, auth=auth)


@tool
def pacs_echo(url: str, timeout_s: float = 30.0, auth: str = "") -> str:
    """Check that a PACS answers (C-ECHO, or a QIDO-RS query for DICOMweb).

    Parameters
    ----------
    url : str
        dicom://AET@host:port (DIMSE) or http(s)://host[:port]/dicom-web (DICOMweb).
    timeout_s : float
        Seconds per network operation.
    auth : str
        DICOMweb Authorization header value ("Bearer ...", "Basic ...").
    """
    _endpoint(url, timeout_s, auth).echo()
    return json_result({"url": url, "status": "ok"})


@tool
def pacs_find(url: str, level: str = "STUDY", study: str = "", patient: str = "", timeout_s: float = 30.0,
              auth: str = "") -> str:
    """Query a PACS (C-FIND or QIDO-RS): its patients, studies, series or instances.

    Parameters
    ----------
    url : str
        dicom://AET@host:port (DIMSE) or http(s)://host[:port]/dicom-web (DICOMweb).
    level : str
        PATIENT, STUDY, SERIES or IMAGE.
    study : str
        Only this StudyInstanceUID.
    patient : str
        Only this PatientID.
    timeout_s : float
        Seconds per network operation.
    auth : str
        DICOMweb Authorization header value.
    """
    level = level.upper()
    if level not in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
        raise SonobridgeError(url, f"level {level!r}: PATIENT, STUDY, SERIES or IMAGE")
    matches = _endpoint(url, timeout_s, auth).find(level, study=study, patient=patient)
    return json_result({"url": url, "level": level, "matches": matches})


def serve() -> int:
    """Serve sonobridge's tools (these and the DICOM toolkit's) over MCP on stdin/stdout until EOF;
    the exit code (0). See :func:`sonobridge.dicom.mcp.serve`."""
    from .dicom.mcp import serve as serve_stdio

    return serve_stdio()
