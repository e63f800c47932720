import math

import pytest

from sonobridge.core.units import Quantity, parse_quantity


@pytest.mark.parametrize("text, value, unit", [
    ("10 MHz", 10e6, "Hz"), ("40 mm", 0.04, "m"), ("15 °", math.radians(15), "rad"),
    ("81 µs", 81e-6, "s"), ("23.00dB", 23.0, "dB"), ("4 bytes", 4.0, "B"), ("1540 m/s", 1540.0, "m/s"),
    ("-0.5 cm", -0.005, "m"), ("16", 16.0, ""), (7, 7.0, ""), ("2.5e3 Hz", 2500.0, "Hz"),
])
def test_parse_quantity_to_si(text, value, unit):
    quantity = parse_quantity(text)
    assert quantity.unit == unit
    assert quantity.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["B pre-scan", "none", "", None, True, "MHz"])
def test_non_quantities_are_none(text):
    assert parse_quantity(text) is None


def test_unknown_unit_kept():
    assert parse_quantity("3 furlongs") == Quantity(3.0, "furlongs")
