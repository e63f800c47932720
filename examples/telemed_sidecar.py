"""A Telemed ``.tvd.h5`` sidecar -> timing, calibration, the inner image and a lossless video per panel.

The names are the ``telemed`` package's: code written for it runs with ``import sonobridge.telemed``.

    python examples/telemed_sidecar.py SCAN.tvd.h5 [--out-dir videos/]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import sonobridge.telemed as telemed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sidecar", type=Path)
    parser.add_argument("--out-dir", type=Path, default=Path("videos"))
    args = parser.parse_args()

    log = telemed.Log(args.sidecar)
    print(f"{args.sidecar.name}: {log.n_frames} frames at {log.mean_fps:.1f} fps, "
          f"{log.image_dy_cm_per_px * 10:.3f} mm per pixel")
    print("probe:", log.params.get("probe_name"), " B-mode panels:", sorted(log.b_mode_rois))
    inner = log.frame(0, crop=True)
    print(f"frame 0, inner image: {inner.shape} {inner.dtype}")
    results = telemed.export_video(args.sidecar, out_dir=args.out_dir)
    for path, status in results.items():
        print(f"{path}: {status}")


if __name__ == "__main__":
    main()
