"""sonobridge.formats.telemed.tvd: the UIFF (RIFF-like) ``.tvd`` container of Telemed Echo Wave."""
from __future__ import annotations

import pytest

from sonobridge.errors import FormatError


def test_tvd_stream_header_without_format_is_a_format_error(tmp_path):
    import struct

    def chunk(chunk_id, payload):
        return chunk_id + struct.pack("<Q", len(payload)) + payload + b"\0" * (len(payload) & 1)

    strh = b"2DusB".ljust(20, b"\0") + struct.pack("<I", 3) + bytes(40)
    data = chunk(b"UIFF", b"UDI " + chunk(b"LIST", b"hdrl" + chunk(b"strh", strh)))
    (tmp_path / "x.tvd").write_bytes(data)
    from sonobridge.formats.telemed.tvd import read_tvd

    with pytest.raises(FormatError, match="x.tvd.*no format"):
        read_tvd(tmp_path / "x.tvd")
