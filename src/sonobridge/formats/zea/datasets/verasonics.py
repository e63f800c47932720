"""Verasonics Vantage workspaces (MATLAB ``.mat``) into zea files, as ``zea convert verasonics``.

Input: a MATLAB workspace saved after a Verasonics sequence ran, with ``save(path, '-v7.3')`` (an
HDF5 file; zea 0.1.8 reads only this version, and so do we: an older ``.mat`` is refused with the
instruction to re-save it). It holds the Verasonics structures ``Trans``, ``TX``, ``TW``,
``Receive``, ``Event``, ``SeqControl``, ``Resource``, ``TGC``, the channel data ``RcvData`` (a cell
of int16 circular buffers, ``(frames, channels, samples)`` as HDF5 stores MATLAB's arrays) and
optionally ``ImgDataP``. Struct arrays of more than one element are HDF5 object references; MATLAB
arrays appear transposed; text is uint16 characters. A ``convert.yaml`` beside the files may give,
per file name, ``first_frame`` (the circular buffer's first frame) and ``frames``.

Output: a folder source gives ``DST/<relative path>.hdf5`` per ``.mat`` file; a file source gives
``DST`` itself (``DST/<name>_zea.hdf5`` if DST is a folder). Each holds ``raw_data``
``(n_frames, n_tx, n_ax, n_el, n_ch)`` (int16, or float32 I/Q for the baseband sample modes), the
scan read from the sequence, the probe from ``Trans`` and, under ``custom``, Verasonics' lens
correction and its ``ImgDataP`` image buffer (dB), as zea 0.1.8 writes them. Raw data is read and
written frame by frame.

Options: ``frames`` (``"all"``, ``"4-8"``, ``"0,3,5-7"``; default: ``convert.yaml`` or all),
``allow_accumulate`` (keep only the replace-mode receives of sequences that accumulate on the
system).

Examples
--------
>>> from sonobridge.formats.zea.datasets.verasonics import frame_indices
>>> frame_indices("0,3-5", 10).tolist()
[0, 3, 4, 5]
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ....core.frames import LazyFrames
from ....errors import FormatError, UnsupportedInputError, read_faults
from ...h5guard import close_quietly, open_checked
from ..tree import file_tree, write_tree
from .job import DatasetJob

log = logging.getLogger(__name__)

DATASET = "verasonics"
#: Verasonics probe names -> zea probe names (others become "generic")
PROBE_NAMES = {"L11-4v": "verasonics_l11_4v", "L11-5v": "verasonics_l11_5v", "C5-2v": "verasonics_c5_2v",
               "C5-2V": "verasonics_c5_2v", "P4-2v": "verasonics_p4_2v", "P4-2V": "verasonics_p4_2v"}
PROBE_TYPES = {0: "linear", 1: "curved", 2: "2D-array", 3: "annular", 4: "row-column"}
SAMPLE_MODES = ("NS200BW", "BS100BW", "BS67BW", "BS50BW")
LENS_SOUND_SPEED = 1000.0          # m/s, assumed to turn the lens correction into a thickness
TGC_PERIOD = 800e-9                # s between the points of Verasonics' TGC waveform
TGC_FULL_SCALE = 1023              # TGC waveform value of 40 dB
LENS_DESCRIPTION = (
    "The lens correction value used by Verasonics. This value is a scalar one-way delay offset in "
    "wavelengths applied uniformly across all elements (disregards refraction). This is not directly "
    "compatible with zea's lens correction, which uses Fermat's principle (Newton-Raphson) to find "
    "the shortest refracted path per element-pixel pair.")
IMAGE_DESCRIPTION = ("The Verasonics ImgDataP buffer. WARNING: This buffer may skip frames compared to "
                     "the raw data! Use only for reference.")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class CustomElement:
    """One dataset of the ``custom`` group (as zea's ``CustomElement``)."""

    name: str
    data: Any
    description: str
    unit: str
    group_name: str = ""


# ------------------------------------------------------------------ planning
def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per ``.mat`` file under ``source`` (or for ``source`` itself when it is a file)."""
    source, destination = Path(source), Path(destination)
    extras = tuple((key, options[key]) for key in ("frames", "allow_accumulate") if key in options)
    if source.is_file():
        if destination.is_dir():
            destination = destination / f"{source.name}_zea.hdf5"
        elif destination.suffix not in (".hdf5", ".h5"):
            raise UnsupportedInputError(destination, "converting one .mat file needs a .hdf5 or .h5 "
                                                     "output path")
        return [DatasetJob(DATASET, _with_config(source), destination, extras)]
    if not source.is_dir():
        raise UnsupportedInputError(source, "no such file or folder")
    return [DatasetJob(DATASET, _with_config(path), destination / path.relative_to(source).with_suffix(".hdf5"),
                       extras)
            for path in sorted(source.rglob("*.mat"))]


def _with_config(path: Path) -> tuple[Path, ...]:
    """The file and, when present, the ``convert.yaml`` beside it (both decide the output)."""
    config = path.parent / "convert.yaml"
    return (path, config) if config.is_file() else (path,)


def file_config(path: Path) -> dict[str, Any]:
    """The ``convert.yaml`` entry for ``path`` (by name, else by stem), or ``{}``."""
    config = path.parent / "convert.yaml"
    if not config.is_file():
        return {}
    import yaml

    with read_faults(config, "unreadable convert.yaml", also=(yaml.YAMLError,)):
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("name"), str) for entry in data["files"]):
        raise FormatError(config, "convert.yaml must hold 'files': a list of entries with a 'name'")
    for entry in data["files"]:
        first = entry.get("first_frame", 0)
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise FormatError(config, f"first_frame must be a non-negative integer, got {first!r}")
    by_name = {entry["name"]: entry for entry in data["files"]}
    return by_name.get(path.name) or by_name.get(path.stem) or {}


def frame_indices(frames: object, n_frames: int) -> np.ndarray:
    """Sorted unique frame indices (0-based) from ``"all"``, ``"4-8"`` (inclusive), an integer or
    a comma/space separated list or sequence of these; indices past ``n_frames`` are dropped."""
    if isinstance(frames, str) and ("," in frames or " " in frames.strip()):
        frames = [part for part in re.split(r"[,\s]+", frames.strip()) if part]
    if isinstance(frames, (list, tuple)):
        indices = [i for part in frames for i in frame_indices(part, n_frames).tolist()]
    elif isinstance(frames, (int, np.integer)) and not isinstance(frames, bool):
        indices = [int(frames)]
    elif frames == "all":
        indices = list(range(n_frames))
    else:
        match = _RANGE.match(str(frames).strip())
        if not match:
            raise ValueError(f"frames must be 'all', a range like 4-8, or integers, got {frames!r}")
        start, stop = int(match[1]), int(match[2] if match[2] is not None else match[1])
        indices = list(range(start, stop + 1))
    chosen = np.unique(np.asarray(indices, dtype=np.int64))
    if np.any(chosen >= n_frames):
        log.warning("frames %s past the %d frames of the buffer are left out", chosen[chosen >= n_frames].tolist(),
                    n_frames)
    return chosen[chosen < n_frames]


# ------------------------------------------------------------------ reading MATLAB v7.3 structures
class Workspace:
    """Read access to the Verasonics structures of a MATLAB v7.3 workspace (an open h5py file)."""

    def __init__(self, handle, path: Path):
        self.h5, self.path = handle, path

    @staticmethod
    def _is_refs(dataset) -> bool:
        import h5py

        return h5py.check_dtype(ref=dataset.dtype) is not None

    def item(self, dataset, index: int = 0) -> np.ndarray:
        """Element ``index`` of a struct-array field: dereferenced for arrays of more than one
        element (stored as references), the field itself for a 1x1 struct."""
        if self._is_refs(dataset):
            return self.h5[dataset[index].item()][:]
        return dataset[:]

    def count(self, dataset) -> int:
        return len(dataset) if self._is_refs(dataset) else 1

    def items(self, dataset) -> list[np.ndarray]:
        return [self.item(dataset, i) for i in range(self.count(dataset))]

    def scalar(self, dataset, index: int = 0) -> float:
        return self.item(dataset, index).item()

    @staticmethod
    def text(array: np.ndarray) -> str:
        return "".join(chr(c) for c in np.asarray(array).squeeze().reshape(-1))


@dataclass
class TransmitOrder:
    """The transmits and receives of the first frame, in event order."""

    tx: np.ndarray                 # TX indices (0-based), (n_tx,)
    rcv: np.ndarray                # Receive indices (0-based), (n_tx,)
    time_to_next: np.ndarray | None  # s, (n_frames, n_tx) for the chosen frames


def _sequence(ws: Workspace, chosen: np.ndarray, allow_accumulate: bool) -> TransmitOrder:
    event, receive, control = ws.h5["Event"], ws.h5["Receive"], ws.h5["SeqControl"]
    tx_order, rcv_order, modes, waits = [], [], [], []
    for index in range(event["info"].shape[0]):
        tx, rcv = int(ws.scalar(event["tx"], index)), int(ws.scalar(event["rcv"], index))
        if bool(tx) != bool(rcv):
            log.warning("%s: event %d has a transmit but no receive or the other way round", ws.path, index)
        if not tx:
            continue
        mode = int(ws.scalar(receive["mode"], rcv - 1))
        if int(ws.scalar(receive["framenum"], rcv - 1)) == 1:
            tx_order.append(tx - 1)
            rcv_order.append(rcv - 1)
            modes.append(mode)
        for entry in ws.item(event["seqControl"], index):
            which = int(entry.item() - 1)
            if ws.text(ws.item(control["command"], which)) == "timeToNextAcq":
                waits.append(ws.scalar(control["argument"], which) * 1e-6)
    modes_, tx_, rcv_ = np.stack(modes), np.stack(tx_order), np.stack(rcv_order)
    time_to_next = np.reshape(np.stack(waits), (-1, tx_.size)) if waits else None
    if np.any(modes_ == 1):
        if not allow_accumulate:
            raise UnsupportedInputError(ws.path, "some receives accumulate on the system (Receive.mode = 1); "
                                                 "convert with the option allow_accumulate=true to keep "
                                                 "only the others")
        tx_, rcv_, time_to_next = tx_[modes_ == 0], rcv_[modes_ == 0], None
    return TransmitOrder(tx_, rcv_, None if time_to_next is None else time_to_next[chosen])


def geometry_kind(geometry: np.ndarray, rtol: float = 1e-3) -> str:
    """``"linear"`` (equal steps), ``"arc"`` (equal steps turning by a constant angle) or
    ``"unknown"`` for element positions ``(n_el, 3)``."""
    if len(geometry) < 2:
        return "unknown"
    steps = np.diff(geometry, axis=0)
    lengths = np.linalg.norm(steps, axis=1)
    if lengths[0] == 0:
        return "unknown"
    tolerance = rtol * lengths[0]
    if np.max(np.linalg.norm(steps - steps[0], axis=1)) < tolerance:
        return "linear"
    if len(geometry) >= 3 and np.max(np.abs(lengths - lengths[0])) < tolerance:
        units = steps / lengths[:, None]
        turns = np.clip(np.sum(units[1:] * units[:-1], axis=1), -1.0, 1.0)
        if np.max(np.abs(turns - turns[0])) < rtol:
            return "arc"
    return "unknown"


class Acquisition:
    """What zea's converter derives from one workspace: scan, probe, custom elements and the
    frame order of the raw data buffer."""

    def __init__(self, ws: Workspace, frames: object, allow_accumulate: bool, first_frame: int | None):
        self.ws = ws
        trans = ws.h5["Trans"]
        self.sound_speed = ws.h5["Resource"]["Parameters"]["speedOfSound"][:].item()
        self.probe_frequency = trans["frequency"][:].item() * 1e6
        self.wavelength = self.sound_speed / self.probe_frequency
        self.unit = ws.text(trans["units"][:])
        if self.unit not in ("wavelengths", "mm"):
            raise FormatError(ws.path, f"Trans.units is {self.unit!r}, not wavelengths or mm")
        modes = {ws.text(m) for m in ws.items(ws.h5["Receive"]["sampleMode"])}
        if len(modes) != 1 or next(iter(modes)) not in SAMPLE_MODES:
            raise UnsupportedInputError(ws.path, f"sample modes {sorted(modes)}: one of {SAMPLE_MODES} expected")
        self.bandwidth_mode = int(next(iter(modes))[2:-2])
        self.baseband = self.bandwidth_mode in (50, 100)
        self.n_frames_buffer = int(ws.scalar(ws.h5["Resource"]["RcvBuffer"]["numFrames"]))
        try:
            self.chosen = frame_indices(frames, self.n_frames_buffer)
        except ValueError as error:
            raise UnsupportedInputError(ws.path, f"frames option: {error}") from None
        self.sequence = _sequence(ws, self.chosen, allow_accumulate)
        self.geometry = self._length(trans["ElementPos"][:3, :].T)
        self.first_frame = first_frame

    def _length(self, value: Any) -> Any:
        """A Trans length in metres (Trans.units: mm or wavelengths)."""
        return value / 1000 if self.unit == "mm" else value * self.wavelength

    # ---------------------------------------------------------------- raw data
    @property
    def n_ax(self) -> int:
        receive = self.ws.h5["Receive"]
        ends = np.concatenate(self.ws.items(receive["endSample"])).squeeze()
        starts = np.concatenate(self.ws.items(receive["startSample"])).squeeze()
        lengths = np.unique((ends - starts + 1).astype(np.int32))
        if lengths.size != 1:
            raise UnsupportedInputError(self.ws.path, "receives of different lengths are not supported")
        self.last_sample = int(ends.max())
        return int(lengths.item())

    def buffer_order(self) -> np.ndarray:
        """Buffer frame of every output frame (the circular buffer unrolled, then ``frames``)."""
        n = self.n_frames_buffer
        first = self.first_frame
        if first is None:
            buffer = self.ws.h5["Resource"]["RcvBuffer"]
            if "lastFrame" in buffer:
                first = int(self.ws.scalar(buffer["lastFrame"])) % n
            else:
                log.warning("%s: no Resource.RcvBuffer.lastFrame: frames taken in stored order", self.ws.path)
                first = 0
        return ((np.arange(n) + first) % n)[self.chosen]

    def raw_data(self) -> LazyFrames:
        """``(n_frames, n_tx, n_ax, n_el, n_ch)`` read from ``RcvData`` frame by frame."""
        ws = self.ws
        buffer = ws.h5[ws.h5["RcvData"][:].reshape(-1)[0]] if Workspace._is_refs(ws.h5["RcvData"]) \
            else ws.h5["RcvData"]
        if buffer.ndim == 2:
            buffer_frames: Callable[[int], np.ndarray] = lambda i: buffer[:]
        else:
            buffer_frames = lambda i: buffer[i]
        n_ax = self.n_ax
        last, n_tx = self.last_sample, self.last_sample // n_ax
        if "save_raw_version" in ws.h5:
            channels = np.squeeze(ws.h5["Trans"]["ConnectorES"][:], axis=0).astype(np.int32) - 1
        else:
            log.warning("%s: not saved with save_raw (>= 1.0): channels taken as the element order", ws.path)
            channels = None
        order = self.buffer_order()
        probe = np.asarray(buffer_frames(int(order[0])) if len(order) else np.zeros((1, last), np.int16))
        n_el = len(channels) if channels is not None else probe.shape[0]

        def frame(index: int) -> np.ndarray:
            data = np.asarray(buffer_frames(int(index)), dtype=np.int16)
            if channels is not None:
                data = data[channels]
            data = data[:, :last].reshape(n_el, n_tx, n_ax).transpose(1, 2, 0)[..., None]
            if self.baseband:
                floats = data.astype(np.float32)
                return np.stack([floats[:, 0::2, :, 0], -floats[:, 1::2, :, 0]], axis=-1)
            return data

        def read_range(start: int, stop: int) -> np.ndarray:
            with read_faults(ws.path, "unreadable RcvData"):
                return np.stack([frame(i) for i in order[start:stop]])

        shape = (len(order), n_tx, n_ax // 2, n_el, 2) if self.baseband else (len(order), n_tx, n_ax, n_el, 1)
        return LazyFrames(shape, np.float32 if self.baseband else np.int16, read_range)

    # ---------------------------------------------------------------- scan
    @property
    def sampling_frequency(self) -> float:
        receive = self.ws.h5["Receive"]
        rate = self.ws.item(receive["decimSampleRate"], 0)
        decimation = self.ws.item(receive["quadDecim"], 0) if "quadDecim" in receive else 1.0
        frequency = (rate / decimation * 1e6).item()
        return frequency / 2 if self.baseband else frequency

    def _per_tx(self, field: str) -> list[np.ndarray]:
        return [self.ws.item(self.ws.h5["TX"][field], int(n)) for n in self.sequence.tx]

    def scan(self) -> dict[str, Any]:
        ws, seq = self.ws, self.sequence
        delays = np.stack([d[:, 0] for d in self._per_tx("Delay")]) * self.wavelength / self.sound_speed
        apodizations = np.stack([a[:, 0] for a in self._per_tx("Apod")])
        steer = np.squeeze(np.stack(self._per_tx("Steer")), axis=-1)
        focus = np.stack([f.item() for f in self._per_tx("focus")]) * self.wavelength
        origins = np.stack([o.squeeze() for o in self._per_tx("Origin")]) * self.wavelength
        tw = ws.h5["TW"]
        one_way = [w[0, :] for w in ws.items(tw["Wvfm1Wy"])]
        two_way = [w[0, :] for w in ws.items(tw["Wvfm2Wy"])]
        waveform = [int(w.item() - 1) for w in self._per_tx("waveform")]
        frequencies = np.stack([self._center_frequency(i) for i in waveform])
        if np.all(frequencies == frequencies[0]):
            frequencies = frequencies[0]
        demodulation = np.unique(ws.items(ws.h5["Receive"]["demodFrequency"]))
        if demodulation.size != 1:
            raise UnsupportedInputError(ws.path, f"several demodulation frequencies: {demodulation}")
        initial = np.stack([2 * ws.scalar(ws.h5["Receive"]["startDepth"], int(n)) * self.wavelength
                            / self.sound_speed for n in seq.rcv]).astype(np.float32)
        return {
            "time_to_next_transmit": seq.time_to_next,
            "t0_delays": delays,
            "tx_apodizations": apodizations,
            "sampling_frequency": self.sampling_frequency,
            "polar_angles": steer[:, 0],
            "azimuth_angles": steer[:, 1],
            "center_frequency": frequencies,
            "demodulation_frequency": demodulation.item() * 1e6,
            "sound_speed": self.sound_speed,
            "initial_times": initial,
            "focus_distances": self._plane_waves_at_infinity(focus, delays, apodizations),
            "transmit_origins": origins,
            "waveforms_one_way": np.stack([one_way[i] for i in waveform]),
            "waveforms_two_way": np.stack([two_way[i] for i in waveform]),
            "tgc_gain_curve": self.tgc_gain_curve(),
        }

    def _center_frequency(self, waveform: int) -> float:
        kind = self.ws.text(self.ws.item(self.ws.h5["TW"]["type"], waveform))
        if kind != "parametric":
            raise UnsupportedInputError(self.ws.path, f"transmit waveform type {kind!r}: only parametric "
                                                      "waveforms give a centre frequency")
        return self.ws.item(self.ws.h5["TW"]["Parameters"], waveform).squeeze()[0].item() * 1e6

    def _plane_waves_at_infinity(self, focus: np.ndarray, delays: np.ndarray, apodizations: np.ndarray
                                 ) -> np.ndarray:
        """Focus distances with transmits whose active delays form a linear ramp (plane waves on a
        linear array) at infinity."""
        if geometry_kind(self.geometry) != "linear":
            return focus
        for tx in range(focus.size):
            active = np.abs(apodizations[tx]) > 0
            if np.sum(active) >= 2 and np.std(np.diff(delays[tx][active])) < 1e-16:
                focus[tx] = np.inf
        return focus

    def tgc_gain_curve(self) -> np.ndarray:
        """Linear TGC gain at every axial sample ``(n_ax,)``."""
        gain_db = self.ws.h5["TGC"]["Waveform"][:][:, 0] / TGC_FULL_SCALE * 40
        n_ax = self.n_ax // 2 if self.baseband else self.n_ax
        gain_db = np.interp(np.arange(n_ax) / self.sampling_frequency, np.arange(gain_db.size) * TGC_PERIOD,
                            gain_db)
        return 10 ** (gain_db / 20)

    # ---------------------------------------------------------------- probe and custom
    def probe(self) -> dict[str, Any]:
        trans = self.ws.h5["Trans"]
        name = self.ws.text(trans["name"][:])
        if name not in PROBE_NAMES:
            log.warning("%s: probe %r is not a known zea probe: written as generic", self.ws.path, name)
        bandwidth_percent = None
        if "Bandwidth" in trans:
            low, high = trans["Bandwidth"][:].squeeze() * 1e6
            bandwidth_percent = 100 * ((high - low) / self.probe_frequency)
        probe = {
            "name": PROBE_NAMES.get(name, "generic"),
            "type": PROBE_TYPES.get(int(trans["type"][:].item())) if "type" in trans else None,
            "probe_center_frequency": self.probe_frequency,
            "probe_bandwidth_percent": bandwidth_percent,
            "probe_geometry": self.geometry,
            "element_width": self._length(trans["elementWidth"][:].item()),
        }
        lens = self.lens_correction()
        if lens is not None:
            if not (np.isfinite(lens) and lens >= 0):
                raise FormatError(self.ws.path, f"Trans.lensCorrection is {lens!r}")
            probe["lens_sound_speed"] = np.float32(LENS_SOUND_SPEED)
            probe["lens_thickness"] = np.float32(float(lens) * LENS_SOUND_SPEED / self.probe_frequency)
        return probe

    def lens_correction(self) -> float | None:
        trans = self.ws.h5["Trans"]
        return trans["lensCorrection"][:].item() if "lensCorrection" in trans else None

    def image_buffer(self) -> np.ndarray | None:
        """``ImgDataP`` in dB (0 at the buffer's maximum), frames unrolled and chosen, float32."""
        if "ImgDataP" not in self.ws.h5:
            return None
        reference = np.atleast_1d(self.ws.h5["ImgDataP"][:].squeeze())[0]
        images = self.ws.h5[reference][:]
        buffer = self.ws.h5["Resource"]["ImageBuffer"]
        n = int(self.ws.scalar(buffer["numFrames"]))
        if "firstFrame" in buffer and "lastFrame" in buffer:
            first = int(self.ws.scalar(buffer["firstFrame"])) - 1
            order = np.arange(first, first + n) % n
            if order[-1] != int(self.ws.scalar(buffer["lastFrame"])) - 1:
                raise FormatError(self.ws.path, "ImgDataP: firstFrame and lastFrame disagree with numFrames")
        else:
            order = np.arange(n)
        images = images[order].astype(np.float32)
        peak = np.max(images)
        scaled = np.clip(images, np.float32(0), peak) / peak
        scaled = np.where(scaled == 0, np.float32(1e-16), scaled)
        return (np.float32(20) * np.log10(scaled))[self.chosen]


def _open(path: Path):
    with open(path, "rb") as handle:
        head = handle.read(128)
    if head.startswith(b"MATLAB 5.0 MAT-file") or (head[:4] != b"\x89HDF" and b"MAT-file" in head[:116]
                                                   and b"7.3" not in head[:116]):
        raise UnsupportedInputError(path, "a MATLAB .mat older than v7.3: zea reads only v7.3 (HDF5) "
                                          "workspaces; re-save it in MATLAB with save(path, '-v7.3')")
    return open_checked(path)


def convert(job: DatasetJob) -> None:
    """Write the zea file of one Verasonics workspace to ``job.output``.

    Raises
    ------
    UnsupportedInputError
        Not a v7.3 workspace, or a sequence zea's converter refuses too (accumulating receives
        without ``allow_accumulate``, several sample modes, non-parametric waveforms...).
    FormatError
        The workspace lacks or garbles a structure the conversion needs (the message names it).
    """
    source = job.sources[0]
    config = file_config(source)
    frames = job.option("frames")
    frames = config.get("frames", "all") if frames is None else frames
    allow = str(job.option("allow_accumulate", False)).lower() in ("1", "true", "yes")
    handle = _open(source)
    try:
        with read_faults(source, "not a Verasonics workspace"):
            acquisition = Acquisition(Workspace(handle, source), frames, allow, config.get("first_frame"))
            scan, probe = acquisition.scan(), acquisition.probe()
            custom = []
            if acquisition.lens_correction() is not None:
                custom.append(CustomElement("lens_correction", acquisition.lens_correction(), LENS_DESCRIPTION,
                                            "wavelengths"))
            images = acquisition.image_buffer()
            if images is not None:
                custom.append(CustomElement("verasonics_image_buffer", images, IMAGE_DESCRIPTION, "unitless"))
            raw = acquisition.raw_data()
            tree = file_tree(tracks=[{"data": {"raw_data": raw}, "scan": scan}], probe=probe,
                             description="Verasonics data", custom=custom)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        write_tree(tree, job.output, overwrite=True)
    finally:
        close_quietly(handle)
