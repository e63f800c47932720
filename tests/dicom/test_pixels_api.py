"""sonobridge.dicom.pixels as pydcm.pixels / pydicom.pixels: every name of the reference's Pixels section
with pydicom's signature (compress: the reference's); pixel_array on datasets, paths and file-likes
against pydicom; 1-bit packing; decode_uncompressed; the LUT, windowing and colour helpers on
hand-computed cases and real fixtures; set_pixel_data."""
from __future__ import annotations

import inspect
import io
import warnings

import numpy as np
import pytest

from sonobridge.dicom import pixels
from sonobridge.errors import FormatError

from support import DICOM, PALETTE

NAMES = ["unpack_bits", "pack_bits", "decode_uncompressed", "apply_rescale", "apply_modality_lut", "apply_voi_lut",
         "apply_voi", "apply_windowing", "convert_color_space", "apply_color_lut", "apply_presentation_lut",
         "as_pixel_options", "pixel_array", "set_pixel_data", "compress", "decompress"]
MULTI_FRAME = ["pydicom-data/emri_small_RLE.dcm",
               "pydicom-data/emri_small_jpeg_2k_lossless.dcm", "pydicom-data/emri_small_big_endian.dcm",
               "pydicom-data/SC_rgb_2frame.dcm", "pydicom-data/OBXXXX1A_rle_2frame.dcm",
               "pydicom/examples_ybr_color.dcm"]
SINGLE_FRAME = ["pydicom/CT_small.dcm", "pydicom-data/US1_J2KR.dcm", "pydicom/MR_small_jpeg_ls_lossless.dcm",
                "pydicom-data/SC_ybr_full_uncompressed.dcm", "pydicom-data/OBXXXX1A.dcm"]


def _params(function) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_every_reference_name_with_pydicoms_signature():
    import pydicom.pixels

    for name in NAMES:
        ours = getattr(pixels, name)
        assert callable(ours) and ours.__doc__, name
        if name == "compress":           # the reference documents it without pydicom's JPEG options
            assert str(inspect.signature(ours)) == ("(ds, transfer_syntax_uid, arr=None, *, encoding_plugin='', "
                                                    "encapsulate_ext=False, generate_instance_uid=True, **kwargs)")
        elif name == "unpack_bits":     # pydicom's (src, as_array); src may also be a dataset (pydcm)
            assert [p[0] for p in _params(ours)] == ["src", "as_array"]
        elif name != "decode_uncompressed":
            assert _params(ours) == _params(getattr(pydicom.pixels, name)), name
    assert [p[0] for p in _params(pixels.decode_uncompressed)] == ["ds"]


def _pydicom_pixels(path):
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path).pixel_array


@pytest.mark.parametrize("name", MULTI_FRAME + SINGLE_FRAME)
def test_pixel_array_matches_pydicom_from_path_dataset_and_file(name):
    import pydicom

    path = DICOM / name
    expected = _pydicom_pixels(path)
    lossy = 6 if "jpeg_baseline" in name or "ybr_color" in name else 0            # two JPEG decoders
    with open(path, "rb") as handle:
        sources = [path, str(path), pydicom.dcmread(path), handle, io.BytesIO(path.read_bytes())]
        for source in sources:
            ours = pixels.pixel_array(source)
            assert ours.shape == expected.shape, source
            assert np.abs(ours.astype(np.int64) - expected).max() <= lossy


def test_pixel_array_index_ds_out_and_pydicom_options():
    import pydicom

    path = DICOM / "pydicom-data" / "emri_small_RLE.dcm"
    everything = pixels.pixel_array(path)
    assert np.array_equal(pixels.pixel_array(path, index=3), everything[3])
    out = pydicom.Dataset()
    pixels.pixel_array(path, ds_out=out, specific_tags=[0x00100010])
    assert out.Rows == 64 and out.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5" and "PatientName" in out
    with pytest.raises(IndexError):
        pixels.pixel_array(path, index=10)
    cine = DICOM / "pydicom-data" / "color3d_jpeg_baseline.dcm"
    raw = pixels.pixel_array(cine, index=0, raw=True)                            # pydicom's path: YCbCr kept
    assert np.abs(pixels.convert_color_space(raw, "YBR_FULL", "RGB").astype(int)
                  - pixels.pixel_array(cine, index=0)).max() <= 6


def test_pixel_array_damaged_and_not_dicom(tmp_path):
    from sonobridge.errors import UnsupportedInputError

    (tmp_path / "x.dcm").write_bytes(b"not dicom at all" * 20)
    with pytest.raises(UnsupportedInputError):
        pixels.pixel_array(tmp_path / "x.dcm")
    with pytest.raises(UnsupportedInputError, match="int"):
        pixels.pixel_array(42)


def _one_bit_dataset(bits: np.ndarray):
    import pydicom

    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.NumberOfFrames, ds.Rows, ds.Columns = bits.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.PixelData = pixels.pack_bits(bits)
    return ds


def test_pack_and_unpack_bits():
    bits = np.random.default_rng(1).integers(0, 2, (3, 5, 7), np.uint8)         # 105 bits: not a byte multiple
    packed = pixels.pack_bits(bits)
    assert len(packed) == 14 and pixels.pack_bits(bits, pad=False) == packed[:14]
    assert packed[0] == int("".join(map(str, bits.ravel()[:8][::-1])), 2)        # little bit order
    assert np.array_equal(pixels.unpack_bits(packed)[:105], bits.ravel())
    assert pixels.unpack_bits(packed, as_array=False)[:105] == bits.ravel().tobytes()
    ds = _one_bit_dataset(bits)
    assert np.array_equal(pixels.unpack_bits(ds), bits)                          # [frames, rows, cols]
    assert np.array_equal(pixels.pixel_array(ds), bits)
    with pytest.raises(ValueError):
        pixels.pack_bits(np.array([0, 2]))
    with pytest.raises(FormatError, match="Bits Allocated"):
        import pydicom

        pixels.unpack_bits(pydicom.dcmread(DICOM / "pydicom" / "MR_small.dcm"))


@pytest.mark.parametrize("name", ["pydicom/MR_small.dcm", "pydicom-data/SC_rgb_2frame.dcm",
                                  "pydicom-data/SC_ybr_full_uncompressed.dcm", "pydicom/CT_small.dcm",
                                  "pydicom-data/emri_small.dcm", "pydicom/SC_ybr_full_422_uncompressed.dcm"])
def test_decode_uncompressed_gives_stored_values(name):
    import pydicom
    from pydicom.pixels import pixel_array

    ds = pydicom.dcmread(DICOM / name)
    ours = pixels.decode_uncompressed(ds)
    expected = pixel_array(ds, raw=True)                                      # stored values, YCbCr kept
    assert ours.shape == (int(ds.get("NumberOfFrames", 1) or 1), *expected.shape[-ours.ndim + 1:])
    assert np.array_equal(ours.reshape(expected.shape), expected) and ours.dtype == expected.dtype


def test_decode_uncompressed_refuses_compressed_and_big_endian():
    import pydicom

    for name in ("pydicom-data/emri_small_RLE.dcm", "pydicom-data/emri_small_big_endian.dcm"):
        with pytest.raises(FormatError, match="pixel_array"):
            pixels.decode_uncompressed(pydicom.dcmread(DICOM / name))


def test_rescale_and_modality_lut_give_hounsfield_units():
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm")                 # slope 1, intercept -1024
    stored = pixels.pixel_array(ds)
    assert np.array_equal(pixels.apply_rescale(stored, ds), stored.astype(float) - 1024)
    assert np.array_equal(pixels.apply_modality_lut(stored, ds), stored.astype(float) - 1024)


def test_windowing_by_hand():
    """LINEAR (PS3.3 C.11.2.1.2.1): centre 50, width 101 over 8 bits; SIGMOID at the centre is half."""
    import pydicom

    ds = pydicom.Dataset()
    ds.BitsStored, ds.PixelRepresentation, ds.PhotometricInterpretation = 8, 0, "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth = 50, 101
    arr = np.array([0, 50, 100, 200], np.uint8)
    out = pixels.apply_windowing(arr, ds)
    by_hand = np.clip(((arr - 49.5) / 100 + 0.5) * 255, 0, 255)
    assert np.allclose(out, by_hand)
    assert np.allclose(pixels.apply_voi_lut(arr, ds), by_hand)
    ds.VOILUTFunction = "SIGMOID"
    assert np.isclose(pixels.apply_windowing(np.array([50]), ds)[0], 127.5)
    assert pixels.apply_voi(arr, ds) is arr                                      # no VOI LUT Sequence


def test_voi_lut_sequence_and_presentation_lut():
    import pydicom
    from pydicom.sequence import Sequence

    ds = pydicom.Dataset()
    ds.BitsStored, ds.PixelRepresentation, ds.PhotometricInterpretation = 8, 0, "MONOCHROME2"
    item = pydicom.Dataset()
    item.LUTDescriptor, item.LUTData = [4, 10, 8], [0, 10, 20, 255]              # first mapped value 10
    ds.VOILUTSequence = Sequence([item])
    arr = np.array([0, 10, 11, 13, 99], np.uint8)
    assert list(pixels.apply_voi(arr, ds)) == [0, 0, 10, 255, 255]
    assert list(pixels.apply_voi_lut(arr, ds)) == [0, 0, 10, 255, 255]
    ds.PresentationLUTShape = "INVERSE"
    assert list(pixels.apply_presentation_lut(np.array([0, 10, 255], np.uint8), ds)) == [255, 245, 0]


def test_colour_conversion_round_trip_and_palette():
    import pydicom

    rgb = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3), np.uint8)
    ybr = pixels.convert_color_space(rgb, "RGB", "YBR_FULL")
    assert np.abs(pixels.convert_color_space(ybr, "YBR_FULL", "RGB", per_frame=True).astype(int) - rgb).max() <= 2
    grey = np.full((1, 1, 3), 100, np.uint8)
    assert list(pixels.convert_color_space(grey, "RGB", "YBR_FULL")[0, 0]) == [100, 128, 128]
    ds = pydicom.dcmread(PALETTE)
    indices = pixels.pixel_array(ds)
    coloured = pixels.apply_color_lut(indices, ds)
    assert coloured.shape == (*indices.shape, 3)
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, "<u2")
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    assert coloured[300, 400, 0] == red[int(indices[300, 400]) - first]


def test_as_pixel_options_and_set_pixel_data(tmp_path):
    import pydicom

    ds = pydicom.dcmread(DICOM / "pydicom-data" / "emri_small.dcm")
    options = pixels.as_pixel_options(ds, extra=1)
    assert (options["rows"], options["number_of_frames"], options["bits_stored"], options["extra"]) == (64, 10, 12, 1)
    frames = np.random.default_rng(3).integers(0, 256, (3, 20, 30, 3), np.uint8)
    before = ds.SOPInstanceUID
    pixels.set_pixel_data(ds, frames, "RGB", 8)
    assert (ds.NumberOfFrames, ds.Rows, ds.Columns, ds.SamplesPerPixel) == (3, 20, 30, 3)
    assert ds.SOPInstanceUID != before and np.array_equal(pixels.pixel_array(ds), frames)
    pixels.set_pixel_data(ds, frames[0, ..., 0], "MONOCHROME2", 8, generate_instance_uid=False)
    assert "NumberOfFrames" not in ds and np.array_equal(pixels.pixel_array(ds), frames[0, ..., 0])
