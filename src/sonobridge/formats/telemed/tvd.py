"""COM-free reading of Telemed EchoWave ``.tvd`` recordings (UIFF container) into the core model.

Layout (from the public ``telemed`` package's reverse engineering; no public ``.tvd`` exists to
verify it on, so this reader checks what it relies on and reports what does not fit):

* Chunks: 4-byte ASCII id, 8-byte little-endian payload size, payload padded to even length;
  ``UIFF`` and ``LIST`` payloads start with a 4-byte type. Top level ``UIFF`` type ``"UDI "`` with
  ``LIST "hdrl"`` (per stream a ``strh`` and a ``strf``) and ``LIST "movi"`` (frame chunks).
* ``strh``: stream type string at offset 0 (``"2DusB"``, ``"2DusB2"``), declared frame count uint32
  at 0x14. ``strf``: after a ``"vids"`` fourcc, uint32 ``[bits (8), samples per line, bytes per
  frame]``; lines = bytes / samples.
* Frame chunks ``00bb`` (stream 0) and ``01bb`` (stream 1): a sub-header, then ``datasize`` bytes of
  8-bit samples (``datasize`` = uint32 at sub-header offset 0x0C). The frame's end tick is uint64
  at payload offset 24, in 100 ns (below 2^63, else the file is refused);
  ``time_ms = (tick - tick[0]) / 10000`` is what EchoWave's COM interface reports. The sources
  disagree on the sub-header size (48 vs 64 bytes), so it is taken as ``payload - datasize`` and
  must be one of the two, the same for every frame of a stream.
* Samples: ``(lines, samples)`` raw acoustic lines after EchoWave's processing, before scan
  conversion; the stream keeps that layout (``SampleKind.ENVELOPE``), without lateral geometry.
"""
from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.frames import LazyFrames
from ...core.recording import Provenance, Recording, SampleKind, Stream
from ...errors import FormatError, TruncatedDataWarning, TruncatedFileError

FORMAT = "telemed-tvd"
SUB_HEADER_SIZES = (48, 64)
TICK_OFFSET, DATASIZE_OFFSET = 24, 0x0C
TICK_S = 1e-7
#: the largest end tick read as a time: 100 ns ticks are signed 64-bit (FILETIME-like) counts
MAX_TICK = (1 << 63) - 1


@dataclass
class TvdStream:
    """One ``strh``/``strf`` pair and its frames (payload offsets in the file)."""

    kind: str
    declared_frames: int
    samples: int
    frame_bytes: int
    offsets: list[int] = field(default_factory=list)
    ticks: list[int] = field(default_factory=list)
    sub_header: int | None = None

    @property
    def lines(self) -> int:
        return self.frame_bytes // self.samples


class _Parser:
    def __init__(self, path: Path, allow_truncated: bool):
        self.path, self.allow_truncated = path, allow_truncated
        self.data = np.memmap(path, np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
        self.streams: list[TvdStream] = []
        self.truncated = False

    def fail(self, problem: str) -> FormatError:
        return FormatError(self.path, problem)

    def header(self, position: int) -> tuple[bytes, int, int]:
        if position + 12 > self.data.size:
            raise TruncatedFileError(self.path, f"chunk header at byte {position} runs past the end")
        chunk_id = bytes(self.data[position:position + 4])
        size = struct.unpack("<Q", bytes(self.data[position + 4:position + 12]))[0]
        if not chunk_id.isascii():
            raise self.fail(f"byte {position}: not a chunk id ({chunk_id!r})")
        return chunk_id, size, position + 12

    def parse(self) -> list[TvdStream]:
        chunk_id, size, payload = self.header(0)
        if chunk_id != b"UIFF" or bytes(self.data[payload:payload + 4]) != b"UDI ":
            raise self.fail("not a Telemed .tvd (no UIFF 'UDI ' form)")
        self.walk(payload + 4, min(payload + size, self.data.size), payload + size > self.data.size)
        if not self.streams:
            raise self.fail("no stream headers (strh/strf)")
        for number, stream in enumerate(self.streams):
            if not stream.samples:
                raise self.fail(f"stream {number} ({stream.kind!r}) has a header but no format (strf)")
        return self.streams

    def walk(self, start: int, end: int, cut: bool) -> None:
        """Visit the chunks in ``[start, end)`` depth first. Iterative (a stack of the chunk lists
        being walked, innermost last), so any nesting depth costs memory in proportion to the
        file, never Python's recursion limit. ``cut``: the list is known to run past the file."""
        levels = [(start, end, cut)]
        while levels:
            position, end, cut = levels.pop()
            while position + 12 <= end:
                chunk_id, size, payload = self.header(position)
                following = payload + size + (size & 1)
                if payload + size > self.data.size:
                    if chunk_id == b"LIST":             # cut inside a list: keep its complete chunks
                        self.truncated = True
                        levels.append((payload + 4, self.data.size, True))
                        break
                    if chunk_id in (b"00bb", b"01bb") or cut:
                        self.truncated = True
                        break
                    raise TruncatedFileError(self.path, f"chunk {chunk_id!r} at byte {position} runs past the end")
                if chunk_id == b"LIST":                 # the rest of this list after the nested one
                    levels += [(following, end, cut), (payload + 4, payload + size, False)]
                    break
                if chunk_id == b"strh":
                    self.stream_header(payload, size)
                elif chunk_id == b"strf":
                    self.stream_format(payload, size)
                elif chunk_id in (b"00bb", b"01bb"):
                    self.frame(int(chunk_id[:2]), payload, size)
                position = following
            else:
                if cut and position < end:
                    self.truncated = True

    def stream_header(self, payload: int, size: int) -> None:
        if size < 0x18:
            raise self.fail(f"strh at byte {payload - 12} too short ({size} bytes)")
        raw = bytes(self.data[payload:payload + min(size, 16)])
        kind = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        declared = struct.unpack("<I", bytes(self.data[payload + 0x14:payload + 0x18]))[0]
        self.streams.append(TvdStream(kind=kind, declared_frames=declared, samples=0, frame_bytes=0))

    def stream_format(self, payload: int, size: int) -> None:
        raw = bytes(self.data[payload:payload + size])
        at = raw.find(b"vids")
        if at < 0 or at + 16 > len(raw) or not self.streams:
            raise self.fail(f"strf at byte {payload - 12} has no 'vids' format block")
        bits, samples, frame_bytes = struct.unpack("<3I", raw[at + 4:at + 16])
        if bits != 8 or not samples or frame_bytes % samples:
            raise self.fail(f"strf: {bits}-bit samples, {samples} per line, {frame_bytes} bytes per frame: "
                            f"not whole 8-bit lines")
        self.streams[-1].samples, self.streams[-1].frame_bytes = samples, frame_bytes

    def frame(self, index: int, payload: int, size: int) -> None:
        if index >= len(self.streams):
            raise self.fail(f"frame chunk for stream {index} but only {len(self.streams)} stream headers")
        stream = self.streams[index]
        if size < min(SUB_HEADER_SIZES):
            raise self.fail(f"frame chunk at byte {payload - 12}: {size}-byte payload, shorter than the "
                            f"{min(SUB_HEADER_SIZES)}-byte frame sub-header")
        datasize = struct.unpack("<I", bytes(self.data[payload + DATASIZE_OFFSET:payload + DATASIZE_OFFSET + 4]))[0]
        sub_header = size - datasize
        if datasize != stream.frame_bytes or sub_header not in SUB_HEADER_SIZES:
            raise self.fail(f"frame chunk at byte {payload - 12}: {datasize} data bytes in a {size}-byte payload "
                            f"(strf says {stream.frame_bytes}; sub-header must be 48 or 64 bytes)")
        if stream.sub_header not in (None, sub_header):
            raise self.fail(f"frame chunk at byte {payload - 12}: sub-header {sub_header} bytes, earlier frames "
                            f"{stream.sub_header}")
        tick = struct.unpack("<Q", bytes(self.data[payload + TICK_OFFSET:payload + TICK_OFFSET + 8]))[0]
        if tick > MAX_TICK:
            raise self.fail(f"frame chunk at byte {payload - 12}: end tick {tick} is not a time (100 ns ticks "
                            f"stop at 2^63 - 1)")
        stream.sub_header = sub_header
        stream.offsets.append(payload + sub_header)
        stream.ticks.append(tick)


def read_tvd(path: str | os.PathLike, *, allow_truncated: bool = False) -> Recording:
    """A ``.tvd`` as a Recording: streams ``b1`` (and ``b2`` for a second probe) of uint8 lines
    ``(n_frames, lines, samples)``, timed by the 100 ns end ticks. A file cut inside the frame data
    raises TruncatedFileError unless ``allow_truncated`` (then the complete frames, with a warning)."""
    path = Path(path)
    parser = _Parser(path, allow_truncated)
    streams = parser.parse()
    if parser.truncated:
        if not allow_truncated:
            raise TruncatedFileError(path, "the file ends inside the frame data")
        warnings.warn(f"{path}: truncated; returning the complete frames", TruncatedDataWarning, stacklevel=2)
    provenance = Provenance((os.fspath(path),), FORMAT)
    out = {}
    for number, stream in enumerate(streams, start=1):
        offsets = np.asarray(stream.offsets, np.int64)

        def read_range(start: int, stop: int, stream=stream, offsets=offsets) -> np.ndarray:
            out = np.empty((len(offsets[start:stop]), stream.lines, stream.samples), np.uint8)
            for slot, offset in enumerate(offsets[start:stop]):
                out[slot] = parser.data[offset:offset + stream.frame_bytes].reshape(stream.lines, stream.samples)
            return out

        frames = LazyFrames((len(offsets), stream.lines, stream.samples), np.uint8, read_range)
        ticks = np.asarray(stream.ticks, np.uint64)
        out[f"b{number}"] = Stream(
            name=f"b{number}", kind=SampleKind.ENVELOPE, frame_shape=(stream.lines, stream.samples), dtype=np.uint8,
            frames=frames, clock_source=ticks, clock_unit_s=TICK_S, time_origin=int(ticks[0]) if ticks.size else None,
            parameters={"stream_type": stream.kind, "frame_sub_header_bytes": stream.sub_header},
            provenance=provenance, declared_n_frames=stream.declared_frames)
    return Recording(name=path.name.split(".")[0], streams=out, provenance=provenance)


def time_ms(stream: Stream) -> np.ndarray:
    """EchoWave's ``GetCurrentFrameTime`` for each frame: ms from the first frame's end tick."""
    ticks = stream.clock.astype(np.int64)              # end ticks are checked to fit: see MAX_TICK
    return (ticks - ticks[:1]) / 10000.0                # a stream cut before its first frame: empty
