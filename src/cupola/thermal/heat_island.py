"""Surface urban heat island per city: the mean land-surface temperature of the city's zone minus
that of its rural reference, from exact coverage-weighted zonal means (the zonal tools of
:mod:`cupola.analysis.zonal`: exactextract coverage fractions, true pixel areas).

Rural reference of a city: the ring outside its zone, out to the city's equivalent radius
(``sqrt(area / π)``, kept between 1 and 10 km), minus every city zone of the layer; water, cloud
(grown and buffered), bad-QC and no-data pixels are left out of both sides by being NaN in the
temperature raster. A city's heat island is reported when both sides have at least
``min_covered`` of their area measured (otherwise NaN with the reason). In a contiguous
metropolis (the Los Angeles basin) the ring is often built-up land outside the city's limits: the
number is then the city's contrast with its surroundings, not with countryside (the caveat of
every ring-based definition; Schwarz et al. 2011, Remote Sens. Environ. 115, 3175-3186, compare
several).

>>> import numpy as np, shapely
>>> from cupola.io.raster_band import RasterBand
>>> t = np.full((200, 200), 300.0, np.float32); t[80:120, 80:120] = 304.0
>>> g = RasterBand(t, (0.001, 0, -118.1, 0, -0.001, 34.1), "EPSG:4326")
>>> city = shapely.box(-118.02, 33.98, -117.98, 34.02)
>>> r = heat_island(g, np.array([city]), np.array(["X"]))
>>> round(float(r.uhi_k[0]), 3)
4.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError
from cupola.io.raster_band import RasterBand

__all__ = ["HeatIsland", "heat_island", "rural_rings", "MIN_COVERED", "RING_KM"]

#: a zone needs this share of its area measured for its mean to count
MIN_COVERED = 0.5
#: the ring's width: the city's equivalent radius, clipped to this range (km)
RING_KM = (1.0, 10.0)


@dataclass
class HeatIsland:
    """Per city: urban and rural mean temperatures (K), their measured shares, the heat island
    ``uhi_k`` (urban − rural; NaN with a ``reason`` where it cannot be told) and the zones."""

    names: np.ndarray
    urban_mean_k: np.ndarray
    rural_mean_k: np.ndarray
    urban_covered: np.ndarray
    rural_covered: np.ndarray
    uhi_k: np.ndarray
    reason: np.ndarray
    zones: np.ndarray
    rings: np.ndarray
    area_km2: np.ndarray

    def rows(self) -> list[dict]:
        return [
            {
                "city": str(self.names[k]),
                "urban_mean_k": float(self.urban_mean_k[k]),
                "rural_mean_k": float(self.rural_mean_k[k]),
                "uhi_k": float(self.uhi_k[k]),
                "urban_covered": float(self.urban_covered[k]),
                "rural_covered": float(self.rural_covered[k]),
                "area_km2": float(self.area_km2[k]),
                "note": str(self.reason[k]),
            }
            for k in range(len(self.names))
        ]


def rural_rings(zones_lonlat: np.ndarray, ring_km: tuple[float, float] = RING_KM) -> tuple[np.ndarray, np.ndarray]:
    """(rings, zone areas km²): each zone's rural ring (lon/lat polygons, see the module)."""
    import shapely

    from cupola.analysis.zonal import equal_area_crs, reproject_geometries

    geoms = np.asarray(zones_lonlat, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        raise InputError("`zones`: every zone is empty")
    x0, y0, x1, y1 = shapely.total_bounds(geoms[ok])
    laea = equal_area_crs(0.5 * (x0 + x1), 0.5 * (y0 + y1))
    ea = reproject_geometries(geoms, "EPSG:4326", laea)
    area = np.where(ok, shapely.area(ea) / 1e6, np.nan)
    width_m = np.clip(np.sqrt(np.nan_to_num(area) / math.pi), *ring_km) * 1000.0
    idx = np.flatnonzero(ok)
    outer = shapely.buffer(ea[idx], width_m[idx], quad_segs=8)
    # each ring minus the city zones it touches (an STRtree query, not one union of all cities)
    tree = shapely.STRtree(ea[idx])
    src, hit = tree.query(outer, predicate="intersects")
    order = np.argsort(src, kind="stable")
    src, hit = src[order], hit[order]
    cuts = np.searchsorted(src, np.arange(len(idx) + 1))
    near = np.array([shapely.union_all(ea[idx][hit[cuts[j] : cuts[j + 1]]]) for j in range(len(idx))], dtype=object)
    rings = np.full(len(geoms), None, dtype=object)
    rings[idx] = shapely.difference(outer, near)
    return reproject_geometries(rings, laea, "EPSG:4326"), area


def heat_island(
    temperature: RasterBand,
    zones_lonlat: np.ndarray,
    names: np.ndarray,
    *,
    min_covered: float = MIN_COVERED,
    rings: tuple[np.ndarray, np.ndarray] | None = None,
) -> HeatIsland:
    """The heat island of every zone on ``temperature`` (K, NaN where not to be used); ``rings``
    from :func:`rural_rings` when already computed (a stack reuses them)."""
    import shapely

    from cupola.analysis.zonal import zonal_statistics

    geoms = np.asarray(zones_lonlat, dtype=object)
    n = len(geoms)
    if len(names) != n:
        raise InputError("`names` must have one name per zone")
    ring, area = rings if rings is not None else rural_rings(geoms)
    both = np.concatenate([geoms, ring])
    usable = ~(shapely.is_missing(both) | shapely.is_empty(both))
    stats_mean = np.full(2 * n, np.nan)
    stats_cov = np.zeros(2 * n)
    if usable.any():
        st = zonal_statistics(temperature, both[usable], "EPSG:4326", zones_name="`zones`")
        stats_mean[usable] = st.radiance_mean
        stats_cov[usable] = np.nan_to_num(st.covered_fraction)
    urban, rural = stats_mean[:n], stats_mean[n:]
    uc, rc = stats_cov[:n], stats_cov[n:]
    reason = np.full(n, "", dtype=object)
    uhi = urban - rural
    for k in range(n):
        if not usable[k]:
            reason[k] = "empty zone"
        elif not usable[n + k]:
            reason[k] = "no rural ring outside the other cities"
        elif uc[k] < min_covered:
            reason[k] = f"city {uc[k]:.0%} measured (< {min_covered:.0%}: cloud, water, no data or off the scene)"
        elif rc[k] < min_covered:
            reason[k] = f"rural ring {rc[k]:.0%} measured (< {min_covered:.0%})"
        if reason[k]:
            uhi[k] = np.nan
    return HeatIsland(
        names=np.asarray(names, dtype=object),
        urban_mean_k=urban,
        rural_mean_k=rural,
        urban_covered=uc,
        rural_covered=rc,
        uhi_k=uhi,
        reason=reason,
        zones=geoms,
        rings=ring,
        area_km2=area,
    )
