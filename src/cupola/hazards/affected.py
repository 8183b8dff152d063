"""What a hazard touches: features of the user's vector layers (roads, buildings, ...) and people
from a population raster.

- Features: each feature that intersects a hazard polygon counts once; lines also report the
  length inside the hazard (km, in the hazard's equal-area projection, whose distortion near the
  scene centre is negligible), polygons the area inside (km²).
- People: the sum of a population-count raster (people per pixel, e.g. WorldPop or GHS-POP
  counts) over its pixels whose centre lies in a hazard polygon.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.analysis.zonal import reproject_geometries
from cupola.errors import InputError
from cupola.hazards.polygons import HazardPolygons

__all__ = ["affected_features", "people_affected"]


def _hazard_union(polygons: HazardPolygons):
    import shapely

    return shapely.union_all(polygons.geometries) if len(polygons) else None


def affected_features(polygons: HazardPolygons, layer_path: str | os.PathLike) -> dict:
    """Counts (and lengths or areas) of the features of ``layer_path`` inside the hazard."""
    import shapely

    from cupola.io.zone_layer import read_zone_layer

    layer = read_zone_layer(layer_path)
    geoms = np.asarray(layer.geometries, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    name = Path(layer_path).stem
    out = {"layer": name, "features": int(geoms.size), "affected": 0, "length_km": 0.0, "area_km2": 0.0}
    hazard = _hazard_union(polygons)
    if hazard is None or geoms.size == 0:
        return out
    geoms = reproject_geometries(geoms, layer.crs or "EPSG:4326", "EPSG:4326")
    hit = shapely.intersects(geoms, hazard)
    out["affected"] = int(hit.sum())
    if hit.any():
        inside = shapely.intersection(geoms[hit], hazard)
        ea = reproject_geometries(np.asarray(inside, dtype=object), "EPSG:4326", polygons.equal_area_crs)
        out["length_km"] = round(
            float(shapely.length(ea[np.isin(shapely.get_type_id(geoms[hit]), (1, 5))]).sum()) / 1e3, 6
        )
        out["area_km2"] = round(float(shapely.area(ea).sum()) / 1e6, 6)
    return out


def people_affected(polygons: HazardPolygons, population_path: str | os.PathLike) -> float:
    """People (sum of the population raster) in the hazard polygons."""
    import rasterio.features
    import shapely
    from rasterio.transform import Affine

    from cupola.io.raster_band import read_raster_band

    band = read_raster_band(population_path, what="a population raster (people per pixel)")
    if band.crs is None:
        raise InputError(f"{population_path}: the population raster (`population`) has no CRS")
    if not len(polygons):
        return 0.0
    geoms = reproject_geometries(polygons.geometries, "EPSG:4326", band.crs)
    inside = rasterio.features.geometry_mask(
        [shapely.geometry.mapping(g) for g in geoms], band.shape, Affine(*band.transform), invert=True
    )
    return float(np.nansum(band.values[inside]))
