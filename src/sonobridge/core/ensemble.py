"""Colour-flow ensembles: the slow-time axis hidden inside an IQ stream's frames.

A colour-Doppler IQ stream fires each line ``ensemble`` times in a row; its geometry lists every
firing, so consecutive lines share one origin and angle (:meth:`LineGeometry.repeats` is the
ensemble length). How the firings are laid out in the stored frame is a fact of the source format,
recorded by its reader as :attr:`Stream.ensemble_order <sonobridge.core.recording.Stream.ensemble_order>`
(``None``: not an ensemble stream, or the layout is unknown). Processing reads the ensembles
through :func:`ensembles` and needs no vendor knowledge.
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FormatError
from .geometry import LineGeometry

if TYPE_CHECKING:
    from .recording import Stream


class EnsembleOrder(str, Enum):
    """How the firings of an ensemble are laid out in a frame of ``rows = lines x ensemble``."""

    #: the ensemble index varies fastest: each frame is ``[line][sample][ensemble]`` (Clarius)
    FASTEST = "ensemble-fastest"


def line_geometry(stream: Stream) -> LineGeometry:
    """The stream's per-firing line geometry; FormatError when it has none.

    Parameters
    ----------
    stream : Stream
        An IQ stream with a :class:`LineGeometry` (one entry per firing).

    Returns
    -------
    LineGeometry
        ``stream.geometry``.
    """
    if not isinstance(stream.geometry, LineGeometry):
        raise FormatError(stream.label, "no per-line geometry (yml missing?)")
    return stream.geometry


def is_ensemble_stream(stream: Stream) -> bool:
    """Whether ``stream`` holds colour-flow ensembles: IQ with a known ensemble layout and lines
    that repeat (ensemble length > 1)."""
    from .recording import SampleKind

    return (stream.kind is SampleKind.IQ and stream.ensemble_order is not None
            and isinstance(stream.geometry, LineGeometry) and stream.geometry.repeats() > 1)


def ensemble_geometry(stream: Stream) -> LineGeometry:
    """Geometry of the distinct lines of an ensemble stream (every ``ensemble``-th firing).

    Parameters
    ----------
    stream : Stream
        An ensemble IQ stream (see :func:`is_ensemble_stream`).

    Returns
    -------
    LineGeometry
        ``n_lines = n_firings / ensemble`` lines (positions in metres, angles in radians).
    """
    return line_geometry(stream).distinct_lines()


def split_ensembles(iq: np.ndarray, ensemble: int, order: EnsembleOrder) -> np.ndarray:
    """Complex frames ``(..., rows, samples)`` as ensembles ``(..., n_lines, n_samples, ensemble)``.

    Parameters
    ----------
    iq : numpy.ndarray
        complex64 ``(..., rows, samples)``, ``rows`` a multiple of ``ensemble``.
    ensemble : int
        Firings per line (slow-time samples).
    order : EnsembleOrder
        The stored layout.

    Returns
    -------
    numpy.ndarray
        complex64 ``(..., rows // ensemble, samples, ensemble)``, slow time last.

    Examples
    --------
    >>> frame = np.arange(24).astype(np.complex64).reshape(1, 8, 3)   # 2 lines x 4 firings, 3 samples
    >>> split_ensembles(frame, 4, EnsembleOrder.FASTEST).shape
    (1, 2, 3, 4)
    """
    order = EnsembleOrder(order)
    rows, samples = iq.shape[-2:]
    if ensemble < 1 or rows % ensemble:
        raise ValueError(f"{rows} rows do not split into ensembles of {ensemble}")
    if order is EnsembleOrder.FASTEST:
        return iq.reshape(*iq.shape[:-2], rows // ensemble, samples, ensemble)
    raise ValueError(f"unknown ensemble order {order!r}")     # pragma: no cover - one order so far


def ensembles(stream: Stream, index: int | slice = slice(None)) -> np.ndarray:
    """Frames ``index`` of an ensemble IQ stream as complex64 ``(..., n_lines, n_samples, ensemble)``.

    Parameters
    ----------
    stream : Stream
        IQ stream whose reader set ``ensemble_order`` and whose geometry repeats each line.
    index : int or slice
        Frames to read.

    Returns
    -------
    numpy.ndarray
        complex64, slow time (ensemble index, in firing order) on the last axis.
    """
    from .recording import SampleKind

    if stream.kind is not SampleKind.IQ:
        raise ValueError(f"stream {stream.name!r} is not colour IQ")
    step = line_geometry(stream).repeats()
    if step < 2:
        raise FormatError(stream.label, "no repeated lines in the yml: not a colour-Doppler ensemble")
    if stream.ensemble_order is None:
        raise FormatError(stream.label, "the reader recorded no ensemble layout for these repeated lines")
    return split_ensembles(stream.to_complex(index), step, stream.ensemble_order)
