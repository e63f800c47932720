"""PICMUS converter against real zea 0.1.8's ``zea convert picmus`` on a generated archive."""
from __future__ import annotations

from pathlib import Path

import pytest

from sonobridge.errors import FormatError, UnsupportedInputError
from sonobridge.formats.zea.datasets import picmus
from sonobridge.formats.zea.validate import validate
from zea_convert_support import differences, hdf5_files, run_zea_convert, zea_accepts
from zea_dataset_synth import picmus_file, picmus_tree

#: zea always writes an empty metrics group; ours writes none when there are no metrics
ZEA_ONLY = ("metrics",)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("picmus")
    source = picmus_tree(root / "src")
    run_zea_convert("picmus", source, root / "zea", timeout=300)
    for job in picmus.plan(source, root / "ours", {}):
        picmus.convert(job)
    picmus.finish(source, root / "ours", {})
    return root / "zea", root / "ours"


def test_same_output_files_as_zea(converted):
    theirs, ours = converted
    names = hdf5_files(ours)
    assert names == hdf5_files(theirs)
    assert "in_vivo/carotid_cross/carotid_cross_expe_dataset_iq/carotid_cross_expe_dataset_iq.hdf5" in names
    assert not any("img" in name for name in names)


def test_same_datasets_attributes_and_arrays_as_zea(converted):
    theirs, ours = converted
    for name in hdf5_files(ours):
        assert differences(theirs / name, ours / name, ignore=ZEA_ONLY) == [], name


def test_the_dataset_card_satisfies_zeas_folder_check(converted):
    from zea.data.convert.utils import check_output_dir_ownership

    _, ours = converted
    assert "zea_repo_id: zeahub/picmus" in (ours / "README.md").read_text()
    check_output_dir_ownership(ours, "zeahub/picmus")          # raises for a foreign or unmarked folder
    with pytest.raises(FileExistsError):
        check_output_dir_ownership(ours, "zeahub/camus")


def test_real_zea_and_ours_validate_our_files(converted):
    _, ours = converted
    for name in hdf5_files(ours):
        assert zea_accepts(ours / name) == [], name
        assert validate(ours / name).valid, name


def test_plan_refuses_a_folder_without_picmus_data(tmp_path):
    with pytest.raises(UnsupportedInputError, match="not a PICMUS folder"):
        picmus.plan(tmp_path, tmp_path / "out", {})


def test_a_broken_acquisition_is_a_format_error_naming_the_file(tmp_path):
    path = picmus_file(tmp_path / "archive_to_download" / "x_dataset_iq.hdf5")
    import h5py

    with h5py.File(path, "a") as handle:
        del handle["US/US_DATASET0000/angles"]
    (job,) = picmus.plan(tmp_path, tmp_path / "out", {})
    with pytest.raises(FormatError, match="x_dataset_iq.hdf5"):
        picmus.convert(job)
    not_hdf5 = tmp_path / "archive_to_download" / "y_dataset_rf.hdf5"
    not_hdf5.write_bytes(b"not an HDF5 file")
    job = next(j for j in picmus.plan(tmp_path, tmp_path / "out", {}) if j.sources[0] == not_hdf5)
    with pytest.raises(FormatError, match="y_dataset_rf.hdf5"):
        picmus.convert(job)
