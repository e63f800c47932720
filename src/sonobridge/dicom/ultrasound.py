"""Ultrasound DICOM geometry and timing: regions in SI units (read and written), frame times,
the geometry sidecar, DS/IS values.

* ``SequenceOfUltrasoundRegions`` (PS3.3 C.8.5.5): each region's pixel bounds, physical size of a
  pixel along x and y with its unit (PhysicalUnits codes: 2 = dB, 3 = cm, 4 = s, 5 = Hz,
  6 = dB/s, 7 = cm/s ...), spatial format (1 = 2D, 2 = M-mode, 3 = spectral, 4 = waveform) and data type.
  Absolute position: column ``c`` lies at ``ReferencePixelPhysicalValueX + (c - (RegionLocationMinX0
  + ReferencePixelX0)) * PhysicalDeltaX`` (rows likewise); the deltas keep their sign (an ACUSON
  phased array stores a negative PhysicalDeltaX: its x axis decreases left to right).
  :func:`region_dataset` writes the mirror image: one 2D tissue region from the x/z axes in metres.

Malformed values (a DS that is not a number, an element pydicom cannot convert) calibrate or time
nothing: they read as absent, never as an exception.
* Frame times: FrameIncrementPointer names the attribute that times the frames: FrameTime
  (0018,1063, ms between frames) or FrameTimeVector (0018,1065, ms from the previous frame, first 0).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


#: PhysicalUnitsX/YDirection code -> (SI unit, scale to SI)
PHYSICAL_UNITS = {0: ("", 1.0), 1: ("%", 1.0), 2: ("dB", 1.0), 3: ("m", 0.01), 4: ("s", 1.0), 5: ("Hz", 1.0),
                  6: ("dB/s", 1.0), 7: ("m/s", 0.01), 8: ("m2", 1e-4), 9: ("m2/s", 1e-4), 0xA: ("m3", 1e-6),
                  0xB: ("m3/s", 1e-6), 0xC: ("rad", np.pi / 180)}
SPATIAL_FORMATS = {0: "none", 1: "2D", 2: "M-mode", 3: "spectral", 4: "waveform", 5: "graphics"}
FRAME_TIME, FRAME_TIME_VECTOR = 0x00181063, 0x00181065
IS_RANGE = (-2**31, 2**31 - 1)


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

    def axes(self, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The whole image's pixel centres on this region's absolute scale (see the module
        docstring), and the region's footprint.

        Parameters
        ----------
        rows, columns : int
            The image size in pixels.

        Returns
        -------
        x : numpy.ndarray
            ``(columns,)`` float64 column positions in ``unit_x`` (metres for a tissue region).
        y : numpy.ndarray
            ``(rows,)`` float64 row positions in ``unit_y`` (depth in metres for a tissue region).
        mask : numpy.ndarray
            ``(rows, columns)`` bool, True inside the region.
        """
        mask = np.zeros((rows, columns), bool)
        mask[max(self.y0, 0):self.y1 + 1, max(self.x0, 0):self.x1 + 1] = True
        return self.axis(columns, "x"), self.axis(rows, "y"), mask


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


#: keyword -> the functional group sequence that holds it in enhanced (multi-frame) objects
FUNCTIONAL_GROUP = {"PixelSpacing": "PixelMeasuresSequence", "SliceThickness": "PixelMeasuresSequence",
                    "RescaleSlope": "PixelValueTransformationSequence",
                    "RescaleIntercept": "PixelValueTransformationSequence",
                    "ImagePositionPatient": "PlanePositionSequence",
                    "ImageOrientationPatient": "PlaneOrientationSequence",
                    "WindowCenter": "FrameVOILUTSequence", "WindowWidth": "FrameVOILUTSequence"}


def frame_floats(ds: Any, keyword: str) -> list[float] | None:
    """:func:`floats` of ``keyword`` at the top level, else in the shared functional groups, else in
    the first frame's (enhanced multi-frame objects keep pixel measures, rescale, plane position
    and VOI there); None when absent everywhere."""
    values = floats(ds, keyword)
    if values is not None or keyword not in FUNCTIONAL_GROUP:
        return values
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        try:
            item = value_of(ds, groups, [])[0]
            values = floats(value_of(item, FUNCTIONAL_GROUP[keyword], [])[0], keyword)
        except (IndexError, TypeError, KeyError):
            continue
        if values is not None:
            return values
    return None


def _first(values: list[float] | None, default: float | None = None) -> float | None:
    return values[0] if values else default


def rescale_per_frame(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's Modality LUT line: ``(slopes, intercepts)``, float64 ``(n_frames,)``.

    A frame's own PixelValueTransformationSequence (enhanced multi-frame objects) first, else the
    dataset's RescaleSlope/RescaleIntercept (top level or shared functional groups), else 1 and 0.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.NumberOfFrames, ds.RescaleSlope, ds.RescaleIntercept = 2, "2", "-1024"
    >>> rescale_per_frame(ds)
    (array([2., 2.]), array([-1024., -1024.]))
    """
    n_frames = max(int(_first(floats(ds, "NumberOfFrames"), 1) or 1), 1)
    slopes = np.full(n_frames, _first(frame_floats(ds, "RescaleSlope"), 1.0))
    intercepts = np.full(n_frames, _first(frame_floats(ds, "RescaleIntercept"), 0.0))
    for index, item in enumerate((value_of(ds, "PerFrameFunctionalGroupsSequence", []) or [])[:n_frames]):
        try:
            transformation = value_of(item, "PixelValueTransformationSequence", [])[0]
        except (IndexError, TypeError, KeyError):
            continue
        slopes[index] = _first(floats(transformation, "RescaleSlope"), slopes[index])
        intercepts[index] = _first(floats(transformation, "RescaleIntercept"), intercepts[index])
    return slopes, intercepts


def geometry_meta(ds) -> dict[str, Any]:
    """The geometry sidecar of ``decode(..., with_meta=True)``.

    Keys (pydcm's names, in DICOM's units): ``rescale_slope`` / ``rescale_intercept`` (float;
    1 and 0 when absent), ``pixel_spacing`` (``[row, column]`` spacing in mm: PixelSpacing, else the
    ultrasound tissue region's), ``slice_thickness`` (mm), ``image_position_patient`` (mm),
    ``image_orientation_patient`` (6 direction cosines), ``window_center`` / ``window_width`` (lists),
    ``modality``, ``sop_class_uid``, ``study_instance_uid``, ``series_instance_uid``,
    ``sop_instance_uid``, ``photometric_interpretation``; and in SI units ``pixel_spacing_m``,
    ``image_position_patient_m`` (m), ``us_regions`` (:class:`UltrasoundRegion` as dicts) and
    ``frame_times_s`` (s). Enhanced multi-frame objects: values of the shared functional groups, else
    of the first frame. Absent values are None."""
    spacing = frame_floats(ds, "PixelSpacing")
    region = tissue_region(ds)
    times = frame_times_s(ds)
    spacing_m = [abs(s) / 1e3 for s in spacing] if spacing and len(spacing) == 2 else (
        [abs(region.delta_y), abs(region.delta_x)] if region else None)
    position = frame_floats(ds, "ImagePositionPatient")
    return {
        "modality": text(ds, "Modality"), "sop_class_uid": text(ds, "SOPClassUID"),
        "study_instance_uid": text(ds, "StudyInstanceUID"), "series_instance_uid": text(ds, "SeriesInstanceUID"),
        "sop_instance_uid": text(ds, "SOPInstanceUID"),
        "rescale_slope": _first(frame_floats(ds, "RescaleSlope"), 1.0),
        "rescale_intercept": _first(frame_floats(ds, "RescaleIntercept"), 0.0),
        "pixel_spacing": None if spacing_m is None else [s * 1e3 for s in spacing_m],
        "slice_thickness": _first(frame_floats(ds, "SliceThickness")),
        "image_position_patient": position,
        "pixel_spacing_m": spacing_m,
        "image_position_patient_m": [p / 1e3 for p in position or []] or None,
        "image_orientation_patient": frame_floats(ds, "ImageOrientationPatient"),
        "window_center": frame_floats(ds, "WindowCenter"), "window_width": frame_floats(ds, "WindowWidth"),
        "photometric_interpretation": text(ds, "PhotometricInterpretation"),
        "us_regions": [asdict(r) for r in us_regions(ds)],
        "frame_times_s": None if times is None else times.tolist(),
    }


def number_string(value: float | int, vr: str = "DS") -> str:
    """``value`` as a DICOM Decimal String or Integer String.

    Parameters
    ----------
    value : float or int
        The number.
    vr : str
        ``"DS"`` (at most 16 characters, precision kept as far as they allow) or ``"IS"``
        (32-bit integer range).

    Returns
    -------
    str
        The value string (no ``"-0"``).

    Raises
    ------
    ValueError
        Non-finite, non-integral for IS, or out of the IS range.

    Examples
    --------
    >>> number_string(1 / 3), number_string(12, "IS")
    ('0.33333333333333', '12')
    """
    from pydicom.valuerep import format_number_as_ds

    if vr == "IS":
        number = int(value)
        if number != value or not IS_RANGE[0] <= number <= IS_RANGE[1]:
            raise ValueError(f"{value!r} is not an IS value (32-bit integer)")
        return str(number)
    if vr != "DS":
        raise ValueError(f"VR {vr!r} is not DS or IS")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{value!r} cannot be written as DS")
    return format_number_as_ds(number + 0.0)          # + 0.0: no "-0"


def _reference(axis_m: np.ndarray, delta_m: float) -> tuple[int, float]:
    """ReferencePixel and its ReferencePixelPhysicalValue (cm, FD) for one axis: the pixel nearest
    the coordinate origin (so a reader ignoring the physical value is close), its exact position
    in the value (so a reader applying it gets the axis back)."""
    index = int(round(-float(axis_m[0]) / delta_m)) if delta_m else 0
    index = index if abs(index) <= 1 << 20 else 0
    return index, (float(axis_m[0]) + index * delta_m) * 100


def region_dataset(x_m: np.ndarray, z_m: np.ndarray, rows: int, columns: int, pixel_size_m: float | None = None):
    """One item of ``SequenceOfUltrasoundRegions``: a 2D tissue region over the whole image.

    Parameters
    ----------
    x_m : numpy.ndarray
        ``(columns,)`` lateral positions of the pixel centres in metres (evenly spaced; may decrease).
    z_m : numpy.ndarray
        ``(rows,)`` depths of the pixel centres in metres (evenly spaced).
    rows, columns : int
        The image size in pixels.
    pixel_size_m : float or None
        Lateral pixel size when ``x_m`` has a single entry.

    Returns
    -------
    pydicom.dataset.Dataset
        PhysicalDelta in cm signed as the axes run; the axes' absolute position in the reference
        pixel and its physical value (:meth:`UltrasoundRegion.axes` reads them back).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> item = region_dataset(np.arange(4) * 1e-4 - 2e-4, np.arange(3) * 2e-4, rows=3, columns=4)
    >>> ds = Dataset(); ds.SequenceOfUltrasoundRegions = [item]
    >>> x, z, mask = us_regions(ds)[0].axes(3, 4)
    >>> np.allclose(x, np.arange(4) * 1e-4 - 2e-4), np.allclose(z, np.arange(3) * 2e-4), bool(mask.all())
    (True, True, True)
    """
    from pydicom.dataset import Dataset

    x_m, z_m = np.asarray(x_m, float), np.asarray(z_m, float)
    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = columns - 1, rows - 1
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3
    dx = float(x_m[1] - x_m[0]) if x_m.size > 1 else float(pixel_size_m or 0)
    dz = float(z_m[1] - z_m[0]) if z_m.size > 1 else abs(dx)
    region.PhysicalDeltaX, region.PhysicalDeltaY = dx * 100, dz * 100          # FD: full precision
    region.ReferencePixelX0, region.ReferencePixelPhysicalValueX = _reference(x_m, dx)
    region.ReferencePixelY0, region.ReferencePixelPhysicalValueY = _reference(z_m, dz)
    return region
