"""Acquisition parameters: every ParamGet parameter telemed extracts (name, AutoInt1 id and variant
as the real package's table), extracted through the AutoInt1 simulator, written to the sidecar
and read back identically by ours and by telemed; an unknown declared frame count stays None."""
from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from autoint1_simulator import AutoInt1Simulator
from telemed_synth import HEIGHT, WIDTH, display_frames, make_sidecar, rois, uiff_bytes

import sonobridge.telemed as ours
from sonobridge.formats.telemed.autoint import PARAMETERS, AutoInt1Client, export_h5
from sonobridge.formats.telemed.sidecar import Sidecar, read_sidecar, write_sidecar

NEWLY_EXTRACTED = {"b_palette_gamma", "b_palette_brightness", "b_palette_contrast", "b_image_enhancement_method",
                   "b_speckle_reduction_level", "b_steering_trapezoid_angle", "b_lines_density"}


@pytest.fixture(scope="module")
def theirs():
    warnings.simplefilter("ignore")
    import telemed

    return telemed


def test_the_parameter_table_is_telemeds(theirs):
    documented = {spec.name: (spec.param_id, spec.kind) for spec in theirs._PARAM_SPECS}
    assert len(documented) == 35 and NEWLY_EXTRACTED <= set(documented)
    assert {name: (number, variant.lower()) for name, (number, variant) in PARAMETERS.items()} == documented


def _value(name: str, variant: str, number: int):
    return {"Int": number % 97 + 1, "Bool": number % 2 == 0, "String": f"{name} text"}[variant]


def test_every_parameter_is_extracted_and_read_back_as_telemed_reads_it(theirs, tmp_path):
    params = {name: _value(name, variant, number) for name, (number, variant) in PARAMETERS.items()}
    truth = tmp_path / "truth.tvd.h5"
    write_sidecar(Sidecar(time_ms=np.arange(6) * 33.0, rois=rois((1,)), full_frame_width=WIDTH,
                          full_frame_height=HEIGHT, frames=display_frames(6), params=params), truth)
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "scan.tvd").write_bytes(uiff_bytes(declared=8))
    simulator = AutoInt1Simulator({"scan.tvd": truth})
    status = export_h5(tmp_path / "rec", client=AutoInt1Client(simulator), progress=False)
    target = tmp_path / "rec" / "scan.tvd.h5"
    assert list(status.values()) == ["built"] and not simulator.crashed
    with h5py.File(target, "r") as handle:
        stored = {key for key in handle.attrs if key.startswith("param_")}
    assert stored == {f"param_{name}" for name in PARAMETERS}
    assert ours.Log(target).params == params
    assert theirs.Log(target).params == params
    assert {name: read_sidecar(target, keep_open=False).params[name] for name in NEWLY_EXTRACTED} == \
        {name: params[name] for name in NEWLY_EXTRACTED}


def test_an_unknown_declared_frame_count_reads_back_as_none(theirs, tmp_path):
    path = make_sidecar(tmp_path / "unknown.tvd.h5", n=5)
    with h5py.File(path, "r") as handle:
        assert "tvd_declared_n_frames" not in handle.attrs             # absent, as telemed writes it
    assert ours.Log(path).tvd_declared_n_frames is None
    with h5py.File(path, "r+") as handle:                              # older sonobridge wrote 0 for unknown
        handle.attrs["tvd_declared_n_frames"] = 0
    assert ours.Log(path).tvd_declared_n_frames is None
    known = make_sidecar(tmp_path / "known.tvd.h5", n=5, declared=7)
    assert ours.Log(known).tvd_declared_n_frames == 7
    assert ours.Log(known).n_frames == theirs.Log(known).n_frames
