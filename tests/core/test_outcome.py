"""sonobridge.core.outcome: typed outcomes that are still the report's text."""
from __future__ import annotations

import pickle

from sonobridge.core.outcome import Outcome, Status, outcome


def test_outcomes_are_their_report_text_with_a_status_reason_and_path():
    error = Outcome.error("disk full", path="out/a.hdf5")
    assert error == "error: disk full" and error.status is Status.ERROR and error.reason == "disk full"
    assert error.path == "out/a.hdf5" and error.failed and not error.ok
    assert Outcome.built().ok and Outcome.hit().status is Status.HIT
    assert Outcome("skipped: already zea").status is Status.SKIPPED


def test_outcomes_survive_pickling_and_plain_text_is_parsed():
    done = Outcome.built(path="x.mp4")
    back = pickle.loads(pickle.dumps(done))
    assert back == "built" and back.status is Status.BUILT
    assert outcome("error: broken").status is Status.ERROR and outcome(None) is None
