"""WGS84 geodesy: geodetic <-> ECEF conversions and local east-north-up frames.

All functions are vectorized over NumPy arrays; angles in radians unless a name says ``_deg``.
"""

from __future__ import annotations

import numpy as np

#: WGS84 semi-major axis (m)
A_M = 6378137.0
#: WGS84 flattening
F = 1.0 / 298.257223563
#: WGS84 semi-minor axis (m)
B_M = A_M * (1.0 - F)
#: first eccentricity squared
E2 = F * (2.0 - F)
#: second eccentricity squared
EP2 = E2 / (1.0 - E2)
#: mean Earth radius (m), for spherical approximations (IUGG R1 = 6371.0088 km, rounded)
R_MEAN_M = 6_371_000.0
#: metres per degree of latitude (and of longitude at the equator), for coarse scales: map scale
#: bars, degree sizes of pixels (2 pi A_M / 360 = 111319.5 m, rounded)
M_PER_DEG = 111_320.0


def geodetic_to_ecef(lon_rad, lat_rad, height_m=0.0) -> np.ndarray:
    """WGS84 geodetic longitude, latitude (rad) and ellipsoidal height (m) to ECEF (m), shape (..., 3)."""
    lon = np.asarray(lon_rad, dtype=float)
    lat = np.asarray(lat_rad, dtype=float)
    h = np.asarray(height_m, dtype=float)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = A_M / np.sqrt(1.0 - E2 * sin_lat * sin_lat)
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ECEF (m), shape (..., 3), to WGS84 (lon_rad, lat_rad, height_m).

    Bowring's (1976) formula followed by one Newton refinement of the latitude; the error is far
    below a millimetre for points from the Earth's centre region out to geostationary distance.
    """
    xyz = np.asarray(xyz_m, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    # Bowring's parametric-latitude start
    theta = np.arctan2(z * A_M, p * B_M)
    st, ct = np.sin(theta), np.cos(theta)
    lat = np.arctan2(z + EP2 * B_M * st**3, p - E2 * A_M * ct**3)
    for _ in range(2):
        sl = np.sin(lat)
        n = A_M / np.sqrt(1.0 - E2 * sl * sl)
        lat = np.arctan2(z + E2 * n * sl, p)
    sl, cl = np.sin(lat), np.cos(lat)
    n = A_M / np.sqrt(1.0 - E2 * sl * sl)
    # height, well conditioned at every latitude
    h = p * cl + z * sl - A_M * A_M / n
    return lon, lat, h


def enu_basis(lon_rad, lat_rad) -> np.ndarray:
    """Unit east, north, up vectors in ECEF at a geodetic position, shape (..., 3, 3) (rows e, n, u)."""
    lon = np.asarray(lon_rad, dtype=float)
    lat = np.asarray(lat_rad, dtype=float)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    east = np.stack(np.broadcast_arrays(-so, co, zero), axis=-1)
    north = np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), axis=-1)
    up = np.stack(np.broadcast_arrays(cl * co, cl * so, sl), axis=-1)
    return np.stack([east, north, up], axis=-2)


def ellipsoid_normal(xyz_m) -> np.ndarray:
    """Unit outward normal of the WGS84 ellipsoid family through points (the geodetic 'up')."""
    lon, lat, _ = ecef_to_geodetic(xyz_m)
    return enu_basis(lon, lat)[..., 2, :]


def ray_ellipsoid_intersection(origin_m, directions, height_m=0.0) -> np.ndarray:
    """First intersection of rays with the WGS84 ellipsoid raised by ``height_m``.

    ``origin_m`` has shape (3,), ``directions`` (..., 3) (need not be unit). The surface is
    the set of points at geodetic height ``height_m`` (exact, not an inflated ellipsoid: the
    inflated-ellipsoid hit is refined by Newton steps along the ray). Rays that miss, or that point
    away from the Earth, give NaN.
    """
    o = np.asarray(origin_m, dtype=float).reshape(3)
    d = np.asarray(directions, dtype=float)
    h = float(height_m)
    a = A_M + h
    b = B_M + h
    # scale to a unit sphere: x/a, y/a, z/b
    inv = np.array([1.0 / a, 1.0 / a, 1.0 / b])
    os_ = o * inv
    ds = d * inv
    qa = np.einsum("...i,...i->...", ds, ds)
    qb = 2.0 * (ds @ os_)
    qc = float(os_ @ os_) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        sq = np.sqrt(disc)
        # nearer root, numerically stable form
        t = np.where(qc > 0.0, (-qb - sq) / (2.0 * qa), (-qb + sq) / (2.0 * qa))
    bad = ~(disc >= 0.0) | ~(t > 0.0)
    t = np.where(bad, np.nan, t)
    point = o + t[..., None] * d
    if h != 0.0:
        point = refine_to_height(o, d, t, h)
    return point


def refine_to_height(origin_m, directions, t, height_m: float, iterations: int = 3) -> np.ndarray:
    """Points ``origin + t * directions`` moved along their rays onto the surface of geodetic
    height ``height_m`` by Newton steps on the height (the inflated ellipsoid a+h, b+h that gives
    the starting ``t`` is not that surface)."""
    o = np.asarray(origin_m, dtype=float).reshape(3)
    d = np.asarray(directions, dtype=float)
    t = np.asarray(t, dtype=float)
    point = o + t[..., None] * d
    for _ in range(iterations):
        lon, lat, hp = ecef_to_geodetic(point)
        up = enu_basis(lon, lat)[..., 2, :]
        rate = np.einsum("...i,...i->...", d, up)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = t - (hp - height_m) / rate
        point = o + t[..., None] * d
    return point
