"""EchoNet-LVH (parasternal long-axis cines, ``Batch1..4/<hash>.avi`` + ``MeasurementsList.csv``)
to zea files, as zea's ``zea convert echonetlvh``.

Output: ``<dst>/{train,val,test,rejected}/<hash>.hdf5`` (the split of each video's first row
in ``MeasurementsList.csv``; hashes listed in the rejection file go to ``rejected``),
``<dst>/MeasurementsList.csv`` (rejections applied, the measurement coordinates moved into the
cropped frames) and ``<dst>/cone_parameters.csv`` / ``.json`` (the fitted scan cone of every video).

Per video: the scan cone is fitted on the first frame (grey levels above 15: its left and right
edges by least squares, the apex where they meet, the radius to the lowest data pixel); the
frames are cropped to the cone and padded so the apex is centred (``image``, uint8
``(n_frames, H', W')``), and resampled from the uncropped frames onto a 600 x 600 polar grid
(radius 0..cone radius, angle from the right edge to the left, bilinear, 0 outside the frame,
rounded to uint8: ``image_polar``). Metadata: anatomy heart, view PLAX, subject id (the AVI name).

zea computes the polar grid with JAX in float32 (its ``linspace``, sin and cos on XLA); ours uses
NumPy's float32 arithmetic in the same order, so rare samples whose value sits on a rounding
boundary differ by one grey level (the comparison test allows exactly that).

Options: ``rejection_path`` (text file of hashes to reject; default zea's list when zea is
installed), ``no_rejection`` (true: reject nothing), ``max_files`` (convert at most N videos).
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ....errors import FormatError, UnsupportedInputError, read_faults
from .echonet import avi_blocks, first_frame
from .job import DatasetJob, write_text_if_changed, write_zea

log = logging.getLogger(__name__)

BATCHES = ("Batch1", "Batch2", "Batch3", "Batch4")
POLAR_SHAPE = (600, 600)
THRESHOLD = 15                     # grey level above which a pixel is data (0-255)
MIN_HALF_ANGLE_DEG = 20
DESCRIPTION = "EchoNet-LVH dataset converted to zea format"
#: rows of MeasurementsList.csv whose Width/Height/FPS/Frames columns are shifted in the release
FAULTY = ("0XBD41EBF599F7EE4F", "0X2061669A27571EA3", "0XA26FCACCC289023E")
CONE_FIELDS = ["avi_filename", "crop_left", "crop_right", "crop_top", "crop_bottom", "apex_x", "apex_y",
               "circle_radius", "left_slope", "right_slope", "new_width", "new_height", "opening_angle", "status"]


# ------------------------------------------------------------------ the scan cone
def _boundary(points: np.ndarray, left: bool) -> np.ndarray:
    """Edge points ``(n, 2)`` (x, y) kept when every point above lies outward of them by at least
    the minimum cone slope."""
    if len(points) == 0:
        return points
    slope = np.tan(np.radians(MIN_HALF_ANGLE_DEG))
    ordered = points[np.argsort(points[:, 1])]
    kept = []
    for i, (x, y) in enumerate(ordered):
        above_x, above_y = ordered[:i, 0], ordered[:i, 1]
        need = slope * (y - above_y)
        outward = above_x - x if left else x - above_x
        wrong_side = above_x < x if left else above_x > x
        if not np.any(wrong_side | (outward < need)):
            kept.append((x, y))
    return np.array(kept) if kept else np.zeros((0, 2))


def _fit(points: np.ndarray) -> tuple[float, float]:
    """Least-squares line ``x = a + b * y`` through ``points``."""
    design = np.vstack([np.ones(len(points)), points[:, 1]]).T
    (a, b), *_ = np.linalg.lstsq(design, points[:, 0], rcond=None)
    return a, b


def _meets_circle(a: float, b: float, cx: float, cy: float, r: float, path: Path) -> tuple[float, float]:
    """The lower intersection (y, x) of the line ``x = a + b y`` with the circle (cx, cy, r)."""
    qa, qb, qc = 1 + b ** 2, 2 * b * (a - cx) - 2 * cy, (a - cx) ** 2 + cy ** 2 - r ** 2
    disc = qb ** 2 - 4 * qa * qc
    if disc < 0:
        raise FormatError(path, "scan cone not found: an edge line misses the cone's arc")
    y = max((-qb + np.sqrt(disc)) / (2 * qa), (-qb - np.sqrt(disc)) / (2 * qa))
    return y, a + b * y


def cone_parameters(frame: np.ndarray, path: Path) -> dict[str, float]:
    """The scan cone of a greyscale uint8 frame ``(H, W)``: crop box, apex (pixels), radius,
    edge slopes (dx/dy) and opening angle (rad). FormatError naming ``path`` if none is found."""
    threshold = 0 + ((THRESHOLD - 0) / (255 - 0)) * (255 - 0)
    height, width = frame.shape
    data = frame > threshold
    rows = np.flatnonzero(data.any(axis=1))
    if rows.size == 0:
        raise FormatError(path, "scan cone not found: no pixel above the threshold")
    left, right = [], []
    for y in range(rows[0], rows[-1] + 1):
        columns = np.flatnonzero(data[y])
        if columns.size and columns[-1] - columns[0] > 5:
            left.append([columns[0], y])
            right.append([columns[-1], y])
    if len(left) < 10:
        raise FormatError(path, f"scan cone not found: only {len(left)} rows wide enough for cone edges")
    left_points = _boundary(np.array(left, np.float32), True)
    right_points = _boundary(np.array(right, np.float32), False)
    if len(left_points) < 3 or len(right_points) < 3:
        raise FormatError(path, "scan cone not found: too few edge points")
    left_a, left_b = _fit(left_points)
    right_a, right_b = _fit(right_points)
    if abs(left_b - right_b) < 1e-6:
        raise FormatError(path, "scan cone not found: parallel edges")
    apex_y = (right_a - left_a) / (left_b - right_b)
    apex_x = left_a + left_b * apex_y
    bottom_row = int(rows[-1])
    bottom_col = int(np.flatnonzero(data[bottom_row])[0])
    radius = float(np.sqrt((bottom_col - apex_x) ** 2 + (bottom_row - apex_y) ** 2))
    _, left_x = _meets_circle(left_a, left_b, float(apex_x), float(apex_y), radius, path)
    _, right_x = _meets_circle(right_a, right_b, float(apex_x), float(apex_y), radius, path)
    crop = {"crop_left": math.ceil(left_x), "crop_right": math.floor(right_x), "crop_top": math.ceil(apex_y),
            "crop_bottom": math.floor(int(radius + apex_y))}
    if crop["crop_left"] < 0 or crop["crop_right"] > width:
        raise FormatError(path, "scan cone not found: the fitted cone reaches beyond the frame")
    if not (max(0, crop["crop_left"]) < min(width, crop["crop_right"])
            and max(0, crop["crop_top"]) < min(height, crop["crop_bottom"])):
        raise FormatError(path, "scan cone not found: empty crop")
    return {**{k: float(v) for k, v in crop.items()}, "apex_x": float(apex_x), "apex_y": float(apex_y),
            "circle_radius": radius, "left_slope": float(left_b), "right_slope": float(right_b),
            "new_width": float(crop["crop_right"] - crop["crop_left"]),
            "new_height": float(crop["crop_bottom"] - crop["crop_top"]),
            "opening_angle": float(np.abs(np.arctan(left_b) - np.arctan(right_b)))}


def _centring(cone: Mapping[str, float]) -> tuple[int, int]:
    """Left and right zero padding that centres the apex in the crop."""
    apex_in_crop = cone["apex_x"] - int(cone["crop_left"])
    need = (int(cone["crop_right"]) - int(cone["crop_left"])) / 2 - apex_in_crop
    return max(0, int(need)), max(0, int(-need))


def crop_centred(frames: np.ndarray, cone: Mapping[str, float]) -> np.ndarray:
    """``frames`` ``(n, H, W)`` cropped to the cone, padded with zeros above (an apex above the
    frame) and beside it (the apex centred)."""
    left, right, top, bottom = (int(cone[k]) for k in ("crop_left", "crop_right", "crop_top", "crop_bottom"))
    cropped = frames[:, max(top, 0):bottom, left:right]
    pad_left, pad_right = _centring(cone)
    return np.pad(cropped, ((0, 0), (max(-top, 0), 0), (pad_left, pad_right)))


# ------------------------------------------------------------------ polar resampling
def _linspace32(start: float, stop: float, num: int) -> np.ndarray:
    """JAX's float32 ``linspace``: ``start * (1 - t) + stop * t``, ``t = i / (num - 1)``."""
    start32, stop32 = np.float32(start), np.float32(stop)
    step = (np.arange(num - 1, dtype=np.float32) / np.float32(num - 1)).astype(np.float32)
    return np.append(start32 * (np.float32(1) - step) + stop32 * step, stop32).astype(np.float32)


def polar_sampling(cone: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column ``(600, 600)`` float32 of the frame pixel each polar sample reads."""
    radii = _linspace32(0, cone["circle_radius"], POLAR_SHAPE[0])
    angles = _linspace32(-math.atan(cone["left_slope"]), -math.atan(cone["right_slope"]), POLAR_SHAPE[1])
    rr, aa = np.meshgrid(radii, angles, indexing="ij")
    columns = np.float32(cone["apex_x"]) - rr * np.sin(aa)
    rows = np.float32(cone["apex_y"]) + rr * np.cos(aa)
    return rows.astype(np.float32), columns.astype(np.float32)


def bilinear(frames: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``frames`` ``(n, H, W)`` sampled bilinearly at (``rows``, ``columns``); a neighbour outside
    the frame counts as 0 (JAX's ``map_coordinates`` constant mode). float32 ``(n, *rows.shape)``."""
    height, width = frames.shape[1:]
    r0, c0 = np.floor(rows), np.floor(columns)
    wr1, wc1 = (rows - r0).astype(np.float32), (columns - c0).astype(np.float32)
    wr0, wc0 = np.float32(1) - wr1, np.float32(1) - wc1
    total = np.zeros((len(frames), *rows.shape), np.float32)
    for r_index, r_weight in ((r0, wr0), (r0 + 1, wr1)):
        for c_index, c_weight in ((c0, wc0), (c0 + 1, wc1)):
            valid = (r_index >= 0) & (r_index < height) & (c_index >= 0) & (c_index < width)
            ri = np.clip(r_index, 0, height - 1).astype(np.intp)
            ci = np.clip(c_index, 0, width - 1).astype(np.intp)
            values = np.where(valid, frames[:, ri, ci], np.float32(0)).astype(np.float32)
            total += (r_weight * c_weight).astype(np.float32) * values
    return total


def to_polar(frames: np.ndarray, cone: Mapping[str, float]) -> np.ndarray:
    """uint8 frames ``(n, H, W)`` on the 600 x 600 polar grid of ``cone``, rounded to uint8."""
    rows, columns = polar_sampling(cone)
    return np.floor(bilinear(frames.astype(np.float32), rows, columns) + np.float32(0.5)).astype(np.uint8)


# ------------------------------------------------------------------ the measurements table
def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with read_faults(path, "not a readable CSV"), open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        if not reader.fieldnames or "HashedFileName" not in reader.fieldnames or "split" not in reader.fieldnames:
            raise FormatError(path, "has no HashedFileName and split columns")
        return list(reader.fieldnames), rows


def _csv_text(fields: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rejected_hashes(options: Mapping[str, object]) -> set[str]:
    """The hashes to reject: ``rejection_path``'s lines, else zea's own list when zea is installed."""
    if str(options.get("no_rejection", "")).lower() in ("1", "true", "yes"):
        return set()
    path = options.get("rejection_path")
    if path is None:
        spec = importlib.util.find_spec("zea")
        origin = Path(spec.origin).parent if spec and spec.origin else None
        candidate = origin / "data" / "convert" / "echonetlvh" / "manual_rejections.txt" if origin else None
        if candidate is None or not candidate.exists():
            log.warning("no rejection list (give --option rejection_path=FILE): nothing rejected")
            return set()
        path = candidate
    with read_faults(path, "not a readable rejection list"):
        return {line.strip() for line in Path(str(path)).read_text().splitlines()}


def measurements(source: Path, options: Mapping[str, object]) -> tuple[list[str], list[dict[str, str]]]:
    """MeasurementsList.csv with rejections applied."""
    fields, rows = _read_csv(source / "MeasurementsList.csv")
    rejected = rejected_hashes(options)
    for row in rows:
        if row["HashedFileName"] in rejected:
            row["split"] = "rejected"
    return fields, rows


def find_video(source: Path, name: str) -> Path | None:
    for batch in sorted(source.glob("Batch*")):
        if (batch / f"{name}.avi").exists():
            return batch / f"{name}.avi"
    return None


# ------------------------------------------------------------------ plan / convert / finish
def _check_layout(source: Path) -> None:
    if source.suffix == ".zip":
        raise UnsupportedInputError(source, "unzip the EchoNet-LVH archive first")
    missing = [name for name in (*BATCHES, "MeasurementsList.csv") if not (source / name).exists()]
    if missing:
        raise UnsupportedInputError(source, f"not EchoNet-LVH: no {', '.join(missing)}")


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per video named in MeasurementsList.csv (its first row's split)."""
    _check_layout(source)
    _, rows = measurements(source, options)
    split_of: dict[str, str] = {}
    for row in rows:
        split_of.setdefault(row["HashedFileName"], row["split"])
    jobs = []
    for name, split in split_of.items():
        video = find_video(source, name)
        if video is None:
            raise FormatError(source, f"no Batch*/{name}.avi for {name} in MeasurementsList.csv")
        jobs.append(DatasetJob("echonetlvh", (video,), destination / split / f"{name}.hdf5", (("split", split),)))
    if options.get("max_files") is not None:
        jobs = jobs[:int(str(options["max_files"]))]
    return jobs


def convert(job: DatasetJob) -> None:
    """Crop, centre and resample one video (held whole: one video, never the dataset)."""
    video = job.sources[0]
    cone = cone_parameters(first_frame(video), video)
    frames = np.concatenate(list(avi_blocks(video)))
    image = crop_centred(frames, cone)
    if not image.any():
        raise FormatError(video, "the cropped sequence is all zeros")
    polar = np.concatenate([to_polar(frames[i:i + 16], cone) for i in range(0, len(frames), 16)])
    if not polar.any():
        raise FormatError(video, "the polar sequence is all zeros")
    write_zea(job.output, {"image": {"values": image}, "image_polar": {"values": polar, "unit": "pixels"}},
              description=DESCRIPTION, metadata={"annotations": {"anatomy": "heart", "view": "PLAX"},
                                                 "subject": {"id": video.name, "type": "human"}})


def _fix_faulty_rows(source: Path, rows: list[dict[str, str]]) -> None:
    """The three rows of the release whose FPS column holds the width (and so on) shifted."""
    for name in FAULTY:
        video = find_video(source, name)
        if video is None:
            continue
        height, width = first_frame(video).shape
        for row in rows:
            if row["HashedFileName"] == name:
                if float(row["Width"]) > 500:
                    break
                row["FPS"], row["Frames"] = row["Width"], row["FPS"]
                row["Width"], row["Height"] = width, height


def _moved(row: dict[str, str], cone: Mapping[str, float]) -> dict[str, object]:
    """``row`` with X1, X2, Y1, Y2 in the cropped, centred frame and its Width/Height."""
    moved: dict[str, object] = dict(row)
    for key in ("X1", "X2", "Y1", "Y2"):
        moved[key] = float(row[key]) - (cone["crop_left"] if key.startswith("X") else cone["crop_top"])
    pad = max(0, int((cone["crop_right"] - cone["crop_left"]) / 2 - (cone["apex_x"] - cone["crop_left"])))
    moved["X1"], moved["X2"] = moved["X1"] + pad, moved["X2"] + pad
    moved["Width"], moved["Height"] = int(cone["new_width"]), int(cone["new_height"])
    for key in ("X1", "X2", "Y1", "Y2"):
        moved[key] = str(moved[key])
    return moved


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write MeasurementsList.csv (moved coordinates), cone_parameters.csv and .json."""
    fields, rows = measurements(source, options)
    _fix_faulty_rows(source, rows)
    jobs = plan(source, destination, options)
    records, cones = [], {}
    for job in jobs:
        video = job.sources[0]
        try:
            cone = cone_parameters(first_frame(video), video)
        except FormatError as error:
            records.append({**dict.fromkeys(CONE_FIELDS), "avi_filename": video.name, "status": f"error: {error}"})
            continue
        record = {"avi_filename": video.name, **cone, "status": "success"}
        for key in ("crop_left", "crop_right", "crop_top", "crop_bottom", "new_width", "new_height"):
            record[key] = int(record[key])
        records.append(record)
        cones[video.name] = record
    destination.mkdir(parents=True, exist_ok=True)
    write_text_if_changed(destination / "cone_parameters.csv", _csv_text(CONE_FIELDS, records))
    write_text_if_changed(destination / "cone_parameters.json", json.dumps(cones))
    moved = [_moved(row, cones[row["HashedFileName"] + ".avi"]) for row in rows
             if row["HashedFileName"] + ".avi" in cones]
    write_text_if_changed(destination / "MeasurementsList.csv",
                          _csv_text(list(moved[0]) if moved else fields, moved))
