"""Faults give one line, never a crash: full disk, read-only or forbidden output folders, an
unwritable temporary folder, one output name for several recordings, lzop decompression bombs.

The command line runs in a subprocess, as users run it, so a crash shows as a negative return
code. Full and read-only disks are small tmpfs mounts (skipped where mounting is not permitted);
"permission denied" runs the command as the unprivileged user ``nobody`` (skipped where that is
not possible).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sonobridge.errors import DiskFullError, OutputError
from sonobridge.formats.byteregion import ByteRegion
from sonobridge.formats.lzop import LzopStream, parse_header

from support import tmpfs
from synth import write_capture

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run(*args, env: dict[str, str] | None = None, as_user: list[str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    command = [*(as_user or []), sys.executable, "-m", "sonobridge.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1 (not a crash), exactly one stderr line, no traceback; returns the line."""
    assert result.returncode == 1, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sonobridge: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture()
def read_only_folder(tmp_path):
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as folder:
        yield folder


@pytest.fixture(scope="session")
def as_nobody() -> list[str]:
    """A prefix running a command as ``nobody``, when this machine allows it."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv(1)")
    check = subprocess.run([*NOBODY, sys.executable, "-c", "import sonobridge"], capture_output=True)
    if check.returncode:
        pytest.skip(f"the package cannot be imported as nobody: {check.stderr.decode()[-200:]}")
    return NOBODY


# ---------------------------------------------------------------- item: full disk
@pytest.mark.parametrize("compression", ["fast", "gzip", "none"])
def test_convert_to_a_full_disk_exits_1_with_one_line(tmp_path, clarius_data, compression):
    """Before: HDF5 crashed the interpreter (SIGSEGV) closing the file after ENOSPC and left a
    ``.partial`` file behind."""
    with tmpfs(tmp_path / "disk", "600k") as disk:
        result = run("convert", clarius_data / "carotid_doppler_2020", disk / "out.hdf5", "--probe", "L15",
                     "--compression", compression)
        line = assert_one_line_error(result, str(disk / "out.hdf5"))
        assert "No space left on device" in line or "not enough free space" in line
        assert files_in(disk) == []


def test_uncompressed_output_that_cannot_fit_is_refused_before_writing(tmp_path, clarius_data):
    with tmpfs(tmp_path / "disk", "600k") as disk:
        result = run("convert", clarius_data / "carotid_doppler_2020", disk / "out.hdf5", "--compression", "none")
        assert_one_line_error(result, "not enough free space", "free")
        assert files_in(disk) == []


def test_export_raises_disk_full_in_process_and_the_interpreter_lives_on(tmp_path, clarius_data):
    from sonobridge.formats.zea.writer import export_zea
    from sonobridge.formats import open_recording

    recording = open_recording(clarius_data / "carotid_doppler_2020", probe="L15")
    with tmpfs(tmp_path / "disk", "600k") as disk:
        for _ in range(3):   # a failed write leaves HDF5 in a state where the next file still works
            with pytest.raises(DiskFullError, match="No space left on device"):
                export_zea(recording, disk / "out.hdf5")
            assert files_in(disk) == []
    export_zea(recording, tmp_path / "fine.hdf5")
    from sonobridge.zea import validate

    assert validate(tmp_path / "fine.hdf5").valid


def test_process_on_a_full_disk_has_no_traceback_and_no_partial_file(tmp_path, clarius_data):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        result = run("process", clarius_data / "carotid_doppler_2020", "--probe", "L15", "--out", disk / "out", "-q")
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert not [name for name in files_in(disk) if name.endswith(".partial")]


def test_unpack_stops_before_it_exceeds_the_free_space(tmp_path, clarius_data):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        result = run("unpack", clarius_data / "lzop/carotid_doppler_lzop5F.tar", "--out-dir", disk)
        assert_one_line_error(result, "not enough free space")
        assert files_in(disk) == []


# ---------------------------------------------------------------- item: read-only / forbidden
def _command(name: str, clarius_data: Path, out: Path) -> list:
    recording = clarius_data / "carotid_doppler_2020"
    return {"convert": ["convert", recording, "--out-dir", out / "converted"],
            "convert-one": ["convert", recording, out / "one.hdf5"],
            "process": ["process", recording, "--out", out / "processed", "-q"],
            "unpack": ["unpack", clarius_data / "lzop/carotid_doppler_lzop5F.tar", "--out-dir", out],
            "video": ["video", recording, "--out-dir", out, "-q"]}[name]


COMMANDS = ["convert", "convert-one", "process", "unpack", "video"]


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_output_folder_is_one_line(read_only_folder, clarius_data, command):
    result = run(*_command(command, clarius_data, read_only_folder))
    assert_one_line_error(result, str(read_only_folder), "Read-only file system")


@pytest.mark.parametrize("command", COMMANDS)
def test_permission_denied_is_one_line(tmp_path, clarius_data, as_nobody, command):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    result = run(*_command(command, clarius_data, locked), as_user=as_nobody, env={"HOME": "/tmp"})
    assert_one_line_error(result, str(locked), "Permission denied")


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_temporary_folder_is_not_needed(tmp_path, read_only_folder, clarius_data, command):
    """Outputs are written beside their final name, never in TMPDIR."""
    result = run(*_command(command, clarius_data, tmp_path / "out"), env={"TMPDIR": str(read_only_folder)})
    assert result.returncode == 0, result.stderr


def test_atomic_write_failure_names_the_output_and_leaves_nothing(read_only_folder):
    from sonobridge.util.atomic import write_bytes_atomic

    with pytest.raises(OutputError, match="Read-only file system") as error:
        write_bytes_atomic(read_only_folder / "sub" / "x.json", b"{}")
    assert error.value.path == str(read_only_folder / "sub" / "x.json")


# ---------------------------------------------------------------- item: convert's plan
@pytest.fixture()
def two_recordings(tmp_path, clarius_data) -> Path:
    """A folder whose first recording (by label) cannot be read and whose second can."""
    folder = tmp_path / "in"
    bad = folder / "a_bad"
    bad.mkdir(parents=True)
    (bad / "x_env.raw").write_bytes(b"\x07" + bytes(40))
    (bad / "x_env.yml").write_text("frames: 1\n")
    shutil.copytree(clarius_data / "carotid_doppler_2020", folder / "b_good")
    return folder


def test_one_output_name_for_several_recordings_writes_nothing(tmp_path, two_recordings):
    """Before: the first readable recording was written under the user's name, then exit 2."""
    out = tmp_path / "out"
    out.mkdir()
    result = run("convert", two_recordings, out / "one.hdf5")
    assert result.returncode == 2
    assert "2 recordings" in result.stderr and "--out-dir" in result.stderr
    assert files_in(out) == []


def test_same_named_recordings_get_distinct_outputs(tmp_path, clarius_data):
    """Two packages of the same name in different folders: both converted, neither overwritten."""
    source = tmp_path / "in"
    for folder in ("p1", "p2"):
        (source / folder).mkdir(parents=True)
        shutil.copy(clarius_data / "lzop/carotid_doppler_lzop5F.tar", source / folder / "pkg.tar")
    out = tmp_path / "out"
    result = run("convert", source, "--out-dir", out, "--no-scan-convert", "-q")
    assert result.returncode == 0, result.stderr
    written = files_in(out)
    assert len(written) == 2 and all(name.startswith("pkg-carotid-") for name in written)


# ---------------------------------------------------------------- item: lzop bombs
def _blocks_after_header(path: Path) -> tuple[bytes, bytes]:
    """An lzop file split into (header and blocks, end-of-stream marker)."""
    data = path.read_bytes()
    assert data[-4:] == bytes(4)
    return data[:-4], data[-4:]


@pytest.fixture(scope="module")
def zero_block(tmp_path_factory, lzop_tool_path) -> bytes:
    """One real lzop block (``lzop -F``, no checksums) holding 256 KiB of zeros."""
    folder = tmp_path_factory.mktemp("zeros")
    (folder / "zeros.bin").write_bytes(bytes(256 << 10))
    subprocess.run([lzop_tool_path, "-F", "-o", str(folder / "zeros.lzo"), str(folder / "zeros.bin")], check=True)
    data = (folder / "zeros.lzo").read_bytes()
    start = parse_header(ByteRegion.whole_file(folder / "zeros.lzo")).data_offset
    assert data[-4:] == bytes(4)
    return data[start:-4]


def _bomb(folder: Path, clarius_data: Path, tail: bytes) -> Path:
    """The real 1-frame ``carotid_env.raw.lzo`` (and its yml) with ``tail`` blocks appended
    before the end-of-stream marker: the .raw header still declares 1 frame (179,996 bytes)."""
    folder.mkdir()
    body, end = _blocks_after_header(clarius_data / "lzop/carotid_env.raw.lzo")
    path = folder / "carotid_env.raw.lzo"
    with open(path, "wb") as out:
        out.write(body)
        out.write(tail)
        out.write(end)
    shutil.copy(clarius_data / "lzop/carotid_env.yml", folder / "carotid_env.yml")
    return path


def test_lzop_declaring_8_gib_info_is_fast_and_unpack_refuses(tmp_path, clarius_data, zero_block):
    bomb = _bomb(tmp_path / "bomb", clarius_data, zero_block * ((8 << 30) // (256 << 10)))
    assert bomb.stat().st_size < 64e6
    start = time.perf_counter()
    result = run("info", "--json", bomb, timeout=120)
    assert time.perf_counter() - start < 10
    assert result.returncode == 0, result.stderr
    assert '"n_frames": 1' in result.stdout and "runs on past the 179996 bytes" in result.stderr

    out = tmp_path / "out"
    out.mkdir()
    result = run("unpack", bomb, "--out-dir", out, timeout=120)
    assert result.returncode == 1 and "decompression bomb" in result.stderr and "Traceback" not in result.stderr
    assert files_in(out) == []


def test_lzop_whose_header_and_yml_declare_1_gib_of_zeros_is_refused_fast(tmp_path, clarius_data, zero_block):
    """A bomb consistent with its .raw header and yml: decoding its clocks would decompress it
    all; the expansion (220-fold, where ultrasound data compresses a few-fold) gives it away."""
    folder = tmp_path / "bomb"
    folder.mkdir()
    n_blocks, record = 4096, 8 + 304 * 592
    frames = n_blocks * (256 << 10) // record
    header_block = struct.pack(">II", 20, 20) + struct.pack("<5I", 1, frames, 304, 592, 1)  # stored
    lzop = (clarius_data / "lzop/carotid_env.raw.lzo").read_bytes()
    start = parse_header(ByteRegion.whole_file(clarius_data / "lzop/carotid_env.raw.lzo")).data_offset
    (folder / "carotid_env.raw.lzo").write_bytes(lzop[:start] + header_block + zero_block * n_blocks + bytes(4))
    yml = (clarius_data / "lzop/carotid_env.yml").read_text()
    (folder / "carotid_env.yml").write_text(yml.replace("\nframes: 1\n", f"\nframes: {frames}\n", 1))
    started = time.perf_counter()
    result = run("info", folder, timeout=120)
    assert time.perf_counter() - started < 10
    assert_one_line_error(result, "decompression bomb", "220-fold")


def test_millions_of_tiny_lzop_blocks_are_not_indexed(tmp_path, clarius_data):
    """3 million stored 1-byte blocks after the real data: only the blocks the header needs are
    indexed (before: all of them, ~15 s and hundreds of MB for ``info``)."""
    bomb = _bomb(tmp_path / "tiny", clarius_data, (struct.pack(">II", 1, 1) + b"\0") * 3_000_000)
    stream = LzopStream(ByteRegion.whole_file(bomb), max_size=179_996)
    assert stream.n_blocks == 1 and stream.size == 179_996 and not stream.complete
    start = time.perf_counter()
    result = run("info", bomb, timeout=120)
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - start < 5


def test_extend_indexes_the_rest_on_demand(clarius_data):
    path = clarius_data / "lzop/mixed_blocks_adler32.lzo"
    original = (clarius_data / "lzop/mixed_blocks.bin").read_bytes()
    stream = LzopStream(ByteRegion.whole_file(path), max_size=10)
    assert stream.n_blocks == 1 and not stream.complete
    stream.extend(300_000)
    assert stream.n_blocks == 2 and not stream.complete
    stream.extend()
    assert stream.complete and stream.size == len(original)
    assert bytes(stream.read(0, stream.size)) == original


def test_unpack_checks_every_raw_before_writing_anything(tmp_path):
    """A damaged second capture: the first is not written either."""
    source = tmp_path / "in"
    write_capture(source, "env", 1, frames=3, lines=8, samples=64)
    write_capture(source / "z", "rf", 2, frames=3, lines=8, samples=64)
    raw = source / "z" / "cap_rf.raw"
    raw.write_bytes(raw.read_bytes()[:-10])
    out = tmp_path / "out"
    result = run("unpack", source, "--out-dir", out)
    assert_one_line_error(result, "truncated")
    assert not out.exists() or files_in(out) == []


def test_guarded_hdf5_write_is_as_fast_as_a_direct_one(tmp_path):
    """The guarded HDF5 write (Python file object) is not slower than HDF5's own driver by more
    than noise (measured: equal on 263 MB)."""
    import h5py

    from sonobridge.util.atomic import hdf5_file

    data = np.random.default_rng(0).integers(0, 255, (64, 512, 512), dtype=np.uint8)

    def timed(open_file) -> float:
        start = time.perf_counter()
        with open_file() as handle:
            handle.create_dataset("x", data=data, chunks=(1, 512, 512))
        return time.perf_counter() - start

    direct = min(timed(lambda: h5py.File(tmp_path / "direct.h5", "w")) for _ in range(3))
    guarded = min(timed(lambda: hdf5_file(tmp_path / "guarded.h5")) for _ in range(3))
    assert guarded < 3 * direct + 0.05
    with h5py.File(tmp_path / "guarded.h5") as handle:
        assert np.array_equal(handle["x"][:], data)
