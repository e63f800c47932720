"""The zea HDF5 data format (zea >= 0.1.0 layout, as of zea 0.1.8): field tables.

One acquisition per file: root attributes (``zea_version``, ``us_machine``, ``description``,
``acquisition_time``), ``tracks/track_N/{data,scan}`` (a single-track file may also be read as
``data``/``scan``), ``probe/``, ``metadata/``, ``metrics/``, ``custom/`` and ``track_schedule``.
Named dimensions must agree within a track; dtypes are the ones zea accepts. Facts from
../shared/notes/zea.md (measured against zea 0.1.8).

Each field of the spec is a :class:`Field` (dtype, shapes, unit, description) in one of the tables
(:data:`SCAN_SPEC`, :data:`PROBE_SPEC`, :data:`METADATA_FIELDS`, :data:`METADATA_GROUPS`,
:data:`METRICS_FIELDS`, :data:`MAP_FIELDS`, :data:`ATTENUATION_FIELDS`): the validator checks files
and trees against them, the writer types Python values with :func:`coerce` as zea does, and
:func:`field_docs` renders them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT = "float32"   # zea accepts any float and stores float32
RAW_DIMS = ("n_frames", "n_tx", "n_ax", "n_el", "n_ch")

#: data products stored as groups with ``values``: allowed dtypes and value-shape dims
MAP_PRODUCTS: dict[str, tuple[set[str], tuple[tuple[str, ...], ...]]] = {
    "aligned_data": ({"float32", "int16"}, (RAW_DIMS,)),
    "beamformed_data": ({FLOAT}, (("n_frames", "z", "x", "y", "n_ch"), ("n_frames", "z", "x", "n_ch"))),
    "envelope_data": ({FLOAT}, (("n_frames", "z", "x", "y"), ("n_frames", "z", "x"))),
    "image": ({FLOAT, "uint8"}, (("n_frames", "z", "x", "y"), ("n_frames", "z", "x"))),
    "segmentation": ({"bool"}, (("n_frames", "z", "x", "y", "n_spatial_ch"),
                                ("n_frames", "z", "x", "n_spatial_ch"))),
}
GENERIC_MAP_DIMS = (("n_frames", "z", "x", "y", "n_spatial_ch"), ("n_frames", "z", "x", "y"),
                    ("n_frames", "z", "x", "n_spatial_ch"), ("n_frames", "z", "x"))
FLOAT_MAPS = {"sos_map": "m/s", "shear_wave_elastography_map": "m/s", "tissue_doppler": "m/s",
              "color_doppler": "m/s", "strain_percentage_map": "%", "attenuation_map": "dB/m/Hz"}
CUSTOM_MAP_DTYPES = {"uint8", FLOAT, "int16", "complex64"}
CHANNEL_PRODUCTS = {"raw_data", "aligned_data", "beamformed_data"}   # n_ch in {1 (RF), 2 (IQ)}

#: scan fields: dims (None = scalar or per-transmit) and whether required; derived from
#: :data:`SCAN_SPEC` (the field table, defined below with the other tables)
SCAN_FIELDS: dict[str, tuple[tuple[str, ...] | None, bool]] = {}
#: probe fields: dtype class; derived from :data:`PROBE_SPEC`
PROBE_FIELDS: dict[str, str] = {}
CONSISTENT_DIMS = {"n_frames", "n_tx", "n_ax", "n_el"}
ROOT_ATTRIBUTES = ("zea_version", "us_machine", "description", "acquisition_time")


def dataset_value(dataset):
    """A dataset's value: an array, a NumPy scalar or, for string scalars, ``str``."""
    value = dataset[()]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def dtype_name(dtype: np.dtype) -> str:
    """zea's dtype class of an HDF5 dtype: float32 for any float, str for strings."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return FLOAT
    if dtype.kind in "SUO":
        return "str"
    return dtype.name


# ------------------------------------------------------------------ field tables
@dataclass(frozen=True)
class Field:
    """One field of the zea spec: allowed dtype classes (``"str"``, ``"float32"`` for any float,
    or an exact NumPy name), accepted shapes (named dims; ``"..."`` = any leading axes), unit and
    description. The validator, :func:`coerce` (the writer) and the docs read these."""

    dtypes: tuple[str, ...]
    shapes: tuple[tuple, ...]
    unit: str = "-"
    description: str = ""
    bytes_text: bool = False      # text given as bytes is taken (NumPy-string fields), else refused


def _f(dtypes, shapes=((),), unit="-", description="", bytes_text=False) -> Field:
    return Field(tuple(dtypes.split()), shapes, unit, description, bytes_text)


SAMPLE_DTYPES = "uint8 float32 int16 complex64"
SIGNAL_TIMING = {
    "start_time_offset": _f("float32", unit="s", description="Time from the first transmit event to sample 0."),
    "sampling_frequency": _f("float32", unit="Hz", description="Sampling frequency (or give timestamps)."),
    "timestamps": _f("float32", (("T",),), "s", "Sample times from sample 0 (0, then increasing)."),
}
SUBJECT_FIELDS = {
    "id": _f("str", description="Subject ID (non-empty)."),
    "type": _f("str", description="Subject type: human, phantom, animal."),
    "age": _f("uint8", unit="years", description="Subject age."),
    "sex": _f("str", description="Subject sex."),
    "weight": _f("float32", unit="kg", description="Subject weight (finite, > 0)."),
    "genetic_strain": _f("str", description="Genetic strain of an animal subject (non-empty)."),
    "fat_percentage": _f("float32", unit="%", description="Body fat percentage in [0, 100]."),
    "bmi": _f("float32", unit="kg/m2", description="Body mass index in (0, 100]."),
}
ANNOTATION_FIELDS = {name: _f("str", (("n_frames",), ()), description=text, bytes_text=True) for name, text in (
    ("anatomy", "Anatomy imaged, per frame or one for all."), ("view", "Imaging plane / view."),
    ("label", "Pathology or classification label."), ("image_quality", "Image quality label."))}
PROBE_POSE_FIELDS = {
    "translation": _f("float32", (("T", 3),), "m", "Transducer tip position (x, y, z)."),
    "rotation": _f("float32", (("T", 3), ("T", 4)), description="Orientation, per rotation_representation."),
    "rotation_representation": _f("str", description="euler_xyz, quaternion_wxyz or quaternion_xyzw."),
    **SIGNAL_TIMING,
}
ROTATION_WIDTHS = {"euler_xyz": 3, "quaternion_wxyz": 4, "quaternion_xyzw": 4}
SIGNAL_1D_FIELDS = {"samples": _f(SAMPLE_DTYPES, (("T",),), description="Signal samples."), **SIGNAL_TIMING}
SIGNAL_ND_FIELDS = {"samples": _f(SAMPLE_DTYPES, (("T", "..."),), description="Signal samples."),
                    **SIGNAL_TIMING}
#: metadata/: scalar fields, and the groups with their own tables (other names: N-D signals)
METADATA_FIELDS = {
    "credit": _f("str", description="Credit or attribution for the data."),
    "text_report": _f("str", description="Free-text report of the study."),
}
METADATA_GROUPS = {"subject": SUBJECT_FIELDS, "annotations": ANNOTATION_FIELDS,
                   "probe_pose": PROBE_POSE_FIELDS, "ecg": SIGNAL_1D_FIELDS, "voice_narration": SIGNAL_1D_FIELDS}
METRICS_FIELDS = {
    "common_midpoint_phase_error": _f("float32", (("n_frames",),), "rad", "Common midpoint phase error."),
    "coherence_factor": _f("float32", (("n_frames",),), description="Coherence factor (0-1)."),
}
#: optional fields of a data product group besides ``values``
MAP_FIELDS = {
    "coordinates": _f("float32", (("...", 3),), "m", "Pixel positions (x, y, z)."),
    "timestamps": _f("float32", (("n_frames",),), "s", "Frame times from frame 0."),
    "start_time_offset": _f("float32", unit="s", description="Time from the first transmit to frame 0."),
    "labels": _f("str", (("n_spatial_ch",),), description="Label of each channel.", bytes_text=True),
    "description": _f("str", description="Free-text description."),
    "unit": _f("str", description="Unit of the values."),
    "min": _f("float32", description="Minimum value of the map."),
    "max": _f("float32", description="Maximum value of the map."),
}
ATTENUATION_FIELDS = {"gamma": _f("float32", description="Power-law exponent of attenuation vs frequency.")}


def dtype_fits(dtype, field: Field) -> bool:
    """Whether an array of ``dtype`` is accepted for ``field`` (any float for float32)."""
    return dtype_name(dtype) in field.dtypes


def shape_fits(shape: tuple[int, ...], field: Field) -> dict[str, int] | None:
    """The named sizes of ``shape`` under the first matching shape of ``field``, or None."""
    for expected in field.shapes:
        if expected[:1] == ("...",):
            tail = expected[1:]
            if len(shape) >= len(tail) and all(s == t for s, t in zip(shape[len(shape) - len(tail):], tail)):
                return {}
            continue
        if expected[-1:] == ("...",):
            if len(shape) >= len(expected) - 1:
                return dict(zip(expected[:-1], shape))
            continue
        if len(shape) == len(expected) and all(isinstance(t, str) or s == t for s, t in zip(shape, expected)):
            return {t: s for t, s in zip(expected, shape) if isinstance(t, str)}
    return None


def coerce(value, field: Field):
    """A value given to the writer as zea takes it: Python numbers become the field's first dtype
    (a number for a text field becomes its text), lists become arrays; the rest is unchanged.
    Raises TypeError for bytes given to a field that takes only ``str``."""
    if isinstance(value, bytes) and not field.bytes_text:
        raise TypeError("text must be given as str, not bytes")
    if isinstance(value, (str, bytes)) or hasattr(value, "dtype"):
        return value
    first = field.dtypes[0]
    if isinstance(value, (list, tuple)):
        return np.asarray(value, dtype=str if first == "str" else first)
    if isinstance(value, (int, float, complex)):
        if first == "str":
            return str(value)
        try:
            return np.dtype(first).type(value)
        except (TypeError, ValueError, OverflowError):
            return value
    return value


def field_docs() -> str:
    """The field tables as text, one line per field: path, dtype, shapes, [unit], description."""
    tables = {"scan": SCAN_SPEC, "probe": PROBE_SPEC, "metadata": METADATA_FIELDS,
              **{f"metadata/{k}": v for k, v in METADATA_GROUPS.items()}, "metrics": METRICS_FIELDS,
              "data/<product>": MAP_FIELDS, "data/attenuation_map": ATTENUATION_FIELDS}
    lines = []
    for prefix, table in tables.items():
        for name, spec in table.items():
            shapes = " | ".join(str(s) for s in spec.shapes)
            lines.append(f"{prefix}/{name}: {'/'.join(spec.dtypes)} {shapes} [{spec.unit}] {spec.description}")
    return "\n".join(lines)


SCAN_REQUIRED = ("sampling_frequency", "center_frequency", "demodulation_frequency", "initial_times",
                 "t0_delays", "tx_apodizations", "focus_distances", "transmit_origins", "polar_angles")
#: scan/: every field of a track's scan group
SCAN_SPEC = {
    "sampling_frequency": _f("float32", unit="Hz", description="A/D sampling frequency (> 0)."),
    "center_frequency": _f("float32", ((), ("n_tx",)), "Hz", "Transmit pulse centre frequency."),
    "demodulation_frequency": _f("float32", ((), ("n_tx",)), "Hz", "Demodulation frequency (0 for RF)."),
    "initial_times": _f("float32", (("n_tx",),), "s", "A/D start time of each transmit."),
    "t0_delays": _f("float32", (("n_tx", "n_el"),), "s", "Transmit delay of each element (>= 0)."),
    "tx_apodizations": _f("float32", (("n_tx", "n_el"),), description="Transmit apodization per element."),
    "focus_distances": _f("float32", (("n_tx",),), "m", "Transmit focus distance (0: plane wave)."),
    "transmit_origins": _f("float32", (("n_tx", 3),), "m", "Transmit beam origin (x, y, z)."),
    "polar_angles": _f("float32", (("n_tx",),), "rad", "Polar angle of each transmit (within +-pi)."),
    "time_to_next_transmit": _f("float32", (("n_frames", "n_tx"), ("n_timing_intervals",)), "s",
                                "Time to the next transmit event (flat: the last one omitted)."),
    "azimuth_angles": _f("float32", (("n_tx",),), "rad", "Azimuth angle of each transmit."),
    "rx_aperture_indices": _f("int16 int32 int64", (("n_tx", "n_rx"),),
                              description="Probe element of each receive channel."),
    "sound_speed": _f("float32", unit="m/s", description="Assumed speed of sound (> 0)."),
    "tgc_gain_curve": _f("float32", (("n_ax",),), description="Time-gain compensation per sample (>= 0)."),
    "waveforms_one_way": _f("float32", (("n_tx", "n_samples_one_way"),), "V", "Simulated one-way waveforms."),
    "waveforms_two_way": _f("float32", (("n_tx", "n_samples_two_way"),), "V", "Simulated two-way waveforms."),
}
#: probe/: the probe description
PROBE_SPEC = {
    "name": _f("str", description="Probe model name."),
    "type": _f("str", description="Probe type: linear, phased, curved, matrix..."),
    "probe_center_frequency": _f("float32", unit="Hz", description="Nominal centre frequency."),
    "probe_bandwidth_percent": _f("float32", unit="%", description="Fractional bandwidth."),
    "probe_geometry": _f("float32", (("n_el", 3),), "m", "Element positions (x, y, z)."),
    "element_width": _f("float32", unit="m", description="Element width."),
    "element_height": _f("float32", unit="m", description="Element height (elevation)."),
    "lens_sound_speed": _f("float32", unit="m/s", description="Speed of sound in the lens."),
    "lens_thickness": _f("float32", unit="m", description="Lens thickness (>= 0)."),
}
SCAN_FIELDS.update({name: (None if len(spec.shapes) > 1 else spec.shapes[0], name in SCAN_REQUIRED)
                    for name, spec in SCAN_SPEC.items()})
PROBE_FIELDS.update({name: spec.dtypes[0] for name, spec in PROBE_SPEC.items()})

#: a track's own datasets, and the data products' ``values`` (unit "-" unless a float map's)
TRACK_FIELDS = {
    "transmit_only": _f("bool", description="Whether the track only transmits (no receive data)."),
    "label": _f("str", description="Name of the track (required in multi-track files)."),
}
PRODUCT_DESCRIPTIONS = {
    "raw_data": "Channel data as received, (n_frames, n_tx, n_ax, n_el, n_ch); n_ch 1 = RF, 2 = IQ.",
    "aligned_data": "Time-of-flight corrected channel data, (n_frames, n_tx, n_ax, n_el, n_ch).",
    "beamformed_data": "Beamformed data per pixel, last axis n_ch (1 = RF, 2 = IQ).",
    "envelope_data": "Envelope-detected beamformed data.",
    "image": "Image: float32 in dB (<= 0) or uint8 display values.",
    "segmentation": "Segmentation masks, one channel per label.",
}


def field_of(path: str) -> Field | None:
    """The table field of the dataset at ``path`` in a zea file (``/probe/name``,
    ``/tracks/track_0/scan/t0_delays``, ``/tracks/track_0/data/image/values``, ...), None for
    datasets outside the spec (``custom/``...). Its unit and description are written with it."""
    parts = [p for p in str(path).split("/") if p]
    if len(parts) >= 2 and parts[0] == "tracks":
        parts = parts[2:]
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    tables = {"scan": SCAN_SPEC, "probe": PROBE_SPEC, "metrics": METRICS_FIELDS}
    if head in tables and len(rest) == 1:
        return tables[head].get(rest[0])
    if head == "metadata" and len(rest) == 1:
        return METADATA_FIELDS.get(rest[0])
    if head == "metadata" and len(rest) == 2:
        return METADATA_GROUPS.get(rest[0], SIGNAL_ND_FIELDS).get(rest[1])
    if head == "data" and rest == ["raw_data"]:
        return _f("float32 int16", (RAW_DIMS,), description=PRODUCT_DESCRIPTIONS["raw_data"])
    if head == "data" and len(rest) == 2:
        product, name = rest
        if name == "values":
            return _f("float32", unit=FLOAT_MAPS.get(product, "-"),
                      description=PRODUCT_DESCRIPTIONS.get(product, f"Values of the {product} map."))
        return {**MAP_FIELDS, **(ATTENUATION_FIELDS if product == "attenuation_map" else {})}.get(name)
    return TRACK_FIELDS.get(head) if len(parts) == 1 else None


def field_attributes(path: str) -> dict[str, str]:
    """``{"unit", "description"}`` written on the dataset at ``path`` (empty outside the spec)."""
    spec = field_of(path)
    return {} if spec is None else {"unit": spec.unit, "description": spec.description}


def scan_as_zea(scan, raw_shape: tuple[int, ...] | None = None) -> dict:
    """A scan given to the writer as zea's ScanSpec takes it: Python numbers and lists typed by
    :data:`SCAN_SPEC` (:func:`coerce`; unknown fields left for the checks to refuse) and a flat
    ``time_to_next_transmit`` of ``n_frames * n_tx - 1`` intervals (``raw_shape`` given) padded
    with a last 0 to ``(n_frames, n_tx)``."""
    values = {name: coerce(value, SCAN_SPEC[name]) if name in SCAN_SPEC else value for name, value in scan.items()}
    timing = values.get("time_to_next_transmit")
    if raw_shape is not None and len(raw_shape) >= 2 and timing is not None and hasattr(timing, "shape"):
        frames, transmits = int(raw_shape[0]), int(raw_shape[1])
        if np.ndim(timing) == 1 and len(timing) == max(frames * transmits - 1, 0):
            values["time_to_next_transmit"] = np.pad(np.asarray(timing, np.float32), (0, 1)).reshape(frames, transmits)
    return values
