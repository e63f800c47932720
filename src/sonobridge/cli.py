"""The ``sonobridge`` command line.

Exit codes: 0 success, 1 a problem with the data or an output (a read-only or forbidden folder, a
full disk: one line on stderr, no traceback), 2 usage error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from ._version import __version__
from .core.options import ReadOptions
from .core.outcome import Outcome
from .errors import SonobridgeError, UnsupportedInputError
from .util.naming import unique_stems

log = logging.getLogger("sonobridge")
EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FRAME_NUMBERING = ("Frame numbers: 0-based in the command line (--frame of preview and render) and in "
                   "Python (stream.frames[i]); DICOM numbers frames from 1: sr --frame and pydcm's "
                   "decode(frame=) are 1-based.")
ANONYMISE_HELP = ("DICOM PS3.15 basic profile on every output: no patient identity, dates, institution, "
                  "physicians or source UIDs (kept DICOM headers included)")


def _report(error: SonobridgeError | OSError) -> str:
    """Print a user-facing error as one stderr line; return its text. An ``OSError`` (e.g. a
    read-only or full output folder) is worded as the package's errors: ``<path>: <problem>``."""
    if isinstance(error, OSError) and not isinstance(error, SonobridgeError):
        from .util.atomic import os_problem

        error = SonobridgeError(error.filename, os_problem(error))
    text = as_flags(str(error))
    print(f"sonobridge: error: {text}", file=sys.stderr)
    return text


#: a hint naming a Python keyword: "pass allow_truncated=True", "overwrite=True or --overwrite", "overwrite=True"
_KEYWORD_HINT = re.compile(r"\b(?P<verb>pass )?(?P<name>[a-z]+(?:_[a-z]+)*)=True(?: or (?P<flag>--[a-z-]+))?")


def as_flags(text: str) -> str:
    """``text`` with hints that name Python keywords worded as the command's flags.

    Examples
    --------
    >>> as_flags("truncated; pass allow_truncated=True to read them")
    'truncated; use --allow-truncated to read them'
    >>> as_flags("exists (overwrite it with overwrite=True or --overwrite)")
    'exists (overwrite it with --overwrite)'
    """
    def flag(match: re.Match) -> str:
        name = match["flag"] or "--" + match["name"].replace("_", "-")
        return f"use {name}" if match["verb"] else name

    return _KEYWORD_HINT.sub(flag, text)


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars: only on a terminal (a redirected stderr, e.g. a CI log, gets no carriage-return lines)."""
    return not args.quiet and sys.stderr.isatty()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on the command line: one line each, without source lines."""
    print(f"sonobridge: warning: {message}", file=sys.stderr)


def _read_options(args: argparse.Namespace) -> ReadOptions:
    """The reader options of every command that reads recordings (``--probe``, ``--sound-speed``,
    ``--allow-truncated``)."""
    return ReadOptions(probe=args.probe or None, sound_speed_m_s=args.sound_speed or None,
                       allow_truncated=args.allow_truncated)


def _reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`_read_options` as reader keyword arguments."""
    return _read_options(args).as_keywords()


def _format_value(value: Any) -> str:
    """A parameter as people read it: quantities in display units (MHz, mm, ms, deg; see
    :func:`sonobridge.core.describe.human_quantity`), TGC points as ``gain @ depth``."""
    from .core.describe import human_quantity

    if isinstance(value, dict) and set(value) == {"value", "unit"}:
        return human_quantity(float(value["value"]), value["unit"])
    if isinstance(value, dict) and {"depth_m", "gain_db"} <= set(value) and len(value["depth_m"]) <= 6:
        return ", ".join(f"{gain:g} dB @ {human_quantity(depth, 'm')}"
                         for depth, gain in zip(value["depth_m"], value["gain_db"]))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} items]"
    return str(value)


def _text_summary(label: str, info: dict[str, Any]) -> list[str]:
    lines = [f"{label}", f"  format: {info['format']}   start: {info['start_time'] or 'unknown'}"]
    for name, stream in info["streams"].items():
        shape = "x".join(map(str, [stream["n_frames"], *stream["frame_shape"]]))
        rate = stream["mean_frame_rate_hz"]
        lines.append(f"  stream {name}: {stream['kind']} {shape} {stream['dtype']}"
                     f"{'' if stream['has_frames'] else ' (timing only, no frame data)'}, "
                     f"{stream['duration_s']:.3f} s" + (f", {rate:.1f} fps" if rate else ""))
        geometry = stream.get("geometry")
        if geometry and geometry.get("type") == "pixels":
            dz, dx = geometry["pixel_spacing_m"]
            lines.append(f"    geometry: pixels {dx * 1e3:.4f} x {dz * 1e3:.4f} mm, x "
                         f"{geometry['x_range_m'][0] * 1e3:.1f}..{geometry['x_range_m'][1] * 1e3:.1f} mm, z "
                         f"{geometry['z_range_m'][0] * 1e3:.1f}..{geometry['z_range_m'][1] * 1e3:.1f} mm")
        elif geometry:
            depth = geometry.get("depth_range_m")
            lines.append(f"    geometry: fs {geometry['sampling_frequency_hz'] / 1e6:g} MHz, depth "
                         f"{depth[0] * 1e3:.2f}..{depth[1] * 1e3:.2f} mm, steer "
                         f"{[round(a * 57.29578, 2) for a in geometry['steering_angles_rad']]} deg, probe "
                         f"{(geometry['probe'] or {}).get('name', 'unknown')}")
        keys = [k for k in ("transmit_frequency", "imaging_depth", "focal_depth", "frame_rate", "tgc")
                if k in stream["parameters"]]
        if keys:
            lines.append("    " + ", ".join(f"{k}: {_format_value(stream['parameters'][k])}" for k in keys))
    for name, signal in info["signals"].items():
        lines.append(f"  signal {name}: {signal['n_samples']} samples, {signal['duration_s']:.3f} s, "
                     f"channels {', '.join(signal['channels'])}")
    return lines


def _find_sources(paths: list[str], failures: dict[str, str]) -> list:
    """The recordings at ``paths`` (not yet read); a path that holds none is reported and noted."""
    from .formats import find_recordings

    sources = []
    for path in paths:
        try:
            sources += find_recordings(path)
        except (SonobridgeError, OSError) as exc:
            failures[str(path)] = _report(exc)
    return sources


def _open_each(sources: list, args: argparse.Namespace, failures: dict[str, str]):
    """Yield ``(source, recording)``; a recording that cannot be read is reported on stderr,
    noted in ``failures`` and skipped, so the others still run."""
    from .util.progress import progress_bar

    for source in progress_bar(sources, progress=not args.quiet and len(sources) >= 2, unit="recording"):
        try:
            yield source, source.open(**_reader_options(args))
        except (SonobridgeError, OSError) as exc:
            failures[source.label] = _report(exc)


def _each_recording(paths: list[str], args: argparse.Namespace, failures: dict[str, str]):
    """Yield ``(label, recording)`` for every recording at ``paths`` (see :func:`_open_each`)."""
    for source, recording in _open_each(_find_sources(paths, failures), args, failures):
        yield source.label, recording


def cmd_info(args: argparse.Namespace) -> int:
    from .core.describe import describe

    failures: dict[str, str] = {}
    report = {label: describe(recording) for label, recording in _each_recording(args.paths, args, failures)}
    if args.json:
        json.dump({**report, **{label: {"error": problem} for label, problem in failures.items()}},
                  sys.stdout, indent=2)
        print()
    else:
        print("\n".join(line for label, info in report.items() for line in _text_summary(label, info)))
    return EXIT_DATA_ERROR if failures else EXIT_OK


def _preview_one(recording, label: str, stem: str, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Write one recording's summary and preview images: ``(label shown, what was written)``."""
    from .core.describe import describe
    from .processing.preview import preview
    from .util.atomic import write_bytes_atomic
    from .util.naming import safe_name
    from .util.png import save_png

    out_dir = Path(args.out_dir)
    if args.anonymise:              # named by a pseudonym: file names and the summary too
        from .core.anonymise import anonymise_recording, output_key, pseudonym

        secret = output_key(out_dir)
        label = stem = pseudonym(label, secret)
        recording = anonymise_recording(recording, secret)
    info = describe(recording)
    images = {}
    for name, stream in recording.streams.items():
        if stream.has_frames and stream.n_frames:
            image_path = out_dir / f"{stem}_{safe_name(name)}.png"     # "track/raw_data": one file
            shown = preview(stream, min(args.frame, stream.n_frames - 1))
            save_png(shown.image, image_path, pixel_size_m=shown.pixel_size_m)
            images[name] = str(image_path)
    summary_path = out_dir / f"{stem}.json"
    write_bytes_atomic(summary_path, json.dumps({"source": label, **info}, indent=2).encode())
    return label, {"summary": str(summary_path), "previews": images, "info": info}


def cmd_preview(args: argparse.Namespace) -> int:
    failures: dict[str, str] = {}
    written: dict[str, dict[str, Any]] = {}
    sources = _find_sources(args.paths, failures)
    stems = unique_stems({source.label: source.stem for source in sources})   # same-named files: no overwrite
    for source, recording in _open_each(sources, args, failures):
        try:                                  # one recording's fault is reported, the others go on
            label, result = _preview_one(recording, source.label, stems[source.label], args)
        except (SonobridgeError, OSError) as exc:
            failures[source.label] = _report(exc)
            continue
        written[label] = result
    if args.json:
        json.dump({**{k: {"summary": v["summary"], "previews": v["previews"]} for k, v in written.items()},
                   **{label: {"error": problem} for label, problem in failures.items()}}, sys.stdout, indent=2)
        print()
    else:
        for label, result in written.items():
            print("\n".join(_text_summary(label, result["info"])))
            print(f"  wrote {result['summary']}" + "".join(f", {p}" for p in result["previews"].values()))
    return EXIT_DATA_ERROR if failures else EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from .processing.render import display_streams, render

    if args.out and len(args.paths) > 1:
        print("sonobridge render: error: --out names one image: use --out-dir for several inputs",
              file=sys.stderr)
        return EXIT_USAGE
    failures: dict[str, str] = {}
    written: dict[str, dict[str, Any]] = {}
    sources = _find_sources(args.paths, failures)
    stems = unique_stems({source.label: source.stem for source in sources})   # same-named files: no overwrite
    for source, recording in _open_each(sources, args, failures):
        label = source.label
        stream, colour = display_streams(recording)
        path = Path(args.out) if args.out else Path(args.out_dir) / f"{stems[label]}_frame{args.frame}.png"
        try:                                  # one recording's fault is reported, the others go on
            if stream is None:
                raise UnsupportedInputError(label, "no image stream with frames to render")
            rendering = render(stream, args.frame, colour=None if args.no_colour else colour,
                               pixel_size_m=args.pixel_size_mm * 1e-3 if args.pixel_size_mm else None,
                               dynamic_range_db=args.dynamic_range, gain_db=args.gain)
            rendering.save(path)
        except IndexError as exc:
            failures[label] = _report(SonobridgeError(label, str(exc)))
            continue
        except (SonobridgeError, OSError) as exc:
            failures[label] = _report(exc)
            continue
        written[label] = {"image": str(path), **rendering.info}
    if args.json:
        json.dump({**written, **{label: {"error": problem} for label, problem in failures.items()}},
                  sys.stdout, indent=2)
        print()
    else:
        for label, result in written.items():
            size = result["pixel_size_m"]
            scale = (f"{size * 1e3:.3f} mm/px, scale bar {result['scale_bar_mm']} mm" if size
                     else "no pixel size known")
            print(f"{label}: wrote {result['image']} ({result['shape'][1]}x{result['shape'][0]} px, {scale})")
    return EXIT_DATA_ERROR if failures else EXIT_OK


def _convert_formats() -> list:
    """The formats ``convert`` writes: those with a one-file writer."""
    from .formats import specs

    return [spec for spec in specs() if spec.write is not None and not spec.writes_folder]


def _convert_format(path: Path | None, args: argparse.Namespace):
    """The format ``convert`` writes: OUTPUT's, when its name ends like a format's files; else ``--to``."""
    from .formats import get_format, writer_for

    spec = writer_for(path) if path is not None else None
    return spec if spec is not None and not spec.writes_folder else get_format(args.to)


def _writer_options(spec, args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options for ``spec.write``: the common ones, plus the command's options that belong
    to the format (argument names ``<format>_<option>``, e.g. ``dicom_compression``)."""
    prefix = f"{spec.name}_"
    own = {name[len(prefix):]: value for name, value in vars(args).items() if name.startswith(prefix)}
    return {"overwrite": args.overwrite, "anonymise": args.anonymise, "progress": _progress(args), **own}


def _convert_one(recording, path: Path, args: argparse.Namespace) -> None:
    spec = _convert_format(path if args.output else None, args)
    spec.write(recording, path, **_writer_options(spec, args))


def _anonymise_scope(args: argparse.Namespace, folder: Path):
    """With ``--anonymise``, the key of ``folder`` (:func:`sonobridge.core.anonymise.output_key`)
    for what is written inside the block: UIDs replaced as in earlier outputs there."""
    if not args.anonymise:
        return contextlib.nullcontext()
    from .core.anonymise import key_scope, output_key

    return key_scope(output_key(folder))


def _convert_plan(sources: list, args: argparse.Namespace) -> dict[str, Path] | None:
    """``{label: output path}`` for every recording found, decided before anything is written;
    None (after a usage message) when OUTPUT names one file for several recordings."""
    if args.output:
        if len(sources) > 1:
            print(f"sonobridge convert: error: {args.input} holds {len(sources)} recordings but OUTPUT "
                  "names one file: use --out-dir", file=sys.stderr)
            return None
        return {source.label: Path(args.output) for source in sources}
    suffix = _convert_format(None, args).write_suffix
    if args.anonymise:                  # file names without identity, the same again under the folder's key
        from .core.anonymise import output_key, pseudonym

        secret = output_key(args.out_dir)
        return {source.label: Path(args.out_dir) / f"{pseudonym(source.label, secret)}{suffix}" for source in sources}
    stems = unique_stems({source.label: source.stem for source in sources})
    return {label: Path(args.out_dir) / f"{stem}{suffix}" for label, stem in stems.items()}


def _unsupported_output(output: str) -> str | None:
    """Why ``convert`` cannot write OUTPUT (its name ends like no one-file format's files); None if it can."""
    from .formats import writer_for

    spec = writer_for(output)
    if spec is not None and not spec.writes_folder:
        return None
    suffixes = [s for spec in _convert_formats() for s in dict.fromkeys((spec.write_suffix, *spec.suffixes)) if s]
    return f"{output}: convert writes files named *{', *'.join(suffixes)}"


def _dataset_options(texts: list[str] | None) -> dict[str, str] | None:
    """``--option KEY=VALUE`` arguments as a mapping; None (after a usage message) if one is malformed."""
    options: dict[str, str] = {}
    for text in texts or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            print(f"sonobridge convert: error: --option {text!r}: expected KEY=VALUE", file=sys.stderr)
            return None
        options[key.strip()] = value
    return options


def _dataset_specs() -> list:
    """The formats that import public datasets (``convert --dataset``)."""
    from .formats import specs

    return [spec for spec in specs() if spec.convert_dataset is not None]


def cmd_convert_dataset(args: argparse.Namespace) -> int:
    """``convert --dataset NAME SRC DST``: a public dataset, as ``zea convert NAME``, into zea files."""
    options = _dataset_options(args.option)
    if options is None:
        return EXIT_USAGE
    if not args.output:
        print("sonobridge convert: error: --dataset needs SRC and DST", file=sys.stderr)
        return EXIT_USAGE
    try:
        spec = next(spec for spec in _dataset_specs() if args.dataset in spec.datasets)
        results = spec.convert_dataset(args.dataset, args.input, args.output, workers=args.workers,
                                       overwrite=args.overwrite, options=options, progress=_progress(args))
    except (SonobridgeError, OSError) as exc:
        _report(exc)
        return EXIT_DATA_ERROR
    failed = [result for result in results if result.failed]
    if args.json:
        json.dump({"dataset": args.dataset, "source": args.input, "destination": args.output,
                   "results": [result.to_json() for result in results]}, sys.stdout, indent=2)
        print()
    else:
        for result in failed:
            print(f"sonobridge: error: {as_flags(result.outcome.reason)}", file=sys.stderr)
        built = sum(result.status.value == "built" for result in results)
        print(f"{args.dataset}: {built} built, {sum(r.status.value == 'hit' for r in results)} up to date, "
              f"{len(failed)} failed -> {args.output}")
    return EXIT_DATA_ERROR if failed else EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    if getattr(args, "dataset", None):
        return cmd_convert_dataset(args)
    if args.output and (problem := _unsupported_output(args.output)):
        print(f"sonobridge convert: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    failures: dict[str, str] = {}
    written: dict[str, str] = {}
    sources = _find_sources([args.input], failures)
    plan = _convert_plan(sources, args)
    if plan is None:
        return EXIT_USAGE
    for source, recording in _open_each(sources, args, failures):
        label, path = source.label, plan[source.label]
        try:
            with _anonymise_scope(args, path.parent):
                _convert_one(recording, path, args)
        except (SonobridgeError, OSError) as exc:
            failures[label] = _report(exc)
            continue
        written[label] = str(path)
    if args.json:
        json.dump({**{label: {"output": path, "status": Outcome.built(path)} for label, path in written.items()},
                   **{label: {"status": Outcome.error(problem)} for label, problem in failures.items()}},
                  sys.stdout, indent=2)
        print()
    else:
        for label, path in written.items():
            print(f"{label}: wrote {path}")
    return EXIT_DATA_ERROR if failures else EXIT_OK


def _stems_per_folder(sources: list, folder_of) -> dict[str, str]:
    """``{label: stem}``, stems unique within each output folder (:func:`unique_stems`)."""
    groups: dict[Path, dict[str, str]] = {}
    for source in sources:
        groups.setdefault(Path(folder_of(source)).resolve(), {})[source.label] = source.stem
    return {label: stem for group in groups.values() for label, stem in unique_stems(group).items()}


def _source_digest(source, stem: str, args: argparse.Namespace) -> str:
    """The digest the outputs of ``source`` record, as ``sonobridge process`` computes it
    (:func:`sonobridge.pipeline.stages.output_digest`), so an output of a changed source is rebuilt."""
    from .pipeline.stages import Item, output_digest, source_key

    item = Item(source.label, source.format, stem, _read_options(args))
    return output_digest(source_key(item), bool(args.anonymise))


def cmd_video(args: argparse.Namespace) -> int:
    from .formats import stage_spec

    writer = stage_spec("video")          # the format of the pipeline's video stage
    failures: dict[str, str] = {}
    results: dict[str, Outcome] = {}
    sources = _find_sources(args.paths, failures)

    def folder_of(source) -> Path:
        return Path(args.out_dir) if args.out_dir else source.root.parent

    stems = _stems_per_folder(sources, folder_of)
    for source, recording in _open_each(sources, args, failures):
        label, stem = source.label, stems[source.label]
        if args.anonymise:              # a pseudonym names the outputs
            from .core.anonymise import output_key, pseudonym

            stem = pseudonym(label, output_key(folder_of(source)))
        produced = writer.write(recording, folder_of(source), stem=stem, crf=args.crf, keyint=args.keyint,
                                fps=args.fps, flip=args.flip, skip_existing=not args.overwrite,
                                overwrite=args.overwrite, progress=_progress(args), anonymise=args.anonymise,
                                source_digest=_source_digest(source, stem, args))
        if not produced:
            failures[label] = _report(UnsupportedInputError(label, "no image stream to encode (grey/RGB, dB image "
                                                                   "or amplitude frames)"))
        results.update({path: Outcome(state, path) for path, state in produced.items()})
    errors = {path: state for path, state in results.items() if state.failed}
    for path, state in errors.items():
        print(f"sonobridge: error: {path}: {as_flags(state.reason)}", file=sys.stderr)
    if args.json:
        json.dump({**results, **{label: Outcome.error(problem) for label, problem in failures.items()}},
                  sys.stdout, indent=2)
        print()
    else:
        for path, state in results.items():
            if not state.failed:
                print(f"{state:5} {path}")
    return EXIT_DATA_ERROR if failures or errors else EXIT_OK


def _failures(result: dict[str, Any]) -> list[str]:
    """What failed in one recording's ``process`` result, ``"<stage>: <reason>"`` each (the stage's
    output file named when it has several)."""
    from .core.outcome import outcome
    from .pipeline.report import OUTCOME_KEYS

    problems = []
    for stage in OUTCOME_KEYS:
        value = result.get(stage)
        states = value.items() if isinstance(value, dict) else [(None, value)]
        for path, state in states:
            done = outcome(state)
            if done is not None and done.failed:
                where = f"{stage} {Path(path).name}" if path and len(states) > 1 else stage
                problems.append(f"{where}: {done.reason or done.status.value}")
    qc = result.get("qc")
    if isinstance(qc, dict) and "error" in qc:
        problems.append(f"qc: {qc['error']}")
    return problems


def cmd_process(args: argparse.Namespace) -> int:
    from .core.outcome import Status
    from .pipeline.report import overall
    from .pipeline.run import REPORT_HTML, REPORT_JSON, default_out_dir, process

    if args.push:
        _quiet_network(args)
    results = process(args.paths, args.out, dicom=args.dicom, workers=args.workers, scheduler=args.scheduler,
                      overwrite=args.overwrite, progress=_progress(args), anonymise=args.anonymise,
                      lock_timeout_s=args.wait, push=args.push, **_reader_options(args))
    statuses = {label: overall(result) for label, result in results.items()}
    for label, result in sorted(results.items()):     # every failure with its reason, one line each
        for problem in _failures(result):
            print(f"sonobridge: error: {label}: {as_flags(problem)}", file=sys.stderr)
    out = Path(args.out) if args.out else default_out_dir(args.paths)
    if args.json:
        json.dump({"report": str(out / REPORT_JSON), "status": {label: s.value for label, s in statuses.items()}},
                  sys.stdout, indent=2)
        print()
    else:
        for label, status in sorted(statuses.items(), key=lambda item: (item[1] is not Status.ERROR, item[0])):
            print(f"{status.value:5} {label}")
        print(f"report: {out / (REPORT_HTML if (out / REPORT_HTML).is_file() else REPORT_JSON)}")
    return EXIT_DATA_ERROR if Status.ERROR in statuses.values() else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    validate = _format_with("validate").validate
    reports = [validate(path) for path in args.paths]
    if args.json:
        json.dump([report.to_json() for report in reports], sys.stdout, indent=2)
        print()
    else:
        for report in reports:
            verdict = "valid" if report.valid else "INVALID"
            print(f"{report.path}: {verdict}{' (legacy layout)' if getattr(report, 'legacy', False) else ''}")
            for finding in report.findings:
                print(f"  {finding}")
    return EXIT_OK if all(report.valid for report in reports) else EXIT_DATA_ERROR


def _format_with(hook: str):
    """The first registered format that offers ``hook`` (e.g. ``validate``, ``unpack``)."""
    from .formats import specs

    for spec in specs():
        if getattr(spec, hook) is not None:
            return spec
    raise UnsupportedInputError(None, f"no format offers {hook}")


def cmd_unpack(args: argparse.Namespace) -> int:
    results = _format_with("unpack").unpack(args.path, args.out_dir, overwrite=args.overwrite)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for path, status in results.items():
            print(f"{status:5} {path}")
    return EXIT_OK


def _sr_points(text: str) -> list[tuple[float, float]]:
    """``x0,y0,x1,y1[,...]`` pixel coordinates (column, row) -> points."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers x0,y0,x1,y1, got {text!r}") from None
    if len(values) < 4 or len(values) % 2:
        raise argparse.ArgumentTypeError(f"expected x0,y0,x1,y1 (pairs of pixel coordinates), got {text!r}")
    return list(zip(values[::2], values[1::2]))


def cmd_sr(args: argparse.Namespace) -> int:
    """Write a TID 1500 length report on SOURCE (``--length``), or print the measurements of an SR."""
    from .dicom import sr
    from .errors import OutputExistsError

    if args.length is not None:
        if args.out is None:
            raise UnsupportedInputError(args.path, "--length needs --out REPORT.dcm")
        if Path(args.out).exists() and not args.overwrite:
            raise OutputExistsError(args.out, "exists (use --overwrite to replace it)")
        sr.write_length_report(args.path, args.length, frame=args.frame, output=args.out)
        report = sr.read_report(args.out)
    else:
        report = sr.read_report(args.path)
    if args.json:
        json.dump(report["measurements"], sys.stdout, indent=2)
        print()
    else:
        for m in report["measurements"]:
            frames = f" frame {','.join(map(str, m['ref_frames']))}" if m.get("ref_frames") else ""
            print(f"{m.get('tracking_id')}: {m['concept_meaning']} {m['value']:.3f} {m['unit_code']}{frames}")
    return EXIT_OK


def _label_array(path: Path):
    """The per-frame labels of MASK: a .npy array, a NIfTI volume or a label video (one grey
    frame per source frame, read by the format that reads its suffix as frames)."""
    from .dicom import seg
    from .formats.registry import frames_reader_for

    video = frames_reader_for(path)
    return video.read_frames(path) if video is not None else seg.load_labelmap(path)


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the MCP tools on stdin/stdout until stdin closes (:mod:`sonobridge.mcp_server`)."""
    from .mcp_server import serve

    return serve()


def cmd_seg(args: argparse.Namespace) -> int:
    from .dicom import seg
    from .errors import OutputExistsError

    out, mask = Path(args.out), Path(args.mask)
    if out.exists() and not args.overwrite:
        raise OutputExistsError(out, "exists (use --overwrite)")
    labels = _label_array(mask)
    segments = seg.segments_for(labels, args.label or None, mask)
    seg.write_seg(args.source, labels, segments, output=out)
    print(out)
    return EXIT_OK


def _quiet_network(args: argparse.Namespace) -> None:
    """pynetdicom logs each failed connection as an ERROR; the command reports the failure itself
    (one line), so its log shows only with --verbose."""
    if not args.verbose:
        logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)


def _pacs(args: argparse.Namespace):
    """The PACS of ``args.url`` (:func:`sonobridge.pipeline.push.endpoint`)."""
    from .pipeline.push import endpoint

    _quiet_network(args)

    return endpoint(args.url, timeout_s=args.timeout, auth=getattr(args, "auth", "") or "",
                    move_aet=getattr(args, "move_aet", "") or "", move_port=getattr(args, "move_port", 0) or 0)


def cmd_pacs(args: argparse.Namespace) -> int:
    """``pacs echo URL`` (exit 0: it answers) / ``pacs find URL`` (the matches; exit 0 even for none)."""
    target = _pacs(args)
    if args.action == "echo":
        target.echo()
        answer: Any = {"url": args.url, "status": "ok"}
        text = [f"{args.url}: ok"]
    else:
        answer = target.find(args.level, study=args.study or "", patient=args.patient or "")
        text = ["  ".join(f"{key}={value}" for key, value in row.items()) for row in answer]
    if args.json:
        json.dump(answer, sys.stdout, indent=2)
        print()
    elif text:
        print("\n".join(text))
    return EXIT_OK


def cmd_pull(args: argparse.Namespace) -> int:
    """Fetch a study (or a patient's studies) into ``--out``; re-running fetches only what is missing."""
    from .pipeline.push import pull

    if args.move_aet and not args.move_port:
        print("sonobridge pull: error: --move-aet needs --move-port (where the PACS sends to)", file=sys.stderr)
        return EXIT_USAGE
    summary = pull(_pacs(args), args.out, study=args.study or "", patient=args.patient or "")
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        for uid, study in summary["studies"].items():
            print(f"{study['folder']}: {study['instances']} instance(s), {study['fetched']} fetched now")
    return EXIT_OK


def _add_pacs_commands(commands, common: argparse.ArgumentParser) -> None:
    """The ``pacs`` and ``pull`` commands."""
    url_help = "dicom://AET@host:port (DIMSE) or http(s)://host[:port]/dicom-web (DICOMweb)"
    network = argparse.ArgumentParser(add_help=False)
    network.add_argument("--timeout", type=_positive_float, default=30.0, metavar="SECONDS",
                         help="per network operation (default 30); failures are retried 3 times")
    network.add_argument("--auth", help="DICOMweb Authorization header value (\"Bearer ...\", \"Basic ...\")")
    network.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    pacs = commands.add_parser("pacs", parents=[common, network], help="check a PACS: echo, find",
                               description="echo: does the PACS answer (C-ECHO, or a QIDO-RS query)? find: its "
                                           "patients, studies, series or instances (C-FIND or QIDO-RS). Exit 0 "
                                           "on an answer (also with no matches), 1 when it cannot be reached or "
                                           "fails, 2 on a usage error.")
    pacs.add_argument("action", choices=["echo", "find"])
    pacs.add_argument("url", metavar="URL", help=url_help)
    pacs.add_argument("--level", default="STUDY", type=str.upper, choices=["PATIENT", "STUDY", "SERIES", "IMAGE"],
                      help="find: query level (default STUDY)")
    pacs.add_argument("--study", metavar="UID", help="find: only this StudyInstanceUID")
    pacs.add_argument("--patient", metavar="ID", help="find: only this PatientID")
    pacs.set_defaults(handler=cmd_pacs)
    pull = commands.add_parser("pull", parents=[common, network], help="fetch a study from a PACS into a folder",
                               description="Fetch every instance of a study (or of each study of a patient) "
                                           "into OUT/<StudyInstanceUID>/<SOPInstanceUID>.dcm: WADO-RS, or C-GET "
                                           "(C-MOVE with --move-aet). Files are written whole or not at all; "
                                           "a re-run fetches only what is missing. The folder is ready for "
                                           "sonobridge process.")
    pull.add_argument("url", metavar="URL", help=url_help)
    which = pull.add_mutually_exclusive_group(required=True)
    which.add_argument("--study", metavar="UID", help="StudyInstanceUID")
    which.add_argument("--patient", metavar="ID", help="PatientID: every study of the patient")
    pull.add_argument("--out", required=True, metavar="DIR", help="output folder")
    pull.add_argument("--move-aet", metavar="AET", help="DIMSE: C-MOVE to this AE title (the PACS must know it "
                                                        "as this host and --move-port) instead of C-GET")
    pull.add_argument("--move-port", type=int, default=0, metavar="PORT", help="port to receive C-MOVE on")
    pull.set_defaults(handler=cmd_pull)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _millimetres(text: str) -> float:
    """A positive length given in mm, in metres."""
    return _positive_float(text) * 1e-3


def _default_convert_format() -> str:
    """``convert``'s default format: the pipeline's interchange format (its ``ingest`` stage)."""
    from .formats import stage_spec

    return stage_spec("ingest").name


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--probe", help="probe when the file names none, e.g. L7, L15, C3 (Clarius table)")
    parser.add_argument("--sound-speed", type=float, metavar="M_PER_S", help="speed of sound (default 1540)")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="read the complete frames of truncated files (with a warning)")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _add_verbosity(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log progress details")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="no progress bars or warnings")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Paragraphs wrapped to the terminal; indented lines (the examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.split("\n\n")
        return "\n\n".join(paragraph if any(line.startswith(" ") for line in paragraph.splitlines())
                           else argparse.HelpFormatter._fill_text(self, paragraph, width, indent)
                           for paragraph in paragraphs)


#: each command's ``--help`` examples (plain text, one command line each)
EXAMPLES: dict[str, list[str]] = {
    "": ["sonobridge info capture/", "sonobridge process cohort/ --out results/",
         "sonobridge convert capture/ capture.dcm"],
    "info": ["sonobridge info capture/", "sonobridge info --json --probe L7 scan.raw"],
    "preview": ["sonobridge preview capture/ --out-dir previews --frame 10"],
    "render": ["sonobridge render capture/ --out bmode.png", "sonobridge render cine.dcm --frame 0 --out-dir images"],
    "convert": ["sonobridge convert capture/ capture.hdf5",
                "sonobridge convert capture/ capture.dcm --dicom-compression jpeg-ls",
                "sonobridge convert cohort/ --out-dir zea/ --to zea",
                "sonobridge convert --dataset echonet raw/ echonet-zea/ --workers 8",
                "sonobridge convert --dataset images frames/ zea/ --option 'group_pattern=(clip\\d+)_\\d+\\.png'"],
    "video": ["sonobridge video capture/ --out-dir videos", "sonobridge video cohort/ --crf 18"],
    "process": ["sonobridge process cohort/ --out results/",
                "sonobridge process cohort/ --dicom --anonymise --workers 4"],
    "pacs": ["sonobridge pacs echo dicom://ORTHANC@localhost:4242",
             "sonobridge pacs find http://localhost:8042/dicom-web --level SERIES"],
    "pull": ["sonobridge pull dicom://ORTHANC@localhost:4242 --study 1.2.3.4 --out studies/"],
    "validate": ["sonobridge validate capture.hdf5", "sonobridge validate --json *.hdf5"],
    "sr": ["sonobridge sr cine.dcm --length 100,50,200,50 --frame 4 --out length.dcm",
           "sonobridge sr length.dcm --json"],
    "unpack": ["sonobridge unpack capture.tar --out-dir unpacked/"],
    "seg": ["sonobridge seg cine.dcm labels.nii.gz --out seg.dcm --label vessel --label plaque"],
    "mcp": ["sonobridge mcp", "python -m sonobridge.dicom.mcp"],
}


def _epilog(command: str) -> str:
    """The ``--help`` tail of ``command`` ("" for the program): its examples, and the frame numbering
    where frames are chosen."""
    lines = ["Examples:", *(f"  {line}" for line in EXAMPLES.get(command, []))]
    frames = [FRAME_NUMBERING] if command in ("", "preview", "render", "sr") else []
    return "\n\n".join(["\n".join(lines), *frames])


def _plain_help(parser: argparse.ArgumentParser, commands) -> None:
    """Every command's ``--help``: wrapped plain text and an Examples section."""
    for name, command in {"": parser, **commands.choices}.items():
        command.formatter_class, command.epilog = _HelpFormatter, _epilog(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sonobridge", description="Read ultrasound recordings (Clarius, Telemed, "
                                                                    "DICOM, zea) and convert, render, check and "
                                                                    "process them.")
    parser.add_argument("--version", action="version", version=f"sonobridge {__version__}")
    _add_verbosity(parser, default=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_verbosity(common, default=argparse.SUPPRESS)  # also accepted after the command
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", parents=[common], help="describe the recordings at a path",
                               description="Streams, frames, shapes, dtypes, duration, geometry and "
                                           "parameters of every recording at each PATH.")
    info.add_argument("paths", nargs="+", metavar="PATH", help="file, package or folder")
    _add_reader_options(info)
    info.set_defaults(handler=cmd_info)

    preview = commands.add_parser("preview", parents=[common], help="write a summary and preview images",
                                  description="For every recording at each PATH write <name>.json "
                                              "(the info summary) and <name>_<stream>.png (one frame as a "
                                              "person recognises it: scan-converted when the probe is known, "
                                              "else depth-down; magnitude of I/Q, one transmit of channel "
                                              "data).")
    preview.add_argument("paths", nargs="+", metavar="PATH", help="file, package or folder")
    preview.add_argument("--out-dir", default="sonobridge-preview", help="output folder")
    preview.add_argument("--frame", type=int, default=0, help="0-based frame index to show (default 0)")
    preview.add_argument("--anonymise", action="store_true", help=ANONYMISE_HELP)
    _add_reader_options(preview)
    preview.set_defaults(handler=cmd_preview)

    render = commands.add_parser("render", parents=[common], help="a calibrated image of one frame (PNG)",
                                 description="Render one frame of each recording at PATH as a PNG in "
                                             "physical proportions: pre-scan data scan-converted (colour flow "
                                             "overlaid with its velocity or Nyquist legend), stored images "
                                             "(DICOM, zea) as they are; with a depth axis in mm, the frame "
                                             "time and a millimetre scale bar. The PNG records its pixel size "
                                             "(pHYs), so ImageJ/Fiji measure in mm.")
    render.add_argument("paths", nargs="+", metavar="PATH", help="file, package or folder")
    render.add_argument("--frame", type=int, default=0, help="0-based frame index (default 0)")
    target = render.add_mutually_exclusive_group()
    target.add_argument("--out", help="output PNG (one input)")
    target.add_argument("--out-dir", default=".", help="folder for <name>_frame<N>.png (default .)")
    render.add_argument("--pixel-size-mm", type=_positive_float, help="square pixel size (default: from the geometry)")
    render.add_argument("--dynamic-range", type=_positive_float, default=60.0, metavar="DB",
                        help="log-compression range for RF/IQ (default 60 dB)")
    render.add_argument("--gain", type=float, default=0.0, metavar="DB", help="display gain for RF/IQ")
    render.add_argument("--no-colour", action="store_true", help="B-mode only, no colour-flow overlay")
    _add_reader_options(render)
    render.set_defaults(handler=cmd_render)

    convert = commands.add_parser("convert", parents=[common],
                                  help="convert a recording to zea HDF5, DICOM or a TIFF stack",
                                  description="Write the recording at INPUT as a zea-format HDF5 file "
                                              "(every stream bit-exact, one track each, with timestamps, "
                                              "geometry as coordinates in metres, the scan-converted "
                                              "image of envelope streams, signals and all vendor metadata) "
                                              "or, for OUTPUT.dcm / --to dicom, as an Ultrasound Multi-frame "
                                              "DICOM object (calibration as ultrasound regions, frame "
                                              "times), or, for OUTPUT.tif / --to tiff, as an ImageJ TIFF "
                                              "stack for Fiji and napari (pixel size in mm, frame interval). "
                                              "Exit 1 if a recording could not be converted.")
    convert.add_argument("input", metavar="INPUT", help="file, package or folder")
    convert.add_argument("output", nargs="?", metavar="OUTPUT", help="output .hdf5, .dcm or .tif (one recording)")
    writable = [spec.name for spec in _convert_formats()]
    default_to = _default_convert_format()
    convert.add_argument("--to", choices=writable, default=default_to,
                         help=f"format with --out-dir (default {default_to})")
    convert.add_argument("--out-dir", default=".",
                         help="folder for <name>.hdf5 / .dcm / .tif when OUTPUT is not given")
    convert.add_argument("--dicom-compression", default="jpeg-ls", choices=["jpeg-ls", "none", "rle", "jpeg-xl", "jpeg"],
                         help="DICOM pixel data: jpeg-ls (default), none, rle, jpeg-xl (all lossless) or jpeg "
                              "(baseline, lossy)")
    # a format's own options: argument name "<format>_<writer keyword>" (see _writer_options)
    convert.add_argument("--patient-name", dest="dicom_patient_name",
                         help="DICOM PatientName (default: empty, never invented)")
    convert.add_argument("--patient-id", dest="dicom_patient_id", help="DICOM PatientID (default: empty)")
    convert.add_argument("--anonymise", action="store_true", help=ANONYMISE_HELP)
    convert.add_argument("--compression", dest="zea_compression", default="fast",
                         choices=["fast", "small", "zea", "gzip", "lzf", "none"],
                         help="codec: fast (default), small (smaller, slower), zea (zea's default), "
                              "gzip/lzf/none (readable without hdf5plugin)")
    convert.add_argument("--no-scan-convert", dest="zea_scan_converted", action="store_false",
                         help="skip the scan-converted image_sc product")
    convert.add_argument("--pixel-size-mm", dest="zea_pixel_size_m", type=_millimetres, metavar="MM",
                         help="image_sc pixel size (default: from the geometry)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output")
    datasets = sorted(name for spec in _dataset_specs() for name in spec.datasets)
    convert.add_argument("--dataset", choices=datasets, metavar="NAME",
                         help="INPUT is the public dataset NAME as downloaded and OUTPUT its zea folder, as "
                              f"`zea convert NAME` writes it ({', '.join(datasets)}); resumable: "
                              "outputs already built from the same sources are kept")
    convert.add_argument("--workers", type=int, metavar="N", help="processes for --dataset (default: all cores)")
    convert.add_argument("--option", action="append", metavar="KEY=VALUE",
                         help="a --dataset converter's option (repeatable), e.g. split_path=old/ for echonet")
    _add_reader_options(convert)
    convert.set_defaults(handler=cmd_convert)

    video = commands.add_parser("video", parents=[common], help="lossless grey HEVC .mp4 with a frame index",
                                description="Encode every image stream of each recording at PATH to "
                                            "<name>.mp4 (lossless monochrome HEVC, closed GOP, no B-frames) "
                                            "with <name>.mp4.index.json and <name>.mp4.dnav-toc beside it. "
                                            "Existing outputs whose index matches are kept (status hit).")
    video.add_argument("paths", nargs="+", metavar="PATH", help="file, package or folder")
    video.add_argument("--out-dir", help="output folder (default: beside each input)")
    video.add_argument("--crf", type=float, help="lossy quality (default: lossless)")
    video.add_argument("--keyint", type=int, default=2,
                       help="frames between keyframes (default 2: a random frame costs <= 2 decodes)")
    video.add_argument("--fps", type=_positive_float, help="frame rate (default: the recording's mean rate)")
    video.add_argument("--flip", action="store_true", help="mirror left/right")
    video.add_argument("--overwrite", action="store_true", help="re-encode existing outputs")
    video.add_argument("--anonymise", action="store_true", help=ANONYMISE_HELP)
    _add_reader_options(video)
    video.set_defaults(handler=cmd_video)

    process = commands.add_parser("process", parents=[common], help="bring a cohort to the same processed state",
                                  description="Discover every recording under each PATH (Clarius, DICOM, Telemed, "
                                              "zea) and run what each still needs: zea HDF5, video + frame index, QC "
                                              "(and DICOM with --dicom). Completed outputs are kept; a killed run "
                                              "resumes. Writes sonobridge-report.json and .html. Exit 1 if any "
                                              "recording failed.")
    process.add_argument("paths", nargs="+", metavar="PATH", help="file, package or folder tree")
    process.add_argument("--out", help="output folder (default: sonobridge-out beside the first PATH)")
    process.add_argument("--dicom", action="store_true", help="also write Ultrasound Multi-frame DICOM")
    process.add_argument("--workers", type=int, default=2, help="recordings processed side by side (default 2)")
    process.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask cluster")
    process.add_argument("--overwrite", action="store_true", help="redo every stage")
    process.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                         help="wait up to this long for another run on the same --out folder (default: exit)")
    process.add_argument("--anonymise", action="store_true", help=ANONYMISE_HELP)
    process.add_argument("--push", metavar="URL",
                         help="send every DICOM output to this PACS (implies --dicom): dicom://AET@host:port "
                              "(C-STORE) or http(s)://host/dicom-web (STOW-RS); instances it holds are not sent again")
    _add_reader_options(process)
    process.set_defaults(handler=cmd_process)
    _add_pacs_commands(commands, common)

    validate = commands.add_parser("validate", parents=[common], help="check zea-format HDF5 files",
                                   description="Check each file against the zea data format "
                                               "(structure, dtypes, shapes, dimensions, value rules). "
                                               "Exit 0 if all are valid, 1 otherwise.")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="HDF5 file")
    validate.add_argument("--json", action="store_true", help="machine-readable findings on stdout")
    validate.set_defaults(handler=cmd_validate)

    report = commands.add_parser("sr", parents=[common], help="write or read a TID 1500 measurement report",
                                 description="With --length: measure a length drawn on the DICOM image PATH "
                                             "(pixels; mm from its ultrasound region calibration) and write "
                                             "a TID 1500 Structured Report to --out. Without: print the "
                                             "measurements of the SR at PATH.")
    report.add_argument("path", metavar="PATH", help="DICOM image (with --length) or SR")
    report.add_argument("--length", type=_sr_points, metavar="X0,Y0,X1,Y1",
                        help="polyline in pixel coordinates (column,row pairs)")
    report.add_argument("--frame", type=int, help="DICOM frame number, 1-based, of a multi-frame image (default 1)")
    report.add_argument("--out", help="the SR file to write")
    report.add_argument("--overwrite", action="store_true", help="replace an existing output")
    report.add_argument("--json", action="store_true", help="the measurements as JSON on stdout")
    report.set_defaults(handler=cmd_sr)

    unpack = commands.add_parser("unpack", parents=[common], help="unpack a Clarius package, decompressing .lzo",
                                 description="Write the files of the Clarius captures at PATH into "
                                             "OUT_DIR, .raw.lzo decompressed to .raw.")
    unpack.add_argument("path", metavar="PATH", help=".tar package or folder")
    unpack.add_argument("--out-dir", required=True)
    unpack.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    unpack.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    unpack.set_defaults(handler=cmd_unpack)

    segment = commands.add_parser("seg", parents=[common], help="a DICOM Segmentation of a DICOM sonobridge wrote",
                                  description="Write the labels of MASK (.npy, .nii/.nii.gz or a per-frame "
                                              "label video .mp4; one plane per frame of SOURCE) as a DICOM "
                                              "Segmentation referencing SOURCE frame by frame. Each distinct "
                                              "non-zero value is one segment, in ascending order.")
    segment.add_argument("source", metavar="SOURCE", help="the DICOM image (ultrasound multi-frame included)")
    segment.add_argument("mask", metavar="MASK", help=".npy, .nii, .nii.gz or .mp4 labels")
    segment.add_argument("--out", required=True, help="the SEG file to write")
    segment.add_argument("--label", action="append", metavar="NAME",
                         help="segment name, once per label value in ascending order")
    segment.add_argument("--overwrite", action="store_true", help="replace an existing output")
    segment.set_defaults(handler=cmd_seg)

    agent = commands.add_parser("mcp", parents=[common], help="serve sonobridge to AI agents over MCP (stdio)",
                                description="Run a Model Context Protocol server on stdin/stdout (what an "
                                            "agent or MCP client starts): tools to inspect recordings and "
                                            "DICOM files, show and render frames (PNG images), convert, check "
                                            "(QC), query a PACS, and bridge to FHIR and HL7. Runs until stdin "
                                            "closes. Needs the mcp extra: pip install 'sonobridge[mcp]'.")
    agent.set_defaults(handler=cmd_mcp)
    _plain_help(parser, commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="sonobridge: %(levelname)s: %(message)s")
    root, level = logging.getLogger(), logging.getLogger().level
    if args.quiet:
        root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():   # the caller's warning and log levels are restored on return
            warnings.showwarning = _show_warning
            if args.quiet:
                warnings.simplefilter("ignore")
            return _run(args)
    finally:
        root.setLevel(level)


#: import names that differ from their distribution's name
MODULE_DISTRIBUTIONS = {"skimage": "scikit-image", "pywt": "pywavelets", "pil": "pillow", "yaml": "pyyaml"}


def extra_for(module: str) -> str | None:
    """The optional extra of sonobridge that installs ``module`` (its top-level package, by its
    distribution's name, from the installed package's metadata; ``all``/``test``/``docs`` aside),
    or None when none does (a core dependency, or metadata unavailable)."""
    from importlib import metadata

    top = module.split(".")[0].lower().replace("_", "-")
    top = MODULE_DISTRIBUTIONS.get(top, top)
    try:
        requirements = metadata.requires("sonobridge") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        found = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*])?.*extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if found and found[3] not in ("all", "test", "docs") \
                and (found[1].lower().replace("_", "-").split(".")[0] == top
                     or top in (found[2] or "").strip("[]").split(",")):
            return found[3]
    return None


def _missing_module(error: ImportError) -> str:
    """One line for a module that is not installed: the extra that brings it, if any."""
    module = error.name or "a module"
    extra = extra_for(module)
    hint = f"pip install 'sonobridge[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
    return f"this needs {module.split('.')[0]}, which is not installed: {hint}"


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; the package's errors, ``OSError`` and a missing optional module
    (named with its extra) as one stderr line."""
    try:
        return args.handler(args)
    except SonobridgeError as exc:
        _report(exc)
        return EXIT_DATA_ERROR
    except ImportError as exc:      # an optional dependency a path imports directly: never a traceback
        print(f"sonobridge: error: {_missing_module(exc)}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except KeyboardInterrupt:
        print("sonobridge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # an output folder read-only, a permission denied, a disk full: one line
        _report(exc)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
