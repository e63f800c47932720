"""``validate`` on remote zea files: URLs (and ``hf://`` paths, the hub replaced by a local range
server through HF_ENDPOINT) are validated in place over byte ranges, with the same findings as
the local file, fetching a fraction of a large file."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import sonobridge.zea as sz
from range_server import RangeServer
from sonobridge.errors import FormatError
from sonobridge.formats.zea.validate import validate

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

N_FRAMES, SIDE = 24, 1000                 # 24 MB of incompressible uint8 frames


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote-validate")
    frames = np.random.default_rng(1).integers(0, 256, (N_FRAMES, SIDE, SIDE), dtype=np.uint8)
    sz.File.create(root / "good.hdf5", data={"image": {"values": frames}}, probe={"name": "L7"}).close()
    sz.File.create(root / "bad.hdf5", data={"image": {"values": frames[:2, :20, :20]}}).close()
    with h5py.File(root / "bad.hdf5", "a") as handle:       # a required scan-less product broken
        del handle["tracks/track_0/transmit_only"]
        handle["tracks/track_0/data/image"].create_dataset("timestamps", data=np.array([0.0, -1.0, 2.0]))
    hub = root / "datasets" / "someone" / "echo" / "resolve" / "main" / "good.hdf5"
    hub.parent.mkdir(parents=True)
    hub.hardlink_to(root / "good.hdf5")
    (root / "text.hdf5").write_bytes(b"not HDF5 at all" * 50)
    with RangeServer(root) as server:
        yield server, root


def _findings(report):
    return sorted((f.key, f.problem, f.severity) for f in report.findings)


@pytest.mark.parametrize("name", ["good.hdf5", "bad.hdf5"])
def test_remote_verdict_and_findings_match_the_local_file(served, name):
    server, root = served
    remote, local = validate(server.url(name)), validate(root / name)
    assert remote.valid is local.valid is (name == "good.hdf5")
    assert _findings(remote) == _findings(local)
    assert remote.path == server.url(name)


def test_remote_validation_is_lazy(served):
    server, root = served
    server.reset()
    assert validate(server.url("good.hdf5")).valid
    assert 0 < server.bytes_sent < (root / "good.hdf5").stat().st_size / 10


def test_file_validate_and_validate_spec_on_a_url(served):
    server, _ = served
    with sz.File(server.url("good.hdf5")) as remote:
        assert remote.validate() == {"status": "success"}
        assert remote.validate_spec().valid and sz.validate(remote).valid
    with sz.File(server.url("bad.hdf5")) as remote, pytest.raises(FormatError, match="bad.hdf5"):
        remote.validate()


def test_hf_paths_are_validated_through_the_same_code(served, monkeypatch):
    server, _ = served
    monkeypatch.setenv("HF_ENDPOINT", server.url("").rstrip("/"))
    assert sz.validate("hf://someone/echo/good.hdf5").valid


@pytest.mark.parametrize("name", ["missing.hdf5", "text.hdf5"])
def test_unreadable_urls_are_findings_not_exceptions(served, name):
    server, _ = served
    report = validate(server.url(name))
    assert not report.valid and report.findings
