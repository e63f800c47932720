"""us4us converter against real zea 0.1.8's ``zea convert us4us`` on generated gui4us captures."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from sonobridge.errors import FormatError, UnsupportedInputError
from sonobridge.formats.zea.datasets import us4us
from sonobridge.formats.zea.validate import validate
from zea_convert_support import differences, hdf5_files, run_zea_convert, zea_accepts
from zea_dataset_synth import us4us_capture

#: zea always writes metadata and metrics groups (empty here); ours writes none when empty
ZEA_ONLY = ("metadata", "metrics")
MAPPING = ("0:image", "1:beamformed_data", "2:raw_data")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("us4us")
    us4us_capture(root / "src" / "rec_a.pkl")
    us4us_capture(root / "src" / "rec_b.pkl", seed=1, metadata_apart=True)
    run_zea_convert("us4us", root / "src", root / "zea", "--mapping", *MAPPING, timeout=300)
    for job in us4us.plan(root / "src", root / "ours", {"mapping": " ".join(MAPPING)}):
        us4us.convert(job)
    return root / "zea", root / "ours"


def test_same_output_files_as_zea(converted):
    theirs, ours = converted
    assert hdf5_files(ours) == hdf5_files(theirs) == ["rec_a.hdf5", "rec_b.hdf5"]


def test_same_datasets_attributes_and_arrays_as_zea(converted):
    theirs, ours = converted
    for name in hdf5_files(ours):
        assert differences(theirs / name, ours / name, ignore=ZEA_ONLY) == [], name


def test_real_zea_and_ours_validate_our_files(converted):
    _, ours = converted
    for name in hdf5_files(ours):
        assert zea_accepts(ours / name) == [], name
        assert validate(ours / name).valid, name


def test_separate_tracks_as_zea(tmp_path):
    source = us4us_capture(tmp_path / "one.pkl", n_frames=2)
    run_zea_convert("us4us", source, tmp_path / "zea.hdf5", "--mapping", "0:image", "2:raw_data",
                    "--separate_tracks", timeout=300)
    (job,) = us4us.plan(source, tmp_path / "ours.hdf5", {"mapping": "0:image,2:raw_data",
                                                          "separate_tracks": "true"})
    us4us.convert(job)
    assert differences(tmp_path / "zea.hdf5", tmp_path / "ours.hdf5", ignore=ZEA_ONLY) == []


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"data": [_Boom()]}))
    (job,) = us4us.plan(path, tmp_path / "evil.hdf5", {})
    with pytest.raises(UnsupportedInputError, match=r"evil\.pkl.*refused to load (posix|os)\.system"):
        us4us.convert(job)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "evil.hdf5").exists()


def test_not_a_capture_is_a_format_error_naming_the_file(tmp_path):
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    (tmp_path / "dict.pkl").write_bytes(pickle.dumps({"frames": []}))
    jobs = {job.sources[0].name: job for job in us4us.plan(tmp_path, tmp_path / "out", {})}
    with pytest.raises(FormatError, match=r"junk\.pkl"):
        us4us.convert(jobs["junk.pkl"])
    with pytest.raises(FormatError, match=r"dict\.pkl.*no 'data' key"):
        us4us.convert(jobs["dict.pkl"])


def test_a_bad_mapping_option_is_the_packages_error(tmp_path):
    source = us4us_capture(tmp_path / "one.pkl", n_frames=1)
    with pytest.raises(UnsupportedInputError, match="mapping option"):
        us4us.plan(source, tmp_path / "out.hdf5", {"mapping": "0:doppler"})


def test_mapping_is_checked():
    assert us4us.parse_mapping('{"1": "raw_data"}') == {1: "raw_data"}
    with pytest.raises(ValueError, match="data type"):
        us4us.parse_mapping("0:doppler")
    with pytest.raises(ValueError, match="several"):
        us4us.parse_mapping("0:image 1:image")
