"""Physical quantities: values in SI units with their unit string.

Vendor metadata writes quantities as text (``"10 MHz"``, ``"40 mm"``, ``"15 °"``); this module turns
them into SI floats (Hz, m, s, rad, dB) and keeps the unit beside the value.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

#: text unit -> (SI unit, scale to SI)
_UNITS: dict[str, tuple[str, float]] = {
    "hz": ("Hz", 1.0), "khz": ("Hz", 1e3), "mhz": ("Hz", 1e6), "ghz": ("Hz", 1e9),
    "m": ("m", 1.0), "cm": ("m", 1e-2), "mm": ("m", 1e-3), "um": ("m", 1e-6), "µm": ("m", 1e-6),
    "s": ("s", 1.0), "ms": ("s", 1e-3), "us": ("s", 1e-6), "µs": ("s", 1e-6), "ns": ("s", 1e-9),
    "°": ("rad", math.pi / 180), "deg": ("rad", math.pi / 180), "rad": ("rad", 1.0),
    "db": ("dB", 1.0), "%": ("%", 1.0), "bytes": ("B", 1.0), "byte": ("B", 1.0),
    "m/s": ("m/s", 1.0), "v": ("V", 1.0),
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")


@dataclass(frozen=True)
class Quantity:
    """A scalar in SI units: ``value`` (float) and ``unit`` (``"Hz"``, ``"m"``, ``"rad"``, ...)."""

    value: float
    unit: str

    def __float__(self) -> float:
        return float(self.value)

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


def parse_quantity(text: Any) -> Quantity | None:
    """Parse ``"<number> <unit>"`` into an SI :class:`Quantity`; None if ``text`` is not one.

    A bare number gives a unitless quantity (unit ``""``). Unknown units are kept verbatim.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return Quantity(float(text), "")
    if not isinstance(text, str):
        return None
    match = _QUANTITY.match(text)
    if not match:
        return None
    number, unit_text = float(match.group(1)), (match.group(2) or "").strip()
    if not unit_text:
        return Quantity(number, "")
    unit, scale = _UNITS.get(unit_text.lower(), (unit_text, 1.0))
    return Quantity(number * scale, unit)

