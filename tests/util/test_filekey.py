"""sonobridge.util.filekey: a cheap content key (size, mtime, SHA-256 of head and tail)."""
from __future__ import annotations

import hashlib
import os

from sonobridge.util.filekey import PROBE_BYTES, file_key


def test_small_file_head_and_tail_are_the_whole_file(tmp_path):
    path = tmp_path / "small.bin"
    path.write_bytes(b"abc")
    key = file_key(path)
    assert key["size"] == 3 and key["head_sha256"] == key["tail_sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert key["mtime"] == os.stat(path).st_mtime


def test_a_change_in_the_tail_of_a_large_file_changes_the_key(tmp_path):
    data = bytearray(os.urandom(3 * PROBE_BYTES))
    path = tmp_path / "large.bin"
    path.write_bytes(bytes(data))
    before = file_key(path)
    assert before["head_sha256"] == hashlib.sha256(data[:PROBE_BYTES]).hexdigest()
    assert before["tail_sha256"] == hashlib.sha256(data[-PROBE_BYTES:]).hexdigest()
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(os.stat(path).st_atime_ns, int(before["mtime"] * 1e9)))
    after = file_key(path)
    assert after["head_sha256"] == before["head_sha256"] and after["tail_sha256"] != before["tail_sha256"]
