"""The human-readable run report: one HTML page, failures first, a thumbnail per video."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from ..core.outcome import Status, outcome

THUMBNAIL_WIDTH = 160
#: result keys whose values are outcomes (one, or ``{output: outcome}``); "qc" holds findings
OUTCOME_KEYS = ("discover", "run", "ingest", "video", "dicom", "push")


def overall(result: dict[str, Any]) -> Status:
    """The verdict on one recording's result: ERROR if any stage failed (or QC could not read
    it), HIT if every output was already done, else BUILT (skipped stages do not count).

    Examples
    --------
    >>> overall({"ingest": "skipped: already zea", "video": {"a.mp4": "hit"}, "qc": {}})
    <Status.HIT: 'hit'>
    >>> overall({"ingest": "error: disk full"}).value
    'error'
    """
    states = []
    for key in OUTCOME_KEYS:
        value = result.get(key)
        states += list(value.values()) if isinstance(value, dict) else [value] if value is not None else []
    outcomes = [outcome(state) for state in states]
    qc = result.get("qc", {})
    if any(done is not None and done.failed for done in outcomes) or (isinstance(qc, dict) and "error" in qc):
        return Status.ERROR
    done = [state for state in outcomes if state is None or state.status is not Status.SKIPPED]
    return Status.HIT if done and all(state is not None and state.status is Status.HIT for state in done) \
        else Status.BUILT


def _thumbnail(video: str) -> str:
    """An inline PNG of the video's first frame (empty if it cannot be read)."""
    try:
        from PIL import Image

        from ..formats.registry import frames_reader_for

        image = Image.fromarray(frames_reader_for(video).read_frames(video, 0, 1)[0])
        image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'
    except Exception:  # noqa: BLE001 - a missing thumbnail must not break the report
        return ""


def pseudonymous_results(results: dict[str, dict[str, Any]], pseudonyms: dict[str, str], key: bytes,
                         keep: tuple[Path, ...] = ()) -> dict[str, dict[str, Any]]:
    """``results`` of an anonymised run as reports show them: keyed by the recordings'
    ``pseudonyms`` (``{label: pseudonym}``; other labels, e.g. unreadable sources, by their
    :func:`~sonobridge.core.anonymise.pseudonym` under ``key``), every text (keys included)
    scrubbed of the label's path and names (folders of the ``keep`` paths, e.g. the output
    folder, stay)."""
    from ..core.anonymise import identifying_parts, pseudonym, scrub_text

    def scrub(value: Any, parts: list[str], name: str) -> Any:
        if isinstance(value, str):
            return scrub_text(value, parts, name)
        if isinstance(value, dict):
            return {scrub(k, parts, name): scrub(v, parts, name) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [scrub(v, parts, name) for v in value]
        return value

    out = {}
    for label, result in results.items():
        name = pseudonyms.get(label) or pseudonym(label, key)
        out[name] = scrub(result, identifying_parts(label, keep), name)
    return out


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "<br>".join(f"{html.escape(Path(str(k)).name)}: {html.escape(str(v))}" for k, v in value.items())
    return html.escape(str(value))


def html_report(document: dict[str, Any], out: Path) -> str:
    status = document["summary"]["status"]
    order = sorted(document["results"], key=lambda label: (status[label] != Status.ERROR.value, label))
    rows = []
    for label in order:
        result = document["results"][label]
        outputs = result.get("video") if isinstance(result.get("video"), dict) else {}
        videos = [path for path, state in outputs.items()
                  if (done := outcome(state)) is not None and not done.failed]
        stages = "".join(f"<td>{_cell(result.get(stage, ''))}</td>"
                         for stage in ("ingest", "video", "qc", "dicom", "push"))
        rows.append(f'<tr class="{status[label]}"><td>{html.escape(label)}</td><td>{status[label]}</td>{stages}'
                    f'<td>{"".join(_thumbnail(v) for v in videos[:2])}</td></tr>')
    errors = sum(s == Status.ERROR.value for s in status.values())
    return ("<!doctype html><meta charset='utf-8'><title>sonobridge run</title><style>"
            "body{font-family:sans-serif}td{vertical-align:top;border-bottom:1px solid #ccc;padding:4px;"
            "font-size:12px}tr.error{background:#fdd}</style>"
            f"<h1>sonobridge run</h1><p>{len(status)} recordings, {errors} with errors, "
            f"{document['summary']['seconds']} s. Failures first.</p><table><tr><th>recording</th><th>status</th>"
            "<th>ingest</th><th>video</th><th>qc</th><th>dicom</th><th>push</th><th>thumbnail</th></tr>" + "".join(rows)
            + "</table>")
