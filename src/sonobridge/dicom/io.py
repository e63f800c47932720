"""Reading and writing DICOM files safely: lying lengths refused, damage as the package's errors.

* :func:`read_dataset`: ``pydicom.dcmread`` through a reader that refuses any read larger than what
  is left of the file (a lying element length must not allocate gigabytes); not-DICOM and damaged
  files raise :class:`~sonobridge.errors.UnsupportedInputError` / :class:`~sonobridge.errors.FormatError`.
  Sources: a path, bytes, or a binary file-like object; :func:`open_dataset` also takes a parsed
  dataset and names each kind of source (:func:`source_label`).
* :func:`dcmread` / :func:`dcmwrite`: the pydicom-compatible names (pydcm's signatures), with the
  bounded reader, the package's errors and the syntaxes pydicom cannot write yet.
* :func:`damaged_content`: a context in which whatever pydicom or a codec raises on damaged content
  becomes one :class:`~sonobridge.errors.FormatError` naming the file.
* :func:`is_dicom`: the Part-10 magic check (``DICM`` after the 128-byte preamble).
* :func:`save_dataset`: ``ds.save_as`` in the file format, also for transfer syntaxes pydicom does
  not know yet (JPEG XL) or cannot write (Deflated Image Frame Compression).

Imports only :mod:`sonobridge.errors` and the standard library at import time (pydicom on use).
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import SonobridgeError, TruncatedFileError, UnsupportedInputError, read_faults

MAGIC_OFFSET, MAGIC = 128, b"DICM"
#: the file name suffixes of DICOM files (lower case)
SUFFIXES = (".dcm", ".dicom")

#: an encapsulated syntax pydicom (3.0) writes, of the same (even-padded) length as each one it does
#: not know or cannot write: the file is written with the stand-in and the real UID put into the
#: file meta afterwards (JPEG XL; Deflated Image Frame Compression, whose frames are encapsulated)
STAND_IN_SYNTAX = {"1.2.840.10008.1.2.4.110": "1.2.840.10008.1.2.4.201",
                   "1.2.840.10008.1.2.4.111": "1.2.840.10008.1.2.4.202",
                   "1.2.840.10008.1.2.4.112": "1.2.840.10008.1.2.4.203",
                   "1.2.840.10008.1.2.8.1": "1.2.840.10008.1.2.4.50"}


def is_dicom(path: str | os.PathLike | bytes | BinaryIO) -> bool:
    """Whether the file at ``path`` (or the bytes / binary file-like object given) starts with the
    DICOM preamble and the ``DICM`` magic.

    Parameters
    ----------
    path : str, os.PathLike, bytes or binary file-like
        Any file; unreadable or missing files are not DICOM. A file-like object is read from its
        current position, which is restored.

    Returns
    -------
    bool
        True when bytes 128-131 are ``b"DICM"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_bytes(b"\\0" * 128 + b"DICM")
    >>> is_dicom(folder / "a"), is_dicom(folder / "missing"), is_dicom(io.BytesIO(b"\\0" * 128 + b"DICM"))
    (True, False, True)
    """
    end = MAGIC_OFFSET + len(MAGIC)
    if isinstance(path, (bytes, bytearray, memoryview)):
        return bytes(path[MAGIC_OFFSET:end]) == MAGIC
    try:
        if _is_stream(path):
            start = path.tell()
            try:
                return path.read(end)[MAGIC_OFFSET:] == MAGIC
            finally:
                path.seek(start)
        with open(path, "rb") as handle:
            return handle.read(end)[MAGIC_OFFSET:] == MAGIC
    except (OSError, TypeError, ValueError):
        return False


def _is_stream(source: Any) -> bool:
    return not isinstance(source, (str, os.PathLike)) and hasattr(source, "read")


def is_dataset(source: Any) -> bool:
    """Whether ``source`` is a parsed :class:`pydicom.dataset.Dataset` (without importing pydicom:
    if pydicom is not loaded, nothing is one)."""
    module = sys.modules.get("pydicom.dataset")
    return module is not None and isinstance(source, module.Dataset)


def source_label(source: Any) -> str:
    """How messages and provenance name a DICOM source.

    Parameters
    ----------
    source : str, os.PathLike, bytes, binary file-like or pydicom Dataset
        What was read.

    Returns
    -------
    str
        The path; a file object's ``name`` (an open file); a dataset's ``filename`` when it was
        read from a named file; else ``<BytesIO>``, ``<bytes>``, ``<Dataset 1.2.3...>`` (its
        SOPInstanceUID) or ``<Dataset>``.

    Examples
    --------
    >>> source_label("a/b.dcm"), source_label(b"..."), source_label(io.BytesIO())
    ('a/b.dcm', '<bytes>', '<BytesIO>')
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "filename" if is_dataset(source) else "name", None)
    if isinstance(name, (str, os.PathLike)) and os.fspath(name):
        return os.fspath(name)
    if is_dataset(source):
        uid = source.get("SOPInstanceUID", None) if "SOPInstanceUID" in source else None
        return f"<Dataset {uid}>" if uid else "<Dataset>"
    return f"<{type(source).__name__}>"


def damaged_content(label: str) -> contextlib.AbstractContextManager[None]:
    """Within: what pydicom or a codec raises on damaged content becomes one FormatError naming
    the file (pydicom parses elements lazily, so malformed values surface on access): the
    package's read errors (:data:`~sonobridge.errors.READ_ERRORS`), pydicom's own exceptions and
    a codec that cannot be loaded (imagecodecs raises ImportError then; codec errors are
    RuntimeErrors)."""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    return read_faults(label, "damaged DICOM content", also=(InvalidDicomError, BytesLengthException, ImportError))


class _BoundedReader(io.BufferedReader):
    """A binary file whose reads never ask for more than the file has left: a read larger than
    that is an element length that lies (or a cut file), refused before anything is allocated.
    Reads up to :data:`SMALL_READ` past the end return what there is, as files do (pydicom reads
    tags, the preamble and 8 KiB chunks when it scans for a delimiter)."""

    SMALL_READ = 1 << 16

    def __init__(self, path: str | os.PathLike, mode: str = "rb"):     # as pydicom reopens files: (path, "rb")
        if mode != "rb":
            raise ValueError("read-only")
        super().__init__(io.FileIO(os.fspath(path), "rb"))
        self.label = os.fspath(path)
        self.file_size = os.fstat(self.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        _refuse_lying_read(self, size)
        return super().read(size)


def _refuse_lying_read(handle, size: int | None) -> None:
    """Raise TruncatedFileError when a read of ``size`` bytes asks for more than ``handle`` has left
    (``handle``: ``label``, ``file_size``, ``tell()``; reads up to SMALL_READ pass)."""
    if size is not None and size > _BoundedReader.SMALL_READ:
        left = handle.file_size - handle.tell()
        if size > left:
            raise TruncatedFileError(handle.label, f"an element at byte {handle.tell()} declares {size} bytes, "
                                                   f"the file has {max(left, 0)} left (lying length or cut file)")


class _BoundedStream:
    """A caller's binary file-like object with the refusal of :class:`_BoundedReader`; everything
    else goes to the object (which is never closed here)."""

    def __init__(self, stream: BinaryIO, label: str):
        self.stream, self.label = stream, label
        here = stream.tell()
        self.file_size = stream.seek(0, os.SEEK_END)
        stream.seek(here)

    def read(self, size: int | None = -1) -> bytes:
        _refuse_lying_read(self, size)
        return self.stream.read(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _seekable(stream: BinaryIO, label: str) -> BinaryIO:
    """``stream``, or its remaining bytes in memory when it cannot seek (a pipe, a socket)."""
    try:
        if stream.seekable():
            return stream
    except (AttributeError, OSError, ValueError):
        pass
    with read_faults(label, "unreadable stream"):
        return io.BytesIO(stream.read())


@functools.cache
def _error_types() -> tuple[type[SonobridgeError], type[SonobridgeError]]:
    """The not-DICOM and no-such-file errors: the package's UnsupportedInputError that are also
    pydicom's InvalidDicomError and FileNotFoundError, so pydicom-style handlers catch them too."""
    from pydicom.errors import InvalidDicomError

    not_dicom = type("NotDicomError", (UnsupportedInputError, InvalidDicomError),
                     {"__doc__": "Not a DICOM file (also a pydicom InvalidDicomError).", "__module__": __name__})
    missing = type("NoSuchFileError", (UnsupportedInputError, FileNotFoundError),
                   {"__doc__": "No such file (also a FileNotFoundError).", "__module__": __name__})
    return not_dicom, missing


@contextlib.contextmanager
def _bounded(source: str | os.PathLike | bytes | BinaryIO, label: str) -> Iterator[Any]:
    """``source`` opened (a path) or wrapped (bytes, a file-like object) as a bounded binary reader,
    positioned where the dataset starts; a path's file is closed afterwards, a caller's object not."""
    if isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise _error_types()[1](source, "no such file")
        with _BoundedReader(source) as handle:
            yield handle
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif not hasattr(source, "read"):
        raise UnsupportedInputError(None, f"cannot read DICOM from a {type(source).__name__} (give a path, bytes, "
                                          f"a binary file-like object or a pydicom Dataset)")
    with read_faults(label, "unreadable stream"):
        bounded = _BoundedStream(_seekable(source, label), label)
    yield bounded


def _parse(source, label: str, **options: Any):
    """``pydicom.dcmread`` of ``source`` through the bounded reader (options: pydicom's)."""
    import pydicom

    with _bounded(source, label) as handle:
        return pydicom.dcmread(handle, **options)


def read_dataset(path: str | os.PathLike | bytes | BinaryIO, stop_before_pixels: bool = False):
    """``pydicom.dcmread`` with the package's errors.

    Parameters
    ----------
    path : str, os.PathLike, bytes or binary file-like
        A DICOM file (Part-10; old headerless files are accepted when they parse as an image), its
        bytes, or a binary file-like object positioned at its start (read, not closed).
    stop_before_pixels : bool
        Stop reading at the pixel data (headers only).

    Returns
    -------
    pydicom.dataset.FileDataset
        The parsed dataset (element values are converted lazily: read them inside
        :func:`damaged_content`).

    Raises
    ------
    UnsupportedInputError
        No such file, or not DICOM (also a ``FileNotFoundError`` / pydicom ``InvalidDicomError``).
    FormatError, TruncatedFileError
        Damaged content; an element length larger than the file (refused before reading,
        see :class:`_BoundedReader`).
    """
    from pydicom.errors import InvalidDicomError

    label = source_label(path)
    if _is_stream(path):
        path = _seekable(path, label)
    with damaged_content(label):
        start = path.tell() if _is_stream(path) else 0
        try:
            return _parse(path, label, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError as error:
            # no preamble/file meta (old ACR-NEMA style): accept only if it parses as an image
            if _is_stream(path):
                path.seek(start)
            try:
                ds = _parse(path, label, stop_before_pixels=stop_before_pixels, force=True)
            except Exception:  # noqa: BLE001 - forced parsing of arbitrary bytes fails in any way
                ds = None
            if ds is None or "SOPClassUID" not in ds and "Rows" not in ds:
                raise _error_types()[0](label, f"not a DICOM file ({error})") from None
            return ds


def open_dataset(source: Any, stop_before_pixels: bool = False) -> tuple[Any, str]:
    """A parsed dataset and the label naming its source, from any DICOM source.

    Parameters
    ----------
    source : str, os.PathLike, bytes, binary file-like or pydicom.dataset.Dataset
        A dataset is used as it is; anything else is read by :func:`read_dataset`.
    stop_before_pixels : bool
        Stop reading at the pixel data (read sources only).

    Returns
    -------
    ds : pydicom.dataset.Dataset
        The dataset.
    label : str
        :func:`source_label` of ``source``.
    """
    if is_dataset(source):
        return source, source_label(source)
    return read_dataset(source, stop_before_pixels=stop_before_pixels), source_label(source)


def dcmread(fp: str | os.PathLike | bytes | BinaryIO, defer_size: str | int | float | None = None,
            stop_before_pixels: bool = False, force: bool = False, specific_tags: list | None = None, *,
            charset_override: str = "", **_ignored: Any):
    """Read a DICOM Part-10 file into a :class:`pydicom.dataset.FileDataset` (pydicom's ``dcmread``,
    reading through the bounded reader).

    Parameters
    ----------
    fp : str, os.PathLike, bytes or binary file-like
        A path, the file's bytes, or a readable binary file-like object (``io.BytesIO``, an open
        file) positioned at the file's start; a caller's object is not closed.
    defer_size : int, float, str or None
        Element values larger than this (bytes, or ``"512 KB"``) are read on access (pydicom's option).
    stop_before_pixels : bool
        Stop at the pixel data (headers only).
    force : bool
        Parse input without the DICM preamble/prefix too (as pydicom: whatever parses).
    specific_tags : list of int, str or Tag, or None
        Read only these elements (and the character set).
    charset_override : str
        Use this SpecificCharacterSet (``"ISO_IR 100"``, ``"ISO_IR 192"`` ...) for the dataset's text
        whatever the file declares (for files that omit or misdeclare theirs); empty: the file's.
    **_ignored
        Other keyword arguments of other toolkits' readers are accepted and ignored.

    Returns
    -------
    pydicom.dataset.FileDataset
        Values are converted on access.

    Raises
    ------
    pydicom.errors.InvalidDicomError
        Not DICOM (without ``force``); it is also a :class:`~sonobridge.errors.UnsupportedInputError`.
    FileNotFoundError
        No such file (also an UnsupportedInputError).
    FormatError, TruncatedFileError
        Damaged content; an element length larger than the file.
    """
    from pydicom.errors import InvalidDicomError

    label = source_label(fp)
    with damaged_content(label):
        try:
            ds = _parse(fp, label, defer_size=defer_size, stop_before_pixels=stop_before_pixels, force=force,
                        specific_tags=specific_tags)
        except InvalidDicomError as error:
            raise _error_types()[0](label, f"not a DICOM file ({error})") from None
        if charset_override:
            _override_charset(ds, charset_override)
    return ds


def _override_charset(ds, charset: str) -> None:
    """Decode ``ds``'s text (not yet converted: pydicom converts on access) with ``charset`` and
    declare it, so the dataset is written as it is read."""
    from pydicom.charset import convert_encodings

    ds.SpecificCharacterSet = charset
    implicit_vr, little_endian = ds.original_encoding
    ds.set_original_encoding(implicit_vr, little_endian, convert_encodings(charset))


def dcmwrite(filename: str | os.PathLike | BinaryIO, dataset, /, write_like_original: bool | None = None, *,
             implicit_vr: bool | None = None, little_endian: bool | None = None, enforce_file_format: bool = True,
             force_encoding: bool = False, overwrite: bool = True, **kwargs: Any) -> None:
    """Write ``dataset`` as a DICOM Part-10 file (pydicom's ``dcmwrite``; the file format by default),
    also in the transfer syntaxes pydicom does not know or cannot write (:data:`STAND_IN_SYNTAX`:
    JPEG XL, Deflated Image Frame Compression).

    Parameters
    ----------
    filename : str, os.PathLike or writable binary file-like
        Where to write (directly: wrap in :func:`sonobridge.util.atomic.atomic_path` for atomic output).
    dataset : pydicom.dataset.Dataset
        With its pixel data encoded for ``file_meta.TransferSyntaxUID``.
    write_like_original : bool or None
        pydicom's deprecated form of ``enforce_file_format`` (True: as read, without the file format).
    implicit_vr, little_endian : bool or None
        The encoding for a dataset without a transfer syntax (pydicom's options).
    enforce_file_format : bool
        Write the preamble and file meta (created as needed); False writes the dataset as it is.
    force_encoding : bool
        Encode with ``implicit_vr``/``little_endian`` even if they disagree with the transfer syntax.
    overwrite : bool
        False refuses an existing file (``FileExistsError``).
    **kwargs
        Further pydicom options.
    """
    import pydicom

    if write_like_original is not None:
        enforce_file_format = not write_like_original
    options = dict(implicit_vr=implicit_vr, little_endian=little_endian, enforce_file_format=enforce_file_format,
                   force_encoding=force_encoding, overwrite=overwrite, **kwargs)
    stand_in = _stand_in(dataset)
    if stand_in is None:
        pydicom.dcmwrite(filename, dataset, **options)
        return
    syntax = str(dataset.file_meta.TransferSyntaxUID)
    buffer = None if isinstance(filename, (str, os.PathLike)) else io.BytesIO()
    dataset.file_meta.TransferSyntaxUID = stand_in
    try:
        pydicom.dcmwrite(filename if buffer is None else buffer, dataset, **options)
    finally:
        dataset.file_meta.TransferSyntaxUID = syntax
    if buffer is None:
        with open(filename, "r+b") as handle:
            head = handle.read(1 << 16)
            handle.seek(_meta_syntax_at(head, stand_in, filename))
            handle.write(_syntax_element(syntax))
        return
    data = bytearray(buffer.getvalue())
    at = _meta_syntax_at(bytes(data[:1 << 16]), stand_in, source_label(filename))
    element = _syntax_element(syntax)
    data[at:at + len(element)] = element
    filename.write(bytes(data))


def _stand_in(dataset) -> str | None:
    """The stand-in syntax ``dataset`` is written with, or None when pydicom writes its own."""
    from pydicom.uid import UID

    meta = getattr(dataset, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    stand_in = STAND_IN_SYNTAX.get(syntax)
    return None if stand_in is None or UID(syntax).is_transfer_syntax else stand_in


def _syntax_element(uid: str) -> bytes:
    """(0002,0010) TransferSyntaxUID as written in the file meta: UI, explicit VR little endian, even length."""
    value = uid.encode() + b"\0" * (len(uid) % 2)
    return b"\x02\x00\x10\x00UI" + len(value).to_bytes(2, "little") + value


def _meta_syntax_at(head: bytes, stand_in: str, label) -> int:
    at = head.find(_syntax_element(stand_in))
    if at < 0:
        raise SonobridgeError(label, "file meta without the transfer syntax just written")
    return at


def save_dataset(ds, path: str | os.PathLike) -> None:
    """``ds.save_as(path)`` in the DICOM file format, also in the transfer syntaxes pydicom does not
    know yet (JPEG XL) or cannot write (Deflated Image Frame Compression): written with a stand-in
    syntax of the same length, then the file meta's TransferSyntaxUID element is overwritten in place.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        With ``file_meta.TransferSyntaxUID`` set and the pixel data encoded for it.
    path : str or os.PathLike
        Written directly (wrap in :func:`sonobridge.util.atomic.atomic_path` for atomic output).
    """
    dcmwrite(path, ds, enforce_file_format=True)


def __getattr__(name: str) -> Any:
    """``NotDicomError`` / ``NoSuchFileError``: the error types of :func:`_error_types` (made on
    first use, since they derive from pydicom's and pydicom is imported on use)."""
    if name in ("NotDicomError", "NoSuchFileError"):
        return _error_types()[name == "NoSuchFileError"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
