"""DICOMweb client (``pydcm.dicomweb``): QIDO-RS search, WADO-RS retrieve, STOW-RS store and the
(non-core) DELETE transaction, over HTTP(S) with :mod:`requests`.

>>> studies = search_studies("http://pacs:8042", base_path="/dicom-web",
...                          matches={"00100020": "PAT001"}, limit=10)       # doctest: +SKIP
>>> blobs = retrieve_series(url, study, series, transfer_syntax="*")         # doctest: +SKIP
>>> for blob in iter_study(url, study): ...                                  # doctest: +SKIP
>>> result = store_instances(url, [open("a.dcm", "rb").read()])             # doctest: +SKIP
>>> result["status"], result["stored"], result["failed"]                     # doctest: +SKIP

``server`` is the service's URL (``https://host/dicom-web``, or ``http://host:8042`` with
``base_path="/dicom-web"``). ``auth`` is an ``Authorization`` header value (``"Bearer <token>"``,
``"Basic <base64>"``) or a ``(user, password)`` pair; user:password in the URL also works.

Transport (not part of the per-call signatures, which follow the reference):
:func:`configure` sets the process-wide defaults and :func:`transport` overrides them within a
``with`` block (:class:`Transport`: connect/read timeouts in seconds, bounded retries with
exponential backoff on 5xx/429 answers and connection errors, TLS verification with a CA bundle or
off, a client certificate). HTTPS verifies the server's certificate by default (``REQUESTS_CA_BUNDLE``
is honoured).

Multipart answers are parsed as they arrive: :func:`iter_study` / :func:`iter_series` hold one
instance at a time (the memory peak is about twice the largest instance plus two chunks of
``Transport.chunk_size``, whatever the study's size). Every failure is a :class:`~sonobridge.errors.NetworkError` naming the URL (``.status`` is the
HTTP status where the server answered), never a raw :mod:`requests` exception.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import io
import json
import logging
import random
import re
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from ..errors import MissingDependencyError, NetworkError

try:
    import requests
except ImportError:                              # pragma: no cover - the network extra is missing
    raise MissingDependencyError(None, "DICOMweb needs requests: pip install 'sonobridge[network]'") from None

__all__ = [
    "search_studies", "search_series", "search_instances",
    "retrieve_study", "retrieve_series", "retrieve_instance",
    "retrieve_study_metadata", "retrieve_series_metadata", "retrieve_instance_metadata",
    "retrieve_frames", "iter_study", "iter_series", "retrieve_bulkdata", "retrieve_rendered",
    "delete_study", "delete_series", "delete_instance", "store_instances",
    "Transport", "configure", "transport", "parse_frames", "json_value",
]

logger = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
#: PS3.4 failure reasons the client reports itself (Table GG.4-1 / B.2-1)
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110
#: transfer syntax -> the media type of its frames (PS3.18 Table 8.7.3-2)
FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg", "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg", "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls", "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2", "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx", "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc", "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc", "1.2.840.10008.1.2.5": "image/dicom-rle",
}
#: HTTP answers that make a request worth repeating
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: answers to a transfer-syntax request that mean "not this encoding": the default is asked for then
SYNTAX_REFUSALS = frozenset({400, 406, 415, 500, 501})


# ------------------------------------------------------------------ transport settings
@dataclasses.dataclass(frozen=True)
class Transport:
    """How requests are made.

    Attributes
    ----------
    connect_timeout, read_timeout : float
        Seconds to wait for the connection, and between two bytes of the answer.
    retries : int
        How many times a request is repeated after a connection error, a timeout or a 5xx/429
        answer (0: never). Only before an answer's body is being read.
    backoff : float
        Seconds before the first repetition; doubled each time (with up to 10 % jitter), at most
        ``max_backoff``. A server's ``Retry-After`` (seconds) is honoured within the same cap.
    max_backoff : float
        Upper bound of one wait, seconds.
    verify : bool or str
        Check the server's TLS certificate (True), against this CA bundle (a path), or not (False).
    cert : str, tuple or None
        Client certificate for mutual TLS: a PEM path holding both, or ``(cert_path, key_path)``.
    chunk_size : int
        Bytes read from the socket at a time when streaming.
    store_batch_bytes : int
        STOW-RS sends instances in requests of at most this many bytes (one instance at least).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    verify: bool | str = True
    cert: str | tuple[str, str] | None = None
    chunk_size: int = 1 << 20
    store_batch_bytes: int = 64 << 20


_DEFAULT = Transport()
_OVERRIDE: contextvars.ContextVar[Transport | None] = contextvars.ContextVar("dicomweb_transport", default=None)
_SESSIONS = threading.local()


def _settings() -> Transport:
    return _OVERRIDE.get() or _DEFAULT


def configure(**changes: Any) -> Transport:
    """Change the process-wide :class:`Transport` defaults (field names as keywords); returns the
    previous settings (pass them back as ``configure(**dataclasses.asdict(previous))``)."""
    global _DEFAULT
    previous = _DEFAULT
    _DEFAULT = dataclasses.replace(_DEFAULT, **changes)
    return previous


@contextlib.contextmanager
def transport(**changes: Any) -> Iterator[Transport]:
    """Within the block, requests of this thread/task use the current settings with ``changes``
    (e.g. ``with transport(read_timeout=5, retries=0, verify="ca.pem"):``)."""
    token = _OVERRIDE.set(dataclasses.replace(_settings(), **changes))
    try:
        yield _OVERRIDE.get()
    finally:
        _OVERRIDE.reset(token)


def _session() -> requests.Session:
    """One pooled session per thread (keep-alive between calls)."""
    session = getattr(_SESSIONS, "session", None)
    if session is None:
        session = _SESSIONS.session = requests.Session()
    return session


# ------------------------------------------------------------------ URLs and headers
def _root(server: str, base_path: str) -> str:
    if not isinstance(server, str) or not re.match(r"https?://", server, re.I):
        raise ValueError(f"server must be an http(s):// URL, not {server!r}")
    root = server.rstrip("/")
    if base_path and base_path.strip("/"):
        root += "/" + base_path.strip("/")
    return root


def _path(root: str, *levels: tuple[str, str]) -> str:
    """``root/studies/<uid>/series/<uid>...`` from (level, uid) pairs; empty uids stop the path."""
    url = root
    for level, uid in levels:
        if not uid:
            break
        url += f"/{level}/{quote(str(uid).strip(), safe='.')}"
    return url


def _headers(auth: Any, accept: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"Accept": accept} if accept else {}
    if auth:
        if isinstance(auth, (tuple, list)) and len(auth) == 2:
            import base64

            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        elif isinstance(auth, str):
            headers["Authorization"] = auth.strip()
        else:
            raise ValueError("auth must be an Authorization header value (\"Bearer ...\") or (user, password)")
    headers.update(extra)
    return headers


def _tag_key(key: Any) -> str:
    """A query key: a keyword or 8-hex tag as given, or an int/Tag as 8 hex digits."""
    if isinstance(key, int):
        return f"{int(key):08X}"
    if isinstance(key, tuple) and len(key) == 2:
        return f"{int(key[0]):04X}{int(key[1]):04X}"
    text = str(key).strip()
    plain = re.fullmatch(r"\(?([0-9A-Fa-f]{4}),?\s*([0-9A-Fa-f]{4})\)?", text)
    return (plain.group(1) + plain.group(2)).upper() if plain else text


def _query(matches: dict | None, includefields: Iterable | None, limit: int, offset: int) -> str:
    """The QIDO-RS query string. Commas, wildcards and UID dots stay literal (servers split lists
    on unescaped commas)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (matches or {}).items():
        if isinstance(value, (list, tuple, set)):
            value = ",".join(str(v) for v in value)
        pairs.append((_tag_key(key), "" if value is None else str(value)))
    if isinstance(includefields, str):
        includefields = [includefields]
    for field in includefields or ():
        pairs.append(("includefield", "all" if str(field).lower() == "all" else _tag_key(field)))
    if limit:
        pairs.append(("limit", str(int(limit))))
    if offset:
        pairs.append(("offset", str(int(offset))))
    safe = ",*?.-^_:"
    return "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in pairs)


# ------------------------------------------------------------------ requests with retries
def _describe(answer: requests.Response) -> str:
    """``HTTP 404 Not Found: <the server's own words>`` (JSON ``Details``/``Message`` or text)."""
    text = ""
    try:
        body = answer.content[:4000]
        try:
            data = json.loads(body)
            if isinstance(data, dict):
                text = str(data.get("Details") or data.get("Message") or data.get("message") or "")
        except ValueError:
            text = body.decode("utf-8", "replace").strip()
    except requests.RequestException:
        pass
    text = re.sub(r"\s+", " ", text)[:300]
    return f"HTTP {answer.status_code} {answer.reason or ''}".rstrip() + (f": {text}" if text else "")


def _wait(attempt: int, settings: Transport, answer: requests.Response | None) -> float:
    delay = settings.backoff * (2 ** attempt) * (1 + 0.1 * random.random())
    if answer is not None and answer.headers.get("Retry-After", "").strip().isdigit():
        delay = max(delay, float(answer.headers["Retry-After"]))
    return min(delay, settings.max_backoff)


def _send(method: str, url: str, *, headers: dict[str, str], body_factory=None, stream: bool = False,
          retry_statuses: frozenset[int] = RETRY_STATUSES) -> requests.Response:
    """One HTTP request, repeated (at most ``Transport.retries`` times) with backoff on connection
    errors, timeouts and ``retry_statuses`` answers. Returns the final answer whatever its status;
    raises NetworkError when the server cannot be reached at all."""
    settings = _settings()
    retries = settings.retries
    attempt = 0
    while True:
        answer = None
        try:
            answer = _session().request(
                method, url, headers=headers, data=body_factory() if body_factory else None, stream=stream,
                timeout=(settings.connect_timeout, settings.read_timeout), verify=settings.verify,
                cert=settings.cert, allow_redirects=True)
            if answer.status_code not in retry_statuses or attempt >= retries:
                return answer
            problem = _describe(answer)
            answer.close()
        except requests.exceptions.SSLError as error:
            raise NetworkError(url, f"TLS failed ({_reason(error)})") from None
        except (requests.ConnectionError, requests.Timeout) as error:
            problem = f"{type(error).__name__}: {_reason(error)}"
            if attempt >= retries:
                raise NetworkError(url, f"{method} failed after {attempt + 1} attempt(s): {problem}") from None
        except requests.RequestException as error:
            raise NetworkError(url, f"{method} failed: {type(error).__name__}: {_reason(error)}") from None
        delay = _wait(attempt, settings, answer)
        logger.info("%s %s: %s; retrying in %.2f s (%d/%d)", method, url, problem, delay, attempt + 1, retries)
        time.sleep(delay)
        attempt += 1


def _reason(error: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error."""
    text = str(error.args[0] if error.args else error)
    found = re.findall(r"(?:Caused by \w+\(|\()['\"]?([^'\"()]*(?:refused|timed out|reset|verify|certificate"
                       r"|Name or service|resolve)[^'\"()]*)", text)
    return found[-1].strip(" :") if found else text[:300]


def _checked(answer: requests.Response, url: str, what: str, ok: Iterable[int] = (200,)) -> requests.Response:
    if answer.status_code in tuple(ok):
        return answer
    problem = _describe(answer)
    answer.close()
    if answer.status_code in (401, 403):
        problem += " (check auth)"
    raise NetworkError(url, f"{what}: {problem}", status=answer.status_code)


def _get(url: str, what: str, *, auth: Any, accept: str, stream: bool = False,
         ok: Iterable[int] = (200,)) -> requests.Response:
    return _checked(_send("GET", url, headers=_headers(auth, accept), stream=stream), url, what, ok)


def _json(answer: requests.Response, url: str, what: str) -> Any:
    if answer.status_code == 204 or not answer.content.strip():
        return []
    try:
        return answer.json()
    except ValueError:
        raise NetworkError(url, f"{what}: the answer is not JSON ({answer.headers.get('Content-Type')})",
                           status=answer.status_code) from None


# ------------------------------------------------------------------ multipart, streamed
def _boundary(content_type: str) -> bytes | None:
    found = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.I)
    return (found.group(1) or found.group(2)).encode("latin-1") if found else None


class _MultipartReader:
    """Incremental multipart/related parser: :meth:`add` bytes, then take the completed parts
    (headers, body) from :meth:`parts`. Holds at most one part plus one chunk. Uses a part's Content-Length when it has one
    (no scan of the body), else looks for the next delimiter."""

    def __init__(self, boundary: bytes, url: str):
        self.delimiter = b"--" + boundary
        self.terminator = b"\r\n" + self.delimiter
        self.url = url
        self.buffer = bytearray()
        self.state = "preamble"
        self.headers: dict[str, str] = {}
        self.scanned = 0

    def add(self, chunk: bytes) -> None:
        self.buffer += chunk

    def parts(self) -> Iterator[tuple[dict[str, str], bytes]]:
        """The parts completed by the bytes added so far."""
        while True:
            if self.state == "preamble" and not self._delimiter():
                return
            if self.state == "headers" and not self._headers():
                return
            if self.state == "body":
                part = self._body()
                if part is None:
                    return
                yield self.headers, part
                part = None                           # not kept while the next part arrives
            if self.state == "done":
                return

    def _delimiter(self) -> bool:
        at = self.buffer.find(self.delimiter)
        if at < 0:
            keep = len(self.delimiter) + 2            # a delimiter may straddle two chunks
            if len(self.buffer) > keep:
                del self.buffer[:-keep]
            return False
        end = at + len(self.delimiter)
        if len(self.buffer) < end + 2:
            return False
        if self.buffer[end:end + 2] == b"--":
            self.state = "done"
            self.buffer.clear()
            return True
        line_end = self.buffer.find(b"\r\n", end)
        if line_end < 0:
            return False
        del self.buffer[:line_end + 2]
        self.state = "headers"
        return True

    def _headers(self) -> bool:
        if self.buffer.startswith(b"\r\n"):
            block, skip = b"", 2
        else:
            at = self.buffer.find(b"\r\n\r\n")
            if at < 0:
                if len(self.buffer) > 1 << 16:
                    raise NetworkError(self.url, "a multipart part's headers exceed 64 KiB")
                return False
            block, skip = bytes(self.buffer[:at]), at + 4
        headers = {}
        for line in block.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip().lower()] = value.strip()
        del self.buffer[:skip]
        self.headers, self.state, self.scanned = headers, "body", 0
        return True

    def _body(self) -> bytes | None:
        length = self.headers.get("content-length", "")
        if length.isdigit():
            size = int(length)
            if len(self.buffer) < size + len(self.terminator):
                return None
            if self.buffer[size:size + len(self.terminator)] == self.terminator:
                return self._take(size)
        at = self.buffer.find(self.terminator, self.scanned)
        if at < 0:
            self.scanned = max(0, len(self.buffer) - len(self.terminator))
            return None
        return self._take(at)

    def _take(self, size: int) -> bytes:
        with memoryview(self.buffer) as view:
            part = bytes(view[:size])                 # one copy
        self.buffer = self.buffer[size + 2:]          # a new, small buffer (a trimmed one keeps its memory)
        self.state = "preamble"
        return part

    def close(self) -> None:
        if self.state != "done":
            raise NetworkError(self.url, "the multipart answer ends early (connection closed mid-part?)")


def _parts(answer: requests.Response, url: str) -> Iterator[tuple[dict[str, str], bytes]]:
    """The parts of a (streamed) answer: each multipart/related part, or the whole body when it is
    not multipart."""
    content_type = answer.headers.get("Content-Type", "")
    try:
        if answer.status_code == 204:
            return
        boundary = _boundary(content_type) if content_type.lower().startswith("multipart/") else None
        if boundary is None:
            body = answer.content
            if body:
                yield {"content-type": content_type}, body
            return
        reader = _MultipartReader(boundary, url)
        for chunk in answer.iter_content(_settings().chunk_size):
            reader.add(chunk)
            chunk = None                              # the reader has it
            yield from reader.parts()
        reader.close()
    except requests.RequestException as error:
        raise NetworkError(url, f"the answer broke off: {type(error).__name__}: {_reason(error)}") from None
    finally:
        answer.close()


# ------------------------------------------------------------------ transfer syntaxes
def _accept(media_type: str, transfer_syntax: str) -> str:
    accept = f'multipart/related; type="{media_type}"'
    return accept + (f"; transfer-syntax={transfer_syntax.strip()}" if transfer_syntax else "")


def _get_negotiated(url: str, what: str, *, auth: Any, media_type: str, transfer_syntax: str,
                    stream: bool = True, frame_types: bool = False) -> requests.Response:
    """GET asking for ``transfer_syntax``; where the server cannot honour it, ask again for its
    default encoding (with a warning)."""
    if transfer_syntax:
        kind = FRAME_MEDIA_TYPES.get(transfer_syntax.strip(), media_type) if frame_types else media_type
        answer = _send("GET", url, headers=_headers(auth, _accept(kind, transfer_syntax)), stream=stream,
                       retry_statuses=frozenset())      # a refusal is answered by asking for the default
        if answer.status_code in (200, 204):
            return answer
        if answer.status_code not in SYNTAX_REFUSALS:
            return _checked(answer, url, what)
        problem = _describe(answer)
        answer.close()
        warnings.warn(f"{url}: the server cannot send transfer syntax {transfer_syntax} ({problem}); "
                      "retrieving its default encoding", UserWarning, stacklevel=3)
    return _get(url, what, auth=auth, accept=_accept(media_type, ""), stream=stream, ok=(200, 204))


def _instances(url: str, what: str, auth: Any, transfer_syntax: str) -> Iterator[bytes]:
    answer = _get_negotiated(url, what, auth=auth, media_type="application/dicom", transfer_syntax=transfer_syntax)
    for part in _parts(answer, url):
        body, part = part[1], None
        yield body
        body = None                                   # not kept while the next instance arrives


# ------------------------------------------------------------------ QIDO-RS
def _search(url: str, what: str, matches, includefields, limit: int, offset: int, auth) -> list[dict]:
    query = _query(matches, includefields, limit, offset)
    full = f"{url}?{query}" if query else url
    answer = _get(full, what, auth=auth, accept=DICOM_JSON, ok=(200, 204))
    records = _json(answer, full, what)
    if not isinstance(records, list):
        raise NetworkError(full, f"{what}: expected a JSON list, got {type(records).__name__}")
    return records


def search_studies(server, *, base_path="", matches=None, includefields=None, limit=0, offset=0,
                   auth="") -> list[dict]:
    """QIDO-RS study search -> list of DICOM-JSON study records.

    Parameters
    ----------
    server : str
        The DICOMweb service URL (``http(s)://host[:port][/path]``).
    base_path : str
        Appended to ``server`` (e.g. ``"/dicom-web"``).
    matches : dict, optional
        ``{tag_or_keyword: value}`` (``{"00100020": "PAT001"}``, ``{"PatientName": "DOE*"}``); a list
        value is sent as a UID list (comma-separated); ints / (group, element) tags are accepted.
    includefields : list, optional
        Tags/keywords to return besides the defaults, or ``["all"]``.
    limit, offset : int
        Page size and start (0: not sent, the server's default).
    auth : str or (str, str)
        ``Authorization`` header value (``"Bearer ..."`` / ``"Basic ..."``) or ``(user, password)``.

    Returns
    -------
    list of dict
        DICOM-JSON records (``{"0020000D": {"vr": "UI", "Value": [...]}, ...}``); ``[]`` on 204.
    """
    url = _root(server, base_path) + "/studies"
    return _search(url, "QIDO-RS study search", matches, includefields, limit, offset, auth)


def search_series(server, study_uid="", *, base_path="", matches=None, includefields=None, limit=0, offset=0,
                  auth="") -> list[dict]:
    """QIDO-RS series search (all series, or within ``study_uid``) -> DICOM-JSON series records.
    Parameters as :func:`search_studies`."""
    url = _path(_root(server, base_path), ("studies", study_uid)) + "/series"
    return _search(url, "QIDO-RS series search", matches, includefields, limit, offset, auth)


def search_instances(server, study_uid="", series_uid="", *, base_path="", matches=None, includefields=None,
                     limit=0, offset=0, auth="") -> list[dict]:
    """QIDO-RS instance search (optionally scoped to a study/series) -> DICOM-JSON instance records.
    A series without its study is matched by SeriesInstanceUID. Parameters as :func:`search_studies`."""
    root = _root(server, base_path)
    if series_uid and not study_uid:
        matches = {**(matches or {}), "0020000E": series_uid}
        url = root + "/instances"
    else:
        url = _path(root, ("studies", study_uid), ("series", series_uid)) + "/instances"
    return _search(url, "QIDO-RS instance search", matches, includefields, limit, offset, auth)


# ------------------------------------------------------------------ WADO-RS
def _require(**uids: str) -> None:
    for name, value in uids.items():
        if not value or not str(value).strip():
            raise ValueError(f"{name} is required")


def retrieve_study(server, study_uid, *, base_path="", transfer_syntax="", auth="") -> list[bytes]:
    """WADO-RS: every Part-10 instance of a study -> list of bytes blobs.

    ``transfer_syntax`` negotiates the wire encoding (a transfer syntax UID, e.g.
    ``"1.2.840.10008.1.2.4.50"``, or ``"*"`` for the stored encoding); ``""`` takes the server's
    default (Explicit VR Little Endian per PS3.18). Where the server cannot honour it, the default
    is retrieved instead (with a warning). For big studies prefer :func:`iter_study`.
    """
    return list(iter_study(server, study_uid, base_path=base_path, transfer_syntax=transfer_syntax, auth=auth))


def retrieve_series(server, study_uid, series_uid, *, base_path="", transfer_syntax="", auth="") -> list[bytes]:
    """WADO-RS: every Part-10 instance of a series -> list of bytes blobs (``transfer_syntax`` as
    :func:`retrieve_study`)."""
    return list(iter_series(server, study_uid, series_uid, base_path=base_path, transfer_syntax=transfer_syntax,
                            auth=auth))


def retrieve_instance(server, study_uid, series_uid, instance_uid, *, base_path="", transfer_syntax="",
                      auth="") -> bytes:
    """WADO-RS: one Part-10 instance -> bytes (``transfer_syntax`` as :func:`retrieve_study`);
    raises :class:`~sonobridge.errors.NetworkError` if the server returns none."""
    _require(study_uid=study_uid, series_uid=series_uid, instance_uid=instance_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid), ("instances", instance_uid))
    blobs = _instances(url, "WADO-RS instance retrieve", auth, transfer_syntax)
    first = next(blobs, None)
    for _extra in blobs:                           # drain (and release) the connection
        pass
    if first is None:
        raise NetworkError(url, "WADO-RS instance retrieve: the server returned no instance")
    return first


def iter_study(server, study_uid, *, base_path="", transfer_syntax="", auth="") -> Iterator[bytes]:
    """WADO-RS: yield each Part-10 instance of a study as bytes, parsed from the answer as it
    arrives (memory: about twice the largest instance plus two ``Transport.chunk_size`` chunks). ``transfer_syntax`` as :func:`retrieve_study`."""
    _require(study_uid=study_uid)
    url = _path(_root(server, base_path), ("studies", study_uid))
    yield from _instances(url, "WADO-RS study retrieve", auth, transfer_syntax)


def iter_series(server, study_uid, series_uid, *, base_path="", transfer_syntax="", auth="") -> Iterator[bytes]:
    """WADO-RS: yield each Part-10 instance of a series as bytes (streamed, as :func:`iter_study`)."""
    _require(study_uid=study_uid, series_uid=series_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid))
    yield from _instances(url, "WADO-RS series retrieve", auth, transfer_syntax)


def _metadata(url: str, what: str, auth: Any) -> list[dict]:
    url += "/metadata"
    records = _json(_get(url, what, auth=auth, accept=DICOM_JSON, ok=(200, 204)), url, what)
    if not isinstance(records, list):
        raise NetworkError(url, f"{what}: expected a JSON list, got {type(records).__name__}")
    return records


def retrieve_study_metadata(server, study_uid, *, base_path="", auth="") -> list[dict]:
    """WADO-RS: study metadata -> list of per-instance DICOM-JSON records (no pixel data; large
    binary values as ``BulkDataURI``, see :func:`retrieve_bulkdata`)."""
    _require(study_uid=study_uid)
    return _metadata(_path(_root(server, base_path), ("studies", study_uid)), "WADO-RS study metadata", auth)


def retrieve_series_metadata(server, study_uid, series_uid, *, base_path="", auth="") -> list[dict]:
    """WADO-RS: series metadata -> list of per-instance DICOM-JSON records."""
    _require(study_uid=study_uid, series_uid=series_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid))
    return _metadata(url, "WADO-RS series metadata", auth)


def retrieve_instance_metadata(server, study_uid, series_uid, instance_uid, *, base_path="", auth="") -> dict:
    """WADO-RS: one instance's metadata -> a single DICOM-JSON record."""
    _require(study_uid=study_uid, series_uid=series_uid, instance_uid=instance_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid), ("instances", instance_uid))
    records = _metadata(url, "WADO-RS instance metadata", auth)
    if not records or not isinstance(records[0], dict):
        raise NetworkError(url + "/metadata", "WADO-RS instance metadata: the server returned no record")
    return records[0]


def parse_frames(frames: int | str | Iterable[int]) -> list[int]:
    """1-based frame numbers from an int, an iterable of ints, or a spec string ``"1,3-5,7"``
    (ranges inclusive); order kept, duplicates allowed. Raises ValueError for anything else."""
    if isinstance(frames, bool):
        raise ValueError(f"frames must be 1-based frame numbers, not {frames!r}")
    if isinstance(frames, int):
        numbers = [frames]
    elif isinstance(frames, str):
        numbers = []
        for item in frames.replace(" ", "").split(","):
            found = re.fullmatch(r"(\d+)(?:-(\d+))?", item)
            if not found:
                raise ValueError(f"bad frame list {frames!r}: use numbers and ranges like '1,3-5'")
            first, last = int(found.group(1)), int(found.group(2) or found.group(1))
            if last < first:
                raise ValueError(f"bad frame range {item!r} in {frames!r}")
            numbers.extend(range(first, last + 1))
    else:
        try:
            numbers = [int(n) for n in frames if not isinstance(n, bool)]
        except (TypeError, ValueError):
            raise ValueError(f"frames must be 1-based frame numbers, not {frames!r}") from None
    if not numbers or min(numbers) < 1:
        raise ValueError(f"frames must be 1-based frame numbers (>= 1), not {frames!r}")
    return numbers


def retrieve_frames(server, study_uid, series_uid, instance_uid, frames, *, base_path="", transfer_syntax="",
                    auth="") -> list[bytes]:
    """WADO-RS: specific frames of an instance -> list of raw frame bytes, in the order asked.

    ``frames`` is a 1-based frame number, an iterable of them, or a spec string (``"1"``,
    ``"1,3-5,7"``). ``transfer_syntax`` negotiates the frame pixel encoding: ``""`` uncompressed
    (native little-endian pixel bytes, the PS3.18 default), ``"*"`` as stored (e.g. JPEG
    bitstreams), or a UID (sent with its frame media type, e.g. ``image/jpeg``).
    """
    _require(study_uid=study_uid, series_uid=series_uid, instance_uid=instance_uid)
    numbers = parse_frames(frames)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid),
                ("instances", instance_uid)) + "/frames/" + ",".join(map(str, numbers))
    answer = _get_negotiated(url, "WADO-RS frame retrieve", auth=auth, media_type="application/octet-stream",
                             transfer_syntax=transfer_syntax, frame_types=True)
    parts = [body for _headers_of_part, body in _parts(answer, url)]
    if len(parts) != len(numbers):
        raise NetworkError(url, f"WADO-RS frame retrieve: asked for {len(numbers)} frame(s), got {len(parts)}")
    return parts


def retrieve_bulkdata(uri, *, auth="") -> list[bytes]:
    """WADO-RS: follow a server-issued ``BulkDataURI`` -> list of bytes (one per part; one for a
    plain value). ``uri`` is the absolute URL the server handed out (e.g. a metadata record's
    ``BulkDataURI`` for PixelData), fetched verbatim since its layout is server-specific."""
    if not isinstance(uri, str) or not re.match(r"https?://", uri, re.I):
        raise ValueError(f"uri must be the absolute http(s) URL the server handed out, not {uri!r}")
    accept = 'multipart/related; type="application/octet-stream", application/octet-stream;q=0.5'
    answer = _get(uri, "WADO-RS bulk data retrieve", auth=auth, accept=accept, stream=True)
    return [body for _headers_of_part, body in _parts(answer, uri)]


def retrieve_rendered(server, study_uid, series_uid="", instance_uid="", *, base_path="", level=None, quality=0,
                      window=None, viewport=None, auth="") -> bytes:
    """WADO-RS: a server-rendered image (``image/jpeg``) -> bytes.

    Parameters
    ----------
    level : {"study", "series", "instance"}, optional
        Defaults to the deepest UID supplied (instance > series > study).
    quality : int
        JPEG quality 1-100 (0: the server's default).
    window : (center, width) or (center, width, function), optional
        VOI window in stored-value units after the modality LUT; ``function`` is ``"linear"``
        (default), ``"linear-exact"`` or ``"sigmoid"``.
    viewport : (width, height), optional
        Output size in pixels.
    """
    _require(study_uid=study_uid)
    deepest = "instance" if instance_uid else "series" if series_uid else "study"
    level = (level or deepest).lower()
    needed = {"study": (), "series": ("series_uid",), "instance": ("series_uid", "instance_uid")}
    if level not in needed:
        raise ValueError(f"level must be 'study', 'series' or 'instance', not {level!r}")
    _require(**{name: {"series_uid": series_uid, "instance_uid": instance_uid}[name] for name in needed[level]})
    levels = [("studies", study_uid), ("series", series_uid if level != "study" else ""),
              ("instances", instance_uid if level == "instance" else "")]
    url = _path(_root(server, base_path), *levels) + "/rendered"
    query = []
    if quality:
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"quality must be 1-100, not {quality!r}")
        query.append(f"quality={int(quality)}")
    if window is not None:
        window = tuple(window)
        if len(window) not in (2, 3):
            raise ValueError(f"window must be (center, width[, function]), not {window!r}")
        function = window[2] if len(window) == 3 else "linear"
        query.append(f"window={float(window[0]):g},{float(window[1]):g},{function}")
    if viewport is not None:
        width, height = (int(v) for v in viewport)
        query.append(f"viewport={width},{height}")
    full = url + ("?" + "&".join(query) if query else "")
    return _get(full, "WADO-RS rendered retrieve", auth=auth, accept="image/jpeg").content


# ------------------------------------------------------------------ DELETE (non-core)
def _delete(url: str, what: str, auth: Any) -> int:
    answer = _send("DELETE", url, headers=_headers(auth))
    if answer.status_code in (200, 202, 204):
        answer.close()
        return answer.status_code
    problem = _describe(answer)
    answer.close()
    if answer.status_code in (404, 405, 501):
        problem += " (the DICOMweb delete transaction is not core; this server does not offer it here)"
    raise NetworkError(url, f"{what}: {problem}", status=answer.status_code)


def delete_study(server, study_uid, *, base_path="", auth="") -> int:
    """DICOMweb DELETE of a whole study -> HTTP status (200/202/204). The server must support the
    (non-core) delete transaction; a refusal is a :class:`~sonobridge.errors.NetworkError` whose
    ``.status`` is the server's answer (405 for Orthanc's DICOMweb plugin)."""
    _require(study_uid=study_uid)
    return _delete(_path(_root(server, base_path), ("studies", study_uid)), "DICOMweb study delete", auth)


def delete_series(server, study_uid, series_uid, *, base_path="", auth="") -> int:
    """DICOMweb DELETE of a series -> HTTP status (see :func:`delete_study`)."""
    _require(study_uid=study_uid, series_uid=series_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid))
    return _delete(url, "DICOMweb series delete", auth)


def delete_instance(server, study_uid, series_uid, instance_uid, *, base_path="", auth="") -> int:
    """DICOMweb DELETE of a single instance -> HTTP status (see :func:`delete_study`)."""
    _require(study_uid=study_uid, series_uid=series_uid, instance_uid=instance_uid)
    url = _path(_root(server, base_path), ("studies", study_uid), ("series", series_uid), ("instances", instance_uid))
    return _delete(url, "DICOMweb instance delete", auth)


# ------------------------------------------------------------------ STOW-RS
def json_value(record: dict, tag: str, default: Any = None) -> Any:
    """The first value of ``tag`` (8 hex digits) in a DICOM-JSON record, or ``default``."""
    values = (record.get(tag.upper()) or {}).get("Value") if isinstance(record, dict) else None
    return values[0] if values else default


#: explicit-VR value representations with a 4-byte length (PS3.5 Table 7.1-1)
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})


def _meta_identity(blob: bytes) -> dict[str, str]:
    """SOP class / instance UIDs from a Part-10 File Meta group (explicit VR little endian by
    definition): (0002,0002) and (0002,0003), without parsing the dataset. {} if absent."""
    if len(blob) < 144 or blob[128:132] != b"DICM":
        return {}
    found: dict[str, str] = {}
    at = 132
    while at + 8 <= len(blob) and blob[at:at + 2] == b"\x02\x00":
        element = int.from_bytes(blob[at + 2:at + 4], "little")
        vr = bytes(blob[at + 4:at + 6])
        if vr in _LONG_VRS:
            length, at = int.from_bytes(blob[at + 8:at + 12], "little"), at + 12
        else:
            length, at = int.from_bytes(blob[at + 6:at + 8], "little"), at + 8
        if element in (2, 3):
            value = bytes(blob[at:at + length]).rstrip(b"\x00 ").decode("ascii", "replace")
            found["sop_class_uid" if element == 2 else "sop_instance_uid"] = value
        at += length
    return found if found.get("sop_instance_uid") else {}


def _identity(blob: bytes) -> dict[str, str]:
    """SOP class / instance UIDs of a Part-10 blob ({} when it cannot be read): from the File Meta
    group, else from the dataset (pydicom)."""
    quick = _meta_identity(blob)
    if quick:
        return quick
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(io.BytesIO(blob), stop_before_pixels=True, force=False,
                     specific_tags=["SOPClassUID", "SOPInstanceUID"])
        identity = {"sop_class_uid": str(ds.get("SOPClassUID", "")), "sop_instance_uid": str(ds.get("SOPInstanceUID", ""))}
        return identity if identity["sop_instance_uid"] else {}
    except (InvalidDicomError, OSError, ValueError, TypeError, KeyError, AttributeError, EOFError):
        return {}


class _PartsBody(io.RawIOBase):
    """A STOW-RS request body streamed from the instances' own buffers (no joined copy); its length
    is known, so it is sent with Content-Length."""

    def __init__(self, pieces: list[bytes | memoryview]):
        super().__init__()
        self.pieces = [memoryview(p).cast("B") for p in pieces]
        self.index = self.offset = 0
        self.total = sum(len(p) for p in self.pieces)

    def __len__(self) -> int:
        return self.total

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        view = memoryview(target).cast("B")
        written = 0
        while written < len(view) and self.index < len(self.pieces):
            piece = self.pieces[self.index]
            count = min(len(view) - written, len(piece) - self.offset)
            view[written:written + count] = piece[self.offset:self.offset + count]
            written += count
            self.offset += count
            if self.offset == len(piece):
                self.index, self.offset = self.index + 1, 0
        return written


def _reference(item: dict) -> dict[str, Any]:
    """One ReferencedSOPSequence / FailedSOPSequence item as a plain dict."""
    entry: dict[str, Any] = {"sop_class_uid": json_value(item, "00081150", ""),
                             "sop_instance_uid": json_value(item, "00081155", "")}
    for tag, name in (("00081190", "retrieve_url"), ("00081196", "warning_reason"), ("00081197", "failure_reason")):
        value = json_value(item, tag)
        if value is not None:
            entry[name] = value
    return entry


def _store_answer(answer: requests.Response, url: str) -> tuple[list[dict], list[dict], str]:
    """(stored, failed, problem) from a STOW-RS answer (DICOM-JSON, or nothing parseable)."""
    try:
        data = json.loads(answer.content) if answer.content.strip() else {}
    except ValueError:
        return [], [], _describe(answer)
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return [], [], _describe(answer)
    stored = [_reference(i) for i in (data.get("00081199") or {}).get("Value", []) if isinstance(i, dict)]
    failed = [_reference(i) for i in (data.get("00081198") or {}).get("Value", []) if isinstance(i, dict)]
    problem = "" if (stored or failed or answer.status_code in (200, 202)) else _describe(answer)
    return stored, failed, problem


def _reconcile(batch: list[tuple[int, bytes, dict]], stored: list[dict], failed: list[dict],
               problem: str) -> tuple[list[dict], list[dict]]:
    """Tie the server's lists to the instances sent (``index`` = position in ``instances``); an
    instance the answer does not mention counts as failed (0xC000 when it is not DICOM)."""
    by_uid = {}
    for index, _blob, identity in batch:
        by_uid.setdefault(identity.get("sop_instance_uid") or f"#{index}", index)
    mentioned = set()
    for entry in stored + failed:
        index = by_uid.get(entry.get("sop_instance_uid", ""))
        if index is not None:
            entry["index"] = index
            mentioned.add(index)
    for index, _blob, identity in batch:
        if index in mentioned:
            continue
        reason = PROCESSING_FAILURE if identity.get("sop_instance_uid") else CANNOT_UNDERSTAND
        entry = {"sop_class_uid": identity.get("sop_class_uid", ""),
                 "sop_instance_uid": identity.get("sop_instance_uid", ""),
                 "failure_reason": reason, "index": index,
                 "problem": "not DICOM Part-10 data" if not identity
                 else problem or "the server's answer does not mention this instance"}
        failed.append(entry)
    return stored, failed


def _batches(instances: Iterable[bytes], limit: int) -> Iterator[list[tuple[int, bytes, dict]]]:
    batch: list[tuple[int, bytes, dict]] = []
    size = 0
    for index, blob in enumerate(instances):
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError(f"store_instances takes raw DICOM bytes (e.g. open(p, 'rb').read()), "
                            f"not {type(blob).__name__} (instance {index})")
        if batch and size + len(blob) > limit:
            yield batch
            batch, size = [], 0
        batch.append((index, bytes(blob) if isinstance(blob, memoryview) else blob, _identity(blob)))
        size += len(blob)
    if batch:
        yield batch


def _post_batch(url: str, batch: list[tuple[int, bytes, dict]], auth: Any) -> tuple[list[dict], list[dict]]:
    boundary = f"sonobridge-{random.getrandbits(64):016x}{len(batch)}"
    pieces: list[bytes] = []
    for _index, blob, _identity_of in batch:
        pieces += [f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {len(blob)}\r\n\r\n".encode(),
                   blob, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    headers = _headers(auth, DICOM_JSON,
                       **{"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'})
    answer = _send("POST", url, headers=headers, body_factory=lambda: _PartsBody(pieces))
    try:
        if answer.status_code not in (200, 202, 400, 409, 422):
            _checked(answer, url, "STOW-RS store", ok=())
        stored, failed, problem = _store_answer(answer, url)
    finally:
        answer.close()
    if answer.status_code not in (200, 202):
        logger.info("STOW-RS %s answered %s (%d stored, %d failed)", url, answer.status_code, len(stored), len(failed))
    return _reconcile(batch, stored, failed, problem)


def store_instances(server, instances, *, study_uid="", base_path="", auth="") -> dict:
    """STOW-RS: store Part-10 instances on the server.

    Parameters
    ----------
    instances : iterable of bytes
        Raw DICOM Part-10 bytes (``open(p, "rb").read()``); path-like / file objects are not
        accepted (TypeError). Consumed lazily: requests of at most ``Transport.store_batch_bytes``.
    study_uid : str
        Bind the POST to this study (the server rejects instances of another study).

    Returns
    -------
    dict
        ``{"status", "stored", "failed"}``: status 200 (all stored), 202 (some failed) or 409 (none
        stored); ``stored`` / ``failed`` are lists of ``{"sop_class_uid", "sop_instance_uid",
        "index"}`` (``index``: position in ``instances``) parsed from the ReferencedSOPSequence
        (0008,1199) / FailedSOPSequence (0008,1198) with ``retrieve_url`` / ``warning_reason``
        where given; ``failed[i]["failure_reason"]`` holds the PS3.4 code (the server's, or 0xC000
        for data that is not DICOM, 0x0110 for an instance the answer leaves out, with a
        ``problem`` text). Servers answering a partial store with 400/409 (Orthanc) are parsed
        the same way.

    Raises
    ------
    NetworkError
        The server cannot be reached or refuses the request as a whole (401/403/404/413/415/5xx).
    """
    url = _path(_root(server, base_path), ("studies", study_uid)) if study_uid else _root(server, base_path) + "/studies"
    if isinstance(instances, (bytes, bytearray, memoryview)):
        instances = [instances]
    stored: list[dict] = []
    failed: list[dict] = []
    for batch in _batches(instances, _settings().store_batch_bytes):
        done, refused = _post_batch(url, batch, auth)
        stored += done
        failed += refused
    status = 409 if failed and not stored else 202 if failed else 200
    return {"status": status, "stored": stored, "failed": failed}
