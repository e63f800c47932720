"""DIMSE networking with pynetdicom's interface, built on pynetdicom (``pydcm.dimse``).

Code written for pynetdicom runs after one alias::

    import sonobridge.dicom.dimse as pynetdicom
    from sonobridge.dicom.dimse import AE, evt

    ae = AE(ae_title="MY_SCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", 11112)
    if assoc.is_established:
        status = assoc.send_c_echo()            # a Dataset with .Status
        assoc.release()

What this layer adds to pynetdicom's :class:`~pynetdicom.ae.ApplicationEntity`:

* **Default contexts.** :meth:`AE.associate` proposes the contexts you requested plus a broad
  default set (Verification, the Query/Retrieve models, common storage classes), as far as the
  128 contexts of an association allow, so basic flows work without setup.
* **Persistent C-GET.** Storage classes you ``add_supported_context`` are proposed at
  ``associate()`` with the SCP role (PS3.7 §D.3.3.4), so a C-GET's instances arrive as C-STORE on
  the same association and go to the ``EVT_C_STORE`` handlers bound on the AE (:meth:`AE.bind`)
  or passed to ``associate``. Without any supported storage class, :meth:`Association.send_c_get`
  runs on a one-shot association that negotiates the :data:`GET_STORAGE_CLASSES` with the SCP role.
* **TLS by settings.** ``ae.tls = {"ca_file", "cert_file", "key_file", "verify_peer",
  "server_name"}`` secures every association the AE requests and every server it starts.
* :meth:`AE.make_server`: a server handle, not yet serving (``serve_forever()`` / ``shutdown()``).
* **No Nagle stalls.** Every connection, requested or accepted, sets TCP_NODELAY: a DIMSE message
  is two PDUs before the peer answers, and Nagle's algorithm held the second until the peer's
  delayed ACK (~40 ms), capping pynetdicom's C-STORE at ~20 instances/s on loopback (7x more
  without; see benchmarks/bench_network.py).

Everything else (events ``evt``, ``build_context``, ``build_role``, the presentation-context lists,
``sop_class``, status codes) is pynetdicom's own object. Besides the pynetdicom surface:
:func:`parse_dicom_url` (``dicom://AET@host:port``), :func:`echo`, :func:`find`,
:func:`store_files`, :func:`retrieve` (C-GET or C-MOVE into a folder) for quick one-call use.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import MissingDependencyError, NetworkError

try:
    import pynetdicom
    from pynetdicom import (
        ALL_TRANSFER_SYNTAXES, DEFAULT_TRANSFER_SYNTAXES, AllStoragePresentationContexts,
        QueryRetrievePresentationContexts, StoragePresentationContexts, VerificationPresentationContexts,
        build_context, build_role, debug_logger, evt, register_uid, sop_class)
    from pynetdicom.association import Association as _PynetdicomAssociation
    from pynetdicom.presentation import PresentationContext
    from pynetdicom.transport import AssociationServer, ThreadedAssociationServer
except ImportError:                              # pragma: no cover - the network extra is missing
    raise MissingDependencyError(None, "DICOM networking needs pynetdicom: pip install 'sonobridge[network]'") \
        from None

log = logging.getLogger(__name__)

__all__ = [
    "AE", "ApplicationEntity", "Association", "evt", "build_context", "build_role", "sop_class", "register_uid",
    "debug_logger", "ALL_TRANSFER_SYNTAXES", "DEFAULT_TRANSFER_SYNTAXES", "AllStoragePresentationContexts",
    "StoragePresentationContexts", "QueryRetrievePresentationContexts", "VerificationPresentationContexts",
    "PresentationContext", "GET_STORAGE_CLASSES", "DEFAULT_REQUESTED", "MAX_CONTEXTS", "DicomPeer",
    "parse_dicom_url", "echo", "find", "store_files", "retrieve", "DimseError", "Server", "ThreadedServer",
    "free_port"]

#: the most presentation contexts one association can propose (context IDs 1, 3, ..., 255)
MAX_CONTEXTS = 128
#: storage classes a C-GET without supported contexts negotiates with the SCP role (one-shot)
GET_STORAGE_CLASSES: tuple[str, ...] = (
    sop_class.UltrasoundMultiFrameImageStorage, sop_class.UltrasoundImageStorage,
    sop_class.SecondaryCaptureImageStorage, sop_class.CTImageStorage, sop_class.MRImageStorage,
    sop_class.EnhancedCTImageStorage, sop_class.EnhancedMRImageStorage,
    sop_class.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    sop_class.MultiFrameTrueColorSecondaryCaptureImageStorage, sop_class.BasicTextSRStorage,
    sop_class.EnhancedSRStorage, sop_class.ComprehensiveSRStorage, sop_class.SegmentationStorage)
#: abstract syntaxes :meth:`AE.associate` proposes besides the requested ones (when there is room)
DEFAULT_REQUESTED: tuple[str, ...] = (
    sop_class.Verification,
    sop_class.PatientRootQueryRetrieveInformationModelFind, sop_class.StudyRootQueryRetrieveInformationModelFind,
    sop_class.PatientRootQueryRetrieveInformationModelGet, sop_class.StudyRootQueryRetrieveInformationModelGet,
    sop_class.PatientRootQueryRetrieveInformationModelMove, sop_class.StudyRootQueryRetrieveInformationModelMove,
    *GET_STORAGE_CLASSES)
#: TLS settings keys of :attr:`AE.tls`
TLS_KEYS = frozenset({"ca_file", "cert_file", "key_file", "verify_peer", "server_name"})
_STORAGE_NAMES = {str(cx.abstract_syntax) for cx in AllStoragePresentationContexts}


class DimseError(NetworkError):
    """A DICOM peer could not be reached, refused the association, or answered with a failure."""


def _is_storage(uid: str) -> bool:
    return str(uid) in _STORAGE_NAMES or str(uid) in GET_STORAGE_CLASSES


def _tls_context(settings: dict[str, Any], server_side: bool) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` from :attr:`AE.tls` settings (unknown keys are refused). ``verify_peer``
    (default True): a client checks the server's certificate against ``ca_file`` (and its name
    against ``server_name`` when given); a server asks clients for certificates."""
    unknown = set(settings) - TLS_KEYS
    if unknown:
        raise ValueError(f"unknown ae.tls settings {sorted(unknown)}; known: {sorted(TLS_KEYS)}")
    purpose = ssl.Purpose.CLIENT_AUTH if server_side else ssl.Purpose.SERVER_AUTH
    context = ssl.create_default_context(purpose, cafile=settings.get("ca_file") or None)
    verify = settings.get("verify_peer", True)
    if not server_side:
        context.check_hostname = bool(verify and settings.get("server_name"))
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if settings.get("cert_file"):
        context.load_cert_chain(settings["cert_file"], settings.get("key_file") or None)
    return context


class Association(_PynetdicomAssociation):
    """A DIMSE association, persistent like pynetdicom's: :meth:`AE.associate` opens it, every
    ``send_c_*`` reuses it, ``release()`` tears it down. It *is* a
    :class:`pynetdicom.association.Association` (``local``, ``accepted_contexts``, ``bind``,
    ``send_c_echo/store/find/move/cancel``, ``send_n_*``, ``release``, ``abort``); only
    :meth:`send_c_get` adds the one-shot fallback. ``send_c_cancel`` sends a real C-CANCEL
    (pynetdicom's), which a peer may honour or ignore."""

    def _scp_role_storage(self) -> bool:
        """Whether a storage class was accepted with us in the SCP role (C-GET can use this association)."""
        return any(_is_storage(cx.abstract_syntax) and cx.as_scp for cx in self.accepted_contexts)

    def send_c_get(self, dataset: Any, query_model: str, msg_id: int = 1,
                   priority: int = 2) -> Iterator[tuple[Any, Any]]:
        """C-GET: yields ``(status, identifier)`` per response. Matched instances are delivered to
        the ``EVT_C_STORE`` handlers bound on this association (from ``associate`` or
        :meth:`AE.bind`). When a storage class was negotiated with our SCP role (the AE's supported
        storage contexts, at ``associate()``) it runs on this persistent association; otherwise on
        a one-shot association to the same peer that negotiates :data:`GET_STORAGE_CLASSES` with
        the SCP role and the same handlers."""
        if self._scp_role_storage() or not isinstance(self.ae, AE):
            yield from super().send_c_get(dataset, query_model, msg_id, priority)
            return
        yield from self.ae._one_shot_get(self, dataset, query_model, msg_id, priority)


class AE(pynetdicom.ae.ApplicationEntity):
    """A pynetdicom Application Entity (``pynetdicom.AE``) with default requested contexts,
    C-GET with SCP role negotiation from the supported storage contexts, AE-level event handlers
    (:meth:`bind`) and TLS from :attr:`tls`.

    Parameters
    ----------
    ae_title : str
        The AE title (at most 16 characters).
    """

    def __init__(self, ae_title: str = "PYNETDICOM") -> None:
        super().__init__(ae_title)
        #: TLS settings (``ca_file``, ``cert_file``, ``key_file``, ``verify_peer``, ``server_name``);
        #: empty: no TLS
        self.tls: dict[str, Any] = {}
        self._ae_handlers: list[tuple] = []
        self._starting = threading.local()

    # -- handlers -------------------------------------------------------------------------------
    def bind(self, event: tuple, handler: Callable, args: list | None = None) -> None:
        """Bind ``handler`` to ``event`` (``evt.EVT_*``) on every association this AE requests
        from now on (e.g. ``EVT_C_STORE`` for the instances of a C-GET)."""
        self._ae_handlers.append((event, handler, args) if args else (event, handler))

    def unbind(self, event: tuple, handler: Callable) -> None:
        """Undo :meth:`bind` for ``event`` and ``handler``."""
        self._ae_handlers = [h for h in self._ae_handlers if (h[0], h[1]) != (event, handler)]

    # -- negotiation ----------------------------------------------------------------------------
    def _proposal(self, contexts: list | None) -> tuple[list, list]:
        """The contexts to propose and the SCP-role items: the requested ones, the supported storage
        classes (SCP role, for C-GET), then :data:`DEFAULT_REQUESTED`, up to :data:`MAX_CONTEXTS`."""
        proposed = list(contexts or self.requested_contexts)
        seen = {str(cx.abstract_syntax) for cx in proposed}
        roles = []
        for cx in self.supported_contexts:
            uid = str(cx.abstract_syntax)
            if not _is_storage(uid) or len(proposed) >= MAX_CONTEXTS:
                continue
            if uid not in seen:
                proposed.append(build_context(uid, cx.transfer_syntax))
                seen.add(uid)
            roles.append(build_role(uid, scu_role=True, scp_role=True))   # we still send it too
        for uid in DEFAULT_REQUESTED:
            if len(proposed) >= MAX_CONTEXTS:
                break
            if uid not in seen:
                proposed.append(build_context(uid))
                seen.add(uid)
        return proposed, roles

    def associate(self, addr: str | tuple[str, int, int], port: int, contexts: list | None = None,
                  ae_title: str = "ANY-SCP", max_pdu: int = 16382, ext_neg: list | None = None,
                  bind_address: tuple | None = None, tls_args: tuple | None = None,
                  evt_handlers: list | None = None) -> Association:
        """Request an association with ``addr:port`` (pynetdicom's parameters). Proposes the
        requested contexts, the supported storage classes with the SCP role (unless ``ext_neg``
        already holds role items) and :data:`DEFAULT_REQUESTED`; binds the AE's handlers
        (:meth:`bind`) and ``evt_handlers``; uses :attr:`tls` when ``tls_args`` is not given.
        Returns an :class:`Association`; check ``is_established``."""
        proposed, roles = self._proposal(contexts)
        explicit_roles = any(type(item).__name__ == "SCP_SCU_RoleSelectionNegotiation" for item in ext_neg or [])
        negotiation = list(ext_neg or []) + ([] if explicit_roles else roles)
        if tls_args is None and self.tls:
            tls_args = (_tls_context(self.tls, server_side=False), self.tls.get("server_name") or "")
        handlers = list(self._ae_handlers) + list(evt_handlers or [])
        return super().associate(addr, port, contexts=proposed, ae_title=ae_title, max_pdu=max_pdu,
                                 ext_neg=negotiation or None, bind_address=bind_address, tls_args=tls_args,
                                 evt_handlers=handlers)

    def _create_socket(self, assoc, address, tls_args):          # pynetdicom's hook, per requested association
        assoc.__class__ = Association                               # our send_c_get; same state and slots
        sock = super()._create_socket(assoc, address, tls_args)
        _no_delay(sock.socket)
        return sock

    def _one_shot_get(self, origin: Association, dataset: Any, query_model: str, msg_id: int,
                      priority: int) -> Iterator[tuple[Any, Any]]:
        """C-GET on a new association to ``origin``'s peer with :data:`GET_STORAGE_CLASSES` in
        the SCP role; released after the last response."""
        peer = origin.acceptor
        contexts = [build_context(query_model)] + [build_context(uid) for uid in GET_STORAGE_CLASSES]
        roles = [build_role(uid, scp_role=True) for uid in GET_STORAGE_CLASSES]
        handler, args = origin.get_handlers(evt.EVT_C_STORE) or (None, None)
        bound = [] if handler is None or handler is evt.get_default_handler(evt.EVT_C_STORE) \
            else [(evt.EVT_C_STORE, handler, args) if args else (evt.EVT_C_STORE, handler)]
        bound += [h for h in self._ae_handlers if h[0] == evt.EVT_C_STORE]
        tls_args = getattr(getattr(origin.dul, "socket", None), "tls_args", None)
        one_shot = super().associate(peer.address, peer.port, contexts=contexts, ae_title=peer.ae_title,
                                     ext_neg=roles, tls_args=tls_args, evt_handlers=bound[:1])   # its own first
        if not one_shot.is_established:
            raise DimseError(f"{peer.address}:{peer.port}", "the peer refused the C-GET association")
        try:
            yield from _PynetdicomAssociation.send_c_get(one_shot, dataset, query_model, msg_id, priority)
        finally:
            one_shot.release()

    # -- servers --------------------------------------------------------------------------------
    def make_server(self, address: tuple, ae_title: str | None = None, contexts: list | None = None,
                    ssl_context: ssl.SSLContext | None = None, evt_handlers: list | None = None,
                    server_class: type | None = None, **kwargs: Any):
        """A server handle for ``address`` that is not serving yet: call ``serve_forever()`` (in a
        thread of yours) and ``shutdown()``. Default class: :class:`ThreadedServer` (pynetdicom's
        :class:`~pynetdicom.transport.ThreadedAssociationServer` with TCP_NODELAY on accepted
        connections; pynetdicom's own classes are swapped for these); TLS from :attr:`tls` when
        ``ssl_context`` is not given. Same parameters as pynetdicom's ``make_server``."""
        if ssl_context is None and self.tls:
            ssl_context = _tls_context(self.tls, server_side=True)
        server = super().make_server(address, ae_title=ae_title, contexts=contexts, ssl_context=ssl_context,
                                     evt_handlers=evt_handlers,
                                     server_class=_SERVERS.get(server_class, server_class), **kwargs)
        if not getattr(self._starting, "value", False):     # start_server registers its own
            self._servers.append(server)                      # so that shutdown() finds it, and ae.shutdown() too
        return server

    def start_server(self, address: tuple, block: bool = True, ssl_context: ssl.SSLContext | None = None,
                     evt_handlers: list | None = None, ae_title: str | None = None, contexts: list | None = None):
        """Start the AE as an association acceptor (pynetdicom's ``start_server``); TLS from
        :attr:`tls` when ``ssl_context`` is not given. ``block=False`` returns the running server."""
        if ssl_context is None and self.tls:
            ssl_context = _tls_context(self.tls, server_side=True)
        self._starting.value = True
        try:
            return super().start_server(address, block=block, ssl_context=ssl_context, evt_handlers=evt_handlers,
                                        ae_title=ae_title, contexts=contexts)
        finally:
            self._starting.value = False


#: pynetdicom's long name
ApplicationEntity = AE


def _no_delay(sock: socket.socket | None) -> None:
    """Send small PDUs at once (TCP_NODELAY). A DIMSE message is a command PDU then a data PDU
    before the peer answers: with Nagle's algorithm the second waits for the peer's delayed ACK
    (~40 ms on Linux), which capped C-STORE at about 20 instances/s on loopback."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NoDelay:
    """An association server whose accepted connections send at once (:func:`_no_delay`)."""

    def get_request(self):
        client, address = super().get_request()
        _no_delay(client)
        return client, address


class Server(_NoDelay, AssociationServer):
    """pynetdicom's blocking association server, answering without Nagle delays."""


class ThreadedServer(_NoDelay, ThreadedAssociationServer):
    """pynetdicom's threaded association server (one thread per association), answering without
    Nagle delays."""


_SERVERS = {None: ThreadedServer, ThreadedAssociationServer: ThreadedServer, AssociationServer: Server}


# ---- one-call helpers (sonobridge's, beyond the pynetdicom surface) ----------------------------------------

@dataclass(frozen=True)
class DicomPeer:
    """A DIMSE peer: its AE title, host and port, and our calling AE title."""

    aet: str
    host: str
    port: int
    calling_aet: str = "SONOBRIDGE"

    def __str__(self) -> str:
        return f"dicom://{self.aet}@{self.host}:{self.port}"


def parse_dicom_url(url: str, calling_aet: str = "SONOBRIDGE") -> DicomPeer:
    """``dicom://AET@host:port`` (``dicom://host:port``: AET ``ANY-SCP``; the port defaults to 104)
    as a :class:`DicomPeer`. ``?calling=OURAET`` sets our AE title."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "dicom" or not parts.hostname:
        raise DimseError(url, "not a DIMSE address: expected dicom://AET@host:port")
    query = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item)
    try:
        port = parts.port or 104
    except ValueError:
        raise DimseError(url, "the port is not a number in 1..65535") from None
    return DicomPeer(unquote(parts.username) if parts.username else "ANY-SCP", parts.hostname, port,
                     query.get("calling", calling_aet))


@contextlib.contextmanager
def _association(peer: DicomPeer, contexts: list | None = None, *, timeout_s: float = 10.0,
                 ae: AE | None = None, **kwargs: Any) -> Iterator[Association]:
    ae = ae or AE(peer.calling_aet)
    for timer in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, timer, timeout_s)
    for context in contexts or []:
        if isinstance(context, PresentationContext):
            ae.add_requested_context(context.abstract_syntax, context.transfer_syntax)
        else:
            ae.add_requested_context(context)
    try:
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.aet, **kwargs)
    except OSError as error:
        raise DimseError(str(peer), f"cannot connect ({error.strerror or error})") from None
    if not assoc.is_established:
        reason = "refused the association" if assoc.is_rejected else "cannot be reached (no association)"
        raise DimseError(str(peer), reason)
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def _status(dataset: Any) -> int:
    return int(getattr(dataset, "Status", 0xC000)) if dataset is not None else -1


def echo(peer: DicomPeer | str, *, timeout_s: float = 10.0) -> int:
    """C-ECHO ``peer``; the response status (0 = success). Raises :class:`DimseError` when the
    peer cannot be reached or refuses."""
    peer = parse_dicom_url(peer) if isinstance(peer, str) else peer
    with _association(peer, [sop_class.Verification], timeout_s=timeout_s) as assoc:
        status = assoc.send_c_echo()
    if _status(status) < 0:
        raise DimseError(str(peer), "no C-ECHO response (timeout or abort)")
    return _status(status)


def find(peer: DicomPeer | str, query: dict[str, Any], level: str = "STUDY", *, model: str = "study",
         timeout_s: float = 10.0) -> list[Any]:
    """C-FIND at ``level`` (``PATIENT``/``STUDY``/``SERIES``/``IMAGE``) with ``query``
    (``{keyword: value}``, empty value: return that attribute); the matching identifiers
    (pydicom Datasets). ``model``: ``"study"`` or ``"patient"`` root."""
    from pydicom.dataset import Dataset

    peer = parse_dicom_url(peer) if isinstance(peer, str) else peer
    uid = _model(model, "Find")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level.upper()
    for keyword, value in query.items():
        setattr(identifier, keyword, value)
    matches = []
    with _association(peer, [uid], timeout_s=timeout_s) as assoc:
        for status, found in assoc.send_c_find(identifier, uid):
            code = _status(status)
            if code < 0 or (code not in (0xFF00, 0xFF01, 0x0000)):
                raise DimseError(str(peer), f"C-FIND failed (status 0x{max(code, 0):04X})")
            if code in (0xFF00, 0xFF01) and found is not None:
                matches.append(found)
    return matches


def _model(model: str, service: str) -> str:
    name = {"study": "StudyRoot", "patient": "PatientRoot"}.get(model.lower())
    if name is None:
        raise ValueError(f"unknown query model {model!r}: 'study' or 'patient'")
    return getattr(sop_class, f"{name}QueryRetrieveInformationModel{service}")


def store_files(peer: DicomPeer | str, files: Iterable[str | os.PathLike], *, timeout_s: float = 30.0,
                ) -> dict[str, int | str]:
    """C-STORE every DICOM file of ``files`` over one association: ``{path: status}`` (0 = stored,
    another int: the peer's failure status, a str: why it was not sent)."""
    from pydicom import dcmread

    peer = parse_dicom_url(peer) if isinstance(peer, str) else peer
    datasets = {}
    results: dict[str, int | str] = {}
    for path in map(os.fspath, files):
        try:
            datasets[path] = dcmread(path)
        except Exception as error:  # noqa: BLE001 - a file pydicom cannot read is that file's failure
            results[path] = f"not readable as DICOM ({type(error).__name__})"
    contexts = {(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets.values()}
    requested = [build_context(uid, syntax) for uid, syntax in sorted(contexts)][:MAX_CONTEXTS]
    if not datasets:
        return results
    with _association(peer, requested, timeout_s=timeout_s) as assoc:
        for path, ds in datasets.items():
            status = assoc.send_c_store(ds)
            results[path] = _status(status) if _status(status) >= 0 else "no C-STORE response (timeout or abort)"
    return results


def retrieve(peer: DicomPeer | str, query: dict[str, Any], out_dir: str | os.PathLike, *, level: str = "STUDY",
             method: str = "get", move_port: int = 0, move_aet: str = "", model: str = "study",
             timeout_s: float = 60.0, skip: Callable[[str], bool] | None = None) -> dict[str, str]:
    """Fetch the instances matching ``query`` at ``level`` into ``out_dir`` as
    ``<SOPInstanceUID>.dcm`` (written under a temporary name, then renamed): C-GET
    (``method="get"``) or C-MOVE to a storage SCP started here on ``move_port`` with AE title
    ``move_aet`` (the peer must know that AE). Returns ``{SOPInstanceUID: path}`` of what arrived."""
    from pydicom.dataset import Dataset

    peer = parse_dicom_url(peer) if isinstance(peer, str) else peer
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    received: dict[str, str] = {}
    lock = threading.Lock()

    def on_store(event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        uid = str(ds.SOPInstanceUID)
        target = out / f"{uid}.dcm"
        if skip is None or not skip(uid):
            from ..util.atomic import atomic_path

            with atomic_path(target) as temporary:
                ds.save_as(temporary, enforce_file_format=True)
        with lock:
            received[uid] = str(target)
        return 0x0000

    identifier = Dataset()
    identifier.QueryRetrieveLevel = level.upper()
    for keyword, value in query.items():
        setattr(identifier, keyword, value)
    if method == "get":
        uid = _model(model, "Get")
        ae = AE(peer.calling_aet)
        for storage in GET_STORAGE_CLASSES:
            ae.add_supported_context(storage, ALL_TRANSFER_SYNTAXES[:4])
        ae.bind(evt.EVT_C_STORE, on_store)
        with _association(peer, [uid], timeout_s=timeout_s, ae=ae) as assoc:
            _drain(peer, assoc.send_c_get(identifier, uid), "C-GET")
    elif method == "move":
        uid = _model(model, "Move")
        scp = AE(move_aet or peer.calling_aet)
        for storage in GET_STORAGE_CLASSES:
            scp.add_supported_context(storage, ALL_TRANSFER_SYNTAXES[:4])
        server = scp.start_server(("127.0.0.1" if peer.host in ("127.0.0.1", "localhost") else "",
                                   move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
        try:
            with _association(peer, [uid], timeout_s=timeout_s) as assoc:
                _drain(peer, assoc.send_c_move(identifier, move_aet or peer.calling_aet, uid), "C-MOVE")
        finally:
            server.shutdown()
    else:
        raise ValueError(f"unknown retrieve method {method!r}: 'get' or 'move'")
    return received


def _drain(peer: DicomPeer, responses: Iterator, what: str) -> None:
    for status, _ in responses:
        code = _status(status)
        if code < 0:
            raise DimseError(str(peer), f"no {what} response (timeout or abort)")
        if code not in (0x0000, 0xFF00, 0xFF01, 0xB000):
            raise DimseError(str(peer), f"{what} failed (status 0x{code:04X})")


def free_port() -> int:
    """A free TCP port on the loopback interface (for a C-MOVE destination)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
