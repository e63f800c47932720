"""Report plots are drawn once (in the workers, after the stages) and read back by every later page:
a re-run of a finished cohort draws nothing, and plots the page no longer shows are removed."""
from __future__ import annotations

import json

import pytest

from sonobridge.pipeline import report
from sonobridge.pipeline.report import PLOT_CACHE, html_report, recording_plots
from sonobridge.pipeline.run import REPORT_HTML, REPORT_JSON, process

from support import CLARIUS

CAROTID_2019 = CLARIUS / "carotid_2019_metadata"        # timing, TGC and IMU: every kind of plot


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "out"
    process([CAROTID_2019], out, probe="L7", progress=False)
    return out


def _no_drawing(*args, **kwargs):
    raise AssertionError("a plot was drawn again")


def test_the_run_keeps_every_plot_the_page_shows(finished):
    kept = sorted((finished / PLOT_CACHE).glob("*.svg"))
    page = (finished / REPORT_HTML).read_text()
    assert len(kept) >= 3                           # intervals, TGC, IMU
    assert all(path.read_text() in page for path in kept)


def test_a_second_page_draws_nothing(finished, monkeypatch):
    monkeypatch.setattr(report, "_figure", _no_drawing)
    document = json.loads((finished / REPORT_JSON).read_text())
    page = html_report(document, finished)
    assert page == (finished / REPORT_HTML).read_text() and page.count("<svg") >= 3


def test_changed_facts_are_drawn_again_and_stale_plots_removed(finished, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / PLOT_CACHE).mkdir()
    (out / PLOT_CACHE / "stale.svg").write_text("<svg/>")
    document = json.loads((finished / REPORT_JSON).read_text())
    facts = next(iter(document["results"].values()))["facts"]
    before = recording_plots(facts, finished, "x")["intervals"]
    facts["streams"]["env"]["intervals_ms"] = [value * 2 for value in facts["streams"]["env"]["intervals_ms"]]
    after = recording_plots(facts, out, "x")["intervals"]
    assert after is not None and after != before
    html_report(document, out)
    assert not (out / PLOT_CACHE / "stale.svg").exists()
