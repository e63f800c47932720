"""``sonobridge seg SOURCE MASK --out seg.dcm``: a mask array, a NIfTI or a per-frame label video
aligned with a recording becomes a SEG on the DICOM sonobridge wrote for it; bad masks exit 1 with
one line and leave no output."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402

from sonobridge import cli  # noqa: E402
from sonobridge.dicom import seg  # noqa: E402
from sonobridge.formats.dicom import export_dicom  # noqa: E402
from sonobridge.formats.video.writer import export_video  # noqa: E402
from support import dciodvfy_errors, image_stream, moving_frames  # noqa: E402

FRAMES, ROWS, COLUMNS = 6, 40, 56


@pytest.fixture(scope="module")
def recording_dicom(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("segcli") / "recording.dcm"
    export_dicom(image_stream(moving_frames(FRAMES, ROWS, COLUMNS)), path)
    return path


def labels() -> np.ndarray:
    mask = np.zeros((FRAMES, ROWS, COLUMNS), np.uint8)
    mask[:, 4:20, 6:30] = 1
    mask[1:, 24:36, 32:50] = 2
    return mask


def test_npy_mask_with_names(recording_dicom, tmp_path, capsys):
    mask, out = tmp_path / "mask.npy", tmp_path / "seg.dcm"
    np.save(mask, labels())
    assert cli.main(["seg", str(recording_dicom), str(mask), "--out", str(out), "--label", "liver",
                     "--label", "vessel"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert dciodvfy_errors(out) == []
    labelmap, meta = seg.read_seg(out)
    assert np.array_equal(labelmap, labels()) and [s["label"] for s in meta["segments"]] == ["liver", "vessel"]
    source = pydicom.dcmread(recording_dicom, stop_before_pixels=True)
    theirs = hd.seg.segread(out).get_pixels_by_source_frame(source.SOPInstanceUID, list(range(1, FRAMES + 1)),
                                                            combine_segments=True)
    assert np.array_equal(theirs, labels())
    assert cli.main(["seg", str(recording_dicom), str(mask), "--out", str(out)]) == 1     # exists
    assert "exists" in capsys.readouterr().err


def test_nifti_mask(recording_dicom, tmp_path):
    nibabel = pytest.importorskip("nibabel")
    mask, out = tmp_path / "mask.nii.gz", tmp_path / "seg.dcm"
    nibabel.save(nibabel.Nifti1Image(np.transpose(labels(), (2, 1, 0)), np.eye(4)), mask)
    assert cli.main(["seg", str(recording_dicom), str(mask), "--out", str(out)]) == 0
    assert np.array_equal(seg.read_seg(out)[0], labels())


def test_label_video(recording_dicom, tmp_path):
    pytest.importorskip("av")
    (video,) = export_video(image_stream(labels() * 100, name="labels"), tmp_path, stem="labels", progress=False)
    out = tmp_path / "seg.dcm"
    assert cli.main(["seg", str(recording_dicom), video, "--out", str(out), "--label", "a", "--label", "b"]) == 0
    labelmap, _ = seg.read_seg(out)
    assert np.array_equal(labelmap, labels())                  # grey 100 / 200 -> segments 1 / 2, lossless


@pytest.mark.parametrize("mask, message", [
    (labels()[:, :, :-2], "does not match the source"),
    (labels()[:-1], "does not match the source"),
    (np.zeros((FRAMES, ROWS, COLUMNS), np.uint8), "empty"),
    (labels().astype(np.float32) / 2, "integer"),
], ids=["shape", "frames", "empty", "float"])
def test_bad_mask_exits_1_and_writes_nothing(recording_dicom, tmp_path, capsys, mask, message):
    path, out = tmp_path / "mask.npy", tmp_path / "out" / "seg.dcm"
    np.save(path, mask)
    assert cli.main(["seg", str(recording_dicom), str(path), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error and "Traceback" not in error
    assert not out.exists() and not list(out.parent.glob(".*partial"))


def test_names_must_match_the_label_values(recording_dicom, tmp_path, capsys):
    path = tmp_path / "mask.npy"
    np.save(path, labels())
    assert cli.main(["seg", str(recording_dicom), str(path), "--out", str(tmp_path / "s.dcm"), "--label", "x"]) == 1
    assert "1 label name(s) for 2 label value(s)" in capsys.readouterr().err
