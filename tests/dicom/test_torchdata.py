"""sonobridge.dicom.torchdata (pydcm.torchdata): ``scan`` finds DICOM files by extension or magic (or
by a glob), ``DICOMDataset`` decodes one file per sample (single-frame -> [rows, cols], multi-frame ->
[frames, rows, cols]), rescales to HU, applies a transform, and needs no torch unless asked."""
from __future__ import annotations

import doctest
import inspect
import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pytest

from sonobridge.dicom import torchdata
from sonobridge.errors import UnsupportedInputError
from sonobridge.dicom.torchdata import DICOMDataset, scan

from support import CINE, DICOM

CT = DICOM / "pydicom" / "CT_small.dcm"                  # RescaleIntercept -1024
TWO_FRAMES = DICOM / "pydicom-data" / "OBXXXX1A_2frame.dcm"
MR = DICOM / "pydicom" / "MR_small.dcm"


@pytest.fixture()
def study(tmp_path):
    (tmp_path / "series" / "deep").mkdir(parents=True)
    shutil.copy(CT, tmp_path / "series" / "ct.dcm")
    shutil.copy(TWO_FRAMES, tmp_path / "series" / "deep" / "us.DICOM")
    shutil.copy(MR, tmp_path / "IM0001")                       # an extension-less clinical export
    (tmp_path / "notes.txt").write_text("not DICOM")
    (tmp_path / "empty.dcm.bak").write_bytes(b"")
    return tmp_path


def test_signatures():
    assert str(inspect.signature(scan)).startswith("(root: 'str | os.PathLike', pattern: 'str | None' = None)")
    parameters = inspect.signature(DICOMDataset).parameters
    assert list(parameters)[:5] == ["root", "pattern", "rescale", "to_torch", "transform"]
    assert all(parameters[name].default is False for name in ("rescale", "to_torch"))


def test_docstring_examples_run():
    assert doctest.testmod(torchdata).failed == 0


def test_scan_by_extension_or_magic_or_glob(study):
    assert [p.relative_to(study).as_posix() for p in scan(study)] == ["IM0001", "series/ct.dcm", "series/deep/us.DICOM"]
    assert [p.name for p in scan(study, "*.dcm")] == ["ct.dcm"]   # by name only: the export is not matched
    assert [p.name for p in scan(study, "IM*")] == ["IM0001"]
    assert scan(study / "IM0001") == [study / "IM0001"]
    assert scan(study / "notes.txt") == [] and scan(study / "notes.txt", "*.txt") == [study / "notes.txt"]
    with pytest.raises(UnsupportedInputError, match="no such file or folder"):
        DICOMDataset(study / "typo")


def test_samples_are_one_file_each_with_frames_only_for_multi_frame(study):
    dataset = DICOMDataset(study)
    assert len(dataset) == 3 and "3 files" in repr(dataset)
    mr, ct, us = dataset[0], dataset[1], dataset[2]
    np.testing.assert_array_equal(mr, pydicom.dcmread(MR).pixel_array)
    np.testing.assert_array_equal(ct, pydicom.dcmread(CT).pixel_array)
    assert ct.shape == (128, 128) and ct.dtype == np.int16
    assert us.shape == (2, 600, 800)
    np.testing.assert_array_equal(us, pydicom.dcmread(TWO_FRAMES).pixel_array)
    with pytest.raises(IndexError):
        dataset[3]


def test_rescale_gives_hounsfield_units(study):
    hu = DICOMDataset(study, pattern="*.dcm", rescale=True)[0]
    ds = pydicom.dcmread(CT)
    assert hu.dtype == np.float32
    np.testing.assert_allclose(hu, ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    assert hu.min() < 0


def test_transform_shapes_the_sample_and_meta_is_optional(study):
    dataset = DICOMDataset(study, pattern="*.dcm", transform=lambda a: (a[None].astype(np.float32), a.shape))
    image, shape = dataset[0]
    assert image.shape == (1, 128, 128) and shape == (128, 128)
    sample, meta = DICOMDataset(CINE, with_meta=True)[0]
    assert sample.shape == (30, 240, 320, 3) and meta["path"] == str(CINE)


def test_torch_stays_unimported(study):
    script = (f"import sys\nfrom sonobridge.dicom.torchdata import DICOMDataset\n"
              f"d = DICOMDataset({str(study)!r}, rescale=True)\n[d[i] for i in range(len(d))]\n"
              f"print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_to_torch_with_a_dataloader(study):
    torch = pytest.importorskip("torch")
    dataset = DICOMDataset(study, pattern="*.dcm", to_torch=True)
    assert isinstance(dataset[0], torch.Tensor)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=1)))
    assert tuple(batch.shape) == (1, 128, 128)
