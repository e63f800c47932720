"""sonobridge.core.options: the reader options as one frozen, hashable value."""
from __future__ import annotations

import pickle

import pytest

from sonobridge.core.options import ReadOptions


def test_only_the_options_that_are_set_become_keywords():
    options = ReadOptions.from_keywords(probe="C3", sound_speed_m_s=1480.0)
    assert options.as_keywords() == {"probe": "C3", "sound_speed_m_s": 1480.0, "allow_truncated": False}
    assert ReadOptions().as_keywords() == {"allow_truncated": False}


def test_options_are_hashable_picklable_and_refuse_unknown_keywords():
    options = ReadOptions(probe="L7", allow_truncated=True)
    assert {options: 1}[ReadOptions(probe="L7", allow_truncated=True)] == 1
    assert pickle.loads(pickle.dumps(options)) == options
    with pytest.raises(TypeError):
        ReadOptions.from_keywords(colour="red")
