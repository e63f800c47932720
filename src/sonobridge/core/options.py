"""Options every reader understands, as one small frozen value (hashable, picklable for Dask).

Examples
--------
>>> from sonobridge.core.options import ReadOptions
>>> ReadOptions(probe="L7").as_keywords()
{'probe': 'L7', 'allow_truncated': False}
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ReadOptions:
    """How to read a recording.

    Parameters
    ----------
    probe : str, optional
        Probe model for recordings that do not name theirs (e.g. ``"L7"`` for a Clarius capture).
    sound_speed_m_s : float, optional
        Speed of sound for depths, m/s (the reader's default, 1540 m/s, when None).
    allow_truncated : bool
        Return the complete frames of a truncated file (with a warning) instead of an error.
    """

    probe: str | None = None
    sound_speed_m_s: float | None = None
    allow_truncated: bool = False

    @classmethod
    def from_keywords(cls, **keywords: Any) -> ReadOptions:
        """Options from keyword arguments (unknown keywords are a TypeError)."""
        return cls(**keywords)

    def as_keywords(self) -> dict[str, Any]:
        """The options that are set, as reader keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}
