"""Image folders: ours against zea's ``convert_image_dataset`` on a small generated tree."""
from __future__ import annotations

import numpy as np
from PIL import Image

from sonobridge.formats.zea.datasets import convert_dataset
from sonobridge.formats.zea.datasets.images import plan


def make_images(root):
    """PNG greyscale frames of two clips, an RGB JPEG and a non-image file in a nested tree."""
    rng = np.random.default_rng(3)
    (root / "a" / "b").mkdir(parents=True)
    for clip in ("p1", "p2"):
        for index in (0, 1, 2, 10):
            Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8)).save(root / "a" / f"{clip}_{index}.png")
    Image.fromarray(rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(root / "a" / "b" / "colour.jpg")
    Image.fromarray(rng.integers(0, 256, (16, 20), dtype=np.uint8)).save(root / "top.PNG")
    (root / "a" / "notes.txt").write_text("not an image")
    return root


def test_same_files_as_zea_one_image_per_file(tmp_path, run_zea, compare_with_zea):
    source = make_images(tmp_path / "src")
    run_zea(f"""
        from zea.data.convert.images import convert_image_dataset
        convert_image_dataset({str(source)!r}, {str(tmp_path / 'zea')!r})
        """)
    results = convert_dataset("images", source, tmp_path / "ours", workers=2)
    assert all(r.ok for r in results) and len(results) == 10
    compare_with_zea(tmp_path / "ours", tmp_path / "zea")


def test_grouped_frames_sorted_numerically_as_zea(tmp_path, run_zea, compare_with_zea):
    source = make_images(tmp_path / "src")
    group, rank = r"(p\d+)_\d+\.png", r"p\d+_(\d+)\.png"
    (source / "a" / "b" / "colour.jpg").unlink()
    (source / "top.PNG").unlink()
    (source / "c").mkdir()      # zea groups only consecutive names of os.walk's (unsorted) listing:
    for path in source.glob("a/p2_*.png"):  # two clips in one folder can make it write a clip twice
        path.rename(source / "c" / path.name)
    run_zea(f"""
        import re
        from zea.data.convert.images import convert_image_dataset
        convert_image_dataset({str(source)!r}, {str(tmp_path / 'zea')!r}, dataset_name="clips",
                              group_pattern=re.compile({group!r}), sort_pattern=re.compile({rank!r}))
        """)
    options = {"group_pattern": group, "sort_pattern": rank, "dataset_name": "clips"}
    results = convert_dataset("images", source, tmp_path / "ours", workers=1, options=options)
    assert [r.output.name for r in results] == ["p1.hdf5", "p2.hdf5"]
    assert compare_with_zea(tmp_path / "ours", tmp_path / "zea") == ["a/p1.hdf5", "c/p2.hdf5"]
    jobs = plan(source, tmp_path / "x", options)
    assert [p.name for p in jobs[0].sources] == ["p1_0.png", "p1_1.png", "p1_2.png", "p1_10.png"]


def test_images_of_different_sizes_fail_naming_the_image(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(source / "c_0.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(source / "c_1.png")
    [result] = convert_dataset("images", source, tmp_path / "out", workers=1,
                               options={"group_pattern": r"(c)_\d+\.png"})
    assert result.failed and "c_1.png" in result.outcome.reason
    assert not (tmp_path / "out" / "c.hdf5").exists()
