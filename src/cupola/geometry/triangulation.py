"""Two rays meeting in space: the closest approach of two lines of sight, and the geodetic height
of the point where they (nearly) meet.

Pure computation in WGS84 ECEF (metres), vectorized over any leading shape. A stereo pair gives
one ray per view for each ground point (camera centre + direction); the point is the midpoint of
the shortest segment between the two rays (the "mid-point method", Hartley & Sturm 1997,
"Triangulation", Computer Vision and Image Understanding 68(2): 146-157, section 5.3; for two
lines p1 + t1 d1 and p2 + t2 d2 the closest points solve the 2x2 normal equations
[d1.d1, -d1.d2; d1.d2, -d2.d2] [t1, t2]^T = [-(p1-p2).d1, -(p1-p2).d2]^T). Its height is the
exact WGS84 ellipsoidal height (:func:`cupola.geometry.geodesy.ecef_to_geodetic`).

>>> import numpy as np
>>> from cupola.geometry.geodesy import geodetic_to_ecef
>>> target = geodetic_to_ecef(np.radians(-84.25), np.radians(36.6), 850.0)
>>> c1 = geodetic_to_ecef(np.radians(-84.5), np.radians(36.4), 420e3)
>>> c2 = geodetic_to_ecef(np.radians(-84.0), np.radians(36.8), 420e3)
>>> meet = closest_approach(c1, target - c1, c2, target - c2)
>>> round(float(meet.miss_m), 6), round(float(heights_m(meet.point_m)), 3)
(0.0, 850.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.geometry import geodesy

__all__ = ["RayMeeting", "closest_approach", "heights_m", "geodetic_of"]


@dataclass(frozen=True)
class RayMeeting:
    """Where two rays come closest.

    Attributes:
        point_m: (..., 3) ECEF midpoint of the shortest segment between the rays.
        range1_m, range2_m: (...) distance from each ray's origin to its closest point, in units
            of the given direction vector's length (metres for unit directions); negative when the
            closest point lies behind the origin.
        miss_m: (...) length of the shortest segment (0 when the rays intersect).
        angle_rad: (...) angle between the two directions (the intersection, or convergence, angle).
    """

    point_m: np.ndarray
    range1_m: np.ndarray
    range2_m: np.ndarray
    miss_m: np.ndarray
    angle_rad: np.ndarray


def closest_approach(origin1_m, direction1, origin2_m, direction2) -> RayMeeting:
    """Closest approach of the lines ``origin1 + t1 direction1`` and ``origin2 + t2 direction2``.

    Origins are (3,) or (..., 3), directions (..., 3) (need not be unit). Parallel rays (no
    single closest point) give NaN.
    """
    o1 = np.asarray(origin1_m, dtype=float)
    o2 = np.asarray(origin2_m, dtype=float)
    d1 = np.asarray(direction1, dtype=float)
    d2 = np.asarray(direction2, dtype=float)
    w = o1 - o2
    a = np.einsum("...i,...i->...", d1, d1)
    b = np.einsum("...i,...i->...", d1, d2)
    c = np.einsum("...i,...i->...", d2, d2)
    d = np.einsum("...i,...i->...", d1, w)
    e = np.einsum("...i,...i->...", d2, w)
    den = a * c - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        parallel = den <= 1e-15 * a * c
        den = np.where(parallel, np.nan, den)
        t1 = (b * e - c * d) / den
        t2 = (a * e - b * d) / den
        p1 = o1 + t1[..., None] * d1
        p2 = o2 + t2[..., None] * d2
        cos_angle = np.clip(b / np.sqrt(a * c), -1.0, 1.0)
    return RayMeeting(
        point_m=0.5 * (p1 + p2),
        range1_m=t1,
        range2_m=t2,
        miss_m=np.linalg.norm(p1 - p2, axis=-1),
        angle_rad=np.arccos(cos_angle),
    )


def heights_m(points_m) -> np.ndarray:
    """WGS84 ellipsoidal heights (m) of ECEF points (..., 3)."""
    return geodesy.ecef_to_geodetic(points_m)[2]


def geodetic_of(points_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon_deg, lat_deg, height_m) of ECEF points (..., 3), WGS84."""
    lon, lat, h = geodesy.ecef_to_geodetic(points_m)
    return np.degrees(lon), np.degrees(lat), h
