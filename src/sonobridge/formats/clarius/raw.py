"""Clarius ``.raw`` streams: a 20-byte header and timestamped, line-major frames.

Header: five little-endian uint32 ``id, frames, lines, samples, sample_size``; ``id`` 0 = IQ,
1 = envelope, 2 = RF, 3 = PW IQ. Frame ``k`` is a uint64 clock value (ns, probe clock) followed by
``lines * samples * sample_size`` bytes, each line's samples contiguous. IQ samples are int16 I, Q
pairs. Frames are exposed as ``(n_frames, n_lines, n_samples)`` (IQ: ``(..., 2)``) without copying:
a read-only memory map for plain files, on-demand decompression for lzop-compressed ones.
"""
from __future__ import annotations

import logging
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ...core.frames import FrameArray, LazyFrames
from ...core.recording import SampleKind
from ...errors import FormatError, TruncatedDataWarning, TruncatedFileError
from ..byteregion import ByteRegion
from ..lzop import LzopStream

log = logging.getLogger(__name__)

HEADER_SIZE = 20
CLOCK_SIZE = 8
KIND_BY_ID = {0: SampleKind.IQ, 1: SampleKind.ENVELOPE, 2: SampleKind.RF, 3: SampleKind.PW_IQ}
ID_BY_KIND = {kind: stream_id for stream_id, kind in KIND_BY_ID.items()}
#: sample dtype and bytes per sample for each stream id
SAMPLE_FORMAT = {0: (np.dtype("<i2"), 4), 1: (np.dtype("u1"), 1), 2: (np.dtype("<i2"), 2),
                 3: (np.dtype("<i2"), 4)}
MAX_LINES, MAX_SAMPLES, MAX_FRAMES = 1 << 16, 1 << 20, 1 << 24
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class RawHeader:
    stream_id: int
    frames: int
    lines: int
    samples: int
    sample_size: int

    @property
    def kind(self) -> SampleKind:
        return KIND_BY_ID[self.stream_id]

    @property
    def frame_shape(self) -> tuple[int, ...]:
        pairs = (2,) if self.sample_size == 4 else ()
        return (self.lines, self.samples, *pairs)

    @property
    def sample_dtype(self) -> np.dtype:
        return SAMPLE_FORMAT[self.stream_id][0]

    @property
    def record_size(self) -> int:
        """Bytes per frame record: clock + samples."""
        return CLOCK_SIZE + self.lines * self.samples * self.sample_size

    @property
    def record_dtype(self) -> np.dtype:
        return np.dtype([("clock", "<u8"), ("data", self.sample_dtype, self.frame_shape)])

    def as_dict(self) -> dict[str, int]:
        """The header as the reference readers name it."""
        return {"id": self.stream_id, "frames": self.frames, "lines": self.lines,
                "samples": self.samples, "samplesize": self.sample_size}


def parse_header(data: bytes, label: str) -> RawHeader:
    """Decode and sanity-check the 20-byte header."""
    if len(data) < HEADER_SIZE:
        raise TruncatedFileError(label, f"{len(data)} bytes is too short for a Clarius .raw header")
    header = RawHeader(*struct.unpack("<5I", data[:HEADER_SIZE]))
    if header.stream_id not in KIND_BY_ID:
        raise FormatError(label, f"unknown Clarius stream id {header.stream_id} in the .raw header "
                                 "(known: 0 IQ, 1 envelope, 2 RF, 3 PW IQ)")
    expected_size = SAMPLE_FORMAT[header.stream_id][1]
    if header.sample_size != expected_size:
        raise FormatError(label, f"header says {header.sample_size}-byte samples, but stream id "
                                 f"{header.stream_id} ({header.kind.value}) uses {expected_size}")
    for name, value, limit in (("lines", header.lines, MAX_LINES),
                               ("samples", header.samples, MAX_SAMPLES),
                               ("frames", header.frames, MAX_FRAMES)):
        if value > limit or (value == 0 and name != "frames"):
            raise FormatError(label, f"implausible header: {value} {name} (limit {limit})")
    return header


class RawStreamData:
    """The frames and clock of one ``.raw`` stream, plain or lzop-compressed."""

    def __init__(self, region: ByteRegion, compressed: bool, *, allow_truncated: bool = False):
        self.label = region.label
        self._lzop = LzopStream(region, max_size=HEADER_SIZE) if compressed else None
        self._region = region
        available = self._lzop.size if self._lzop else region.length
        self.header = parse_header(self._read(0, min(HEADER_SIZE, available)), self.label)
        if self._lzop is not None:  # index only what the header declares: a bomb costs no more
            self._lzop.extend(HEADER_SIZE + self.header.frames * self.header.record_size)
            available = self._lzop.size
        self.n_frames = self._complete_frames(available, allow_truncated)

    @property
    def stored_size(self) -> int:
        """Bytes :meth:`iter_bytes` yields."""
        return self._lzop.size if self._lzop else self._region.length

    @property
    def beyond_declared(self) -> bool:
        """The lzop data runs on past what the header declares (never indexed or decompressed)."""
        return self._lzop is not None and not self._lzop.complete

    def iter_bytes(self) -> Iterator[bytes | bytearray]:
        """The stream's bytes as stored (decompressed if lzop), in order, in chunks."""
        if self._lzop is not None:
            yield from self._lzop.iter_decompressed()
            return
        for start in range(0, self._region.length, _CHUNK):
            yield self._region.read(start, min(_CHUNK, self._region.length - start))

    def _read(self, start: int, size: int) -> bytes | bytearray:
        return self._lzop.read(start, size) if self._lzop else self._region.read(start, size)

    def _complete_frames(self, available: int, allow_truncated: bool) -> int:
        header = self.header
        expected = HEADER_SIZE + header.frames * header.record_size
        complete = min(header.frames, (available - HEADER_SIZE) // header.record_size)
        if available < expected:
            problem = (f"truncated: header declares {header.frames} frames ({expected} bytes) but "
                       f"{'decompressed data holds' if self._lzop else 'the file holds'} {available} "
                       f"bytes, {complete} complete frames")
            if not allow_truncated:
                raise TruncatedFileError(self.label, problem + "; pass allow_truncated=True to read them")
            warnings.warn(f"{self.label}: {problem}; reading those", TruncatedDataWarning, stacklevel=4)
        elif self.beyond_declared:
            log.warning("%s: the lzop data runs on past the %d bytes the header declares; ignored",
                        self.label, expected)
        elif available > expected:
            log.warning("%s: %d bytes after the last declared frame ignored", self.label,
                        available - expected)
        return complete

    def frames(self) -> FrameArray:
        """``(n_frames, *frame_shape)`` frames: a read-only memmap, or lazily decompressed."""
        header = self.header
        if self._lzop is None:
            return self._region.memmap(header.record_dtype, HEADER_SIZE, self.n_frames)["data"]
        return LazyFrames((self.n_frames, *header.frame_shape), header.sample_dtype, self._read_records)

    def _read_records(self, start: int, stop: int) -> np.ndarray:
        size = self.header.record_size
        buffer = self._read(HEADER_SIZE + start * size, (stop - start) * size)
        return np.frombuffer(buffer, self.header.record_dtype)["data"]

    def clock_loader(self) -> Callable[[], np.ndarray]:
        """A function returning the ``(n_frames,)`` uint64 frame clock (ns) when first needed."""
        def load() -> np.ndarray:
            if self._lzop is None:
                return np.array(self._region.memmap(self.header.record_dtype, HEADER_SIZE,
                                                    self.n_frames)["clock"])
            offsets = HEADER_SIZE + np.arange(self.n_frames) * self.header.record_size
            return np.array([struct.unpack("<Q", self._read(int(o), CLOCK_SIZE))[0] for o in offsets],
                            np.uint64)
        return load
