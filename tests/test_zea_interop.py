"""Interop with the real zea package (test dependency, KERAS_BACKEND=jax, CPU): the same verdict
and the same arrays on every fixture in ../shared/data/zea."""
from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pytest

import sonobridge.zea as ours

from test_zea_read import VERDICTS, ZEA

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def real_zea():
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    return zea, validate_file


def zea_verdict(real_zea, path) -> bool:
    zea, validate_file = real_zea
    try:
        validate_file(str(path))
        with zea.File(str(path), validate=False) as handle:
            handle.validate_spec()
    except (ValueError, TypeError, AssertionError, KeyError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_same_verdict_as_real_zea(real_zea, name):
    assert ours.validate(ZEA / name).valid is zea_verdict(real_zea, ZEA / name)


@pytest.mark.parametrize("name", sorted(n for n, valid in VERDICTS.items() if valid))
def test_same_arrays_as_real_zea(real_zea, name):
    zea, _ = real_zea
    with zea.File(str(ZEA / name), validate=False) as theirs, ours.File(ZEA / name) as mine:
        tracks = mine.tracks
        if not mine.legacy:
            assert len(theirs.tracks) == len(tracks)
        for index, track in enumerate(tracks):
            their_track = theirs.get_track(index) if len(tracks) > 1 or not mine.legacy else None
            their_data = their_track.data if their_track is not None else theirs.data
            for key in track.data.keys():
                item = track.data[key]
                mine_values = item[()] if hasattr(item, "shape") else item.values[()]
                their_item = getattr(their_data, key)
                their_values = their_item[()] if hasattr(their_item, "shape") else their_item.values[()]
                assert np.array_equal(np.asarray(their_values), mine_values), key
        if theirs.timestamps is None:
            assert mine.timestamps is None
        else:
            assert np.allclose(np.asarray(theirs.timestamps), mine.timestamps)
        for index, track in enumerate(tracks if not mine.legacy else ()):
            expected = theirs.tracks[index].timestamps
            assert (expected is None) == (track.timestamps is None)
            if expected is not None:
                assert np.allclose(np.asarray(expected), track.timestamps)
        if len(tracks) == 1:
            their_parameters = theirs.load_parameters()
            for key, value in mine.load_parameters().items():
                if key in ("wavelength",) or key not in their_parameters:
                    continue
                assert np.allclose(np.asarray(their_parameters[key], float), np.asarray(value, float)), key
