"""DICOM pixel data <-> NumPy: every transfer syntax decoded (frames in parallel into one array);
frames encoded for the syntaxes the writers use (:data:`TRANSFER_SYNTAX`, :func:`encode_frames`).

pydicom parses the dataset and splits encapsulated pixel data into frames; imagecodecs' codecs do
the pixel work (libjpeg-turbo for JPEG baseline/extended/lossless, CharLS for JPEG-LS, OpenJPEG for
JPEG 2000 and HTJ2K, libjxl for JPEG XL, its DICOM RLE decoder). Each frame is decoded straight into a preallocated
``(n_frames, rows, columns[, samples])`` array on a thread pool (the codecs release the GIL), so
peak memory stays close to the result.

Photometric interpretation: YBR_FULL and YBR_FULL_422 come back as RGB (as pydicom's
``pixel_array``), JPEG 2000 YBR_ICT/RCT as RGB (the codestream's own transform), PALETTE COLOR as
the stored indices (the palette is in the metadata), JPEG XL as the codestream decodes (RGB). A JPEG
stream's own colour signalling (Adobe APP14 transform flag, JFIF marker, component ids ``R G B``)
wins over the header when they disagree.

Damaged input: the file is read through :func:`sonobridge.dicom.io.read_dataset` (a reader that
refuses any read larger than what is left of the file: a lying element length must not allocate
gigabytes), and whatever pydicom or a codec raises on damaged content becomes a
:class:`~sonobridge.errors.FormatError` naming the file.

Encoding (:func:`encode_frames`): uint8 grey ``(n, rows, cols)`` or RGB ``(n, rows, cols, 3)``
frames as native pixel data (``"none"``) or encapsulated ``"rle"`` (pydicom's encoder),
``"jpeg-ls"``, ``"jpeg-xl"`` (lossless) or ``"jpeg"`` (baseline, lossy; RGB as YBR_FULL_422).

pydicom 3's pixel API under the same names and signatures (pydcm's ``pydcm.pixels``):
:func:`pixel_array` (a Dataset, path or binary file-like through the decoder above),
:func:`unpack_bits` / :func:`pack_bits`, :func:`decode_uncompressed`, the LUT, windowing and colour
helpers (pydicom's PS3.3 implementations: :func:`apply_rescale`, :func:`apply_modality_lut`,
:func:`apply_voi_lut`, :func:`apply_voi`, :func:`apply_windowing`, :func:`convert_color_space`,
:func:`apply_color_lut`, :func:`apply_presentation_lut`), :func:`as_pixel_options`,
:func:`set_pixel_data`, and :func:`compress` / :func:`decompress` (every syntax above, frames encoded
in parallel: :mod:`sonobridge.dicom.codecs`).
"""
from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FormatError, MissingDependencyError
from .io import damaged_content, open_dataset

NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED_FRAMES = "1.2.840.10008.1.2.8.1"
JPEG_8_12 = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}
JPEG_LOSSLESS = {"1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
JPEG_LS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
JPEG_2000 = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
             "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
RLE = "1.2.840.10008.1.2.5"
#: JPEG XL Lossless, JPEG XL JPEG Recompression, JPEG XL
JPEG_XL = {"1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112"}
PARALLEL_BYTES = 1 << 20          # smaller results decode on the calling thread
MAX_RATIO = 2000                  # decoded / compressed bytes beyond which a header is not believed


@dataclass(frozen=True)
class PixelLayout:
    """What the header says about the pixels of one dataset."""

    n_frames: int
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: bool
    transfer_syntax: str

    @classmethod
    def of(cls, ds, label: str) -> PixelLayout:
        try:
            layout = cls(n_frames=int(ds.get("NumberOfFrames", 1) or 1), rows=int(ds.Rows), columns=int(ds.Columns),
                         samples=int(ds.get("SamplesPerPixel", 1)), bits_allocated=int(ds.BitsAllocated),
                         bits_stored=int(ds.get("BitsStored", ds.BitsAllocated)),
                         signed=int(ds.get("PixelRepresentation", 0)) == 1,
                         photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
                         planar=int(ds.get("PlanarConfiguration", 0) or 0) == 1,
                         transfer_syntax=str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.get(
                             "file_meta", {}) else "1.2.840.10008.1.2")
        except Exception as error:  # noqa: BLE001 - missing elements, or values pydicom cannot convert
            raise FormatError(label, f"incomplete image pixel description ({type(error).__name__}: {error})") \
                from None
        if min(layout.rows, layout.columns, layout.samples, layout.n_frames) < 1 or \
                layout.bits_allocated not in (1, 8, 16, 32, 64):
            raise FormatError(label, f"impossible pixel description: {layout}")
        return layout

    @property
    def dtype(self) -> np.dtype:
        if self.bits_allocated == 1:
            return np.dtype(np.uint8)
        return np.dtype(f"{'i' if self.signed else 'u'}{self.bits_allocated // 8}")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.n_frames, self.rows, self.columns) + ((self.samples,) if self.samples > 1 else ())


def _require_codecs():
    try:
        import imagecodecs
    except ImportError:
        raise MissingDependencyError(None, "compressed DICOM needs imagecodecs: "
                                           "pip install 'sonobridge[dicom]'") from None
    return imagecodecs


def _jpeg_colour(data: bytes, photometric: str) -> str:
    """The colour space a 3-component JPEG stream is coded in: its own markers first (Adobe APP14
    transform flag, JFIF, component ids R G B), else what the DICOM header says."""
    head = bytes(data[:4096])
    adobe = head.find(b"\xff\xee")                 # APP14: marker, 2-byte length, "Adobe", ...
    while adobe >= 0 and head[adobe + 4:adobe + 9] != b"Adobe":
        adobe = head.find(b"\xff\xee", adobe + 2)
    if adobe >= 0 and adobe + 16 <= len(head):
        return "YCbCr" if head[adobe + 15] == 1 else "RGB"
    if head.find(b"\xff\xe0") >= 0 and head.find(b"JFIF\0") >= 0:
        return "YCbCr"
    sof = next((head.find(marker) for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2") if head.find(marker) >= 0), -1)
    if sof >= 0 and sof + 19 <= len(head) and head[sof + 9] == 3 and head[sof + 10:sof + 19:3] == b"RGB":
        return "RGB"
    return "YCbCr" if photometric.startswith("YBR") else "RGB"


class _FrameDecoder:
    """Decodes one encapsulated frame (bytes) into ``out`` (one frame of the result)."""

    def __init__(self, layout: PixelLayout, label: str):
        self.layout, self.label = layout, label
        self.codecs = _require_codecs() if layout.transfer_syntax != DEFLATED_FRAMES else None

    def __call__(self, data: bytes, out: np.ndarray) -> None:
        syntax, codecs = self.layout.transfer_syntax, self.codecs
        if syntax in JPEG_8_12:
            if self.layout.samples == 3:
                colour = _jpeg_colour(data, self.layout.photometric)
                if out.dtype == np.uint8:          # straight into the result: no copy
                    codecs.jpeg8_decode(data, colorspace=colour, outcolorspace="RGB", out=out)
                    return
                image = codecs.jpeg8_decode(data, colorspace=colour, outcolorspace="RGB")
            else:
                image = codecs.jpeg8_decode(data)
        elif syntax in JPEG_LOSSLESS:
            image = codecs.ljpeg_decode(data)
        elif syntax in JPEG_LS:
            image = codecs.jpegls_decode(data)
        elif syntax in JPEG_2000:
            image = codecs.jpeg2k_decode(data)
        elif syntax in JPEG_XL:
            image = codecs.jpegxl_decode(data)
        elif syntax == RLE:
            image = self._rle(codecs, data)
        elif syntax == DEFLATED_FRAMES:
            image = native_frames(zlib.decompress(data, -15), self.layout, 1, self.label)[0]
        else:
            raise FormatError(self.label, f"transfer syntax {syntax} is not supported")
        self._store(image, out)

    def _rle(self, codecs, data: bytes) -> np.ndarray:
        layout = self.layout            # the codec returns sample planes in native byte order
        raw = np.frombuffer(codecs.dicomrle_decode(data, layout.dtype), layout.dtype)
        planes = layout.samples
        expected = layout.rows * layout.columns * planes
        if raw.size < expected:
            raise FormatError(self.label, f"RLE frame decodes to {raw.size} samples, {expected} expected")
        image = raw[:expected].reshape(planes, layout.rows, layout.columns)
        return np.moveaxis(image, 0, -1) if planes > 1 else image[0]

    def _store(self, image: np.ndarray, out: np.ndarray) -> None:
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 1 and out.ndim == 2:
            image = image[..., 0]
        if image.shape != out.shape:
            raise FormatError(self.label, f"frame decodes to shape {image.shape}, the header says {out.shape}")
        out[...] = image.astype(out.dtype, copy=False) if image.dtype.kind != out.dtype.kind or \
            image.dtype.itemsize > out.dtype.itemsize else image


def native_frames(buffer: bytes | memoryview, layout: PixelLayout, n_frames: int, label: str) -> np.ndarray:
    """Uncompressed pixel bytes -> ``(n_frames, rows, columns[, samples])`` (a view when possible)."""
    per_frame = layout.rows * layout.columns * layout.samples
    if layout.bits_allocated == 1:
        bits = np.unpackbits(np.frombuffer(buffer, np.uint8), bitorder="little")
        if bits.size < per_frame * n_frames:
            raise FormatError(label, "pixel data shorter than the header says")
        return bits[:per_frame * n_frames].reshape(n_frames, layout.rows, layout.columns)
    if layout.photometric == "YBR_FULL_422":
        return _expand_422(buffer, layout, n_frames, label)
    dtype = layout.dtype.newbyteorder(">" if layout.transfer_syntax == BIG_ENDIAN else "<")
    needed = per_frame * n_frames * dtype.itemsize
    if len(buffer) < needed:
        raise FormatError(label, f"pixel data holds {len(buffer)} bytes, the header needs {needed}")
    flat = np.frombuffer(buffer, dtype, count=per_frame * n_frames)
    if layout.samples == 1:
        return flat.reshape(n_frames, layout.rows, layout.columns)
    if layout.planar:
        return np.moveaxis(flat.reshape(n_frames, layout.samples, layout.rows, layout.columns), 1, -1)
    return flat.reshape(n_frames, layout.rows, layout.columns, layout.samples)


def _expand_422(buffer, layout: PixelLayout, n_frames: int, label: str) -> np.ndarray:
    """Uncompressed YBR_FULL_422: per pixel pair ``Y1 Y2 Cb Cr`` -> full YCbCr."""
    pairs = layout.rows * layout.columns // 2
    if len(buffer) < pairs * 4 * n_frames:
        raise FormatError(label, "pixel data shorter than the header says")
    quads = np.frombuffer(buffer, np.uint8, count=pairs * 4 * n_frames).reshape(n_frames, pairs, 4)
    out = np.empty((n_frames, pairs, 2, 3), np.uint8)
    out[:, :, 0, 0], out[:, :, 1, 0] = quads[:, :, 0], quads[:, :, 1]
    out[:, :, :, 1], out[:, :, :, 2] = quads[:, :, 2:3], quads[:, :, 3:4]
    return out.reshape(n_frames, layout.rows, layout.columns, 3)


def _finish(pixels: np.ndarray, layout: PixelLayout, encapsulated: bool) -> np.ndarray:
    """Native byte order, sign extension of BitsStored, YBR -> RGB where pydicom does it."""
    if pixels.dtype.byteorder == ">":
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    if layout.signed and layout.bits_stored < layout.bits_allocated and pixels.dtype.kind == "i":
        shift = pixels.dtype.itemsize * 8 - layout.bits_stored
        pixels = (pixels << shift) >> shift
    ybr_stored = layout.photometric in ("YBR_FULL", "YBR_FULL_422") and (
        not encapsulated or layout.transfer_syntax in (RLE, DEFLATED_FRAMES))
    if ybr_stored and layout.samples == 3:
        from pydicom.pixels import convert_color_space

        pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
    return pixels


def decoded_photometric(layout: PixelLayout) -> str:
    """The Photometric Interpretation of what :func:`decode_dataset` returns for ``layout``: RGB
    where it converts YCbCr (stored YBR_FULL/422, JPEG, JPEG 2000 ICT/RCT, JPEG XL), else the header's."""
    syntax, photometric = layout.transfer_syntax, layout.photometric
    if layout.samples != 3:
        return photometric
    converted = (photometric in ("YBR_FULL", "YBR_FULL_422") and (syntax in NATIVE or syntax in (RLE, DEFLATED_FRAMES))
                 or syntax in JPEG_8_12 or syntax in JPEG_XL
                 or syntax in JPEG_2000 and photometric in ("YBR_ICT", "YBR_RCT"))
    return "RGB" if converted else photometric


def decode_dataset(ds, label: str, frame: int = 0, threads: int | None = None,
                   frames: range | None = None) -> np.ndarray:
    """Pixels of a parsed dataset ``[frames, rows, cols(, samples)]``; ``frame`` is 1-based,
    0 = all frames; ``frames`` (0-based range) selects several. Damaged content raises
    :class:`FormatError`; a frame number outside the file, ``IndexError``."""
    if "PixelData" not in ds:
        raise FormatError(label, "no pixel data")
    layout = PixelLayout.of(ds, label)
    if not 0 <= frame <= layout.n_frames or frames is not None and (
            frames.step != 1 or not 0 <= frames.start <= frames.stop <= layout.n_frames):
        raise IndexError(f"{label}: frame {frame if frames is None else frames} out of 1..{layout.n_frames}")
    wanted = frames if frames is not None else range(layout.n_frames) if frame == 0 else range(frame - 1, frame)
    with damaged_content(label):
        return _decode_dataset(ds, label, layout, threads, wanted)


def _decode_dataset(ds, label: str, layout: PixelLayout, threads: int | None, wanted: range) -> np.ndarray:
    syntax = layout.transfer_syntax
    if syntax in NATIVE:
        buffer = ds.PixelData
        if syntax == BIG_ENDIAN and layout.bits_allocated == 8 and ds["PixelData"].VR == "OW":
            buffer = np.frombuffer(buffer, ">u2").astype("<u2").tobytes()   # OW words were byte-swapped
        pixels = native_frames(buffer, layout, layout.n_frames, label)[wanted.start:wanted.stop]
        return _finish(np.array(pixels), layout, encapsulated=False)
    fragments = _encapsulated_frames(ds, layout, label)
    decoder = _FrameDecoder(layout, label)
    dtype = np.uint8 if layout.photometric.startswith("YBR") and layout.bits_allocated == 8 else layout.dtype
    declared = len(wanted) * int(np.prod(layout.shape[1:])) * np.dtype(dtype).itemsize
    stored = sum(len(fragments[index]) for index in wanted)
    if declared > MAX_RATIO * stored + (64 << 20):
        raise FormatError(label, f"header declares {declared} bytes of pixels for {stored} compressed bytes: "
                                 f"implausible (lying dimensions?)")
    out = np.empty((len(wanted), *layout.shape[1:]), dtype)
    if len(wanted) == 1 or out.nbytes < PARALLEL_BYTES:        # not worth a thread pool
        for slot, index in enumerate(wanted):
            _guarded(decoder, fragments[index], out[slot], label)
        return _finish(out, layout, encapsulated=True)
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        jobs = [pool.submit(_guarded, decoder, fragments[index], out[slot], label)
                for slot, index in enumerate(wanted)]
        for job in jobs:
            job.result()
    return _finish(out, layout, encapsulated=True)


def _guarded(decoder: _FrameDecoder, data: bytes, out: np.ndarray, label: str) -> None:
    with damaged_content(label):
        decoder(data, out)


def _encapsulated_frames(ds, layout: PixelLayout, label: str) -> list[bytes]:
    from pydicom.encaps import generate_frames

    try:
        frames = list(generate_frames(ds.PixelData, number_of_frames=layout.n_frames))
    except (ValueError, KeyError, TypeError, IndexError, EOFError) as error:
        raise FormatError(label, f"encapsulated pixel data does not add up ({error})") from None
    if len(frames) < layout.n_frames:
        raise FormatError(label, f"{len(frames)} encapsulated frames, the header says {layout.n_frames}")
    return frames


def decode(path: Any, frame: int = 0, *, rescale: bool = False, to_torch: bool = False,
           with_meta: bool = False) -> Any:
    """Pixels of the DICOM file at ``path`` as ``[frames, rows, cols(, samples)]``; ``path`` may also
    be a parsed pydicom Dataset, the file's bytes or a binary file-like object
    (:func:`sonobridge.dicom.io.open_dataset`).

    ``frame``: 1-based frame number, 0 = all. ``rescale``: float32 real-world values
    (RescaleSlope/Intercept). ``to_torch``: a ``torch.Tensor`` (torch imported only then).
    ``with_meta``: also return the geometry sidecar
    (:func:`sonobridge.dicom.ultrasound.geometry_meta`)."""
    ds, label = open_dataset(path)
    pixels = decode_dataset(ds, label, frame)
    if with_meta or rescale:
        with damaged_content(label):
            result = _rescaled_with_meta(ds, pixels, rescale, with_meta, frame)
    else:
        result = pixels
    if to_torch:
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(result[0] if with_meta else result))
        return (tensor, result[1]) if with_meta else tensor
    return result


def _rescaled_with_meta(ds, pixels: np.ndarray, rescale: bool, with_meta: bool, frame: int = 0):
    """Real-world values (each frame's own Modality LUT line, float32) and/or the geometry sidecar."""
    if rescale:
        from .ultrasound import rescale_per_frame

        slopes, intercepts = (values[frame - 1:frame] if frame else values for values in rescale_per_frame(ds))
        shape = (len(pixels),) + (1,) * (pixels.ndim - 1)
        pixels = pixels.astype(np.float32) * slopes.astype(np.float32).reshape(shape) + \
            intercepts.astype(np.float32).reshape(shape)
    if with_meta:
        from .ultrasound import geometry_meta

        return pixels, geometry_meta(ds)
    return pixels


#: compression name -> transfer syntax UID written (all lossless except ``"jpeg"``)
TRANSFER_SYNTAX = {"none": "1.2.840.10008.1.2.1", "rle": RLE, "jpeg-ls": "1.2.840.10008.1.2.4.80",
                   "jpeg-xl": "1.2.840.10008.1.2.4.110", "jpeg": "1.2.840.10008.1.2.4.50"}


def encode_frames(frames: np.ndarray, compression: str = "none") -> tuple[bytes, str]:
    """Pixel data for ``frames`` in the transfer syntax ``TRANSFER_SYNTAX[compression]``.

    Parameters
    ----------
    frames : numpy.ndarray
        uint8, ``(n_frames, rows, columns)`` grey or ``(n_frames, rows, columns, 3)`` RGB, C-contiguous.
    compression : str
        A key of :data:`TRANSFER_SYNTAX`.

    Returns
    -------
    pixel_data : bytes
        Native bytes padded to even length (``"none"``), else the encapsulated frames.
    photometric : str
        The PhotometricInterpretation to write (MONOCHROME2, RGB, or YBR_FULL_422 for RGB as JPEG).

    Examples
    --------
    >>> data, photometric = encode_frames(np.zeros((2, 4, 4), np.uint8))
    >>> len(data), photometric
    (32, 'MONOCHROME2')
    """
    if compression not in TRANSFER_SYNTAX:
        raise ValueError(f"compression must be one of {', '.join(TRANSFER_SYNTAX)}")
    rgb = frames.ndim == 4
    if compression == "none":
        data = frames.tobytes()
        return data + b"\0" * (len(data) % 2), "RGB" if rgb else "MONOCHROME2"
    from pydicom.encaps import encapsulate

    photometric = "RGB" if rgb else "MONOCHROME2"
    if compression == "rle":             # imagecodecs decodes DICOM RLE but does not encode it
        from pydicom.pixels.encoders import RLELosslessEncoder

        encoded = [RLELosslessEncoder.encode(
            frame, rows=frame.shape[0], columns=frame.shape[1], samples_per_pixel=3 if rgb else 1,
            bits_allocated=8, bits_stored=8, pixel_representation=0, photometric_interpretation=photometric,
            number_of_frames=1, planar_configuration=0) for frame in frames]
        return encapsulate([bytes(e) for e in encoded]), photometric
    codecs = _require_codecs()
    if compression == "jpeg-ls":
        # room for incompressible frames (noise grows a little under JPEG-LS; CharLS's default buffer is too small)
        encoded = [codecs.jpegls_encode(frame, out=2 * frame.nbytes + 4096) for frame in frames]
    elif compression == "jpeg-xl":       # lossless: the codestream holds the RGB samples as given
        encoded = [codecs.jpegxl_encode(frame, lossless=True, usecontainer=False) for frame in frames]
    else:
        encoded = [codecs.jpeg8_encode(frame, level=95, colorspace="RGB" if rgb else None,
                                       outcolorspace="YCbCr" if rgb else None, subsampling="422" if rgb else None)
                   for frame in frames]
        photometric = "YBR_FULL_422" if rgb else "MONOCHROME2"
    return encapsulate([bytes(e) for e in encoded]), photometric


# ---------------------------------------------------------------- pydicom 3-compatible pixel API
# (pydcm.pixels.X == sonobridge.dicom.pixels.X). The LUT and colour helpers are pydicom's PS3.3
# implementations behind our names; pixel_array, compress and decompress use our own codecs.
def unpack_bits(src, as_array: bool = True) -> np.ndarray | bytes:
    """1-bit packed Pixel Data (Bits Allocated 1, PS3.5 8.1.1: little bit order) unpacked to 0/1.

    Parameters
    ----------
    src : bytes or pydicom.dataset.Dataset
        The packed bytes, or a dataset with native 1-bit Pixel Data.
    as_array : bool
        For bytes: a flat uint8 array (True) or bytes of one 0/1 value per pixel (False).

    Returns
    -------
    numpy.ndarray or bytes
        For a dataset: uint8 ``(frames, rows, columns)`` of 0 and 1; for bytes, as pydicom's.
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        from pydicom.pixels import unpack_bits as unpack

        return unpack(bytes(src), as_array)
    layout = PixelLayout.of(src, "<dataset>")
    if layout.bits_allocated != 1:
        raise FormatError("<dataset>", f"Bits Allocated is {layout.bits_allocated}, unpack_bits needs 1")
    return decode_uncompressed(src)


def pack_bits(arr: np.ndarray, pad: bool = True) -> bytes:
    """0/1 values packed 8 per byte, little bit order (the inverse of :func:`unpack_bits`).

    Parameters
    ----------
    arr : numpy.ndarray
        Only zeros and ones, any shape (flattened in C order).
    pad : bool
        Pad the result to an even length (as Pixel Data must be).

    Returns
    -------
    bytes

    Examples
    --------
    >>> pack_bits(np.array([1, 0, 0, 0, 0, 0, 0, 1]))
    b'\\x81\\x00'
    """
    from pydicom.pixels import pack_bits as pack

    return pack(np.asarray(arr), pad)


def decode_uncompressed(ds) -> np.ndarray:
    """Native little-endian Pixel Data held in ``ds`` as stored integers, by reinterpreting the buffer.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        Implicit/Explicit VR Little Endian (or deflated-dataset) with its Pixel Data in memory.

    Returns
    -------
    numpy.ndarray
        ``(frames, rows, columns[, samples])`` in the dtype Bits Allocated and Pixel Representation
        name, sign-extended from Bits Stored; 1-bit data unpacked to uint8 0/1; YBR_FULL_422 expanded
        to full YCbCr (no colour conversion). Compressed and big-endian data raise
        :class:`FormatError`: use :func:`pixel_array`.
    """
    label = str(getattr(ds, "filename", None) or "<dataset>")
    layout = PixelLayout.of(ds, label)
    if layout.transfer_syntax not in NATIVE or layout.transfer_syntax == BIG_ENDIAN:
        raise FormatError(label, f"transfer syntax {layout.transfer_syntax} is not native little endian: "
                                 f"decode it with pixel_array")
    if "PixelData" not in ds:
        raise FormatError(label, "no pixel data")
    with damaged_content(label):
        pixels = native_frames(ds.PixelData, layout, layout.n_frames, label)
    return _finish(np.array(pixels), _no_colour(layout), encapsulated=False)


def _no_colour(layout: PixelLayout) -> PixelLayout:
    from dataclasses import replace

    return replace(layout, photometric="YBR_STORED" if layout.photometric.startswith("YBR") else layout.photometric)


def apply_rescale(arr: np.ndarray, ds) -> np.ndarray:
    """``arr * RescaleSlope + RescaleIntercept`` (the linear Modality LUT); use
    :func:`apply_modality_lut` when a Modality LUT Sequence may be present.

    Returns ``arr`` unchanged without Rescale Slope/Intercept, else float64 (pydicom's behaviour)."""
    from pydicom.pixels import apply_rescale as rescale

    return rescale(arr, ds)


def apply_modality_lut(arr: np.ndarray, ds) -> np.ndarray:
    """The Modality LUT (PS3.3 C.11.1): the Modality LUT Sequence if present, else Rescale
    Slope/Intercept (stored values -> e.g. Hounsfield units)."""
    from pydicom.pixels import apply_modality_lut as modality

    return modality(arr, ds)


def apply_voi_lut(arr: np.ndarray, ds, index: int = 0, prefer_lut: bool = True) -> np.ndarray:
    """The VOI LUT (PS3.3 C.11.2): the VOI LUT Sequence item ``index`` if present (and
    ``prefer_lut``), else Window Center/Width item ``index`` with the VOI LUT Function (LINEAR,
    LINEAR_EXACT, SIGMOID). Windowed output spans ``[0, 2**BitsStored - 1]`` (pydicom's range, not [0, 1])."""
    from pydicom.pixels import apply_voi_lut as voi_lut

    return voi_lut(arr, ds, index, prefer_lut)


def apply_voi(arr: np.ndarray, ds, index: int = 0) -> np.ndarray:
    """Item ``index`` of the VOI LUT Sequence (0028,3010) applied to ``arr``; ``arr`` unchanged without one."""
    from pydicom.pixels import apply_voi as voi

    return voi(arr, ds, index)


def apply_windowing(arr: np.ndarray, ds, index: int = 0) -> np.ndarray:
    """Window Center/Width item ``index`` (PS3.3 C.11.2.1.2, LINEAR, LINEAR_EXACT or SIGMOID),
    output in pydicom's range; ``arr`` unchanged without a window."""
    from pydicom.pixels import apply_windowing as windowing

    return windowing(arr, ds, index)


def convert_color_space(arr: np.ndarray, current: str, desired: str, per_frame: bool = False) -> np.ndarray:
    """8-bit colour ``(..., 3)`` converted between RGB and YBR_FULL / YBR_FULL_422 (PS3.3
    C.7.6.3.1.2); ``per_frame`` converts frame by frame (less memory)."""
    from pydicom.pixels import convert_color_space as convert

    return convert(arr, current, desired, per_frame)


def apply_color_lut(arr: np.ndarray, ds=None, palette: str | None = None) -> np.ndarray:
    """PALETTE COLOR indices mapped to RGB through the dataset's Palette Color LUTs (PS3.3
    C.7.6.3.1.6), or a well-known ``palette`` by name or UID; result ``arr.shape + (3,)``."""
    from pydicom.pixels import apply_color_lut as color_lut

    return color_lut(arr, ds, palette)


def apply_presentation_lut(arr: np.ndarray, ds) -> np.ndarray:
    """The Presentation LUT (sequence, or an INVERSE shape) applied to ``arr``, giving P-values;
    ``arr`` unchanged without one. Apply the Modality and VOI LUTs first."""
    from pydicom.pixels import apply_presentation_lut as presentation

    return presentation(arr, ds)


def as_pixel_options(ds, **kwargs: Any) -> dict[str, Any]:
    """The Image Pixel module values of ``ds`` as pydicom's decoder/encoder options dict
    (rows, columns, samples_per_pixel, ...), updated with ``kwargs``."""
    from pydicom.pixels import as_pixel_options as options

    return options(ds, **kwargs)


def set_pixel_data(ds, arr: np.ndarray, photometric_interpretation: str, bits_stored: int, *,
                   generate_instance_uid: bool = True) -> None:
    """Native Pixel Data and the Image Pixel module of ``ds`` set from ``arr`` (u)int8/16 shaped
    ``([frames,] rows, columns[, samples])``; Transfer Syntax becomes Explicit VR Little Endian if
    absent or compressed; a new SOP Instance UID unless ``generate_instance_uid`` is False."""
    from pydicom.pixels import set_pixel_data as set_data

    set_data(ds, arr, photometric_interpretation, bits_stored, generate_instance_uid=generate_instance_uid)


def pixel_array(src, *, ds_out=None, specific_tags: list[int] | None = None, index: int | None = None,
                raw: bool = False, decoding_plugin: str = "", **kwargs: Any) -> np.ndarray:
    """The pixels of a Dataset, a DICOM file path or a binary file-like, decoded with our
    multi-threaded decoder (:func:`decode_dataset`; every transfer syntax of this module).

    Parameters
    ----------
    src : pydicom.dataset.Dataset, str, os.PathLike or binary file-like
    ds_out : pydicom.dataset.Dataset, optional
        For a path or file-like: receives the file meta (group 0002) and the Image Pixel elements
        (group 0028) of ``src``, plus ``specific_tags``.
    specific_tags : list of int, optional
        More tags copied into ``ds_out``.
    index : int, optional
        0-based frame to return; None: all frames.
    raw, decoding_plugin, **kwargs
        pydicom's decoding options: ``raw=True`` (YCbCr kept), ``as_rgb=False``, a plugin name or
        other decoder options hand the work to :func:`pydicom.pixels.pixel_array`.

    Returns
    -------
    numpy.ndarray
        ``(rows, columns[, samples])`` for one frame (a single-frame image, or ``index``), else
        ``(frames, rows, columns[, samples])``; YCbCr as RGB, PALETTE COLOR as stored indices
        (see :func:`apply_color_lut`), native byte order.

    Raises
    ------
    FormatError, UnsupportedInputError
        Damaged or not DICOM. ``IndexError``: ``index`` outside the frames.
    """
    if raw or decoding_plugin or {key: value for key, value in kwargs.items() if (key, value) != ("as_rgb", True)}:
        from pydicom.pixels import pixel_array as pydicom_pixel_array

        return pydicom_pixel_array(src, ds_out=ds_out, specific_tags=specific_tags, index=index, raw=raw,
                                   decoding_plugin=decoding_plugin, **kwargs)
    ds, label = open_dataset(src)
    if ds_out is not None and ds_out is not src:
        _copy_pixel_description(ds, ds_out, specific_tags or [])
    frames = None if index is None else range(index, index + 1)
    if index is not None and index < 0:
        raise IndexError(f"{label}: frame index {index} is negative")
    pixels = decode_dataset(ds, label, frames=frames)
    single = index is not None or int(ds.get("NumberOfFrames", 1) or 1) == 1
    return pixels[0] if single else pixels


def _copy_pixel_description(ds, ds_out, tags: list[int]) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.tag import Tag

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        ds_out.file_meta = FileMetaDataset()
        for element in meta:
            ds_out.file_meta.add(element)
    for element in ds:
        if element.tag.group == 0x0028 and element.tag.element < 0x1000 or element.tag in map(Tag, tags):
            ds_out.add(element)


def compress(ds, transfer_syntax_uid, arr=None, *, encoding_plugin="", encapsulate_ext=False,
             generate_instance_uid=True, **kwargs):
    """``ds`` compressed in place to ``transfer_syntax_uid``, frames encoded in parallel: see
    :func:`sonobridge.dicom.codecs.compress` (RLE, JPEG-LS, JPEG 2000, HTJ2K, JPEG, JPEG XL,
    Deflated Image Frame Compression). Returns ``ds``."""
    from .codecs import compress as encode

    return encode(ds, transfer_syntax_uid, arr, encoding_plugin=encoding_plugin, encapsulate_ext=encapsulate_ext,
                  generate_instance_uid=generate_instance_uid, **kwargs)


def decompress(ds, *, as_rgb=True, generate_instance_uid=True, decoding_plugin="", **kwargs):
    """``ds``'s Pixel Data decompressed in place to Explicit VR Little Endian: see
    :func:`sonobridge.dicom.codecs.decompress`. Returns ``ds``."""
    from .codecs import decompress as decode_in_place

    return decode_in_place(ds, as_rgb=as_rgb, generate_instance_uid=generate_instance_uid,
                           decoding_plugin=decoding_plugin, **kwargs)
