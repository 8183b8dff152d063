"""Cramer-Rao lower bound of the solved pose, and pose error measured on ground check points.

For Gaussian errors the Fisher information of the parameters is F = J^T J, with J the Jacobian of
the whitened residuals of :class:`~cupola.lightning.solve.PairModel` evaluated at the true
parameters with the true pairs (and the emission-height prior row where the solver uses one). Its
inverse bounds the covariance of any unbiased estimator using the same data and the same model.
The bound is expressed the way the benchmark measures the achieved error: the pose error of the
camera is turned into ground distances on a grid of check points across the frame (at ground
height 0, at one instant), the median over the grid is taken, and for the bound the median of that
over pose errors drawn from N(0, F^-1) (Monte Carlo, linearised).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry import geodesy
from cupola.geometry.camera import Camera
from cupola.lightning.observe import EventGeometry
from cupola.lightning.solve import PairModel, SolveOptions

__all__ = ["fisher_covariance", "checkpoint_grid", "checkpoint_errors", "crb_median_error"]


def fisher_covariance(
    camera: Camera, mount_true: Rotation, geom: EventGeometry, options: SolveOptions, true_height_m: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Inverse Fisher information of the solver's parameters at the truth, for the given pairs."""
    model = PairModel(camera, geom, np.zeros((len(geom), 2)), options, mount_true)
    x = np.zeros(model.n_params)
    if model.solve_height and true_height_m is not None:
        x[model.names.index("emission_height_km")] = (true_height_m - options.emission_height_m) / 1000.0
    model.obs = model.predict(x)  # residuals vanish at the truth; only the Jacobian matters
    model.reweight(x)
    jac = model.jacobian(x)
    return np.linalg.inv(jac.T @ jac), model.names


def checkpoint_grid(camera: Camera, n_cols: int = 9, n_rows: int = 7, margin: float = 0.05):
    """(cols, rows) of a regular grid of check points across the frame."""
    c = np.linspace(margin, 1 - margin, n_cols) * (camera.width_px - 1)
    r = np.linspace(margin, 1 - margin, n_rows) * (camera.height_px - 1)
    cc, rr = np.meshgrid(c, r)
    return cc.ravel(), rr.ravel()


def _ground(camera: Camera, mount: np.ndarray, position_m, lvlh, cols, rows, height_m=0.0) -> np.ndarray:
    d = camera.pixel_to_ray(cols, rows) @ mount.T @ np.asarray(lvlh).T
    return geodesy.ray_ellipsoid_intersection(position_m, d, height_m)


def checkpoint_errors(
    camera_true: Camera, mount_true: Rotation, camera_est: Camera, mount_est: Rotation, position_m, lvlh, cols, rows
) -> np.ndarray:
    """Ground distance (m) between where each check pixel lands with the estimated and the true
    camera, both at the same instant (station ``position_m``, LVLH axes ``lvlh``), ground height 0;
    NaN for check pixels that miss the Earth (use ``np.nanmedian``)."""
    a = _ground(camera_true, mount_true.as_matrix(), position_m, lvlh, cols, rows)
    b = _ground(camera_est, mount_est.as_matrix(), position_m, lvlh, cols, rows)
    return np.linalg.norm(a - b, axis=1)


def crb_median_error(
    camera: Camera,
    mount_true: Rotation,
    cov: np.ndarray,
    names: list[str],
    position_m,
    lvlh,
    cols,
    rows,
    n_samples: int = 4000,
    seed: int = 0,
) -> float:
    """Median over pose errors ~ N(0, cov) of the median check-point error (m), linearised.
    Check points that miss the Earth are left out."""
    base = _ground(camera, mount_true.as_matrix(), position_m, lvlh, cols, rows)
    hit = np.all(np.isfinite(base), axis=1)
    cols, rows, base = np.asarray(cols)[hit], np.asarray(rows)[hit], base[hit]
    geo_names = [n for n in names if n != "emission_height_km"]
    idx = [names.index(n) for n in geo_names]
    cols_g = []
    for n in geo_names:
        step = 1e-7
        if n.startswith("rot_"):
            e = np.zeros(3)
            e["xyz".index(n[4])] = step
            g = _ground(camera, (Rotation.from_rotvec(e) * mount_true).as_matrix(), position_m, lvlh, cols, rows)
        else:  # log_focal_scale
            g = _ground(
                camera.with_focal_scale(float(np.exp(step))), mount_true.as_matrix(), position_m, lvlh, cols, rows
            )
        cols_g.append((g - base) / step)
    gm = np.stack(cols_g, axis=-1)  # (J, 3, p)
    c = cov[np.ix_(idx, idx)]
    rng = np.random.default_rng(seed)
    delta = rng.multivariate_normal(np.zeros(len(idx)), c, size=n_samples)  # (S, p)
    err = np.einsum("jkp,sp->sjk", gm, delta)
    return float(np.median(np.median(np.linalg.norm(err, axis=2), axis=1)))
