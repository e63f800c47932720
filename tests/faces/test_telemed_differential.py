"""sonobridge.telemed against the real ``telemed`` package (PyPI 0.1.0) on the same generated
sidecars: Log fields, frames in every crop mode and panel, the inner-image crop (with its
fallback warning) and the per-panel ``export_video`` mp4s, decoded and compared frame by frame."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

import sonobridge.telemed as ours
from sonobridge.formats.telemed.sidecar import Roi, Sidecar, write_sidecar

theirs = pytest.importorskip("telemed")
av = pytest.importorskip("av")


@dataclass(frozen=True)
class Case:
    """A generated recording: display ``height`` x ``width``, panels ``(x1, x2, y1, y2)``
    (1-based inclusive), UI grey ``gray``, image level ``level`` (0: flat frames)."""

    height: int
    width: int
    panels: tuple[tuple[int, int, int, int], ...]
    gray: int
    level: float
    n: int = 8
    flipped: bool = False
    legacy: object = None            # schema label of a pre-v1 single-panel sidecar, else None
    ticks: int = 255


CASES = {
    "single_dark_odd": Case(121, 187, ((11, 160, 5, 117),), gray=0, level=50, n=7),
    "single_grey_margins": Case(130, 200, ((21, 190, 9, 124),), gray=40, level=70, n=18),
    "dual_bright": Case(120, 260, ((3, 128, 3, 118), (133, 258, 3, 118)), gray=90, level=150, n=6),
    "dual_dark_flipped": Case(111, 241, ((2, 120, 4, 109), (122, 240, 4, 109)), gray=0, level=45, flipped=True),
    "legacy_v1a3": Case(125, 171, ((5, 166, 3, 122),), gray=20, level=60, legacy="v1a3"),
    "legacy_int": Case(101, 131, ((3, 130, 1, 101),), gray=0, level=55, legacy=2, ticks=180),
    "flat": Case(90, 120, ((5, 110, 5, 85),), gray=40, level=0, n=5),
}


def display_frames(case: Case, seed: int) -> np.ndarray:
    """EchoWave-like frames: UI grey, per panel a depth ruler with digit ticks, an inner speckle
    image with a depth fall-off, a right margin and a bright bottom tick row."""
    rng = np.random.default_rng(seed)
    frames = np.full((case.n, case.height, case.width), case.gray, np.uint8)
    if not case.level:
        return frames
    for x1, x2, y1, y2 in case.panels:
        view = frames[:, y1 - 1:y2, x1 - 1:x2]
        height, width = view.shape[1:]
        ruler, margin, tick_rows = width // 5, width // 12, 3 + seed % 3
        view[:, 1::9, 2:ruler - 4] = 230                                   # ruler digits
        rows = height - tick_rows
        depth = np.linspace(1.0, 0.6, rows)[None, :, None]
        speckle = rng.rayleigh(case.level, (case.n, rows, width - ruler - margin)) * depth + 10
        view[:, :rows, ruler:width - margin] = np.clip(speckle, 1, 255).astype(np.uint8)
        view[:, rows:, ruler::2] = case.ticks                              # bottom tick row
    return frames


def roi(img_id: int, box: tuple[int, int, int, int]) -> Roi:
    x1, x2, y1, y2 = box
    return Roi(img_id, x1, x2, y1, y2, x2 - x1 + 1, y2 - y1 + 1, 0.015 + 0.001 * img_id, 0.015 + 0.001 * img_id)


def write_case(path: Path, case: Case, seed: int) -> Path:
    frames = display_frames(case, seed)
    time_ms = np.cumsum(np.r_[0.0, np.random.default_rng(seed).uniform(31, 35, case.n - 1)])
    if case.legacy is None:
        sidecar = Sidecar(time_ms=time_ms, rois={n + 1: roi(n + 1, box) for n, box in enumerate(case.panels)},
                          full_frame_width=case.width, full_frame_height=case.height, frames=frames,
                          params={"b_depth": 40.0, "b_gain": 60, "b_is_scan_direction_changed": case.flipped},
                          source_tvd_path=str(path.with_suffix("")), extracted_at_iso="2026-05-01T10:00:00")
        return write_sidecar(sidecar, path)
    (x1, x2, y1, y2), = case.panels
    with h5py.File(path, "w") as handle:
        handle["frames/gray"] = frames
        handle["timing/time_ms"], handle["timing/ifi_ms"] = time_ms, np.diff(time_ms, prepend=0.0)
        handle.attrs.update({"n_frames": case.n, "full_frame_width": case.width, "full_frame_height": case.height,
                             "roi_x1": x1, "roi_x2": x2, "roi_y1": y1, "roi_y2": y2, "roi_width": x2 - x1 + 1,
                             "roi_height": y2 - y1 + 1, "physical_dx_cm_per_px": 0.015,
                             "physical_dy_cm_per_px": 0.015, "source_tvd_path": "old.tvd",
                             "extracted_at_iso": "2024-01-01T00:00:00", "schema_version": case.legacy,
                             "param_b_depth": 50.0})
    return path


@pytest.fixture(scope="module")
def sidecars(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("differential")
    return {name: write_case(folder / f"{name}.tvd.h5", case, seed) for seed, (name, case) in enumerate(CASES.items())}


def both(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return theirs.Log(path), ours.Log(path)


def image_slice_and_warning(log, panel: int):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box = log.image_slice(panel)
    return box, any("inner" in str(w.message) for w in caught)


LOG_FIELDS = ("name", "n_frames", "full_frame_width", "full_frame_height", "source_tvd_path", "extracted_at_iso",
              "schema_version", "n_b_images", "duration_s", "mean_fps", "has_frames", "physical_dx_cm_per_px",
              "physical_dy_cm_per_px", "image_dx_cm_per_px", "image_dy_cm_per_px")


@pytest.mark.parametrize("name", CASES)
def test_log_fields_match(sidecars, name):
    reference, log = both(sidecars[name])
    for field in LOG_FIELDS:
        assert getattr(log, field) == pytest.approx(getattr(reference, field)), field
    np.testing.assert_array_equal(log.time_ms, reference.time_ms)
    np.testing.assert_array_equal(log.ifi_ms, reference.ifi_ms)
    assert {n: tuple(vars(r).values()) for n, r in log.b_mode_rois.items()} == {
        n: tuple(vars(r).values()) for n, r in reference.b_mode_rois.items()}
    assert repr(log) == f"sonobridge.{repr(reference)}"


@pytest.mark.parametrize("name", CASES)
def test_inner_image_crop_and_frames_match(sidecars, name):
    reference, log = both(sidecars[name])
    for panel in reference.b_mode_rois:
        assert image_slice_and_warning(log, panel) == image_slice_and_warning(reference, panel), panel
        for index in (0, reference.n_frames - 1):
            for crop in (False, True, "image", "panel"):
                np.testing.assert_array_equal(log.frame(index, crop=crop, panel=panel),
                                              reference.frame(index, crop=crop, panel=panel), f"{panel} {crop}")


def test_flat_frames_fall_back_to_the_panel_with_a_warning(sidecars):
    reference, log = both(sidecars["flat"])
    box, warned = image_slice_and_warning(log, 1)
    assert warned and box == reference.b_mode_roi.as_slice()


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


@pytest.mark.parametrize("crop, names", [
    ("image", ("single_dark_odd", "single_grey_margins", "dual_bright", "dual_dark_flipped", "legacy_v1a3",
               "legacy_int", "flat")),
    ("panel", ("single_dark_odd", "dual_dark_flipped"))])
def test_videos_are_bit_equal_per_panel(sidecars, tmp_path, crop, names):
    sources = [sidecars[name] for name in names]
    options = {"crop": crop, "progress": False, "build_toc": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.export_video(sources, out_dir=tmp_path / "theirs", **options)
        got = ours.export_video(sources, out_dir=tmp_path / "ours", **options)
    assert sorted(Path(p).name for p in got) == sorted(Path(p).name for p in expected)
    assert set(got.values()) == set(expected.values()) == {"built"}
    for path in expected:
        want, have = decoded(Path(path)), decoded(tmp_path / "ours" / Path(path).name)
        assert len(have) == len(want) > 0, path
        for a, b in zip(have, want):
            np.testing.assert_array_equal(a, b, path)


def random_case(seed: int) -> Case:
    """A random geometry and look: odd and even sizes, one or two panels, dark to bright."""
    rng = np.random.default_rng(100 + seed)
    height, panel_width, panels = int(rng.integers(70, 140)), int(rng.integers(60, 150)), int(rng.integers(1, 3))
    boxes = tuple((1 + k * panel_width, (k + 1) * panel_width, 1 + int(rng.integers(0, 5)), height)
                  for k in range(panels))
    return Case(height, panels * panel_width + int(rng.integers(0, 7)), boxes, gray=int(rng.choice([0, 15, 50, 110])),
                level=float(rng.uniform(25, 160)), n=int(rng.integers(3, 20)), ticks=int(rng.integers(90, 256)))


@pytest.mark.parametrize("seed", range(10))
def test_random_panels_crop_as_telemed(tmp_path, seed):
    path = write_case(tmp_path / f"random{seed}.tvd.h5", random_case(seed), seed)
    reference, log = both(path)
    for panel in reference.b_mode_rois:
        assert image_slice_and_warning(log, panel) == image_slice_and_warning(reference, panel), panel
        np.testing.assert_array_equal(log.frame(reference.n_frames - 1, crop=True, panel=panel),
                                      reference.frame(reference.n_frames - 1, crop=True, panel=panel))


def test_view_returns_a_figure_as_telemed(sidecars):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    reference, log = both(sidecars["dual_bright"])
    figures = reference.view(frame_idx_0n=1), log.view(frame_idx_0n=1)
    try:
        assert all(isinstance(figure, Figure) for figure in figures)
        shown = [figure.axes[0].images[0].get_array() for figure in figures]
        np.testing.assert_array_equal(shown[1], shown[0])
    finally:
        for figure in figures:
            plt.close(figure)
