"""Remote zea files read lazily: ``https://`` URLs and ``hf://owner/repo/path`` (a Hugging Face
dataset repository, as zea resolves it) are opened as a seekable file-like object that fetches byte
ranges on demand (fsspec's HTTP file system), so h5py reading frame 0 of a large file costs a few
range requests, not a download.
"""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from ...errors import FormatError

HUB = "https://huggingface.co"
REMOTE_SCHEMES = ("http://", "https://", "hf://")
BLOCK_SIZE = 1 << 18          # bytes per range request (256 KiB): HDF5 metadata pieces cost little; a chunk spans a few blocks, fetched in one request


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URL this module opens (``http(s)://`` or ``hf://``)."""
    return isinstance(path, str) and path.startswith(REMOTE_SCHEMES)


def hf_url(path: str, revision: str = "main", endpoint: str | None = None) -> str:
    """The download URL of ``hf://[datasets/|models/|spaces/]owner/repo/file/in/repo``.

    A path without a repository type names a dataset repository (zea's convention, e.g.
    ``hf://zeahub/picmus/...``); ``owner/repo@revision`` selects a branch, tag or commit. The hub
    is ``endpoint``, else ``$HF_ENDPOINT`` (as huggingface_hub), else https://huggingface.co.
    """
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")
    rest = path[len("hf://"):].strip("/")
    parts = rest.split("/")
    kind = "datasets"
    if parts[0] in ("datasets", "models", "spaces"):
        kind, parts = parts[0], parts[1:]
    if len(parts) < 3:
        raise FormatError(path, "hf:// path must name owner/repo/file")
    owner, repo, inside = parts[0], parts[1], "/".join(parts[2:])
    if "@" in repo:
        repo, revision = repo.split("@", 1)
    prefix = "" if kind == "models" else f"/{kind}"
    return f"{endpoint}{prefix}/{owner}/{repo}/resolve/{quote(revision, safe='')}/{quote(inside)}"


def http_url(path: str) -> str:
    """The HTTP(S) URL behind a remote ``path`` (``hf://`` mapped to the hub's URL scheme)."""
    return hf_url(path) if path.startswith("hf://") else path


def open_remote(path: str, block_size: int = BLOCK_SIZE, headers: dict[str, str] | None = None):
    """A read-only, seekable file object over the remote file at ``path``, fetching byte ranges
    of ``block_size`` bytes as they are read (needs the ``remote`` extra: fsspec + aiohttp).

    Raises
    ------
    FormatError
        The file system is unavailable or the file cannot be opened (names ``path``).
    """
    try:
        import fsspec
    except ImportError:
        raise FormatError(path, "remote files need fsspec and aiohttp (pip install sonobridge[remote])") from None
    url = http_url(path)
    options: dict[str, Any] = {}
    if headers:
        options["client_kwargs"] = {"headers": headers}
    try:
        filesystem = fsspec.filesystem("http", **options)
        return filesystem.open(url, "rb", block_size=block_size, cache_type="blockcache")
    except (OSError, ValueError, ImportError) as error:
        raise FormatError(path, f"cannot open remote file ({type(error).__name__}: {error})") from None


def open_remote_h5(path: str, skip: tuple[str, ...] = (), keep: tuple[str, ...] = ()):
    """``(h5py.File, file object)``: the remote file at ``path`` opened read-only by h5py over
    :func:`open_remote`, after the checks that keep a damaged file from crashing HDF5
    (:func:`~sonobridge.formats.h5guard.refuse_crashing`, ``skip``/``keep`` as there). Close the
    h5py file, then the file object. Problems are FormatErrors naming ``path``."""
    import h5py

    from ...errors import READ_ERRORS
    from ..h5guard import refuse_crashing

    remote = open_remote(path)
    try:
        handle = h5py.File(remote, "r")
    except READ_ERRORS as error:
        remote.close()
        raise FormatError(path, f"not a readable HDF5 file ({error})") from None
    try:
        refuse_crashing(handle, path, skip, keep)
    except FormatError:
        remote.close()
        raise
    return handle, remote
