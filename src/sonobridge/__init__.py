"""sonobridge: ultrasound recordings from scanner and lab formats to open, analysis-ready data."""
from ._version import __version__

__all__ = ["VideoReader", "export_video"]


def __getattr__(name: str):
    """Heavy parts load on first use, so ``import sonobridge`` stays light."""
    if name == "export_video":
        from .formats.video.writer import export_video

        return export_video
    if name == "VideoReader":
        from .formats.video.reader import VideoReader

        return VideoReader
    raise AttributeError(f"module 'sonobridge' has no attribute {name!r}")
