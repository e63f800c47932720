"""A DICOM image file -> :class:`~sonobridge.core.recording.Recording` (frames decoded on access).

The source is a file, or a DICOM object in memory (a parsed pydicom Dataset, bytes, a binary
file-like object). One stream ``image`` ``(n_frames, rows, columns[, 3])``: grey or RGB as decoded
(:mod:`sonobridge.dicom.pixels`; PALETTE COLOR with its palette applied, as 8-bit RGB), timed by the frame
times (seconds), on a :class:`PixelGrid` in metres when the file carries a 2D ultrasound region
calibrated in length units (else PixelSpacing), with the regions, the geometry sidecar and the
header (every non-pixel element, as DICOM JSON) kept. A waveform the image carries (an echo cine's
ECG) becomes a :class:`Signal` (``ecg``) on the frames' clock.

Any header pydicom can parse opens: elements that cannot be kept as DICOM JSON (stray item or
delimiter tags at the top level, unknown VRs, values pydicom cannot convert) are left out of the
header with one warning naming them; malformed timing or calibration reads as absent.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...core.frames import LazyFrames
from ...core.geometry import PixelGrid
from ...core.recording import Provenance, Recording, SampleKind, Signal, Stream
from ...dicom.io import damaged_content, open_dataset
from ...dicom.pixels import PixelLayout, decode_dataset
from ...dicom.ultrasound import floats, frame_times_s, geometry_meta, text, tissue_region
from ...errors import FormatError
from .geometry import grid_from_region

FORMAT = "dicom"


def _grid(ds, layout: PixelLayout) -> PixelGrid | None:
    region = tissue_region(ds)
    if region is not None:
        return grid_from_region(region, layout.rows, layout.columns)
    spacing = floats(ds, "PixelSpacing")
    if spacing is not None and len(spacing) == 2 and all(np.isfinite(s) and s != 0 for s in spacing):
        dy, dx = abs(spacing[0]) / 1e3, abs(spacing[1]) / 1e3
        return PixelGrid(x_m=np.arange(layout.columns) * dx, z_m=np.arange(layout.rows) * dy)
    return None


PIXEL_TAGS = {0x7FE00008, 0x7FE00009, 0x7FE00010}       # float, double float and integer pixel data


def _header(ds, label: str) -> dict:
    """Every element except the pixel data, as DICOM JSON (PS3.18 F.2; values over 4 KiB left
    empty), element by element: what cannot be converted or serialised is dropped, with one
    warning naming the dropped elements."""
    from pydicom.datadict import keyword_for_tag
    from pydicom.tag import Tag

    header, dropped = {}, []
    for tag in list(ds.keys()):
        if int(tag) in PIXEL_TAGS:
            continue
        try:
            value = ds[tag].to_json_dict(bulk_data_element_handler=lambda element: "", bulk_data_threshold=4096)
            json.dumps(value, allow_nan=False)
        except Exception:  # noqa: BLE001 - pydicom raises many types on elements it cannot convert
            dropped.append(f"{Tag(tag)} {keyword_for_tag(tag) or ''}".strip())
            continue
        header[f"{int(tag):08X}"] = value
    if dropped:
        shown = ", ".join(dropped[:20]) + (f" and {len(dropped) - 20} more" if len(dropped) > 20 else "")
        warnings.warn(f"{label}: {len(dropped)} header element(s) cannot be kept as DICOM JSON and were "
                      f"left out: {shown}", stacklevel=3)
    return header


def _start_time(ds) -> dt.datetime | None:
    for date_key, time_key in (("AcquisitionDate", "AcquisitionTime"), ("ContentDate", "ContentTime"),
                               ("StudyDate", "StudyTime")):
        date, time = text(ds, date_key) or "", text(ds, time_key) or ""
        if len(date) == 8:
            try:
                return dt.datetime.strptime(date + (time.split(".")[0].ljust(6, "0")[:6] or "000000"), "%Y%m%d%H%M%S")
            except ValueError:
                continue
    return None


def _palette_reader(ds, label: str, read_indices):
    """Frames with the palette applied: 8-bit RGB (16-bit LUT entries keep their top 8 bits)."""
    from pydicom.pixels import apply_color_lut

    with damaged_content(label):
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])

    def read_range(start: int, stop: int) -> np.ndarray:
        with damaged_content(label):
            rgb = apply_color_lut(read_indices(start, stop), ds)
        return (rgb >> (bits - 8)).astype(np.uint8) if bits > 8 else rgb.astype(np.uint8)

    return read_range


def _name(ds, label: str, source: Any) -> str:
    """The recording's name: the file's stem; for a source without a file name (a dataset in
    memory, bytes, a stream), its SOPInstanceUID, else ``"dicom"``."""
    if isinstance(source, (str, os.PathLike)) or not label.startswith("<"):
        return Path(label).stem
    return text(ds, "SOPInstanceUID") or FORMAT


def _waveform_signals(ds, label: str, provenance: Provenance) -> dict[str, Signal]:
    """The waveforms an image carries (an echo cine's ECG): one :class:`Signal` per multiplex group,
    ``ecg`` for an ECG (:func:`sonobridge.dicom.waveforms.is_ecg`), else ``waveform``; channels in
    their physical units, timed in seconds on the frames' clock (frame 0 = 0): Multiplex Group Time
    Offset minus the Frame Delay, both counted from the instance's reference time. A waveform that
    cannot be decoded is left out with a warning."""
    import re

    from ...dicom.waveforms import is_ecg, read_waveform

    if "WaveformSequence" not in ds:
        return {}
    try:
        groups = read_waveform(ds)["groups"]
    except FormatError as error:
        warnings.warn(f"{label}: its waveform cannot be read and is left out ({error.problem})", stacklevel=3)
        return {}
    delay_s = (floats(ds, "FrameDelay") or [0.0])[0] / 1e3
    signals: dict[str, Signal] = {}
    for index, group in enumerate(groups):
        name = "ecg" if is_ecg(group) else "waveform"
        name = name if name not in signals else f"{name}_{index + 1}"
        channels: dict[str, np.ndarray] = {}
        units: dict[str, str] = {}
        for number, channel in enumerate(group["channels"]):
            key = re.sub(r"\W+", "_", channel["label"]).strip("_").lower() or f"channel_{number + 1}"
            key = key if key not in channels else f"{key}_{number + 1}"
            channels[key], units[key] = group["signals"][:, number], channel["units"]
        clock = group["time_offset_s"] - delay_s + np.arange(group["num_samples"]) / group["sampling_frequency"]
        metadata = {"sampling_frequency_hz": group["sampling_frequency"], "multiplex_group": index,
                    "label": group["label"], "sources": [c["source"] for c in group["channels"]]}
        signals[name] = Signal(name=name, channels=channels, clock_source=clock, clock_unit_s=1.0, units=units,
                               metadata=metadata, provenance=provenance, time_origin=0.0)
    return signals


def read_dicom(path: str | os.PathLike | Any) -> Recording:
    """Read one DICOM image (the pixel data stays undecoded until frames are read).

    Parameters
    ----------
    path : str, os.PathLike, pydicom.dataset.Dataset, bytes or binary file-like
        A DICOM file, a dataset already parsed (used as it is, not copied), the file's bytes or a
        binary file-like object holding it (read at once; the object is not closed).

    Returns
    -------
    Recording
        Named after the file (a source without a file name: its SOPInstanceUID); its provenance
        names the source as :func:`sonobridge.dicom.io.source_label` does (``<BytesIO>``,
        ``<Dataset 1.2...>``).
    """
    ds, label = open_dataset(path)
    layout = PixelLayout.of(ds, label)
    with damaged_content(label):
        stored = len(ds.PixelData) if "PixelData" in ds else 0
    if layout.n_frames > max(stored, 1):              # every frame takes at least a byte
        raise FormatError(label, f"the header declares {layout.n_frames} frames, the pixel data holds {stored} bytes")
    shape = layout.shape
    decoded_dtype = np.uint8 if layout.photometric.startswith("YBR") and layout.bits_allocated == 8 else layout.dtype

    def read_range(start: int, stop: int) -> np.ndarray:
        return decode_dataset(ds, label, frames=range(start, stop))

    if layout.photometric == "PALETTE COLOR":          # the display image, not the stored indices
        shape, decoded_dtype, read_range = (*shape, 3), np.dtype(np.uint8), _palette_reader(ds, label, read_range)
    frames = LazyFrames(shape, decoded_dtype, read_range)
    times = frame_times_s(ds)
    meta = geometry_meta(ds)
    provenance = Provenance((label,), FORMAT, format_version=layout.transfer_syntax,
                            software_version=text(ds, "SoftwareVersions"))
    stream = Stream(name="image", kind=SampleKind.IMAGE, frame_shape=shape[1:], dtype=decoded_dtype, frames=frames,
                    clock_source=times, clock_unit_s=1.0, geometry=_grid(ds, layout),
                    parameters={"modality": meta["modality"], "photometric_interpretation": layout.photometric,
                                "transfer_syntax": layout.transfer_syntax, "us_regions": meta["us_regions"],
                                "pixel_spacing_m": meta["pixel_spacing_m"]},
                    metadata=_header(ds, label), provenance=provenance, time_origin=0.0 if times is not None else None)
    return Recording(name=_name(ds, label, path), streams={"image": stream}, start_time=_start_time(ds),
                     provenance=provenance, signals=_waveform_signals(ds, label, provenance))
