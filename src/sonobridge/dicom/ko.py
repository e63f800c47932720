"""Key Object Selection documents (KOS, PS3.16 TID 2010): flag instances as key objects and read
them back, built on highdicom.

:func:`write_ko` takes paths, datasets or reference dicts; :func:`read_ko` returns the flagged
references; :class:`KeyObjectSelection` is highdicom's content class and
:func:`KeyObjectSelectionDocument` its document constructor. Bad input raises
:class:`~sonobridge.errors.FormatError` before anything is written; outputs are written atomically.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from ..errors import FormatError, SonobridgeError

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
#: the default Key Object Document Title (CID 7010)
OF_INTEREST = ("113000", "DCM", "Of Interest")
#: reference dict key -> the attribute of the stand-in dataset
_REFERENCE_KEYS = {"study_uid": "StudyInstanceUID", "series_uid": "SeriesInstanceUID",
                   "sop_class_uid": "SOPClassUID", "sop_instance_uid": "SOPInstanceUID"}
#: write_ko keyword -> patient / study attribute
_IDENTITY = {"patient_name": "PatientName", "patient_id": "PatientID", "study_uid": "StudyInstanceUID",
             "study_date": "StudyDate", "study_time": "StudyTime", "study_id": "StudyID",
             "accession_number": "AccessionNumber"}


def __getattr__(name: str) -> Any:
    if name == "KeyObjectSelection":
        from .sr import _highdicom

        return _highdicom().ko.KeyObjectSelection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "KeyObjectSelection"})


def _stand_in(reference: Any, identity: Mapping[str, str], label: str | None) -> Any:
    """An evidence dataset for one reference: its identifiers, and the patient / study modules
    (type 2 attributes empty when unknown)."""
    from pydicom.dataset import Dataset

    from .derived import PATIENT_STUDY
    from .io import open_dataset

    item = Dataset()
    if isinstance(reference, Mapping):
        missing = [key for key in _REFERENCE_KEYS if not reference.get(key)]
        if missing:
            raise FormatError(label, f"reference {dict(reference)!r} lacks {', '.join(missing)}")
        for key, keyword in _REFERENCE_KEYS.items():
            setattr(item, keyword, str(reference[key]))
        source = None
    else:
        source, where = open_dataset(reference, stop_before_pixels=True)
        for keyword in _REFERENCE_KEYS.values():
            if not source.get(keyword):
                raise FormatError(where, f"cannot be flagged: no {keyword}")
            setattr(item, keyword, source.get(keyword))
    # highdicom flags objects with Rows / Columns as IMAGE items, the others as COMPOSITE
    from pydicom.uid import UID

    if (source is not None and "Rows" in source) or (source is None and "Image" in UID(item.SOPClassUID).name):
        item.Rows, item.Columns = (source.Rows, source.Columns) if source is not None else (1, 1)
    for keyword in PATIENT_STUDY:
        if keyword != "StudyInstanceUID" or "StudyInstanceUID" not in item:
            setattr(item, keyword, source.get(keyword, "") if source is not None else "")
    for key, keyword in _IDENTITY.items():
        if identity.get(key) and keyword != "StudyInstanceUID":
            setattr(item, keyword, identity[key])
    return item


def write_ko(references, *, patient_name="", patient_id="", study_uid="", study_date="", study_time="",
             study_id="", accession_number="", title=None, output=None):
    """Author a Key Object Selection document flagging ``references`` as key objects.

    Parameters
    ----------
    references : list
        Reference dicts ``{study_uid, series_uid, sop_class_uid, sop_instance_uid}`` or DICOM paths /
        Datasets (their identifiers are read).
    patient_name, patient_id, study_uid, study_date, study_time, study_id, accession_number : str
        The KOS's identity; inherited from the first reference when omitted.
    title : dict or tuple, optional
        The Key Object Document Title code; default ``(113000, DCM, "Of Interest")``.
    output : path, optional
        Write the KOS there (atomically) and return None; else return Part-10 bytes.

    Raises
    ------
    FormatError
        No references, an incomplete reference, an unknown title code; nothing is written.
    """
    from .derived import finish
    from .sr import _hd_code, _highdicom, check_code
    from .uid import generate_uid

    label = os.fspath(output) if output is not None else None
    references = list(references) if isinstance(references, (list, tuple)) else [references]
    if not references:
        raise FormatError(label, "a key object selection needs at least one reference")
    identity = {"patient_name": patient_name, "patient_id": patient_id, "study_uid": study_uid,
                "study_date": study_date, "study_time": study_time, "study_id": study_id,
                "accession_number": accession_number}
    evidence = [_stand_in(reference, identity, label) for reference in references]
    hd = _highdicom()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
            content = hd.ko.KeyObjectSelection(_hd_code(check_code(title or OF_INTEREST, label, "document title")),
                                               evidence)
            document = hd.ko.KeyObjectSelectionDocument(
                evidence=evidence, content=content, series_instance_uid=generate_uid(), series_number=1,
                sop_instance_uid=generate_uid(), instance_number=1, manufacturer="sonobridge")
    except SonobridgeError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise FormatError(label, f"cannot build the key object selection ({type(error).__name__}: {error})") \
            from None
    for key, keyword in _IDENTITY.items():
        if identity[key] and key != "study_uid":
            setattr(document, keyword, identity[key])
    if study_uid:
        document.StudyInstanceUID = study_uid
    document.CurrentRequestedProcedureEvidenceSequence = _evidence_by_study(evidence)
    return finish(document, output)


def _evidence_by_study(evidence: list[Any]) -> list[Any]:
    """The Current Requested Procedure Evidence Sequence listing every flagged object under its own
    study and series (highdicom keeps the KOS's own study only, silently dropping a second study)."""
    from pydicom.dataset import Dataset

    studies: dict[str, dict[str, list[Any]]] = {}
    for item in evidence:
        studies.setdefault(str(item.StudyInstanceUID), {}).setdefault(str(item.SeriesInstanceUID), []).append(item)
    result = []
    for study_uid, series in studies.items():
        study = Dataset()
        study.StudyInstanceUID = study_uid
        study.ReferencedSeriesSequence = []
        for series_uid, members in series.items():
            entry = Dataset()
            entry.SeriesInstanceUID = series_uid
            entry.ReferencedSOPSequence = []
            for member in members:
                reference = Dataset()
                reference.ReferencedSOPClassUID = member.SOPClassUID
                reference.ReferencedSOPInstanceUID = member.SOPInstanceUID
                entry.ReferencedSOPSequence.append(reference)
            study.ReferencedSeriesSequence.append(entry)
        result.append(study)
    return result


def read_ko(path: Any) -> dict[str, Any] | None:
    """A Key Object Selection document as ``{patient_name, patient_id, study_uid, series_uid, title,
    references: [{sop_class_uid, sop_instance_uid, frames?}]}`` (its IMAGE / COMPOSITE items), or
    None when ``path`` is not a KOS.

    Raises
    ------
    UnsupportedInputError, FormatError
        When ``path`` is missing, not DICOM, or damaged.
    """
    from ..errors import read_faults
    from .io import open_dataset
    from .sr import _children, _concept

    ds, label = open_dataset(path, stop_before_pixels=True)
    if str(ds.get("SOPClassUID", "")) != KEY_OBJECT_SELECTION:
        return None
    with read_faults(label, "unreadable key object selection"):
        references = []
        for item in _children(ds):
            for reference in item.get("ReferencedSOPSequence") or []:
                entry: dict[str, Any] = {"sop_class_uid": str(reference.ReferencedSOPClassUID),
                                         "sop_instance_uid": str(reference.ReferencedSOPInstanceUID)}
                frames = reference.get("ReferencedFrameNumber")
                if frames not in (None, ""):
                    entry["frames"] = [int(f) for f in (frames if isinstance(frames, (list, tuple)) or
                                                        hasattr(frames, "__iter__") else [frames])]
                references.append(entry)
        description = [str(i.get("TextValue", "")) for i in _children(ds) if i.get("ValueType") == "TEXT"]
        result = {"patient_name": str(ds.get("PatientName", "") or ""), "patient_id": str(ds.get("PatientID", "")),
                  "study_uid": str(ds.get("StudyInstanceUID", "")), "series_uid": str(ds.get("SeriesInstanceUID", "")),
                  "title": _concept(ds) if ds.get("ConceptNameCodeSequence") else None, "references": references}
        if description:
            result["description"] = description[0]
        return result


def KeyObjectSelectionDocument(evidence, content, series_instance_uid, series_number, sop_instance_uid,
                               instance_number, manufacturer=None, institution_name=None,
                               institutional_department_name=None, requested_procedures=None,
                               transfer_syntax_uid=None, **_kwargs):
    """highdicom's ``KeyObjectSelectionDocument``: a KOS dataset from a :class:`KeyObjectSelection`
    ``content`` and the ``evidence`` datasets it flags (``content.referenced_objects``,
    ``content.document_title``). ``transfer_syntax_uid`` None: explicit VR little endian. highdicom's
    refusals become FormatError."""
    from .sr import _highdicom

    hd = _highdicom()
    options = dict(_kwargs)
    if transfer_syntax_uid is not None:
        options["transfer_syntax_uid"] = transfer_syntax_uid
    try:
        return hd.ko.KeyObjectSelectionDocument(
            evidence=evidence, content=content, series_instance_uid=series_instance_uid,
            series_number=series_number, sop_instance_uid=sop_instance_uid, instance_number=instance_number,
            manufacturer=manufacturer, institution_name=institution_name,
            institutional_department_name=institutional_department_name,
            requested_procedures=requested_procedures, **options)
    except (ValueError, TypeError, AttributeError) as error:
        raise FormatError(None, f"cannot build the key object selection ({type(error).__name__}: {error})") \
            from None
