"""Clarius .raw streams: layout, zero-copy access, and every bad-input case."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sonobridge.core.frames import LazyFrames
from sonobridge.core.recording import SampleKind
from sonobridge.errors import (FormatError, MetadataMismatchError, MissingMetadataError,
                               TruncatedDataWarning, TruncatedFileError)
from sonobridge.formats import open_recording

from synth import raw_bytes, write_capture, yml_text


@pytest.mark.parametrize("stream_id, name, kind, dtype", [
    (0, "iq", SampleKind.IQ, np.int16), (1, "env", SampleKind.ENVELOPE, np.uint8),
    (2, "rf", SampleKind.RF, np.int16), (3, "pw_iq", SampleKind.PW_IQ, np.int16)])
def test_every_stream_id_reads_bit_exact(tmp_path, stream_id, name, kind, dtype):
    raw, data, clock = write_capture(tmp_path, "x", stream_id, frames=4, lines=6, samples=10)
    stream = open_recording(raw).streams[name]
    assert stream.kind is kind and stream.frames.dtype == dtype
    assert stream.shape == data.shape
    np.testing.assert_array_equal(np.asarray(stream.frames), data)
    np.testing.assert_array_equal(stream.clock, clock)
    assert stream.timestamps_s[1] == pytest.approx(0.09)


def test_plain_raw_is_memory_mapped_not_copied(tmp_path):
    raw, data, _ = write_capture(tmp_path, frames=3)
    frames = open_recording(raw).streams["rf"].frames
    assert isinstance(frames.base, np.memmap) or isinstance(frames, np.memmap)
    assert not frames.flags.writeable


def test_iq_complex_view(tmp_path):
    raw, data, _ = write_capture(tmp_path, "iq", 0, frames=2, lines=3, samples=5)
    stream = open_recording(raw).streams["iq"]
    values = stream.to_complex()
    assert values.dtype == np.complex64 and values.shape == (2, 3, 5)
    np.testing.assert_array_equal(values.real, data[..., 0])
    np.testing.assert_array_equal(values.imag, data[..., 1])


def test_stream_type_comes_from_header_not_file_name(tmp_path):
    """Newer firmware writes colour-Doppler IQ as *_rf.raw (yml type: IQ)."""
    raw, data, _ = write_capture(tmp_path, "rf", 0, frames=2, lines=4, samples=8)
    recording = open_recording(raw)
    assert list(recording.streams) == ["iq"]
    assert recording.streams["iq"].kind is SampleKind.IQ


def test_truncated_raw_errors_by_default_and_can_read_whole_frames(tmp_path):
    raw, data, _ = write_capture(tmp_path, frames=5, lines=4, samples=16)
    raw.write_bytes(raw.read_bytes()[:-50])
    with pytest.raises(TruncatedFileError, match=r"cap_rf\.raw.*5 frames.*4 complete"):
        open_recording(raw)
    with pytest.warns(TruncatedDataWarning, match="4 complete frames"):
        stream = open_recording(raw, allow_truncated=True).streams["rf"]
    assert stream.n_frames == 4 and stream.declared_n_frames == 5
    np.testing.assert_array_equal(np.asarray(stream.frames), data[:4])
    assert stream.clock.size == 4


def test_header_shorter_than_20_bytes(tmp_path):
    raw, _, _ = write_capture(tmp_path)
    raw.write_bytes(raw.read_bytes()[:12])
    with pytest.raises(TruncatedFileError, match="too short"):
        open_recording(raw)


@pytest.mark.parametrize("field, value, message", [
    ("frames", 7, "header says 5 frames, the yml says 7"),
    ("lines", 9, "8 lines, the yml says 9"),
    ("type", "IQ", "header id 2 means rf data, the yml says type 'IQ'"),
])
def test_header_yml_disagreement(tmp_path, field, value, message):
    raw, _, _ = write_capture(tmp_path, frames=5, lines=8, samples=16)
    args = {"frames": 5, "lines": 8}
    args[field] = value if field != "type" else args.get(field)
    type_text = value if field == "type" else None
    text = yml_text(2, args["frames"], args["lines"], 16, type_text=type_text)
    if field == "lines":  # keep the per-line list consistent with the lie in size:
        text = yml_text(2, 5, 8, 16).replace("number of lines: 8", "number of lines: 9")
    (tmp_path / "cap_rf.yml").write_text(text, encoding="utf-8")
    with pytest.raises(MetadataMismatchError, match=message):
        open_recording(raw)


def test_per_line_list_length_checked(tmp_path):
    raw, _, _ = write_capture(tmp_path, lines=8)
    text = yml_text(2, 5, 8, 64)
    text = text[:text.rindex("  - {")]  # drop one line entry
    (tmp_path / "cap_rf.yml").write_text(text, encoding="utf-8")
    with pytest.raises(MetadataMismatchError, match="header says 8 entries in 'lines', the yml says 7"):
        open_recording(raw)


def test_unknown_header_id(tmp_path):
    raw, data, clock = write_capture(tmp_path, frames=2)
    raw.write_bytes(raw_bytes(2, data, clock, header=(7, 2, 8, 64, 2)))
    with pytest.raises(FormatError, match="unknown Clarius stream id 7"):
        open_recording(raw)


@pytest.mark.parametrize("header, message", [
    ((2, 2, 2**31, 64, 2), "implausible header"),
    ((2, 2**30, 8, 64, 2), "implausible header"),
    ((2, 2, 8, 0, 2), "implausible header"),
    ((2, 2, 8, 64, 4), "4-byte samples"),
    ((2, 100_000, 8, 64, 2), "truncated"),
])
def test_absurd_header_sizes(tmp_path, header, message):
    raw, data, clock = write_capture(tmp_path, frames=2, yml=False)
    raw.write_bytes(raw_bytes(2, data, clock, header=header))
    with pytest.raises(FormatError, match=message):
        open_recording(raw, require_yml=False)


def test_missing_yml(tmp_path):
    raw, data, _ = write_capture(tmp_path, yml=False)
    with pytest.raises(MissingMetadataError, match=r"cap_rf\.raw: no matching \.yml"):
        open_recording(raw)
    stream = open_recording(raw, require_yml=False).streams["rf"]
    np.testing.assert_array_equal(np.asarray(stream.frames), data)
    assert stream.geometry is None


def test_extra_bytes_after_last_frame_are_ignored_with_a_warning(tmp_path, caplog):
    raw, data, _ = write_capture(tmp_path, frames=2)
    raw.write_bytes(raw.read_bytes() + b"\0" * 7)
    stream = open_recording(raw).streams["rf"]
    assert stream.n_frames == 2 and "7 bytes after the last declared frame" in caplog.text


def test_compressed_stream_is_lazy_and_identical(tmp_path, clarius_data):
    plain = open_recording(clarius_data / "carotid_doppler_2020/carotid_iq.raw").streams["iq"]
    packed = open_recording(clarius_data / "lzop/carotid_iq.raw.lzo").streams["iq"]
    assert isinstance(packed.frames, LazyFrames)
    np.testing.assert_array_equal(packed.frames[0], plain.frames[0])
    np.testing.assert_array_equal(packed.clock, plain.clock)
    np.testing.assert_array_equal(packed.frames[0, 5:9, :3], plain.frames[0, 5:9, :3])


def test_truncated_lzop_stream_reports_frames(tmp_path, clarius_data, lzop_tool_path):
    """A .raw.lzo whose decompressed data is short is a truncated stream like a plain one."""
    import subprocess
    raw, data, _ = write_capture(tmp_path, frames=4, lines=8, samples=64)
    cut = tmp_path / "cut" / "cap_rf.raw"
    cut.parent.mkdir()
    cut.write_bytes(raw.read_bytes()[:-100])
    (cut.parent / "cap_rf.yml").write_bytes((tmp_path / "cap_rf.yml").read_bytes())
    subprocess.run([lzop_tool_path, "-F", "-U", "-o", str(cut) + ".lzo", str(cut)], check=True)
    with pytest.raises(TruncatedFileError, match="decompressed data holds"):
        open_recording(str(cut) + ".lzo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedDataWarning)
        stream = open_recording(str(cut) + ".lzo", allow_truncated=True).streams["rf"]
    np.testing.assert_array_equal(np.asarray(stream.frames), data[:3])


def test_the_20_byte_header_is_decoded_and_checked():
    import struct

    from sonobridge.errors import TruncatedFileError
    from sonobridge.formats.clarius.raw import HEADER_SIZE, parse_header

    header = parse_header(struct.pack("<5I", 2, 7, 16, 300, 2), "x_rf.raw")
    assert header.kind == SampleKind.RF and header.frame_shape == (16, 300)
    assert header.sample_dtype == np.dtype("<i2") and header.record_size == 8 + 16 * 300 * 2
    with pytest.raises(TruncatedFileError, match="x_rf.raw"):
        parse_header(bytes(HEADER_SIZE - 1), "x_rf.raw")
    with pytest.raises(FormatError, match="unknown Clarius stream id 9"):
        parse_header(struct.pack("<5I", 9, 7, 16, 300, 2), "x_rf.raw")
    with pytest.raises(FormatError, match="1-byte samples.*uses 2"):
        parse_header(struct.pack("<5I", 2, 7, 16, 300, 1), "x_rf.raw")
