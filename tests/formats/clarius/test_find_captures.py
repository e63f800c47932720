"""sonobridge.formats.clarius (the package's entry points): captures found in a folder, in a plain
tar package or as one stream file; anything else is not Clarius data."""
from __future__ import annotations

import pytest

from sonobridge.errors import FormatError
from sonobridge.formats.clarius import find_captures, read_capture

from support import EXAMPLES


def test_a_folder_a_tar_package_and_a_stream_file_are_found():
    folder = find_captures(EXAMPLES / "carotid_doppler_2020")
    assert [c.prefix for c in folder] == ["carotid"] and folder[0].suffixes == ["env", "iq"]
    package = find_captures(EXAMPLES / "carotid_doppler_lzop5F.tar")
    assert package and all(c.label.startswith(str(EXAMPLES / "carotid_doppler_lzop5F.tar") + ":") for c in package)
    single = find_captures(EXAMPLES / "carotid_doppler_2020" / "carotid_env.raw")
    assert len(single) == 1 and single[0].single_file and list(single[0].raws) == ["env"]
    recording = read_capture(single[0])
    assert list(recording.streams) == ["env"]


def test_other_files_are_not_clarius_and_compressed_packages_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x" * 600)
    assert find_captures(tmp_path / "notes.txt") is None
    assert find_captures(tmp_path) is None
    (tmp_path / "capture.tar.gz").write_bytes(b"\x1f\x8b" + bytes(600))
    with pytest.raises(FormatError, match="capture.tar.gz.*decompress"):
        find_captures(tmp_path / "capture.tar.gz")
