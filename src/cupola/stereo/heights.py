"""Heights from disparities: rays of both views, their closest approach in ECEF, the exact WGS84
height, and the predicted height precision of every point from the actual ray geometry.

Predicted precision. A disparity is measured with the left pixel held fixed: an error in it slides
the point along the left ray. With ``s`` the distance along the left ray (unit direction u1) and
``x2(s)`` the point's column in the right rectified image,

    sigma_h = sigma_d / |dx2/ds| * |dh/ds|,   dh/ds = u1 . n,
    dx2/ds = f (w_x q_z - q_x w_z) / q_z^2,   q = R (X - c2), w = R u1,

with ``n`` the ellipsoid normal at the point (the direction of geodetic height), R the rectified
frame and f its focal length. This is exact to first order for any obliquity and on the ellipsoid.
For two views a base B apart at a slant range H, each making a small angle with the vertical, it
reduces to the textbook ``sigma_h = (H / B) * GSD * sigma_d`` (Kraus 2007, Photogrammetry,
2nd ed., section 4.6; e.g. ISS, 5 s apart: B ~ 38 km, H ~ 420 km, H/B ~ 11): in general
``sigma_h = sigma_d * (H / f) * cos(theta1) / sin(gamma)`` with theta1 the left ray's zenith
angle and gamma the intersection angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.geometry import geodesy
from cupola.geometry.triangulation import closest_approach
from cupola.stereo.rectify import Rectification

__all__ = ["HeightPoints", "triangulate_disparities"]


@dataclass(frozen=True, eq=False)
class HeightPoints:
    """Triangulated points, one per valid left rectified pixel (1-D arrays)."""

    x_px: np.ndarray  # rectified left column
    y_px: np.ndarray  # rectified row
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    height_m: np.ndarray
    sigma_m: np.ndarray  # predicted height precision
    angle_rad: np.ndarray  # intersection angle of the rays
    metres_per_px: np.ndarray  # height change per pixel of disparity (= sigma_m / sigma_d)

    def __len__(self) -> int:
        return int(self.height_m.size)


def triangulate_disparities(
    rect: Rectification, disparity_px: np.ndarray, sigma_px: np.ndarray, block: int = 1_000_000
) -> HeightPoints:
    """Points where the rays of each valid disparity meet (row blocks of ``block`` pixels)."""
    ys, xs = np.nonzero(np.isfinite(disparity_px))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in HeightPoints.__dataclass_fields__}
    c1, c2 = rect.centre1_m, rect.centre2_m
    rot = rect.rotation
    for k0 in range(0, ys.size, block):
        y = ys[k0 : k0 + block].astype(float)
        x1 = xs[k0 : k0 + block].astype(float)
        d = disparity_px[ys[k0 : k0 + block], xs[k0 : k0 + block]].astype(float)
        sd = sigma_px[ys[k0 : k0 + block], xs[k0 : k0 + block]].astype(float)
        r1 = rect.rays(x1, y, 1)
        r2 = rect.rays(x1 - d, y, 2)
        meet = closest_approach(c1, r1, c2, r2)
        lon, lat, h = geodesy.ecef_to_geodetic(meet.point_m)
        cl = np.cos(lat)
        up = np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1)  # the ellipsoid normal
        u1 = r1 / np.linalg.norm(r1, axis=-1, keepdims=True)
        q = (meet.point_m - c2) @ rot.T
        wv = u1 @ rot.T
        dx2_ds = rect.focal_px * (wv[:, 0] * q[:, 2] - q[:, 0] * wv[:, 2]) / (q[:, 2] ** 2)
        dh_ds = np.einsum("ij,ij->i", u1, up)
        with np.errstate(divide="ignore", invalid="ignore"):
            m_per_px = np.abs(dh_ds / dx2_ds)
        parts["x_px"].append(x1.astype(np.float32))
        parts["y_px"].append(y.astype(np.float32))
        parts["lon_deg"].append(np.degrees(lon))
        parts["lat_deg"].append(np.degrees(lat))
        parts["height_m"].append(h)
        parts["sigma_m"].append(sd * m_per_px)
        parts["angle_rad"].append(meet.angle_rad.astype(np.float32))
        parts["metres_per_px"].append(m_per_px.astype(np.float32))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
    return HeightPoints(**cat)
