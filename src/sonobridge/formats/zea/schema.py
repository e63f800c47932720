"""The zea HDF5 data format (zea >= 0.1.0 layout, as of zea 0.1.8): field tables.

One acquisition per file: root attributes (``zea_version``, ``us_machine``, ``description``,
``acquisition_time``), ``tracks/track_N/{data,scan}`` (a single-track file may also be read as
``data``/``scan``), ``probe/``, ``metadata/``, ``metrics/``, ``custom/`` and ``track_schedule``.
Named dimensions must agree within a track; dtypes are the ones zea accepts. Facts from
../shared/notes/zea.md (measured against zea 0.1.8).
"""
from __future__ import annotations

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

#: scan fields: dims (None = scalar or per-transmit) and whether required
SCAN_FIELDS: dict[str, tuple[tuple[str, ...] | None, bool]] = {
    "sampling_frequency": ((), True),
    "center_frequency": (None, True),
    "demodulation_frequency": (None, True),
    "initial_times": (("n_tx",), True),
    "t0_delays": (("n_tx", "n_el"), True),
    "tx_apodizations": (("n_tx", "n_el"), True),
    "focus_distances": (("n_tx",), True),
    "transmit_origins": (("n_tx", "3"), True),
    "polar_angles": (("n_tx",), True),
    "time_to_next_transmit": (("n_frames", "n_tx"), False),
    "azimuth_angles": (("n_tx",), False),
    "rx_aperture_indices": (("n_tx", "n_rx"), False),
    "sound_speed": ((), False),
    "tgc_gain_curve": (("n_ax",), False),
    "waveforms_one_way": (("n_tx", "n_samples_one_way"), False),
    "waveforms_two_way": (("n_tx", "n_samples_two_way"), False),
}
PROBE_FIELDS = {"name": "str", "type": "str", "probe_center_frequency": FLOAT,
                "probe_bandwidth_percent": FLOAT, "probe_geometry": FLOAT, "element_width": FLOAT,
                "element_height": FLOAT, "lens_sound_speed": FLOAT, "lens_thickness": FLOAT}
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
