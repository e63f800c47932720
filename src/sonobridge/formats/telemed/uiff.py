"""Telemed ``.tvd`` container headers ("UIFF"): enough to read the declared frame count.

RIFF-like, but every chunk header is a 4-byte ASCII id followed by an **8-byte** little-endian
payload size; payloads are padded to even length; ``UIFF`` and ``LIST`` chunks start with a 4-byte
type before their children. The top level is ``UIFF`` (type ``"UDI "``) holding ``LIST "hdrl"``
with per-stream ``strh``/``strf`` chunks; the first ``strh`` payload holds the declared frame count
as uint32 LE at offset 0x14. (Layout from the public ``telemed`` package's reverse engineering; not
verified on a real file here: none is public.)
"""
from __future__ import annotations

import os
import struct

HEADER_BYTES = 64 * 1024
CONTAINERS = {b"UIFF", b"LIST"}
FRAME_COUNT_OFFSET = 0x14


def _first_strh_count(data: bytes, start: int, end: int, depth: int = 0) -> int | None:
    position = start
    while position + 12 <= end and depth < 8:
        chunk_id, size = data[position:position + 4], struct.unpack_from("<Q", data, position + 4)[0]
        payload = position + 12
        if chunk_id == b"strh":
            if payload + FRAME_COUNT_OFFSET + 4 > len(data) or size < FRAME_COUNT_OFFSET + 4:
                return None
            return struct.unpack_from("<I", data, payload + FRAME_COUNT_OFFSET)[0]
        if chunk_id in CONTAINERS:
            found = _first_strh_count(data, payload + 4, min(payload + size, end, len(data)), depth + 1)
            if found is not None:
                return found
        if not chunk_id.isascii() or size > (1 << 62):
            return None
        position = payload + size + (size & 1)
    return None


def read_tvd_n_frames(path: str | os.PathLike) -> int | None:
    """The frame count the ``.tvd`` header declares, or None when it cannot be read (missing,
    not UIFF, truncated, garbage): never raises for content."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(HEADER_BYTES)
    except OSError:
        return None
    if len(data) < 16 or data[:4] != b"UIFF":
        return None
    size = struct.unpack_from("<Q", data, 4)[0]
    return _first_strh_count(data, 16, min(12 + size, len(data)))
