"""Clarius capture -> :class:`~sonobridge.core.recording.Recording`.

One stream per ``.raw`` (kind from the header id, checked against the yml ``type``), named
``env`` / ``iq`` / ``rf`` / ``pw_iq``; a stream whose ``.raw`` is missing but whose yml/tgc exist is
kept timing-only. IMU data becomes the ``imu`` signal. All share the probe clock (ns).

Depth of sample ``i`` along a beam: ``r_i = c/2 * ((delay + i) / fs - t0)`` with ``t0`` the
acquisition delay of the capture's envelope stream (full-depth B data starts at the probe face),
which matches the Clarius App's rendering of the sample capture.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import warnings

import numpy as np

from ...core.geometry import LineGeometry, Probe
from ...core.recording import Provenance, Recording, SampleKind, Signal, Stream
from ...errors import MetadataMismatchError, MissingMetadataError, TruncatedDataWarning
from ..byteregion import ByteRegion
from ..lzop import is_lzop
from .colour import ENSEMBLE_ORDER, is_colour_iq
from .imu import parse_imu
from .package import CaptureFiles
from .probes import find_probe
from .raw import ID_BY_KIND, SAMPLE_FORMAT, RawHeader, RawStreamData
from ...core.tgc import TgcCurves
from .tgc import parse_tgc
from .yml import ClariusYml, parse_yml

log = logging.getLogger(__name__)

FORMAT = "clarius-raw"
STREAM_NAMES = {SampleKind.ENVELOPE: "env", SampleKind.IQ: "iq", SampleKind.RF: "rf",
                SampleKind.PW_IQ: "pw_iq"}
_PREFIX_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})([+-]\d{4})")
#: IMU samples may end this many mean sampling periods before the last frame before the file
#: is taken as cut short (the real 2019 captures end within 0.2 periods of it)
IMU_GAP_PERIODS = 3


def _check_against_yml(header: RawHeader, yml: ClariusYml, label: str) -> None:
    checks = [("frames", header.frames, yml.n_frames), ("lines", header.lines, yml.n_lines),
              ("samples per line", header.samples, yml.n_samples),
              ("sample size", header.sample_size, yml.sample_size)]
    if "rx_element" in yml.lines:
        checks.append(("entries in 'lines'", header.lines, len(yml.lines["rx_element"])))
    for what, in_header, in_yml in checks:
        if in_yml is not None and in_header != in_yml:
            raise MetadataMismatchError(label, f"header says {in_header} {what}, the yml says {in_yml}")
    if yml.kind is not None and yml.kind != header.kind:
        raise MetadataMismatchError(label, f"header id {header.stream_id} means {header.kind.value} "
                                           f"data, the yml says type {yml.data_type!r}")
    if yml.data_type and yml.kind is None:
        log.warning("%s: unknown yml type %r; using the header's (%s)", label, yml.data_type,
                    header.kind.value)


def _check_count(label: str, what: str, held: int, declared: dict[str, int | None]) -> None:
    """Warn when a file holds fewer (:class:`TruncatedDataWarning`: cut short) or more entries
    than ``declared`` (``{who declares it: count or None}``) says."""
    for source, count in declared.items():
        if count is None or count == held:
            continue
        if held < count:
            warnings.warn(f"{label}: holds {held} {what} but {source} declares {count} frames: cut short?",
                          TruncatedDataWarning, stacklevel=4)
        else:
            log.warning("%s: holds %d %s but %s declares %d frames", label, held, what, source, count)
        return


def _check_imu_coverage(imu: Signal, streams: list[Stream], label: str) -> None:
    """Warn (:class:`TruncatedDataWarning`) when the IMU samples stop well before the last frame
    (more than :data:`IMU_GAP_PERIODS` mean sampling periods): an ``_imu.yml`` cut short. Clarius
    records IMU samples throughout a capture (about 30 Hz on average)."""
    clock = imu.clock
    ends = [int(stream.clock[-1]) for stream in streams if stream.clock is not None and stream.clock.size]
    if not ends:
        return
    if clock is None or clock.size < 2:
        warnings.warn(f"{label}: holds {0 if clock is None else clock.size} IMU samples: cut short?",
                      TruncatedDataWarning, stacklevel=4)
        return
    period = (int(clock[-1]) - int(clock[0])) / (clock.size - 1)   # mean: Clarius samples in bursts
    gap = max(ends) - int(clock[-1])
    if period > 0 and gap > IMU_GAP_PERIODS * period:
        expected = clock.size + int(gap // period)
        warnings.warn(f"{label}: holds {clock.size} IMU samples, ending {gap * imu.clock_unit_s:.3f} s before "
                      f"the last frame: about {expected} expected at {1 / (period * imu.clock_unit_s):.1f} Hz; "
                      "cut short?", TruncatedDataWarning, stacklevel=4)


def _start_time(prefix: str, ymls: list[ClariusYml]) -> dt.datetime | None:
    for yml in ymls:
        if yml.acquisition_time is not None:
            return yml.acquisition_time
    match = _PREFIX_TIME.search(prefix)
    if match is None:
        return None
    date, hour, minute, second, zone = match.groups()
    return dt.datetime.strptime(f"{date}T{hour}:{minute}:{second}{zone}", "%Y-%m-%dT%H:%M:%S%z")


class _CaptureReader:
    def __init__(self, files: CaptureFiles, probe: Probe | str | None, sound_speed_m_s: float,
                 allow_truncated: bool, require_yml: bool):
        self.files = files
        self.user_probe = find_probe(probe) if isinstance(probe, str) else probe
        self.sound_speed = sound_speed_m_s
        self.allow_truncated = allow_truncated
        self.require_yml = require_yml
        self.ymls = {suffix: parse_yml(region.text(), region.label) for suffix, region in files.ymls.items()}

    def _reference_delay_s(self) -> float | None:
        """Acquisition delay of the envelope (full-depth B) stream: depth 0 of the image."""
        for suffix, yml in self.ymls.items():
            fs = yml.quantity("sampling_rate")
            if fs and (yml.kind == SampleKind.ENVELOPE or suffix == "env"):
                return yml.delay_samples / fs
        return None

    def _geometry(self, yml: ClariusYml | None) -> LineGeometry | None:
        fs = yml.quantity("sampling_rate") if yml else None
        if yml is None or not fs or "rx_element" not in yml.lines:
            return None
        own_delay = yml.delay_samples / fs
        reference = self._reference_delay_s()
        notes = []
        if reference is None:
            reference = own_delay
            notes.append("no envelope stream: sample 0 taken at depth 0")
        probe = yml.probe or self.user_probe
        if probe is None:
            notes.append("probe not recorded: lateral positions need a probe (e.g. probe='L7')")
        spacing = self.sound_speed / (2 * fs)
        return LineGeometry(
            element_positions=yml.lines["rx_element"],
            steering_angles_rad=yml.lines.get("angle_rad", np.zeros_like(yml.lines["rx_element"])),
            sample_spacing_m=spacing, first_sample_depth_m=(own_delay - reference) * self.sound_speed / 2,
            sampling_frequency_hz=fs, sound_speed_m_s=self.sound_speed, probe=probe, notes=tuple(notes))

    def _tgc(self, suffix: str) -> TgcCurves | None:
        region = self.files.tgcs.get(suffix)
        if region is None:
            return None
        curves, declared = parse_tgc(region.text(), region.label)
        declared_by = {"its 'frames:' line": declared}
        if suffix in self.ymls and suffix not in self.files.raws:  # timing only: the tgc is the clock
            declared_by[self.files.ymls[suffix].label] = self.ymls[suffix].n_frames
        _check_count(region.label, "TGC entries", curves.clock.size, declared_by)
        return curves

    def stream(self, suffix: str) -> Stream:
        yml = self.ymls.get(suffix)
        raw_region = self.files.raws.get(suffix)
        sources = [r.label for r in (raw_region, self.files.ymls.get(suffix), self.files.tgcs.get(suffix)) if r]
        if raw_region is not None and yml is None and self.require_yml:
            raise MissingMetadataError(raw_region.label, "no matching .yml found beside it (it carries the "
                                                         "sampling rate, line geometry and TGC); pass "
                                                         "require_yml=False to read the frames anyway")
        tgc = self._tgc(suffix)
        if raw_region is not None:
            data = RawStreamData(raw_region, compressed=is_lzop(raw_region),
                                 allow_truncated=self.allow_truncated)
            if yml is not None:
                _check_against_yml(data.header, yml, raw_region.label)
            kind, frame_shape, dtype = data.header.kind, data.header.frame_shape, data.header.sample_dtype
            frames, clock, n_declared = data.frames(), data.clock_loader(), data.header.frames
            raw_header = data.header.as_dict()
        else:  # timing-only: metadata survived, frames did not
            header = self._header_from_yml(yml, self.files.ymls[suffix])
            kind, frame_shape, dtype = header.kind, header.frame_shape, header.sample_dtype
            frames, clock, n_declared = None, (tgc.clock if tgc is not None else None), yml.n_frames
            raw_header = None
        geometry = self._geometry(yml)
        stream = Stream(
            name=suffix, kind=kind, frame_shape=frame_shape, dtype=dtype, frames=frames,
            clock_source=clock, clock_unit_s=1e-9, geometry=geometry,
            ensemble_order=ENSEMBLE_ORDER if is_colour_iq(kind, geometry) else None,
            parameters={**(yml.parameters if yml else {}), **({"raw_header": raw_header} if raw_header else {})},
            metadata=yml.raw if yml else {},
            provenance=Provenance(tuple(sources), FORMAT, software_version=yml.software_version if yml else None),
            declared_n_frames=n_declared)
        self._attach_tgc(stream, tgc, yml)
        return stream

    @staticmethod
    def _header_from_yml(yml: ClariusYml, region: ByteRegion) -> RawHeader:
        """The header the missing ``.raw`` would have, for a timing-only stream."""
        if yml.kind is None or not yml.n_lines or not yml.n_samples:
            raise MetadataMismatchError(region.label, "yml lacks the type/size needed to describe the stream")
        stream_id = ID_BY_KIND[yml.kind]
        return RawHeader(stream_id, yml.n_frames or 0, yml.n_lines, yml.n_samples, SAMPLE_FORMAT[stream_id][1])

    @staticmethod
    def _attach_tgc(stream: Stream, tgc: TgcCurves | None, yml: ClariusYml | None) -> None:
        """Per-frame TGC: the tgc file's curve in force at each frame (matched by clock); the
        yml's static curve for frames without one."""
        clock = stream.clock
        if clock is None:
            return
        from_file = tgc.for_frames(clock) if tgc is not None else None
        static = yml.tgc_points if yml else []
        file_rows = [from_file.points(i) if from_file else [] for i in range(clock.size)]
        rows = [row or static for row in file_rows]
        if any(rows):
            sources = {"tgc file" if row else "yml" for row in file_rows}
            stream.per_frame["tgc"] = TgcCurves.from_rows(clock, rows, " + ".join(sorted(sources)))

    def recording(self) -> Recording:
        streams: dict[str, Stream] = {}
        for suffix in self.files.suffixes:
            stream = self.stream(suffix)
            name = STREAM_NAMES.get(stream.kind, suffix)
            stream.name = name if name not in streams else f"{name}_{suffix}"
            streams[stream.name] = stream
        signals = {}
        if self.files.imu is not None:
            region = self.files.imu
            signals["imu"] = parse_imu(region.text(), region.label,
                                       Provenance((region.label,), FORMAT))
            _check_imu_coverage(signals["imu"], list(streams.values()), region.label)
        sources = tuple(dict.fromkeys(s for st in streams.values() for s in st.provenance.source_files))
        versions = {y.software_version for y in self.ymls.values() if y.software_version}
        recording = Recording(
            name=self.files.prefix, streams=streams, signals=signals,
            start_time=_start_time(self.files.prefix, list(self.ymls.values())),
            provenance=Provenance(sources, FORMAT, software_version=", ".join(sorted(versions)) or None,
                                  notes=(f"container: {self.files.container}",)))
        recording.align_clocks()
        return recording


def read_capture(files: CaptureFiles, *, probe: Probe | str | None = None, sound_speed_m_s: float = 1540.0,
                 allow_truncated: bool = False, require_yml: bool = True) -> Recording:
    """Read one capture's files into a :class:`Recording`.

    ``probe``: a :class:`Probe` or table name (``"L7"``) used when the yml names none;
    ``sound_speed_m_s``: speed of sound for depths; ``allow_truncated``: return the complete
    frames of a truncated ``.raw`` with a :class:`~sonobridge.errors.TruncatedDataWarning` instead
    of raising; ``require_yml``: refuse a ``.raw`` without its ``.yml``.
    """
    return _CaptureReader(files, probe, sound_speed_m_s, allow_truncated, require_yml).recording()
