"""HL7 v2 (``pydcm.hl7``): parse ER7 messages, build ORU^R01 results, and carry them over MLLP.

The HL7 side of the imaging <-> EHR seam: read an inbound order or result, and send a radiology
result back to the hospital information system.

>>> segments = parse(open("oru.hl7").read())       # [{"id": "MSH", "fields": [...]}, ...]  # doctest: +SKIP
>>> message = build_oru(config, context, observations)                     # ER7 text  # doctest: +SKIP
>>> with listen(port=0) as inbox:                                          # doctest: +SKIP
...     ack = send(message, "127.0.0.1", inbox.port)      # the receiver's ACK (MSA|AA|...)
...     received = inbox.get(timeout_s=5)

ER7 is HL7 v2's "pipe and hat" text: segments end with a carriage return, fields are split by the
field separator (MSH-1, ``|``), components, repetitions, escapes and subcomponents by the encoding
characters (MSH-2, ``^~\\&``). MLLP (HL7's Minimal Lower Layer Protocol) frames each message on a
TCP connection as ``<VT> message <FS><CR>``; the receiver answers each message with an ACK framed
the same way. Everything here is the standard library; ``hl7apy`` (the ``hl7`` extra) is only
needed by :func:`validate`.
"""
from __future__ import annotations

import logging
import queue
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import FormatError, MissingDependencyError, NetworkError

__all__ = ["parse", "build_oru", "ack", "escape", "validate", "frame", "send", "listen", "Listener",
           "MAX_MESSAGE_BYTES"]

log = logging.getLogger(__name__)

START, END = b"\x0b", b"\x1c\r"         # MLLP block start (VT) and end (FS CR)
#: the largest message accepted over MLLP (bytes); a longer one closes the connection
MAX_MESSAGE_BYTES = 16 * 2 ** 20
#: MSH-18 character sets -> Python codecs (HL7 table 0211); absent: ASCII, read as UTF-8
CHARSETS = {"": "utf-8", "ASCII": "ascii", "8859/1": "latin-1", "8859/15": "iso8859-15",
            "UNICODE UTF-8": "utf-8", "UNICODE": "utf-8"}


def _segments(text: str) -> list[str]:
    """The segments of ``text`` (CR, LF or CRLF terminated; MLLP framing and blank lines dropped)."""
    body = text.strip("\x0b\x1c\r\n")
    return [line for line in body.replace("\r\n", "\r").replace("\n", "\r").split("\r") if line.strip()]


def _as_text(message: str | bytes) -> str:
    """``message`` as text: bytes decoded with the character set MSH-18 names."""
    if isinstance(message, str):
        return message
    head = message[:1024].decode("ascii", "replace").lstrip("\x0b")
    fields = head.replace("\n", "\r").split("\r")[0].split(head[3:4] or "|")
    charset = CHARSETS.get(fields[17].split("^")[0].strip() if len(fields) > 17 else "", "utf-8")
    try:
        return message.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return message.decode("latin-1")


def parse(message: str | bytes) -> list[dict[str, Any]]:
    """Parse an HL7 v2 message into a list of segments.

    Parameters
    ----------
    message : str or bytes
        ER7 text, segments terminated by CR (LF and CRLF are accepted too); bytes are decoded with
        the character set MSH-18 names; MLLP framing characters around it are ignored.

    Returns
    -------
    list of dict
        One ``{"id": "MSH" | "PID" | ..., "fields": [str, ...]}`` per segment, ``fields`` the
        segment split on its field separator (so ``fields[0]`` is the id and ``fields[n]`` is
        field n; in MSH, whose first field is the separator itself, ``fields[n]`` is MSH-(n+1)).
        Values are as written (escapes and components not resolved).

    Raises
    ------
    FormatError
        Not an HL7 v2 message: it does not start with MSH, the separator or encoding characters
        are missing or clash, or a segment id is not three capitals/digits.

    Examples
    --------
    >>> segments = parse("MSH|^~\\\\&|RIS|H|PACS|H|20240131||ORM^O01|7|P|2.5\\rPID|1||42^^^H^MR||Doe^Jane")
    >>> [segment["id"] for segment in segments], segments[1]["fields"][5]
    (['MSH', 'PID'], 'Doe^Jane')
    >>> segments[0]["fields"][1], segments[0]["fields"][9]
    ('^~\\\\&', '7')
    """
    segments = _segments(_as_text(message))
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise FormatError(None, "not an HL7 v2 message: it must start with an MSH segment")
    separator = segments[0][3]
    encoding = segments[0][4:].split(separator, 1)[0]
    if separator.isalnum() or separator.isspace() or not 2 <= len(encoding) <= 5 \
            or len(set(encoding + separator)) != len(encoding) + 1 or any(c.isalnum() for c in encoding):
        raise FormatError(None, f"HL7 message: bad field separator {separator!r} or encoding characters "
                                f"{encoding!r} in MSH")
    parsed = []
    for number, segment in enumerate(segments, 1):
        fields = segment.split(separator)
        if len(fields[0]) != 3 or not fields[0].isalnum() or fields[0].upper() != fields[0]:
            raise FormatError(None, f"HL7 message: segment {number} has no valid id ({fields[0][:10]!r})")
        parsed.append({"id": fields[0], "fields": fields})
    return parsed


def escape(value: Any, encoding: str = "^~\\&", separator: str = "|") -> str:
    """``value`` as ER7 text: the delimiters in it escaped (``\\F\\``, ``\\S\\``, ``\\R\\``,
    ``\\E\\``, ``\\T\\``), line breaks as ``\\.br\\``.

    Examples
    --------
    >>> escape("a|b^c\\nd")
    'a\\\\F\\\\b\\\\S\\\\c\\\\.br\\\\d'
    """
    component, repetition, escape_char, subcomponent = (encoding + "    ")[:4]
    text = str(value).replace(escape_char, f"{escape_char}E{escape_char}")
    for char, code in ((separator, "F"), (component, "S"), (repetition, "R"), (subcomponent, "T")):
        if char.strip():
            text = text.replace(char, f"{escape_char}{code}{escape_char}")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", f"{escape_char}.br{escape_char}")


def _timestamp(when: Any = None) -> str:
    """An HL7 TS (``YYYYMMDDHHMMSS``): ``when`` as given (text), a datetime, or now."""
    if isinstance(when, datetime):
        return when.strftime("%Y%m%d%H%M%S")
    return str(when) if when else datetime.now().strftime("%Y%m%d%H%M%S")


def _segment(*fields: Any) -> str:
    """One segment from already escaped fields (trailing empty fields dropped)."""
    values = [str(field) if field is not None else "" for field in fields]
    while values and not values[-1]:
        values.pop()
    return "|".join(values)


def _components(*parts: Any) -> str:
    """Escaped components joined with ``^`` (trailing empty ones dropped)."""
    values = [escape(part) if part not in (None, "") else "" for part in parts]
    while values and not values[-1]:
        values.pop()
    return "^".join(values)


@dataclass(frozen=True)
class _Header:
    """MSH fields of :func:`build_oru` (``config``), with the defaults used for absent keys."""

    our_app: str = "SONOBRIDGE"
    our_facility: str = ""
    their_app: str = ""
    their_facility: str = ""
    control_id: str = ""
    timestamp: str = ""
    version: str = "2.5"
    specific_character_set: str = "UNICODE UTF-8"
    processing_id: str = "P"


def _known(mapping: Mapping[str, Any] | None, kind: type, what: str) -> Any:
    """``kind(**mapping)``; unknown keys named in a FormatError."""
    mapping = dict(mapping or {})
    known = set(kind.__dataclass_fields__)
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise FormatError(None, f"build_oru: unknown {what} key(s) {', '.join(unknown)} "
                                f"(known: {', '.join(sorted(known))})")
    return kind(**{key: "" if value is None else value for key, value in mapping.items()})


@dataclass(frozen=True)
class _Context:
    """PID / ORC / OBR fields of :func:`build_oru` (``context``)."""

    patient_id: str = ""
    patient_id_authority: str = ""
    patient_name: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    order_number: str = ""
    accession_number: str = ""
    procedure_code: str = ""
    procedure_description: str = ""
    procedure_coding_system: str = ""
    modality: str = ""
    ordering_provider: str = ""
    observation_datetime: str = ""
    result_status: str = "F"


@dataclass(frozen=True)
class _Observation:
    """One OBX row of :func:`build_oru`."""

    observation_id: str = ""
    value: Any = ""
    value_type: str = "TX"
    status: str = "F"
    observation_text: str = ""
    coding_system: str = ""
    units: str = ""
    sub_id: str = ""


def _pid(context: _Context) -> str:
    name = str(context.patient_name).split("^")           # a DICOM/HL7 style "Family^Given"
    return _segment("PID", "1", "", _components(context.patient_id, "", "", context.patient_id_authority,
                                                "MR" if context.patient_id else ""),
                    "", _components(*name), "", escape(context.patient_birth_date), escape(context.patient_sex))


def _obx(index: int, row: _Observation, when: str) -> str:
    value = str(row.value)
    if row.value_type in ("CE", "CWE", "XCN", "XPN", "XAD", "CX") and "^" in value:
        value = "^".join(escape(part) for part in value.split("^"))   # coded values keep their components
    elif row.value_type == "TX":                    # text lines as repetitions (FT has \.br\, TX not)
        value = "~".join(escape(line) for line in value.splitlines() or [""])
    else:
        value = escape(value)
    return _segment("OBX", str(index), escape(row.value_type),
                    _components(row.observation_id, row.observation_text, row.coding_system),
                    escape(row.sub_id), value, _components(row.units), "", "", "", "", escape(row.status),
                    "", "", escape(when))


def build_oru(config: Mapping[str, Any] | None, context: Mapping[str, Any] | None,
              observations: Iterable[Mapping[str, Any]]) -> str:
    """Build an HL7 v2.5 ORU^R01 result message (ER7 string).

    Parameters
    ----------
    config : mapping
        MSH: ``our_app`` (default ``SONOBRIDGE``), ``our_facility``, ``their_app``,
        ``their_facility``, ``control_id`` (default: a fresh one), ``timestamp`` (HL7 TS text or a
        datetime; default now), ``version`` (``2.5``), ``specific_character_set``
        (``UNICODE UTF-8``), ``processing_id`` (``P``).
    context : mapping
        PID: ``patient_id``, ``patient_id_authority``, ``patient_name`` (``Family^Given``),
        ``patient_birth_date`` (``YYYYMMDD``), ``patient_sex``; ORC/OBR: ``order_number``
        (placer), ``accession_number`` (filler), ``procedure_code``, ``procedure_description``,
        ``procedure_coding_system``, ``modality`` (OBR-24), ``ordering_provider``
        (``id^family^given``), ``observation_datetime``, ``result_status`` (``F``).
    observations : iterable of mapping
        One OBX each: ``observation_id``, ``value``, ``value_type`` (default ``TX``), ``status``
        (default ``F``), ``observation_text``, ``coding_system``, ``units``, ``sub_id``.

    Returns
    -------
    str
        The message, segments MSH, PID, ORC, OBR, OBX... terminated by CR; values escaped.

    Raises
    ------
    FormatError
        A key that is not one of the above.

    Examples
    --------
    >>> message = build_oru({"control_id": "42", "timestamp": "20240131120000"},
    ...                     {"patient_id": "P7", "patient_name": "Doe^Jane", "accession_number": "A1"},
    ...                     [{"observation_id": "IMP", "value": "Normal study."}])
    >>> [segment["id"] for segment in parse(message)]
    ['MSH', 'PID', 'ORC', 'OBR', 'OBX']
    >>> parse(message)[4]["fields"][5]
    'Normal study.'
    """
    header = _known(config, _Header, "config")
    order = _known(context, _Context, "context")
    rows = [_known(row, _Observation, "observation") for row in observations]
    stamp = _timestamp(header.timestamp)
    control = str(header.control_id) or f"SB{datetime.now().strftime('%Y%m%d%H%M%S%f')}"
    when = _timestamp(order.observation_datetime) if order.observation_datetime else stamp
    service = _components(order.procedure_code or order.modality or "IMAGING", order.procedure_description,
                          order.procedure_coding_system)
    segments = [
        _segment("MSH", "^~\\&", escape(header.our_app), escape(header.our_facility), escape(header.their_app),
                 escape(header.their_facility), stamp, "", "ORU^R01^ORU_R01", escape(control),
                 escape(header.processing_id), escape(header.version), "", "", "", "", "",
                 escape(header.specific_character_set)),
        _pid(order),
        _segment("ORC", "RE", escape(order.order_number), escape(order.accession_number), "", "CM", "", "", "",
                 stamp, "", "", _components(*str(order.ordering_provider).split("^"))),
        _segment("OBR", "1", escape(order.order_number), escape(order.accession_number), service, "", "", when,
                 "", "", "", "", "", "", "", "", _components(*str(order.ordering_provider).split("^")), "",
                 escape(order.accession_number), "", "", "", stamp, "", escape(order.modality),
                 escape(order.result_status)),
        *(_obx(index, row, when) for index, row in enumerate(rows, 1)),
    ]
    return "\r".join(segments) + "\r"


def ack(message: str | bytes, code: str = "AA", text: str = "") -> str:
    """The ACK of ``message``: MSH with sender and receiver swapped, MSA with ``code`` (``AA``
    accepted, ``AE`` error, ``AR`` rejected) and the message's control id.

    Examples
    --------
    >>> reply = ack("MSH|^~\\\\&|RIS|H|PACS|H|20240131||ORU^R01|77|P|2.5\\r")
    >>> parse(reply)[1]["fields"][:3]
    ['MSA', 'AA', '77']
    """
    msh = parse(message)[0]["fields"]
    field = (lambda n: msh[n - 1] if len(msh) >= n else "")           # MSH-n
    trigger = field(9).split("^")[1] if "^" in field(9) else ""
    header = _segment("MSH", field(2) or "^~\\&", field(5), field(6), field(3), field(4), _timestamp(), "",
                      f"ACK^{trigger}^ACK" if trigger else "ACK", f"ACK{field(10)}"[:20], field(11) or "P",
                      field(12) or "2.5")
    return "\r".join([header, _segment("MSA", code, field(10), escape(text))]) + "\r"


def validate(message: str | bytes) -> None:
    """Check ``message`` against the HL7 v2 message structures and data types with ``hl7apy``
    (strict validation: required segments and fields, lengths, types; groups found).

    Raises
    ------
    FormatError
        ``hl7apy`` finds the message invalid; the message says why.
    MissingDependencyError
        ``hl7apy`` is not installed (``pip install 'sonobridge[hl7]'``).
    """
    try:
        from hl7apy.consts import VALIDATION_LEVEL
        from hl7apy.exceptions import HL7apyException
        from hl7apy.parser import parse_message
    except ImportError:
        raise MissingDependencyError(None, "validating HL7 messages needs hl7apy: "
                                           "pip install 'sonobridge[hl7]'") from None
    text = "\r".join(_segments(_as_text(message)))
    try:
        parsed = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        parsed.validate()
    except (HL7apyException, ValueError, LookupError) as error:
        raise FormatError(None, f"invalid HL7 message ({type(error).__name__}: {error})") from None


def frame(message: str | bytes, encoding: str = "utf-8") -> bytes:
    """``message`` in an MLLP block: ``<VT> message <FS><CR>``.

    Examples
    --------
    >>> frame("MSH|^~\\\\&|A\\r")
    b'\\x0bMSH|^~\\\\&|A\\r\\x1c\\r'
    """
    data = message.encode(encoding) if isinstance(message, str) else bytes(message)
    if START in data or b"\x1c" in data:
        raise FormatError(None, "HL7 message contains the MLLP framing characters VT or FS")
    return START + data + END


def _read_block(connection: socket.socket, pending: bytearray, where: str) -> bytes | None:
    """The next MLLP block's payload from ``connection`` (bytes after it stay in ``pending``);
    None when the peer closes between blocks."""
    while True:
        start = pending.find(START)
        end = pending.find(END, start + 1) if start >= 0 else -1
        if end >= 0:
            payload = bytes(pending[start + 1:end])
            del pending[:end + len(END)]
            return payload
        if len(pending) > MAX_MESSAGE_BYTES:
            raise NetworkError(where, f"MLLP message longer than {MAX_MESSAGE_BYTES} bytes")
        chunk = connection.recv(65536)
        if not chunk:
            if pending.strip(b"\r\n\x00 "):
                raise NetworkError(where, "connection closed in the middle of an MLLP message")
            return None
        pending += chunk


def send(message: str | bytes, host: str, port: int, *, timeout_s: float = 10.0, encoding: str = "utf-8") -> str:
    """Send ``message`` over MLLP and return the receiver's answer (its ACK, as text).

    Parameters
    ----------
    message : str or bytes
        The ER7 message (e.g. from :func:`build_oru`).
    host, port : str, int
        The receiver (an HL7 interface engine, a RIS/HIS, or :func:`listen`).
    timeout_s : float
        Seconds allowed for connecting and for each read or write.
    encoding : str
        Codec of a text ``message`` and of the answer.

    Raises
    ------
    NetworkError
        The receiver cannot be reached, closes without answering, or does not answer in time.
    """
    where = f"mllp://{host}:{port}"
    block = frame(message, encoding)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.settimeout(timeout_s)
            connection.sendall(block)
            answer = _read_block(connection, bytearray(), where)
    except TimeoutError:
        raise NetworkError(where, f"no answer within {timeout_s:g} s") from None
    except OSError as error:
        raise NetworkError(where, f"cannot send: {error.strerror or error}") from None
    if answer is None:
        raise NetworkError(where, "the receiver closed the connection without an answer")
    return answer.decode(encoding, "replace")


Handler = Callable[[str], "str | None"]


class _Connection(socketserver.BaseRequestHandler):
    """One MLLP connection of a :class:`Listener`: each block received is queued, answered with
    the listener's handler's reply (default: :func:`ack`)."""

    server: "_Server"

    def handle(self) -> None:
        listener = self.server.listener
        self.request.settimeout(listener.timeout_s)
        pending = bytearray()
        where = f"mllp://{self.client_address[0]}:{self.client_address[1]}"
        while True:
            try:
                block = _read_block(self.request, pending, where)
            except (NetworkError, OSError) as error:
                log.warning("MLLP %s: %s", where, error)
                return
            if block is None:
                return
            text = block.decode(listener.encoding, "replace")
            listener.messages.put(text)
            try:
                reply = listener.answer(text)
            except Exception as error:  # noqa: BLE001 - a failing handler is answered AE, the listener goes on
                log.exception("MLLP %s: the handler failed", where)
                reply = listener.acknowledge(text, "AE", f"{type(error).__name__}: {error}")
            if reply is not None:
                try:
                    self.request.sendall(frame(reply, listener.encoding))
                except OSError as error:
                    log.warning("MLLP %s: cannot answer: %s", where, error)
                    return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    listener: "Listener"


class Listener:
    """An MLLP receiver running in background threads (see :func:`listen`): every message
    received is put on :attr:`messages` and answered. Use it as a context manager, or call
    :meth:`close`.

    Attributes
    ----------
    host, port : str, int
        Where it listens (``port`` is the one bound, also when 0 was asked for).
    messages : queue.Queue of str
        The messages received, in order.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, handler: Handler | None = None, *,
                 timeout_s: float = 30.0, encoding: str = "utf-8") -> None:
        self.handler, self.timeout_s, self.encoding = handler, timeout_s, encoding
        self.messages: queue.Queue[str] = queue.Queue()
        try:
            self._server = _Server((host, port), _Connection)
        except OSError as error:
            raise NetworkError(f"mllp://{host}:{port}", f"cannot listen: {error.strerror or error}") from None
        self._server.listener = self
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"mllp-{self.port}", daemon=True)
        self._thread.start()

    def answer(self, message: str) -> str | None:
        """The reply to ``message``: the handler's, else :func:`ack` (``AA``; ``AR`` for a message
        that does not parse, with the reason)."""
        if self.handler is not None:
            return self.handler(message)
        return self.acknowledge(message)

    @staticmethod
    def acknowledge(message: str, code: str = "AA", reason: str = "") -> str:
        """:func:`ack` of ``message`` with ``code``; a message that does not parse is answered
        ``AR`` with the reason on a minimal header (the peer always gets an answer)."""
        try:
            return ack(message, code, reason)
        except FormatError as error:
            log.warning("MLLP: %s", error)
            return ack("MSH|^~\\&|||||||ACK||P|2.5\r", "AR", error.problem)

    def get(self, timeout_s: float = 10.0) -> str:
        """The next message received (waits up to ``timeout_s``); NetworkError if none came."""
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            raise NetworkError(f"mllp://{self.host}:{self.port}", f"no message within {timeout_s:g} s") from None

    def close(self) -> None:
        """Stop listening (connections being served finish in their daemon threads)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def listen(host: str = "127.0.0.1", port: int = 0, handler: Handler | None = None, *,
           timeout_s: float = 30.0, encoding: str = "utf-8") -> Listener:
    """Start an MLLP receiver on ``host:port`` (0: a free port, see :attr:`Listener.port`).

    Parameters
    ----------
    host, port : str, int
        Address to bind (default: loopback only).
    handler : callable, optional
        ``handler(message) -> reply or None`` for each message received; default :func:`ack`.
    timeout_s : float
        An idle connection is closed after this many seconds.
    encoding : str
        Codec of the messages.

    Returns
    -------
    Listener
        Running; close it (or use ``with``).
    """
    return Listener(host, port, handler, timeout_s=timeout_s, encoding=encoding)
