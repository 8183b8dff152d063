"""Zones around places known only by a point and a land area (e.g. a census table of populated
places): a disc of the place's published land area trimmed to its Voronoi cell among the places,
so neighbouring zones never overlap; built in a local equal-area projection.

>>> import numpy as np, shapely
>>> from cupola.analysis.places import zones_from_places
>>> from cupola.analysis.zonal import equal_area_crs, reproject_geometries
>>> z = zones_from_places(np.array([0.0, 0.01, 0.5]), np.zeros(3), np.array([4.0, 4.0, 4.0]))
>>> km2 = shapely.area(reproject_geometries(z, "EPSG:4326", equal_area_crs(0.0, 0.0))) / 1e6
>>> np.round(km2, 2).tolist(), shapely.intersects(z[0], z[1]) and shapely.intersection(z[0], z[1]).area
([3.2, 3.2, 4.0], 0.0)
"""

from __future__ import annotations

import math

import numpy as np

from cupola.analysis.zonal import equal_area_crs, reproject_geometries
from cupola.errors import InputError

__all__ = ["zones_from_places", "SQ_MILE_KM2"]

#: square kilometres in a US survey square mile (the Census's AREALAND unit)
SQ_MILE_KM2 = 2.589988110336


def zones_from_places(
    lon: np.ndarray, lat: np.ndarray, area_km2: np.ndarray, *, keep: np.ndarray | None = None
) -> np.ndarray:
    """Polygons (lon/lat) around each place: a disc of ``area_km2`` trimmed to the place's Voronoi
    cell among all the places given; ``keep`` (a mask) returns only those zones. Places without a
    positive area get None."""
    import shapely

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    area = np.asarray(area_km2, dtype=np.float64)
    if not (lon.shape == lat.shape == area.shape):
        raise InputError("`lon`, `lat` and `area_km2` must have one value per place")
    crs = equal_area_crs(float(np.mean(lon)), float(np.mean(lat)))
    from cupola.analysis.zonal import transformer

    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    pts = shapely.points(x, y)
    radius_m = np.sqrt(np.where(area > 0, area, 0.0) / math.pi) * 1000.0
    discs = shapely.buffer(pts, radius_m, quad_segs=32)
    span = float(np.max(radius_m)) * 4 + 1.0
    frame = shapely.box(x.min() - span, y.min() - span, x.max() + span, y.max() + span)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    # voronoi_polygons returns the cells in no fixed order: match each to the place inside it
    tree = shapely.STRtree(cells)
    which = tree.query(pts, predicate="within")
    cell_of = np.full(len(pts), -1)
    cell_of[which[0]] = which[1]
    out = np.full(len(pts), None, dtype=object)
    ok = (area > 0) & (cell_of >= 0)
    out[ok] = shapely.intersection(discs[ok], cells[cell_of[ok]])
    if keep is not None:
        out = out[np.asarray(keep, bool)]
    return reproject_geometries(out, crs, "EPSG:4326")
