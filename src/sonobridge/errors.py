"""Exception and warning types raised by sonobridge.

Every problem with an input file is reported as a :class:`SonobridgeError` subclass whose
message names the file and what is wrong with it, so callers can catch one type.
"""
from __future__ import annotations

import os
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


#: What h5py, NumPy and parsing raise on damaged content (h5py: unreadable object headers as
#: KeyError, broken B-trees as RuntimeError, failed filters and truncation as OSError; a damaged
#: dataspace can declare sizes that cannot be allocated). Readers turn these into FormatError.
READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError,
               ArithmeticError, MemoryError)


@contextmanager
def read_faults(path: str | os.PathLike | None, what: str = "unreadable content") -> Iterator[None]:
    """Within the block, :data:`READ_ERRORS` become a FormatError naming ``path`` (``what``, then
    the original error); the package's own errors pass through unchanged."""
    try:
        yield
    except SonobridgeError:
        raise
    except READ_ERRORS as error:
        raise FormatError(path, f"{what} ({type(error).__name__}: {error})") from None


class OutputError(SonobridgeError):
    """An output cannot be written (read-only folder, permission denied, failed write); no
    partial file is left under its name or beside it."""


class DiskFullError(OutputError):
    """Not enough free space for an output: found before writing, or when the disk filled up."""
