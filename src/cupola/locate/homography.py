"""Homography estimation (MAGSAC++ through OpenCV) and the geometric sanity of a footprint."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon


def estimate_homography(src: np.ndarray, dst: np.ndarray, threshold_px: float = 4.0):
    """(H, inlier mask) mapping ``src`` -> ``dst`` pixels with MAGSAC++; (None, empty) if < 8 pairs."""
    import cv2

    if len(src) < 8:
        return None, np.zeros(len(src), bool)
    h, mask = cv2.findHomography(
        src.astype(np.float32), dst.astype(np.float32), cv2.USAC_MAGSAC, threshold_px, maxIters=5000, confidence=0.999
    )
    if h is None or not np.isfinite(h).all():
        return None, np.zeros(len(src), bool)
    return h, mask.ravel().astype(bool)


def estimate_affine(src: np.ndarray, dst: np.ndarray, threshold_px: float = 4.0) -> np.ndarray | None:
    """A 3 x 3 homography holding the affine transform ``src`` -> ``dst`` pixels fitted with RANSAC
    (three points a sample), or None when fewer than 4 pairs or no fit. With few true matches this
    is better pinned than a homography: 6 parameters instead of 8, and no perspective terms to
    throw the far side of the photo off."""
    import cv2

    if len(src) < 4:
        return None
    a, _ = cv2.estimateAffine2D(
        src.astype(np.float32),
        dst.astype(np.float32),
        method=cv2.RANSAC,
        ransacReprojThreshold=threshold_px,
        maxIters=5000,
        confidence=0.999,
    )
    if a is None or not np.isfinite(a).all():
        return None
    return np.vstack([a, [0.0, 0.0, 1.0]])


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N, 2) points; NaN where the point maps to infinity."""
    p = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = p[:, :2] / p[:, 2:3]
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


def scale_h(sx: float, sy: float | None = None) -> np.ndarray:
    """Homography of a pure scaling of pixel-centre coordinates ((0, 0) = centre of the first pixel)."""
    sy = sx if sy is None else sy
    # pixel centres: x' + 0.5 = s (x + 0.5)
    return np.array([[sx, 0.0, 0.5 * (sx - 1.0)], [0.0, sy, 0.5 * (sy - 1.0)], [0.0, 0.0, 1.0]])


def rot90_h(k: int, width: int, height: int) -> np.ndarray:
    """Homography taking pixels of ``np.rot90(img, k)`` back to pixels of ``img`` (width x height)."""
    k %= 4
    if k == 0:
        return np.eye(3)
    if k == 1:  # rotated image (W' = height, H' = width): (c', r') -> (c = W-1-r', r = c')
        return np.array([[0.0, -1.0, width - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    if k == 2:
        return np.array([[-1.0, 0.0, width - 1.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]])
    return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, height - 1.0], [0.0, 0.0, 1.0]])


def border_points(width: int, height: int, per_edge: int = 16) -> np.ndarray:
    """Clockwise ring of points along the outer edge of an image (pixel-corner extent)."""
    s = np.linspace(0.0, 1.0, per_edge, endpoint=False)
    x0, y0, x1, y1 = -0.5, -0.5, width - 0.5, height - 0.5
    top = np.column_stack([x0 + s * (x1 - x0), np.full_like(s, y0)])
    right = np.column_stack([np.full_like(s, x1), y0 + s * (y1 - y0)])
    bottom = np.column_stack([x1 - s * (x1 - x0), np.full_like(s, y1)])
    left = np.column_stack([np.full_like(s, x0), y1 - s * (y1 - y0)])
    return np.vstack([top, right, bottom, left])


def quad_is_sane(corners: np.ndarray, allow_mirror: bool = True) -> tuple[bool, str]:
    """A mapped image outline must be a convex, simple quadrilateral with the orientation kept or
    mirrored consistently (no bow ties, no points at infinity). ``corners`` are the images of the
    top-left, top-right, bottom-right and bottom-left corners, in pixels (rows down). With
    ``allow_mirror=False`` a mirrored outline is refused too: a photo looking down on the Earth and
    a north-up map both show the ground from above, so a true mapping never mirrors."""
    if not np.isfinite(corners).all():
        return False, "footprint goes through infinity"
    poly = Polygon(corners)
    if not poly.is_valid or poly.area <= 0:
        return False, "footprint is self-intersecting"
    cross = []
    for i in range(4):
        a, b, c = corners[i], corners[(i + 1) % 4], corners[(i + 2) % 4]
        cross.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    cross = np.sign(cross)
    if not (np.all(cross > 0) or np.all(cross < 0)):
        return False, "footprint is not convex"
    if not allow_mirror and np.all(cross < 0):
        return False, "footprint is mirrored"
    return True, "ok"


def hull_fraction(pts: np.ndarray, width: int, height: int) -> float:
    """Area of the convex hull of points as a fraction of the image area (how spread they are)."""
    if len(pts) < 3:
        return 0.0
    from shapely.geometry import MultiPoint

    return float(MultiPoint(pts).convex_hull.area / (width * height))
