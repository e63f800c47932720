"""Clarius ``<capture>_<stream>.yml`` metadata, every firmware generation seen.

* 2019: one-line ``tgc: { 0.00mm, 23.00dB }{ 40.00mm, 26.00dB }``, which is not valid YAML; it is
  rewritten to a list before parsing.
* 2020: adds ``focus:`` blocks (per-zone transmit/receive frequencies), ``compound``, ``roi``.
* 2023+: ``software version``, ``iso time/date``, ``probe: {version, elements, pitch, radius}``,
  ``auto gain``, ``mla``, ``tgc`` as a YAML list, per-line ``duration``.

Values such as ``"10 MHz"`` become SI :class:`~sonobridge.core.units.Quantity` objects; keys become
snake_case; unknown keys are kept. The per-line list becomes arrays.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from ...core.geometry import Probe
from ...core.recording import SampleKind
from ...core.units import Quantity, parse_quantity
from ...errors import FormatError

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ONE_LINE_TGC = re.compile(r"^(tgc:[ \t]*)((?:\{[^{}\n]*\}[ \t]*){2,})$", re.MULTILINE)
_BRACED = re.compile(r"\{[^{}]*\}")
_TGC_POINT = re.compile(r"([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*mm\s*,\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*dB")

#: yml ``type`` text (lower case) -> sample kind
TYPE_KINDS = {
    "b pre-scan": SampleKind.ENVELOPE, "envelope": SampleKind.ENVELOPE, "env": SampleKind.ENVELOPE,
    "b": SampleKind.ENVELOPE, "iq": SampleKind.IQ, "rf": SampleKind.RF,
    "pw iq": SampleKind.PW_IQ, "pw": SampleKind.PW_IQ,
}


@dataclass
class ClariusYml:
    """Parsed stream metadata. ``parameters`` are typed (SI quantities, snake_case keys; the
    per-line list excluded); ``raw`` is the document as parsed; ``lines`` holds ``(n_lines,)``
    arrays ``rx_element``, ``tx_element``, ``angle_rad`` (and ``duration_s`` when present)."""

    raw: dict[str, Any]
    parameters: dict[str, Any]
    lines: dict[str, np.ndarray] = field(default_factory=dict)
    tgc_points: list[tuple[float, float]] = field(default_factory=list)  # (depth m, gain dB)

    def _size(self, key: str) -> int | None:
        size = self.raw.get("size")
        value = parse_quantity(size.get(key)) if isinstance(size, dict) else None
        return int(value.value) if value is not None else None

    @property
    def n_frames(self) -> int | None:
        value = parse_quantity(self.raw.get("frames"))
        return int(value.value) if value is not None else None

    n_samples = property(lambda self: self._size("samples per line"))
    n_lines = property(lambda self: self._size("number of lines"))
    sample_size = property(lambda self: self._size("sample size"))

    @property
    def data_type(self) -> str | None:
        value = self.raw.get("type")
        return str(value) if value is not None else None

    @property
    def kind(self) -> SampleKind | None:
        return TYPE_KINDS.get((self.data_type or "").strip().lower())

    def quantity(self, key: str) -> float | None:
        value = self.parameters.get(key)
        return value.value if isinstance(value, Quantity) else None

    @property
    def delay_samples(self) -> float:
        value = parse_quantity(self.raw.get("delay samples"))
        return value.value if value is not None else 0.0

    @property
    def software_version(self) -> str | None:
        value = self.raw.get("software version")
        return str(value) if value is not None else None

    @property
    def acquisition_time(self) -> dt.datetime | None:
        value = self.raw.get("iso time/date")
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip()) if value else None
        except ValueError:
            return None
        return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)

    @property
    def probe(self) -> Probe | None:
        """Probe block of newer firmware: pitch as a length, or a bare number in micrometres;
        radius as a length, or a bare number in millimetres (as in the SDK's probe info)."""
        block = self.raw.get("probe")
        if not isinstance(block, dict):
            return None

        def length(key: str, bare_scale: float) -> float | None:
            value = parse_quantity(block.get(key))
            if value is None or value.value == 0:
                return None
            return value.value if value.unit == "m" else value.value * bare_scale

        elements = parse_quantity(block.get("elements"))
        radius = length("radius", 1e-3)
        return Probe(name=str(block["name"]) if "name" in block else None,
                     array_type="curved" if radius else None,
                     n_elements=int(elements.value) if elements else None,
                     pitch_m=length("pitch", 1e-6), radius_m=radius, source="file")


def snake_case(key: Any) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(key)).strip("_").lower()


def typed(value: Any) -> Any:
    """Recursively: dict keys to snake_case, ``"<number> <unit>"`` strings to SI quantities."""
    if isinstance(value, dict):
        return {snake_case(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, str):
        quantity = parse_quantity(value)
        return quantity if quantity is not None and quantity.unit else value
    return value


def tgc_points(value: Any) -> list[tuple[float, float]]:
    """``(depth m, gain dB)`` pairs from any yml tgc form (text pairs, flow maps, dicts)."""
    if isinstance(value, dict) and {"depth", "dB"} <= set(value):
        return [(float(value["depth"]) * 1e-3, float(value["dB"]))]
    if isinstance(value, dict):
        value = ", ".join(f"{k}" if v is None else f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return [point for item in value for point in tgc_points(item)]
    return [(float(d) * 1e-3, float(g)) for d, g in _TGC_POINT.findall(str(value))]


def _line_arrays(lines: Any, label: str) -> dict[str, np.ndarray]:
    if lines is None:
        return {}
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise FormatError(label, "'lines' is not a list of {rx element, tx element, angle} entries")

    def column(key: str, unit: str | None) -> np.ndarray | None:
        if not any(key in line for line in lines):
            return None
        values = []
        for number, line in enumerate(lines):
            quantity = parse_quantity(line.get(key, 0))
            if quantity is None or (unit and quantity.unit not in (unit, "")):
                raise FormatError(label, f"line {number}: cannot read {key!r} = {line.get(key)!r}")
            values.append(quantity.value)
        return np.asarray(values, np.float64)

    columns = {"rx_element": column("rx element", None), "tx_element": column("tx element", None),
               "angle_rad": column("angle", "rad"), "duration_s": column("duration", "s")}
    return {name: values for name, values in columns.items() if values is not None}


def parse_yml(text: str, label: str) -> ClariusYml:
    """Parse the text of a Clarius stream ``.yml``; ``label`` names the file in errors."""
    fixed = _ONE_LINE_TGC.sub(
        lambda m: m.group(1) + "[" + ", ".join(_BRACED.findall(m.group(2))) + "]", text)
    try:
        document = yaml.load(fixed, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormatError(label, f"not a readable Clarius yml{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(document, dict):
        raise FormatError(label, "not a Clarius yml (top level is not a mapping)")
    parameters = typed({k: v for k, v in document.items() if k not in ("lines", "tgc")})
    points = tgc_points(document.get("tgc", []))
    if points:
        parameters["tgc"] = {"depth_m": [d for d, _ in points], "gain_db": [g for _, g in points]}
    return ClariusYml(raw=document, parameters=parameters,
                      lines=_line_arrays(document.get("lines"), label), tgc_points=points)
