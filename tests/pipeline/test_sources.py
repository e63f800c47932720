"""Outputs follow their sources (issue 13): a source rewritten in place, damaged outputs, stale
sidecars, two runs on one output folder, the import race of worker threads, same-named captures
in different tar folders, and QC of undecodable streams and invalid zea inputs."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sonobridge.errors import SonobridgeError
from sonobridge.formats import find_recordings, open_recording
from sonobridge.formats.video.index import dnav_path, file_key, index_path, load_index
from sonobridge.pipeline.run import LOCK_NAME, REPORT_JSON, OutputLockedError, discover, output_lock, process
from sonobridge.pipeline.stages import record_path, source_digest, source_key

from support import REPO, SHARED
from synth import make_frames, raw_bytes, write_capture

PYDICOM = SHARED / "data" / "dicom" / "wheels" / "pydicom"
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def _capture(folder: Path, seed: int) -> Path:
    raw, _, _ = write_capture(folder, "env", 1, frames=12, lines=48, samples=120, seed=seed)
    return raw


def _rewrite_same_size(raw: Path, seed: int) -> None:
    """New frame bytes of the same size written in place, the modification time put back."""
    before = raw.stat()
    data = make_frames(1, 12, 48, 120, seed)
    clock = (10**11 + np.arange(12) * 90_000_000).astype(np.uint64)
    content = raw_bytes(1, data, clock)
    assert len(content) == before.st_size and content != raw.read_bytes()
    with open(raw, "r+b") as handle:
        handle.write(content)
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))


def _flip(path: Path, keep_mtime: bool = True, at: int | None = None) -> None:
    """Invert 64 bytes of ``path`` at ``at`` (default: its middle), the modification time kept
    unless asked."""
    before = path.stat()
    at = before.st_size // 2 if at is None else at
    with open(path, "r+b") as handle:
        handle.seek(at)
        chunk = handle.read(64)
        handle.seek(at)
        handle.write(bytes(b ^ 0xFF for b in chunk))
    if keep_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _recorded_digest(output: Path) -> str:
    """The source digest the record beside ``output`` holds (the one store for zea and DICOM)."""
    return json.loads(record_path(output).read_text())["source_digest"]


def _only(results: dict) -> dict:
    assert len(results) == 1
    return next(iter(results.values()))


# ------------------------------------------------------------------ a source rewritten in place
@pytest.mark.parametrize("keep_report", [True, False], ids=["report-kept", "report-deleted"])
def test_source_rewritten_in_place_rebuilds_its_outputs(tmp_path, keep_report):
    raw = _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    first = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    assert first["ingest"] == "built" and set(first["video"].values()) == {"built"}
    old_digest = _recorded_digest(out / "a-cap.hdf5")

    _rewrite_same_size(raw, seed=7)                   # same size, same mtime, new content
    if not keep_report:                              # then each stage's own check must see it
        (out / REPORT_JSON).unlink()
    again = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    assert again["ingest"] == "built" and set(again["video"].values()) == {"built"}

    new_source = open_recording(raw.parent, probe="L7")
    rebuilt = open_recording(out / "a-cap.hdf5")
    np.testing.assert_array_equal(np.asarray(rebuilt["env"].frames), np.asarray(new_source["env"].frames))
    digest = _recorded_digest(out / "a-cap.hdf5")
    assert digest != old_digest and digest == source_digest(again["source_key"])
    assert load_index(out / "a-cap.mp4").source["source_digest"] == digest
    fresh = tmp_path / "fresh"                       # the video is the one of the new source
    process([tmp_path / "cohort"], fresh, probe="L7", progress=False)
    assert (fresh / "a-cap.mp4").read_bytes() == (out / "a-cap.mp4").read_bytes()
    third = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    assert third["ingest"] == "hit" and set(third["video"].values()) == {"hit"}


def test_source_key_sees_a_same_size_rewrite_with_the_same_mtime(tmp_path):
    raw = _capture(tmp_path / "a", seed=1)
    (tmp_path / "a" / "other_env.raw").write_bytes(b"x" * 10)      # another capture's file: not in the key
    items, _ = discover([tmp_path / "a"])
    item = next(i for i in items if i.label.endswith(":cap"))
    key = source_key(item)
    assert sorted(entry[0] for entry in key) == ["cap_env.raw", "cap_env.yml"]
    _rewrite_same_size(raw, seed=9)
    assert source_key(item) != key


def test_dicom_output_follows_its_source(tmp_path):
    from sonobridge.dicom.pixels import decode

    cohort = tmp_path / "cohort"
    cohort.mkdir()
    source = cohort / "us.dcm"
    shutil.copy(PYDICOM / "ExplVR_BigEnd.dcm", source)          # native RGB ultrasound: pixels at the end
    out = tmp_path / "out"
    first = _only(process([cohort], out, dicom=True, progress=False))
    assert first["dicom"] == "built", first["dicom"]
    record = json.loads(record_path(out / "us.dcm").read_text())
    assert record["source_digest"] == source_digest(first["source_key"])
    assert _only(process([cohort], out, dicom=True, progress=False))["dicom"] == "hit"
    old = decode(out / "us.dcm")

    before = source.stat()                           # same size, same mtime, other pixels
    data = bytearray(source.read_bytes())
    data[-3000:] = bytes(b ^ 0x55 for b in data[-3000:])
    source.write_bytes(bytes(data))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    (out / REPORT_JSON).unlink()
    again = _only(process([cohort], out, dicom=True, progress=False))
    assert again["dicom"] == "built" and again["ingest"] == "built"
    fresh = _only(process([cohort], tmp_path / "fresh", dicom=True, progress=False))
    assert fresh["dicom"] == "built"
    np.testing.assert_array_equal(decode(out / "us.dcm"), decode(tmp_path / "fresh" / "us.dcm"))
    assert not np.array_equal(decode(out / "us.dcm"), old)


# ------------------------------------------------------------------ damaged outputs
@pytest.mark.parametrize("keep_mtime", [True, False], ids=["mtime-kept", "mtime-changed"])
def test_damaged_outputs_are_rebuilt(tmp_path, keep_mtime):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    process([tmp_path / "cohort"], out, probe="L7", progress=False)
    good_zea, good_video = (out / "a-cap.hdf5").read_bytes(), (out / "a-cap.mp4").read_bytes()
    # with the modification time put back, a change is seen where the key hashes (first and last
    # 64 KiB; the outputs are not read whole on re-runs): 30 KiB in, and the end
    for path in (out / "a-cap.hdf5", out / "a-cap.mp4"):
        _flip(path, keep_mtime, at=30_000 if keep_mtime else None)
        _flip(path, keep_mtime, at=path.stat().st_size - 200)
    for expected in ("built", "hit"):                # rebuilt once, then done
        result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
        assert result["ingest"] == expected and set(result["video"].values()) == {expected}
        statuses = json.loads((out / REPORT_JSON).read_text())["summary"]["status"]
        assert set(statuses.values()) == {expected}
    assert (out / "a-cap.mp4").read_bytes() == good_video
    rebuilt = open_recording(out / "a-cap.hdf5")
    np.testing.assert_array_equal(np.asarray(rebuilt["env"].frames),
                                  np.asarray(open_recording(tmp_path / "cohort" / "a", probe="L7")["env"].frames))
    assert len((out / "a-cap.hdf5").read_bytes()) == len(good_zea)


def _raising_damage(path: Path, scratch: Path) -> bytes:
    """The bytes of ``path`` with 64 bytes inverted at one of its HDF5 metadata structures (symbol
    table node, B-tree, local heap, found by their signatures) such that ``zea.validate`` raises
    (as it did: RuntimeError "Unable to get group info (bad symbol table node signature)"), else
    such that h5py raises while walking the file."""
    import h5py

    import sonobridge.zea as sz

    data, walk_raises = path.read_bytes(), None
    offsets = [data.find(signature) for signature in (b"SNOD", b"TREE", b"HEAP")]
    for offset in [o for o in offsets if o > 0]:
        damaged = bytearray(data)
        damaged[offset:offset + 64] = bytes(b ^ 0xFF for b in damaged[offset:offset + 64])
        scratch.write_bytes(bytes(damaged))
        try:
            sz.validate(scratch)
        except Exception:  # noqa: BLE001 - what the done-check must survive
            return bytes(damaged)
        try:
            with h5py.File(scratch, "r") as handle:
                handle.visititems(lambda name, item: item.attrs.keys())
        except RuntimeError:
            walk_raises = walk_raises or bytes(damaged)
        except Exception:  # noqa: BLE001, S112 - other damage: look further
            continue
    assert walk_raises, "no damage found that makes HDF5 raise"
    return walk_raises


def test_an_output_that_makes_hdf5_raise_is_rebuilt(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    process([tmp_path / "cohort"], out, probe="L7", progress=False)
    target = out / "a-cap.hdf5"
    target.write_bytes(_raising_damage(target, tmp_path / "scratch.hdf5"))
    for expected in ("built", "hit"):
        result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
        assert "run" not in result and result["ingest"] == expected, result
    assert open_recording(target)["env"].n_frames == 12


def test_an_unreadable_output_is_rebuilt_not_an_error(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    process([tmp_path / "cohort"], out, probe="L7", progress=False)
    target = out / "a-cap.hdf5"
    size = target.stat().st_size
    target.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * (size // 256))    # garbage after the magic
    result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    assert result["ingest"] == "built" and open_recording(target)["env"].n_frames == 12


# ------------------------------------------------------------------ sidecars and the folder lock
def test_a_stale_dnav_toc_is_rebuilt_not_trusted(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    process([tmp_path / "cohort"], out, probe="L7", progress=False)
    video = out / "a-cap.mp4"
    good = json.loads(dnav_path(video).read_text())
    stale = dict(good, key=dict(good["key"], size=good["key"]["size"] + 1, mtime=good["key"]["mtime"] - 60))
    stale["toc"] = {"lengths": good["toc"]["lengths"][:-1], "ts": good["toc"]["ts"][:-1]}
    for damage in (lambda: dnav_path(video).write_text(json.dumps(stale)), dnav_path(video).unlink,
                   lambda: dnav_path(video).write_text("{not json")):
        damage()
        result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
        assert set(result["video"].values()) == {"hit"}                  # the video itself is fine
        assert json.loads(dnav_path(video).read_text()) == good
        assert json.loads(dnav_path(video).read_text())["key"] == file_key(video)


def test_a_stale_index_means_the_video_is_rebuilt(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    process([tmp_path / "cohort"], out, probe="L7", progress=False)
    video = out / "a-cap.mp4"
    index = json.loads(index_path(video).read_text())
    index["source"]["source_digest"] = "0" * 64                  # built from another source
    index_path(video).write_text(json.dumps(index))
    result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    assert set(result["video"].values()) == {"built"}


def test_a_second_run_on_a_locked_folder_fails_with_a_clear_message(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
        with pytest.raises(OutputLockedError) as caught:
            process([tmp_path / "cohort"], out, probe="L7", progress=False)
        message = str(caught.value)
        assert str(out) in message and f"pid {os.getpid()}" in message and "\n" not in message
        assert isinstance(caught.value, SonobridgeError)
        assert not list(out.glob("*.hdf5"))                      # nothing written by the refused run
    assert _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))["ingest"] == "built"


def test_a_second_run_waits_for_the_lock(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with output_lock(out):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    threading.Timer(0.6, release.set).start()
    started = time.monotonic()
    result = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False, lock_timeout_s=20))
    holder.join()
    assert time.monotonic() - started >= 0.5 and result["ingest"] == "built"


def test_a_killed_lock_holder_releases_the_folder(tmp_path):
    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys, time; from pathlib import Path; from sonobridge.pipeline.run import output_lock\n"
            "with output_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], env=ENVIRONMENT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError, match=f"pid {holder.pid}"):
            process([tmp_path / "cohort"], out, probe="L7", progress=False)
        cli = subprocess.run([sys.executable, "-m", "sonobridge.cli", "process", str(tmp_path / "cohort"), "--out",
                              str(out), "--probe", "L7", "-q", "--wait", "0.3"], env=ENVIRONMENT,
                             capture_output=True, text=True, timeout=120)
        lines = cli.stderr.strip().splitlines()
        assert cli.returncode == 1 and len(lines) == 1 and str(out) in lines[0] and f"pid {holder.pid}" in lines[0]
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        holder.kill()
        holder.wait()
    assert _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))["ingest"] == "built"


# ------------------------------------------------------------------ the import race of worker threads
_COLD_RUN = """
import json, sys
from concurrent import futures
import sonobridge.pipeline.run as run

seen = {}
class Pool(futures.ThreadPoolExecutor):
    def __init__(self, *args, **kwargs):
        seen.update(modules=sorted(sys.modules))
        super().__init__(*args, **kwargs)

run.ThreadPoolExecutor = Pool
results = run.process([sys.argv[1]], sys.argv[2], workers=4, dicom=True, progress=False)
print(json.dumps({"results": results, "modules": seen["modules"]}, default=str))
"""


def test_workers_find_their_modules_imported(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    names = ["SC_rgb_rle_2frame.dcm", "SC_rgb_jpeg.dcm", "JPEG2000.dcm", "SC_rgb_jls_lossy_line.dcm",
             "MR_small_RLE.dcm", "examples_ybr_color.dcm", "SC_rgb_rle.dcm", "SC_rgb_small_odd_jpeg.dcm"]
    for name in names:
        shutil.copy(PYDICOM / name, cohort / name)
    for attempt in range(3):                  # each run a fresh interpreter: imports are cold
        run = subprocess.run([sys.executable, "-c", _COLD_RUN, str(cohort), str(tmp_path / f"out{attempt}")],
                             env=ENVIRONMENT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        document = json.loads(run.stdout.strip().splitlines()[-1])
        assert len(document["results"]) == len(names)
        assert "ImportError" not in json.dumps(document["results"]) and "partially initialized" not in run.stderr
        assert {"pydicom.dataset", "pydicom.encaps", "h5py", "hdf5plugin", "av",
                "sonobridge.formats.dicom.writer"} <= set(document["modules"])


# ------------------------------------------------------------------ same-named captures in tar folders
def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_same_named_captures_in_different_tar_folders_stay_apart(tmp_path, clarius_data):
    source = clarius_data / "carotid_doppler_2020"
    files = {f"x_env.{ext}": (source / f"carotid_env.{ext}").read_bytes() for ext in ("raw", "yml")}
    (tmp_path / "cohort").mkdir()
    archive = _tar(tmp_path / "cohort" / "pkg.tar",
                   {f"{folder}/{name}": data for folder in ("p1", "p2") for name, data in files.items()}
                   | {f"top_env.{ext}": data for ext, data in zip(("raw", "yml"), files.values())})
    labels = sorted(s.label for s in find_recordings(archive))
    assert labels == [f"{archive}:p1/x", f"{archive}:p2/x", f"{archive}:top"]
    items, problems = discover([tmp_path / "cohort"])
    assert not problems and sorted(i.label for i in items) == labels
    assert len({i.stem for i in items}) == 3
    results = process([tmp_path / "cohort"], tmp_path / "out", progress=False)
    assert sorted(results) == labels
    for label, result in results.items():
        assert result["ingest"] == "built", (label, result)
    assert len(list((tmp_path / "out").glob("*.hdf5"))) == 3
    for item in items:                             # each opens its own capture
        assert item.open()["env"].n_frames == open_recording(source)["env"].n_frames


def test_same_named_captures_in_loose_folders_stay_apart(tmp_path):
    _capture(tmp_path / "cohort" / "p1", seed=1)
    _capture(tmp_path / "cohort" / "p2", seed=2)
    items, _ = discover([tmp_path / "cohort"])
    assert len(items) == 2 and len({i.stem for i in items}) == 2


def test_a_single_clarius_stream_file_keys_on_its_own_files(tmp_path):
    raw = _capture(tmp_path / "a", seed=1)
    items, _ = discover([raw])
    assert len(items) == 1 and items[0].root == raw
    key = source_key(items[0])
    assert [entry[0] for entry in key] == ["cap_env.raw", "cap_env.yml"]        # the yml it is read with
    (tmp_path / "a" / "cap_env.yml").write_text((tmp_path / "a" / "cap_env.yml").read_text() + "\n")
    assert source_key(items[0]) != key


# ------------------------------------------------------------------ QC
def _garbage_frames_dicom(path: Path) -> Path:
    """A real JPEG DICOM whose encapsulated frame bytes are replaced by garbage."""
    import pydicom
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(PYDICOM / "SC_rgb_jpeg_dcmtk.dcm")
    rng = np.random.default_rng(3)
    ds.PixelData = encapsulate([b"\xff\xd8" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes() + b"\xff\xd9"])
    ds["PixelData"].is_undefined_length = True
    ds.save_as(path)
    return path


def test_qc_does_not_pass_undecodable_frames(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    _garbage_frames_dicom(cohort / "garbage.dcm")
    shutil.copy(PYDICOM / "SC_rgb_jpeg_dcmtk.dcm", cohort / "good.dcm")
    results = process([cohort], tmp_path / "out", progress=False)
    bad = results[str(cohort / "garbage.dcm")]["qc"]["image"]
    assert bad["has_frames"] is False and bad["decodable"] is False and bad["decode_error"]
    good = results[str(cohort / "good.dcm")]["qc"]["image"]
    assert good["has_frames"] is True and good["decodable"] is True and "decode_error" not in good


def test_qc_flags_a_zea_input_that_does_not_validate(tmp_path):
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(SHARED / "data" / "zea" / "hand_bad_int32_raw.hdf5", cohort / "bad.hdf5")
    shutil.copy(SHARED / "data" / "zea" / "hand_ok_minimal.hdf5", cohort / "good.hdf5")
    results = process([cohort], tmp_path / "out", progress=False)
    bad, good = results[str(cohort / "bad.hdf5")], results[str(cohort / "good.hdf5")]
    assert bad["qc"]["zea_valid"] is False and bad["qc"]["zea_findings"]
    assert bad["ingest"].startswith("error: the zea input does not validate")
    assert good["qc"]["zea_valid"] is True and good["qc"]["zea_findings"] == []
    assert good["ingest"] == "skipped: already zea"
    statuses = json.loads((tmp_path / "out" / REPORT_JSON).read_text())["summary"]["status"]
    assert statuses[str(cohort / "bad.hdf5")] == "error"


# ------------------------------------------------------------------ review of issue 13 (findings 4-17)
def test_the_record_keys_the_output_without_a_whole_file_hash(tmp_path):
    """Re-runs trust the record's key (size, mtime, head/tail SHA-256) and source digest; no
    SHA-256 of the whole output is written or compared, and the zea file holds no digest of its own."""
    import h5py

    from sonobridge.pipeline.stages import stage_done

    _capture(tmp_path / "cohort" / "a", seed=1)
    out = tmp_path / "out"
    first = _only(process([tmp_path / "cohort"], out, probe="L7", progress=False))
    target = out / "a-cap.hdf5"
    record = json.loads(record_path(target).read_text())
    assert set(record) == {"format", "source_digest", "output_key"}
    assert record["output_key"] == file_key(target)
    assert record["source_digest"] == source_digest(first["source_key"])
    with h5py.File(target, "r") as handle:                 # one store: the record beside the output
        assert "source_digest" not in handle["custom/sonobridge"]
    assert stage_done("ingest", target, record["source_digest"]) and not stage_done("ingest", target, "0" * 64)
    record_path(target).unlink()                           # no record: not vouched for
    assert not stage_done("ingest", target, record["source_digest"])


def test_export_zea_has_no_source_digest_parameter(tmp_path):
    from sonobridge.formats.zea.writer import export_zea

    raw = _capture(tmp_path / "a", seed=1)
    with pytest.raises(TypeError):
        export_zea(open_recording(raw.parent, probe="L7"), tmp_path / "x.hdf5", source_digest="0" * 64)


def test_a_zea_input_is_validated_once_per_item(tmp_path, monkeypatch):
    import sonobridge.pipeline.stages as stages
    from sonobridge.pipeline.run import run_item

    cohort = tmp_path / "cohort"
    cohort.mkdir()
    shutil.copy(SHARED / "data" / "zea" / "hand_bad_int32_raw.hdf5", cohort / "bad.hdf5")
    calls = []
    real = stages.input_validation

    def counting(item):                                    # the real validation, counted
        calls.append(item.label)
        return real(item)

    monkeypatch.setattr(stages, "input_validation", counting)
    items, _ = discover([cohort])
    result = run_item(items[0], str(tmp_path / "out"), ("ingest", "video", "qc"))
    assert calls == [str(cohort / "bad.hdf5")]
    assert result["ingest"].startswith("error: the zea input does not validate")
    assert result["qc"]["zea_valid"] is False and result["qc"]["zea_findings"]


def test_discover_uses_the_one_stem_deduplication(tmp_path):
    import sonobridge.pipeline.run as run
    from sonobridge.util.naming import unique_stems
    from sonobridge.formats import find_recordings

    for folder in ("p1", "p2"):
        (tmp_path / folder).mkdir()
        shutil.copy(PYDICOM / "SC_rgb_rle_2frame.dcm", tmp_path / folder / "IM1.dcm")
    items, _ = discover([tmp_path])
    assert {i.label: i.stem for i in items} == unique_stems({s.label: s.stem for s in find_recordings(tmp_path)})
    assert len({i.stem for i in items}) == 2 and not hasattr(run, "_unique_stems")


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sonobridge.cli", *map(str, args)], env=ENVIRONMENT,
                          capture_output=True, text=True, timeout=300)


def _same_named(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a" / "IM1.dcm", tmp_path / "b" / "IM1.dcm"
    for path, fixture in ((a, "ExplVR_BigEnd.dcm"), (b, "SC_rgb_rle_2frame.dcm")):
        path.parent.mkdir()
        shutil.copy(PYDICOM / fixture, path)
    return a, b


def test_video_command_keeps_same_named_inputs_apart(tmp_path):
    a, b = _same_named(tmp_path)
    out = tmp_path / "out"
    result = _cli("video", a.parent, b.parent, "--out-dir", out, "--json", "-q")
    assert result.returncode == 0, result.stderr
    statuses = json.loads(result.stdout)
    assert len(statuses) == 2 and set(statuses.values()) == {"built"}
    assert len(set(statuses)) == 2 and all(Path(p).exists() for p in statuses)
    assert len({Path(path).read_bytes() for path in statuses}) == 2          # one video per input
    again = _cli("video", a.parent, b.parent, "--out-dir", out, "--json", "-q")
    assert json.loads(again.stdout) == {path: "hit" for path in statuses}


def test_preview_command_keeps_same_named_inputs_apart(tmp_path):
    a, b = _same_named(tmp_path)
    out = tmp_path / "out"
    result = _cli("preview", a, b, "--out-dir", out, "--json", "-q")
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    summaries = {label: json.loads(Path(entry["summary"]).read_text()) for label, entry in written.items()}
    assert set(summaries) == {str(a), str(b)}
    assert {label: summary["source"] for label, summary in summaries.items()} == {str(a): str(a), str(b): str(b)}
    assert len({p for entry in written.values() for p in entry["previews"].values()}) == 2


def _rewrite_dicom_pixels(source: Path) -> None:
    """Other pixel bytes, same size, same modification time."""
    before = source.stat()
    data = bytearray(source.read_bytes())
    data[-3000:] = bytes(b ^ 0x55 for b in data[-3000:])
    source.write_bytes(bytes(data))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_video_command_rebuilds_after_its_source_is_rewritten(tmp_path):
    source = tmp_path / "in" / "us.dcm"
    source.parent.mkdir()
    shutil.copy(PYDICOM / "ExplVR_BigEnd.dcm", source)
    out = tmp_path / "out"
    first = json.loads(_cli("video", source, "--out-dir", out, "--json", "-q").stdout)
    assert set(first.values()) == {"built"}
    (video,) = first
    assert load_index(video).source["source_digest"]
    assert json.loads(_cli("video", source, "--out-dir", out, "--json", "-q").stdout) == {video: "hit"}
    old = Path(video).read_bytes()
    _rewrite_dicom_pixels(source)
    assert json.loads(_cli("video", source, "--out-dir", out, "--json", "-q").stdout) == {video: "built"}
    assert Path(video).read_bytes() != old
    assert json.loads(_cli("video", source, "--out-dir", out, "--json", "-q").stdout) == {video: "hit"}


def test_unpack_rewrites_an_existing_output_that_differs(tmp_path, clarius_data):
    from sonobridge.formats.clarius.unpack import unpack

    package = clarius_data / "lzop/carotid_doppler_lzop5F.tar"
    out = tmp_path / "out"
    unpack(package, out)
    good = {name: (out / name).read_bytes() for name in ("carotid_env.raw", "carotid_env.yml")}
    (out / "carotid_env.raw").write_bytes(good["carotid_env.raw"][:-10])           # truncated
    yml = bytearray(good["carotid_env.yml"])                                          # same size, other bytes
    yml[5] ^= 0x20
    (out / "carotid_env.yml").write_bytes(bytes(yml))
    results = {Path(p).name: status for p, status in unpack(package, out).items()}
    assert results["carotid_env.raw"] == "built" and results["carotid_env.yml"] == "built"
    assert results["carotid_iq.raw"] == "hit" and results["carotid_iq.yml"] == "hit"
    assert {name: (out / name).read_bytes() for name in good} == good
    assert set(unpack(package, out).values()) == {"hit"}


_THREADED_RUN_ITEM = """
import json, sys, threading
from sonobridge.pipeline.run import discover, run_item, _PRELOADED

items, _ = discover([sys.argv[1]])
results, errors = {}, []
def work(item):
    try:
        results[item.label] = run_item(item, sys.argv[2], ("ingest", "dicom"))
    except BaseException as error:
        errors.append(repr(error))
threads = [threading.Thread(target=work, args=(item,)) for item in items]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"results": results, "errors": errors, "preloaded": sorted(_PRELOADED),
                  "modules": sorted(sys.modules)}, default=str))
"""


def test_run_item_imports_its_modules_itself(tmp_path):
    """As on a Dask worker: run_item called by several threads of a fresh interpreter without
    process() (so without its preload) imports what the stages need once, under a lock."""
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    names = ["SC_rgb_rle_2frame.dcm", "SC_rgb_jpeg.dcm", "JPEG2000.dcm", "SC_rgb_jls_lossy_line.dcm"]
    for name in names:
        shutil.copy(PYDICOM / name, cohort / name)
    run = subprocess.run([sys.executable, "-c", _THREADED_RUN_ITEM, str(cohort), str(tmp_path / "out")],
                         env=ENVIRONMENT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    document = json.loads(run.stdout.strip().splitlines()[-1])
    assert not document["errors"] and len(document["results"]) == len(names)
    assert "ImportError" not in json.dumps(document["results"]) and "partially initialized" not in run.stderr
    assert {"stage:ingest", "stage:dicom", "format:dicom"} <= set(document["preloaded"])
    assert {"pydicom.dataset", "pydicom.encaps", "h5py", "sonobridge.formats.dicom.writer"} <= set(document["modules"])
