"""Clarius packages: tar read in place, hostile archives refused, unpack writes atomically."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sonobridge.errors import FormatError, SonobridgeError, TruncatedFileError, UnsafeArchiveError
from sonobridge.formats import find_recordings, open_recording
from sonobridge.formats.clarius.unpack import unpack

from support import EXAMPLES


def _tar(path: Path, members: dict[str, bytes], *, kinds: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind in (kinds or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
    return path


def test_tar_package_reads_like_the_folder(clarius_data):
    folder = open_recording(clarius_data / "carotid_doppler_2020")
    package = open_recording(clarius_data / "lzop/carotid_doppler_lzop5F.tar")
    assert list(package.streams) == list(folder.streams) == ["env", "iq"]
    for name in folder.streams:
        np.testing.assert_array_equal(np.asarray(package[name].frames), np.asarray(folder[name].frames))
        np.testing.assert_array_equal(package[name].timestamps_s, folder[name].timestamps_s)
        assert package[name].parameters == folder[name].parameters


def test_tar_with_plain_raw_members_is_memory_mapped(tmp_path, clarius_data):
    source = clarius_data / "carotid_doppler_2020"
    archive = _tar(tmp_path / "raw_data.tar", {
        f"sub/2025-01-28T18-45-21+0000_{kind}.{ext}": (source / f"carotid_{kind}.{ext}").read_bytes()
        for kind in ("env", "iq") for ext in ("raw", "yml")} | {"sub/._2025-01-28T18-45-21+0000_env.raw": b"junk"})
    recording = open_recording(archive)
    assert recording.name == "2025-01-28T18-45-21+0000"
    assert recording.start_time.isoformat() == "2025-01-28T18:45:21+00:00"
    frames = recording["env"].frames
    assert isinstance(frames.base, np.memmap)
    np.testing.assert_array_equal(frames, open_recording(source)["env"].frames)


def test_several_captures_in_one_package(tmp_path, clarius_data):
    yml = (clarius_data / "carotid_doppler_2020/carotid_env.yml").read_bytes()
    raw = (clarius_data / "carotid_doppler_2020/carotid_env.raw").read_bytes()
    archive = _tar(tmp_path / "two.tar", {"a_env.raw": raw, "a_env.yml": yml, "b_env.raw": raw, "b_env.yml": yml})
    assert [s.label.rsplit(":", 1)[1] for s in find_recordings(archive)] == ["a", "b"]
    with pytest.raises(SonobridgeError, match="holds 2 recordings"):
        open_recording(archive)


@pytest.mark.parametrize("name", ["../evil_env.raw", "/abs/evil_env.raw", "ok/../../evil_env.raw", "C:/x_env.raw"])
def test_member_escaping_the_target_is_refused(tmp_path, name):
    archive = _tar(tmp_path / "bad.tar", {name: b"x" * 30})
    with pytest.raises(UnsafeArchiveError, match="outside the target"):
        open_recording(archive)
    with pytest.raises(UnsafeArchiveError):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil_env.raw").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_are_refused(tmp_path, kind):
    archive = _tar(tmp_path / "links.tar", {"a_env.yml": b"frames: 1\n"}, kinds={"a_env.raw": kind})
    with pytest.raises(UnsafeArchiveError, match="link or special file"):
        open_recording(archive)


def test_member_past_the_end_and_truncated_tar(tmp_path, clarius_data):
    data = (clarius_data / "lzop/carotid_doppler_lzop5F.tar").read_bytes()
    for cut in (700, 160_000, 1_000_000, 1_800_000):
        path = tmp_path / f"cut{cut}.tar"
        path.write_bytes(data[:cut])
        with pytest.raises(SonobridgeError) as error:
            open_recording(path)["iq"].frames[0]
        assert str(path) in str(error.value)


def test_member_size_lies(tmp_path):
    archive = _tar(tmp_path / "lie.tar", {"a_env.raw": b"x" * 600})
    data = bytearray(archive.read_bytes())
    data[124:136] = b"%011o\0" % (10**9)  # size field of the first member
    checksum = sum(data[:148]) + 8 * 32 + sum(data[156:512])
    data[148:156] = b"%06o\0 " % checksum
    archive.write_bytes(bytes(data))
    with pytest.raises(TruncatedFileError, match="extends past the end"):
        open_recording(archive)


def test_not_a_tar_or_compressed_tar(tmp_path):
    path = tmp_path / "raw_data.tar.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(600))
    with pytest.raises(FormatError):
        open_recording(path)


def test_unpack_decompresses_and_is_idempotent(tmp_path, clarius_data):
    out = tmp_path / "out"
    results = unpack(clarius_data / "lzop/carotid_doppler_lzop5F.tar", out)
    assert sorted(Path(p).name for p in results) == ["carotid_env.raw", "carotid_env.yml",
                                                     "carotid_iq.raw", "carotid_iq.yml"]
    assert set(results.values()) == {"built"}
    for name in ("carotid_env.raw", "carotid_iq.raw"):
        assert (out / name).read_bytes() == (clarius_data / "carotid_doppler_2020" / name).read_bytes()
    assert set(unpack(clarius_data / "lzop/carotid_doppler_lzop5F.tar", out).values()) == {"hit"}


def test_unpack_leaves_nothing_half_written(tmp_path, clarius_data):
    data = bytearray((clarius_data / "lzop/carotid_iq.raw.lzo").read_bytes())
    data[-7:-4] = b"\xff\xff\xff"  # damage the last block's LZO1X end code
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "carotid_iq.raw.lzo").write_bytes(bytes(data))
    (folder / "carotid_iq.yml").write_bytes((clarius_data / "lzop/carotid_iq.yml").read_bytes())
    with pytest.raises(FormatError):
        unpack(folder, tmp_path / "out")
    leftovers = [p.name for p in (tmp_path / "out").iterdir()] if (tmp_path / "out").exists() else []
    assert "carotid_iq.raw" not in leftovers and not any(n.endswith(".partial") for n in leftovers)


def test_unpack_refuses_a_truncated_plain_raw(tmp_path, clarius_data):
    folder = tmp_path / "in"
    folder.mkdir()
    raw = (clarius_data / "carotid_doppler_2020/carotid_env.raw").read_bytes()
    (folder / "carotid_env.raw").write_bytes(raw[:-10])
    (folder / "carotid_env.yml").write_bytes((clarius_data / "carotid_doppler_2020/carotid_env.yml").read_bytes())
    with pytest.raises(TruncatedFileError):
        unpack(folder, tmp_path / "out")
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())  # no .raw, no leftover temporary file


def test_file_names_split_into_prefix_stream_and_extension():
    from sonobridge.formats.clarius.package import capture_of_file, captures_in_folder, split_name

    assert split_name("my_scan_rf.raw.lzo") == ("my_scan", "rf", "raw.lzo")
    assert split_name("carotid_env.tgc.yml") == ("carotid", "env", "tgc.yml")
    assert split_name("carotid.raw") is None and split_name("notes_rf.txt") is None
    folder = captures_in_folder(EXAMPLES / "carotid_doppler_2020")
    assert [(c.prefix, c.suffixes) for c in folder] == [("carotid", ["env", "iq"])]
    assert folder[0].only("iq").suffixes == ["iq"] and folder[0].only("iq").imu is None
    single = capture_of_file(EXAMPLES / "carotid_doppler_2020" / "carotid_iq.raw")
    assert single.single_file and single.label == str(EXAMPLES / "carotid_doppler_2020" / "carotid_iq.raw")
