"""DICOM to and from a PACS: push a run's DICOM outputs, pull a study into a folder.

A PACS is named by a URL: ``http(s)://host[:port]/dicom-web`` (DICOMweb: QIDO-RS, WADO-RS,
STOW-RS through :mod:`sonobridge.dicom.dicomweb`) or ``dicom://AET@host:port`` (DIMSE: C-FIND,
C-GET / C-MOVE, C-STORE through :mod:`sonobridge.dicom.dimse`). :func:`endpoint` turns the URL
into a :class:`DicomWebEndpoint` or a :class:`DimseEndpoint`, which offer the same four
operations (:meth:`~Endpoint.echo`, :meth:`~Endpoint.find`, :meth:`~Endpoint.held`,
:meth:`~Endpoint.send`) plus :meth:`~Endpoint.fetch`.

* :func:`push_files` is idempotent: it asks the PACS which SOP Instance UIDs of each study it
  already holds and sends only the others; connection failures are retried with backoff; the
  result is an :class:`~sonobridge.core.outcome.Outcome` (built: sent, hit: all already there,
  error: why).
* :func:`pull` writes each instance of a study as ``<out>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``
  under a temporary name then renamed, so a run killed mid-way leaves only complete files, and
  the next run fetches only what is missing.

The module knows DICOM files and network protocols, not recording formats: the pipeline hands it
the paths its ``dicom`` stage wrote.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..core.outcome import Outcome, Status
from ..errors import NetworkError, SonobridgeError

log = logging.getLogger(__name__)

#: attempts per operation and the first pause between them (doubled each time), seconds
ATTEMPTS, BACKOFF_S = 3, 0.5
#: DICOM JSON tags read from QIDO-RS answers
_TAGS = {"StudyInstanceUID": "0020000D", "SeriesInstanceUID": "0020000E", "SOPInstanceUID": "00080018",
         "PatientID": "00100020", "PatientName": "00100010", "StudyDate": "00080020", "Modality": "00080060",
         "StudyDescription": "00081030", "AccessionNumber": "00080050"}
#: what ``find`` reports per match, by level
FIELDS = {"PATIENT": ("PatientID", "PatientName"),
          "STUDY": ("StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "StudyDescription", "AccessionNumber"),
          "SERIES": ("StudyInstanceUID", "SeriesInstanceUID", "Modality"),
          "IMAGE": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}


class PacsError(NetworkError):
    """The PACS cannot be reached, refused, or failed an operation (the message names the URL)."""


def _retrying(what: str, url: str, operation: Callable[[], Any], attempts: int = ATTEMPTS) -> Any:
    """``operation()``, tried up to ``attempts`` times with a doubling pause on failure; the last
    failure raised as :class:`PacsError` naming ``url``."""
    pause = BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as error:  # noqa: BLE001 - network stacks raise many types; the last one is reported
            if attempt == attempts:
                problem = error.problem if isinstance(error, SonobridgeError) else f"{type(error).__name__}: {error}"
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                raise PacsError(url, f"{what} failed{tries}: {problem}") from None
            log.info("%s: %s failed (%s), retrying in %.1f s", url, what, error, pause)
            time.sleep(pause)
            pause *= 2


class Endpoint:
    """A PACS; subclasses implement the operations for one protocol."""

    url: str
    #: tries per operation (DIMSE: ours; the DICOMweb client retries on its own)
    attempts: int = ATTEMPTS

    def _try(self, what: str, operation: Callable[[], Any]) -> Any:
        return _retrying(what, self.url, operation, self.attempts)

    def echo(self) -> None:
        """Raise :class:`PacsError` unless the PACS answers."""
        raise NotImplementedError

    def find(self, level: str = "STUDY", *, study: str = "", patient: str = "") -> list[dict[str, str]]:
        """Matches at ``level`` (PATIENT, STUDY, SERIES, IMAGE), each ``{keyword: value}`` (:data:`FIELDS`)."""
        raise NotImplementedError

    def held(self, study: str) -> set[str]:
        """The SOP Instance UIDs of ``study`` the PACS holds."""
        return {match["SOPInstanceUID"] for match in self.find("IMAGE", study=study)}

    def send(self, paths: list[Path]) -> dict[str, str]:
        """Store the DICOM files ``paths``; ``{path: problem}`` for those not stored."""
        raise NotImplementedError

    def fetch(self, study: str, instances: list[dict[str, str]], folder: Path) -> None:
        """Write ``instances`` (IMAGE-level matches) of ``study`` into ``folder`` as ``<SOPInstanceUID>.dcm``."""
        raise NotImplementedError


class DimseEndpoint(Endpoint):
    """A DIMSE peer, ``dicom://AET@host:port`` (C-ECHO, C-FIND, C-STORE, C-GET or C-MOVE)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0, move_aet: str = "", move_port: int = 0) -> None:
        from ..dicom import dimse

        self.url, self.timeout_s = url, timeout_s
        try:
            self.peer = dimse.parse_dicom_url(url)
        except dimse.DimseError as error:
            raise PacsError(url, error.problem) from None
        self.move_aet, self.move_port = move_aet, move_port

    def echo(self) -> None:
        from ..dicom import dimse

        status = self._try("C-ECHO", lambda: dimse.echo(self.peer, timeout_s=self.timeout_s))
        if status != 0:
            raise PacsError(self.url, f"C-ECHO answered status 0x{status:04X}")

    def find(self, level: str = "STUDY", *, study: str = "", patient: str = "") -> list[dict[str, str]]:
        from ..dicom import dimse

        level = level.upper()
        query = {name: "" for name in FIELDS[level]}
        query.update({k: v for k, v in (("StudyInstanceUID", study), ("PatientID", patient)) if v})
        found = self._try("C-FIND", lambda: dimse.find(self.peer, query, level, timeout_s=self.timeout_s))
        return [{name: str(getattr(ds, name, "") or "") for name in FIELDS[level]} for ds in found]

    def send(self, paths: list[Path]) -> dict[str, str]:
        from ..dicom import dimse

        results = self._try("C-STORE", lambda: dimse.store_files(self.peer, paths, timeout_s=self.timeout_s))
        return {path: (status if isinstance(status, str) else f"C-STORE status 0x{status:04X}")
                for path, status in results.items() if status != 0}

    def fetch(self, study: str, instances: list[dict[str, str]], folder: Path) -> None:
        from ..dicom import dimse

        method = "move" if self.move_aet else "get"
        options = {"method": method, "move_aet": self.move_aet, "move_port": self.move_port,
                   "timeout_s": self.timeout_s}
        if len(instances) == len(self.held(study)):     # everything missing: one study-level retrieve
            queries = [("STUDY", {"StudyInstanceUID": study})]
        else:
            queries = [("IMAGE", {"StudyInstanceUID": study, "SeriesInstanceUID": i["SeriesInstanceUID"],
                                  "SOPInstanceUID": i["SOPInstanceUID"]}) for i in instances]
        for level, query in queries:
            self._try(f"C-{method.upper()}", lambda: dimse.retrieve(self.peer, query, folder, level=level, **options))


class DicomWebEndpoint(Endpoint):
    """A DICOMweb service, ``http(s)://host[:port]/<base path>`` (QIDO-RS, WADO-RS, STOW-RS)."""

    attempts = 1

    def _try(self, what: str, operation: Callable[[], Any]) -> Any:
        """``operation`` with this endpoint's timeout (the client's own retries and backoff)."""
        with self._web().transport(connect_timeout=min(10.0, self.timeout_s), read_timeout=self.timeout_s):
            return super()._try(what, operation)

    def __init__(self, url: str, *, timeout_s: float = 30.0, auth: str = "") -> None:
        parts = urlsplit(url)
        self.url, self.timeout_s, self.auth = url, timeout_s, auth
        self.server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        self.base_path = parts.path.rstrip("/")

    def _web(self):
        from ..dicom import dicomweb

        return dicomweb

    def _options(self) -> dict[str, Any]:
        return {"base_path": self.base_path, "auth": self.auth}

    def echo(self) -> None:
        self._try("QIDO-RS", lambda: self._web().search_studies(self.server, limit=1, **self._options()))

    def find(self, level: str = "STUDY", *, study: str = "", patient: str = "") -> list[dict[str, str]]:
        web, level = self._web(), level.upper()
        matches = {"PatientID": patient} if patient else {}
        fields = list(FIELDS[level])
        if level in ("STUDY", "PATIENT"):
            if study:
                matches["StudyInstanceUID"] = study
            records = self._try("QIDO-RS", lambda: web.search_studies(
                self.server, matches=matches or None, includefields=fields, **self._options()))
        elif level == "SERIES":
            records = self._try("QIDO-RS", lambda: web.search_series(
                self.server, study, matches=matches or None, includefields=fields, **self._options()))
        else:
            records = self._try("QIDO-RS", lambda: web.search_instances(
                self.server, study, matches=matches or None, includefields=fields, **self._options()))
        rows = [{name: _json_value(record, name) for name in fields} for record in records]
        return list({tuple(row.items()): row for row in rows}.values()) if level == "PATIENT" else rows

    def send(self, paths: list[Path]) -> dict[str, str]:
        web = self._web()
        blobs = [Path(path).read_bytes() for path in paths]
        answer = self._try("STOW-RS", lambda: web.store_instances(self.server, blobs, **self._options()))
        problems = {}
        for entry in (answer or {}).get("failed", []):
            index = entry.get("index")
            path = str(paths[index]) if isinstance(index, int) and 0 <= index < len(paths) else self.url
            reason = entry.get("failure_reason")
            problems[path] = f"STOW-RS failure{f' 0x{reason:04X}' if isinstance(reason, int) else ''}" \
                             f"{': ' + entry['problem'] if entry.get('problem') else ''}"
        return problems

    def fetch(self, study: str, instances: list[dict[str, str]], folder: Path) -> None:
        from ..util.atomic import write_bytes_atomic

        web = self._web()
        for instance in instances:
            data = self._try("WADO-RS", lambda: web.retrieve_instance(
                self.server, study, instance["SeriesInstanceUID"], instance["SOPInstanceUID"], **self._options()))
            write_bytes_atomic(folder / f"{instance['SOPInstanceUID']}.dcm", data)


def _json_value(record: dict, name: str) -> str:
    """``name``'s first value in a DICOM JSON record ("" when absent); a person name as its text."""
    value = (record.get(_TAGS[name]) or {}).get("Value") or [""]
    first = value[0]
    return str(first.get("Alphabetic", "") if isinstance(first, dict) else first)


def endpoint(url: str, *, timeout_s: float = 30.0, auth: str = "", move_aet: str = "",
             move_port: int = 0) -> Endpoint:
    """The PACS at ``url``: ``dicom://AET@host:port`` or ``http(s)://host[:port]/dicom-web``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "dicom":
        return DimseEndpoint(url, timeout_s=timeout_s, move_aet=move_aet, move_port=move_port)
    if scheme in ("http", "https"):
        return DicomWebEndpoint(url, timeout_s=timeout_s, auth=auth)
    raise PacsError(url, "not a PACS address: use dicom://AET@host:port or http(s)://host/dicom-web")


def _identity(path: Path) -> tuple[str, str]:
    """(StudyInstanceUID, SOPInstanceUID) of a DICOM file (its header only)."""
    from pydicom import dcmread

    try:
        ds = dcmread(path, stop_before_pixels=True)
        return str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)
    except Exception as error:  # noqa: BLE001 - a file that cannot be sent is that file's failure
        raise PacsError(path, f"not a DICOM instance with study and SOP instance UIDs ({type(error).__name__})") \
            from None


def push_files(target: Endpoint, paths: Iterable[str | os.PathLike]) -> Outcome:
    """Send the DICOM files ``paths`` to ``target`` unless it already holds them (by SOP
    Instance UID, asked per study). ``built: sent N`` / ``hit`` / ``error: <problem>``."""
    try:
        by_study: dict[str, dict[str, Path]] = {}
        for path in map(Path, paths):
            study, uid = _identity(path)
            by_study.setdefault(study, {})[uid] = path
        missing = []
        for study, files in by_study.items():              # one query per study
            there = target.held(study)
            missing += [path for uid, path in files.items() if uid not in there]
        if not missing:
            return Outcome.hit()
        problems = target.send(missing)
    except SonobridgeError as error:
        return Outcome.error(str(error))
    if problems:
        path, problem = next(iter(problems.items()))
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Outcome.error(f"{target.url}: {Path(path).name}: {problem}{more}")
    return Outcome.of(Status.BUILT, f"sent {len(missing)} to {target.url}")


def pull(target: Endpoint, out_dir: str | os.PathLike, *, study: str = "", patient: str = "") -> dict[str, Any]:
    """Fetch ``study`` (or every study of ``patient``) into ``out_dir/<StudyInstanceUID>/``,
    skipping instances already there (complete: they are written atomically).
    ``{"studies": {uid: {"instances": n, "fetched": n, "folder": path}}}``."""
    if not study and not patient:
        raise PacsError(target.url, "pull needs a study UID or a patient ID")
    studies = [study] if study else sorted({m["StudyInstanceUID"] for m in target.find("STUDY", patient=patient)})
    summary: dict[str, Any] = {"studies": {}}
    for uid in studies:
        folder = Path(out_dir) / uid
        for leftover in folder.glob(".*.partial"):        # a write killed mid-way
            leftover.unlink(missing_ok=True)
        instances = target.find("IMAGE", study=uid)
        if not instances:
            raise PacsError(target.url, f"study {uid} not found (no instances)")
        folder.mkdir(parents=True, exist_ok=True)
        missing = [i for i in instances if not (folder / f"{i['SOPInstanceUID']}.dcm").is_file()]
        if missing:
            target.fetch(uid, missing, folder)
        absent = [i["SOPInstanceUID"] for i in missing if not (folder / f"{i['SOPInstanceUID']}.dcm").is_file()]
        if absent:
            raise PacsError(target.url, f"study {uid}: {len(absent)} instance(s) did not arrive")
        summary["studies"][uid] = {"instances": len(instances), "fetched": len(missing), "folder": str(folder)}
    if not studies:
        raise PacsError(target.url, f"no study found for patient {patient!r}")
    return summary
