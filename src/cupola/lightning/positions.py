"""Every flash on the map for a solved pose, with its uncertainty.

A flash is placed where its centroid's ray, from the station at the flash's instant with the
solved LVLH attitude, meets the emission-height surface (the model height, or the height given
for its event). The instant is its event's time when the flash is matched, else the middle of its
exposure window shifted by the solved clock offset; in a video, the time of its centroid (the mean of
its lit frames' times) shifted by the offset, since that is when the image saw the cloud there. Its
1-sigma horizontal error (RMS of the two axes) combines the pose covariance, the centroid error and
the emission-height scatter (parallax, ``sigma_h * tan(view angle)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry import geodesy
from cupola.geometry.trajectory import trajectory
from cupola.lightning.events import Events
from cupola.lightning.flashes import Flashes
from cupola.lightning.solve import GIVEN_HEIGHT_SIGMA_M, Solution

__all__ = ["FlashLocations", "locate_flashes", "ground_uncertainty"]


@dataclass(frozen=True, eq=False)
class FlashLocations:
    t_s: np.ndarray  # network time, seconds after the epoch
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    height_m: np.ndarray
    sigma_m: np.ndarray
    event: np.ndarray  # matched event index or -1
    pair: np.ndarray  # index into the solution's pairs or -1


def _hits(camera, mount_m, pos, lvlh, col, row, heights):
    d = np.einsum("nij,nj->ni", lvlh, camera.pixel_to_ray(col, row) @ mount_m.T)
    out = np.full((len(col), 3), np.nan)
    for i in range(len(col)):
        out[i] = geodesy.ray_ellipsoid_intersection(pos[i], d[i], float(heights[i]))
    return out


def ground_uncertainty(sol: Solution, pos, lvlh, col, row, heights) -> np.ndarray:
    """(N, 2, 2) east/north covariance (m^2) of ground points from the pose covariance alone."""
    base = _hits(sol.camera, sol.mount.as_matrix(), pos, lvlh, col, row, heights)
    lon, lat, _ = geodesy.ecef_to_geodetic(base)
    enu = geodesy.enu_basis(lon, lat).reshape(-1, 3, 3)
    cols = []
    names = [n for n in sol.param_names if n != "emission_height_km"]
    idx = [sol.param_names.index(n) for n in names]
    for n in names:
        step = 1e-7
        if n.startswith("rot_"):
            e = np.zeros(3)
            e["xyz".index(n[4])] = step
            p = _hits(sol.camera, (Rotation.from_rotvec(e) * sol.mount).as_matrix(), pos, lvlh, col, row, heights)
        else:
            p = _hits(
                sol.camera.with_focal_scale(float(np.exp(step))), sol.mount.as_matrix(), pos, lvlh, col, row, heights
            )
        cols.append(np.einsum("nij,nj->ni", enu[:, :2, :], (p - base) / step))
    g = np.stack(cols, axis=-1)  # (N, 2, p)
    c = sol.covariance[np.ix_(idx, idx)]
    return np.einsum("nip,pq,njq->nij", g, c, g)


def locate_flashes(
    sol: Solution,
    flashes: Flashes,
    events: Events,
    centroid_sigma_px: float = 1.0,
    emission_height_sigma_m: float = 2000.0,
) -> FlashLocations:
    K = len(flashes)
    event = np.full(K, -1, dtype=np.int64)
    pair = np.full(K, -1, dtype=np.int64)
    event[sol.flash_index] = sol.event_index
    pair[sol.flash_index] = np.arange(sol.flash_index.size)
    t = 0.5 * (flashes.t_start_s + flashes.t_end_s) + sol.clock_offset_s
    matched = event >= 0
    if matched.any():
        t[matched] = events.offsets_s(sol.epoch)[event[matched]]
    video = np.isfinite(flashes.t_centroid_s)
    t[video] = flashes.t_centroid_s[video] + sol.clock_offset_s
    heights = np.full(K, sol.emission_height_m)
    sig_h = np.full(K, emission_height_sigma_m)
    if matched.any():
        given = events.height_m[event[matched]]
        heights[matched] = np.where(np.isnan(given), sol.emission_height_m, given)
        sig_h[matched] = np.where(np.isnan(given), emission_height_sigma_m, GIVEN_HEIGHT_SIGMA_M)
    tr = trajectory(sol.elements, sol.epoch, t)
    pts = _hits(
        sol.camera, sol.mount.as_matrix(), tr.position_m, tr.lvlh_to_itrs, flashes.col_px, flashes.row_px, heights
    )
    lon, lat, _ = geodesy.ecef_to_geodetic(pts)
    cov = ground_uncertainty(sol, tr.position_m, tr.lvlh_to_itrs, flashes.col_px, flashes.row_px, heights)
    los = pts - tr.position_m
    rng = np.linalg.norm(los, axis=1)
    up = geodesy.enu_basis(lon, lat).reshape(-1, 3, 3)[:, 2]
    cos_v = np.abs(np.einsum("ni,ni->n", los, up)) / rng
    tan_v = np.sqrt(np.clip(1 - cos_v**2, 0, None)) / np.maximum(cos_v, 1e-6)
    # centroid error on the ground ~ range * sigma_px / focal (slant, per axis)
    pix_m = rng * centroid_sigma_px / sol.camera.focal_px / np.maximum(cos_v, 1e-6) ** 0.5
    var = np.trace(cov, axis1=1, axis2=2) / 2 + pix_m**2 + (sig_h * tan_v) ** 2 / 2
    return FlashLocations(t, np.degrees(lon), np.degrees(lat), heights, np.sqrt(var), event, pair)
