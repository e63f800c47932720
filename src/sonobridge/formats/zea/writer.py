"""A recording of the core model -> a zea-format HDF5 file, losslessly.

One track per stream that has frames, labelled with the stream's name; the stream's frames in the
zea product :mod:`~sonobridge.formats.zea.products` assigns (bit-exact), with per-sample
coordinates in metres when the geometry is known, per-frame timestamps (seconds from the first
frame, ``start_time_offset`` from the recording's time origin) and, for envelope streams with a
known probe, the scan-converted B-mode image as a second product ``image_sc``. The probe goes to
``probe/``, signals (e.g. IMU) to ``metadata/<signal>_<channel>`` (an ECG to zea's ``metadata/ecg``).

What zea has no field for (exact clocks, vendor metadata such as the Clarius yml, per-frame TGC,
parameters with units, geometry, provenance, timing-only streams) is kept in
``custom/sonobridge/recording``: exact JSON (:mod:`sonobridge.core.serialize`), from which
:func:`sonobridge.formats.zea.reader.read_zea` rebuilds the same recording.

zea -> zea: a recording read from a zea file is written as that file's own tree, verbatim
(:func:`copied_tree`: channel data, scan, probe, every dataset and attribute, same dtypes), with
``custom/sonobridge/recording`` added; a source that breaks the format is refused.

``anonymise=True`` writes the recording as :func:`sonobridge.core.anonymise.anonymise_recording`
gives it (DICOM headers through the PS3.15 basic profile, no acquisition time).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...core import serialize
from ...core.anonymise import anonymise_recording
from ...core.frames import LazyFrames
from ...core.geometry import LineGeometry, PixelGrid, Probe
from ...core.recording import Recording, SampleKind, Signal, Stream
from .passthrough import ZeaFrames, source_tree, subgroup
from .products import Layout, layout_for
from .reader import CORE_KEY
from .validate import check_tree, track_groups
from .tree import Group, InvalidZeaDataError, as_array, file_tree, write_tree

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
    from ...processing.scan_convert import scan_convert

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
    """zea signals ``<signal>_<channel>`` (samples float32, bool as uint8), when timed. A signal named
    ``ecg`` fills zea's ``ecg`` field (a 1-D signal) with its first channel; its other channels
    (further leads) are ``ecg_<channel>``."""
    timing = _timing(signal.timestamps_s, signal.name)
    if not timing:
        return {}
    out = {}
    for index, (channel, values) in enumerate(signal.channels.items()):
        values = np.asarray(values)
        samples = values.astype(np.uint8) if values.dtype == bool else values.astype(np.float32)
        key = "ecg" if signal.name == "ecg" and index == 0 and samples.ndim == 1 else f"{signal.name}_{channel}"
        out[key] = {"samples": samples, **timing}
    return out


def _stream_record(stream: Stream, track: int | None, layout: Layout | None) -> dict[str, Any]:
    return {"name": stream.name, "kind": stream.kind.value, "frame_shape": tuple(stream.frame_shape),
            "dtype": stream.dtype.str, "track": track, "layout": None if layout is None else layout.__dict__,
            "clock": stream.clock, "clock_unit_s": stream.clock_unit_s, "time_origin": stream.time_origin,
            "geometry": stream.geometry, "parameters": stream.parameters, "metadata": stream.metadata,
            "per_frame": stream.per_frame, "provenance": stream.provenance,
            "declared_n_frames": stream.declared_n_frames,
            **({"ensemble_order": stream.ensemble_order} if stream.ensemble_order else {})}


def _signal_record(signal: Signal) -> dict[str, Any]:
    return {"name": signal.name, "channels": signal.channels, "clock_source": signal.clock,
            "clock_unit_s": signal.clock_unit_s, "units": signal.units, "metadata": signal.metadata,
            "provenance": signal.provenance, "time_origin": signal.time_origin}


def _core_json(recording: Recording, streams: list[dict[str, Any]]) -> str:
    """``custom/sonobridge/recording``: the recording's exact JSON with its ``streams`` records."""
    core = {"format": CORE_FORMAT, "name": recording.name, "start_time": recording.start_time,
            "parameters": recording.parameters, "provenance": recording.provenance,
            "streams": streams, "signals": [_signal_record(s) for s in recording.signals.values()]}
    return serialize.dumps(core)


def zea_source(recording: Recording):
    """The open zea file (h5py) the recording's frames are read from, None when they are not
    read from a zea file; InvalidZeaDataError when only some are, or from several files (the
    verbatim copy of :func:`copied_tree` would then not hold the recording)."""
    read = [s for s in recording if isinstance(s.frames, ZeaFrames)]
    if not read:
        return None
    files = {str(s.frames.source) for s in read}
    others = [s.name for s in recording if s.has_frames and not isinstance(s.frames, ZeaFrames)]
    if len(files) > 1 or others:
        raise InvalidZeaDataError(recording.name, f"streams read from zea ({', '.join(sorted(files))}) mixed with "
                                                  f"{'other zea files' if len(files) > 1 else 'other streams'} "
                                                  f"{others or ''}: write them to separate files")
    return read[0].frames.dataset.file


def _copied_layout(stream: Stream, frames: ZeaFrames, track_key: str, layouts: dict[str, dict]) -> Layout:
    """How ``stream`` sits in its source dataset: the source's own record for files sonobridge
    wrote, else the product as read generically (channel data without its RF channel axis)."""
    if stream.name in layouts:
        return Layout(**layouts[stream.name])
    product = frames.key[len(f"/{track_key}/data/" if track_key else "/data/"):].split("/")[0]
    stored = tuple(frames.dataset.shape[1:])
    return Layout(product, frames.dataset.dtype.name, channel_added=stored != tuple(stream.frame_shape))


def copied_tree(recording: Recording, handle, anonymise: bool = False) -> Group:
    """The tree of the zea file ``handle`` the recording was read from, verbatim (every dataset,
    group and attribute), with ``custom/sonobridge/recording`` describing ``recording`` in it
    (a previous ``custom/sonobridge`` is replaced). ``anonymise``: without the wall-clock
    ``acquisition_time`` and zea's ``metadata/subject``."""
    tree = source_tree(handle, skip=["custom/sonobridge", *(["metadata/subject"] if anonymise else [])])
    if anonymise:                        # the source's description may name the subject: ours names the pseudonym
        tree.attrs.pop("acquisition_time", None)
        tree.attrs["description"] = f"{recording.name} (sonobridge conversion)"
    tracks = [key for key, _ in track_groups(handle)]
    layouts: dict[str, dict] = {}
    if CORE_KEY in handle:
        from .schema import dataset_value

        layouts = {r["name"]: r["layout"] for r in serialize.loads(dataset_value(handle[CORE_KEY]))["streams"]
                   if r.get("layout")}
    records = []
    for stream in recording:
        if not stream.has_frames:
            records.append(_stream_record(stream, None, None))
            continue
        frames = stream.frames
        track = next((i for i, key in enumerate(tracks) if not key or frames.key.startswith(f"/{key}/")), None)
        if track is None:                # e.g. frames in custom/: not a product of any track
            raise InvalidZeaDataError(handle.filename, f"stream {stream.name!r}: its frames ({frames.key}) are "
                                                       f"not under any track group, not copied")
        records.append(_stream_record(stream, track, _copied_layout(stream, frames, tracks[track], layouts)))
    report = check_tree(tree, handle.filename)
    if not report.valid:                 # an invalid input is refused, not passed through
        raise InvalidZeaDataError(handle.filename, "the source breaks the zea format, not copied:\n  "
                                                   + "\n  ".join(str(f) for f in report.errors))
    subgroup(tree, "custom/sonobridge")["recording"] = as_array(_core_json(recording, records))
    return tree


def recording_tree(recording: Recording, *, scan_converted: bool = True,
                   pixel_size_m: float | None = None, anonymise: bool = False) -> Group:
    """The zea file tree of ``recording`` (frames stay lazy until written); a recording read
    from a zea file is that file's tree (:func:`copied_tree`)."""
    source = zea_source(recording)
    if source is not None:
        return copied_tree(recording, source, anonymise)
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
    source = recording.provenance.format if recording.provenance else None
    return file_tree(tracks=tracks, probe=_probe(recording), metadata=metadata,
                     custom={"sonobridge": {"recording": _core_json(recording, streams)}},
                     us_machine=source, description=f"{recording.name} (sonobridge conversion)",
                     acquisition_time=recording.start_time.isoformat() if recording.start_time else None)


def export_zea(recording: Recording, path: str | os.PathLike, *, scan_converted: bool = True,
               pixel_size_m: float | None = None, compression: str | Mapping | None = "fast",
               overwrite: bool = False, progress: bool = False, anonymise: bool = False) -> Path:
    """Write ``recording`` to ``path`` as a zea file (see the module docs); returns the path.

    ``scan_converted``: add the B-mode image of envelope streams (``image_sc``);
    ``pixel_size_m``: its pixel size (default: from the sample spacing); ``compression``: see
    :func:`sonobridge.formats.zea.tree.filter_options`; ``anonymise``: write
    without identity (:func:`sonobridge.core.anonymise.anonymise_recording`: DICOM headers through
    the PS3.15 basic profile, no acquisition time).
    """
    if anonymise:
        recording = anonymise_recording(recording)
    tree = recording_tree(recording, scan_converted=scan_converted, pixel_size_m=pixel_size_m, anonymise=anonymise)
    return write_tree(tree, path, compression=compression, overwrite=overwrite, progress=progress)
