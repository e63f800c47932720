"""sonobridge.formats.spec: what a format declares (FormatSpec) and a recording found on disk but
not yet read (RecordingSource)."""
from __future__ import annotations

from pathlib import Path

from sonobridge.formats.spec import FormatSpec, RecordingSource


def test_default_stems_drop_the_longest_matching_suffix_and_roots_are_the_label():
    spec = FormatSpec(name="demo", title="Demo", suffixes=(".raw.lzo", ".raw"))
    assert spec.stem_of("/data/scan_rf.raw.lzo") == "scan_rf" and spec.stem_of("/data/scan_rf.RAW") == "scan_rf"
    assert spec.stem_of("/data/other.bin") == "other.bin"
    assert spec.root_of("/data/scan_rf.raw") == Path("/data/scan_rf.raw")
    assert spec.files_of("/data/scan_rf.raw") == [Path("/data/scan_rf.raw")]


def test_declared_rules_replace_the_defaults():
    spec = FormatSpec(name="demo", title="Demo", stem=lambda label: label.upper(),
                      source_root=lambda label: Path(label).parent,
                      source_files=lambda label: [Path(label), Path(label + ".yml")])
    assert spec.stem_of("a/b") == "A/B" and spec.root_of("a/b") == Path("a")
    assert spec.files_of("a/b") == [Path("a/b"), Path("a/b.yml")]


def test_a_source_passes_reader_options_and_uses_its_format_for_names():
    seen = {}
    source = RecordingSource("/data/My Scan.hdf5", "zea", lambda **options: seen.update(options) or "read")
    assert source.open(probe="L7") == "read" and seen == {"probe": "L7"}
    assert source.root == Path("/data/My Scan.hdf5")
    assert "/" not in source.stem and source.stem.startswith("My")
