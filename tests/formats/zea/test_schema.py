"""sonobridge.formats.zea.schema: zea's field tables and how HDF5 values and dtypes are named."""
from __future__ import annotations

import h5py
import numpy as np

from sonobridge.formats.zea.schema import (FLOAT, MAP_PRODUCTS, PROBE_FIELDS, RAW_DIMS, SCAN_FIELDS,
                                           dataset_value, dtype_name)


def test_dtypes_are_named_as_zea_classes_them():
    assert dtype_name(np.float64) == dtype_name(np.float16) == FLOAT == "float32"
    assert dtype_name(np.dtype("S5")) == dtype_name(h5py.string_dtype()) == "str"
    assert dtype_name(np.uint8) == "uint8" and dtype_name(np.int16) == "int16"


def test_dataset_values_decode_strings_and_keep_arrays(tmp_path):
    with h5py.File(tmp_path / "v.hdf5", "w") as handle:
        handle["text"] = "L7 HD3"
        handle["bytes"] = np.bytes_(b"caf\xc3\xa9")
        handle["array"] = np.arange(4, dtype=np.uint8)
        assert dataset_value(handle["text"]) == "L7 HD3" and dataset_value(handle["bytes"]) == "café"
        assert np.array_equal(dataset_value(handle["array"]), np.arange(4))


def test_the_tables_agree_with_each_other():
    assert RAW_DIMS[0] == "n_frames"
    assert all(dims[0] == "n_frames" for _, shapes in MAP_PRODUCTS.values() for dims in shapes)
    required = {name for name, (_, needed) in SCAN_FIELDS.items() if needed}
    assert {"sampling_frequency", "center_frequency", "t0_delays"} <= required
    assert PROBE_FIELDS["name"] == "str" and PROBE_FIELDS["probe_center_frequency"] == FLOAT
