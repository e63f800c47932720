"""DICOM geometry and timing: ultrasound regions in SI units, frame times, the geometry sidecar.

* ``SequenceOfUltrasoundRegions`` (PS3.3 C.8.5.5): each region's pixel bounds, physical size of a
  pixel along x and y with its unit (PhysicalUnits codes: 3 = cm, 4 = s, 5 = Hz, 6 = dB,
  7 = cm/s ...), spatial format (1 = 2D, 2 = M-mode, 3 = spectral, 4 = waveform) and data type.
  Absolute position: column ``c`` lies at ``ReferencePixelPhysicalValueX + (c - (RegionLocationMinX0
  + ReferencePixelX0)) * PhysicalDeltaX`` (rows likewise); the deltas keep their sign (an ACUSON
  phased array stores a negative PhysicalDeltaX: its x axis decreases left to right).

Malformed values (a DS that is not a number, an element pydicom cannot convert) calibrate or time
nothing: they read as absent, never as an exception.
* Frame times: FrameIncrementPointer names the attribute that times the frames: FrameTime
  (0018,1063, ms between frames) or FrameTimeVector (0018,1065, ms from the previous frame, first 0).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ...core.geometry import PixelGrid

#: PhysicalUnitsX/YDirection code -> (SI unit, scale to SI)
PHYSICAL_UNITS = {0: ("", 1.0), 1: ("%", 1.0), 2: ("dB", 1.0), 3: ("m", 0.01), 4: ("s", 1.0), 5: ("Hz", 1.0),
                  6: ("dB/s", 1.0), 7: ("m/s", 0.01), 8: ("m2", 1e-4), 9: ("m2/s", 1e-4), 0xA: ("m3", 1e-6),
                  0xB: ("m3/s", 1e-6), 0xC: ("rad", np.pi / 180)}
SPATIAL_FORMATS = {0: "none", 1: "2D", 2: "M-mode", 3: "spectral", 4: "waveform", 5: "graphics"}
FRAME_TIME, FRAME_TIME_VECTOR = 0x00181063, 0x00181065


@dataclass(frozen=True)
class UltrasoundRegion:
    """One calibrated region: pixel bounds (inclusive, 0-based columns/rows), the signed size of a
    pixel along x and y in SI units (``unit_x``/``unit_y``: m, s, Hz ...), spatial format and data
    type; the reference pixel (relative to the region's top-left corner, None = that corner) and
    its physical coordinates (SI units, 0 when absent)."""

    x0: int
    y0: int
    x1: int
    y1: int
    delta_x: float
    delta_y: float
    unit_x: str
    unit_y: str
    spatial_format: str
    data_type: int
    reference_x0: int | None = None
    reference_y0: int | None = None
    reference_value_x: float = 0.0
    reference_value_y: float = 0.0

    @property
    def is_tissue_2d(self) -> bool:
        """A 2D region calibrated in metres along both axes (with non-zero, finite deltas)."""
        return self.spatial_format == "2D" and self.unit_x == "m" and self.unit_y == "m" and \
            all(np.isfinite(d) and d != 0 for d in (self.delta_x, self.delta_y))

    @property
    def area(self) -> int:
        return max(self.x1 - self.x0 + 1, 0) * max(self.y1 - self.y0 + 1, 0)

    def axis(self, n: int, along: str) -> np.ndarray:
        """``(n,)`` float64 physical coordinates (SI units) of the image's columns (``along="x"``)
        or rows (``"y"``) on this region's scale; decreasing where the delta is negative."""
        start, reference, value, delta = (self.x0, self.reference_x0, self.reference_value_x, self.delta_x) \
            if along == "x" else (self.y0, self.reference_y0, self.reference_value_y, self.delta_y)
        return value + (np.arange(n) - (start + (reference or 0))) * delta

    def pixel_grid(self, rows: int, columns: int) -> PixelGrid:
        """The whole image's pixel centres in metres on this region's absolute scale (see the
        module docstring), masked to the region."""
        mask = np.zeros((rows, columns), bool)
        mask[max(self.y0, 0):self.y1 + 1, max(self.x0, 0):self.x1 + 1] = True
        return PixelGrid(x_m=self.axis(columns, "x"), z_m=self.axis(rows, "y"), mask=mask)


def value_of(ds: Any, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)``, or ``default`` when pydicom cannot convert the element's value."""
    try:
        value = ds.get(keyword, default)
    except Exception:  # noqa: BLE001 - pydicom raises many types on malformed values
        return default
    return default if value is None else value


def _int(item: Any, keyword: str) -> int | None:
    value = value_of(item, keyword)
    return None if value == "" else int(value) if value is not None else None


def _float(item: Any, keyword: str) -> float:
    value = value_of(item, keyword)
    return 0.0 if value is None or value == "" else float(value)


def _region(item: Any) -> UltrasoundRegion:
    unit_x, scale_x = PHYSICAL_UNITS.get(int(item.PhysicalUnitsXDirection), ("?", 1.0))
    unit_y, scale_y = PHYSICAL_UNITS.get(int(item.PhysicalUnitsYDirection), ("?", 1.0))
    return UltrasoundRegion(
        x0=int(item.RegionLocationMinX0), y0=int(item.RegionLocationMinY0),
        x1=int(item.RegionLocationMaxX1), y1=int(item.RegionLocationMaxY1),
        delta_x=float(item.PhysicalDeltaX) * scale_x, delta_y=float(item.PhysicalDeltaY) * scale_y,
        unit_x=unit_x, unit_y=unit_y,
        spatial_format=SPATIAL_FORMATS.get(int(value_of(item, "RegionSpatialFormat", 0)), "other"),
        data_type=int(value_of(item, "RegionDataType", 0)),
        reference_x0=_int(item, "ReferencePixelX0"), reference_y0=_int(item, "ReferencePixelY0"),
        reference_value_x=_float(item, "ReferencePixelPhysicalValueX") * scale_x,
        reference_value_y=_float(item, "ReferencePixelPhysicalValueY") * scale_y)


def us_regions(ds) -> list[UltrasoundRegion]:
    """The calibrated regions of ``SequenceOfUltrasoundRegions`` (incomplete ones skipped)."""
    regions = []
    for item in value_of(ds, "SequenceOfUltrasoundRegions", []) or []:
        try:
            regions.append(_region(item))
        except Exception:  # noqa: BLE001 - an incomplete or malformed region calibrates nothing
            continue
    return regions


def tissue_region(ds) -> UltrasoundRegion | None:
    """The largest 2D region calibrated in length units (the B-mode image), or None."""
    candidates = [r for r in us_regions(ds) if r.is_tissue_2d]
    return max(candidates, key=lambda r: r.area) if candidates else None


def frame_times_s(ds) -> np.ndarray | None:
    """Per-frame times in seconds from the first frame, or None if the file does not time its
    frames (or times them with malformed or non-finite values)."""
    try:
        times = _frame_times_s(ds)
    except Exception:  # noqa: BLE001 - malformed timing elements time nothing
        return None
    return times if times is None or np.all(np.isfinite(times)) else None


def _frame_times_s(ds) -> np.ndarray | None:
    n_frames = int(value_of(ds, "NumberOfFrames", 1) or 1)
    value = value_of(ds, "FrameIncrementPointer")        # one tag (an int) or several
    pointers = [] if value is None else [int(value)] if isinstance(value, int) else [int(t) for t in value]
    vector = value_of(ds, "FrameTimeVector")            # one value (a float) or several
    if FRAME_TIME_VECTOR in pointers and vector is not None:
        steps = np.asarray([float(vector)] if isinstance(vector, float) else [float(v) for v in vector])
        if steps.size == n_frames:
            return np.cumsum(np.concatenate([[0.0], steps[1:]])) / 1e3
    frame_time = value_of(ds, "FrameTime")
    if frame_time not in (None, "") and (FRAME_TIME in pointers or not pointers) and float(frame_time) > 0:
        return np.arange(n_frames) * float(frame_time) / 1e3
    return None


def floats(ds: Any, keyword: str) -> list[float] | None:
    """The element's values as floats; None when absent, empty or not numbers."""
    value = value_of(ds, keyword)
    if value is None or value == "":
        return None
    values = value if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else [value]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError, OverflowError):
        return None


def text(ds: Any, keyword: str) -> str | None:
    """The element's value as a string; None when absent, empty or unreadable."""
    value = value_of(ds, keyword)
    try:
        return str(value).strip() or None if value is not None else None
    except Exception:  # noqa: BLE001 - a value pydicom keeps but cannot render
        return None


def geometry_meta(ds) -> dict[str, Any]:
    """The geometry sidecar of ``decode(..., with_meta=True)``: spacing (m), position/orientation,
    window, modality, UIDs, ultrasound regions, frame times (s)."""
    spacing = floats(ds, "PixelSpacing")
    region = tissue_region(ds)
    times = frame_times_s(ds)
    return {
        "modality": text(ds, "Modality"), "sop_class_uid": text(ds, "SOPClassUID"),
        "study_instance_uid": text(ds, "StudyInstanceUID"), "series_instance_uid": text(ds, "SeriesInstanceUID"),
        "sop_instance_uid": text(ds, "SOPInstanceUID"),
        "pixel_spacing_m": [abs(s) / 1e3 for s in spacing] if spacing and len(spacing) == 2 else (
            [abs(region.delta_y), abs(region.delta_x)] if region else None),
        "image_position_patient_m": [p / 1e3 for p in floats(ds, "ImagePositionPatient") or []] or None,
        "image_orientation_patient": floats(ds, "ImageOrientationPatient"),
        "window_center": floats(ds, "WindowCenter"), "window_width": floats(ds, "WindowWidth"),
        "photometric_interpretation": text(ds, "PhotometricInterpretation"),
        "us_regions": [asdict(r) for r in us_regions(ds)],
        "frame_times_s": None if times is None else times.tolist(),
    }
