"""The format registry answers the questions the pipeline and the CLI used to answer by naming
formats: stems, roots, writers by name, and the per-format hooks (issue 14)."""
from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from support import SHARED
from synth import write_capture

from sonobridge.errors import UnsupportedInputError
from sonobridge.util.naming import unique_stems
from sonobridge.formats import find_recordings, get_format, specs, stage_spec, writer_for
from sonobridge.formats.registry import frames_reader_for

PYDICOM = SHARED / "data" / "dicom" / "wheels" / "pydicom"
ZEA = SHARED / "data" / "zea"


def test_writers_by_output_name_and_stage():
    assert writer_for("a/x.hdf5").name == "zea" and writer_for("x.H5").name == "zea"
    assert writer_for("x.dcm").name == "dicom" and writer_for("x.dicom").name == "dicom"
    assert writer_for("x.mp4").writes_folder and writer_for("x.tvd") is None
    assert [stage_spec(stage).name for stage in ("ingest", "dicom", "video")] == ["zea", "dicom", "video"]
    assert {spec.write_suffix for spec in specs() if spec.write} == {".hdf5", ".dcm", ".mp4", ".tif"}
    with pytest.raises(UnsupportedInputError, match="unknown format 'nope'"):
        get_format("nope")


def test_each_format_names_its_own_files(tmp_path):
    """Stems drop the format's own suffix only; loose Clarius captures are <folder>-<prefix>."""
    for name in ("scan.tvd.h5", "scan.tvd", "b.hdf5", "IM0001", "c.dcm"):
        (tmp_path / name).write_bytes(b"")
    shutil.copy(PYDICOM / "SC_rgb_rle_2frame.dcm", tmp_path / "IM0001")
    write_capture(tmp_path / "cap folder", "env", 1, frames=2, lines=4, samples=8)
    found = {Path(s.label).name if ":" not in s.label else s.label: s for s in find_recordings(tmp_path)}
    assert {label: (s.format, s.stem) for label, s in found.items() if ":" not in label} == {
        "scan.tvd.h5": ("telemed-tvd-h5", "scan"), "b.hdf5": ("zea", "b"), "IM0001": ("dicom", "IM0001"),
        "c.dcm": ("dicom", "c")}                      # scan.tvd is represented by its sidecar
    (capture,) = [s for label, s in found.items() if ":" in label]
    assert capture.format == "clarius-raw" and capture.stem == "cap_folder-cap"
    assert capture.root == tmp_path / "cap folder"
    assert [p.name for p in get_format("clarius-raw").files_of(capture.label)] == ["cap_env.raw", "cap_env.yml"]


def test_captures_in_package_folders_keep_their_stems(tmp_path):
    raw, _, _ = write_capture(tmp_path / "src", "env", 1, frames=2, lines=4, samples=8)
    archive = tmp_path / "pkg.tar"
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        for folder in ("p1", "p2"):
            for path in (raw, raw.with_suffix(".yml")):
                data = path.read_bytes()
                info = tarfile.TarInfo(f"{folder}/{path.name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    sources = find_recordings(archive)
    assert sorted(s.stem for s in sources) == ["pkg-p1_cap", "pkg-p2_cap"]     # the package suffix is not kept
    assert {s.root for s in sources} == {archive}
    assert unique_stems({s.label: s.stem for s in sources}) == {s.label: s.stem for s in sources}


def test_unique_stems_hashes_only_collisions():
    stems = unique_stems({"p1/IM1.dcm": "IM1", "p2/IM1.dcm": "IM1", "x.dcm": "x"})
    assert stems["x.dcm"] == "x" and len({stems["p1/IM1.dcm"], stems["p2/IM1.dcm"]}) == 2
    assert all(stems[label].startswith("IM1-") for label in ("p1/IM1.dcm", "p2/IM1.dcm"))


def test_validate_hook_reports_on_a_file():
    validate = get_format("zea").validate
    good, bad = validate(ZEA / "hand_ok_minimal.hdf5"), validate(ZEA / "hand_bad_int32_raw.hdf5")
    assert good.valid and not good.errors and good.to_json()["valid"] is True
    assert not bad.valid and bad.errors and all(str(finding) for finding in bad.errors)


def test_output_done_hooks(tmp_path):
    """DICOM: an output whose first frame does not decode is not done; video: no index, not done."""
    dicom = get_format("dicom").output_done
    target = tmp_path / "x.dcm"
    shutil.copy(PYDICOM / "SC_rgb_rle_2frame.dcm", target)
    assert dicom(target, None) is True
    target.write_bytes(target.read_bytes()[:400])
    with pytest.raises(Exception):                    # noqa: B017 - the pipeline treats any failure as "rebuild"
        dicom(target, None)
    video = stage_spec("video")
    (tmp_path / "v.mp4").write_bytes(b"\0" * 100)
    assert video.output_done(tmp_path / "v.mp4", None) is False


def test_unpack_and_read_frames_hooks(tmp_path, clarius_data):
    (clarius,) = [spec for spec in specs() if spec.unpack]
    results = clarius.unpack(clarius_data / "lzop/carotid_doppler_lzop5F.tar", tmp_path / "out")
    assert results and set(results.values()) == {"built"}
    from sonobridge.formats.video.writer import export_video
    from sonobridge.formats import open_recording

    (video,) = export_video(open_recording(PYDICOM / "SC_rgb_rle_2frame.dcm"), tmp_path, stem="v", progress=False)
    frame = frames_reader_for(video).read_frames(video, 0, 1)[0]
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim in (2, 3)
