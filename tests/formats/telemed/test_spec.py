"""sonobridge.formats.telemed.spec: ``.tvd.h5`` sidecars and ``.tvd`` files as recordings (a ``.tvd``
with its sidecar beside it is one recording, the sidecar's)."""
from __future__ import annotations

from sonobridge.formats.telemed.spec import SPECS, has_sidecar

from telemed_synth import make_sidecar


def test_a_tvd_beside_its_sidecar_is_claimed_once_through_the_sidecar(tmp_path):
    sidecar_spec, tvd_spec = SPECS
    assert sidecar_spec.order < tvd_spec.order
    make_sidecar(tmp_path / "a.tvd.h5", n=6)
    (tmp_path / "a.tvd").write_bytes(b"UIFF")
    (tmp_path / "b.tvd").write_bytes(b"UIFF")
    files = sorted(tmp_path.iterdir())
    assert has_sidecar(tmp_path / "a.tvd") and not has_sidecar(tmp_path / "b.tvd")
    assert [s.label for s in sidecar_spec.claim(tmp_path, files, False)] == [str(tmp_path / "a.tvd.h5")]
    assert [s.label for s in tvd_spec.claim(tmp_path, files, False)] == [str(tmp_path / "b.tvd")]


def test_a_claimed_sidecar_opens_and_has_the_lut_check(tmp_path):
    sidecar_spec, _ = SPECS
    path = make_sidecar(tmp_path / "scan.tvd.h5", n=6)
    source, = sidecar_spec.claim(tmp_path, [path], True)
    recording = source.open()
    assert recording.streams and sidecar_spec.stem_of(source.label) == "scan"
    assert sidecar_spec.qc(source.label) == {"lut_inverted": False}
