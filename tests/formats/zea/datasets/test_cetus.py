"""CETUS: ours against zea's ``convert_cetus`` (SimpleITK) on generated NIfTI volumes in the
dataset's layout (``patientNN/patientNN_{ED,ES}[_gt].nii.gz``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sonobridge.formats.zea.datasets import convert_dataset
from sonobridge.formats.zea.datasets.cetus import background_level

nibabel = pytest.importorskip("nibabel")
pytest.importorskip("SimpleITK")       # zea's converter reads NIfTI with it


def write_volume(path: Path, volume: np.ndarray, spacing=(0.7, 0.6, 0.5)) -> None:
    """C-order ``(D, H, W)`` as NIfTI voxels ``(W, H, D)``, spacing in mm."""
    image = nibabel.Nifti1Image(np.ascontiguousarray(volume.transpose(2, 1, 0)), np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, str(path))


def cetus_source(root: Path, patients=(1, 31, 39), shape=(10, 12, 14)) -> Path:
    rng = np.random.default_rng(5)
    for number in patients:
        folder = root / f"patient{number:02d}"
        folder.mkdir(parents=True)
        for phase in ("ED", "ES"):
            volume = np.full(shape, 13, np.uint8)
            volume[2:8, 3:9, 3:11] = rng.integers(0, 256, (6, 6, 8), dtype=np.uint8)
            write_volume(folder / f"patient{number:02d}_{phase}.nii.gz", volume)
            if number != 39:        # one patient without masks
                mask = np.zeros(shape, np.uint8)
                mask[4:6, 4:7, 5:9] = 255
                write_volume(folder / f"patient{number:02d}_{phase}_gt.nii.gz", mask)
    return root


def test_same_files_and_arrays_as_zea(tmp_path, run_zea, compare_with_zea):
    source = cetus_source(tmp_path / "raw")
    run_zea(f"""
        from types import SimpleNamespace
        from zea.data.convert.cetus import convert_cetus
        convert_cetus(SimpleNamespace(src={str(source)!r}, dst={str(tmp_path / 'zea')!r}, download=False,
                                      no_hyperthreading=True, upload=False))
        """, timeout=600)
    results = convert_dataset("cetus", source, tmp_path / "ours", workers=2)
    assert all(r.ok for r in results) and len(results) == 6
    names = compare_with_zea(tmp_path / "ours", tmp_path / "zea")
    assert names[0] == "test/patient39/patient39_ED.hdf5"
    assert "zea_repo_id: zeahub/cetus-miccai-2014" in (tmp_path / "ours" / "README.md").read_text()


def test_background_level_is_the_most_frequent_grey_level():
    volume = np.full((4, 4, 4), 8, np.uint8)
    volume[0, 0, :3] = 200
    assert background_level(volume) == 8


def test_truncated_volume_fails_naming_it(tmp_path):
    source = cetus_source(tmp_path / "raw", patients=(2,))
    broken = source / "patient02" / "patient02_ES.nii.gz"
    broken.write_bytes(broken.read_bytes()[:60])
    results = convert_dataset("cetus", source, tmp_path / "ours", workers=1)
    assert [r.ok for r in results] == [True, False]
    assert "patient02_ES.nii.gz" in results[1].outcome.reason
    assert not results[1].output.exists()
