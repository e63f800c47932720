"""Shared fixtures: the real sample data in ../shared/data and synthetic captures in the real layout."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SONOBRIDGE_SHARED", REPO.parent / "shared"))
CLARIUS = SHARED / "data" / "clarius"
EXAMPLES = REPO / "examples" / "clarius"


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
