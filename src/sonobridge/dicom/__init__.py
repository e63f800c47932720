"""The DICOM toolkit: DICOM files and pixels with the names users of DICOM toolkits know
(pydcm-shaped: ``pydcm.X`` lives at ``sonobridge.dicom.X``).

>>> pixels = sonobridge.dicom.decode("cine.dcm")               # [frames, rows, cols(, samples)]  # doctest: +SKIP
>>> pixels, meta = sonobridge.dicom.decode("cine.dcm", frame=3, with_meta=True)  # doctest: +SKIP
>>> meta["us_regions"], meta["frame_times_s"]                   # calibration (SI units) and timing  # doctest: +SKIP
>>> volume = sonobridge.dicom.load_series("series_folder"); volume.to_nifti("v.nii.gz")  # doctest: +SKIP

Modules: :mod:`.pixels` (decode every transfer syntax including JPEG XL; encode frames),
:mod:`.io` (bounded reading, damaged content as the package's errors, the DICM magic, saving),
:mod:`.ultrasound` (regions placed absolutely with their signed deltas, frame times, the geometry
sidecar, DS/IS values), :mod:`.volume` (series -> volume, NIfTI), :mod:`.torchdata`
(:class:`DICOMDataset`), :mod:`.uid` (:func:`generate_uid`).

The toolkit knows DICOM, not sonobridge's recording model: reading a DICOM file into a
:class:`~sonobridge.core.recording.Recording` and writing one as DICOM is the format adapter's
(:func:`sonobridge.formats.dicom.read_dicom`, :func:`sonobridge.formats.dicom.export_dicom`, or
:func:`sonobridge.formats.open_recording`). Names are imported on first use: ``import sonobridge.dicom``
loads neither numpy nor pydicom.
"""
from __future__ import annotations

from typing import Any

#: public name -> submodule that defines it
_EXPORTS = {
    "decode": "pixels", "decode_dataset": "pixels", "PixelLayout": "pixels", "encode_frames": "pixels",
    "TRANSFER_SYNTAX": "pixels",
    "read_dataset": "io", "save_dataset": "io", "is_dicom": "io", "damaged_content": "io",
    "UltrasoundRegion": "ultrasound", "us_regions": "ultrasound", "tissue_region": "ultrasound",
    "frame_times_s": "ultrasound", "geometry_meta": "ultrasound", "number_string": "ultrasound",
    "region_dataset": "ultrasound", "PHYSICAL_UNITS": "ultrasound", "SPATIAL_FORMATS": "ultrasound",
    "Volume": "volume", "load_series": "volume",
    "DICOMDataset": "torchdata",
    "generate_uid": "uid",
}
#: names of the former face (Recording level) -> their home in the format adapter
_MOVED = {"read": "read_dicom", "write": "export_dicom"}
_MODULES = ("io", "pixels", "torchdata", "uid", "ultrasound", "volume")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return import_module(f".{name}", __name__)
    if name in _MOVED:
        raise AttributeError(f"sonobridge.dicom.{name} moved: the toolkit does not know the recording model; "
                             f"use sonobridge.formats.dicom.{_MOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_MODULES})
