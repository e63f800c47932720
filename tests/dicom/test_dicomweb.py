"""sonobridge.dicom.dicomweb against a real PACS: Debian's Orthanc with its DICOMweb plugin (the
``orthanc`` fixture, tests/pacs.py). QIDO-RS, WADO-RS (instances, series, studies, metadata, frames,
bulk data, rendered), STOW-RS with partial success, DELETE refused, and the transport: retries on
5xx, timeouts, bearer/basic auth (a second Orthanc wanting credentials) and TLS. The failing/guarding peer of
the retry, timeout and bearer tests is a small HTTP server in the test that forwards to Orthanc."""
from __future__ import annotations

import base64
import dataclasses
import http.server
import io
import ssl
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_frames

from pacs import OrthancUnavailable, free_port, make_certificate, make_instance, start_orthanc
from support import DICOM

dicomweb = pytest.importorskip("sonobridge.dicom.dicomweb")
from sonobridge.errors import NetworkError  # noqa: E402

CINE120 = DICOM / "pydicom-data" / "color3d_jpeg_baseline.dcm"     # 120-frame JPEG baseline colour cine
US_RAW = DICOM / "pydicom-data" / "US1_UNCR.dcm"                     # uncompressed RGB ultrasound
PALETTE = DICOM / "pydicom-data" / "OBXXXX1A.dcm"
STUDY, SERIES = "1.2.826.0.1.3680043.8.498.160001", "1.2.826.0.1.3680043.8.498.160001.1"
SMALL = 12                                                           # synthetic instances in STUDY


def _uids(path) -> tuple[str, str, str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID


def _sop(blob: bytes) -> str:
    return pydicom.dcmread(io.BytesIO(blob), stop_before_pixels=True).SOPInstanceUID


@pytest.fixture(scope="module")
def pacs(orthanc):
    """Orthanc holding the real fixtures and SMALL synthetic instances (one study), stored via STOW-RS."""
    orthanc.reset()
    small = [make_instance(STUDY, SERIES, n, rows=32, columns=24, seed=16) for n in range(1, SMALL + 1)]
    files = [p.read_bytes() for p in (CINE120, US_RAW, PALETTE)]
    result = dicomweb.store_instances(orthanc.dicomweb_url, small + files)
    assert result["status"] == 200 and not result["failed"], result
    assert [e["index"] for e in result["stored"]] == list(range(len(small) + len(files)))
    orthanc.small = small
    yield orthanc
    orthanc.reset()


# ------------------------------------------------------------------ QIDO-RS
def test_search_matches_keywords_tags_and_uid_lists(pacs):
    url = pacs.dicomweb_url
    assert {STUDY, *(_uids(p)[0] for p in (CINE120, US_RAW, PALETTE))} <= \
           {dicomweb.json_value(r, "0020000D") for r in dicomweb.search_studies(url)}
    by_tag = dicomweb.search_studies(url, matches={"00100020": "SONO-NET"})
    by_keyword = dicomweb.search_studies(url, matches={"PatientID": "SONO-NET"})
    assert [dicomweb.json_value(r, "0020000D") for r in by_tag] == [STUDY] == \
           [dicomweb.json_value(r, "0020000D") for r in by_keyword]
    both = dicomweb.search_studies(url, matches={"StudyInstanceUID": [STUDY, _uids(US_RAW)[0]]})
    assert {dicomweb.json_value(r, "0020000D") for r in both} == {STUDY, _uids(US_RAW)[0]}
    assert dicomweb.search_studies(url, matches={"PatientID": "nobody"}) == []
    assert len(dicomweb.search_series(url, STUDY)) == 1
    assert len(dicomweb.search_instances(url, STUDY, SERIES)) == SMALL
    assert len(dicomweb.search_instances(url, series_uid=SERIES)) == SMALL   # series without its study


def test_search_limit_offset_pages_and_includefields(pacs):
    url = pacs.dicomweb_url
    pages = [dicomweb.search_instances(url, STUDY, limit=5, offset=start) for start in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    uids = [dicomweb.json_value(r, "00080018") for page in pages for r in page]
    assert sorted(uids) == sorted(_sop(b) for b in pacs.small)
    plain = dicomweb.search_instances(url, STUDY, limit=1)[0]
    extra = dicomweb.search_instances(url, STUDY, limit=1, includefields=["00280004", "StudyDescription"])[0]
    assert "00280004" not in plain and dicomweb.json_value(extra, "00280004") == "MONOCHROME2"
    assert dicomweb.json_value(extra, "00081030") == "sonobridge network test SONO-NET"
    study = dicomweb.search_studies(url, matches={"PatientID": "SONO-NET"}, includefields="StudyDescription")[0]
    assert dicomweb.json_value(study, "00081030") == "sonobridge network test SONO-NET"


# ------------------------------------------------------------------ WADO-RS
def test_retrieve_instance_as_stored_is_bit_identical_and_default_is_explicit_little_endian(pacs):
    study, series, sop = _uids(CINE120)
    stored = dicomweb.retrieve_instance(pacs.dicomweb_url, study, series, sop, transfer_syntax="*")
    assert stored == CINE120.read_bytes()
    study, series, sop = _uids(US_RAW)
    default = pydicom.dcmread(io.BytesIO(dicomweb.retrieve_instance(pacs.dicomweb_url, study, series, sop)))
    original = pydicom.dcmread(US_RAW)
    assert default.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(default.pixel_array, original.pixel_array)


def test_transfer_syntax_the_server_cannot_make_falls_back_to_its_default(pacs):
    study, series, sop = _uids(US_RAW)
    with pytest.warns(UserWarning, match="cannot send transfer syntax"):
        blob = dicomweb.retrieve_instance(pacs.dicomweb_url, study, series, sop,
                                          transfer_syntax="1.2.840.10008.1.2.4.90")   # no J2K encoder in Orthanc
    assert pydicom.dcmread(io.BytesIO(blob)).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_retrieve_series_and_study_and_streams_in_tiny_chunks(pacs):
    url = pacs.dicomweb_url
    series = dicomweb.retrieve_series(url, STUDY, SERIES, transfer_syntax="*")
    assert sorted(series) == sorted(pacs.small)                     # bit-identical, every instance
    with dicomweb.transport(chunk_size=7):                          # delimiters straddle chunks
        assert sorted(dicomweb.iter_study(url, STUDY, transfer_syntax="*")) == sorted(pacs.small)
    assert sorted(map(_sop, dicomweb.retrieve_study(url, STUDY))) == sorted(map(_sop, pacs.small))
    with pytest.raises(NetworkError) as error:
        dicomweb.retrieve_instance(url, STUDY, SERIES, "1.2.3.4")
    assert error.value.status == 404 and "1.2.3.4" in str(error.value)


def test_iter_study_holds_one_instance_at_a_time(orthanc):
    study, series = STUDY + ".2", SERIES + ".2"
    size = 512 * 512 * 4
    blobs = [make_instance(study, series, n, rows=512, columns=512, frames=4) for n in range(1, 7)]
    assert dicomweb.store_instances(orthanc.dicomweb_url, blobs)["status"] == 200
    try:
        tracemalloc.start()
        count = 0
        with dicomweb.transport(chunk_size=64 << 10):
            for blob in dicomweb.iter_study(orthanc.dicomweb_url, study, transfer_syntax="*"):
                count += len(blob) > size
                del blob
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 6
    # two instances (the buffer and the part cut from it) and two chunks, not six instances
    assert peak < 2.5 * size, f"peak {peak / 1e6:.1f} MB for 6 instances of {size / 1e6:.1f} MB"


def test_metadata_and_bulkdata(pacs):
    url = pacs.dicomweb_url
    assert len(dicomweb.retrieve_study_metadata(url, STUDY)) == SMALL
    assert len(dicomweb.retrieve_series_metadata(url, STUDY, SERIES)) == SMALL
    study, series, sop = _uids(US_RAW)
    record = dicomweb.retrieve_instance_metadata(url, study, series, sop)
    assert dicomweb.json_value(record, "00080018") == sop and dicomweb.json_value(record, "00280010") == 480
    pixel_uri = record["7FE00010"]["BulkDataURI"]
    assert dicomweb.retrieve_bulkdata(pixel_uri) == [pydicom.dcmread(US_RAW).PixelData]


def test_frames_of_the_120_frame_cine(pacs):
    study, series, sop = _uids(CINE120)
    original = pydicom.dcmread(CINE120)
    bitstreams = list(generate_frames(original.PixelData, number_of_frames=120))
    url = pacs.dicomweb_url
    jpeg = dicomweb.retrieve_frames(url, study, series, sop, "1,3-5,120", transfer_syntax="*")
    assert jpeg == [bitstreams[i - 1] for i in (1, 3, 4, 5, 120)]   # stored JPEG frames, bit-identical
    assert dicomweb.retrieve_frames(url, study, series, sop, [2], transfer_syntax="1.2.840.10008.1.2.4.50") \
        == [bitstreams[1]]
    raw = dicomweb.retrieve_frames(url, study, series, sop, 7)          # decoded by the server
    assert len(raw) == 1 and len(raw[0]) == 480 * 640 * 3
    with pytest.raises(ValueError):
        dicomweb.retrieve_frames(url, study, series, sop, "0,2")
    with pytest.raises(ValueError):
        dicomweb.retrieve_frames(url, study, series, sop, "5-3")
    with pytest.raises(NetworkError):
        dicomweb.retrieve_frames(url, study, series, sop, 121)
    assert dicomweb.parse_frames("1, 3-5,7") == [1, 3, 4, 5, 7] and dicomweb.parse_frames(range(1, 3)) == [1, 2]


def test_rendered_with_window_quality_and_viewport(pacs):
    from PIL import Image

    study, series, sop = _uids(US_RAW)
    url = pacs.dicomweb_url
    full = dicomweb.retrieve_rendered(url, study, series, sop)
    assert full[:2] == b"\xff\xd8" and Image.open(io.BytesIO(full)).size == (640, 480)
    small = dicomweb.retrieve_rendered(url, study, series, sop, viewport=(64, 48), quality=30, window=(128, 256))
    assert Image.open(io.BytesIO(small)).size == (64, 48) and len(small) < len(full)
    series_level = dicomweb.retrieve_rendered(url, study, series, sop, level="series")
    assert series_level[:2] == b"\xff\xd8"
    with pytest.raises(ValueError):
        dicomweb.retrieve_rendered(url, study, level="instance")


def test_delete_is_refused_cleanly_by_orthanc(pacs):
    study, series, sop = _uids(PALETTE)
    for call, args in ((dicomweb.delete_study, (study,)), (dicomweb.delete_series, (study, series)),
                       (dicomweb.delete_instance, (study, series, sop))):
        with pytest.raises(NetworkError, match="delete transaction is not core") as error:
            call(pacs.dicomweb_url, *args)
        assert error.value.status == 405
    assert len(dicomweb.search_instances(pacs.dicomweb_url, study)) == 1


# ------------------------------------------------------------------ STOW-RS
def test_store_partial_success_and_refusals_are_parsed(orthanc):
    url = orthanc.dicomweb_url
    study = STUDY + ".3"
    valid = make_instance(study, study + ".1", 1)
    result = dicomweb.store_instances(url, [valid, b"this is not DICOM" * 20])
    assert result["status"] == 202
    assert [(e["index"], e["sop_instance_uid"]) for e in result["stored"]] == [(0, _sop(valid))]
    assert result["stored"][0]["retrieve_url"].startswith(url)
    [failed] = result["failed"]
    assert failed["index"] == 1 and failed["failure_reason"] == 0xC000
    none = dicomweb.store_instances(url, [b"garbage" * 30])
    assert none["status"] == 409 and not none["stored"] and len(none["failed"]) == 1
    other = make_instance(study + ".9", study + ".9.1", 1)
    bound = dicomweb.store_instances(url, [other], study_uid=study)       # wrong study: the server refuses it
    assert bound["status"] == 409 and bound["failed"][0]["sop_instance_uid"] == _sop(other)
    assert isinstance(bound["failed"][0]["failure_reason"], int)
    with pytest.raises(TypeError):
        dicomweb.store_instances(url, [CINE120])
    with dicomweb.transport(store_batch_bytes=1):                      # one request per instance
        many = dicomweb.store_instances(url, [make_instance(study, study + ".2", n) for n in range(3)])
    assert many["status"] == 200 and [e["index"] for e in many["stored"]] == [0, 1, 2]


# ------------------------------------------------------------------ transport: retries, timeouts, auth
class _Forwarder(http.server.ThreadingHTTPServer):
    """Answers ``fail`` requests with 503 (or sleeps ``delay`` s, or wants a bearer token), then
    forwards GETs to Orthanc (without the answer's last ``cut`` bytes); over TLS with the ``tls`` context."""

    daemon_threads, block_on_close = True, False       # a sleeping handler does not hold the test

    def __init__(self, target: str, fail: int = 0, delay: float = 0.0, token: str | None = None,
                 tls: ssl.SSLContext | None = None, cut: int = 0):
        self.target, self.fail, self.delay, self.token, self.seen = target, fail, delay, token, 0
        self.cut = cut
        super().__init__(("127.0.0.1", 0), _ForwardHandler)
        self.scheme = "https" if tls else "http"
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/dicom-web"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _ForwardHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        import urllib.request

        server: _Forwarder = self.server
        server.seen += 1
        if server.seen <= server.fail:
            self._answer(503, b'{"Details": "busy"}', "application/json")
            return
        if server.delay:
            time.sleep(server.delay)
        if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
            self._answer(401, b"", "text/plain")
            return
        request = urllib.request.Request(server.target + self.path, headers={"Accept": self.headers["Accept"]})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
            self._answer(answer.status, body[:len(body) - server.cut], answer.headers["Content-Type"])

    def _answer(self, status, body, content_type):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:                       # the client gave up (timeout test)
            pass


def test_retries_5xx_with_backoff_then_succeeds_or_gives_up(pacs):
    direct = dicomweb.search_studies(pacs.dicomweb_url)
    with _Forwarder(pacs.http_url, fail=2) as proxy, dicomweb.transport(backoff=0.01, retries=3):
        assert dicomweb.search_studies(proxy.url) == direct
        assert proxy.seen == 3
    with _Forwarder(pacs.http_url, fail=10) as proxy, dicomweb.transport(backoff=0.01, retries=2):
        with pytest.raises(NetworkError, match="503") as error:
            dicomweb.search_studies(proxy.url)
        assert error.value.status == 503 and proxy.seen == 3


def test_connection_refused_and_timeouts_are_bounded_network_errors(pacs):
    previous = dicomweb.configure(backoff=0.01, retries=2)            # process-wide defaults
    try:
        with pytest.raises(NetworkError, match="3 attempt"):
            dicomweb.search_studies(f"http://127.0.0.1:{free_port()}/dicom-web")
    finally:
        dicomweb.configure(**dataclasses.asdict(previous))
    assert dicomweb.configure() == previous
    with _Forwarder(pacs.http_url, delay=3) as proxy, dicomweb.transport(read_timeout=0.3, retries=1, backoff=0.01):
        began = time.monotonic()
        with pytest.raises(NetworkError, match="(?i)timed? ?out"):
            dicomweb.search_studies(proxy.url)
        assert time.monotonic() - began < 2.5


def test_an_answer_cut_short_is_a_network_error(pacs):
    with _Forwarder(pacs.http_url, cut=100) as proxy, pytest.raises(NetworkError, match="ends early"):
        list(dicomweb.iter_series(proxy.url, STUDY, SERIES, transfer_syntax="*"))


def test_bearer_token_is_sent(pacs):
    with _Forwarder(pacs.http_url, token="s3cret") as proxy:
        with pytest.raises(NetworkError, match="check auth") as error:
            dicomweb.search_studies(proxy.url)
        assert error.value.status == 401
        assert dicomweb.search_studies(proxy.url, auth="Bearer s3cret") == dicomweb.search_studies(pacs.dicomweb_url)


@pytest.fixture(scope="module")
def orthanc_auth(tmp_path_factory):
    """A second Orthanc that wants HTTP basic authentication (alice / pw)."""
    try:
        server = start_orthanc(tmp_path_factory.mktemp("orthanc-auth"), users={"alice": "pw"})
    except OrthancUnavailable as error:
        pytest.skip(f"Orthanc (basic auth) cannot start: {error}")
    with server:
        yield server


def test_basic_auth(orthanc_auth):
    url = orthanc_auth.dicomweb_url
    blob = make_instance(STUDY + ".4", STUDY + ".4.1", 1)
    with dicomweb.transport(retries=0):
        assert dicomweb.store_instances(url, [blob], auth=("alice", "pw"))["status"] == 200
        [record] = dicomweb.search_instances(url, auth=("alice", "pw"))
        assert dicomweb.json_value(record, "00080018") == _sop(blob)
        header = "Basic " + base64.b64encode(b"alice:pw").decode()
        assert dicomweb.search_instances(url, auth=header) == [record]
        for wrong in ("", ("alice", "nope")):
            with pytest.raises(NetworkError, match="check auth") as error:
                dicomweb.search_instances(url, auth=wrong)
            assert error.value.status == 401


def test_tls_verifies_the_server_certificate(pacs, tmp_path):
    """HTTPS (Debian's Orthanc 1.10 crashes on its own HTTPS, so a TLS front of the test forwards to
    it): trusted with the CA bundle, refused without it, and verify=False accepted."""
    pem = make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    with _Forwarder(pacs.http_url, tls=context) as proxy:
        assert proxy.url.startswith("https://")
        direct = dicomweb.search_studies(pacs.dicomweb_url)
        with dicomweb.transport(verify=str(pem)):
            assert dicomweb.search_studies(proxy.url) == direct
        with dicomweb.transport(retries=0), pytest.raises(NetworkError, match="TLS"):
            dicomweb.search_studies(proxy.url)                       # self-signed: not trusted by default
        with dicomweb.transport(verify=False), warnings.catch_warnings():
            warnings.simplefilter("ignore")                          # urllib3's InsecureRequestWarning
            assert dicomweb.search_studies(proxy.url) == direct
