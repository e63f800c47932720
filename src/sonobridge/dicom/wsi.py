"""Whole-slide imaging (DICOM VL Whole Slide Microscopy): an OpenSlide-shaped reader on wsidicom.

>>> s = open_slide("slide_dir")                     # a folder of the slide's .dcm levels  # doctest: +SKIP
>>> s.level_count, s.level_dimensions, s.level_downsamples                                # doctest: +SKIP
>>> rgba = s.read_region((x, y), 1, (w, h))          # (h, w, 4) uint8; (x, y) in LEVEL-0 pixels  # doctest: +SKIP
>>> tile = s.read_tile(0, (3, 2), rgba=False)        # one stored tile, (tile_h, tile_w, 3)   # doctest: +SKIP

Conventions (OpenSlide's): level 0 is the largest; ``location`` is in level-0 pixels, ``size`` in
the requested level's pixels; sizes are ``(width, height)`` = ``(cols, rows)``; arrays are
``(rows, cols, channels)`` uint8. Pixels outside the image and in sparse-missing tiles are
transparent (alpha 0, colour 0) in RGBA and 0 in RGB. Stored frames are numbered in source frame
order (DICOM 1-based unless ``as_index=True``); a level made of several instances (concatenation
parts, focal planes) numbers its frames across them in path order.

Decoding, tile assembly and pyramid selection are wsidicom's (:class:`wsidicom.WsiDicom`); the
frame table (tile position, byte range of each stored frame in its Part-10 file) is read here from
the DICOM headers with pydicom, so a viewer can range-load encoded tiles without decoding.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError, MissingDependencyError, SonobridgeError, UnsupportedInputError, read_faults

logger = logging.getLogger(__name__)

#: SOP Class UID of VL Whole Slide Microscopy Image Storage
WSI_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6"
#: ``frame_index`` of a sparse-missing tile in :meth:`Slide.level_tile_range_grid`
MISSING_FRAME_INDEX = np.iinfo(np.uint64).max
#: columns of the tile range tables
RANGE_COLUMNS = ("source_index", "frame_index", "tile_x", "tile_y", "offset", "length")
#: transfer syntaxes whose pixel data is not encapsulated
_NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                              "1.2.840.10008.1.2.1.99"})
_ITEM_TAG = 0xE000FFFE


class SlideRequestError(SonobridgeError, ValueError):
    """A request a slide cannot answer: a level, tile, frame or region outside it (also a ValueError)."""


class UnsupportedTransformError(SonobridgeError, NotImplementedError):
    """A pixel transform a whole-slide frame read does not apply (also a NotImplementedError)."""


def _wsidicom() -> Any:
    try:
        import wsidicom
    except ImportError:
        raise MissingDependencyError(None, "whole-slide imaging needs wsidicom: pip install 'sonobridge[wsi]'") from None
    return wsidicom


# ----------------------------------------------------------------------------------------------
# typed results


@dataclass(frozen=True)
class LevelDescriptor:
    """What a tiled viewer needs about one pyramid level, read from the headers only.

    Sizes are pixels (``width`` = columns); ``downsample`` is relative to level 0; ``mpp`` is the
    pixel spacing in micrometres (x, y) when the file gives one.
    """

    level: int
    width: int
    height: int
    downsample: float
    tile_width: int
    tile_height: int
    tile_count_x: int
    tile_count_y: int
    frame_count: int
    samples_per_pixel: int
    photometric_interpretation: str
    transfer_syntax: str
    sparse: bool
    mpp: tuple[float, float] | None


@dataclass(frozen=True)
class ViewerLevel:
    """A level descriptor with its source files and (optionally) its dense encoded tile range grid
    (``uint64[tile_count, 6]``, columns :data:`RANGE_COLUMNS`, row-major ``tile_y * tile_count_x + tile_x``)."""

    descriptor: LevelDescriptor
    source_paths: tuple[str, ...]
    ranges: np.ndarray | None


@dataclass(frozen=True)
class ConcatenationPart:
    """One instance of a concatenated level: its path, its first frame's offset in the
    concatenation (0-based) and its In-concatenation Number."""

    path: str
    frame_offset: int
    number: int


@dataclass(frozen=True)
class Concatenation:
    """DICOM Concatenation metadata of a pyramid level: its UID, the total frame count and its parts."""

    uid: str
    total_frames: int
    parts: tuple[ConcatenationPart, ...]


# ----------------------------------------------------------------------------------------------
# the frame table, read from the headers


@dataclass(frozen=True)
class _Source:
    """One Part-10 file of a level: its header and the byte range / position of each frame."""

    path: str
    header: Any                         # pydicom Dataset without pixel data
    offsets: np.ndarray                 # int64[frames] value start of each frame in the file
    lengths: np.ndarray                 # int64[frames]
    fragments: tuple[tuple[tuple[int, int], ...], ...] | None   # per frame (offset, length) items, when > 1
    tiles: np.ndarray                   # int64[frames, 2] (tile_x, tile_y)
    planes: np.ndarray                  # int64[frames] 0 = the first focal plane / optical path


def _read_header(path: str) -> Any:
    from pydicom import dcmread
    with read_faults(path, "unreadable DICOM header"):
        return dcmread(path, stop_before_pixels=True)


def _pixel_value_start(path: str) -> tuple[int, int, bool]:
    """(file position of the Pixel Data value, its length (-1 = undefined), little endian)."""
    import struct

    from pydicom import dcmread
    with read_faults(path, "unreadable pixel data"), open(path, "rb") as fp:
        ds = dcmread(fp, stop_before_pixels=True)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        little = syntax != "1.2.840.10008.1.2.2"
        implicit = syntax == "1.2.840.10008.1.2"
        start = fp.tell()
        head = fp.read(12)
        if len(head) < 8:
            raise FormatError(path, "no pixel data")
        group, element = struct.unpack("<HH" if little else ">HH", head[:4])
        if (group, element) not in ((0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)):
            raise FormatError(path, f"no pixel data (found ({group:04X},{element:04X}))")
        if implicit:
            (length,) = struct.unpack("<I", head[4:8])
            value = start + 8
        else:
            (length,) = struct.unpack("<I" if little else ">I", head[8:12])
            value = start + 12
        return value, (-1 if length == 0xFFFFFFFF else length), little


def _encapsulated_frames(path: str, value: int, frames: int
                         ) -> tuple[np.ndarray, np.ndarray, tuple[tuple[tuple[int, int], ...], ...] | None]:
    """Offsets/lengths of each frame's codestream in an encapsulated Pixel Data value at ``value``."""
    import struct

    from pydicom.encaps import parse_basic_offsets, parse_fragments
    with read_faults(path, "unreadable encapsulated pixel data"), open(path, "rb") as fp:
        fp.seek(value)
        basic = parse_basic_offsets(fp)
        count, starts = parse_fragments(fp)
        items = []
        for start in starts:
            fp.seek(start)
            tag, length = struct.unpack("<II", fp.read(8))
            if tag != _ITEM_TAG:
                raise FormatError(path, "damaged encapsulated pixel data item")
            items.append((start + 8, length))
    if count == frames:
        return (np.array([o for o, _ in items], np.int64), np.array([n for _, n in items], np.int64), None)
    if len(basic) != frames or not items:
        raise FormatError(path, f"{count} fragments for {frames} frames and no usable basic offset table")
    first = items[0][0] - 8
    bounds = [first + b for b in basic] + [items[-1][0] + items[-1][1] + 8]
    grouped = tuple(tuple((o, n) for o, n in items if bounds[k] <= o - 8 < bounds[k + 1]) for k in range(frames))
    offsets = np.array([g[0][0] for g in grouped], np.int64)
    lengths = np.array([g[-1][0] + g[-1][1] - g[0][0] for g in grouped], np.int64)
    return offsets, lengths, grouped


def _frame_positions(path: str, ds: Any, frames: int, first_frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(tile_x, tile_y) and plane index (0: the first focal plane and optical path) of each frame."""
    cols, rows = int(ds.Columns), int(ds.Rows)
    total_cols, total_rows = int(ds.TotalPixelMatrixColumns), int(ds.TotalPixelMatrixRows)
    tiles_x, tiles_y = -(-total_cols // cols), -(-total_rows // rows)
    if str(getattr(ds, "DimensionOrganizationType", "TILED_SPARSE")).upper() == "TILED_FULL":
        index = np.arange(first_frame, first_frame + frames, dtype=np.int64)
        plane = index // (tiles_x * tiles_y)
        local = index % (tiles_x * tiles_y)
        return np.stack([local % tiles_x, local // tiles_x], axis=1), plane
    groups = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    if groups is None or len(groups) != frames:
        raise FormatError(path, "TILED_SPARSE without one Per-frame Functional Groups item per frame")
    tiles = np.zeros((frames, 2), np.int64)
    keys: list[tuple[float, str]] = []
    for k, item in enumerate(groups):
        position = item.PlanePositionSlideSequence[0]
        tiles[k] = ((int(position.ColumnPositionInTotalImagePixelMatrix) - 1) // cols,
                    (int(position.RowPositionInTotalImagePixelMatrix) - 1) // rows)
        path_items = getattr(item, "OpticalPathIdentificationSequence", None)
        keys.append((float(getattr(position, "ZOffsetInSlideCoordinateSystem", 0.0) or 0.0),
                     str(path_items[0].OpticalPathIdentifier) if path_items else ""))
    first = keys[0] if keys else None
    return tiles, np.array([0 if key == first else 1 for key in keys], np.int64)


def _read_source(path: str) -> _Source:
    ds = _read_header(path)
    with read_faults(path, "inconsistent whole-slide header"):
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        first_frame = int(getattr(ds, "ConcatenationFrameOffsetNumber", 0) or 0)
        tiles, planes = _frame_positions(path, ds, frames, first_frame)
        value, length, _ = _pixel_value_start(path)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        fragments = None
        if syntax in _NATIVE_SYNTAXES:
            size = int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated) // 8
            if length >= 0 and length < size * frames:
                raise FormatError(path, f"pixel data holds {length} bytes, {frames} frames need {size * frames}")
            offsets = value + size * np.arange(frames, dtype=np.int64)
            lengths = np.full(frames, size, np.int64)
        else:
            offsets, lengths, fragments = _encapsulated_frames(path, value, frames)
    return _Source(path, ds, offsets, lengths, fragments, tiles, planes)


class _LevelTable:
    """The frames of one level across its source files, in source frame order."""

    def __init__(self, sources: Sequence[_Source]):
        self.sources = tuple(sources)
        header = self.sources[0].header
        self.tile_width, self.tile_height = int(header.Columns), int(header.Rows)
        self.width, self.height = int(header.TotalPixelMatrixColumns), int(header.TotalPixelMatrixRows)
        self.tiles_x = -(-self.width // self.tile_width)
        self.tiles_y = -(-self.height // self.tile_height)
        rows = []
        for s_index, source in enumerate(self.sources):
            for f_index in range(len(source.offsets)):
                rows.append((s_index, f_index, *source.tiles[f_index], source.offsets[f_index],
                             source.lengths[f_index]))
        self.ranges = np.array(rows, dtype=np.uint64).reshape(-1, 6)
        self.planes = np.concatenate([source.planes for source in self.sources])
        self.grid = np.full((self.tiles_y, self.tiles_x), -1, np.int64)
        for row, (tile_x, tile_y) in enumerate(self.ranges[:, 2:4].astype(np.int64)):
            if self.planes[row] == 0 and 0 <= tile_x < self.tiles_x and 0 <= tile_y < self.tiles_y \
                    and self.grid[tile_y, tile_x] < 0:
                self.grid[tile_y, tile_x] = row

    @property
    def sparse(self) -> bool:
        return str(getattr(self.sources[0].header, "DimensionOrganizationType", "")).upper() != "TILED_FULL"

    def frame_bytes(self, row: int) -> bytes:
        source_index, frame_index = int(self.ranges[row, 0]), int(self.ranges[row, 1])
        source = self.sources[source_index]
        pieces = ([(int(source.offsets[frame_index]), int(source.lengths[frame_index]))]
                  if source.fragments is None else source.fragments[frame_index])
        with read_faults(source.path, "unreadable frame"), open(source.path, "rb") as fp:
            data = b""
            for offset, length in pieces:
                fp.seek(offset)
                chunk = fp.read(length)
                if len(chunk) != length:
                    raise FormatError(source.path, f"frame {frame_index + 1} ends before its {length} bytes")
                data += chunk
        return data


# ----------------------------------------------------------------------------------------------
# pixels helpers


def _to_channels(array: np.ndarray, rgba: bool, alpha: np.ndarray | None = None) -> np.ndarray:
    """(rows, cols[, 1|3|4]) -> (rows, cols, 3) RGB or (rows, cols, 4) RGBA; ``alpha`` (bool, True =
    opaque) makes pixels transparent and black."""
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    rgb = np.ascontiguousarray(array[..., :3])
    if alpha is not None:
        rgb[~alpha] = 0
    if not rgba:
        return rgb
    opaque = np.full(rgb.shape[:2], np.iinfo(rgb.dtype).max if rgb.dtype.kind == "u" else 1, rgb.dtype)
    if alpha is not None:
        opaque[~alpha] = 0
    return np.concatenate([rgb, opaque[..., None]], axis=-1)


def _cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    return array if dtype is None else array.astype(dtype, copy=False)


def _icc_transform(profile: bytes, array: np.ndarray) -> np.ndarray:
    """``array`` (rows, cols, 3|4) uint8 converted from ``profile`` to sRGB with LCMS2 (Pillow)."""
    import io

    from PIL import Image, ImageCms
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    rgb = np.asarray(ImageCms.applyTransform(Image.fromarray(np.ascontiguousarray(array[..., :3])), transform))
    return np.concatenate([rgb, array[..., 3:]], axis=-1) if array.shape[-1] == 4 else rgb


def _icc_available() -> bool:
    try:
        from PIL import ImageCms
        ImageCms.createProfile("sRGB")
    except (ImportError, OSError, AttributeError):
        return False
    return True


def _icc_of(header: Any) -> bytes | None:
    """The ICC Profile of a WSI header (first optical path, else the top level)."""
    for item in getattr(header, "OpticalPathSequence", None) or ():
        if "ICCProfile" in item:
            return bytes(item.ICCProfile)
    return bytes(header.ICCProfile) if "ICCProfile" in header else None


# ----------------------------------------------------------------------------------------------
# the slide


class Slide:
    """A whole-slide pyramid (OpenSlide-compatible subset) over a :class:`wsidicom.WsiDicom`.

    Parameters
    ----------
    wsi
        An open ``wsidicom.WsiDicom``; the slide closes it.
    name
        What error messages name (the path the slide was opened from).
    """

    def __init__(self, wsi: Any, name: str | os.PathLike | None = None):
        self._wsi = wsi
        self._name = os.fspath(name) if name is not None else "slide"
        levels = list(wsi.pyramid.levels)
        if not levels:
            raise UnsupportedInputError(self._name, "no whole-slide pyramid level")
        self._levels = sorted(levels, key=lambda level: -level.size.width)
        self._tables: dict[int, _LevelTable] = {}
        from wsidicom.config import get_settings
        self._cache_capacity = int(get_settings().decoded_frame_cache_size)

    # -- context / closing ------------------------------------------------------------------

    def close(self) -> None:
        """Close the slide's files."""
        self._wsi.close()

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Slide({self._name!r}, levels={self.level_dimensions})"

    # -- levels --------------------------------------------------------------------------------

    def _level(self, level: int) -> Any:
        if not isinstance(level, (int, np.integer)) or not 0 <= int(level) < len(self._levels):
            raise SlideRequestError(self._name, f"level {level!r} is not one of 0..{len(self._levels) - 1}")
        return self._levels[int(level)]

    def _index(self, level: int) -> int:
        self._level(level)
        return int(level)

    def _table(self, level: int) -> _LevelTable:
        wsi_level = self._level(level)
        if int(level) not in self._tables:
            paths = self.level_source_paths(level)
            if not paths:
                raise SlideRequestError(self._name, f"level {level} is not file-backed: it has no frame table")
            sources = [_read_source(path) for path in paths]
            sources.sort(key=lambda s: (int(getattr(s.header, "ConcatenationFrameOffsetNumber", 0) or 0), s.path))
            table = _LevelTable(sources)
            if (table.width, table.height) != (wsi_level.size.width, wsi_level.size.height):
                raise FormatError(paths[0], "level header and pixel matrix size disagree")
            self._tables[int(level)] = table
        return self._tables[int(level)]

    @property
    def level_count(self) -> int:
        """Number of pyramid levels."""
        return len(self._levels)

    @property
    def dimensions(self) -> tuple[int, int]:
        """(cols, rows) of level 0."""
        return self.level_dimensions[0]

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """((cols, rows), ...) per level, largest (level 0) first."""
        return tuple((level.size.width, level.size.height) for level in self._levels)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        """Downsample factor of each level relative to level 0 (from the pixel spacing when the
        levels have one, else from the sizes, as OpenSlide does)."""
        base = self._levels[0]
        result = []
        for level in self._levels:
            try:
                result.append(float(level.pixel_spacing.width / base.pixel_spacing.width))
            except (AttributeError, TypeError, ZeroDivisionError):
                result.append((base.size.width / level.size.width + base.size.height / level.size.height) / 2)
        return tuple(result)

    @property
    def level_frame_counts(self) -> tuple[int, ...]:
        """Stored frame count per level in source instance frame order."""
        return tuple(len(self._table(level).ranges) for level in range(self.level_count))

    @property
    def properties(self) -> Mapping[str, str]:
        """OpenSlide-style (``openslide.*``) and DICOM-derived (``dicom.*``) slide metadata as strings."""
        props: dict[str, str] = {"openslide.vendor": "dicom", "openslide.level-count": str(self.level_count)}
        for index, ((width, height), downsample) in enumerate(zip(self.level_dimensions, self.level_downsamples)):
            props[f"openslide.level[{index}].width"] = str(width)
            props[f"openslide.level[{index}].height"] = str(height)
            props[f"openslide.level[{index}].downsample"] = repr(downsample)
            tile = self._levels[index].tile_size
            props[f"openslide.level[{index}].tile-width"] = str(tile.width)
            props[f"openslide.level[{index}].tile-height"] = str(tile.height)
        try:
            mpp = self._levels[0].mpp
            props["openslide.mpp-x"], props["openslide.mpp-y"] = repr(float(mpp.width)), repr(float(mpp.height))
        except (AttributeError, TypeError):
            pass
        paths = self.level_source_paths(0)
        if paths:
            header = self._table(0).sources[0].header
            for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "SeriesInstanceUID",
                            "FrameOfReferenceUID", "ContainerIdentifier", "Manufacturer",
                            "ManufacturerModelName", "DeviceSerialNumber", "SoftwareVersions",
                            "StudyDate", "AcquisitionDateTime", "TransferSyntaxUID"):
                value = header.file_meta.get(keyword) if keyword == "TransferSyntaxUID" else header.get(keyword)
                if value not in (None, ""):
                    props[f"dicom.{keyword}"] = str(value)
            power = next((item.ObjectiveLensPower for item in header.get("OpticalPathSequence", ())
                          if "ObjectiveLensPower" in item), None)
            if power is not None:
                props["openslide.objective-power"] = str(power)
        return props

    def level_descriptor(self, level: int) -> LevelDescriptor:
        """Viewer-oriented metadata for one level without decoding any tile."""
        table = self._table(level)
        header = table.sources[0].header
        mpp = None
        if "SharedFunctionalGroupsSequence" in header:
            try:
                spacing = header.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
                mpp = (float(spacing[1]) * 1000.0, float(spacing[0]) * 1000.0)
            except (AttributeError, IndexError, KeyError):
                mpp = None
        return LevelDescriptor(
            level=int(level), width=table.width, height=table.height,
            downsample=self.level_downsamples[int(level)], tile_width=table.tile_width,
            tile_height=table.tile_height, tile_count_x=table.tiles_x, tile_count_y=table.tiles_y,
            frame_count=len(table.ranges), samples_per_pixel=int(header.SamplesPerPixel),
            photometric_interpretation=str(header.PhotometricInterpretation),
            transfer_syntax=str(header.file_meta.TransferSyntaxUID), sparse=table.sparse, mpp=mpp)

    def viewer_level(self, level: int, *, include_ranges: bool = True) -> ViewerLevel:
        """The level descriptor plus source paths and (``include_ranges``) the dense tile range grid."""
        return ViewerLevel(self.level_descriptor(level), self.level_source_paths(level),
                           self.level_tile_range_grid(level) if include_ranges else None)

    def viewer_levels(self, *, include_ranges: bool = False) -> tuple[ViewerLevel, ...]:
        """:meth:`viewer_level` for every pyramid level, level 0 first."""
        return tuple(self.viewer_level(level, include_ranges=include_ranges) for level in range(self.level_count))

    def level_concatenation(self, level: int) -> Concatenation | None:
        """DICOM Concatenation metadata for a pyramid level, or None when it is not concatenated."""
        table = self._table(level)
        header = table.sources[0].header
        uid = header.get("ConcatenationUID")
        if not uid:
            return None
        parts = tuple(ConcatenationPart(s.path, int(s.header.get("ConcatenationFrameOffsetNumber", 0) or 0),
                                        int(s.header.get("InConcatenationNumber", index + 1) or index + 1))
                      for index, s in enumerate(table.sources) if s.header.get("ConcatenationUID") == uid)
        return Concatenation(str(uid), sum(len(s.offsets) for s in table.sources), parts)

    def level_icc_profile(self, level: int) -> bytes | None:
        """Raw DICOM ICC Profile bytes for one pyramid level, if present."""
        return _icc_of(self._table(level).sources[0].header)

    @property
    def icc_profile(self) -> bytes | None:
        """Raw DICOM ICC Profile bytes for the base pyramid level, if present."""
        return self.level_icc_profile(0)

    @property
    def icc_transform_available(self) -> bool:
        """Whether this build can apply WSI ICC profiles to sRGB via LCMS2 (Pillow's ImageCms)."""
        return _icc_available()

    def _apply_icc(self, array: np.ndarray, apply: bool | None, profile: bytes | None) -> np.ndarray:
        """Stored values unless ``apply`` is True (None: as stored)."""
        if not apply:
            return array
        if profile is None:
            raise SlideRequestError(self._name, "apply_icc_profile=True but the image has no ICC profile")
        if not self.icc_transform_available:
            raise MissingDependencyError(None, "ICC colour management needs Pillow built with LCMS2")
        if array.ndim != 3 or array.shape[-1] not in (3, 4) or array.dtype != np.uint8:
            raise UnsupportedTransformError(self._name, "an ICC profile applies to 8-bit colour pixels only")
        return _icc_transform(profile, array)

    # -- associated images ---------------------------------------------------------------------

    @cached_property
    def _associated(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for kind, series in (("label", self._wsi.labels), ("overview", self._wsi.overviews),
                             ("thumbnail", self._wsi.pyramid.thumbnails)):
            groups = list(series.groups) if series is not None else []
            for index, group in enumerate(groups):
                found[kind if index == 0 else f"{kind}_{index}"] = group
        return found

    @property
    def associated_image_names(self) -> tuple[str, ...]:
        """Names of associated non-pyramid images, e.g. ``label`` or ``overview`` (``thumbnail``)."""
        return tuple(self._associated)

    @property
    def associated_images(self) -> Mapping[str, np.ndarray]:
        """Lazy OpenSlide-style mapping: name -> (rows, cols, 4) RGBA uint8 image."""
        return _AssociatedImages(self)

    def _associated_group(self, name: str) -> Any:
        if name not in self._associated:
            raise SlideRequestError(self._name, f"no associated image {name!r} (has {list(self._associated)})")
        return self._associated[name]

    def associated_image_dimensions(self, name: str) -> tuple[int, int]:
        """(cols, rows) for an associated image, or (0, 0) if absent."""
        group = self._associated.get(name)
        return (0, 0) if group is None else (group.size.width, group.size.height)

    def read_associated_image(self, name: str, *, rgba: bool = True) -> np.ndarray:
        """An associated image as (rows, cols, 4) RGBA or (rows, cols, 3) RGB uint8."""
        group = self._associated_group(name)
        from wsidicom.thread import ReadExecutor
        with read_faults(self._name, f"undecodable associated image {name!r}"), ReadExecutor() as executor:
            return _to_channels(np.asarray(group.get_default_full(executor=executor)), rgba)

    def associated_image_icc_profile(self, name: str) -> bytes | None:
        """Raw DICOM ICC Profile bytes for an associated image, if present."""
        files = getattr(self._associated_group(name).default_instance.image_data, "files", None) or []
        return _icc_of(_read_header(os.fspath(files[0]))) if files else None

    # -- cache --------------------------------------------------------------------------------

    @property
    def tile_cache_capacity(self) -> int:
        """Decoded tile cache capacity in bytes. 0 disables retaining decoded tiles."""
        return self._cache_capacity

    def set_tile_cache_capacity(self, capacity: int) -> None:
        """Set decoded tile cache capacity in bytes for this slide (0: no cache)."""
        if int(capacity) < 0:
            raise SlideRequestError(self._name, f"tile cache capacity {capacity} is negative")
        self._wsi.resize_cache(int(capacity))
        self._cache_capacity = int(capacity)

    # -- regions ------------------------------------------------------------------------------

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The largest level whose downsample does not exceed ``downsample`` (OpenSlide's rule)."""
        best = 0
        for index, factor in enumerate(self.level_downsamples):
            if factor <= float(downsample) * (1 + 1e-9):
                best = index
        return best

    def _missing_alpha(self, level: int, x: int, y: int, width: int, height: int) -> np.ndarray | None:
        """Opaque mask (bool, True = stored) of a region of level pixels, or None when all is stored."""
        if not self.level_source_paths(level):
            return None
        table = self._table(level)
        if (table.grid >= 0).all():
            return None
        tile_w, tile_h = table.tile_width, table.tile_height
        tx = np.clip(np.arange(x, x + width) // tile_w, 0, table.tiles_x - 1)
        ty = np.clip(np.arange(y, y + height) // tile_h, 0, table.tiles_y - 1)
        return table.grid[np.ix_(ty, tx)] >= 0

    def _read_level_region(self, level: int, x: int, y: int, width: int, height: int, rgba: bool) -> np.ndarray:
        """(height, width, 3|4) uint8 of level pixels [y, y+height) x [x, x+width); outside is transparent."""
        wsi_level = self._level(level)
        if width <= 0 or height <= 0:
            raise SlideRequestError(self._name, f"region size ({width}, {height}) is not positive")
        level_w, level_h = wsi_level.size.width, wsi_level.size.height
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + width, level_w), min(y + height, level_h)
        inside = np.zeros((height, width), bool)
        out = np.zeros((height, width, 4 if rgba else 3), np.uint8)
        if x1 <= x0 or y1 <= y0:
            return out
        with read_faults(self._name, "undecodable region"):
            pixels = np.asarray(self._wsi.read_region((x0, y0), wsi_level.level, (x1 - x0, y1 - y0), as_array=True))
        stored = self._missing_alpha(level, x0, y0, x1 - x0, y1 - y0)
        inside[y0 - y:y1 - y, x0 - x:x1 - x] = True if stored is None else stored
        piece = _to_channels(pixels, rgba, None if stored is None else stored)
        out[y0 - y:y1 - y, x0 - x:x1 - x] = piece.astype(np.uint8, copy=False)
        return out

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int], *,
                    rgba: bool = True) -> np.ndarray:
        """A region of one level.

        Parameters
        ----------
        location
            (x, y) of the top-left pixel in LEVEL-0 pixels.
        level
            Pyramid level (0 = largest).
        size
            (w, h) in the level's pixels.
        rgba
            RGBA (default; outside and sparse-missing pixels transparent) or RGB.

        Returns
        -------
        numpy.ndarray
            (h, w, 4) RGBA or (h, w, 3) RGB uint8.
        """
        downsample = self.level_downsamples[self._index(level)]
        x, y = (int(np.floor(v / downsample)) for v in location)
        return self._read_level_region(int(level), x, y, int(size[0]), int(size[1]), rgba)

    def get_thumbnail(self, size: tuple[int, int]) -> np.ndarray:
        """A downscaled RGB overview of the whole slide fitting within ``size`` = (w, h): (rows, cols, 3) uint8."""
        from PIL import Image
        width, height = self.dimensions
        if int(size[0]) <= 0 or int(size[1]) <= 0:
            raise SlideRequestError(self._name, f"thumbnail size {size} is not positive")
        downsample = max(width / int(size[0]), height / int(size[1]))
        level = self.get_best_level_for_downsample(downsample)
        level_w, level_h = self.level_dimensions[level]
        full = self._read_level_region(level, 0, 0, level_w, level_h, rgba=False)
        target = (max(1, round(width / downsample)), max(1, round(height / downsample)))
        return np.asarray(Image.fromarray(full).resize(target, Image.Resampling.LANCZOS))

    # -- tiles --------------------------------------------------------------------------------

    def _check_tile(self, level: int, tile: tuple[int, int]) -> tuple[int, int]:
        table = self._table(level)
        tile_x, tile_y = (int(v) for v in tile)
        if not (0 <= tile_x < table.tiles_x and 0 <= tile_y < table.tiles_y):
            raise SlideRequestError(self._name, f"tile {tuple(tile)} is outside level {level}'s "
                                                f"{table.tiles_x} x {table.tiles_y} tile grid")
        return tile_x, tile_y

    def tile_exists(self, level: int, tile: tuple[int, int]) -> bool:
        """True when zero-based tile = (tile_x, tile_y) has stored pixel data."""
        table = self._table(level)
        tile_x, tile_y = (int(v) for v in tile)
        return bool(0 <= tile_x < table.tiles_x and 0 <= tile_y < table.tiles_y and table.grid[tile_y, tile_x] >= 0)

    def read_tile(self, level: int, tile: tuple[int, int], *, rgba: bool = True,
                  fill_missing: bool = False) -> np.ndarray:
        """One stored tile by zero-based tile = (tile_x, tile_y), cropped to the image (edge tiles are
        smaller): (rows, cols, 4|3) uint8. A sparse-missing tile is an empty (0, 0, c) array, or with
        ``fill_missing`` an all-zero tile (transparent in RGBA)."""
        tile_x, tile_y = self._check_tile(level, tile)
        table = self._table(level)
        width = min(table.tile_width, table.width - tile_x * table.tile_width)
        height = min(table.tile_height, table.height - tile_y * table.tile_height)
        if table.grid[tile_y, tile_x] < 0 and not fill_missing:
            return np.zeros((0, 0, 4 if rgba else 3), np.uint8)
        return self._read_level_region(int(level), tile_x * table.tile_width, tile_y * table.tile_height,
                                       width, height, rgba)

    def read_tiles(self, level: int, tiles: Iterable[tuple[int, int]], *, rgba: bool = True,
                   fill_missing: bool = False) -> list[np.ndarray]:
        """:meth:`read_tile` for each tile, in input order."""
        return [self.read_tile(level, tile, rgba=rgba, fill_missing=fill_missing) for tile in tiles]

    def read_tile_stack(self, level: int, tiles: Iterable[tuple[int, int]], *, rgba: bool = True,
                        fill_missing: bool = False) -> np.ndarray:
        """Full-size tiles as (n, tile_h, tile_w, 4|3) uint8; edge tiles are padded (transparent), a
        sparse-missing tile needs ``fill_missing=True``."""
        table = self._table(level)
        stack = []
        for tile in tiles:
            tile_x, tile_y = self._check_tile(level, tile)
            if table.grid[tile_y, tile_x] < 0 and not fill_missing:
                raise SlideRequestError(self._name, f"tile {tuple(tile)} of level {level} is not stored "
                                                    "(pass fill_missing=True)")
            stack.append(self._read_level_region(int(level), tile_x * table.tile_width,
                                                 tile_y * table.tile_height, table.tile_width,
                                                 table.tile_height, rgba))
        if not stack:
            return np.zeros((0, table.tile_height, table.tile_width, 4 if rgba else 3), np.uint8)
        return np.stack(stack)

    def read_tile_grid(self, level: int, tile: tuple[int, int], grid: tuple[int, int], *, rgba: bool = True,
                       require_existing: bool = False) -> np.ndarray:
        """The tiles [tile_x, tile_x + cols) x [tile_y, tile_y + rows) with ``grid`` = (cols, rows), as
        (rows, cols, tile_h, tile_w, 4|3) uint8: a view of one region read. Missing sparse tiles
        are transparent unless ``require_existing`` rejects them."""
        tile_x, tile_y = self._check_tile(level, tile)
        cols, rows = int(grid[0]), int(grid[1])
        table = self._table(level)
        if cols <= 0 or rows <= 0:
            raise SlideRequestError(self._name, f"tile grid {tuple(grid)} is empty")
        if require_existing:
            block = table.grid[tile_y:tile_y + rows, tile_x:tile_x + cols]
            if block.shape != (rows, cols) or (block < 0).any():
                raise SlideRequestError(self._name, f"the {cols} x {rows} tile grid at {tuple(tile)} of level "
                                                    f"{level} has missing tiles")
        th, tw = table.tile_height, table.tile_width
        region = self._read_level_region(int(level), tile_x * tw, tile_y * th, cols * tw, rows * th, rgba)
        return region.reshape(rows, th, cols, tw, region.shape[-1]).swapaxes(1, 2)

    # -- frames and byte ranges ---------------------------------------------------------------

    def level_source_paths(self, level: int) -> tuple[str, ...]:
        """File-backed source path(s) for a level; memory-backed slides return ()."""
        paths: list[str] = []
        for instance in self._level(level).instances.values():
            for path in getattr(instance.image_data, "files", None) or ():
                if os.fspath(path) not in paths:
                    paths.append(os.fspath(path))
        return tuple(sorted(paths))

    def level_tile_ranges(self, level: int) -> np.ndarray:
        """Encoded tile byte ranges of a level as uint64[frames, 6] in source frame order; columns
        source_index, frame_index, tile_x, tile_y, offset, length (into the Part-10 file
        ``level_source_paths(level)[source_index]``). Decodes nothing."""
        return self._table(level).ranges.copy()

    def level_tile_range_grid(self, level: int) -> np.ndarray:
        """Dense row-major ranges uint64[tile_count, 6] (row ``tile_y * tile_count_x + tile_x``);
        sparse-missing tiles have length 0 and frame_index :data:`MISSING_FRAME_INDEX`."""
        table = self._table(level)
        dense = np.zeros((table.tiles_y * table.tiles_x, 6), np.uint64)
        ys, xs = np.divmod(np.arange(len(dense)), table.tiles_x)
        dense[:, 2], dense[:, 3] = xs, ys
        rows = table.grid.reshape(-1)
        present = rows >= 0
        dense[present] = table.ranges[rows[present]]
        dense[~present, 1] = MISSING_FRAME_INDEX
        return dense

    def tile_range(self, level: int, tile: tuple[int, int]) -> tuple[int, ...] | None:
        """(source_index, frame_index, tile_x, tile_y, offset, length) of one tile, or None for an
        absent or out-of-grid tile."""
        if not self.tile_exists(level, tile):
            return None
        table = self._table(level)
        return tuple(int(v) for v in table.ranges[table.grid[int(tile[1]), int(tile[0])]])

    def _frame_row(self, level: int, frame_number: int, as_index: bool) -> int:
        count = len(self._table(level).ranges)
        row = int(frame_number) - (0 if as_index else 1)
        if not 0 <= row < count:
            first, last = (0, count - 1) if as_index else (1, count)
            raise SlideRequestError(self._name, f"frame {frame_number} of level {level} is not one of {first}..{last}")
        return row

    def level_frame_tile(self, level: int, frame_number: int, *, as_index: bool = False) -> tuple[int, int]:
        """(tile_x, tile_y) of a stored frame (DICOM 1-based ``frame_number`` unless ``as_index``)."""
        row = self._frame_row(level, frame_number, as_index)
        tile_x, tile_y = self._table(level).ranges[row, 2:4]
        return int(tile_x), int(tile_y)

    def level_frame_range(self, level: int, frame_number: int, *, as_index: bool = False) -> tuple[int, ...]:
        """(source_index, frame_index, tile_x, tile_y, offset, length) of a stored frame."""
        return tuple(int(v) for v in self._table(level).ranges[self._frame_row(level, frame_number, as_index)])

    def _decode_frame(self, level: int, row: int) -> np.ndarray:
        table = self._table(level)
        header = table.sources[int(table.ranges[row, 0])].header
        codec = _wsidicom().codec
        from wsidicom.geometry import Size
        data = table.frame_bytes(row)
        path = table.sources[int(table.ranges[row, 0])].path
        with read_faults(path, f"undecodable frame {int(table.ranges[row, 1]) + 1}"):
            decoder = codec.Decoder.create(header.file_meta.TransferSyntaxUID, int(header.SamplesPerPixel),
                                           int(header.BitsStored), Size(table.tile_width, table.tile_height),
                                           str(header.PhotometricInterpretation))
            return np.asarray(decoder.decode(data))

    def get_stored_frame(self, frame_number, *, level=0, as_index=False, dtype=None, rgba=False,
                         fill_missing=False, apply_icc_profile=None) -> np.ndarray:
        """One stored frame (a full tile, (tile_h, tile_w[, 3|4])) of ``level`` in source frame order;
        ``frame_number`` is DICOM 1-based unless ``as_index``. ``apply_icc_profile``: True converts
        to sRGB through the level's ICC profile; None/False keep the stored values. ``fill_missing``
        is accepted for symmetry (every stored frame exists)."""
        row = self._frame_row(level, frame_number, as_index)
        frame = self._decode_frame(level, row)
        if rgba:
            frame = _to_channels(frame, True)
        frame = self._apply_icc(frame, apply_icc_profile, self.level_icc_profile(level))
        return _cast(frame, dtype)

    def get_stored_frames(self, frame_numbers=None, *, level=0, as_indices=False, dtype=None, rgba=False,
                          fill_missing=False, apply_icc_profile=None) -> np.ndarray:
        """Stored frames (n, tile_h, tile_w[, c]); ``frame_numbers`` None reads every frame of the level."""
        if frame_numbers is None:
            count = len(self._table(level).ranges)
            frame_numbers, as_indices = range(count), True
        frames = [self.get_stored_frame(number, level=level, as_index=as_indices, dtype=dtype, rgba=rgba,
                                        fill_missing=fill_missing, apply_icc_profile=apply_icc_profile)
                  for number in frame_numbers]
        if not frames:
            raise SlideRequestError(self._name, "no frame numbers given")
        return np.stack(frames)

    def _refuse_transforms(self, real_world: Any, modality: Any, voi: Any, palette: Any) -> None:
        asked = [name for name, value in (("real world", real_world), ("modality", modality), ("VOI", voi),
                                          ("palette colour LUT", palette)) if value is True]
        if asked:
            raise UnsupportedTransformError(self._name, f"whole-slide frames have no {', '.join(asked)} transform "
                                                        "to apply")

    def get_frame(self, frame_number, *, level=0, as_index=False, dtype=None, rgba=False, fill_missing=False,
                  apply_real_world_transform=None, apply_modality_transform=None, apply_voi_transform=False,
                  apply_palette_color_lut=None, apply_icc_profile=None, **_kwargs) -> np.ndarray:
        """Highdicom-style frame access: :meth:`get_stored_frame`; asking for a real-world, modality,
        VOI or palette transform (True) raises :class:`UnsupportedTransformError` (a NotImplementedError)."""
        self._refuse_transforms(apply_real_world_transform, apply_modality_transform, apply_voi_transform,
                                apply_palette_color_lut)
        return self.get_stored_frame(frame_number, level=level, as_index=as_index, dtype=dtype, rgba=rgba,
                                     fill_missing=fill_missing, apply_icc_profile=apply_icc_profile)

    def get_frames(self, frame_numbers=None, *, level=0, as_indices=False, dtype=None, rgba=False,
                   fill_missing=False, apply_real_world_transform=None, apply_modality_transform=None,
                   apply_voi_transform=False, apply_palette_color_lut=None, apply_icc_profile=None,
                   **_kwargs) -> np.ndarray:
        """Highdicom-style batch frame access (:meth:`get_stored_frames`)."""
        self._refuse_transforms(apply_real_world_transform, apply_modality_transform, apply_voi_transform,
                                apply_palette_color_lut)
        return self.get_stored_frames(frame_numbers, level=level, as_indices=as_indices, dtype=dtype, rgba=rgba,
                                      fill_missing=fill_missing, apply_icc_profile=apply_icc_profile)

    def get_total_pixel_matrix(self, *, row_start=None, row_end=None, column_start=None, column_end=None, level=0,
                               as_indices=False, dtype=None, rgba=False, apply_real_world_transform=None,
                               apply_modality_transform=None, apply_voi_transform=False,
                               apply_palette_color_lut=None, apply_icc_profile=None, **_kwargs) -> np.ndarray:
        """A block of the level's total pixel matrix, (rows, cols, 3|4) uint8.

        Positions are DICOM 1-based (ends are the first position beyond the block) unless
        ``as_indices`` (Python 0-based half-open); None = the matrix edge.
        """
        self._refuse_transforms(apply_real_world_transform, apply_modality_transform, apply_voi_transform,
                                apply_palette_color_lut)
        width, height = self.level_dimensions[self._index(level)]
        base = 0 if as_indices else 1
        r0 = (int(row_start) if row_start is not None else base) - base
        r1 = (int(row_end) if row_end is not None else height + base) - base
        c0 = (int(column_start) if column_start is not None else base) - base
        c1 = (int(column_end) if column_end is not None else width + base) - base
        if not (0 <= r0 < r1 <= height and 0 <= c0 < c1 <= width):
            raise SlideRequestError(self._name, f"rows [{row_start}, {row_end}) / columns [{column_start}, "
                                                f"{column_end}) are not inside level {level}'s {height} x {width}")
        block = self._read_level_region(int(level), c0, r0, c1 - c0, r1 - r0, rgba)
        return _cast(self._apply_icc(block, apply_icc_profile, self.level_icc_profile(level)), dtype)


class _AssociatedImages(Mapping):
    """name -> RGBA image, decoded when looked up."""

    def __init__(self, slide: Slide):
        self._slide = slide

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._slide.associated_image_names:
            raise KeyError(name)
        return self._slide.read_associated_image(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._slide.associated_image_names)

    def __len__(self) -> int:
        return len(self._slide.associated_image_names)


# ----------------------------------------------------------------------------------------------
# opening


def _paths(source: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise UnsupportedInputError(path, "no such file or folder")
        return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    paths = [Path(p) for p in source]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UnsupportedInputError(missing[0], "no such file")
    return paths


def open_slide(filename: str | os.PathLike | Iterable[str | os.PathLike]) -> Slide:
    """Open a slide from a directory of its .dcm instances, a list of paths, or a single
    multi-level file. Drop-in for ``openslide.open_slide`` (returns a :class:`Slide`).

    Raises
    ------
    UnsupportedInputError
        Nothing at the path, or no whole-slide pyramid among the files.
    FormatError
        Whole-slide files that cannot be read.
    """
    wsidicom = _wsidicom()
    name = os.fspath(filename) if isinstance(filename, (str, os.PathLike)) else "slide"
    paths = _paths(filename)
    try:
        wsi = wsidicom.WsiDicom.open(paths)
    except wsidicom.errors.WsiDicomNotFoundError as error:
        raise UnsupportedInputError(name, f"no whole-slide pyramid among the files ({error})") from None
    except Exception as error:  # noqa: BLE001 - wsidicom, marshmallow and pydicom errors on damaged files
        raise FormatError(name, f"unreadable whole-slide image ({type(error).__name__}: {error})") from None
    try:
        return Slide(wsi, name)
    except SonobridgeError:
        wsi.close()
        raise


def open_slides(filenames: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, Slide]:
    """Open every WSI slide found under a directory or path list.

    Returns ``{slide_key: Slide}`` with ``slide_key`` the FrameOfReferenceUID (else the Study
    Instance UID). Non-WSI files and WSI groups without a VOLUME instance are skipped.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError
    groups: dict[str, list[Path]] = {}
    volumes: set[str] = set()
    for path in _paths(filenames):
        try:
            header = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, AttributeError):
            continue
        if str(header.get("SOPClassUID", "")) != WSI_SOP_CLASS:
            continue
        key = str(header.get("FrameOfReferenceUID") or header.get("StudyInstanceUID") or "")
        groups.setdefault(key, []).append(path)
        image_type = [str(v).upper() for v in (header.get("ImageType") or ())]
        if len(image_type) > 2 and image_type[2] == "VOLUME":
            volumes.add(key)
    return {key: open_slide(paths) for key, paths in groups.items() if key in volumes}
