"""Encapsulated Documents (``pydcm.encapdoc``): wrap a PDF, CDA, STL, OBJ or MTL document into its
Encapsulated Document Storage instance (PS3.3 A.45 / A.85), or extract one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SonobridgeError
from .pr import emit

#: type -> (SOP Class UID, MIME type, modality)
_TYPES = {"pdf": ("1.2.840.10008.5.1.4.1.1.104.1", "application/pdf", "DOC"),
          "cda": ("1.2.840.10008.5.1.4.1.1.104.2", "text/XML", "DOC"),
          "stl": ("1.2.840.10008.5.1.4.1.1.104.3", "model/stl", "M3D"),
          "obj": ("1.2.840.10008.5.1.4.1.1.104.4", "model/obj", "M3D"),
          "mtl": ("1.2.840.10008.5.1.4.1.1.104.5", "model/mtl", "M3D")}
_BY_CLASS = {uid: name for name, (uid, _, _) in _TYPES.items()}
_MODELS = {"stl", "obj", "mtl"}
_IDENTITY = {"patient_name": "PatientName", "patient_id": "PatientID", "birth_date": "PatientBirthDate",
             "sex": "PatientSex", "study_uid": "StudyInstanceUID", "study_date": "StudyDate",
             "study_time": "StudyTime", "study_id": "StudyID", "accession": "AccessionNumber",
             "referring": "ReferringPhysicianName", "series_uid": "SeriesInstanceUID",
             "frame_of_reference_uid": "FrameOfReferenceUID", "charset": "SpecificCharacterSet"}


@dataclass
class EncapsulatedDocument:
    """An extracted Encapsulated Document.

    Attributes
    ----------
    payload : bytes
        The document bytes (PDF / text: trailing pad NULs stripped; 3D models verbatim, possibly with
        the single even-length pad byte).
    mime, title, sop_class_uid, sop_instance_uid : str
        As recorded.
    type : str
        "pdf", "cda", "stl", "obj" or "mtl".
    """

    payload: bytes
    mime: str
    title: str
    sop_class_uid: str
    sop_instance_uid: str
    type: str


def _detect(data: bytes, name: str | None) -> str:
    """The document type from the file extension, else from the content."""
    suffix = Path(name).suffix.lower().lstrip(".") if name else ""
    if suffix in _TYPES:
        return suffix
    if suffix == "xml" or data.lstrip()[:5] == b"<?xml" and b"ClinicalDocument" in data[:4096]:
        return "cda"
    if data.startswith(b"%PDF-"):
        return "pdf"
    head = data[:512].lstrip()
    if head.startswith(b"solid") or len(data) >= 84 and len(data) == 84 + 50 * int.from_bytes(data[80:84], "little"):
        return "stl"
    if head.startswith(b"newmtl") or b"\nnewmtl" in data[:4096]:
        return "mtl"
    if head[:2] in (b"v ", b"o ", b"g ", b"# ") or b"\nv " in data[:4096]:
        return "obj"
    raise SonobridgeError(name, "cannot tell the document type (give type='pdf'|'cda'|'stl'|'obj'|'mtl')")


def _base(reference: Any, ids: dict[str, Any]) -> Any:
    from pydicom.dataset import Dataset

    from .io import open_dataset
    from .uid import generate_uid

    ds = Dataset()
    if reference is not None:
        source = open_dataset(reference, stop_before_pixels=True)[0]
        for keyword in ("SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                        "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                        "ReferringPhysicianName", "FrameOfReferenceUID"):
            if keyword in source:
                setattr(ds, keyword, source[keyword].value)
    unknown = set(ids) - set(_IDENTITY)
    if unknown:
        raise SonobridgeError(None, f"unknown identity keyword(s) {sorted(unknown)} (known: {sorted(_IDENTITY)})")
    for key, keyword in _IDENTITY.items():
        if key in ids:
            setattr(ds, keyword, ids[key])
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        if keyword not in ds:
            setattr(ds, keyword, None)
    ds.StudyInstanceUID = ds.get("StudyInstanceUID") or generate_uid()
    ds.SeriesInstanceUID = ds.get("SeriesInstanceUID") or generate_uid()
    return ds


def write_encapsulated(src: str | os.PathLike | bytes, *, type: str = "auto",  # noqa: A002 - pydcm's name
                       output: str | os.PathLike | None = None, title: str | None = None, mime: str | None = None,
                       units: str | None = None, reference: Any = None, **ids: Any) -> bytes | Path:
    """Wrap a document into its Encapsulated Document DICOM instance.

    Parameters
    ----------
    src : path or bytes
        The document.
    type : str
        "auto" (file extension, then content) or "pdf" | "cda" | "stl" | "obj" | "mtl".
    output : path, optional
        Write there atomically and return the path; else return the Part-10 bytes.
    title : str, optional
        Document Title (default: the file stem).
    mime : str, optional
        MIME Type of Encapsulated Document (default: the type's).
    units : str, optional
        3D models: Measurement Units, a UCUM code (default "um").
    reference : path or Dataset, optional
        A DICOM object whose patient / study identity (and Frame of Reference) the document joins.
    **ids
        patient_name, patient_id, birth_date, sex, study_uid, study_date, study_time, study_id,
        accession, referring, series_uid, frame_of_reference_uid, charset.

    Raises
    ------
    SonobridgeError
        Unknown type, unreadable or empty document, type not matching the content; nothing is written then.
    """
    from datetime import datetime

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from .uid import generate_uid

    name = None
    if isinstance(src, (str, os.PathLike)):
        name = os.fspath(src)
        try:
            data = Path(src).read_bytes()
        except OSError as error:
            raise SonobridgeError(name, f"cannot read the document ({error.strerror or error})") from None
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    else:
        raise SonobridgeError(None, f"write_encapsulated: src must be a path or bytes, not {src.__class__.__name__}")
    if not data:
        raise SonobridgeError(name, "empty document")
    kind = _detect(data, name) if type == "auto" else str(type).lower()
    if kind not in _TYPES:
        raise SonobridgeError(name, f"unknown document type {type!r} (auto, pdf, cda, stl, obj, mtl)")
    if kind == "pdf" and not data.startswith(b"%PDF-"):
        raise SonobridgeError(name, "not a PDF document (no %PDF- header)")
    sop_class, default_mime, modality = _TYPES[kind]
    ds = _base(reference, ids)
    now = datetime.now()
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, 1
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES" if kind == "pdf" else "NO"
    ds.DocumentTitle = title if title is not None else (Path(name).stem if name else "")
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = mime or default_mime
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(data)
    ds.Manufacturer = "sonobridge"
    if kind in _MODELS:
        ds.FrameOfReferenceUID = ds.get("FrameOfReferenceUID") or generate_uid()
        ds.PositionReferenceIndicator = None
        ds.ManufacturerModelName, ds.DeviceSerialNumber, ds.SoftwareVersions = "sonobridge", "1", "1"
        unit = Dataset()
        unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = units or "um", "UCUM", units or "um"
        ds.MeasurementUnitsCodeSequence = [unit]
        ds.ContentQualification = "RESEARCH"
    if kind == "cda":
        ds.HL7InstanceIdentifier = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    written = emit(ds, output)
    return written if output is None else Path(output)


def read_encapsulated(path: Any) -> EncapsulatedDocument:
    """Extract an Encapsulated Document instance.

    Parameters
    ----------
    path : str, os.PathLike, bytes or pydicom Dataset

    Returns
    -------
    EncapsulatedDocument

    Raises
    ------
    UnsupportedInputError
        Not DICOM, or not an Encapsulated Document.
    FormatError
        Damaged content.
    """
    from ..errors import UnsupportedInputError
    from .io import damaged_content, open_dataset

    ds, label = open_dataset(path)
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in _BY_CLASS or "EncapsulatedDocument" not in ds:
        raise UnsupportedInputError(label, f"not an Encapsulated Document (SOP class {sop_class or 'missing'})")
    with damaged_content(label):
        payload = bytes(ds.EncapsulatedDocument)
        length = ds.get("EncapsulatedDocumentLength")
        kind = _BY_CLASS[sop_class]
        mime = str(ds.get("MIMETypeOfEncapsulatedDocument", ""))
        if length is not None and int(length) <= len(payload):
            payload = payload[:int(length)]
        elif kind not in _MODELS:
            payload = payload.rstrip(b"\0")
        return EncapsulatedDocument(payload=payload, mime=mime, title=str(ds.get("DocumentTitle", "")),
                                    sop_class_uid=sop_class, sop_instance_uid=str(ds.SOPInstanceUID), type=kind)


__all__ = ["EncapsulatedDocument", "write_encapsulated", "read_encapsulated"]
