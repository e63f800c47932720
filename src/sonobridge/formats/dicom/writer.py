"""A stream of the core model -> an Ultrasound Multi-frame Image Storage object (PS3.3 A.7).

Modules written: Patient, General Study, General Series, General Equipment, General Image,
Image Pixel, Multi-frame, Cine (FrameTimeVector: the stream's real frame times), US Region
Calibration (the pixel grid in metres as one 2D tissue region in cm, its absolute position in
the reference pixel's physical values, deltas signed as the grid runs), US Image, SOP Common.
Every DS and IS value is formatted within its VR's limits
(:func:`sonobridge.dicom.ultrasound.number_string`).

Identity: patient and study attributes come from the caller (``patient={"name", "id",
"birth_date", "sex"}``); what is not given is left empty (Type 2), never invented. UIDs are
generated. ``anonymise=True`` applies the PS3.15 basic profile to what is written: identity and
dates empty, PatientIdentityRemoved YES, the method recorded.

Pixel data: ``compression="jpeg-ls"`` (default: lossless JPEG-LS, about a tenth of the raw size
on ultrasound cines), ``"none"`` (explicit VR little endian), ``"rle"`` (8-bit), ``"jpeg-xl"``
(JPEG XL lossless, 1.2.840.10008.1.2.4.110; all lossless) or ``"jpeg"`` (JPEG baseline, lossy,
marked as such, 8-bit; RGB stored as YBR_FULL_422). 16-bit grey images (uint16) are written with 16
bits allocated and stored, bit-exact, as a Multi-frame Grayscale Word Secondary Capture (the
ultrasound IODs hold 8-bit samples; that IOD holds unsigned samples only, so int16 is refused).
Written under a temporary name, renamed when complete. The pixel encoding, the region, UIDs and
saving are the DICOM toolkit's (:mod:`sonobridge.dicom`); this module maps the core model onto them.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..._version import __version__
from ...core.geometry import PixelGrid
from ...core.recording import Recording, SampleKind, Stream
from ...dicom.io import save_dataset
from ...dicom.pixels import TRANSFER_SYNTAX, encode_frames
from ...dicom.uid import IMPLEMENTATION_UID_PREFIX, generate_uid
from ...dicom.ultrasound import number_string
from ...errors import OutputExistsError, SonobridgeError
from ...util.atomic import atomic_path
from .geometry import region_for_grid

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
GREY_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"      # Multi-frame Grayscale Word Secondary Capture
DEFAULT_COMPRESSION = "jpeg-ls"
WORD_DTYPES = (np.dtype(np.uint16),)
FRAME_TIME_VECTOR_TAG = 0x00181065


def _writable_image(stream: Stream) -> bool:
    """uint8 grey or RGB, or uint16 grey, image frames."""
    if not stream.has_frames or stream.kind not in (SampleKind.IMAGE, SampleKind.BMODE):
        return False
    grey = len(stream.frame_shape) == 2
    return (stream.dtype == np.uint8 and (grey or stream.frame_shape[2:] == (3,))) \
        or (grey and stream.dtype in WORD_DTYPES)


def dicom_stream(recording: Recording) -> Stream:
    """The stream a DICOM export shows: the first uint8 grey or RGB, or uint16 grey, image stream,
    else the first envelope stream as displayed (scan-converted when the probe is known)."""
    from ...processing.display import display_envelope as _display_envelope

    for stream in recording:
        if _writable_image(stream):
            return stream
    for stream in recording:
        if stream.has_frames and stream.kind is SampleKind.ENVELOPE and stream.dtype == np.uint8:
            return _display_envelope(stream)
    raise SonobridgeError(recording.name, "no uint8 or uint16 grey image, nor an envelope stream, to write as DICOM")


def _frame_times_ms(stream: Stream) -> list[str]:
    """FrameTimeVector (DS strings, ms from the previous frame, first 0): the stream's own frame
    times, else its stated rate, else 30 frames/s."""
    from ...core.describe import nominal_frame_rate_hz

    times = stream.timestamps_s
    if times is None or times.size != stream.n_frames or stream.n_frames < 2:
        rate = nominal_frame_rate_hz(stream) or 30.0
        steps = [0.0] + [1000.0 / rate] * (stream.n_frames - 1)
    else:
        steps = [0.0] + np.round(np.diff(times) * 1e3, 6).tolist()
    return [number_string(step) for step in steps]


def _identity(ds, patient: dict[str, Any] | None, start: dt.datetime | None, anonymise: bool) -> None:
    patient = {} if anonymise else dict(patient or {})
    ds.PatientName = patient.get("name", "")
    ds.PatientID = patient.get("id", "")
    ds.PatientBirthDate = patient.get("birth_date", "")
    ds.PatientSex = patient.get("sex", "")
    when = None if anonymise else start
    ds.StudyDate = when.strftime("%Y%m%d") if when else ""
    ds.StudyTime = when.strftime("%H%M%S") if when else ""
    ds.ContentDate, ds.ContentTime = ds.StudyDate, ds.StudyTime
    ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "", ""
    if anonymise:                    # nothing of the source's identity is written (sonobridge.core.anonymise)
        from pydicom.dataset import Dataset

        from ...core.anonymise import METHOD, PROFILE_CODE

        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = METHOD
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
        ds.DeidentificationMethodCodeSequence = [code]


def build_dataset(stream: Stream, *, patient: dict[str, Any] | None = None, start_time: dt.datetime | None = None,
                  compression: str = DEFAULT_COMPRESSION, anonymise: bool = False, manufacturer: str = "",
                  progress: Callable[[int], None] | None = None):
    """The US Multi-frame dataset of ``stream`` (uint8 ``(n, rows, cols)`` or ``(n, rows, cols, 3)``),
    or the Multi-frame Grayscale Word SC dataset of uint16 grey frames."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence

    if compression not in TRANSFER_SYNTAX:
        raise ValueError(f"compression must be one of {', '.join(TRANSFER_SYNTAX)}")
    word = len(stream.frame_shape) == 2 and stream.dtype in WORD_DTYPES
    if not word and (stream.dtype != np.uint8 or not (len(stream.frame_shape) == 2 or stream.frame_shape[2:] == (3,))):
        raise SonobridgeError(stream.label, f"DICOM export needs uint8 grey or RGB, or uint16 grey, frames, not "
                                            f"{stream.dtype} {stream.frame_shape}")
    if word and compression in ("rle", "jpeg"):
        raise SonobridgeError(stream.label, f"{compression} holds 8-bit samples here: write 16-bit images with "
                                            "jpeg-ls (default), jpeg-xl or none")
    frames = np.ascontiguousarray(np.asarray(stream.require_frames()))
    rows, columns = stream.frame_shape[:2]
    pixel_data, photometric = encode_frames(frames, compression)
    sop_class = GREY_WORD_SC if word else US_MULTIFRAME
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(IMPLEMENTATION_UID_PREFIX)
    ds.file_meta.TransferSyntaxUID = TRANSFER_SYNTAX[compression]
    ds.file_meta.ImplementationVersionName = f"SONOBRIDGE_{__version__}"[:16]
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    _identity(ds, patient, start_time, anonymise)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = (generate_uid(IMPLEMENTATION_UID_PREFIX) for _ in range(2))
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "US", "", number_string(1, "IS")
    ds.Laterality = ""                     # Type 2C: unknown (paired body parts are not recorded)
    ds.Manufacturer = manufacturer
    ds.PatientOrientation = ""
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 3 if frames.ndim == 4 else 1
    ds.PhotometricInterpretation = photometric
    if frames.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = rows, columns
    bits = 16 if word else 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = number_string(stream.n_frames, "IS")
    ds.FrameIncrementPointer = FRAME_TIME_VECTOR_TAG
    ds.FrameTimeVector = _frame_times_ms(stream)
    ds.LossyImageCompression = "01" if compression == "jpeg" else "00"
    if compression == "jpeg":
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.LossyImageCompressionRatio = number_string(round(frames.nbytes / len(pixel_data), 2))
    if word:
        _word_secondary_capture(ds)
    if isinstance(stream.geometry, PixelGrid):
        ds.SequenceOfUltrasoundRegions = Sequence([region_for_grid(stream.geometry, rows, columns)])
    ds.PixelData = pixel_data
    ds["PixelData"].VR = "OW" if word and compression == "none" else "OB"
    if compression != "none":
        ds["PixelData"].is_undefined_length = True
    return ds


def _word_secondary_capture(ds) -> None:
    """What the Multi-frame Grayscale Word SC IOD adds (PS3.3 A.8.4): SC Equipment, the identity
    rescale and presentation LUT of its SC Multi-frame Image module; modality OT (not invented)."""
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.PresentationLUTShape = "IDENTITY"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"


def export_dicom(source: Recording | Stream, path: str | os.PathLike, *, patient: dict[str, Any] | None = None,
                 compression: str = DEFAULT_COMPRESSION, anonymise: bool = False, overwrite: bool = False) -> Path:
    """Write ``source`` (a Recording: its image stream, see :func:`dicom_stream`; or one Stream)
    as an Ultrasound Multi-frame Image Storage file at ``path``; returns the path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(path, "exists (overwrite it with overwrite=True or --overwrite)")
    stream = source if isinstance(source, Stream) else dicom_stream(source)
    start = None if isinstance(source, Stream) else source.start_time
    ds = build_dataset(stream, patient=patient, start_time=start, compression=compression, anonymise=anonymise,
                       manufacturer=_manufacturer(stream))
    # the pixel data as built (raw for "none", encoded otherwise) is a lower bound of the file size
    with atomic_path(path, expected_size=len(ds.get("PixelData") or b"")) as temporary:
        save_dataset(ds, temporary)
    return path


def _manufacturer(stream: Stream) -> str:
    """The DICOM Manufacturer of the stream's source format, as its :class:`FormatSpec` declares it
    ("" when unknown)."""
    from ..registry import get_format

    name = (stream.provenance.format if stream.provenance else "") or ""
    try:
        return get_format(name).manufacturer if name else ""
    except SonobridgeError:          # a format this installation does not register
        return ""
