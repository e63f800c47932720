"""File formats: one subpackage per format, each declaring its :class:`FormatSpec` (in its
``spec.py``) and owning reading and writing; :mod:`.registry` knows them all.

:func:`find_recordings` lists what a path holds; :func:`open_recording` reads exactly one.
A new format is a new subpackage with a ``spec.py`` plus one line in ``registry.BUILTIN``.
"""
from __future__ import annotations

from .registry import find_recordings, get_format, open_recording, register, specs, stage_spec, writer_for
from .spec import FormatSpec, RecordingSource

__all__ = ["FormatSpec", "RecordingSource", "find_recordings", "get_format", "open_recording", "register", "specs",
           "stage_spec", "writer_for"]
