"""Calibrated TIFF stacks for ImageJ/Fiji and napari: tifffile reads them back bit-exact with the
pixel size (pixels per mm) and the frame interval."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from sonobridge.cli import main
from sonobridge.core.geometry import PixelGrid
from sonobridge.core.recording import SampleKind
from sonobridge.errors import OutputExistsError
from sonobridge.formats import open_recording, writer_for
from sonobridge.formats.tiff.writer import export_tiff, stored_dtype

from support import CINE, DICOM, ZEA, synthetic_stream


def _calibration(path):
    """(x mm per pixel, y mm per pixel, ImageJ metadata) of a TIFF stack."""
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        x, y = (tags[name].value for name in ("XResolution", "YResolution"))
        return x[1] / x[0], y[1] / y[0], tif.imagej_metadata


def test_uint16_stack_reads_back_bit_exact_with_spacing_and_interval(tmp_path):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 65536, (5, 40, 30), dtype=np.uint16)
    grid = PixelGrid(x_m=np.arange(30) * 0.2e-3, z_m=np.arange(40) * 0.05e-3)
    stream = synthetic_stream(frames, SampleKind.IMAGE, geometry=grid)     # 25 Hz
    path = export_tiff(stream, tmp_path / "stack.tif")
    back = tifffile.imread(path)
    assert back.dtype == np.uint16 and np.array_equal(back, frames)
    dx_mm, dz_mm, meta = _calibration(path)
    assert dx_mm == pytest.approx(0.2, rel=1e-6) and dz_mm == pytest.approx(0.05, rel=1e-6)
    assert meta["unit"] == "mm" and meta["finterval"] == pytest.approx(1 / 25)
    assert meta["frames"] == 5 and len(meta["Labels"]) == 5
    with pytest.raises(OutputExistsError):
        export_tiff(stream, path)


def test_convert_dicom_cine_to_tiff(tmp_path, capsys):
    assert writer_for("x.tif").name == "tiff" and writer_for("x.TIFF").name == "tiff"
    out = tmp_path / "cine.tif"
    assert main(["convert", str(CINE), str(out), "-q"]) == 0
    stream = open_recording(CINE)["image"]
    back = tifffile.imread(out)
    assert back.shape == (30, 240, 320, 3) and np.array_equal(back, np.asarray(stream.frames))
    dx_mm, dz_mm, meta = _calibration(out)
    spacing = np.abs(np.diff(stream.geometry.x_m).mean()) * 1e3
    assert dx_mm == pytest.approx(spacing, rel=1e-6) and dz_mm == pytest.approx(spacing, rel=1e-6)
    assert meta["finterval"] == pytest.approx(np.diff(stream.timestamps_s).mean())


def test_convert_to_tiff_with_out_dir(tmp_path):
    assert main(["convert", str(ZEA / "tiny.hdf5"), "--to", "tiff", "--out-dir", str(tmp_path), "-q"]) == 0
    stream = open_recording(ZEA / "tiny.hdf5")["image"]
    back = tifffile.imread(tmp_path / "tiny.tif")
    assert back.dtype == np.float32 and np.array_equal(back, np.asarray(stream.frames))


def test_stored_dtype():
    assert stored_dtype(synthetic_stream(np.zeros((1, 2, 2), np.int16))) == np.float32
    with pytest.raises(Exception, match="uint8, uint16 or float32"):
        stored_dtype(synthetic_stream(np.zeros((1, 2, 2), np.float64)))


def test_spec_registers_a_write_only_format(tmp_path):
    from sonobridge.formats.tiff import spec

    (tiff,) = spec.SPECS
    assert tiff.claim is None and tiff.stage is None and not tiff.writes_folder
    stream = synthetic_stream(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    written = tiff.write(stream, tmp_path / "s.tif", overwrite=True, anonymise=False, progress=False)
    assert np.array_equal(tifffile.imread(written), np.asarray(stream.frames))


def test_colour_that_imagej_cannot_hold_is_one_line_not_a_traceback(tmp_path, capsys):
    """16-bit RGB (pydicom's SC_rgb_rle_16bit_2frame.dcm): ImageJ keeps colour only as 8-bit RGB."""
    source = DICOM / "pydicom" / "SC_rgb_rle_16bit_2frame.dcm"
    assert main(["convert", str(source), str(tmp_path / "x.tif")]) == 1
    error = capsys.readouterr().err
    assert "8-bit RGB" in error and "Traceback" not in error and not list(tmp_path.iterdir())
