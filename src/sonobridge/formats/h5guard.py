"""Checks that keep a damaged HDF5 file from hanging or crashing the HDF5 library, made before
the values concerned are read (readers then report a FormatError naming the file).

* Hang: HDF5 (2.0.0 and earlier) parses a *global heap collection* (``GCOL``: where
  variable-length strings, e.g. text attributes, are stored) object by object, each header giving
  the size of the next step; a damaged size of 0 on the free-space entry makes it step in place
  forever, holding the interpreter (no exception, no timeout). :func:`global_heap_problem` walks
  every collection the same way first: on every open of a file up to :data:`SCAN_LIMIT` bytes,
  and always in validation.
* Crash: a variable-length *string* type whose kind byte is damaged reads as a variable-length
  sequence of an unknown kind, and converting its value ends in a segmentation fault
  (:func:`vlen_sequence_item`).

Global heap layout (HDF5 file format spec, "Global Heap"): ``"GCOL"``, version 1, 3 reserved
bytes, the collection size (length-sized, 8 bytes here) including this 16-byte header, then
objects: heap index uint16 (0 = the free space), reference count uint16, 4 reserved bytes, size
(8 bytes), data padded to a multiple of 8. The free-space entry's size counts its own header.
"""
from __future__ import annotations

import mmap
import os
import struct

SIGNATURE = b"GCOL\x01\x00\x00\x00"
HEADER = 16                  # collection header, and each object's header (8-byte lengths)


def global_heap_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with the file's global heap collections (None when they parse, or the file
    cannot be read here: opening it then reports that). Scans the file once for collection
    signatures (memory-mapped, no copy)."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _scan(data)
    except (OSError, ValueError):           # unreadable, or empty (mmap of 0 bytes)
        return None


def _scan(data: mmap.mmap) -> str | None:
    if _length_size(data) != 8:           # not HDF5, or lengths other than h5py's: not checked
        return None
    position = data.find(SIGNATURE)
    while position >= 0:
        problem = _collection_problem(data, position)
        if problem:
            return f"damaged global heap (variable-length data) at byte {position}: {problem}"
        position = data.find(SIGNATURE, position + 1)
    return None


def _length_size(data: mmap.mmap) -> int | None:
    """Bytes per length field declared by the superblock (at 0, 512, 1024, ... bytes)."""
    offset = 0
    while offset + 16 <= len(data):
        if data[offset:offset + 8] == b"\x89HDF\r\n\x1a\n":
            return data[offset + 14] if data[offset + 8] in (0, 1) else data[offset + 10]
        offset = 512 if offset == 0 else offset * 2
    return None


def _collection_problem(data: mmap.mmap, start: int) -> str | None:
    """Why the collection at ``start`` would not parse (None if it does, or if its size points
    past the end of the file: HDF5 then fails to read it, it does not hang)."""
    if start + HEADER > len(data):
        return None
    size = struct.unpack_from("<Q", data, start + 8)[0]
    if start + size > len(data):
        return None
    position, end = start + HEADER, start + size
    while position + HEADER <= end:       # HDF5 takes a shorter tail as free space
        index, _, _, length = struct.unpack_from("<HHIQ", data, position)
        step = length if index == 0 else HEADER + -(-length // 8) * 8
        if step < HEADER or position + step > end:
            return f"object {index} at byte {position} claims {length} bytes"
        position += step
    return None


#: Files up to this size are scanned for damaged global heaps on every open (:func:`open_checked`);
#: larger ones only when validated (:func:`refuse_hanging` with ``limit=None``), so opening a large
#: file to read one frame does not read the whole file (the scan reads it all: ~0.25 s per 400 MB).
SCAN_LIMIT = 256 * 1024 * 1024


def refuse_hanging(path: str | os.PathLike, limit: int | None = None) -> None:
    """Raise FormatError naming ``path`` when reading it could hang HDF5 (see the module docs).
    ``limit``: files larger than this many bytes are not scanned (None: always scanned)."""
    from ..errors import FormatError

    try:
        if limit is not None and os.path.getsize(path) > limit:
            return
    except OSError:                         # opening it then reports the problem
        return
    problem = global_heap_problem(path)
    if problem:
        raise FormatError(path, problem)


def open_checked(path: str | os.PathLike, *, skip: tuple[str, ...] = (), keep: tuple[str, ...] = (),
                 scan_limit: int | None = SCAN_LIMIT):
    """``path`` opened read-only with h5py (not locked), after the checks that keep a damaged
    file from hanging or crashing HDF5; a problem is a FormatError naming ``path``.

    Parameters
    ----------
    skip
        Name prefixes whose items are not checked for crashing types (:func:`vlen_sequence_item`):
        free-form groups that are read only on request, e.g. ``("custom/",)`` in zea files that
        sonobridge did not write.
    keep
        Name prefixes under ``skip`` that are checked all the same (the parts of a free-form group
        that are read, e.g. ``("custom/sonobridge",)``).
    scan_limit
        The global heap scan (:func:`refuse_hanging`) runs on files up to this many bytes
        (:data:`SCAN_LIMIT`, 256 MiB; None: always, as validation does).
    """
    import h5py

    from ..errors import READ_ERRORS, FormatError

    refuse_hanging(path, scan_limit)
    try:
        handle = h5py.File(path, "r", locking=False)
    except READ_ERRORS as error:
        raise FormatError(path, f"not a readable HDF5 file ({error})") from None
    try:
        refuse_crashing(handle, path, skip, keep)
    except FormatError:
        raise
    except READ_ERRORS as error:
        close_quietly(handle)
        raise FormatError(path, f"unreadable HDF5 structure ({type(error).__name__}: {error})") from None
    return handle


def close_quietly(handle) -> None:
    """Close an h5py file that is being given up on (a damaged file may fail even at closing:
    it is closed anyway)."""
    from ..errors import READ_ERRORS

    try:
        handle.close()
    except READ_ERRORS:
        pass


def vlen_sequence_item(handle, skip: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> str | None:
    """The first attribute (``object@name``) or dataset of the open file ``handle`` whose type is
    a variable-length *sequence*; None if there is none. Text is stored as variable-length
    strings; a damaged string type reads as a sequence of an unknown kind, and HDF5 (2.0) then
    crashes the interpreter (segmentation fault) converting its value, so such items are refused
    before any value is read. Names under a ``skip`` prefix (free-form groups) are not checked,
    unless they are also under a ``keep`` prefix (parts of a free-form group that are read)."""
    import h5py
    from h5py import h5t

    def sequence(type_id) -> bool:
        return type_id.get_class() == h5t.VLEN

    def attribute(obj, name: str) -> str | None:
        for key in obj.attrs:
            if sequence(obj.attrs.get_id(key).get_type()):
                return f"{name}@{key}"
        return None

    def visit(name: str, obj) -> str | None:
        if name.startswith(skip) and not name.startswith(keep):
            return None
        if isinstance(obj, h5py.Dataset) and sequence(obj.id.get_type()):
            return name
        return attribute(obj, name)

    return attribute(handle, "/") or handle.visititems(visit)


def refuse_crashing(handle, path: str | os.PathLike, skip: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> None:
    """Raise FormatError naming ``path`` (the file is closed) when a value of ``handle`` would
    crash HDF5 (see :func:`vlen_sequence_item`); what h5py raises while looking is raised too."""
    from ..errors import FormatError

    item = vlen_sequence_item(handle, skip, keep)
    if item:
        close_quietly(handle)
        raise FormatError(path, f"{item}: stored as a variable-length sequence, where this format keeps text "
                                f"(a damaged type): not read")
