"""Shared parts of the derived-object writers (SEG, parametric map, ...): the source images, the
common modules copied from them, frame-by-frame references, and writing the result.

highdicom builds derived objects on sources with plane geometry (a Frame of Reference, Image
Position / Orientation per frame). Ultrasound images have none: single- and multi-frame US is
calibrated per region (Sequence of Ultrasound Regions), not in patient space. For such sources the
derived object is written here frame by frame: every derived frame names its source frame in the
Derivation Image functional group (Referenced Frame Number) and carries no plane position, which is
what the SEG and Parametric Map IODs ask for when the source has no Frame of Reference.

Small stable API, used by :mod:`.seg` and :mod:`.paramap` (and free for the other derived families):

* :func:`load_sources` -- a path, a dataset, bytes, or a list of them -> list of pydicom datasets.
* :func:`has_plane_geometry` -- whether highdicom's own path can be used for these sources.
* :func:`frame_count` -- frames of one source (1 for a single-frame image).
* :func:`new_derived_dataset` -- a dataset with the patient / study / equipment / SOP modules filled.
* :func:`source_frame_references` -- (dataset, frame number) pairs in derived-frame order.
* :func:`derivation_item` -- the Derivation Image functional group item for one source frame.
* :func:`common_instance_reference` -- the Common Instance Reference module.
* :func:`finish` -- the dataset as Part-10 bytes, or written atomically to ``output``.
* :func:`code_item` -- a code sequence item from ``(value, scheme, meaning)``; :func:`label_of` --
  the path to name in error messages.
* :func:`image_plane` / :func:`add_plane_geometry` -- for IODs that require plane geometry (the
  Parametric Map): the probe's image plane as a new Frame of Reference, spacing from the US region.

Imports pydicom / numpy on use only.
"""
from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from typing import Any

from ..errors import FormatError

#: Purpose of Reference of a source frame (DCM 121322) and derivation codes
SOURCE_PURPOSE = ("121322", "DCM", "Source image for image processing operation")
#: attributes copied from the source: patient and study modules (type 2 when absent: empty)
PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                 "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")
#: our implementation's Manufacturer default
MANUFACTURER = "sonobridge"


def code_item(code: Sequence[str] | Any) -> Any:
    """A code sequence item (CodeValue, CodingSchemeDesignator, CodeMeaning) from a
    ``(value, scheme, meaning)`` triple or anything with those attributes (a highdicom CodedConcept)."""
    from pydicom.dataset import Dataset

    if hasattr(code, "CodeValue") or hasattr(code, "value"):
        value = getattr(code, "CodeValue", None) or getattr(code, "value")
        scheme = getattr(code, "CodingSchemeDesignator", None) or getattr(code, "scheme_designator")
        meaning = getattr(code, "CodeMeaning", None) or getattr(code, "meaning")
    else:
        value, scheme, meaning = code
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = str(value), str(scheme), str(meaning)
    return item


def load_sources(reference: Any) -> list[Any]:
    """The source image(s) as pydicom datasets, with pixel data skipped when read from disk.

    Parameters
    ----------
    reference : path, bytes, pydicom Dataset, folder, or a list of these
        One image (single- or multi-frame), a folder of a series' instances, or the instances.

    Raises
    ------
    FormatError
        When nothing is given or an item is not an image (no Rows / Columns).
    """
    from .io import open_dataset

    if isinstance(reference, (str, os.PathLike)) and os.path.isdir(reference):
        reference = sorted(os.path.join(reference, name) for name in os.listdir(reference)
                           if not name.startswith("."))
    items = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    if not items:
        raise FormatError(None, "no source image given")
    sources = []
    for item in items:
        ds, label = open_dataset(item, stop_before_pixels=True)
        if "Rows" not in ds or "Columns" not in ds or "SOPInstanceUID" not in ds:
            raise FormatError(label, "is not an image (no Rows / Columns / SOP Instance UID)")
        sources.append(ds)
    return sources


def label_of(reference: Any) -> str | None:
    """A name for error messages: the path of ``reference`` (or of its first item)."""
    first = reference[0] if isinstance(reference, (list, tuple)) and reference else reference
    if getattr(first, "filename", None) and isinstance(first.filename, (str, os.PathLike)):
        return os.fspath(first.filename)
    return os.fspath(first) if isinstance(first, (str, os.PathLike)) else None


def frame_count(ds: Any) -> int:
    """Frames of one source image (Number of Frames, 1 when absent)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def has_plane_geometry(sources: Sequence[Any]) -> bool:
    """Whether the sources carry a Frame of Reference and plane geometry (highdicom's path works).

    Ultrasound (no Frame of Reference; US Image / US Multi-frame Image) answers False."""
    for ds in sources:
        if "FrameOfReferenceUID" not in ds:
            return False
        planar = "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds
        enhanced = "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds
        if not (planar or enhanced):
            return False
    return True


def source_frame_references(sources: Sequence[Any]) -> list[tuple[Any, int | None]]:
    """Every source frame in order: (dataset, frame number 1.. or None for a single-frame image).
    Instances are in the order given (callers sort a series by position before)."""
    result: list[tuple[Any, int | None]] = []
    for ds in sources:
        n = frame_count(ds)
        multi = "NumberOfFrames" in ds
        result += [(ds, index + 1 if multi else None) for index in range(n)]
    return result


def new_derived_dataset(source: Any, sop_class_uid: str, modality: str, *, series_instance_uid: str | None,
                        series_number: int, sop_instance_uid: str | None, instance_number: int,
                        manufacturer: str | None, manufacturer_model_name: str | None,
                        software_versions: str | None, device_serial_number: str | None,
                        series_description: str | None = None) -> Any:
    """A new dataset (file meta: explicit VR little endian) with the SOP Common, Patient, General
    Study, General Series, (Enhanced) General Equipment and content date/time filled, copying the
    patient and study identity from ``source``."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID

    from .uid import generate_uid
    from .._version import __version__

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = source.get("SpecificCharacterSet", "ISO_IR 100")
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class_uid, meta.MediaStorageSOPInstanceUID
    for keyword in PATIENT_STUDY:
        setattr(ds, keyword, source.get(keyword, ""))
    if not ds.StudyInstanceUID:
        ds.StudyInstanceUID = generate_uid()
    now = dt.datetime.now()
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.SeriesDate, ds.SeriesTime = ds.ContentDate, ds.ContentTime
    ds.Modality = modality
    ds.SeriesInstanceUID = series_instance_uid or generate_uid()
    ds.SeriesNumber, ds.InstanceNumber = int(series_number), int(instance_number)
    ds.PatientOrientation = source.get("PatientOrientation", "") if "FrameOfReferenceUID" not in source else ""
    if series_description:
        ds.SeriesDescription = series_description
    ds.Manufacturer = manufacturer or MANUFACTURER
    ds.ManufacturerModelName = manufacturer_model_name or MANUFACTURER
    ds.SoftwareVersions = software_versions or str(__version__)
    ds.DeviceSerialNumber = device_serial_number or "0"
    if "FrameOfReferenceUID" in source:
        ds.FrameOfReferenceUID = source.FrameOfReferenceUID
        ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator", "")
    return ds


def derivation_item(source: Any, frame: int | None, derivation: Sequence[str]) -> Any:
    """The Derivation Image Sequence item naming one source frame (None: the whole single-frame image)."""
    from pydicom.dataset import Dataset

    reference = Dataset()
    reference.ReferencedSOPClassUID = source.SOPClassUID
    reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
    if frame is not None:
        reference.ReferencedFrameNumber = frame
    reference.SpatialLocationsPreserved = "YES"          # pixel (r, c) of the derived frame is (r, c) of the source
    reference.PurposeOfReferenceCodeSequence = [code_item(SOURCE_PURPOSE)]
    item = Dataset()
    item.DerivationCodeSequence = [code_item(derivation)]
    item.SourceImageSequence = [reference]
    return item


def common_instance_reference(ds: Any, sources: Sequence[Any]) -> None:
    """Fill the Common Instance Reference module of ``ds``: every source, by series."""
    from pydicom.dataset import Dataset

    series: dict[str, list[Any]] = {}
    for source in sources:
        series.setdefault(str(source.get("SeriesInstanceUID", "")), []).append(source)
    items = []
    for uid, members in series.items():
        item = Dataset()
        item.SeriesInstanceUID = uid
        instances = []
        for source in members:
            instance = Dataset()
            instance.ReferencedSOPClassUID = source.SOPClassUID
            instance.ReferencedSOPInstanceUID = source.SOPInstanceUID
            instances.append(instance)
        item.ReferencedInstanceSequence = instances
        items.append(item)
    ds.ReferencedSeriesSequence = items
    if any(str(s.get("StudyInstanceUID", "")) != str(ds.StudyInstanceUID) for s in sources):
        raise FormatError(None, "the source images belong to different studies")


def finish(ds: Any, output: str | os.PathLike | None) -> bytes | None:
    """``ds`` as Part-10 bytes (``output`` None), or written to ``output`` atomically (returns None).
    A failing write raises :class:`~sonobridge.errors.OutputError` naming ``output``."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    if output is None:
        return data
    from ..util.atomic import write_bytes_atomic

    write_bytes_atomic(output, data)
    return None


def image_plane(source: Any) -> tuple[tuple[float, float], list[float], list[float], bool]:
    """A plane geometry for derived objects whose IOD requires one (the Parametric Map) on an
    ultrasound source, which has none: the image plane of the probe as its own frame of reference.

    From the largest 2-D tissue region calibrated in metres (Sequence of Ultrasound Regions):
    pixel spacing (row, column) in mm, the position of pixel (0, 0) in mm (x = lateral, y = depth,
    z = 0) and the row / column directions (sign of the region's deltas). Without such a region the
    spacing is a nominal 1 mm and ``calibrated`` is False.

    Returns
    -------
    (spacing_mm, position_mm, orientation, calibrated)
    """
    from .ultrasound import tissue_region

    region = tissue_region(source)
    if region is None or not region.is_tissue_2d:
        return (1.0, 1.0), [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], False
    x = float(region.axis(1, "x")[0]) * 1e3
    y = float(region.axis(1, "y")[0]) * 1e3
    sx, sy = (1.0 if region.delta_x > 0 else -1.0), (1.0 if region.delta_y > 0 else -1.0)
    return (abs(region.delta_y) * 1e3, abs(region.delta_x) * 1e3), [x, y, 0.0], [sx, 0.0, 0.0, 0.0, sy, 0.0], True


def add_plane_geometry(ds: Any, shared: Any, groups: Sequence[Any], source: Any) -> bool:
    """Give ``ds`` a new Frame of Reference (the probe's image plane, :func:`image_plane`), the
    Pixel Measures and Plane Orientation in ``shared`` and a Plane Position in each of ``groups``
    (all frames in the same plane, told apart by time). Returns whether the spacing is calibrated."""
    from pydicom.dataset import Dataset

    from .ultrasound import number_string
    from .uid import generate_uid

    spacing, position, orientation, calibrated = image_plane(source)
    ds.FrameOfReferenceUID = generate_uid()
    ds.PositionReferenceIndicator = ""
    measures = Dataset()
    measures.PixelSpacing = [number_string(v) for v in spacing]
    measures.SliceThickness = number_string(1.0)
    shared.PixelMeasuresSequence = [measures]
    plane = Dataset()
    plane.ImageOrientationPatient = [number_string(v) for v in orientation]
    shared.PlaneOrientationSequence = [plane]
    for group in groups:
        item = Dataset()
        item.ImagePositionPatient = [number_string(v) for v in position]
        group.PlanePositionSequence = [item]
    return calibrated
