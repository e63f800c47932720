"""DICOM Parametric Map authoring and reading, ultrasound included.

>>> write_paramap("cine.dcm", stiffness_kpa, units=("kPa", "UCUM", "kPa"), output="map.dcm")  # doctest: +SKIP
>>> values, meta = read_paramap("map.dcm")          # (frames, rows, cols) float32 real-world values  # doctest: +SKIP

The Real World Value Mapping items come from highdicom (:class:`highdicom.pm.RealWorldValueMapping`).
Sources with plane geometry are mapped by :class:`highdicom.pm.ParametricMap`; ultrasound sources
(no Frame of Reference, which highdicom refuses) are written here frame by frame, each map frame
naming its source frame (:mod:`.derived`). Storage: 32-bit float (Float Pixel Data, values verbatim)
or integers quantized through the mapping (stored = round((value - intercept) / slope)).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import FormatError, MissingDependencyError
from . import derived

logger = logging.getLogger(__name__)

PARAMETRIC_MAP_STORAGE = "1.2.840.10008.5.1.4.1.1.30"
#: Derivation Code of a parametric map frame: the one highdicom uses (DCM 130226)
PARAMAP_DERIVATION = ("130226", "DCM", "Unspecified method of calculation")
INTEGER_TYPES = ("uint8", "int8", "uint16", "int16")
DEFAULT_UNITS = ("1", "UCUM", "no units")


def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError:
        raise MissingDependencyError(None, "DICOM Parametric Maps need highdicom: pip install 'sonobridge[derived]'") from None
    return highdicom


def _code(code: Any, default_scheme: str, what: str, label: str | None) -> Any:
    """A highdicom CodedConcept from (code, scheme, meaning), (code, meaning), a meaning string
    (code = meaning) or a dict with value/scheme/meaning keys."""
    hd = _highdicom()
    if isinstance(code, hd.sr.CodedConcept):
        return code
    if isinstance(code, dict):
        code = (code.get("value") or code.get("code"), code.get("scheme", default_scheme), code.get("meaning"))
    elif isinstance(code, str):
        code = (code, default_scheme, code)
    elif hasattr(code, "value") and hasattr(code, "scheme_designator"):
        code = (code.value, code.scheme_designator, code.meaning)
    if isinstance(code, (tuple, list)) and len(code) == 2:
        code = (code[0], default_scheme, code[1])
    if not (isinstance(code, (tuple, list)) and len(code) == 3 and all(code)):
        raise FormatError(label, f"malformed {what} code {code!r}: expected (value, scheme, meaning)")
    return hd.sr.CodedConcept(str(code[0]), str(code[1]), str(code[2]))


def RealWorldValueMapping(lut_label: str, lut_explanation: str, unit: Any, value_range: tuple[float, float],
                          slope: float | None = None, intercept: float | None = None,
                          lut_data: Sequence[float] | None = None, quantity_definition: Any = None) -> Any:
    """highdicom.pm.RealWorldValueMapping-compatible real-world value mapping (one item of the Real
    World Value Mapping Sequence). ``unit`` / ``quantity_definition`` may be code triples, pairs or
    strings as in :func:`write_paramap`; ``value_range`` is the stored range (ints for integer
    pixels, floats for float pixels). Returns :class:`highdicom.pm.RealWorldValueMapping`."""
    hd = _highdicom()
    try:
        return hd.pm.RealWorldValueMapping(
            str(lut_label)[:16], str(lut_explanation)[:64], _code(unit, "UCUM", "units", None), value_range,
            slope=slope, intercept=intercept, lut_data=lut_data,
            quantity_definition=_code(quantity_definition, "DCM", "quantity", None) if quantity_definition else None)
    except (ValueError, TypeError) as error:
        raise FormatError(None, f"real world value mapping: {error}") from None


def _storage(values: np.ndarray, dtype: str | None, slope: float | None, intercept: float | None,
             label: str | None) -> tuple[np.ndarray, float, float]:
    """The stored pixels, slope and intercept: float32 verbatim, or integers through the mapping."""
    if not np.all(np.isfinite(values)):
        raise FormatError(label, "the map holds NaN or infinite values")
    if dtype is None or np.dtype(dtype).kind == "f":
        if dtype is not None and np.dtype(dtype) != np.float32:
            raise FormatError(label, f"float maps are stored as float32, not {dtype}")
        return values.astype(np.float32), float(1 if slope is None else slope), float(0 if intercept is None else intercept)
    if str(np.dtype(dtype)) not in INTEGER_TYPES:
        raise FormatError(label, f"unsupported dtype {dtype!r}: use None (float32) or one of {INTEGER_TYPES}")
    info = np.iinfo(dtype)
    low, high = float(values.min()), float(values.max())
    if slope is None:
        slope = (high - low) / (info.max - info.min) if high > low else 1.0
    if intercept is None:
        intercept = low - info.min * slope
    if slope == 0:
        raise FormatError(label, "the slope must not be 0")
    stored = np.rint((values.astype(np.float64) - intercept) / slope)
    if stored.min() < info.min or stored.max() > info.max:
        raise FormatError(label, f"values {low}..{high} do not fit {dtype} with slope {slope} and intercept {intercept}")
    return stored.astype(dtype), float(slope), float(intercept)


def _mapping(stored: np.ndarray, slope: float, intercept: float, units: Any, quantity: Any, label_text: str | None,
             explanation: str | None, label: str | None) -> Any:
    hd = _highdicom()
    if stored.dtype.kind == "f":
        value_range: tuple = (float(stored.min()), float(stored.max()))
    else:
        value_range = (int(stored.min()), int(stored.max()))
    try:
        return hd.pm.RealWorldValueMapping(
            (label_text or "MAP")[:16], (explanation or label_text or "real world values")[:64],
            _code(units if units is not None else DEFAULT_UNITS, "UCUM", "units", label), value_range,
            slope=slope, intercept=intercept,
            quantity_definition=_code(quantity, "DCM", "quantity", label) if quantity is not None else None)
    except (ValueError, TypeError) as error:
        raise FormatError(label, f"real world value mapping: {error}") from None


def _write_frames(sources: Sequence[Any], stored: np.ndarray, mapping: Any, *, identity: dict[str, Any],
                  description: dict[str, Any], window: tuple[float, float] | None) -> Any:
    """The map dataset frame by frame (the ultrasound path): stored (frames, H, W)."""
    from pydicom.dataset import Dataset
    from pydicom.dataelem import DataElement

    from .uid import generate_uid

    ds = derived.new_derived_dataset(sources[0], PARAMETRIC_MAP_STORAGE, "OT", **identity)
    references = derived.source_frame_references(sources)
    nframes, rows, columns = stored.shape
    ds.ImageType = ["DERIVED", "PRIMARY", "VOLUME", "QUANTITY"]
    ds.ContentQualification = "RESEARCH"
    ds.ContentLabel = (description.get("content_label") or "MAP").upper().replace(" ", "_")[:16]
    ds.ContentDescription = description.get("content_description") or ""
    ds.ContentCreatorName = description.get("content_creator_name") or ""
    ds.PixelPresentation = "MONOCHROME"
    ds.PresentationLUTShape = "IDENTITY"
    ds.Laterality = ""
    ds.AcquisitionContextSequence = []
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = description.get("recognizable") or "NO"
    ds.LossyImageCompression = "00"
    if stored.dtype.kind == "f":
        ds.BitsAllocated = 32
        ds.FloatPixelData = stored.astype("<f4").tobytes()
    else:
        # the IOD allows 16-bit integers only: 8-bit levels are kept in 16-bit pixels
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = int(stored.dtype.kind == "i")
        ds.PixelData = stored.astype("<i2" if stored.dtype.kind == "i" else "<u2").tobytes()
    organisation = generate_uid()
    ds.DimensionOrganizationSequence = [Dataset()]
    ds.DimensionOrganizationSequence[0].DimensionOrganizationUID = organisation
    dimension = Dataset()
    dimension.DimensionOrganizationUID = organisation
    dimension.DimensionIndexPointer = 0x00209128
    dimension.FunctionalGroupPointer = 0x00209111
    dimension.DimensionDescriptionLabel = "Source frame"
    ds.DimensionIndexSequence = [dimension]
    shared = Dataset()
    frame_type = Dataset()
    frame_type.FrameType = list(ds.ImageType)
    shared.ParametricMapFrameTypeSequence = [frame_type]
    shared.add(DataElement(0x00409096, "SQ", [mapping]))
    transformation = Dataset()
    transformation.RescaleIntercept, transformation.RescaleSlope, transformation.RescaleType = 0, 1, "US"
    shared.PixelValueTransformationSequence = [transformation]
    if window is not None:
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = derived_number(window[0]), derived_number(max(window[1], 1.0))
        shared.FrameVOILUTSequence = [voi]
    ds.SharedFunctionalGroupsSequence = [shared]
    groups = []
    for index, (source, frame) in enumerate(references):
        group = Dataset()
        group.DerivationImageSequence = [derived.derivation_item(source, frame, PARAMAP_DERIVATION)]
        content = Dataset()
        content.DimensionIndexValues = [index + 1]
        content.TemporalPositionIndex = index + 1
        group.FrameContentSequence = [content]
        groups.append(group)
    ds.PerFrameFunctionalGroupsSequence = groups
    if not derived.add_plane_geometry(ds, shared, groups, sources[0]):
        logger.warning("%s: no calibrated ultrasound region; the map's pixel spacing is a nominal 1 mm",
                       derived.label_of(sources) or "source")
    ds.NumberOfFrames = nframes
    derived.common_instance_reference(ds, sources)
    return ds


def derived_number(value: float) -> str:
    """A DS string (at most 16 characters) for ``value``."""
    from .ultrasound import number_string

    return number_string(float(value))


def _write_highdicom(sources: Sequence[Any], stored: np.ndarray, mapping: Any, *, identity: dict[str, Any],
                     description: dict[str, Any], window: tuple[float, float] | None) -> Any:
    hd = _highdicom()
    from pydicom import dcmread

    full = [dcmread(s.filename) if getattr(s, "filename", None) else s for s in sources]
    center, width = window if window is not None else (0.0, 1.0)
    try:
        return hd.pm.ParametricMap(
            full, stored, identity["series_instance_uid"] or hd.UID(), identity["series_number"],
            identity["sop_instance_uid"] or hd.UID(), identity["instance_number"],
            identity["manufacturer"] or derived.MANUFACTURER, identity["manufacturer_model_name"] or derived.MANUFACTURER,
            identity["software_versions"] or "1", identity["device_serial_number"] or "0",
            (description.get("recognizable") or "NO") == "YES", [mapping], None, None,
            voi_lut_transformations=[hd.VOILUTTransformation(window_center=center, window_width=max(width, 1.0))],
            content_label=description.get("content_label"), content_description=description.get("content_description"),
            content_creator_name=description.get("content_creator_name"))
    except (ValueError, TypeError) as error:
        raise FormatError(derived.label_of(sources), f"highdicom refused the parametric map: {error}") from None


def _author(reference: Any, values: Any, *, units: Any, quantity: Any, slope: float | None, intercept: float | None,
            label_text: str | None, explanation: str | None, dtype: Any, identity: dict[str, Any] | None = None,
            description: dict[str, Any] | None = None, window: tuple[float, float] | None = None,
            mapping: Any = None, stored_as_is: bool = False) -> Any:
    label = derived.label_of(reference)
    sources = derived.load_sources(reference)
    array = np.asarray(values)
    if array.ndim == 2:
        array = array[None]
    frames = derived.source_frame_references(sources)
    shape = (len(frames), int(sources[0].Rows), int(sources[0].Columns))
    if array.ndim != 3 or array.shape != shape or array.dtype.kind not in "iuf":
        raise FormatError(label, f"map shape {array.shape} ({array.dtype}) does not match the source: "
                                 f"{shape[0]} frame(s) of {shape[1]} x {shape[2]} real values")
    if stored_as_is:
        stored = array if array.dtype.kind != "f" else array.astype(np.float32)
        slope = float(mapping.RealWorldValueSlope) if mapping is not None and "RealWorldValueSlope" in mapping else 1.0
        intercept = float(mapping.RealWorldValueIntercept) if mapping is not None and "RealWorldValueIntercept" in mapping else 0.0
    else:
        stored, slope, intercept = _storage(array, dtype, slope, intercept, label)
    if mapping is None:
        mapping = _mapping(stored, slope, intercept, units, quantity, label_text, explanation, label)
    identity = {"series_instance_uid": None, "series_number": 1, "sop_instance_uid": None, "instance_number": 1,
                "manufacturer": None, "manufacturer_model_name": None, "software_versions": None,
                "device_serial_number": None, **(identity or {})}
    if window is None:                  # on stored values (the Pixel Value Transformation is identity)
        low, high = float(stored.min()), float(stored.max())
        window = ((low + high) / 2, high - low)
    writer = _write_highdicom if derived.has_plane_geometry(sources) else _write_frames
    return writer(sources, stored, mapping, identity=identity, description=description or {}, window=window)


def write_paramap(reference: Any, values: np.ndarray, *, units: Any = None, quantity: Any = None,
                  slope: float | None = None, intercept: float | None = None, label: str | None = None,
                  explanation: str | None = None, dtype: Any = None,
                  output: str | os.PathLike | None = None) -> bytes | None:
    """Author a DICOM Parametric Map from a real-valued array.

    Parameters
    ----------
    reference : path, dataset, bytes, folder or list of instance paths
        The source image or series (ultrasound multi-frame included); one map plane per source frame.
    values : ndarray, (H, W) or (frames, H, W), float
        Real-world values.
    units : (code, scheme, meaning), (code, meaning), str or dict, optional
        Measurement units, UCUM by default, e.g. ``("kPa", "UCUM", "kPa")``; default "1" (no units).
    quantity : (value, scheme, meaning), optional
        The measured quantity (DCM by default), e.g. ``("113041", "DCM", "Apparent Diffusion Coefficient")``.
    slope, intercept : float, optional
        The Real World Value Mapping (value = stored * slope + intercept). Float storage: identity by
        default; integer storage: chosen to span the value range over the integer range.
    label, explanation : str, optional
        LUT Label (16 characters) and LUT Explanation of the mapping.
    dtype : None, "uint8", "int8", "uint16", "int16"
        Stored pixel type; None: 32-bit float. 8-bit types quantize to 256 levels, kept in 16-bit
        pixels (the Parametric Map IOD allows only 16-bit integer pixels).
    output : path, optional
        Write the map there (atomically) and return None; else return Part-10 bytes.

    Raises
    ------
    FormatError
        Shape not matching the source frames, non-finite values, malformed codes or values that do
        not fit the integer type -- before anything is written.
    """
    ds = _author(reference, values, units=units, quantity=quantity, slope=slope, intercept=intercept,
                 label_text=label, explanation=explanation, dtype=dtype)
    return derived.finish(ds, output)


def ParametricMap(source_images: Sequence[Any], pixel_array: np.ndarray, series_instance_uid: str,
                  series_number: int, sop_instance_uid: str, instance_number: int, manufacturer: str,
                  manufacturer_model_name: str, software_versions: str, device_serial_number: str,
                  contains_recognizable_visual_features: bool, real_world_value_mappings: Sequence[Any],
                  window_center: float, window_width: float, *, content_description: str | None = None,
                  content_label: str | None = None, content_creator_name: str | None = None,
                  transfer_syntax_uid: str | None = None, **_kwargs: Any) -> Any:
    """highdicom.pm.ParametricMap-compatible constructor; returns the map as a pydicom Dataset.

    ``source_images``: datasets or paths (ultrasound included); ``pixel_array``: ``(frames, H, W)``
    stored values (float: real-world values; integer: mapped through the mapping's slope /
    intercept); ``real_world_value_mappings``: :func:`RealWorldValueMapping` items (highdicom's
    per-channel list of lists is accepted; the first one is used). ``transfer_syntax_uid`` and
    highdicom-only keywords are accepted and ignored (explicit VR little endian is written).
    """
    mappings = list(real_world_value_mappings)
    while mappings and isinstance(mappings[0], (list, tuple)):
        mappings = list(mappings[0])
    if not mappings:
        raise FormatError(None, "a parametric map needs at least one real world value mapping")
    identity = {"series_instance_uid": series_instance_uid, "series_number": series_number,
                "sop_instance_uid": sop_instance_uid, "instance_number": instance_number,
                "manufacturer": manufacturer, "manufacturer_model_name": manufacturer_model_name,
                "software_versions": software_versions, "device_serial_number": device_serial_number}
    description = {"content_description": content_description, "content_label": content_label,
                   "content_creator_name": content_creator_name,
                   "recognizable": "YES" if contains_recognizable_visual_features else "NO"}
    return _author(list(source_images), pixel_array, units=None, quantity=None, slope=None, intercept=None,
                   label_text=None, explanation=None, dtype=None, identity=identity, description=description,
                   window=(float(window_center), float(window_width)), mapping=mappings[0], stored_as_is=True)


def read_paramap(path: Any) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Read a DICOM Parametric Map (ours, highdicom's, dcmqi's) to ``(values, meta)``.

    Returns
    -------
    values : ndarray, (frames, rows, cols) float32
        Real-world values: float pixels as stored, integer pixels through the mapping's slope / intercept.
    meta : dict
        ``is_parametric_map``, ``frames``, ``source_frames`` ((SOP Instance UID, frame number) per
        frame when given), and ``real_world_value_mapping`` = {slope, intercept, units, quantity,
        label, explanation, first_value_mapped, last_value_mapped, has_lut}.
    None when ``path`` is not a Parametric Map.
    """
    from .io import damaged_content, open_dataset

    ds, label = open_dataset(path)
    if str(ds.get("SOPClassUID", "")) != PARAMETRIC_MAP_STORAGE:
        return None
    with damaged_content(label):
        rows, columns = int(ds.Rows), int(ds.Columns)
        nframes = int(ds.get("NumberOfFrames", 1) or 1)
        count = nframes * rows * columns
        if "FloatPixelData" in ds:
            raw, dtype = bytes(ds.FloatPixelData), np.dtype("<f4")
        elif "DoubleFloatPixelData" in ds:
            raw, dtype = bytes(ds.DoubleFloatPixelData), np.dtype("<f8")
        else:
            kind = "i" if int(ds.get("PixelRepresentation", 0)) else "u"
            raw, dtype = bytes(ds.PixelData), np.dtype(f"<{kind}{int(ds.BitsAllocated) // 8}")
        if len(raw) < count * dtype.itemsize:
            raise FormatError(label, "pixel data shorter than the frames declared")
        stored = np.frombuffer(raw, dtype, count).reshape(nframes, rows, columns)
        item = _mapping_item(ds)
        meta: dict[str, Any] = {"is_parametric_map": True, "frames": nframes,
                                "source_frames": _source_frames(ds)}
        values = stored.astype(np.float32)
        if item is not None:
            mapping = _mapping_meta(item)
            meta["real_world_value_mapping"] = mapping
            if dtype.kind != "f":
                if mapping["has_lut"]:
                    lut = np.asarray(item.RealWorldValueLUTData, np.float64)
                    first = int(mapping["first_value_mapped"])
                    values = lut[np.clip(stored.astype(np.int64) - first, 0, len(lut) - 1)].astype(np.float32)
                else:
                    values = (stored.astype(np.float64) * mapping["slope"] + mapping["intercept"]).astype(np.float32)
    return values, meta


def _mapping_item(ds: Any) -> Any:
    for group in [*(ds.get("SharedFunctionalGroupsSequence") or []), *(ds.get("PerFrameFunctionalGroupsSequence") or [])[:1]]:
        if "RealWorldValueMappingSequence" in group and group.RealWorldValueMappingSequence:
            return group.RealWorldValueMappingSequence[0]
    return ds.RealWorldValueMappingSequence[0] if ds.get("RealWorldValueMappingSequence") else None


def _mapping_meta(item: Any) -> dict[str, Any]:
    def code(keyword: str) -> tuple[str, str, str] | None:
        sequence = item.get(keyword)
        return (str(sequence[0].CodeValue), str(sequence[0].CodingSchemeDesignator), str(sequence[0].CodeMeaning)) \
            if sequence else None

    quantity = None
    for entry in item.get("QuantityDefinitionSequence") or []:
        if "ConceptCodeSequence" in entry:
            concept = entry.ConceptCodeSequence[0]
            quantity = (str(concept.CodeValue), str(concept.CodingSchemeDesignator), str(concept.CodeMeaning))
    first = item.get("RealWorldValueFirstValueMapped", item.get("DoubleFloatRealWorldValueFirstValueMapped"))
    last = item.get("RealWorldValueLastValueMapped", item.get("DoubleFloatRealWorldValueLastValueMapped"))
    return {"slope": float(item.get("RealWorldValueSlope", 1.0)), "intercept": float(item.get("RealWorldValueIntercept", 0.0)),
            "units": code("MeasurementUnitsCodeSequence"), "quantity": quantity,
            "label": str(item.get("LUTLabel", "")), "explanation": str(item.get("LUTExplanation", "")),
            "first_value_mapped": first, "last_value_mapped": last, "has_lut": "RealWorldValueLUTData" in item}


def _source_frames(ds: Any) -> list[tuple[str, int]]:
    result = []
    for group in ds.get("PerFrameFunctionalGroupsSequence") or []:
        if "DerivationImageSequence" in group:
            source = group.DerivationImageSequence[0].SourceImageSequence[0]
            result.append((str(source.ReferencedSOPInstanceUID), int(source.get("ReferencedFrameNumber", 1) or 1)))
    return result


__all__ = ["ParametricMap", "RealWorldValueMapping", "read_paramap", "write_paramap"]
