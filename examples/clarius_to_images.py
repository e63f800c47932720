"""Clarius raw capture -> B-mode images in millimetres.

Reads the sample capture shipped beside this script (or the capture given on the command line),
scan-converts its envelope lines onto a square grid in metres, and saves frame 0 with its scale bar
and the colour-flow box computed from the colour IQ. A capture with RF lines goes through
``bmode(remove_recorded_tgc(recording["rf"]))`` first.

    python examples/clarius_to_images.py [CAPTURE] [--probe L7] [--out frame0.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sonobridge.formats import open_recording
from sonobridge.processing import bmode, remove_recorded_tgc, render, scan_convert

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", default=HERE / "clarius" / "carotid_doppler_2020")
    parser.add_argument("--probe", default="L7", help="the probe, when the capture does not name it")
    parser.add_argument("--out", default="frame0.png")
    args = parser.parse_args()

    recording = open_recording(args.capture, probe=args.probe)
    lines = recording["env"] if "env" in recording.streams else bmode(remove_recorded_tgc(recording["rf"]))
    print(f"{lines.n_frames} frame(s) of {lines.frame_shape} (lines, samples)")
    image = scan_convert(lines)
    pixel_mm = (image.geometry.x_m[1] - image.geometry.x_m[0]) * 1e3
    print(f"B-mode frames {image.frame_shape} (depth, width) at {pixel_mm:.3f} mm per pixel")
    colour = recording.streams.get("iq")
    render(lines, 0, colour=colour).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
