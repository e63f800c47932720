"""Validate a file against the zea data format: structure, dtypes, shapes, named-dimension
consistency within each track and value rules, with findings naming the HDF5 path and the reason.

Arrays are checked frame by frame (bounded memory). Errors make a file invalid; warnings (e.g. an
image without coordinates) do not, as in zea 0.1.8.

Remote files (``https://``, ``hf://``: :mod:`.remote`) are validated in place through byte-range
requests: only what the checks read is fetched (metadata, scan/probe arrays, and every frame of a
float dB image only). A local file is first scanned whole for damage that would hang HDF5; a remote
one gets the same guards as remote reading (:func:`.remote.open_remote_h5`), not that scan.

Examples
--------
>>> from sonobridge.formats.zea.validate import validate
>>> validate("/no/such/file.hdf5").valid
False
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import READ_ERRORS, FormatError
from ..h5guard import open_checked
from .remote import is_remote, open_remote_h5
from .schema import (ANNOTATION_FIELDS, ATTENUATION_FIELDS, CHANNEL_PRODUCTS, CONSISTENT_DIMS,
                     CUSTOM_MAP_DTYPES, FLOAT_MAPS, GENERIC_MAP_DIMS, MAP_FIELDS, MAP_PRODUCTS,
                     METADATA_FIELDS, METADATA_GROUPS, METRICS_FIELDS, PROBE_FIELDS, RAW_DIMS,
                     ROTATION_WIDTHS, SCAN_FIELDS, SCAN_SPEC, SIGNAL_ND_FIELDS, SIGNAL_TIMING, SUBJECT_FIELDS,
                     dataset_value, dtype_fits, dtype_name, shape_fits)

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")

#: The zea rule for the HDF5 open guard (:func:`~sonobridge.formats.h5guard.open_checked`):
#: ``custom/`` is free-form and read only on request, so its types are not checked on opening;
#: ``custom/sonobridge`` (the core recording sonobridge writes and reads back) is.
FREE_FORM = ("custom/",)
READ_FREE_FORM = ("custom/sonobridge",)


@dataclass(frozen=True)
class Finding:
    """One problem: ``key`` is the HDF5 path, ``severity`` ``"error"`` or ``"warning"``."""

    key: str
    problem: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: /{self.key}: {self.problem}"


@dataclass
class Report:
    """The verdict on one file: valid when there is no error finding."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    legacy: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "valid": self.valid, "legacy": self.legacy,
                "findings": [f.__dict__ for f in self.findings]}


def validate(path: str | Path) -> Report:
    """Check the file at ``path`` (a local path, or an ``https://`` / ``hf://`` URL read lazily)
    against the zea format; never raises for bad content (an unreachable URL is a finding)."""
    import hdf5plugin  # noqa: F401  (registers the Blosc and other filters zea uses)

    report = Report(str(path))
    remote = None
    try:
        if is_remote(path):
            handle, remote = open_remote_h5(str(path), skip=FREE_FORM, keep=READ_FREE_FORM)
        else:                         # the whole file is scanned here, whatever its size
            handle = open_checked(path, skip=FREE_FORM, keep=READ_FREE_FORM, scan_limit=None)
    except FormatError as error:      # would hang or crash HDF5, or is not HDF5: not read
        report.findings.append(Finding("", error.problem))
        return report
    try:
        _Checker(handle, report).run()
    except READ_ERRORS as error:
        # a damaged or mis-shaped file: e.g. a group where a dataset belongs, unreadable chunks
        report.findings.append(Finding("", f"unreadable structure or data ({type(error).__name__}: {error})"))
    finally:
        try:
            handle.close()
            if remote is not None:
                remote.close()
        except READ_ERRORS as error:
            report.findings.append(Finding("", f"file could not be closed cleanly ({error})"))
    return report


def check_tree(root, label: str) -> Report:
    """Check an in-memory file tree (see :mod:`.writer`) before it is written: the same rules as
    :func:`validate`. Value rules on lazily computed arrays are left to the writer, which checks
    each frame as it is produced."""
    report = Report(label)
    _Checker(root, report).run()
    return report


def is_dataset(item) -> bool:
    """An HDF5 dataset or an array (anything with a dtype and a shape); groups are mappings."""
    return hasattr(item, "dtype") and hasattr(item, "shape")


def is_legacy(handle) -> bool:
    """Pre-0.1.0 files: no ``zea_version`` attribute, or a version below 0.1.0."""
    version = handle.attrs.get("zea_version")
    if version is None:
        return True
    parts = re.findall(r"\d+", str(version.decode() if isinstance(version, bytes) else version))
    return tuple(int(p) for p in parts[:2]) < (0, 1)


def track_groups(handle) -> list[tuple[str, Any]]:
    """``(key, group)`` of each track: ``tracks/track_N`` in index order, or the root for the
    single-track flat layout (legacy files and the ``data/``+``scan/`` shorthand)."""
    if "tracks" in handle and not is_dataset(handle["tracks"]):
        names = sorted(handle["tracks"], key=_track_number)
        return [(f"tracks/{name}", handle["tracks"][name]) for name in names]
    if "data" in handle or "scan" in handle:
        return [("", handle)]
    return []


def _track_number(name: str) -> int:
    """N of ``track_N`` (unnumbered names sort last)."""
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)   # damaged link names
    suffix = text.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isascii() and suffix.isdigit() else 1 << 30


class _Checker:
    def __init__(self, handle, report: Report):
        self.handle, self.report = handle, report
        self.legacy = report.legacy = is_legacy(handle)
        self.frame_counts: set[int] = set()     # n_frames of every track (per-frame metadata)

    def error(self, key: str, problem: str) -> None:
        self.report.findings.append(Finding(key, problem))

    def warn(self, key: str, problem: str) -> None:
        self.report.findings.append(Finding(key, problem, "warning"))

    def run(self) -> None:
        handle = self.handle
        if bool(handle.attrs.get("event_structure", False)) or any(k.startswith("event_") for k in handle):
            self.error("", "event-structured legacy file (zea 0.0.x events): not supported by the format")
            return
        tracks = track_groups(handle)
        if not tracks:
            self.report.legacy = False
            self.error("", "no tracks/ and no data/ group: not a zea file")
            return
        for key, group in tracks:
            self.check_track(key, group, len(tracks))
        self.check_probe()
        self.check_metadata()
        self.check_metrics()
        if "track_schedule" in handle:
            schedule = np.asarray(handle["track_schedule"])
            if schedule.size and (schedule.min() < 0 or schedule.max() >= len(tracks)):
                self.error("track_schedule", f"values must lie in [0, {len(tracks)})")

    # ---------------------------------------------------------------- tracks
    def check_track(self, key: str, group, n_tracks: int) -> None:
        prefix = f"{key}/" if key else ""
        transmit_only = bool(np.asarray(group["transmit_only"])) if "transmit_only" in group else False
        if n_tracks > 1 and not _text(group.get("label")):
            self.error(f"{prefix}label", "every track of a multi-track file needs a non-empty label")
        dims: dict[str, tuple[int, str]] = {}
        has_scan = "scan" in group
        if "data" not in group:
            if not transmit_only:
                self.error(f"{prefix}data", "missing (only transmit_only tracks may omit data)")
        elif transmit_only:
            self.error(f"{prefix}data", "a transmit_only track must not hold data")
        else:
            self.check_data(f"{prefix}data", group["data"], dims, has_scan)
        if has_scan:
            self.check_scan(f"{prefix}scan", group["scan"], dims)

    def check_data(self, key: str, data, dims: dict, has_scan: bool) -> None:
        if not len(data):
            self.error(key, "no data product")
        for name, item in data.items():
            item_key = f"{key}/{name}"
            if name == "raw_data" and is_dataset(item):
                self.check_raw(item_key, item, dims, has_scan)
            elif is_dataset(item):
                if self.legacy and name in MAP_PRODUCTS:
                    self.check_map(item_key, name, item, None, dims)
                else:
                    self.error(item_key, "only raw_data may be a flat dataset; other products are "
                                         "groups with 'values'")
            elif "values" not in item:
                self.error(item_key, "data product group without 'values'")
            else:
                if name not in MAP_PRODUCTS and name not in FLOAT_MAPS and not SNAKE_CASE.match(name):
                    self.error(item_key, "custom product names must be snake_case")
                self.check_map(f"{item_key}/values", name, item["values"], item, dims)

    def check_raw(self, key: str, dataset, dims: dict, has_scan: bool) -> None:
        if dtype_name(dataset.dtype) not in ("float32", "int16"):
            self.error(key, f"dtype {dataset.dtype} not allowed (float32 or int16)")
        if dataset.ndim != 5:
            self.error(key, f"shape {dataset.shape}: expected {RAW_DIMS}")
            return
        if dataset.shape[4] not in (1, 2):
            self.error(key, f"n_ch = {dataset.shape[4]}: must be 1 (RF) or 2 (IQ)")
        if not has_scan:
            self.error(key, "raw_data requires a scan group")
        if not self.legacy and "probe_geometry" not in self.handle.get("probe", {}):
            self.error(key, "raw_data requires probe/probe_geometry")
        self.note_dims(key, dict(zip(("n_frames", "n_tx", "n_ax", "n_rx"), dataset.shape)), dims)
        self.frame_counts.add(dataset.shape[0])

    def check_map(self, key: str, name: str, values, group, dims: dict) -> None:
        dtype = dtype_name(values.dtype)
        allowed, shapes = MAP_PRODUCTS.get(name, (None, GENERIC_MAP_DIMS))
        if name in FLOAT_MAPS:
            allowed = {"float32"}
            unit = _text(group.get("unit")) if group is not None else None
            if unit and unit != FLOAT_MAPS[name]:
                self.error(f"{key.rsplit('/', 1)[0]}/unit", f"must be {FLOAT_MAPS[name]!r}, got {unit!r}")
        allowed = allowed or CUSTOM_MAP_DTYPES
        if dtype not in allowed:
            self.error(key, f"dtype {values.dtype} not allowed ({', '.join(sorted(allowed))})")
        if values.ndim not in {len(s) for s in shapes}:
            self.error(key, f"{values.ndim}-D values: expected one of {[len(s) for s in shapes]} dims")
            return
        self.note_dims(key, {"n_frames": values.shape[0]}, dims)
        self.frame_counts.add(values.shape[0])
        if group is not None:
            extra = ATTENUATION_FIELDS if name == "attenuation_map" else {}
            self.check_fields(key.rsplit("/", 1)[0], {k: v for k, v in group.items() if k != "values"},
                              {**MAP_FIELDS, **extra}, unknown=False)
        if name in CHANNEL_PRODUCTS and values.shape[-1] not in (1, 2):
            self.error(key, f"n_ch = {values.shape[-1]}: must be 1 or 2")
        labels_needed = name == "segmentation" or (name not in MAP_PRODUCTS and values.ndim == 5)
        if labels_needed and (group is None or "labels" not in group):
            self.error(key.rsplit("/", 1)[0], "labels are required for this product")
        if name == "image" and dtype == "float32" and not _lazy(values):
            self.check_db_image(key, values)
        if group is not None:
            self.check_coordinates(key, values, group)
            self.check_timing(key.rsplit("/", 1)[0], group, values.shape[0], dims)

    def check_db_image(self, key: str, values) -> None:
        for index in range(values.shape[0]):
            frame = np.asarray(values[index])
            if np.any(frame > 0) or np.any(np.isnan(frame)) or np.any(frame == np.inf):
                self.error(key, f"frame {index}: dB image values must be <= 0 (finite or -inf)")
                return

    def check_coordinates(self, key: str, values, group) -> None:
        base = key.rsplit("/", 1)[0]
        if "coordinates" not in group:
            self.warn(base, "no coordinates: pixel positions unknown")
            return
        coordinates = group["coordinates"]
        shape = values.shape
        fits = {shape, shape[:-1], shape[1:], shape[1:-1]}
        if coordinates.shape[-1:] != (3,) or coordinates.shape[:-1] not in fits:
            self.error(f"{base}/coordinates", f"shape {coordinates.shape} does not match values {shape}")

    def check_timing(self, key: str, group, n_samples: int, dims: dict | None = None) -> None:
        """``timestamps`` (seconds from the first sample: 0, then strictly increasing) come with
        ``start_time_offset``; signals give exactly one of them or ``sampling_frequency``."""
        has_times = "timestamps" in group
        if has_times != ("start_time_offset" in group) and dims is not None:
            self.error(f"{key}/timestamps", "timestamps and start_time_offset go together")
        if not has_times:
            return
        times = np.asarray(group["timestamps"], np.float64)
        if times.shape != (n_samples,):
            self.error(f"{key}/timestamps", f"shape {times.shape}: expected ({n_samples},)")
        elif times.size and (not np.isclose(times[0], 0.0) or np.any(np.diff(times) <= 0)):
            self.error(f"{key}/timestamps", "must start at 0 and increase strictly")

    def check_fields(self, key: str, group, table: dict, sizes: dict | None = None,
                     unknown: bool = True) -> dict[str, int]:
        """Check ``group``'s members against a field table (:mod:`.schema`): dtype and shape; names
        not in the table are errors when ``unknown``. Returns the named sizes seen (e.g. ``T``)."""
        sizes = {} if sizes is None else sizes
        for name, item in group.items():
            field_spec = table.get(name)
            if field_spec is None:
                if unknown:
                    self.error(f"{key}/{name}", "not a field of the zea spec here")
                continue
            if not is_dataset(item):
                if field_spec.dtypes == ("str",) and () in field_spec.shapes:
                    # zea 0.1.8 takes the text of whatever it is given here (a group's repr)
                    self.warn(f"{key}/{name}", "a group where text is expected (zea accepts it as text)")
                else:
                    self.error(f"{key}/{name}", "must be a dataset, not a group")
                continue
            if not dtype_fits(item.dtype, field_spec):
                self.error(f"{key}/{name}", f"dtype {item.dtype}: expected {' or '.join(field_spec.dtypes)}")
                continue
            named = shape_fits(tuple(item.shape), field_spec)
            if named is None:
                self.error(f"{key}/{name}", f"shape {item.shape}: expected one of {list(field_spec.shapes)}")
                continue
            for dim, size in named.items():
                if sizes.setdefault(dim, size) != size:
                    self.error(f"{key}/{name}", f"{dim} = {size} disagrees with {sizes[dim]}")
        return sizes

    def check_metadata(self) -> None:
        metadata = self.handle.get("metadata")
        if metadata is None:
            return
        if is_dataset(metadata):
            self.error("metadata", "must be a group, not a dataset")
            return
        for name, item in metadata.items():
            key = f"metadata/{name}"
            if name in METADATA_FIELDS:
                self.check_fields("metadata", {name: item}, METADATA_FIELDS)
            elif is_dataset(item):
                self.error(key, "not a field of the zea spec (extra metadata must be signal groups)")
            elif name == "subject":
                self.check_fields(key, item, SUBJECT_FIELDS)
                self.check_subject(key, item)
            elif name == "annotations":
                sizes = self.check_fields(key, item, ANNOTATION_FIELDS)
                if "n_frames" in sizes and sizes["n_frames"] not in self.frame_counts:
                    self.error(key, f"{sizes['n_frames']} per-frame annotations: no track has that many frames")
            else:
                self.check_signal(key, item, METADATA_GROUPS.get(name, SIGNAL_ND_FIELDS))

    def check_subject(self, key: str, subject) -> None:
        rules = {"id": lambda v: bool(str(v).strip()), "genetic_strain": lambda v: bool(str(v).strip()),
                 "fat_percentage": lambda v: 0 <= v <= 100, "weight": lambda v: np.isfinite(v) and v > 0,
                 "bmi": lambda v: np.isfinite(v) and 0 < v <= 100}
        for name, rule in rules.items():
            if name in subject and dtype_fits(subject[name].dtype, SUBJECT_FIELDS[name]) \
                    and subject[name].shape == () and not rule(dataset_value(subject[name])):
                self.error(f"{key}/{name}", f"value {dataset_value(subject[name])!r} out of range")

    def check_signal(self, key: str, item, table: dict) -> None:
        """A sampled signal (ecg, voice_narration, probe_pose, extra N-D signals)."""
        self.check_fields(key, item, table)
        for name in table:
            if name not in item and name not in SIGNAL_TIMING:
                self.error(f"{key}/{name}", "required field missing")
        if "start_time_offset" not in item:
            self.error(f"{key}/start_time_offset", "required for a signal")
        if ("sampling_frequency" in item) == ("timestamps" in item):
            self.error(key, "give exactly one of sampling_frequency and timestamps")
        elif "sampling_frequency" in item and is_dataset(item["sampling_frequency"]) \
                and np.any(np.asarray(item["sampling_frequency"], np.float64) <= 0):
            self.error(f"{key}/sampling_frequency", "must be > 0")
        samples = item.get("samples", item.get("translation"))
        if samples is not None and is_dataset(samples) and samples.ndim:
            self.check_timing(key, item, samples.shape[0])
        if "rotation_representation" in item and is_dataset(item["rotation_representation"]):
            representation = _text(item["rotation_representation"])
            width = ROTATION_WIDTHS.get(representation)
            if width is None:
                self.error(f"{key}/rotation_representation", f"{representation!r}: expected one of "
                                                               f"{', '.join(ROTATION_WIDTHS)}")
            elif "rotation" in item and item["rotation"].shape[1:] != (width,):
                self.error(f"{key}/rotation", f"shape {item['rotation'].shape} does not fit {representation}")

    def check_metrics(self) -> None:
        metrics = self.handle.get("metrics")
        if metrics is not None and is_dataset(metrics):
            self.error("metrics", "must be a group of metrics, not a dataset")   # zea 0.1.8 crashes here
        elif metrics is not None:
            self.check_fields("metrics", metrics, METRICS_FIELDS)

    def check_scan(self, key: str, scan, dims: dict) -> None:
        """The scan group against :data:`~.schema.SCAN_SPEC` (as zea's ScanSpec): no unknown
        fields (current files), dtypes, shapes with their named sizes agreeing with the track's
        data, and the value rules."""
        if is_dataset(scan):
            self.error(key, "must be a group of scan fields, not a dataset")
            return
        if not self.legacy:
            for name in scan:
                if name not in SCAN_SPEC:
                    self.error(f"{key}/{name}", "not a zea scan field")
        for name, (_, required) in SCAN_FIELDS.items():
            if name not in scan:
                if required and not self.legacy:
                    self.error(f"{key}/{name}", "required scan field missing")
                continue
            dataset, spec = scan[name], SCAN_SPEC[name]
            if not is_dataset(dataset):
                self.error(f"{key}/{name}", "must be a dataset, not a group")
                continue
            if not dtype_fits(dataset.dtype, spec):
                wanted = "a float" if spec.dtypes == ("float32",) else " / ".join(spec.dtypes)
                self.error(f"{key}/{name}", f"dtype {dataset.dtype}: must be {wanted}")
                continue
            shape = tuple(dataset.shape)
            if name == "time_to_next_transmit":
                if not self.check_timing_intervals(f"{key}/{name}", shape, dims):
                    continue
            else:
                sizes = shape_fits(shape, spec)
                if sizes is None:
                    expected = " or ".join(str(tuple(s)) for s in spec.shapes)
                    self.error(f"{key}/{name}", f"shape {shape}: expected {expected}")
                    continue
                self.note_dims(f"{key}/{name}", sizes, dims)
            self.check_scan_values(f"{key}/{name}", name, np.asarray(dataset))

    def check_timing_intervals(self, key: str, shape: tuple[int, ...], dims: dict) -> bool:
        """``time_to_next_transmit`` as stored: ``(n_frames, n_tx)``. (The flat form without the
        last interval is taken when writing and padded, as zea's writer does; zea 0.1.8 crashes
        reading it from a file, so in a file it is an error.)"""
        if len(shape) == 2:
            self.note_dims(key, {"n_frames": shape[0], "n_tx": shape[1]}, dims)
            return True
        self.error(key, f"shape {shape}: expected (n_frames, n_tx)")
        return False

    def check_scan_values(self, key: str, name: str, value: np.ndarray) -> None:
        """zea's value rules; like zea, a NaN breaks none of them (each tests for a violation)."""
        with np.errstate(invalid="ignore"):
            rules = {"sampling_frequency": (value <= 0, "must be > 0"),
                     "center_frequency": (value < 0, "must be >= 0"),
                     "demodulation_frequency": (value < 0, "must be >= 0"),
                     "t0_delays": (value < 0, "must be >= 0"),
                     "polar_angles": (np.abs(value) > np.pi, "must lie within +-pi"),
                     "azimuth_angles": (np.abs(value) > np.pi, "must lie within +-pi"),
                     "sound_speed": (value <= 0, "must be > 0"),
                     "tgc_gain_curve": (value < 0, "must be >= 0")}
        if name in rules and np.any(rules[name][0]):
            self.error(key, rules[name][1])

    def note_dims(self, key: str, sizes: dict[str, int], dims: dict) -> None:
        """Record named sizes; report a disagreement with an earlier field of the same track.
        ``n_rx`` (receive channels of raw data) may be smaller than the scan's ``n_el``."""
        for name, size in sizes.items():
            if name in ("n_rx", "n_el"):
                other = dims.get("n_el" if name == "n_rx" else "n_rx")
                receive, elements = ((size, key), other) if name == "n_rx" else (other, (size, key))
                if receive is not None and elements is not None and receive[0] > elements[0]:
                    self.error(key, f"{receive[0]} receive channels exceed {elements[0]} elements "
                                    f"({elements[1]})")
            if name in CONSISTENT_DIMS | {"n_rx"} and name in dims and dims[name][0] != size:
                self.error(key, f"{name} = {size} disagrees with {dims[name][0]} in {dims[name][1]}")
            dims.setdefault(name, (size, key))

    # ---------------------------------------------------------------- probe
    def check_probe(self) -> None:
        probe = self.handle.get("probe")
        if probe is None:
            return
        for name, item in probe.items():
            expected = PROBE_FIELDS.get(name)
            if expected and dtype_name(item.dtype) != expected:
                self.error(f"probe/{name}", f"dtype {item.dtype}: expected {expected}")
        if "probe_geometry" in probe and (probe["probe_geometry"].ndim != 2 or probe["probe_geometry"].shape[1] != 3):
            self.error("probe/probe_geometry", f"shape {probe['probe_geometry'].shape}: expected (n_el, 3)")


def _lazy(values) -> bool:
    """Frames computed on access (a derived stream being written): checked by the writer."""
    from ...core.frames import LazyFrames

    return isinstance(values, LazyFrames)


def _text(item) -> str | None:
    """A string scalar dataset's text (None if absent)."""
    return None if item is None else str(dataset_value(item))
