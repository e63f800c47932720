"""sonobridge.dicom.derived: what the derived-object writers share (sources, frames, geometry, output)."""
from __future__ import annotations

import pydicom
import pytest

from sonobridge.dicom.derived import (finish, frame_count, has_plane_geometry, image_plane, label_of,
                                      load_sources, source_frame_references)
from support import CINE, DICOM, PALETTE


def test_ultrasound_sources_have_no_plane_geometry_ct_has():
    cine, ct = pydicom.dcmread(CINE), pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm")
    assert not has_plane_geometry([cine]) and has_plane_geometry([ct])


def test_every_source_frame_is_referenced_in_order():
    cine, palette = load_sources([CINE, PALETTE])
    references = source_frame_references([cine, palette])
    assert frame_count(cine) == int(cine.NumberOfFrames) and frame_count(palette) == 1
    assert [frame for _, frame in references] == [*range(1, frame_count(cine) + 1), None]
    assert label_of([CINE, PALETTE]) == str(CINE)


def test_image_plane_from_the_region_calibration_or_nominal():
    palette = pydicom.dcmread(PALETTE)
    spacing, position, orientation, calibrated = image_plane(palette)
    assert calibrated and all(s > 0 for s in spacing) and len(position) == 3 and len(orientation) == 6
    assert image_plane(pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm"))[3] is False


def test_finish_returns_bytes_or_writes_atomically(tmp_path):
    ds = pydicom.dcmread(DICOM / "pydicom" / "CT_small.dcm")
    data = finish(ds, None)
    assert data[128:132] == b"DICM"
    assert finish(ds, tmp_path / "out.dcm") is None and (tmp_path / "out.dcm").read_bytes() == data
    assert not list(tmp_path.glob(".*.partial"))


def test_an_unreadable_source_is_the_package_error(tmp_path):
    from sonobridge.errors import SonobridgeError

    (tmp_path / "x.dcm").write_bytes(b"not dicom")
    with pytest.raises(SonobridgeError):
        load_sources(tmp_path / "x.dcm")
