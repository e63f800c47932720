"""The pipeline asks the format registry (issue 14): it names no format, a new format joins it
by one registration, and its stages return typed outcomes."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest

from support import REPO, SHARED
from sonobridge.core.outcome import Outcome, Status
from sonobridge.core.recording import Provenance, Recording, SampleKind, Stream
from sonobridge.formats import FormatSpec, RecordingSource, register, specs
from sonobridge.pipeline.report import overall
from sonobridge.pipeline.run import default_out_dir, discover, process, run_item

PIPELINE = REPO / "src" / "sonobridge" / "pipeline"
PYDICOM = SHARED / "data" / "dicom" / "wheels" / "pydicom"


def test_the_pipeline_names_no_format():
    """No format name (other than the stage names "video" and "dicom") and no format module."""
    stages = {spec.stage for spec in specs() if spec.stage}
    names = {spec.name for spec in specs()} - stages
    found = []
    for module in PIPELINE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{module.name}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.startswith(("formats.", "telemed", "zea", "clarius"))
                    and not node.module.startswith(("formats.registry", "formats.spec"))):
                found.append(f"{module.name}:{node.lineno} from {node.module}")
    assert not found, found


# ------------------------------------------------------------------ a new format: one registration
TOY_SUFFIX = ".toy"


def _toy_recording(path: Path) -> Recording:
    n = int(path.read_text())                        # the file holds its frame count
    frames = np.arange(n * 8 * 8, dtype=np.uint8).reshape(n, 8, 8)
    stream = Stream(name="image", kind=SampleKind.IMAGE, frame_shape=(8, 8), dtype=np.dtype(np.uint8),
                    frames=frames, clock_source=(np.arange(n) * 40_000_000).astype(np.uint64), declared_n_frames=n + 2,
                    provenance=Provenance(source_files=(str(path),), format="toy"))
    return Recording(name=path.stem, streams={"image": stream}, provenance=stream.provenance)


def _claim_toys(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    return [RecordingSource(str(f), "toy", lambda f=f, **_options: _toy_recording(f))
            for f in files if f.name.endswith(TOY_SUFFIX)]


@pytest.fixture()
def toy_format():
    from sonobridge.formats import registry

    spec = register(FormatSpec(name="toy", title="toy frames", suffixes=(TOY_SUFFIX,), claim=_claim_toys, order=50,
                               frame_tolerance=2, qc=lambda label: {"toy_checked": True}))
    yield spec
    registry._specs.pop("toy", None)


def test_a_new_format_joins_the_pipeline_by_one_registration(tmp_path, toy_format):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "scan one.toy").write_text("3")
    items, problems = discover([tmp_path / "in"])
    assert not problems and [(i.format, i.stem) for i in items] == [("toy", "scan_one")]   # its stem rule
    result = run_item(items[0], str(tmp_path / "out"), ("ingest", "qc"))
    assert result["ingest"].status is Status.BUILT and (tmp_path / "out" / "scan_one.hdf5").exists()
    assert result["qc"]["image"]["complete"] is True            # 2 missing: within the toy's tolerance
    assert result["qc"]["toy_checked"] is True                  # its own QC hook


# ------------------------------------------------------------------ typed outcomes, public helpers
def test_stages_return_outcomes_and_reruns_are_hits(tmp_path):
    source = tmp_path / "in" / "us.dcm"
    source.parent.mkdir()
    shutil.copy(PYDICOM / "SC_rgb_rle_2frame.dcm", source)
    out = tmp_path / "out"
    first = process([source.parent], out, dicom=True, progress=False)[str(source)]
    for stage, suffix in (("ingest", ".hdf5"), ("dicom", ".dcm")):
        assert isinstance(first[stage], Outcome) and first[stage].status is Status.BUILT
        assert first[stage].path == str(out / f"us{suffix}")
    assert all(isinstance(v, Outcome) and v.ok for v in first["video"].values())
    assert overall(first) is Status.BUILT
    again = process([source.parent], out, dicom=True, progress=False)[str(source)]
    assert again["ingest"].status is Status.HIT and again["dicom"].status is Status.HIT
    assert set(again["video"].values()) == {"hit"} and overall(again) is Status.HIT


def test_overall_reads_outcomes_and_previous_report_strings():
    assert overall({"ingest": Outcome.skipped("already zea"), "video": {"a.mp4": "hit"}}) is Status.HIT
    assert overall({"ingest": "built", "video": {}}) is Status.BUILT
    assert overall({"discover": Outcome.error("no such file")}) is Status.ERROR
    assert overall({"ingest": "hit", "qc": {"error": "unreadable"}}) is Status.ERROR
    assert overall({"ingest": "skipped: already zea", "video": {}}) is Status.BUILT   # nothing was done before


def test_default_out_dir_is_beside_the_first_source(tmp_path):
    assert default_out_dir([tmp_path / "a", tmp_path / "b"]) == tmp_path.resolve() / "sonobridge-out"
    assert default_out_dir(str(tmp_path / "a")) == tmp_path.resolve() / "sonobridge-out"
