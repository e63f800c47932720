"""sonobridge.formats.clarius.spec: how Clarius captures are labelled, named and traced to their files."""
from __future__ import annotations

import shutil

from sonobridge.formats.clarius.spec import NAME, SPECS, source_files, source_root, stem

from support import EXAMPLES

FOLDER = EXAMPLES / "carotid_doppler_2020"


def test_a_capture_label_gives_its_folder_stem_and_files():
    label = f"{FOLDER}:carotid"
    assert source_root(label) == FOLDER and stem(label) == "carotid_doppler_2020-carotid"
    assert [p.name for p in source_files(label)] == sorted(p.name for p in FOLDER.iterdir()
                                                           if p.name.startswith("carotid_"))


def test_a_stream_file_named_directly_is_labelled_by_its_path_and_brings_its_siblings(tmp_path):
    for name in ("carotid_env.raw", "carotid_env.yml", "carotid_iq.yml"):
        shutil.copy(FOLDER / name, tmp_path / name)
    (tmp_path / "other_env.yml").write_text("x")
    label = str(tmp_path / "carotid_env.raw")
    assert source_root(label) == tmp_path / "carotid_env.raw" and stem(label) == "carotid_env.raw"
    assert [p.name for p in source_files(label)] == ["carotid_env.raw", "carotid_env.yml", "carotid_iq.yml"]


def test_the_spec_claims_the_capture_and_its_source_opens_it():
    spec, = SPECS
    assert spec.name == NAME and spec.manufacturer == "Clarius"
    sources = spec.claim(FOLDER, sorted(FOLDER.iterdir()), False)
    assert [s.label for s in sources] == [f"{FOLDER}:carotid"] and sources[0].format == NAME
    recording = sources[0].open(probe="L7")
    assert sorted(recording.streams) == ["env", "iq"]
