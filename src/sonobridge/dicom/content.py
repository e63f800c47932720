"""The interpreted content of a derived DICOM object, whatever its kind: :func:`content` reads the
SOP class and hands the file to that family's reader (SEG, parametric map, SR, KOS, presentation
state, bulk annotations, encapsulated document, RT dose, waveform). Readers are imported by module
name on use, so a family that is not available gives the package's error, not an ImportError.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from ..errors import SonobridgeError, UnsupportedInputError

#: SOP Class UID -> (toolkit module, reader function)
READERS: dict[str, tuple[str, str]] = {
    "1.2.840.10008.5.1.4.1.1.66.4": ("seg", "read_seg"),
    "1.2.840.10008.5.1.4.1.1.30": ("paramap", "read_paramap"),
    "1.2.840.10008.5.1.4.1.1.88.59": ("ko", "read_ko"),
    "1.2.840.10008.5.1.4.1.1.11.1": ("pr", "read_pr"),
    "1.2.840.10008.5.1.4.1.1.11.2": ("pr", "read_pr"),
    "1.2.840.10008.5.1.4.1.1.11.3": ("pr", "read_pr"),
    "1.2.840.10008.5.1.4.1.1.91.1": ("ann", "read_ann"),
    "1.2.840.10008.5.1.4.1.1.104.1": ("encapdoc", "read_encapsulated"),
    "1.2.840.10008.5.1.4.1.1.104.2": ("encapdoc", "read_encapsulated"),
    "1.2.840.10008.5.1.4.1.1.104.3": ("encapdoc", "read_encapsulated"),
    "1.2.840.10008.5.1.4.1.1.104.4": ("encapdoc", "read_encapsulated"),
    "1.2.840.10008.5.1.4.1.1.104.5": ("encapdoc", "read_encapsulated"),
    "1.2.840.10008.5.1.4.1.1.481.2": ("rt", "read_rtdose"),
}
#: the TID 1500 root concept: such SRs are read as measurement reports
MEASUREMENT_REPORT = ("126000", "DCM")


def reader_for(ds: Any) -> tuple[str, str] | None:
    """(module, function) of the reader for the dataset's SOP class, or None."""
    from .sr import SR_CLASSES

    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in READERS:
        return READERS[sop_class]
    if sop_class in SR_CLASSES:
        concept = (ds.get("ConceptNameCodeSequence") or [None])[0]
        is_report = concept is not None and (str(concept.get("CodeValue", "")),
                                             str(concept.get("CodingSchemeDesignator", ""))) == MEASUREMENT_REPORT
        return ("sr", "read_measurement_report") if is_report else ("sr", "content_json")
    if "WaveformSequence" in ds:
        return "waveforms", "read_waveform"
    return None


def content(path: str | os.PathLike, *, contours: bool = False, control_points: bool = False) -> Any:
    """The semantic content of a derived DICOM object, by its SOP class: the result of
    :func:`~sonobridge.dicom.seg.read_seg`, :func:`~sonobridge.dicom.paramap.read_paramap`,
    :func:`~sonobridge.dicom.sr.read_measurement_report` (a TID 1500 report) or
    :func:`~sonobridge.dicom.sr.content_json` (any other SR), :func:`~sonobridge.dicom.ko.read_ko`,
    ``pr.read_pr``, ``ann.read_ann``, ``encapdoc.read_encapsulated``, ``rt.read_rtdose`` or
    ``waveforms.read_waveform``; None when ``path`` is DICOM of another kind (an image).

    ``contours`` / ``control_points`` are passed to the RT readers that take them.

    Raises
    ------
    UnsupportedInputError, FormatError
        When ``path`` is missing, not DICOM, or damaged.
    UnsupportedInputError
        When the reader of that kind of object is not available in this installation.
    """
    from .io import open_dataset

    ds, label = open_dataset(path, stop_before_pixels=True)
    found = reader_for(ds)
    if found is None:
        return None
    module_name, function_name = found
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
        reader = getattr(module, function_name)
    except SonobridgeError:
        raise
    except (ImportError, AttributeError):
        raise UnsupportedInputError(label, f"reading this {ds.get('SOPClassUID', 'object')!s} needs "
                                           f"sonobridge.dicom.{module_name}.{function_name}, "
                                           "which is not available") from None
    options = {key: value for key, value in (("contours", contours), ("control_points", control_points)) if value}
    return reader(path, **options)
