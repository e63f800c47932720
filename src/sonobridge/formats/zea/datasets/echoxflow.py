"""EchoXFlow 2-D B-mode recordings into zea files, as ``zea convert echoxflow``.

Input: the EchoXFlow data root: ``croissant.json`` (a Croissant catalog whose record set
``recordings`` lists, per recording, ``exam_id``, ``recording_id``, ``zarr_path``, its array paths,
frame counts and median frame intervals per content type) and one Zarr v3 store per recording (a
folder or a zip file) holding ``data/2d_brightness_mode`` (uint8 ``(frames, depth, angle)``),
``timestamps/2d_brightness_mode`` (s) and optionally ``data/ecg`` / ``timestamps/ecg``; the store's
``recording_manifest`` attribute lists the sectors with their polar geometry (depth and angle
limits, or tilt and width). zea reads this through the ``echoxflow`` package (GitHub only); we read
it directly with ``zarr`` (the ``echoxflow`` extra).

Selected as zea selects: recordings with ``data/2d_brightness_mode``, at least ``min_frames``
B-mode frames (default 10) and a frame rate above ``min_fps`` (default 30 Hz), at most ``limit``
of them. Output: ``DST/<exam_id>/<recording_id>.hdf5``: the frames as ``image`` (unit ``-``) with
their polar pixel grid as coordinates (m) and timestamps relative to the first frame, the exam as
subject id, the ECG when present, as zea 0.1.8 writes them, and ``DST/README.md`` (a dataset card
naming ``zea_repo_id``: option ``hf_repo_id``, default ``zeahub/echoxflow``) once any recording is
converted. Frames are read and written in blocks.

Examples
--------
>>> from sonobridge.formats.zea.datasets.echoxflow import sector_grid
>>> sector_grid((-0.5, 0.5), (0.0, 0.08), 3, 2).shape
(3, 2, 3)
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ....core.frames import LazyFrames
from ....errors import FormatError, MissingDependencyError, UnsupportedInputError, read_faults
from ..tree import file_tree, write_tree
from .job import DatasetJob, dataset_card, write_text_if_changed

log = logging.getLogger(__name__)

DATASET = "echoxflow"
MODALITY = "2d_brightness_mode"
CATALOG = "croissant.json"
REPO_ID = "zeahub/echoxflow"       # default of the dataset card's zea_repo_id (option hf_repo_id)


# ------------------------------------------------------------------ the catalog
def _normalized_array_path(path: str) -> str:
    path = str(path).strip("/")
    return path if path.startswith(("data/", "timestamps/")) else f"data/{path}"


def catalog_rows(path: Path) -> list[dict[str, Any]]:
    """The recording rows of a Croissant catalog (``recordings/...`` keys without the prefix)."""
    with read_faults(path, "not an EchoXFlow Croissant catalog"):
        raw = json.loads(path.read_text(encoding="utf-8"))
        record_sets = raw.get("recordSet") if isinstance(raw, Mapping) else None
        if not isinstance(raw, Mapping):
            raise FormatError(path, "not an EchoXFlow Croissant catalog: not a JSON object")
        rows: list = []
        for record_set in record_sets if isinstance(record_sets, list) else []:
            if isinstance(record_set, Mapping) and record_set.get("@id") == "recordings":
                rows = record_set.get("data") or []
        if not isinstance(rows, list):
            raise FormatError(path, "the recordings record set holds no inline data list")
        recordings = []
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            fields = {key.removeprefix("recordings/"): value for key, value in row.items()}
            for key in ("exam_id", "recording_id", "zarr_path"):
                if not isinstance(fields.get(key), str) or not fields[key].strip():
                    raise FormatError(path, f"a recording without a valid {key}")
            recordings.append(fields)
        return recordings


def _frame_rate(row: Mapping[str, Any]) -> float | None:
    delta = (row.get("median_delta_time_by_content_type") or {}).get(MODALITY)
    return None if delta is None or float(delta) <= 0 else 1.0 / float(delta)


def selected(rows: list[dict[str, Any]], min_frames: int, min_fps: float) -> list[dict[str, Any]]:
    """The rows zea converts: B-mode present, enough frames, frame rate above ``min_fps``."""
    chosen = []
    for row in rows:
        paths = {_normalized_array_path(p) for p in row.get("array_paths") or ()}
        frames = int((row.get("frame_counts_by_content_type") or {}).get(MODALITY) or 0)
        if f"data/{MODALITY}" in paths and frames >= min_frames and (_frame_rate(row) or 0) > min_fps:
            chosen.append(row)
    return chosen


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per selected recording: its Zarr store (a folder's files or a zip) is the source.

    Options: ``croissant`` (catalog path, default ``SOURCE/croissant.json``), ``min_frames``,
    ``min_fps``, ``limit``.
    """
    source, destination = Path(source), Path(destination)
    catalog = Path(str(options.get("croissant") or source / CATALOG))
    if not catalog.is_file():
        raise UnsupportedInputError(source, f"not an EchoXFlow data root: no {catalog.name}")
    try:
        min_frames, min_fps = int(options.get("min_frames", 10)), float(options.get("min_fps", 30.0))
        limit = None if options.get("limit") is None else int(options["limit"])
    except (TypeError, ValueError) as error:
        raise UnsupportedInputError(source, f"min_frames, min_fps and limit must be numbers ({error})") from None
    rows = selected(catalog_rows(catalog), min_frames, min_fps)
    if limit is not None:
        rows = rows[:limit]
    jobs = []
    for row in rows:
        store = source / row["zarr_path"]
        files = tuple(sorted(p for p in store.rglob("*") if p.is_file())) if store.is_dir() else (store,)
        extras = (("store", str(store)), ("row", json.dumps(row, sort_keys=True, default=str)))
        jobs.append(DatasetJob(DATASET, files or (store,), destination / row["exam_id"] / f"{row['recording_id']}.hdf5",
                               extras))
    return jobs


# ------------------------------------------------------------------ the recording store
def _open_store(path: Path):
    try:
        import zarr
    except ImportError:
        raise MissingDependencyError(path, "reading EchoXFlow recordings needs zarr: "
                                           "pip install 'sonobridge[echoxflow]'") from None
    if not path.exists():
        raise FormatError(path, "the recording store named by croissant.json does not exist")
    if path.is_file():
        from zarr.storage import ZipStore

        return zarr.open_group(store=ZipStore(path, mode="r"), mode="r")
    return zarr.open_group(path, mode="r")


def _ref_path(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    path = value.get("array_path") or value.get("zarr_path") or value.get("path")
    return str(path).strip("/") if path else None


def bmode_sector(attrs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The manifest sector describing ``data/2d_brightness_mode`` (by frames path, else by the
    ``bmode`` role, else the first ``sector_*_b_mode``), or None."""
    manifest = attrs.get("recording_manifest")
    sectors = manifest.get("sectors") if isinstance(manifest, Mapping) else None
    fallback = None
    for sector in sectors if isinstance(sectors, list) else []:
        if not isinstance(sector, Mapping):
            continue
        frames = _ref_path(sector.get("frames"))
        role = str(sector.get("semantic_id") or sector.get("sector_role_id") or sector.get("track_role_id") or "").strip()
        if frames == f"data/{MODALITY}" or role == "bmode":
            return sector
        name = (role or (frames or "").removeprefix("data/")).lower()
        if fallback is None and name.startswith("sector_") and "_b_mode" in name:
            fallback = sector
    return fallback


def _number(geometry: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        if geometry.get(key) is not None and geometry.get(key) != "":
            return float(geometry[key])
    return None


def sector_limits(sector: Mapping[str, Any] | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``((angle start, angle end) rad, (depth start, depth end) m)`` of a sector's geometry
    (given as limits, or as tilt and width), None when it has none."""
    geometry = sector.get("geometry") if sector is not None else None
    if not isinstance(geometry, Mapping):
        return None
    try:
        depth = (_number(geometry, "depth_start_m", "DepthStart"), _number(geometry, "depth_end_m", "DepthEnd"))
        if None in depth:
            return None
        if any(k in geometry for k in ("angle_start_rad", "angle_end_rad", "AngleStart", "AngleEnd")):
            angles = (_number(geometry, "angle_start_rad", "AngleStart"), _number(geometry, "angle_end_rad", "AngleEnd"))
            return None if None in angles else (angles, depth)  # type: ignore[return-value]
        width = _number(geometry, "width_rad", "Width")
        if width is None:
            return None
        tilt = _number(geometry, "tilt_rad", "Tilt", "Angle") or 0.0
        return (tilt - 0.5 * width, tilt + 0.5 * width), depth  # type: ignore[return-value]
    except (TypeError, ValueError):
        return None


def sector_grid(angles: tuple[float, float], depths: tuple[float, float], n_depth: int, n_angle: int) -> np.ndarray:
    """Positions ``(n_depth, n_angle, 3)`` float32 (x, y, z in m) of a sector image's pixels: rows
    equally spaced in depth from the apex at the origin, columns equally spaced in angle."""
    step = (depths[1] - depths[0]) / max(n_depth - 1, 1)
    radius = depths[0] + np.arange(n_depth) * step
    theta, rho = np.meshgrid(np.linspace(*angles, n_angle), radius, indexing="ij")
    apex = np.tile(np.array([0, 0, -0.0]), (n_angle, 1))
    x = rho * np.sin(theta) + apex[:, [0]]
    z = rho * np.cos(theta) + apex[:, [2]]
    return np.stack((x, 0 * x, z), axis=-1).transpose(1, 0, 2).astype(np.float32)


def _timestamps(group, name: str, manifest_path: str | None) -> np.ndarray | None:
    for path in ([manifest_path] if manifest_path else []) + [f"timestamps/{name}"]:
        if path in group:
            values = np.asarray(group[path][:], dtype=np.float32).reshape(-1)
            if values.size and not np.all(np.isfinite(values)):
                raise ValueError(f"{path}: timestamps must be finite")
            return values
    return None


def _ecg(group, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``ecg`` metadata (samples and sampling frequency or timestamps), None if absent or
    unreadable (zea skips an ECG it cannot load too)."""
    paths = {_normalized_array_path(p) for p in row.get("array_paths") or ()}
    if "data/ecg" not in paths:
        return None
    try:
        samples = np.asarray(group["data/ecg"][:], dtype=np.float32)
        if samples.ndim != 1 or (samples.size and not np.all(np.isfinite(samples))):
            raise ValueError("the ECG must be finite and one-dimensional")
        times = _timestamps(group, "ecg", None)
        if times is not None and times.size != samples.shape[0]:
            raise ValueError("ECG samples and timestamps differ in number")
    except (KeyError, ValueError, TypeError, OSError) as error:
        log.info("ECG of %s left out: %s", row.get("recording_id"), error)
        return None
    delta = (row.get("median_delta_time_by_content_type") or {}).get("ecg")
    ecg: dict[str, Any] = {"samples": samples.reshape(-1)}
    if delta is not None and float(delta) > 0:
        ecg["sampling_frequency"] = np.float32(1.0 / float(delta))
        ecg["start_time_offset"] = np.float32(float(times[0]) if times is not None else 0.0)
    elif times is not None and len(times) >= 1:
        ecg["timestamps"] = times - times[0]
        ecg["start_time_offset"] = np.float32(times[0])
    else:
        return None
    return ecg


def convert(job: DatasetJob) -> None:
    """Write the zea file of one EchoXFlow recording to ``job.output``.

    Raises
    ------
    FormatError
        The store is missing, unreadable, its B-mode is not uint8 frames, or the timestamps do not
        match the frames (the message names the store).
    MissingDependencyError
        ``zarr`` is not installed.
    """
    store = Path(str(job.option("store")))
    row = json.loads(str(job.option("row")))
    group = _open_store(store)
    with read_faults(store, "unreadable EchoXFlow recording"):
        bmode = group[f"data/{MODALITY}"]
        if bmode.dtype != np.uint8 or bmode.ndim < 2:
            raise FormatError(store, f"data/{MODALITY} must be uint8 frames, got {bmode.dtype} {bmode.shape}")
        attrs = dict(group.attrs)
        sector = bmode_sector(attrs)
        frames_path = _ref_path(sector.get("frames")) if sector is not None else None
        manifest_times = _ref_path(sector.get("timestamps")) if sector is not None else None
        if frames_path not in (None, f"data/{MODALITY}"):
            manifest_times = None
        times = _timestamps(group, MODALITY, manifest_times)
        if times is not None and times.size != bmode.shape[0]:
            raise FormatError(store, f"{bmode.shape[0]} B-mode frames but {times.size} timestamps")
        frames = LazyFrames(bmode.shape, np.uint8, lambda start, stop: np.asarray(bmode[start:stop], np.uint8))
        image: dict[str, Any] = {"values": frames, "unit": "-"}
        limits = sector_limits(sector)
        if limits is not None:
            image["coordinates"] = sector_grid(limits[0], limits[1], int(bmode.shape[1]), int(bmode.shape[2]))
        if times is not None:
            image["timestamps"] = times - times[0]
            image["start_time_offset"] = times[0]
        metadata: dict[str, Any] = {"subject": {"id": row["exam_id"], "type": "human"}}
        ecg = _ecg(group, row)
        if ecg is not None:
            metadata["ecg"] = ecg
        tree = file_tree(tracks=[{"data": {"image": image}}], metadata=metadata, probe={"name": "generic"},
                         description=f"EchoXFlow {MODALITY} {row['recording_id']} converted to zea format")
        job.output.parent.mkdir(parents=True, exist_ok=True)
        write_tree(tree, job.output, overwrite=True)


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write the dataset card ``README.md`` when the destination holds converted recordings."""
    if destination.is_dir() and any(destination.glob("*/*.hdf5")):
        card = dataset_card(str(options.get("hf_repo_id") or REPO_ID), f"EchoXFlow {MODALITY} in the zea format",
                            "<exam_id>/<recording_id>.hdf5")
        write_text_if_changed(destination / "README.md", card)
