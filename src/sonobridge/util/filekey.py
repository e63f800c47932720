"""A cheap key of a file's content: size, modification time and SHA-256 of its first and last
64 KiB (datanavigator's cache key). Outputs and sources are recognised by it without reading
them whole.

Examples
--------
>>> import tempfile
>>> from sonobridge.util.filekey import file_key
>>> with tempfile.NamedTemporaryFile() as handle:
...     _ = handle.write(b"abc"); handle.flush()
...     file_key(handle.name)["size"]
3
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

PROBE_BYTES = 64 * 1024


def file_key(path: str | os.PathLike) -> dict[str, Any]:
    """``{size, mtime, head_sha256, tail_sha256}`` of the file at ``path`` (size in bytes, mtime
    in seconds since the epoch, SHA-256 hex of its first and last :data:`PROBE_BYTES`)."""
    stat = os.stat(path)
    with open(path, "rb") as handle:
        head = handle.read(min(PROBE_BYTES, stat.st_size))
        if stat.st_size > PROBE_BYTES:
            handle.seek(stat.st_size - PROBE_BYTES)
            tail = handle.read(PROBE_BYTES)
        else:
            tail = head
    return {"size": int(stat.st_size), "mtime": float(stat.st_mtime),
            "head_sha256": hashlib.sha256(head).hexdigest(), "tail_sha256": hashlib.sha256(tail).hexdigest()}
