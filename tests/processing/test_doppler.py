"""Colour flow on the real 2020 capture: the ensemble layout is established from the data, and the
flow, its sign and the colour box land where the Clarius App draws them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sonobridge.cli import main
from sonobridge.core.geometry import PixelGrid
from sonobridge.formats import open_recording
from sonobridge.formats.clarius.colour import colour_ensembles, colour_geometry
from sonobridge.processing.doppler import autocorrelation, scan_convert_flow, wall_filter
from sonobridge.processing.render import display_streams, render
from sonobridge.processing.scan_convert import ScanConverter

from support import SCREENSHOT_PX_PER_MM, SCREENSHOT_ROWS, SCREENSHOT_TOP_ROW


@pytest.fixture(scope="module")
def capture(clarius_data):
    folder = clarius_data / "carotid_doppler_2020"
    recording = open_recording(folder, probe="L7")
    shot = np.asarray(Image.open(folder / "carotid_app_screenshot.jpeg")).astype(int)
    return recording, shot


def lag1_coherence(ensembles: np.ndarray) -> float:
    flow = autocorrelation(ensembles, axial_window=1)
    strong = flow.r0 >= np.percentile(flow.r0, 95)
    return float(np.median(flow.coherence[strong]))


def test_ensemble_layout_is_line_sample_ensemble(capture):
    recording, _ = capture
    iq = recording["iq"]
    assert iq.geometry.repeats() == 12 and iq.frame_shape == (1248, 352, 2)
    ensembles = colour_ensembles(iq, 0)
    assert ensembles.shape == (104, 352, 12)
    # the layout's evidence: slow-time coherence of the strongest Doppler pixels
    ours = lag1_coherence(ensembles)
    as_rows = iq.to_complex(0).reshape(104, 12, 352).transpose(0, 2, 1)   # rows read as ensembles
    assert ours > 0.9 and lag1_coherence(as_rows) < 0.5
    geometry = colour_geometry(iq)
    assert geometry.n_lines == 104 and np.all(np.diff(geometry.element_positions) == 1)
    assert np.allclose(np.degrees(geometry.steering_angles_rad), 15)


def test_wall_filter_removes_polynomial_clutter():
    t = np.linspace(-1, 1, 12)
    clutter = (5 + 2j) + 3 * t + 1j * t ** 2
    tone = np.exp(1j * np.pi * 0.4 * np.arange(12))
    filtered = wall_filter((clutter + tone)[None].astype(np.complex64), order=2)
    assert np.abs(wall_filter(clutter[None].astype(np.complex64))).max() < 1e-5
    flow = autocorrelation(filtered[None], wall_filter_order=0, axial_window=1)
    assert flow.phase[0, 0] == pytest.approx(0.4, abs=0.05)
    assert flow.velocity_m_s(prf_hz=5000, centre_frequency_hz=5e6)[0, 0] == pytest.approx(
        0.4 * 1540 * 5000 / (4 * 5e6), rel=0.15)
    with pytest.raises(ValueError):
        wall_filter(np.zeros((1, 3), np.complex64), order=2)


def test_flow_and_box_agree_with_the_clarius_app(capture):
    recording, shot = capture
    iq = recording["iq"]
    columns = np.arange(shot.shape[1])
    grid = PixelGrid(x_m=(columns + 0.5 - shot.shape[1] / 2) / SCREENSHOT_PX_PER_MM * 1e-3,
                     z_m=(np.arange(SCREENSHOT_ROWS) + 0.5) / SCREENSHOT_PX_PER_MM * 1e-3)
    converter = ScanConverter.build(colour_geometry(iq), 352, grid=grid)
    flow = scan_convert_flow(autocorrelation(colour_ensembles(iq, 0)), converter)
    ours = flow.flow_mask() & converter.grid.mask
    area = shot[SCREENSHOT_TOP_ROW:SCREENSHOT_TOP_ROW + SCREENSHOT_ROWS]
    red, green, blue = area[..., 0], area[..., 1], area[..., 2]
    app_red = (red > green + 50) & (red > blue + 50)
    app_red[:, :60] = False                                  # the colour bar legend
    dice = 2 * np.sum(ours & app_red) / (ours.sum() + app_red.sum())
    assert dice > 0.8, dice   # measured 0.93
    # flow shown red by the App is positive phase (towards the probe) here
    assert np.median(flow.phase[ours]) > 0.2
    # the box: 15 degree parallelogram; its top edge row 251 and bottom row 498 in the App, left
    # edge from column 106 (top) to 172 (bottom)
    rows = np.flatnonzero(converter.grid.mask.any(axis=1)) + SCREENSHOT_TOP_ROW
    assert abs(rows[0] - 251) <= 2 and abs(rows[-1] - 498) <= 2
    top, bottom = converter.grid.mask[rows[0] - SCREENSHOT_TOP_ROW], converter.grid.mask[rows[-1] - SCREENSHOT_TOP_ROW]
    assert abs(top.argmax() - 106) <= 3 and abs(bottom.argmax() - 172) <= 3


def test_render_overlays_colour_and_scale_bar(capture, tmp_path):
    recording, _ = capture
    stream, colour = display_streams(recording)
    assert stream.name == "env" and colour.name == "iq"
    rendering = render(stream, 0, colour=colour, pixel_size_m=0.1e-3)
    assert rendering.image.shape == (rendering.grid.z_m.size, rendering.grid.x_m.size, 3)
    assert rendering.info["colour"]["flow_pixels"] > 1000
    assert rendering.info["colour"]["median_phase_nyquist"] > 0.2
    assert rendering.info["scale_bar_mm"] == 5 and rendering.info["pixel_size_m"] == pytest.approx(1e-4)
    plain = render(stream, 0)
    assert np.all(plain.image[..., 0] == plain.image[..., 2])    # grey only without colour
    with pytest.raises(IndexError):
        render(stream, 1)


def test_cli_render(clarius_data, tmp_path, capsys):
    out = tmp_path / "frame.png"
    folder = str(clarius_data / "carotid_doppler_2020")
    assert main(["render", folder, "--probe", "L7", "--out", str(out), "--json", "-q"]) == 0
    image = np.asarray(Image.open(out))
    assert image.ndim == 3 and image.shape[2] == 3
    assert "scale_bar_mm" in capsys.readouterr().out
    # no probe: one clear line, exit 1, nothing written
    missing = tmp_path / "none.png"
    assert main(["render", folder, "--out", str(missing)]) == 1
    assert "give the probe" in capsys.readouterr().err and not missing.exists()
    assert main(["render", folder, "--probe", "L7", "--frame", "3", "--out", str(missing)]) == 1
    assert "out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["render", folder, "--pixel-size-mm", "-1"])
    assert usage.value.code == 2
