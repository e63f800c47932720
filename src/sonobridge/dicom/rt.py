"""RT dosimetry (``pydcm.rt``): RT Dose grids read and written, and dose-volume histograms of an RT
Structure Set's ROIs.

* :func:`read_rtdose` -- an RT Dose file (SOP Class 1.2.840.10008.5.1.4.1.1.481.2) -> :class:`DoseGrid`:
  the dose in double precision (stored integers x Dose Grid Scaling), its voxel -> patient (LPS, mm)
  affine, the frame offsets and the DVHs the file stores.
* :func:`write_rtdose` -- the write side: a dose array and its geometry -> an RT Dose file (unsigned
  integers with a Dose Grid Scaling that reproduces the maximum).
* :func:`dvhcalc` -- the DVH of one ROI from an RT Structure Set + RT Dose pair -> :class:`ComputedDVH`,
  computed the way dicompyler-core's ``dvhcalc.get_dvh`` computes it without its optional in-plane
  interpolation and structure-extent settings: each contour plane is rasterised on the dose grid's voxel
  centres (even-odd rule, so inner contours cut holes), the dose plane at the contour's z is the stored
  plane within 0.5 mm or else linearly interpolated between its two neighbours, doses are binned in
  1 cGy bins and the voxel counts scaled to the structure volume (in-plane voxel area x the smallest
  spacing between contour planes).

Affines are 4x4 voxel -> world matrices for voxel index ``(column, row, frame)``, given as
column-major flat lists of 16 numbers (``numpy.reshape(affine, (4, 4), order="F")`` gives the matrix;
a 4x4 array is also accepted as input). The dose array is ``(frames, rows, columns)``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, SonobridgeError, UnsupportedInputError

#: the largest dose (cGy) dvhcalc histograms in 1 cGy bins: 1,000 Gy, far beyond any treatment
MAX_DOSE_CGY = 100_000.0

RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLANS = {"1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.481.8"}     # RT (Ion) Plan
#: planes nearer than this (mm) to a contour plane are used without interpolation (dicompyler's threshold)
PLANE_TOLERANCE_MM = 0.5
OUTSIDE_NOTE = "Dose grid does not encompass every contour. Volume calculated for all contours."


@dataclass
class DoseGrid:
    """A scaled RT Dose grid.

    Attributes
    ----------
    dose : numpy.ndarray
        float64 ``(frames, rows, columns)``, in ``dose_units`` (Gy, or relative).
    dose_grid_scaling : float
        The scale applied to the stored integers: the file's Dose Grid Scaling, or 1.0 when it is
        absent or zero.
    max_dose : float
        Maximum of ``dose`` (double precision).
    affine : list of float
        4x4 voxel ``(column, row, frame)`` -> patient LPS mm, column-major flat list of 16.
    spacing : tuple of float
        ``(row, column, frame)`` spacing in mm (the frame step is the first one).
    grid_frame_offsets : list of float
        Grid Frame Offset Vector as stored (mm, relative to the first frame).
    uniform_offsets : bool
        False when the frame steps vary (the affine then uses the first step; place frames with
        ``grid_frame_offsets``).
    dvhs : list of dict
        Stored DVHs: ``{roi_number, type, dose_units, dose_type, volume_units, dose_scaling, bins
        (edges, dose units, from 0), counts (volume per bin), min, max, mean}``.
    dose_units, dose_type, dose_summation_type : str
        As stored (``GY`` / ``RELATIVE``, ``PHYSICAL`` / ``EFFECTIVE`` / ``ERROR``, ``PLAN`` ...).
    origin : tuple of float
        Image Position (Patient) of the first voxel, mm.
    orientation : tuple of float
        Image Orientation (Patient): row then column direction cosines.
    frame_of_reference_uid, sop_instance_uid, referenced_plan_uid : str
        Identity ('' when absent).
    """

    dose: np.ndarray
    dose_grid_scaling: float
    max_dose: float
    affine: list[float]
    spacing: tuple[float, float, float]
    grid_frame_offsets: list[float]
    uniform_offsets: bool
    dvhs: list[dict[str, Any]] = field(default_factory=list)
    dose_units: str = ""
    dose_type: str = ""
    dose_summation_type: str = ""
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    frame_of_reference_uid: str = ""
    sop_instance_uid: str = ""
    referenced_plan_uid: str = ""

    @property
    def matrix(self) -> np.ndarray:
        """The affine as a 4x4 array."""
        return np.reshape(np.asarray(self.affine, dtype=np.float64), (4, 4), order="F")


@dataclass
class ComputedDVH:
    """A DVH computed from an RT Structure Set + RT Dose pair (as dicompyler-core's ``get_dvh``).

    Attributes
    ----------
    counts : numpy.ndarray
        Differential histogram: cm^3 per 1 cGy bin, float64, trailing zero bins trimmed.
    cumulative : numpy.ndarray
        Suffix sums of ``counts``: volume (cm^3) receiving at least each bin's lower edge.
    bins : numpy.ndarray
        Bin edges in Gy (``len(counts) + 1``; ``[0, 1]`` for a single bin, as dicompyler).
    volume : float
        Structure volume in cm^3 (contours outside the dose grid included).
    min, max, mean : float
        Gy: upper edge of the first / last non-empty bin and the bin-centre mean (dicompyler's
        definitions; 0 for an empty DVH).
    notes : str
        Dose-grid coverage notes ('' when the grid covers the structure, ``Empty DVH`` when no voxel
        of the structure is inside it).
    name : str
        The ROI name.
    roi_number : int
    """

    counts: np.ndarray
    cumulative: np.ndarray
    bins: np.ndarray
    volume: float
    min: float
    max: float
    mean: float
    notes: str = ""
    name: str = ""
    roi_number: int = 0


# ---------------------------------------------------------------- geometry
def _floats(ds: Any, keyword: str, count: int, label: str) -> list[float]:
    value = ds.get(keyword, None)
    values = [] if value is None or value == "" else list(value) if hasattr(value, "__iter__") \
        and not isinstance(value, (str, bytes)) else [value]
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise FormatError(label, f"{keyword} is not numeric ({value!r})") from None
    if len(numbers) != count or not np.all(np.isfinite(numbers)):
        raise FormatError(label, f"{keyword} must hold {count} finite numbers, got {value!r}")
    return numbers


def _offsets(ds: Any, n_frames: int, origin: list[float], normal: np.ndarray, label: str) -> list[float]:
    """Grid Frame Offset Vector as offsets from the first frame along the normal (mm)."""
    if n_frames == 1 and "GridFrameOffsetVector" not in ds:
        return [0.0]
    value = ds.get("GridFrameOffsetVector", None)
    stored = len(value) if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else 1
    if stored < n_frames:
        raise FormatError(label, f"GridFrameOffsetVector holds {stored} offsets for {n_frames} frames")
    offsets = _floats(ds, "GridFrameOffsetVector", stored, label)[:n_frames]     # extra offsets: ignored
    if offsets[0] != 0.0 and abs(float(normal[2])) > 0.999:     # "type a": absolute z coordinates (axial only)
        offsets = [(z - origin[2]) * float(np.sign(normal[2])) for z in offsets]
    return offsets


def _geometry(ds: Any, n_frames: int, label: str):
    """(origin, orientation, pixel spacing (row, col), offsets, frame directions normal)."""
    origin = _floats(ds, "ImagePositionPatient", 3, label)
    orientation = _floats(ds, "ImageOrientationPatient", 6, label)
    spacing = _floats(ds, "PixelSpacing", 2, label)
    row, column = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    normal = np.cross(row, column)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-3):
        raise FormatError(label, f"ImageOrientationPatient {orientation} is not two orthonormal directions")
    return origin, orientation, spacing, _offsets(ds, n_frames, origin, normal, label), normal


def _affine(origin, orientation, spacing, step: float) -> np.ndarray:
    row, column = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    matrix = np.eye(4)
    matrix[:3, 0] = row * spacing[1]
    matrix[:3, 1] = column * spacing[0]
    matrix[:3, 2] = np.cross(row, column) * step
    matrix[:3, 3] = origin
    return matrix


def _flat(matrix: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(matrix, dtype=np.float64).ravel(order="F")]


# ---------------------------------------------------------------- reading
def _open(path: Any, kinds: set[str], what: str):
    from .io import open_dataset

    ds, label = open_dataset(path)
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in kinds:
        raise UnsupportedInputError(label, f"not an {what} (SOP class {sop_class or 'missing'})")
    return ds, label


def _stored(ds: Any, label: str) -> np.ndarray:
    """The stored dose integers ``(frames, rows, columns)``."""
    from .pixels import decode_dataset

    pixels = decode_dataset(ds, label)
    if pixels.ndim != 3:
        raise FormatError(label, f"RT Dose pixels must be single-sample, got shape {pixels.shape}")
    return pixels


def _scaling(ds: Any) -> float:
    value = ds.get("DoseGridScaling", None)
    try:
        scale = float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        scale = 0.0
    return scale if np.isfinite(scale) and scale != 0.0 else 1.0


def _stored_dvh(item: Any) -> dict[str, Any]:
    data = np.asarray([float(v) for v in item.DVHData], dtype=np.float64)
    scale = float(item.get("DVHDoseScaling", 1.0) or 1.0)
    widths, counts = data[0::2], data[1::2]
    refs = item.get("DVHReferencedROISequence", None)

    def stat(keyword: str) -> float | None:
        value = item.get(keyword, None)
        return float(value) if value not in (None, "") else None

    return {"roi_number": int(refs[0].ReferencedROINumber) if refs else None,
            "type": str(item.get("DVHType", "")), "dose_units": str(item.get("DoseUnits", "")),
            "dose_type": str(item.get("DoseType", "")), "volume_units": str(item.get("DVHVolumeUnits", "")),
            "dose_scaling": scale, "bins": np.concatenate([[0.0], np.cumsum(widths) * scale]), "counts": counts,
            "min": stat("DVHMinimumDose"), "max": stat("DVHMaximumDose"), "mean": stat("DVHMeanDose")}


def read_rtdose(path: Any) -> DoseGrid:
    """Read an RT Dose file into a :class:`DoseGrid`.

    Parameters
    ----------
    path : str, os.PathLike, bytes, binary file-like or pydicom Dataset

    Raises
    ------
    UnsupportedInputError
        Not DICOM, or not an RT Dose.
    FormatError
        Damaged content, or no usable geometry (position, orientation, spacing, frame offsets).
    """
    from .io import damaged_content

    ds, label = _open(path, {RT_DOSE}, "RT Dose")
    with damaged_content(label):
        if "PixelData" not in ds:
            raise FormatError(label, "RT Dose without a dose grid (no pixel data)")
        stored = _stored(ds, label)
        scale = _scaling(ds)
        dose = stored.astype(np.float64) * scale
        origin, orientation, spacing, offsets, _ = _geometry(ds, stored.shape[0], label)
        steps = np.diff(offsets)
        step = float(steps[0]) if steps.size else float(ds.get("SliceThickness", 0) or 0) or 1.0
        uniform = bool(steps.size == 0 or np.allclose(steps, steps[0], rtol=0, atol=1e-4))
        plans = ds.get("ReferencedRTPlanSequence", None)
        return DoseGrid(dose=dose, dose_grid_scaling=scale, max_dose=float(dose.max()) if dose.size else 0.0,
                        affine=_flat(_affine(origin, orientation, spacing, step)),
                        spacing=(spacing[0], spacing[1], abs(step)), grid_frame_offsets=[float(v) for v in offsets],
                        uniform_offsets=uniform, dvhs=[_stored_dvh(i) for i in ds.get("DVHSequence", [])],
                        dose_units=str(ds.get("DoseUnits", "")), dose_type=str(ds.get("DoseType", "")),
                        dose_summation_type=str(ds.get("DoseSummationType", "")), origin=tuple(origin),
                        orientation=tuple(orientation), frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
                        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
                        referenced_plan_uid=str(plans[0].ReferencedSOPInstanceUID) if plans else "")


# ---------------------------------------------------------------- writing
def _geometry_from_affine(affine: Any, n_frames: int):
    matrix = np.asarray(affine, dtype=np.float64)
    matrix = matrix.reshape(4, 4, order="F") if matrix.size == 16 and matrix.ndim == 1 else matrix
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise SonobridgeError(None, f"write_rtdose: affine must be 4x4 (or 16 column-major values), "
                                    f"got shape {np.shape(affine)}")
    col_mm, row_mm = np.linalg.norm(matrix[:3, 0]), np.linalg.norm(matrix[:3, 1])
    if not (col_mm > 0 and row_mm > 0):
        raise SonobridgeError(None, "write_rtdose: the affine has a zero in-plane axis")
    row, column = matrix[:3, 0] / col_mm, matrix[:3, 1] / row_mm
    step = float(np.dot(matrix[:3, 2], np.cross(row, column)))
    if n_frames > 1 and not abs(step) > 0:
        raise SonobridgeError(None, "write_rtdose: the affine's frame axis has no step along the plane normal")
    return list(matrix[:3, 3]), [*row, *column], [row_mm, col_mm], [i * step for i in range(n_frames)]


def _identity(ds: Any, reference: Any, ids: dict[str, Any]) -> str | None:
    """Patient / study / frame of reference from ``reference`` then ``ids``; returns the plan UID
    when ``reference`` is an RT Plan."""
    from .io import open_dataset
    from .uid import generate_uid

    plan = None
    if reference is not None:
        source = open_dataset(reference, stop_before_pixels=True)[0]
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
                        "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "FrameOfReferenceUID"):
            if keyword in source:
                setattr(ds, keyword, source[keyword].value)
        if str(source.get("SOPClassUID", "")) in RT_PLANS:
            plan = str(source.SOPInstanceUID)
    for keyword, value in ids.items():
        if value is not None:
            setattr(ds, keyword, value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName"):
        if keyword not in ds:
            setattr(ds, keyword, None)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        if not ds.get(keyword):
            setattr(ds, keyword, generate_uid())
    return plan


def _quantised(dose: np.ndarray, scaling: float | None, bits: int) -> tuple[np.ndarray, str]:
    """Unsigned integers and the Dose Grid Scaling (DS text) that reproduces them."""
    from pydicom.valuerep import format_number_as_ds

    top = 2 ** bits - 1
    peak = float(dose.max()) if dose.size else 0.0
    scale = float(scaling) if scaling is not None else (peak / top if peak > 0 else 1.0)
    if not (np.isfinite(scale) and scale > 0):
        raise SonobridgeError(None, f"write_rtdose: scaling must be > 0, not {scaling}")
    text = format_number_as_ds(scale)
    if peak / float(text) > top + 0.5:          # the DS text rounded the scale down: the peak would not fit
        if scaling is not None:
            raise SonobridgeError(None, f"write_rtdose: scaling {scaling} maps the maximum {peak} beyond {bits} bits")
        text = format_number_as_ds(float(text) * (1 + 1e-9) + 1e-15)
        while peak / float(text) > top + 0.5:
            text = format_number_as_ds(float(text) * (1 + 1e-6))
    stored = np.clip(np.round(dose / float(text)), 0, top).astype(np.uint32 if bits == 32 else np.uint16)
    return stored, text


def write_rtdose(dose: Any, *, affine: Any = None, origin: Any = None, orientation: Any = (1, 0, 0, 0, 1, 0),
                 spacing: Any = None, grid_frame_offsets: Any = None, dose_units: str = "GY",
                 dose_type: str = "PHYSICAL", dose_summation_type: str = "PLAN", ref_plan_uid: str | None = None,
                 reference: Any = None, patient_name: str | None = None, patient_id: str | None = None,
                 study_uid: str | None = None, study_date: str | None = None, series_uid: str | None = None,
                 frame_of_reference_uid: str | None = None, scaling: float | None = None, bits: int = 32,
                 output: str | os.PathLike | None = None) -> bytes | Path:
    """Author an RT Dose file from a dose grid.

    Parameters
    ----------
    dose : array_like
        ``(frames, rows, columns)`` (or ``(rows, columns)``) doses >= 0 in ``dose_units``.
    affine : array_like, optional
        Voxel ``(column, row, frame)`` -> patient LPS mm: 4x4, or 16 values column-major (the
        :class:`DoseGrid` convention). Or give ``origin`` + ``orientation`` + ``spacing``.
    origin : sequence of 3 float
        Position of the first voxel (mm).
    orientation : sequence of 6 float
        Row and column direction cosines.
    spacing : sequence of float
        ``(row, column)`` mm, or ``(row, column, frame)``.
    grid_frame_offsets : sequence of float, optional
        mm from the first frame along the normal; default: the affine's frame step, or the third
        spacing (uniform).
    dose_units, dose_type, dose_summation_type : str
        RT Dose module values.
    ref_plan_uid : str, optional
        SOP Instance UID of the RT Plan (Referenced RT Plan Sequence); default: ``reference``'s
        when it is an RT Plan.
    reference : path or Dataset, optional
        A DICOM object whose patient, study and frame of reference the dose joins.
    patient_name, patient_id, study_uid, study_date, series_uid, frame_of_reference_uid : str, optional
        Identity (override ``reference``; UIDs are generated when absent).
    scaling : float, optional
        Dose Grid Scaling; default: maximum dose / the largest ``bits``-bit integer.
    bits : int
        32 or 16 (unsigned stored integers).
    output : path, optional
        Write there atomically and return the path; else return the Part-10 bytes.

    Raises
    ------
    SonobridgeError
        Dose or geometry that does not fit; nothing is written.
    """
    import datetime as dt

    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    from pydicom.valuerep import format_number_as_ds

    from .derived import MANUFACTURER, finish
    from .uid import generate_uid

    array = np.asarray(dose, dtype=np.float64)
    array = array[None] if array.ndim == 2 else array
    if array.ndim != 3 or 0 in array.shape:
        raise SonobridgeError(None, f"write_rtdose: dose must be (frames, rows, columns), got {np.shape(dose)}")
    if not np.all(np.isfinite(array)) or array.min() < 0:
        raise SonobridgeError(None, "write_rtdose: dose must be finite and >= 0")
    if bits not in (16, 32):
        raise SonobridgeError(None, f"write_rtdose: bits must be 16 or 32, not {bits}")
    n_frames = array.shape[0]
    if affine is not None:
        position, cosines, pixel_mm, offsets = _geometry_from_affine(affine, n_frames)
    else:
        if origin is None or spacing is None or len(spacing) not in (2, 3) or len(origin) != 3 or len(orientation) != 6:
            raise SonobridgeError(None, "write_rtdose: give affine, or origin (3), orientation (6) and spacing "
                                        "(row, column[, frame]) mm")
        position, cosines, pixel_mm = [float(v) for v in origin], [float(v) for v in orientation], \
            [float(v) for v in spacing[:2]]
        step = float(spacing[2]) if len(spacing) == 3 else None
        offsets = None if step is None and n_frames > 1 else [i * (step or 0.0) for i in range(n_frames)]
    if grid_frame_offsets is not None:
        offsets = [float(v) for v in grid_frame_offsets]
    if offsets is None or len(offsets) != n_frames:
        raise SonobridgeError(None, f"write_rtdose: {n_frames} frames need {n_frames} grid frame offsets "
                                    f"(give grid_frame_offsets, a frame spacing or an affine)")
    stored, scale_text = _quantised(array, scaling, bits)

    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = RT_DOSE, sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    plan = _identity(ds, reference, {"PatientName": patient_name, "PatientID": patient_id,
                                     "StudyInstanceUID": study_uid, "StudyDate": study_date,
                                     "SeriesInstanceUID": series_uid, "FrameOfReferenceUID": frame_of_reference_uid})
    now = dt.datetime.now()
    ds.SOPClassUID, ds.SOPInstanceUID = RT_DOSE, sop_uid
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber, ds.OperatorsName = "RTDOSE", 1, 1, None
    ds.PositionReferenceIndicator = None
    ds.Manufacturer = MANUFACTURER
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.ImagePositionPatient = [format_number_as_ds(v) for v in position]
    ds.ImageOrientationPatient = [format_number_as_ds(v) for v in cosines]
    ds.PixelSpacing = [format_number_as_ds(v) for v in pixel_mm]
    ds.SliceThickness = format_number_as_ds(abs(offsets[1] - offsets[0])) if n_frames > 1 else None
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    if n_frames > 1:                                  # the Multi-frame module: frames placed by the offsets
        ds.NumberOfFrames, ds.FrameIncrementPointer = n_frames, 0x3004000C
        ds.GridFrameOffsetVector = [format_number_as_ds(v) for v in offsets]
    ds.Rows, ds.Columns = array.shape[1], array.shape[2]
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, 0
    ds.DoseUnits, ds.DoseType, ds.DoseSummationType = dose_units, dose_type, dose_summation_type
    ds.DoseGridScaling = scale_text
    plan = ref_plan_uid or plan
    if plan:
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.481.5", plan
        ds.ReferencedRTPlanSequence = [item]
    ds.PixelData = stored.astype("<u4" if bits == 32 else "<u2").tobytes()
    data = finish(ds, output)
    return data if output is None else Path(output)


# ---------------------------------------------------------------- DVH
@dataclass
class _Plane:
    """The dose grid as dvhcalc samples it."""

    stored: np.ndarray               # (frames, rows, columns) stored integers
    scale: float
    z: np.ndarray                    # world z of each frame
    x: np.ndarray                    # (rows, columns) world x of voxel centres
    y: np.ndarray
    area_mm2: float

    def at(self, z: float) -> np.ndarray | None:
        """The stored-unit dose plane at ``z`` (nearest within tolerance, else linear between the
        neighbouring frames), None outside the grid."""
        distance = np.abs(self.z - z)
        nearest = int(np.argmin(distance))
        if distance[nearest] < PLANE_TOLERANCE_MM:
            return self.stored[nearest].astype(np.float64)
        if z < self.z.min() or z > self.z.max():
            return None
        order = np.argsort(distance)
        near, other = int(order[0]), int(order[1])
        weight = (z - self.z[other]) / (self.z[near] - self.z[other])
        return weight * self.stored[near].astype(np.float64) + (1.0 - weight) * self.stored[other].astype(np.float64)


def _dose_plane(ds: Any, label: str) -> _Plane:
    stored = _stored(ds, label)
    origin, orientation, spacing, offsets, normal = _geometry(ds, stored.shape[0], label)
    if abs(abs(normal[2]) - 1.0) > 1e-3:
        raise FormatError(label, "dvhcalc needs an axial dose grid (frames along the patient z axis)")
    row_dir, column_dir = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    rows, columns = np.meshgrid(np.arange(stored.shape[1]), np.arange(stored.shape[2]), indexing="ij")
    x = origin[0] + columns * spacing[1] * row_dir[0] + rows * spacing[0] * column_dir[0]
    y = origin[1] + columns * spacing[1] * row_dir[1] + rows * spacing[0] * column_dir[1]
    z = origin[2] + np.asarray(offsets) * normal[2]
    return _Plane(stored, _scaling(ds), z, x, y, spacing[0] * spacing[1])


def inside(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Points ``(x, y)`` inside the closed ``polygon`` ``(n, 2)`` by the even-odd (crossing) rule.

    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    >>> inside(np.array([1.0, 3.0]), np.array([1.0, 1.0]), square).tolist()
    [True, False]
    """
    result = np.zeros(np.shape(x), dtype=bool)
    if len(polygon) < 3:
        return result
    start, end = polygon, np.roll(polygon, -1, axis=0)
    for (x0, y0), (x1, y1) in zip(start, end):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        result ^= crosses & (x < at)
    return result


def _roi(ds: Any, roi: int | str, label: str) -> tuple[int, str]:
    rois = [(int(item.ROINumber), str(item.get("ROIName", ""))) for item in ds.get("StructureSetROISequence", [])]
    for number, name in rois:
        if (isinstance(roi, str) and name == roi) or (not isinstance(roi, str) and number == int(roi)):
            return number, name
    known = ", ".join(f"{n} {name!r}" for n, name in rois) or "none"
    raise FormatError(label, f"no ROI {roi!r} in the structure set (ROIs: {known})")


def _planes(ds: Any, number: int) -> dict[float, list[np.ndarray]]:
    """Contours of ROI ``number`` by plane (z rounded to 0.01 mm, as dicompyler keys them): (n, 2) x, y."""
    planes: dict[float, list[np.ndarray]] = {}
    for item in ds.get("ROIContourSequence", []):
        if int(item.ReferencedROINumber) != number:
            continue
        for contour in item.get("ContourSequence", []):
            points = np.asarray([float(v) for v in contour.ContourData], dtype=np.float64).reshape(-1, 3)
            if len(points):
                planes.setdefault(round(float(points[0, 2]), 2), []).append(points[:, :2])
    return planes


def _statistics(counts: np.ndarray, bins: np.ndarray) -> tuple[float, float, float]:
    if counts.size <= 1 or counts.max() == 0:
        return 0.0, 0.0, 0.0
    upper = bins[1:][counts > 0]
    centres = 0.5 * (bins[1:] + bins[:-1])
    return float(upper[0]), float(upper[-1]), float((centres * counts).sum() / counts.sum())


def _empty(name: str, number: int, volume: float = 0.0) -> ComputedDVH:
    return ComputedDVH(np.zeros(1), np.zeros(1), np.arange(0, 2, dtype=np.float64), volume, 0.0, 0.0, 0.0,
                       "Empty DVH", name, number)


def dvhcalc(rtstruct: Any, rtdose: Any, roi: int | str, limit: int | None = None) -> ComputedDVH:
    """Compute the DVH of ``roi`` from an RT Structure Set + RT Dose pair.

    Parameters
    ----------
    rtstruct, rtdose : path, bytes or pydicom Dataset
        The structure set and the dose (same frame of reference; an axial dose grid).
    roi : int or str
        ROI Number, or ROI Name.
    limit : int, optional
        Caps the histogram at this many cGy (doses above it are left out).

    Returns
    -------
    ComputedDVH

    Raises
    ------
    UnsupportedInputError
        A file that is not an RT Structure Set / RT Dose.
    FormatError
        No such ROI, or damaged content.
    """
    from .io import damaged_content

    structure, structure_label = _open(rtstruct, {RT_STRUCT}, "RT Structure Set")
    dose_ds, dose_label = _open(rtdose, {RT_DOSE}, "RT Dose")
    with damaged_content(structure_label):
        number, name = _roi(structure, roi, structure_label)
        planes = _planes(structure, number)
    with damaged_content(dose_label):
        grid = _dose_plane(dose_ds, dose_label)
    if not planes or grid.stored.size == 0:
        return _empty(name, number)
    zs = sorted(planes)
    thickness = float(min(np.diff(zs))) if len(zs) > 1 else 0.0
    peak_cgy = float(grid.stored.max()) * grid.scale * 100
    if not np.isfinite(peak_cgy) or peak_cgy > MAX_DOSE_CGY:        # a lying DoseGridScaling
        raise FormatError(dose_label, f"a peak dose of {peak_cgy:g} cGy (DoseGridScaling {grid.scale:g}) "
                                      f"is not a dose: at most {MAX_DOSE_CGY:g} cGy is histogrammed")
    n_bins = int(peak_cgy) + 1
    if limit is not None and int(limit) < n_bins:
        n_bins = max(int(limit), 1)
    histogram, volume_mm3, notes = np.zeros(n_bins), 0.0, ""
    for z in zs:
        mask = np.zeros(grid.x.shape, dtype=bool)
        for polygon in planes[z]:
            mask ^= inside(grid.x, grid.y, polygon)
        plane = grid.at(z)
        outside = plane is None
        if outside:                                   # volume only, from the first frame (dicompyler)
            plane, notes = grid.stored[0].astype(np.float64), OUTSIDE_NOTE
        counts, _ = np.histogram(plane[mask] * grid.scale * 100, bins=n_bins, range=(0, n_bins))
        volume_mm3 += counts.sum() * grid.area_mm2 * thickness
        if not outside:
            histogram += counts
    volume = volume_mm3 / 1000.0
    if histogram.max() <= 0:
        return _empty(name, number, volume)
    histogram = np.trim_zeros(histogram * volume / histogram.sum(), trim="b")
    bins = np.arange(0, 2, dtype=np.float64) if histogram.size == 1 else np.arange(histogram.size + 1) / 100.0
    low, high, mean = _statistics(histogram, bins)
    return ComputedDVH(counts=histogram, cumulative=histogram[::-1].cumsum()[::-1], bins=bins, volume=volume,
                       min=low, max=high, mean=mean, notes=notes, name=name, roi_number=number)


__all__ = ["DoseGrid", "ComputedDVH", "read_rtdose", "write_rtdose", "dvhcalc", "inside"]
