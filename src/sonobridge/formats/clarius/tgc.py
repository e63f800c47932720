"""Clarius per-frame TGC files: ``<capture>_<stream>.tgc`` (2019-2023) and ``.tgc.yml`` (2023+).

Three layouts occur: ``timestamp: N`` alone (manual gain: no curve), ``timestamp: N { 7.00mm,
15.70dB }{ ... }`` inline, and ``timestamp: N`` followed by ``- { 0.00mm, 15.00dB }`` lines. The
text is parsed with regular expressions (these files are not valid YAML). An entry without a curve
keeps the previous curve, as the scanner does. A file cut short inside its last timestamp (which
then reads as a smaller number) loses that entry with a :class:`~sonobridge.errors.TruncatedDataWarning`;
the reader compares the number of entries with the declared frame count.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from ...core.tgc import TgcCurves
from ...errors import FormatError, TruncatedDataWarning
from .yml import tgc_points

_TIMESTAMP = re.compile(r"^\s*timestamp:\s*(\d+)", re.MULTILINE)
_DECLARED = re.compile(r"^\s*frames:\s*(\d+)", re.MULTILINE)


def parse_tgc(text: str, label: str) -> tuple[TgcCurves, int | None]:
    """Parse a ``.tgc`` / ``.tgc.yml`` text into curves and the declared frame count (or None)."""
    matches = list(_TIMESTAMP.finditer(text))
    if not matches and text.strip() and not _DECLARED.search(text):
        raise FormatError(label, "not a Clarius TGC file (no 'timestamp:' entries)")
    clock, rows, previous = [], [], []
    for number, match in enumerate(matches):
        end = matches[number + 1].start() if number + 1 < len(matches) else len(text)
        points = tgc_points(text[match.end():end])
        rows.append(points or previous)
        previous = rows[-1]
        clock.append(int(match.group(1)))
    last, before = (matches[-1].group(1), matches[-2].group(1)) if len(matches) > 1 else ("", "")
    if len(last) < len(before) and text.endswith(last):   # the file ends inside the last number
        warnings.warn(f"{label}: the file ends inside its last entry (timestamp {clock[-1]} after "
                      f"{clock[-2]}): cut short; {len(clock) - 1} complete entries kept",
                      TruncatedDataWarning, stacklevel=2)
        clock, rows = clock[:-1], rows[:-1]
    if any(later < earlier for earlier, later in zip(clock, clock[1:])):
        raise FormatError(label, "TGC timestamps are not in increasing order")
    declared = _DECLARED.search(text)
    return TgcCurves.from_rows(np.asarray(clock, np.uint64), rows, "tgc file"), \
        int(declared.group(1)) if declared else None
