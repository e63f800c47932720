"""A recording -> a zea HDF5 file -> frames as NumPy arrays for training.

Converts the sample capture (or any recording given) to zea, validates the file, then reads it back
the way a data loader would: one frame at a time, with its coordinates in metres.

    python examples/zea_for_ml.py [RECORDING] [--probe L7] [--out capture.hdf5]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import sonobridge.zea as zea
from sonobridge.formats import open_recording
from sonobridge.formats.zea.writer import export_zea

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", nargs="?", default=HERE / "clarius" / "carotid_doppler_2020")
    parser.add_argument("--probe", default="L7")
    parser.add_argument("--out", default="capture.hdf5")
    args = parser.parse_args()

    export_zea(open_recording(args.recording, probe=args.probe), args.out)
    report = zea.validate(args.out)
    print(f"{args.out}: {'valid' if report.valid else 'INVALID'} zea file")
    with zea.File(args.out) as file:
        for label in file.track_labels:
            track = file.get_track(label)
            for product in track.data.keys():
                values = track.data[product].values
                print(f"track {label!r} product {product!r}: {values.shape} {values.dtype}")
        first = file.get_track(file.track_labels[0])
        product = next(iter(first.data.keys()))
        frame = first.data[product].values[0]
        print(f"frame 0 of {product!r}: min {frame.min()}, max {frame.max()}")


if __name__ == "__main__":
    main()
