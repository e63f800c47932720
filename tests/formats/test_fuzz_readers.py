"""Every reader speaks only the package's errors: zea files (``validate``, ``File``,
``open_recording``), Telemed ``.tvd.h5`` sidecars and ``.tvd`` files, and mp4 videos with their
frame index. Targeted cases first (each reproduces a crash reported in issue 13), then seeded
fuzzing of each reader, a few hundred cases each: every outcome is a result or a SonobridgeError
naming the file, never a raw exception, and a lying index never yields a wrong frame."""
from __future__ import annotations

import json
import random
import re
import shutil
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

import sonobridge.telemed as telemed
import sonobridge.zea as zea
from sonobridge.core.describe import describe
from sonobridge.errors import FormatError, SonobridgeError
from sonobridge.formats import open_recording
from sonobridge.formats.telemed.tvd import read_tvd, time_ms
from sonobridge.formats.telemed.uiff import read_tvd_n_frames

from support import ZEA, mutate, read_recording, use_log, zea_surface
from synth import write_capture
from telemed_synth import make_legacy_sidecar, make_sidecar, tvd_bytes


# ---------------------------------------------------------------- helpers
def damage(data: bytes, rng: random.Random) -> bytes:
    """Seeded damage: byte flips in place (mostly; they reach deep HDF5 structures and chunks),
    otherwise :func:`support.mutate` (flips, cuts, insertions, truncation)."""
    if rng.random() < 0.35:
        return mutate(bytearray(data), rng)
    out = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        position = rng.randrange(len(out)) if rng.random() < 0.7 else rng.randrange(min(len(out), 4096))
        out[position] = rng.randrange(256)
    return bytes(out[:rng.randrange(len(out) + 1)] if rng.random() < 0.1 else out)


def outcome(path: Path, action: Callable[[], object]) -> str:
    """Run ``action``: "ok", or "error" when it raised a SonobridgeError naming ``path``; any other
    exception fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action()
    except SonobridgeError as error:
        assert str(path) in str(error), error
        return "error"
    return "ok"


def chunk_offset(path: Path, dataset: str, number: int = 0) -> tuple[int, int]:
    """``(byte offset, size)`` of a chunk of ``dataset`` in the file."""
    with h5py.File(path, "r") as handle:
        info = handle[dataset].id.get_chunk_info(number)
    return info.byte_offset, info.size


def smash_btrees(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose group B-tree nodes lost their signature (a bit-rotted file)."""
    target.write_bytes(source.read_bytes().replace(b"TREE", b"TRE\xff"))
    return target


def smash_chunk(source: Path, target: Path, dataset: str) -> Path:
    """A copy of ``source`` with the middle of the first (compressed) chunk of ``dataset`` zeroed."""
    offset, size = chunk_offset(source, dataset)
    data = bytearray(source.read_bytes())
    data[offset + size // 4:offset + size // 2] = bytes(size // 2 - size // 4)
    target.write_bytes(bytes(data))
    return target


def stalled_global_heap(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose first global heap collection (text values) ends in a free-space
    entry of size 0: HDF5 2.0 steps on it forever when it reads any text value."""
    data = bytearray(source.read_bytes())
    start = data.index(b"GCOL\x01\x00\x00\x00")
    position, end = start + 16, start + struct.unpack_from("<Q", data, start + 8)[0]
    while struct.unpack_from("<H", data, position)[0] != 0:
        position += 16 + -(-struct.unpack_from("<Q", data, position + 8)[0] // 8) * 8
    assert position < end
    struct.pack_into("<Q", data, position + 8, 0)
    target.write_bytes(bytes(data))
    return target


def sequence_typed_text(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose variable-length string types read as sequences of an unknown
    kind (one flipped byte each): HDF5 2.0 crashes the interpreter converting such a value."""
    data = re.sub(rb"\x19\x01([\x00\x01]\x00\x10\x00\x00\x00)", lambda m: b"\x19\x89" + m[1],
                  source.read_bytes())
    assert data != source.read_bytes()
    target.write_bytes(data)
    return target


CHILD_CHECK = """
import sys, warnings
from pathlib import Path
sys.path[:0] = {paths!r}
warnings.simplefilter("ignore")
from sonobridge.errors import FormatError
from support import read_recording, use_log, zea_surface
import sonobridge.zea as zea
path = Path({path!r})
assert not zea.validate(path).valid
for action in {actions}:
    try:
        action(path)
    except FormatError as error:
        assert str(path) in str(error)
    else:
        raise AssertionError(f"{{action.__name__}} read a damaged file")
"""


@pytest.mark.parametrize("damage", [stalled_global_heap, sequence_typed_text])
@pytest.mark.parametrize("kind", ["zea", "sidecar"])
def test_damage_that_hangs_or_crashes_hdf5_is_refused(tmp_path, kind, damage):
    """HDF5 itself loops forever on a zero-size global heap entry and crashes on a string type
    damaged into a sequence; the readers look first. Run in a child process with a timeout, so a
    regression fails instead of hanging or taking pytest down."""
    import subprocess
    import sys

    if kind == "zea":
        path, actions = damage(ZEA / "tiny.hdf5", tmp_path / "bad.hdf5"), "(zea_surface, read_recording)"
    else:
        path = damage(make_sidecar(tmp_path / "ok.tvd.h5", n=3), tmp_path / "bad.tvd.h5")
        actions = "(use_log, read_recording)"
    here = str(Path(__file__).resolve().parents[1])            # tests/, where support.py is
    script = CHILD_CHECK.format(paths=[here, *sys.path], path=str(path), actions=actions)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# ---------------------------------------------------------------- zea
@pytest.fixture(scope="module")
def zea_sources(tmp_path_factory) -> list[Path]:
    """The shared zea fixtures and files written by sonobridge (compressed, core-model and generic)."""
    folder = tmp_path_factory.mktemp("zea_sources")
    write_capture(folder / "capture", "env", 1, frames=4, lines=64, samples=300, seed=7)   # chunked frames
    from sonobridge.formats.zea.writer import export_zea

    written = [export_zea(open_recording(folder / "capture"), folder / "core.hdf5", compression="fast"),
               zea.File.create(folder / "gzip.hdf5", compression="gzip",
                               data={"image": {"values": np.random.default_rng(1).integers(0, 256, (5, 128, 128),
                                                                                         dtype=np.uint8),
                                               "timestamps": np.arange(5) * 0.04, "start_time_offset": 0.0}})]
    return sorted(p for p in ZEA.iterdir() if p.suffix in (".hdf5", ".h5")) + written


def test_zea_validate_reports_a_bit_rotted_file(tmp_path):
    """Issue 13: flipped bytes in a finished .hdf5 made ``validate`` raise RuntimeError."""
    for name in ("tiny.hdf5", "multitrack.hdf5", "legacy_0013.hdf5"):
        report = zea.validate(smash_btrees(ZEA / name, tmp_path / name))
        assert not report.valid and report.errors[0].key == "", name
        assert "B-tree" in report.errors[0].problem or "unreadable" in report.errors[0].problem


def test_zea_file_and_open_recording_name_the_damaged_file(tmp_path):
    """``File`` and ``open_recording`` leaked RuntimeError/KeyError; now FormatError naming the file."""
    rotten = smash_btrees(ZEA / "tiny.hdf5", tmp_path / "rotten.hdf5")
    with pytest.raises(FormatError, match="rotten.hdf5"):
        with zea.File(rotten) as handle:
            handle.data.image.values[0]
    with pytest.raises(FormatError, match="rotten.hdf5"):
        read_recording(rotten)


def test_zea_damaged_chunk_is_a_format_error_when_frames_are_read(tmp_path):
    """The file opens (structure intact); reading a frame of the damaged chunk names the file."""
    source = zea.File.create(tmp_path / "ok.hdf5", compression="gzip", data={"image": {   # > 64 KiB: chunked
        "values": np.random.default_rng(2).integers(0, 256, (3, 160, 160), dtype=np.uint8)}})
    broken = smash_chunk(source, tmp_path / "broken.hdf5", "tracks/track_0/data/image/values")
    recording = open_recording(broken)                     # frames are lazy: opening works
    with pytest.raises(FormatError, match="broken.hdf5.*frames 0..0"):
        recording.streams["image"].frames[0]
    with zea.File(broken) as handle:
        values = handle.data.image.values
        assert isinstance(values, h5py.Dataset)            # still the lazy h5py dataset of zea's API
        with pytest.raises(FormatError, match="broken.hdf5"):
            values[0]
        with pytest.raises(FormatError, match="broken.hdf5"):
            np.asarray(values)
        assert np.array_equal(values[1], open_recording(source).streams["image"].frames[1])


def test_zea_missing_keys_stay_key_errors():
    """Looking up what a sound file does not hold is the API's KeyError/AttributeError, not a fault."""
    with zea.File(ZEA / "tiny.hdf5") as handle:
        with pytest.raises(KeyError):
            handle["no/such/thing"]
        assert "no/such/thing" not in handle and "data/image" in handle
        with pytest.raises(AttributeError):
            handle.data.nothing


def test_zea_fuzz(tmp_path, zea_sources):
    rng = random.Random("zea")
    seen = set()
    for trial in range(400):
        source = rng.choice(zea_sources)
        path = tmp_path / f"{trial}_{source.name}"
        path.write_bytes(damage(source.read_bytes(), rng))
        report = zea.validate(path)                         # never raises: a finding at most
        assert isinstance(report.valid, bool) and all(f.problem for f in report.findings)
        seen.add((outcome(path, lambda: zea_surface(path)), outcome(path, lambda: read_recording(path))))
    assert {("error", "error"), ("ok", "ok")} <= seen      # the damage both spares and breaks files


# ---------------------------------------------------------------- Telemed sidecars
@pytest.fixture(scope="module")
def sidecar_sources(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("sidecars")
    return [make_sidecar(folder / "one.tvd.h5", n=6), make_sidecar(folder / "two.tvd.h5", n=5, panels=(1, 2), seed=1),
            make_sidecar(folder / "timing.tvd.h5", n=5, frames=False), make_legacy_sidecar(folder / "old.tvd.h5",
                                                                                            "v1a3", n=4)]


def test_sidecar_damage_is_a_format_error(tmp_path, sidecar_sources):
    """Issue 13: raw h5py errors (RuntimeError, OSError) from ``.tvd.h5`` sidecars."""
    rotten = smash_btrees(sidecar_sources[0], tmp_path / "rotten.tvd.h5")
    for action in (lambda: telemed.Log(rotten), lambda: read_recording(rotten)):
        with pytest.raises(FormatError, match="rotten.tvd.h5"):
            action()
    broken = smash_chunk(sidecar_sources[0], tmp_path / "broken.tvd.h5", "frames/gray")
    log = telemed.Log(broken)                               # attributes and timing are intact
    for action in (lambda: log.frame(0), lambda: log.image_slice(1), lambda: telemed.looks_lut_inverted(broken),
                   lambda: open_recording(broken).streams["b1"].frames[0]):
        with pytest.raises(FormatError, match="broken.tvd.h5"):
            action()


def test_sidecar_fuzz(tmp_path, sidecar_sources):
    rng = random.Random("sidecar")
    results = []
    for trial in range(300):
        source = rng.choice(sidecar_sources)
        path = tmp_path / f"{trial}.tvd.h5"
        path.write_bytes(damage(source.read_bytes(), rng))
        results += [outcome(path, lambda: use_log(path)), outcome(path, lambda: read_recording(path))]
    assert {"ok", "error"} <= set(results)


# ---------------------------------------------------------------- .tvd
def uiff_chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return chunk_id + struct.pack("<Q", len(payload)) + payload + b"\0" * (len(payload) & 1)


def small_tvd(ticks: list[int] | None = None, frames: int = 4) -> bytes:
    rng = np.random.default_rng(3)
    streams = [rng.integers(0, 256, (frames, 4, 16), dtype=np.uint8), rng.integers(0, 256, (frames - 1, 4, 16),
                                                                                   dtype=np.uint8)]
    ticks = ticks or [10**12 + 330_000 * i for i in range(frames)]
    return tvd_bytes(streams, [np.asarray(ticks, np.uint64), np.asarray(ticks[:-1], np.uint64) + 7])


def tvd_parts() -> tuple[bytes, bytes, bytes]:
    """``(whole file, hdrl list, movi list payload)`` of :func:`small_tvd`."""
    good = small_tvd()
    movi = good.index(b"movi") - 12
    return good, good[16:movi], good[movi + 12:movi + 12 + struct.unpack_from("<Q", good, movi + 4)[0]]


def nested_lists(content: bytes, depth: int) -> bytes:
    for _ in range(depth):
        content = uiff_chunk(b"LIST", b"nest" + content)
    return content


def hostile_tvd(name: str) -> bytes:
    good, hdrl, movi = tvd_parts()
    if name == "nested":
        return uiff_chunk(b"UIFF", b"UDI " + nested_lists(uiff_chunk(b"JUNK", b""), 3000))
    if name == "empty_frame":                               # the file's last chunk: an empty 00bb
        return uiff_chunk(b"UIFF", b"UDI " + hdrl + uiff_chunk(b"LIST", movi + uiff_chunk(b"00bb", b"")))
    if name == "huge_ticks":
        return small_tvd([2**63 + 5 * i for i in range(4)])
    return small_tvd([2**64 - 4 + i for i in range(4)])


@pytest.mark.parametrize("name", ["nested", "empty_frame", "huge_ticks", "max_ticks"])
def test_tvd_deep_nesting_empty_frames_and_huge_ticks(tmp_path, name):
    """Issue 13: 3000 nested LISTs -> RecursionError, an empty 00bb chunk -> struct.error, ticks
    >= 2^63 -> OverflowError; each is now a FormatError naming the file."""
    path = tmp_path / f"{name}.tvd"
    path.write_bytes(hostile_tvd(name))
    with pytest.raises(FormatError, match=f"{name}.tvd"):
        read_recording(path, allow_truncated=True)
    assert read_tvd_n_frames(path) in (None, 6)


def test_deep_nesting_alone_is_not_an_error(tmp_path):
    good, hdrl, movi = tvd_parts()
    path = tmp_path / "deep.tvd"
    path.write_bytes(uiff_chunk(b"UIFF", b"UDI " + nested_lists(hdrl + uiff_chunk(b"LIST", movi), 3000)))
    recording = read_tvd(path)
    assert recording["b1"].n_frames == 4 and recording["b2"].n_frames == 3


def test_tvd_largest_valid_tick_reads(tmp_path):
    path = tmp_path / "late.tvd"
    path.write_bytes(small_tvd([2**63 - 40 + 10 * i for i in range(4)]))
    assert np.array_equal(time_ms(read_tvd(path)["b1"]), np.arange(4) * 10 / 10000.0)


def tvd_variants(rng: random.Random) -> bytes:
    """A damaged or oddly built .tvd: byte damage, deep nesting, empty or short frame chunks,
    ticks anywhere in the uint64 range."""
    kind = rng.random()
    if kind < 0.6:
        return damage(small_tvd(), rng)
    if kind < 0.75:
        ticks = sorted(rng.choice([rng.randrange(2**64), rng.randrange(2**63), 2**63 - 1 - rng.randrange(9)])
                       for _ in range(4))
        return small_tvd(ticks)
    good, hdrl, movi = tvd_parts()
    if kind < 0.9:
        cut = rng.choice([4, movi.index(b"00bb"), len(movi)])   # after the "movi" type
        movi = movi[:cut] + uiff_chunk(rng.choice([b"00bb", b"01bb"]), bytes(rng.randrange(80))) + movi[cut:]
        return uiff_chunk(b"UIFF", b"UDI " + hdrl + uiff_chunk(b"LIST", movi))
    return uiff_chunk(b"UIFF", b"UDI " + nested_lists(hdrl + uiff_chunk(b"LIST", movi), rng.randrange(1, 4000)))


def test_tvd_fuzz(tmp_path):
    rng = random.Random("tvd")
    results = []
    for trial in range(400):
        path = tmp_path / f"{trial}.tvd"
        path.write_bytes(tvd_variants(rng))
        declared = read_tvd_n_frames(path)                  # never raises for content
        assert declared is None or isinstance(declared, int)
        allow = rng.random() < 0.5
        results.append(outcome(path, lambda: read_recording(path, allow_truncated=allow)))
        results.append(outcome(path, lambda: [time_ms(stream) for stream in
                                              read_tvd(path, allow_truncated=True).streams.values()]))
    assert {"ok", "error"} <= set(results)


# ---------------------------------------------------------------- mp4 + frame index
def lie(index: dict, rng: random.Random) -> dict:
    """The index JSON with one or two hand edits (its key still matches the video)."""
    n = len(index["pts"])
    for _ in range(rng.randint(1, 2)):
        field = rng.choice(["pts", "pts", "pts", "keyframes", "durations", "fps", "time_base", "width", "height",
                            "time_s", "format"])
        value = index.get(field)
        edit = rng.random()
        if field in ("pts", "keyframes", "durations", "time_s") and isinstance(value, list) and value:
            value = list(value)
            i, j = rng.randrange(len(value)), rng.randrange(len(value))
            if edit < 0.3:
                value[i], value[j] = value[j], value[i]
            elif edit < 0.45:
                del value[i]
            elif edit < 0.6:
                value.insert(i, rng.choice([value[j], -1, n, 2**62, 10**6]))
            elif edit < 0.75:
                number = value[i] if isinstance(value[i], (int, float)) else 0
                value[i] = rng.choice([number + 1, number - 1, 2**63 - 1, -(2**62), 0, 1.5, None, "x"])
            elif edit < 0.85:
                value = value[::-1]
            else:
                value = rng.choice([[], [0] * n, list(range(n)), None, "pts"])
        elif field in ("fps", "time_base"):
            value = rng.choice([[25, 0], [0, 1], [-25, 1], [10**30, 1], [1, 12801], [1], "25", None])
        elif field in ("width", "height"):
            value = rng.choice([0, -1, 1, 10**6, 10**12, "64", None, (value if isinstance(value, int) else 0) + 1])
        else:
            value = rng.choice(["sonobridge-video-index/0", None, value])
        index[field] = value
    return index


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple[Path, np.ndarray]:
    from support import image_stream, moving_frames

    from sonobridge.formats.video.writer import write_video

    frames = moving_frames(50, 24, 40, seed=9)
    path = tmp_path_factory.mktemp("video") / "v.mp4"
    write_video(image_stream(frames), path)
    return path, frames


def read_checked(path: Path, frames: np.ndarray, rng: random.Random) -> None:
    """Open ``path`` and compare a few frames (random access, both ends) with the source."""
    from sonobridge import VideoReader

    with VideoReader(path) as reader:
        assert len(reader) == len(frames) and reader.shape == frames.shape
        assert reader.fps > 0 and reader.time_s.shape == (len(frames),)
        for index in (0, -1, rng.randrange(len(frames)), rng.randrange(len(frames))):
            assert np.array_equal(reader[index], frames[index]), index


def copy_video(source: Path, folder: Path) -> Path:
    folder.mkdir()
    target = folder / source.name
    for suffix in ("", ".index.json"):
        shutil.copy2(f"{source}{suffix}", f"{target}{suffix}")
    return target


def test_video_index_fuzz(tmp_path, video):
    """Hand-edited index JSON (structured lies, key kept) and damaged JSON text: every open
    gives the source's frames, or a SonobridgeError; never a wrong frame."""
    source, frames = video
    original = json.loads(Path(f"{source}.index.json").read_text())
    rng = random.Random("index")
    results = []
    for trial in range(300):
        path = copy_video(source, tmp_path / str(trial))
        sidecar = Path(f"{path}.index.json")
        if rng.random() < 0.75:
            text = json.dumps(lie(json.loads(json.dumps(original)), rng))
        else:
            text = damage(sidecar.read_bytes(), rng).decode("latin-1")
        sidecar.write_text(text, encoding="latin-1")
        results.append(outcome(path, lambda: read_checked(path, frames, rng)))
    assert results.count("ok") == len(results)             # the video is intact: a lie is always recovered


def test_video_mp4_fuzz(tmp_path, video):
    """Damaged mp4 bytes, with the index left as it was or re-keyed to the damaged file: a
    result or a SonobridgeError. (Damaged pictures cannot be told from real ones: no frame check.)"""
    from sonobridge import VideoReader
    from sonobridge.formats.video.index import file_key

    source, frames = video
    rng = random.Random("mp4")
    results = []
    for trial in range(300):
        path = copy_video(source, tmp_path / str(trial))
        path.write_bytes(damage(path.read_bytes(), rng))
        if rng.random() < 0.5:                                 # a sidecar that claims to match the damage
            sidecar = Path(f"{path}.index.json")
            data = json.loads(sidecar.read_text())
            data["key"] = file_key(path)
            sidecar.write_text(json.dumps(data))

        def read() -> None:
            with VideoReader(path) as reader:
                for index in (0, len(reader) // 2, -1):
                    assert reader[index].shape == reader.shape[1:]

        results.append(outcome(path, read))
    assert {"ok", "error"} <= set(results)


# ---------------------------------------------------------------- review fixes (issue 13 follow-up)
def test_the_heap_scan_is_bounded_on_open_and_full_in_validation(tmp_path, monkeypatch):
    """Opening scans for damaged global heaps only up to SCAN_LIMIT bytes (a large file is not
    read in full to get one frame); validation scans whatever the size."""
    import sonobridge.formats.h5guard as h5guard
    from sonobridge.formats.h5guard import open_checked, refuse_hanging

    bad = stalled_global_heap(ZEA / "tiny.hdf5", tmp_path / "bad.hdf5")
    size = bad.stat().st_size
    refuse_hanging(bad, limit=size - 1)                      # over the limit: not scanned
    with pytest.raises(FormatError, match="global heap"):
        refuse_hanging(bad, limit=size)
    with pytest.raises(FormatError, match="global heap"):
        open_checked(bad)                                     # default limit: 256 MiB
    monkeypatch.setattr(h5guard, "SCAN_LIMIT", 1024)
    report = zea.validate(bad)                                # the file is above the limit now
    assert not report.valid and "global heap" in str(report.errors[0])


def test_one_open_guard_with_the_free_form_rule(tmp_path):
    """zea files: custom/ is not checked on opening, except custom/sonobridge which is read;
    a sidecar is checked everywhere (one helper, one documented rule)."""
    from sonobridge.formats.h5guard import close_quietly, open_checked
    from sonobridge.formats.zea.validate import FREE_FORM, READ_FREE_FORM

    path = tmp_path / "custom.hdf5"
    shutil.copy(ZEA / "tiny.hdf5", path)
    with h5py.File(path, "a") as handle:
        sequence = handle.create_dataset("custom/vendor/seq", (1,), dtype=h5py.vlen_dtype("i4"))
        sequence[0] = np.arange(2, dtype="i4")
    handle = open_checked(path, skip=FREE_FORM, keep=READ_FREE_FORM)
    close_quietly(handle)
    close_quietly(handle)                                     # closing twice is harmless
    with pytest.raises(FormatError, match="custom/vendor/seq"):
        open_checked(path)
    with h5py.File(path, "a") as handle:
        handle["custom/sonobridge/seq"] = handle["custom/vendor/seq"]
    with pytest.raises(FormatError, match="custom/sonobridge/seq"):
        open_checked(path, skip=FREE_FORM, keep=READ_FREE_FORM)


@pytest.mark.parametrize("error", [struct.error("unpack requires a buffer of 4 bytes"), EOFError("end"),
                                   __import__("zlib").error("bad header"), MemoryError(), OverflowError("big"),
                                   RecursionError("deep"), NotImplementedError("vr"), IndexError("i"),
                                   KeyError("k"), ValueError("v"), TypeError("t"), OSError("o")])
def test_one_catch_list_for_readers(error):
    """read_faults, the zea reads and DICOM's damaged_content turn the same failures into a
    FormatError naming the file; the package's own errors pass through."""
    from sonobridge.errors import read_faults
    from sonobridge.dicom.io import damaged_content

    for guard in (read_faults("f.bin"), zea._reading("f.bin"), damaged_content("f.bin")):
        with pytest.raises(FormatError, match="f.bin") as caught:
            with guard:
                raise error
        assert type(caught.value) is FormatError
    with pytest.raises(SonobridgeError, match="own"), read_faults("f.bin"):
        raise SonobridgeError("f.bin", "own")


def test_dicom_parser_errors_are_format_errors():
    from pydicom.errors import BytesLengthException, InvalidDicomError

    from sonobridge.dicom.io import damaged_content

    for error in (BytesLengthException("odd"), InvalidDicomError("no preamble")):
        with pytest.raises(FormatError, match="damaged DICOM content"), damaged_content("f.dcm"):
            raise error


def test_zea_copy_of_frames_outside_every_track_is_refused(tmp_path):
    """copied_tree raised a bare StopIteration when a stream's dataset was under no track group."""
    from sonobridge.formats.zea.writer import export_zea
    from sonobridge.formats.zea.passthrough import ZeaFrames
    from sonobridge.formats.zea.tree import InvalidZeaDataError

    recording = open_recording(ZEA / "tiny.hdf5")
    stream = next(s for s in recording.streams.values() if isinstance(s.frames, ZeaFrames))
    frames = stream.frames
    outside = frames.dataset.file["probe/probe_geometry"]
    stream.frames = ZeaFrames(frames.shape, frames.dtype, lambda a, b: frames[a:b], outside)
    with pytest.raises(InvalidZeaDataError, match="not under any track group"):
        export_zea(recording, tmp_path / "out.hdf5")
    assert not list(tmp_path.iterdir())


def test_dicom_export_checks_free_space_before_writing(tmp_path):
    """export_dicom refuses, before writing, an output larger than the free space (as the zea
    writer does): the message is the free-space check's, and nothing is left behind."""
    from support import image_stream, tmpfs

    from sonobridge.errors import DiskFullError
    from sonobridge.formats.dicom.writer import export_dicom

    frames = np.random.default_rng(0).integers(0, 256, (40, 160, 200), np.uint8)     # 1.28 MB raw
    with tmpfs(tmp_path / "disk", "1m") as disk:
        with pytest.raises(DiskFullError, match="not enough free space"):
            export_dicom(image_stream(frames), disk / "big.dcm")
        assert not list(disk.iterdir())
