"""Known Clarius probes (HD3 generation, as published in Clarius' research documentation).

Older captures do not name their probe, so geometry in metres needs the user to say which probe
(``probe="L7"``); newer firmware writes a ``probe:`` block that takes precedence.
Radii are published only for the C3 (45 mm).
"""
from __future__ import annotations

import re

from ...core.geometry import Probe
from ...errors import SonobridgeError

_TABLE = [
    Probe("L20 HD3", "linear", 192, 130e-6, source="table"),
    Probe("L15 HD3", "linear", 192, 260e-6, source="table"),
    Probe("L7 HD3", "linear", 192, 200e-6, source="table"),
    Probe("EC7 HD3", "curved", 192, 150e-6, source="table"),
    Probe("C7 HD3", "curved", 192, 205e-6, source="table"),
    Probe("C3 HD3", "curved", 192, 300e-6, radius_m=45e-3, source="table"),
    Probe("PH HD3", "curved", 192, 300e-6, source="table"),
    Probe("PA2 HD3", "phased", 80, 250e-6, source="table"),
    Probe("PAL HD3 phased", "phased", 80, 260e-6, source="table"),
    Probe("PAL HD3 linear", "linear", 112, 260e-6, source="table"),
]


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower()).removesuffix("hd3").replace("hd3", "")


_BY_KEY = {_key(probe.name): probe for probe in _TABLE}


def known_probes() -> list[Probe]:
    return list(_TABLE)


def find_probe(name: str) -> Probe:
    """The table entry for ``name`` (case, spaces and the ``HD3`` suffix ignored: ``"l7"`` works)."""
    probe = _BY_KEY.get(_key(name))
    if probe is None:
        names = ", ".join(p.name for p in _TABLE)
        raise SonobridgeError(None, f"unknown Clarius probe {name!r}; known: {names}")
    return probe
