"""Display images: scan-converted B-mode with a millimetre scale bar and an optional colour-flow
overlay, as RGB uint8 ``(n_z, n_x, 3)`` arrays on a :class:`~sonobridge.core.geometry.PixelGrid`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.ensemble import ensemble_geometry, ensembles, is_ensemble_stream
from ..core.geometry import PixelGrid
from ..core.recording import Recording, SampleKind, Stream
from .doppler import ColourFlow, autocorrelation, scan_convert_flow
from .envelope import bmode
from .scan_convert import ScanConverter, converter_for

BOX_COLOUR = (230, 220, 40)
SCALE_BAR_STEPS_MM = (1, 2, 5, 10, 20, 50, 100)


@dataclass
class Rendering:
    """An RGB image ``(n_z, n_x, 3)`` uint8 on ``grid`` (metres) and what went into it."""

    image: np.ndarray
    grid: PixelGrid
    info: dict[str, Any] = field(default_factory=dict)

    def save(self, path) -> None:
        """Write as PNG (atomically): :func:`sonobridge.util.png.save_png`, kept for callers."""
        from ..util.png import save_png

        save_png(self.image, path)


def render(stream: Stream, frame: int = 0, *, pixel_size_m: float | None = None,
           dynamic_range_db: float = 60.0, gain_db: float = 0.0, colour: Stream | None = None,
           scale_bar: bool = True) -> Rendering:
    """Scan-converted B-mode of ``stream`` frame ``frame`` (RF, IQ, amplitude or envelope), with
    the colour-flow ensemble of ``colour`` (the frame nearest in time) overlaid if given."""
    if not 0 <= frame < stream.n_frames:
        raise IndexError(f"frame {frame} out of range: stream {stream.name!r} has {stream.n_frames} frames")
    detected = bmode(stream, dynamic_range_db=dynamic_range_db, gain_db=gain_db)
    converter = converter_for(detected, pixel_size_m)
    grey = converter(np.asarray(detected.frames[frame]))
    image = np.repeat(grey[..., None], 3, axis=-1)
    info: dict[str, Any] = {"stream": stream.name, "frame": frame,
                            "pixel_size_m": converter.grid.pixel_size_m,
                            "shape": list(grey.shape)}
    if colour is not None:
        info["colour"] = overlay_colour(image, converter.grid, colour, _nearest_frame(stream, frame, colour))
    if scale_bar:
        info["scale_bar_mm"] = draw_scale_bar(image, converter.grid.pixel_size_m)
    return Rendering(image, converter.grid, info)


def display_streams(recording: Recording) -> tuple[Stream | None, Stream | None]:
    """The pre-scan stream to show as B-mode (envelope, else RF, else plain IQ) and the colour-flow
    ensemble stream to overlay (IQ whose lines repeat), either None if absent."""
    with_frames = [s for s in recording.streams.values() if s.has_frames and s.n_frames]
    colour = [s for s in with_frames if is_ensemble_stream(s)]
    for kind in (SampleKind.ENVELOPE, SampleKind.RF, SampleKind.AMPLITUDE, SampleKind.IQ):
        for stream in with_frames:
            if stream.kind is kind and stream not in colour:
                return stream, (colour[0] if colour else None)
    return None, (colour[0] if colour else None)


def overlay_colour(image: np.ndarray, grid: PixelGrid, colour: Stream, frame: int) -> dict[str, Any]:
    """Paint Kasai flow of ``colour`` frame ``frame`` into ``image`` (in place) and outline the box."""
    geometry = ensemble_geometry(colour)
    flow = autocorrelation(ensembles(colour, frame))
    converter = ScanConverter.build(geometry, flow.r0.shape[1], grid=PixelGrid(grid.x_m, grid.z_m))
    pixels = scan_convert_flow(flow, converter)
    shown = pixels.flow_mask() & converter.grid.mask
    image[shown] = phase_colours(pixels.phase[shown])
    image[_outline(converter.grid.mask)] = BOX_COLOUR
    return {"frame": frame, "flow_pixels": int(shown.sum()),
            "median_phase_nyquist": float(np.median(pixels.phase[shown])) if shown.any() else None}


def phase_colours(phase: np.ndarray) -> np.ndarray:
    """RGB for Doppler phase in [-1, 1]: dark red to yellow for +, dark blue to cyan for -."""
    strength = np.clip(np.abs(phase), 0, 1)[..., None]
    positive = np.concatenate([0.45 + 0.55 * np.minimum(1, 2 * strength), 1.6 * np.maximum(0, strength - 0.35),
                               np.zeros_like(strength)], axis=-1)
    negative = positive[..., ::-1]
    rgb = np.where(np.asarray(phase)[..., None] >= 0, positive, negative)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def draw_scale_bar(image: np.ndarray, pixel_size_m: float) -> int:
    """Draw a white millimetre bar with its length in the bottom-right corner; returns mm."""
    from PIL import Image, ImageDraw

    height, width = image.shape[:2]
    target_mm = width * pixel_size_m * 1e3 / 5
    length_mm = max([s for s in SCALE_BAR_STEPS_MM if s <= target_mm] or [SCALE_BAR_STEPS_MM[0]])
    length_px = int(round(length_mm * 1e-3 / pixel_size_m))
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    margin, thickness = max(4, width // 60), max(2, height // 150)
    right, bottom = width - margin, height - margin
    draw.rectangle([right - length_px, bottom - thickness, right, bottom], fill=(255, 255, 255))
    draw.text((right - length_px, bottom - thickness - 12), f"{length_mm} mm", fill=(255, 255, 255))
    image[...] = np.asarray(canvas)
    return length_mm


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return mask & ~inner


def _nearest_frame(stream: Stream, frame: int, other: Stream) -> int:
    times, other_times = stream.timestamps_s, other.timestamps_s
    if times is None or other_times is None or not other_times.size:
        return min(frame, other.n_frames - 1)
    return int(np.abs(other_times - times[frame]).argmin())


__all__ = ["ColourFlow", "Rendering", "display_streams", "draw_scale_bar", "overlay_colour",
           "phase_colours", "render"]
