"""sonobridge.formats.dicom.geometry: pixel grids to and from DICOM ultrasound regions."""
from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from sonobridge.core.geometry import PixelGrid
from sonobridge.dicom.ultrasound import us_regions
from sonobridge.formats.dicom.geometry import grid_from_region, region_for_grid


def test_a_pixel_grid_survives_a_region_round_trip():
    rows, columns = 30, 40
    grid = PixelGrid(x_m=(np.arange(columns) - 19.5) * 2e-4, z_m=np.arange(rows) * 2e-4 + 1e-3)
    ds = Dataset()
    ds.SequenceOfUltrasoundRegions = [region_for_grid(grid, rows, columns)]
    region, = us_regions(ds)
    back = grid_from_region(region, rows, columns)
    assert back.x_m.shape == (columns,) and back.z_m.shape == (rows,) and back.mask.shape == (rows, columns)
    assert np.allclose(back.x_m, grid.x_m, atol=1e-9) and np.allclose(back.z_m, grid.z_m, atol=1e-9)
    assert back.mask.all() and back.pixel_size_m == grid.pixel_size_m
