"""Processing on streams of the core model, lazily over frames: detection and log compression
(:mod:`.envelope`), TGC (:mod:`.tgc`), scan conversion (:mod:`.scan_convert`), colour flow
(:mod:`.doppler`) and display images (:mod:`.render`). SciPy and Pillow load on first use."""
from .envelope import LogCompression, bmode, detect
from .render import Rendering, render
from .scan_convert import ScanConverter, scan_convert
from .tgc import apply_tgc, remove_recorded_tgc

__all__ = ["LogCompression", "Rendering", "ScanConverter", "apply_tgc", "bmode", "detect",
           "remove_recorded_tgc", "render", "scan_convert"]
