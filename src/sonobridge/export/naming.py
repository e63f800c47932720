"""File names of outputs: one stem per recording label, safe characters only."""
from __future__ import annotations

import re
from pathlib import Path

FORMAT_SUFFIXES = (".tvd.h5", ".hdf5", ".h5", ".dcm", ".dicom", ".tvd")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str, default: str = "output") -> str:
    """``text`` reduced to file-name characters (no separators, no leading dots)."""
    return _UNSAFE.sub("_", text).strip("._") or default


def output_stem(label: str) -> str:
    """``<container>-<capture>`` for a Clarius label (``folder_or_tar:prefix``), else the file name
    without its format suffix, made safe."""
    container, _, prefix = label.rpartition(":")
    if container and not Path(label).exists():
        return safe_name(f"{Path(container).name}-{prefix}")
    base = Path(label).name
    for suffix in FORMAT_SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    return safe_name(base)


def unique_stems(labels: list[str]) -> dict[str, str]:
    """``{label: stem}`` with :func:`output_stem`; labels whose stems collide (e.g.
    ``p1/IM0001.dcm`` and ``p2/IM0001.dcm``) get a short hash of the label appended, so no two
    recordings share an output name. The one deduplication of output names: used by the cohort
    pipeline (:func:`sonobridge.pipeline.run.discover`) and the ``convert``, ``video`` and
    ``preview`` commands."""
    import hashlib
    from collections import Counter

    stems = {label: output_stem(label) for label in labels}
    counts = Counter(stems.values())
    return {label: f"{stem}-{hashlib.sha1(label.encode()).hexdigest()[:8]}" if counts[stem] > 1 else stem
            for label, stem in stems.items()}
