"""sonobridge.formats.telemed.uiff: the declared frame count in a ``.tvd``'s UIFF header."""
from __future__ import annotations

from sonobridge.formats.telemed.uiff import read_tvd_n_frames

from telemed_synth import uiff_bytes


def test_the_declared_frame_count_is_read_from_the_first_stream_header(tmp_path):
    path = tmp_path / "scan.tvd"
    path.write_bytes(uiff_bytes(declared=1234, frames=2))
    assert read_tvd_n_frames(path) == 1234


def test_files_that_are_not_uiff_have_no_count(tmp_path):
    path = tmp_path / "other.tvd"
    path.write_bytes(b"RIFF" + bytes(100))
    assert read_tvd_n_frames(path) is None
    path.write_bytes(uiff_bytes(declared=7)[:30])                   # cut inside the stream header
    assert read_tvd_n_frames(path) is None
