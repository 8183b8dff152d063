"""An independent geolocation chain used to check cupola's: astropy frames (TEME -> GCRS / ITRS
with IERS data), hand-written rotation matrices, and an exact ray-surface intersection found by
root finding on pyproj's geodetic height. Slow, per point, and shares no code with cupola."""

from __future__ import annotations

import numpy as np
import pyproj
from scipy.optimize import brentq

_ECEF_TO_LLH = pyproj.Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def astropy_state(line1, line2, when):
    """(ITRS position m, LVLH axes as ITRS column vectors) from astropy's TEME transforms."""
    from astropy import units as u
    from astropy.coordinates import GCRS, ITRS, TEME, CartesianDifferential, CartesianRepresentation
    from astropy.time import Time
    from sgp4.api import Satrec

    sat = Satrec.twoline2rv(line1, line2)
    t = Time(when)
    err, r, v = sat.sgp4(t.jd1, t.jd2)
    assert err == 0
    teme = TEME(CartesianRepresentation(r * u.km).with_differentials(CartesianDifferential(v * u.km / u.s)), obstime=t)
    gcrs = teme.transform_to(GCRS(obstime=t))
    rg = gcrs.cartesian.xyz.to_value(u.m)
    vg = gcrs.velocity.d_xyz.to_value(u.m / u.s)
    z = -rg / np.linalg.norm(rg)
    y = -np.cross(rg, vg)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)

    def to_itrs(p):
        c = GCRS(CartesianRepresentation(p * u.m), obstime=t).transform_to(ITRS(obstime=t))
        return c.cartesian.xyz.to_value(u.m)

    p0 = to_itrs(rg)
    axes = np.column_stack([(to_itrs(rg + 1e6 * a) - p0) / 1e6 for a in (x, y, z)])
    return p0, axes


def reference_ground_points(position_m, lvlh_axes, rpy_deg, fx, fy, cx, cy, cols, rows, height_m=0.0):
    """(lon_deg, lat_deg) of pixels for a pinhole camera at an LVLH roll/pitch/yaw."""
    roll, pitch, yaw = np.radians(rpy_deg)
    c0 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    r = lvlh_axes @ _rz(yaw) @ _ry(pitch) @ _rx(roll) @ c0
    out = []
    for c, w in zip(cols, rows):
        d = r @ np.array([(c - cx) / fx, (w - cy) / fy, 1.0])
        d /= np.linalg.norm(d)

        def height(t, d=d):
            p = position_m + t * d
            return _ECEF_TO_LLH.transform(p[0], p[1], p[2])[2] - height_m

        t = brentq(height, 0.0, 3.0e6, xtol=1e-6)
        p = position_m + t * d
        lon, lat, _ = _ECEF_TO_LLH.transform(p[0], p[1], p[2])
        out.append((lon, lat))
    return np.array(out)
