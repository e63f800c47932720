"""zea -> zea is lossless on every valid fixture in ../shared/data/zea (channel data, multi-track,
legacy, float64 and fixed-length-string scalars): every dataset of the input is in the output with
the same dtype, shape, values and attributes, the output validates (ours and the real zea 0.1.8)
and reads back as the same recording; invalid inputs are refused, not passed through."""
from __future__ import annotations

import logging
import os
import warnings

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pytest

import sonobridge.zea as ours
from sonobridge.cli import main
from sonobridge.formats.zea.writer import export_zea
from sonobridge.formats import open_recording
from sonobridge.formats.zea.reader import read_zea
from sonobridge.formats.zea.tree import InvalidZeaDataError

from support import VERDICTS, ZEA

os.environ.setdefault("KERAS_BACKEND", "jax")
READABLE_INVALID = sorted(n for n, valid in VERDICTS.items() if not valid and n.startswith("hand_bad"))
VALID = sorted(n for n, valid in VERDICTS.items() if valid)


def _tree(path) -> dict[str, tuple]:
    """HDF5 path -> (dtype, shape, value, attributes) of every dataset, attributes of groups."""
    out = {}
    with h5py.File(path, "r", locking=False) as handle:
        out["/"] = ("group", dict(handle.attrs))

        def visit(name, item):
            if name.startswith("custom/sonobridge"):
                return
            if isinstance(item, h5py.Dataset):
                out[name] = (item.dtype, item.shape, item[()], dict(item.attrs))
            else:
                out[name] = ("group", dict(item.attrs))
        handle.visititems(visit)
    return out


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f":
            return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()   # bit-exact, NaN too
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def real_zea():
    warnings.simplefilter("ignore")
    import zea
    from zea.data.file import validate_file

    logging.getLogger("zea").setLevel(logging.CRITICAL)
    return zea, validate_file


@pytest.mark.parametrize("name", VALID)
def test_every_valid_zea_file_converts_to_zea_losslessly(name, tmp_path, real_zea):
    zea, validate_file = real_zea
    source = ZEA / name
    recording = open_recording(source)
    out = export_zea(recording, tmp_path / "out.hdf5")
    before, after = _tree(source), _tree(out)
    assert set(before) <= set(after)
    for key, (dtype, *rest) in before.items():
        assert after[key][0] == dtype, key
        for mine, theirs in zip(rest, after[key][1:]):
            assert _same(mine, theirs), key
    assert set(after) - set(before) <= {"custom"}        # only our custom/sonobridge group is added
    assert ours.validate(out).valid
    assert validate_file(str(out)) == {"status": "success"}
    with zea.File(str(out), validate=False) as handle:
        handle.validate_spec()
    again = read_zea(out)
    assert list(again.streams) == list(recording.streams)
    for stream_name, stream in recording.streams.items():
        copy = again.streams[stream_name]
        assert (copy.kind, copy.frame_shape, copy.dtype) == (stream.kind, stream.frame_shape, stream.dtype)
        assert np.array_equal(np.asarray(copy.frames), np.asarray(stream.frames))
    assert export_zea(again, tmp_path / "twice.hdf5") and _tree(tmp_path / "twice.hdf5").keys() == after.keys()


@pytest.mark.parametrize("name", READABLE_INVALID)
def test_invalid_zea_inputs_are_refused_not_passed_through(name, tmp_path):
    with pytest.raises(InvalidZeaDataError, match="breaks the zea format"):
        export_zea(open_recording(ZEA / name), tmp_path / "out.hdf5")
    assert not list(tmp_path.iterdir())


def test_convert_cli_on_channel_data(tmp_path, capsys):
    assert main(["convert", str(ZEA / "sim_planewave.hdf5"), str(tmp_path / "sim.hdf5"), "-q"]) == 0
    with h5py.File(ZEA / "sim_planewave.hdf5", locking=False) as a, h5py.File(tmp_path / "sim.hdf5") as b:
        key = "tracks/track_0/data/raw_data"
        assert a[key].shape == b[key].shape and np.array_equal(a[key][()], b[key][()])


def test_a_stream_not_from_the_source_file_is_refused(tmp_path):
    from sonobridge.core.recording import SampleKind, Stream

    recording = open_recording(ZEA / "tiny.hdf5")
    recording.streams["extra"] = Stream(name="extra", kind=SampleKind.IMAGE, frame_shape=(8, 8), dtype=np.uint8,
                                        frames=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(InvalidZeaDataError, match="separate files"):
        export_zea(recording, tmp_path / "out.hdf5")
