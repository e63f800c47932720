"""Legacy Converted Enhanced CT / MR images (sonobridge.dicom.legacy_converted) from a series built of
pydicom's CT_small / MR_small."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support import DICOM, dciodvfy_errors

pytest.importorskip("highdicom")

#: dicom3tools (Debian 12) does not count the per-frame Conversion Source Attributes Sequence as a
#: reference to instances, so it calls the Common Instance Reference module (which lists exactly
#: those sources) unexpected; every other check passes
KNOWN_FALSE_POSITIVE = ("Error - ReferencedSeriesSequence present but Instance does not reference Instances "
                        "- attribute <ReferencedSeriesSequence>")


def make_series(folder: Path, name: str, n: int = 3) -> list[Path]:
    """``n`` copies of a single-frame fixture as one series, 5 mm apart, written in reverse slice order."""
    import pydicom

    from sonobridge.dicom.uid import generate_uid

    series, paths = generate_uid(), []
    for index in range(n):
        ds = pydicom.dcmread(DICOM / "pydicom" / name)
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        position = [float(v) for v in ds.ImagePositionPatient]
        position[2] += 5.0 * (n - 1 - index)
        ds.ImagePositionPatient, ds.InstanceNumber = position, index + 1
        ds.PixelData = (ds.pixel_array + index).astype(ds.pixel_array.dtype).tobytes()
        paths.append(folder / f"{name}_{index}.dcm")
        ds.save_as(paths[-1])
    return paths


@pytest.mark.parametrize("name, sop_class", [("CT_small.dcm", "1.2.840.10008.5.1.4.1.1.2.2"),
                                             ("MR_small.dcm", "1.2.840.10008.5.1.4.1.1.4.4")])
def test_series_becomes_one_enhanced_object_in_slice_order(tmp_path, name, sop_class):
    import highdicom as hd
    import pydicom

    from sonobridge.dicom import legacy_converted

    paths = make_series(tmp_path, name)
    out = tmp_path / "enhanced.dcm"
    legacy_converted.write_legacy_converted(paths[::-1], output=out)
    assert [e for e in dciodvfy_errors(out) if e.strip() != KNOWN_FALSE_POSITIVE] == []
    ds = pydicom.dcmread(out)
    assert ds.SOPClassUID == sop_class and ds.NumberOfFrames == 3
    sources = {s.SOPInstanceUID: s for s in (pydicom.dcmread(p) for p in paths)}
    converted = [sources[item.ConversionSourceAttributesSequence[0].ReferencedSOPInstanceUID]
                 for item in ds.PerFrameFunctionalGroupsSequence]
    np.testing.assert_array_equal(ds.pixel_array, np.stack([s.pixel_array for s in converted]))
    z = [float(item.PlanePositionSequence[0].ImagePositionPatient[2]) for item in ds.PerFrameFunctionalGroupsSequence]
    assert z == [float(s.ImagePositionPatient[2]) for s in converted] and len(set(np.sign(np.diff(z)))) == 1
    assert hd.imread(out).number_of_frames == 3
    given = [pydicom.dcmread(p) for p in paths]
    for source in given:
        del source.Manufacturer                 # Type 1 in the enhanced object: filled in on our copies
    again = legacy_converted.write_legacy_converted(given)
    assert all("Manufacturer" not in source for source in given)
    assert pydicom.dcmread(__import__("io").BytesIO(again)).SOPInstanceUID == ds.SOPInstanceUID   # deterministic


def test_mixed_series_raise_before_writing(tmp_path):
    from sonobridge.dicom import legacy_converted
    from sonobridge.errors import SonobridgeError

    folder = tmp_path / "in"
    folder.mkdir()
    mixed = make_series(folder, "CT_small.dcm", 2) + make_series(folder, "MR_small.dcm", 1)
    for series in (mixed, [mixed[0], mixed[0]], []):
        with pytest.raises(SonobridgeError):
            legacy_converted.write_legacy_converted(series, output=tmp_path / "out.dcm")
    assert not (tmp_path / "out.dcm").exists() and len(list(tmp_path.iterdir())) == 1
