"""Gridding triangulated points into a DEM on a north-up lon/lat grid (EPSG:4326).

Each cell holds the mean height of the points that fall in it and their predicted precision: the
root-mean-square of the points' sigmas, without the 1/sqrt(n) of independent errors, because
neighbouring disparities share most of their matching window and their errors are correlated.
The cells are square in metres at the grid's centre latitude (so not square in degrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.errors import NoSolutionError
from cupola.geometry import geodesy

__all__ = ["DemGrid", "grid_points", "metres_per_degree"]


@dataclass(frozen=True, eq=False)
class DemGrid:
    """A DEM: ``height_m``, ``sigma_m`` (float32, NaN where empty) and ``count`` (points per cell)
    on the grid ``transform`` (GDAL's a, b, c, d, e, f: lon = c + a col, lat = f + e row, at cell
    edges), EPSG:4326; ``posting_m`` is the cell size in metres."""

    height_m: np.ndarray
    sigma_m: np.ndarray
    count: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    posting_m: float

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.height_m.shape[0]), int(self.height_m.shape[1])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, _, c, _, e, f = self.transform
        rows, cols = self.shape
        return c, f + e * rows, c + a * cols, f

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon_deg, lat_deg) of every cell centre, each (rows, cols)."""
        a, _, c, _, e, f = self.transform
        rows, cols = self.shape
        lon = c + a * (np.arange(cols) + 0.5)
        lat = f + e * (np.arange(rows) + 0.5)
        return np.meshgrid(lon, lat)


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """(east, north) metres per degree of longitude and latitude on the WGS84 ellipsoid."""
    sl = np.sin(np.radians(lat_deg))
    w = 1.0 - geodesy.E2 * sl * sl
    n_rad = geodesy.A_M / np.sqrt(w)
    m_rad = geodesy.A_M * (1.0 - geodesy.E2) / w**1.5
    return float(np.radians(1.0) * n_rad * np.cos(np.radians(lat_deg))), float(np.radians(1.0) * m_rad)


def grid_points(
    lon_deg: np.ndarray,
    lat_deg: np.ndarray,
    height_m: np.ndarray,
    sigma_m: np.ndarray,
    posting_m: float,
    *,
    max_cells: int = 60_000_000,
) -> DemGrid:
    """Mean heights (and RMS sigmas) of points in cells of ``posting_m`` metres."""
    ok = np.isfinite(lon_deg) & np.isfinite(lat_deg) & np.isfinite(height_m) & np.isfinite(sigma_m)
    if ok.sum() == 0:
        raise NoSolutionError("no point was matched in both photos")
    lon, lat, h, s = lon_deg[ok], lat_deg[ok], height_m[ok], sigma_m[ok]
    step = max(1, lon.size // 100_000)
    lon0 = float(np.median(lon[::step]))
    lon = lon0 + (lon - lon0 + 180.0) % 360.0 - 180.0  # continuous across the antimeridian
    mx, my = metres_per_degree(float(np.median(lat[::step])))
    dlon, dlat = posting_m / mx, posting_m / my
    west = np.floor(lon.min() / dlon) * dlon
    north = np.ceil(lat.max() / dlat) * dlat
    cols = int(np.floor((lon.max() - west) / dlon)) + 1
    rows = int(np.floor((north - lat.min()) / dlat)) + 1
    if rows * cols > max_cells:
        return grid_points(lon_deg, lat_deg, height_m, sigma_m, posting_m * 1.25, max_cells=max_cells)
    ci = np.clip(((lon - west) / dlon).astype(np.intp), 0, cols - 1)
    ri = np.clip(((north - lat) / dlat).astype(np.intp), 0, rows - 1)
    idx = ri * cols + ci
    n = np.bincount(idx, minlength=rows * cols)
    sh = np.bincount(idx, weights=h, minlength=rows * cols)
    ss = np.bincount(idx, weights=s * s, minlength=rows * cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        height = (sh / n).reshape(rows, cols).astype(np.float32)
        sigma = np.sqrt(ss / n).reshape(rows, cols).astype(np.float32)
    return DemGrid(
        height, sigma, n.reshape(rows, cols).astype(np.int32), (dlon, 0.0, west, 0.0, -dlat, north), float(posting_m)
    )
