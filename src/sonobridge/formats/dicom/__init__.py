"""The DICOM format adapter: DICOM image files <-> the core model (:mod:`sonobridge.core`).

* :func:`read_dicom` (:mod:`.reader`): one DICOM image file -> :class:`~sonobridge.core.recording.Recording`.
* :func:`export_dicom` (:mod:`.writer`): a Recording (or one Stream) -> Ultrasound Multi-frame file.
* :mod:`.geometry`: the only place the core's PixelGrid meets DICOM ultrasound regions.
* :mod:`.spec`: the format's registration (claims, stage, hooks).

Pixels, regions, UIDs and file I/O are the DICOM toolkit's (:mod:`sonobridge.dicom`). Imported
lazily: ``import sonobridge.formats.dicom`` loads neither pydicom nor the core model.
"""
from __future__ import annotations

from typing import Any

__all__ = ["export_dicom", "read_dicom"]
_LAZY = {"read_dicom": ".reader", "export_dicom": ".writer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
