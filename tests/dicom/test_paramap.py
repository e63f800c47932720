"""DICOM Parametric Maps on ultrasound (sonobridge.dicom.paramap / pm): highdicom refuses the US
multi-frame source; ours is valid (dciodvfy), read back by highdicom and read_paramap with the same
values and units, in float and integer storage, and bad input fails before anything is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402

from sonobridge.core.geometry import PixelGrid  # noqa: E402
from sonobridge.dicom import paramap, pm  # noqa: E402
from sonobridge.errors import FormatError  # noqa: E402
from sonobridge.formats.dicom import export_dicom  # noqa: E402
from support import dciodvfy_errors, image_stream, moving_frames, synthetic_stream  # noqa: E402

FRAMES, ROWS, COLUMNS = 4, 32, 48
KPA = ("kPa", "UCUM", "kPa")
ELASTICITY = ("110853", "DCM", "Elasticity")     # PS3.16 quantity (DCM)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pm")
    grid = PixelGrid(x_m=np.arange(COLUMNS) * 3e-4 - 7e-3, z_m=2e-3 + np.arange(ROWS) * 3e-4)
    calibrated, plain = folder / "calibrated.dcm", folder / "plain.dcm"
    export_dicom(synthetic_stream(moving_frames(FRAMES, ROWS, COLUMNS), geometry=grid), calibrated)
    export_dicom(image_stream(moving_frames(FRAMES, ROWS, COLUMNS)), plain)
    return {"calibrated": calibrated, "plain": plain}


def stiffness() -> np.ndarray:
    rows, columns = np.mgrid[0:ROWS, 0:COLUMNS]
    return np.stack([(5 + 0.5 * rows + 0.25 * columns + k).astype(np.float32) for k in range(FRAMES)])


def test_highdicom_refuses_the_us_source_ours_writes_a_valid_float_map(sources, tmp_path):
    source = pydicom.dcmread(sources["calibrated"])
    mapping = hd.pm.RealWorldValueMapping("STIFF", "stiffness", hd.sr.CodedConcept(*KPA), (0.0, 100.0))
    with pytest.raises(ValueError, match="Frame of Reference"):
        hd.pm.ParametricMap([source], stiffness(), hd.UID(), 1, hd.UID(), 1, "m", "m", "1", "1", False,
                            [mapping], 50.0, 100.0)

    out = tmp_path / "map.dcm"
    assert paramap.write_paramap(sources["calibrated"], stiffness(), units=KPA, quantity=ELASTICITY,
                                 label="STIFF", output=out) is None
    assert dciodvfy_errors(out) == []
    values, meta = paramap.read_paramap(out)
    assert values.dtype == np.float32 and np.array_equal(values, stiffness())
    mapping = meta["real_world_value_mapping"]
    assert mapping["units"] == KPA and mapping["quantity"] == ELASTICITY and mapping["label"] == "STIFF"
    assert meta["source_frames"] == [(source.SOPInstanceUID, k) for k in range(1, FRAMES + 1)]

    ds = pydicom.dcmread(out)
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == pytest.approx([0.3, 0.3])
    theirs = hd.pm.ParametricMap.from_dataset(ds)
    assert np.array_equal(theirs.get_pixels_by_source_frame(source.SOPInstanceUID, list(range(1, FRAMES + 1))),
                          stiffness())                                           # highdicom: frame by frame


@pytest.mark.parametrize("dtype", ["uint16", "int16", "uint8"])
def test_integer_maps_recover_the_values_through_the_mapping(sources, tmp_path, dtype):
    out = tmp_path / f"{dtype}.dcm"
    paramap.write_paramap(sources["plain"], stiffness() - 20, units=KPA, dtype=dtype, output=out)
    assert dciodvfy_errors(out) == []
    values, meta = paramap.read_paramap(out)
    step = meta["real_world_value_mapping"]["slope"]
    assert np.abs(values - (stiffness() - 20)).max() <= step / 2 + 1e-5
    ds = pydicom.dcmread(out)
    assert ds.BitsAllocated == 16 and "PixelData" in ds and ds.PixelRepresentation == (dtype == "int16")
    item = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    stored = pydicom.pixels.pixel_array(ds) if hasattr(pydicom, "pixels") else ds.pixel_array
    assert np.allclose(stored * float(item.RealWorldValueSlope) + float(item.RealWorldValueIntercept), values, atol=1e-4)


def test_explicit_slope_and_pm_class_api(sources, tmp_path):
    out = tmp_path / "explicit.dcm"
    paramap.write_paramap(sources["plain"], stiffness(), units="kPa", dtype="uint16", slope=0.01, intercept=0.0,
                          output=out)
    values, meta = pm.read_paramap(out)
    assert meta["real_world_value_mapping"]["slope"] == 0.01 and np.allclose(values, stiffness(), atol=0.005)

    mapping = pm.RealWorldValueMapping("STIFF", "stiffness", KPA, (0, 4000), slope=0.01, intercept=0,
                                       quantity_definition=ELASTICITY)
    stored = np.rint(stiffness() / 0.01).astype(np.uint16)
    ds = pm.ParametricMap([sources["plain"]], stored, hd.UID(), 5, hd.UID(), 2, "lab", "model", "1", "0", False,
                          [mapping], 20.0, 40.0, content_label="ELASTO")
    compat = tmp_path / "compat.dcm"
    ds.save_as(compat, enforce_file_format=True)
    assert dciodvfy_errors(compat) == []
    values, meta = pm.read_paramap(compat)
    assert np.allclose(values, stored * 0.01) and meta["real_world_value_mapping"]["quantity"] == ELASTICITY
    assert paramap.read_paramap(sources["plain"]) is None                         # not a map


@pytest.mark.parametrize("values, options, match", [
    (stiffness()[:, :-1], {}, "does not match the source"),
    (np.where(stiffness() > 30, np.nan, stiffness()), {}, "NaN"),
    (stiffness(), {"dtype": "uint32"}, "unsupported dtype"),
    (stiffness(), {"dtype": "uint8", "slope": 0.01, "intercept": 0.0}, "do not fit"),
    (stiffness(), {"units": ("kPa", "")}, "malformed units"),
], ids=["shape", "nan", "dtype", "overflow", "units"])
def test_bad_input_is_refused_before_writing(sources, tmp_path, values, options, match):
    out = tmp_path / "bad.dcm"
    with pytest.raises(FormatError, match=match):
        paramap.write_paramap(sources["plain"], values, output=out, **options)
    assert list(tmp_path.iterdir()) == []


def test_sources_with_plane_geometry_use_highdicom():
    from support import CINE

    ct = CINE.parent / "CT_small.dcm"
    source = pydicom.dcmread(ct, stop_before_pixels=True)
    values = np.linspace(0, 3, source.Rows * source.Columns, dtype=np.float32).reshape(1, source.Rows, source.Columns)
    data = paramap.write_paramap(ct, values, units=("mm2/s", "UCUM", "mm2/s"))
    back, meta = paramap.read_paramap(data)
    assert np.array_equal(back, values) and meta["real_world_value_mapping"]["units"][0] == "mm2/s"
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))
    assert ds.FrameOfReferenceUID == source.FrameOfReferenceUID                   # highdicom kept the source's
