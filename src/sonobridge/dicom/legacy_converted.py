"""Legacy Converted Enhanced CT / MR / PET images (``pydcm.legacy_converted``): fold a classic
single-frame series into one enhanced multi-frame object over highdicom's legacy converter.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import SonobridgeError
from .pr import building, emit, header_copy, load_sources, require_highdicom, unknown_laterality

#: source Modality -> highdicom class
_CLASSES = {"CT": "LegacyConvertedEnhancedCTImage", "MR": "LegacyConvertedEnhancedMRImage",
            "PT": "LegacyConvertedEnhancedPETImage"}


def _deterministic_uid(kind: str, sources: list[Any]) -> str:
    from .uid import generate_uid

    return generate_uid(entropy_srcs=[kind, *sorted(str(ds.SOPInstanceUID) for ds in sources)])


def _check_series(sources: list[Any]) -> str:
    """The shared modality of ``sources``; :class:`SonobridgeError` unless they are one CT/MR/PET series
    of single-frame images."""
    modalities = {str(ds.get("Modality", "")) for ds in sources}
    if len(modalities) != 1 or next(iter(modalities)) not in _CLASSES:
        raise SonobridgeError(None, f"legacy conversion needs one CT, MR or PET series, "
                                    f"got modalities {sorted(modalities)}")
    if len({str(ds.get("SeriesInstanceUID", "")) for ds in sources}) != 1:
        raise SonobridgeError(None, "legacy conversion: the instances belong to several series")
    if len({str(ds.SOPInstanceUID) for ds in sources}) != len(sources):
        raise SonobridgeError(None, "legacy conversion: the same instance is given twice")
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in sources):
        raise SonobridgeError(None, "legacy conversion: a source instance is already multi-frame")
    return next(iter(modalities))


def _slice_key(ds: Any) -> float:
    """Position along the slice normal (instance number when the geometry is missing)."""
    import numpy as np

    if "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds:
        orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
        return float(np.dot(np.cross(orientation[:3], orientation[3:]), np.asarray(ds.ImagePositionPatient, float)))
    return float(ds.get("InstanceNumber", 0) or 0)


def write_legacy_converted(series: Any, *, series_instance_uid: str = "", sop_instance_uid: str = "",
                           series_number: int = 0, instance_number: int = 1, manufacturer: str = "",
                           model_name: str = "", device_serial: str = "", software_versions: str = "",
                           output: str | os.PathLike | None = None) -> bytes | None:
    """Convert a classic single-frame CT/MR/PET series into one Legacy Converted Enhanced object.

    Parameters
    ----------
    series : list
        Paths (or pydicom Datasets) of the single-frame instances of one series, in any order; frames
        are sorted into geometric slice order. The SOP class (CT / MR / PET) follows the Modality.
    series_instance_uid, sop_instance_uid : str
        Identity of the new object; minted deterministically from the sources when empty.
    series_number, instance_number : int
        0 (default series number): the source's series number + 1000.
    manufacturer, model_name, device_serial, software_versions : str
        Enhanced General Equipment; inherited from the source when empty, else "sonobridge" / "1".
    output : path, optional
        Write there atomically and return None; else return the Part-10 bytes.

    Raises
    ------
    SonobridgeError
        Not one CT/MR/PET series of single-frame images; nothing is written then.
    """
    hd = require_highdicom()
    sources = [header_copy(ds) for ds in load_sources(series, "legacy conversion")]   # the caller's stay as given
    modality = _check_series(sources)
    sources.sort(key=_slice_key)
    first = sources[0]
    equipment = {"Manufacturer": manufacturer, "ManufacturerModelName": model_name,
                 "DeviceSerialNumber": device_serial, "SoftwareVersions": software_versions}
    for ds in sources:                      # Type 1 in the enhanced object: fill what the source lacks
        for keyword, given in equipment.items():
            if given or not ds.get(keyword):
                fallback = "1" if keyword == "DeviceSerialNumber" else "sonobridge"
                setattr(ds, keyword, given or first.get(keyword) or fallback)
    with building(f"legacy converted enhanced {modality} image"):
        ds = getattr(hd.legacy, _CLASSES[modality])(
            sources, series_instance_uid or _deterministic_uid("series", sources),
            int(series_number) or int(first.get("SeriesNumber") or 0) + 1000,
            sop_instance_uid or _deterministic_uid("instance", sources), int(instance_number))
    unknown_laterality(ds)
    return emit(ds, output)


__all__ = ["write_legacy_converted"]
