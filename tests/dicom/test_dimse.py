"""sonobridge.dicom.dimse: pynetdicom's interface on pynetdicom, against real peers on loopback: a
pynetdicom SCP started here (storage, find, get, move) and Orthanc (the ``orthanc`` fixture)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pynetdicom")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

import sonobridge.dicom.dimse as dimse  # noqa: E402
from sonobridge.dicom.dimse import AE, evt, sop_class  # noqa: E402

US = sop_class.UltrasoundImageStorage
FIND, GET = sop_class.StudyRootQueryRetrieveInformationModelFind, sop_class.StudyRootQueryRetrieveInformationModelGet


def small_instance(study: str, patient: str = "PAT1", number: int = 1) -> Dataset:
    """A 4x4 Ultrasound Image Storage instance (a Part-10 dataset)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = US
    ds.SOPClassUID, ds.SOPInstanceUID = US, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid(entropy_srcs=[study])
    ds.PatientID, ds.PatientName, ds.Modality, ds.InstanceNumber = patient, "Test^Patient", "US", number
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID, ds.SeriesNumber = "20260101", "120000", "", "1", 1
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.arange(16, dtype=np.uint8).tobytes()
    return ds


class ToySCP:
    """A pynetdicom storage / find / get / move SCP on loopback holding what it is sent."""

    def __init__(self, ae_title: str = "TOYSCP") -> None:
        self.stored: dict[str, Dataset] = {}
        self.destinations: dict[str, tuple[str, int]] = {}
        self.ae = AE(ae_title)
        for cx in dimse.StoragePresentationContexts:
            self.ae.add_supported_context(cx.abstract_syntax, dimse.ALL_TRANSFER_SYNTAXES)
        for uid in (sop_class.Verification, sop_class.StudyRootQueryRetrieveInformationModelFind,
                    sop_class.StudyRootQueryRetrieveInformationModelGet,
                    sop_class.StudyRootQueryRetrieveInformationModelMove):
            self.ae.add_supported_context(uid)
        for cx in dimse.StoragePresentationContexts[:40]:      # C-MOVE sub-operations (as SCU)
            self.ae.add_requested_context(cx.abstract_syntax)
        self.port = dimse.free_port()
        handlers = [(evt.EVT_C_STORE, self._store), (evt.EVT_C_FIND, self._find), (evt.EVT_C_GET, self._get),
                    (evt.EVT_C_MOVE, self._move)]
        for cx in self.ae.supported_contexts:           # accept the SCP role for C-GET's storage
            cx.scu_role, cx.scp_role = True, True
        self.server = self.ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)

    def _store(self, event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        self.stored[str(ds.SOPInstanceUID)] = ds
        return 0x0000

    def _matches(self, identifier: Dataset) -> list[Dataset]:
        study = getattr(identifier, "StudyInstanceUID", "")
        return [ds for ds in self.stored.values() if not study or ds.StudyInstanceUID == study]

    def _find(self, event):
        for ds in self._matches(event.identifier):
            answer = Dataset()
            answer.QueryRetrieveLevel = event.identifier.QueryRetrieveLevel
            answer.StudyInstanceUID, answer.SOPInstanceUID = ds.StudyInstanceUID, ds.SOPInstanceUID
            answer.PatientID = ds.PatientID
            yield 0xFF00, answer

    def _get(self, event):
        matches = self._matches(event.identifier)
        yield len(matches)
        for ds in matches:
            yield 0xFF00, ds

    def _move(self, event):
        if event.move_destination not in self.destinations:
            yield None, None
            return
        yield (*self.destinations[event.move_destination], {})
        matches = self._matches(event.identifier)
        yield len(matches)
        for ds in matches:
            yield 0xFF00, ds

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def scp():
    peer = ToySCP()
    yield peer
    peer.close()


def _fast(ae: AE) -> AE:
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    return ae


def test_the_surface_is_pynetdicoms():
    import pynetdicom

    assert issubclass(dimse.AE, pynetdicom.AE) and issubclass(dimse.Association, pynetdicom.association.Association)
    assert dimse.evt is pynetdicom.evt and dimse.build_context is pynetdicom.build_context
    for name in ("active_associations", "remove_requested_context", "remove_supported_context", "make_server"):
        assert hasattr(AE, name)
    for name in ("local", "accepted_contexts", "bind", "send_c_cancel", "send_c_get", "send_c_echo",
                 "send_c_store", "send_c_find", "send_c_move"):
        assert hasattr(dimse.Association, name)


def test_persistent_association_echo_store_find_and_default_contexts(scp):
    ae = _fast(AE("SCU"))
    ae.add_requested_context(US, ExplicitVRLittleEndian)      # Verification and Q/R come from the defaults
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="TOYSCP")
    assert assoc.is_established and isinstance(assoc, dimse.Association)
    assert assoc in ae.active_associations and assoc.local["ae_title"] == "SCU"
    study = generate_uid()
    assert assoc.send_c_echo().Status == 0
    for number in range(3):                                    # many operations, one negotiation
        assert assoc.send_c_store(small_instance(study, number=number)).Status == 0
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID, query.SOPInstanceUID = "IMAGE", study, ""
    found = [identifier for status, identifier in
             assoc.send_c_find(query, sop_class.StudyRootQueryRetrieveInformationModelFind) if status.Status == 0xFF00]
    assert {str(ds.SOPInstanceUID) for ds in found} == set(scp.stored)
    assoc.send_c_cancel(1, None, sop_class.StudyRootQueryRetrieveInformationModelFind)  # accepted (nothing to cancel)
    assoc.release()
    assoc.join(5)
    assert not assoc.is_established and assoc not in ae.active_associations


def test_c_get_on_the_persistent_association_with_scp_role(scp):
    study = generate_uid()
    scp.stored.update({str(ds.SOPInstanceUID): ds for ds in (small_instance(study, number=n) for n in range(2))})
    received = []
    ae = _fast(AE("GETSCU"))
    ae.add_supported_context(US, ExplicitVRLittleEndian)       # negotiated with the SCP role at associate()
    ae.bind(evt.EVT_C_STORE, lambda event: received.append(event.dataset.SOPInstanceUID) or 0)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="TOYSCP")
    assert assoc._scp_role_storage()
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study
    statuses = [status.Status for status, _ in assoc.send_c_get(query, GET)]
    assert statuses[-1] == 0 and sorted(received) == sorted(scp.stored)
    assert assoc.send_c_echo().Status == 0                    # still the same, open association
    assoc.release()


def test_c_get_without_supported_contexts_runs_one_shot(scp):
    study = generate_uid()
    ds = small_instance(study)
    scp.stored[str(ds.SOPInstanceUID)] = ds
    received = []
    ae = _fast(AE("GETSCU"))
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="TOYSCP",
                         evt_handlers=[(evt.EVT_C_STORE, lambda event: received.append(1) or 0)])
    assert not assoc._scp_role_storage()
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study
    statuses = [status.Status for status, _ in assoc.send_c_get(query, GET)]
    assert statuses[-1] == 0 and received == [1]
    assoc.release()


def test_make_server_is_a_handle_not_yet_serving(tmp_path: Path):
    ae = AE("SRV")
    ae.add_supported_context(sop_class.Verification)
    port = dimse.free_port()
    server = ae.make_server(("127.0.0.1", port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert dimse.echo(f"dicom://SRV@127.0.0.1:{port}") == 0
    finally:
        server.shutdown()
    with pytest.raises(dimse.DimseError, match="cannot"):
        dimse.echo(f"dicom://SRV@127.0.0.1:{port}", timeout_s=2)


def test_tls_from_ae_settings(tmp_path: Path):
    """``ae.tls`` secures both ends: a TLS SCP answers a TLS SCU, and refuses plain text."""
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                           "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=DNS:localhost"], capture_output=True)
    if made.returncode:
        pytest.skip("openssl cannot make a test certificate")
    server_ae = AE("TLSSCP")
    server_ae.add_supported_context(sop_class.Verification)
    server_ae.tls = {"cert_file": str(cert), "key_file": str(key), "verify_peer": False}
    port = dimse.free_port()
    server = server_ae.start_server(("127.0.0.1", port), block=False)
    try:
        client = _fast(AE("TLSSCU"))
        client.tls = {"ca_file": str(cert), "server_name": "localhost"}
        assoc = client.associate("127.0.0.1", port, ae_title="TLSSCP")
        assert assoc.is_established and assoc.send_c_echo().Status == 0
        assoc.release()
        plain = _fast(AE("PLAIN"))
        plain.acse_timeout = 2
        assert not plain.associate("127.0.0.1", port, ae_title="TLSSCP").is_established
    finally:
        server.shutdown()


def test_helpers_store_find_get_move(scp, tmp_path: Path):
    study = generate_uid()
    files = []
    for number in range(3):
        path = tmp_path / f"in{number}.dcm"
        small_instance(study, number=number).save_as(path, enforce_file_format=True)
        files.append(path)
    peer = dimse.parse_dicom_url(f"dicom://TOYSCP@127.0.0.1:{scp.port}")
    assert set(dimse.store_files(peer, files).values()) == {0}
    assert len(dimse.find(peer, {"StudyInstanceUID": study, "SOPInstanceUID": ""}, "IMAGE")) == 3
    got = dimse.retrieve(peer, {"StudyInstanceUID": study}, tmp_path / "get")
    assert sorted(got) == sorted(scp.stored) and all(Path(p).is_file() for p in got.values())
    port = dimse.free_port()
    scp.destinations["MOVEDEST"] = ("127.0.0.1", port)
    moved = dimse.retrieve(peer, {"StudyInstanceUID": study}, tmp_path / "move", method="move",
                           move_port=port, move_aet="MOVEDEST")
    assert sorted(moved) == sorted(scp.stored)


def test_parse_dicom_url():
    assert dimse.parse_dicom_url("dicom://ORTHANC@pacs:4242") == dimse.DicomPeer("ORTHANC", "pacs", 4242)
    assert dimse.parse_dicom_url("dicom://pacs").port == 104
    with pytest.raises(dimse.DimseError, match="dicom://AET@host:port"):
        dimse.parse_dicom_url("http://pacs")


def test_against_orthanc_echo_store_find_get_move(orthanc, tmp_path: Path):
    """The same surface against a real PACS: C-ECHO, C-STORE, C-FIND, C-GET (SCP role on the
    persistent association) and C-MOVE back to an SCP started here and registered in Orthanc."""
    orthanc.reset()
    url = f"dicom://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"
    assert dimse.echo(url) == 0
    study = generate_uid()
    instances = [small_instance(study, number=n) for n in range(2)]
    ae = _fast(AE("SONOTEST"))
    ae.add_requested_context(US, ExplicitVRLittleEndian)
    ae.add_supported_context(US, dimse.ALL_TRANSFER_SYNTAXES[:4])
    received = []
    ae.bind(evt.EVT_C_STORE, lambda event: received.append(str(event.dataset.SOPInstanceUID)) or 0)
    assoc = ae.associate("127.0.0.1", orthanc.dicom_port, ae_title=orthanc.aet)
    assert assoc.is_established
    try:
        assert [assoc.send_c_store(ds).Status for ds in instances] == [0, 0]
        query = Dataset()
        query.QueryRetrieveLevel, query.StudyInstanceUID, query.SOPInstanceUID = "IMAGE", study, ""
        expected = sorted(str(ds.SOPInstanceUID) for ds in instances)
        deadline = time.monotonic() + 10          # a busy Orthanc may index the last store a moment later
        while True:
            found = sorted(str(i.SOPInstanceUID) for s, i in assoc.send_c_find(query, FIND) if s.Status == 0xFF00)
            if found == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found == expected
        query = Dataset()
        query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", study
        last = [s.Status for s, _ in assoc.send_c_get(query, GET)][-1]
        assert last == 0 and sorted(received) == sorted(found)
    finally:
        assoc.release()
    port = dimse.free_port()
    orthanc.add_modality("SONOMOVE", "127.0.0.1", port)
    moved = dimse.retrieve(url, {"StudyInstanceUID": study}, tmp_path / "moved", method="move", move_port=port,
                           move_aet="SONOMOVE")
    assert sorted(moved) == sorted(found)
