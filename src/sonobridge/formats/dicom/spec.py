"""DICOM in the format registry: image files (any name inside folders when they carry the DICM
magic), written as Ultrasound Multi-frame objects (the pipeline's ``dicom`` stage)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...dicom.io import SUFFIXES, is_dataset, is_dicom
from ..spec import FormatSpec, RecordingSource


def _looks_dicom(path: Path, explicit: bool) -> bool:
    """A ``.dcm``/``.dicom`` file; or, given directly or without a suffix (PACS exports such as
    ``IM0001``), a file with the DICM magic."""
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return True
    return (explicit or suffix == "") and is_dicom(path)


def _claim(path: Path, files: list[Path], explicit: bool) -> list[RecordingSource]:
    def opener(f: Path):
        def read(**_reader_options: Any):
            from .reader import read_dicom

            return read_dicom(f)
        return read

    return [RecordingSource(str(f), "dicom", opener(f)) for f in files if _looks_dicom(f, explicit)]


def _read_object(source: Any, **_reader_options: Any):
    """A parsed pydicom Dataset, or bytes / a binary file-like object with the DICM magic, as a
    recording (None for anything else)."""
    readable = isinstance(source, (bytes, bytearray, memoryview)) or hasattr(source, "read")
    if not is_dataset(source) and not (readable and is_dicom(source)):
        return None
    from .reader import read_dicom

    return read_dicom(source)


def _write(recording, path: str | os.PathLike, *, patient_name: str | None = None, patient_id: str | None = None,
           **options: Any):
    """:func:`export_dicom` (``patient_name``/``patient_id``: the DICOM patient; unknown options ignored)."""
    from .writer import export_dicom

    patient = {key: value for key, value in (("name", patient_name), ("id", patient_id)) if value}
    known = ("compression", "overwrite", "anonymise")
    return export_dicom(recording, path, patient=patient or None,
                        **{key: value for key, value in options.items() if key in known})


#: modalities of what sonobridge processes: ultrasound, and secondary captures (OT, XC; e.g. of an
#: ultrasound screen) or objects that name none
PROCESSED_MODALITIES = {"US", "IVUS", "OT", "XC", ""}
#: storage SOP classes of ultrasound images (image, multi-frame, enhanced volume): always processed
ULTRASOUND_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.6.2"}
#: words in the names of storage SOP classes that hold no image (reports, plans, selections, states,
#: waveforms, documents, raw data)
NON_IMAGE_CLASS_WORDS = ("SR Storage", "Structured Report", "Plan Storage", "Structure Set", "Treatment Record",
                         "Key Object", "Presentation State", "Waveform", "ECG", "Audio", "Encapsulated",
                         "Registration", "Raw Data", "Measurement Report", "Protocol Storage")


def _not_applicable(label: str) -> str | None:
    """Why the DICOM object ``label`` is no ultrasound image (a report, RT object, CT/MR ...),
    decided from its header only (the pixel data is never read): an ultrasound SOP class or
    ultrasound regions always apply, whatever the Modality says; a SOP class that holds no image
    is ``no image``; another image whose Modality is not ultrasound (or a secondary capture of one)
    is ``not ultrasound``. None when it applies, or when the header cannot be read: the reader
    then reports the problem (a damaged ultrasound file stays an error)."""
    import warnings

    import pydicom

    try:
        with warnings.catch_warnings():         # the reader warns about the file's faults, once
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(label, stop_before_pixels=True,
                                 specific_tags=["Modality", "SOPClassUID", "SequenceOfUltrasoundRegions"])
    except Exception:  # noqa: BLE001 - unreadable: the reader's error says why
        return None
    sop = ds.get("SOPClassUID")
    if not sop or str(sop) in ULTRASOUND_SOP_CLASSES or "SequenceOfUltrasoundRegions" in ds:
        return None                             # no SOP class: not a sound header, the reader says why
    modality = str(ds.get("Modality", "") or "").strip().upper()
    what = getattr(sop, "name", "") or str(sop)
    if any(word in what for word in NON_IMAGE_CLASS_WORDS):
        return f"no image: {what}" + (f" (modality {modality})" if modality else "")
    if modality not in PROCESSED_MODALITIES:
        return f"not ultrasound: modality {modality} ({what})"
    return None


def _decodes(path: Path, digest: str | None = None) -> bool:
    """A written DICOM file is intact when its first frame decodes (raises when it does not)."""
    from ...dicom.pixels import decode

    decode(path, frame=1)
    return True


SPECS = (
    FormatSpec(name="dicom", title="DICOM", suffixes=SUFFIXES, claim=_claim, order=30, write=_write,
               write_suffix=".dcm", stage="dicom", output_done=_decodes, read_object=_read_object,
               not_applicable=_not_applicable,
               preload=("pydicom", "pydicom.dataset", "pydicom.errors", "pydicom.uid", "pydicom.encaps",
                        "pydicom.sequence", "pydicom.jsonrep", "pydicom.filereader", "pydicom.pixels",
                        "pydicom.pixels.encoders", "imagecodecs", "sonobridge.formats.dicom.reader",
                        "sonobridge.dicom.io", "sonobridge.dicom.pixels", "sonobridge.dicom.ultrasound",
                        "sonobridge.dicom.uid", "sonobridge.formats.dicom.geometry",
                        "sonobridge.formats.dicom.writer")),
)
