"""Which AutoInt1 parameters a recording will give up: parse ``AutoInt1Client.txt``'s
``#define id_<name> <number>  // description`` lines, classify each id, read only the safe ones.

Classification (calling the wrong ``ParamGet*`` variant for an id can crash EchoWave, so only
ids with a known variant are read):

* ``documented_get``: the description names a ``ParamGet{Int,Bool,Double,Float,String}`` variant
  (Float read as Double);
* ``shift_inferred``: the name contains ``_shift`` (read with ParamGetInt, as the documented
  shift ids are);
* ``action_only``: the description sets ``val = 0;`` (a command, nothing to read);
* ``unknown``: anything else (listed, never read).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...util.atomic import write_bytes_atomic

DEFINE = re.compile(r"^\s*#define\s+(id_\w+)\s+(\d+)\b(.*)$")
VARIANT = re.compile(r"ParamGet(Int|Bool|Double|Float|String)\b")
ACTION = re.compile(r"\bval\s*=\s*0\s*;")
READABLE = ("documented_get", "shift_inferred")


@dataclass(frozen=True)
class ParameterId:
    name: str
    number: int
    kind: str                  # documented_get | shift_inferred | action_only | unknown
    variant: str | None        # Int | Bool | Double | String, for the readable kinds
    description: str


def parse_ids(text: str) -> list[ParameterId]:
    """Every ``#define id_*`` of the document, classified; the first definition of a name wins."""
    out, seen = [], set()
    for line in text.splitlines():
        match = DEFINE.match(line)
        if match is None or match.group(1) in seen:
            continue
        name, number, rest = match.group(1), int(match.group(2)), match.group(3)
        seen.add(name)
        description = rest.split("//", 1)[1].strip() if "//" in rest else rest.strip()
        hint = VARIANT.search(description)
        if hint:
            kind, variant = "documented_get", "Double" if hint.group(1) == "Float" else hint.group(1)
        elif "_shift" in name:
            kind, variant = "shift_inferred", "Int"
        elif ACTION.search(description):
            kind, variant = "action_only", None
        else:
            kind, variant = "unknown", None
        out.append(ParameterId(name, number, kind, variant, description))
    return out


def probe(client, ids: list[ParameterId]) -> dict[str, Any]:
    """Read every readable id through an open AutoInt1 connection (``client.cmd``)."""
    values: dict[str, Any] = {}
    for entry in ids:
        if entry.kind not in READABLE:
            continue
        try:
            values[entry.name] = getattr(client.cmd, f"ParamGet{entry.variant}")(entry.number)
        except Exception as error:  # noqa: BLE001 - a refused id is reported, not fatal
            values[entry.name] = f"error: {error}"
    return {"ids": [asdict(e) for e in ids], "values": values,
            "counts": {kind: sum(e.kind == kind for e in ids) for kind in
                       ("documented_get", "shift_inferred", "action_only", "unknown")}}


def write_report(result: dict[str, Any], path: str | os.PathLike) -> tuple[Path, Path]:
    """``<path>.json`` and ``<path>.md`` (a table of ids, kinds and values), written atomically."""
    base = Path(path).with_suffix("")
    json_path = write_bytes_atomic(base.with_suffix(".json"), json.dumps(result, indent=2, default=str).encode())
    lines = ["# AutoInt1 parameter probe", "",
             ", ".join(f"{kind}: {count}" for kind, count in result["counts"].items()), "",
             "| id | number | kind | variant | value |", "|---|---|---|---|---|"]
    for entry in result["ids"]:
        value = result["values"].get(entry["name"], "(not read)")
        lines.append(f"| {entry['name']} | {entry['number']} | {entry['kind']} | {entry['variant'] or ''} | {value} |")
    markdown = write_bytes_atomic(base.with_suffix(".md"), ("\n".join(lines) + "\n").encode())
    return json_path, markdown
