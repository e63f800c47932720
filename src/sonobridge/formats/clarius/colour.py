"""Clarius colour-Doppler IQ: the ensemble layout behind the ``(rows, samples)`` header.

A colour IQ file declares ``rows x samples`` (e.g. 1248 x 352) and its yml lists one entry per row,
each line repeated ``ensemble`` times in a row (12 on the 2020 carotid capture). The bytes are not
rows of samples: each frame is ``[line][sample][ensemble]`` complex values, the ensemble (slow time)
varying fastest. Established on the real 2020 capture: with that layout the lag-1 slow-time
coherence after a wall filter is 0.98 in the vessel (0.36 in tissue), depth neighbours cohere at
0.99 and the flow lands where the Clarius App draws it; the ``[row][sample]`` reading gives 0.15 to
0.70 with no flow contrast, and explains the "power varies with row mod 12" puzzle (a row is
one depth segment). Ensemble index order is taken as time order.
"""
from __future__ import annotations

from ...core.ensemble import EnsembleOrder, ensemble_geometry, ensembles
from ...core.geometry import LineGeometry
from ...core.recording import SampleKind

#: the vendor fact: Clarius colour IQ frames are ``[line][sample][ensemble]``
ENSEMBLE_ORDER = EnsembleOrder.FASTEST


def is_colour_iq(kind: SampleKind, geometry: object) -> bool:
    """Whether a Clarius stream of ``kind`` on ``geometry`` is colour-Doppler IQ (lines repeat)."""
    return kind is SampleKind.IQ and isinstance(geometry, LineGeometry) and geometry.repeats() > 1


#: names kept for callers of this module: the generic functions live in :mod:`sonobridge.core.ensemble`
colour_geometry = ensemble_geometry
colour_ensembles = ensembles

__all__ = ["ENSEMBLE_ORDER", "colour_ensembles", "colour_geometry", "is_colour_iq"]
