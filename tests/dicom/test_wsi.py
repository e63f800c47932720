"""sonobridge.dicom.wsi on small whole-slide images written by wsidicom's own writer
(:meth:`wsidicom.WsiDicom.save` from an in-memory tiled RGB array): levels, tiles, regions, stored
frames and their byte ranges compared with the source pixels; bad input raises our errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("wsidicom")

from PIL import Image as PILImage  # noqa: E402
from pydicom import dcmread  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402
from wsidicom import WsiDicom  # noqa: E402
from wsidicom.codec import Encoder, RleSettings  # noqa: E402
from wsidicom.geometry import Size, SizeMm  # noqa: E402
from wsidicom.instance import ImageData, WsiInstance  # noqa: E402
from wsidicom.metadata import (Equipment, Image, ImageType, Label, Patient, Pyramid, Series,  # noqa: E402
                               Slide as SlideMetadata, SlideSample, Study, WsiMetadata)
from wsidicom.metadata.schema.dicom.wsi import WsiMetadataDicomSchema  # noqa: E402
from wsidicom.source import Source  # noqa: E402

from sonobridge.dicom import wsi  # noqa: E402
from sonobridge.errors import FormatError, SonobridgeError, UnsupportedInputError  # noqa: E402

TILE = 64
SPACING_MM = 0.0005


class _ArrayImageData(ImageData):
    """A tiled, uncompressed RGB image held in memory (what a scanner adapter hands wsidicom)."""

    def __init__(self, pixels: np.ndarray):
        self._pixels = pixels
        super().__init__(Encoder.create(ExplicitVRLittleEndian, 8, "RGB"))

    transfer_syntax = property(lambda self: ExplicitVRLittleEndian)
    image_size = property(lambda self: Size(self._pixels.shape[1], self._pixels.shape[0]))
    tile_size = property(lambda self: Size(TILE, TILE))
    pixel_spacing = property(lambda self: SizeMm(SPACING_MM, SPACING_MM))
    imaged_size = property(lambda self: None)
    samples_per_pixel = property(lambda self: 3)
    photometric_interpretation = property(lambda self: "RGB")
    bits = property(lambda self: 8)
    image_coordinate_system = property(lambda self: None)
    thread_safe = property(lambda self: True)
    lossy_compression = property(lambda self: None)
    transcoder = property(lambda self: None)

    def get_decoded_tile(self, tile_point, z, path, cache=True):
        tile = np.zeros((TILE, TILE, 3), np.uint8)
        part = self._pixels[tile_point.y * TILE:(tile_point.y + 1) * TILE, tile_point.x * TILE:(tile_point.x + 1) * TILE]
        tile[:part.shape[0], :part.shape[1]] = part
        return tile

    def get_encoded_tile(self, tile, z, path):
        return self.encoder.encode(self.get_decoded_tile(tile, z, path))


class _ArraySource(Source):
    def __init__(self, pixels: np.ndarray, label: np.ndarray | None = None):
        super().__init__()
        metadata = WsiMetadata(
            study=Study(uid=generate_uid()), series=Series(uid=generate_uid()), patient=Patient(),
            equipment=Equipment(),
            slide=SlideMetadata(identifier="slide-1", samples=[SlideSample(identifier="s-1", uid=generate_uid())]),
            pyramid=Pyramid(image=Image(), optical_paths=[], uid=generate_uid()), label=Label(),
            frame_of_reference_uid=generate_uid(), dimension_organization_uids=[generate_uid()])
        dataset = WsiMetadataDicomSchema().dump(metadata, ImageType.VOLUME)
        self._instance = WsiInstance.create_instance(_ArrayImageData(pixels), dataset, ImageType.VOLUME, 0)
        self._labels = [] if label is None else [WsiInstance.create_label(
            PILImage.fromarray(label), WsiMetadataDicomSchema().dump(metadata, ImageType.LABEL))]

    base_dataset = property(lambda self: self._instance.dataset)
    level_instances = property(lambda self: [self._instance])
    label_instances = property(lambda self: self._labels)
    overview_instances = property(lambda self: [])
    thumbnail_instances = property(lambda self: [])
    annotation_instances = property(lambda self: [])

    def close(self):
        pass


def write_slide(folder: Path, pixels: np.ndarray, label: np.ndarray | None = None, **save) -> Path:
    """``pixels`` (rows, cols, 3) uint8 as a DICOM WSI pyramid (wsidicom adds the dyadic levels),
    with an optional label image."""
    folder.mkdir(parents=True, exist_ok=True)
    with WsiDicom(_ArraySource(pixels, label)) as slide:
        slide.save(folder, add_missing_levels=True, workers=1, **save)
    return folder


PIXELS = np.random.default_rng(7).integers(0, 256, (200, 300, 3), dtype=np.uint8)
LABEL = np.tile(np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None], (30, 1, 3))


@pytest.fixture(scope="module")
def slide_dir(tmp_path_factory) -> Path:
    return write_slide(tmp_path_factory.mktemp("wsi") / "native", PIXELS, LABEL)


@pytest.fixture(scope="module")
def rle_dir(tmp_path_factory) -> Path:
    """The same pixels RLE-compressed (encapsulated pixel data, lossless)."""
    return write_slide(tmp_path_factory.mktemp("wsi") / "rle", PIXELS, transcoding=RleSettings())


@pytest.fixture(scope="module")
def sparse_dir(slide_dir, tmp_path_factory) -> Path:
    """The native slide with level 0 rewritten TILED_SPARSE and tile (1, 1) (frame 7) left out."""
    folder = tmp_path_factory.mktemp("wsi") / "sparse"
    folder.mkdir()
    for path in slide_dir.glob("*.dcm"):
        ds = dcmread(path)
        if ds.ImageType[2] == "VOLUME" and int(ds.TotalPixelMatrixColumns) == 300:
            size = TILE * TILE * 3
            keep = [k for k in range(20) if k != 6]
            ds.PixelData = b"".join(ds.PixelData[k * size:(k + 1) * size] for k in keep)
            ds.NumberOfFrames = len(keep)
            ds.DimensionOrganizationType = "TILED_SPARSE"
            items = []
            for k in keep:
                position = Dataset()
                position.ColumnPositionInTotalImagePixelMatrix = (k % 5) * TILE + 1
                position.RowPositionInTotalImagePixelMatrix = (k // 5) * TILE + 1
                position.XOffsetInSlideCoordinateSystem = 0
                position.YOffsetInSlideCoordinateSystem = 0
                position.ZOffsetInSlideCoordinateSystem = 0
                item = Dataset()
                item.PlanePositionSlideSequence = [position]
                items.append(item)
            ds.PerFrameFunctionalGroupsSequence = items
        ds.save_as(folder / path.name)
    return folder


@pytest.fixture()
def slide(slide_dir):
    with wsi.open_slide(slide_dir) as opened:
        yield opened


def test_levels_follow_the_pyramid(slide):
    assert slide.level_count == 4
    assert slide.level_dimensions == ((300, 200), (150, 100), (75, 50), (38, 25))
    assert slide.level_downsamples == (1.0, 2.0, 4.0, 8.0)
    assert slide.level_frame_counts == (5 * 4, 3 * 2, 2 * 1, 1)
    assert slide.get_best_level_for_downsample(1.0) == 0
    assert slide.get_best_level_for_downsample(3.9) == 1
    assert slide.get_best_level_for_downsample(100) == 3
    descriptor = slide.level_descriptor(1)
    assert (descriptor.width, descriptor.height, descriptor.tile_count_x, descriptor.tile_count_y) == (150, 100, 3, 2)
    assert descriptor.mpp == pytest.approx((1.0, 1.0)) and not descriptor.sparse
    props = slide.properties
    assert props["openslide.level-count"] == "4" and props["openslide.mpp-x"] == "0.5"
    assert props["openslide.level[2].width"] == "75" and props["dicom.ContainerIdentifier"] == "slide-1"


def test_regions_are_the_source_pixels(slide):
    region = slide.read_region((10, 20), 0, (50, 40))
    assert region.shape == (40, 50, 4) and region.dtype == np.uint8
    np.testing.assert_array_equal(region[..., :3], PIXELS[20:60, 10:60])
    assert (region[..., 3] == 255).all()
    rgb = slide.read_region((250, 150), 0, (50, 50), rgba=False)
    np.testing.assert_array_equal(rgb, PIXELS[150:200, 250:300])


def test_a_region_past_the_edge_is_transparent(slide):
    region = slide.read_region((280, 190), 0, (50, 40))
    np.testing.assert_array_equal(region[:10, :20, :3], PIXELS[190:, 280:])
    assert (region[:10, :20, 3] == 255).all()
    assert (region[10:, :, :] == 0).all() and (region[:, 20:, :] == 0).all()
    assert (slide.read_region((-10, -10), 0, (5, 5)) == 0).all()


def test_upper_levels_match_wsidicom_and_the_downsampled_source(slide, slide_dir):
    with WsiDicom.open(slide_dir) as reference:
        expected = np.asarray(reference.read_region((0, 0), 1, (150, 100), as_array=True))
    # location in level-0 pixels, size in level-1 pixels
    region = slide.read_region((40, 20), 1, (30, 20), rgba=False)
    np.testing.assert_array_equal(region, expected[10:30, 20:50])
    mean = PIXELS.reshape(100, 2, 150, 2, 3).mean(axis=(1, 3))
    assert np.abs(expected.astype(float) - mean).mean() < 2.0


def test_tiles(slide):
    tile = slide.read_tile(0, (1, 2))
    assert tile.shape == (64, 64, 4)
    np.testing.assert_array_equal(tile[..., :3], PIXELS[128:192, 64:128])
    edge = slide.read_tile(0, (4, 3), rgba=False)               # the image's bottom-right corner
    np.testing.assert_array_equal(edge, PIXELS[192:, 256:])
    tiles = slide.read_tiles(0, [(0, 0), (4, 3)], rgba=False)
    np.testing.assert_array_equal(tiles[1], edge)
    stack = slide.read_tile_stack(0, [(0, 0), (4, 3)], rgba=False)
    assert stack.shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(stack[1, :8, :44], edge)
    assert (stack[1, 8:] == 0).all()
    grid = slide.read_tile_grid(0, (1, 1), (3, 2), rgba=False)
    assert grid.shape == (2, 3, 64, 64, 3)
    np.testing.assert_array_equal(grid[1, 2], PIXELS[128:192, 192:256])
    assert slide.tile_exists(0, (4, 3)) and not slide.tile_exists(0, (5, 0))


def test_stored_frames_and_their_byte_ranges(slide):
    # TILED_FULL: frame k (1-based) is tile ((k-1) % 5, (k-1) // 5)
    assert slide.level_frame_tile(0, 7) == (1, 1)
    assert slide.level_frame_tile(0, 6, as_index=True) == (1, 1)
    frame = slide.get_stored_frame(7)
    np.testing.assert_array_equal(frame, PIXELS[64:128, 64:128])
    assert slide.get_frame(6, as_index=True, dtype=np.float32).dtype == np.float32
    frames = slide.get_stored_frames([1, 2], rgba=True)
    assert frames.shape == (2, 64, 64, 4)
    np.testing.assert_array_equal(frames[1, ..., :3], PIXELS[:64, 64:128])
    assert slide.get_frames(level=3).shape == (1, 64, 64, 3)
    ranges = slide.level_tile_ranges(0)
    assert ranges.dtype == np.uint64 and ranges.shape == (20, 6)
    path = slide.level_source_paths(0)[0]
    data = Path(path).read_bytes()
    source, index, tile_x, tile_y, offset, length = slide.level_frame_range(0, 7)
    assert (source, index, tile_x, tile_y, length) == (0, 6, 1, 1, 64 * 64 * 3)
    np.testing.assert_array_equal(np.frombuffer(data[offset:offset + length], np.uint8).reshape(64, 64, 3), frame)
    grid = slide.level_tile_range_grid(0)
    assert grid.shape == (20, 6)
    assert tuple(int(v) for v in grid[1 * 5 + 1]) == slide.tile_range(0, (1, 1)) == slide.level_frame_range(0, 7)
    assert slide.tile_range(0, (9, 9)) is None
    assert slide.viewer_level(0).ranges.shape == (20, 6)
    assert [v.descriptor.level for v in slide.viewer_levels()] == [0, 1, 2, 3]
    assert slide.level_concatenation(0) is None


def test_total_pixel_matrix(slide):
    block = slide.get_total_pixel_matrix(row_start=2, row_end=5, column_start=3, column_end=7)   # 1-based
    np.testing.assert_array_equal(block, PIXELS[1:4, 2:6])
    block = slide.get_total_pixel_matrix(row_start=1, row_end=4, column_start=2, column_end=6, as_indices=True)
    np.testing.assert_array_equal(block, PIXELS[1:4, 2:6])
    np.testing.assert_array_equal(slide.get_total_pixel_matrix(), PIXELS)


def test_encapsulated_frames_are_range_loadable(rle_dir):
    """RLE-compressed (encapsulated) levels: same pixels, ranges point at each frame's codestream."""
    with wsi.open_slide(rle_dir) as slide:
        assert slide.level_descriptor(0).transfer_syntax == "1.2.840.10008.1.2.5"
        np.testing.assert_array_equal(slide.read_region((10, 20), 0, (50, 40), rgba=False), PIXELS[20:60, 10:60])
        np.testing.assert_array_equal(slide.get_stored_frame(7), PIXELS[64:128, 64:128])
        corner = slide.get_stored_frame(20)                          # a full stored tile, padded by the writer
        np.testing.assert_array_equal(corner[:8, :44], PIXELS[192:, 256:])
        _, _, _, _, offset, length = slide.level_frame_range(0, 1)
        data = Path(slide.level_source_paths(0)[0]).read_bytes()[offset:offset + length]
        segments = np.frombuffer(data[:64], "<u4")                   # the RLE header of one frame
        assert segments[0] == 3 and segments[1] == 64 and length > 64


def test_sparse_missing_tiles(sparse_dir):
    with wsi.open_slide(sparse_dir) as slide:
        assert slide.level_descriptor(0).sparse and slide.level_frame_counts[0] == 19
        assert not slide.tile_exists(0, (1, 1)) and slide.tile_exists(0, (2, 1))
        region = slide.read_region((60, 60), 0, (10, 10))
        assert (region[:4, :, 3] == 255).all() and (region[4:, 4:] == 0).all()   # tile (1, 1) starts at 64
        np.testing.assert_array_equal(region[:4, :, :3], PIXELS[60:64, 60:70])
        assert slide.read_tile(0, (1, 1)).shape == (0, 0, 4)
        filled = slide.read_tile(0, (1, 1), fill_missing=True)
        assert filled.shape == (64, 64, 4) and not filled.any()
        with pytest.raises(wsi.SlideRequestError):
            slide.read_tile_stack(0, [(1, 1)])
        with pytest.raises(wsi.SlideRequestError):
            slide.read_tile_grid(0, (0, 0), (2, 2), require_existing=True)
        assert not slide.read_tile_grid(0, (0, 0), (2, 2))[1, 1].any()
        grid = slide.level_tile_range_grid(0)
        assert grid[6, 1] == wsi.MISSING_FRAME_INDEX and grid[6, 5] == 0
        assert slide.tile_range(0, (1, 1)) is None
        assert slide.level_frame_tile(0, 7) == (2, 1)          # frame 7 is now tile (2, 1)
        np.testing.assert_array_equal(slide.get_stored_frame(7), PIXELS[64:128, 128:192])


def test_associated_images_and_thumbnail(slide):
    assert "label" in slide.associated_image_names
    assert slide.associated_image_dimensions("label") == (40, 30)
    assert slide.associated_image_dimensions("overview") == (0, 0)
    label = slide.associated_images["label"]
    assert label.shape == (30, 40, 4)
    assert np.abs(label[..., :3].astype(int) - LABEL).mean() < 8          # JPEG baseline
    assert slide.read_associated_image("label", rgba=False).shape == (30, 40, 3)
    thumbnail = slide.get_thumbnail((100, 100))
    assert thumbnail.shape == (67, 100, 3) and thumbnail.dtype == np.uint8
    small = np.asarray(PILImage.fromarray(PIXELS).resize((100, 67), PILImage.Resampling.BOX)).astype(float)
    assert np.abs(thumbnail.astype(float) - small).mean() < 40     # random texture: only the mean survives
    assert abs(thumbnail.mean() - PIXELS.mean()) < 3


def test_cache_and_icc(slide):
    assert slide.tile_cache_capacity > 0
    slide.set_tile_cache_capacity(0)
    assert slide.tile_cache_capacity == 0
    np.testing.assert_array_equal(slide.read_tile(0, (0, 0), rgba=False), PIXELS[:64, :64])
    assert isinstance(slide.icc_transform_available, bool)
    profile = slide.icc_profile
    assert profile is None or isinstance(profile, bytes)
    assert slide.level_icc_profile(0) == profile
    if profile is None:
        with pytest.raises(wsi.SlideRequestError):
            slide.get_stored_frame(1, apply_icc_profile=True)


def test_an_icc_profile_is_read_and_applied(slide_dir, tmp_path):
    from PIL import ImageCms
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for path in slide_dir.glob("*.dcm"):
        ds = dcmread(path)
        if ds.ImageType[2] == "VOLUME":
            optical = Dataset()
            optical.OpticalPathIdentifier = "1"
            optical.ICCProfile = srgb
            ds.OpticalPathSequence = [optical]
        ds.save_as(tmp_path / path.name)
    with wsi.open_slide(tmp_path) as slide:
        assert slide.icc_profile == srgb == slide.level_icc_profile(2)
        if slide.icc_transform_available:                   # sRGB -> sRGB: the stored values, give or take 1
            converted = slide.get_stored_frame(1, apply_icc_profile=True).astype(int)
            assert np.abs(converted - PIXELS[:64, :64]).max() <= 2


def test_open_slides_groups_by_frame_of_reference(slide_dir, rle_dir, tmp_path):
    (tmp_path / "not-dicom.txt").write_text("hello")
    slides = wsi.open_slides([*sorted(slide_dir.glob("*.dcm")), *sorted(rle_dir.glob("*.dcm")),
                              tmp_path / "not-dicom.txt"])
    try:
        uids = {str(dcmread(next(slide_dir.glob("*.dcm")), stop_before_pixels=True).FrameOfReferenceUID),
                str(dcmread(next(rle_dir.glob("*.dcm")), stop_before_pixels=True).FrameOfReferenceUID)}
        assert set(slides) == uids
        assert all(s.level_count == 4 for s in slides.values())
    finally:
        for opened in slides.values():
            opened.close()


def test_bad_requests_raise_our_errors(slide):
    for call in (lambda: slide.read_region((0, 0), 4, (10, 10)), lambda: slide.read_tile(0, (5, 0)),
                 lambda: slide.get_stored_frame(0), lambda: slide.get_stored_frame(21),
                 lambda: slide.read_region((0, 0), 0, (0, 10)), lambda: slide.read_associated_image("macro"),
                 lambda: slide.get_total_pixel_matrix(row_start=0), lambda: slide.set_tile_cache_capacity(-1)):
        with pytest.raises(wsi.SlideRequestError):
            call()
    with pytest.raises(wsi.UnsupportedTransformError):
        slide.get_frame(1, apply_voi_transform=True)
    with pytest.raises(NotImplementedError):               # highdicom's contract, kept
        slide.get_frames([1], apply_modality_transform=True)


def test_bad_input_raises_our_errors(tmp_path, slide_dir):
    with pytest.raises(UnsupportedInputError):
        wsi.open_slide(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SonobridgeError):
        wsi.open_slide(tmp_path / "empty")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for path in slide_dir.glob("*.dcm"):
        (damaged / path.name).write_bytes(path.read_bytes()[:2000])
    with pytest.raises(SonobridgeError) as raised:
        with wsi.open_slide(damaged) as opened:
            opened.read_region((0, 0), 0, (300, 200))
            opened.level_tile_ranges(0)
    assert "damaged" in str(raised.value)
    assert issubclass(wsi.SlideRequestError, ValueError) and issubclass(FormatError, SonobridgeError)
