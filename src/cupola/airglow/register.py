"""A pose per frame from the ground: the attitude of every frame of a hand-held sequence refined
by tracking lights fixed to the Earth from the first frame.

Why the ground: the layer moves with the waves (tens of m/s) and carries only a few per cent of
contrast; stars sit at infinity and are absent from most downward views; city lights (and the
bright cores of lit clouds) are compact, bright and fixed to the Earth, so where they appear in
each frame pins that frame's camera orientation. The method:

1. **Features** (:func:`detect_lights`): in the first frame (flat divided), the background is
   removed (a Gaussian of ``background_px``), and local maxima brighter than ``nsigma`` robust
   sigma (1.4826 x MAD of the high-passed frame) are kept, the brightest ``max_lights``, each
   centroided (intensity-weighted, a window of +-``window_px``).
2. **Ground points**: each light's ray from the first frame's pose meets the ellipsoid at height
   0: a point on the Earth.
3. **Tracking**: frame by frame, the points are projected with the previous frame's attitude in
   LVLH (the prediction: a camera that did not turn), re-centroided in a window about the
   prediction, and the frame's camera rotation is fitted to them
   (:func:`cupola.geometry.attitude.fit_rotation`, robust least squares on the reprojection
   error); lights more than ``max_residual_px`` off after the fit (stars, which race across the
   ground, lights lost in cloud) are dropped and the rotation fitted again.
4. **Heights**: lights on hills and lit clouds are not at height 0, which would bias the
   rotations by their parallax across the sequence; each light is therefore triangulated from all
   the frames that tracked it (the least-squares point nearest its rays) and the rotations of
   frames 2..n fitted again to the triangulated points (twice). The first frame's pose is the
   reference (given by the user: attitude, tie points, a pose file) and stays as it is.

The result gives the poses, the drift of each frame's roll, pitch, yaw from the first frame's and
the fit (lights per frame, RMS in pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cupola.airglow.project import bin_image, binned_camera
from cupola.geometry import attitude as att
from cupola.geometry import geodesy
from cupola.geometry.attitude import Pose
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import StateVector

__all__ = ["GroundRegistration", "detect_lights", "register_to_ground", "centroid", "ground_bin_factor"]

#: the fewest lights a frame needs for its rotation to be fitted (else it keeps the prediction)
MIN_LIGHTS = 3


@dataclass
class GroundRegistration:
    """What :func:`register_to_ground` made."""

    poses: list[Pose]
    #: (n, 3) each frame's roll, pitch, yaw in LVLH minus the first frame's (degrees)
    drift_deg: np.ndarray
    lights: np.ndarray  # (n,) lights used per frame
    rms_px: np.ndarray  # (n,) reprojection RMS per frame (NaN where not fitted)
    heights_m: np.ndarray  # (m,) triangulated heights of the lights (NaN: too few frames)
    notes: list[str] = field(default_factory=list)
    bin_factor: int = 1  # the frames were binned so for the tracking

    def to_dict(self) -> dict:
        fitted = np.isfinite(self.rms_px)
        return {
            "method": "ground lights tracked from the first frame",
            "bin_factor": self.bin_factor,
            "lights_first_frame": int(self.lights[0]),
            "lights_median": float(np.median(self.lights)),
            "frames_fitted": int(fitted.sum()),
            "rms_px_median": float(np.nanmedian(self.rms_px)) if fitted.any() else None,
            "drift_deg_max": float(np.abs(self.drift_deg).max()),
            "drift_deg": [[round(float(v), 5) for v in row] for row in self.drift_deg],
        }


def _highpass(image: np.ndarray, background_px: float) -> np.ndarray:
    a = np.asarray(image, dtype=np.float32)
    return a - ndimage.gaussian_filter(a, background_px)


def centroid(hp: np.ndarray, col: np.ndarray, row: np.ndarray, window_px: int, iterations: int = 3):
    """Intensity-weighted centroids (positive part of ``hp``) in windows of +-``window_px`` about
    (col, row), re-centred ``iterations`` times; NaN where the window leaves the image or holds
    nothing positive."""
    h, w = hp.shape
    c = np.asarray(col, dtype=float).copy()
    r = np.asarray(row, dtype=float).copy()
    off = np.arange(-window_px, window_px + 1)
    for _ in range(iterations):
        ok = np.isfinite(c) & (c >= window_px) & (c <= w - 1 - window_px) & (r >= window_px) & (r <= h - 1 - window_px)
        c = np.where(ok, c, np.nan)
        r = np.where(ok, r, np.nan)
        if not ok.any():
            break
        ci = np.rint(c[ok]).astype(int)
        ri = np.rint(r[ok]).astype(int)
        patch = hp[ri[:, None, None] + off[None, :, None], ci[:, None, None] + off[None, None, :]]
        wgt = np.clip(patch, 0.0, None).astype(float)
        s = wgt.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            dc = (wgt * off[None, None, :]).sum(axis=(1, 2)) / s
            dr = (wgt * off[None, :, None]).sum(axis=(1, 2)) / s
        cn, rn = np.full_like(c, np.nan), np.full_like(r, np.nan)
        cn[ok] = np.where(s > 0, ci + dc, np.nan)
        rn[ok] = np.where(s > 0, ri + dr, np.nan)
        c, r = cn, rn
    return c, r


def detect_lights(
    image: np.ndarray,
    *,
    background_px: float = 12.0,
    nsigma: float = 20.0,
    max_lights: int = 40,
    window_px: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """(col, row) centroids of the brightest compact lights of ``image``: local maxima of the
    high-passed frame above ``nsigma`` robust sigma, at most ``max_lights``, no two within
    2 ``window_px`` + 1 pixels."""
    hp = _highpass(image, background_px)
    med = float(np.median(hp))
    sigma = 1.4826 * float(np.median(np.abs(hp - med)))
    size = 2 * window_px + 1
    peaks = (hp == ndimage.maximum_filter(hp, size=size)) & (hp > med + nsigma * max(sigma, 1e-12))
    rr, cc = np.nonzero(peaks)
    order = np.argsort(hp[rr, cc])[::-1][:max_lights]
    c, r = centroid(hp, cc[order].astype(float), rr[order].astype(float), window_px)
    ok = np.isfinite(c) & np.isfinite(r)
    return c[ok], r[ok]


def ground_bin_factor(camera: Camera, pose: Pose, sampling_km: float) -> int:
    """The binning that makes a pixel near the frame centre about ``sampling_km`` on the ground."""
    c, r = camera.cx_px, camera.cy_px
    d = pose.rotation.apply(camera.pixel_to_ray(np.array([c, c + 1.0]), np.array([r, r])))
    g = geodesy.ray_ellipsoid_intersection(np.asarray(pose.position_m, dtype=float), d, 0.0)
    px_km = float(np.linalg.norm(g[1] - g[0])) / 1e3
    return max(1, int(round(sampling_km / px_km))) if np.isfinite(px_km) and px_km > 0 else 1


def _fit_rotation(camera: Camera, rot0: Rotation, vec: np.ndarray, col: np.ndarray, row: np.ndarray, scale_px: float):
    """The camera -> ITRS rotation near ``rot0`` that projects the world vectors ``vec`` onto the
    observed pixels: iteratively reweighted Gauss-Newton on a small rotation vector (soft-L1
    weights of scale ``scale_px``, the loss :func:`cupola.geometry.attitude.fit_rotation` uses,
    which does the same with scipy's general solver at a hundred times the cost). Returns the
    rotation and the residuals (projected - observed, px, (k, 2))."""
    obs = np.concatenate([col, row])

    def project(x):
        c, r = camera.ray_to_pixel((Rotation.from_rotvec(x) * rot0).inv().apply(vec))
        return np.concatenate([c, r])

    x = np.zeros(3)
    step = 1e-7
    for _ in range(20):
        f = project(x)
        e = f - obs
        jac = np.column_stack([(project(x + step * np.eye(3)[k]) - f) / step for k in range(3)])
        err = np.hypot(e[: len(col)], e[len(col) :])
        w = np.tile(1.0 / np.sqrt(1.0 + (err / scale_px) ** 2), 2)
        dx = np.linalg.lstsq(jac * w[:, None], -e * w, rcond=None)[0]
        x = x + dx
        if np.linalg.norm(dx) < 1e-12:
            break
    e = project(x) - obs
    return Rotation.from_rotvec(x) * rot0, np.column_stack([e[: len(col)], e[len(col) :]])


def _triangulate(origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """The point nearest, in least squares, to rays (origins (k, 3), unit directions (k, 3))."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for o, d in zip(origins, dirs, strict=True):
        p = np.eye(3) - np.outer(d, d)
        a += p
        b += p @ o
    return np.linalg.solve(a, b)


def register_to_ground(
    frames: Sequence[np.ndarray],
    camera: Camera,
    states: Sequence[StateVector],
    first_pose: Pose,
    *,
    flat: np.ndarray | None = None,
    sampling_km: float = 1.5,
    background_px: float = 12.0,
    nsigma: float = 20.0,
    max_lights: int = 40,
    window_px: int = 6,
    max_residual_px: float = 1.0,
    refine_heights: bool = True,
) -> GroundRegistration:
    """Per-frame poses for a sequence whose camera turns (hand held): the first frame at
    ``first_pose``, every later one fitted to the lights of the first frame tracked into it (see
    the module docstring). ``states``: the station's state at each frame (the poses' positions).
    A frame where fewer than :data:`MIN_LIGHTS` lights are tracked keeps the previous frame's
    attitude in LVLH (a note says how many). The frames are first binned to about ``sampling_km``
    on the ground at the first frame's centre, so that town lights span a few pixels whatever the
    lens and sensor (the windows and the background are in those binned pixels)."""
    n = len(frames)
    flat_a = None if flat is None else np.asarray(flat, dtype=np.float32)
    b = ground_bin_factor(camera, first_pose, sampling_km)
    camera = binned_camera(camera, b)  # the same rotations, in binned pixels

    def grey(i: int) -> np.ndarray:
        img = np.asarray(frames[i], dtype=np.float32)
        if img.ndim == 3:
            img = img.mean(axis=2)
        return bin_image(img / flat_a if flat_a is not None else img, b)

    c0, r0 = detect_lights(
        grey(0),
        background_px=background_px,
        nsigma=nsigma,
        max_lights=max_lights,
        window_px=window_px,
    )
    p0 = np.asarray(first_pose.position_m, dtype=float)
    rays = first_pose.rotation.apply(camera.pixel_to_ray(c0, r0))
    ground = geodesy.ray_ellipsoid_intersection(p0, rays, 0.0)
    keep = np.isfinite(ground[:, 0])
    c0, r0, ground = c0[keep], r0[keep], ground[keep]
    m = len(c0)
    cols = np.full((n, m), np.nan)
    rows = np.full((n, m), np.nan)
    cols[0], rows[0] = c0, r0
    rotations: list[Rotation] = [first_pose.rotation]
    used = np.zeros(n, dtype=int)
    used[0] = m
    rms = np.full(n, np.nan)
    kept_prev = 0
    notes: list[str] = []

    def fit(i: int, rot0: Rotation, points: np.ndarray, c: np.ndarray, r: np.ndarray):
        """The rotation of frame i from tracked lights; (rotation, inliers, rms) or None."""
        ok = np.isfinite(c) & np.isfinite(r) & np.isfinite(points[:, 0])
        if ok.sum() < MIN_LIGHTS:
            return None
        vec = points - np.asarray(states[i].position_m, dtype=float)
        rot = rot0
        for _ in range(2):
            rot, res = _fit_rotation(camera, rot, vec[ok], c[ok], r[ok], 0.5)
            err = np.hypot(res[:, 0], res[:, 1])
            good = err <= max_residual_px
            if good.all() or good.sum() < MIN_LIGHTS:
                break
            idx = np.flatnonzero(ok)
            ok[idx[~good]] = False
        if ok.sum() < MIN_LIGHTS:
            return None
        cc, rr = camera.ray_to_pixel(rot.inv().apply(vec[ok]))
        err = np.hypot(cc - c[ok], rr - r[ok])
        return rot, ok, float(np.sqrt(np.mean(err**2)))

    for i in range(1, n):
        mount = att.rpy_from_pose(states[i - 1], Pose(states[i - 1].position_m, rotations[-1]))
        pred = att.pose_from_rpy(states[i], *mount)
        vec = ground - np.asarray(states[i].position_m, dtype=float)
        pc, pr = camera.ray_to_pixel(pred.rotation.inv().apply(vec))
        hp = _highpass(grey(i), background_px)
        c, r = centroid(hp, pc, pr, window_px)
        far = np.hypot(c - pc, r - pr) > window_px
        c[far], r[far] = np.nan, np.nan
        got = fit(i, pred.rotation, ground, c, r)
        if got is None:
            rotations.append(pred.rotation)
            kept_prev += 1
            continue
        rot, ok, rms[i] = got
        rotations.append(rot)
        used[i] = int(ok.sum())
        cols[i] = np.where(ok, c, np.nan)
        rows[i] = np.where(ok, r, np.nan)
    heights = np.full(m, np.nan)
    if refine_heights and m:
        for _ in range(2):
            points = np.full((m, 3), np.nan)
            for j in range(m):
                seen = [int(i) for i in np.flatnonzero(np.isfinite(cols[:, j]))]
                if len(seen) < 3:
                    continue
                origins = np.array([np.asarray(states[i].position_m, dtype=float) for i in seen])
                d = np.array(
                    [rotations[i].apply(camera.pixel_to_ray(cols[i, j], rows[i, j])) for i in seen], dtype=float
                )
                d /= np.linalg.norm(d, axis=1, keepdims=True)
                points[j] = _triangulate(origins, d)
            for i in range(1, n):
                got = fit(i, rotations[i], points, cols[i], rows[i])
                if got is not None:
                    rotations[i], ok, rms[i] = got
                    used[i] = int(ok.sum())
        ok = np.isfinite(points[:, 0])
        if ok.any():
            lon, lat, hgt = geodesy.ecef_to_geodetic(points[ok])
            heights[ok] = hgt
    poses = [Pose(np.asarray(s.position_m, dtype=float), rot) for s, rot in zip(states, rotations, strict=True)]
    rpy = np.array([att.rpy_from_pose(s, p) for s, p in zip(states, poses, strict=True)])
    drift = rpy - rpy[0]
    drift = (drift + 180.0) % 360.0 - 180.0
    if m < MIN_LIGHTS:
        notes.append(f"only {m} ground light(s) in the first frame: the attitude could not be tracked")
    if kept_prev:
        notes.append(f"{kept_prev} frame(s) with fewer than {MIN_LIGHTS} tracked lights kept the previous attitude")
    return GroundRegistration(poses, drift, used, rms, heights, notes, bin_factor=b)
