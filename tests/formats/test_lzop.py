"""lzop container decoding: real files from Debian's lzop in every variant, and damaged ones."""
from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from sonobridge.errors import ChecksumError, FormatError, SonobridgeError, TruncatedFileError
from sonobridge.formats.byteregion import ByteRegion
from sonobridge.formats.lzop import LzopStream, parse_header


def decode(path: Path) -> bytes:
    stream = LzopStream(ByteRegion.whole_file(path))
    return bytes(stream.read(0, stream.size))


@pytest.mark.parametrize("name, original", [
    ("lzop/carotid_env.raw.lzo", "carotid_doppler_2020/carotid_env.raw"),
    ("lzop/carotid_iq.raw.lzo", "carotid_doppler_2020/carotid_iq.raw"),
    ("lzop/mixed_blocks_noChecksum.lzo", "lzop/mixed_blocks.bin"),
    ("lzop/mixed_blocks_adler32.lzo", "lzop/mixed_blocks.bin"),
])
def test_fixtures_decode_bit_exact(clarius_data, name, original):
    assert decode(clarius_data / name) == (clarius_data / original).read_bytes()


def test_random_access_matches_slices(clarius_data):
    original = (clarius_data / "lzop/mixed_blocks.bin").read_bytes()
    stream = LzopStream(ByteRegion.whole_file(clarius_data / "lzop/mixed_blocks_adler32.lzo"))
    assert stream.n_blocks == 3 and stream.size == len(original)
    for start, size in [(0, 1), (262_140, 10), (524_000, 126_000), (649_999, 1), (100, 0)]:
        assert bytes(stream.read(start, size)) == original[start:start + size]
    with pytest.raises(TruncatedFileError):
        stream.read(649_999, 2)


def test_sequential_iteration_matches(clarius_data):
    stream = LzopStream(ByteRegion.whole_file(clarius_data / "lzop/carotid_iq.raw.lzo"))
    assert b"".join(stream.iter_decompressed()) == (clarius_data / "carotid_doppler_2020/carotid_iq.raw").read_bytes()


@pytest.mark.parametrize("options", [["-5", "-F"], ["-1"], ["-9"], ["--crc32"], ["-3", "--crc32", "-F"]])
def test_real_lzop_variants(tmp_path, clarius_data, lzop_tool_path, options):
    """Methods 1-3 (levels 1, 3-6, 7-9), Adler-32 / CRC-32 / no checksums, stored blocks."""
    original = (clarius_data / "lzop/mixed_blocks.bin").read_bytes() + bytes(300_000)
    source = tmp_path / "data.bin"
    source.write_bytes(original)
    subprocess.run([lzop_tool_path, *options, "-o", str(tmp_path / "data.lzo"), str(source)], check=True)
    assert decode(tmp_path / "data.lzo") == original


def test_piped_lzop_has_empty_name(tmp_path, clarius_data, lzop_tool_path):
    original = (clarius_data / "carotid_doppler_2020/carotid_env.raw").read_bytes()
    out = subprocess.run([lzop_tool_path, "-c"], input=original, capture_output=True, check=True).stdout
    (tmp_path / "piped.lzo").write_bytes(out)
    assert parse_header(ByteRegion.whole_file(tmp_path / "piped.lzo")).name == ""
    assert decode(tmp_path / "piped.lzo") == original


# --- damaged input ------------------------------------------------------------------------------

def _damaged(tmp_path: Path, source: Path, offset: int, value: bytes | None = None) -> Path:
    data = bytearray(source.read_bytes())
    if value is None:
        data[offset] ^= 0xFF
    else:
        data[offset:offset + len(value)] = value
    path = tmp_path / f"damaged_{offset}.lzo"
    path.write_bytes(bytes(data))
    return path


def _first_block_offset(path: Path) -> int:
    return parse_header(ByteRegion.whole_file(path)).data_offset


def test_corrupt_lzo1x_block(tmp_path, clarius_data):
    """Damage LZO1X structure (the block's end-of-stream code): caught even without checksums."""
    source = clarius_data / "lzop/carotid_iq.raw.lzo"
    block = LzopStream(ByteRegion.whole_file(source))._blocks[0]
    end_code = block.src_offset + block.src_len - 3
    with pytest.raises(FormatError, match=r"block 0 .*corrupt LZO1X"):
        decode(_damaged(tmp_path, source, end_code, b"\xff\xff\xff"))


@pytest.mark.parametrize("where", [0, 1000, 50_000, 200_000])
def test_any_corruption_caught_when_checksummed(tmp_path, clarius_data, where):
    """With checksums (lzop's default) every damaged compressed block is reported. Files written
    with -F (as Clarius does) carry none, so damage inside LZO1X data can go unnoticed there."""
    source = clarius_data / "lzop/mixed_blocks_adler32.lzo"
    path = _damaged(tmp_path, source, _first_block_offset(source) + 12 + where, bytes(range(16)))
    with pytest.raises((ChecksumError, FormatError)):
        decode(path)


def test_checksum_mismatch_in_stored_block(tmp_path, clarius_data):
    source = clarius_data / "lzop/mixed_blocks_adler32.lzo"
    stream = LzopStream(ByteRegion.whole_file(source))
    stored = next(b for b in stream._blocks if b.src_len == b.dst_len)
    path = _damaged(tmp_path, source, stored.src_offset + 100)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        decode(path)


def test_header_checksum_mismatch(tmp_path, clarius_data):
    source = clarius_data / "lzop/carotid_env.raw.lzo"
    name_byte = _first_block_offset(source) - 5  # last byte of the stored file name
    with pytest.raises(ChecksumError, match="header checksum"):
        decode(_damaged(tmp_path, source, name_byte))


def test_bad_magic_and_method(tmp_path, clarius_data):
    source = clarius_data / "lzop/carotid_env.raw.lzo"
    with pytest.raises(FormatError, match="magic"):
        decode(_damaged(tmp_path, source, 1))
    with pytest.raises(FormatError, match="method"):
        decode(_damaged(tmp_path, source, 15, b"\x07"))


def test_absurd_block_size_refused(tmp_path, clarius_data):
    source = clarius_data / "lzop/carotid_env.raw.lzo"
    with pytest.raises(FormatError, match="claims"):
        decode(_damaged(tmp_path, source, _first_block_offset(source), struct.pack(">I", 0x7FFF_FFFF)))


def test_every_truncation_gives_a_clear_error(tmp_path, clarius_data):
    data = (clarius_data / "lzop/mixed_blocks_adler32.lzo").read_bytes()
    path = tmp_path / "cut.lzo"
    for cut in list(range(0, 80, 3)) + [1000, 262_000, 400_000, len(data) - 5, len(data) - 1]:
        path.write_bytes(data[:cut])
        with pytest.raises(SonobridgeError) as error:
            decode(path)
        assert str(path) in str(error.value)


def test_crc32_header_checksum_supported(tmp_path, clarius_data):
    """A header whose checksum flag says CRC-32 (F_H_CRC32) is verified with CRC-32."""
    source = bytearray((clarius_data / "lzop/carotid_env.raw.lzo").read_bytes())
    flags_at = 9 + 2 + 2 + 2 + 1 + 1
    flags = struct.unpack(">I", source[flags_at:flags_at + 4])[0] | 0x1000
    source[flags_at:flags_at + 4] = struct.pack(">I", flags)
    end = _first_block_offset(clarius_data / "lzop/carotid_env.raw.lzo") - 4
    source[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(source[9:end])))
    path = tmp_path / "crc_header.lzo"
    path.write_bytes(bytes(source))
    assert decode(path) == (clarius_data / "carotid_doppler_2020/carotid_env.raw").read_bytes()
