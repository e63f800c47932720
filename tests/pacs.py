"""A real PACS for the networking tests: Debian's Orthanc (packages ``orthanc`` and
``orthanc-dicomweb``, installed by ``scripts/setup.sh test``) started as a subprocess on free loopback
ports with a temporary storage folder, and stopped after. Not a test file; the ``orthanc`` fixture of
conftest.py wraps :func:`start_orthanc`.

Interface (kept stable for every networking test):

- ``.http_url`` (``http://127.0.0.1:PORT``), ``.dicomweb_url`` (``.../dicom-web``), ``.host``,
  ``.http_port``, ``.dicom_port``, ``.aet`` (``"ORTHANC"``);
- ``.add_modality(aet, host, port)``: register a peer (so C-MOVE can send to an SCP a test starts);
- ``.reset()``: delete every stored patient/study/instance;
- ``.rest(method, path, body=None)``: Orthanc's REST API (parsed JSON, or None), for checks;
- ``.stop()``.

Orthanc 1.10 has no bind-address option: HTTP accepts loopback clients only (RemoteAccessAllowed
false); the tests talk to it on 127.0.0.1 only.
"""
from __future__ import annotations

import atexit
import base64
import json
import os
import signal
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

#: where Debian puts the server and its DICOMweb plugin (overridable for other systems)
ORTHANC_CANDIDATES = ("Orthanc", "/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGIN_CANDIDATES = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                              "/usr/lib/orthanc/libOrthancDicomWeb.so")
HOST = "127.0.0.1"


class OrthancUnavailable(RuntimeError):
    """Orthanc cannot be started here (not installed, no free port, failed start); the message says why."""


def _find_orthanc() -> str:
    explicit = os.environ.get("SONOBRIDGE_ORTHANC")
    for candidate in ([explicit] if explicit else []) + list(ORTHANC_CANDIDATES):
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    raise OrthancUnavailable("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb, "
                             "or scripts/setup.sh test)")


def _find_dicomweb_plugin() -> str:
    explicit = os.environ.get("SONOBRIDGE_ORTHANC_DICOMWEB")
    for candidate in ([explicit] if explicit else []) + list(DICOMWEB_PLUGIN_CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    raise OrthancUnavailable("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            return sock.getsockname()[1]
    except OSError as error:
        raise OrthancUnavailable(f"no free loopback port ({error})") from None


@dataclass
class Orthanc:
    """A running Orthanc (see the module docstring for the interface)."""

    process: subprocess.Popen
    folder: Path
    http_port: int
    dicom_port: int
    aet: str = "ORTHANC"
    host: str = HOST
    scheme: str = "http"
    username: str | None = None
    password: str | None = None
    modalities: dict[str, tuple[str, str, int]] = field(default_factory=dict)

    @property
    def http_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.http_url}/dicom-web"

    @property
    def log(self) -> str:
        """The server's log so far (for failure messages)."""
        path = self.folder / "orthanc.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ REST
    def rest(self, method: str, path: str, body: object = None, timeout: float = 30.0):
        """Call Orthanc's REST API: ``body`` is sent as JSON (bytes as they are); returns the parsed
        JSON answer (None when empty)."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.http_url + path, data=data, method=method)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = None
        if self.scheme == "https":
            import ssl
            context = ssl.create_default_context(cafile=str(self.folder / "server.pem"))
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            content = answer.read()
        return json.loads(content) if content.strip() else None

    def add_modality(self, aet: str, host: str, port: int) -> None:
        """Register the DICOM peer ``aet`` at ``host``:``port`` (name = AET) so that Orthanc can
        C-STORE to it (C-MOVE destinations)."""
        self.rest("PUT", f"/modalities/{aet}", {"AET": aet, "Host": host, "Port": int(port)})
        self.modalities[aet] = (aet, host, int(port))

    def reset(self) -> None:
        """Delete every stored resource (between tests)."""
        for patient in self.rest("GET", "/patients") or []:
            self.rest("DELETE", f"/patients/{patient}")

    def instance_count(self) -> int:
        return int(self.rest("GET", "/statistics")["CountInstances"])

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> Orthanc:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:  # pragma: no cover (runs in the child)
    """Linux: the server gets SIGTERM when the test process dies (no orphan holding the ports)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _configuration(folder: Path, http_port: int, dicom_port: int, aet: str, plugin: str,
                   certificate: Path | None, users: dict[str, str] | None) -> dict:
    config = {
        "Name": "sonobridge-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "Plugins": [plugin],
        "ConcurrentJobs": 1,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "HttpDescribeErrors": True,
        "HttpCompressionEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": users or {},
        "SslEnabled": certificate is not None,
        "SslCertificate": str(certificate) if certificate else "",
        "DicomServerEnabled": True,
        "DicomAet": aet,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": False,
        "DicomCheckModalityHost": False,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "UnknownSopClassAccepted": True,
        "DicomModalities": {},
        "DicomModalitiesInDatabase": False,
        "DicomScpTimeout": 30,
        "DicomScuTimeout": 10,
        "SynchronousCMove": True,
        "SaveJobs": False,
        "StableAge": 1,
        "OverwriteInstances": False,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "WadoRoot": "/wado",
                     "Ssl": certificate is not None, "StudiesMetadata": "Full", "SeriesMetadata": "Full"},
    }
    return config


def make_certificate(folder: Path, host: str = HOST) -> Path:
    """A self-signed certificate for ``host`` (PEM: certificate then key, as Orthanc wants it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OrthancUnavailable("openssl is needed to make a test certificate")
    key, cert = folder / "server.key", folder / "server.crt"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    pem = folder / "server.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


def start_orthanc(folder: Path, *, aet: str = "ORTHANC", tls: bool = False,
                  users: dict[str, str] | None = None, timeout: float = 40.0) -> Orthanc:
    """Start Orthanc with storage under ``folder`` (created) on free loopback ports; return once its
    REST API answers. ``tls``: HTTPS with a self-signed certificate (``folder/server.pem``, also the
    CA to trust); ``users``: HTTP basic authentication with these name -> password pairs. Raises
    :class:`OrthancUnavailable` when it cannot start."""
    binary, plugin = _find_orthanc(), _find_dicomweb_plugin()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    certificate = make_certificate(folder) if tls else None
    last_problem = ""
    for _attempt in range(3):                       # a port taken between probing and binding: retry
        http_port, dicom_port = free_port(), free_port()
        if http_port == dicom_port:
            continue
        config = folder / "orthanc.json"
        config.write_text(json.dumps(_configuration(folder, http_port, dicom_port, aet, plugin,
                                                     certificate, users), indent=1))
        with open(folder / "orthanc.log", "wb") as log:
            process = subprocess.Popen([binary, "--no-jobs", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=folder,
                                       env={**os.environ, "TCP_NODELAY": "1"},   # DCMTK: no delayed ACKs
                                       preexec_fn=_die_with_parent if os.name == "posix" else None)
        server = Orthanc(process, folder, http_port, dicom_port, aet=aet, scheme="https" if tls else "http")
        if users:
            server.username, server.password = next(iter(users.items()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.rest("GET", "/system", timeout=2)
                plugins = server.rest("GET", "/plugins") or []
                if "dicom-web" not in plugins:
                    server.stop()
                    raise OrthancUnavailable(f"Orthanc started without its DICOMweb plugin ({plugins})")
                atexit.register(server.stop)
                return server
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.1)
        server.stop()
        tail = "\n".join(server.log.splitlines()[-8:])
        last_problem = (f"Orthanc exited with status {process.returncode}" if process.returncode is not None
                        else f"Orthanc did not answer within {timeout:.0f} s") + f":\n{tail}"
    raise OrthancUnavailable(last_problem or "no two distinct free ports")


def make_instance(study_uid: str, series_uid: str, number: int, *, rows: int = 16, columns: int = 16,
                  patient_id: str = "SONO-NET", seed: int = 0, frames: int = 1) -> bytes:
    """A small valid Part-10 Ultrasound Multi-frame (frames > 1) or Ultrasound Image instance
    (Explicit VR Little Endian, uint8 grey random pixels) as bytes, for stores and round trips."""
    import io

    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    sop_class = "1.2.840.10008.5.1.4.1.1.3.1" if frames > 1 else "1.2.840.10008.5.1.4.1.1.6.1"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[study_uid, series_uid, str(number), str(seed)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.PatientName, ds.Modality = patient_id, "Sono^Bridge", "US"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
    ds.StudyDescription = f"sonobridge network test {patient_id}"
    ds.SeriesNumber, ds.InstanceNumber = 1, number
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, columns, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if frames > 1:
        ds.NumberOfFrames, ds.FrameTime = frames, 40.0
    pixels = np.random.default_rng([seed, number]).integers(0, 256, (frames, rows, columns), dtype=np.uint8)
    ds.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
