"""A stack of thermal scenes over one area: each scene screened (:mod:`.screening`), masked
(water, cloud grown over its deck and buffered, bad QC), classed day or night from the sun at its
centre, and the heat island of every city measured (:mod:`.heat_island`); then per city the mean
day and night heat island over the usable scenes, and the time series.

Cities: polygons from a layer, or points with a land area (the census's ``AREALAND``, square
miles) turned into zones by :func:`cupola.analysis.places.zones_from_places` (a disc of
the land area trimmed to the place's Voronoi cell): only the places inside the first scene.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.ecostress import EcostressScene
from cupola.io.raster_band import RasterBand
from cupola.thermal.clouds import BUFFER_PX, grow_clouds
from cupola.thermal.heat_island import HeatIsland, heat_island, rural_rings
from cupola.thermal.qc import good_pixels
from cupola.thermal.screening import Screening, screen_scene

__all__ = ["Cities", "SceneResult", "StackResult", "cities_from_layer", "analyse_scene", "analyse_stack", "run_stack"]

#: square kilometres in a US survey square mile (census AREALAND)
SQ_MILE_KM2 = 2.589988110336


@dataclass
class Cities:
    """City zones (lon/lat polygons) and their names, with their rural rings once computed."""

    names: np.ndarray
    zones: np.ndarray
    source: str = ""
    rings: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.names)


def cities_from_layer(
    geometries: np.ndarray,
    fields: dict[str, np.ndarray],
    crs: str | None,
    bounds_lonlat: tuple[float, float, float, float] | None,
    *,
    name_field: str | None = None,
    area_field: str | None = None,
    area_unit_km2: float = SQ_MILE_KM2,
) -> Cities:
    """Cities from a vector layer (see the module); ``bounds_lonlat`` (W, S, E, N) keeps those
    inside it. ``area_field``: the land area of point cities (default ``AREALAND``); one given
    must be a field of the layer, whatever its geometry."""
    import shapely

    from cupola.analysis.places import zones_from_places
    from cupola.analysis.zonal import reproject_geometries, segment_length

    geoms = np.asarray(geometries, dtype=object)
    if geoms.size == 0:
        raise InputError("`cities`: the layer has no features")
    if not crs:
        raise InputError("`cities`: the layer has no coordinate reference system")
    lower = {k.lower(): k for k in fields}
    key = lower.get((name_field or "").lower()) if name_field else None
    if name_field and key is None:
        raise InputError(f"`name_field` {name_field!r}: the city layer has no such field (fields: {', '.join(fields)})")
    if key is None:
        key = next((lower[k] for k in ("areaname", "name", "city", "namelsad") if k in lower), None)
    if area_field is not None and area_field.lower() not in lower:
        raise InputError(f"`area_field` {area_field!r}: the city layer has no such field (fields: {', '.join(fields)})")
    area_field = area_field or "AREALAND"
    names = (
        np.array([str(v) for v in fields[key].tolist()], dtype=object)
        if key
        else np.array([str(k + 1) for k in range(len(geoms))], dtype=object)
    )
    lonlat = reproject_geometries(geoms, str(crs), "EPSG:4326", segment_length(geoms))
    types = shapely.get_type_id(lonlat)
    if np.all((types == 0) | (types == 4) | (types < 0)):  # points: zones from their land areas
        akey = lower.get(area_field.lower())
        if akey is None:
            raise InputError(
                f"`cities`: the layer holds points; zones are built from a land-area field, and it has no "
                f"{area_field!r} (use `area_field`)"
            )
        pts = shapely.centroid(lonlat)
        lon, lat = shapely.get_x(pts), shapely.get_y(pts)
        area = np.asarray(fields[akey], dtype=np.float64) * area_unit_km2
        keep = np.isfinite(lon) & (area > 0)
        if bounds_lonlat is not None:
            w, s, e, n = bounds_lonlat
            keep &= (lon > w) & (lon < e) & (lat > s) & (lat < n)
        if keep.sum() < 1:
            raise InputError("`cities`: no place of the layer lies on the scene")
        zones = zones_from_places(lon, lat, area, keep=keep)
        return Cities(
            names[keep], zones, source=f"zones from points and {akey} (disc of the land area, Voronoi-trimmed)"
        )
    bad = ~((types == 3) | (types == 6) | (types < 0))
    if bad.any():
        raise InputError(f"`cities`: feature {int(np.flatnonzero(bad)[0]) + 1} is neither a polygon nor a point")
    keep = ~(shapely.is_missing(lonlat) | shapely.is_empty(lonlat))
    if bounds_lonlat is not None:
        keep &= shapely.intersects(lonlat, shapely.box(*bounds_lonlat))
    if not keep.any():
        raise InputError("`cities`: no city of the layer overlaps the scene")
    return Cities(names[keep], lonlat[keep], source="city polygons")


@dataclass
class SceneResult:
    """One scene: its screening, day or night, the masked temperature and the heat islands."""

    scene: EcostressScene
    screening: Screening
    sun_elevation_deg: float
    period: str
    masked_k: np.ndarray
    cloud_final: np.ndarray
    heat_island: HeatIsland | None

    @property
    def name(self) -> str:
        return self.scene.name


@dataclass
class StackResult:
    scenes: list[SceneResult]
    cities: Cities | None
    summary: list[dict] = field(default_factory=list)


def _centre(scene: EcostressScene) -> tuple[float, float]:
    from cupola.analysis.zonal import transformer

    a, _b, c, _d, e, f = scene.transform
    rows, cols = scene.shape
    x, y = c + a * cols / 2, f + e * rows / 2
    lon, lat = transformer(scene.crs, "EPSG:4326").transform(x, y)
    return float(lon), float(lat)


def bounds_lonlat(scene: EcostressScene) -> tuple[float, float, float, float]:
    import shapely

    from cupola.analysis.zonal import reproject_geometries

    a, _b, c, _d, e, f = scene.transform
    rows, cols = scene.shape
    box = shapely.box(c, f + e * rows, c + a * cols, f)
    g = reproject_geometries(np.array([box], dtype=object), scene.crs, "EPSG:4326", max(a, -e) * 10)[0]
    x0, y0, x1, y1 = shapely.bounds(g)
    return float(x0), float(y0), float(x1), float(y1)


def day_or_night(scene: EcostressScene) -> tuple[str, float]:
    """('day' | 'night' | 'unknown', sun elevation in degrees) at the scene's centre and time."""
    from cupola.geometry.sun import sun_position

    if scene.time is None:
        return "unknown", math.nan
    lon, lat = _centre(scene)
    elev = sun_position(scene.time, lon=lon, lat=lat).elevation_deg
    return ("day" if elev > -0.833 else "night"), float(elev)


def analyse_scene(scene: EcostressScene, cities: Cities | None, *, buffer_px: int = BUFFER_PX) -> SceneResult:
    """Screen, mask and measure one scene (see the module)."""
    from cupola.thermal.clouds import cloud_test

    scr = screen_scene(scene.lst_k, cloud=scene.cloud, qc=scene.qc, water=scene.water)
    t = scene.lst_k.astype(np.float32)
    seed = (
        (scene.cloud == 1)
        if scene.cloud is not None
        else cloud_test(t, land=None if scene.water is None else scene.water == 0)
    )
    cloud = grow_clouds(seed, t, buffer_px=buffer_px)
    keep = np.isfinite(t) & ~cloud
    if scene.water is not None:
        keep &= scene.water == 0
    if scene.qc is not None:
        keep &= good_pixels(scene.qc)
    masked = np.where(keep, t, np.float32(np.nan)).astype(np.float32)
    period, elev = day_or_night(scene)
    hi = None
    if cities is not None and len(cities):
        if cities.rings is None:
            cities.rings = rural_rings(cities.zones)
        band = RasterBand(masked, scene.transform, scene.crs)
        hi = heat_island(band, cities.zones, cities.names, rings=cities.rings)
    return SceneResult(scene, scr, elev, period, masked, cloud, hi)


def analyse_stack(scenes: list[EcostressScene], cities: Cities | None) -> StackResult:
    """Every scene, then per city the mean heat island by day and by night over the usable scenes."""
    results = [analyse_scene(s, cities) for s in scenes]
    summary: list[dict] = []
    if cities is not None:
        for k, name in enumerate(cities.names):
            row: dict = {"city": str(name)}
            for period in ("day", "night"):
                vals = [
                    r.heat_island.uhi_k[k]
                    for r in results
                    if r.heat_island is not None and r.period == period and r.screening.usable
                ]
                vals = [v for v in vals if np.isfinite(v)]
                row[f"uhi_{period}_k"] = float(np.mean(vals)) if vals else math.nan
                row[f"{period}_scenes"] = len(vals)
            row["area_km2"] = float(cities.rings[1][k]) if cities.rings is not None else math.nan
            summary.append(row)
    return StackResult(results, cities, summary)


def run_stack(
    scene_files: list[dict[str, Path]],
    cities_path: str | os.PathLike | None,
    *,
    name_field: str | None = None,
    area_field: str | None = None,
) -> StackResult:
    """Read the scenes (``{"lst", "qc", "cloud", "water"}`` paths each) and the city layer, and
    :func:`analyse_stack`."""
    from cupola.io.ecostress import read_ecostress_geotiffs
    from cupola.io.zone_layer import read_zone_layer

    if not scene_files:
        raise InputError("no scene given")
    scenes = [read_ecostress_geotiffs(f["lst"], f.get("qc"), f.get("cloud"), f.get("water")) for f in scene_files]
    cities = None
    if cities_path is not None:
        layer = read_zone_layer(cities_path)
        try:
            cities = cities_from_layer(
                layer.geometries,
                layer.fields,
                layer.crs,
                bounds_lonlat(scenes[0]),
                name_field=name_field,
                area_field=area_field,
            )
        except InputError as exc:
            raise InputError(str(exc).replace("`cities`:", f"`cities` {cities_path}:", 1)) from None
    return analyse_stack(scenes, cities)


def scene_time_text(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else ""
