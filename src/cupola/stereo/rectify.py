"""Epipolar rectification of two framed views from their known poses.

Both views are turned (pure rotations about their own centres, so no information is lost) into
one common orientation whose x axis is the base from the first camera centre to the second
(Fusiello, Trucco & Verri 2000, "A compact algorithm for rectification of stereo pairs", Machine
Vision and Applications 12: 16-22): the x axis along the base, the y axis perpendicular to the base
and to the mean boresight, the z axis completing the right-handed frame (close to both
boresights). Both rectified cameras share that rotation and one focal length; then a ground point
lies on the same row in both rectified images and its column differs by the disparity
``d = x1 - x2``, which grows as the point rises (a higher point is nearer).

The second image's principal point is shifted by the disparity of a reference surface, so that
the disparities that remain are small (the terrain's relief, not the ~1000 px that a base of tens
of kilometres makes at 400 km).

Lens distortion is removed on the way: the resampling maps come from cupola's camera model
(:meth:`cupola.geometry.camera.Camera.ray_to_pixel`), distortion included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.projection import Georeference

__all__ = ["Rectification", "rectify_pair", "MAX_RECTIFIED_PIXELS"]

#: a rectified frame larger than this (pixels) is refused (an extreme obliquity or a bad pose)
MAX_RECTIFIED_PIXELS = 120_000_000


@dataclass(frozen=True, eq=False)
class Rectification:
    """The common rectified frame of two views.

    Attributes:
        rotation: (3, 3) rows are the rectified x, y, z axes in ITRS (world -> rectified).
        centre1_m, centre2_m: the two camera centres (ITRS, m).
        focal_px: focal length of both rectified cameras (pixels).
        cx1_px, cx2_px, cy_px: principal points (``cx2`` is shifted by the reference disparity).
        width_px, height_px: size of both rectified images.
        scale: rectified pixels per original pixel of view 1 (1 keeps its resolution).
    """

    rotation: np.ndarray
    centre1_m: np.ndarray
    centre2_m: np.ndarray
    focal_px: float
    cx1_px: float
    cx2_px: float
    cy_px: float
    width_px: int
    height_px: int
    scale: float = 1.0

    @property
    def base_m(self) -> float:
        return float(np.linalg.norm(self.centre2_m - self.centre1_m))

    def centre(self, view: int) -> np.ndarray:
        return self.centre1_m if view == 1 else self.centre2_m

    def rays(self, x, y, view: int) -> np.ndarray:
        """ITRS directions (..., 3) of rectified pixels (x, y) of ``view`` (1 or 2), not unit."""
        cx = self.cx1_px if view == 1 else self.cx2_px
        xn = (np.asarray(x, dtype=float) - cx) / self.focal_px
        yn = (np.asarray(y, dtype=float) - self.cy_px) / self.focal_px
        xn, yn = np.broadcast_arrays(xn, yn)
        r = self.rotation
        return np.stack([r[0, i] * xn + r[1, i] * yn + r[2, i] for i in range(3)], axis=-1)

    def project(self, points_m, view: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, depth) of ITRS points in the rectified frame of ``view``."""
        q = (np.asarray(points_m, dtype=float) - self.centre(view)) @ self.rotation.T
        cx = self.cx1_px if view == 1 else self.cx2_px
        with np.errstate(divide="ignore", invalid="ignore"):
            x = self.focal_px * q[..., 0] / q[..., 2] + cx
            y = self.focal_px * q[..., 1] / q[..., 2] + self.cy_px
        return x, y, q[..., 2]

    def homography(self, georef: Georeference, view: int) -> np.ndarray:
        """3x3 map from rectified pixels (x, y, 1) of ``view`` to the pixels of ``georef``'s frame
        (exact for a camera without distortion: both are pinholes about the same centre)."""
        cam = georef.camera
        cx = self.cx1_px if view == 1 else self.cx2_px
        k_rect_inv = np.array(
            [
                [1.0 / self.focal_px, 0.0, -cx / self.focal_px],
                [0.0, 1.0 / self.focal_px, -self.cy_px / self.focal_px],
                [0.0, 0.0, 1.0],
            ]
        )
        k_cam = np.array([[cam.focal_x_px, 0.0, cam.cx_px], [0.0, cam.focal_y_px, cam.cy_px], [0.0, 0.0, 1.0]])
        return k_cam @ georef.pose.matrix.T @ self.rotation.T @ k_rect_inv

    def maps(self, georef: Georeference, view: int, rows: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """float32 (map_x, map_y) for ``cv2.remap``: the original pixel of ``georef``'s frame seen
        at every rectified pixel of ``view`` (rows ``rows``; NaN-free, -1e4 where not seen)."""
        r0, r1 = (0, self.height_px) if rows is None else (rows.start or 0, rows.stop)
        y, x = np.mgrid[r0:r1, 0 : self.width_px].astype(float)
        d = self.rays(x, y, view)
        cam_vec = d @ georef.pose.matrix  # R^T d: camera frame
        col, row = georef.camera.ray_to_pixel(cam_vec)
        bad = ~(np.isfinite(col) & np.isfinite(row))
        col = np.where(bad, -1e4, col)
        row = np.where(bad, -1e4, row)
        return col.astype(np.float32), row.astype(np.float32)


def _frame_axes(georef1: Georeference, georef2: Georeference) -> np.ndarray:
    c1 = np.asarray(georef1.pose.position_m, dtype=float)
    c2 = np.asarray(georef2.pose.position_m, dtype=float)
    base = c2 - c1
    if not np.linalg.norm(base) > 1.0:
        raise InputError("the two photos were taken from the same place (base < 1 m): no stereo")
    x = base / np.linalg.norm(base)
    k = georef1.pose.boresight + georef2.pose.boresight
    y = np.cross(k, x)
    if np.linalg.norm(y) < 1e-6:
        raise InputError("the cameras look along the base (towards each other): no stereo")
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return np.vstack([x, y, z])


def rectify_pair(
    georef1: Georeference,
    georef2: Georeference,
    *,
    scale: float = 1.0,
    reference_height_m: float = 0.0,
) -> Rectification:
    """The rectified frame of two georeferenced views.

    The rectified image covers all of view 1 (at ``scale`` times its focal length in pixels);
    ``reference_height_m`` is the surface whose disparity is taken out of view 2's principal
    point (the terrain's typical height).
    """
    rot = _frame_axes(georef1, georef2)
    cam1 = georef1.camera
    f = cam1.focal_px * float(scale)
    border = georef1.border_pixels(32)
    d = cam1.pixel_to_ray(border[:, 0], border[:, 1]) @ georef1.pose.matrix.T
    q = d @ rot.T
    if not (q[:, 2] > 0).all():
        raise InputError("view 1 spans more than a hemisphere of the rectified frame: no stereo")
    xn, yn = q[:, 0] / q[:, 2], q[:, 1] / q[:, 2]
    x0, x1 = xn.min() * f, xn.max() * f
    y0, y1 = yn.min() * f, yn.max() * f
    width = int(np.ceil(x1 - x0)) + 1
    height = int(np.ceil(y1 - y0)) + 1
    if width * height > MAX_RECTIFIED_PIXELS:
        raise InputError(
            f"the rectified pair would be {width}x{height} px: the views are too oblique to each other; check the poses"
        )
    cx1, cy = -x0, -y0
    c1 = np.asarray(georef1.pose.position_m, dtype=float)
    c2 = np.asarray(georef2.pose.position_m, dtype=float)
    probe = Rectification(rot, c1, c2, f, cx1, cx1, cy, width, height, float(scale))
    # reference disparity: view 1's pixels on the reference surface, seen from view 2
    gx, gy = np.meshgrid(np.linspace(0, width - 1, 9), np.linspace(0, height - 1, 9))
    ground = geodesy.ray_ellipsoid_intersection(c1, probe.rays(gx, gy, 1), reference_height_m)
    x2, _, depth = probe.project(ground, 2)
    ok = np.isfinite(x2) & (depth > 0)
    if not ok.any():
        raise InputError("view 1 does not see the ground: no stereo")
    d0 = float(np.median(gx[ok] - x2[ok]))
    return Rectification(rot, c1, c2, f, cx1, cx1 + d0, cy, width, height, float(scale))
