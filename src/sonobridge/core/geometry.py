"""Imaging geometry in SI units.

Coordinates: ``x`` lateral (metres, left to right as displayed), ``z`` depth (metres, away from the
probe face). Angles are radians from the ``+z`` axis, positive towards ``+x``.

* :class:`Probe`: transducer description (array type, element count, pitch, radius).
* :class:`LineGeometry`: pre-scan data ``(n_lines, n_samples)``: per-line origin on the array and
  steering angle, sample spacing along the beam and the depth of sample 0.
* :class:`PixelGrid`: Cartesian images ``(n_z, n_x)`` with pixel-centre coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

ArrayType = Literal["linear", "curved", "phased"]


@dataclass(frozen=True)
class Probe:
    """A transducer. Lengths in metres, frequency in Hz; ``None`` where unknown.

    ``source`` says where the values came from (``"file"``, ``"table"``, ``"user"``).
    """

    name: str | None = None
    array_type: ArrayType | None = None
    n_elements: int | None = None
    pitch_m: float | None = None
    radius_m: float | None = None
    centre_frequency_hz: float | None = None
    source: str = "file"

    def element_positions_m(self, element_index: np.ndarray) -> np.ndarray | None:
        """``(n, 2)`` ``[x, z]`` positions of (fractional) element indices on the array face."""
        if self.pitch_m is None or self.n_elements is None:
            return None
        offset = (np.asarray(element_index, np.float64) - (self.n_elements - 1) / 2) * self.pitch_m
        if self.array_type == "curved":
            if not self.radius_m:
                return None
            theta = offset / self.radius_m
            return np.stack([self.radius_m * np.sin(theta),
                             self.radius_m * np.cos(theta) - self.radius_m], axis=-1)
        return np.stack([offset, np.zeros_like(offset)], axis=-1)

    def element_normal_angles_rad(self, element_index: np.ndarray) -> np.ndarray:
        """Angle of the array normal at each element: 0 on flat arrays, arc angle on curved ones."""
        index = np.asarray(element_index, np.float64)
        if self.array_type == "curved" and self.radius_m and self.pitch_m and self.n_elements:
            return (index - (self.n_elements - 1) / 2) * self.pitch_m / self.radius_m
        return np.zeros_like(index)


@dataclass(frozen=True)
class LineGeometry:
    """Geometry of pre-scan frames ``(n_lines, n_samples)``.

    ``element_positions``: ``(n_lines,)`` line origin in element units (fractional index on the
    array), ``steering_angles_rad``: ``(n_lines,)`` steer relative to the array normal,
    ``sample_spacing_m``: distance between samples along the beam, ``first_sample_depth_m``:
    distance from the line origin to sample 0 along the beam.
    """

    element_positions: np.ndarray
    steering_angles_rad: np.ndarray
    sample_spacing_m: float
    first_sample_depth_m: float
    sampling_frequency_hz: float
    sound_speed_m_s: float = 1540.0
    probe: Probe | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_lines(self) -> int:
        return int(self.element_positions.shape[0])

    def repeats(self) -> int:
        """How many consecutive lines share one origin and angle: the ensemble length of
        colour-flow data, 1 for B-mode and RF."""
        if self.n_lines < 2:
            return 1
        keys = np.stack([self.element_positions, self.steering_angles_rad], axis=1)
        starts = np.concatenate([[0], np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1,
                                 [self.n_lines]])
        runs = np.diff(starts)
        return int(runs[0]) if np.all(runs == runs[0]) else 1

    def distinct_lines(self) -> LineGeometry:
        """This geometry with each run of :meth:`repeats` identical lines kept once."""
        step = self.repeats()
        return replace(self, element_positions=self.element_positions[::step],
                       steering_angles_rad=self.steering_angles_rad[::step])

    def line_origins_m(self) -> np.ndarray | None:
        """``(n_lines, 2)`` ``[x, z]`` origin of each line in metres; None if the probe is unknown."""
        return None if self.probe is None else self.probe.element_positions_m(self.element_positions)

    def line_angles_rad(self) -> np.ndarray:
        """``(n_lines,)`` direction of each line from ``+z`` (array normal plus steer)."""
        normals = (self.probe.element_normal_angles_rad(self.element_positions)
                   if self.probe else np.zeros(self.n_lines))
        return normals + self.steering_angles_rad

    def sample_depths_m(self, n_samples: int) -> np.ndarray:
        """``(n_samples,)`` distance of each sample from its line origin along the beam."""
        return self.first_sample_depth_m + self.sample_spacing_m * np.arange(n_samples)

    def sample_positions_m(self, n_samples: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``x, z`` of every sample, each ``(n_lines, n_samples)``; None if the probe is unknown."""
        origins = self.line_origins_m()
        if origins is None:
            return None
        r = self.sample_depths_m(n_samples)[None, :]
        angles = self.line_angles_rad()[:, None]
        return origins[:, :1] + r * np.sin(angles), origins[:, 1:] + r * np.cos(angles)

    def describe(self, n_samples: int) -> dict[str, Any]:
        depths = self.sample_depths_m(n_samples)
        info: dict[str, Any] = {
            "type": "lines",
            "sampling_frequency_hz": self.sampling_frequency_hz,
            "sound_speed_m_s": self.sound_speed_m_s,
            "sample_spacing_m": self.sample_spacing_m,
            "depth_range_m": [float(depths[0]), float(depths[-1])] if n_samples else None,
            "element_range": [float(self.element_positions.min()), float(self.element_positions.max())]
            if self.n_lines else None,
            "steering_angles_rad": sorted({round(float(a), 6) for a in self.steering_angles_rad}),
            "probe": None if self.probe is None else {
                k: v for k, v in self.probe.__dict__.items() if v is not None},
        }
        origins = self.line_origins_m()
        if origins is not None:
            info["lateral_range_m"] = [float(origins[:, 0].min()), float(origins[:, 0].max())]
        if self.notes:
            info["notes"] = list(self.notes)
        return info


@dataclass(frozen=True)
class PixelGrid:
    """Cartesian image grid: frames ``(n_z, n_x)``; ``x_m`` ``(n_x,)`` and ``z_m`` ``(n_z,)``
    are pixel-centre coordinates in metres; ``mask`` ``(n_z, n_x)`` marks pixels holding data.
    An axis may decrease (a source that stores a negative pixel size, e.g. a DICOM region's
    PhysicalDeltaX); spacings reported here are magnitudes."""

    x_m: np.ndarray
    z_m: np.ndarray
    mask: np.ndarray | None = None

    @property
    def pixel_size_m(self) -> float | None:
        """Lateral pixel spacing in metres (None for a single column)."""
        return abs(float(self.x_m[1] - self.x_m[0])) if self.x_m.size > 1 else None

    def describe(self, n_samples: int | None = None) -> dict[str, Any]:
        return {
            "type": "pixels",
            "x_range_m": [float(self.x_m[0]), float(self.x_m[-1])],
            "z_range_m": [float(self.z_m[0]), float(self.z_m[-1])],
            "pixel_spacing_m": [float(np.abs(np.diff(self.z_m)).mean()) if self.z_m.size > 1 else None,
                                float(np.abs(np.diff(self.x_m)).mean()) if self.x_m.size > 1 else None],
        }


Geometry = LineGeometry | PixelGrid
