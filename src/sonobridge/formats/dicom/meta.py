"""DICOM geometry and timing: ultrasound regions in SI units, frame times, the geometry sidecar.

* ``SequenceOfUltrasoundRegions`` (PS3.3 C.8.5.5): each region's pixel bounds, physical size of a
  pixel along x and y with its unit (PhysicalUnits codes: 3 = cm, 4 = s, 5 = Hz, 6 = dB,
  7 = cm/s ...), spatial format (1 = 2D, 2 = M-mode, 3 = spectral, 4 = waveform) and data type.
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
    """One calibrated region: pixel bounds (inclusive, 0-based columns/rows), the size of a pixel
    along x and y in SI units (``unit_x``/``unit_y``: m, s, Hz ...), spatial format and data type."""

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

    @property
    def is_tissue_2d(self) -> bool:
        return self.spatial_format == "2D" and self.unit_x == "m" and self.unit_y == "m"

    @property
    def area(self) -> int:
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)

    def pixel_grid(self, rows: int, columns: int) -> PixelGrid:
        """The whole image's pixel centres in metres on this region's scale (origin at the
        region's reference pixel, else its top-left corner), masked to the region."""
        origin_x = self.x0 + (self.reference_x0 or 0)
        origin_y = self.y0 + (self.reference_y0 or 0)
        mask = np.zeros((rows, columns), bool)
        mask[self.y0:self.y1 + 1, self.x0:self.x1 + 1] = True
        return PixelGrid(x_m=(np.arange(columns) - origin_x) * self.delta_x,
                         z_m=(np.arange(rows) - origin_y) * self.delta_y, mask=mask)


def _int(item: Any, keyword: str) -> int | None:
    value = item.get(keyword)
    return None if value is None or value == "" else int(value)


def us_regions(ds) -> list[UltrasoundRegion]:
    regions = []
    for item in ds.get("SequenceOfUltrasoundRegions", []) or []:
        try:
            unit_x, scale_x = PHYSICAL_UNITS.get(int(item.PhysicalUnitsXDirection), ("?", 1.0))
            unit_y, scale_y = PHYSICAL_UNITS.get(int(item.PhysicalUnitsYDirection), ("?", 1.0))
            regions.append(UltrasoundRegion(
                x0=int(item.RegionLocationMinX0), y0=int(item.RegionLocationMinY0),
                x1=int(item.RegionLocationMaxX1), y1=int(item.RegionLocationMaxY1),
                delta_x=float(item.PhysicalDeltaX) * scale_x, delta_y=float(item.PhysicalDeltaY) * scale_y,
                unit_x=unit_x, unit_y=unit_y,
                spatial_format=SPATIAL_FORMATS.get(int(item.get("RegionSpatialFormat", 0)), "other"),
                data_type=int(item.get("RegionDataType", 0)),
                reference_x0=_int(item, "ReferencePixelX0"), reference_y0=_int(item, "ReferencePixelY0")))
        except (AttributeError, TypeError, ValueError):
            continue          # an incomplete region calibrates nothing; the others still do
    return regions


def tissue_region(ds) -> UltrasoundRegion | None:
    """The largest 2D region calibrated in length units (the B-mode image), or None."""
    candidates = [r for r in us_regions(ds) if r.is_tissue_2d]
    return max(candidates, key=lambda r: r.area) if candidates else None


def frame_times_s(ds) -> np.ndarray | None:
    """Per-frame times in seconds from the first frame, or None if the file does not time its frames."""
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    value = ds.get("FrameIncrementPointer")        # one tag (an int) or several
    pointers = [] if value is None else [int(value)] if isinstance(value, int) else [int(t) for t in value]
    if FRAME_TIME_VECTOR in pointers and "FrameTimeVector" in ds:
        vector = ds.FrameTimeVector                    # one value (a float) or several
        steps = np.asarray([float(vector)] if isinstance(vector, float) else [float(v) for v in vector])
        if steps.size == n_frames:
            return np.cumsum(np.concatenate([[0.0], steps[1:]])) / 1e3
    if "FrameTime" in ds and (FRAME_TIME in pointers or not pointers) and float(ds.FrameTime) > 0:
        return np.arange(n_frames) * float(ds.FrameTime) / 1e3
    return None


def geometry_meta(ds) -> dict[str, Any]:
    """The geometry sidecar of ``decode(..., with_meta=True)``: spacing (m), position/orientation,
    window, modality, UIDs, ultrasound regions, frame times (s)."""
    def floats(keyword: str) -> list[float] | None:
        value = ds.get(keyword)
        return None if value is None else [float(v) for v in (value if hasattr(value, "__len__") else [value])]

    spacing = floats("PixelSpacing")
    region = tissue_region(ds)
    times = frame_times_s(ds)
    return {
        "modality": ds.get("Modality"), "sop_class_uid": str(ds.get("SOPClassUID", "")) or None,
        "study_instance_uid": ds.get("StudyInstanceUID"), "series_instance_uid": ds.get("SeriesInstanceUID"),
        "sop_instance_uid": ds.get("SOPInstanceUID"),
        "pixel_spacing_m": [s / 1e3 for s in spacing] if spacing else (
            [region.delta_y, region.delta_x] if region else None),
        "image_position_patient_m": [p / 1e3 for p in floats("ImagePositionPatient") or []] or None,
        "image_orientation_patient": floats("ImageOrientationPatient"),
        "window_center": floats("WindowCenter"), "window_width": floats("WindowWidth"),
        "photometric_interpretation": ds.get("PhotometricInterpretation"),
        "us_regions": [asdict(r) for r in us_regions(ds)],
        "frame_times_s": None if times is None else times.tolist(),
    }
