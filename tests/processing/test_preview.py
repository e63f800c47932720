"""sonobridge.processing.preview returns arrays (writes no files); sonobridge.util.png writes them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sonobridge.core.frames import LazyFrames
from sonobridge.core.recording import SampleKind, Stream
from sonobridge.processing import preview, render
from sonobridge.util.png import save_png


def _stream(kind: SampleKind, values: np.ndarray) -> Stream:
    return Stream("s", kind, values.shape[1:], values.dtype,
                  LazyFrames(values.shape, values.dtype, lambda start, stop: values[start:stop]))


def test_preview_shows_lines_depth_down_and_detects_rf():
    envelope = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    image = preview.preview_frame(_stream(SampleKind.ENVELOPE, envelope), 1)
    assert image.shape == (4, 3) and np.array_equal(image, envelope[1].T)
    rf = np.random.default_rng(0).normal(0, 100, (1, 3, 64)).astype(np.int16)
    detected = preview.preview_frame(_stream(SampleKind.RF, rf))
    assert detected.shape == (64, 3) and detected.dtype == np.uint8 and detected.max() > 200


def test_save_png_is_atomic_and_records_the_pixel_size(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    save_png(grey, tmp_path / "grey.png")
    with Image.open(tmp_path / "grey.png") as png:
        assert np.array_equal(np.asarray(png), grey) and "dpi" not in png.info
    rgb = np.zeros((5, 6, 3), np.uint8)
    save_png(rgb, tmp_path / "rgb.png", pixel_size_m=0.2e-3)                  # 5000 pixels per metre
    with Image.open(tmp_path / "rgb.png") as png:
        assert png.mode == "RGB" and png.info["dpi"][0] == pytest.approx(127, abs=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", "rgb.png"]   # no temporary left


def test_processing_modules_write_no_files():
    """PNG writing lives in sonobridge.util.png: the processing modules only delegate to it."""
    import inspect

    for module in (preview, render):
        source = inspect.getsource(module)
        assert "atomic_path" not in source and "PNG" not in source.replace("as PNG", "")
    assert preview.save_png is save_png                                       # the name callers use


# ---------------------------------------------------------------- what a person recognises (issue 20)
@pytest.fixture(scope="module")
def doppler(clarius_data):
    from sonobridge.formats import open_recording

    folder = clarius_data / "carotid_doppler_2020"
    return open_recording(folder, probe="L7"), open_recording(folder)


def test_envelope_is_scan_converted_with_its_true_aspect(doppler):
    with_probe, without = doppler
    env = with_probe["env"]
    shown = preview.preview(env)
    assert shown.how == "scan-converted" and shown.image.ndim == 2
    rows, columns = shown.image.shape
    info = env.geometry.describe(env.frame_shape[1])
    width_m = np.ptp(info["lateral_range_m"]) + env.geometry.probe.pitch_m
    depth_m = info["depth_range_m"][1] - info["depth_range_m"][0]
    assert columns / rows == pytest.approx(width_m / depth_m, rel=0.03)
    assert shown.pixel_size_m * columns == pytest.approx(width_m, rel=0.03)
    # before: lines x samples as stored (304 columns of 592 rows, 1.9x too tall for a 38 x 30 mm field)
    plain = preview.preview(without["env"])
    assert plain.how == "depth-down" and plain.image.shape == env.frame_shape[::-1]


def test_colour_iq_becomes_magnitude_of_distinct_lines(doppler):
    with_probe, without = doppler
    iq = without["iq"]                                     # 1248 firings = 104 lines x 12 repeats
    plain = preview.preview(iq)
    assert plain.image.shape == (352, 104)                 # one column per line, not per firing
    shown = preview.preview(with_probe["iq"])
    assert shown.how == "scan-converted" and shown.image.ndim == 2
    from sonobridge.core.ensemble import ensemble_geometry
    from sonobridge.processing.scan_convert import ScanConverter

    grid = ScanConverter.build(ensemble_geometry(with_probe["iq"]), 352).grid
    assert shown.image.shape == grid.mask.shape
    extent_x, extent_z = np.ptp(grid.x_m), np.ptp(grid.z_m)
    assert shown.image.shape[1] / shown.image.shape[0] == pytest.approx(extent_x / extent_z, rel=0.02)


def test_iq_preview_is_magnitude_not_raw_samples():
    n_lines, n_samples = 6, 200
    phase = np.linspace(0, 40 * np.pi, n_samples)               # fast carrier along depth
    amplitude = np.where(np.arange(n_samples) < 100, 1000.0, 100.0)
    iq = np.stack([amplitude * np.cos(phase), amplitude * np.sin(phase)], axis=-1)
    frames = np.repeat(iq[None, None], n_lines, axis=1).astype(np.int16)
    image = preview.preview_frame(_stream(SampleKind.IQ, frames))
    assert image.shape == (n_samples, n_lines) and image.ndim == 2
    # magnitude: flat within each half (20 dB apart over 60 dB: 255 and 170), no carrier stripes
    assert np.ptp(image[5:95]) <= 2 and np.ptp(image[105:195]) <= 2
    assert int(image[50, 0]) - int(image[150, 0]) == pytest.approx(20 * 255 / 60, abs=2)


def test_transmits_are_never_colour_channels():
    from support import ZEA

    from sonobridge.formats import open_recording

    raw = open_recording(ZEA / "tiny.hdf5")["raw_data"]          # (3 transmits, 64 samples, 8 elements)
    image = preview.preview_frame(raw)
    assert image.shape == (64, 8) and image.dtype == np.uint8
    colour = open_recording(ZEA / "multitrack.hdf5")["planewave/raw_data"]   # I/Q channel data
    assert preview.preview_frame(colour).shape == (32, 8)


def test_dicom_colour_image_previews_as_stored():
    from support import CINE

    from sonobridge.formats import open_recording

    stream = open_recording(CINE)["image"]
    shown = preview.preview(stream, 2)
    assert shown.how == "as stored" and np.array_equal(shown.image, np.asarray(stream.frames[2]))
    assert shown.pixel_size_m == pytest.approx(abs(np.diff(stream.geometry.x_m).mean()))


def test_cli_preview_writes_calibrated_scan_converted_pngs(clarius_data, tmp_path):
    from sonobridge.cli import main
    from sonobridge.util.png import pixels_per_metre

    folder = clarius_data / "carotid_doppler_2020"
    assert main(["preview", str(folder), "--probe", "L7", "--out-dir", str(tmp_path), "-q"]) == 0
    env = next(tmp_path.glob("*_env.png"))
    assert pixels_per_metre(env) is not None
    with Image.open(env) as png:
        assert png.mode == "L" and png.size[0] > png.size[1]        # 38 mm wide, 30 mm deep
