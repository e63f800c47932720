"""Synthetic Telemed sidecars in the layout the telemed package writes: EchoWave display frames with
B-mode panels (depth ruler on the left, margins, inner speckle image, bottom tick row)."""
from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np

from sonobridge.formats.telemed.sidecar import Roi, Sidecar, write_sidecar

HEIGHT, WIDTH = 300, 430
#: panel (AutoInt1 1-based inclusive) and its inner image box within the panel (top, bottom, left, right)
PANELS = {1: (11, 210, 21, 280), 2: (221, 420, 21, 280)}
INNER = (6, 240, 30, 190)


def display_frames(n: int, panels: tuple[int, ...] = (1,), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, HEIGHT, WIDTH), np.uint8)
    top, bottom, left, right = INNER
    for panel in panels:
        x1, x2, y1, y2 = PANELS[panel]
        view = frames[:, y1 - 1:y2, x1 - 1:x2]
        view[:, :, 2:6][:, ::10] = 220                         # depth ruler ticks
        view[:, -8:-6, left::15] = 200                          # bottom tick row
        depth = np.linspace(1.0, 0.5, bottom - top)[None, :, None]
        speckle = rng.rayleigh(60, (n, bottom - top, right - left)) * depth + 20
        view[:, top:bottom, left:right] = np.clip(speckle, 1, 255).astype(np.uint8)
        view[:, top + 40:top + 44, left + 20:left + 120] = 250   # a bright "fascia" line
    return frames


def rois(panels: tuple[int, ...]) -> dict[int, Roi]:
    return {n: Roi(n, PANELS[n][0], PANELS[n][1], PANELS[n][2], PANELS[n][3], PANELS[n][1] - PANELS[n][0] + 1,
                   PANELS[n][3] - PANELS[n][2] + 1, 0.0152 + 0.001 * n, 0.0152 + 0.001 * n) for n in panels}


def make_sidecar(path: Path, n: int = 40, panels: tuple[int, ...] = (1,), *, flipped: bool = False,
                 frames: bool = True, declared: int | None = None, seed: int = 0) -> Path:
    time_ms = np.cumsum(np.r_[0.0, np.random.default_rng(seed).uniform(31, 35, n - 1)])
    sidecar = Sidecar(time_ms=time_ms, rois=rois(panels), full_frame_width=WIDTH, full_frame_height=HEIGHT,
                      frames=display_frames(n, panels, seed) if frames else None,
                      params={"b_depth": 40.0, "b_frequency": 12.0, "b_gain": 70, "probe_name": "L12-5N40-A4",
                              "b_is_scan_direction_changed": flipped},
                      source_tvd_path=str(path.with_name(path.name.replace(".tvd.h5", ".tvd"))),
                      extracted_at_iso="2026-05-01T10:00:00", tvd_declared_n_frames=declared)
    return write_sidecar(sidecar, path)


def make_legacy_sidecar(path: Path, schema, n: int = 20) -> Path:
    """A pre-v1 sidecar: one unprefixed roi_* block, no display scale, schema label ``schema``."""
    x1, x2, y1, y2 = PANELS[1]
    with h5py.File(path, "w") as handle:
        handle["frames/gray"] = display_frames(n)
        time_ms = np.arange(n) * 33.0
        handle["timing/time_ms"], handle["timing/ifi_ms"] = time_ms, np.diff(time_ms, prepend=0.0)
        handle.attrs.update({"n_frames": n, "full_frame_width": WIDTH, "full_frame_height": HEIGHT,
                             "roi_x1": x1, "roi_x2": x2, "roi_y1": y1, "roi_y2": y2, "roi_width": x2 - x1 + 1,
                             "roi_height": y2 - y1 + 1, "physical_dx_cm_per_px": 0.015,
                             "physical_dy_cm_per_px": 0.015, "source_tvd_path": "old.tvd",
                             "extracted_at_iso": "2024-01-01T00:00:00", "schema_version": schema,
                             "param_b_depth": 50.0})
    return path


def uiff_bytes(declared: int, frames: int = 3, frame_bytes: int = 64) -> bytes:
    """A small ``.tvd`` container in the documented UIFF layout (8-byte chunk sizes)."""
    def chunk(chunk_id: bytes, payload: bytes) -> bytes:
        return chunk_id + struct.pack("<Q", len(payload)) + payload + b"\0" * (len(payload) & 1)

    strh = b"2DusB\0\0\0" + b"\0" * 12 + struct.pack("<I", declared) + b"\0" * 40
    strf = b"vids" + struct.pack("<3I", 8, 16, frame_bytes)
    hdrl = chunk(b"LIST", b"hdrl" + chunk(b"strh", strh) + chunk(b"strf", strf))
    movi = chunk(b"LIST", b"movi" + b"".join(chunk(b"00bb", bytes(48 + frame_bytes)) for _ in range(frames)))
    return chunk(b"UIFF", b"UDI " + hdrl + movi)


def tvd_bytes(streams: list[np.ndarray], ticks: list[np.ndarray], *, sub_header: int = 48,
              declared: list[int] | None = None) -> bytes:
    """A ``.tvd`` holding ``streams`` (each ``(n, lines, samples)`` uint8) with end ticks (100 ns),
    frame chunks interleaved as EchoWave writes them, in the documented layout."""
    def chunk(chunk_id: bytes, payload: bytes) -> bytes:
        return chunk_id + struct.pack("<Q", len(payload)) + payload + b"\0" * (len(payload) & 1)

    headers = b""
    for number, frames in enumerate(streams):
        n, lines, samples = frames.shape
        kind = b"2DusB" if number == 0 else b"2DusB2"
        count = declared[number] if declared else n + 2
        strh = kind.ljust(20, b"\0") + struct.pack("<I", count) + b"\0" * 40
        headers += chunk(b"strh", strh) + chunk(b"strf", b"\0" * 8 + b"vids" + struct.pack("<3I", 8, samples,
                                                                                          lines * samples))
    movi = b""
    for index in range(max(len(f) for f in streams)):
        for number, frames in enumerate(streams):
            if index < len(frames):
                header = bytearray(sub_header)
                struct.pack_into("<I", header, 0, sub_header)
                struct.pack_into("<I", header, 0x0C, frames[index].size)
                struct.pack_into("<Q", header, 24, int(ticks[number][index]))
                movi += chunk(f"0{number}bb".encode(), bytes(header) + frames[index].tobytes())
    body = b"UDI " + chunk(b"LIST", b"hdrl" + headers) + chunk(b"LIST", b"movi" + movi)
    return chunk(b"UIFF", body) + chunk(b"JUNK", b"EchoWave.UsgHWSettings" + bytes(30))
