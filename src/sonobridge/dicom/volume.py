"""DICOM series -> volumes, NIfTI and BIDS sidecars (pydcm.volume).

:func:`load_series` reads the headers of every file, keeps the largest coherent stack (same series,
image orientation, size and temporal position), sorts its slices by position along the slice normal
and stacks them into a :class:`Volume`: ``pixels`` ``[z, y, x]`` float32 real-world values (each
slice's Rescale Slope/Intercept applied: Hounsfield units for CT) and the 4x4 ``affine`` from voxel
indices ``(x, y, z, 1)`` to patient coordinates in millimetres (DICOM LPS). A slice is a single-frame
file or one frame of a multi-frame file that places its frames (Enhanced CT/MR/US Volume: the Plane
Position/Orientation functional groups, patient or volume frame of reference); a 4-D file (several
temporal positions, e.g. a 4-D ultrasound volume) gives one volume per temporal position:
:func:`load_4d` stacks them, :func:`load_series` returns the first.

:meth:`Volume.to_nifti` writes NIfTI-1 with the RAS affine NIfTI readers expect; :func:`from_nifti`
reads one back (RAS -> LPS); :func:`bids_sidecar` gives the dcm2niix-style JSON metadata of an instance.

>>> volume = Volume(np.zeros((2, 3, 4), np.float32), spacing=(2.0, 0.5, 0.5))
>>> volume.shape, volume.spacing_mm
((2, 3, 4), (0.5, 0.5, 2.0))
"""
from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, SonobridgeError, UnsupportedInputError
from .io import damaged_content, read_dataset
from .pixels import decode_dataset
from .ultrasound import floats, text, tissue_region

#: LPS <-> RAS (its own inverse)
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: NIfTI datatypes kept as they are; other dtypes are written as float32
NIFTI_DTYPES = (np.float32, np.uint8, np.int16, np.uint16)

PathSource = str | os.PathLike | Iterable[str | os.PathLike]


@dataclass
class Volume:
    """An assembled 3-D volume.

    Attributes
    ----------
    pixels : numpy.ndarray
        ``[z, y, x]`` (``[z, y, x, samples]`` for colour): float32 real-world values (HU for CT)
        from :func:`load_series`; the file's dtype from :func:`from_nifti` (e.g. an integer mask).
    spacing : tuple of float
        Voxel size ``(z, y, x)`` in millimetres (slice, row, column); derived from ``affine`` when
        not given.
    affine : numpy.ndarray
        4x4 float64: voxel ``(x, y, z, 1)`` -> LPS millimetres; ``diag(spacing x, y, z)`` when not given.
    series_instance_uid : str
        The DICOM series the slices came from ("" when unknown).
    files : list of str
        The source files in stack order (one per slice; repeated for the frames of a multi-frame file).
    """

    pixels: np.ndarray
    spacing: tuple[float, float, float] | None = None
    affine: np.ndarray | None = None
    series_instance_uid: str = ""
    files: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.affine is None:
            z, y, x = self.spacing if self.spacing is not None else (1.0, 1.0, 1.0)
            self.affine = np.diag([float(x), float(y), float(z), 1.0])
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.spacing is None:
            x, y, z = np.linalg.norm(self.affine[:3, :3], axis=0)
            self.spacing = (float(z), float(y), float(x))
        self.spacing = tuple(float(v) for v in self.spacing)

    @property
    def shape(self) -> tuple[int, ...]:
        """``pixels.shape``."""
        return tuple(self.pixels.shape)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """Voxel size ``(x, y, z)`` in millimetres (from the affine)."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    def __repr__(self) -> str:
        return (f"Volume(shape={self.shape}, spacing={tuple(round(s, 3) for s in self.spacing)}, "
                f"series={self.series_instance_uid[:16]!r})")

    def to_nifti(self, path: str | os.PathLike) -> str:
        """Write this volume as NIfTI-1 (``.nii.gz``: gzipped, else ``.nii``), atomically.

        The data are stored ``(x, y, z)`` with the RAS affine (sform and qform, code 1). The
        datatype follows ``pixels`` (float32, uint8, int16, uint16 kept, so label masks stay
        integer; anything else is written as float32) with no scaling: the file reads back the
        values of ``pixels`` (HU for a CT series).

        Returns
        -------
        str
            ``path``.
        """
        return write_nifti(self.pixels, self.affine, path)


@dataclass
class Axis:
    """The non-spatial axis of a :class:`Volume4D`: ``kind`` (``"temporal"``) and one value per step."""

    kind: str
    values: np.ndarray
    spacing: float = 0.0
    tag: int = 0

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class Volume4D:
    """``pixels`` ``[t, z, y, x]`` float32: volumes on one grid (``spacing`` ``(z, y, x)`` mm, LPS
    ``affine``); ``dimensions``: the :class:`Axis` list along ``t``."""

    pixels: np.ndarray
    spacing: tuple[float, float, float]
    affine: np.ndarray
    dimensions: list[Axis]
    series_instance_uid: str = ""
    volume_path: list[str] | None = None
    volume_frame: list[int] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """``pixels.shape``."""
        return tuple(self.pixels.shape)

    @property
    def n_volumes(self) -> int:
        """Number of 3-D volumes."""
        return int(self.pixels.shape[0])

    def __len__(self) -> int:
        return self.n_volumes

    def __getitem__(self, index: int) -> Volume:
        return Volume(self.pixels[index], self.spacing, self.affine, self.series_instance_uid)

    def coords(self, index: int) -> dict[str, float]:
        """``{kind: value}`` of volume ``index``."""
        sizes = tuple(len(axis) for axis in self.dimensions) or (1,)
        position = np.unravel_index(index, sizes)
        return {axis.kind: float(axis.values[i]) for axis, i in zip(self.dimensions, position)}

    def axis(self, kind: str) -> Axis | None:
        """The axis named ``kind``, or None."""
        return next((axis for axis in self.dimensions if axis.kind == kind), None)

    def to_nifti(self, path: str | os.PathLike) -> str:
        """Write as a 4-D NIfTI-1 (the volumes along NIfTI's fourth dimension), like :meth:`Volume.to_nifti`."""
        return write_nifti(self.pixels, self.affine, path)


def write_nifti(pixels: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> str:
    """Write ``pixels`` ``[z, y, x]`` or ``[t, z, y, x]`` with the LPS ``affine`` as NIfTI-1 (atomically).

    Returns ``path`` as a string; see :meth:`Volume.to_nifti` for the datatype rule."""
    nibabel = _nibabel()
    from ..util.atomic import write_bytes_atomic

    data = np.asarray(pixels)
    if data.dtype not in NIFTI_DTYPES:
        data = data.astype(np.float32)
    data = np.ascontiguousarray(np.moveaxis(data, 0, -1).transpose(2, 1, 0, 3) if data.ndim == 4
                                else data.transpose(2, 1, 0))
    ras = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    image = nibabel.Nifti1Image(data, ras)
    image.set_qform(ras, code=1)
    image.set_sform(ras, code=1)
    image.header.set_xyzt_units("mm", "sec")
    payload = image.to_bytes()
    if os.fspath(path).endswith(".gz"):
        import gzip

        payload = gzip.compress(payload, compresslevel=6)
    write_bytes_atomic(path, payload)
    return os.fspath(path)


def _nibabel():
    try:
        import nibabel
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(None, "NIfTI needs nibabel: pip install 'sonobridge[dicom]'") from None
    return nibabel


def from_nifti(path: str | os.PathLike) -> Volume:
    """Read a 3-D NIfTI-1 file (``.nii``/``.nii.gz``) into a :class:`Volume`.

    The RAS affine (sform, else qform) is turned into our LPS convention, so the result's
    ``affine`` matches :func:`load_series`'s for the same grid. Voxels keep the file's dtype
    (a scaled file, ``scl_slope`` set, reads as the scaled floats).

    Raises
    ------
    UnsupportedInputError
        No such file, or not NIfTI.
    FormatError
        A 4-D (or higher) image: a :class:`Volume` is 3-D.
    """
    nibabel = _nibabel()
    if not os.path.isfile(path):
        raise UnsupportedInputError(path, "no such file")
    try:
        image = nibabel.load(os.fspath(path))
        data = np.asanyarray(image.dataobj)
    except Exception as error:  # noqa: BLE001 - nibabel reports bad files with many exception types
        raise UnsupportedInputError(path, f"not a readable NIfTI file ({error})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise FormatError(path, f"{data.ndim}-D image {data.shape}: a Volume is 3-D")
    affine = LPS_TO_RAS @ np.asarray(image.affine, dtype=np.float64)
    return Volume(np.ascontiguousarray(data.transpose(2, 1, 0)), affine=affine)


# ---------------------------------------------------------------------------------------------------
# slices: one per single-frame file or per placed frame of a multi-frame file


@dataclass
class Slice:
    """One image plane of a series: where it is and how to turn its stored values into real ones."""

    path: Path
    frame: int                      # 0-based frame in the file
    header: Any                     # the file's dataset, without pixels
    position: np.ndarray            # (3,) LPS mm of the first transmitted pixel
    orientation: tuple[float, ...]  # row and column direction cosines
    spacing: tuple[float, float] | None  # row spacing (y), column spacing (x) in mm; None: unknown
    thickness: float | None         # SpacingBetweenSlices, else SliceThickness (mm)
    slope: float
    intercept: float
    instance: int
    temporal: float | None          # temporal position (multi-frame index or identifier)
    bvalue: float | None            # s/mm^2
    gradient: np.ndarray | None     # (3,) unit vector, patient frame

    @property
    def normal(self) -> np.ndarray:
        """Slice normal: row x column."""
        return np.cross(self.orientation[:3], self.orientation[3:])


def list_files(path: PathSource, recursive: bool = True, pattern: str | None = None) -> list[Path]:
    """The files of a folder (recursively unless told otherwise; names matching ``pattern``), a
    file, or a list of files. UnsupportedInputError when there are none."""
    if isinstance(path, (str, os.PathLike)):
        root = Path(path)
        if root.is_dir():
            found = root.rglob("*") if recursive else root.glob("*")
            files = sorted(p for p in found if p.is_file() and (pattern is None or fnmatch.fnmatch(p.name, pattern)))
        else:
            files = [root]
    else:
        files = [Path(p) for p in path]
    if not files:
        raise UnsupportedInputError(path if isinstance(path, (str, os.PathLike)) else None, "no files")
    return files


def _item(ds: Any, frame: int, sequence: str) -> Any:
    """The first item of functional group ``sequence`` for ``frame`` (per-frame, else shared)."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items is not None and len(items) > index and sequence in items[index]:
            inner = items[index].get(sequence)
            if inner is not None and len(inner):
                return inner[0]
    return None


def first_value(ds: Any, frame: int, *places: tuple[str | None, str]) -> list[float] | None:
    """Float values of the first place ``(functional group or None for top level, keyword)`` present."""
    for sequence, keyword in places:
        source = ds if sequence is None else _item(ds, frame, sequence)
        values = floats(source, keyword) if source is not None else None
        if values is not None:
            return values
    return None


def diffusion_of(ds: Any, frame: int = 0) -> tuple[float | None, np.ndarray | None]:
    """b-value and gradient direction: MR Diffusion functional group, top-level sequence or elements."""
    sources = [_item(ds, frame, "MRDiffusionSequence")]
    if "MRDiffusionSequence" in ds and len(ds.MRDiffusionSequence):
        sources.append(ds.MRDiffusionSequence[0])
    sources.append(ds)
    for source in sources:
        if source is None:
            continue
        bvalue = floats(source, "DiffusionBValue")
        if bvalue is None:
            continue
        gradient = floats(source, "DiffusionGradientOrientation")
        if gradient is None and "DiffusionGradientDirectionSequence" in source:
            items = source.DiffusionGradientDirectionSequence
            gradient = floats(items[0], "DiffusionGradientOrientation") if len(items) else None
        vector = np.asarray(gradient, float) if gradient is not None and len(gradient) == 3 else None
        return bvalue[0], vector
    return None, None


#: where each per-frame value lives: (functional group or None for the top level, keyword), first found wins
POSITION = (("PlanePositionSequence", "ImagePositionPatient"), ("PlanePositionVolumeSequence", "ImagePositionVolume"))
ORIENTATION = (("PlaneOrientationSequence", "ImageOrientationPatient"),
               ("PlaneOrientationVolumeSequence", "ImageOrientationVolume"), (None, "ImageOrientationPatient"))
PIXEL_SPACING = (("PixelMeasuresSequence", "PixelSpacing"), (None, "PixelSpacing"))
THICKNESS = (("PixelMeasuresSequence", "SpacingBetweenSlices"), (None, "SpacingBetweenSlices"),
             ("PixelMeasuresSequence", "SliceThickness"), (None, "SliceThickness"))
SLOPE = (("PixelValueTransformationSequence", "RescaleSlope"), (None, "RescaleSlope"))
INTERCEPT = (("PixelValueTransformationSequence", "RescaleIntercept"), (None, "RescaleIntercept"))


def _frame_slice(path: Path, ds: Any, frame: int, multiframe: bool) -> Slice | None:
    # a multi-frame file's top-level position is not each frame's
    position = first_value(ds, frame, *POSITION, *([] if multiframe else [(None, "ImagePositionPatient")]))
    orientation = first_value(ds, frame, *ORIENTATION)
    if position is None or len(position) != 3 or orientation is None or len(orientation) != 6:
        return None
    spacing = first_value(ds, frame, *PIXEL_SPACING)
    if spacing is None or len(spacing) != 2:
        region = tissue_region(ds)
        spacing = None if region is None else [region.delta_y * 1e3, region.delta_x * 1e3]
    thickness = first_value(ds, frame, *THICKNESS)
    slope, intercept = first_value(ds, frame, *SLOPE), first_value(ds, frame, *INTERCEPT)
    temporal = (first_value(ds, frame, ("FrameContentSequence", "TemporalPositionIndex")) if multiframe
                else floats(ds, "TemporalPositionIdentifier"))
    bvalue, gradient = diffusion_of(ds, frame)
    instance = floats(ds, "InstanceNumber")
    return Slice(path, frame, ds, np.asarray(position, float), tuple(orientation),
                 (abs(spacing[0]), abs(spacing[1])) if spacing else None, abs(thickness[0]) if thickness else None,
                 slope[0] if slope else 1.0, intercept[0] if intercept else 0.0,
                 int(instance[0]) if instance else 0, temporal[0] if temporal else None, bvalue, gradient)


def read_slices(files: Iterable[Path]) -> list[Slice]:
    """The placed image planes of ``files``: non-DICOM and damaged files and frames without a
    position and orientation are skipped."""
    slices = []
    for path in files:
        try:
            ds = read_dataset(path, stop_before_pixels=True)
        except SonobridgeError:
            continue
        label = os.fspath(path)
        try:
            with damaged_content(label):
                if "Rows" not in ds or "Columns" not in ds:
                    continue
                n_frames = int(ds.get("NumberOfFrames", 1) or 1)
                multiframe = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
                for frame in range(n_frames if multiframe else 1):
                    found = _frame_slice(path, ds, frame, multiframe)
                    if found is not None:
                        slices.append(found)
        except SonobridgeError:
            continue                                # damaged header values: not part of a stack
    return slices


def stack_key(piece: Slice) -> tuple:
    """Slices that can form one volume share this key (series, orientation, size, temporal position)."""
    ds = piece.header
    orientation = tuple(round(v, 4) for v in piece.orientation)
    return (str(ds.get("SeriesInstanceUID", "")), orientation, int(ds.Rows), int(ds.Columns), piece.temporal)


def geometry(members: list[Slice]) -> tuple[list[Slice], np.ndarray]:
    """``members`` sorted along the slice normal and the LPS affine of the stack.

    Raises FormatError when two slices share a position (not one stack) or the pixel spacing is
    unknown (no PixelSpacing, no calibrated ultrasound region)."""
    if members[0].spacing is None:
        raise FormatError(members[0].path, "no PixelSpacing and no calibrated ultrasound region: spacing unknown")
    normal = members[0].normal
    order = np.argsort([piece.position @ normal for piece in members], kind="stable")
    members = [members[i] for i in order]
    distances = np.diff([piece.position @ normal for piece in members])
    if distances.size and np.any(distances <= 1e-6):
        raise FormatError(members[0].path, "slices share a position: not one stack")
    slice_mm = float(np.median(distances)) if distances.size else (members[0].thickness or 1.0)
    row_mm, column_mm = members[0].spacing
    affine = np.eye(4)
    affine[:3, 0] = np.asarray(members[0].orientation[:3]) * column_mm
    affine[:3, 1] = np.asarray(members[0].orientation[3:]) * row_mm
    affine[:3, 2] = normal * slice_mm
    affine[:3, 3] = members[0].position
    return members, affine


class FrameCache:
    """Decoded pixels per file (a multi-frame file is decoded once)."""

    def __init__(self) -> None:
        self._frames: dict[Path, np.ndarray] = {}

    def real(self, piece: Slice) -> np.ndarray:
        """The slice's pixels as float32 real-world values (its Rescale Slope/Intercept applied)."""
        if piece.path not in self._frames:
            ds = read_dataset(piece.path)
            self._frames[piece.path] = decode_dataset(ds, os.fspath(piece.path), 0)
        stored = self._frames[piece.path][piece.frame]
        return stored.astype(np.float32) * np.float32(piece.slope) + np.float32(piece.intercept)


def assemble(members: list[Slice], cache: FrameCache | None = None) -> Volume:
    """One :class:`Volume` from slices of one stack (any order)."""
    members, affine = geometry(members)
    cache = cache or FrameCache()
    pixels = np.stack([cache.real(piece) for piece in members])
    uid = str(members[0].header.get("SeriesInstanceUID", ""))
    return Volume(pixels, affine=affine, series_instance_uid=uid, files=[os.fspath(piece.path) for piece in members])


def _stacks(path: PathSource, recursive: bool, pattern: str | None) -> dict[tuple, list[Slice]]:
    stacks: dict[tuple, list[Slice]] = defaultdict(list)
    for piece in read_slices(list_files(path, recursive, pattern)):
        stacks[stack_key(piece)].append(piece)
    if not stacks:
        raise UnsupportedInputError(path if isinstance(path, (str, os.PathLike)) else None,
                                    "no DICOM slices with position and orientation")
    return stacks


def load_series(path: PathSource, *, recursive: bool = True, pattern: str | None = None) -> Volume:
    """Assemble the DICOM slices at ``path`` into one spatially ordered 3-D volume of real-world values.

    Parameters
    ----------
    path : str, os.PathLike or iterable of them
        A folder (searched recursively unless ``recursive=False``), one file, or a list of files.
    recursive : bool
        Search sub-folders.
    pattern : str, optional
        Only file names matching this glob pattern (e.g. ``"*.dcm"``).

    Returns
    -------
    Volume
        The largest coherent stack (same series, orientation, size and temporal position: a stray
        localiser or another series does not spoil it); ``pixels`` float32 ``[z, y, x]`` with each
        slice's Rescale Slope/Intercept applied (HU for CT). For a 4-D multi-frame file, the first
        temporal position.

    Raises
    ------
    UnsupportedInputError
        No files, or no placed DICOM slices.
    FormatError
        Slices of the chosen stack share a position, or have no pixel spacing.
    """
    stacks = _stacks(path, recursive, pattern)
    in_time = sorted(stacks, key=lambda key: _temporal_order(key[4]))         # ties: the first temporal position
    return assemble(stacks[max(in_time, key=lambda key: len(stacks[key]))])


def _temporal_order(temporal: float | None) -> tuple[bool, float]:
    return (temporal is not None, temporal or 0.0)


def load_4d(path: PathSource, *, recursive: bool = True, pattern: str | None = None) -> Volume4D:
    """Assemble the slices at ``path`` into ``[t, z, y, x]``: one volume per temporal position.

    The stacks of the largest series/orientation/size group that share one grid, ordered by
    temporal position (``dimensions``: one ``"temporal"`` :class:`Axis`; empty for a plain 3-D
    series, ``t == 1``). A 4-D ultrasound volume (Enhanced US Volume with several temporal
    positions) is the typical input.

    Raises
    ------
    UnsupportedInputError, FormatError
        As :func:`load_series`; FormatError also when the temporal volumes do not share one grid.
    """
    stacks = _stacks(path, recursive, pattern)
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key in stacks:
        groups[key[:4]].append(key)
    keys = max(groups.values(), key=lambda ks: sum(len(stacks[k]) for k in ks))
    keys = sorted(keys, key=lambda k: _temporal_order(k[4]))
    cache = FrameCache()
    volumes = [assemble(stacks[key], cache) for key in keys]
    first, pixels = volumes[0], on_one_grid(volumes, "temporal positions")
    temporal = [key[4] for key in keys]
    dimensions = [] if temporal == [None] else [Axis("temporal", np.asarray(temporal, dtype=np.float32))]
    return Volume4D(pixels, first.spacing, first.affine, dimensions,
                    first.series_instance_uid, [v.files[0] for v in volumes], [0] * len(volumes))


def on_one_grid(volumes: list[Volume], what: str) -> np.ndarray:
    """The volumes' pixels stacked ``[t, z, y, x]``; FormatError unless they share shape and affine."""
    first = volumes[0]
    for volume in volumes[1:]:
        if volume.shape != first.shape or not np.allclose(volume.affine, first.affine, atol=1e-3):
            raise FormatError(volume.files[0], f"the {what} are not on one grid")
    return np.stack([volume.pixels for volume in volumes])


# ---------------------------------------------------------------------------------------------------
# BIDS sidecar (the JSON dcm2niix writes next to a NIfTI)

#: dcm2niix's spelling of the manufacturers it knows (matched on the upper-case DICOM value)
VENDORS = (("SIEMENS", "Siemens"), ("GE ", "GE"), ("GE_", "GE"), ("GEMS", "GE"), ("GENERAL ELECTRIC", "GE"),
           ("PHILIPS", "Philips"), ("TOSHIBA", "Toshiba"), ("CANON", "Canon"), ("HITACHI", "Hitachi"),
           ("UIH", "UIH"), ("UNITED IMAGING", "UIH"), ("BRUKER", "Bruker"), ("MEDISO", "Mediso"))

#: BIDS field -> (DICOM keyword, kind): text, float, int, list (of text), floats, seconds (ms -> s)
SIDECAR_FIELDS = {
    "Modality": ("Modality", "text"),
    "MagneticFieldStrength": ("MagneticFieldStrength", "float"),
    "ImagingFrequency": ("ImagingFrequency", "float"),
    "Manufacturer": ("Manufacturer", "vendor"),
    "ManufacturersModelName": ("ManufacturerModelName", "text"),
    "InstitutionName": ("InstitutionName", "text"),
    "InstitutionalDepartmentName": ("InstitutionalDepartmentName", "text"),
    "InstitutionAddress": ("InstitutionAddress", "text"),
    "DeviceSerialNumber": ("DeviceSerialNumber", "text"),
    "StationName": ("StationName", "text"),
    "BodyPartExamined": ("BodyPartExamined", "text"),
    "PatientPosition": ("PatientPosition", "text"),
    "ProcedureStepDescription": ("PerformedProcedureStepDescription", "text"),
    "SoftwareVersions": ("SoftwareVersions", "text"),
    "StudyDescription": ("StudyDescription", "text"),
    "MRAcquisitionType": ("MRAcquisitionType", "text"),
    "SeriesDescription": ("SeriesDescription", "text"),
    "ProtocolName": ("ProtocolName", "text"),
    "ScanningSequence": ("ScanningSequence", "joined"),
    "SequenceVariant": ("SequenceVariant", "joined"),
    "ScanOptions": ("ScanOptions", "joined"),
    "SequenceName": ("SequenceName", "text"),
    "ImageType": ("ImageType", "list"),
    "SeriesNumber": ("SeriesNumber", "int"),
    "AcquisitionNumber": ("AcquisitionNumber", "int"),
    "ImageComments": ("ImageComments", "text"),
    "SliceThickness": ("SliceThickness", "float"),
    "SpacingBetweenSlices": ("SpacingBetweenSlices", "float"),
    "SAR": ("SAR", "float"),
    "EchoNumber": ("EchoNumbers", "int"),
    "EchoTime": ("EchoTime", "seconds"),
    "RepetitionTime": ("RepetitionTime", "seconds"),
    "InversionTime": ("InversionTime", "seconds"),
    "FlipAngle": ("FlipAngle", "float"),
    "EchoTrainLength": ("EchoTrainLength", "int"),
    "PixelBandwidth": ("PixelBandwidth", "float"),
    "PercentPhaseFOV": ("PercentPhaseFieldOfView", "float"),
    "PercentSampling": ("PercentSampling", "float"),
    "ReceiveCoilName": ("ReceiveCoilName", "text"),
    "InPlanePhaseEncodingDirectionDICOM": ("InPlanePhaseEncodingDirection", "text"),
    "XRayExposure": ("Exposure", "float"),
    "ExposureTime": ("ExposureTime", "seconds"),
    "XRayTubeCurrent": ("XRayTubeCurrent", "float"),
    "ConvolutionKernel": ("ConvolutionKernel", "text"),
    "ImageOrientationPatientDICOM": ("ImageOrientationPatient", "floats"),
}


def _vendor(value: str) -> str:
    upper = value.upper() + " "
    return next((name for prefix, name in VENDORS if upper.startswith(prefix)), value)


def _sidecar_value(ds: Any, keyword: str, kind: str) -> Any:
    if kind in ("float", "int", "seconds", "floats"):
        values = floats(ds, keyword)
        if not values:
            return None
        if kind == "floats":
            return values
        value = values[0] / 1000.0 if kind == "seconds" else values[0]
        return int(value) if kind == "int" else (int(value) if value == int(value) else round(value, 6))
    if kind == "list":
        value = ds.get(keyword)
        items = [value] if isinstance(value, (str, bytes)) else list(value or [])
        return [str(v) for v in items] or None
    if kind == "joined":
        value = ds.get(keyword)
        if not value:
            return None
        return "_".join(str(v) for v in value) if not isinstance(value, str) else value
    value = text(ds, keyword)
    return _vendor(value) if value and kind == "vendor" else value


def bids_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The BIDS JSON sidecar (as dcm2niix writes next to a NIfTI) of one DICOM instance.

    Field names and units follow dcm2niix: times in seconds (EchoTime, RepetitionTime,
    InversionTime, ExposureTime), angles in degrees, lengths in millimetres, the manufacturer in
    dcm2niix's spelling ("Siemens", "GE", "Philips", "Toshiba" ...), ``AcquisitionTime`` as
    ``HH:MM:SS.ffffff``, ``ImageOrientationPatientDICOM`` the six direction cosines.
    ``PhaseEncodingAxis`` (``i`` for ROW, ``j`` for COL) is given for 2-D MR with a known
    in-plane phase-encoding direction; ``PhaseEncodingDirection`` only where the polarity is
    recorded in standard form (GE: Rectilinear Phase Encode Reordering (0018,9034); ``REVERSE_*``
    negative), its ``j`` sign negated as rows are stored top-down (not flipped as dcm2niix does).

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM instance.

    Returns
    -------
    dict
        The fields present in the instance (absent or empty elements are left out).

    Raises
    ------
    UnsupportedInputError, FormatError
        Not DICOM, or damaged.
    """
    ds = read_dataset(path, stop_before_pixels=True)
    sidecar: dict[str, Any] = {}
    with damaged_content(os.fspath(path)):
        for name, (keyword, kind) in SIDECAR_FIELDS.items():
            value = _sidecar_value(ds, keyword, kind)
            if value is not None and value != "":
                sidecar[name] = value
        acquired = text(ds, "AcquisitionTime")
        if acquired and len(acquired) >= 6:
            seconds = acquired[4:]
            sidecar["AcquisitionTime"] = f"{acquired[:2]}:{acquired[2:4]}:{float(seconds):09.6f}"
        sidecar.update(_phase_encoding(ds))
    sidecar["ConversionSoftware"] = "sonobridge"
    return sidecar


def _phase_encoding(ds: Any) -> dict[str, str]:
    direction = text(ds, "InPlanePhaseEncodingDirection")
    if text(ds, "MRAcquisitionType") == "3D" or direction not in ("ROW", "COL"):
        return {}
    axis = "i" if direction == "ROW" else "j"
    reordering = text(ds, "RectilinearPhaseEncodeReordering")
    if reordering is None:
        return {"PhaseEncodingAxis": axis}
    negative = reordering.startswith("REVERSE")
    if axis == "j":
        negative = not negative                          # rows stored top-down: j points the other way
    return {"PhaseEncodingDirection": axis + ("-" if negative else "")}
