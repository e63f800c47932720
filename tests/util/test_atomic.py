"""sonobridge.util.atomic: outputs written under a temporary name and renamed when complete."""
from __future__ import annotations

import pytest

from sonobridge.errors import DiskFullError, OutputError
from sonobridge.util.atomic import atomic_path, require_free_space, write_bytes_atomic


def test_a_completed_block_renames_and_a_failed_one_leaves_nothing(tmp_path):
    final = tmp_path / "sub" / "out.bin"
    with atomic_path(final) as temporary:
        assert temporary.parent == final.parent and temporary != final
        temporary.write_bytes(b"done")
    assert final.read_bytes() == b"done" and list(final.parent.iterdir()) == [final]
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "other.bin") as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert not (tmp_path / "other.bin").exists() and not list(tmp_path.glob(".other.bin.*"))
    assert write_bytes_atomic(tmp_path / "b.bin", b"xyz").read_bytes() == b"xyz"


def test_too_little_space_and_unwritable_places_are_the_package_errors(tmp_path):
    with pytest.raises(DiskFullError, match="not enough free space"):
        require_free_space(tmp_path, 1 << 62, output=tmp_path / "huge.bin")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="file"):
        write_bytes_atomic(tmp_path / "file" / "below.bin", b"x")      # a file where a folder should be
