"""The brightest lit areas of a night scene, named: local maxima of the smoothed brightness of the
georeferenced image (``georef.tif``, EPSG:4326), each named by the nearest GeoNames city (>15000 inhabitants)
within ``name_km`` of it (else by its coordinates)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["brightest_lit_areas"]


def brightest_lit_areas(tif: str | Path, *, count: int = 3, name_km: float = 25.0, max_px: int = 512) -> list[dict]:
    """Up to ``count`` brightest lit areas of ``tif``: lon/lat, relative brightness (0-1 of the
    brightest), and the name, country code, population and distance of the city named for it."""
    import rasterio
    from scipy import ndimage

    from cupola.describe import places

    if count < 1:
        raise InputError(f"`count` {count}: expected at least 1")
    try:
        with rasterio.open(tif) as ds:
            s = min(1.0, max_px / max(ds.width, ds.height))
            h, w = max(1, round(ds.height * s)), max(1, round(ds.width * s))
            nb = min(ds.count, 3)
            a = ds.read(list(range(1, nb + 1)), out_shape=(nb, h, w)).astype(float)
            alpha = ds.read(ds.count, out_shape=(h, w)) if ds.count in (2, 4) else None
            tr = ds.transform @ ds.transform.scale(ds.width / w, ds.height / h)
    except rasterio.errors.RasterioError as e:
        raise InputError(f"{tif}: not a readable GeoTIFF ({e})") from None
    lum = a.mean(axis=0)
    if alpha is not None:
        lum[alpha == 0] = 0.0
    sm = ndimage.gaussian_filter(lum, 2.0)
    peaks = (sm == ndimage.maximum_filter(sm, size=15)) & (sm > np.percentile(sm, 90)) & (sm > 0)
    rows, cols = np.nonzero(peaks)
    if len(rows) == 0:
        return []
    order = np.argsort(-sm[rows, cols])[:count]
    top = float(sm[rows[order[0]], cols[order[0]]])
    out = []
    for i in order:
        lon, lat = tr @ (cols[i] + 0.5, rows[i] + 0.5)
        dlat = name_km / 111.32
        dlon = dlat / max(math.cos(math.radians(lat)), 0.05)
        best = None
        for c in places.cities((lon - dlon, lat - dlat, lon + dlon, lat + dlat)):
            d_km = 111.32 * math.hypot(c["lat_deg"] - lat, (c["lon_deg"] - lon) * math.cos(math.radians(lat)))
            if d_km <= name_km and (best is None or d_km < best["distance_km"]):
                best = {**c, "distance_km": round(d_km, 1)}
        out.append(
            {
                "lon_deg": float(lon),
                "lat_deg": float(lat),
                "relative_brightness": round(float(sm[rows[i], cols[i]]) / top, 3) if top > 0 else 0.0,
                "name": best["name"] if best else None,
                "city": best,
            }
        )
    return out
