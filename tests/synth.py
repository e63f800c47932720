"""Synthetic Clarius captures written in the real on-disk layout (header, clock + frames, yml)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SAMPLE = {0: ("<i2", 4, "IQ"), 1: ("u1", 1, "B pre-scan"), 2: ("<i2", 2, "RF"), 3: ("<i2", 4, "PW IQ")}


def yml_text(stream_id: int, frames: int, lines: int, samples: int, *, fs_mhz: float = 15,
             delay: int = 16, type_text: str | None = None, extra: str = "") -> str:
    size = SAMPLE[stream_id][1]
    entries = "".join(f"  - {{rx element: {i}, tx element: {i + 0.5}, angle: 0 °}}\n" for i in range(lines))
    return (f"# raw data parameters\n\nframes: {frames}\nframe rate: 11 Hz\ntransmit frequency: 10 MHz\n"
            f"imaging depth: 40 mm\nfocal depth: 20 mm\ntgc: {{ 0.00mm, 23.00dB }}{{ 40.00mm, 26.00dB }}\n"
            f"size: {{samples per line: {samples}, number of lines: {lines}, sample size: {size} bytes}}\n"
            f"type: {type_text or SAMPLE[stream_id][2]}\ncompression: none\nsampling rate: {fs_mhz:g} MHz\n"
            f"delay samples: {delay}\nlines:\n{entries}{extra}")


def make_frames(stream_id: int, frames: int, lines: int, samples: int, seed: int = 0) -> np.ndarray:
    dtype, size, _ = SAMPLE[stream_id]
    shape = (frames, lines, samples, 2) if size == 4 else (frames, lines, samples)
    rng = np.random.default_rng(seed)
    info = np.iinfo(np.dtype(dtype))
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def raw_bytes(stream_id: int, data: np.ndarray, clock_ns: np.ndarray, *, header_frames: int | None = None,
              header: tuple[int, ...] | None = None) -> bytes:
    frames, lines, samples = data.shape[:3]
    head = struct.pack("<5I", *(header or (stream_id, header_frames if header_frames is not None else frames,
                                           lines, samples, SAMPLE[stream_id][1])))
    body = b"".join(struct.pack("<Q", int(t)) + frame.tobytes() for t, frame in zip(clock_ns, data))
    return head + body


def write_capture(folder: Path, suffix: str = "rf", stream_id: int = 2, frames: int = 5, lines: int = 8,
                  samples: int = 64, *, seed: int = 0, yml: bool = True, **yml_options) -> tuple[Path, np.ndarray, np.ndarray]:
    """Write ``<folder>/cap_<suffix>.raw`` (+ ``.yml``); return (raw path, frames, clock)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = make_frames(stream_id, frames, lines, samples, seed)
    clock = (10**11 + np.arange(frames) * 90_000_000).astype(np.uint64)
    raw = folder / f"cap_{suffix}.raw"
    raw.write_bytes(raw_bytes(stream_id, data, clock))
    if yml:
        (folder / f"cap_{suffix}.yml").write_text(yml_text(stream_id, frames, lines, samples, **yml_options),
                                                  encoding="utf-8")
    return raw, data, clock
