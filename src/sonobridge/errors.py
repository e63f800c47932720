"""Exception and warning types raised by sonobridge.

Every problem with an input file is reported as a :class:`SonobridgeError` subclass whose
message names the file and what is wrong with it, so callers can catch one type.
"""
from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager


class SonobridgeError(Exception):
    """Base class: a problem with an input or output, naming the file concerned."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class UnsupportedInputError(SonobridgeError):
    """The path is not a recording of any supported format."""


class FormatError(SonobridgeError):
    """The file is malformed: wrong header, inconsistent sizes, undecodable content."""


class TruncatedFileError(FormatError):
    """The file ends before the data its header declares."""


class MetadataMismatchError(FormatError):
    """Two descriptions of the same data disagree (e.g. binary header vs. yml)."""


class MissingMetadataError(SonobridgeError):
    """A companion file the data needs (e.g. the Clarius ``.yml``) is absent."""


class ChecksumError(FormatError):
    """Stored checksum does not match the data."""


class UnsafeArchiveError(SonobridgeError):
    """An archive member could escape the target folder or exhaust resources."""


class AmbiguousInputError(SonobridgeError):
    """The path holds several recordings where exactly one was expected."""


class OutputExistsError(SonobridgeError, FileExistsError):
    """The output path exists and overwriting was not asked for."""


class MissingDependencyError(SonobridgeError, ImportError):
    """An optional dependency this feature needs is not installed (the message says which extra)."""


class TruncatedDataWarning(UserWarning):
    """Only the complete frames of a truncated file were returned."""


#: What readers turn into a FormatError: what h5py, NumPy, the standard parsers and codecs raise on
#: damaged content. h5py: unreadable object headers as KeyError, broken B-trees as RuntimeError,
#: failed filters and truncation as OSError; binary parsing: ``struct.error``, ``EOFError``,
#: ``zlib.error``, ``UnicodeDecodeError`` (a ValueError); lying sizes: ``MemoryError``,
#: ``OverflowError`` / ``ZeroDivisionError`` (ArithmeticError), IndexError / KeyError
#: (LookupError); deep nesting: ``RecursionError`` and unsupported variants:
#: ``NotImplementedError`` (both RuntimeError). The single list used by :func:`read_faults`.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, RuntimeError, LookupError, ValueError, TypeError, AttributeError, ArithmeticError,
    MemoryError, struct.error, zlib.error)


@contextmanager
def read_faults(path: str | os.PathLike | None, what: str = "unreadable content",
                also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Within the block, :data:`READ_ERRORS` (and the library-specific types in ``also``, e.g. a
    parser's own exception classes) become a FormatError naming ``path`` (``what``, then the
    original error); the package's own errors pass through unchanged."""
    try:
        yield
    except SonobridgeError:
        raise
    except MemoryError:
        raise FormatError(path, f"{what} (its sizes need more memory than there is)") from None
    except (*READ_ERRORS, *also) as error:
        raise FormatError(path, f"{what} ({type(error).__name__}: {error})") from None


class OutputError(SonobridgeError):
    """An output cannot be written (read-only folder, permission denied, failed write); no
    partial file is left under its name or beside it."""


class DiskFullError(OutputError):
    """Not enough free space for an output: found before writing, or when the disk filled up."""


class NetworkError(SonobridgeError):
    """A DICOM network peer (DICOMweb server, DIMSE AE) cannot be reached, refuses a request or
    answers something unusable; ``path`` is the URL or address, the message says what happened;
    ``status`` is the peer's status (HTTP status code, DIMSE status) where it gave one."""

    def __init__(self, path: str | os.PathLike | None, problem: str, status: int | None = None):
        self.status = status
        super().__init__(path, problem)
