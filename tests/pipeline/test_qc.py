"""QC of the cohort pipeline: completeness with the tolerance of the format a stream was read
from (issue 14: Telemed's 16-frame tolerance applied to every format)."""
from __future__ import annotations

import numpy as np
import pytest

from sonobridge.core.recording import Provenance, Recording, SampleKind, Stream
from sonobridge.pipeline.stages import Item, frame_tolerance, qc, stream_qc


def _stream(n_frames: int, declared: int, provenance: str | None) -> Stream:
    frames = np.zeros((n_frames, 4, 6), np.uint8)
    clock = (np.arange(n_frames) * 50_000_000).astype(np.uint64)
    return Stream(name="image", kind=SampleKind.IMAGE, frame_shape=(4, 6), dtype=np.dtype(np.uint8), frames=frames,
                  clock_source=clock, declared_n_frames=declared,
                  provenance=None if provenance is None else Provenance(source_files=(), format=provenance))


def _qc(stream: Stream, item_format: str) -> dict:
    recording = Recording(name="r", streams={"image": stream})
    item = Item(label="nowhere/r", format=item_format, stem="r")
    return qc(item, None, False, lambda: recording)


@pytest.mark.parametrize(("provenance", "missing", "complete"), [
    ("clarius-raw", 15, False),          # the bug: Telemed's tolerance made this complete
    ("clarius-raw", 0, True),
    ("dicom", 1, False),
    ("telemed-tvd-h5", 15, True),         # EchoWave reports fewer frames than the .tvd declares
    ("telemed-tvd-h5", 16, True),
    ("telemed-tvd-h5", 17, False),
])
def test_completeness_uses_the_tolerance_of_the_streams_format(provenance, missing, complete):
    stream = _stream(20, 20 + missing, provenance)
    assert _qc(stream, "clarius-raw")["image"]["complete"] is complete


def test_a_zea_file_written_from_telemed_keeps_telemeds_tolerance():
    stream = _stream(5, 20, "telemed-tvd-h5")              # provenance kept through zea
    assert frame_tolerance(stream, "zea") == 16
    assert _qc(stream, "dicom")["image"]["complete"] is True


def test_without_a_known_provenance_the_recordings_format_decides():
    for provenance in (None, "derived"):
        stream = _stream(5, 20, provenance)
        assert frame_tolerance(stream, "clarius-raw") == 0
        assert frame_tolerance(stream, "telemed-tvd-h5") == 16


def test_stream_qc_reports_counts_and_decodability():
    report = stream_qc(_stream(5, 6, "clarius-raw"), tolerance=1)
    assert report == {"n_frames": 5, "declared": 6, "complete": True, "timing_gaps": 0, "calibrated": False,
                      "has_frames": True, "decodable": True}
    assert stream_qc(_stream(5, 0, None), tolerance=0)["complete"] is None      # nothing declared


def test_format_checks_come_from_the_format():
    """A format without QC hooks adds no keys; a recording that cannot be read is an error entry."""
    report = _qc(_stream(3, 3, "dicom"), "dicom")
    assert set(report) == {"image"}

    def unreadable():
        from sonobridge.errors import SonobridgeError

        raise SonobridgeError("x", "cannot be read")
    assert qc(Item("x", "dicom", "x"), None, False, unreadable) == {"error": "cannot be read"}
