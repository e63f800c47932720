"""render shows any image stream with its calibration: DICOM cines and zea images included; the
PNG carries its pixel size (pHYs, pixels per metre) so ImageJ/Fiji calibrate it; flow gets a legend."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image

from sonobridge.cli import main
from sonobridge.formats import open_recording
from sonobridge.processing.render import Legend, display_streams, render
from sonobridge.util.png import pixels_per_metre

from support import CINE, ZEA


def test_dicom_cine_renders_with_its_region_calibration(tmp_path):
    recording = open_recording(CINE)
    stream, colour = display_streams(recording)
    assert stream is not None and colour is None
    rendering = render(stream, 3)
    region = pydicom.dcmread(CINE, stop_before_pixels=True).SequenceOfUltrasoundRegions[0]
    delta_m = abs(float(region.PhysicalDeltaX)) * 1e-2                         # cm in DICOM
    assert rendering.pixel_size_m == pytest.approx(delta_m)
    assert rendering.image.shape == (240, 320, 3)                              # square pixels: as stored
    assert np.array_equal(rendering.image[:100, :200], np.asarray(stream.frames[3])[:100, :200])
    assert rendering.info["time_s"] == pytest.approx(stream.timestamps_s[3])
    path = tmp_path / "cine.png"
    rendering.save(path)
    assert pixels_per_metre(path) == (round(1 / delta_m),) * 2
    annotated = np.asarray(Image.open(path))
    assert annotated.shape[0] > 240 and annotated.shape[1] > 320               # depth axis and title around


def test_zea_image_is_resampled_to_square_pixels_and_calibrated(tmp_path):
    recording = open_recording(ZEA / "tiny.hdf5")
    stream, _ = display_streams(recording)
    assert stream.name == "image"
    grid = stream.geometry
    dx, dz = (abs(float(np.diff(axis).mean())) for axis in (grid.x_m, grid.z_m))
    rendering = render(stream, 1)
    assert rendering.pixel_size_m == pytest.approx(min(dx, dz))
    height, width = rendering.image.shape[:2]
    # the same physical extent, now in square pixels: the true aspect ratio
    assert width / height == pytest.approx((grid.x_m.size * dx) / (grid.z_m.size * dz), rel=0.05)
    out = tmp_path / "zea.png"
    assert main(["render", str(ZEA / "tiny.hdf5"), "--frame", "1", "--out", str(out), "-q"]) == 0
    assert pixels_per_metre(out) == (round(1 / min(dx, dz)),) * 2


def test_uncalibrated_image_has_no_phys(tmp_path):
    out = tmp_path / "plain.png"
    assert main(["render", str(ZEA / "img_lzf.hdf5"), "--out", str(out), "-q"]) == 0
    assert out.exists() and pixels_per_metre(out) is None


def test_cli_renders_a_dicom_cine(tmp_path, capsys):
    assert main(["render", str(CINE), "--frame", "2", "--out-dir", str(tmp_path)]) == 0
    assert "mm/px" in capsys.readouterr().out
    assert pixels_per_metre(tmp_path / "examples_ybr_color_frame2.png") is not None


def test_flow_render_has_a_velocity_legend(clarius_data, tmp_path):
    recording = open_recording(clarius_data / "carotid_doppler_2020", probe="L7")
    stream, colour = display_streams(recording)
    rendering = render(stream, 0, colour=colour)
    assert rendering.legend == Legend(None)                                    # no PRF in the yml
    assert rendering.info["legend"]["labels"] == ["+Nyquist", "-Nyquist"]
    picture = rendering.annotated()
    width = rendering.image.shape[1]
    band = picture[:, -(picture.shape[1] - width) // 2:].astype(int)           # right of the image
    red = (band[..., 0] > 150) & (band[..., 2] < 60)
    blue = (band[..., 2] > 150) & (band[..., 0] < 60)
    assert red.sum() > 100 and blue.sum() > 100
    plain = render(stream, 0).annotated()
    assert plain.shape[1] < picture.shape[1]                                   # no legend without flow


def test_legend_in_velocity_when_the_prf_is_known():
    assert Legend(0.385).labels() == ("+38.5 cm/s", "-38.5 cm/s")
