"""Discovery probe: everything AutoInt1 will give up about one saved ``.tvd``, as a dict and a
JSON + markdown report (the ``telemed`` package's ``_metadata_probe``: :func:`parse_doc`,
:func:`probe`, :func:`write_report`).

The parameter ids come from ``AutoInt1Client.txt``'s ``#define id_<name> <number>  // description``
lines. Calling the wrong ``ParamGet*`` variant for an id can crash EchoWave, so each id is
classified and only the safe ones are read:

* ``documented_get``: the description names a ``ParamGet{Int,Bool,Double,Float,String}`` variant
  (Float read as double);
* ``shift_inferred``: the name contains ``_shift`` (read as int, as the documented shift ids are);
* ``action_only``: the description sets ``val = 0;`` (a command, nothing to read);
* ``unknown``: anything else (listed, never read).

The probe opens the file in the running EchoWave (closing what it shows).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import FormatError
from ...util.atomic import write_bytes_atomic

#: where EchoWave II installs the AutoInt1 document
DOC_PATH = Path("C:/Program Files/Telemed/Echo Wave II Application/EchoWave II/Config/Plugins/AutoInt1Client.txt")
DEFINE = re.compile(r"^#define\s+(id_\w+)\s+(\d+)")
VARIANT = re.compile(r"ParamGet(Int|Bool|Double|Float|String)\b")
ACTION = re.compile(r"\bval\s*=\s*0\s*;")
READABLE = ("documented_get", "shift_inferred")
#: img_ids swept for ultrasound regions: B-mode panels, then M, PW and CW
REGION_IDS = ((1, "B"), (2, "B2"), (3, "B3"), (4, "B4"), (7, "M"), (8, "PW"), (9, "CW"))
#: region getters: (AutoInt1 method, report key, conversion)
REGION_GETTERS = (("GetUltrasoundX2", "x2", int), ("GetUltrasoundY1", "y1", int), ("GetUltrasoundY2", "y2", int),
                  ("GetUltrasoundPhysicalDeltaX", "physical_dx_cm_per_px", float),
                  ("GetUltrasoundPhysicalDeltaY", "physical_dy_cm_per_px", float))
CONVERT = {"int": int, "bool": bool, "double": float, "string": str}


@dataclass(frozen=True)
class ParameterId:
    """One ``#define id_*`` line: ``strategy`` documented_get | shift_inferred | action_only |
    unknown; ``variant`` int | bool | double | string for the readable strategies, else None."""

    name: str
    param_id: int
    strategy: str
    variant: str | None
    description: str

    def record(self) -> dict[str, Any]:
        return {"param_id": self.param_id, "variant": self.variant, "strategy": self.strategy,
                "description": self.description}


def parse_ids(text: str) -> list[ParameterId]:
    """Every ``#define id_*`` line of the document text, classified; the first definition of a
    name wins."""
    out, seen = [], set()
    for line in text.splitlines():
        match = DEFINE.match(line)
        if match is None or match.group(1) in seen:
            continue
        name, number = match.group(1), int(match.group(2))
        seen.add(name)
        description = line.split("//", 1)[1].strip() if "//" in line else ""
        hint = VARIANT.search(description)
        if hint:
            strategy, variant = "documented_get", "double" if hint.group(1) == "Float" else hint.group(1).lower()
        elif "_shift" in name:
            strategy, variant = "shift_inferred", "int"
        elif ACTION.search(description):
            strategy, variant = "action_only", None
        else:
            strategy, variant = "unknown", None
        out.append(ParameterId(name, number, strategy, variant, description))
    return out


def parse_doc(doc_path: str | os.PathLike = DOC_PATH) -> list[ParameterId]:
    """:func:`parse_ids` of the AutoInt1 document at ``doc_path`` (read as UTF-8, bad bytes
    ignored); a FormatError naming it when it cannot be read."""
    try:
        text = Path(doc_path).read_text(encoding="utf-8", errors="ignore")
    except OSError as error:
        raise FormatError(doc_path, f"AutoInt1 document unreadable ({error.strerror or error})") from None
    return parse_ids(text)


def _read(cmd: Any, entry: ParameterId) -> tuple[bool, Any]:
    """``(True, value)`` of one safe ParamGet call, ``(False, repr of the error)`` when refused."""
    try:
        return True, CONVERT[entry.variant](getattr(cmd, f"ParamGet{entry.variant.capitalize()}")(entry.param_id))
    except Exception as error:  # noqa: BLE001 - a refused id is reported, not fatal
        return False, repr(error)


def _region(cmd: Any, img_id: int) -> dict[str, Any] | None:
    """The region getters of one img_id; None when it is inactive (X1 refused or -1, or not a
    positive-area rectangle). A refused getter is reported as ``"err: ..."``."""
    try:
        x1 = int(cmd.GetUltrasoundX1(img_id))
    except Exception:  # noqa: BLE001
        return None
    region: dict[str, Any] = {"x1": x1}
    for getter, key, convert in REGION_GETTERS:
        try:
            region[key] = convert(getattr(cmd, getter)(img_id))
        except Exception as error:  # noqa: BLE001
            region[key] = f"err: {error!r}"
    x2, y1, y2 = region["x2"], region["y1"], region["y2"]
    if x1 == -1 or (all(isinstance(v, int) for v in (x2, y1, y2)) and (x2 <= x1 or y2 <= y1 or x1 < 0 or y1 < 0)):
        return None
    return region


def _dimensions(cmd: Any) -> dict[str, int]:
    """The loaded frame's size and the B panel's bounds at the current frame."""
    return {"loaded_frame_width": int(cmd.GetLoadedFrameWidth), "loaded_frame_height": int(cmd.GetLoadedFrameHeight),
            **{f"b_{key}": int(getattr(cmd, f"GetUltrasound{key.upper()}")(1)) for key in ("x1", "x2", "y1", "y2")}}


def probe(tvd_path: str | os.PathLike, *, doc_path: str | os.PathLike = DOC_PATH, client: Any = None
          ) -> dict[str, Any]:
    """Open ``tvd_path`` (local: EchoWave cannot open network paths) through ``client`` (an
    AutoInt1 client; default: :func:`~sonobridge.formats.telemed.autoint.connect`) and sweep it.

    Returns ``{"source_tvd", "probed_at_iso"`` (provenance), ``"direct"`` (frame count, frame 1
    size, current index and time after seeking to frame 1), ``"ultrasound_regions"`` (``{label:
    {img_id, x1, x2, y1, y2, physical_d{x,y}_cm_per_px}}`` of the active img_ids),
    ``"params"`` / ``"failed"`` (``{id name: {param_id, variant, strategy, description, value |
    err}}`` of the ids read / refused), ``"skipped"`` (action-only and unknown ids, not read) and
    ``"dim_consistency"`` (frame 1 vs frame N sizes and B panel; ``constant`` False flags a
    mid-recording change)``}``."""
    if client is None:
        from .autoint import connect

        client = connect()
    entries = parse_doc(doc_path)
    client.open(Path(tvd_path))
    cmd = client.cmd
    result: dict[str, Any] = {"source_tvd": str(tvd_path),
                              "probed_at_iso": dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")}
    cmd.GoToFrame1n(1, True)
    n = int(cmd.GetFramesCount)
    width, height = int(cmd.GetLoadedFrameWidth), int(cmd.GetLoadedFrameHeight)
    result["direct"] = {"n_frames": n, "loaded_frame_width_at_frame1": width,
                        "loaded_frame_height_at_frame1": height,
                        "current_frame_idx_1n_after_seek": int(cmd.GetCurrentFrameIdx1n),
                        "current_frame_time_ms_at_frame1": float(cmd.GetCurrentFrameTime)}
    regions = {}
    for img_id, label in REGION_IDS:
        region = _region(cmd, img_id)
        if region is not None:
            regions[label] = {"img_id": img_id, **region}
    result["ultrasound_regions"] = regions
    params: dict[str, dict] = {}
    failed: dict[str, dict] = {}
    skipped: dict[str, dict] = {}
    for entry in entries:
        if entry.strategy not in READABLE:
            skipped[entry.name] = entry.record()
            continue
        ok, value = _read(cmd, entry)
        if ok:
            params[entry.name] = {**entry.record(), "value": value}
        else:
            failed[entry.name] = {**entry.record(), "err": value}
    result.update(params=params, failed=failed, skipped=skipped)
    cmd.GoToFrame1n(n, True)
    first = {"loaded_frame_width": width, "loaded_frame_height": height,
             **{f"b_{key}": regions.get("B", {}).get(key) for key in ("x1", "x2", "y1", "y2")}}
    last = _dimensions(cmd)
    result["dim_consistency"] = {"frame_1": first, "frame_n": last, "constant": first == last}
    return result


def _table(title: str, header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["", title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def markdown(result: dict[str, Any]) -> str:
    """The human summary of a :func:`probe` result: direct getters, regions, the ParamGet sweep
    (read, refused, skipped) and the frame 1 vs frame N check."""
    lines = [f"# Telemed metadata probe -- `{Path(result.get('source_tvd', '?')).name}`",
             f"_Probed at {result.get('probed_at_iso', '?')}._", "", "## Direct getters", "",
             *(f"- `{key}` = `{value}`" for key, value in result.get("direct", {}).items()),
             "", "## Ultrasound regions", ""]
    regions = result.get("ultrasound_regions", {})
    lines += [f"- **{label}** -- " + ", ".join(f"`{k}={v}`" for k, v in region.items())
              for label, region in regions.items()] or ["_(none populated)_"]
    params, failed, skipped = (result.get(key, {}) for key in ("params", "failed", "skipped"))
    lines += ["", "## ParamGet sweep (summary)", "", f"- Populated: **{len(params)}**",
              f"- Failed (tried, errored): **{len(failed)}**",
              f"- Skipped (no safe variant in doc): **{len(skipped)}**"]

    def by_id(section: dict[str, dict]) -> list[tuple[str, dict]]:
        return sorted(section.items(), key=lambda item: item[1]["param_id"])

    lines += _table("### Populated", ["name", "id", "variant", "strategy", "value"],
                    [[f"`{name}`", info["param_id"], info["variant"], info["strategy"],
                      f"`{json.dumps(info['value']) if isinstance(info['value'], str) else info['value']}`"]
                     for name, info in by_id(params)])
    if failed:
        lines += _table("### Failed (likely 'only valid in live scan')", ["name", "id", "variant", "err"],
                        [[f"`{name}`", info["param_id"], info["variant"], f"`{info['err']}`"]
                         for name, info in by_id(failed)])
    if skipped:
        lines += _table("### Skipped (no documented ParamGet variant)", ["name", "id", "strategy", "description"],
                        [[f"`{name}`", info["param_id"], info["strategy"], info["description"][:80]]
                         for name, info in by_id(skipped)])
    consistency = result.get("dim_consistency", {})
    lines += ["", "## Dimension consistency (frame 1 vs frame N)", "", f"- Constant: **{consistency.get('constant')}**"]
    if consistency.get("constant") is False:
        lines += [f"  - frame 1: `{consistency.get('frame_1')}`", f"  - frame N: `{consistency.get('frame_n')}`"]
    return "\n".join(lines)


def write_report(result: dict[str, Any], out_path: str | os.PathLike) -> Path:
    """``result`` as JSON at ``out_path`` and its :func:`markdown` summary beside it
    (``out_path`` with suffix ``.md``), both written atomically. Returns the markdown path."""
    out_path = Path(out_path)
    write_bytes_atomic(out_path, json.dumps(result, indent=2, default=str).encode())
    return write_bytes_atomic(out_path.with_suffix(".md"), markdown(result).encode())
