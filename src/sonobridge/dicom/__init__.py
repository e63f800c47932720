"""The DICOM toolkit: DICOM files and pixels with the names users of DICOM toolkits know
(pydcm-shaped: ``pydcm.X`` lives at ``sonobridge.dicom.X``; ``import sonobridge.dicom as pydcm``
runs code written for pydcm, and pydicom-style code, unchanged).

>>> pixels = sonobridge.dicom.decode("cine.dcm")               # [frames, rows, cols(, samples)]  # doctest: +SKIP
>>> pixels, meta = sonobridge.dicom.decode("cine.dcm", frame=3, with_meta=True)  # doctest: +SKIP
>>> meta["us_regions"], meta["frame_times_s"]                   # calibration (SI units) and timing  # doctest: +SKIP
>>> ds = sonobridge.dicom.dcmread(io.BytesIO(data)); arr = sonobridge.dicom.pixel_array(ds)  # doctest: +SKIP
>>> volume = sonobridge.dicom.load_series("series_folder"); volume.to_nifti("v.nii.gz")  # doctest: +SKIP

Core names: :func:`decode` (a path, a pydicom Dataset, bytes or a binary file-like object),
:func:`dcmread` / :func:`dcmwrite` (:mod:`.io`), :func:`pixel_array` (:mod:`.pixels`),
:func:`generate_uid` (:mod:`.uid`), and pydicom's data model: the types (:class:`Dataset`,
:class:`FileDataset`, :class:`FileMetaDataset`, :class:`DataElement`, :class:`Sequence`,
:class:`PersonName`, :class:`Tag`, :class:`BaseTag`, :class:`MultiValue`, :class:`DSfloat`,
:class:`IS`, :class:`UID`, :class:`InvalidDicomError`) and its modules under their own names
(``sonobridge.dicom.dataset`` *is* ``pydicom.dataset``; also charset, config, datadict, dataelem,
dicomio, encaps, encoders, env_info, errors, examples, filereader, filewriter, jsonrep, multival,
overlays, pixel_data_handlers, sequence, tag, valuerep, values; ``uid`` is :mod:`.uid`, which also
answers every name of ``pydicom.uid``).

Modules: :mod:`.pixels` (decode every transfer syntax including JPEG XL; encode frames),
:mod:`.io` (bounded reading, damaged content as the package's errors, the DICM magic, saving),
:mod:`.ultrasound` (regions placed absolutely with their signed deltas, frame times, the geometry
sidecar, DS/IS values), :mod:`.volume` (series -> volume, NIfTI), :mod:`.torchdata`
(:class:`DICOMDataset`), :mod:`.uid` (:func:`generate_uid`); any other module of the package is
imported when its name is first used (``sonobridge.dicom.transforms``).

The toolkit knows DICOM, not sonobridge's recording model: reading a DICOM file into a
:class:`~sonobridge.core.recording.Recording` and writing one as DICOM is the format adapter's
(:func:`sonobridge.formats.dicom.read_dicom`, :func:`sonobridge.formats.dicom.export_dicom`, or
:func:`sonobridge.formats.open_recording`). Names are imported on first use: ``import sonobridge.dicom``
loads neither numpy nor pydicom.
"""
from __future__ import annotations

import sys
from typing import Any

#: public name -> submodule of the toolkit that defines it
_EXPORTS = {
    "decode": "pixels", "decode_dataset": "pixels", "PixelLayout": "pixels", "encode_frames": "pixels",
    "TRANSFER_SYNTAX": "pixels", "pixel_array": "pixels",
    "read_dataset": "io", "save_dataset": "io", "is_dicom": "io", "damaged_content": "io",
    "open_dataset": "io", "dcmread": "io", "dcmwrite": "io",
    "UltrasoundRegion": "ultrasound", "us_regions": "ultrasound", "tissue_region": "ultrasound",
    "frame_times_s": "ultrasound", "geometry_meta": "ultrasound", "number_string": "ultrasound",
    "region_dataset": "ultrasound", "PHYSICAL_UNITS": "ultrasound", "SPATIAL_FORMATS": "ultrasound",
    "Volume": "volume", "load_series": "volume", "from_nifti": "volume", "bids_sidecar": "volume",
    "FileSet": "fileset", "FileInstance": "fileset",
    "diffusion_table": "diffusion", "load_dwi": "diffusion", "save_dwi": "diffusion",
    "DICOMDataset": "torchdata", "scan": "torchdata",
    "generate_uid": "uid",
}
#: pydicom's data model: name -> the pydicom module that defines it
_PYDICOM_NAMES = {
    "Dataset": "dataset", "FileDataset": "dataset", "FileMetaDataset": "dataset", "DataElement": "dataelem",
    "Sequence": "sequence", "PersonName": "valuerep", "DSfloat": "valuerep", "IS": "valuerep",
    "Tag": "tag", "BaseTag": "tag", "MultiValue": "multival", "UID": "uid", "InvalidDicomError": "errors",
}
#: pydicom's modules, available as ``sonobridge.dicom.<name>`` (the same module objects)
_PYDICOM_MODULES = frozenset({
    "charset", "config", "datadict", "dataelem", "dataset", "dicomio", "encaps", "encoders", "env_info",
    "errors", "examples", "filereader", "filewriter", "jsonrep", "multival", "overlays",
    "pixel_data_handlers", "sequence", "tag", "valuerep", "values"})
#: names of the former face (Recording level) -> their home in the format adapter
_MOVED = {"read": "read_dicom", "write": "export_dicom"}

__all__ = sorted({*_EXPORTS, *_PYDICOM_NAMES})


class _PydicomModules:
    """Import finder and loader of ``sonobridge.dicom.<name>`` for the names in
    :data:`_PYDICOM_MODULES`: the module is pydicom's own, so ``from sonobridge.dicom.dataset import
    Dataset`` works as ``from pydicom.dataset import Dataset`` does. Asked last (after the package's
    own files)."""

    @classmethod
    def find_spec(cls, fullname: str, path: Any = None, target: Any = None):
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in _PYDICOM_MODULES:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(fullname, cls)

    @staticmethod
    def create_module(spec):
        from importlib import import_module

        return import_module(f"pydicom.{spec.name.rpartition('.')[2]}")

    @staticmethod
    def exec_module(module) -> None:
        """Nothing to run: pydicom ran the module when it was imported."""


if not any(getattr(finder, "__qualname__", "") == "_PydicomModules" and finder.__module__ == __name__
           for finder in sys.meta_path):
    sys.meta_path.append(_PydicomModules)


def _submodule(name: str):
    """The toolkit's module ``name`` (a file of this package, or one of pydicom's modules), or None."""
    from importlib import import_module
    from importlib.util import find_spec

    if name.startswith("_") or not name.isidentifier():
        return None
    full = f"{__name__}.{name}"
    if full not in sys.modules and find_spec(full) is None:
        return None
    return import_module(full)


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _PYDICOM_NAMES:
        value = getattr(import_module(f"pydicom.{_PYDICOM_NAMES[name]}"), name)
    elif name in _MOVED:
        raise AttributeError(f"sonobridge.dicom.{name} moved: the toolkit does not know the recording model; "
                             f"use sonobridge.formats.dicom.{_MOVED[name]}")
    else:
        value = _submodule(name)
        if value is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    from pkgutil import iter_modules

    own = {module.name for module in iter_modules(__path__) if not module.name.startswith("_")}
    return sorted({*globals(), *_EXPORTS, *_PYDICOM_NAMES, *_PYDICOM_MODULES, *own})
