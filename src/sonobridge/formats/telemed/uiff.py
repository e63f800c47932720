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
from collections.abc import Iterator

HEADER_BYTES = 64 * 1024
CONTAINERS = {b"UIFF", b"LIST"}
FRAME_COUNT_OFFSET = 0x14


def _chunks(data: bytes) -> Iterator[tuple[bytes, int]]:
    """``(id, payload offset)`` of every chunk in ``data``, depth first in file order (a
    container's children before its next sibling). A walk stops at an id that is not printable
    ASCII; sizes are clamped to the parent (so a header-only read walks cleanly). Iterative: a
    deeply nested or hostile header cannot exhaust the stack."""
    stack = [(0, len(data))]                           # (next position, end) of each open level
    while stack:
        position, end = stack.pop()
        if position + 12 > end:
            continue
        chunk_id = data[position:position + 4]
        if not all(32 <= byte < 127 for byte in chunk_id):
            continue                                   # garbage ends this level's walk
        size = struct.unpack_from("<Q", data, position + 4)[0]
        payload = position + 12
        yield chunk_id, payload
        stack.append((payload + size + (size & 1), end))
        if chunk_id in CONTAINERS:
            stack.append((payload + 4, min(payload + size, end)))


def read_tvd_n_frames(tvd_path: str | os.PathLike, *, _header_bytes: int = HEADER_BYTES) -> int | None:
    """The frame count the ``.tvd`` header declares (the first ``strh`` chunk's uint32 at 0x14),
    or None when it cannot be read (missing, not UIFF, no ``strh`` in the first ``_header_bytes``
    bytes, truncated): never raises for content. Only ``_header_bytes`` bytes are read."""
    try:
        with open(tvd_path, "rb") as handle:
            data = handle.read(_header_bytes)
    except OSError:
        return None
    if data[:4] != b"UIFF":
        return None
    for chunk_id, payload in _chunks(data):
        if chunk_id == b"strh":
            offset = payload + FRAME_COUNT_OFFSET
            return struct.unpack_from("<I", data, offset)[0] if offset + 4 <= len(data) else None
    return None
