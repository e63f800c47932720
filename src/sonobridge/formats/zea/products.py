"""Which zea data product holds a stream of the core model, and how its frames are laid out there.

zea maps are ``(n_frames, z, x[, channels])`` (depth first); pre-scan streams of the core model are
``(n_frames, n_lines, n_samples[, 2])`` (lines first), so line data is stored transposed:

========================  =====================  ==========================================
core stream kind          zea product            stored values
========================  =====================  ==========================================
envelope (uint8)          ``image``              uint8 ``(n, n_samples, n_lines)``
amplitude                 ``envelope_data``      float32 ``(n, n_samples, n_lines)``
RF                        ``beamformed_data``    float32 ``(n, n_samples, n_lines, 1)``
IQ                        ``beamformed_data``    float32 ``(n, n_samples, n_lines, 2)`` I, Q
PW Doppler IQ             ``pw_iq`` (custom)     int16/float32 ``(n, n_samples, n_lines, 2)``
B-mode / grey image       ``image``              uint8 (or float32 dB) ``(n, n_z, n_x)``
RGB image                 ``image_rgb`` (custom) uint8 ``(n, n_z, n_x, 3)`` R, G, B
16-bit grey image         ``image_16bit``        int16, or float32 for uint16, ``(n, n_z, n_x)``
                          (custom)
========================  =====================  ==========================================

zea's ``image`` holds uint8 or float32 (dB) only; a custom map may be uint8, float32, int16 or
complex64, so 16-bit images (CT/MR-like intensities, 16-bit secondary captures) go to a custom
map: int16 as it is, uint16 as float32 (exact: every uint16 is a float32), read back as uint16.

Conversions are exact: int16 and uint8/uint16 samples are representable in float32, and reading
back casts to the stream's own dtype. Samples that float32 cannot hold exactly are refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.recording import SampleKind
from .schema import CUSTOM_MAP_DTYPES

LINE_KINDS = {SampleKind.ENVELOPE, SampleKind.AMPLITUDE, SampleKind.RF, SampleKind.IQ, SampleKind.PW_IQ}
CUSTOM_DTYPES = {np.dtype(t) for t in CUSTOM_MAP_DTYPES}
WORD_DTYPES = (np.dtype(np.uint16), np.dtype(np.int16))


@dataclass(frozen=True)
class Layout:
    """How one stream's frames sit in a zea product: ``product`` (data key), stored ``dtype``,
    ``transposed`` (lines and samples swapped), ``channel_added`` (a trailing axis of 1 for RF)
    and the channel ``labels``."""

    product: str
    dtype: str
    transposed: bool = False
    channel_added: bool = False
    labels: tuple[str, ...] = ()

    def stored_shape(self, frame_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = list(frame_shape)
        if self.transposed:
            shape[0], shape[1] = shape[1], shape[0]
        return (*shape, 1) if self.channel_added else tuple(shape)

    def to_stored(self, frames: np.ndarray) -> np.ndarray:
        """``(k, *frame_shape)`` stream frames -> ``(k, *stored_shape)`` product values."""
        out = np.swapaxes(frames, 1, 2) if self.transposed else frames
        out = out[..., None] if self.channel_added else out
        return np.ascontiguousarray(out, dtype=self.dtype)

    def to_stream(self, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Inverse of :meth:`to_stored`, cast back to the stream's ``dtype``."""
        out = values[..., 0] if self.channel_added else values
        out = np.swapaxes(out, 1, 2) if self.transposed else out
        return np.ascontiguousarray(out, dtype=dtype)


def _exact_in_float32(dtype: np.dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype == np.float32 or (dtype.kind in "iu" and dtype.itemsize <= 2)


def layout_for(kind: SampleKind, frame_shape: tuple[int, ...], dtype: np.dtype, on_lines: bool) -> Layout:
    """The product a stream of ``kind``/``frame_shape``/``dtype`` is stored in (``on_lines``:
    pre-scan line data, stored transposed; otherwise an image on a pixel grid); ValueError when
    zea cannot hold its samples exactly."""
    dtype = np.dtype(dtype)
    iq = ("I", "Q")

    lines_shape = len(frame_shape) == (3 if kind in (SampleKind.IQ, SampleKind.PW_IQ) else 2)
    if kind in LINE_KINDS and on_lines and not lines_shape:
        raise ValueError(f"{kind.value} frames of shape {frame_shape} are not lines x samples "
                         f"(e.g. channel data): no zea product holds them here")
    if kind in (SampleKind.RF, SampleKind.IQ, SampleKind.AMPLITUDE) and not _exact_in_float32(dtype):
        raise ValueError(f"{dtype} {kind.value} samples cannot be stored exactly as float32 (zea's type "
                         f"for this product)")
    if not on_lines and kind is SampleKind.AMPLITUDE and len(frame_shape) == 2:
        return Layout("envelope_data", "float32")
    if kind is SampleKind.ENVELOPE and dtype == np.uint8:
        return Layout("image", "uint8", transposed=True)
    if kind is SampleKind.AMPLITUDE:
        return Layout("envelope_data", "float32", transposed=True)
    if kind is SampleKind.RF:
        return Layout("beamformed_data", "float32", transposed=True, channel_added=True, labels=("RF",))
    if kind is SampleKind.IQ:
        return Layout("beamformed_data", "float32", transposed=True, labels=iq)
    if kind is SampleKind.PW_IQ and dtype in CUSTOM_DTYPES:
        return Layout("pw_iq", dtype.name, transposed=True, labels=iq)
    if kind in (SampleKind.BMODE, SampleKind.IMAGE) and len(frame_shape) == 2 and dtype in WORD_DTYPES:
        return Layout("image_16bit", "int16" if dtype == np.int16 else "float32")
    if kind in (SampleKind.BMODE, SampleKind.IMAGE) and dtype in (np.uint8, np.float32):
        if len(frame_shape) == 2:
            return Layout("image", dtype.name)
        if len(frame_shape) == 3 and frame_shape[2] == 3 and dtype == np.uint8:
            return Layout("image_rgb", "uint8", labels=("R", "G", "B"))
    raise ValueError(f"no zea product holds {dtype} {kind.value} frames of shape {frame_shape} exactly")
