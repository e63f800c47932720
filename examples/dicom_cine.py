"""An ultrasound DICOM cine -> calibration, frame times, and lossless zea and DICOM copies.

    python examples/dicom_cine.py CINE.dcm [--out-dir converted/]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import sonobridge.dicom as dicom
from sonobridge.formats import open_recording
from sonobridge.formats.dicom import export_dicom
from sonobridge.formats.zea.writer import export_zea


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cine", type=Path)
    parser.add_argument("--out-dir", type=Path, default=Path("converted"))
    args = parser.parse_args()

    pixels, meta = dicom.decode(args.cine, with_meta=True)     # every transfer syntax
    print(f"{args.cine.name}: pixels {pixels.shape} {pixels.dtype}")
    if meta.get("pixel_spacing_m"):
        print("pixel spacing (m):", meta["pixel_spacing_m"])

    recording = open_recording(args.cine)
    stream = recording["image"]
    print(f"{stream.n_frames} frames over {stream.timestamps_s[-1] - stream.timestamps_s[0]:.3f} s")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    zea_path = args.out_dir / f"{args.cine.stem}.hdf5"
    dicom_path = args.out_dir / f"{args.cine.stem}_jpegls.dcm"
    export_zea(recording, zea_path)
    export_dicom(recording, dicom_path, compression="jpeg-ls")
    same = np.array_equal(open_recording(zea_path)["image"].frames[:], stream.frames[:])
    print(f"wrote {zea_path} (frames identical: {same}) and {dicom_path}")


if __name__ == "__main__":
    main()
