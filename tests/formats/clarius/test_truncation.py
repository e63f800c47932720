"""Truncated Clarius ``.tgc`` and ``_imu.yml`` files: the real 2019 files cut short are read
with a TruncatedDataWarning naming the file and the counts, never silently."""
from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from sonobridge.errors import TruncatedDataWarning
from sonobridge.formats import open_recording

FIXTURES = ("carotid_2019_metadata", "wirephantom_2019_metadata")


@pytest.fixture()
def capture(tmp_path, clarius_data) -> Path:
    """A writable copy of the real 2019 carotid metadata (RF: 17 frames, timing only)."""
    folder = tmp_path / "carotid"
    shutil.copytree(clarius_data / "carotid_2019_metadata", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _entries_start(text: str, key: str) -> list[int]:
    """Offsets of every ``key`` at the start of a line."""
    return [i for i in range(len(text)) if text.startswith(key, i) and (i == 0 or text[i - 1] == "\n")]


def _open_with_warnings(folder: Path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording = open_recording(folder)
    truncated = [str(w.message) for w in caught if issubclass(w.category, TruncatedDataWarning)]
    return recording, truncated


@pytest.mark.parametrize("fixture", FIXTURES)
def test_complete_files_give_no_warning(clarius_data, fixture):
    recording, truncated = _open_with_warnings(clarius_data / fixture)
    assert truncated == []
    assert recording.streams["rf"].n_frames == recording.streams["rf"].declared_n_frames


def test_tgc_cut_between_entries_warns_with_both_counts(capture):
    tgc = capture / "carotid_rf.tgc"
    text = tgc.read_text()
    tgc.write_text(text[:_entries_start(text, "timestamp:")[12]])
    recording, truncated = _open_with_warnings(capture)
    rf = recording.streams["rf"]
    assert (rf.n_frames, rf.declared_n_frames) == (12, 17)
    (message,) = truncated
    assert str(tgc) in message and "12" in message and "17" in message


def test_tgc_cut_inside_its_last_timestamp(capture):
    """The cut number reads as a smaller timestamp: dropped with a warning, not an error."""
    tgc = capture / "carotid_rf.tgc"
    text = tgc.read_text()
    tgc.write_text(text[:_entries_start(text, "timestamp:")[9] + len("timestamp: 3416")])
    recording, truncated = _open_with_warnings(capture)
    assert recording.streams["rf"].n_frames == 9
    assert any("cut short" in m and str(tgc) in m for m in truncated)
    assert any("9" in m and "17" in m for m in truncated)


@pytest.mark.parametrize("cut", ["inside a key", "after a field", "inside a mapping", "inside the last value"])
def test_imu_cut_inside_a_record_drops_it_with_a_warning(capture, cut):
    imu = capture / "carotid_imu.yml"
    text = imu.read_text()
    record = _entries_start(text, "timestamp:")[56]
    ends = {"inside a key": text.index("stationary", record) + 3,
            "after a field": text.index("orientation", record),
            "inside a mapping": text.index("q2:", record),
            "inside the last value": text.index("stationary", record) + len("stationary: fa")}
    imu.write_text(text[:ends[cut]])
    recording, truncated = _open_with_warnings(capture)
    assert recording.signals["imu"].n_samples == 56
    assert any(str(imu) in m and "cut short" in m for m in truncated)


def test_imu_cut_between_records_is_found_by_its_time_span(capture):
    imu = capture / "carotid_imu.yml"
    text = imu.read_text()
    imu.write_text(text[:_entries_start(text, "---")[55]])
    recording, truncated = _open_with_warnings(capture)
    assert recording.signals["imu"].n_samples == 56
    (message,) = truncated
    assert str(imu) in message and "56 IMU samples" in message and "before the last frame" in message


def test_cli_reports_a_truncation_in_one_line(capture):
    tgc = capture / "carotid_rf.tgc"
    text = tgc.read_text()
    tgc.write_text(text[:_entries_start(text, "timestamp:")[12]])
    result = subprocess.run([sys.executable, "-m", "sonobridge.cli", "info", str(capture)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"sonobridge: warning: {tgc}: holds 12 TGC entries but its "
                                          "'frames:' line declares 17 frames: cut short?"]


@pytest.mark.parametrize("name", ["carotid_rf.tgc", "carotid_imu.yml"])
def test_every_cut_is_an_error_or_a_warning_never_silent(capture, name):
    """Cut the file at many places: a recording that comes back with fewer entries than the
    complete file holds always came with a TruncatedDataWarning (the IMU check allows the last
    few samples, see ``IMU_GAP_PERIODS``)."""
    from sonobridge.errors import SonobridgeError
    from sonobridge.formats.clarius.reader import IMU_GAP_PERIODS

    path = capture / name
    text = path.read_text()
    complete, _ = _open_with_warnings(capture)
    full = {"rf": complete.streams["rf"].n_frames, "imu": complete.signals["imu"].n_samples}
    for cut in range(0, len(text), max(1, len(text) // 50)):
        path.write_text(text[:cut])
        try:
            recording, truncated = _open_with_warnings(capture)
        except SonobridgeError as error:
            assert str(path) in str(error)
            continue
        rf = recording.streams["rf"].n_frames
        imu = recording.signals["imu"].n_samples if "imu" in recording.signals else 0
        if name.endswith(".tgc") and rf < full["rf"] or imu < full["imu"] - IMU_GAP_PERIODS - 1:
            assert truncated, f"cut at {cut}: {rf} frames, {imu} IMU samples and no warning"
