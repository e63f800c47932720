"""DICOM Segmentation on ultrasound (sonobridge.dicom.seg): highdicom refuses the US multi-frame
sources sonobridge writes; ours are valid (dciodvfy), read back by highdicom and by read_seg with
the same content, mask -> SEG -> mask bit-exact, and bad input fails before anything is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402

from sonobridge.core.geometry import PixelGrid  # noqa: E402
from sonobridge.dicom import seg  # noqa: E402
from sonobridge.errors import FormatError  # noqa: E402
from sonobridge.formats.dicom import export_dicom  # noqa: E402
from support import CINE, dciodvfy_errors, moving_frames, synthetic_stream  # noqa: E402

FRAMES, ROWS, COLUMNS = 5, 40, 56
SEGMENTS = [{"label": "plaque", "labelID": 1, "rgb": (255, 0, 0), "type": "plaque"},
            {"label": "lumen", "labelID": 2, "category": ("91723000", "SCT", "Anatomical Structure"),
             "type": ("59820001", "SCT", "Blood vessel"), "algorithm_name": "unet"}]


@pytest.fixture(scope="module")
def us_cine(tmp_path_factory) -> Path:
    """A calibrated US Multi-frame Image written by sonobridge's DICOM exporter."""
    path = tmp_path_factory.mktemp("seg") / "cine.dcm"
    grid = PixelGrid(x_m=np.arange(COLUMNS) * 2e-4 - 5e-3, z_m=1e-3 + np.arange(ROWS) * 2e-4)
    export_dicom(synthetic_stream(moving_frames(FRAMES, ROWS, COLUMNS), geometry=grid), path)
    return path


def labelmap() -> np.ndarray:
    labels = np.zeros((FRAMES, ROWS, COLUMNS), np.uint8)
    for frame in range(FRAMES):
        labels[frame, 5 + frame:15 + frame, 4:20] = 1
        labels[frame, 25:35, 30 + frame:50] = 2
    labels[2] = 0                                   # a frame with no label at all
    return labels


def test_highdicom_refuses_the_us_source_ours_writes_a_valid_seg(us_cine, tmp_path):
    source = pydicom.dcmread(us_cine)
    assert source.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1" and "FrameOfReferenceUID" not in source
    description = hd.seg.SegmentDescription(1, "plaque", hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
                                            hd.sr.CodedConcept("1522000", "SCT", "Plaque"), "MANUAL")
    with pytest.raises(ValueError, match="Frame of Reference"):
        hd.seg.Segmentation([source], (labelmap() == 1).astype(np.uint8), "BINARY", [description], hd.UID(), 1,
                            hd.UID(), 1, "m", "m", "1", "1")

    out = tmp_path / "seg.dcm"
    assert seg.write_seg(us_cine, labelmap(), SEGMENTS, output=out) is None
    assert dciodvfy_errors(out) == []

    ours, meta = seg.read_seg(out)
    assert ours.dtype == np.uint16 and np.array_equal(ours, labelmap())            # bit-exact round trip
    assert meta["source_frames"] == [(source.SOPInstanceUID, k) for k in range(1, FRAMES + 1)]
    assert [s["label"] for s in meta["segments"]] == ["plaque", "lumen"]
    assert meta["segments"][1]["type"] == ("59820001", "SCT", "Blood vessel")
    assert meta["segments"][1]["algorithm_type"] == "AUTOMATIC" and meta["segments"][1]["algorithm_name"] == "unet"
    assert meta["segments"][0]["rgb"] == (255, 0, 0) and "affine" not in meta    # no plane geometry in US

    theirs = hd.seg.segread(out)
    pixels = theirs.get_pixels_by_source_frame(source.SOPInstanceUID, list(range(1, FRAMES + 1)),
                                               combine_segments=True)
    assert np.array_equal(pixels, labelmap())
    assert [d.segment_label for d in theirs.SegmentSequence] == ["plaque", "lumen"]


def test_colour_fixture_cine_and_bytes_output():
    source = pydicom.dcmread(CINE, stop_before_pixels=True)
    frames, rows, columns = int(source.NumberOfFrames), source.Rows, source.Columns
    labels = np.zeros((frames, rows, columns), np.uint16)
    labels[:, 100:140, 150:220] = 1
    data = seg.write_seg(CINE, labels, [{"label": "heart", "labelID": 1}])
    assert isinstance(data, bytes) and data[128:132] == b"DICM"
    ours, _ = seg.read_seg(data)
    assert np.array_equal(ours, labels)
    theirs = hd.seg.Segmentation.from_dataset(pydicom.dcmread(pydicom.filebase.DicomBytesIO(data)))
    assert np.array_equal(theirs.get_pixels_by_source_frame(source.SOPInstanceUID, [1, frames],
                                                            combine_segments=True), labels[[0, -1]])


def test_fractional_round_trip_and_readers(us_cine, tmp_path):
    rng = np.random.default_rng(1)
    maps = rng.integers(0, 201, (2, FRAMES, ROWS, COLUMNS)).astype(np.uint8)
    out = tmp_path / "fractional.dcm"
    seg.write_seg_fractional(us_cine, maps, SEGMENTS, type="occupancy", max_value=200, output=out)
    assert dciodvfy_errors(out) == []
    masks, meta = seg.read_seg(out, masks=True)
    assert masks.shape == maps.shape and np.array_equal(np.rint(masks * 200).astype(np.uint8), maps)
    assert meta["overlapping"]
    theirs = hd.seg.segread(out)
    assert theirs.SegmentationFractionalType == "OCCUPANCY"
    source = pydicom.dcmread(us_cine, stop_before_pixels=True)
    fractions = theirs.get_pixels_by_source_frame(source.SOPInstanceUID, list(range(1, FRAMES + 1)))
    assert np.allclose(np.moveaxis(fractions, -1, 0), masks)

    result = seg.SegmentReader().read(pydicom.dcmread(out))
    assert result.available_segments == {1, 2} and np.allclose(result.segment_data(2), maps[1] / 200)
    with pytest.raises(FormatError, match="overlap"):
        seg.MultiClassReader().read(out)
    binary = seg.write_seg(us_cine, labelmap(), SEGMENTS)
    assert np.array_equal(seg.MultiClassReader().read(binary).data, labelmap())
    assert seg.read_seg(us_cine) is None                                          # not a SEG


def test_highdicom_style_constructor(us_cine, tmp_path):
    algorithm = seg.AlgorithmIdentificationSequence("unet", version="2.1")
    descriptions = [seg.SegmentDescription(1, "plaque", ("85756007", "SCT", "Tissue"), ("1522000", "SCT", "Plaque"),
                                           "AUTOMATIC", algorithm_identification=algorithm)]
    masks = (labelmap() == 1)[..., None].astype(np.uint8)                        # (frames, H, W, nseg)
    ds = seg.Segmentation([pydicom.dcmread(us_cine)], masks, "BINARY", descriptions, hd.UID(), 7, hd.UID(), 3,
                          "lab", content_label="PLAQUE")
    assert ds.SeriesNumber == 7 and ds.ContentLabel == "PLAQUE"
    family = ds.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmFamilyCodeSequence[0]
    assert (family.CodeValue, family.CodeMeaning) == ("123110", "Artificial Intelligence")     # CID 7162
    out = tmp_path / "compat.dcm"
    ds.save_as(out, enforce_file_format=True)
    assert dciodvfy_errors(out) == []
    assert np.array_equal(seg.read_seg(out)[0], (labelmap() == 1).astype(np.uint16))


def test_seg_from_nifti(us_cine, tmp_path):
    nibabel = pytest.importorskip("nibabel")
    volume = np.transpose(labelmap(), (2, 1, 0)).astype(np.int16)                 # (columns, rows, frames)
    nifti = tmp_path / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), nifti)
    out = tmp_path / "nifti.dcm"
    seg.seg_from_nifti(us_cine, nifti, SEGMENTS, output=out)
    assert np.array_equal(seg.read_seg(out)[0], labelmap())


@pytest.mark.parametrize("labels, segments, match", [
    (labelmap()[:, :-1], SEGMENTS, "does not match the source"),
    (labelmap()[:-1], SEGMENTS, "does not match the source"),
    (np.where(labelmap() == 2, 3, labelmap()), SEGMENTS, "values no segment names"),
    (labelmap(), [SEGMENTS[0], {**SEGMENTS[1], "type": "wobble"}], "unknown code"),
    (labelmap(), [SEGMENTS[0], {**SEGMENTS[1], "category": ("1", "SCT")}], "malformed code"),
    (np.where(labelmap() == 2, 0, labelmap()), SEGMENTS, "empty"),
    (labelmap(), [SEGMENTS[0], {**SEGMENTS[1], "algorithm_type": "GUESSED"}], "algorithm type"),
], ids=["columns", "frames", "unnamed-value", "unknown-code", "malformed-code", "empty-segment", "algorithm"])
def test_bad_input_is_refused_before_writing(us_cine, tmp_path, labels, segments, match):
    out = tmp_path / "bad.dcm"
    with pytest.raises(FormatError, match=match):
        seg.write_seg(us_cine, labels, segments, output=out)
    assert list(tmp_path.iterdir()) == []


def test_rgb_becomes_the_recommended_cielab_colour(us_cine):
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(seg.write_seg(us_cine, labelmap(), SEGMENTS)))
    red = hd.color.CIELabColor.from_rgb(255, 0, 0).value                            # highdicom's conversion
    assert tuple(ds.SegmentSequence[0].RecommendedDisplayCIELabValue) == tuple(red)


def test_sources_with_plane_geometry_use_highdicom():
    ct = CINE.parent / "CT_small.dcm"
    source = pydicom.dcmread(ct)
    labels = np.zeros((1, source.Rows, source.Columns), np.uint8)
    labels[0, 20:40, 10:30] = 1
    data = seg.write_seg(ct, labels, [{"label": "bone", "labelID": 1}])
    ours, _ = seg.read_seg(data)
    assert np.array_equal(ours, labels)
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))
    assert "PlanePositionSequence" in ds.PerFrameFunctionalGroupsSequence[0]       # highdicom placed it
    _, meta = seg.read_seg(data)
    corner = meta["affine"] @ np.array([0, 0, 0, 1.0])
    assert np.allclose(corner[:3], [float(v) for v in source.ImagePositionPatient])
    assert meta["pixel_spacing"] == [float(v) for v in source.PixelSpacing]


def test_damaged_seg_is_the_packages_error(us_cine):
    data = seg.write_seg(us_cine, labelmap(), SEGMENTS)
    with pytest.raises(FormatError):
        seg.read_seg(data[:-200])


def test_single_frame_palette_ultrasound(tmp_path):
    from support import PALETTE

    source = pydicom.dcmread(PALETTE, stop_before_pixels=True)
    labels = np.zeros((source.Rows, source.Columns), np.uint8)
    labels[100:150, 200:260] = 1
    out = tmp_path / "single.dcm"
    seg.write_seg(PALETTE, labels, [{"label": "fetus", "labelID": 1}], output=out)
    assert dciodvfy_errors(out) == []
    ours, meta = seg.read_seg(out)
    assert np.array_equal(ours, labels[None]) and meta["source_frames"] == [(source.SOPInstanceUID, 1)]
    theirs = hd.seg.segread(out).get_pixels_by_source_instance([source.SOPInstanceUID], combine_segments=True)
    assert np.array_equal(np.squeeze(theirs), labels)
