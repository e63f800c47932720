"""CAMUS: ours against zea's ``convert_camus`` (SimpleITK) on generated NIfTI half-sequences in the
dataset's layout (``database_nifti/patientNNNN/...``, Info_<view>.cfg, MANDATORY_CITATION.md)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sonobridge.formats.zea.datasets import convert_dataset
from sonobridge.formats.zea.datasets.camus import load_nifti

nibabel = pytest.importorskip("nibabel")
pytest.importorskip("SimpleITK")       # zea's converter reads NIfTI with it


def sector_frames(n_frames: int, height: int, width: int, rng) -> np.ndarray:
    """uint8 frames ``(n, h, w)``: noise inside a sector from the top centre, 0 outside."""
    rows, cols = np.mgrid[0:height, 0:width]
    inside = (np.abs(np.arctan2(cols - width / 2, rows + 1e-9)) < 0.6) & (np.hypot(cols - width / 2, rows) < height - 2)
    return (rng.integers(20, 256, (n_frames, height, width)) * inside).astype(np.uint8)


def write_nifti(path: Path, frames: np.ndarray, spacing=(0.31, 0.154, 1.0)) -> None:
    """C-order ``(n, h, w)`` as NIfTI voxels ``(w, h, n)`` (CAMUS's order), spacing in mm."""
    image = nibabel.Nifti1Image(np.ascontiguousarray(frames.transpose(2, 1, 0)), np.diag([*spacing, 1.0]))
    image.header.set_zooms(spacing)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, str(path))


def camus_source(root: Path, patients=(1, 401, 451), n_frames: int = 4, height: int = 40, width: int = 30) -> Path:
    rng = np.random.default_rng(11)
    base = root / "database_nifti"
    for number in patients:
        folder = base / f"patient{number:04d}"
        folder.mkdir(parents=True)
        for view in ("2CH", "4CH"):
            frames = sector_frames(n_frames, height, width, rng)
            write_nifti(folder / f"patient{number:04d}_{view}_half_sequence.nii.gz", frames)
            labels = rng.integers(0, 4, frames.shape).astype(np.uint8)
            write_nifti(folder / f"patient{number:04d}_{view}_half_sequence_gt.nii.gz", labels)
            (folder / f"Info_{view}.cfg").write_text(
                f"ED: 1\nNbFrame: {n_frames}\nES: {n_frames - 1}\nSex: F\nAge: {50 + number % 30}\n"
                f"ImageQuality: Good\nEF: 55\nFrameRate: 30\n")
        (folder / "MANDATORY_CITATION.md").write_text("cite CAMUS\n")
    return root


def test_same_files_and_arrays_as_zea(tmp_path, run_zea, compare_with_zea):
    source = camus_source(tmp_path / "raw")
    run_zea(f"""
        from types import SimpleNamespace
        from zea.data.convert.camus import convert_camus
        convert_camus(SimpleNamespace(src={str(source)!r}, dst={str(tmp_path / 'zea')!r}, download=False,
                                      no_hyperthreading=True, upload=False, reduced_dataset=False))
        """, timeout=600)
    results = convert_dataset("camus", source, tmp_path / "ours", workers=2)
    assert all(r.ok for r in results) and len(results) == 6
    names = compare_with_zea(tmp_path / "ours", tmp_path / "zea")
    assert "val/patient0401/patient0401_4CH_half_sequence.hdf5" in names
    assert (tmp_path / "ours" / "MANDATORY_CITATION.md").read_text() == "cite CAMUS\n"
    assert "zea_repo_id: zeahub/camus" in (tmp_path / "ours" / "README.md").read_text()


def test_missing_cfg_fails_naming_it(tmp_path):
    source = camus_source(tmp_path / "raw", patients=(2,))
    (source / "database_nifti" / "patient0002" / "Info_4CH.cfg").unlink()
    results = convert_dataset("camus", source, tmp_path / "ours", workers=1)
    assert [r.ok for r in results] == [True, False]
    assert "Info_4CH.cfg" in results[1].outcome.reason


def test_nifti_read_in_simpleitk_order(tmp_path):
    frames = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_nifti(tmp_path / "a.nii.gz", frames, spacing=(0.5, 0.25, 1.0))
    array, spacing = load_nifti(tmp_path / "a.nii.gz")
    assert array.dtype == np.uint8 and np.array_equal(array, frames)
    assert spacing == (0.5, 0.25, 1.0)
