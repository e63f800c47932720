"""Parametric Maps with highdicom.pm's class names (:class:`ParametricMap`,
:class:`RealWorldValueMapping`) over :mod:`.paramap`, which also provides the functional
:func:`write_paramap` / :func:`read_paramap` re-exported here. Ultrasound sources included."""
from __future__ import annotations

from .paramap import ParametricMap, RealWorldValueMapping, read_paramap, write_paramap

__all__ = ["ParametricMap", "RealWorldValueMapping", "read_paramap", "write_paramap"]
