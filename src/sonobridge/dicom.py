"""DICOM for ultrasound, with the names users of DICOM toolkits know.

>>> pixels = sonobridge.dicom.decode("cine.dcm")               # [frames, rows, cols(, samples)]  # doctest: +SKIP
>>> pixels, meta = sonobridge.dicom.decode("cine.dcm", frame=3, with_meta=True)  # doctest: +SKIP
>>> meta["us_regions"], meta["frame_times_s"]                   # calibration (SI units) and timing
>>> sonobridge.dicom.write(recording, "out.dcm", compression="jpeg-xl")          # doctest: +SKIP
>>> volume = sonobridge.dicom.load_series("series_folder"); volume.to_nifti("v.nii.gz")  # doctest: +SKIP

A thin face over :mod:`sonobridge.formats.dicom` (decoding every transfer syntax including JPEG XL,
regions placed absolutely with their signed deltas, timing, reading into the core model) and
:mod:`sonobridge.formats.dicom.writer` (US Multi-frame writer: none, rle, jpeg-ls, jpeg-xl, jpeg).
"""
from __future__ import annotations

from .formats.dicom.writer import export_dicom as write
from .formats.dicom.meta import UltrasoundRegion, frame_times_s, us_regions
from .formats.dicom.pixels import decode
from .formats.dicom.reader import read_dicom as read
from .formats.dicom.series import DICOMDataset, Volume, load_series

__all__ = ["DICOMDataset", "UltrasoundRegion", "Volume", "decode", "frame_times_s", "load_series", "read",
           "us_regions", "write"]
