"""DICOM Segmentation (SEG) authoring and reading, ultrasound included.

>>> write_seg("cine.dcm", labelmap, [{"label": "plaque", "labelID": 1}], output="seg.dcm")  # doctest: +SKIP
>>> labelmap, meta = read_seg("seg.dcm")                                                   # doctest: +SKIP

Segments are described with highdicom (:class:`SegmentDescription`, the Segment Sequence items).
Sources with plane geometry (a Frame of Reference and Image Position / Orientation: CT, MR, ...)
are segmented by highdicom's own :class:`highdicom.seg.Segmentation`. Ultrasound sources, which
highdicom refuses (no Frame of Reference: "Only a single frame is supported"), are written here
frame by frame (:mod:`.derived`): one derived frame per (segment, source frame), each naming its
source frame in the Derivation Image functional group; every frame is stored, empty or not, so the
mask comes back with the source's frame count.

Arrays: a labelmap is ``(H, W)`` or ``(frames, H, W)`` of integers (value k: the segment whose
``labelID`` is k, 0: background); per-segment masks / maps are ``(nseg, frames, H, W)``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FormatError, MissingDependencyError, UnsupportedInputError
from . import derived

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
#: Derivation Code of a segmentation frame (DCM 113076)
SEGMENTATION_DERIVATION = ("113076", "DCM", "Segmentation")
#: named categories / types accepted instead of a code triple (SCT, from CID 7150 / 7151 / 7166)
NAMED_CODES = {
    "tissue": ("85756007", "SCT", "Tissue"),
    "anatomical structure": ("91723000", "SCT", "Anatomical Structure"),
    "morphologically abnormal structure": ("49755003", "SCT", "Morphologically Abnormal Structure"),
    "physical object": ("260787004", "SCT", "Physical object"),
    "spatial and relational concept": ("309825002", "SCT", "Spatial and Relational Concept"),
    "lesion": ("52988006", "SCT", "Lesion"),
    "mass": ("4147007", "SCT", "Mass"),
    "plaque": ("1522000", "SCT", "Plaque"),
    "blood vessel": ("59820001", "SCT", "Blood vessel"),
    "artery": ("51114001", "SCT", "Artery"),
    "vein": ("29092000", "SCT", "Vein"),
    "muscle": ("91727004", "SCT", "Muscle"),
    "fluid": ("33463005", "SCT", "Fluid"),
}
DEFAULT_CATEGORY = NAMED_CODES["tissue"]
DEFAULT_TYPE = NAMED_CODES["tissue"]
ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")


def _highdicom(feature: str = "DICOM Segmentation") -> Any:
    try:
        import highdicom
    except ImportError:
        raise MissingDependencyError(None, f"{feature} needs highdicom: pip install 'sonobridge[derived]'") from None
    return highdicom


# ---------------------------------------------------------------- highdicom-compatible classes
def SegmentDescription(segment_number: int, segment_label: str, segmented_property_category: Any,
                       segmented_property_type: Any, algorithm_type: Any,
                       algorithm_identification: Any = None, tracking_uid: str | None = None,
                       tracking_id: str | None = None, anatomic_regions: Any = None,
                       primary_anatomic_structures: Any = None, display_color: Any = None) -> Any:
    """highdicom.seg.SegmentDescription-compatible description of one segment (an item of the
    Segment Sequence). Codes may be highdicom / pydicom codes or ``(value, scheme, meaning)``
    triples; returns a :class:`highdicom.seg.SegmentDescription` (a pydicom Dataset).

    Raises
    ------
    FormatError
        An unknown or malformed code, or an algorithm type other than MANUAL / SEMIAUTOMATIC /
        AUTOMATIC (AUTOMATIC and SEMIAUTOMATIC need ``algorithm_identification``).
    """
    hd = _highdicom()
    try:
        return hd.seg.SegmentDescription(
            int(segment_number), str(segment_label), _concept(segmented_property_category),
            _concept(segmented_property_type), str(getattr(algorithm_type, "value", algorithm_type)).upper(),
            algorithm_identification=algorithm_identification, tracking_uid=tracking_uid, tracking_id=tracking_id,
            anatomic_regions=[_concept(c) for c in anatomic_regions] if anatomic_regions else None,
            primary_anatomic_structures=[_concept(c) for c in primary_anatomic_structures]
            if primary_anatomic_structures else None, display_color=display_color)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise FormatError(None, f"segment {segment_number} ({segment_label}): {error}") from None


def AlgorithmIdentificationSequence(name: str, family: Any = None, version: str = "1",
                                    source: str | None = None, parameters: dict[str, str] | None = None) -> Any:
    """highdicom-compatible: identifies the algorithm that produced a segment. ``family`` defaults
    to Artificial Intelligence (DCM 123110, CID 7162); returns a
    :class:`highdicom.AlgorithmIdentificationSequence`."""
    hd = _highdicom()
    family = _concept(family) if family is not None else hd.sr.CodedConcept("123110", "DCM", "Artificial Intelligence")
    return hd.AlgorithmIdentificationSequence(str(name), family, str(version), source=source, parameters=parameters)


def _concept(code: Any) -> Any:
    """A highdicom CodedConcept from a triple, a name of :data:`NAMED_CODES`, a pydicom Code or a
    code item; raises FormatError on anything else."""
    hd = _highdicom()
    if isinstance(code, hd.sr.CodedConcept):
        return code
    if isinstance(code, str):
        if code.lower() not in NAMED_CODES:
            raise FormatError(None, f"unknown code {code!r}: give (value, scheme, meaning) or one of "
                                    f"{', '.join(sorted(NAMED_CODES))}")
        code = NAMED_CODES[code.lower()]
    try:
        item = derived.code_item(code)
        if not (item.CodeValue and item.CodingSchemeDesignator and item.CodeMeaning):
            raise ValueError("empty part")
        return hd.sr.CodedConcept(item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning)
    except (ValueError, TypeError, AttributeError):
        raise FormatError(None, f"malformed code {code!r}: expected (value, scheme, meaning)") from None


def _segment_item(number: int, spec: Any, label: str | None) -> Any:
    """One Segment Sequence item from a segment dict (write_seg's form) or a SegmentDescription."""
    if not isinstance(spec, dict):
        if "SegmentLabel" not in spec:
            raise FormatError(label, f"segment {number}: not a segment description")
        spec.SegmentNumber = number
        return spec
    name = spec.get("label") or spec.get("name") or f"segment {number}"
    algorithm_type = str(spec.get("algorithm_type") or ("AUTOMATIC" if spec.get("algorithm_name") else "MANUAL")).upper()
    if algorithm_type not in ALGORITHM_TYPES:
        raise FormatError(label, f"segment {name!r}: unknown algorithm type {algorithm_type!r}")
    algorithm = None
    if algorithm_type != "MANUAL":
        algorithm = AlgorithmIdentificationSequence(spec.get("algorithm_name") or "unnamed",
                                                    version=str(spec.get("algorithm_version", "1")))
    try:
        item = SegmentDescription(number, name, spec.get("category", DEFAULT_CATEGORY), spec.get("type", DEFAULT_TYPE),
                                  algorithm_type, algorithm_identification=algorithm,
                                  anatomic_regions=[spec["anatomic"]] if spec.get("anatomic") else None)
    except FormatError as error:
        raise FormatError(label, error.problem) from None
    if spec.get("rgb") is not None:
        rgb = spec["rgb"]
        if len(rgb) != 3 or not all(0 <= int(v) <= 255 for v in rgb):
            raise FormatError(label, f"segment {name!r}: rgb must be three values 0..255, got {rgb!r}")
        item.RecommendedDisplayCIELabValue = list(_rgb_to_dicom_lab(rgb))
    return item


def _rgb_to_dicom_lab(rgb: Sequence[int]) -> tuple[int, int, int]:
    """sRGB (0..255) -> DICOM-scaled CIELab (0..65535), D65."""
    c = np.asarray(rgb, float) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lab = 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])
    return (round(lab[0] * 65535 / 100), round((lab[1] + 128) * 65535 / 255), round((lab[2] + 128) * 65535 / 255))


def _dicom_lab_to_rgb(lab: Sequence[int]) -> tuple[int, int, int]:
    """DICOM-scaled CIELab (0..65535, D65) -> sRGB (0..255): the inverse of :func:`_rgb_to_dicom_lab`."""
    lightness = float(lab[0]) * 100 / 65535
    a, b = float(lab[1]) * 255 / 65535 - 128, float(lab[2]) * 255 / 65535 - 128
    fy = (lightness + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    xyz = np.where(f > 0.206893, f ** 3, (f - 16 / 116) / 7.787) * np.array([0.95047, 1.0, 1.08883])
    linear = np.linalg.solve(np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                                       [0.0193, 0.1192, 0.9505]]), xyz)
    linear = np.clip(linear, 0, 1)
    c = np.where(linear > 0.0031308, 1.055 * linear ** (1 / 2.4) - 0.055, 12.92 * linear)
    return tuple(int(v) for v in np.clip(np.rint(c * 255), 0, 255))


# ---------------------------------------------------------------- writing
def _masks_from_labelmap(labelmap: np.ndarray, segments: Sequence[Any], label: str | None) -> np.ndarray:
    """(nseg, frames, H, W) uint8 0/1 from a labelmap; the value of segment i is its labelID (default i+1)."""
    ids = [int(s.get("labelID", s.get("label_id", i + 1))) if isinstance(s, dict) else int(getattr(s, "SegmentNumber", i + 1))
           for i, s in enumerate(segments)]
    if len(set(ids)) != len(ids):
        raise FormatError(label, f"segments repeat a labelID: {ids}")
    unknown = sorted(set(np.unique(labelmap).tolist()) - {0, *ids})
    if unknown:
        raise FormatError(label, f"the labelmap holds values no segment names: {unknown[:10]}")
    return np.stack([labelmap == k for k in ids]).astype(np.uint8)


def _check_masks(masks: np.ndarray, sources: Sequence[Any], segments: Sequence[Any], label: str | None) -> np.ndarray:
    """``masks`` as (nseg, frames, H, W), checked against the source frames and the segments."""
    frames = derived.source_frame_references(sources)
    rows, columns = int(sources[0].Rows), int(sources[0].Columns)
    if masks.ndim == 3:
        masks = masks[:, None]
    if masks.ndim != 4 or masks.shape[1:] != (len(frames), rows, columns):
        raise FormatError(label, f"mask shape {tuple(masks.shape[1:])} does not match the source: "
                                 f"{len(frames)} frame(s) of {rows} x {columns}")
    if len(segments) != masks.shape[0] or not segments:
        raise FormatError(label, f"{masks.shape[0]} segment plane(s) but {len(segments)} segment description(s)")
    empty = [i + 1 for i in range(masks.shape[0]) if not masks[i].any()]
    if empty:
        raise FormatError(label, f"segment(s) {empty} are empty (no pixel marked)")
    return masks


def _write_frames(sources: Sequence[Any], masks: np.ndarray, items: Sequence[Any], *, fractional: str | None,
                  max_value: int, identity: dict[str, Any], description: dict[str, Any]) -> Any:
    """The SEG dataset, frame by frame (the ultrasound path): masks (nseg, frames, H, W) uint8."""
    from pydicom.dataset import Dataset

    from .pixels import pack_bits
    from .uid import generate_uid

    ds = derived.new_derived_dataset(sources[0], SEGMENTATION_STORAGE, "SEG", **identity)
    references = derived.source_frame_references(sources)
    nseg, nframes, rows, columns = masks.shape
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ContentLabel = (description.get("content_label") or "SEGMENTATION").upper().replace(" ", "_")[:16]
    ds.ContentDescription = description.get("content_description") or ""
    ds.ContentCreatorName = description.get("content_creator_name") or ""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns, ds.PixelRepresentation = rows, columns, 0
    bits = 8 if fractional else 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.LossyImageCompression = "00"
    ds.SegmentationType = "FRACTIONAL" if fractional else "BINARY"
    if fractional:
        ds.SegmentationFractionalType = fractional
        ds.MaximumFractionalValue = int(max_value)
    ds.SegmentSequence = list(items)
    organisation = generate_uid()
    ds.DimensionOrganizationSequence = [Dataset()]
    ds.DimensionOrganizationSequence[0].DimensionOrganizationUID = organisation
    ds.DimensionIndexSequence = [
        _dimension(organisation, 0x0062000B, 0x0062000A, "Segment Number"),
        _dimension(organisation, 0x00209128, 0x00209111, "Source frame"),
    ]
    ds.SharedFunctionalGroupsSequence = [Dataset()]
    groups = []
    for segment in range(nseg):
        for index, (source, frame) in enumerate(references):
            group = Dataset()
            group.DerivationImageSequence = [derived.derivation_item(source, frame, SEGMENTATION_DERIVATION)]
            content = Dataset()
            content.DimensionIndexValues = [segment + 1, index + 1]
            content.TemporalPositionIndex = index + 1
            group.FrameContentSequence = [content]
            identification = Dataset()
            identification.ReferencedSegmentNumber = segment + 1
            group.SegmentIdentificationSequence = [identification]
            groups.append(group)
    ds.PerFrameFunctionalGroupsSequence = groups
    ds.NumberOfFrames = nseg * nframes
    derived.common_instance_reference(ds, sources)
    planes = masks.reshape(nseg * nframes, rows, columns)
    ds.PixelData = pack_bits(planes.ravel()) if not fractional else planes.tobytes()
    return ds


def _dimension(organisation: str, pointer: int, group: int, label: str) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.DimensionOrganizationUID = organisation
    item.DimensionIndexPointer = pointer
    item.FunctionalGroupPointer = group
    item.DimensionDescriptionLabel = label
    return item


def _write_highdicom(sources: Sequence[Any], masks: np.ndarray, items: Sequence[Any], *, fractional: str | None,
                     max_value: int, identity: dict[str, Any], description: dict[str, Any]) -> Any:
    """The SEG by highdicom (sources with plane geometry): masks (nseg, frames, H, W)."""
    hd = _highdicom()
    from pydicom import dcmread

    full = [dcmread(getattr(s, "filename", None)) if getattr(s, "filename", None) else s for s in sources]
    array = np.moveaxis(masks, 0, -1)
    kind = hd.seg.SegmentationTypeValues.FRACTIONAL if fractional else hd.seg.SegmentationTypeValues.BINARY
    extra = {"fractional_type": fractional, "max_fractional_value": max_value} if fractional else {}
    try:
        ds = hd.seg.Segmentation(
            full, array if not fractional else array.astype(np.float32) / max_value, kind, list(items),
            identity["series_instance_uid"] or hd.UID(), identity["series_number"],
            identity["sop_instance_uid"] or hd.UID(), identity["instance_number"],
            identity["manufacturer"] or derived.MANUFACTURER, identity["manufacturer_model_name"] or derived.MANUFACTURER,
            identity["software_versions"] or "1", identity["device_serial_number"] or "0",
            omit_empty_frames=False, content_description=description.get("content_description"),
            content_label=description.get("content_label"), content_creator_name=description.get("content_creator_name"),
            **extra)
    except (ValueError, TypeError) as error:
        raise FormatError(derived.label_of(sources), f"highdicom refused the segmentation: {error}") from None
    return ds


def _build(reference: Any, masks: np.ndarray, segments: Sequence[Any], *, fractional: str | None = None,
           max_value: int = 255, identity: dict[str, Any] | None = None,
           description: dict[str, Any] | None = None) -> Any:
    """Check everything and build the SEG dataset (callers write it only after this succeeded)."""
    label = derived.label_of(reference)
    sources = derived.load_sources(reference)
    masks = _check_masks(np.asarray(masks), sources, segments, label)
    items = [_segment_item(i + 1, spec, label) for i, spec in enumerate(segments)]
    identity = {"series_instance_uid": None, "series_number": 1, "sop_instance_uid": None, "instance_number": 1,
                "manufacturer": None, "manufacturer_model_name": None, "software_versions": None,
                "device_serial_number": None, **(identity or {})}
    writer = _write_highdicom if derived.has_plane_geometry(sources) else _write_frames
    return writer(sources, masks, items, fractional=fractional, max_value=max_value, identity=identity,
                  description=description or {})


def write_seg(reference: Any, labelmap: np.ndarray, segments: Sequence[dict[str, Any]], *,
              output: str | os.PathLike | None = None) -> bytes | None:
    """Author a coded BINARY DICOM Segmentation from a labelmap + segment terminology.

    Parameters
    ----------
    reference : path, dataset, bytes, folder or list of instance paths
        The source image (ultrasound single- or multi-frame included) or series; geometry,
        demographics and source references are taken from it.
    labelmap : ndarray, (H, W) or (frames, H, W), integer
        Value k marks the segment whose ``labelID`` is k (0: background); one plane per source frame.
    segments : list of dict
        Each with ``label``, ``labelID`` (default: position + 1), ``rgb`` = (r, g, b),
        ``category`` / ``type`` / ``anatomic`` = (CodeValue, CodingScheme, CodeMeaning) or a name
        of :data:`NAMED_CODES`, ``algorithm_type`` (MANUAL / SEMIAUTOMATIC / AUTOMATIC),
        ``algorithm_name``.
    output : path, optional
        Write the SEG there (atomically) and return None; if omitted, return Part-10 bytes.

    Raises
    ------
    FormatError
        The labelmap does not match the source frames, holds values no segment names, a segment is
        empty, or a code is unknown -- before anything is written.
    """
    label = derived.label_of(reference)
    array = np.asarray(labelmap)
    if array.dtype.kind not in "iub":
        raise FormatError(label, f"the labelmap must hold integers, not {array.dtype}")
    return derived.finish(_build(reference, _masks_from_labelmap(array, segments, label), segments), output)


def write_seg_fractional(reference: Any, maps: np.ndarray, segments: Sequence[dict[str, Any]], *,
                         type: str = "probability", max_value: int = 255,
                         output: str | os.PathLike | None = None) -> bytes | None:
    """Author a FRACTIONAL DICOM Segmentation from per-segment probability / occupancy maps.

    Parameters
    ----------
    reference, segments, output
        As in :func:`write_seg`.
    maps : ndarray, (nseg, (frames,) H, W)
        Segment-major; float input is read as 0..1 and scaled to 0..``max_value``, integer input
        is stored as is (0..``max_value``).
    type : {'probability', 'occupancy'}
        The Segmentation Fractional Type.
    max_value : int
        Maximum Fractional Value, 1..255.
    """
    label = derived.label_of(reference)
    kind = str(type).upper()
    if kind not in ("PROBABILITY", "OCCUPANCY") or not 1 <= int(max_value) <= 255:
        raise FormatError(label, f"fractional type must be probability / occupancy and max_value 1..255 "
                                 f"(got {type!r}, {max_value})")
    array = np.asarray(maps)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or array.min(initial=0) < 0 or array.max(initial=0) > 1:
            raise FormatError(label, "float maps must lie in 0..1")
        array = np.rint(array * max_value)
    elif array.dtype.kind in "iub" and (array.min(initial=0) < 0 or array.max(initial=0) > max_value):
        raise FormatError(label, f"integer maps must lie in 0..{max_value}")
    ds = _build(reference, array.astype(np.uint8), segments, fractional=kind, max_value=int(max_value))
    return derived.finish(ds, output)


def seg_from_nifti(reference: Any, mask: str | os.PathLike, segments: Sequence[dict[str, Any]], *,
                   output: str | os.PathLike | None = None) -> bytes | None:
    """Author a coded DICOM Segmentation from a NIfTI label volume co-framed with ``reference``.

    ``mask``: a .nii / .nii.gz label volume, (columns, rows, frames) in NIfTI order (as
    :func:`sonobridge.dicom.volume` writes it: x = column, y = row); an axis flipped in the
    affine is turned back so the labels land on the right pixels and frames. Other parameters as in
    :func:`write_seg`.
    """
    return write_seg(reference, nifti_labelmap(mask), segments, output=output)


def nifti_labelmap(path: str | os.PathLike) -> np.ndarray:
    """The label volume of a NIfTI file as (frames, rows, columns) integers.

    The data array (i, j, k) is read as (column, row, frame); axes whose affine direction is
    negative are flipped so index 0 is the first column / row / frame."""
    try:
        import nibabel
    except ImportError:
        raise MissingDependencyError(path, "reading NIfTI needs nibabel: pip install 'sonobridge[dicom]'") from None
    try:
        image = nibabel.load(os.fspath(path))
        data = np.asanyarray(image.dataobj)
        affine = np.asarray(image.affine)
    except (OSError, ValueError, EOFError) as error:
        raise FormatError(path, f"cannot read NIfTI: {error}") from None
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise FormatError(path, f"expected a 2-D or 3-D label volume, got shape {data.shape}")
    if data.dtype.kind == "f":
        if not np.array_equal(data, np.rint(data)):
            raise FormatError(path, "the label volume holds non-integer values")
        data = data.astype(np.int64)
    for axis in range(3):
        if affine[axis, axis] < 0:
            data = np.flip(data, axis)
    return np.ascontiguousarray(np.transpose(data, (2, 1, 0)))


def load_labelmap(path: str | os.PathLike) -> np.ndarray:
    """A label array from a ``.npy`` file ((frames, H, W) or (H, W) integers) or a NIfTI label volume
    (:func:`nifti_labelmap`). Raises the package's errors for other or unreadable files."""
    name = os.fspath(path).lower()
    if name.endswith((".nii", ".nii.gz")):
        return nifti_labelmap(path)
    if not name.endswith(".npy"):
        raise UnsupportedInputError(path, "not a mask: expected .npy, .nii or .nii.gz")
    try:
        array = np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise FormatError(path, f"cannot read the mask array: {error}") from None
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    if array.dtype.kind not in "iu":
        raise FormatError(path, f"the mask must hold integer labels, not {array.dtype}")
    return array


def segments_for(labelmap: np.ndarray, labels: Sequence[str] | None = None,
                 path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Segment dicts for :func:`write_seg`: one per distinct non-zero value of ``labelmap``
    (ascending, so a 0/255 mask is one segment), named by ``labels`` in that order (default
    "segment 1", ...). Raises FormatError when the counts differ or the mask is empty."""
    values = [int(v) for v in np.unique(labelmap) if v != 0]
    if not values:
        raise FormatError(path, "the mask is empty (no non-zero label)")
    if labels and len(labels) != len(values):
        raise FormatError(path, f"{len(labels)} label name(s) for {len(values)} label value(s) {values[:10]}")
    names = list(labels) if labels else [f"segment {i + 1}" for i in range(len(values))]
    return [{"label": name, "labelID": value} for name, value in zip(names, values)]


def Segmentation(source_images: Sequence[Any], pixel_array: np.ndarray, segmentation_type: Any,
                 segment_descriptions: Sequence[Any], series_instance_uid: str, series_number: int,
                 sop_instance_uid: str, instance_number: int, manufacturer: str,
                 manufacturer_model_name: str | None = None, software_versions: str | None = None,
                 device_serial_number: str | None = None, *, fractional_type: str = "PROBABILITY",
                 max_fractional_value: int = 255, content_description: str | None = None,
                 content_label: str | None = None, content_creator_name: str | None = None,
                 transfer_syntax_uid: str | None = None, **_kwargs: Any) -> Any:
    """highdicom.seg.Segmentation-compatible constructor; returns the SEG as a pydicom Dataset.

    ``source_images``: datasets or paths (ultrasound included); ``pixel_array``: a labelmap
    ``(frames, H, W)`` (BINARY / LABELMAP; value k = segment number k), a stack of binary masks
    ``(frames, H, W, nseg)`` (highdicom's layout), or fractional maps ``(frames, H, W, nseg)`` of
    0..1 floats (FRACTIONAL). ``segment_descriptions``: :func:`SegmentDescription` items.
    ``transfer_syntax_uid`` and highdicom-only keywords are accepted and ignored (explicit VR
    little endian is written).
    """
    kind = str(getattr(segmentation_type, "value", segmentation_type)).upper()
    array = np.asarray(pixel_array)
    if array.ndim == 2:
        array = array[None]
    nseg = len(segment_descriptions)
    identity = {"series_instance_uid": series_instance_uid, "series_number": series_number,
                "sop_instance_uid": sop_instance_uid, "instance_number": instance_number,
                "manufacturer": manufacturer, "manufacturer_model_name": manufacturer_model_name,
                "software_versions": software_versions, "device_serial_number": device_serial_number}
    description = {"content_description": content_description, "content_label": content_label,
                   "content_creator_name": content_creator_name}
    if array.ndim == 4:
        masks = np.moveaxis(array, -1, 0)
    elif kind == "FRACTIONAL":
        masks = array[None]
    else:
        masks = np.stack([array == k for k in range(1, nseg + 1)])
    fractional = None
    max_value = int(max_fractional_value)
    if kind == "FRACTIONAL":
        fractional = str(getattr(fractional_type, "value", fractional_type)).upper()
        masks = np.rint(np.clip(masks.astype(float), 0, 1) * max_value) if masks.dtype.kind == "f" else masks
    return _build(list(source_images), masks.astype(np.uint8), list(segment_descriptions), fractional=fractional,
                  max_value=max_value, identity=identity, description=description)


# ---------------------------------------------------------------- reading
def _frame_keys(ds: Any) -> list[tuple[int, Any]]:
    """Per SEG frame: (segment number, slice key). The key is the projected plane position when
    frames have one, else the referenced (source instance, frame number)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    normal = None
    if shared is not None and "PlaneOrientationSequence" in shared:
        orientation = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
        normal = np.cross(orientation[:3], orientation[3:])
    keys = []
    for group in per_frame:
        segment = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber) \
            if "SegmentIdentificationSequence" in group else int(shared.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        if "PlanePositionSequence" in group and normal is not None:
            key: Any = round(float(np.dot(normal, np.asarray(group.PlanePositionSequence[0].ImagePositionPatient, float))), 4)
        elif "DerivationImageSequence" in group:
            source = group.DerivationImageSequence[0].SourceImageSequence[0]
            key = (str(source.ReferencedSOPInstanceUID), int(source.get("ReferencedFrameNumber", 1) or 1))
        else:
            key = len(keys)
        keys.append((segment, key))
    return keys


def _source_order(ds: Any) -> dict[Any, int]:
    """Instance UID -> its position in the Common Instance Reference (slice order of a US series)."""
    order: dict[Any, int] = {}
    for series in ds.get("ReferencedSeriesSequence") or []:
        for instance in series.get("ReferencedInstanceSequence") or []:
            order.setdefault(str(instance.ReferencedSOPInstanceUID), len(order))
    return order


def _segments_meta(ds: Any) -> list[dict[str, Any]]:
    def code(item: Any, keyword: str) -> tuple[str, str, str] | None:
        sequence = item.get(keyword)
        if not sequence:
            return None
        return (str(sequence[0].CodeValue), str(sequence[0].CodingSchemeDesignator), str(sequence[0].CodeMeaning))

    result = []
    for item in ds.SegmentSequence:
        result.append({"number": int(item.SegmentNumber), "label": str(item.get("SegmentLabel", "")),
                       "category": code(item, "SegmentedPropertyCategoryCodeSequence"),
                       "type": code(item, "SegmentedPropertyTypeCodeSequence"),
                       "anatomic": code(item, "AnatomicRegionSequence"),
                       "algorithm_type": str(item.get("SegmentAlgorithmType", "")),
                       "algorithm_name": str(item.get("SegmentAlgorithmName", "")) or None,
                       "rgb": _dicom_lab_to_rgb(item.RecommendedDisplayCIELabValue)
                       if "RecommendedDisplayCIELabValue" in item else None})
    return result


def _decode_seg(ds: Any, label: str) -> tuple[np.ndarray, dict[str, Any]]:
    """(nseg, slices, rows, cols) float32 occupancy and meta from a SEG dataset."""
    from .io import damaged_content

    with damaged_content(label):
        rows, columns = int(ds.Rows), int(ds.Columns)
        nframes = int(ds.get("NumberOfFrames", 1) or 1)
        bits = int(ds.BitsAllocated)
        raw = bytes(ds.PixelData)
        if bits == 1:
            from .pixels import unpack_bits

            need = nframes * rows * columns
            if len(raw) * 8 < need:
                raise FormatError(label, "pixel data shorter than the frames declared")
            planes = np.asarray(unpack_bits(raw))[:need].reshape(nframes, rows, columns).astype(np.float32)
        else:
            if len(raw) < nframes * rows * columns:
                raise FormatError(label, "pixel data shorter than the frames declared")
            planes = np.frombuffer(raw, np.uint8, nframes * rows * columns).reshape(nframes, rows, columns)
            maximum = float(ds.get("MaximumFractionalValue", 255) or 255)
            planes = planes.astype(np.float32) / maximum if ds.get("SegmentationType") == "FRACTIONAL" else planes.astype(np.float32)
        keys = _frame_keys(ds)
        if len(keys) != nframes:
            raise FormatError(label, f"{len(keys)} per-frame groups for {nframes} frames")
        segments = _segments_meta(ds)
        numbers = [s["number"] for s in segments]
        order = _source_order(ds)
        slice_keys = sorted({key for _, key in keys},
                            key=lambda k: (order.get(k[0], 0), k[1]) if isinstance(k, tuple) else (k, 0))
        slot = {key: i for i, key in enumerate(slice_keys)}
        masks = np.zeros((len(numbers), len(slice_keys), rows, columns), np.float32)
        index = {n: i for i, n in enumerate(numbers)}
        for plane, (segment, key) in zip(planes, keys):
            if segment not in index:
                raise FormatError(label, f"a frame names segment {segment}, which the Segment Sequence lacks")
            masks[index[segment], slot[key]] = np.maximum(masks[index[segment], slot[key]], plane)
    meta = {"segment_numbers": numbers, "segments": segments, "segmentation_type": str(ds.SegmentationType),
            "source_frames": [k for k in slice_keys if isinstance(k, tuple)],
            "overlapping": bool(((masks > 0).sum(axis=0) > 1).any()),
            "sop_instance_uid": str(ds.SOPInstanceUID), **_geometry(ds, keys, slice_keys)}
    return masks, meta


def _geometry(ds: Any, keys: Sequence[tuple[int, Any]], slice_keys: Sequence[Any]) -> dict[str, Any]:
    """Plane geometry of a positioned SEG (empty for ultrasound): image_orientation_patient,
    pixel_spacing (row, column) and slice_thickness in mm, slice_origins ((slices, 3) LPS mm) and
    ``affine``, the 4x4 map of voxel index (column, row, slice, 1) to LPS mm."""
    shared = (ds.get("SharedFunctionalGroupsSequence") or [None])[0]
    if shared is None or "PlaneOrientationSequence" not in shared or "PixelMeasuresSequence" not in shared:
        return {}
    orientation = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    measures = shared.PixelMeasuresSequence[0]
    spacing = np.asarray(measures.PixelSpacing, float)
    origins: dict[Any, np.ndarray] = {}
    for group, (_, key) in zip(ds.PerFrameFunctionalGroupsSequence, keys):
        if "PlanePositionSequence" in group:
            origins.setdefault(key, np.asarray(group.PlanePositionSequence[0].ImagePositionPatient, float))
    if len(origins) != len(slice_keys):
        return {}
    stacked = np.stack([origins[key] for key in slice_keys])
    normal = np.cross(orientation[:3], orientation[3:])
    step = stacked[1] - stacked[0] if len(stacked) > 1 else normal * float(measures.get("SliceThickness", 1) or 1)
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * spacing[1]
    affine[:3, 1] = orientation[3:] * spacing[0]
    affine[:3, 2] = step
    affine[:3, 3] = stacked[0]
    return {"image_orientation_patient": orientation.tolist(), "pixel_spacing": spacing.tolist(),
            "slice_thickness": float(measures.get("SliceThickness", 0) or 0), "slice_origins": stacked,
            "affine": affine}


def read_seg(path: Any, masks: bool = False) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Reconstruct a DICOM Segmentation (ours, highdicom's, dcmqi's).

    Parameters
    ----------
    path : path, bytes, file-like or dataset
    masks : bool
        False: ``(labelmap, meta)``, labelmap ``(slices, rows, cols)`` uint16 whose value is the
        Segment Number (0 background; where segments overlap the highest number wins and
        ``meta["overlapping"]`` is True). True: ``(masks, meta)``, ``(nseg, slices, rows, cols)``
        float32 occupancy in 0..1, plane k being segment ``meta["segment_numbers"][k]``.

    Slices are source frames in reference order for ultrasound (``meta["source_frames"]``:
    (SOP Instance UID, frame number) each), or planes along the slice normal for positioned SEGs.
    Returns None when ``path`` is not a Segmentation.
    """
    from .io import open_dataset

    ds, label = open_dataset(path)
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        return None
    planes, meta = _decode_seg(ds, label)
    if masks:
        return planes, meta
    labelmap = np.zeros(planes.shape[1:], np.uint16)
    for number, plane in zip(meta["segment_numbers"], planes):
        labelmap[plane > 0] = number
    return labelmap, meta


@dataclass
class SegmentReaderResult:
    """What :meth:`SegmentReader.read` returns: per-segment masks (frames, rows, cols)."""

    dataset: Any
    masks: np.ndarray
    meta: dict[str, Any]
    segment_infos: dict[int, Any] = field(default_factory=dict)

    @property
    def available_segments(self) -> set[int]:
        return set(self.meta["segment_numbers"])

    def segment_data(self, number: int) -> np.ndarray:
        """Segment ``number``'s mask, (frames, rows, cols): uint8 0/1 (binary) or float32 (fractional)."""
        if number not in self.available_segments:
            raise KeyError(number)
        plane = self.masks[self.meta["segment_numbers"].index(number)]
        return plane.astype(np.uint8) if self.meta["segmentation_type"] == "BINARY" else plane


@dataclass
class MultiClassReaderResult:
    """What :meth:`MultiClassReader.read` returns: ``data`` (frames, rows, cols) uint16 labels."""

    dataset: Any
    data: np.ndarray
    meta: dict[str, Any]
    segment_infos: dict[int, Any] = field(default_factory=dict)


def _read_for_reader(dataset: Any) -> tuple[Any, np.ndarray, dict[str, Any]]:
    from .io import open_dataset

    ds, label = open_dataset(dataset)
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_STORAGE:
        raise FormatError(label, "is not a DICOM Segmentation")
    masks, meta = _decode_seg(ds, label)
    return ds, masks, meta


class SegmentReader:
    """Read a DICOM Segmentation into per-segment masks (pydicom-seg-compatible).

    >>> result = SegmentReader().read(pydicom.dcmread("seg.dcm"))   # doctest: +SKIP
    >>> result.segment_data(1).shape                                 # (frames, rows, cols)  # doctest: +SKIP
    """

    def read(self, dataset: Any) -> SegmentReaderResult:
        ds, masks, meta = _read_for_reader(dataset)
        infos = {item.SegmentNumber: item for item in ds.SegmentSequence}
        return SegmentReaderResult(ds, masks, meta, infos)


class MultiClassReader:
    """Read a (non-overlapping) Segmentation into one label-map volume (pydicom-seg-compatible).

    Raises :class:`~sonobridge.errors.FormatError` when segments overlap."""

    def read(self, dataset: Any) -> MultiClassReaderResult:
        ds, masks, meta = _read_for_reader(dataset)
        if meta["overlapping"]:
            raise FormatError(getattr(ds, "filename", None), "segments overlap: use SegmentReader")
        data = np.zeros(masks.shape[1:], np.uint16)
        for number, plane in zip(meta["segment_numbers"], masks):
            data[plane > 0] = number
        return MultiClassReaderResult(ds, data, meta, {item.SegmentNumber: item for item in ds.SegmentSequence})


__all__ = ["AlgorithmIdentificationSequence", "load_labelmap", "segments_for", "MultiClassReader", "SegmentDescription", "SegmentReader",
           "Segmentation", "read_seg", "seg_from_nifti", "write_seg", "write_seg_fractional"]
