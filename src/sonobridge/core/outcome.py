"""Typed results of work on one output: a :class:`Status` plus a reason and the output's path.

An :class:`Outcome` is also the text the run report has always held (``"built"``, ``"hit"``,
``"skipped: already zea"``, ``"error: <problem>"``), so reports, JSON and Dask pickling stay
unchanged while code reads ``outcome.status is Status.HIT`` instead of parsing strings.

Examples
--------
>>> from sonobridge.core.outcome import Outcome, Status
>>> done = Outcome.error("disk full", path="out/a.hdf5")
>>> done.status is Status.ERROR, done.reason, done.path, str(done)
(True, 'disk full', 'out/a.hdf5', 'error: disk full')
>>> Outcome("skipped: already zea").status
<Status.SKIPPED: 'skipped'>
"""
from __future__ import annotations

import enum
import os
from typing import Any


class Status(str, enum.Enum):
    """What happened to an output."""

    BUILT = "built"                    # written by this run
    HIT = "hit"                        # already complete and built from the source as it is now
    SKIPPED = "skipped"                # not wanted (e.g. the input already is in that format)
    NOT_APPLICABLE = "not_applicable"  # the recording has nothing this output could hold
    ERROR = "error"                    # could not be made; the reason says why


class Outcome(str):
    """A :class:`Status` with an optional reason and output path; its text is the report's string
    (``"<status>"`` or ``"<status>: <reason>"``), built from such a string and the output's path.
    """

    status: Status
    reason: str
    path: str | None

    def __new__(cls, text: str, path: str | os.PathLike | None = None) -> Outcome:
        """Parse ``text``.

        Parameters
        ----------
        text : str
            A report string such as ``"hit"`` or ``"error: no image stream"``.
        path : str or os.PathLike, optional
            The output concerned.
        """
        name, _, reason = str(text).partition(":")
        try:
            status = Status(name.strip())
        except ValueError:
            raise ValueError(f"not an outcome: {text!r}") from None
        self = super().__new__(cls, text)
        self.status, self.reason = status, reason.strip()
        self.path = None if path is None else os.fspath(path)
        return self

    def __getnewargs__(self) -> tuple[str]:
        return (str(self),)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Outcome, (str(self), self.path))

    @classmethod
    def of(cls, status: Status, reason: str = "", path: str | os.PathLike | None = None) -> Outcome:
        """The outcome ``status`` (with ``reason``, one line) for ``path``."""
        reason = " ".join(str(reason).split())
        return cls(f"{status.value}: {reason}" if reason else status.value, path)

    @classmethod
    def built(cls, path: str | os.PathLike | None = None) -> Outcome:
        return cls.of(Status.BUILT, path=path)

    @classmethod
    def hit(cls, path: str | os.PathLike | None = None) -> Outcome:
        return cls.of(Status.HIT, path=path)

    @classmethod
    def skipped(cls, reason: str = "", path: str | os.PathLike | None = None) -> Outcome:
        return cls.of(Status.SKIPPED, reason, path)

    @classmethod
    def not_applicable(cls, reason: str, path: str | os.PathLike | None = None) -> Outcome:
        return cls.of(Status.NOT_APPLICABLE, reason, path)

    @classmethod
    def error(cls, reason: str, path: str | os.PathLike | None = None) -> Outcome:
        return cls.of(Status.ERROR, reason, path)

    @property
    def ok(self) -> bool:
        """Whether the output exists and is complete (built now or before)."""
        return self.status in (Status.BUILT, Status.HIT)

    @property
    def failed(self) -> bool:
        return self.status is Status.ERROR


def outcome(value: Any) -> Outcome | None:
    """``value`` (a report string, an Outcome or None) as an Outcome; None for anything else."""
    if isinstance(value, Outcome) or value is None:
        return value
    try:
        return Outcome(value) if isinstance(value, str) else None
    except ValueError:
        return None
