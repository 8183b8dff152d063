"""``pixels.csv``: pixels of a photo located on the ground through its georeference."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.geometry.projection import Georeference
from cupola.io.tables import write_pixels_csv

__all__ = ["write_located_pixels"]


def write_located_pixels(path: str | os.PathLike, georef: Georeference, col, row, height_m=None) -> Path:
    """Locate pixels (col, row) on the ground and write them as ``pixels.csv``.

    Without ``height_m`` every pixel is located at the georeference's surface height and the file
    is ``col,row,lat,lon``; with ``height_m`` (metres above the WGS84 ellipsoid, one per pixel,
    e.g. a cloud top) each pixel is located at its own height and the file gains a ``height_m``
    column. Layout and rounding: :func:`cupola.io.tables.write_pixels_csv`.
    """
    col = np.asarray(col, dtype=float)
    row = np.asarray(row, dtype=float)
    if height_m is None:
        lon, lat = georef.pixels_to_ground(col, row)
        return write_pixels_csv(path, col, row, lon, lat)
    h = np.asarray(height_m, dtype=float)
    lon, lat = np.full(col.size, np.nan), np.full(col.size, np.nan)
    for hv in np.unique(h):  # one ray-ellipsoid intersection per distinct height
        sel = h == hv
        lon[sel], lat[sel] = georef.pixels_to_ground(col[sel], row[sel], float(hv))
    return write_pixels_csv(path, col, row, lon, lat, height_m=h)
