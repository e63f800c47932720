"""sonobridge.dicom.codecs (pixels.compress / decompress): every transfer syntax written from grey and
RGB ultrasound cines, validated with dciodvfy (a relabelled copy where Debian's dciodvfy does not know
the syntax), read back bit-exact when lossless, by our decoder and by pydicom where it can; 16-bit
round trips; the photometric and lossy labels; decompress."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sonobridge.dicom import pixels
from sonobridge.dicom.codecs import ENCODERS, _strip_spiff
from sonobridge.dicom.io import save_dataset
from sonobridge.errors import FormatError

from support import DICOM, dciodvfy_errors, image_stream, moving_frames

LOSSLESS = [uid for uid, encoder in ENCODERS.items() if not encoder.lossy]
LOSSY = [uid for uid, encoder in ENCODERS.items() if encoder.lossy]
#: syntaxes Debian's dciodvfy cannot read -> the syntax its relabelled copy names (pixel data untouched)
RELABEL = {"1.2.840.10008.1.2.4.201": "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.202": "1.2.840.10008.1.2.4.90",
           "1.2.840.10008.1.2.4.203": "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.8.1": "1.2.840.10008.1.2.4.80",
           "1.2.840.10008.1.2.4.110": "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.111": "1.2.840.10008.1.2.4.50",
           "1.2.840.10008.1.2.4.112": "1.2.840.10008.1.2.4.80"}
#: mean / max absolute error allowed for the lossy syntaxes at their default settings (8-bit texture)
LOSSY_ERROR = {"1.2.840.10008.1.2.4.81": (2, 2), "1.2.840.10008.1.2.4.91": (3, 40),
               "1.2.840.10008.1.2.4.203": (3, 40), "1.2.840.10008.1.2.4.50": (15, 160),
               "1.2.840.10008.1.2.4.51": (15, 160), "1.2.840.10008.1.2.4.111": (15, 160),
               "1.2.840.10008.1.2.4.112": (15, 160)}      # JPEG: 4:2:2 chroma on a noisy colour texture


def _frames(rgb: bool) -> np.ndarray:
    grey = moving_frames(4, 48, 64, seed=3)
    grey = (grey // 4 + np.linspace(0, 160, 64, dtype=np.uint8)).astype(np.uint8)     # texture + a ramp
    return np.stack([grey, grey[:, ::-1], 255 - grey], axis=-1) if rgb else grey


@pytest.fixture(scope="module")
def cines(tmp_path_factory) -> dict[bool, tuple[Path, np.ndarray]]:
    """Valid native Ultrasound Multi-frame Image files (grey, RGB) written by the format adapter."""
    from sonobridge.formats.dicom import export_dicom

    folder = tmp_path_factory.mktemp("cines")
    made = {}
    for rgb in (False, True):
        frames = _frames(rgb)
        made[rgb] = export_dicom(image_stream(frames), folder / f"{'rgb' if rgb else 'grey'}.dcm",
                                 compression="none"), frames
    return made


def dciodvfy_any_syntax(path: Path, tmp_path: Path) -> list[str]:
    """dciodvfy's errors on ``path``, or on a copy labelled with a syntax it knows (see RELABEL)."""
    import pydicom

    syntax = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    if syntax not in RELABEL:
        return dciodvfy_errors(path)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = RELABEL[syntax]
    copy = tmp_path / f"relabelled_{path.name}"
    ds.save_as(copy, enforce_file_format=True)
    return dciodvfy_errors(copy)


def _compressed(cines, tmp_path: Path, rgb: bool, syntax: str, **options):
    import pydicom

    source, frames = cines[rgb]
    ds = pydicom.dcmread(source)
    pixels.compress(ds, syntax, **options)
    path = tmp_path / f"{syntax}.dcm"
    save_dataset(ds, path)
    return ds, path, frames


@pytest.mark.parametrize("rgb", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("syntax", LOSSLESS)
def test_lossless_syntaxes_round_trip_bit_exact_and_pass_dciodvfy(cines, tmp_path, syntax, rgb):
    ds, path, frames = _compressed(cines, tmp_path, rgb, syntax)
    assert np.array_equal(pixels.pixel_array(path), frames)
    assert dciodvfy_any_syntax(path, tmp_path) == []
    expected = {"j2k": "YBR_RCT", "keep": "RGB", "rgb": "RGB"}[ENCODERS[syntax].colour] if rgb else "MONOCHROME2"
    assert ds.PhotometricInterpretation == expected
    assert ds.get("LossyImageCompression", "00") == "00" and ds.file_meta.TransferSyntaxUID == syntax


@pytest.mark.parametrize("rgb", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("syntax", LOSSY)
def test_lossy_syntaxes_are_labelled_close_and_pass_dciodvfy(cines, tmp_path, syntax, rgb):
    ds, path, frames = _compressed(cines, tmp_path, rgb, syntax)
    error = np.abs(pixels.pixel_array(path).astype(int) - frames)
    mean, peak = LOSSY_ERROR[syntax]
    assert error.mean() <= mean and error.max() <= peak
    assert dciodvfy_any_syntax(path, tmp_path) == []
    assert ds.LossyImageCompression == "01" and ds.LossyImageCompressionMethod == ENCODERS[syntax].method
    assert float(ds.LossyImageCompressionRatio) > 1
    if rgb:
        colour = ENCODERS[syntax].colour
        assert ds.PhotometricInterpretation == {"j2k": "YBR_ICT", "jpeg": "YBR_FULL_422"}.get(colour, "RGB")


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90",
                                    "1.2.840.10008.1.2.4.201"])
def test_pydicom_reads_what_we_write(cines, tmp_path, syntax):
    import pydicom

    _, path, frames = _compressed(cines, tmp_path, True, syntax)
    assert np.array_equal(pydicom.dcmread(path).pixel_array, frames)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90",
                                    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.110",
                                    "1.2.840.10008.1.2.8.1"])
def test_16_bit_lossless_round_trip(tmp_path, syntax):
    """10 frames of 16-bit MR (12 bits stored) through each lossless syntax that takes 16 bits."""
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom-data" / "emri_small.dcm")
    expected = ds.pixel_array
    pixels.compress(ds, syntax)
    save_dataset(ds, tmp_path / "mr.dcm")
    assert np.array_equal(pixels.pixel_array(tmp_path / "mr.dcm"), expected)


def test_jpeg_extended_takes_12_bits(tmp_path):
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom-data" / "emri_small.dcm")          # 12 bits stored
    expected = ds.pixel_array.astype(int)
    pixels.compress(ds, "1.2.840.10008.1.2.4.51", jpeg_quality=95)
    save_dataset(ds, tmp_path / "mr.dcm")
    assert np.abs(pixels.pixel_array(tmp_path / "mr.dcm") - expected).mean() < 4
    with pytest.raises(ValueError, match="12-bit"):
        pixels.compress(pydicom.dcmread(DICOM / "pydicom-data" / "emri_small.dcm"), "1.2.840.10008.1.2.4.50")


def test_frames_in_parallel_equal_frames_in_turn(cines):
    import pydicom

    source, _ = cines[True]
    one, many = pydicom.dcmread(source), pydicom.dcmread(source)
    pixels.compress(one, "1.2.840.10008.1.2.4.80", threads=1)
    pixels.compress(many, "1.2.840.10008.1.2.4.80", threads=4)
    assert one.PixelData == many.PixelData


def test_near_lossless_error_and_instance_uid(cines, tmp_path):
    import pydicom

    source, frames = cines[False]
    before = pydicom.dcmread(source).SOPInstanceUID
    ds, path, _ = _compressed(cines, tmp_path, False, "1.2.840.10008.1.2.4.81", jls_error=5)
    assert np.abs(pixels.pixel_array(path).astype(int) - frames).max() == 5
    assert ds.SOPInstanceUID != before and ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    kept = pydicom.dcmread(source)
    pixels.compress(kept, "1.2.840.10008.1.2.5", generate_instance_uid=False)
    assert kept.SOPInstanceUID == before


def test_compressed_source_is_recompressed_and_lossy_history_kept(cines, tmp_path):
    """A JPEG file to JPEG 2000: decoded first (RGB), the earlier lossy step stays on record."""
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom" / "examples_ybr_color.dcm")
    expected = pixels.pixel_array(ds, index=7)
    pixels.compress(ds, "1.2.840.10008.1.2.4.90")
    save_dataset(ds, tmp_path / "j2k.dcm")
    assert np.array_equal(pixels.pixel_array(tmp_path / "j2k.dcm", index=7), expected)
    assert ds.PhotometricInterpretation == "YBR_RCT" and ds.LossyImageCompression == "01"
    ds, _, _ = _compressed(cines, tmp_path, True, "1.2.840.10008.1.2.4.50")
    pixels.compress(ds, "1.2.840.10008.1.2.4.91")
    assert list(ds.LossyImageCompressionMethod) == ["ISO_10918_1", "ISO_15444_1"]
    assert len(ds.LossyImageCompressionRatio) == 2


def test_arr_argument_and_extended_offsets(cines):
    import pydicom

    source, frames = cines[False]
    ds = pydicom.dcmread(source)
    pixels.compress(ds, "1.2.840.10008.1.2.4.80", 255 - frames, encapsulate_ext=True)
    assert "ExtendedOffsetTable" in ds
    assert np.array_equal(pixels.pixel_array(ds), 255 - frames)
    with pytest.raises(ValueError, match="shape"):
        pixels.compress(pydicom.dcmread(source), "1.2.840.10008.1.2.4.80", frames[:2])


def test_unknown_syntax_and_pydicom_plugin(cines):
    import pydicom

    source, frames = cines[False]
    with pytest.raises(ValueError, match="cannot compress"):
        pixels.compress(pydicom.dcmread(source), "1.2.840.10008.1.2.4.57")
    ds = pydicom.dcmread(source)
    pixels.compress(ds, "1.2.840.10008.1.2.5", encoding_plugin="pydicom")      # pydicom's own encoder
    assert np.array_equal(pixels.pixel_array(ds), frames)


def test_decompress_in_place(cines, tmp_path):
    import pydicom

    ds, _, frames = _compressed(cines, tmp_path, True, "1.2.840.10008.1.2.4.90")
    pixels.decompress(ds)
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1" and ds.PhotometricInterpretation == "RGB"
    assert not ds["PixelData"].is_undefined_length and ds["PixelData"].VR == "OB"
    save_dataset(ds, tmp_path / "native.dcm")
    assert dciodvfy_errors(tmp_path / "native.dcm") == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(pydicom.dcmread(tmp_path / "native.dcm").pixel_array, frames)
    with pytest.raises(ValueError, match="not compressed"):
        pixels.decompress(ds)


def test_decompress_matches_pydicom_on_a_jpeg_cine():
    import pydicom

    path = DICOM / "pydicom" / "examples_ybr_color.dcm"                          # 30 frames of YBR_FULL_422 JPEG
    ours, theirs = pydicom.dcmread(path), pydicom.dcmread(path)
    pixels.decompress(ours)
    theirs.decompress()
    assert ours.PhotometricInterpretation == theirs.PhotometricInterpretation == "RGB"
    assert np.abs(ours.pixel_array.astype(int) - theirs.pixel_array).max() <= 6      # two JPEG decoders
    kept = pydicom.dcmread(path)
    pixels.decompress(kept, as_rgb=False)                                           # pydicom keeps YCbCr
    assert kept.PhotometricInterpretation.startswith("YBR")


def test_damaged_source_is_a_format_error(cines):
    import pydicom

    source, _ = cines[False]
    ds = pydicom.dcmread(source)
    ds.PixelData = ds.PixelData[:100]
    with pytest.raises(FormatError, match="pixel data holds"):
        pixels.compress(ds, "1.2.840.10008.1.2.4.80")


def test_spiff_header_is_removed():
    import imagecodecs

    frame = np.arange(64, dtype=np.uint8).reshape(8, 8)
    stream = bytes(imagecodecs.jpegls_encode(frame))
    stripped = _strip_spiff(stream)
    assert b"SPIFF" in stream[:40] and b"SPIFF" not in stripped and stripped[:4] == b"\xff\xd8\xff\xf7"
    assert np.array_equal(imagecodecs.jpegls_decode(stripped), frame)


@pytest.mark.parametrize("bits", [12, 16])
@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90",
                                    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.8.1"])
def test_signed_samples_round_trip(tmp_path, syntax, bits):
    """Signed data (CT-like, negative values): two's complement for the unsigned-only codecs."""
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm")
    low = -(1 << (bits - 1))
    frames = np.random.default_rng(bits).integers(low, -low, (3, 32, 40), dtype=np.int16)
    pixels.set_pixel_data(ds, frames, "MONOCHROME2", bits)
    pixels.compress(ds, syntax)
    save_dataset(ds, tmp_path / "ct.dcm")
    assert np.array_equal(pixels.pixel_array(tmp_path / "ct.dcm"), frames)
    if syntax in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90") and bits == 16:
        # (12 bits in JPEG-LS: GDCM, pydicom's first plugin here, does not sign-extend)
        assert np.array_equal(pydicom.dcmread(tmp_path / "ct.dcm").pixel_array, frames)


def test_signed_samples_refused_by_lossy_jpeg():
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm")
    with pytest.raises(ValueError, match="signed"):
        pixels.compress(ds, "1.2.840.10008.1.2.4.51")


def test_jpeg_xl_recompression_of_a_jpeg_file_is_lossless_transcoding(tmp_path):
    """JPEG frames -> JPEG XL 4.111 without decoding: each original JPEG rebuilds bit for bit."""
    import imagecodecs
    import pydicom
    from pydicom.encaps import generate_frames

    path = DICOM / "pydicom" / "examples_ybr_color.dcm"
    ds = pydicom.dcmread(path)
    jpegs = [bytes(f) for f in generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames))]
    before = pixels.pixel_array(ds)
    pixels.compress(ds, "1.2.840.10008.1.2.4.111")
    save_dataset(ds, tmp_path / "xl.dcm")
    back = pydicom.dcmread(tmp_path / "xl.dcm")
    xl = list(generate_frames(back.PixelData, number_of_frames=int(back.NumberOfFrames)))
    assert [bytes(imagecodecs.jpegxl_decode_jpeg(frame)) for frame in xl] == jpegs
    assert back.PhotometricInterpretation == "YBR_FULL_422" and sum(map(len, xl)) < sum(map(len, jpegs))
    assert np.abs(pixels.pixel_array(back).astype(int) - before).mean() < 1          # libjxl's IDCT vs libjpeg's
    source_errors = set(dciodvfy_errors(path))                    # the fixture's own (a private UT element)
    assert set(dciodvfy_any_syntax(tmp_path / "xl.dcm", tmp_path)) <= source_errors


def test_jpeg_2000_psnr_option_and_several_layers_go_to_pydicom(cines):
    import pydicom

    source, frames = cines[False]
    low, high = pydicom.dcmread(source), pydicom.dcmread(source)
    pixels.compress(low, "1.2.840.10008.1.2.4.91", j2k_psnr=[30])
    pixels.compress(high, "1.2.840.10008.1.2.4.91", j2k_psnr=[50])
    assert len(low.PixelData) < len(high.PixelData)
    layered = pydicom.dcmread(source)
    pixels.compress(layered, "1.2.840.10008.1.2.4.91", j2k_psnr=[30, 60])     # pydicom's encoder
    assert np.abs(pixels.pixel_array(layered).astype(int) - frames).mean() < 2
