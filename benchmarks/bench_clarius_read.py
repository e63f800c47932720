"""Benchmark: open a 100-frame Clarius RF capture and touch every frame.

Compares sonobridge against a per-frame loop written the way Clarius' Python reference reader
(``read_rf``) reads a ``.raw`` file. Run from the repository root:

    .venv/bin/python benchmarks/bench_clarius_read.py

The capture is synthetic (random int16 samples) but laid out exactly like a real one, and is
written to a temporary directory that is removed afterwards. Always exits 0: this is a report.
"""
from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sonobridge.clarius
import sonobridge.formats

FRAMES, LINES, SAMPLES, SAMPLE_SIZE = 100, 192, 3120, 2
RF_ID = 2
REPEATS = 5
TARGET_RATIO = 5.0
TARGET_GBPS = 1.0


# --------------------------------------------------------------------------- synthetic capture

def write_capture(folder: Path) -> Path:
    """Write ``bench_rf.raw`` and ``bench_rf.yml`` into ``folder``; return the .raw path."""
    rng = np.random.default_rng(0)
    raw = folder / "bench_rf.raw"
    with open(raw, "wb") as out:
        out.write(struct.pack("<5I", RF_ID, FRAMES, LINES, SAMPLES, SAMPLE_SIZE))
        for k in range(FRAMES):
            out.write(struct.pack("<Q", 1_000_000_000 + k * 90_000_000))
            samples = rng.integers(-32768, 32768, size=(LINES, SAMPLES), dtype=np.int16)
            out.write(samples.astype("<i2").tobytes())
    line_entries = "".join(f"  - {{rx element: {i}, tx element: 0.5, angle: 0 °}}\n"
                           for i in range(LINES))
    yml = ("# raw data parameters\n"
           "\n"
           f"frames: {FRAMES}\n"
           "frame rate: 11 Hz\n"
           "transmit frequency: 10 MHz\n"
           "imaging depth: 40 mm\n"
           "focal depth: 20 mm\n"
           "tgc: { 0.00mm, 23.00dB }{ 40.00mm, 26.00dB }\n"
           f"size: {{samples per line: {SAMPLES}, number of lines: {LINES}, "
           f"sample size: {SAMPLE_SIZE} bytes}}\n"
           "type: RF\n"
           "compression: none\n"
           "sampling rate: 60 MHz\n"
           "delay samples: 62\n"
           "lines:\n" + line_entries)
    (folder / "bench_rf.yml").write_text(yml, encoding="utf-8")
    return raw


# --------------------------------------------------------------------------- the two readers

def reference_read(path: Path):
    """Per-frame loop in the style of the vendor reference reader.

    Header fields one at a time with ``int.from_bytes``, a preallocated ``(lines, samples,
    frames)`` array, then per frame: an 8-byte timestamp and one ``np.frombuffer`` of the samples.
    """
    with open(path, "rb") as f:
        header = {}
        for name in ("id", "frames", "lines", "samples", "samplesize"):
            header[name] = int.from_bytes(f.read(4), "little")
        n_frames, n_lines, n_samples = header["frames"], header["lines"], header["samples"]
        timestamps = np.zeros(n_frames, dtype=np.int64)
        data = np.zeros((n_lines, n_samples, n_frames), dtype=np.int16)
        frame_bytes = n_lines * n_samples * 2
        for k in range(n_frames):
            timestamps[k] = int.from_bytes(f.read(8), "little")
            data[:, :, k] = np.frombuffer(f.read(frame_bytes), dtype=np.int16).reshape(n_lines, n_samples)
    return header, timestamps, data


def ours_touch_frames(path: Path, buf: np.ndarray):
    """Open through sonobridge, read the clock, copy every frame into ``buf``."""
    rec = sonobridge.formats.open_recording(path)
    stream = rec.streams["rf"]
    clock = stream.clock
    for k in range(stream.n_frames):
        np.copyto(buf, stream.frames[k])
    return clock


def ours_read_rf_sum(path: Path) -> int:
    _header, _timestamps, data = sonobridge.clarius.read_rf(path)
    return int(np.asarray(data).sum(dtype=np.int64))


def reference_sum(path: Path) -> int:
    _header, _timestamps, data = reference_read(path)
    return int(data.sum(dtype=np.int64))


# --------------------------------------------------------------------------- timing helpers

def best_of(variants: dict[str, callable], repeats: int) -> dict[str, float]:
    """Best wall time of each variant over ``repeats`` rounds, the variants interleaved."""
    best = {name: float("inf") for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW TARGET"


def main() -> int:
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_capture(Path(tmp))
        size = raw.stat().st_size
        raw.read_bytes()  # warm the page cache

        # correctness, once, outside timing
        ref_header, ref_ts, ref_data = reference_read(raw)
        rec = sonobridge.formats.open_recording(raw)
        stream = rec.streams["rf"]
        ours_frames = np.asarray(stream.frames)
        assert stream.n_frames == FRAMES, stream.n_frames
        assert np.array_equal(ours_frames, ref_data.transpose(2, 0, 1)), "frames differ from reference"
        assert np.array_equal(stream.clock.astype(np.int64), ref_ts), "clock differs from reference"
        hdr, ts, data = sonobridge.clarius.read_rf(raw)
        assert hdr == ref_header, (hdr, ref_header)
        assert np.array_equal(ts, ref_ts), "read_rf timestamps differ"
        assert np.array_equal(np.asarray(data), ref_data), "read_rf data differs"
        del ref_data, ours_frames, data, rec, stream
        print("check: sonobridge frames, clock and read_rf output equal the reference loop")

        buf = np.empty((LINES, SAMPLES), dtype=np.int16)
        t1 = best_of({"reference": lambda: reference_read(raw),
                      "ours": lambda: ours_touch_frames(raw, buf)}, REPEATS)
        t2 = best_of({"reference": lambda: reference_sum(raw),
                      "ours": lambda: ours_read_rf_sum(raw)}, REPEATS)

    mb = size / 1e6
    ratio1 = t1["reference"] / t1["ours"]
    gbps1 = size / t1["ours"] / 1e9
    ratio2 = t2["reference"] / t2["ours"]
    gbps2 = size / t2["ours"] / 1e9
    print(f"file: {FRAMES} frames x {LINES} lines x {SAMPLES} samples int16 = {mb:.1f} MB "
          f"(page cache warm), best of {REPEATS}")
    print(f"[1] open_recording + copy every frame + clock: reference {t1['reference']:.4f} s, "
          f"ours {t1['ours']:.4f} s, ratio {ratio1:.1f}x, ours {gbps1:.2f} GB/s")
    print(f"[2] clarius.read_rf + sum(all data):          reference {t2['reference']:.4f} s, "
          f"ours {t2['ours']:.4f} s, ratio {ratio2:.1f}x, ours {gbps2:.2f} GB/s")
    print(f"target [1] ours >= {TARGET_RATIO:g}x reference: {verdict(ratio1 >= TARGET_RATIO)}")
    print(f"target [1] ours > {TARGET_GBPS:g} GB/s cached:    {verdict(gbps1 > TARGET_GBPS)}")
    print(f"target [2] ours >= {TARGET_RATIO:g}x reference: {verdict(ratio2 >= TARGET_RATIO)}")
    print(f"target [2] ours > {TARGET_GBPS:g} GB/s cached:    {verdict(gbps2 > TARGET_GBPS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
