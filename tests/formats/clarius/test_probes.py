"""sonobridge.formats.clarius.probes: the table of Clarius HD3 probes (array type, elements, pitch)."""
from __future__ import annotations

import pytest

from sonobridge.errors import SonobridgeError
from sonobridge.formats.clarius.probes import find_probe, known_probes


def test_names_are_found_ignoring_case_spaces_and_the_hd3_suffix():
    for name in ("L7", "l7", "L7 HD3", "l7hd3"):
        probe = find_probe(name)
        assert probe.name == "L7 HD3" and probe.array_type == "linear"
        assert probe.n_elements == 192 and probe.pitch_m == pytest.approx(200e-6) and probe.source == "table"
    assert find_probe("C3").radius_m == pytest.approx(45e-3)


def test_every_known_probe_is_found_by_its_own_name_and_unknown_ones_are_refused():
    assert all(find_probe(probe.name) == probe for probe in known_probes())
    with pytest.raises(SonobridgeError, match="unknown Clarius probe 'X9'.*L7 HD3"):
        find_probe("X9")
