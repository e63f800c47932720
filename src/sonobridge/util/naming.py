"""File names of outputs: safe characters only, one stem per recording.

A recording's stem comes from its format (:attr:`sonobridge.formats.RecordingSource.stem`, the
format's own rule); :func:`unique_stems` keeps stems that collide apart.

Examples
--------
>>> from sonobridge.util.naming import safe_name, unique_stems
>>> safe_name("scan 1/a.b")
'scan_1_a.b'
>>> unique_stems({"p1/IM1.dcm": "IM1", "p2/IM1.dcm": "IM1", "x.dcm": "x"})["x.dcm"]
'x'
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str, default: str = "output") -> str:
    """``text`` reduced to file-name characters (no separators, no leading dots)."""
    return _UNSAFE.sub("_", text).strip("._") or default


def unique_stems(stems: Mapping[str, str]) -> dict[str, str]:
    """``{label: stem}`` with stems that collide (e.g. ``p1/IM0001.dcm`` and ``p2/IM0001.dcm``,
    both ``IM0001``) made unique by a short hash of the label appended, so no two recordings
    share an output name. The one deduplication of output names: used by the cohort pipeline
    (:func:`sonobridge.pipeline.run.discover`) and the ``convert``, ``video``, ``preview`` and
    ``render`` commands.

    Parameters
    ----------
    stems : mapping of str to str
        ``{label: stem}``, stems already file-name safe.
    """
    counts = Counter(stems.values())
    return {label: f"{stem}-{hashlib.sha1(label.encode()).hexdigest()[:8]}" if counts[stem] > 1 else stem
            for label, stem in stems.items()}
