"""FHIR R4 bridge (``pydcm.fhir``): a DICOM instance as a FHIR R4 ``ImagingStudy`` resource with a
contained ``Patient``, the imaging <-> EHR seam.

The result is a plain ``dict`` in FHIR's JSON form (what a FHIR server accepts as the body of a
``POST [base]/ImagingStudy``); no FHIR library is needed to build it. The mapping follows the
DICOM <-> FHIR correspondences of the R4 ImagingStudy resource: StudyInstanceUID as an
``urn:dicom:uid`` identifier (and the resource id), AccessionNumber as an ``ACSN`` identifier, the
modality as a DICOM (``DCM``) coding, one series with one instance (its SOP Class as an
``urn:oid:`` coding), the patient's identifier, name (DICOM PN components), sex and birth date on
the contained Patient. :func:`validate` checks a resource against FHIR's data model with
``fhir.resources`` (the ``fhir`` extra; its R4B models: FHIR 4.3, whose ImagingStudy and Patient
are R4's). Empty DICOM values are left out (FHIR has no empty values). Study date and
time become ``started``: with the time only when the file records its offset from UTC (a FHIR
dateTime with a time needs a time zone), else the date alone.

Examples
--------
>>> study = imaging_study("cine.dcm")                            # doctest: +SKIP
>>> study["resourceType"], study["subject"]["reference"]          # doctest: +SKIP
('ImagingStudy', '#patient-3f0c...')
"""
from __future__ import annotations

import hashlib
import os
import re
from typing import Any, BinaryIO

from ..errors import FormatError, MissingDependencyError
from .io import damaged_content, open_dataset

__all__ = ["imaging_study", "validate", "human_name", "fhir_date", "fhir_datetime"]

DICOM_UID_SYSTEM = "urn:dicom:uid"
DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
URI_SYSTEM = "urn:ietf:rfc:3986"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
#: DICOM PatientSex -> FHIR administrative gender
GENDER = {"M": "male", "F": "female", "O": "other"}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _text(ds: Any, keyword: str) -> str:
    """The value of ``keyword`` as stripped text ("" when absent or empty)."""
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _number(ds: Any, keyword: str) -> int | None:
    """An IS value as a FHIR unsignedInt, None when absent or negative."""
    value = ds.get(keyword)
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and number >= 0 else None


def _pruned(value: Any) -> Any:
    """``value`` without empty strings, lists, dicts or Nones (FHIR forbids empty elements)."""
    if isinstance(value, dict):
        items = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in items.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        return [item for item in map(_pruned, value) if item not in (None, "", [], {})]
    return value


def human_name(person_name: Any) -> dict[str, Any]:
    """A DICOM person name (PN: ``family^given^middle^prefix^suffix``) as a FHIR HumanName.

    Examples
    --------
    >>> human_name("Doe^Jane^Q^Dr^PhD")
    {'text': 'Dr Jane Q Doe PhD', 'family': 'Doe', 'given': ['Jane', 'Q'], 'prefix': ['Dr'], 'suffix': ['PhD']}
    >>> human_name("")
    {}
    """
    alphabetic = str(person_name or "").split("=")[0]
    family, given, middle, prefix, suffix = [*(part.strip() for part in alphabetic.split("^")), "", "", "", "", ""][:5]
    text = " ".join(part for part in (prefix, given, middle, family, suffix) if part)
    return _pruned({"text": text, "family": family, "given": [given, *middle.split()],
                    "prefix": prefix.split(), "suffix": suffix.split()})


def fhir_date(value: str) -> str:
    """A DICOM DA (``YYYYMMDD``) as a FHIR date (``YYYY-MM-DD``); "" if not a date.

    Examples
    --------
    >>> fhir_date("20240131"), fhir_date("2024"), fhir_date("")
    ('2024-01-31', '', '')
    """
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value.strip())
    return "-".join(match.groups()) if match else ""


def fhir_datetime(date: str, time: str = "", utc_offset: str = "") -> str:
    """DICOM date, time (TM) and offset from UTC (``+HHMM``) as a FHIR dateTime; the time only
    with an offset (FHIR requires a time zone with a time), fractions of seconds kept.

    Examples
    --------
    >>> fhir_datetime("20240131", "142501.25", "+0100")
    '2024-01-31T14:25:01.25+01:00'
    >>> fhir_datetime("20240131", "1425")
    '2024-01-31'
    """
    day = fhir_date(date)
    clock = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?", time.strip())
    zone = re.fullmatch(r"([+-])(\d{2})(\d{2})", utc_offset.strip())
    if not day or not clock or not zone:
        return day
    hours, minutes, seconds, fraction = clock.groups()
    return f"{day}T{hours}:{minutes or '00'}:{seconds or '00'}{fraction or ''}{zone[1]}{zone[2]}:{zone[3]}"


def _patient(ds: Any) -> dict[str, Any]:
    """The contained Patient: identifier, name, gender, birth date; its id is a digest of the
    patient's identity (the same patient gets the same local id, the identity is not repeated)."""
    identity = "\x1f".join(_text(ds, key) for key in ("PatientID", "IssuerOfPatientID", "PatientName",
                                                        "PatientBirthDate"))
    local_id = "patient-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    issuer = _text(ds, "IssuerOfPatientID")
    identifier = {"value": _text(ds, "PatientID"),
                  "assigner": {"display": issuer}}
    return _pruned({"resourceType": "Patient", "id": local_id,
                    "identifier": [identifier] if identifier["value"] else [],
                    "name": [human_name(ds.get("PatientName"))],
                    "gender": GENDER.get(_text(ds, "PatientSex").upper(), "unknown" if "PatientSex" in ds else ""),
                    "birthDate": fhir_date(_text(ds, "PatientBirthDate"))})


def _coding(system: str, code: str, display: str = "") -> dict[str, str]:
    return _pruned({"system": system, "code": code, "display": display})


def _series(ds: Any, modality: dict[str, str]) -> dict[str, Any]:
    """The one series (with its one instance) of ``ds``."""
    instance = {"uid": _text(ds, "SOPInstanceUID"),
                "sopClass": _coding(URI_SYSTEM, f"urn:oid:{_text(ds, 'SOPClassUID')}") if "SOPClassUID" in ds else {},
                "number": _number(ds, "InstanceNumber"),
                "title": _text(ds, "ImageComments") or _text(ds, "ContentLabel")}
    return {"uid": _text(ds, "SeriesInstanceUID"), "number": _number(ds, "SeriesNumber"), "modality": modality,
            "description": _text(ds, "SeriesDescription"), "numberOfInstances": 1,
            "bodySite": {"display": _text(ds, "BodyPartExamined")},
            "laterality": {"code": _text(ds, "Laterality")},
            "started": fhir_datetime(_text(ds, "SeriesDate"), _text(ds, "SeriesTime"),
                                     _text(ds, "TimezoneOffsetFromUTC")),
            "instance": [instance]}


def imaging_study(source: str | os.PathLike | bytes | BinaryIO) -> dict[str, Any]:
    """Build a FHIR R4 ImagingStudy (as a dict) from one DICOM instance.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A Part-10 DICOM file, its raw bytes, or a binary file-like object at its start (a pydicom
        Dataset is accepted too).

    Returns
    -------
    dict
        The ImagingStudy in FHIR JSON form: ``resourceType``, ``id`` (the StudyInstanceUID),
        ``contained`` (the Patient), ``identifier`` (study UID, accession number), ``status``
        (``available``), ``modality``, ``subject`` (``{"reference": "#patient-<digest>"}``),
        ``started``, ``numberOfSeries`` / ``numberOfInstances`` (1), ``description`` and
        ``series`` (one series, one instance). Single-instance: one series / one instance per call.

    Raises
    ------
    UnsupportedInputError, FormatError
        ``source`` is not DICOM, is damaged, or has no StudyInstanceUID.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2.3", "1.2.3.4", "1.2.3.4.5"
    >>> ds.Modality, ds.PatientName, ds.PatientID = "US", "Doe^Jane", "P-7"
    >>> study = imaging_study(ds)
    >>> study["id"], study["modality"][0]["code"], study["contained"][0]["name"][0]["family"]
    ('1.2.3', 'US', 'Doe')
    >>> study["subject"]["reference"] == "#" + study["contained"][0]["id"]
    True
    """
    ds, label = open_dataset(source, stop_before_pixels=True)
    with damaged_content(label):
        study_uid = _text(ds, "StudyInstanceUID")
        if not study_uid:
            raise FormatError(label, "no StudyInstanceUID: an ImagingStudy needs the study's UID")
        patient = _patient(ds)
        modality = _coding(DCM_SYSTEM, _text(ds, "Modality").upper())
        accession = {"use": "usual", "type": {"coding": [_coding(IDENTIFIER_TYPE_SYSTEM, "ACSN")]},
                     "value": _text(ds, "AccessionNumber")}
        study = {"resourceType": "ImagingStudy",
                 "id": study_uid if _FHIR_ID.fullmatch(study_uid) else None,
                 "contained": [patient],
                 "identifier": [{"use": "official", "system": DICOM_UID_SYSTEM, "value": f"urn:oid:{study_uid}"},
                                accession if accession["value"] else {}],
                 "status": "available",
                 "modality": [modality],
                 "subject": {"reference": f"#{patient['id']}"},
                 "started": fhir_datetime(_text(ds, "StudyDate"), _text(ds, "StudyTime"),
                                          _text(ds, "TimezoneOffsetFromUTC")),
                 "referrer": {"display": human_name(ds.get("ReferringPhysicianName")).get("text", "")},
                 "numberOfSeries": 1, "numberOfInstances": 1,
                 "description": _text(ds, "StudyDescription"),
                 "series": [_series(ds, modality)]}
        return _pruned(study)


def validate(resource: dict[str, Any]) -> None:
    """Check a FHIR resource (JSON form) against FHIR's data model, and that every local reference
    (``"#id"``) names a contained resource.

    Parameters
    ----------
    resource : dict
        A resource such as :func:`imaging_study` returns.

    Raises
    ------
    FormatError
        The resource breaks the model (unknown elements, wrong types, bad dates, a dangling
        reference); the message lists the problems.
    MissingDependencyError
        ``fhir.resources`` is not installed (``pip install 'sonobridge[fhir]'``).
    """
    try:
        from fhir.resources.R4B import get_fhir_model_class
        from pydantic import ValidationError
    except ImportError:
        raise MissingDependencyError(None, "validating FHIR resources needs fhir.resources: "
                                           "pip install 'sonobridge[fhir]'") from None
    kind = str(resource.get("resourceType", ""))
    try:
        get_fhir_model_class(kind).model_validate(resource)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:10])
        raise FormatError(None, f"invalid FHIR {kind}: {problems}") from None
    except (KeyError, ValueError):
        raise FormatError(None, f"not a FHIR resource type: {kind!r}") from None
    contained = {str(item.get("id")) for item in resource.get("contained", [])}
    dangling = sorted(set(_local_references(resource)) - contained)
    if dangling:
        raise FormatError(None, f"FHIR {kind}: references to no contained resource: {', '.join(dangling)}")


def _local_references(value: Any) -> list[str]:
    """The ids named by the local references (``{"reference": "#id"}``) anywhere in ``value``."""
    if isinstance(value, dict):
        own = [value["reference"][1:]] if str(value.get("reference", "")).startswith("#") else []
        return own + [ref for item in value.values() for ref in _local_references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _local_references(item)]
    return []
