"""Where a lightning event appears in a camera fixed in the station's LVLH frame.

The light of a flash leaves the top of the cloud, not the ground: an event located by a network at
(lat, lon) is seen at the point X = X0 + h * up, h the emission (cloud-top) height above the WGS84
ellipsoid and ``up`` the ellipsoid normal (exact for geodetic height). It is photographed at the
event's own instant t (the network's time, microseconds), from the station's position P(t), by a
camera whose orientation is fixed in the LVLH frame L(t) (see :mod:`cupola.geometry.attitude`):

    c = M^T L(t)^T (X - P(t)),   pixel = K(c)

with M the camera -> LVLH rotation (the "mount", i.e. roll/pitch/yaw) and K the pinhole camera.
Using the event time for the geometry means the camera's clock offset does not enter the pose at
all: it only decides which events can belong to which frames (see :mod:`cupola.lightning.associate`).

Errors of one event, as seen in the image (pixels, 2x2 covariance)::

    S = s_px^2 I + s_xy^2 J (e e^T + n n^T) J^T + s_h^2 J u u^T J^T

with J = d pixel / d X, (e, n, u) the local east/north/up, s_px the centroid error, s_xy the
network's horizontal error (per axis) and s_h the scatter of emission heights about the model
height. The last term is the parallax of an unknown cloud-top height: zero at nadir, growing as
tan(view angle) towards the frame edges; weighting by S keeps it from being read as pointing error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from cupola.geometry import geodesy
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import ElementSet
from cupola.geometry.trajectory import trajectory

__all__ = [
    "EventGeometry",
    "event_geometry",
    "camera_vectors",
    "project",
    "pixel_jacobian",
    "pixel_covariance",
    "angular_sigma",
]


@dataclass(frozen=True, eq=False)
class EventGeometry:
    """Per-event geometry at the event's own instant (arrays over events)."""

    t_s: np.ndarray  # (M,) event time, seconds after the scene epoch (network clock)
    position_m: np.ndarray  # (M, 3) station position (ITRS)
    lvlh: np.ndarray  # (M, 3, 3) LVLH axes in ITRS (columns)
    ground_m: np.ndarray  # (M, 3) event lat/lon at height 0 (ECEF)
    enu: np.ndarray  # (M, 3, 3) rows east, north, up
    given_height_m: np.ndarray  # (M,) emission height from the file, NaN where unknown
    sigma_m: np.ndarray  # (M,) horizontal 1-sigma per axis

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def subset(self, idx) -> EventGeometry:
        i = np.asarray(idx)
        return EventGeometry(
            self.t_s[i],
            self.position_m[i],
            self.lvlh[i],
            self.ground_m[i],
            self.enu[i],
            self.given_height_m[i],
            self.sigma_m[i],
        )

    def heights(self, model_height_m: float) -> np.ndarray:
        return np.where(np.isnan(self.given_height_m), model_height_m, self.given_height_m)

    def points(self, model_height_m: float) -> np.ndarray:
        """ECEF emission points (M, 3) with the model height where the file gave none."""
        return self.ground_m + self.heights(model_height_m)[:, None] * self.enu[:, 2, :]

    def lvlh_directions(self, model_height_m: float) -> np.ndarray:
        """Unit vectors (M, 3) from the station to the emission points, in the LVLH frame at t."""
        d = np.einsum("mji,mj->mi", self.lvlh, self.points(model_height_m) - self.position_m)
        return d / np.linalg.norm(d, axis=1, keepdims=True)


def event_geometry(
    elements: ElementSet, epoch: dt.datetime, t_s, lon_deg, lat_deg, given_height_m, sigma_m
) -> EventGeometry:
    """Station states at the event times and the events' local frames."""
    t = np.asarray(t_s, dtype=float)
    tr = trajectory(elements, epoch, t)
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    return EventGeometry(
        t,
        tr.position_m,
        tr.lvlh_to_itrs,
        geodesy.geodetic_to_ecef(lon, lat, 0.0),
        geodesy.enu_basis(lon, lat).reshape(-1, 3, 3),
        np.asarray(given_height_m, dtype=float),
        np.asarray(sigma_m, dtype=float),
    )


def camera_vectors(mount: np.ndarray, position_m, lvlh, points_m) -> np.ndarray:
    """Camera-frame vectors (M, 3) to ``points_m`` for a camera -> LVLH matrix ``mount``."""
    d = np.einsum("mji,mj->mi", lvlh, np.asarray(points_m) - position_m)
    return d @ mount


def project(camera: Camera, vectors) -> np.ndarray:
    """Pixels (M, 2) of camera-frame vectors; NaN behind the camera."""
    col, row = camera.ray_to_pixel(vectors)
    return np.column_stack([col, row])


def pixel_jacobian(camera: Camera, mount: np.ndarray, lvlh, vectors) -> np.ndarray:
    """d pixel / d X (M, 2, 3) for points X in ITRS (pinhole; distortion neglected)."""
    c = np.asarray(vectors, dtype=float)
    x, y, z = c[:, 0], c[:, 1], c[:, 2]
    jp = np.zeros((c.shape[0], 2, 3))
    jp[:, 0, 0] = camera.focal_x_px / z
    jp[:, 0, 2] = -camera.focal_x_px * x / z**2
    jp[:, 1, 1] = camera.focal_y_px / z
    jp[:, 1, 2] = -camera.focal_y_px * y / z**2
    # c = M^T L^T X  ->  dc/dX = M^T L^T
    a = np.einsum("ji,mkj->mik", mount, lvlh)  # (M^T L^T)_{ik} = sum_j M_ji L_kj
    return jp @ a


def pixel_covariance(jac: np.ndarray, enu: np.ndarray, sigma_xy_m, sigma_h_m, sigma_px: float) -> np.ndarray:
    """(M, 2, 2) image-plane covariance of each event: centroid + network + emission-height errors."""
    je = jac @ enu[:, 0, :, None]
    jn = jac @ enu[:, 1, :, None]
    ju = jac @ enu[:, 2, :, None]
    sxy = np.asarray(sigma_xy_m, dtype=float)[:, None, None] ** 2
    sh = np.asarray(sigma_h_m, dtype=float)[:, None, None] ** 2
    cov = sxy * (je @ je.transpose(0, 2, 1) + jn @ jn.transpose(0, 2, 1)) + sh * (ju @ ju.transpose(0, 2, 1))
    cov[:, 0, 0] += sigma_px**2
    cov[:, 1, 1] += sigma_px**2
    return cov


def angular_sigma(geom: EventGeometry, model_height_m: float, sigma_h_m) -> np.ndarray:
    """Rough 1-sigma angular error (rad) of each event's direction from the station (for gating
    before any pose is known): horizontal error over the range, plus emission-height parallax."""
    x = geom.points(model_height_m)
    d = x - geom.position_m
    rng = np.linalg.norm(d, axis=1)
    cos_view = np.abs(np.einsum("mi,mi->m", d, geom.enu[:, 2, :])) / rng
    sin_view = np.sqrt(np.clip(1.0 - cos_view**2, 0.0, 1.0))
    sh = np.where(np.isnan(geom.given_height_m), sigma_h_m, np.minimum(sigma_h_m, 500.0))
    return np.sqrt(geom.sigma_m**2 + (sh * sin_view) ** 2) / rng
