"""Display images with their calibration: scan-converted B-mode (with an optional colour-flow
overlay) or any stored image stream (DICOM, zea ``image``, video), as RGB uint8 ``(n_z, n_x, 3)``
arrays on a :class:`~sonobridge.core.geometry.PixelGrid` (metres).

:meth:`Rendering.annotated` adds what a reader needs around the image: a depth axis in mm, the
frame time, and a velocity (or fraction-of-Nyquist) colour legend when flow is shown. Pixels stay
square and keep their physical size, so the picture can carry it (:meth:`Rendering.save`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.ensemble import ensemble_geometry, ensembles, is_ensemble_stream
from ..core.geometry import LineGeometry, PixelGrid
from ..core.recording import Recording, SampleKind, Stream
from .doppler import ColourFlow, autocorrelation, scan_convert_flow
from .envelope import bmode
from .scan_convert import ScanConverter, converter_for

BOX_COLOUR = (230, 220, 40)
SCALE_BAR_STEPS_MM = (1, 2, 5, 10, 20, 50, 100)
PRE_SCAN_KINDS = (SampleKind.ENVELOPE, SampleKind.RF, SampleKind.AMPLITUDE, SampleKind.IQ)
IMAGE_KINDS = (SampleKind.BMODE, SampleKind.IMAGE)
#: parameters that may hold the colour-flow pulse repetition frequency (Hz)
PRF_PARAMETERS = ("prf", "pulse_repetition_frequency", "colour_prf")
SOUND_SPEED_M_S = 1540.0


@dataclass(frozen=True)
class Legend:
    """The colour-flow scale: ``nyquist_m_s`` the axial velocity at +-Nyquist (None when the pulse
    repetition frequency is unknown: the scale is then in fractions of Nyquist)."""

    nyquist_m_s: float | None = None

    def labels(self) -> tuple[str, str]:
        """Texts at the top (+Nyquist, towards the probe) and bottom (-Nyquist) of the bar."""
        if self.nyquist_m_s is None:
            return "+Nyquist", "-Nyquist"
        cm_s = self.nyquist_m_s * 100
        return f"+{cm_s:.3g} cm/s", f"-{cm_s:.3g} cm/s"


@dataclass
class Rendering:
    """An RGB image ``(n_z, n_x, 3)`` uint8 on ``grid`` (metres; None when uncalibrated) and what
    went into it (``info``: stream, frame, time_s, pixel_size_m, shape, colour, legend ...)."""

    image: np.ndarray
    grid: PixelGrid | None
    info: dict[str, Any] = field(default_factory=dict)
    legend: Legend | None = None

    @property
    def pixel_size_m(self) -> float | None:
        """Square pixel size in metres (None: uncalibrated)."""
        return self.info.get("pixel_size_m")

    def annotated(self) -> np.ndarray:
        """The image with a depth axis in mm (left), the frame time (top) and the colour legend
        (right, with flow), RGB uint8; pixels at the image's own physical size."""
        return annotate(self)

    def save(self, path) -> None:
        """Write :meth:`annotated` as PNG (atomically), its pixel size in the ``pHYs`` chunk
        (:func:`sonobridge.util.png.save_png`)."""
        from ..util.png import save_png

        save_png(self.annotated(), path, pixel_size_m=self.pixel_size_m)


def render(stream: Stream, frame: int = 0, *, pixel_size_m: float | None = None,
           dynamic_range_db: float = 60.0, gain_db: float = 0.0, colour: Stream | None = None,
           scale_bar: bool = True) -> Rendering:
    """Frame ``frame`` of ``stream`` as a calibrated display image.

    Pre-scan streams (RF, IQ, amplitude, envelope) are detected and scan-converted; image streams
    (grey, RGB, dB or 16-bit images with a pixel grid) are shown as stored, resampled to square
    pixels. The colour-flow ensemble of ``colour`` (the frame nearest in time) is overlaid if given.

    Parameters
    ----------
    stream : Stream
        The stream to show.
    frame : int
        0-based frame index.
    pixel_size_m : float, optional
        Square pixel size of the result in metres (default: from the geometry).
    dynamic_range_db, gain_db : float
        Log compression of RF/IQ/amplitude, dB.
    colour : Stream, optional
        IQ ensembles to overlay as colour flow (pre-scan streams only).
    scale_bar : bool
        Draw a millimetre bar in the bottom-right corner (calibrated images).

    Returns
    -------
    Rendering
    """
    if not 0 <= frame < stream.n_frames:
        raise IndexError(f"frame {frame} out of range: stream {stream.name!r} has {stream.n_frames} frames")
    if stream.kind in IMAGE_KINDS:
        image, grid = stored_image(stream, frame, pixel_size_m)
    else:
        detected = bmode(stream, dynamic_range_db=dynamic_range_db, gain_db=gain_db)
        converter = converter_for(detected, pixel_size_m)
        image, grid = _rgb(converter(np.asarray(detected.frames[frame]))), converter.grid
    info: dict[str, Any] = {"stream": stream.name, "frame": frame, "time_s": _frame_time(stream, frame),
                            "pixel_size_m": grid.pixel_size_m if grid is not None else None,
                            "shape": list(image.shape[:2])}
    legend = None
    if colour is not None and grid is not None and stream.kind not in IMAGE_KINDS:
        info["colour"] = overlay_colour(image, grid, colour, _nearest_frame(stream, frame, colour))
        legend = Legend(nyquist_velocity_m_s(colour))
        info["legend"] = {"nyquist_m_s": legend.nyquist_m_s, "labels": list(legend.labels())}
    if scale_bar and grid is not None:
        info["scale_bar_mm"] = draw_scale_bar(image, grid.pixel_size_m)
    return Rendering(image, grid, info, legend)


def renderable(stream: Stream) -> bool:
    """Whether :func:`render` can show ``stream`` (frames, and an image or line geometry)."""
    if not (stream.has_frames and stream.n_frames):
        return False
    if stream.kind in IMAGE_KINDS:
        return len(stream.frame_shape) == 2 or stream.frame_shape[2:] in ((3,), (4,))
    return stream.kind in PRE_SCAN_KINDS


def display_streams(recording: Recording) -> tuple[Stream | None, Stream | None]:
    """The stream to render and the colour-flow ensemble stream to overlay (IQ whose lines
    repeat), either None if absent.

    The stream is a pre-scan one with line geometry (envelope, else RF, amplitude, plain IQ), else
    a stored image (DICOM, zea ``image``, B-mode), else any pre-scan stream (which then fails
    with the reason it cannot be scan-converted).
    """
    with_frames = [s for s in recording.streams.values() if renderable(s)]
    colour = [s for s in with_frames if is_ensemble_stream(s)]
    pre_scan = [s for kind in PRE_SCAN_KINDS for s in with_frames if s.kind is kind and s not in colour]
    images = [s for s in with_frames if s.kind in IMAGE_KINDS]
    ranked = [s for s in pre_scan if isinstance(s.geometry, LineGeometry)] + images + pre_scan
    return (ranked[0] if ranked else None), (colour[0] if colour else None)


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


def nyquist_velocity_m_s(colour: Stream, sound_speed_m_s: float = SOUND_SPEED_M_S) -> float | None:
    """Axial velocity at the Nyquist limit, ``c * prf / (4 f0)`` in m/s, when the colour stream
    states its pulse repetition frequency and transmit frequency; else None."""
    prf = next((_hertz(colour.parameters.get(name)) for name in PRF_PARAMETERS
                if _hertz(colour.parameters.get(name))), None)
    f0 = _hertz(colour.parameters.get("transmit_frequency"))
    return sound_speed_m_s * prf / (4 * f0) if prf and f0 else None


def phase_colours(phase: np.ndarray) -> np.ndarray:
    """RGB for Doppler phase in [-1, 1]: dark red to yellow for +, dark blue to cyan for -."""
    strength = np.clip(np.abs(phase), 0, 1)[..., None]
    positive = np.concatenate([0.45 + 0.55 * np.minimum(1, 2 * strength), 1.6 * np.maximum(0, strength - 0.35),
                               np.zeros_like(strength)], axis=-1)
    negative = positive[..., ::-1]
    rgb = np.where(np.asarray(phase)[..., None] >= 0, positive, negative)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def font(size: int):
    """A scalable font of ``size`` pixels (Pillow's built-in one; its bitmap font without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _font_size(height: int) -> int:
    return int(np.clip(height / 28, 13, 28))


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
    draw.text((right - length_px / 2, bottom - thickness - 2), f"{length_mm} mm", fill=(255, 255, 255),
              font=font(_font_size(height)), anchor="md", stroke_width=1, stroke_fill=(0, 0, 0))
    image[...] = np.asarray(canvas)
    return length_mm


def annotate(rendering: Rendering) -> np.ndarray:
    """:meth:`Rendering.annotated`: the image framed by a depth axis (mm), a title line with the
    stream, frame and time, and the colour legend when flow is shown; RGB uint8."""
    from PIL import Image, ImageDraw

    image, grid, info = rendering.image, rendering.grid, rendering.info
    height, width = image.shape[:2]
    size = _font_size(height)
    text = font(size)
    left = 4 * size if grid is not None else size
    right = 6 * size if rendering.legend is not None else size
    top, bottom = 2 * size, size
    canvas = Image.new("RGB", (left + width + right, top + height + bottom), (0, 0, 0))
    canvas.paste(Image.fromarray(image), (left, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((left, size // 2), _title(info), fill=(255, 255, 255), font=text)
    if grid is not None:
        _depth_axis(draw, grid, left, top, height, text, size)
    if rendering.legend is not None:
        _legend(canvas, draw, rendering.legend, left + width + size, top, height, text, size)
    return np.asarray(canvas)


def _title(info: dict[str, Any]) -> str:
    time = info.get("time_s")
    when = f"   t = {time:.3f} s" if time is not None else ""
    return f"{info.get('stream', '')}   frame {info.get('frame', 0)}{when}"


def _depth_axis(draw, grid: PixelGrid, left: int, top: int, height: int, text, size: int) -> None:
    """Ticks and mm labels of the depth (``grid.z_m``, pixel centres) left of the image."""
    z_mm = np.asarray(grid.z_m, np.float64) * 1e3
    low, high = float(min(z_mm[0], z_mm[-1])), float(max(z_mm[0], z_mm[-1]))
    step = min([s for s in SCALE_BAR_STEPS_MM if (high - low) / s <= 8] or [SCALE_BAR_STEPS_MM[-1]])
    x = left - 3
    draw.line([(x, top), (x, top + height - 1)], fill=(255, 255, 255))
    for depth in np.arange(np.ceil(low / step) * step, high + 1e-9, step):
        row = top + float(np.interp(depth, z_mm, np.arange(z_mm.size))
                          if z_mm[-1] >= z_mm[0] else np.interp(-depth, -z_mm, np.arange(z_mm.size)))
        draw.line([(x - size // 2, row), (x, row)], fill=(255, 255, 255))
        draw.text((x - size // 2 - 2, row), f"{round(depth, 6) + 0.0:g}", fill=(255, 255, 255), font=text, anchor="rm")
    draw.text((x, top - 2), "mm", fill=(255, 255, 255), font=text, anchor="rb")


def _legend(canvas, draw, legend: Legend, x: int, top: int, height: int, text, size: int) -> None:
    """A vertical colour bar from +Nyquist (top) to -Nyquist (bottom), labelled."""
    from PIL import Image

    rows = max(height // 2, 16)
    phase = np.linspace(1, -1, rows)
    bar = np.repeat(phase_colours(phase)[:, None, :], size, axis=1)
    y = top + (height - rows) // 2
    canvas.paste(Image.fromarray(bar), (x, y))
    upper, lower = legend.labels()
    draw.text((x, y - 3), upper, fill=(255, 255, 255), font=text, anchor="lb")
    draw.text((x, y + rows + 3), lower, fill=(255, 255, 255), font=text, anchor="lt")
    draw.text((x + size + 3, y + rows // 2), "0", fill=(255, 255, 255), font=text, anchor="lm")


def stored_image(stream: Stream, frame: int,
                 pixel_size_m: float | None = None) -> tuple[np.ndarray, PixelGrid | None]:
    """A stored image frame (grey, RGB, dB or 16-bit) as RGB uint8 ``(n_z, n_x, 3)`` and its grid
    (metres; None when uncalibrated), resampled to square pixels of ``pixel_size_m`` (default: the
    finer spacing) when the spacings differ."""
    values = _as_uint8(stream, np.asarray(stream.frames[frame]))
    grid = stream.geometry if isinstance(stream.geometry, PixelGrid) else None
    if grid is None or grid.x_m.size < 2 or grid.z_m.size < 2:
        return _rgb(values), None
    dx, dz = (abs(float(np.diff(axis).mean())) for axis in (grid.x_m, grid.z_m))
    size = pixel_size_m or min(dx, dz)
    if np.isclose(dx, size, rtol=1e-3) and np.isclose(dz, size, rtol=1e-3):
        return _rgb(values), grid
    return _resampled(values, grid, dx, dz, size)


def _resampled(values: np.ndarray, grid: PixelGrid, dx: float, dz: float,
               size: float) -> tuple[np.ndarray, PixelGrid]:
    """``values`` (rows z, columns x) resampled to ``size`` square pixels over the same extent."""
    from PIL import Image

    n_x = max(1, int(round(grid.x_m.size * dx / size)))
    n_z = max(1, int(round(grid.z_m.size * dz / size)))
    image = np.array(Image.fromarray(_rgb(values)).resize((n_x, n_z), Image.Resampling.BILINEAR))
    sign_x, sign_z = np.sign(grid.x_m[-1] - grid.x_m[0]) or 1, np.sign(grid.z_m[-1] - grid.z_m[0]) or 1
    x0 = grid.x_m[0] - sign_x * dx / 2 + sign_x * size / 2
    z0 = grid.z_m[0] - sign_z * dz / 2 + sign_z * size / 2
    return image, PixelGrid(x_m=x0 + sign_x * size * np.arange(n_x), z_m=z0 + sign_z * size * np.arange(n_z))


def _as_uint8(stream: Stream, values: np.ndarray) -> np.ndarray:
    """Display values: uint8 as stored, dB floats through the stream's range, other numbers
    (16-bit images, linear floats) stretched from their minimum to their maximum."""
    from .display import db_range, db_to_uint8

    if values.dtype == np.uint8:
        return values
    if values.dtype.kind == "f" and stream.kind is SampleKind.IMAGE and values.ndim == 2:
        return db_to_uint8(values, *db_range(stream))
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(values.astype(np.float64), nan=low) - low) * (255 / max(high - low, 1e-30))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _rgb(values: np.ndarray) -> np.ndarray:
    """Grey ``(h, w)`` or RGB(A) ``(h, w, 3|4)`` uint8 as a new writable RGB ``(h, w, 3)``."""
    if values.ndim == 2:
        return np.repeat(values[..., None], 3, axis=-1)
    return np.array(values[..., :3], np.uint8, order="C")


def _hertz(value: Any) -> float | None:
    """A frequency parameter (a Quantity in Hz/kHz/MHz or a number in Hz) in Hz; None if absent."""
    if value is None:
        return None
    number, unit = (value.value, value.unit) if hasattr(value, "unit") else (value, "Hz")
    scale = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6}.get(str(unit))
    try:
        return float(number) * scale if scale and float(number) > 0 else None
    except (TypeError, ValueError):
        return None


def _frame_time(stream: Stream, frame: int) -> float | None:
    times = stream.timestamps_s
    return float(times[frame]) if times is not None and times.size > frame else None


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return mask & ~inner


def _nearest_frame(stream: Stream, frame: int, other: Stream) -> int:
    times, other_times = stream.timestamps_s, other.timestamps_s
    if times is None or other_times is None or not other_times.size:
        return min(frame, other.n_frames - 1)
    return int(np.abs(other_times - times[frame]).argmin())


__all__ = ["ColourFlow", "Legend", "Rendering", "annotate", "display_streams", "draw_scale_bar",
           "nyquist_velocity_m_s", "overlay_colour", "phase_colours", "render", "renderable", "stored_image"]
