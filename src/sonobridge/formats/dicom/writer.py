"""A stream of the core model -> an Ultrasound Multi-frame Image Storage object (PS3.3 A.7).

Modules written: Patient, General Study, General Series, General Equipment, General Image,
Image Pixel, Multi-frame, Cine (FrameTimeVector: the stream's real frame times), US Region
Calibration (the pixel grid in metres as one 2D tissue region in cm, its absolute position in
the reference pixel's physical values, deltas signed as the grid runs), US Image, SOP Common.
Every DS and IS value is formatted within its VR's limits (:func:`number_string`).

Identity: patient and study attributes come from the caller (``patient={"name", "id",
"birth_date", "sex"}``); what is not given is left empty (Type 2), never invented. UIDs are
generated. ``anonymise=True`` applies the PS3.15 basic profile to what is written: identity and
dates empty, PatientIdentityRemoved YES, the method recorded.

Pixel data: ``compression="none"`` (default, explicit VR little endian), ``"rle"``, ``"jpeg-ls"``,
``"jpeg-xl"`` (JPEG XL lossless, 1.2.840.10008.1.2.4.110; all lossless) or ``"jpeg"`` (JPEG
baseline, lossy, marked as such; RGB stored as YBR_FULL_422). Written under a temporary name,
renamed when complete.
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
from ...errors import OutputExistsError, SonobridgeError
from ...util.atomic import atomic_path

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
FRAME_TIME_VECTOR_TAG = 0x00181065
TRANSFER_SYNTAX = {"none": "1.2.840.10008.1.2.1", "rle": "1.2.840.10008.1.2.5",
                   "jpeg-ls": "1.2.840.10008.1.2.4.80", "jpeg-xl": "1.2.840.10008.1.2.4.110",
                   "jpeg": "1.2.840.10008.1.2.4.50"}
#: an encapsulated syntax pydicom (3.0) knows, of the same length as each one it does not: the
#: file is written with the stand-in and the real UID put into the file meta afterwards
STAND_IN_SYNTAX = {"1.2.840.10008.1.2.4.110": "1.2.840.10008.1.2.4.201",
                   "1.2.840.10008.1.2.4.111": "1.2.840.10008.1.2.4.202",
                   "1.2.840.10008.1.2.4.112": "1.2.840.10008.1.2.4.203"}
IS_RANGE = (-2**31, 2**31 - 1)
IMPLEMENTATION_UID_PREFIX = "1.2.826.0.1.3680043.8.498."      # pydicom's root for generated UIDs


def _uid() -> str:
    from pydicom.uid import generate_uid

    return generate_uid(prefix=IMPLEMENTATION_UID_PREFIX)


def number_string(value: float | int, vr: str = "DS") -> str:
    """``value`` as a DICOM Decimal String (``vr="DS"``, at most 16 characters, precision kept
    as far as they allow) or Integer String (``"IS"``, 32-bit range); every DS/IS value this writer
    writes goes through here. Non-finite or out-of-range values raise ``ValueError``."""
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


def dicom_stream(recording: Recording) -> Stream:
    """The stream a DICOM export shows: the first uint8 grey or RGB image stream, else the first
    envelope stream as displayed (scan-converted when the probe is known)."""
    from ...processing.display import display_envelope as _display_envelope

    for stream in recording:
        if stream.has_frames and stream.dtype == np.uint8 and stream.kind in (SampleKind.IMAGE, SampleKind.BMODE) \
                and (len(stream.frame_shape) == 2 or stream.frame_shape[2:] == (3,)):
            return stream
    for stream in recording:
        if stream.has_frames and stream.kind is SampleKind.ENVELOPE and stream.dtype == np.uint8:
            return _display_envelope(stream)
    raise SonobridgeError(recording.name, "no uint8 image or envelope stream to write as DICOM")


def _reference(axis_m: np.ndarray, delta_m: float) -> tuple[int, float]:
    """ReferencePixel and its ReferencePixelPhysicalValue (cm, FD) for one axis: the pixel nearest
    the coordinate origin (so a reader ignoring the physical value is close), its exact position
    in the value (so a reader applying it gets the grid back)."""
    index = int(round(-float(axis_m[0]) / delta_m)) if delta_m else 0
    index = index if abs(index) <= 1 << 20 else 0
    return index, (float(axis_m[0]) + index * delta_m) * 100


def _region(grid: PixelGrid, rows: int, columns: int):
    """One 2D tissue region over the whole image: PhysicalDelta in cm, signed as the grid runs,
    the grid's absolute position in the reference pixel and its physical value."""
    from pydicom.dataset import Dataset

    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = columns - 1, rows - 1
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3
    dx = float(grid.x_m[1] - grid.x_m[0]) if grid.x_m.size > 1 else float(grid.pixel_size_m or 0)
    dz = float(grid.z_m[1] - grid.z_m[0]) if grid.z_m.size > 1 else abs(dx)
    region.PhysicalDeltaX, region.PhysicalDeltaY = dx * 100, dz * 100          # FD: full precision
    region.ReferencePixelX0, region.ReferencePixelPhysicalValueX = _reference(grid.x_m, dx)
    region.ReferencePixelY0, region.ReferencePixelPhysicalValueY = _reference(grid.z_m, dz)
    return region


def _frame_times_ms(stream: Stream) -> list[str]:
    """FrameTimeVector (DS strings, ms from the previous frame, first 0): the stream's own frame
    times, else its mean rate, else 30 frames/s."""
    times = stream.timestamps_s
    if times is None or times.size != stream.n_frames or stream.n_frames < 2:
        rate = stream.mean_frame_rate_hz or 30.0
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


def _encode(frames: np.ndarray, compression: str) -> tuple[bytes, str]:
    """Pixel data bytes and the photometric interpretation for ``compression``."""
    from pydicom.encaps import encapsulate

    rgb = frames.ndim == 4
    if compression == "none":
        data = frames.tobytes()
        return data + b"\0" * (len(data) % 2), "RGB" if rgb else "MONOCHROME2"
    import imagecodecs

    if compression == "rle":             # imagecodecs decodes DICOM RLE but does not encode it
        from pydicom.pixels.encoders import RLELosslessEncoder

        photometric = "RGB" if rgb else "MONOCHROME2"
        encoded = [RLELosslessEncoder.encode(
            frame, rows=frame.shape[0], columns=frame.shape[1], samples_per_pixel=3 if rgb else 1,
            bits_allocated=8, bits_stored=8, pixel_representation=0, photometric_interpretation=photometric,
            number_of_frames=1, planar_configuration=0) for frame in frames]
    elif compression == "jpeg-ls":
        encoded = [imagecodecs.jpegls_encode(frame) for frame in frames]
        photometric = "RGB" if rgb else "MONOCHROME2"
    elif compression == "jpeg-xl":       # lossless: the codestream holds the RGB samples as given
        encoded = [imagecodecs.jpegxl_encode(frame, lossless=True, usecontainer=False) for frame in frames]
        photometric = "RGB" if rgb else "MONOCHROME2"
    else:
        encoded = [imagecodecs.jpeg8_encode(frame, level=95, colorspace="RGB" if rgb else None,
                                            outcolorspace="YCbCr" if rgb else None, subsampling="422" if rgb else None)
                   for frame in frames]
        photometric = "YBR_FULL_422" if rgb else "MONOCHROME2"
    return encapsulate([bytes(e) for e in encoded]), photometric


def build_dataset(stream: Stream, *, patient: dict[str, Any] | None = None, start_time: dt.datetime | None = None,
                  compression: str = "none", anonymise: bool = False, manufacturer: str = "",
                  progress: Callable[[int], None] | None = None):
    """The US Multi-frame dataset of ``stream`` (uint8 ``(n, rows, cols)`` or ``(n, rows, cols, 3)``)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence

    if compression not in TRANSFER_SYNTAX:
        raise ValueError(f"compression must be one of {', '.join(TRANSFER_SYNTAX)}")
    if stream.dtype != np.uint8 or not (len(stream.frame_shape) == 2 or stream.frame_shape[2:] == (3,)):
        raise SonobridgeError(stream.label, f"DICOM export needs uint8 grey or RGB frames, not {stream.dtype} "
                                            f"{stream.frame_shape}")
    frames = np.ascontiguousarray(np.asarray(stream.require_frames()))
    rows, columns = stream.frame_shape[:2]
    pixel_data, photometric = _encode(frames, compression)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid()
    ds.file_meta.TransferSyntaxUID = TRANSFER_SYNTAX[compression]
    ds.file_meta.ImplementationVersionName = f"SONOBRIDGE_{__version__}"[:16]
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = US_MULTIFRAME
    _identity(ds, patient, start_time, anonymise)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(), _uid()
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
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.NumberOfFrames = number_string(stream.n_frames, "IS")
    ds.FrameIncrementPointer = FRAME_TIME_VECTOR_TAG
    ds.FrameTimeVector = _frame_times_ms(stream)
    ds.LossyImageCompression = "01" if compression == "jpeg" else "00"
    if compression == "jpeg":
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.LossyImageCompressionRatio = number_string(round(frames.nbytes / len(pixel_data), 2))
    if isinstance(stream.geometry, PixelGrid):
        ds.SequenceOfUltrasoundRegions = Sequence([_region(stream.geometry, rows, columns)])
    ds.PixelData = pixel_data
    ds["PixelData"].VR = "OB"
    if compression != "none":
        ds["PixelData"].is_undefined_length = True
    return ds


def export_dicom(source: Recording | Stream, path: str | os.PathLike, *, patient: dict[str, Any] | None = None,
                 compression: str = "none", anonymise: bool = False, overwrite: bool = False) -> Path:
    """Write ``source`` (a Recording: its image stream, see :func:`dicom_stream`; or one Stream)
    as an Ultrasound Multi-frame Image Storage file at ``path``; returns the path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(path, "exists (overwrite it with overwrite=True or --overwrite)")
    stream = source if isinstance(source, Stream) else dicom_stream(source)
    start = None if isinstance(source, Stream) else source.start_time
    manufacturer = (stream.provenance.format if stream.provenance else "") or ""
    ds = build_dataset(stream, patient=patient, start_time=start, compression=compression, anonymise=anonymise,
                       manufacturer={"clarius-raw": "Clarius"}.get(manufacturer, ""))
    # the pixel data as built (raw for "none", encoded otherwise) is a lower bound of the file size
    with atomic_path(path, expected_size=len(ds.get("PixelData") or b"")) as temporary:
        save_dataset(ds, temporary)
    return path


def save_dataset(ds, path: str | os.PathLike) -> None:
    """``ds.save_as(path)`` in the DICOM file format, also in the transfer syntaxes pydicom does not
    know yet (JPEG XL: written with a stand-in syntax of the same length, then the file meta's
    TransferSyntaxUID element is overwritten in place)."""
    from pydicom.uid import UID

    syntax = str(ds.file_meta.TransferSyntaxUID)
    stand_in = STAND_IN_SYNTAX.get(syntax)
    if stand_in is None or UID(syntax).is_transfer_syntax:
        ds.save_as(path, enforce_file_format=True)
        return
    ds.file_meta.TransferSyntaxUID = stand_in
    try:
        ds.save_as(path, enforce_file_format=True)
    finally:
        ds.file_meta.TransferSyntaxUID = syntax

    def element(uid: str) -> bytes:             # (0002,0010) UI, explicit VR little endian, even length
        value = uid.encode() + b"\0" * (len(uid) % 2)
        return b"\x02\x00\x10\x00UI" + len(value).to_bytes(2, "little") + value

    with open(path, "r+b") as handle:
        head = handle.read(1 << 16)
        at = head.find(element(stand_in))
        if at < 0:
            raise SonobridgeError(path, "file meta without the transfer syntax just written")
        handle.seek(at)
        handle.write(element(syntax))
