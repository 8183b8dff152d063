"""Relative orientation: the second camera's rotation refined so that the pair's rays meet.

Poses from two independent georeferences (tie points, a localization) are each good to a pixel or
a few; stereo needs the two to agree far better across the base: a point must lie on the same
rectified row in both images (no vertical parallax), or dense matching along the rows fails. The
camera centres come from the orbit and are kept (over seconds SGP4's relative positions are good to
centimetres); the second camera's rotation is refined.

Sparse matches (SIFT, Lowe 2004, with his ratio test) on the rectified pair give rays r1 and r2;
each pair of rays must be coplanar with the base b (the coplanarity condition,
``(b x r1) . r2 = 0``; Kraus 2007, Photogrammetry, section 4.3). A small rotation of camera 2 about
the rectified x axis (the base) and z axis (close to the boresight) moves its rays out of or into
their epipolar planes; a rotation about the rectified y axis keeps them in their planes (it shifts
disparities, which is a height offset, not observable from the pair alone) and is left as given.
The two angles are solved by robust least squares (scipy ``least_squares``, soft-L1 loss) on the
residual in rectified pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry.attitude import Pose
from cupola.geometry.projection import Georeference
from cupola.stereo.rectify import Rectification

__all__ = ["RelativeOrientation", "sparse_matches", "refine_second_rotation"]

#: at most this many pixels on a side for the sparse matching (finer is slower, not needed)
SPARSE_MAX_SIDE_PX = 1400


@dataclass(frozen=True)
class RelativeOrientation:
    """The refinement: its two angles (rad, about rectified x and z), the matches used and the
    vertical parallax (RMS, rectified pixels) before and after."""

    angles_rad: tuple[float, float]
    matches: int
    rms_before_px: float
    rms_after_px: float

    def max_shift_px(self, rect: Rectification) -> float:
        """The most the refinement moves a pixel of the rectified second image (px)."""
        half_diagonal = 0.5 * float(np.hypot(rect.width_px, rect.height_px))
        return rect.focal_px * abs(self.angles_rad[0]) + half_diagonal * abs(self.angles_rad[1])

    def to_dict(self) -> dict:
        return {
            "rotation_about_base_deg": float(np.degrees(self.angles_rad[0])),
            "rotation_about_boresight_deg": float(np.degrees(self.angles_rad[1])),
            "matches": self.matches,
            "vertical_parallax_rms_px_before": self.rms_before_px,
            "vertical_parallax_rms_px_after": self.rms_after_px,
        }


def sparse_matches(
    left: np.ndarray, right: np.ndarray, valid_left: np.ndarray, valid_right: np.ndarray, max_side_px: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) points of matched SIFT features (x, y) in the left and right rectified images."""
    import cv2

    from cupola.stereo.matching import to_uint8

    side = max_side_px or SPARSE_MAX_SIDE_PX
    k = max(1.0, max(left.shape) / side)
    l8, r8 = to_uint8(left, right, valid_left)
    masks = [valid_left, valid_right]
    if k > 1.0:
        size = (int(left.shape[1] / k), int(left.shape[0] / k))
        l8 = cv2.resize(l8, size, interpolation=cv2.INTER_AREA)
        r8 = cv2.resize(r8, size, interpolation=cv2.INTER_AREA)
        masks = [cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) for m in masks]
    m1, m2 = (cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)) for m in masks)
    sift = cv2.SIFT.create(nfeatures=5000)
    k1, d1 = sift.detectAndCompute(l8, m1)
    k2, d2 = sift.detectAndCompute(r8, m2)
    if d1 is None or d2 is None or len(k1) < 2 or len(k2) < 2:
        return np.zeros((0, 2)), np.zeros((0, 2))
    p1, p2 = [], []
    for pair in cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1, d2, k=2):
        if len(pair) == 2 and pair[0].distance < 0.75 * pair[1].distance:
            p1.append(k1[pair[0].queryIdx].pt)
            p2.append(k2[pair[0].trainIdx].pt)
    scale = np.array([k, k])
    a = (np.asarray(p1, dtype=float).reshape(-1, 2) + 0.5) * scale - 0.5
    b = (np.asarray(p2, dtype=float).reshape(-1, 2) + 0.5) * scale - 0.5
    return a, b


def refine_second_rotation(
    georef1: Georeference,
    georef2: Georeference,
    rect: Rectification,
    pts1: np.ndarray,
    pts2: np.ndarray,
    *,
    max_vertical_px: float = 40.0,
) -> tuple[Georeference, RelativeOrientation] | None:
    """``georef2`` with its rotation refined from matches ``pts1``/``pts2`` (rectified pixels),
    or None when fewer than 12 matches agree (then the poses are used as given)."""
    from scipy.optimize import least_squares

    dy = pts1[:, 1] - pts2[:, 1]
    keep = np.abs(dy - np.median(dy)) < max_vertical_px if dy.size else np.zeros(0, bool)
    p1, p2 = pts1[keep], pts2[keep]
    if len(p1) < 12:
        return None
    c1, c2 = rect.centre1_m, rect.centre2_m
    base = c2 - c1
    r1 = rect.rays(p1[:, 0], p1[:, 1], 1)
    r2 = rect.rays(p2[:, 0], p2[:, 1], 2)
    n = np.cross(base, r1)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    ax, az = rect.rotation[0], rect.rotation[2]

    def residual(x):
        rot = Rotation.from_rotvec(x[0] * ax + x[1] * az)
        r = rot.apply(r2)
        r /= np.linalg.norm(r, axis=1, keepdims=True)
        return rect.focal_px * np.einsum("ij,ij->i", n, r)  # ~ out-of-plane angle in pixels

    before = residual(np.zeros(2))
    scale = 1.4826 * np.median(np.abs(before - np.median(before))) + 0.1
    fit = least_squares(residual, np.zeros(2), loss="soft_l1", f_scale=max(scale, 0.3), x_scale=1e-5)
    after = residual(fit.x)
    inl = np.abs(after) < 3.0 * max(1.4826 * np.median(np.abs(after)), 0.3)
    rot = Rotation.from_rotvec(fit.x[0] * ax + fit.x[1] * az)
    pose = Pose(np.asarray(georef2.pose.position_m, dtype=float), rot * georef2.pose.rotation)
    refined = Georeference(georef2.camera, pose, georef2.time, georef2.height_m)
    info = RelativeOrientation(
        (float(fit.x[0]), float(fit.x[1])),
        int(len(p1)),
        float(np.sqrt(np.mean(before[inl] ** 2))),
        float(np.sqrt(np.mean(after[inl] ** 2))),
    )
    return refined, info
