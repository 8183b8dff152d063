"""Hazard polygons from a mask: connected regions (4-connectivity) as polygons in EPSG:4326 with
their area in km² measured in a Lambert azimuthal equal-area projection centred on the scene, and
the mean per-pixel confidence. Regions under ``min_area_km2`` (the noise floor) are dropped.
Graded maps (:func:`polygonize_graded`): the minimum mapping unit applies to the hazard region as a
whole, then each region is cut into polygons of one grade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.analysis.zonal import equal_area_crs, reproject_geometries, transformer

__all__ = ["HazardPolygons", "polygonize", "polygonize_graded"]


@dataclass(frozen=True)
class HazardPolygons:
    """``geometries`` shapely polygons (lon, lat, EPSG:4326); ``area_km2`` equal-area areas;
    ``confidence`` mean pixel confidence; ``equal_area_crs`` the projection the areas come from;
    ``grade`` (graded maps) each polygon's grade name, None for an ungraded map; ``value_sum``
    the sum of the ``sum_of`` raster over each polygon when one was given (fires: their radiative
    power, W), else None."""

    geometries: np.ndarray
    area_km2: np.ndarray
    confidence: np.ndarray
    equal_area_crs: str
    grade: np.ndarray | None = None
    value_sum: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.geometries.size)


def polygonize(
    mask: np.ndarray,
    confidence: np.ndarray,
    transform: tuple[float, float, float, float, float, float],
    crs: str,
    *,
    min_area_km2: float = 0.0,
    min_pixels: int = 1,
    connectivity: int = 4,
    sum_of: np.ndarray | None = None,
) -> HazardPolygons:
    """Polygons of the True regions of ``mask`` on the grid (``transform``, ``crs``); regions of
    fewer than ``min_pixels`` pixels or under ``min_area_km2`` are dropped (the minimum mapping
    unit). ``connectivity`` 8 makes pixels that touch at a corner one region (one feature, a
    MultiPolygon when its parts meet only at corners); ``sum_of`` (a raster on the grid) is summed
    over each region into ``value_sum``."""
    import rasterio.features
    import shapely
    from rasterio.transform import Affine
    from scipy import ndimage

    m = np.asarray(mask, dtype=bool)
    rows, cols = m.shape
    a = Affine(*transform)
    cx, cy = a @ (cols / 2.0, rows / 2.0)
    lon0, lat0 = transformer(crs, "EPSG:4326").transform(cx, cy)
    laea = equal_area_crs(float(lon0), float(lat0))
    empty = HazardPolygons(
        np.empty(0, dtype=object), np.empty(0), np.empty(0), laea, value_sum=None if sum_of is None else np.empty(0)
    )
    if not m.any():
        return empty
    labels, n = ndimage.label(m, structure=np.ones((3, 3), bool) if connectivity == 8 else None)
    conf = np.asarray(confidence, dtype=np.float64)
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    if min_pixels > 1:
        small = counts < min_pixels
        small[0] = False
        m = m & ~small[labels]
        labels[~m] = 0
        if not m.any():
            return empty
    mean_conf = np.bincount(labels.ravel(), weights=np.nan_to_num(conf).ravel(), minlength=n + 1) / np.maximum(
        counts, 1
    )
    geoms, ids = [], []
    for geom, value in rasterio.features.shapes(labels.astype(np.int32), mask=m, transform=a, connectivity=4):
        geoms.append(shapely.geometry.shape(geom))
        ids.append(int(value))
    if not geoms:
        return empty
    g = np.asarray(geoms, dtype=object)
    idx = np.asarray(ids)
    # one region may come back as several rings only through holes, so merge by label
    order = np.argsort(idx, kind="stable")
    g, idx = g[order], idx[order]
    uniq, start = np.unique(idx, return_index=True)
    merged = np.asarray([shapely.union_all(part) for part in np.split(g, start[1:])], dtype=object)
    merged = shapely.make_valid(merged)
    pixel = max(abs(transform[0]), abs(transform[4]))
    ea = reproject_geometries(merged, crs, laea, max_segment=pixel * 8)
    area = shapely.area(ea) / 1e6
    keep = area >= min_area_km2
    ll = reproject_geometries(merged[keep], crs, "EPSG:4326", max_segment=pixel * 8)
    ll = shapely.make_valid(np.asarray(ll, dtype=object))
    sums = None
    if sum_of is not None:
        w = np.nan_to_num(np.asarray(sum_of, dtype=np.float64), nan=0.0)
        sums = np.bincount(labels.ravel(), weights=np.where(m, w, 0.0).ravel(), minlength=n + 1)[uniq][keep]
    return HazardPolygons(np.asarray(ll, dtype=object), area[keep], mean_conf[uniq][keep], laea, value_sum=sums)


def polygonize_graded(
    mask: np.ndarray,
    grade: np.ndarray,
    names: tuple[str, ...],
    confidence: np.ndarray,
    transform: tuple[float, float, float, float, float, float],
    crs: str,
    *,
    min_area_km2: float = 0.0,
    min_pixels: int = 1,
    connectivity: int = 4,
    sum_of: np.ndarray | None = None,
) -> HazardPolygons:
    """Polygons of one grade each: regions of ``mask`` under ``min_pixels`` pixels or
    ``min_area_km2`` (true pixel areas) are dropped first, the grades (``grade`` 1..len(names),
    0 = none) are smoothed by a 3 x 3 majority inside what is kept, then each grade is polygonized;
    ``grade`` of the result holds the names. ``connectivity`` and ``sum_of``: see
    :func:`polygonize`."""
    from scipy import ndimage

    from cupola.analysis.zonal import pixel_area_km2
    from cupola.hazards.grading import majority_3x3

    m = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(m, structure=np.ones((3, 3), bool) if connectivity == 8 else None)
    if n:
        counts = np.bincount(labels.ravel(), minlength=n + 1)
        area_px = np.broadcast_to(pixel_area_km2(transform, m.shape, crs), m.shape)
        areas = np.bincount(labels.ravel(), weights=area_px.ravel(), minlength=n + 1)
        drop = (counts < min_pixels) | (areas < min_area_km2)
        drop[0] = False
        m = m & ~drop[labels]
    g = majority_3x3(np.where(m, np.asarray(grade, np.uint8), 0).astype(np.uint8))
    parts = [
        polygonize(g == k + 1, confidence, transform, crs, connectivity=connectivity, sum_of=sum_of)
        for k in range(len(names))
    ]
    laea = parts[0].equal_area_crs
    tags = [np.full(len(p), name, dtype=object) for p, name in zip(parts, names)]
    sums = None if sum_of is None else np.concatenate([np.asarray(p.value_sum) for p in parts])
    return HazardPolygons(
        np.concatenate([p.geometries for p in parts]).astype(object),
        np.concatenate([p.area_km2 for p in parts]),
        np.concatenate([p.confidence for p in parts]),
        laea,
        np.concatenate(tags).astype(object),
        sums,
    )
