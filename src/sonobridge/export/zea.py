"""A recording of the core model -> a zea-format HDF5 file, losslessly.

One track per stream that has frames, labelled with the stream's name; the stream's frames in the
zea product :mod:`~sonobridge.formats.zea.products` assigns (bit-exact), with per-sample
coordinates in metres when the geometry is known, per-frame timestamps (seconds from the first
frame, ``start_time_offset`` from the recording's time origin) and, for envelope streams with a
known probe, the scan-converted B-mode image as a second product ``image_sc``. The probe goes to
``probe/``, signals (e.g. IMU) to ``metadata/<signal>_<channel>``.

What zea has no field for (exact clocks, vendor metadata such as the Clarius yml, per-frame TGC,
parameters with units, geometry, provenance, timing-only streams) is kept in
``custom/sonobridge/recording``: exact JSON (:mod:`sonobridge.core.serialize`), from which
:func:`sonobridge.formats.zea.reader.read_zea` rebuilds the same recording.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core import serialize
from ..core.frames import LazyFrames
from ..core.geometry import LineGeometry, PixelGrid, Probe
from ..core.recording import Recording, SampleKind, Signal, Stream
from ..formats.zea.products import Layout, layout_for
from ..formats.zea.writer import Group, InvalidZeaDataError, file_tree, write_tree

log = logging.getLogger(__name__)

CORE_FORMAT = "sonobridge-recording/1"   # version of the custom/sonobridge layout


def on_lines(stream: Stream) -> bool:
    """Pre-scan line data ``(n_lines, n_samples, ...)`` rather than an image on a pixel grid."""
    if isinstance(stream.geometry, PixelGrid):
        return False
    return isinstance(stream.geometry, LineGeometry) or stream.kind not in (SampleKind.BMODE, SampleKind.IMAGE)


def stream_layout(stream: Stream) -> Layout:
    try:
        return layout_for(stream.kind, stream.frame_shape, stream.dtype, on_lines(stream))
    except ValueError as error:
        raise InvalidZeaDataError(stream.label, str(error)) from None


def coordinates_m(stream: Stream) -> np.ndarray | None:
    """``(z, x, 3)`` float32 ``[x, y, z]`` metres of each stored pixel (line data: of each
    sample, depth first); None where the lateral geometry is unknown."""
    geometry = stream.geometry
    if isinstance(geometry, PixelGrid):
        x, z = np.meshgrid(geometry.x_m, geometry.z_m)
    elif isinstance(geometry, LineGeometry):
        positions = geometry.sample_positions_m(stream.frame_shape[1])
        if positions is None:
            return None
        x, z = positions[0].T, positions[1].T
    else:
        return None
    return np.stack([x, np.zeros_like(x), z], axis=-1).astype(np.float32)


def relative_times(seconds: np.ndarray | None) -> tuple[np.ndarray, float] | None:
    """zea timing of a clock: float32 seconds from the first sample and the first sample's
    offset; None when zea's rule (strictly increasing) does not hold after rounding."""
    if seconds is None or seconds.size == 0:
        return None
    relative = (seconds - seconds[0]).astype(np.float32)
    if np.any(np.diff(relative) <= 0):
        return None
    return relative, float(seconds[0])


def _timing(seconds: np.ndarray | None, label: str) -> dict[str, Any]:
    timing = relative_times(seconds)
    if timing is None:
        if seconds is not None and seconds.size:
            log.info("%s: timestamps not strictly increasing; exact clock kept in custom/sonobridge", label)
        return {}
    return {"timestamps": timing[0], "start_time_offset": np.float32(timing[1])}


def _product(stream: Stream, layout: Layout, description: str) -> dict[str, Any]:
    frames = stream.require_frames()
    shape = (stream.n_frames, *layout.stored_shape(stream.frame_shape))
    values = LazyFrames(shape, np.dtype(layout.dtype),
                        lambda start, stop: layout.to_stored(np.asarray(frames[start:stop])))
    product: dict[str, Any] = {"values": values, "coordinates": coordinates_m(stream),
                               "description": description, **_timing(stream.timestamps_s, stream.label)}
    if layout.labels:
        product["labels"] = np.asarray(layout.labels)
    return product


def _scan_converted(stream: Stream, pixel_size_m: float | None) -> Stream | None:
    """The B-mode image of an envelope stream with known lateral geometry, else None."""
    if stream.kind is not SampleKind.ENVELOPE or not isinstance(stream.geometry, LineGeometry) \
            or stream.geometry.probe is None:
        return None
    from ..processing.scan_convert import scan_convert

    try:
        return scan_convert(stream, pixel_size_m)
    except ValueError as error:
        log.warning("%s: no scan-converted image (%s)", stream.label, error)
        return None


def _track(stream: Stream, scan_converted: bool, pixel_size_m: float | None) -> dict[str, Any]:
    layout = stream_layout(stream)
    data = {layout.product: _product(stream, layout, f"{stream.kind.value} frames of stream "
                                                     f"{stream.name!r}")}
    image = _scan_converted(stream, pixel_size_m) if scan_converted else None
    if image is not None:
        data["image_sc"] = _product(image, Layout("image_sc", "uint8"), "scan-converted B-mode image")
    return {"label": stream.name, "data": data}


def _probe(recording: Recording) -> dict[str, Any] | None:
    probes = [s.geometry.probe for s in recording if isinstance(s.geometry, LineGeometry) and s.geometry.probe]
    probe: Probe | None = probes[0] if probes else None
    if probe is None:
        return None
    fields: dict[str, Any] = {"name": probe.name, "type": probe.array_type,
                              "probe_center_frequency": probe.centre_frequency_hz}
    if probe.n_elements:
        positions = probe.element_positions_m(np.arange(probe.n_elements))
        if positions is not None:
            x, z = positions[:, 0], positions[:, 1]
            fields["probe_geometry"] = np.stack([x, np.zeros_like(x), z], axis=-1)
    return fields


def _signal_metadata(signal: Signal) -> dict[str, Any]:
    """zea signals ``<signal>_<channel>`` (samples float32, bool as uint8), when timed."""
    timing = _timing(signal.timestamps_s, signal.name)
    if not timing:
        return {}
    out = {}
    for channel, values in signal.channels.items():
        values = np.asarray(values)
        samples = values.astype(np.uint8) if values.dtype == bool else values.astype(np.float32)
        out[f"{signal.name}_{channel}"] = {"samples": samples, **timing}
    return out


def _stream_record(stream: Stream, track: int | None, layout: Layout | None) -> dict[str, Any]:
    return {"name": stream.name, "kind": stream.kind.value, "frame_shape": tuple(stream.frame_shape),
            "dtype": stream.dtype.str, "track": track, "layout": None if layout is None else layout.__dict__,
            "clock": stream.clock, "clock_unit_s": stream.clock_unit_s, "time_origin": stream.time_origin,
            "geometry": stream.geometry, "parameters": stream.parameters, "metadata": stream.metadata,
            "per_frame": stream.per_frame, "provenance": stream.provenance,
            "declared_n_frames": stream.declared_n_frames}


def _signal_record(signal: Signal) -> dict[str, Any]:
    return {"name": signal.name, "channels": signal.channels, "clock_source": signal.clock,
            "clock_unit_s": signal.clock_unit_s, "units": signal.units, "metadata": signal.metadata,
            "provenance": signal.provenance, "time_origin": signal.time_origin}


def recording_tree(recording: Recording, *, scan_converted: bool = True,
                   pixel_size_m: float | None = None) -> Group:
    """The zea file tree of ``recording`` (frames stay lazy until written)."""
    tracks, streams = [], []
    for stream in recording:
        if stream.has_frames:
            streams.append(_stream_record(stream, len(tracks), stream_layout(stream)))
            tracks.append(_track(stream, scan_converted, pixel_size_m))
        else:
            streams.append(_stream_record(stream, None, None))
    if not tracks:
        raise InvalidZeaDataError(recording.name, "no stream holds frames (timing-only recording): a zea "
                                                  "file needs at least one data product")
    metadata: dict[str, Any] = {}
    for signal in recording.signals.values():
        metadata.update(_signal_metadata(signal))
    core = {"format": CORE_FORMAT, "name": recording.name, "start_time": recording.start_time,
            "parameters": recording.parameters, "provenance": recording.provenance,
            "streams": streams, "signals": [_signal_record(s) for s in recording.signals.values()]}
    source = recording.provenance.format if recording.provenance else None
    return file_tree(tracks=tracks, probe=_probe(recording), metadata=metadata,
                     custom={"sonobridge": {"recording": serialize.dumps(core)}},
                     us_machine=source, description=f"{recording.name} (sonobridge conversion)",
                     acquisition_time=recording.start_time.isoformat() if recording.start_time else None)


def export_zea(recording: Recording, path: str | os.PathLike, *, scan_converted: bool = True,
               pixel_size_m: float | None = None, compression: str | Mapping | None = "fast",
               overwrite: bool = False, progress: bool = False) -> Path:
    """Write ``recording`` to ``path`` as a zea file (see the module docs); returns the path.

    ``scan_converted``: add the B-mode image of envelope streams (``image_sc``);
    ``pixel_size_m``: its pixel size (default: from the sample spacing); ``compression``: see
    :func:`sonobridge.formats.zea.writer.filter_options`.
    """
    tree = recording_tree(recording, scan_converted=scan_converted, pixel_size_m=pixel_size_m)
    return write_tree(tree, path, compression=compression, overwrite=overwrite, progress=progress)
