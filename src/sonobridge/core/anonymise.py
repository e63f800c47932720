"""De-identification: the DICOM PS3.15 Basic Application Level Confidentiality Profile
(Annex E, Table E.1-1), table driven, for everything sonobridge writes.

pydicom has no de-identifier, so the profile is applied here to what carries identity in the core
model: DICOM headers kept as DICOM JSON (PS3.18 F.2) in stream metadata, other vendor metadata,
and the recording's wall-clock start. Actions per attribute (:data:`BASIC_PROFILE`):

* ``X`` remove, ``Z`` keep the attribute with an empty value (Type 2 attributes),
* ``U`` replace a UID by another, consistently (the same UID always maps to the same
  replacement, so references between objects survive; the mapping is keyed by a secret, so it
  cannot be reversed by hashing candidate UIDs: ``SONOBRIDGE_ANONYMISE_KEY`` when set, else a
  random key kept in the output folder (:func:`output_key`, ``.sonobridge-anonymise.key``) and
  passed with the work to every worker (:func:`key_scope`), so a cohort run on several processes
  maps a UID the same way everywhere, and again on a re-run).

Beyond the table, stricter than the profile requires and never weaker: every person name (VR
PN), date, time and date-time (DA, TM, DT) is removed, every instance UID (VR UI, except class
and transfer-syntax UIDs) replaced, private attributes (odd groups) and overlays (60xx) removed,
in sequences too. ``PatientIdentityRemoved`` (0012,0062) is set to ``YES`` and the method
recorded in ``DeidentificationMethod`` (0012,0063).

Names carry identity too (``Smith_John_12345/Smith_20230417.dcm``): an anonymised recording is
named by a pseudonym (:func:`pseudonym`, ``recording-<keyed hash>``, stable under the same key)
and keeps no source path in its provenance; outputs are named by the pseudonym and reports list
pseudonyms, with free text (error messages) passed through :func:`scrub_text`.

Writers call :func:`anonymise_recording` before writing (zea, DICOM, video sidecars).
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

METHOD = "PS3.15 Basic Application Confidentiality Profile (sonobridge)"   # LO: <= 64 characters
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")   # CID 7050

#: Table E.1-1 (basic profile column), compact: tag -> (keyword, action). ``D`` (dummy) and
#: ``Z/D``, ``X/Z`` entries are applied as ``Z`` for Type 2 attributes and ``X`` otherwise.
BASIC_PROFILE: dict[int, tuple[str, str]] = {
    0x00020003: ("MediaStorageSOPInstanceUID", "U"),
    0x00080012: ("InstanceCreationDate", "X"),
    0x00080013: ("InstanceCreationTime", "X"),
    0x00080014: ("InstanceCreatorUID", "U"),
    0x00080018: ("SOPInstanceUID", "U"),
    0x00080020: ("StudyDate", "Z"),
    0x00080021: ("SeriesDate", "X"),
    0x00080022: ("AcquisitionDate", "X"),
    0x00080023: ("ContentDate", "Z"),
    0x0008002A: ("AcquisitionDateTime", "X"),
    0x00080030: ("StudyTime", "Z"),
    0x00080031: ("SeriesTime", "X"),
    0x00080032: ("AcquisitionTime", "X"),
    0x00080033: ("ContentTime", "Z"),
    0x00080050: ("AccessionNumber", "Z"),
    0x00080080: ("InstitutionName", "X"),
    0x00080081: ("InstitutionAddress", "X"),
    0x00080082: ("InstitutionCodeSequence", "X"),
    0x00080090: ("ReferringPhysicianName", "Z"),
    0x00080092: ("ReferringPhysicianAddress", "X"),
    0x00080094: ("ReferringPhysicianTelephoneNumbers", "X"),
    0x00080096: ("ReferringPhysicianIdentificationSequence", "X"),
    0x0008009C: ("ConsultingPhysicianName", "X"),
    0x00080201: ("TimezoneOffsetFromUTC", "X"),
    0x00081010: ("StationName", "X"),
    0x00081030: ("StudyDescription", "X"),
    0x0008103E: ("SeriesDescription", "X"),
    0x00081040: ("InstitutionalDepartmentName", "X"),
    0x00081048: ("PhysiciansOfRecord", "X"),
    0x00081049: ("PhysiciansOfRecordIdentificationSequence", "X"),
    0x00081050: ("PerformingPhysicianName", "X"),
    0x00081052: ("PerformingPhysicianIdentificationSequence", "X"),
    0x00081060: ("NameOfPhysiciansReadingStudy", "X"),
    0x00081062: ("PhysiciansReadingStudyIdentificationSequence", "X"),
    0x00081070: ("OperatorsName", "X"),
    0x00081072: ("OperatorIdentificationSequence", "X"),
    0x00081080: ("AdmittingDiagnosesDescription", "X"),
    0x00081084: ("AdmittingDiagnosesCodeSequence", "X"),
    0x00081110: ("ReferencedStudySequence", "X"),
    0x00081111: ("ReferencedPerformedProcedureStepSequence", "X"),
    0x00081120: ("ReferencedPatientSequence", "X"),
    0x00081155: ("ReferencedSOPInstanceUID", "U"),
    0x00081195: ("TransactionUID", "U"),
    0x00082111: ("DerivationDescription", "X"),
    0x00084000: ("IdentifyingComments", "X"),
    0x00080024: ("OverlayDate", "X"),
    0x00080025: ("CurveDate", "X"),
    0x00080034: ("OverlayTime", "X"),
    0x00080035: ("CurveTime", "X"),
    0x00080058: ("FailedSOPInstanceUIDList", "U"),
    0x00081140: ("ReferencedImageSequence", "X"),
    0x00082112: ("SourceImageSequence", "X"),
    0x00100050: ("PatientInsurancePlanCodeSequence", "X"),
    0x00100101: ("PatientPrimaryLanguageCodeSequence", "X"),
    0x00100102: ("PatientPrimaryLanguageModifierCodeSequence", "X"),
    0x00101050: ("InsurancePlanIdentification", "X"),
    0x00101100: ("ReferencedPatientPhotoSequence", "X"),
    0x00102203: ("PatientSexNeutered", "X"),
    0x00102297: ("ResponsiblePerson", "X"),
    0x00102299: ("ResponsibleOrganization", "X"),
    0x00181004: ("PlateID", "X"),
    0x00181005: ("GeneratorID", "X"),
    0x00181007: ("CassetteID", "X"),
    0x00181008: ("GantryID", "X"),
    0x0018700A: ("DetectorID", "X"),
    0x00189424: ("AcquisitionProtocolDescription", "X"),
    0x00200027: ("PyramidLabel", "X"),
    0x00209158: ("FrameComments", "X"),
    0x00280303: ("LongitudinalTemporalInformationModified", "X"),
    0x00321034: ("RequestingServiceCodeSequence", "X"),
    0x00321064: ("RequestedProcedureCodeSequence", "X"),
    0x00321070: ("RequestedContrastAgent", "X"),
    0x00380004: ("ReferencedPatientAliasSequence", "X"),
    0x00380014: ("IssuerOfAdmissionIDSequence", "X"),
    0x00380060: ("ServiceEpisodeID", "X"),
    0x00380062: ("ServiceEpisodeDescription", "X"),
    0x00380500: ("PatientState", "X"),
    0x00384000: ("VisitComments", "X"),
    0x00400001: ("ScheduledStationAETitle", "X"),
    0x00400002: ("ScheduledProcedureStepStartDate", "X"),
    0x00400003: ("ScheduledProcedureStepStartTime", "X"),
    0x00400004: ("ScheduledProcedureStepEndDate", "X"),
    0x00400005: ("ScheduledProcedureStepEndTime", "X"),
    0x00400007: ("ScheduledProcedureStepDescription", "X"),
    0x00400009: ("ScheduledProcedureStepID", "X"),
    0x0040000B: ("ScheduledPerformingPhysicianIdentificationSequence", "X"),
    0x00400010: ("ScheduledStationName", "X"),
    0x00400011: ("ScheduledProcedureStepLocation", "X"),
    0x00400012: ("PreMedication", "X"),
    0x00400250: ("PerformedProcedureStepEndDate", "X"),
    0x00400251: ("PerformedProcedureStepEndTime", "X"),
    0x00400280: ("CommentsOnThePerformedProcedureStep", "X"),
    0x00400555: ("AcquisitionContextSequence", "X"),
    0x00401002: ("ReasonForTheRequestedProcedure", "X"),
    0x00401004: ("PatientTransportArrangements", "X"),
    0x00401005: ("RequestedProcedureLocation", "X"),
    0x00401010: ("NamesOfIntendedRecipientsOfResults", "X"),
    0x00401011: ("IntendedRecipientsOfResultsIdentificationSequence", "X"),
    0x00401101: ("PersonIdentificationCodeSequence", "X"),
    0x00401102: ("PersonAddress", "X"),
    0x00401103: ("PersonTelephoneNumbers", "X"),
    0x00401400: ("RequestedProcedureComments", "X"),
    0x00402001: ("ReasonForTheImagingServiceRequest", "X"),
    0x00402008: ("OrderEnteredBy", "X"),
    0x00402009: ("OrderEntererLocation", "X"),
    0x00402010: ("OrderCallbackPhoneNumber", "X"),
    0x00402400: ("ImagingServiceRequestComments", "X"),
    0x00403001: ("ConfidentialityConstraintOnPatientDataDescription", "X"),
    0x0040A027: ("VerifyingOrganization", "X"),
    0x0040A073: ("VerifyingObserverSequence", "X"),
    0x0040A075: ("VerifyingObserverName", "X"),
    0x0040A078: ("AuthorObserverSequence", "X"),
    0x0040A07A: ("ParticipantSequence", "X"),
    0x0040A07C: ("CustodialOrganizationSequence", "X"),
    0x0040A088: ("VerifyingObserverIdentificationCodeSequence", "X"),
    0x0040DB0C: ("TemplateExtensionOrganizationUID", "U"),
    0x0040DB0D: ("TemplateExtensionCreatorUID", "U"),
    0x00700001: ("GraphicAnnotationSequence", "X"),
    0x00700084: ("ContentCreatorName", "X"),
    0x00700086: ("ContentCreatorIdentificationCodeSequence", "X"),
    0x300E0008: ("ReviewerName", "X"),
    0x40000010: ("Arbitrary", "X"),
    0x40004000: ("TextComments", "X"),
    0x40080042: ("ResultsIDIssuer", "X"),
    0x4008010C: ("InterpretationAuthor", "X"),
    0x4008011A: ("DistributionAddress", "X"),
    0x40080202: ("InterpretationIDIssuer", "X"),
    0x40080300: ("Impressions", "X"),
    0x40084000: ("ResultsComments", "X"),
    0xFFFAFFFA: ("DigitalSignaturesSequence", "X"),
    0x00100010: ("PatientName", "Z"),
    0x00100020: ("PatientID", "Z"),
    0x00100021: ("IssuerOfPatientID", "X"),
    0x00100030: ("PatientBirthDate", "Z"),
    0x00100032: ("PatientBirthTime", "X"),
    0x00100040: ("PatientSex", "Z"),
    0x00101000: ("OtherPatientIDs", "X"),
    0x00101001: ("OtherPatientNames", "X"),
    0x00101002: ("OtherPatientIDsSequence", "X"),
    0x00101005: ("PatientBirthName", "X"),
    0x00101010: ("PatientAge", "X"),
    0x00101020: ("PatientSize", "X"),
    0x00101030: ("PatientWeight", "X"),
    0x00101040: ("PatientAddress", "X"),
    0x00101060: ("PatientMotherBirthName", "X"),
    0x00101080: ("MilitaryRank", "X"),
    0x00101081: ("BranchOfService", "X"),
    0x00101090: ("MedicalRecordLocator", "X"),
    0x00102000: ("MedicalAlerts", "X"),
    0x00102110: ("Allergies", "X"),
    0x00102150: ("CountryOfResidence", "X"),
    0x00102152: ("RegionOfResidence", "X"),
    0x00102154: ("PatientTelephoneNumbers", "X"),
    0x00102160: ("EthnicGroup", "X"),
    0x00102180: ("Occupation", "X"),
    0x001021A0: ("SmokingStatus", "X"),
    0x001021B0: ("AdditionalPatientHistory", "X"),
    0x001021C0: ("PregnancyStatus", "X"),
    0x001021F0: ("PatientReligiousPreference", "X"),
    0x00104000: ("PatientComments", "X"),
    0x00181000: ("DeviceSerialNumber", "X"),
    0x00181002: ("DeviceUID", "U"),
    0x00181030: ("ProtocolName", "X"),
    0x00181400: ("AcquisitionDeviceProcessingDescription", "X"),
    0x0020000D: ("StudyInstanceUID", "U"),
    0x0020000E: ("SeriesInstanceUID", "U"),
    0x00200010: ("StudyID", "Z"),
    0x00200052: ("FrameOfReferenceUID", "U"),
    0x00200200: ("SynchronizationFrameOfReferenceUID", "U"),
    0x00204000: ("ImageComments", "X"),
    0x00209161: ("ConcatenationUID", "U"),
    0x00209164: ("DimensionOrganizationUID", "U"),
    0x00321032: ("RequestingPhysician", "X"),
    0x00321033: ("RequestingService", "X"),
    0x00321060: ("RequestedProcedureDescription", "X"),
    0x00324000: ("StudyComments", "X"),
    0x00380010: ("AdmissionID", "X"),
    0x00380300: ("CurrentPatientLocation", "X"),
    0x00380400: ("PatientInstitutionResidence", "X"),
    0x00400006: ("ScheduledPerformingPhysicianName", "X"),
    0x00400241: ("PerformedStationAETitle", "X"),
    0x00400242: ("PerformedStationName", "X"),
    0x00400243: ("PerformedLocation", "X"),
    0x00400244: ("PerformedProcedureStepStartDate", "X"),
    0x00400245: ("PerformedProcedureStepStartTime", "X"),
    0x00400253: ("PerformedProcedureStepID", "X"),
    0x00400254: ("PerformedProcedureStepDescription", "X"),
    0x00400275: ("RequestAttributesSequence", "X"),
    0x00401001: ("RequestedProcedureID", "X"),
    0x00402016: ("PlacerOrderNumberImagingServiceRequest", "X"),
    0x00402017: ("FillerOrderNumberImagingServiceRequest", "X"),
    0x0040A123: ("PersonName", "X"),
    0x0040A124: ("UID", "U"),
    0x0040A730: ("ContentSequence", "X"),
    0x00880140: ("StorageMediaFileSetUID", "U"),
    0x30060024: ("ReferencedFrameOfReferenceUID", "U"),
}
#: UIDs that name a class or an encoding, not an instance: kept
KEPT_UIDS = {0x00020002, 0x00020010, 0x00020012, 0x00080016, 0x00080062, 0x00081150, 0x0040A170, 0x00041510}
REMOVED_VRS = {"PN", "DA", "DT", "TM"}
IDENTITY_REMOVED, METHOD_TAG = 0x00120062, 0x00120063
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")
KEY_ENV = "SONOBRIDGE_ANONYMISE_KEY"
KEY_FILE = ".sonobridge-anonymise.key"
#: the key in use in this thread/task (:func:`key_scope`); unset: ``SONOBRIDGE_ANONYMISE_KEY`` or a
#: random key of this process (a one-off write with no output folder to keep a key in)
_KEY: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("sonobridge_anonymise_key", default=None)
_PROCESS_KEY = secrets.token_bytes(32)
PSEUDONYM = re.compile(r"^recording-[0-9a-f]{16}$")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: keys of non-DICOM metadata (any case or separator) dropped as identity: the profile's
#: removed/emptied keywords and a few plain names
IDENTIFYING_KEYS = {_normal(keyword) for keyword, action in BASIC_PROFILE.values() if action in "XZ"} | {
    "patient", "birthdate", "dateofbirth", "institution", "physician", "operator", "accession"}


def current_key() -> bytes:
    """The key of the UID mapping and pseudonyms here: the one of :func:`key_scope`, else
    ``SONOBRIDGE_ANONYMISE_KEY``, else this process's random key."""
    return _KEY.get() or os.environ.get(KEY_ENV, "").encode() or _PROCESS_KEY


@contextlib.contextmanager
def key_scope(key: bytes | None) -> Iterator[None]:
    """Use ``key`` (None: leave the current one) for every replacement made inside the block (in
    this thread / task only): what a worker does with the key a run hands it."""
    if key is None:
        yield
        return
    token = _KEY.set(bytes(key))
    try:
        yield
    finally:
        _KEY.reset(token)


def output_key(folder: str | os.PathLike) -> bytes:
    """The anonymisation key of the outputs in ``folder``: ``SONOBRIDGE_ANONYMISE_KEY`` when set,
    else the random key in ``<folder>/.sonobridge-anonymise.key`` (created on first use, atomically,
    readable by its owner only), so a re-run replaces every UID and names every recording as the
    first run did. OSError when the folder cannot hold it; SonobridgeError for a damaged key file."""
    from ..errors import SonobridgeError

    if os.environ.get(KEY_ENV):
        return os.environ[KEY_ENV].encode()
    folder = Path(folder)
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{KEY_FILE.lstrip('.')}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):    # another run made it first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    text = path.read_text(errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise SonobridgeError(path, "not a sonobridge anonymisation key (64 hex digits); remove it to start "
                                    "a new pseudonym mapping")
    return bytes.fromhex(text)


def _keyed(text: str, key: bytes | None) -> bytes:
    return hmac.new(key or current_key(), text.encode(), hashlib.sha256).digest()


def replace_uid(uid: str, key: bytes | None = None) -> str:
    """A new UID (``2.25.<128-bit integer>``, PS3.5 B.2) for ``uid``; the same one for the same
    ``uid`` under the same key (default :func:`current_key`)."""
    return f"2.25.{int.from_bytes(_keyed(uid.strip(), key)[:16], 'big')}"


def pseudonym(label: str, key: bytes | None = None) -> str:
    """``recording-<16 hex digits>``: a keyed hash of ``label`` (a source path or recording name),
    the same under the same key and not reversible without it; a pseudonym is kept as it is."""
    if PSEUDONYM.match(label):
        return label
    return f"recording-{_keyed(label, key).hex()[:16]}"


def identifying_parts(label: str, keep: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Text of a source ``label`` that may name a person: the label, its file name (with and
    without suffixes), both sides of a ``container:member`` label (multi-file captures) and every
    folder name in the path except those of the ``keep`` paths (e.g. the output folder); longest
    first."""
    kept = {part for path in keep for part in Path(path).resolve().parts}
    container, _, prefix = label.rpartition(":")
    paths = [Path(label)] if Path(label).exists() or not container else [Path(container), Path(prefix)]
    paths += [path.resolve() for path in paths if path.exists()]
    parts = {label, *(str(path) for path in paths)}
    for path in paths:
        parts |= {part for part in path.parts if part not in kept} | {path.name.split(".")[0], path.stem}
    return sorted((p for p in parts if len(p.strip("/")) >= 3), key=len, reverse=True)


def scrub_text(text: str, parts: Iterable[str], replacement: str) -> str:
    """``text`` with every occurrence of ``parts`` (not inside a longer word) replaced by
    ``replacement``: free text (error messages) of an anonymised report."""
    for part in parts:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(part)}(?![A-Za-z0-9])", replacement, text)
    return text


def is_dicom_json(value: Any) -> bool:
    """Whether ``value`` is a DICOM JSON dataset ``{"GGGGEEEE": {"vr": ...}, ...}``."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and _TAG.match(k) and isinstance(v, dict) and "vr" in v for k, v in value.items())


def _element(tag: int, element: dict[str, Any]) -> dict[str, Any] | None:
    """The element after the profile (None: removed)."""
    vr = element.get("vr")
    group = tag >> 16
    if group % 2 or 0x6000 <= group <= 0x60FF:
        return None                                       # private attributes, overlays
    action = BASIC_PROFILE.get(tag, (None, None))[1]
    if action is None and vr in REMOVED_VRS:
        action = "X"
    if action is None and vr == "UI" and tag not in KEPT_UIDS:
        action = "U"
    if action == "X":
        return None
    if action == "Z":
        return {"vr": vr}
    if action == "U":
        return {"vr": vr, "Value": [replace_uid(str(v)) for v in element.get("Value", []) if v is not None]}
    if vr == "SQ":
        return {"vr": vr, "Value": [anonymise_dicom_json(item, mark=False) for item in element.get("Value", [])]}
    return dict(element)


def anonymise_dicom_json(header: dict[str, Any], mark: bool = True) -> dict[str, Any]:
    """A DICOM JSON dataset with the profile applied (a new dict; ``mark``: add
    PatientIdentityRemoved YES and the method, as the top-level dataset needs)."""
    out = {}
    for key, element in header.items():
        kept = _element(int(key, 16), element)
        if kept is not None:
            out[key] = kept
    if mark:
        out[f"{IDENTITY_REMOVED:08X}"] = {"vr": "CS", "Value": ["YES"]}
        out[f"{METHOD_TAG:08X}"] = {"vr": "LO", "Value": [METHOD]}
    return dict(sorted(out.items()))


def anonymise_value(value: Any) -> Any:
    """``value`` (vendor metadata, parameters: nested dicts, lists, scalars) with identity removed:
    DICOM JSON datasets through the profile, keys naming identity dropped elsewhere."""
    if is_dicom_json(value):
        return anonymise_dicom_json(value)
    if isinstance(value, dict):
        return {k: anonymise_value(v) for k, v in value.items()
                if not (isinstance(k, str) and _normal(k) in IDENTIFYING_KEYS)}
    if isinstance(value, list):
        return [anonymise_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(anonymise_value(v) for v in value)
    return value


def anonymise_recording(recording, key: bytes | None = None):
    """A copy of ``recording`` to write without identity: metadata and parameters of the
    recording, its streams and signals through :func:`anonymise_value`, no wall-clock start,
    named by its :func:`pseudonym`; frames and clocks (relative times) are the same objects. The
    provenance names no source file (notes mentioning one are dropped) and notes the profile.
    ``key``: of the UID mapping and pseudonym (default :func:`current_key`)."""
    with key_scope(key):
        return _anonymised(recording)


def _anonymised(recording):
    from .recording import Provenance, Recording

    sources = {text for item in (recording.provenance, *(s.provenance for s in recording.streams.values()),
                                 *(s.provenance for s in recording.signals.values())) if item is not None
               for path in item.source_files for text in identifying_parts(path)}
    sources |= set(identifying_parts(recording.name)) if not PSEUDONYM.match(recording.name) else set()

    def provenance(item: Provenance | None) -> Provenance | None:
        if item is None:
            return None
        notes = tuple(note for note in item.notes if not any(part in note for part in sources))
        return replace(item, source_files=(), notes=(*notes, f"anonymised: {METHOD}"))

    streams = {name: replace(stream, clock_source=stream.clock, metadata=anonymise_value(stream.metadata),
                             parameters=anonymise_value(stream.parameters),
                             per_frame=anonymise_value(stream.per_frame), provenance=provenance(stream.provenance))
               for name, stream in recording.streams.items()}
    signals = {name: replace(signal, clock_source=signal.clock, metadata=anonymise_value(signal.metadata),
                             provenance=provenance(signal.provenance))
               for name, signal in recording.signals.items()}
    return Recording(name=pseudonym(recording.name), streams=streams, signals=signals, start_time=None,
                     parameters=anonymise_value(recording.parameters), provenance=provenance(recording.provenance))


def identifying_values(header: dict[str, Any]) -> list[str]:
    """Text of the attributes the profile removes or replaces in a DICOM JSON ``header``
    (names, IDs, dates, UIDs, ...): what must not appear in anonymised outputs."""
    values = []
    for key, element in header.items():
        tag = int(key, 16)
        if _element(tag, element) == element or element.get("vr") == "SQ":
            continue
        for item in element.get("Value", []):
            text = item.get("Alphabetic", "") if isinstance(item, dict) else str(item)
            if text:
                values.append(text)
    return values
