"""Benchmark: lossless grey HEVC export and frame-accurate reading, in one run on identical frames.

1. Encode throughput: ``sonobridge`` (PyAV in-process, index + .dnav-toc from the packets) vs the
   ffmpeg command line (Debian's) encoding the same raw frames piped on stdin with the same
   settings (libx265, gray, lossless, ultrafast, keyint 2, closed GOP, no B-frames). Target: ours
   >= 0.9x the CLI's frames per second.
2. The telemed package's own ``export_video`` (ffmpeg CLI, then datanavigator's decode-based
   ``.dnav-toc``) vs ours on the same frames stored as a telemed ``.tvd.h5`` sidecar: total time to
   a finished mp4 + frame index.
3. Random access: 100 random frames of the 2000-frame video, median latency with
   ``sonobridge.VideoReader`` vs naive PyAV seek-and-decode (seek to the frame's time, decode until
   its pts); the index costs no extra pass (written during the encode), a demux-only rebuild is
   timed for reference. Every returned frame is checked against the source. Target: ours (keyint 2,
   at most 2 decodes per frame) >= 5x naive PyAV on the previous default (keyint 30).
4. GOP choices on the first 300 frames: size and encode time of x265's defaults (keyint 250, open
   GOP, B-frames), and each of our settings alone; then the open-GOP trap: frames just before and
   after the keyframe of the x265-default encode, read backwards by both readers (target: ours
   >= 5x naive with 0 wrong frames: the reader's decoded-frame cache).

Frames: 2000 x 600 x 500 uint8, windows of a larger filtered-speckle canvas moving sinusoidally
(±12 px lateral, ±8 px axial) with 15% fresh speckle per frame, like tissue under a probe.

    .venv/bin/python benchmarks/bench_video.py [--quick]

Needs the test extra (PyAV, datanavigator, telemed) and Debian's ffmpeg. Always exits 0.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HEIGHT, WIDTH, FPS = 600, 500, 30


def moving_speckle(n_frames: int, seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    field = rng.standard_normal((2, HEIGHT + 40, WIDTH + 40))
    envelope = np.hypot(gaussian_filter(field[0], (2.0, 1.2)), gaussian_filter(field[1], (2.0, 1.2)))
    canvas = np.clip((20 * np.log10(envelope / np.percentile(envelope, 99.9) + 1e-12) + 60) / 60 * 255, 0, 255)
    canvas = (canvas * np.linspace(1.0, 0.4, HEIGHT + 40)[:, None]).astype(np.uint8)   # depth attenuation
    noise = rng.integers(0, 256, (16, HEIGHT, WIDTH), dtype=np.uint8)
    phase = np.arange(n_frames) * 2 * np.pi / 90
    dy, dx = (20 + 8 * np.sin(phase)).astype(int), (20 + 12 * np.sin(0.7 * phase)).astype(int)
    frames = np.empty((n_frames, HEIGHT, WIDTH), np.uint8)
    for index, (y, x) in enumerate(zip(dy, dx)):     # 15% fresh speckle: tissue partly decorrelates
        fresh = np.roll(noise[index % len(noise)], index * 37, axis=1)
        frames[index] = (0.85 * canvas[y:y + HEIGHT, x:x + WIDTH] + 0.15 * fresh).astype(np.uint8)
    return frames


def stream_of(frames: np.ndarray):
    from sonobridge.core.recording import Provenance, SampleKind, Stream

    clock = (np.arange(len(frames)) * 1e9 / FPS).astype(np.uint64)
    return Stream(name="bench", kind=SampleKind.IMAGE, frame_shape=frames.shape[1:], dtype=np.uint8, frames=frames,
                  clock_source=clock, provenance=Provenance(("bench",), "bench"))


def encode_ours(frames: np.ndarray, path: Path) -> float:
    from sonobridge.formats.video.writer import write_video

    start = time.perf_counter()
    write_video(stream_of(frames), path, fps=FPS)
    return time.perf_counter() - start


def encode_cli(frames: np.ndarray, path: Path, x265_params: str) -> float:
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray",
               "-s", f"{frames.shape[2]}x{frames.shape[1]}", "-r", str(FPS), "-i", "-", "-c:v", "libx265",
               "-pix_fmt", "gray", "-preset", "ultrafast", "-x265-params", x265_params, "-an", str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for frame in frames:
        process.stdin.write(frame.tobytes())
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError("ffmpeg failed")
    return time.perf_counter() - start


def naive_read(container, index: int) -> np.ndarray:
    """What one writes without an index: seek to the frame's time (constant rate assumed) in an
    open container, decode until a frame at or after it."""
    stream = container.streams.video[0]
    target = int(round(index / FPS / stream.time_base))
    container.seek(target, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if frame.pts >= target:
            return frame.to_ndarray(format="gray")
    raise RuntimeError("frame not found")


def read_all(path: Path, frames: np.ndarray, targets: np.ndarray) -> dict[str, tuple[float, int, float]]:
    """Median seconds per frame, wrong frames and mean seconds per frame, sonobridge.VideoReader vs
    naive seeking."""
    import av

    import sonobridge

    results = {}
    with sonobridge.VideoReader(path) as reader, av.open(str(path)) as container:
        for name, read in (("sonobridge", lambda i: reader[i]), ("naive PyAV", lambda i: naive_read(container, i))):
            times, wrong = [], 0
            for target in targets:
                start = time.perf_counter()
                image = read(int(target))
                times.append(time.perf_counter() - start)
                wrong += not np.array_equal(image, frames[target])
            results[name] = (statistics.median(times), wrong, statistics.fmean(times))
    return results


def random_access(path: Path, frames: np.ndarray) -> None:
    from sonobridge.formats.video.index import build_index
    from sonobridge.formats.video.writer import EncoderSettings, write_video

    start = time.perf_counter()
    build_index(path)
    rebuild = time.perf_counter() - start
    targets = np.random.default_rng(7).integers(0, len(frames), 100)
    results = read_all(path, frames, targets)
    print("random access, 100 random frames of our video: " + ", ".join(
        f"{name} median {seconds * 1e3:.1f} ms ({wrong} wrong)" for name, (seconds, wrong, _) in results.items()))
    previous = path.with_name("keyint30.mp4")
    write_video(stream_of(frames), previous, fps=FPS, settings=EncoderSettings(keyint=30))
    naive, naive_wrong, _ = read_all(previous, frames, targets)["naive PyAV"]
    ours, wrong, _ = results["sonobridge"]
    ratio = naive / ours
    print(f"  vs naive PyAV on the previous default (keyint 30): {naive * 1e3:.1f} ms ({naive_wrong} wrong), "
          f"{ratio:.1f}x, size {path.stat().st_size / previous.stat().st_size - 1:+.1%} "
          f"(target >= 5x, 0 wrong: {'PASS' if ratio >= 5 and wrong == 0 else 'BELOW'})")
    print(f"  index: written during the encode (0 extra passes); a demux-only rebuild takes {rebuild:.3f} s")


def open_gop_trap(frames: np.ndarray, folder: Path) -> None:
    """Frames around the keyframe of an x265-default encode (open GOP, B-frames, keyint 250)."""
    path = folder / "x265_default.mp4"
    encode_cli(frames, path, "lossless=1:log-level=error")
    targets = np.arange(244, 256)[::-1]
    results = read_all(path, frames, targets)
    print("x265-default file (open GOP), frames 244..255 read backwards: " + ", ".join(
        f"{name} {wrong}/{len(targets)} wrong, median {seconds * 1e3:.0f} ms, mean {mean * 1e3:.0f} ms"
        for name, (seconds, wrong, mean) in results.items()))
    (_, wrong, ours), (_, _, naive) = results["sonobridge"], results["naive PyAV"]
    print(f"  ours {naive / ours:.1f}x naive by the mean (the first read back decodes the previous GOP once; "
          f"target >= 5x, 0 wrong: {'PASS' if naive / ours >= 5 and wrong == 0 else 'BELOW'})")


def write_telemed_sidecar(frames: np.ndarray, path: Path) -> None:
    """A minimal telemed schema-v1 ``.tvd.h5`` holding ``frames`` as one full-frame B panel."""
    import h5py

    n, height, width = frames.shape
    time_ms = np.arange(n) * 1000.0 / FPS
    with h5py.File(path, "w") as handle:
        handle.create_dataset("frames/gray", data=frames, chunks=(1, height, width))
        handle["timing/time_ms"] = time_ms
        handle["timing/ifi_ms"] = np.diff(time_ms, prepend=0.0)
        handle["timing/frame_idx_1n"] = np.arange(1, n + 1, dtype=np.int32)
        attrs = {"n_frames": n, "full_frame_width": width, "full_frame_height": height, "n_b_images": 1,
                 "roi1_x1": 1, "roi1_x2": width, "roi1_y1": 1, "roi1_y2": height, "roi1_width": width,
                 "roi1_height": height, "schema_version": "v1", "tvd_declared_n_frames": n,
                 "source_tvd_path": "bench.tvd", "extracted_at_iso": "2026-11-21T00:00:00",
                 "physical_dx1_cm_per_px": 0.01, "physical_dy1_cm_per_px": 0.01, "image_dx_cm_per_px": 0.01,
                 "image_dy_cm_per_px": 0.01, "param_b_depth": 60.0, "param_b_is_scan_direction_changed": False}
        handle.attrs.update(attrs)


def versus_telemed(frames: np.ndarray, folder: Path) -> None:
    import logging

    logging.disable(logging.INFO)
    import telemed

    sidecar = folder / "bench.tvd.h5"
    write_telemed_sidecar(frames, sidecar)
    start = time.perf_counter()
    result = telemed.export_video(sidecar, out_dir=folder / "telemed", crop="panel", progress=False)
    theirs = time.perf_counter() - start
    from sonobridge.formats.video.writer import write_video

    start = time.perf_counter()
    with __import__("h5py").File(sidecar, "r") as handle:
        write_video(stream_of(handle["frames/gray"]), folder / "ours_from_h5.mp4", fps=FPS)
    ours = time.perf_counter() - start
    print(f"telemed.export_video (ffmpeg CLI + decode-based .dnav-toc): {theirs:.1f} s {result}")
    print(f"sonobridge from the same .tvd.h5 (encode + index + .dnav-toc): {ours:.1f} s -> {theirs / ours:.2f}x faster")


def gop_table(frames: np.ndarray, folder: Path) -> None:
    variants = {"x265 default (keyint 250, open GOP, B-frames)": "lossless=1:log-level=error",
                "+ closed GOP": "lossless=1:open-gop=0:log-level=error",
                "+ no B-frames": "lossless=1:bframes=0:log-level=error",
                "+ keyint 30 closed": "lossless=1:keyint=30:open-gop=0:log-level=error",
                "keyint 30, closed, no B-frames (previous)":
                    "lossless=1:keyint=30:open-gop=0:bframes=0:log-level=error",
                "ours: keyint 2, closed, no B-frames": "lossless=1:keyint=2:open-gop=0:bframes=0:log-level=error",
                "keyint 1 (all-intra)": "lossless=1:keyint=1:open-gop=0:bframes=0:log-level=error"}
    sizes = {}
    print(f"\nGOP choices, {len(frames)} frames (Debian ffmpeg CLI encodes):")
    for name, params in variants.items():
        path = folder / f"gop{len(sizes)}.mp4"
        seconds = encode_cli(frames, path, params)
        sizes[name] = path.stat().st_size
        first = next(iter(sizes.values()))
        print(f"  {name:42} {sizes[name] / 1e6:8.2f} MB ({sizes[name] / first - 1:+.1%})  "
              f"{len(frames) / seconds:5.1f} fps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 frames")
    args = parser.parse_args()
    frames = moving_speckle(300 if args.quick else 2000)
    params = "lossless=1:keyint=2:open-gop=0:bframes=0:log-level=error"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cli = encode_cli(frames, folder / "cli.mp4", params)
        ours = encode_ours(frames, folder / "ours.mp4")
        cli = min(cli, encode_cli(frames, folder / "cli.mp4", params))
        ours = min(ours, encode_ours(frames, folder / "ours.mp4"))
        ratio = cli / ours
        print(f"encode {len(frames)} x {HEIGHT} x {WIDTH}: sonobridge {len(frames) / ours:.1f} fps "
              f"({(folder / 'ours.mp4').stat().st_size / 1e6:.1f} MB), ffmpeg CLI {len(frames) / cli:.1f} fps "
              f"({(folder / 'cli.mp4').stat().st_size / 1e6:.1f} MB): {ratio:.2f}x "
              f"(target >= 0.9x: {'PASS' if ratio >= 0.9 else 'FAIL'})")
        random_access(folder / "ours.mp4", frames)
        versus_telemed(frames, folder)
        gop_table(frames[:300], folder)
        open_gop_trap(frames[:300], folder)


if __name__ == "__main__":
    sys.exit(main())
