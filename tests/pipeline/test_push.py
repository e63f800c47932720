"""``process(..., push=URL)`` and :mod:`sonobridge.pipeline.push` against a real PACS (Orthanc, the
``orthanc`` fixture): every DICOM output sent once, nothing sent again, resumable after a partial
push, failures per recording; ``pull`` of a study into a folder that ``process`` takes."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pynetdicom")

from pydicom import dcmread  # noqa: E402

from sonobridge.core.outcome import Status  # noqa: E402
from sonobridge.pipeline import push  # noqa: E402
from sonobridge.pipeline.run import process  # noqa: E402

from synth import write_capture  # noqa: E402


def cohort(root: Path) -> Path:
    """Two small Clarius captures."""
    write_capture(root / "a", "env", 1, frames=4, lines=16, samples=40, seed=1)
    write_capture(root / "b", "env", 1, frames=5, lines=16, samples=48, seed=2)
    return root


def dimse_url(orthanc) -> str:
    return f"dicom://{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}"


def held(orthanc) -> set[str]:
    """SOP Instance UIDs Orthanc holds."""
    return {match["SOPInstanceUID"] for study in push.endpoint(dimse_url(orthanc)).find("STUDY")
            for match in push.endpoint(dimse_url(orthanc)).find("IMAGE", study=study["StudyInstanceUID"])}


def uids(out: Path) -> set[str]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in out.glob("*.dcm")}


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_push_is_idempotent_across_runs(orthanc, tmp_path: Path, protocol: str):
    if protocol == "dicomweb":
        pytest.importorskip("sonobridge.dicom.dicomweb", reason="the DICOMweb client is not there yet")
    orthanc.reset()
    url = dimse_url(orthanc) if protocol == "dimse" else orthanc.dicomweb_url
    source = cohort(tmp_path / "coh")
    first = process([source], tmp_path / "out", push=url, progress=False)
    assert [r["push"].status for r in first.values()] == [Status.BUILT, Status.BUILT], first
    assert held(orthanc) == uids(tmp_path / "out") and len(held(orthanc)) == 2
    second = process([source], tmp_path / "out", push=url, progress=False)
    assert [r["push"] for r in second.values()] == ["hit", "hit"]          # nothing sent again


def test_a_partial_push_is_completed_by_the_next_run(orthanc, tmp_path: Path):
    orthanc.reset()
    source = cohort(tmp_path / "coh")
    process([source], tmp_path / "out", dicom=True, progress=False)
    first = sorted((tmp_path / "out").glob("*.dcm"))[0]
    target = push.endpoint(dimse_url(orthanc))
    assert push.push_files(target, [first]).status is Status.BUILT      # the run killed after one recording
    results = process([source], tmp_path / "out", push=dimse_url(orthanc), progress=False)
    assert sorted(r["push"].status.value for r in results.values()) == ["built", "hit"]
    assert held(orthanc) == uids(tmp_path / "out")


def test_an_unreachable_pacs_fails_each_recording(tmp_path: Path, monkeypatch):
    from sonobridge.dicom.dimse import free_port
    from sonobridge.pipeline.report import overall

    monkeypatch.setattr(push, "BACKOFF_S", 0.01)
    results = process([cohort(tmp_path / "coh")], tmp_path / "out",
                      push=f"dicom://NOBODY@127.0.0.1:{free_port()}", progress=False)
    for result in results.values():
        assert result["dicom"] == "built" and result["push"].failed and "after 3 attempts" in result["push"]
        assert overall(result) is Status.ERROR


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_pull_a_study_then_process_it(orthanc, tmp_path: Path, protocol: str):
    orthanc.reset()
    process([cohort(tmp_path / "coh")], tmp_path / "out", push=dimse_url(orthanc), progress=False)
    target = push.endpoint(dimse_url(orthanc) if protocol == "dimse" else orthanc.dicomweb_url)
    study = target.find("STUDY")[0]["StudyInstanceUID"]
    summary = push.pull(target, tmp_path / "pulled", study=study)
    folder = Path(summary["studies"][study]["folder"])
    assert summary["studies"][study]["fetched"] == summary["studies"][study]["instances"] >= 1
    again = push.pull(target, tmp_path / "pulled", study=study)          # complete files are kept
    assert again["studies"][study]["fetched"] == 0
    assert {p.stem for p in folder.glob("*.dcm")} <= held(orthanc)
    results = process([folder], tmp_path / "out2", progress=False)
    assert results and all(r["ingest"] == "built" for r in results.values())


def test_pull_resumes_after_a_kill(orthanc, tmp_path: Path):
    """A folder holding some instances (and a partial write) gets only the missing ones."""
    orthanc.reset()
    process([cohort(tmp_path / "coh")], tmp_path / "out", push=dimse_url(orthanc), progress=False)
    target = push.endpoint(dimse_url(orthanc))
    studies = [s["StudyInstanceUID"] for s in target.find("STUDY")]
    full = push.pull(target, tmp_path / "pulled", study=studies[0])
    folder = Path(full["studies"][studies[0]]["folder"])
    files = sorted(folder.glob("*.dcm"))
    (folder / f".{files[0].name}.x.partial").write_bytes(b"half")        # a write killed mid-way
    files[0].unlink()
    again = push.pull(target, tmp_path / "pulled", study=studies[0])
    assert again["studies"][studies[0]]["fetched"] == 1 and files[0].is_file()
    assert not list(folder.glob(".*.partial"))
