"""Real-world DICOM (issue 13): absolute ultrasound region geometry (offsets, signed deltas, several
regions) and its round trip through the writer, headers pydicom parses but cannot serialise, JPEG XL,
DS/IS values within their VR limits, lying element lengths, and a fuzz of the whole reading path."""
from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from sonobridge.core.describe import describe
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import SampleKind, Stream
from sonobridge.errors import FormatError, SonobridgeError
from sonobridge.dicom.io import save_dataset
from sonobridge.dicom.pixels import decode
from sonobridge.dicom.ultrasound import geometry_meta, number_string
from sonobridge.formats import open_recording
from sonobridge.formats.dicom import export_dicom

from support import DICOM, FUZZ_SOURCES, dciodvfy_errors, mutated_dicom

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG_XL_LOSSLESS, JPEG_XL_RECOMPRESSION, JPEG_XL = (f"1.2.840.10008.1.2.4.{n}" for n in (110, 111, 112))


# ---------------------------------------------------------------- files made here
def region(x0: int, y0: int, x1: int, y1: int, dx_cm: float, dy_cm: float, reference: tuple | None = None,
           value_cm: tuple | None = None, spatial_format: int = 1, units: tuple = (3, 3)):
    """One item of SequenceOfUltrasoundRegions (reference pixel / physical value left out when None)."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = spatial_format, 1, 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX, item.PhysicalDeltaY = dx_cm, dy_cm
    if reference is not None:
        item.ReferencePixelX0, item.ReferencePixelY0 = reference
    if value_cm is not None:
        item.ReferencePixelPhysicalValueX, item.ReferencePixelPhysicalValueY = value_cm
    return item


def us_file(path: Path, regions: list, rows: int = 60, columns: int = 80, n_frames: int = 2) -> Path:
    """A small US Multi-frame file (8-bit grey, explicit VR little endian) with ``regions``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
    ds.SOPClassUID, ds.SOPInstanceUID = US_MULTIFRAME, generate_uid()
    ds.Modality, ds.Manufacturer = "US", "ACME"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, n_frames
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime, ds.FrameIncrementPointer = "25", 0x00181063
    ds.SequenceOfUltrasoundRegions = Sequence(regions)
    ds.PixelData = np.random.default_rng(1).integers(0, 256, (n_frames, rows, columns), np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def image_stream(frames: np.ndarray, grid: PixelGrid | None = None, times_s: np.ndarray | None = None) -> Stream:
    return Stream("image", SampleKind.IMAGE, frames.shape[1:], np.uint8, frames=frames, geometry=grid,
                  clock_source=times_s, clock_unit_s=1.0)


def dciodvfy_errors_any_syntax(path: Path, tmp_path: Path) -> list[str]:
    """dciodvfy's errors; for a JPEG XL file (a syntax this dicom3tools does not know) those of a copy
    labelled JPEG-LS lossless: the modules are checked, the codestream is not."""
    import pydicom

    ds = pydicom.dcmread(path)
    if str(ds.file_meta.TransferSyntaxUID) not in (JPEG_XL_LOSSLESS, JPEG_XL_RECOMPRESSION, JPEG_XL):
        return dciodvfy_errors(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.80"
    copy = tmp_path / f"labelled_jpeg_ls_{path.name}"
    ds.save_as(copy, enforce_file_format=True)
    return dciodvfy_errors(copy)


# ---------------------------------------------------------------- 1. absolute geometry
def test_region_offsets_place_the_image_absolutely(tmp_path):
    """7.0 cm / 2.0 cm reference values: depths start 20 mm deeper than the reference pixel alone says."""
    path = us_file(tmp_path / "offset.dcm", [region(10, 5, 69, 54, 0.02, 0.03, reference=(4, 0), value_cm=(7.0, 2.0))])
    grid = open_recording(path)["image"].geometry
    columns, rows = np.arange(80), np.arange(60)
    assert np.allclose(grid.x_m, 0.07 + (columns - (10 + 4)) * 0.0002, rtol=0, atol=1e-12)
    assert np.allclose(grid.z_m, 0.02 + (rows - (5 + 0)) * 0.0003, rtol=0, atol=1e-12)
    assert grid.z_m[5] == pytest.approx(0.02) and grid.x_m[14] == pytest.approx(0.07)
    assert grid.mask.sum() == 60 * 50 and grid.mask[5, 10] and not grid.mask[4, 10]


def test_negative_delta_keeps_the_axis_faithful_and_spacings_positive(tmp_path):
    """An ACUSON phased array: PhysicalDeltaX < 0, x decreases left to right; every reported spacing
    is a magnitude, and describe / zea export / DICOM export keep the axis as it is."""
    from sonobridge.formats.zea.writer import export_zea

    path = us_file(tmp_path / "acuson.dcm", [region(0, 0, 79, 59, -0.025, 0.025, reference=(40, 0), value_cm=(0, 0.5))])
    recording = open_recording(path)
    stream = recording["image"]
    assert np.all(np.diff(stream.geometry.x_m) < 0) and stream.geometry.x_m[40] == pytest.approx(0.0)
    assert stream.geometry.z_m[0] == pytest.approx(0.005)
    assert stream.geometry.pixel_size_m == pytest.approx(0.00025)
    assert stream.parameters["pixel_spacing_m"] == pytest.approx([0.00025, 0.00025])
    assert geometry_meta(__import__("pydicom").dcmread(path))["pixel_spacing_m"] == pytest.approx([0.00025] * 2)
    info = describe(recording)["streams"]["image"]["geometry"]
    assert info["pixel_spacing_m"] == pytest.approx([0.00025, 0.00025])
    assert info["x_range_m"] == pytest.approx([0.01, 0.01 - 79 * 0.00025])
    zea_path = export_zea(recording, tmp_path / "acuson.hdf5")
    back = open_recording(zea_path)["image"].geometry
    assert np.allclose(back.x_m, stream.geometry.x_m, atol=1e-7)               # float32 in the zea file
    assert np.allclose(back.z_m, stream.geometry.z_m, atol=1e-7)
    written = export_dicom(recording, tmp_path / "again.dcm")
    again = open_recording(written)["image"].geometry
    assert np.allclose(again.x_m, stream.geometry.x_m, rtol=0, atol=1e-12)
    assert dciodvfy_errors(written) == []


def test_reference_pixel_outside_the_region_and_defaults(tmp_path):
    """A sector apex 40 rows above the region (and 0.5 cm below the skin line the values count
    from); a region without reference pixel or physical value has its corner at 0."""
    apex = region(20, 10, 59, 59, 0.01, 0.01, reference=(20, -40), value_cm=(0.0, 0.5))
    path = us_file(tmp_path / "apex.dcm", [apex])
    grid = open_recording(path)["image"].geometry
    assert grid.z_m[10] == pytest.approx(0.005 + 40 * 0.0001) and grid.x_m[40] == pytest.approx(0.0)
    assert grid.z_m[0] == pytest.approx(0.005 + 30 * 0.0001)            # a row above the region, same scale
    path = us_file(tmp_path / "plain.dcm", [region(20, 10, 59, 59, 0.01, 0.01)])
    grid = open_recording(path)["image"].geometry
    assert grid.x_m[20] == pytest.approx(0.0) and grid.z_m[10] == pytest.approx(0.0)
    assert grid.x_m[0] == pytest.approx(-20 * 0.0001)


def test_the_largest_tissue_region_of_several_is_chosen(tmp_path):
    regions = [region(0, 0, 29, 19, 0.05, 0.05, reference=(0, 0), value_cm=(1.0, 1.0)),           # small 2D
               region(0, 20, 79, 59, 0.5, 10.0, spatial_format=3, units=(4, 7)),                  # spectral, larger
               region(30, 0, 79, 19, 0.02, 0.02, reference=(25, 0), value_cm=(0.0, 3.0)),          # largest 2D
               region(0, 0, 79, 59, 0.0, 0.0)]                                                    # uncalibrated
    path = us_file(tmp_path / "several.dcm", regions)
    stream = open_recording(path)["image"]
    assert sorted(r["spatial_format"] for r in stream.parameters["us_regions"]) == ["2D", "2D", "2D", "spectral"]
    grid = stream.geometry
    assert grid.mask.sum() == 50 * 20 and grid.mask[0, 30] and not grid.mask[0, 29]
    assert grid.x_m[55] == pytest.approx(0.0) and grid.z_m[0] == pytest.approx(0.03)
    spectral = next(r for r in stream.parameters["us_regions"] if r["spatial_format"] == "spectral")
    assert spectral["unit_x"] == "s" and spectral["delta_y"] == pytest.approx(0.1)       # cm/s -> m/s


@pytest.mark.parametrize("compression", ["none", "jpeg-xl"])
def test_writer_round_trips_offsets_and_signs(tmp_path, compression):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (3, 40, 50), np.uint8)
    grid = PixelGrid(x_m=0.031 - np.arange(50) * 0.000213, z_m=0.0175 + np.arange(40) * 0.000301)
    path = export_dicom(image_stream(frames, grid), tmp_path / "grid.dcm", compression=compression)
    back = open_recording(path)["image"]
    assert np.allclose(back.geometry.x_m, grid.x_m, rtol=0, atol=1e-12)
    assert np.allclose(back.geometry.z_m, grid.z_m, rtol=0, atol=1e-12)
    assert np.array_equal(np.asarray(back.frames), frames)
    assert dciodvfy_errors_any_syntax(path, tmp_path) == []


# ---------------------------------------------------------------- 2. headers pydicom parses, JSON cannot hold
def _explicit_element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH", group, element) + vr + struct.pack("<H", len(value)) + value


def _insert_top_level(data: bytes, tag: tuple[int, int], raw: bytes) -> bytes:
    """``raw`` inserted before the first top-level element after ``tag`` (explicit VR little endian)."""
    position = 132 + 12 + struct.unpack("<I", data[140:144])[0]         # after the file meta group
    while position < len(data):
        group, element = struct.unpack("<HH", data[position:position + 4])
        if (group, element) > tag:
            break
        vr = data[position + 4:position + 6]
        if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UT", b"UC", b"UR", b"SV", b"UV"):
            position += 12 + struct.unpack("<I", data[position + 8:position + 12])[0]
        else:
            position += 8 + struct.unpack("<H", data[position + 6:position + 8])[0]
    return data[:position] + raw + data[position:]


STRAY_ITEMS = struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
ODD_HEADERS = {
    "stray_items": ((0x0008, 0x0070), STRAY_ITEMS, "(FFFE,E000)"),
    "unknown_vr": ((0x0011, 0x1001), _explicit_element(0x0011, 0x0010, b"LO", b"ACME 1.0")
                   + _explicit_element(0x0011, 0x1001, b"ZZ", b"abcd"), "(0011,1001)"),
    "bad_length": ((0x0018, 0x1244), _explicit_element(0x0018, 0x1244, b"US", b"\x01\x02\x03"), "(0018,1244)"),
    "bad_number": ((0x0018, 0x1063), _explicit_element(0x0018, 0x1062, b"IS", b"fast"), "(0018,1062)"),
}


@pytest.mark.parametrize("kind", sorted(ODD_HEADERS))
def test_headers_pydicom_parses_always_open(tmp_path, kind):
    import pydicom

    base = us_file(tmp_path / "base.dcm", [region(0, 0, 79, 59, 0.02, 0.02, reference=(40, 0), value_cm=(0, 1.0))])
    after, raw, named = ODD_HEADERS[kind]
    path = tmp_path / f"{kind}.dcm"
    path.write_bytes(_insert_top_level(base.read_bytes(), after, raw))
    pydicom.dcmread(path)                                            # pydicom parses it ...
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = open_recording(path)                             # ... so it opens
        info = describe(recording)
    ours = [str(w.message) for w in caught if "cannot be kept" in str(w.message)]
    assert len(ours) == 1 and named in ours[0] and path.name in ours[0]
    stream = recording["image"]
    assert info["streams"]["image"]["n_frames"] == 2 and stream.timestamps_s[1] == pytest.approx(0.025)
    assert stream.geometry.z_m[0] == pytest.approx(0.01)
    assert np.array_equal(np.asarray(stream.frames[1]), decode(base)[1])
    assert "00080060" in stream.metadata and all(not key.startswith("FFFE") for key in stream.metadata)


# ---------------------------------------------------------------- 3. JPEG XL
def _jpeg_xl_copy(source: Path, target: Path, syntax: str, frames: list[bytes]) -> Path:
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(source)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.NumberOfFrames = len(frames)
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    save_dataset(ds, target)
    return target


def test_jpeg_xl_lossless_16_bit_decodes_bit_exact(tmp_path):
    import imagecodecs

    source = DICOM / "pydicom-data" / "emri_small.dcm"                # 10 frames of 16-bit MR
    frames = decode(source)
    encoded = [imagecodecs.jpegxl_encode(frame, lossless=True) for frame in frames]
    path = _jpeg_xl_copy(source, tmp_path / "xl.dcm", JPEG_XL_LOSSLESS, encoded)
    assert np.array_equal(decode(path), frames) and np.array_equal(decode(path, frame=4), frames[3:4])
    assert open_recording(path)["image"].parameters["transfer_syntax"] == JPEG_XL_LOSSLESS


def test_jpeg_xl_recompressed_jpeg_and_lossy_decode(tmp_path):
    import imagecodecs

    source = DICOM / "pydicom" / "examples_ybr_color.dcm"
    rgb = decode(source)[:3]
    jpegs = [imagecodecs.jpeg8_encode(frame, level=90) for frame in rgb]
    recompressed = [imagecodecs.jpegxl_encode_jpeg(jpeg) for jpeg in jpegs]
    path = _jpeg_xl_copy(source, tmp_path / "jpeg.dcm", JPEG_XL_RECOMPRESSION, recompressed)
    expected = np.stack([imagecodecs.jpeg8_decode(jpeg) for jpeg in jpegs])
    difference = np.abs(decode(path).astype(int) - expected)       # libjxl's IDCT vs libjpeg-turbo's
    assert difference.max() <= 6 and difference.mean() < 0.5
    lossy = [imagecodecs.jpegxl_encode(frame, distance=1.0) for frame in rgb]
    path = _jpeg_xl_copy(source, tmp_path / "lossy.dcm", JPEG_XL, lossy)
    assert np.abs(decode(path).astype(int) - rgb).mean() < 4


@pytest.mark.parametrize("shape", [(4, 30, 40), (3, 30, 40, 3)])
def test_jpeg_xl_writer_is_lossless(tmp_path, shape):
    import pydicom

    frames = np.random.default_rng(5).integers(0, 256, shape, np.uint8)
    path = export_dicom(image_stream(frames), tmp_path / "xl.dcm", compression="jpeg-xl")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == JPEG_XL_LOSSLESS and ds.LossyImageCompression == "00"
    assert np.array_equal(np.asarray(open_recording(path)["image"].frames), frames)
    assert dciodvfy_errors_any_syntax(path, tmp_path) == []


def test_cli_converts_to_jpeg_xl_dicom(tmp_path):
    from sonobridge.cli import main

    source = us_file(tmp_path / "source.dcm", [region(0, 0, 79, 59, -0.02, 0.02, reference=(40, 0), value_cm=(0, 1.5))])
    out = tmp_path / "xl.dcm"
    assert main(["convert", str(source), str(out), "--dicom-compression", "jpeg-xl", "-q"]) == 0
    back, original = open_recording(out)["image"], open_recording(source)["image"]
    assert np.array_equal(np.asarray(back.frames), np.asarray(original.frames))
    assert np.allclose(back.geometry.x_m, original.geometry.x_m, rtol=0, atol=1e-12)


def test_undecodable_frames_are_format_errors(tmp_path):
    """A file whose frames do not decode opens (the header is fine) but reading a frame, as a QC
    check of has_frames does, raises FormatError naming the file."""
    source = DICOM / "pydicom-data" / "emri_small.dcm"
    path = _jpeg_xl_copy(source, tmp_path / "garbage.dcm", JPEG_XL_LOSSLESS, [b"\xff\x0a" + bytes(30)] * 10)
    stream = open_recording(path)["image"]
    with pytest.raises(FormatError, match="garbage.dcm"):
        stream.frames[0]
    with pytest.raises(FormatError, match="garbage.dcm"):
        decode(path)


# ---------------------------------------------------------------- 4. DS / IS within their VR limits
def test_number_string_respects_the_vr_limits():
    for value in (33.333333333333336, 1000 / 7, -0.000123456789123456, 1e-300, 123456789012345678.0, 0.0, -0.0):
        text = number_string(value)
        assert len(text) <= 16 and text != "-0"
        assert float(text) == pytest.approx(value, rel=1e-9, abs=1e-300)
    assert number_string(7, "IS") == "7"
    for bad, vr in ((float("nan"), "DS"), (float("inf"), "DS"), (2**31, "IS"), (1.5, "IS")):
        with pytest.raises(ValueError):
            number_string(bad, vr)


@pytest.mark.parametrize("rate", [None, 7.0, 29.97])
def test_frame_times_without_or_with_odd_timing_are_valid_ds(tmp_path, rate):
    """No timing (30 frames/s assumed: 33.333... ms) or an odd rate: every DS within 16 characters."""
    import pydicom

    frames = np.random.default_rng(2).integers(0, 256, (5, 16, 20), np.uint8)
    times = None if rate is None else np.arange(5) / rate
    grid = PixelGrid(x_m=np.arange(20) / 3e3, z_m=0.01 / 3 + np.arange(16) / 3e3)
    path = export_dicom(image_stream(frames, grid, times), tmp_path / "timing.dcm")
    assert dciodvfy_errors(path) == []
    steps = pydicom.dcmread(path, stop_before_pixels=True).FrameTimeVector
    assert all(len(str(step)) <= 16 for step in steps)              # as written in the file
    back = open_recording(path)["image"].timestamps_s
    assert back[1] == pytest.approx(1 / (rate or 30.0), rel=1e-6)


def test_lossy_export_ratio_is_a_valid_ds(tmp_path):
    frames = np.random.default_rng(4).integers(0, 256, (2, 24, 32), np.uint8)
    path = export_dicom(image_stream(frames, times_s=np.arange(2) / 7), tmp_path / "lossy.dcm", compression="jpeg")
    assert dciodvfy_errors(path) == []


# ---------------------------------------------------------------- 5. lying element lengths
def _lying_copy(tmp_path: Path) -> Path:
    """A valid small file whose Manufacturer element (implicit VR: 4-byte length) claims 0xFFFFFFF0 bytes."""
    import pydicom

    ds = pydicom.dcmread(us_file(tmp_path / "valid.dcm", [region(0, 0, 79, 59, 0.02, 0.02)]))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    ds.save_as(tmp_path / "implicit.dcm", enforce_file_format=True)
    data = bytearray((tmp_path / "implicit.dcm").read_bytes())
    at = data.index(struct.pack("<HHI", 0x0008, 0x0070, 4) + b"ACME")
    data[at + 4:at + 8] = struct.pack("<I", 0xFFFFFFF0)
    path = tmp_path / "lying.dcm"
    path.write_bytes(bytes(data))
    return path


def test_lying_element_length_is_refused_before_allocating(tmp_path):
    path = _lying_copy(tmp_path)
    started = time.perf_counter()
    for read in (decode, open_recording):
        with pytest.raises(FormatError, match=r"lying.dcm.*declares 4294967280 bytes"):
            read(path)
    assert time.perf_counter() - started < 2


def test_lying_element_length_with_little_memory_is_no_memory_error(tmp_path):
    """Where 4 GiB cannot be allocated (here: a 3 GiB address-space limit), reading all of a lying
    length ended in MemoryError; it is refused first."""
    path = _lying_copy(tmp_path)
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
              "from sonobridge.formats import open_recording\n"
              "from sonobridge.errors import FormatError\n"
              "try:\n    open_recording(sys.argv[1])\n"
              "except FormatError as error:\n    print('FormatError', error)\n")
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FormatError") and "lying.dcm" in result.stdout


# ---------------------------------------------------------------- every reading path under fuzzing
class _Sources(dict):
    """File name -> bytes, shown by name only (hypothesis prints its arguments on failure)."""

    def __repr__(self) -> str:
        return f"<sources {', '.join(self)}>"


@pytest.fixture(scope="module")
def fuzz_sources(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz_sources")
    made = us_file(folder / "regions.dcm", [region(0, 0, 39, 29, 0.02, -0.03, reference=(5, -3), value_cm=(7.0, 2.0)),
                                            region(40, 0, 79, 59, 1.0, 5.0, spatial_format=3, units=(4, 7))])
    xl = export_dicom(image_stream(np.random.default_rng(6).integers(0, 256, (3, 20, 24, 3), np.uint8)),
                      folder / "xl.dcm", compression="jpeg-xl")
    sources = _Sources((name, (DICOM / name).read_bytes()) for name in FUZZ_SOURCES)
    sources.update({"regions.dcm": made.read_bytes(), "xl.dcm": xl.read_bytes()})
    return sources


def _read_everything(path: Path) -> None:
    recording = open_recording(path)
    describe(recording)
    stream = recording["image"]
    np.asarray(stream.frames[0])
    np.asarray(stream.frames[stream.n_frames - 1])
    decode(path, frame=1, with_meta=True, rescale=True)


@seed(13)
@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=st.sampled_from([*FUZZ_SOURCES, "regions.dcm", "xl.dcm"]),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)),
       lie=st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(0, 2**32 - 1))))
def test_fuzzed_files_through_open_describe_and_frames(fuzz_sources, source, flips, cut, lie):
    """Byte flips, truncation and lying lengths: open_recording, describe, reading frames and
    decode give a result or one of the package's errors, never anything else (warnings allowed)."""
    data = mutated_dicom(fuzz_sources[source], flips, cut, lie)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.dcm"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _read_everything(path)
            except SonobridgeError:
                pass
