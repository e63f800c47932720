"""Helpers shared by test files in several folders: paths of the real fixtures, synthetic frames,
fixture verdicts, seeded damage, small tmpfs mounts and the readers' full read-through. Not a test
file (no ``test_`` prefix); importable everywhere since pyproject puts tests/ on ``pythonpath``."""
from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sonobridge.core.recording import Provenance, SampleKind, Stream

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SONOBRIDGE_SHARED", REPO.parent / "shared"))
CLARIUS = SHARED / "data" / "clarius"
EXAMPLES = REPO / "examples" / "clarius"
ZEA = SHARED / "data" / "zea"
DICOM = SHARED / "data" / "dicom" / "wheels"
CINE = DICOM / "pydicom" / "examples_ybr_color.dcm"          # a colour ultrasound cine
PALETTE = DICOM / "pydicom-data" / "OBXXXX1A.dcm"           # a palette-colour ultrasound image
FUZZ_SOURCES = ["pydicom-data/OBXXXX1A_rle.dcm", "pydicom/examples_ybr_color.dcm",
                "pydicom-data/emri_small_jpeg_ls_lossless.dcm", "pydicom/MR_small.dcm"]

# The Clarius App's screenshot of the carotid 2019 moment (544 x 800 RGB). Its B-mode area spans rows
# 187-612 and all 544 columns at 14.2 px/mm (426 rows = 30 mm imaging depth), centred laterally.
SCREENSHOT_TOP_ROW, SCREENSHOT_ROWS, SCREENSHOT_PX_PER_MM = 187, 426, 14.2


# ---------------------------------------------------------------- synthetic frames
def moving_frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Textured frames that move a little each frame (like tissue), uint8."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height + n, width + n), dtype=np.uint8)
    return np.stack([base[i:i + height, (2 * i) % n:(2 * i) % n + width] for i in range(n)])


def image_stream(frames: np.ndarray, rate_hz: float = 25.0, name: str = "image") -> Stream:
    """A grey image stream of ``frames`` (n, rows, columns) uint8 at ``rate_hz``."""
    clock = (np.arange(len(frames)) / rate_hz * 1e9).astype(np.uint64)
    return Stream(name=name, kind=SampleKind.IMAGE, frame_shape=frames.shape[1:], dtype=np.uint8,
                  frames=frames, clock_source=clock, provenance=Provenance(("synthetic",), "test"))


# ---------------------------------------------------------------- zea fixtures
def manifest_verdicts() -> dict[str, bool]:
    """file name -> valid according to zea 0.1.8 (the MANIFEST's "expected" column)."""
    verdicts = {}
    for line in (ZEA / "MANIFEST.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[3].startswith(("valid", "invalid")):
            continue
        for name in re.split(r"\s*[,/]\s*", cells[0]):
            name = name if "." in name else f"{name}.hdf5"
            verdicts[name] = cells[3].startswith("valid")
    return verdicts


VERDICTS = manifest_verdicts() if (ZEA / "MANIFEST.md").exists() else {}


# ---------------------------------------------------------------- DICOM
def dciodvfy_errors(path: Path) -> list[str]:
    """The "Error" lines of dicom3tools' dciodvfy on ``path`` (empty: a valid object)."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.fail("dciodvfy (Debian dicom3tools) is needed: scripts/setup.sh test installs it")
    output = subprocess.run([tool, str(path)], capture_output=True, text=True).stderr
    return [line for line in output.splitlines() if line.startswith("Error")]


def dcm2niix(series: Path, out: Path, name: str = "theirs") -> list[Path]:
    """Convert the DICOM folder ``series`` with dcm2niix (the venv's, from the test extra) into
    ``out`` (uncompressed); returns its NIfTI files, largest first (sidecars share their stem)."""
    import sys

    tool = shutil.which("dcm2niix", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if tool is None:
        pytest.fail("dcm2niix is needed (the test extra installs it)")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool, "-o", str(out), "-f", name, "-z", "n", str(series)], capture_output=True, check=True)
    return sorted(out.glob(f"{name}*.nii"), key=lambda p: -p.stat().st_size)


# ---------------------------------------------------------------- damage and faults
def mutate(data: bytearray, rng: random.Random) -> bytes:
    """Seeded damage: byte flips, cuts, insertions and sometimes truncation of ``data``."""
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 400))
        action = rng.random()
        if action < 0.6:
            data[position] = rng.randrange(256)
        elif action < 0.8:
            del data[position:position + rng.randint(1, 50)]
        else:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))
    return bytes(data[:rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data)


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False):
    """A tmpfs of ``size`` mounted at ``path`` (read-only when asked); skips where not permitted."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


# ---------------------------------------------------------------- reading everything
def read_recording(path: Path, **options) -> None:
    """Open, summarise and read the last frame of every stream (frames are lazy)."""
    from sonobridge.core.describe import describe
    from sonobridge.formats import open_recording

    recording = open_recording(path, **options)
    describe(recording)
    for stream in recording.streams.values():
        if stream.has_frames and stream.n_frames:
            np.asarray(stream.frames[-1])
            np.asarray(stream.frames[:1])


def zea_surface(path: Path) -> None:
    """The zea-compatible surface: every track's fields and the last frame of each product."""
    import sonobridge.zea as zea

    with zea.File(path) as handle:
        handle.legacy, handle.zea_version, handle.probe, handle.timestamps, handle.track_schedule
        for track in handle.tracks:
            track.label, track.scan, track.n_frames, track.n_el, track.timestamps, track.load_parameters()
            try:
                data = track.data
            except KeyError:                                # a track without data (transmit only)
                continue
            for key in data.keys():
                item = data[key]
                values = item["values"] if isinstance(item, zea._Node) and "values" in item else item
                if hasattr(values, "shape") and values.shape and values.shape[0]:
                    np.asarray(values[-1])


def use_log(path: Path) -> None:
    """The Telemed Log surface: timing, geometry, the last frame and the completeness check."""
    import sonobridge.telemed as telemed

    log = telemed.Log(path)
    log.mean_fps, log.image_dy_cm_per_px
    if log.has_frames:
        log.frame(log.n_frames - 1, crop="panel", panel=min(log.b_mode_rois))
        log.image_slice(min(log.b_mode_rois))
        telemed.looks_lut_inverted(path)
    telemed.verify_complete(path)


def synthetic_stream(frames: np.ndarray, kind: SampleKind = SampleKind.IMAGE, name: str = "image",
                     geometry=None) -> Stream:
    """A stream of ``frames`` (any dtype) at 25 Hz with ``geometry`` (None: none recorded)."""
    return Stream(name=name, kind=kind, frame_shape=frames.shape[1:], dtype=frames.dtype, frames=frames,
                  clock_source=(np.arange(len(frames)) * 4e7).astype(np.uint64), geometry=geometry,
                  provenance=Provenance(("test",), "test"))


def mutated_dicom(data: bytes, flips, cut, lie) -> bytes:
    """``data`` (a DICOM file) with byte ``flips`` ``[(where 0..1, value)]``, a lying 4-byte
    length ``lie`` ``(where, value)`` and a ``cut`` (fraction kept), all after the preamble."""
    data = bytearray(data)
    span = len(data) - 136
    for where, value in flips:
        data[132 + int(where * span)] = value
    if lie is not None:
        position = 132 + int(lie[0] * span)
        data[position:position + 4] = lie[1].to_bytes(4, "little")
    if cut is not None:
        data = data[: 132 + int(cut * span)]
    return bytes(data)
