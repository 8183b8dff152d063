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
    """Points where the rays of each valid disparity meet (in blocks of ``block`` pixels).

    The two rays of a rectified match lie in one epipolar plane, so they meet exactly and their
    closest approach (:func:`cupola.geometry.triangulation.closest_approach`, the same point) has
    the closed form of the rectified frame: the left ray ``q1 = ((x1 - cx1) / f, (y - cy) / f, 1)``
    scaled by ``t = B f / (x1 - cx1 - x2 + cx2)``, B the base."""
    width = disparity_px.shape[1]
    flat_d = disparity_px.ravel()
    flat_s = sigma_px.ravel()
    idx = np.flatnonzero(np.isfinite(flat_d))
    n = idx.size
    out: dict[str, np.ndarray] = {
        "x_px": np.empty(n, np.float32),
        "y_px": np.empty(n, np.float32),
        "lon_deg": np.empty(n),
        "lat_deg": np.empty(n),
        "height_m": np.empty(n),
        "sigma_m": np.empty(n),
        "angle_rad": np.empty(n, np.float32),
        "metres_per_px": np.empty(n, np.float32),
    }
    c1 = rect.centre1_m
    rot = rect.rotation
    f = rect.focal_px
    base = rect.base_m
    c2_rect = np.array([base, 0.0, 0.0])  # camera 2 in the rectified frame centred on camera 1
    for k0 in range(0, n, block):
        sl = slice(k0, min(n, k0 + block))
        i = idx[sl]
        y = (i // width).astype(float)
        x1 = (i % width).astype(float)
        d = flat_d[i].astype(float)
        sd = flat_s[i].astype(float)
        qx = (x1 - rect.cx1_px) / f
        qy = (y - rect.cy_px) / f
        with np.errstate(divide="ignore", invalid="ignore"):
            t = base * f / (d + rect.cx2_px - rect.cx1_px)
        # the point in the rectified frame (origin at camera 1) and in ECEF
        px, py, pz = t * qx, t * qy, t
        point = c1 + np.stack([px, py, pz], axis=-1) @ rot
        lon, lat, h = geodesy.ecef_to_geodetic(point)
        cl = np.cos(lat)
        up = np.stack([cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)], axis=-1) @ rot.T  # in the rectified frame
        norm1 = np.sqrt(qx * qx + qy * qy + 1.0)
        # the left ray's unit direction w, and the point seen from camera 2 (q2)
        wx, wy, wz = qx / norm1, qy / norm1, 1.0 / norm1
        q2x = px - c2_rect[0]
        dx2_ds = f * (wx * pz - q2x * wz) / (pz * pz)
        dh_ds = wx * up[:, 0] + wy * up[:, 1] + wz * up[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            m_per_px = np.abs(dh_ds / dx2_ds)
            cos_angle = (qx * (q2x / pz) + qy * qy + 1.0) / (norm1 * np.sqrt((q2x / pz) ** 2 + qy * qy + 1.0))
        out["x_px"][sl] = x1
        out["y_px"][sl] = y
        out["lon_deg"][sl] = np.degrees(lon)
        out["lat_deg"][sl] = np.degrees(lat)
        out["height_m"][sl] = h
        out["sigma_m"][sl] = sd * m_per_px
        out["angle_rad"][sl] = np.arccos(np.clip(cos_angle, -1.0, 1.0))
        out["metres_per_px"][sl] = m_per_px
    return HeightPoints(**out)
