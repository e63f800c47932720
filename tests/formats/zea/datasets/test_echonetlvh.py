"""EchoNet-LVH: ours against zea's ``convert_echonetlvh`` (JAX polar resampling) on generated
cines in the dataset's layout (``Batch1..4/<hash>.avi``, ``MeasurementsList.csv``)."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from sonobridge.formats.zea.datasets import convert_dataset
from sonobridge.formats.zea.datasets.echonetlvh import cone_parameters, crop_centred

av = pytest.importorskip("av")


def write_avi(path: Path, frames: np.ndarray) -> None:
    """test_echonet's AVI writer (MPEG-4 part 2, as both EchoNet releases)."""
    spec = importlib.util.spec_from_file_location("echonet_tests", Path(__file__).with_name("test_echonet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_avi(path, frames)


def cone_frames(n_frames: int, height: int, width: int, apex: tuple[float, float], half_angle: float,
                radius: float, rng) -> np.ndarray:
    """uint8 frames: speckle inside a scan cone (apex (x, y) px, half-angle rad, radius px), 0 outside."""
    rows, cols = np.mgrid[0:height, 0:width]
    dx, dy = cols - apex[0], rows - apex[1]
    inside = (dy > 0) & (np.abs(np.arctan2(dx, dy)) < half_angle) & (np.hypot(dx, dy) < radius)
    return (rng.integers(40, 256, (n_frames, height, width)) * inside).astype(np.uint8)


def lvh_source(root: Path, n_frames: int = 4) -> tuple[Path, Path]:
    """Batch1..4 with three cines (one apex above the frame, one off-centre) and the CSV; returns
    (source, rejection list naming the third video)."""
    rng = np.random.default_rng(2)
    videos = {"0XAAA1": ("Batch1", (80, 6), 0.6, 100), "0XBBB2": ("Batch2", (70, -8), 0.55, 110),
              "0XCCC3": ("Batch3", (90, 4), 0.65, 96)}
    for name, (batch, apex, angle, radius) in videos.items():
        write_avi(root / batch / f"{name}.avi", cone_frames(n_frames, 120, 160, apex, angle, radius, rng))
    (root / "Batch4").mkdir(parents=True)
    lines = ["HashedFileName,Calc,CalcValue,Frame,X1,X2,Y1,Y2,Frames,FPS,Width,Height,split"]
    for index, (name, split) in enumerate(zip(videos, ("train", "val", "test"))):
        for calc in ("IVSd", "LVPWd"):
            lines.append(f"{name},{calc},1.{index},0,{60 + index}.5,{90 + index},{30 + index},{50 + index}.25,"
                         f"{n_frames},50,160,120,{split}")
    (root / "MeasurementsList.csv").write_text("\n".join(lines) + "\n")
    rejections = root.parent / "rejections.txt"
    rejections.write_text("0XCCC3\n")
    return root, rejections


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_same_files_and_arrays_as_zea(tmp_path, run_zea, compare_with_zea):
    source, rejections = lvh_source(tmp_path / "raw")
    (tmp_path / "zea").mkdir()
    run_zea(f"""
        from pathlib import Path
        from zea.data.convert.echonetlvh import convert_echonetlvh
        convert_echonetlvh(Path({str(source)!r}), Path({str(tmp_path / 'zea')!r}), False, Path({str(rejections)!r}),
                           False, False, None, False, 2)
        """, timeout=900)
    results = convert_dataset("echonetlvh", source, tmp_path / "ours", workers=2,
                              options={"rejection_path": str(rejections)})
    assert all(r.ok for r in results), [r.outcome for r in results]
    # zea's polar grid comes from JAX float32 sin/cos: a sample on a rounding boundary may differ by 1
    names = compare_with_zea(tmp_path / "ours", tmp_path / "zea",
                             tolerance={"tracks/track_0/data/image_polar/values": 1})
    assert names == ["rejected/0XCCC3.hdf5", "train/0XAAA1.hdf5", "val/0XBBB2.hdf5"]
    assert _rows(tmp_path / "ours" / "MeasurementsList.csv") == _rows(tmp_path / "zea" / "MeasurementsList.csv")
    ours_cones = {r["avi_filename"]: r for r in _rows(tmp_path / "ours" / "cone_parameters.csv")}
    assert ours_cones == {r["avi_filename"]: r for r in _rows(tmp_path / "zea" / "cone_parameters.csv")}
    assert json.loads((tmp_path / "ours" / "cone_parameters.json").read_text()) == \
        json.loads((tmp_path / "zea" / "cone_parameters.json").read_text())


def test_crop_pads_an_apex_above_the_frame():
    rng = np.random.default_rng(0)
    frames = cone_frames(1, 120, 160, (70, -8), 0.55, 110, rng)
    cone = cone_parameters(frames[0], Path("x.avi"))
    assert cone["apex_y"] < 0 and cone["crop_top"] < 0
    image = crop_centred(frames, cone)
    assert image.shape[1] == cone["crop_bottom"] - cone["crop_top"]
    assert not image[0, :int(-cone["crop_top"])].any()


def test_no_cone_fails_naming_the_video(tmp_path):
    source, rejections = lvh_source(tmp_path / "raw")
    write_avi(source / "Batch1" / "0XAAA1.avi", np.zeros((3, 120, 160), np.uint8))
    results = convert_dataset("echonetlvh", source, tmp_path / "ours", workers=1,
                              options={"rejection_path": str(rejections)})
    assert [r.ok for r in results] == [False, True, True]
    assert "0XAAA1.avi" in results[0].outcome.reason and "cone" in results[0].outcome.reason
