"""EchoNet-Dynamic (``EchoNet-Dynamic/Videos/*.avi``, 112 x 112 greyscale apical-4-chamber cines)
to zea files, as zea's ``zea convert echonet``.

Layout: ``<dst>/{train,val,test,rejected}/<video>.hdf5`` and ``<dst>/split.yaml`` (the file names
of each split). Each video is decoded with PyAV (greyscale as OpenCV's ITU-R 601 luma of the
decoded BGR frames), scaled from [0, 255] to [0, 1] and its background outside the scan cone set
to 0 (the cone edges of zea's converter). A video whose first frame has an empty lower-left corner
or a dim right edge is *rejected*: stored as ``image/values`` ``(n_frames, 112, 112)`` float32 dB
(the Cartesian frames mapped to [-60, 0] dB). Accepted videos are resampled to a polar grid (radius
0..107 pixels x angle +-0.79 rad, cubic Clough-Tocher interpolation over the Delaunay
triangulation of the pixel centres, 0 outside the cone), clipped to [0, 1] and stored as
``image/values`` ``(n_frames, 112, 112, 1)`` float32 dB.

Splits, as zea: accepted videos fill ``val`` (first 500), ``test`` (next 500) and ``train`` in the
order of their file names (zea assigns them in the order its workers finish; ours is
reproducible). The option ``split_path`` (a folder holding a ``split.yaml``) reproduces a previous
split; a ``split.yaml`` already in the destination is followed for the videos it names.

Frames are decoded and resampled in blocks (:data:`BLOCK_FRAMES`), never a whole video at once;
the triangulation is built once per process, not once per frame (zea's ``griddata`` rebuilds it
for every frame, which makes the same arithmetic ~30x slower).
"""
from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from ....errors import FormatError, MissingDependencyError, UnsupportedInputError, read_faults
from .job import DatasetJob, SequentialFrames, write_text_if_changed, write_zea

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test", "rejected")
N_VAL, N_TEST = 500, 500
BLOCK_FRAMES = 64
DB_RANGE = (-60.0, 0.0)
CONE_TIP = (61, 7)                 # (column, row) of the cone apex, pixels
CONE_RADIUS = 107                  # pixels
CONE_HALF_ANGLE = 0.79             # radians
DESCRIPTION = "EchoNet dataset converted to zea format"


# ------------------------------------------------------------------ decoding
def _gray_bgr(bgr: np.ndarray) -> np.ndarray:
    """OpenCV's BGR -> grey: ITU-R 601 luma in 14-bit fixed point, rounded."""
    b, g, r = (bgr[..., i].astype(np.uint32) for i in range(3))
    return ((b * 1868 + g * 9617 + r * 4899 + 8192) >> 14).astype(np.uint8)


def avi_blocks(path: Path, block: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """The frames of the video at ``path`` as greyscale uint8 blocks ``(<=block, height, width)``."""
    try:
        import av
    except ImportError:
        raise MissingDependencyError(path, "reading AVI videos needs PyAV: pip install 'sonobridge[datasets]'") from None
    with read_faults(path, "not a readable video", also=(av.FFmpegError,)), av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames: list[np.ndarray] = []
        for frame in container.decode(stream):
            frames.append(_gray_bgr(frame.to_ndarray(format="bgr24")))
            if len(frames) == block:
                yield np.stack(frames)
                frames = []
        if frames:
            yield np.stack(frames)


def first_frame(path: Path) -> np.ndarray:
    """The first frame of the video at ``path``, greyscale uint8."""
    for frames in avi_blocks(path, 1):
        return frames[0]
    raise FormatError(path, "holds no video frames")


def frame_count(path: Path) -> int:
    """The number of frames of the video at ``path`` (decoded: AVI headers may not say)."""
    return sum(len(block) for block in avi_blocks(path))


# ------------------------------------------------------------------ the cone
def _cone_edges() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The cone's upper edge (column, row: pixels above are background) and lower corners
    (row, column: pixels from there down are background), as zea's converter draws them."""
    top = np.concatenate([np.linspace(67, 7, 61), np.linspace(7, 57, 51)]).astype(np.int32)
    upper = [(column, int(row)) for column, row in enumerate(top)]
    left_rows = [102, 103, 103, 104, 104, 105, 105, 106, 106, 107, 107, 107, 108, 108, 109, 109, 109, 110, 110,
                 111, 111]
    right_rows = [111, 111, 111, 110, 110, 110, 109, 109, 109, 108, 108, 107, 107, 107, 106, 106, 105, 105, 104,
                  104, 103, 103, 102]
    columns = np.concatenate([np.linspace(0, 20, 21), np.linspace(89, 111, 23)]).astype(np.int32)
    lower = [(row, int(column)) for row, column in zip(left_rows + right_rows, columns)]
    return upper, lower


def mask_cone(frames: np.ndarray) -> np.ndarray:
    """``frames`` ``(n, 112, 112)`` with the background outside the cone set to 0 (in place)."""
    upper, lower = _cone_edges()
    for column, row in upper:
        frames[:, 0:row - 1, column] = 0
    for row, column in lower:
        frames[:, row:, column] = 0
    return frames


def accepted(frame: np.ndarray) -> bool:
    """Whether a masked [0, 1] frame ``(112, 112)`` shows the whole cone: its lower-left corner
    holds signal and its right edge (beyond the 100 brightest samples) sums to 5 or more."""
    lower = np.linspace(78, 47, 21).astype(np.int32)
    upper = np.linspace(67, 47, 21).astype(np.int32)
    corner = sum(np.sum(frame[upper[i]:lower[i], i]) for i in range(21))
    columns = np.linspace(70, 111, 42).astype(np.int32)
    start = np.linspace(17, 57, 42).astype(np.int32)
    stop = np.linspace(17, 80, 42).astype(np.int32)
    edge = sorted((float(v) for i, c in enumerate(columns) for v in frame[start[i]:stop[i], c]), reverse=True)
    return bool(corner >= 0.1 and sum(edge[100:]) >= 5)


def scaled(frames: np.ndarray) -> np.ndarray:
    """uint8 frames as float64 in [0, 1], background masked."""
    return mask_cone(frames / 255.0)


# ------------------------------------------------------------------ polar resampling
@functools.lru_cache(maxsize=4)
def polar_geometry(rows: int, cols: int):
    """The Delaunay triangulation of the pixel centres (cone apex at the origin, depth along +x)
    and the polar sample points ``(cols * rows, 2)`` (angle-major), for ``(rows, cols)`` frames."""
    from scipy.spatial import Delaunay

    tip_col, tip_row = CONE_TIP
    x, y = np.meshgrid(np.linspace(-tip_col, cols - tip_col - 1, cols), np.linspace(-tip_row, rows - tip_row - 1, rows))
    pixels = np.column_stack((x.ravel(), y.ravel()))
    turn = np.radians(-90)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    pixels = (rotation @ pixels.T).T
    radius, angle = np.meshgrid(np.linspace(0, CONE_RADIUS, rows),
                                np.linspace(-CONE_HALF_ANGLE, CONE_HALF_ANGLE, cols))
    samples = np.column_stack(((radius * np.cos(angle)).ravel(), (radius * np.sin(angle)).ravel()))
    return Delaunay(pixels), samples


def to_polar(frames: np.ndarray) -> np.ndarray:
    """Masked [0, 1] frames ``(n, rows, cols)`` resampled to the polar grid ``(n, rows, cols)``
    (depth down the rows, angle across the columns), float64 clipped to [0, 1]."""
    from scipy.interpolate import CloughTocher2DInterpolator

    n, rows, cols = frames.shape
    triangulation, samples = polar_geometry(rows, cols)
    polar = np.empty((n, rows, cols))
    for index, frame in enumerate(frames):      # one frame at a time: faster than all columns at once
        values = CloughTocher2DInterpolator(triangulation, frame.ravel(), fill_value=0)(samples)
        polar[index] = np.rot90(values.reshape(cols, rows), k=-1)
    return np.clip(polar, 0, 1)


def to_db(values: np.ndarray) -> np.ndarray:
    """[0, 1] values mapped linearly to [-60, 0] dB, float32."""
    low, high = DB_RANGE
    return (low + values * (high - low)).astype(np.float32)


# ------------------------------------------------------------------ plan / convert / finish
def videos_folder(source: Path) -> Path:
    """The folder of the ``.avi`` files: ``EchoNet-Dynamic/Videos``, ``Videos`` or ``source`` itself."""
    for folder in (source / "EchoNet-Dynamic" / "Videos", source / "Videos", source):
        if folder.is_dir() and any(folder.glob("*.avi")):
            return folder
    if (source / "EchoNet-Dynamic.zip").exists():
        raise UnsupportedInputError(source, "unzip EchoNet-Dynamic.zip first (the videos are read from "
                                            "EchoNet-Dynamic/Videos)")
    raise UnsupportedInputError(source, "no EchoNet-Dynamic videos (EchoNet-Dynamic/Videos/*.avi)")


def read_split(path: Path) -> dict[str, str]:
    """``split.yaml`` at ``path`` as output file name -> split."""
    import yaml

    with read_faults(path, "not a split.yaml"):
        content = yaml.safe_load(path.read_text()) or {}
        return {str(name): str(split) for split, names in content.items() for name in (names or [])}


def _first_frame_accepted(video: Path) -> bool:
    """Whether the first frame of ``video`` is accepted (an unreadable video counts as accepted:
    its job fails, naming the problem)."""
    try:
        return accepted(scaled(first_frame(video)[None])[0])
    except FormatError:
        return True


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per video; the split from ``split_path``, the destination's ``split.yaml`` or
    the first frames (decoded here, one frame per video)."""
    videos = sorted(videos_folder(source).glob("*.avi"))
    split_of: dict[str, str] = {}
    if options.get("split_path"):
        given = Path(str(options["split_path"]))
        split_of = read_split(given / "split.yaml" if given.is_dir() else given)
    elif (destination / "split.yaml").exists():
        split_of = read_split(destination / "split.yaml")
    unsplit = [video for video in videos if f"{video.stem}.hdf5" not in split_of]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:     # FFmpeg decodes without the GIL
        verdicts = dict(zip(unsplit, pool.map(_first_frame_accepted, unsplit)))
    jobs, n_accepted = [], sum(1 for split in split_of.values() if split != "rejected")
    for video in videos:
        name = f"{video.stem}.hdf5"
        split = split_of.get(name)
        if split is None:
            ok = verdicts[video]
            if ok:
                n_accepted += 1
            split = ("rejected" if not ok else "val" if n_accepted <= N_VAL
                     else "test" if n_accepted <= N_VAL + N_TEST else "train")
        if split not in SPLITS:
            raise FormatError(None, f"split {split!r} of {name} is not one of {', '.join(SPLITS)}")
        jobs.append(DatasetJob("echonet", (video,), destination / split / name, (("split", split),)))
    return jobs


def convert(job: DatasetJob) -> None:
    """Write the video of ``job`` as a polar (accepted) or Cartesian (rejected) dB image."""
    video = job.sources[0]
    frame = first_frame(video)
    if frame.shape != (112, 112):
        raise FormatError(video, f"frames are {frame.shape[1]}x{frame.shape[0]} pixels, EchoNet's 112x112")
    n_frames = frame_count(video)
    split = job.option("split")
    if (split != "rejected") != accepted(scaled(frame[None])[0]):
        raise FormatError(video, f"its first frame {'is' if split == 'rejected' else 'is not'} accepted, "
                                 f"but the split puts it in {split}")
    if split == "rejected":
        shape, convert_block = (n_frames, 112, 112), lambda block: to_db(scaled(block))
    else:
        shape, convert_block = (n_frames, 112, 112, 1), lambda block: to_db(to_polar(scaled(block)))[..., None]
    values = SequentialFrames(shape, np.float32, lambda: (convert_block(b) for b in avi_blocks(video)))
    write_zea(job.output, {"image": {"values": values}}, probe={"name": "generic"}, description=DESCRIPTION)


def finish(source: Path, destination: Path, options: Mapping[str, object]) -> None:
    """Write ``split.yaml`` (the file names in each split folder) and create the split folders."""
    import yaml

    listing = {}
    for split in SPLITS:
        folder = destination / split
        folder.mkdir(parents=True, exist_ok=True)
        listing[split] = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    write_text_if_changed(destination / "split.yaml", yaml.safe_dump(listing))
