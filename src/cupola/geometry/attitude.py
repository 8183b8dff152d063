"""Camera attitude: the LVLH frame, roll/pitch/yaw, look-at, and solving from tie points.

Frames
------
* Camera frame (OpenCV): +z along the boresight, +x towards increasing column, +y towards
  increasing row.
* LVLH (local vertical, local horizontal) as the ISS flies it, built from the *inertial* (GCRS)
  position r and velocity v: +z from the station to the Earth's centre (-r/|r|), +y opposite the
  orbit normal (-(r x v)/|r x v|), +x = y x z (close to the velocity, "forward").

Roll / pitch / yaw (the one place this is defined)
--------------------------------------------------
At roll = pitch = yaw = 0 the camera looks straight down (boresight = LVLH +z) with the top of the
image towards the flight direction (image "up", camera -y, = LVLH +x) and the image's right
(camera +x) towards LVLH +y (starboard). A non-zero attitude rotates the camera mount by the
intrinsic z-y'-x'' sequence (aerospace yaw, then pitch, then roll, angles about the mount's own
axes, right-handed):

    R(camera -> LVLH) = Rz(yaw) . Ry(pitch) . Rx(roll) . C0

where C0 maps camera axes to LVLH at zero attitude (x_cam -> +y, y_cam -> -x, z_cam -> +z).
Consequences: positive pitch tilts the boresight forward (along-track, towards +x); positive roll
tilts it towards -y (port, the side of the orbit normal); positive yaw turns the view clockwise
about nadir as seen from above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import StateVector

#: camera axes expressed in LVLH at zero attitude (columns: x_cam, y_cam, z_cam)
C0 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Pose:
    """Camera position (ITRS, m) and orientation (rotation taking camera-frame vectors to ITRS)."""

    position_m: np.ndarray
    rotation: Rotation

    @property
    def matrix(self) -> np.ndarray:
        return self.rotation.as_matrix()

    @property
    def boresight(self) -> np.ndarray:
        return self.matrix[:, 2]


def lvlh_to_itrs(state: StateVector) -> np.ndarray:
    """Matrix whose columns are the LVLH x, y, z axes expressed in ITRS."""
    r = state.gcrs_position_m
    v = state.gcrs_velocity_m_s
    z = -r / np.linalg.norm(r)
    n = np.cross(r, v)
    y = -n / np.linalg.norm(n)
    x = np.cross(y, z)
    return state.gcrs_to_itrs @ np.column_stack([x, y, z])


def rotation_from_rpy(roll_deg: float, pitch_deg: float, yaw_deg: float) -> Rotation:
    """Camera -> LVLH rotation for the roll/pitch/yaw convention of this module."""
    mount = Rotation.from_euler("ZYX", [yaw_deg, pitch_deg, roll_deg], degrees=True)
    return mount * Rotation.from_matrix(C0)


def interpolate_rotations(t_known_s, rotations: Sequence[Rotation], t_s) -> list[Rotation]:
    """The rotations at times ``t_s`` by spherical linear interpolation between the ``rotations``
    known at increasing times ``t_known_s``; a time outside them takes the nearest end's rotation
    (and one known rotation serves every time).

    >>> r = interpolate_rotations([0.0, 10.0], [Rotation.identity(), Rotation.from_euler("z", 20, degrees=True)],
    ...                           [5.0, 20.0])
    >>> [round(float(x.as_euler("xyz", degrees=True)[2]), 6) for x in r]
    [10.0, 20.0]
    """
    from scipy.spatial.transform import Slerp

    t_known = np.asarray(t_known_s, dtype=float)
    want = np.atleast_1d(np.asarray(t_s, dtype=float))
    if len(rotations) == 1:
        return [rotations[0]] * want.size
    out = Slerp(t_known, Rotation.concatenate(list(rotations)))(np.clip(want, t_known[0], t_known[-1]))
    return [out[i] for i in range(want.size)]


def pose_from_rpy(state: StateVector, roll_deg: float, pitch_deg: float, yaw_deg: float) -> Pose:
    """Pose of a camera at the satellite with the given LVLH attitude."""
    lvlh = Rotation.from_matrix(lvlh_to_itrs(state))
    return Pose(np.asarray(state.position_m, dtype=float), lvlh * rotation_from_rpy(roll_deg, pitch_deg, yaw_deg))


def rpy_from_pose(state: StateVector, pose: Pose) -> tuple[float, float, float]:
    """(roll_deg, pitch_deg, yaw_deg) of a pose in this module's LVLH convention."""
    lvlh = Rotation.from_matrix(lvlh_to_itrs(state))
    mount = lvlh.inv() * pose.rotation * Rotation.from_matrix(C0).inv()
    yaw, pitch, roll = mount.as_euler("ZYX", degrees=True)
    return float(roll), float(pitch), float(yaw)


def off_nadir_deg(state: StateVector, pose: Pose) -> float:
    """Angle between the boresight and the LVLH nadir (+z)."""
    nadir = lvlh_to_itrs(state)[:, 2]
    return float(np.degrees(np.arccos(np.clip(pose.boresight @ nadir, -1.0, 1.0))))


def visible_from(position_m, ground_ecef_m) -> np.ndarray:
    """True where ground points face the observer (above its horizon, ellipsoid normal test)."""
    g = np.asarray(ground_ecef_m, dtype=float)
    up = geodesy.ellipsoid_normal(g)
    return np.einsum("...i,...i->...", np.asarray(position_m) - g, up) > 0.0


def pose_look_at(
    state: StateVector, *, lon: float, lat: float, height_m: float = 0.0, rotation_deg: float = 0.0
) -> Pose:
    """Pose whose boresight passes through a ground target (degrees).

    At ``rotation_deg`` = 0 the top of the image points as nearly as possible along the flight
    direction (LVLH +x); a positive rotation turns the camera about its boresight by that angle
    (right-handed about +z_cam, so the scene appears to turn anticlockwise in the image).
    """
    if not (-90.0 <= lat <= 90.0):
        raise InputError(f"look-at latitude {lat} is outside -90..90 degrees")
    p = np.asarray(state.position_m, dtype=float)
    g = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), height_m)
    if not visible_from(p, g):
        raise InputError(f"look-at target ({lat:.4f}, {lon:.4f}) is below the satellite's horizon")
    b = (g - p) / np.linalg.norm(g - p)
    forward = lvlh_to_itrs(state)[:, 0]
    up_img = forward - (forward @ b) * b
    if np.linalg.norm(up_img) < 1e-9:
        up_img = lvlh_to_itrs(state)[:, 2] - (lvlh_to_itrs(state)[:, 2] @ b) * b
    up_img /= np.linalg.norm(up_img)
    y = -up_img
    x = np.cross(y, b)
    base = Rotation.from_matrix(np.column_stack([x, y, b]))
    return Pose(p, base * Rotation.from_euler("z", rotation_deg, degrees=True))


# -- tie points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttitudeSolution:
    """A pose solved from tie points, with its fit quality."""

    pose: Pose
    camera: Camera
    residuals_px: np.ndarray  # (N, 2) projected - observed, pixels
    residuals_m: np.ndarray  # (N,) ground distance between observed pixel's ground point and the tie point
    focal_solved: bool
    inliers: np.ndarray | None = field(default=None)  # (N,) bool, |residual| below 3x robust scale

    @property
    def rms_px(self) -> float:
        return float(np.sqrt(np.mean(np.sum(self.residuals_px**2, axis=1))))

    @property
    def rms_m(self) -> float:
        return float(np.sqrt(np.nanmean(self.residuals_m**2)))


def _collinear(col, row, tol_px: float = 1.0) -> bool:
    pts = np.column_stack([col, row]).astype(float)
    pts -= pts.mean(axis=0)
    s = np.linalg.svd(pts, compute_uv=False)
    return len(s) < 2 or s[1] / np.sqrt(len(pts)) < tol_px


def fit_rotation(
    camera: Camera,
    rotation0: Rotation,
    world_vectors,
    col_px,
    row_px,
    *,
    solve_focal: bool = False,
    loss: str = "soft_l1",
    f_scale_px: float = 3.0,
) -> tuple[Rotation, Camera, np.ndarray]:
    """Refine a camera -> world rotation (and optionally the focal length) so that world direction
    vectors (N, 3; need not be unit) project onto the observed pixels.

    Robust non-linear least squares on the reprojection error (scipy ``least_squares``, a small
    rotation vector applied to ``rotation0`` plus the log of a focal scale). Returns the rotation,
    the camera and the residuals (projected - observed, pixels, shape (N, 2)).
    """
    vec = np.asarray(world_vectors, dtype=float)
    observed = np.column_stack([np.ravel(col_px), np.ravel(row_px)]).astype(float)

    def unpack(x):
        rot = Rotation.from_rotvec(x[:3]) * rotation0
        cam = camera.with_focal_scale(float(np.exp(x[3]))) if solve_focal else camera
        return rot, cam

    def residuals(x):
        rot, cam = unpack(x)
        c, r = cam.ray_to_pixel(rot.inv().apply(vec))
        return np.nan_to_num(np.column_stack([c, r]) - observed, nan=1e6).ravel()

    x0 = np.zeros(4 if solve_focal else 3)
    fit = least_squares(
        residuals, x0, loss=loss, f_scale=f_scale_px, x_scale=1e-3, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000
    )
    rot, cam = unpack(fit.x)
    return rot, cam, residuals(fit.x).reshape(-1, 2)


def solve_attitude(
    camera: Camera,
    position_m,
    *,
    col_px,
    row_px,
    lon_deg,
    lat_deg,
    height_m=0.0,
    solve_focal: bool = False,
    loss: str = "soft_l1",
    f_scale_px: float = 3.0,
) -> AttitudeSolution:
    """Camera orientation (and optionally focal length) from pixel <-> ground tie points.

    Robust non-linear least squares (scipy ``least_squares``, soft-L1 loss) on the reprojection
    error, started from the closed-form best rotation between camera rays and ground directions
    (Wahba's problem, ``Rotation.align_vectors``). The camera position is the satellite's.
    Needs >= 2 points (>= 4, not all collinear, with ``solve_focal``).
    """
    col = np.atleast_1d(np.asarray(col_px, dtype=float))
    row = np.atleast_1d(np.asarray(row_px, dtype=float))
    lon = np.atleast_1d(np.asarray(lon_deg, dtype=float))
    lat = np.atleast_1d(np.asarray(lat_deg, dtype=float))
    h = np.broadcast_to(np.asarray(height_m, dtype=float), col.shape)
    n = col.size
    if not (row.size == lon.size == lat.size == n):
        raise InputError("tie points: col, row, lat, lon must have the same length")
    if n < 2:
        raise InputError(f"tie points: need at least 2, got {n}")
    if solve_focal and n < 4:
        raise InputError(f"tie points: solving the focal length needs at least 4, got {n}")
    spread = np.hypot(col - col.mean(), row - row.mean()).max()
    if spread < 1.0:
        raise InputError("tie points: all pixels coincide; they must be spread over the image")
    if solve_focal and _collinear(col, row):
        raise InputError(
            "tie points: pixels are collinear, the focal length cannot be solved; "
            "add points off the line or fix the focal length"
        )
    p = np.asarray(position_m, dtype=float)
    g = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), h)
    vis = visible_from(p, g)
    if not vis.all():
        bad = ", ".join(str(i + 1) for i in np.flatnonzero(~vis))
        raise InputError(f"tie points: point(s) {bad} are below the satellite's horizon at this time")
    world = (g - p) / np.linalg.norm(g - p, axis=1, keepdims=True)
    rays = camera.pixel_to_ray(col, row)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    if np.linalg.norm(np.cross(world[0], world[1:]), axis=1).max() < 1e-9:
        raise InputError("tie points: ground points are all on one line of sight")
    r0, _ = Rotation.align_vectors(world, rays)
    rot, cam, res_px = fit_rotation(
        camera, r0, g - p, col, row, solve_focal=solve_focal, loss=loss, f_scale_px=f_scale_px
    )
    pose = Pose(p, rot)
    # ground residuals: where the observed pixel's ray meets the surface at the tie point's height
    res_m = np.full(n, np.nan)
    d = rot.apply(cam.pixel_to_ray(col, row))
    for i in range(n):
        hit = geodesy.ray_ellipsoid_intersection(p, d[i], float(h[i]))
        res_m[i] = np.linalg.norm(hit - g[i])
    scale = 1.4826 * np.median(np.linalg.norm(res_px, axis=1)) + 1e-9
    inliers = np.linalg.norm(res_px, axis=1) <= max(3.0 * scale, f_scale_px)
    return AttitudeSolution(pose, cam, res_px, res_m, solve_focal, inliers)
