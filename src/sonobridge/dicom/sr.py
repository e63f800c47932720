"""Structured reports: TID 1500 Measurement Reports and general Comprehensive SR, built on highdicom.

The highdicom building blocks (:class:`TrackingIdentifier`, :class:`Measurement`,
:class:`ImageRegion`, :class:`MeasurementReport` ...) are highdicom's own classes, imported on first
use. On top of them, dict-level authoring and reading:

* :func:`write_measurement_report` / :func:`read_measurement_report` -- a typed TID 1500 report
  (observer, procedure, measurement groups with tracking identity, findings, ROI, measurements and
  qualitative evaluations) from and to a plain dict; the reader walks the content tree itself, so it
  reads reports written by highdicom or DCMTK too.
* :func:`write_report` / :func:`read_report` -- the same for a flat list of measurements.
* :func:`write_sr` / :func:`content_json` -- any Comprehensive SR content tree from and to a dict.
* :func:`sr_code_meaning`, :func:`sr_validate_code`, :func:`sr_cid_has` -- the PS3.16 concepts
  pydicom ships; :func:`sr_validate` -- structural and coded-concept checks of an SR file.
* Ultrasound: :func:`write_length_report` -- a length drawn in pixels on a US frame, reported in
  millimetres from the image's region calibration (Sequence of Ultrasound Regions). highdicom maps
  image coordinates to physical ones only through plane geometry (Pixel Spacing, Image Position /
  Orientation), which US images do not have.

Codes are ``{"value", "scheme", "meaning"}`` dicts (or ``(value, scheme, meaning)`` tuples, or
pydicom / highdicom codes). Bad input (an unknown code, a point outside the image, a frame beyond
the source) raises :class:`~sonobridge.errors.FormatError` before anything is written; outputs are
written atomically.
"""
from __future__ import annotations

import functools
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import FormatError, MissingDependencyError, SonobridgeError

#: the highdicom.sr classes offered under their own names
_HIGHDICOM = ("TrackingIdentifier", "FindingSite", "Measurement", "QualitativeEvaluation", "SourceImageForRegion",
              "ImageRegion", "ImageRegion3D", "MeasurementsAndQualitativeEvaluations",
              "PlanarROIMeasurementsAndQualitativeEvaluations", "VolumetricROIMeasurementsAndQualitativeEvaluations",
              "PersonObserverIdentifyingAttributes", "DeviceObserverIdentifyingAttributes", "ObserverContext",
              "ObservationContext", "MeasurementReport", "ContentItem", "ContentSequence", "CodedConcept")

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
#: SR storage SOP classes this module reads
SR_CLASSES = frozenset({BASIC_TEXT_SR, ENHANCED_SR, COMPREHENSIVE_SR, COMPREHENSIVE_3D_SR,
                        "1.2.840.10008.5.1.4.1.1.88.35", "1.2.840.10008.5.1.4.1.1.88.40"})

# coded concepts of TID 1500 / 1501 / 300 / 1001 (value, scheme, meaning)
REPORT_TITLE = ("126000", "DCM", "Imaging Measurement Report")
IMAGING_MEASUREMENTS = ("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = ("125007", "DCM", "Measurement Group")
TRACKING_ID = ("112039", "DCM", "Tracking Identifier")
TRACKING_UID = ("112040", "DCM", "Tracking Unique Identifier")
FINDING = ("121071", "DCM", "Finding")
FINDING_SITE = ("363698007", "SCT", "Finding Site")
IMAGE_REGION = ("111030", "DCM", "Image Region")
METHOD = ("370129005", "SCT", "Measurement Method")
DERIVATION = ("121401", "DCM", "Derivation")
PROCEDURE_REPORTED = ("121058", "DCM", "Procedure reported")
LANGUAGE = ("121049", "DCM", "Language of Content Item and Descendants")
OBSERVER_TYPE = ("121005", "DCM", "Observer Type")
PERSON, DEVICE = ("121006", "DCM", "Person"), ("121007", "DCM", "Device")
PERSON_NAME = ("121008", "DCM", "Person Observer Name")
DEVICE_UID, DEVICE_NAME = ("121012", "DCM", "Device Observer UID"), ("121013", "DCM", "Device Observer Name")
LENGTH = ("410668003", "SCT", "Length")
MILLIMETRE = ("mm", "UCUM", "millimeter")
IMAGING_PROCEDURE = ("363679005", "SCT", "Imaging procedure")
#: language codes (RFC 5646) -> meaning, for the TID 1204 language item
LANGUAGES = {"en-US": "English, United States", "en": "English", "de": "German", "fr": "French"}
#: concepts a measurement group holds besides measurements and qualitative evaluations
_GROUP_CONCEPTS = {TRACKING_ID[:2], TRACKING_UID[:2], FINDING[:2], FINDING_SITE[:2], IMAGE_REGION[:2],
                   ("G-C0E3", "SRT"), ("126100", "DCM"), ("121058", "DCM")}
#: schemes whose concepts are checked against the PS3.16 table (others, e.g. UCUM or private, are free)
CHECKED_SCHEMES = frozenset({"DCM", "SCT"})


def __getattr__(name: str) -> Any:
    if name in _HIGHDICOM:
        return getattr(_highdicom().sr, name)
    if name == "Code":
        from pydicom.sr.coding import Code

        return Code
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_HIGHDICOM, "Code"})


def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError:
        raise MissingDependencyError(None, "structured reports need highdicom: pip install 'sonobridge[derived]'") \
            from None
    return highdicom


# ---------------------------------------------------------------- codes
def as_code(code: Any, label: str | None = None) -> dict[str, str]:
    """``{"value", "scheme", "meaning"}`` from a dict, a ``(value, scheme, meaning)`` tuple, or a
    pydicom / highdicom code; raises FormatError for anything else."""
    if isinstance(code, Mapping):
        parts = code.get("value"), code.get("scheme"), code.get("meaning")
    elif isinstance(code, (tuple, list)) and len(code) == 3:
        parts = tuple(code)
    elif hasattr(code, "scheme_designator"):
        parts = code.value, code.scheme_designator, code.meaning
    elif hasattr(code, "CodeValue"):
        parts = code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning
    else:
        raise FormatError(label, f"not a code: {code!r} (expected {{value, scheme, meaning}})")
    if not all(isinstance(part, str) and part for part in parts):
        raise FormatError(label, f"incomplete code {code!r}: value, scheme and meaning are needed")
    return {"value": parts[0], "scheme": parts[1], "meaning": parts[2]}


@functools.cache
def _concepts() -> dict[tuple[str, str], tuple[tuple[str, ...], frozenset[int]]]:
    """(scheme, value) -> (meanings, context groups) from pydicom's PS3.16 tables (a concept can be
    listed under several keywords, with different meanings: the first is the preferred one)."""
    from pydicom.sr._concepts_dict import concepts

    table: dict[tuple[str, str], tuple[tuple[str, ...], frozenset[int]]] = {}
    for scheme, keywords in concepts.items():
        for entries in keywords.values():
            for value, (meaning, cids) in entries.items():
                meanings, groups = table.get((scheme, value), ((), frozenset()))
                table[(scheme, value)] = (meanings + (meaning,) * (meaning not in meanings), groups | set(cids))
    return table


def sr_code_meaning(scheme: str, value: str) -> str | None:
    """The Code Meaning of the coded concept ``(scheme, value)`` in the DICOM PS3.16 Content Mapping
    Resource (pydicom's tables), or None when the concept is unknown.

    >>> sr_code_meaning("DCM", "126000")
    'Imaging Measurement Report'
    """
    entry = _concepts().get((str(scheme), str(value)))
    return entry[0][0] if entry else None


def _plain(meaning: str) -> str:
    """A Code Meaning without its SNOMED semantic tag ("Source (attribute)" -> "source")."""
    return re.sub(r"\s*\([a-z ]+\)$", "", str(meaning)).casefold()


def _meaning_matches(scheme: str, value: str, meaning: str) -> bool:
    entry = _concepts().get((str(scheme), str(value)))
    return entry is not None and _plain(meaning) in {_plain(m) for m in entry[0]}


def sr_validate_code(scheme: str, value: str, meaning: str | None = None) -> bool:
    """True if ``(scheme, value)`` is a known concept and, when ``meaning`` is given, one of its Code
    Meanings matches (case-insensitively)."""
    known = sr_code_meaning(scheme, value)
    return known is not None and (meaning is None or _meaning_matches(scheme, value, meaning))


def sr_cid_has(cid: int, scheme: str, value: str) -> bool:
    """True if the concept ``(scheme, value)`` is a member of Context Group ``cid``
    (``sr_cid_has(7469, "SCT", "410668003")``: Length is a generic intensity/size measurement)."""
    entry = _concepts().get((str(scheme), str(value)))
    return entry is not None and int(cid) in entry[1]


def check_code(code: Any, label: str | None = None, what: str = "code") -> dict[str, str]:
    """``code`` as a dict, refused (FormatError) when its scheme is one of :data:`CHECKED_SCHEMES`
    and the concept is unknown there."""
    code = as_code(code, label)
    if code["scheme"] in CHECKED_SCHEMES and sr_code_meaning(code["scheme"], code["value"]) is None:
        raise FormatError(label, f"unknown {what} ({code['value']}, {code['scheme']}, {code['meaning']!r}): "
                                 "not in the DICOM PS3.16 concepts")
    return code


def _hd_code(code: Mapping[str, str]) -> Any:
    return _highdicom().sr.CodedConcept(code["value"], code["scheme"], code["meaning"])


def _code_of(item: Any) -> dict[str, str] | None:
    """The code of a code-sequence item (None when absent)."""
    if item is None:
        return None
    return {"value": str(item.get("CodeValue", "") or item.get("LongCodeValue", "") or item.get("URNCodeValue", "")),
            "scheme": str(item.get("CodingSchemeDesignator", "")), "meaning": str(item.get("CodeMeaning", ""))}


def _concept(item: Any) -> dict[str, str] | None:
    sequence = item.get("ConceptNameCodeSequence")
    return _code_of(sequence[0]) if sequence else None


def _is(code: Mapping[str, str] | None, concept: tuple[str, str, str]) -> bool:
    return code is not None and (code["value"], code["scheme"]) == concept[:2]


# ---------------------------------------------------------------- ultrasound calibration
def frame_check(ds: Any, frame: int | None, label: str | None) -> int | None:
    """``frame`` (1-based) checked against the source's Number of Frames (None: single-frame image,
    or frame 1 of a multi-frame one)."""
    from .derived import frame_count

    frames = frame_count(ds)
    if frame is None:
        return 1 if "NumberOfFrames" in ds else None
    if not 1 <= int(frame) <= frames:
        raise FormatError(label, f"frame {frame} is beyond the source's {frames} frame(s) (frames count from 1)")
    return int(frame) if "NumberOfFrames" in ds else None


def point_check(ds: Any, points: Sequence[tuple[float, float]], label: str | None) -> None:
    """Refuse points (column, row; pixel units, 0 = the first pixel's left/top edge) outside the image."""
    rows, columns = int(ds.Rows), int(ds.Columns)
    for column, row in points:
        if not (math.isfinite(column) and math.isfinite(row) and 0 <= column <= columns and 0 <= row <= rows):
            raise FormatError(label, f"point ({column:g}, {row:g}) is outside the {columns} x {rows} image")


def pixel_size_m(ds: Any, points: Sequence[tuple[float, float]], label: str | None = None) -> tuple[float, float]:
    """The physical size (metres, along columns and rows) of a pixel where ``points`` lie: the
    calibrated 2D tissue region of the ultrasound region sequence holding all of them, else the
    image's Pixel Spacing / Imager Pixel Spacing (mm). Raises FormatError when the image has no
    calibration there.

    Returns
    -------
    (dx, dy) : tuple of float
        Positive pixel width and height in metres.
    """
    from .ultrasound import us_regions

    for region in us_regions(ds):
        inside = all(region.x0 <= c <= region.x1 + 1 and region.y0 <= r <= region.y1 + 1 for c, r in points)
        if region.is_tissue_2d and inside:
            return abs(region.delta_x), abs(region.delta_y)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        spacing = ds.get(keyword)
        if spacing and len(spacing) == 2 and all(float(v) > 0 for v in spacing):
            return float(spacing[1]) * 1e-3, float(spacing[0]) * 1e-3
    raise FormatError(label, "no calibration for these points: no 2D ultrasound region in metres holds them "
                             "and the image has no Pixel Spacing")


def length_mm(ds: Any, points: Sequence[tuple[float, float]], label: str | None = None) -> float:
    """The length (mm) of the polyline ``points`` (column, row pixel coordinates) on ``ds``."""
    point_check(ds, points, label)
    dx, dy = pixel_size_m(ds, points, label)
    return sum(math.hypot((c1 - c0) * dx, (r1 - r0) * dy)
               for (c0, r0), (c1, r1) in zip(points, points[1:])) * 1e3


# ---------------------------------------------------------------- TID 1500 authoring
def _identity(document: Mapping[str, Any], source: Any) -> Any:
    """A minimal evidence-like dataset carrying the report's patient / study identity
    (from ``source`` when given, explicit fields of ``document`` first)."""
    from pydicom.dataset import Dataset

    from .derived import PATIENT_STUDY
    from .uid import generate_uid

    ds = Dataset()
    for keyword in PATIENT_STUDY:
        setattr(ds, keyword, source.get(keyword, "") if source is not None else "")
    for key, keyword in (("patient_name", "PatientName"), ("patient_id", "PatientID"),
                         ("study_uid", "StudyInstanceUID"), ("study_date", "StudyDate")):
        if document.get(key):
            setattr(ds, keyword, str(document[key]))
    if not ds.StudyInstanceUID:
        ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(ds.PatientID), str(ds.PatientName), "study"])
    # highdicom takes the identity from its first evidence item, which must look like an instance
    ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    ds.SOPClassUID = COMPREHENSIVE_3D_SR
    return ds


def _evidence(groups: Sequence[Mapping[str, Any]], identity: Any, sources: Sequence[Any]) -> list[Any]:
    """Evidence datasets for every image an ROI references: the given sources, else a stand-in with
    the reference's UIDs (Series UID given as ``ref_series_uid`` or derived from the instance UID)."""
    from pydicom.dataset import Dataset

    from .uid import generate_uid

    evidence = [identity, *sources]
    known = {str(s.SOPInstanceUID) for s in sources}
    for group in groups:
        roi = group.get("roi") or {}
        uid = roi.get("ref_sop_instance_uid")
        if not uid or uid in known:
            continue
        item = Dataset()
        item.StudyInstanceUID = roi.get("ref_study_uid") or identity.StudyInstanceUID
        item.SeriesInstanceUID = roi.get("ref_series_uid") or generate_uid(entropy_srcs=[uid, "series"])
        item.SOPClassUID, item.SOPInstanceUID = roi["ref_sop_class_uid"], uid
        evidence.append(item)
        known.add(uid)
    return evidence


def _roi(roi: Mapping[str, Any], sources: Sequence[Any], label: str | None) -> Any:
    """highdicom ImageRegion / ImageRegion3D for an ROI dict; points and frames checked against the
    referenced source when it is one of ``sources``."""
    import numpy as np

    hd = _highdicom()
    graphic_type = str(roi.get("graphic_type", "")).upper()
    data = [float(v) for v in roi.get("scoord", [])]
    if roi.get("is_3d"):
        if not roi.get("frame_of_reference_uid"):
            raise FormatError(label, "a 3D ROI needs frame_of_reference_uid")
        return hd.sr.ImageRegion3D(graphic_type, np.array(data).reshape(-1, 3), roi["frame_of_reference_uid"])
    if not roi.get("ref_sop_instance_uid") or not roi.get("ref_sop_class_uid"):
        raise FormatError(label, "a 2D ROI needs ref_sop_class_uid and ref_sop_instance_uid (the image it is drawn on)")
    if len(data) % 2 or not data:
        raise FormatError(label, f"ROI scoord needs (column, row) pairs, got {len(data)} value(s)")
    points = np.array(data).reshape(-1, 2)
    frames = [int(f) for f in roi.get("ref_frames") or []]
    for source in sources:
        if str(source.SOPInstanceUID) == roi["ref_sop_instance_uid"]:
            point_check(source, [tuple(p) for p in points], label)
            for frame in frames:
                frame_check(source, frame, label)
    image = hd.sr.SourceImageForRegion(roi["ref_sop_class_uid"], roi["ref_sop_instance_uid"],
                                       referenced_frame_numbers=frames or None)
    return hd.sr.ImageRegion(graphic_type, points, image,
                             pixel_origin_interpretation="FRAME" if frames else None)


def _measurement(measurement: Mapping[str, Any], label: str | None) -> Any:
    hd = _highdicom()
    try:
        value = float(measurement["value"])
    except (KeyError, TypeError, ValueError):
        raise FormatError(label, f"measurement without a numeric value: {measurement!r}") from None
    if not math.isfinite(value):
        raise FormatError(label, f"measurement value {value} is not finite")
    optional = {key: _hd_code(check_code(measurement[key], label, key)) for key in ("method", "derivation")
                if measurement.get(key)}
    sites = [hd.sr.FindingSite(_hd_code(check_code(s, label, "finding site")))
             for s in measurement.get("finding_sites") or []]
    return hd.sr.Measurement(name=_hd_code(check_code(measurement.get("name"), label, "measurement name")),
                             value=value, unit=_hd_code(as_code(measurement.get("unit"), label)),
                             finding_sites=sites or None, **optional)


def _group(group: Mapping[str, Any], sources: Sequence[Any], label: str | None) -> Any:
    hd = _highdicom()
    from .uid import generate_uid

    tracking = hd.sr.TrackingIdentifier(uid=group.get("tracking_uid") or generate_uid(),
                                        identifier=str(group.get("tracking_id") or "Measurement group"))
    common = dict(
        tracking_identifier=tracking,
        finding_type=_hd_code(check_code(group["finding"], label, "finding")) if group.get("finding") else None,
        finding_sites=[hd.sr.FindingSite(_hd_code(check_code(s, label, "finding site")))
                       for s in group.get("finding_sites") or []] or None,
        measurements=[_measurement(m, label) for m in group.get("measurements") or []] or None,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(_hd_code(check_code(q.get("name"), label, "evaluation name")),
                                        _hd_code(check_code(q.get("value"), label, "evaluation value")))
            for q in group.get("qualitative_evaluations") or []] or None)
    if not common["measurements"] and not common["qualitative_evaluations"]:
        raise FormatError(label, f"measurement group {group.get('tracking_id')!r} has no measurements or evaluations")
    roi = group.get("roi")
    if not roi:
        return hd.sr.MeasurementsAndQualitativeEvaluations(**common)
    region = _roi(roi, sources, label)
    if roi.get("is_3d"):
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(referenced_regions=[region], **common)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(referenced_region=region, **common)


def _observation_context(document: Mapping[str, Any], label: str | None) -> Any:
    hd = _highdicom()
    observer = document.get("observer")
    if not observer:
        return hd.sr.ObservationContext()
    kind = str(observer.get("type", "device")).lower()
    if kind == "person":
        context = hd.sr.ObserverContext(_hd_code(as_code(PERSON)), hd.sr.PersonObserverIdentifyingAttributes(
            name=str(observer.get("name") or "Anonymous")))
        return hd.sr.ObservationContext(observer_person_context=context)
    if kind != "device":
        raise FormatError(label, f"observer type {kind!r} is neither 'person' nor 'device'")
    from .uid import generate_uid

    attributes = hd.sr.DeviceObserverIdentifyingAttributes(uid=observer.get("uid") or generate_uid(),
                                                           name=observer.get("name") or None)
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(_hd_code(as_code(DEVICE)),
                                                                                  attributes))


def measurement_report_dataset(document: Mapping[str, Any], *, reference: Any = None,
                               label: str | None = None) -> Any:
    """The TID 1500 Comprehensive 3D SR dataset of ``document`` (see :func:`write_measurement_report`);
    every code and ROI is checked first (FormatError)."""
    from .derived import load_sources

    if not isinstance(document, Mapping):
        raise FormatError(label, "a measurement report is a dict with patient/study fields and groups")
    sources = load_sources(reference) if reference is not None else []
    groups = list(document.get("groups") or [])
    if not groups:
        raise FormatError(label, "a measurement report needs at least one measurement group")
    language = str(document.get("language") or "en-US")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        return _report_dataset(document, sources, groups, language, label)


def _report_dataset(document: Mapping[str, Any], sources: list[Any], groups: list[Any], language: str,
                    label: str | None) -> Any:
    from .uid import generate_uid

    hd = _highdicom()
    try:
        report = hd.sr.MeasurementReport(
            observation_context=_observation_context(document, label),
            procedure_reported=_hd_code(check_code(document.get("procedure_reported") or IMAGING_PROCEDURE,
                                                   label, "procedure")),
            imaging_measurements=[_group(g, sources, label) for g in groups],
            language_of_content_item_and_descendants=hd.sr.LanguageOfContentItemAndDescendants(
                hd.sr.CodedConcept(language, "RFC5646", LANGUAGES.get(language, language))))
        identity = _identity(document, sources[0] if sources else None)
        evidence = _evidence(groups, identity, sources)
        series_uid = document.get("series_uid") or generate_uid()
        ds = hd.sr.Comprehensive3DSR(evidence=evidence, content=report, series_instance_uid=series_uid,
                                     series_number=int(document.get("series_number", 1)),
                                     sop_instance_uid=generate_uid(), instance_number=1,
                                     manufacturer="sonobridge", is_complete=True)
    except SonobridgeError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise FormatError(label, f"cannot build the measurement report ({type(error).__name__}: {error})") from None
    # the stand-in for the patient/study identity is not evidence of anything
    _drop_identity_evidence(ds, identity)
    return ds


def _drop_identity_evidence(ds: Any, identity: Any) -> None:
    """Remove the identity stand-in (it stands for no instance) from the evidence sequences."""
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        studies = ds.get(keyword)
        if not studies:
            continue
        for study in studies:
            for series in study.ReferencedSeriesSequence:
                series.ReferencedSOPSequence = [i for i in series.ReferencedSOPSequence
                                                if i.ReferencedSOPInstanceUID != identity.SOPInstanceUID]
            study.ReferencedSeriesSequence = [s for s in study.ReferencedSeriesSequence if s.ReferencedSOPSequence]
        kept = [s for s in studies if s.ReferencedSeriesSequence]
        if kept:
            setattr(ds, keyword, kept)
        else:
            del ds[keyword]


def write_measurement_report(document: Mapping[str, Any], *, reference: Any = None,
                             output: str | os.PathLike | None = None) -> bytes | None:
    """Author a typed TID 1500 Measurement Report (Comprehensive 3D SR, via highdicom).

    Parameters
    ----------
    document : dict
        ``patient_name`` / ``patient_id`` / ``study_uid`` / ``study_date`` / ``series_uid``; optional
        ``observer`` = ``{type: "device"|"person", name, uid}``, ``procedure_reported`` (a code),
        ``language`` (default ``"en-US"``); and ``groups``, each ``{tracking_id, tracking_uid,
        finding?, finding_sites?[], roi?, measurements[], qualitative_evaluations?[]}``. A measurement
        is ``{name, value, unit, method?, derivation?, finding_sites?[]}`` (codes; ``value`` a float
        in ``unit``); an ROI is ``{graphic_type, scoord: [c0, r0, c1, r1, ...], ref_sop_class_uid,
        ref_sop_instance_uid, ref_frames?: [1-based frame numbers]}`` in pixel coordinates of the
        referenced image, or ``{graphic_type, scoord: [x, y, z, ...], is_3d: True,
        frame_of_reference_uid}``. A qualitative evaluation is ``{name, value}`` (codes).
    reference : path, Dataset or list, optional
        The measured image(s): the report joins their study and lists them as evidence; ROI points
        and frames are checked against them.
    output : path, optional
        Write the SR there (atomically) and return None; if omitted, return Part-10 bytes.

    Raises
    ------
    FormatError
        An unknown DCM/SCT code, a point outside the image, a frame beyond the source, a group
        without content; nothing is written.
    """
    from .derived import finish, label_of

    label = os.fspath(output) if output is not None else label_of(reference)
    return finish(measurement_report_dataset(document, reference=reference, label=label), output)


# ---------------------------------------------------------------- reading
def _open_sr(path: Any) -> tuple[Any, str]:
    from .io import open_dataset

    return open_dataset(path, stop_before_pixels=True)


def _children(item: Any) -> list[Any]:
    return list(item.get("ContentSequence") or [])


def _find(items: Iterable[Any], concept: tuple[str, str, str]) -> list[Any]:
    return [item for item in items if _is(_concept(item), concept)]


def _code_value(item: Any) -> dict[str, str] | None:
    sequence = item.get("ConceptCodeSequence")
    return _code_of(sequence[0]) if sequence else None


def _read_roi(item: Any) -> dict[str, Any]:
    data = [float(v) for v in item.get("GraphicData", [])]
    roi: dict[str, Any] = {"graphic_type": str(item.get("GraphicType", "")), "scoord": data}
    if item.get("ValueType") == "SCOORD3D":
        roi.update(is_3d=True, frame_of_reference_uid=str(item.get("ReferencedFrameOfReferenceUID", "")))
        return roi
    for child in _children(item):
        references = child.get("ReferencedSOPSequence")
        if child.get("ValueType") == "IMAGE" and references:
            reference = references[0]
            roi["ref_sop_class_uid"] = str(reference.ReferencedSOPClassUID)
            roi["ref_sop_instance_uid"] = str(reference.ReferencedSOPInstanceUID)
            frames = reference.get("ReferencedFrameNumber")
            if frames is not None and frames != "":
                roi["ref_frames"] = [int(f) for f in (frames if isinstance(frames, Iterable) else [frames])]
    return roi


def _read_measurement(item: Any) -> dict[str, Any]:
    values = item.get("MeasuredValueSequence") or []
    measure = values[0] if values else None
    units = measure.get("MeasurementUnitsCodeSequence") if measure is not None else None
    result: dict[str, Any] = {"name": _concept(item),
                              "value": float(measure.NumericValue) if measure is not None else None,
                              "unit": _code_of(units[0]) if units else None}
    children = _children(item)
    for key, concept in (("method", METHOD), ("derivation", DERIVATION)):
        found = _find(children, concept)
        if found:
            result[key] = _code_value(found[0])
    sites = [_code_value(c) for c in children if _is(_concept(c), FINDING_SITE) or _is(_concept(c), ("G-C0E3", "SRT", ""))]
    if sites:
        result["finding_sites"] = sites
    return result


def _read_group(group: Any) -> dict[str, Any]:
    items = _children(group)
    result: dict[str, Any] = {}
    for item in _find(items, TRACKING_ID):
        result["tracking_id"] = str(item.get("TextValue", ""))
    for item in _find(items, TRACKING_UID):
        result["tracking_uid"] = str(item.get("UID", ""))
    findings = _find(items, FINDING)
    if findings:
        result["finding"] = _code_value(findings[0])
    sites = [_code_value(i) for i in items if _is(_concept(i), FINDING_SITE) or _is(_concept(i), ("G-C0E3", "SRT", ""))]
    if sites:
        result["finding_sites"] = sites
    regions = [i for i in items if i.get("ValueType") in ("SCOORD", "SCOORD3D")]
    if regions:
        result["roi"] = _read_roi(regions[0])
    result["measurements"] = [_read_measurement(i) for i in items if i.get("ValueType") == "NUM"]
    evaluations = [{"name": _concept(i), "value": _code_value(i)} for i in items
                   if i.get("ValueType") == "CODE" and (_concept(i)["value"], _concept(i)["scheme"]) not in _GROUP_CONCEPTS]
    if evaluations:
        result["qualitative_evaluations"] = evaluations
    return result


def _read_observer(items: Sequence[Any]) -> dict[str, Any] | None:
    types = _find(items, OBSERVER_TYPE)
    kind = _code_value(types[0]) if types else None
    if kind is None:
        return None
    if _is(kind, PERSON):
        names = _find(items, PERSON_NAME)
        return {"type": "person", "name": str(names[0].get("PersonName", "")) if names else ""}
    observer: dict[str, Any] = {"type": "device"}
    uids, names = _find(items, DEVICE_UID), _find(items, DEVICE_NAME)
    observer["uid"] = str(uids[0].get("UID", "")) if uids else ""
    if names:
        observer["name"] = str(names[0].get("TextValue", ""))
    return observer


def _document_identity(ds: Any) -> dict[str, Any]:
    return {"patient_name": str(ds.get("PatientName", "") or ""), "patient_id": str(ds.get("PatientID", "") or ""),
            "study_uid": str(ds.get("StudyInstanceUID", "")), "study_date": str(ds.get("StudyDate", "") or ""),
            "series_uid": str(ds.get("SeriesInstanceUID", ""))}


def read_measurement_report(path: Any) -> dict[str, Any]:
    """The typed TID 1500 Measurement Report of an SR file: the document identity, ``observer``,
    ``procedure_reported``, ``language`` and ``groups`` in the shape :func:`write_measurement_report`
    takes (``groups`` empty when ``path`` is not a measurement report). Reads reports written by
    highdicom or DCMTK as well.

    Raises
    ------
    UnsupportedInputError, FormatError
        When ``path`` is missing, not DICOM, or damaged.
    """
    from ..errors import read_faults

    ds, label = _open_sr(path)
    result = _document_identity(ds)
    result["groups"] = []
    with read_faults(label, "unreadable SR content"):
        root = _children(ds)
        observer = _read_observer(root)
        if observer:
            result["observer"] = observer
        procedures = _find(root, PROCEDURE_REPORTED)
        if procedures:
            result["procedure_reported"] = _code_value(procedures[0])
        languages = _find(root, LANGUAGE)
        if languages:
            result["language"] = _code_value(languages[0])["value"]
        for container in _find(root, IMAGING_MEASUREMENTS):
            result["groups"] += [_read_group(g) for g in _find(_children(container), MEASUREMENT_GROUP)]
    return result


# ---------------------------------------------------------------- flat measurement lists
def _flat_to_groups(measurements: Sequence[Mapping[str, Any]], label: str | None) -> list[dict[str, Any]]:
    from .uid import generate_uid

    groups = []
    for index, flat in enumerate(measurements, 1):
        if not isinstance(flat, Mapping):
            raise FormatError(label, f"measurement {index} is not a dict")
        group: dict[str, Any] = {
            "tracking_id": str(flat.get("tracking_id") or f"Measurement {index}"),
            "tracking_uid": flat.get("tracking_uid") or generate_uid(),
            "measurements": [{"name": (flat.get("concept_value"), flat.get("concept_scheme"),
                                       flat.get("concept_meaning")),
                              "value": flat.get("value"),
                              "unit": (flat.get("unit_code"), "UCUM", flat.get("unit_meaning") or flat.get("unit_code"))}]}
        if flat.get("ref_sop_instance_uid") and flat.get("scoord"):
            group["roi"] = {"graphic_type": flat.get("graphic_type") or "POLYLINE", "scoord": list(flat["scoord"]),
                            "ref_sop_class_uid": flat.get("ref_sop_class_uid"),
                            "ref_sop_instance_uid": flat["ref_sop_instance_uid"]}
            if flat.get("ref_frames"):
                group["roi"]["ref_frames"] = list(flat["ref_frames"])
        groups.append(group)
    return groups


def write_report(measurements, *, reference=None, patient_name="", patient_id="", study_uid="", study_date="",
                 series_uid="", output=None):
    """Author a TID 1500 Measurement Report SR from a flat list of measurements.

    Parameters
    ----------
    measurements : list of dict, or dict
        Each ``{concept_value, concept_scheme, concept_meaning, value, unit_code, unit_meaning,
        ref_sop_class_uid?, ref_sop_instance_uid?, graphic_type?, scoord?, ref_frames?,
        tracking_id?, tracking_uid?}``; one measurement group each. ``scoord`` (``[c0, r0, c1, r1,
        ...]`` pixels) is recorded only with ``ref_sop_instance_uid``. Or a whole document as
        :func:`read_report` returns it.
    reference : path or Dataset, optional
        The measured image: patient and study identity are inherited from it (explicit keywords win).
    output : path, optional
        Write there and return None; else return Part-10 bytes.
    """
    if isinstance(measurements, Mapping):
        document = dict(measurements)
        measurements = document.pop("measurements", [])
    else:
        document = {}
    explicit = {"patient_name": patient_name, "patient_id": patient_id, "study_uid": study_uid,
                "study_date": study_date, "series_uid": series_uid}
    document.update({key: value for key, value in explicit.items() if value})
    label = os.fspath(output) if output is not None else None
    document["groups"] = _flat_to_groups(list(measurements), label)
    return write_measurement_report(document, reference=reference, output=output)


def read_report(path: Any) -> dict[str, Any]:
    """The measurements of a TID 1500 Measurement Report as :func:`write_report` takes them:
    ``{patient_name, patient_id, study_uid, study_date, series_uid, measurements: [...]}``."""
    report = read_measurement_report(path)
    flat = []
    for group in report["groups"]:
        roi = group.get("roi") or {}
        for measurement in group["measurements"]:
            entry: dict[str, Any] = {
                "concept_value": measurement["name"]["value"], "concept_scheme": measurement["name"]["scheme"],
                "concept_meaning": measurement["name"]["meaning"], "value": measurement["value"],
                "unit_code": measurement["unit"]["value"], "unit_meaning": measurement["unit"]["meaning"],
                "tracking_id": group.get("tracking_id"), "tracking_uid": group.get("tracking_uid")}
            if roi.get("ref_sop_instance_uid"):
                entry.update(ref_sop_class_uid=roi["ref_sop_class_uid"], ref_sop_instance_uid=roi["ref_sop_instance_uid"],
                             graphic_type=roi["graphic_type"], scoord=roi["scoord"])
                if roi.get("ref_frames"):
                    entry["ref_frames"] = roi["ref_frames"]
            flat.append(entry)
    return {**{k: report[k] for k in ("patient_name", "patient_id", "study_uid", "study_date", "series_uid")},
            "measurements": flat}


# ---------------------------------------------------------------- ultrasound length
def write_length_report(source: Any, points: Sequence[tuple[float, float]], *, frame: int | None = None,
                        tracking_id: str = "Length 1", tracking_uid: str | None = None,
                        output: str | os.PathLike | None = None) -> bytes | None:
    """A TID 1500 report of one length drawn on an ultrasound (or pixel-spaced) image.

    Parameters
    ----------
    source : path or Dataset
        The measured image (single- or multi-frame).
    points : sequence of (column, row)
        The polyline in pixel coordinates of the image (two points: a distance).
    frame : int, optional
        The 1-based frame it is drawn on (multi-frame sources; default frame 1).
    tracking_id, tracking_uid : str, optional
        The measurement group's tracking identity (a UID is generated when not given).
    output : path, optional
        Write the SR there (atomically) and return None; else return Part-10 bytes.

    The length is reported in millimetres, from the ultrasound region calibration holding the
    points (Physical Delta X/Y) or from Pixel Spacing; FormatError (nothing written) when a point
    lies outside the image, the frame is beyond the source, or the image has no calibration there.
    """
    from .derived import finish, label_of, load_sources

    label = label_of(source)
    ds = load_sources(source)[0]
    points = [(float(c), float(r)) for c, r in points]
    if len(points) < 2:
        raise FormatError(label, "a length needs at least two points")
    frame = frame_check(ds, frame, label)
    value = length_mm(ds, points, label)
    from .uid import generate_uid

    roi = {"graphic_type": "POLYLINE", "scoord": [v for p in points for v in p],
           "ref_sop_class_uid": str(ds.SOPClassUID), "ref_sop_instance_uid": str(ds.SOPInstanceUID)}
    if frame is not None:
        roi["ref_frames"] = [frame]
    document = {"series_uid": generate_uid(), "observer": {"type": "device", "name": "sonobridge"},
                "groups": [{"tracking_id": tracking_id, "tracking_uid": tracking_uid or generate_uid(),
                            "roi": roi, "measurements": [{"name": LENGTH, "value": value, "unit": MILLIMETRE}]}]}
    dataset = measurement_report_dataset(document, reference=[ds], label=label)
    return finish(dataset, output)


# ---------------------------------------------------------------- general SR trees
_VALUE_TYPES = frozenset({"CONTAINER", "CODE", "NUM", "TEXT", "DATETIME", "DATE", "TIME", "UIDREF", "PNAME",
                          "IMAGE", "COMPOSITE", "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD"})
_RELATIONSHIPS = frozenset({"CONTAINS", "HAS PROPERTIES", "HAS OBS CONTEXT", "HAS ACQ CONTEXT", "INFERRED FROM",
                            "SELECTED FROM", "HAS CONCEPT MOD"})


def _tree_item(node: Mapping[str, Any], label: str | None, where: str) -> Any:
    """One content item dataset of a :func:`write_sr` node (and its children)."""
    from pydicom.dataset import Dataset

    from .derived import code_item

    value_type = str(node.get("value_type", "")).upper()
    if value_type not in _VALUE_TYPES:
        raise FormatError(label, f"{where}: unknown value_type {node.get('value_type')!r}")
    item = Dataset()
    if node.get("relationship"):
        relationship = str(node["relationship"]).upper()
        if relationship not in _RELATIONSHIPS:
            raise FormatError(label, f"{where}: unknown relationship {node['relationship']!r}")
        item.RelationshipType = relationship
    item.ValueType = value_type
    if node.get("concept"):
        concept = check_code(node["concept"], label, f"{where} concept")
        item.ConceptNameCodeSequence = [code_item((concept["value"], concept["scheme"], concept["meaning"]))]
    elif value_type not in ("IMAGE", "COMPOSITE", "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD"):
        raise FormatError(label, f"{where}: a {value_type} item needs a concept")
    _fill_value(item, value_type, node, label, where)
    children = node.get("content") or []
    if children:
        item.ContentSequence = [_tree_item(child, label, f"{where}.{n}") for n, child in enumerate(children, 1)]
    return item


def _fill_value(item: Any, value_type: str, node: Mapping[str, Any], label: str | None, where: str) -> None:
    from pydicom.dataset import Dataset

    from .derived import code_item

    if value_type == "CONTAINER":
        item.ContinuityOfContent = str(node.get("continuity", "SEPARATE"))
    elif value_type == "TEXT":
        item.TextValue = str(node.get("text", ""))
    elif value_type == "CODE":
        code = check_code(node.get("code"), label, f"{where} code")
        item.ConceptCodeSequence = [code_item((code["value"], code["scheme"], code["meaning"]))]
    elif value_type == "NUM":
        if node.get("unit") is None or node.get("value") is None:
            raise FormatError(label, f"{where}: a NUM item needs a value and a unit")
        unit = as_code(node["unit"], label)
        measured = Dataset()
        measured.NumericValue = _ds(float(node["value"]))
        measured.MeasurementUnitsCodeSequence = [code_item((unit["value"], unit["scheme"], unit["meaning"]))]
        item.MeasuredValueSequence = [measured]
    elif value_type in ("DATETIME", "DATE", "TIME"):
        setattr(item, value_type.capitalize() if value_type != "DATETIME" else "DateTime",
                str(node.get("datetime", "")))
    elif value_type == "UIDREF":
        item.UID = str(node.get("uid", ""))
    elif value_type == "PNAME":
        item.PersonName = str(node.get("name", ""))
    elif value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        if not node.get("ref_sop_class") or not node.get("ref_sop_instance"):
            raise FormatError(label, f"{where}: an {value_type} item needs ref_sop_class and ref_sop_instance")
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = node["ref_sop_class"], node["ref_sop_instance"]
        if node.get("ref_frames"):
            reference.ReferencedFrameNumber = [int(f) for f in node["ref_frames"]]
        item.ReferencedSOPSequence = [reference]
    elif value_type in ("SCOORD", "SCOORD3D"):
        item.GraphicType = str(node.get("graphic_type", "POINT")).upper()
        item.GraphicData = [float(v) for v in node.get("graphic_data", [])]
        if value_type == "SCOORD3D":
            item.ReferencedFrameOfReferenceUID = str(node.get("frame_of_reference_uid", ""))


def _ds(value: float) -> str:
    from .ultrasound import number_string

    return number_string(value)


def _sr_dataset(document: Mapping[str, Any], root: Any, label: str | None) -> Any:
    """A Comprehensive (3D) SR dataset around the root content item ``root``."""
    from pydicom.dataset import Dataset

    from .derived import new_derived_dataset

    identity = _identity(document, None)
    sop_class = str(document.get("sop_class_uid") or COMPREHENSIVE_SR)
    ds = new_derived_dataset(identity, sop_class, "SR", series_instance_uid=document.get("series_uid"),
                             series_number=int(document.get("series_number", 1)), sop_instance_uid=None,
                             instance_number=1, manufacturer=None, manufacturer_model_name=None,
                             software_versions=None, device_serial_number=None)
    for keyword in ("ManufacturerModelName", "SoftwareVersions", "DeviceSerialNumber", "SeriesDate", "SeriesTime"):
        if keyword in ds:
            del ds[keyword]
    if not ds.StudyTime:
        ds.StudyTime = ""
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.PerformedProcedureCodeSequence = []
    ds.CompletionFlag = str(document.get("completion_flag") or "COMPLETE")
    ds.VerificationFlag = str(document.get("verification_flag") or "UNVERIFIED")
    for element in root:
        ds.add(element)
    evidence = _tree_references(root)
    if evidence:
        study = Dataset()
        study.StudyInstanceUID = ds.StudyInstanceUID
        series = Dataset()
        from .uid import generate_uid

        series.SeriesInstanceUID = str(document.get("evidence_series_uid") or generate_uid(
            entropy_srcs=[*(uid for _, uid in evidence), "series"]))
        references = []
        for sop_class_uid, sop_uid in evidence:
            reference = Dataset()
            reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = sop_class_uid, sop_uid
            references.append(reference)
        series.ReferencedSOPSequence = references
        study.ReferencedSeriesSequence = [series]
        ds.CurrentRequestedProcedureEvidenceSequence = [study]
    return ds


def _tree_references(item: Any) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for child in _children(item):
        for reference in child.get("ReferencedSOPSequence") or []:
            found[str(reference.ReferencedSOPInstanceUID)] = str(reference.ReferencedSOPClassUID)
        for sop_class_uid, uid in _tree_references(child):
            found[uid] = sop_class_uid
    return [(c, u) for u, c in found.items()]


def write_sr(document: Mapping[str, Any], *, output: str | os.PathLike | None = None) -> bytes | None:
    """Author a Comprehensive DICOM SR from a content-tree dict (any template).

    Parameters
    ----------
    document : dict
        ``patient_name`` / ``patient_id`` / ``study_uid`` / ``study_date`` / ``series_uid`` (optional
        ``sop_class_uid`` / ``completion_flag`` / ``verification_flag``), ``title`` (the root
        CONTAINER's concept code) and ``content``: a list of items ``{relationship, value_type,
        concept, ...}`` with per-type fields -- ``text`` (TEXT), ``code`` (CODE), ``value`` +
        ``unit`` (NUM), ``datetime`` (DATETIME/DATE/TIME), ``uid`` (UIDREF), ``name`` (PNAME),
        ``ref_sop_class`` / ``ref_sop_instance`` / ``ref_frames`` (IMAGE), ``graphic_type`` +
        ``graphic_data`` (SCOORD) -- and a nested ``content`` list for children.
    output : path, optional
        Write the SR there (atomically) and return None; else return Part-10 bytes.

    Raises
    ------
    FormatError
        An unknown value type, relationship or DCM/SCT code, a NUM without unit; nothing is written.
    """
    from .derived import finish

    label = os.fspath(output) if output is not None else None
    if not isinstance(document, Mapping) or not document.get("title"):
        raise FormatError(label, "an SR document is a dict with a title code and content")
    root = _tree_item({"value_type": "CONTAINER", "concept": document["title"],
                       "content": document.get("content") or []}, label, "root")
    return finish(_sr_dataset(document, root, label), output)


def _tree_node(item: Any) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if item.get("RelationshipType"):
        node["relationship"] = str(item.RelationshipType)
    value_type = str(item.get("ValueType", ""))
    node["value_type"] = value_type
    if _concept(item):
        node["concept"] = _concept(item)
    if value_type == "TEXT":
        node["text"] = str(item.get("TextValue", ""))
    elif value_type == "CODE":
        node["code"] = _code_value(item)
    elif value_type == "NUM":
        measured = (item.get("MeasuredValueSequence") or [None])[0]
        if measured is not None:
            units = measured.get("MeasurementUnitsCodeSequence")
            node.update(value=float(measured.NumericValue), unit=_code_of(units[0]) if units else None)
    elif value_type in ("DATETIME", "DATE", "TIME"):
        node["datetime"] = str(item.get({"DATETIME": "DateTime", "DATE": "Date", "TIME": "Time"}[value_type], ""))
    elif value_type == "UIDREF":
        node["uid"] = str(item.get("UID", ""))
    elif value_type == "PNAME":
        node["name"] = str(item.get("PersonName", ""))
    elif value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        reference = (item.get("ReferencedSOPSequence") or [None])[0]
        if reference is not None:
            node.update(ref_sop_class=str(reference.ReferencedSOPClassUID),
                        ref_sop_instance=str(reference.ReferencedSOPInstanceUID))
            frames = reference.get("ReferencedFrameNumber")
            if frames is not None and frames != "":
                node["ref_frames"] = [int(f) for f in (frames if isinstance(frames, Iterable) else [frames])]
    elif value_type in ("SCOORD", "SCOORD3D"):
        node.update(graphic_type=str(item.get("GraphicType", "")),
                    graphic_data=[float(v) for v in item.get("GraphicData", [])])
        if value_type == "SCOORD3D":
            node["frame_of_reference_uid"] = str(item.get("ReferencedFrameOfReferenceUID", ""))
    children = _children(item)
    if children:
        node["content"] = [_tree_node(child) for child in children]
    return node


def content_json(path: Any) -> dict[str, Any] | None:
    """The semantic content tree of an SR: the document identity, ``sop_class_uid``, ``title`` and
    ``content`` in the shape :func:`write_sr` takes (so ``write_sr(content_json(x))`` re-authors
    it), or None when ``path`` is not an SR.

    Raises
    ------
    UnsupportedInputError, FormatError
        When ``path`` is missing, not DICOM, or damaged.
    """
    from ..errors import read_faults

    ds, label = _open_sr(path)
    if str(ds.get("SOPClassUID", "")) not in SR_CLASSES and ds.get("Modality") != "SR":
        return None
    with read_faults(label, "unreadable SR content"):
        root = _tree_node(ds)
        return {**_document_identity(ds), "sop_class_uid": str(ds.SOPClassUID),
                "completion_flag": str(ds.get("CompletionFlag", "")),
                "verification_flag": str(ds.get("VerificationFlag", "")),
                "title": root.get("concept"), "content": root.get("content", [])}


def _findings(item: Any, location: str, out: list[dict[str, str]], root: bool = False) -> None:
    def add(severity: str, message: str) -> None:
        out.append({"severity": severity, "location": location, "message": message})

    value_type = str(item.get("ValueType", ""))
    if value_type not in _VALUE_TYPES:
        add("error", f"unknown value type {value_type!r}")
    if root and value_type != "CONTAINER":
        add("error", "the root content item is not a CONTAINER")
    if not root and str(item.get("RelationshipType", "")) not in _RELATIONSHIPS:
        add("error", f"unknown or missing relationship {item.get('RelationshipType')!r}")
    concept = _concept(item)
    if concept is None and value_type not in ("IMAGE", "COMPOSITE", "WAVEFORM", "SCOORD", "SCOORD3D", "TCOORD"):
        add("error", f"a {value_type} item has no concept name")
    codes = [("concept", concept)]
    if value_type == "NUM":
        measured = (item.get("MeasuredValueSequence") or [None])[0]
        if measured is not None and not measured.get("MeasurementUnitsCodeSequence"):
            add("error", "a NUM item has no measurement units")
    if value_type == "CODE":
        value = _code_value(item)
        if value is None:
            add("error", "a CODE item has no code value")
        codes.append(("code", value))
    for what, code in codes:
        if code and code["scheme"] in CHECKED_SCHEMES:
            known = sr_code_meaning(code["scheme"], code["value"])
            if known is None:
                add("warning", f"{what} ({code['value']}, {code['scheme']}) is not a PS3.16 concept")
            elif not _meaning_matches(code["scheme"], code["value"], code["meaning"]):
                add("warning", f"{what} ({code['value']}, {code['scheme']}) means {known!r}, not {code['meaning']!r}")
    for index, child in enumerate(_children(item), 1):
        _findings(child, f"{location}.{index}", out)


def sr_validate(path: Any) -> list[dict[str, str]]:
    """Check an SR file's content tree: the root is a CONTAINER, value types and relationships are
    valid, concepts are named, NUM items have units and CODE items a value (``"error"``), and DCM/SCT
    codes are PS3.16 concepts with their meanings (``"warning"``).

    Returns
    -------
    list of dict
        ``{severity, location, message}`` findings (location ``"1.2.3"``: the root's 2nd child's
        3rd child); empty for a well-formed SR.
    """
    from ..errors import read_faults

    ds, label = _open_sr(path)
    findings: list[dict[str, str]] = []
    with read_faults(label, "unreadable SR content"):
        if "ValueType" not in ds:
            return [{"severity": "error", "location": "1", "message": "no SR content (no Value Type)"}]
        _findings(ds, "1", findings, root=True)
    return findings


def Comprehensive3DSR(evidence, content, series_instance_uid, series_number, sop_instance_uid, instance_number,
                      manufacturer=None, **_kw):
    """highdicom's ``Comprehensive3DSR`` (a TID 1500 SR dataset from ``content``, e.g. a
    :class:`MeasurementReport`, and the ``evidence`` datasets it references); highdicom's refusals
    become FormatError. Extra keywords go to highdicom."""
    hd = _highdicom()
    try:
        return hd.sr.Comprehensive3DSR(evidence=evidence, content=content, series_instance_uid=series_instance_uid,
                                       series_number=series_number, sop_instance_uid=sop_instance_uid,
                                       instance_number=instance_number, manufacturer=manufacturer, **_kw)
    except (ValueError, TypeError, AttributeError) as error:
        raise FormatError(None, f"cannot build the SR ({type(error).__name__}: {error})") from None
