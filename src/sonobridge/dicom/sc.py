"""Secondary Capture images (``pydcm.sc``): write an array as a Secondary Capture DICOM object over
highdicom (single-frame, or multi-frame grayscale / true colour).

``SCImage.from_ref_dataset(us_dataset, ...)`` makes a capture in the study of a sonobridge ultrasound
cine (a rendered frame, an overlay of an ML result); :func:`derived_from` links it to the source frames.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import SonobridgeError
from .pr import building, emit, require_highdicom, unknown_laterality

_PHOTOMETRIC = {"MONOCHROME1": 2, "MONOCHROME2": 2, "RGB": 3, "YBR_FULL": 3}


def _check(pixel_array: Any, photometric_interpretation: str):
    """``pixel_array`` as an ndarray, or :class:`SonobridgeError` naming what does not fit."""
    import numpy as np

    array = np.asarray(pixel_array)
    if array.dtype not in (np.uint8, np.uint16):
        raise SonobridgeError(None, f"secondary capture pixels must be uint8 or uint16, got {array.dtype}")
    if photometric_interpretation not in _PHOTOMETRIC:
        raise SonobridgeError(None, f"unknown photometric interpretation {photometric_interpretation!r} "
                                    f"(one of {sorted(_PHOTOMETRIC)})")
    colour = _PHOTOMETRIC[photometric_interpretation] == 3
    if colour and (array.ndim not in (3, 4) or array.shape[-1] != 3) or not colour and array.ndim not in (2, 3):
        raise SonobridgeError(None, f"pixel array of shape {array.shape} does not fit {photometric_interpretation} "
                                    f"((rows, cols) or (frames, rows, cols){', 3' if colour else ''})")
    if 0 in array.shape:
        raise SonobridgeError(None, f"empty pixel array of shape {array.shape}")
    return array


#: Multi-frame Secondary Capture SOP classes: (colour, bits allocated) -> SOP Class UID
_MULTIFRAME = {(False, 8): "1.2.840.10008.5.1.4.1.1.7.2", (False, 16): "1.2.840.10008.5.1.4.1.1.7.3",
               (True, 8): "1.2.840.10008.5.1.4.1.1.7.4"}


def _as_multiframe(ds: Any, array: Any) -> None:
    """Turn the single-frame SC ``ds`` (built from ``array[0]``) into its multi-frame SC class with all
    of ``array``'s frames (frames indexed by the Page Number Vector)."""
    colour = array.ndim == 4
    key = (colour, 8 * array.dtype.itemsize)
    if key not in _MULTIFRAME:
        raise SonobridgeError(None, f"no multi-frame secondary capture class for {array.dtype} colour images")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = _MULTIFRAME[key]
    ds.NumberOfFrames = len(array)
    ds.FrameIncrementPointer = 0x00182001
    ds.PageNumberVector = list(range(1, len(array) + 1))
    ds.PixelData = array.tobytes()
    if not colour:
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
        ds.PresentationLUTShape = "IDENTITY"
    ds.BurnedInAnnotation = ds.get("BurnedInAnnotation", "NO")


def _sc_class():
    hd = require_highdicom()

    def __init__(self, pixel_array, photometric_interpretation, bits_allocated, coordinate_system,
                 study_instance_uid, series_instance_uid, series_number, sop_instance_uid, instance_number,
                 manufacturer, *, patient_id=None, patient_name=None, patient_birth_date=None, patient_sex=None,
                 accession_number=None, study_id=None, study_date=None, study_time=None,
                 referring_physician_name=None, pixel_spacing=None, **_kwargs):
        array = _check(pixel_array, str(photometric_interpretation))
        # highdicom wants an orientation in the patient system; none known -> recorded empty (Type 2C)
        unknown = str(coordinate_system).upper().endswith("PATIENT") and _kwargs.get("patient_orientation") is None
        if unknown:
            _kwargs["patient_orientation"] = ("L", "F")
        with building("secondary capture"):
            hd.sc.SCImage.__init__(
                self, array, photometric_interpretation, bits_allocated, coordinate_system, study_instance_uid,
                series_instance_uid, series_number, sop_instance_uid, instance_number, manufacturer,
                patient_id=patient_id, patient_name=patient_name, patient_birth_date=patient_birth_date,
                patient_sex=patient_sex, accession_number=accession_number, study_id=study_id,
                study_date=study_date, study_time=study_time, referring_physician_name=referring_physician_name,
                pixel_spacing=pixel_spacing, **_kwargs)
        if unknown:
            self.PatientOrientation = None
        unknown_laterality(self)

    __init__.__doc__ = ("highdicom.sc.SCImage-compatible constructor: a Secondary Capture Dataset from pixel_array "
                        "(uint8/uint16; (rows, cols[, 3]) or (frames, rows, cols[, 3])).")
    return type("SCImage", (hd.sc.SCImage,), {"__init__": __init__, "__module__": __name__,
                                              "__doc__": "A Secondary Capture image (a highdicom SCImage)."})


def __getattr__(name: str) -> Any:
    if name == "SCImage":
        value = _sc_class()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write_sc(pixel_array: Any, photometric_interpretation: str = "MONOCHROME2", *, bits_stored: int | None = None,
             study_instance_uid: str | None = None, series_instance_uid: str | None = None,
             sop_instance_uid: str | None = None, series_number: int = 1, instance_number: int = 1,
             manufacturer: str = "pydcm", patient_id: str = "", patient_name: str = "", patient_birth_date: str = "",
             patient_sex: str = "", accession_number: str = "", study_id: str = "", study_date: str = "",
             study_time: str = "", referring_physician_name: str = "", conversion_type: str = "WSD",
             pixel_spacing: tuple[float, float] | None = None, output: str | os.PathLike | None = None) -> Any:
    """Author a Secondary Capture image from ``pixel_array``.

    Parameters
    ----------
    pixel_array : numpy.ndarray
        uint8 or uint16, shaped (rows, cols), (frames, rows, cols), (rows, cols, 3) or (frames, rows, cols, 3).
    photometric_interpretation : str
        "MONOCHROME2" (default), "MONOCHROME1", "RGB" or "YBR_FULL".
    bits_stored : int, optional
        Bits used of each sample (default: all of the dtype).
    study_instance_uid, series_instance_uid, sop_instance_uid : str, optional
        Minted when omitted.
    conversion_type : str
        Conversion Type (0008,0064): "WSD" (workstation, default), "DV", "DI", "SI", "SYN" ...
    pixel_spacing : (row, column) in mm, optional
    output : path, optional
        Write there atomically and return None.

    Returns
    -------
    pydicom.dataset.Dataset or None
        The SC object (a highdicom ``SCImage``); None when written to ``output``.

    Raises
    ------
    SonobridgeError
        Bad pixel array (dtype, shape, empty) or bits_stored; nothing is written then.
    """
    import numpy as np

    from .uid import generate_uid

    array = _check(pixel_array, photometric_interpretation)
    bits_allocated = 8 * array.dtype.itemsize
    if bits_stored is not None and not 1 <= int(bits_stored) <= bits_allocated:
        raise SonobridgeError(None, f"bits_stored must be 1..{bits_allocated}, got {bits_stored}")
    if bits_stored is not None and int(array.max()) >= 1 << int(bits_stored):
        raise SonobridgeError(None, f"pixel values up to {int(array.max())} do not fit bits_stored={bits_stored}")
    frames = array.ndim == (4 if _PHOTOMETRIC[photometric_interpretation] == 3 else 3)
    ds = __getattr__("SCImage")(
        np.ascontiguousarray(array[0] if frames else array), photometric_interpretation, bits_allocated, "PATIENT",
        study_instance_uid or generate_uid(), series_instance_uid or generate_uid(), int(series_number),
        sop_instance_uid or generate_uid(), int(instance_number), manufacturer, patient_id=patient_id or None,
        patient_name=patient_name or None, patient_birth_date=patient_birth_date or None,
        patient_sex=patient_sex or None, accession_number=accession_number or None, study_id=study_id or None,
        study_date=study_date or None, study_time=study_time or None,
        referring_physician_name=referring_physician_name or None,
        pixel_spacing=tuple(pixel_spacing) if pixel_spacing is not None else None)
    ds.ConversionType = conversion_type
    if frames:
        _as_multiframe(ds, array)
    if bits_stored is not None:
        ds.BitsStored, ds.HighBit = int(bits_stored), int(bits_stored) - 1
    if output is not None:
        emit(ds, os.fspath(output))
        return None
    return ds


def derived_from(ds: Any, source: Any, frame_numbers: list[int] | None = None, description: str = "") -> Any:
    """Record in the capture ``ds`` that it was derived from ``source`` (frames ``frame_numbers``,
    1-based, of a multi-frame source such as an ultrasound cine): Image Type DERIVED, a Source Image
    Sequence item (purpose: source image for image processing), Derivation Description.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A secondary capture (:func:`write_sc`, :class:`SCImage`), changed in place and returned.
    source : path, bytes or pydicom Dataset
        The source image.
    frame_numbers : list of int, optional
        The source frames used (default: the whole image).
    description : str
        Derivation Description (what was done), at most 1024 characters.

    Raises
    ------
    SonobridgeError
        A frame number outside the source's frames.
    """
    from pydicom.dataset import Dataset

    from .io import open_dataset

    image, label = open_dataset(source, stop_before_pixels=True)
    frames = int(image.get("NumberOfFrames", 1) or 1)
    if frame_numbers is not None and not all(1 <= int(f) <= frames for f in frame_numbers):
        raise SonobridgeError(label, f"frame numbers {list(frame_numbers)} outside the source's 1..{frames}")
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = image.SOPClassUID, image.SOPInstanceUID
    if frame_numbers is not None:
        item.ReferencedFrameNumber = [int(f) for f in frame_numbers]
    purpose = Dataset()
    purpose.CodeValue, purpose.CodingSchemeDesignator = "121322", "DCM"
    purpose.CodeMeaning = "Source image for image processing operation"
    item.PurposeOfReferenceCodeSequence = [purpose]
    ds.SourceImageSequence = [item]
    ds.ImageType = ["DERIVED", "SECONDARY"]
    if description:
        ds.DerivationDescription = description[:1024]
    return ds


__all__ = ["write_sc", "SCImage", "derived_from"]
