"""sonobridge.core.serialize: exact JSON for the model's metadata (types, arrays bit for bit)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from sonobridge.core.geometry import LineGeometry, Probe
from sonobridge.core.recording import Provenance
from sonobridge.core.serialize import dumps, loads
from sonobridge.core.tgc import TgcCurves
from sonobridge.core.units import Quantity


def test_arrays_scalars_tuples_keys_and_dates_come_back_exactly():
    clock = np.array([0, 2**63 + 12345, 2**64 - 1], np.uint64)       # beyond float64 and int64
    value = {"clock": clock, "complex": np.array([1 + 2j, -0.5j], np.complex64), "n": np.int16(-7),
             "pair": (1, "a"), 3: "int key", (1, 2): "tuple key", "when": dt.datetime(2024, 5, 6, 7, 8, 9),
             "day": dt.date(2020, 1, 2), "nan": float("nan")}
    back = loads(dumps(value))
    assert back["clock"].dtype == np.uint64 and np.array_equal(back["clock"], clock)
    assert back["complex"].dtype == np.complex64 and np.array_equal(back["complex"], value["complex"])
    assert type(back["n"]) is np.int16 and back["n"] == -7
    assert back["pair"] == (1, "a") and back[3] == "int key" and back[(1, 2)] == "tuple key"
    assert back["when"] == value["when"] and back["day"] == value["day"] and np.isnan(back["nan"])
    json.loads(dumps(value))                                  # and the text is JSON


def test_the_model_dataclasses_come_back_with_their_types():
    probe = Probe(name="L7", n_elements=192, pitch_m=0.0002, source="table")
    geometry = LineGeometry(np.arange(4, dtype=np.float64), np.zeros(4), 1e-4, 0.0, 20e6)
    provenance = Provenance(("a.raw", "a.yml"), "clarius-raw", notes=("synthetic",))
    tgc = TgcCurves.from_rows(np.array([1, 2**63], np.uint64), [[(0.0, 5.0)], []], "tgc")
    back = loads(dumps([probe, geometry, provenance, Quantity(5e6, "Hz"), tgc]))
    assert back[0] == probe and back[2] == provenance and back[3] == Quantity(5e6, "Hz")
    assert isinstance(back[1], LineGeometry) and isinstance(back[4], TgcCurves)
    for original, copy in ((geometry, back[1]), (tgc, back[4])):
        for field in dataclasses.fields(original):
            a, b = getattr(original, field.name), getattr(copy, field.name)
            assert np.array_equal(a, b, equal_nan=True) if isinstance(a, np.ndarray) else a == b
    assert back[4].clock.dtype == np.uint64


def test_text_it_did_not_write_is_refused():
    with pytest.raises((ValueError, KeyError, TypeError)):
        loads('{"__sonobridge__": "no-such-type", "value": 1}')
