"""Compressing and decompressing a dataset's Pixel Data in place, frames encoded in parallel.

:func:`compress` encodes every frame with imagecodecs' encoders on a thread pool (the codecs release
the GIL) for these transfer syntaxes (:data:`ENCODERS`; colour = what 3-sample RGB is written as):

* RLE Lossless (1.2.840.10008.1.2.5): pydicom's RLE encoder; colour kept.
* JPEG-LS lossless / near-lossless (4.80 / 4.81): CharLS; colour kept (no colour transform).
* JPEG 2000 lossless / lossy (4.90 / 4.91): OpenJPEG, J2K codestream; RGB -> YBR_RCT / YBR_ICT.
* HTJ2K lossless / lossless RPCL (with TLM) / lossy (4.201 / 4.202 / 4.203): OpenJPH, RPCL
  progression; RGB -> YBR_RCT / YBR_ICT.
* JPEG baseline / extended 12-bit (4.50 / 4.51): libjpeg-turbo; RGB -> YBR_FULL_422.
* JPEG XL lossless / JPEG recompression / lossy (4.110 / 4.111 / 4.112): libjxl; RGB. 4.111 of a
  dataset that is already 8-bit JPEG transcodes its frames losslessly (the JPEG's photometric and
  history stay); of other pixels it encodes JPEG (YBR_FULL_422) first.
* Deflated Image Frame Compression (1.2.840.10008.1.2.8.1): libdeflate, raw DEFLATE of each
  frame's native bytes; colour kept.

The Photometric Interpretation written names what the codestream holds: JPEG 2000 codes RGB with its
multiple-component transform, labelled YBR_RCT (reversible) or YBR_ICT (irreversible) as PS3.5 A.4.4
requires. Lossy syntaxes set Lossy Image Compression ``"01"`` with the ratio and method appended.

Options (keywords of :func:`compress`, pydicom's names where pydicom has them): ``jls_error``
(JPEG-LS near-lossless error, default 2), ``j2k_psnr`` (JPEG 2000 lossy: one PSNR in dB, default
45), ``htj2k_qstep`` (HTJ2K 4.203 quantisation step, default 0.005), ``jpeg_quality`` (JPEG, default
90), ``jxl_distance`` (JPEG XL 4.112 Butteraugli distance, default 1.0), ``deflate_level`` (default
6), ``threads`` (default: every CPU). Options imagecodecs has no equivalent for (``j2k_cr``, several
quality layers) and an ``encoding_plugin`` go to pydicom's own :func:`pydicom.pixels.compress`.

:func:`decompress` decodes with :func:`sonobridge.dicom.pixels.decode_dataset` (every syntax above).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FormatError
from .pixels import (BIG_ENDIAN, DEFLATED_FRAMES, JPEG_8_12, NATIVE, RLE, PixelLayout, _require_codecs,
                     decode_dataset, decoded_photometric, native_frames)

EXPLICIT_LE = "1.2.840.10008.1.2.1"
JPEG_XL_RECOMPRESSION = "1.2.840.10008.1.2.4.111"
SMALL = 1 << 16                 # frames below this many bytes in total are encoded on the calling thread


@dataclass(frozen=True)
class Encoder:
    """How one transfer syntax is written."""

    name: str
    lossy: bool                  # the result is lossy (Lossy Image Compression "01")
    method: str                  # Lossy Image Compression Method (0028,2114) defined term
    bits: tuple[int, ...]        # Bits Stored the codec takes
    colour: str                  # "keep", "j2k" (RGB -> YBR_RCT/ICT), "jpeg" (-> YBR_FULL_422), "rgb"


ENCODERS = {
    RLE: Encoder("rle", False, "", tuple(range(1, 17)), "keep"),
    "1.2.840.10008.1.2.4.80": Encoder("jpeg-ls", False, "ISO_14495_1", tuple(range(2, 17)), "keep"),
    "1.2.840.10008.1.2.4.81": Encoder("jpeg-ls-near", True, "ISO_14495_1", tuple(range(2, 17)), "keep"),
    "1.2.840.10008.1.2.4.90": Encoder("j2k", False, "ISO_15444_1", tuple(range(1, 17)), "j2k"),
    "1.2.840.10008.1.2.4.91": Encoder("j2k-lossy", True, "ISO_15444_1", tuple(range(1, 17)), "j2k"),
    "1.2.840.10008.1.2.4.201": Encoder("htj2k", False, "ISO_15444_15", tuple(range(1, 17)), "j2k"),
    "1.2.840.10008.1.2.4.202": Encoder("htj2k-rpcl", False, "ISO_15444_15", tuple(range(1, 17)), "j2k"),
    "1.2.840.10008.1.2.4.203": Encoder("htj2k-lossy", True, "ISO_15444_15", tuple(range(1, 17)), "j2k"),
    "1.2.840.10008.1.2.4.50": Encoder("jpeg", True, "ISO_10918_1", (8,), "jpeg"),
    "1.2.840.10008.1.2.4.51": Encoder("jpeg-12", True, "ISO_10918_1", (8, 12), "jpeg"),
    "1.2.840.10008.1.2.4.110": Encoder("jxl", False, "ISO_18181_1", tuple(range(1, 17)), "rgb"),
    "1.2.840.10008.1.2.4.111": Encoder("jxl-jpeg", True, "ISO_18181_1", (8,), "jpeg"),
    "1.2.840.10008.1.2.4.112": Encoder("jxl-lossy", True, "ISO_18181_1", tuple(range(1, 17)), "rgb"),
    DEFLATED_FRAMES: Encoder("deflate", False, "", tuple(range(1, 65)), "keep"),
}
#: options this module reads (other keywords make :func:`compress` hand over to pydicom)
OPTIONS = {"jls_error", "j2k_psnr", "htj2k_qstep", "jpeg_quality", "jxl_distance", "deflate_level", "threads"}


# ---------------------------------------------------------------- frame encoders
def _strip_spiff(data: bytes) -> bytes:
    """A JPEG-LS stream without CharLS' SPIFF header (APP8 ``SPIFF``, its end-of-directory entry and
    the second SOI): DICOM's JPEG-LS streams start with SOI then the frame."""
    if data[2:4] != b"\xff\xe8" or data[6:11] != b"SPIFF":
        return data
    at = 4 + int.from_bytes(data[4:6], "big")                   # after the SPIFF header segment
    while data[at:at + 2] == b"\xff\xe8":                         # directory entries
        length = int.from_bytes(data[at + 2:at + 4], "big")
        entry = int.from_bytes(data[at + 4:at + 8], "big")
        if entry == 1 and data[at + 8:at + 10] == b"\xff\xd8":    # end of directory: its length covers an SOI
            return data[at + 8:]
        at += 2 + length
    return data


def _frame_encoder(syntax: str, layout: PixelLayout, options: dict[str, Any]) -> Callable[[np.ndarray], bytes]:
    """A function: one frame ``(rows, columns[, samples])`` -> its encoded bytes. Signed samples go
    to the codecs that only take unsigned ones (JPEG-LS, JPEG XL lossless) as their two's complement
    in Bits Stored bits, which the decoder sign-extends back (as pydicom does for JPEG-LS)."""
    encode = _unsigned_encoder(syntax, layout, options)
    if not layout.signed or syntax not in UNSIGNED_ONLY:
        return encode
    unsigned = np.dtype(f"u{layout.dtype.itemsize}")
    mask = unsigned.type((1 << layout.bits_stored) - 1)
    return lambda frame: encode(frame.view(unsigned) & mask)


#: syntaxes whose codecs take unsigned samples only (signed data goes as two's complement)
UNSIGNED_ONLY = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.110"}
#: lossy syntaxes refused for signed data (two's complement would put a cliff at zero)
NO_SIGNED = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.111",
             "1.2.840.10008.1.2.4.112"}


def _unsigned_encoder(syntax: str, layout: PixelLayout, options: dict[str, Any]) -> Callable[[np.ndarray], bytes]:
    codecs = _require_codecs()
    rgb = layout.samples == 3 and layout.photometric == "RGB"
    bits = layout.bits_stored
    if syntax == RLE:
        from pydicom.pixels.encoders import RLELosslessEncoder

        kwargs = dict(rows=layout.rows, columns=layout.columns, samples_per_pixel=layout.samples,
                      bits_allocated=layout.bits_allocated, bits_stored=bits, number_of_frames=1,
                      pixel_representation=int(layout.signed), photometric_interpretation=layout.photometric,
                      planar_configuration=0)
        return lambda frame: bytes(RLELosslessEncoder.encode(frame, **kwargs))
    if syntax in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"):
        error = int(options.get("jls_error", 2)) if syntax.endswith("81") else 0
        return lambda frame: _strip_spiff(codecs.jpegls_encode(frame, level=error, out=frame.nbytes * 2 + 4096))
    if syntax in ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"):
        lossless = syntax.endswith("90")
        psnr = 0 if lossless else float(np.ravel(options.get("j2k_psnr", 45))[0])
        return lambda frame: codecs.jpeg2k_encode(frame, level=psnr, codecformat="J2K", reversible=lossless,
                                                  mct=rgb, bitspersample=bits)
    if syntax.startswith("1.2.840.10008.1.2.4.20"):
        lossless = not syntax.endswith("203")
        qstep = None if lossless else float(options.get("htj2k_qstep", 0.005))
        return lambda frame: codecs.htj2k_encode(frame, level=qstep, reversible=lossless, rgb=rgb,
                                                 tlm=syntax.endswith("202"))
    if syntax in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.111"):
        quality = int(options.get("jpeg_quality", 90))
        colour = dict(colorspace="RGB", outcolorspace="YCbCr", subsampling="422") if rgb else {}
        precision = 12 if layout.bits_allocated == 16 else 8
        if syntax.endswith("111"):
            return lambda frame: codecs.jpegxl_encode_jpeg(codecs.jpeg8_encode(frame, level=quality, **colour))
        return lambda frame: codecs.jpeg8_encode(frame, level=quality, bitspersample=precision, **colour)
    if syntax in ("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.112"):
        lossless = syntax.endswith("110")
        distance = None if lossless else float(options.get("jxl_distance", 1.0))
        return lambda frame: codecs.jpegxl_encode(frame, lossless=lossless or None, distance=distance,
                                                  bitspersample=bits, usecontainer=False)
    if syntax == DEFLATED_FRAMES:
        level = int(options.get("deflate_level", 6))
        return lambda frame: codecs.deflate_encode(_native_bytes(frame, layout), level=level, raw=True)
    raise ValueError(f"cannot compress to transfer syntax {syntax}")


def _native_bytes(frame: np.ndarray, layout: PixelLayout) -> bytes:
    """One frame as native little-endian Pixel Data bytes (1-bit data packed)."""
    if layout.bits_allocated == 1:
        return np.packbits(frame.ravel(), bitorder="little").tobytes()
    return np.ascontiguousarray(frame, frame.dtype.newbyteorder("<")).tobytes()


def encode_all(frames: np.ndarray, encode: Callable[[np.ndarray], bytes], threads: int | None = None) -> list[bytes]:
    """``encode`` applied to each frame of ``frames`` (frames axis first), on a thread pool when the
    frames are large enough to gain from it; results in frame order."""
    if len(frames) == 1 or frames.nbytes < SMALL:
        return [bytes(encode(frame)) for frame in frames]
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        return [bytes(data) for data in pool.map(encode, frames)]


# ---------------------------------------------------------------- the frames to encode
def _source_frames(ds, arr: np.ndarray | None, label: str) -> tuple[np.ndarray, PixelLayout]:
    """The stored values to encode, frames axis first, and the layout they follow."""
    if arr is None:
        if "PixelData" not in ds:
            raise FormatError(label, "no pixel data to compress")
        layout = PixelLayout.of(ds, label)
        if layout.transfer_syntax in NATIVE:
            frames = native_frames(ds.PixelData, layout, layout.n_frames, label)
            photometric = "YBR_FULL" if layout.photometric == "YBR_FULL_422" else layout.photometric
        else:                                                         # re-encode: decode first
            frames = decode_dataset(ds, label)
            photometric = decoded_photometric(layout)
        if frames.dtype.byteorder == ">" or layout.transfer_syntax == BIG_ENDIAN:
            frames = frames.astype(frames.dtype.newbyteorder("="))
        return frames, _replace(layout, photometric=photometric, transfer_syntax=EXPLICIT_LE)
    layout = PixelLayout.of(ds, label)
    expected = layout.shape if layout.n_frames > 1 else layout.shape[1:]
    if arr.shape not in (expected, layout.shape):
        raise ValueError(f"arr has shape {arr.shape}, the dataset describes {expected}")
    if arr.dtype.kind not in "ui" or arr.dtype.itemsize * 8 != layout.bits_allocated and layout.bits_allocated != 1:
        raise ValueError(f"arr dtype {arr.dtype} does not match Bits Allocated {layout.bits_allocated}")
    return arr.reshape(layout.shape), _replace(layout, transfer_syntax=EXPLICIT_LE)


def _replace(layout: PixelLayout, **changes) -> PixelLayout:
    from dataclasses import replace

    return replace(layout, **changes)


def _colour_for(encoder: Encoder, frames: np.ndarray, layout: PixelLayout) -> tuple[np.ndarray, PixelLayout, str]:
    """Frames converted as the encoder needs, the layout they follow and the photometric to write."""
    photometric = layout.photometric
    if layout.samples == 3 and photometric.startswith("YBR") and encoder.colour in ("jpeg", "rgb", "j2k"):
        from pydicom.pixels import convert_color_space

        frames = convert_color_space(frames, "YBR_FULL", "RGB")       # these code RGB themselves
        layout = _replace(layout, photometric="RGB")
        photometric = "RGB"
    if layout.samples == 3 and photometric == "RGB":
        if encoder.colour == "jpeg":
            photometric = "YBR_FULL_422"
        elif encoder.colour == "j2k":
            photometric = "YBR_ICT" if encoder.lossy else "YBR_RCT"
    return frames, layout, photometric


# ---------------------------------------------------------------- the dataset
def compress(ds, transfer_syntax_uid: str, arr: np.ndarray | None = None, *, encoding_plugin: str = "",
             encapsulate_ext: bool = False, generate_instance_uid: bool = True, **kwargs: Any):
    """Compress the Pixel Data of ``ds`` in place to ``transfer_syntax_uid``.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        With the Image Pixel module describing the pixels (as :func:`pydicom.pixels.compress` needs);
        its Pixel Data may be native or already compressed (decoded first).
    transfer_syntax_uid : str
        A key of :data:`ENCODERS`.
    arr : numpy.ndarray, optional
        The stored values to compress instead of the dataset's Pixel Data, shaped
        ``([frames,] rows, columns[, samples])`` and typed as the dataset describes.
    encoding_plugin : str
        A pydicom encoding plugin: when given, pydicom's own ``compress`` does the work.
    encapsulate_ext : bool
        Add an Extended Offset Table (always added when the frames need more than 4 GiB).
    generate_instance_uid : bool
        Give the dataset a new SOP Instance UID (and the file meta's media storage UID).
    **kwargs
        Codec options (see the module docstring).

    Returns
    -------
    pydicom.dataset.Dataset
        ``ds``, with Transfer Syntax UID, Pixel Data (encapsulated, OB), Photometric
        Interpretation, Planar Configuration and, for lossy results, Lossy Image Compression
        (ratio, method) updated.

    Raises
    ------
    ValueError
        An unknown transfer syntax, or ``arr``/bit depth the codec cannot take.
    FormatError
        The dataset's pixels cannot be read.
    """
    from pydicom.dataset import FileMetaDataset

    syntax = str(transfer_syntax_uid)
    if encoding_plugin or set(kwargs) - OPTIONS or np.size(kwargs.get("j2k_psnr", 0)) > 1:   # pydicom's options
        from pydicom.pixels import compress as pydicom_compress

        return pydicom_compress(ds, syntax, arr, encoding_plugin=encoding_plugin, encapsulate_ext=encapsulate_ext,
                                generate_instance_uid=generate_instance_uid, **kwargs) or ds
    if syntax not in ENCODERS:
        raise ValueError(f"cannot compress to transfer syntax {syntax}: one of {', '.join(ENCODERS)}")
    encoder = ENCODERS[syntax]
    label = str(getattr(ds, "filename", None) or "<dataset>")
    if syntax == JPEG_XL_RECOMPRESSION and arr is None and _jpeg_8_bit(ds, label):
        return _recompress_jpeg(ds, label, encapsulate_ext, generate_instance_uid, kwargs.get("threads"))
    frames, layout = _source_frames(ds, arr, label)
    if layout.bits_stored not in encoder.bits or syntax in NO_SIGNED and layout.signed:
        raise ValueError(f"{encoder.name} cannot code {'signed ' if layout.signed else ''}"
                         f"{layout.bits_stored}-bit samples")
    frames, layout, photometric = _colour_for(encoder, frames, layout)
    encoded = encode_all(frames, _frame_encoder(syntax, layout, kwargs), kwargs.get("threads"))
    _store(ds, encoded, encapsulate_ext)
    if not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PhotometricInterpretation = photometric
    if layout.samples > 1:
        ds.PlanarConfiguration = 0
    if encoder.lossy:
        _mark_lossy(ds, encoder, frames.nbytes, sum(map(len, encoded)))
    if generate_instance_uid:
        _new_instance_uid(ds)
    return ds


def _jpeg_8_bit(ds, label: str) -> bool:
    """Whether the Pixel Data of ``ds`` is already 8-bit JPEG (baseline or extended) frames."""
    if "PixelData" not in ds:
        return False
    layout = PixelLayout.of(ds, label)
    return layout.transfer_syntax in JPEG_8_12 and layout.bits_allocated == 8


def _recompress_jpeg(ds, label: str, extended: bool, new_uid: bool, threads: int | None):
    """JPEG frames transcoded losslessly into JPEG XL (4.111): the JPEG can be rebuilt bit for bit,
    so nothing is lost again and the photometric (the JPEG's) and lossy history stay."""
    from pydicom.encaps import generate_frames

    codecs = _require_codecs()
    layout = PixelLayout.of(ds, label)
    jpegs = [bytes(frame) for frame in generate_frames(ds.PixelData, number_of_frames=layout.n_frames)]
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        encoded = [bytes(data) for data in pool.map(codecs.jpegxl_encode_jpeg, jpegs)]
    _store(ds, encoded, extended)
    ds.file_meta.TransferSyntaxUID = JPEG_XL_RECOMPRESSION
    if new_uid:
        _new_instance_uid(ds)
    return ds


def _store(ds, encoded: list[bytes], extended: bool) -> None:
    """Encapsulated Pixel Data (with an Extended Offset Table when asked or needed)."""
    from pydicom.encaps import encapsulate, encapsulate_extended

    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in ds:
            delattr(ds, keyword)
    if extended or sum(len(e) + 8 for e in encoded) >= 2 ** 32:
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(encoded)
    else:
        ds.PixelData = encapsulate(encoded, has_bot=len(encoded) > 1)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True


def _mark_lossy(ds, encoder: Encoder, raw: int, stored: int) -> None:
    """Lossy Image Compression "01" with this step's ratio and method appended to any earlier ones."""
    from pydicom.valuerep import DSfloat

    def values(keyword: str) -> list:
        value = ds.get(keyword) if ds.get("LossyImageCompression") == "01" else None
        return [] if value in (None, "") else [value] if isinstance(value, (str, float, int)) else list(value)

    ratios, methods = values("LossyImageCompressionRatio"), values("LossyImageCompressionMethod")
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = [*ratios, DSfloat(f"{raw / max(stored, 1):.4g}")]
    ds.LossyImageCompressionMethod = [*methods, encoder.method]


def _new_instance_uid(ds) -> None:
    from pydicom.uid import generate_uid

    ds.SOPInstanceUID = generate_uid()
    if hasattr(ds, "file_meta"):
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def decompress(ds, *, as_rgb: bool = True, generate_instance_uid: bool = True, decoding_plugin: str = "",
               **kwargs: Any):
    """Decompress the Pixel Data of ``ds`` in place to Explicit VR Little Endian.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        With encapsulated Pixel Data and the file meta's Transfer Syntax UID.
    as_rgb : bool
        YCbCr becomes RGB (Photometric Interpretation updated). ``False`` (keep YCbCr), a
        ``decoding_plugin`` or decoder ``kwargs`` hand the work to pydicom's ``decompress``.
    generate_instance_uid : bool
        Give the dataset a new SOP Instance UID.

    Returns
    -------
    pydicom.dataset.Dataset
        ``ds`` with native Pixel Data (even length; OB for 8 bits or fewer, else OW), Photometric
        Interpretation and Planar Configuration (0) matching it.
    """
    if not as_rgb or decoding_plugin or kwargs:
        from pydicom.pixels import decompress as pydicom_decompress

        return pydicom_decompress(ds, as_rgb=as_rgb, generate_instance_uid=generate_instance_uid,
                                  decoding_plugin=decoding_plugin, **kwargs) or ds
    label = str(getattr(ds, "filename", None) or "<dataset>")
    layout = PixelLayout.of(ds, label)
    if layout.transfer_syntax in NATIVE:
        raise ValueError(f"{label}: the pixel data is not compressed ({layout.transfer_syntax})")
    pixels = decode_dataset(ds, label)
    ds.PhotometricInterpretation = decoded_photometric(layout)
    data = _native_bytes(pixels, layout)
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = data + b"\0" * (len(data) % 2)
    ds["PixelData"].VR = "OB" if layout.bits_allocated <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    if layout.samples > 1:
        ds.PlanarConfiguration = 0
    ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
    if generate_instance_uid:
        _new_instance_uid(ds)
    return ds
