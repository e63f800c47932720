"""Where the core model's :class:`~sonobridge.core.geometry.PixelGrid` meets DICOM ultrasound
regions (the toolkit, :mod:`sonobridge.dicom.ultrasound`, knows no PixelGrid): a region read
becomes a grid (:func:`grid_from_region`), a grid to write becomes a region (:func:`region_for_grid`).
"""
from __future__ import annotations

from ...core.geometry import PixelGrid
from ...dicom.ultrasound import UltrasoundRegion, region_dataset


def grid_from_region(region: UltrasoundRegion, rows: int, columns: int) -> PixelGrid:
    """The whole image's pixel centres in metres on ``region``'s absolute scale, masked to it.

    Parameters
    ----------
    region : UltrasoundRegion
        A tissue region (``unit_x == unit_y == "m"``).
    rows, columns : int
        The image size in pixels.

    Returns
    -------
    PixelGrid
        ``x_m`` ``(columns,)``, ``z_m`` ``(rows,)`` (metres; decreasing where a delta is negative),
        ``mask`` ``(rows, columns)`` True inside the region.
    """
    x_m, z_m, mask = region.axes(rows, columns)
    return PixelGrid(x_m=x_m, z_m=z_m, mask=mask)


def region_for_grid(grid: PixelGrid, rows: int, columns: int):
    """The ``SequenceOfUltrasoundRegions`` item describing ``grid`` (one 2D tissue region over
    the whole ``rows`` x ``columns`` image, deltas in cm signed as the grid runs).

    Returns
    -------
    pydicom.dataset.Dataset
        See :func:`sonobridge.dicom.ultrasound.region_dataset`.
    """
    return region_dataset(grid.x_m, grid.z_m, rows, columns, pixel_size_m=grid.pixel_size_m)
