"""The run report: per-recording facts gathered by the workers, and the page a person opens.

:func:`recording_facts` (run by each worker after the stages) summarises one recording as
JSON-ready data (streams, timing, geometry, TGC, IMU; never a source path) and writes its
mid-frame image ``<stem>_mid.png``; :func:`html_report` renders the run's document as one
self-contained HTML page from the package's Jinja2 template, plots drawn by matplotlib and
inlined as SVG, images as data URIs: a summary, then each recording, failures first.

Plots are drawn once: :func:`recording_plots` keeps each SVG in ``<out>/.sonobridge-plots/`` under a
digest of what it shows (and of this module), so the workers draw them in parallel after the stages
and the page, and every later run of a finished cohort, only reads them back; plots the page no longer
shows are removed when it is written.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import glob
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from .._version import __version__
from ..core.describe import describe_stream, jsonable
from ..core.geometry import LineGeometry, PixelGrid
from ..core.outcome import Outcome, Status, outcome
from ..core.recording import Recording, Signal, Stream
from ..core.tgc import TgcCurves
from ..errors import MissingDependencyError, SonobridgeError
from ..util.atomic import write_bytes_atomic
from .stages import GAP_FACTOR

log = logging.getLogger(__name__)

#: the folder (inside the run's output folder) keeping drawn plots by digest
PLOT_CACHE = ".sonobridge-plots"
#: result keys whose values are outcomes (one, or ``{output: outcome}``); "qc" holds findings
OUTCOME_KEYS = ("discover", "run", "ingest", "video", "dicom", "push")


def overall(result: dict[str, Any]) -> Status:
    """The verdict on one recording's result: ERROR if any stage failed (or QC could not read
    it), NOT_APPLICABLE if no stage applies to it, HIT if every output was already done, else
    BUILT (skipped stages do not count).

    Examples
    --------
    >>> overall({"ingest": "skipped: already zea", "video": {"a.mp4": "hit"}, "qc": {}})
    <Status.HIT: 'hit'>
    >>> overall({"ingest": "error: disk full"}).value
    'error'
    >>> overall({"ingest": "not_applicable: no image", "qc": {"not_applicable": "no image"}}).value
    'not_applicable'
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
    if done and all(state is not None and state.status is Status.NOT_APPLICABLE for state in done):
        return Status.NOT_APPLICABLE          # e.g. a DICOM SR in an ultrasound cohort: nothing to do, no error
    return Status.HIT if done and all(state is not None and state.status is Status.HIT for state in done) \
        else Status.BUILT


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


# --- per-recording facts, gathered by the worker after the stages ---------------------------------

#: the report's picture of a recording: its middle frame, beside its outputs
MID_FRAME_SUFFIX = "_mid.png"
IMAGE_WIDTH_PX = 400          # the mid-frame image is at most this wide (its scale bar redrawn to fit)
MAX_TGC_CURVES = 64           # TGC curves kept per stream (evenly spaced entries)
MAX_SIGNAL_POINTS = 400       # samples kept per signal channel (every k-th)
SIGNAL_DIGITS = 4             # significant digits kept of signal samples (enough to plot)


def recording_facts(recording: Callable[[], Recording], out_dir: Path, stem: str) -> dict[str, Any]:
    """What the report shows of one recording, JSON-ready, and its mid-frame image written as
    ``<out_dir>/<stem>_mid.png``.

    Parameters
    ----------
    recording : callable
        Returns the opened :class:`~sonobridge.core.recording.Recording` (the stages' opener).
    out_dir : Path
        The run's output folder.
    stem : str
        The stem of the recording's outputs (a pseudonym in anonymised runs).

    Returns
    -------
    dict
        ``stem``, ``duration_s`` (longest stream, seconds), ``streams`` (:func:`stream_facts`
        per stream), ``signals`` (:func:`signal_facts`) and ``image`` (:func:`mid_frame_image`);
        empty when the recording cannot be opened. Nothing names a source file or a person.
    """
    try:
        opened = recording()
    except SonobridgeError:
        return {}
    except Exception as error:  # noqa: BLE001 - the report's facts must never fail a recording
        log.warning("%s: report facts not gathered (%s: %s)", stem, type(error).__name__, error)
        return {"stem": stem}
    try:
        starts = [times[0] for s in opened.streams.values() if (times := s.timestamps_s) is not None and times.size]
        origin = float(min(starts)) if starts else 0.0
        streams = {name: stream_facts(stream, origin) for name, stream in opened.streams.items()}
        facts: dict[str, Any] = {
            "stem": stem, "streams": streams,
            "duration_s": max((s["duration_s"] or 0.0 for s in streams.values()), default=None),
            "signals": {name: signal_facts(signal) for name, signal in opened.signals.items()}}
        image = mid_frame_image(opened, out_dir / f"{stem}{MID_FRAME_SUFFIX}")
        if image is not None:
            facts["image"] = image
        facts = jsonable(facts)
        with contextlib.suppress(MissingDependencyError):   # the page says so, once
            recording_plots(facts, out_dir, stem)           # drawn here, in the worker, read back by the page
    except Exception as error:  # noqa: BLE001 - the report's facts must never fail a recording
        log.warning("%s: report facts incomplete (%s: %s)", stem, type(error).__name__, error)
        return {"stem": stem}
    return facts


def stream_facts(stream: Stream, origin_s: float = 0.0) -> dict[str, Any]:
    """One stream as the report shows it: :func:`~sonobridge.core.describe.describe_stream`
    (without source files and raw parameters), its ``probe`` name, ``pixel_size_m``
    ``[axial or z, lateral or x]`` (metres, None where unknown), ``start_s`` (first frame's time
    after ``origin_s``, seconds), ``intervals_ms`` (time between consecutive frames,
    milliseconds, ``(n_frames - 1,)``) and ``tgc`` (:func:`tgc_facts`)."""
    facts = {key: value for key, value in describe_stream(stream).items()
             if key not in ("source_files", "parameters", "tgc")}
    geometry = stream.geometry
    probe = getattr(geometry, "probe", None)
    facts["probe"] = probe.name if probe is not None else None
    facts["pixel_size_m"] = pixel_size_m(stream)
    times = stream.timestamps_s
    if times is not None and times.size:
        facts["start_s"] = float(times[0] - origin_s)
    if times is not None and times.size > 1:
        facts["intervals_ms"] = np.round(np.diff(times) * 1e3, 3)
    curves = stream.per_frame.get("tgc")
    if isinstance(curves, TgcCurves) and curves.depth_m.size:
        facts["tgc"] = tgc_facts(curves)
    return facts


def pixel_size_m(stream: Stream) -> list[float | None] | None:
    """``[axial or z, lateral or x]`` spacing in metres of the stream's own samples (lines:
    sample spacing and line pitch when the probe's pitch is known; pixels: the grid's spacing)."""
    geometry = stream.geometry
    if isinstance(geometry, PixelGrid):
        return geometry.describe()["pixel_spacing_m"]
    if isinstance(geometry, LineGeometry):
        pitch = geometry.probe.pitch_m if geometry.probe is not None else None
        steps = np.abs(np.diff(geometry.element_positions))
        steps = steps[steps > 1e-9]              # ensembles repeat lines: the pitch between distinct ones
        lateral = float(pitch * np.median(steps)) if pitch and steps.size else None
        return [float(geometry.sample_spacing_m), lateral]
    return None


def tgc_facts(curves: TgcCurves) -> dict[str, Any]:
    """Recorded TGC curves: ``depth_mm`` and ``gain_db`` (lists of points, NaN padding dropped) of
    at most :data:`MAX_TGC_CURVES` evenly spaced ``entries`` of ``n_entries``, and
    ``n_distinct`` different curves."""
    rows = curves.depth_m.shape[0]
    keep = np.unique(np.linspace(0, rows - 1, min(rows, MAX_TGC_CURVES)).round().astype(int))
    points = [curves.points(int(index)) for index in keep]
    stacked = np.nan_to_num(np.hstack([curves.depth_m, curves.gain_db]))
    return {"source": curves.source, "n_entries": rows, "entries": keep,
            "n_distinct": len(np.unique(stacked, axis=0)),
            "depth_mm": [[depth * 1e3 for depth, _ in row] for row in points],
            "gain_db": [[gain for _, gain in row] for row in points]}


def signal_facts(signal: Signal) -> dict[str, Any]:
    """A signal (e.g. IMU) for plotting: ``time_s`` since its first sample and its numeric
    ``channels`` (``(n,)`` or ``(n, k)``), every k-th sample so at most :data:`MAX_SIGNAL_POINTS`
    remain, rounded to :data:`SIGNAL_DIGITS` significant digits; ``units`` per channel."""
    n = signal.n_samples
    step = max(1, -(-n // MAX_SIGNAL_POINTS))
    times = signal.timestamps_s
    channels = {}
    for name, values in signal.channels.items():
        values = np.asarray(values)
        if values.dtype.kind in "iuf" and values.ndim in (1, 2) and len(values) == n:
            channels[name] = _significant(values[::step].astype(float), SIGNAL_DIGITS)
    return {"n_samples": n, "duration_s": signal.duration_s, "units": dict(signal.units), "channels": channels,
            "time_s": None if times is None or not times.size else (times - times[0])[::step]}


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (zeros and NaN kept)."""
    magnitude = np.floor(np.log10(np.abs(values), where=values != 0, out=np.zeros_like(values)))
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.round(values * scale) / scale


def mid_frame_image(recording: Recording, path: Path) -> dict[str, Any] | None:
    """Write the recording's middle frame as a PNG at ``path`` (at most :data:`IMAGE_WIDTH_PX`
    wide, a millimetre scale bar when calibrated; pHYs holds the pixel size): the scan-converted
    B-mode with its colour flow (:func:`~sonobridge.processing.render.render`) where the
    geometry allows, else the stream's own frame
    (:func:`~sonobridge.processing.preview.preview_frame`). Returns ``file`` (name), ``stream``,
    ``frame``, ``n_frames``, ``time_s``, ``pixel_size_m`` and ``scale_bar_mm``; None when no
    stream has frames."""
    from ..processing.render import display_streams

    stream, colour = display_streams(recording)
    stream = stream or next((s for s in recording.streams.values() if s.has_frames and s.n_frames), None)
    if stream is None:
        return None
    frame = stream.n_frames // 2
    image, pixel = _frame_picture(stream, frame, colour)
    image, pixel = _fit_width(image, pixel)
    info: dict[str, Any] = {"file": path.name, "stream": stream.name, "frame": frame, "n_frames": stream.n_frames,
                            "pixel_size_m": pixel, "scale_bar_mm": None, "time_s": None}
    times = stream.timestamps_s
    if times is not None and times.size > frame:
        info["time_s"] = float(times[frame] - times[0])
    if pixel:
        from ..processing.render import draw_scale_bar

        info["scale_bar_mm"] = draw_scale_bar(image, pixel)
    from ..util.png import save_png

    save_png(image, path, pixel_size_m=pixel)
    return info


def _frame_picture(stream: Stream, frame: int, colour: Stream | None) -> tuple[np.ndarray, float | None]:
    """RGB uint8 ``(h, w, 3)`` of one frame and its square pixel size in metres (None if unknown)."""
    from ..processing.preview import preview_frame
    from ..processing.render import render

    try:
        shown = render(stream, frame, colour=colour, scale_bar=False)
        return shown.image, shown.grid.pixel_size_m
    except Exception as error:  # noqa: BLE001 - no scan conversion for this stream: its own frame instead
        log.debug("%s: mid frame not scan-converted (%s)", stream.name, error)
    image = preview_frame(stream, frame)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    spacing = pixel_size_m(stream) if isinstance(stream.geometry, PixelGrid) else None
    square = spacing is not None and None not in spacing and np.isclose(spacing[0], spacing[1], rtol=0.02)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8)), (spacing[1] if square else None)


def _fit_width(image: np.ndarray, pixel: float | None) -> tuple[np.ndarray, float | None]:
    """``image`` scaled down to at most :data:`IMAGE_WIDTH_PX` wide (aspect kept) and its pixel size."""
    height, width = image.shape[:2]
    if width <= IMAGE_WIDTH_PX:
        return np.array(image), pixel
    from PIL import Image

    size = (IMAGE_WIDTH_PX, max(1, round(height * IMAGE_WIDTH_PX / width)))
    scaled = np.array(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
    return scaled, (pixel * width / IMAGE_WIDTH_PX if pixel else None)


# --- the HTML page ----------------------------------------------------------------------------------

TEMPLATE = "report.html.j2"
BADGE_LEVELS = ("ok", "warn", "bad", "info")       # green, amber, red, grey


@dataclass(frozen=True)
class Badge:
    """A QC flag as the page shows it: ``level`` one of :data:`BADGE_LEVELS`, a short ``text``
    and the ``reason`` behind it."""

    level: str
    text: str
    reason: str = ""


@dataclass(frozen=True)
class Link:
    """An output file of a recording: ``href`` relative to the report, ``name`` shown, ``size`` bytes."""

    href: str
    name: str
    size: int


def stream_badges(qc: dict[str, Any], facts: dict[str, Any]) -> list[Badge]:
    """The QC flags of one stream (``qc``: :func:`~sonobridge.pipeline.stages.stream_qc`;
    ``facts``: :func:`stream_facts`, for the intervals behind a timing gap).

    Examples
    --------
    >>> [b.level for b in stream_badges({"n_frames": 3, "declared": 5, "complete": False,
    ...                                  "timing_gaps": 1, "calibrated": True, "has_frames": True},
    ...                                 {"intervals_ms": [10.0, 10.0, 30.0, 10.0]})]
    ['bad', 'warn', 'ok']
    """
    badges = []
    n, declared = qc.get("n_frames"), qc.get("declared")
    if qc.get("decode_error"):
        badges.append(Badge("bad", "frames do not decode", str(qc["decode_error"])))
    if qc.get("complete") is False:
        badges.append(Badge("bad", "incomplete", f"{n} of {declared} declared frames"))
    elif qc.get("complete"):
        badges.append(Badge("ok", "complete", f"all {declared} declared frames present"))
    gaps = qc.get("timing_gaps") or 0
    intervals = np.asarray([v for v in facts.get("intervals_ms") or [] if v is not None], float)
    if gaps:
        detail = (f": longest interval {intervals.max():.0f} ms at frame {int(intervals.argmax()) + 1}, "
                  f"median {np.median(intervals):.1f} ms") if intervals.size else ""
        badges.append(Badge("warn", f"{gaps} timing gap{'s' if gaps > 1 else ''}",
                            f"frame intervals over {GAP_FACTOR:g}x the median{detail}"))
    elif intervals.size > 1:
        badges.append(Badge("ok", "regular timing", f"no interval over {GAP_FACTOR:g}x the median "
                                                     f"({np.median(intervals):.1f} ms)"))
    if qc.get("calibrated") is False:
        badges.append(Badge("warn", "not calibrated", "no geometry: sizes in pixels only"))
    elif qc.get("calibrated"):
        badges.append(Badge("ok", "calibrated", "geometry known: sizes in millimetres"))
    if qc.get("has_frames") is False and not qc.get("decode_error"):
        badges.append(Badge("info", "timing only", "no frames stored (metadata and timestamps only)"))
    return badges


def recording_badges(qc: dict[str, Any]) -> list[Badge]:
    """The QC flags of a recording as a whole: the input's validation (``<format>_valid``), a QC
    that could not read it (``error``) and its format's own checks (true flags are findings).

    Examples
    --------
    >>> [(b.level, b.text) for b in recording_badges({"zea_valid": False, "zea_findings": ["error: /: x"],
    ...                                                "lut_inverted": True})]
    [('bad', 'zea input invalid'), ('warn', 'lut inverted')]
    """
    badges = []
    for key, value in qc.items():
        if key == "error":
            badges.append(Badge("bad", "QC could not read it", str(value)))
        elif key.endswith("_valid"):
            name, findings = key[:-len("_valid")], qc.get(f"{key[:-len('_valid')]}_findings") or []
            badges.append(Badge("ok", f"{name} input valid", "no findings") if value else
                          Badge("bad", f"{name} input invalid", "; ".join(map(str, findings[:3]))
                                + (f" (+{len(findings) - 3} more)" if len(findings) > 3 else "")))
        elif key.endswith("_findings") or isinstance(value, dict):
            continue
        elif isinstance(value, bool):
            text = key.replace("_", " ")
            badges.append(Badge("warn", text, f"{text}: yes") if value else Badge("ok", f"not {text}", ""))
        elif value is not None:
            badges.append(Badge("info", key.replace("_", " "), str(value)))
    return badges


def output_links(result: dict[str, Any], out: Path) -> list[Link]:
    """Every file the run wrote for a recording that is in ``out`` (the stages' outputs, their
    sidecars such as video indexes and source records, the mid-frame image), hrefs relative to ``out``."""
    from .stages import writer_specs

    stem = (result.get("facts") or {}).get("stem")
    names: list[str] = []
    for spec in writer_specs():
        state = result.get(spec.stage)
        if isinstance(state, dict):
            names += [Path(path).name for path, value in state.items() if _produced(value)]
        elif stem and _produced(state):
            names.append(f"{stem}{spec.write_suffix}")
    image = (result.get("facts") or {}).get("image")
    if image:
        names.append(image["file"])
    files: list[Path] = []
    for name in dict.fromkeys(names):
        files += [out / name] + sorted(out.glob(glob.escape(name) + ".*"))
    return [Link(quote(path.name), path.name, path.stat().st_size) for path in files if path.is_file()]


def _produced(state: Any) -> bool:
    done = outcome(state) if isinstance(state, str) else None
    return done is not None and done.status in (Status.BUILT, Status.HIT)


def html_report(document: dict[str, Any], out: Path) -> str:
    """The run report as one self-contained HTML page (no external resources): a summary
    (recordings, status counts, total duration), then per recording (failures first) its
    streams (frames, duration, frame rate, probe, geometry, pixel size), QC badges, links to its
    outputs, its mid-frame image and plots of frame intervals, TGC curves and IMU traces.

    ``document``: ``{"summary": {"status": {label: status}, "seconds": s}, "results": {label: result}}``
    as :func:`sonobridge.pipeline.run.write_report` writes it; ``out``: the folder the page is
    written to (links and images are resolved there). Needs the ``report`` extra (Jinja2,
    matplotlib): :class:`~sonobridge.errors.MissingDependencyError` otherwise.
    """
    try:
        import jinja2
    except ImportError:
        raise _missing_report_extra() from None
    status = document["summary"]["status"]
    order = sorted(document["results"], key=lambda label: (status[label] != Status.ERROR.value, label))
    used: set[Path] = set()
    recordings = [_recording_view(label, status[label], document["results"][label], out, used) for label in order]
    _prune_plots(out, used)
    counts = Counter(status.values())
    durations = [r["duration_s"] for r in recordings if r["duration_s"]]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["mm"] = _mm
    template = environment.from_string(resources.files(__package__).joinpath("templates", TEMPLATE).read_text())
    return template.render(
        version=__version__, recordings=recordings, run_seconds=document["summary"].get("seconds"),
        counts=sorted(counts.items(), key=lambda item: item[0] != Status.ERROR.value),
        total_duration_s=sum(durations), n_timed=len(durations),
        n_frames=sum(s["n_frames"] or 0 for r in recordings for s in r["streams"] if s["has_frames"]))


def _recording_view(label: str, state: str, result: dict[str, Any], out: Path, used: set[Path]) -> dict[str, Any]:
    """What the template shows of one recording; the plot files it reads are added to ``used``."""
    from markupsafe import Markup

    facts = result.get("facts") or {}
    qc = result.get("qc") if isinstance(result.get("qc"), dict) else {}
    streams = []
    for name, stream in (facts.get("streams") or {}).items():
        stream_qc = qc.get(name) if isinstance(qc.get(name), dict) else {}
        streams.append({**stream, "name": name, "badges": stream_badges(stream_qc, stream),
                        "geometry_text": _geometry_text(stream)})
    problems = [f"{key}: {done.reason or done.status.value}" for key, done in _stage_outcomes(result)
                if done.failed] + ([f"qc: {qc['error']}"] if "error" in qc else [])
    image = facts.get("image")
    picture = out / image["file"] if image else None
    plots = recording_plots(facts, out, label, used)
    return {"label": label, "status": state, "format": result.get("format"), "problems": problems,
            "stages": [(key, done) for key, done in _stage_outcomes(result)],
            "duration_s": facts.get("duration_s"), "streams": streams, "badges": recording_badges(qc),
            "links": output_links(result, out), "image": image,
            "image_uri": Markup(_data_uri(picture)) if picture is not None and picture.is_file() else None,
            "plots": plots, "gaps": _longest_gaps(facts.get("streams") or {})}


def recording_plots(facts: dict[str, Any], out: Path, label: str, used: set[Path] | None = None) -> dict[str, Any]:
    """The plots of one recording's :func:`recording_facts` as inline SVG markup: ``intervals``
    (or None), ``tgc`` and ``signals`` (``[(names, svg)]``). Each is drawn at most once per
    content: kept in ``<out>/.sonobridge-plots/<digest>.svg`` and read back from there; the files
    read are added to ``used``."""
    streams = facts.get("streams") or {}
    plot = _PlotCache(out, label, set() if used is None else used)
    return {"intervals": plot(_intervals_plot, streams),
            "tgc": [(", ".join(names), svg) for names, tgc in _same_tgc(streams)
                    if (svg := plot(_tgc_plot, tgc)) is not None],
            "signals": [(name, svg) for name, signal in (facts.get("signals") or {}).items()
                        if signal.get("channels") and signal.get("time_s")
                        and (svg := plot(_signal_plot, signal)) is not None]}


class _PlotCache:
    """``draw(data)`` as SVG markup, from ``<out>/.sonobridge-plots`` when drawn before; None (logged)
    when the data cannot be drawn: a plot never stops the report."""

    def __init__(self, out: Path, label: str, used: set[Path]) -> None:
        self.folder, self.label, self.used = out / PLOT_CACHE, label, used

    def __call__(self, draw: Callable[[Any], Any], data: Any) -> Any:
        from markupsafe import Markup

        path = self.folder / f"{_plot_digest(draw, data)}.svg"
        self.used.add(path)
        try:
            return Markup(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            pass
        try:
            svg = draw(data)
        except MissingDependencyError:
            raise
        except Exception as error:  # noqa: BLE001 - e.g. facts of an older report in another shape
            log.warning("%s: %s not drawn (%s: %s)", self.label, draw.__name__.strip("_"), type(error).__name__, error)
            return None
        try:
            self.folder.mkdir(exist_ok=True)
            write_bytes_atomic(path, str(svg).encode("utf-8"))
        except OSError as error:        # a read-only or full output folder: the page still gets the plot
            log.debug("%s: plot not kept (%s)", self.label, error)
        return svg


def _plot_digest(draw: Callable[[Any], Any], data: Any) -> str:
    content = json.dumps([draw.__name__, data], sort_keys=True, default=str).encode()
    return hashlib.sha256(_drawing_code() + content).hexdigest()[:32]


@functools.cache
def _drawing_code() -> bytes:
    """This module's code (read once, on the first plot): a change in how plots are drawn
    invalidates every kept plot."""
    return hashlib.sha256(Path(__file__).read_bytes()).digest()


def _prune_plots(out: Path, used: set[Path]) -> None:
    """Remove kept plots the page no longer shows (recordings gone or changed)."""
    for path in (out / PLOT_CACHE).glob("*.svg"):
        if path not in used:
            path.unlink(missing_ok=True)


def _stage_outcomes(result: dict[str, Any]) -> list[tuple[str, Outcome]]:
    """``(stage, outcome)`` of every stage output (``stage name.ext`` for a stage with several files)."""
    pairs = []
    for key in OUTCOME_KEYS:
        value = result.get(key)
        entries = value.items() if isinstance(value, dict) else [(None, value)]
        for path, state in entries:
            if (done := outcome(state) if isinstance(state, str) else None) is not None:
                pairs.append((f"{key} {Path(path).name}" if path and len(entries) > 1 else key, done))
    return pairs


def _geometry_text(stream: dict[str, Any]) -> str:
    geometry = stream.get("geometry") or {}
    shape = stream.get("frame_shape") or []
    if geometry.get("type") == "lines" and len(shape) >= 2:
        depth = geometry.get("depth_range_m") or [None, None]
        text = f"{shape[0]} lines x {shape[1]} samples, depth {_mm(depth[0])} to {_mm(depth[1])} mm"
        rate = geometry.get("sampling_frequency_hz")
        return text + (f", sampled at {rate / 1e6:g} MHz" if rate else "")
    if geometry.get("type") == "pixels" and len(shape) >= 2:
        x, z = geometry.get("x_range_m") or [None, None], geometry.get("z_range_m") or [None, None]
        return f"{shape[0]} x {shape[1]} pixels, x {_mm(x[0])} to {_mm(x[1])} mm, z {_mm(z[0])} to {_mm(z[1])} mm"
    return "x".join(map(str, shape)) + " (no geometry)" if shape else "no geometry"


def _mm(metres: float | None, digits: int = 1) -> str:
    """Metres as millimetres with ``digits`` decimals ("?" if unknown; never "-0.0")."""
    return "?" if metres is None else f"{round(metres * 1e3, digits) + 0.0:.{digits}f}"


def _same_tgc(streams: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """The streams' recorded TGC, streams with the same curves together (one plot each)."""
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for name, stream in streams.items():
        if tgc := stream.get("tgc"):
            key = repr([tgc["n_entries"], np.round(np.asarray(sum(tgc["depth_mm"] + tgc["gain_db"], []), float), 3)
                        .tolist()])
            groups.setdefault(key, ([], tgc))[0].append(name)
    return list(groups.values())


def _longest_gaps(streams: dict[str, Any]) -> list[str]:
    """One sentence per stream with a timing gap: its longest frame interval against the median."""
    lines = []
    for name, stream in streams.items():
        intervals = np.asarray([v for v in stream.get("intervals_ms") or [] if v is not None], float)
        if intervals.size > 1 and intervals.max() > GAP_FACTOR * np.median(intervals):
            index = int(intervals.argmax())
            lines.append(f"{name}: longest frame interval {intervals.max():.0f} ms (frame {index} to {index + 1}), "
                         f"median {np.median(intervals):.1f} ms")
    return lines


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _missing_report_extra() -> MissingDependencyError:
    return MissingDependencyError(None, "the HTML report needs Jinja2 and matplotlib: pip install 'sonobridge[report]'")


def _figure(height_in: float = 2.1, rows: int = 1):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise _missing_report_extra() from None

    figure = Figure(figsize=(5.6, height_in * rows), layout="constrained")
    return figure, figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]


def _svg(figure) -> Any:
    """The figure as inline SVG markup (text kept as text, no metadata, no XML prologue)."""
    from markupsafe import Markup
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "font.size": 8}):
        figure.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return Markup(text[text.index("<svg"):])


def _intervals_plot(streams: dict[str, Any]) -> Any:
    """Frame interval (ms) against time since the first frame (s), every timed stream; intervals
    over :data:`GAP_FACTOR` x the median marked and labelled."""
    timed = {name: np.asarray([np.nan if v is None else v for v in s["intervals_ms"]], float)
             for name, s in streams.items() if len(s.get("intervals_ms") or []) > 0}
    if not timed:
        return None
    figure, (axes,) = _figure()
    for name, intervals in timed.items():
        times = streams[name].get("start_s", 0.0) + np.nancumsum(intervals) / 1e3
        axes.plot(times, intervals, marker=".", markersize=3, linewidth=0.8, label=name)
        gaps = np.flatnonzero(intervals > GAP_FACTOR * np.nanmedian(intervals))
        axes.plot(times[gaps], intervals[gaps], "o", markersize=6, markerfacecolor="none", color="#c62828")
        for index in gaps[:5]:
            axes.annotate(f"{intervals[index]:.0f} ms", (times[index], intervals[index]), fontsize=7,
                          color="#c62828", xytext=(4, -2), textcoords="offset points")
    axes.set(xlabel="time of the later frame (s)", ylabel="frame interval (ms)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper right")
    return _svg(figure)


def _tgc_plot(tgc: dict[str, Any]) -> Any:
    """Gain (dB) against depth (mm), one line per recorded curve, coloured by entry."""
    from matplotlib import colormaps

    figure, (axes,) = _figure()
    colours = colormaps["viridis"](np.linspace(0, 1, max(1, len(tgc["depth_mm"]))))
    for colour, depth, gain in zip(colours, tgc["depth_mm"], tgc["gain_db"]):
        axes.plot(depth, gain, color=colour, linewidth=0.8, marker=".", markersize=2)
    n, distinct = tgc["n_entries"], tgc["n_distinct"]
    title = ("1 curve" if n == 1 else f"{n} curves, all the same" if distinct == 1
             else f"{n} curves ({distinct} distinct), first dark, last yellow")
    axes.set(xlabel="depth (mm)", ylabel="gain (dB)", title=title)
    axes.grid(alpha=0.3)
    return _svg(figure)


def _signal_plot(signal: dict[str, Any]) -> Any:
    """Signal channels against time since the first sample (s): one panel per channel
    (components as lines), the orientation angles together; at most :data:`MAX_SIGNAL_PANELS`."""
    panels = _signal_panels(signal)[:MAX_SIGNAL_PANELS]
    figure, axes_list = _figure(1.15, len(panels))
    times = np.asarray(signal["time_s"], float)
    units = signal.get("units") or {}
    for axes, (title, lines) in zip(axes_list, panels):
        for label, values in lines:
            axes.plot(times[:len(values)], values, linewidth=0.8, label=label)
        unit = units.get(title)
        axes.set_ylabel(title + (f"\n({unit})" if unit and unit not in ("unknown", "") else ""), fontsize=7)
        axes.grid(alpha=0.3)
        if len(lines) > 1:
            axes.legend(fontsize=6, loc="upper right", ncols=len(lines))
    axes_list[-1].set_xlabel("time since first sample (s)")
    return _svg(figure)


MAX_SIGNAL_PANELS = 6
ANGLE_CHANNELS = ("roll", "pitch", "yaw")      # drawn in one panel


def _signal_panels(signal: dict[str, Any]) -> list[tuple[str, list[tuple[str | None, np.ndarray]]]]:
    """``(title, [(line label, values)])`` per panel of a :func:`signal_facts` signal."""
    panels, angles = [], []
    for name, values in signal["channels"].items():
        values = np.asarray([np.nan if v is None else v for v in np.ravel(values)], float).reshape(np.shape(values))
        if values.ndim == 1 and name in ANGLE_CHANNELS:
            angles.append((name, values))
        elif values.ndim == 1:
            panels.append((name, [(None, values)]))
        else:
            labels = "xyz" if values.shape[1] == 3 else [f"q{k}" if values.shape[1] == 4 else str(k)
                                                          for k in range(values.shape[1])]
            panels.append((name, [(labels[k], values[:, k]) for k in range(values.shape[1])]))
    if angles:
        panels.insert(min(len(panels), 3), (", ".join(name for name, _ in angles), angles))
    return panels
