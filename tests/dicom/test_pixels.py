"""sonobridge.dicom.pixels: DICOM decoding against pydicom (and GDCM where pydicom cannot), syntaxes
the fixtures lack made here, ultrasound calibration and timing, and hostile files. Reading into the
core model and writing are tested in tests/formats/dicom/."""
from __future__ import annotations

import json
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonobridge.cli import main
from sonobridge.errors import FormatError, SonobridgeError, UnsupportedInputError
from sonobridge.formats import open_recording
from sonobridge.dicom import decode

from support import DICOM, FUZZ_SOURCES, mutated_dicom

LOSSY = {"1.2.840.10008.1.2.4.50": 6, "1.2.840.10008.1.2.4.51": 2, "1.2.840.10008.1.2.4.81": 3,
         "1.2.840.10008.1.2.4.91": 3}      # max abs difference allowed between two decoders


def pixel_files() -> list[Path]:
    import pydicom

    files = []
    for path in sorted(DICOM.rglob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=False, force=True)
        except Exception:
            continue
        if "PixelData" in ds:
            files.append(path)
    return files


PIXEL_FILES = pixel_files()


def reference(path: Path) -> np.ndarray:
    """pydicom's pixel_array (frames axis added); GDCM's raw output where pydicom cannot decode."""
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = ds.pixel_array
    except Exception:
        import gdcm

        reader = gdcm.ImageReader()
        reader.SetFileName(str(path))
        assert reader.Read()
        image = reader.GetImage()
        dtype = np.uint16 if ds.BitsAllocated == 16 else np.uint8
        pixels = np.frombuffer(image.GetBuffer().encode("utf-8", "surrogateescape"), dtype).reshape(ds.Rows, ds.Columns)
    return pixels if int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels[None]


def test_fixture_inventory():
    assert len(PIXEL_FILES) >= 80, "the DICOM fixtures in ../shared/data/dicom are required"


@pytest.mark.parametrize("path", PIXEL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_decode_matches_pydicom(path):
    import pydicom

    ours = decode(path)
    expected = reference(path)
    assert ours.shape == expected.shape
    syntax = str(pydicom.dcmread(path, stop_before_pixels=True, force=True).file_meta.get("TransferSyntaxUID", ""))
    difference = np.abs(ours.astype(np.float64) - expected.astype(np.float64)).max()
    assert difference <= LOSSY.get(syntax, 0), f"{syntax}: max difference {difference}"
    if syntax not in LOSSY:
        assert ours.dtype == expected.dtype.newbyteorder("=")      # ours always in native byte order


def _encapsulated_copy(source: Path, target: Path, syntax: str, frames: list[bytes], **changes) -> Path:
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(source)
    # pydicom 3.0.2 cannot write Deflated Image Frame Compression: write as JPEG 2000 (a UID of the
    # same 22-byte padded length) and put the real UID into the file meta afterwards
    placeholder = "1.2.840.10008.1.2.4.90" if syntax == "1.2.840.10008.1.2.8.1" else None
    ds.file_meta.TransferSyntaxUID = placeholder or syntax
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    for key, value in changes.items():
        setattr(ds, key, value)
    ds.save_as(target, enforce_file_format=True, implicit_vr=False, little_endian=True)
    if placeholder:
        data = target.read_bytes()
        target.write_bytes(data.replace(placeholder.encode(), syntax.encode() + b"\0", 1))
    return target


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.8.1"])
def test_syntaxes_the_fixtures_lack(tmp_path, syntax):
    import imagecodecs

    source = DICOM / "pydicom-data" / "emri_small.dcm"                # 10 frames of 16-bit MR (12 stored)
    frames = decode(source)
    if syntax.endswith("201"):
        encoded = [imagecodecs.htj2k_encode(frame, reversible=True) for frame in frames]
    elif syntax.endswith("57"):
        encoded = [imagecodecs.ljpeg_encode(frame, bitspersample=16) for frame in frames]
    else:
        compressor = [zlib.compressobj(6, zlib.DEFLATED, -15) for _ in frames]
        encoded = [c.compress(frame.astype("<u2").tobytes()) + c.flush() for c, frame in zip(compressor, frames)]
    path = _encapsulated_copy(source, tmp_path / "made.dcm", syntax, encoded)
    assert np.array_equal(decode(path), frames)
    assert np.array_equal(decode(path, frame=4), frames[3:4])


def test_ultrasound_cine_into_the_core_model():
    path = DICOM / "pydicom-data" / "color3d_jpeg_baseline.dcm"
    pixels, meta = decode(path, frame=7, with_meta=True)
    assert pixels.shape == (1, 480, 640, 3)
    assert meta["frame_times_s"][:3] == pytest.approx([0.0, 0.033333, 0.066666])
    [region] = meta["us_regions"]
    assert region["delta_x"] == pytest.approx(0.05105 / 100, rel=1e-3) and region["unit_x"] == "m"
    stream = open_recording(path)["image"]
    assert stream.shape == (120, 480, 640, 3) and stream.mean_frame_rate_hz == pytest.approx(30.0, rel=1e-3)
    assert stream.geometry.pixel_size_m == pytest.approx(0.0005105, rel=1e-3)
    assert stream.geometry.mask.sum() == (region["x1"] - region["x0"] + 1) * (region["y1"] - region["y0"] + 1)
    assert np.array_equal(stream.frames[6], pixels[0])


def test_rescale_gives_float32_real_world_values():
    path = DICOM / "pydicom" / "CT_small.dcm"
    import pydicom

    ds = pydicom.dcmread(path)
    values = decode(path, rescale=True)
    assert values.dtype == np.float32
    assert np.allclose(values[0], ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))


def test_cli_info_convert_and_video_on_dicom(tmp_path, capsys):
    path = DICOM / "pydicom" / "examples_ybr_color.dcm"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)[str(path)]
    assert info["streams"]["image"]["n_frames"] == 30
    assert main(["convert", str(path), str(tmp_path / "c.hdf5"), "-q"]) == 0
    assert main(["validate", str(tmp_path / "c.hdf5")]) == 0
    capsys.readouterr()
    assert main(["video", str(path), "--out-dir", str(tmp_path), "-q", "--json"]) == 0
    [(video, status)] = json.loads(capsys.readouterr().out).items()
    assert status == "built" and Path(video).name == "examples_ybr_color.mp4"
    import sonobridge

    rgb = decode(path)
    luma = np.rint(rgb.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    with sonobridge.VideoReader(video) as reader:
        assert np.array_equal(reader[:], luma)


# ---------------------------------------------------------------- bad input
def test_not_dicom_and_damaged_files(tmp_path):
    (tmp_path / "text.dcm").write_text("hello, not a DICOM file" * 20)
    with pytest.raises(UnsupportedInputError, match="text.dcm"):
        decode(tmp_path / "text.dcm")
    source = (DICOM / "pydicom-data" / "OBXXXX1A.dcm").read_bytes()
    (tmp_path / "short.dcm").write_bytes(source[: len(source) - 5000])
    with pytest.raises(SonobridgeError, match="short.dcm"):
        decode(tmp_path / "short.dcm")


def test_fragments_that_do_not_add_up(tmp_path):
    source = DICOM / "pydicom-data" / "emri_small_jpeg_ls_lossless.dcm"
    import pydicom
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(source)
    frames = list(generate_frames(ds.PixelData, number_of_frames=10))
    path = _encapsulated_copy(source, tmp_path / "few.dcm", str(ds.file_meta.TransferSyntaxUID), frames[:6])
    with pytest.raises(FormatError, match="few.dcm"):
        decode(path)
    broken = [frame[: len(frame) // 3] for frame in frames]
    path = _encapsulated_copy(source, tmp_path / "cut.dcm", str(ds.file_meta.TransferSyntaxUID), broken)
    with pytest.raises(FormatError, match="cut.dcm"):
        decode(path)


@settings(max_examples=120, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(FUZZ_SOURCES), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                                           max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)), lie=st.one_of(st.none(), st.tuples(st.floats(0, 1),
                                                                                     st.integers(0, 2**32 - 1))))
def test_fuzzed_fixtures_never_crash(tmp_path, source, flips, cut, lie):
    """Bounded fuzzing (hypothesis): byte flips, truncation and a lying 4-byte length anywhere after
    the preamble give a result or one of the package's errors, never anything else."""
    data = mutated_dicom((DICOM / source).read_bytes(), flips, cut, lie)
    path = tmp_path / "fuzz.dcm"
    path.write_bytes(data)
    try:
        decode(path)
    except (SonobridgeError, IndexError):
        pass


def test_lying_dimensions_are_refused_before_allocating(tmp_path):
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom-data" / "emri_small_jpeg_ls_lossless.dcm")
    ds.Rows, ds.Columns = 60000, 60000
    ds.save_as(tmp_path / "huge.dcm")
    with pytest.raises(FormatError, match="implausible"):
        decode(tmp_path / "huge.dcm")


def test_adobe_app14_transform_flag_is_read():
    from sonobridge.dicom.pixels import _jpeg_colour

    def app14(transform):
        return b"\xff\xd8\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00" + bytes([transform]) + b"\xff\xc0"

    assert _jpeg_colour(app14(0), "YBR_FULL_422") == "RGB" and _jpeg_colour(app14(1), "RGB") == "YCbCr"
