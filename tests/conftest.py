"""Shared fixtures: the real sample data in ../shared/data and synthetic captures in the real layout."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synth import write_capture

from support import CLARIUS, EXAMPLES, REPO, SHARED  # noqa: F401 (REPO, SHARED, EXAMPLES: older imports)


@pytest.fixture(scope="session")
def clarius_data() -> Path:
    """The real Clarius fixtures (../shared/data/clarius); required, never skipped."""
    if not (CLARIUS / "MANIFEST.md").exists():
        pytest.fail(f"real fixtures missing: {CLARIUS} (set SONOBRIDGE_SHARED)")
    return CLARIUS


@pytest.fixture(scope="session")
def lzop_tool_path() -> str:
    """Debian's lzop, used to make real lzop files (scripts/setup.sh test installs it)."""
    import shutil

    tool = shutil.which("lzop")
    if tool is None:
        pytest.fail("Debian's lzop is needed (scripts/setup.sh test installs it)")
    return tool


@pytest.fixture()
def full_capture(tmp_path, clarius_data) -> Path:
    """A synthetic capture with every stream kind (full-range random int16 RF/IQ, uint8 env,
    PW IQ), per-frame TGC for RF and the real 2019 IMU file."""
    folder = tmp_path / "capture"
    _, _, clock = write_capture(folder, "rf", 2, frames=5, lines=16, samples=300, seed=1)
    write_capture(folder, "iq", 0, frames=5, lines=16, samples=150, seed=2)
    write_capture(folder, "env", 1, frames=5, lines=16, samples=120, seed=3)
    write_capture(folder, "pw", 3, frames=4, lines=1, samples=64, seed=4)
    (folder / "cap_rf.tgc").write_text("".join(f"timestamp: {int(t)} {{ 0.00mm, {15 + i}.00dB }}"
                                               f"{{ 40.00mm, 30.00dB }}\n" for i, t in enumerate(clock)))
    shutil.copy(clarius_data / "carotid_2019_metadata/carotid_imu.yml", folder / "cap_imu.yml")
    return folder


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """A real PACS: Debian's Orthanc with its DICOMweb plugin on free loopback ports (tests/pacs.py:
    .http_url, .dicomweb_url, .dicom_port, .aet, .add_modality(aet, host, port), .reset()); skipped
    with the reason where it cannot start; stopped at the end of the session."""
    from pacs import OrthancUnavailable, start_orthanc

    try:
        server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    except OrthancUnavailable as error:
        pytest.skip(f"Orthanc cannot start: {error}")
    try:
        yield server
    finally:
        server.stop()
