"""The HTML run report: its content (summary, badges, links, plots' data), self-contained, anonymised,
rendered by a real headless Chromium (Debian's ``chromium``; scripts/setup.sh test installs it)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

from sonobridge.pipeline.report import MID_FRAME_SUFFIX, html_report, recording_badges, stream_badges
from sonobridge.pipeline.run import REPORT_HTML, REPORT_JSON, process

from support import CINE, CLARIUS, EXAMPLES, REPO

CAROTID_2019 = CLARIUS / "carotid_2019_metadata"        # timing only: a 633 ms gap behind "timing_gaps: 1"


class Page(HTMLParser):
    """Every ``src``/``href`` of a page, the text of its elements and its inline SVGs."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []      # (tag, attribute, value)
        self.words: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.refs += [(tag, name, value) for name, value in attrs if name in ("src", "href") and value]

    def handle_data(self, data):
        if data.strip():
            self.words.append(" ".join(data.split()))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One cohort run: the two example captures (calibrated, with colour flow), the 2019 carotid
    capture (timing and metadata only: an ingest error) and a DICOM colour cine."""
    out = tmp_path_factory.mktemp("report") / "out"
    results = process([EXAMPLES, CAROTID_2019, CINE], out, probe="L7", progress=False)
    page = (out / REPORT_HTML).read_text()
    return out, results, page, json.loads((out / REPORT_JSON).read_text())


def sections(page: str) -> dict[str, str]:
    """The page's per-recording sections by their heading (the recording's label)."""
    parts = re.split(r'(?=<section class="recording)', page)[1:]
    return {re.search(r"<h2>(.*?)</h2>", part).group(1): part for part in parts}


def test_summary_counts_recordings_statuses_and_total_duration(run):
    out, results, page, document = run
    statuses = document["summary"]["status"]
    assert len(statuses) == 4 and sorted(statuses.values()).count("error") == 1
    assert "<b>4</b>recordings" in page
    assert '<b>1</b><span class="badge error">error</span>' in page
    assert '<b>3</b><span class="badge built">built</span>' in page
    total = sum(result["facts"].get("duration_s") or 0 for result in document["results"].values())
    assert total > 2.6 and f"<b>{total:.1f} s</b>total duration" in page
    # failures first, every recording has its section
    labels = list(sections(page))
    assert len(labels) == 4 and labels[0].endswith("carotid_2019_metadata:carotid")


def test_per_recording_facts_badges_and_no_python_dict_text(run):
    out, results, page, document = run
    assert not re.search(r"\{'\w+': ", page) and "'n_frames'" not in page and "timing_gaps" not in page
    carotid = next(part for label, part in sections(page).items() if "carotid_2019" in label)
    text = " ".join(Page(carotid).words)
    assert "no stream holds frames" in text                                    # the failure's reason
    assert "L7 HD3" in text and "384 lines x 784 samples, depth 0.0 to 40.2 mm" in text
    assert re.search(r'<span class="badge warn">1 timing gap</span> <span class="reason">[^<]*633 ms', carotid)
    assert '<span class="badge ok">complete</span>' in carotid
    example = next(part for label, part in sections(page).items() if label.endswith("carotid_doppler_2020:carotid"))
    assert '<span class="badge ok">calibrated</span>' in example and "data:image/png;base64," in example
    assert re.search(r"scale bar \d+ mm, pixel 0\.\d+ mm", example)


def test_badges_levels():
    assert [b.level for b in stream_badges({"n_frames": 5, "declared": 5, "complete": True, "timing_gaps": 0,
                                            "calibrated": False, "has_frames": False, "decode_error": "bad JPEG"},
                                           {"intervals_ms": [50.0, 50.0]})] == ["bad", "ok", "ok", "warn"]
    assert [b.level for b in recording_badges({"zea_valid": True, "lut_inverted": False})] == ["ok", "ok"]


def test_links_name_every_output_and_resolve_to_files(run):
    out, results, page, document = run
    links = {unquote(value) for tag, name, value in Page(page).refs if tag == "a" and not value.startswith("#")}
    assert links and all((out / link).is_file() for link in links)
    written = {p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")} - {REPORT_HTML, REPORT_JSON}
    assert written == links
    assert {Path(link).suffix for link in links} >= {".hdf5", ".mp4", ".json", ".dnav-toc", ".png"}
    assert sum(link.endswith(MID_FRAME_SUFFIX) for link in links) == 3          # the cine has one too


def test_interval_plot_shows_the_633_ms_gap(run):
    out, results, page, document = run
    (label,) = [label for label in document["results"] if "carotid_2019" in label]
    facts = document["results"][label]["facts"]
    intervals = facts["streams"]["env"]["intervals_ms"]
    assert len(intervals) == 23 and intervals[0] == pytest.approx(633.4, abs=0.1) and np.median(intervals) < 100
    carotid = sections(page)[label]
    plot = carotid[carotid.index("Frame intervals"):]
    assert "<svg" in plot and "633 ms</text>" in plot          # labelled in the plot itself
    assert "env: longest frame interval 633 ms (frame 0 to 1), median 83.9 ms" in carotid
    # TGC per frame and the IMU traces: one plot each
    assert "<h3>TGC: env, iq</h3>" in carotid and "<h3>TGC: rf</h3>" in carotid   # the same curves plotted once
    assert "<h3>imu</h3>" in carotid
    assert facts["signals"]["imu"]["n_samples"] == 84


def test_self_contained(run):
    out, results, page, document = run
    for tag, name, value in Page(page).refs:
        assert not value.startswith(("http:", "https:", "//", "file:")), (tag, name, value)
        if tag == "img":
            assert value.startswith("data:image/png;base64,")
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!#)", page)                 # only the plots' own clip paths


def test_anonymised_report_names_no_source(tmp_path):
    out = tmp_path / "out"
    results = process([EXAMPLES / "carotid_doppler_2020", CAROTID_2019], out, probe="L7", anonymise=True,
                      progress=False)
    assert all(re.fullmatch(r"recording-[0-9a-f]{16}", label) for label in results)
    for name in (REPORT_HTML, REPORT_JSON):
        text = (out / name).read_text()
        for part in ("carotid", "clarius", "examples", "shared", str(REPO)):
            assert part not in text, (name, part)
    (image,) = out.glob(f"*{MID_FRAME_SUFFIX}")                # the timing-only capture has none
    assert image.name.removesuffix(MID_FRAME_SUFFIX) in results


def test_missing_report_extra_named_and_json_still_written(tmp_path):
    """Without Jinja2 (blocked in a child interpreter) the page is refused naming the extra, and a
    run still writes its JSON report."""
    code = ("import sys; sys.modules['jinja2'] = None\n"
            "from pathlib import Path\n"
            "from sonobridge.errors import MissingDependencyError\n"
            "from sonobridge.pipeline.report import html_report\n"
            "from sonobridge.pipeline.run import write_report\n"
            "try:\n    html_report({'summary': {'status': {}}, 'results': {}}, Path('.'))\n"
            "except MissingDependencyError as error:\n    print(error)\n"
            f"write_report(Path({str(tmp_path)!r}), {{}}, 1.0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sonobridge[report]'" in result.stdout
    assert (tmp_path / REPORT_JSON).is_file() and not (tmp_path / REPORT_HTML).exists()
    assert "sonobridge[report]" in result.stderr and "Traceback" not in result.stderr


def test_empty_run_renders(tmp_path):
    page = html_report({"summary": {"status": {}, "seconds": 0.0}, "results": {}}, tmp_path)
    assert "<b>0</b>recordings" in page


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if (path := shutil.which(name)):
            return path
    pytest.fail("headless Chromium is needed (Debian's chromium: scripts/setup.sh test installs it)")


def screenshot(page: Path, target: Path, height: int = 2000) -> np.ndarray:
    """``page`` as headless Chromium draws it, RGB ``(height, 1280, 3)`` uint8."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={target.parent / 'chromium-profile'}",
               f"--screenshot={target}", f"--window-size=1280,{height}", page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and target.is_file(), result.stderr[-2000:]
    return np.asarray(Image.open(target).convert("RGB"))


def test_renders_in_headless_chromium(run, tmp_path):
    out, results, page, document = run
    pixels = screenshot(out / REPORT_HTML, tmp_path / "report.png")
    assert pixels.shape == (2000, 1280, 3)
    inked = np.any(pixels < 235, axis=-1)
    colours = len(np.unique(pixels.reshape(-1, 3) // 4, axis=0))
    assert inked.mean() > 0.05 and colours > 500, (inked.mean(), colours)       # text, plots, badges, images
    # the summary's red error badge and the first section's red stripe are drawn
    reddish = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert reddish.sum() > 500


def test_a_rerun_of_hits_shows_the_same_facts_and_image(tmp_path):
    out = tmp_path / "out"
    process([EXAMPLES / "carotid_doppler_2020"], out, probe="L7", progress=False)
    first = (out / REPORT_HTML).read_text()
    again = process([EXAMPLES / "carotid_doppler_2020"], out, probe="L7", progress=False)
    assert {state for result in again.values() for state in result["video"].values()} == {"hit"}
    page = (out / REPORT_HTML).read_text()
    assert page.count("data:image/png;base64,") == first.count("data:image/png;base64,") == 1
    assert Page(page).words.count("L7 HD3") == Page(first).words.count("L7 HD3") == 2
