"""Remote zea files read lazily over HTTP byte ranges: a local range-capable server (loopback,
counting bytes) serves a ~50 MB file written by sonobridge; reading frame 0 through
``sonobridge.zea.File(url)`` must fetch a small fraction of it. ``hf://`` paths map to the hub's
URL scheme and go through the same code (the hub replaced by the local server via HF_ENDPOINT)."""
from __future__ import annotations

import numpy as np
import pytest

import sonobridge.zea as sz
from range_server import RangeServer
from sonobridge.errors import FormatError
from sonobridge.formats.zea.remote import hf_url, http_url, is_remote

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")

N_FRAMES, HEIGHT, WIDTH = 50, 1000, 1000          # 50 MB of incompressible uint8


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote")
    frames = np.random.default_rng(0).integers(0, 256, (N_FRAMES, HEIGHT, WIDTH), dtype=np.uint8)
    hub_file = root / "datasets" / "someone" / "echo" / "resolve" / "main" / "scans" / "big.hdf5"
    hub_file.parent.mkdir(parents=True)
    sz.File.create(root / "big.hdf5", data={"image": {"values": frames, "timestamps": np.arange(N_FRAMES) * 0.02,
                                                     "start_time_offset": 0.0}},
                   probe={"name": "L7", "type": "linear"}, compression="fast").close()
    hub_file.hardlink_to(root / "big.hdf5")
    (root / "not_hdf5.hdf5").write_bytes(b"plain text, not HDF5" * 100)
    with RangeServer(root) as server:
        yield server, root, frames


def test_frame_zero_of_a_remote_file_costs_a_few_requests(served):
    server, root, frames = served
    size = (root / "big.hdf5").stat().st_size
    server.reset()
    with sz.File(server.url("big.hdf5")) as remote:
        assert remote.n_frames == N_FRAMES and remote.probe.name == "L7"
        assert np.array_equal(remote.data.image.values[0], frames[0])
        assert repr(remote) == '<File "big.hdf5" (mode r, 1 track)>'
    assert size > 45e6
    assert server.bytes_sent < size / 10, (server.bytes_sent, size)
    assert server.requests < 30


def test_remote_frames_match_the_local_file(served):
    server, root, frames = served
    with sz.File(server.url("big.hdf5")) as remote, sz.File(root / "big.hdf5") as local:
        assert np.array_equal(remote.data.image.values[N_FRAMES - 1], local.data.image.values[N_FRAMES - 1])
        assert np.array_equal(remote.data.image.timestamps[:], local.data.image.timestamps[:])
        assert list(remote.keys()) == list(local.keys())


def test_hf_paths_map_to_the_hub_url_scheme():
    assert hf_url("hf://zeahub/picmus/database/a b.hdf5") == \
        "https://huggingface.co/datasets/zeahub/picmus/resolve/main/database/a%20b.hdf5"
    assert hf_url("hf://datasets/zeahub/camus@v1.0/x.hdf5") == \
        "https://huggingface.co/datasets/zeahub/camus/resolve/v1.0/x.hdf5"
    assert hf_url("hf://models/org/model/w.h5") == "https://huggingface.co/org/model/resolve/main/w.h5"
    assert hf_url("hf://org/repo/f.hdf5", endpoint="http://hub.local/") == \
        "http://hub.local/datasets/org/repo/resolve/main/f.hdf5"
    assert http_url("https://example.org/f.hdf5") == "https://example.org/f.hdf5"
    assert is_remote("hf://a/b/c") and is_remote("https://x/y") and not is_remote("/data/x.hdf5")
    with pytest.raises(FormatError, match="owner/repo/file"):
        hf_url("hf://zeahub/picmus")


def test_hf_path_is_read_through_the_same_lazy_code(served, monkeypatch):
    server, root, frames = served
    monkeypatch.setenv("HF_ENDPOINT", server.url("").rstrip("/"))
    server.reset()
    with sz.File("hf://someone/echo/scans/big.hdf5") as remote:
        assert np.array_equal(remote.data.image.values[3], frames[3])
    assert 0 < server.bytes_sent < (root / "big.hdf5").stat().st_size / 10


@pytest.mark.parametrize("name", ["missing.hdf5", "not_hdf5.hdf5"])
def test_bad_remote_files_are_format_errors(served, name):
    server, _, _ = served
    with pytest.raises(FormatError, match=name):
        sz.File(server.url(name))


def test_read_zea_opens_urls_lazily(served):
    from sonobridge.formats.zea.reader import read_zea

    server, root, frames = served
    server.reset()
    url = server.url("big.hdf5")
    recording = read_zea(url)
    assert recording.name == "big" and recording.streams["image"].frames[2].tolist() == frames[2].tolist()
    assert recording.streams["image"].provenance.source_files == (url,)
    assert server.bytes_sent < (root / "big.hdf5").stat().st_size / 10
