"""Terrain of a footprint from a coarse global elevation model that a package ships: the altitude
map of ``pvlib`` (``pvlib/data/Altitude.h5``, read with h5py; pvlib itself is not imported).

The map is a 2160 x 4320 grid of 1/12 degree cells (about 9 km), row 0 at 90 N, column 0 at
180 W, stored as uint8 in 28 m steps from -450 m (255: no data, the oceans). Mapzen/Tilezen
aggregated it from SRTM, GMTED2010, ETOPO1 and national elevation models; downsampling smooths
peaks and valleys, so ranges and relief are lower than on a fine model (errors of 100 m and more).

Each ground point takes the elevation of its cell and the local relief of that cell: the range
(highest minus lowest) over the 3 x 3 cells around it (about 28 km). Classes, after the relief
classes of Hammond (1964, Ann. Assoc. Am. Geogr. 54: 11-19) and Meybeck et al. (2001, Global
Ecol. Biogeogr. 10: 365-380), coarsened to this grid:

======== ===================================================
plains   relief below 100 m, below 500 m elevation
plateau  relief below 100 m, at 500 m or higher
hills    relief 100 m to 400 m
mountains relief 400 m or more
======== ===================================================

Example
-------
>>> import numpy as np
>>> terrain_class(np.array([20.0, 60.0, 250.0, 900.0]), np.array([50.0, 800.0, 300.0, 1500.0]))
['plains', 'plateau', 'hills', 'mountains']
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["elevation_and_relief_m", "terrain_class", "terrain_facts", "CLASSES", "DEM_SOURCE"]

CLASSES = ("plains", "plateau", "hills", "mountains")
#: relief thresholds (m) over ~28 km, and the elevation (m) that makes low-relief land a plateau
HILLS_RELIEF_M, MOUNTAINS_RELIEF_M, PLATEAU_ELEVATION_M = 100.0, 400.0, 500.0
CELLS_PER_DEG = 12
STEP_M, OFFSET_M, NODATA = 28.0, -450.0, 255
DEM_SOURCE = "pvlib altitude map (Mapzen terrain: SRTM, GMTED2010, ETOPO1), 1/12 deg, 28 m steps"


def _dem_path() -> Path:
    spec = importlib.util.find_spec("pvlib")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("terrain: the pvlib package (its altitude map, data/Altitude.h5) is not installed")
    p = Path(next(iter(spec.submodule_search_locations))) / "data" / "Altitude.h5"
    if not p.is_file():
        raise InputError(f"terrain: {p} (the altitude map shipped by pvlib) not found")
    return p


@functools.lru_cache(maxsize=1)
def _dem() -> np.ndarray:
    import h5py

    with h5py.File(_dem_path(), "r") as f:
        a = np.asarray(f["Altitude"][:])
    if a.shape != (180 * CELLS_PER_DEG, 360 * CELLS_PER_DEG):
        raise InputError(f"terrain: {_dem_path()}: unexpected grid {a.shape}")
    return a


def _cells(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(lonlat, float)
    row = np.clip(np.floor((90.0 - xy[:, 1]) * CELLS_PER_DEG).astype(int), 0, 180 * CELLS_PER_DEG - 1)
    col = np.floor(((xy[:, 0] + 180.0) % 360.0) * CELLS_PER_DEG).astype(int) % (360 * CELLS_PER_DEG)
    return row, col


def elevation_and_relief_m(lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (m) of the cell under each (lon, lat) point and the local relief (m) of that cell
    (range over its 3 x 3 neighbourhood, no-data cells left out); NaN over the oceans."""
    a = _dem()
    row, col = _cells(lonlat)
    nr, nc = a.shape
    hi = np.full(len(row), -np.inf)
    lo = np.full(len(row), np.inf)
    for dr in (-1, 0, 1):
        r = np.clip(row + dr, 0, nr - 1)
        for dc in (-1, 0, 1):
            v = a[r, (col + dc) % nc]
            ok = v != NODATA
            z = v.astype(float) * STEP_M + OFFSET_M
            hi = np.where(ok, np.maximum(hi, z), hi)
            lo = np.where(ok, np.minimum(lo, z), lo)
    v = a[row, col]
    elev = np.where(v != NODATA, v.astype(float) * STEP_M + OFFSET_M, np.nan)
    relief = np.where(np.isfinite(elev), hi - lo, np.nan)
    return elev, relief


def terrain_class(relief_m: np.ndarray, elevation_m: np.ndarray) -> list[str]:
    """Class of each point (see the module docstring) from its local relief and elevation (m)."""
    r = np.asarray(relief_m, float)
    z = np.asarray(elevation_m, float)
    out = np.where(
        r >= MOUNTAINS_RELIEF_M,
        "mountains",
        np.where(r >= HILLS_RELIEF_M, "hills", np.where(z >= PLATEAU_ELEVATION_M, "plateau", "plains")),
    )
    return [str(c) for c in out]


def terrain_facts(lonlat: np.ndarray, weights: np.ndarray, land: np.ndarray) -> dict | None:
    """Terrain of the land points of a footprint: area shares of each class, the dominant one,
    elevation range and mean, and the relief (highest minus lowest point). None without land
    (or where the model has no data under the land points)."""
    xy = np.asarray(lonlat, float)[np.asarray(land, bool)]
    w = np.asarray(weights, float)[np.asarray(land, bool)]
    if len(xy) == 0:
        return None
    elev, relief = elevation_and_relief_m(xy)
    ok = np.isfinite(elev)
    if not ok.any():
        return None
    elev, relief, w = elev[ok], relief[ok], w[ok]
    cls = terrain_class(relief, elev)
    total = float(w.sum())
    shares = {c: round(float(w[[k == c for k in cls]].sum()) / total, 3) for c in CLASSES}
    shares = {c: s for c, s in shares.items() if s > 0}
    dominant = max(shares, key=lambda c: shares[c])
    zmin, zmax = float(elev.min()), float(elev.max())
    return {
        "dominant": dominant,
        "shares": shares,
        "elevation_min_m": round(zmin),
        "elevation_max_m": round(zmax),
        "elevation_mean_m": round(float(np.average(elev, weights=w))),
        "relief_m": round(zmax - zmin),
        "max_local_relief_m": round(float(relief.max())),
        "grid_arcmin": 60 // CELLS_PER_DEG,
        "source": DEM_SOURCE,
    }
