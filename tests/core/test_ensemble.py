"""sonobridge.core.ensemble: the colour-flow ensemble axis, its layout recorded on the stream."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sonobridge.core.ensemble import (EnsembleOrder, ensemble_geometry, ensembles, is_ensemble_stream,
                                      split_ensembles)
from sonobridge.core.frames import LazyFrames
from sonobridge.core.geometry import LineGeometry
from sonobridge.core.recording import SampleKind, Stream
from sonobridge.errors import FormatError
from sonobridge.formats import open_recording

from support import EXAMPLES

LINES, SAMPLES, ENSEMBLE, FRAMES = 3, 5, 4, 2


def _truth() -> np.ndarray:
    """complex64 ensembles ``(frames, lines, samples, ensemble)`` with every value distinct."""
    values = np.arange(FRAMES * LINES * SAMPLES * ENSEMBLE, dtype=np.float32)
    return (values + 1j * -values).astype(np.complex64).reshape(FRAMES, LINES, SAMPLES, ENSEMBLE)


def _stream(order: EnsembleOrder | str | None) -> Stream:
    """An IQ stream storing :func:`_truth` as ``[line][sample][ensemble]`` behind ``(rows, samples)``."""
    stored = _truth().reshape(FRAMES, LINES * ENSEMBLE, SAMPLES)
    pairs = np.stack([stored.real, stored.imag], axis=-1).astype(np.float32)
    geometry = LineGeometry(element_positions=np.repeat(np.arange(LINES, dtype=np.float64), ENSEMBLE),
                            steering_angles_rad=np.zeros(LINES * ENSEMBLE), sample_spacing_m=1e-4,
                            first_sample_depth_m=0.0, sampling_frequency_hz=1e7)
    return Stream("iq", SampleKind.IQ, pairs.shape[1:], np.float32,
                  LazyFrames(pairs.shape, np.float32, lambda start, stop: pairs[start:stop]),
                  geometry=geometry, ensemble_order=order)


def test_ensemble_fastest_layout_is_split_back_into_slow_time():
    stream = _stream(EnsembleOrder.FASTEST)
    assert is_ensemble_stream(stream)
    assert np.array_equal(ensembles(stream), _truth())
    assert np.array_equal(ensembles(stream, 1), _truth()[1])
    assert ensemble_geometry(stream).n_lines == LINES
    stored = _truth().reshape(FRAMES, LINES * ENSEMBLE, SAMPLES)
    assert np.array_equal(split_ensembles(stored, ENSEMBLE, "ensemble-fastest"), _truth())
    with pytest.raises(ValueError, match="do not split"):
        split_ensembles(stored, 5, EnsembleOrder.FASTEST)


def test_without_a_recorded_layout_there_is_no_ensemble():
    stream = _stream(None)
    assert not is_ensemble_stream(stream)
    with pytest.raises(FormatError, match="no ensemble layout"):
        ensembles(stream)


def test_the_layout_survives_copies_and_derived_streams():
    stream = _stream("ensemble-fastest")                 # e.g. as read back from JSON: coerced
    assert stream.ensemble_order is EnsembleOrder.FASTEST
    assert replace(stream, name="copy").ensemble_order is EnsembleOrder.FASTEST
    derived = stream.derive("same", stream.kind, stream.frame_shape, stream.dtype,
                            lambda start, stop: np.asarray(stream.frames[start:stop]), step="identity")
    assert derived.ensemble_order is EnsembleOrder.FASTEST and np.array_equal(ensembles(derived), _truth())


def test_the_clarius_reader_marks_colour_iq_only(clarius_data):
    recording = open_recording(clarius_data / "carotid_doppler_2020", probe="L7")
    orders = {name: stream.ensemble_order for name, stream in recording.streams.items()}
    assert orders.pop("iq") is EnsembleOrder.FASTEST
    assert orders and set(orders.values()) == {None}
    assert ensembles(recording["iq"], 0).shape == (104, 352, 12)


def test_ensemble_layout_survives_a_zea_round_trip(tmp_path):
    from sonobridge.formats.zea.writer import export_zea
    from sonobridge.formats import open_recording

    capture = EXAMPLES / "carotid_doppler_2020"
    recording = open_recording(capture, probe="L7")
    export_zea(recording, tmp_path / "c.hdf5")
    again = open_recording(tmp_path / "c.hdf5")
    assert again["iq"].ensemble_order is EnsembleOrder.FASTEST and again["env"].ensemble_order is None
