"""Reading and writing DICOM files safely: lying lengths refused, damage as the package's errors.

* :func:`read_dataset`: ``pydicom.dcmread`` through a reader that refuses any read larger than what
  is left of the file (a lying element length must not allocate gigabytes); not-DICOM and damaged
  files raise :class:`~sonobridge.errors.UnsupportedInputError` / :class:`~sonobridge.errors.FormatError`.
* :func:`damaged_content`: a context in which whatever pydicom or a codec raises on damaged content
  becomes one :class:`~sonobridge.errors.FormatError` naming the file.
* :func:`is_dicom`: the Part-10 magic check (``DICM`` after the 128-byte preamble).
* :func:`save_dataset`: ``ds.save_as`` in the file format, also for transfer syntaxes pydicom does
  not know yet (JPEG XL).

Imports only :mod:`sonobridge.errors` and the standard library at import time (pydicom on use).
"""
from __future__ import annotations

import contextlib
import io
import os

from ..errors import SonobridgeError, TruncatedFileError, UnsupportedInputError, read_faults

MAGIC_OFFSET, MAGIC = 128, b"DICM"
#: the file name suffixes of DICOM files (lower case)
SUFFIXES = (".dcm", ".dicom")

#: an encapsulated syntax pydicom (3.0) knows, of the same length as each one it does not: the
#: file is written with the stand-in and the real UID put into the file meta afterwards
STAND_IN_SYNTAX = {"1.2.840.10008.1.2.4.110": "1.2.840.10008.1.2.4.201",
                   "1.2.840.10008.1.2.4.111": "1.2.840.10008.1.2.4.202",
                   "1.2.840.10008.1.2.4.112": "1.2.840.10008.1.2.4.203"}


def is_dicom(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` starts with the DICOM preamble and the ``DICM`` magic.

    Parameters
    ----------
    path : str or os.PathLike
        Any file; unreadable or missing files are not DICOM.

    Returns
    -------
    bool
        True when bytes 128-131 are ``b"DICM"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_bytes(b"\\0" * 128 + b"DICM")
    >>> is_dicom(folder / "a"), is_dicom(folder / "missing")
    (True, False)
    """
    try:
        with open(path, "rb") as handle:
            return handle.read(MAGIC_OFFSET + len(MAGIC))[MAGIC_OFFSET:] == MAGIC
    except OSError:
        return False


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
        if size is not None and size > self.SMALL_READ:
            left = self.file_size - self.tell()
            if size > left:
                raise TruncatedFileError(self.label, f"an element at byte {self.tell()} declares {size} bytes, "
                                                     f"the file has {max(left, 0)} left (lying length or cut file)")
        return super().read(size)


def read_dataset(path: str | os.PathLike, stop_before_pixels: bool = False):
    """``pydicom.dcmread`` with the package's errors.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM file (Part-10; old headerless files are accepted when they parse as an image).
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
        No such file, or not DICOM.
    FormatError, TruncatedFileError
        Damaged content; an element length larger than the file (refused before reading,
        see :class:`_BoundedReader`).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not os.path.isfile(path):
        raise UnsupportedInputError(path, "no such file")
    label = os.fspath(path)
    with damaged_content(label):
        try:
            with _BoundedReader(path) as handle:
                return pydicom.dcmread(handle, stop_before_pixels=stop_before_pixels)
        except InvalidDicomError as error:
            # no preamble/file meta (old ACR-NEMA style): accept only if it parses as an image
            try:
                with _BoundedReader(path) as handle:
                    ds = pydicom.dcmread(handle, stop_before_pixels=stop_before_pixels, force=True)
            except Exception:  # noqa: BLE001 - forced parsing of arbitrary bytes fails in any way
                ds = None
            if ds is None or "SOPClassUID" not in ds and "Rows" not in ds:
                raise UnsupportedInputError(path, f"not a DICOM file ({error})") from None
            return ds


def save_dataset(ds, path: str | os.PathLike) -> None:
    """``ds.save_as(path)`` in the DICOM file format, also in the transfer syntaxes pydicom does not
    know yet (JPEG XL: written with a stand-in syntax of the same length, then the file meta's
    TransferSyntaxUID element is overwritten in place).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        With ``file_meta.TransferSyntaxUID`` set and the pixel data encoded for it.
    path : str or os.PathLike
        Written directly (wrap in :func:`sonobridge.util.atomic.atomic_path` for atomic output).
    """
    from pydicom.uid import UID

    syntax = str(ds.file_meta.TransferSyntaxUID)
    stand_in = STAND_IN_SYNTAX.get(syntax)
    if stand_in is None or UID(syntax).is_transfer_syntax:
        ds.save_as(path, enforce_file_format=True)
        return
    ds.file_meta.TransferSyntaxUID = stand_in
    try:
        ds.save_as(path, enforce_file_format=True)
    finally:
        ds.file_meta.TransferSyntaxUID = syntax

    def element(uid: str) -> bytes:             # (0002,0010) UI, explicit VR little endian, even length
        value = uid.encode() + b"\0" * (len(uid) % 2)
        return b"\x02\x00\x10\x00UI" + len(value).to_bytes(2, "little") + value

    with open(path, "r+b") as handle:
        head = handle.read(1 << 16)
        at = head.find(element(stand_in))
        if at < 0:
            raise SonobridgeError(path, "file meta without the transfer syntax just written")
        handle.seek(at)
        handle.write(element(syntax))
