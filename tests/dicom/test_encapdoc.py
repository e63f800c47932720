"""Encapsulated documents (sonobridge.dicom.encapdoc): PDF, CDA, STL, OBJ, MTL."""
from __future__ import annotations

import struct

import pytest

from support import CINE, dciodvfy_errors

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"          # odd length: padded in DICOM
#: a binary STL (one triangle); it ends in NUL bytes, which must survive the round trip
STL = b"\0" * 80 + struct.pack("<I", 1) + struct.pack("<12fH", *([0.0] * 9 + [1.0, 0.0, 0.0]), 0) + b"\0"
CDA = b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>'
OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
MTL = b"newmtl red\nKd 1 0 0\n"


@pytest.mark.parametrize("name, data, kind", [("report.pdf", PDF, "pdf"), ("model.stl", STL[:-1], "stl"),
                                              ("note.xml", CDA, "cda"), ("mesh.obj", OBJ, "obj"),
                                              ("mesh.mtl", MTL, "mtl")])
def test_documents_round_trip_byte_exact(tmp_path, name, data, kind):
    """Wrapped from a file (type from the extension) in the study of an ultrasound cine; extracted exact."""
    import pydicom

    from sonobridge.dicom import encapdoc

    src = tmp_path / name
    src.write_bytes(data)
    out = encapdoc.write_encapsulated(src, output=tmp_path / "doc.dcm", reference=CINE)
    assert out == tmp_path / "doc.dcm"
    document = encapdoc.read_encapsulated(out)
    assert (document.payload, document.type, document.title) == (data, kind, src.stem)
    assert pydicom.dcmread(out).StudyInstanceUID == pydicom.dcmread(CINE).StudyInstanceUID
    errors = dciodvfy_errors(out)
    if kind in ("obj", "mtl"):              # dicom3tools of Debian 12 predates these two IODs
        errors = [e for e in errors if e != "Error - Information Object Not found"]
    assert errors == []


def test_bytes_in_bytes_out_with_content_detection():
    from sonobridge.dicom import encapdoc

    data = encapdoc.write_encapsulated(PDF, patient_id="P7", title="Report")
    document = encapdoc.read_encapsulated(data)
    assert document.payload == PDF and document.mime == "application/pdf" and document.title == "Report"
    assert encapdoc.read_encapsulated(encapdoc.write_encapsulated(STL, type="stl")).payload[:len(STL)] == STL


@pytest.mark.parametrize("src, options", [(b"", {}), (b"hello", {"type": "pdf"}), (b"hello", {}),
                                          (PDF, {"type": "docx"}), (PDF, {"unknown_id": "x"})])
def test_bad_input_raises_before_writing(tmp_path, src, options):
    from sonobridge.dicom import encapdoc
    from sonobridge.errors import SonobridgeError

    with pytest.raises(SonobridgeError):
        encapdoc.write_encapsulated(src, output=tmp_path / "doc.dcm", **options)
    assert list(tmp_path.iterdir()) == []


def test_reading_something_else_is_the_package_error():
    from sonobridge.dicom import encapdoc
    from sonobridge.errors import UnsupportedInputError

    with pytest.raises(UnsupportedInputError):
        encapdoc.read_encapsulated(CINE)
