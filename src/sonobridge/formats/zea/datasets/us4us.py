"""us4us recordings (ARRUS + gui4us pickles) into zea files, as ``zea convert us4us``.

Input: a gui4us capture, a Python pickle of ``{"data": [frame, ...], "metadata": (ConstMetadata,
...)}`` where every frame is a tuple of arrays (one per pipeline output) and every metadata entry
an ``arrus.metadata.ConstMetadata`` (acquisition context: probe model, TX/RX sequence, medium; data
description: sampling frequency, grid spacing). The metadata may be pickled separately, beside the
recording as ``<name>_metadata.pkl`` / ``<name>.metadata.pkl`` / ``<name>_meta.pkl`` /
``metadata.pkl``, or given with the option ``metadata``.

**Pickles are code.** Unpickling calls whatever the file names. Like zea's converter we never use
``pickle.load``: :class:`SafeUnpickler` resolves only the NumPy/collections constructors a capture
needs (the list zea 0.1.8 allows) and replaces every ``arrus.*`` class by an inert attribute
holder; any other name (``os.system``, ``subprocess.Popen``, ``builtins.eval``...) is refused with
an :class:`~sonobridge.errors.UnsupportedInputError` naming the file and the global. Convert
only captures you trust all the same: the allowed constructors still allocate what the file asks.

Output: ``DST/<name>.hdf5`` per recording of a folder (``DST`` itself for a file source unless it
is a folder), the mapped pipeline outputs (option ``mapping``, default ``0:image``; data types
raw_data, beamformed_data, envelope_data, image) side by side in one track, or one track each with
``separate_tracks``; scan and probe from the ARRUS context; as zea 0.1.8 writes them.

Examples
--------
>>> from sonobridge.formats.zea.datasets.us4us import parse_mapping
>>> parse_mapping("0:image 1:raw_data")
{0: 'image', 1: 'raw_data'}
"""
from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ....errors import FormatError, UnsupportedInputError, read_faults
from ..tree import file_tree, write_tree
from .job import DatasetJob

log = logging.getLogger(__name__)

DATASET = "us4us"
DATA_TYPES = ("raw_data", "beamformed_data", "envelope_data", "image")
DEFAULT_SOUND_SPEED = 1540.0       # m/s when the recording reports none
METADATA_SUFFIXES = ("_metadata.pkl", ".metadata.pkl", "_meta.pkl")
DESCRIPTION = "us4us (ARRUS + gui4us) recording converted to the zea format"
#: The only globals a capture may name besides arrus classes (zea 0.1.8's list): data constructors
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "deque"), ("collections", "OrderedDict"), ("_codecs", "encode"),
})


# ------------------------------------------------------------------ safe unpickling
class ArrusObject:
    """Stands in for an ``arrus`` class: keeps the attributes the pickle restores, runs nothing."""

    arrus_class = "arrus"

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
            self.__dict__.update(slots or {})
        if isinstance(state, Mapping):
            self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{self.arrus_class}>"


_STAND_INS: dict[tuple[str, str], type] = {}


class SafeUnpickler(pickle.Unpickler):
    """Unpickles captures without running anything the file names (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "arrus" or module.startswith("arrus."):
            key = (module, name)
            if key not in _STAND_INS:
                _STAND_INS[key] = type(name.replace(".", "_"), (ArrusObject,),
                                       {"arrus_class": f"{module}.{name}", "__module__": __name__})
            return _STAND_INS[key]
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: a us4us capture holds only arrus "
                                     "classes and NumPy arrays, and unpickling any other name could run code")


def load_pickle(path: Path) -> Any:
    """The object pickled in ``path``, through :class:`SafeUnpickler`.

    Raises
    ------
    UnsupportedInputError
        The pickle names a global outside the allowed constructors (nothing was run).
    FormatError
        Not a readable pickle.
    """
    try:
        with open(path, "rb") as handle:
            return SafeUnpickler(handle).load()
    except pickle.UnpicklingError as error:
        if str(error).startswith("refused"):
            raise UnsupportedInputError(path, str(error)) from None
        raise FormatError(path, f"not a readable pickle ({error})") from None
    except RecursionError:
        raise FormatError(path, "not a readable pickle (nested too deeply)") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, ImportError,
            MemoryError, OSError, UnicodeDecodeError) as error:
        raise FormatError(path, f"not a readable pickle ({type(error).__name__}: {error})") from None


# ------------------------------------------------------------------ planning
def parse_mapping(mapping: object) -> dict[int, str]:
    """``{pipeline output index: zea data type}`` from ``"0:image 1:raw_data"`` (spaces or commas),
    a JSON object, a mapping or a list of ``index:type`` strings; default ``{0: "image"}``."""
    if mapping is None or (isinstance(mapping, str) and not mapping.strip()):
        return {0: "image"}
    if isinstance(mapping, str):
        text = mapping.strip()
        if text.startswith("{"):
            try:
                mapping = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"mapping: invalid JSON {text!r} ({error})") from None
        else:
            mapping = text.replace(",", " ").split()
    if isinstance(mapping, Mapping):
        pairs = list(mapping.items())
    else:
        pairs = []
        for token in mapping:  # type: ignore[union-attr]
            if str(token).count(":") != 1:
                raise ValueError(f"mapping entry {token!r}: expected <output index>:<data type>")
            pairs.append(tuple(str(token).split(":")))
    result: dict[int, str] = {}
    for raw_index, data_type in pairs:
        try:
            index = int(raw_index)
        except (TypeError, ValueError):
            raise ValueError(f"mapping indices must be integers, got {raw_index!r}") from None
        if index < 0 or index in result:
            raise ValueError(f"mapping index {raw_index!r} is negative or given twice")
        if data_type not in DATA_TYPES:
            raise ValueError(f"mapping data type {data_type!r}: one of {', '.join(DATA_TYPES)} expected")
        result[index] = data_type
    if len(set(result.values())) != len(result):
        raise ValueError("mapping gives one data type to several pipeline outputs")
    return result


def is_metadata_name(name: str) -> bool:
    """Whether a ``.pkl`` file name is a metadata pickle rather than a capture."""
    stem = Path(name).stem
    return stem == "metadata" or stem.startswith("metadata_") or name.endswith(METADATA_SUFFIXES)


def metadata_beside(path: Path) -> Path | None:
    """The separately pickled metadata of the capture ``path``, if one lies beside it."""
    for name in [path.stem + suffix for suffix in METADATA_SUFFIXES] + ["metadata.pkl"]:
        candidate = path.with_name(name)
        if candidate.exists() and candidate != path:
            return candidate
    return None


def plan(source: Path, destination: Path, options: Mapping[str, object]) -> list[DatasetJob]:
    """One job per capture (``*.pkl`` that is not a metadata pickle)."""
    source, destination = Path(source), Path(destination)
    try:
        mapping = parse_mapping(options.get("mapping"))
    except ValueError as error:
        raise UnsupportedInputError(source, f"mapping option: {error}") from None
    extras = (("mapping", tuple(sorted(mapping.items()))),
              ("separate_tracks", str(options.get("separate_tracks", False)).lower() in ("1", "true", "yes")))
    given = options.get("metadata")
    if source.is_dir():
        captures = sorted(p for p in source.glob("*.pkl") if not is_metadata_name(p.name))
        if not captures:
            raise UnsupportedInputError(source, "no us4us capture (.pkl) in this folder")
        if given is not None and len(captures) > 1:
            raise UnsupportedInputError(source, f"the metadata option applies to one capture, found {len(captures)}")
        pairs = [(p, destination / f"{p.stem}.hdf5") for p in captures]
    elif source.is_file():
        pairs = [(source, destination / f"{source.stem}.hdf5" if destination.is_dir() else destination)]
    else:
        raise UnsupportedInputError(source, "no such file or folder")
    jobs = []
    for capture, output in pairs:
        metadata = Path(str(given)) if given is not None else metadata_beside(capture)
        sources = (capture,) if metadata is None else (capture, metadata)
        jobs.append(DatasetJob(DATASET, sources, output, extras))
    return jobs


# ------------------------------------------------------------------ the capture
def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _context(entry: Any) -> Any:
    return getattr(entry, "_context", None) or getattr(entry, "context", None)


def _description(entry: Any) -> Any:
    return getattr(entry, "_data_char", None) or getattr(entry, "data_description", None)


def _is_frame(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (_is_sequence(value) and len(value) > 0
                                             and all(isinstance(a, np.ndarray) for a in value))


def _is_frames(value: Any) -> bool:
    return _is_sequence(value) and len(value) > 0 and _is_frame(value[0])


def frames_and_metadata(path: Path, payload: Any, separate: Any) -> tuple[list[tuple], list]:
    """``(frames as tuples of arrays, one metadata entry per pipeline output)`` of a capture in
    any of the layouts gui4us writes: ``{"data", "metadata"}``, ``[data, metadata]`` or bare
    frames (metadata then from the separate pickle, which wins over embedded metadata)."""
    embedded = None
    if isinstance(payload, Mapping):
        if "data" not in payload:
            raise FormatError(path, f"not a us4us capture: no 'data' key (keys {sorted(map(str, payload))})")
        frames, embedded = payload["data"], payload.get("metadata")
    elif _is_sequence(payload) and len(payload) == 2 and _is_frames(payload[0]) and _is_sequence(payload[1]) \
            and len(payload[1]) and _context(payload[1][0]) is not None:
        frames, embedded = payload
    elif _is_frames(payload):
        frames = payload
    else:
        raise FormatError(path, f"not a us4us capture: got {type(payload).__name__}")
    if not _is_frames(frames):
        raise FormatError(path, "not a us4us capture: 'data' is not a list of frames (arrays or tuples of arrays)")
    if isinstance(separate, Mapping):
        separate = separate.get("metadata", separate)
    metadata = separate if separate is not None else embedded
    if metadata is None:
        raise FormatError(path, "no ARRUS metadata: give the metadata pickle with the option metadata=PATH")
    if _context(metadata) is not None:
        metadata = [metadata]
    if not _is_sequence(metadata) or not metadata:
        raise FormatError(path, "ARRUS metadata: one ConstMetadata per pipeline output expected")
    frames = [(f,) if isinstance(f, np.ndarray) else tuple(f) for f in frames]
    outputs = len(frames[0])
    if any(len(f) != outputs for f in frames):
        raise FormatError(path, "frames hold different numbers of pipeline outputs")
    metadata = list(metadata) + [metadata[-1]] * (outputs - len(metadata))
    return frames, metadata


def _probe_model(path: Path, context: Any) -> Any:
    probes = getattr(getattr(context, "device", None), "probe", None)
    if probes is None:
        raise FormatError(path, "ARRUS metadata: context.device.probe is missing")
    probes = list(probes) if _is_sequence(probes) else [probes]
    if len(probes) != 1:
        raise UnsupportedInputError(path, f"{len(probes)} probes (RCA / matrix / dual-probe): only single "
                                          "array probes convert")
    model = getattr(probes[0], "model", None)
    if "rca" in repr(model if model is not None else probes[0]).lower():
        raise UnsupportedInputError(path, "row-column addressed (RCA) probes do not convert")
    if model is None or any(getattr(model, a, None) is None for a in ("element_pos_x", "element_pos_z",
                                                                        "n_elements")):
        raise FormatError(path, "ARRUS metadata: the probe model or its element positions are missing")
    return model


def _ops(path: Path, context: Any) -> list:
    ops = getattr(getattr(context, "raw_sequence", None), "ops", None)
    if not ops or getattr(ops[0], "tx", None) is None or getattr(ops[0], "rx", None) is None:
        raise FormatError(path, "ARRUS metadata: context.raw_sequence.ops (the TX/RX sequence) is missing")
    return list(ops)


def _center_frequency(ops: list) -> float:
    value = getattr(getattr(ops[0].tx, "excitation", None), "center_frequency", None)
    return float(value) if value else 0.0


def probe_fields(model: Any, ops: list) -> dict[str, Any]:
    """The zea probe of an ARRUS probe model (positions in m)."""
    n_el = int(model.n_elements)
    y = getattr(model, "element_pos_y", None)
    fields: dict[str, Any] = {"probe_geometry": np.stack([
        np.asarray(model.element_pos_x, dtype=np.float32).ravel(),
        np.asarray(y, dtype=np.float32).ravel() if y is not None else np.zeros(n_el, dtype=np.float32),
        np.asarray(model.element_pos_z, dtype=np.float32).ravel()], axis=1)}
    if getattr(model, "pitch", None):
        fields["element_width"] = np.float32(model.pitch)      # ARRUS gives no width: the pitch
    radius = getattr(model, "curvature_radius", None)
    if radius is not None:
        fields["type"] = "linear" if float(radius) == 0.0 else "curved"
    fields["name"] = str(getattr(getattr(model, "model_id", None), "name", None) or "us4us_generic")
    if _center_frequency(ops):
        fields["probe_center_frequency"] = np.float32(_center_frequency(ops))
    lens = getattr(model, "lens", None)
    for attribute, key in (("thickness", "lens_thickness"), ("speed_of_sound", "lens_sound_speed")):
        value = getattr(lens, attribute, None) if lens is not None else None
        if value and float(value) > 0:
            fields[key] = np.float32(value)
    return fields


def _per_transmit(value: Any, n_tx: int) -> np.ndarray | None:
    if value is None:
        return None
    array = np.atleast_1d(np.asarray(value, dtype=np.float32)).ravel()
    if array.size == n_tx:
        return array
    return np.full(n_tx, float(array[0]), dtype=np.float32) if array.size == 1 else None


def _sound_speed(context: Any) -> float:
    for holder in (getattr(context, "medium", None), getattr(context, "sequence", None)):
        value = getattr(holder, "speed_of_sound", None)
        if value:
            return float(value)
    log.warning("us4us capture reports no speed of sound: %s m/s assumed", DEFAULT_SOUND_SPEED)
    return DEFAULT_SOUND_SPEED


def scan_fields(path: Path, context: Any, description: Any, model: Any, ops: list, n_frames: int) -> dict:
    """The zea scan of the TX/RX sequence: delays and receive start measured from the first active
    element firing (ARRUS measures both from the transmit event)."""
    n_tx, n_el = len(ops), int(model.n_elements)
    x = np.asarray(model.element_pos_x, dtype=np.float64).ravel()
    z = np.asarray(model.element_pos_z, dtype=np.float64).ravel()
    fs = np.float32(description.sampling_frequency)
    delays = np.zeros((n_tx, n_el), dtype=np.float64)
    apodizations = np.zeros((n_tx, n_el), dtype=np.float32)
    shifts = np.zeros(n_tx, dtype=np.float64)
    origins = np.zeros((n_tx, 3), dtype=np.float32)
    starts = np.zeros(n_tx, dtype=np.float32)
    for i, op in enumerate(ops):
        aperture = np.asarray(op.tx.aperture, dtype=bool)
        if aperture.size != n_el:
            raise UnsupportedInputError(path, f"transmit {i} addresses {aperture.size} elements, the probe has "
                                              f"{n_el}")
        delays[i, aperture] = np.asarray(op.tx.delays, dtype=np.float64)
        weights = getattr(op.tx, "apodization", None)
        apodizations[i, aperture] = 1.0 if weights is None else np.asarray(weights, dtype=np.float32).ravel()
        if np.any(aperture):
            shifts[i] = delays[i, aperture].min()
            delays[i] -= shifts[i]
            origins[i, 0], origins[i, 2] = float(x[aperture].mean()), float(z[aperture].mean())
        sample_range, time_range = getattr(op.rx, "sample_range", None), getattr(op.rx, "time_range", None)
        if sample_range is not None:
            starts[i] = np.float32(sample_range[0] / float(fs))
        elif time_range is not None:
            starts[i] = np.float32(time_range[0])
    starts -= shifts.astype(np.float32)
    sequence = getattr(context, "sequence", None)
    focus = _per_transmit(getattr(sequence, "tx_focus", None), n_tx)
    if focus is None:
        focus = np.array([float(op.tx.focus) if getattr(op.tx, "focus", None) is not None else np.inf
                          for op in ops], dtype=np.float32)
    angles = _per_transmit(getattr(sequence, "angles", None), n_tx)
    if angles is None:
        angles = np.array([float(op.tx.angle) if getattr(op.tx, "angle", None) is not None else 0.0
                           for op in ops], dtype=np.float32)
    pris = np.array([float(getattr(op, "pri", 0.0) or 0.0) for op in ops], dtype=np.float32)
    frequency = np.float32(_center_frequency(ops))
    return {"sampling_frequency": fs, "center_frequency": frequency, "demodulation_frequency": frequency,
            "initial_times": starts, "t0_delays": np.clip(delays, 0.0, None).astype(np.float32),
            "tx_apodizations": apodizations, "focus_distances": focus, "transmit_origins": origins,
            "polar_angles": angles, "time_to_next_transmit": np.tile(pris[None, :], (n_frames, 1)),
            "sound_speed": np.float32(_sound_speed(context))}


# ------------------------------------------------------------------ pipeline outputs
def _stack(path: Path, frames: list[tuple], index: int) -> np.ndarray:
    arrays = [frame[index] for frame in frames]
    if arrays[0].ndim > 1 and arrays[0].shape[0] == 1:
        arrays = [a[0] for a in arrays]
    if len({a.shape for a in arrays}) > 1:
        raise FormatError(path, f"pipeline output {index} changes shape between frames")
    return np.stack(arrays)


def grid_coordinates(description: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``(z, x, 3)`` positions (m) of a 2-D output from ARRUS' grid spacing, if it has one."""
    axes = getattr(getattr(description, "spacing", None), "coordinates", None)
    if axes is None or len(axes) < len(shape):
        return None
    axes = [np.asarray(a, dtype=np.float32).ravel() for a in axes[:len(shape)]]
    if tuple(a.size for a in axes) != tuple(shape):
        log.warning("ARRUS grid spacing of sizes %s does not fit the data %s: ignored",
                    [a.size for a in axes], tuple(shape))
        return None
    if len(axes) != 2:
        return None
    depth, lateral = np.meshgrid(axes[0], axes[1], indexing="ij")
    return np.stack([lateral, np.zeros_like(lateral), depth], axis=-1).astype(np.float32)


def scanline_coordinates(scan: dict, n_ax: int, fs: Any) -> np.ndarray | None:
    """``(n_ax, n_tx, 3)`` positions (m) of data still laid out one line per transmit."""
    if not fs or fs <= 0:
        return None
    c = float(scan["sound_speed"])
    angles = np.asarray(scan["polar_angles"], dtype=np.float32)
    origins = np.asarray(scan["transmit_origins"], dtype=np.float32)
    depth = np.arange(n_ax, dtype=np.float32)[:, None] * (c / (2.0 * float(fs)))
    depth = depth + (np.asarray(scan["initial_times"], dtype=np.float32)[None, :] * c / 2.0)
    x = origins[None, :, 0] + depth * np.sin(angles)[None, :]
    z = origins[None, :, 2] + depth * np.cos(angles)[None, :]
    return np.stack([x, np.zeros_like(x), z], axis=-1).astype(np.float32)


def _raw_data(path: Path, stacked: np.ndarray, ops: list) -> np.ndarray:
    """ARRUS channel data as zea's ``(n_frames, n_tx, n_ax, n_el, n_ch)``, the receive aperture
    scattered back onto the whole probe."""
    if stacked.ndim != 4:
        raise UnsupportedInputError(path, f"channel data of shape {stacked.shape[1:]} per frame: (n_tx, n_ax, n_rx) "
                                          "expected")
    aperture = getattr(ops[0].rx, "aperture", None)
    n_el = len(np.asarray(aperture)) if aperture is not None else None
    if n_el is not None and stacked.shape[-1] != n_el:
        full = np.zeros((*stacked.shape[:3], n_el), dtype=stacked.dtype)
        for i, op in enumerate(ops):
            left = int((getattr(op.rx, "padding", (0, 0)) or (0, 0))[0])
            active = np.where(np.asarray(op.rx.aperture, dtype=bool))[0]
            full[:, i][:, :, active] = stacked[:, i, :, left:left + active.size]
        stacked = full
    if np.iscomplexobj(stacked):
        return np.stack([stacked.real, stacked.imag], axis=-1).astype(np.float32)
    return (stacked if stacked.dtype == np.int16 else stacked.astype(np.float32))[..., None]


def _product(values: np.ndarray, coordinates: np.ndarray | None, **extra: Any) -> dict[str, Any]:
    product = {"values": values}
    if coordinates is not None:
        product["coordinates"] = coordinates
    return {**product, **extra}


def output_product(path: Path, frames: list[tuple], index: int, data_type: str, entry: Any, ops: list,
                   scan: dict) -> Any:
    """One pipeline output as the zea data product ``data_type``."""
    stacked = _stack(path, frames, index)
    description = _description(entry)
    if data_type == "raw_data":
        return _raw_data(path, stacked, ops)
    spatial = stacked.shape[1:]
    coordinates = grid_coordinates(description, spatial)
    if len(spatial) == 3 and spatial[0] == len(ops):
        raise UnsupportedInputError(path, f"pipeline output {index} holds one image per transmit {tuple(spatial)}: "
                                          f"zea's {data_type} has no transmit axis (compound it in gui4us)")
    if coordinates is None and len(spatial) == 2 and spatial[0] == len(ops):
        stacked = np.swapaxes(stacked, 1, 2)
        coordinates = scanline_coordinates(scan, stacked.shape[1], getattr(description, "sampling_frequency", None))
    if data_type == "image":
        if stacked.dtype == np.uint8:
            return _product(stacked, coordinates)
        values = stacked.astype(np.float32)
        values = np.where(np.isnan(values), -np.inf, values)
        peak = float(np.max(values[np.isfinite(values)], initial=0.0))
        return _product(values - peak if peak > 0 else values, coordinates)
    if data_type == "beamformed_data":
        if np.iscomplexobj(stacked):
            values, labels = np.stack([stacked.real, stacked.imag], axis=-1).astype(np.float32), ["I", "Q"]
        else:
            values, labels = stacked.astype(np.float32)[..., None], ["RF"]
        return _product(values, coordinates, labels=np.array(labels, dtype=np.str_))
    magnitude = np.abs(stacked) if np.iscomplexobj(stacked) else stacked
    return _product(magnitude.astype(np.float32), coordinates)


def _scan_entry(metadata: list, mapping: dict[int, str]) -> Any:
    for index, data_type in mapping.items():
        if data_type == "raw_data":
            return metadata[index]
    return max(metadata, key=lambda e: float(getattr(_description(e), "sampling_frequency", 0) or 0))


def convert(job: DatasetJob) -> None:
    """Write the zea file of one us4us capture to ``job.output``.

    Raises
    ------
    UnsupportedInputError
        A pickle naming a global outside the allowed constructors, or a capture zea's converter
        refuses too (several probes, per-transmit images...).
    FormatError
        Not a us4us capture, or its ARRUS metadata lacks what the conversion needs.
    """
    capture = job.sources[0]
    mapping = dict(job.option("mapping", ((0, "image"),)))
    payload = load_pickle(capture)
    separate = load_pickle(job.sources[1]) if len(job.sources) > 1 else None
    frames, metadata = frames_and_metadata(capture, payload, separate)
    del payload, separate
    outside = [i for i in mapping if i >= len(frames[0])]
    if outside:
        raise UnsupportedInputError(capture, f"mapping names pipeline outputs {outside}, the capture has "
                                             f"{len(frames[0])}")
    entry = _scan_entry(metadata, mapping)
    context = _context(entry)
    if context is None:
        raise FormatError(capture, "ARRUS metadata without an acquisition context (ARRUS >= 0.12 expected)")
    with read_faults(capture, "unexpected ARRUS metadata"):
        ops, model = _ops(capture, context), _probe_model(capture, context)
        probe = probe_fields(model, ops)
        scan = scan_fields(capture, context, _description(entry), model, ops, len(frames))
        products = {data_type: output_product(capture, frames, index, data_type, metadata[index], ops, scan)
                    for index, data_type in mapping.items()}
    del frames
    if job.option("separate_tracks", False):
        tracks = [{"data": {name: product}, "scan": scan, "label": name} for name, product in products.items()]
    else:
        tracks = [{"data": products, "scan": scan}]
    tree = file_tree(tracks=tracks, probe=probe, description=DESCRIPTION, us_machine="us4R")
    job.output.parent.mkdir(parents=True, exist_ok=True)
    write_tree(tree, job.output, overwrite=True)
