"""Telemed in the format registry: ``.tvd.h5`` sidecars and raw ``.tvd`` recordings.

A ``.tvd`` whose sidecar sits beside it is represented by the sidecar (one recording, not two).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..spec import FormatSpec, RecordingSource

SIDECAR_SUFFIX = ".tvd.h5"
TVD_SUFFIX = ".tvd"


def has_sidecar(tvd: Path) -> bool:
    """Whether the ``.tvd`` file ``tvd`` has its extracted sidecar (``<name>.tvd.h5``) beside it."""
    return tvd.with_name(tvd.name + ".h5").exists()


def _claim_sidecars(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    def opener(f: Path):
        def read(**_reader_options: Any):
            from .sidecar import read_telemed

            return read_telemed(f)
        return read

    return [RecordingSource(str(f), "telemed-tvd-h5", opener(f)) for f in files if f.name.endswith(SIDECAR_SUFFIX)]


def _claim_tvds(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    def opener(f: Path):
        def read(allow_truncated: bool = False, **_reader_options: Any):
            from .tvd import read_tvd

            return read_tvd(f, allow_truncated=allow_truncated)
        return read

    return [RecordingSource(str(f), "telemed-tvd", opener(f)) for f in files
            if f.suffix.lower() == TVD_SUFFIX and not has_sidecar(f)]


def _lut_qc(label: str) -> dict[str, Any]:
    from .qc import looks_lut_inverted

    return {"lut_inverted": looks_lut_inverted(label)}


SPECS = (
    FormatSpec(name="telemed-tvd-h5", title="Telemed .tvd.h5 sidecar", suffixes=(SIDECAR_SUFFIX,),
               claim=_claim_sidecars, order=10, frame_tolerance=16, qc=_lut_qc,
               preload=("h5py", "sonobridge.formats.telemed.sidecar", "sonobridge.formats.telemed.qc")),
    FormatSpec(name="telemed-tvd", title="Telemed .tvd", suffixes=(TVD_SUFFIX,), claim=_claim_tvds, order=11,
               preload=("sonobridge.formats.telemed.tvd",)),
)
