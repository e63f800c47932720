"""The DICOM toolkit (sonobridge.dicom) as a package: pydcm-shaped names, light to import, independent
of the core model; its region encode/decode mirror each other; UIDs; frame encoding round trips; the
format adapter (sonobridge.formats.dicom) maps PixelGrid <-> region through the toolkit."""
from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest

import sonobridge.dicom as toolkit
from sonobridge.dicom import io, pixels, torchdata, uid, ultrasound, volume

TOOLKIT_MODULES = (io, pixels, torchdata, uid, ultrasound, volume)


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_loads_neither_numpy_pydicom_nor_the_model():
    loaded = _modules_after("import sonobridge.dicom")
    assert not {"numpy", "pydicom", "sonobridge.core", "sonobridge.formats"} & loaded


def test_toolkit_runs_without_the_core_model_or_formats():
    """Using every toolkit module imports nothing of sonobridge.core or sonobridge.formats."""
    loaded = _modules_after("import sonobridge.dicom as d\n"
                            "[getattr(d, name) for name in d.__all__]\n"
                            "import sonobridge.dicom.io, sonobridge.dicom.pixels, sonobridge.dicom.torchdata, "
                            "sonobridge.dicom.uid, sonobridge.dicom.ultrasound, sonobridge.dicom.volume")
    assert not {m for m in loaded if m.startswith(("sonobridge.core", "sonobridge.formats"))}


def test_pydcm_style_names_resolve_lazily():
    for name in ("decode", "load_series", "Volume", "DICOMDataset", "UltrasoundRegion", "us_regions",
                 "frame_times_s", "generate_uid", "read_dataset", "save_dataset", "is_dicom", "encode_frames"):
        assert name in toolkit.__all__ and callable(getattr(toolkit, name))
    assert toolkit.decode is pixels.decode and toolkit.load_series is volume.load_series
    assert toolkit.pixels is pixels and "volume" in dir(toolkit)        # pydcm.X lives at sonobridge.dicom.X


def test_recording_level_read_and_write_point_to_the_format_adapter():
    with pytest.raises(AttributeError, match="formats.dicom.export_dicom"):
        toolkit.write  # noqa: B018
    with pytest.raises(AttributeError, match="formats.dicom.read_dicom"):
        toolkit.read  # noqa: B018
    from sonobridge.formats.dicom import export_dicom, read_dicom
    from sonobridge.formats.dicom.reader import read_dicom as reader_read
    from sonobridge.formats.dicom.writer import export_dicom as writer_export

    assert (read_dicom, export_dicom) == (reader_read, writer_export)


@pytest.mark.parametrize("module", TOOLKIT_MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_physical_unit_codes_two_is_db_six_is_db_per_second():
    assert ultrasound.PHYSICAL_UNITS[2][0] == "dB" and ultrasound.PHYSICAL_UNITS[6][0] == "dB/s"
    assert "2 = dB" in ultrasound.__doc__ and "6 = dB/s" in ultrasound.__doc__ and "6 = dB," not in ultrasound.__doc__


@pytest.mark.parametrize("dx", [1e-4, -1.5e-4])          # a negative delta: x decreases left to right
def test_region_encode_and_decode_mirror_each_other(dx):
    from pydicom.dataset import Dataset

    rows, columns = 5, 7
    x_m = 0.003 + np.arange(columns) * dx
    z_m = 0.002 + np.arange(rows) * 2e-4
    ds = Dataset()
    ds.SequenceOfUltrasoundRegions = [ultrasound.region_dataset(x_m, z_m, rows, columns)]
    region = ultrasound.tissue_region(ds)
    assert region is not None and region.is_tissue_2d and region.delta_x == pytest.approx(dx)
    x, z, mask = region.axes(rows, columns)
    assert x.shape == (columns,) and z.shape == (rows,) and mask.shape == (rows, columns) and mask.all()
    np.testing.assert_allclose(x, x_m, atol=1e-12)
    np.testing.assert_allclose(z, z_m, atol=1e-12)


def test_adapter_maps_pixel_grid_to_region_and_back():
    from pydicom.dataset import Dataset

    from sonobridge.core.geometry import PixelGrid
    from sonobridge.formats.dicom.geometry import grid_from_region, region_for_grid

    grid = PixelGrid(x_m=-0.01 + np.arange(8) * 2.5e-4, z_m=0.001 + np.arange(6) * 2.5e-4)
    ds = Dataset()
    ds.SequenceOfUltrasoundRegions = [region_for_grid(grid, 6, 8)]
    back = grid_from_region(ultrasound.tissue_region(ds), 6, 8)
    np.testing.assert_allclose(back.x_m, grid.x_m, atol=1e-12)
    np.testing.assert_allclose(back.z_m, grid.z_m, atol=1e-12)
    assert back.mask.shape == (6, 8) and back.mask.all()


def test_generate_uid_prefix_and_determinism():
    a = uid.generate_uid(uid.IMPLEMENTATION_UID_PREFIX, entropy_srcs=["study", "1"])
    assert a == uid.generate_uid(uid.IMPLEMENTATION_UID_PREFIX, entropy_srcs=["study", "1"])
    assert a != uid.generate_uid(uid.IMPLEMENTATION_UID_PREFIX, entropy_srcs=["study", "2"])
    assert a.startswith(uid.IMPLEMENTATION_UID_PREFIX) and len(a) <= 64
    assert uid.generate_uid(entropy_srcs=["x"]) == uid.generate_uid(entropy_srcs=["x"])     # 2.25 too
    assert uid.generate_uid(entropy_srcs=["x"]).startswith("2.25.")
    assert uid.generate_uid() != uid.generate_uid() and len(uid.generate_uid()) <= 64


@pytest.mark.parametrize("compression", ["none", "rle", "jpeg-ls", "jpeg-xl"])
@pytest.mark.parametrize("samples", [1, 3])
def test_encoded_frames_saved_and_decoded_are_identical(tmp_path, compression, samples):
    """encode_frames + save_dataset (JPEG XL through the stand-in syntax) + decode: lossless."""
    from pydicom.dataset import Dataset, FileMetaDataset

    rng = np.random.default_rng(samples)
    frames = rng.integers(0, 256, (3, 16, 24) + ((3,) if samples == 3 else ()), dtype=np.uint8)
    data, photometric = pixels.encode_frames(frames, compression)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pixels.TRANSFER_SYNTAX[compression]
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid.generate_uid(uid.IMPLEMENTATION_UID_PREFIX)
    ds.Rows, ds.Columns, ds.NumberOfFrames, ds.SamplesPerPixel = 16, 24, 3, samples
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PhotometricInterpretation = photometric
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.PixelData = data
    ds["PixelData"].VR = "OB"
    if compression != "none":
        ds["PixelData"].is_undefined_length = True
    path = tmp_path / "f.dcm"
    io.save_dataset(ds, path)
    assert io.is_dicom(path)
    assert str(io.read_dataset(path, stop_before_pixels=True).file_meta.TransferSyntaxUID) == \
        pixels.TRANSFER_SYNTAX[compression]
    np.testing.assert_array_equal(pixels.decode(path), frames)


def test_unknown_compression_is_refused():
    with pytest.raises(ValueError, match="compression must be one of"):
        pixels.encode_frames(np.zeros((1, 2, 2), np.uint8), "jpeg-2000")


def test_scan_finds_suffixless_dicom_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "IM0001").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 8)
    (tmp_path / "a.DCM").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("no")
    assert [p.name for p in torchdata.scan(tmp_path)] == ["a.DCM", "IM0001"]
    assert len(toolkit.DICOMDataset(tmp_path)) == 2


@pytest.mark.parametrize("source_format, manufacturer", [("clarius-raw", "Clarius"), ("dicom", ""),
                                                         ("no-such-format", "")])
def test_writer_takes_the_manufacturer_from_the_source_format_spec(tmp_path, source_format, manufacturer):
    """The DICOM writer names no vendor: Manufacturer is the source format's FormatSpec.manufacturer."""
    from sonobridge.core.geometry import PixelGrid
    from sonobridge.core.recording import Provenance, SampleKind, Stream
    from sonobridge.formats.dicom import export_dicom

    frames = np.arange(2 * 4 * 6, dtype=np.uint8).reshape(2, 4, 6)
    stream = Stream(name="image", kind=SampleKind.IMAGE, frame_shape=(4, 6), dtype=np.dtype(np.uint8),
                    frames=frames, geometry=PixelGrid(x_m=np.arange(6) * 1e-4, z_m=np.arange(4) * 1e-4),
                    provenance=Provenance(("x",), source_format))
    path = export_dicom(stream, tmp_path / "out.dcm")
    ds = io.read_dataset(path)
    assert ds.Manufacturer == manufacturer
    np.testing.assert_array_equal(pixels.decode(path), frames)
