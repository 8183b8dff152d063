"""Cleaning a stack of projected frames: large-scale trend, stars, and what moves with the ground.

On the layer grid the airglow stands nearly still (its waves move at tens of m/s), while

* stars, at infinity, race across it (several km/s: the station's speed), and
* city lights and clouds, on the ground, drift with the parallax of the station's motion
  (about v h / H, ~1.6 km/s for the OH layer seen from 420 km).

So a star or a town crosses a grid cell within a frame or two: an outlier of that cell's time
series (:func:`temporal_outliers`, a robust median/MAD filter over the sequence). An extended
cloud deck stays longer in a cell, but it stands still on the *ground*: the same observations
re-stacked on the ground points behind the layer cells (:func:`ground_fixed`) show it sharp and
bright while the airglow smears out, and the observations that fall on it are flagged.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

__all__ = [
    "fit_trend",
    "trends",
    "sequence_trend",
    "relative_modulation",
    "temporal_outliers",
    "ground_fixed",
    "fill_gaps",
]


def _design(x_km: np.ndarray, y_km: np.ndarray, degree: int) -> np.ndarray:
    s = max(float(np.nanmax(np.abs(x_km))), float(np.nanmax(np.abs(y_km))), 1.0)
    u, v = x_km / s, y_km / s
    cols = [u**i * v**j for i in range(degree + 1) for j in range(degree + 1 - i)]
    return np.stack(cols, axis=-1)


def fit_trend(
    values: np.ndarray, x_km: np.ndarray, y_km: np.ndarray, *, degree: int = 2, clip: float = 3.0, iterations: int = 3
) -> np.ndarray:
    """The large-scale trend of one projected frame: a polynomial surface of ``degree`` in (x, y)
    fitted by least squares with ``clip``-sigma clipping (stars and towns do not pull it), NaN
    where the frame has no data."""
    ok = np.isfinite(values)
    a = _design(x_km, y_km, degree)
    if ok.sum() < a.shape[-1] * 4:
        return np.full(values.shape, np.nan)
    use = ok.copy()
    coef = np.zeros(a.shape[-1])
    for _ in range(iterations):
        coef, *_ = np.linalg.lstsq(a[use], values[use], rcond=None)
        res = values - a @ coef
        sigma = 1.4826 * np.nanmedian(np.abs(res[ok]))
        use = ok & (np.abs(np.where(ok, res, 0.0)) < clip * sigma + 1e-12)
    return np.where(ok, a @ coef, np.nan)


def trends(
    cube: np.ndarray, x_km: np.ndarray, y_km: np.ndarray, mask: np.ndarray | None = None, degree: int = 2
) -> np.ndarray:
    """:func:`fit_trend` of every frame (``mask``, True = bad, left out of the fits)."""
    out = np.empty(cube.shape, np.float32)
    for i, frame in enumerate(cube):
        v = frame if mask is None else np.where(mask[i], np.nan, frame)
        out[i] = fit_trend(v, x_km, y_km, degree=degree)
    return out


def sequence_trend(
    cube: np.ndarray, x_km: np.ndarray, y_km: np.ndarray, mask: np.ndarray | None = None, *, frame_degree: int = 0
) -> np.ndarray:
    """The large-scale trend of a sequence on the layer grid: one polynomial surface (degree 2,
    clipped) of the median frame, which stands still in the layer as the gradient does, times a
    scale per frame (exposure, transparency), times a polynomial of ``frame_degree`` per frame
    when > 0 (what moves with the camera: a flat field that is not quite right).

    A trend fitted to each frame on its own would take a different share of a long wave in every
    frame as the wave moves, and bias its phase speed low; one trend for the sequence does not."""
    v = cube if mask is None else np.where(mask, np.nan, cube)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        common = np.isfinite(v).all(axis=0)
        if common.sum() < 16:
            common = np.isfinite(v).mean(axis=0) >= 0.5
        scale = np.nanmedian(v[:, common], axis=1)
        scale = scale / np.nanmedian(scale)
        base = np.nanmedian(v / scale[:, None, None], axis=0)
    trend = scale[:, None, None] * fit_trend(base, x_km, y_km, degree=2)[None]
    if frame_degree > 0:
        trend = trend * trends(v / trend, x_km, y_km, degree=frame_degree)
    return trend.astype(np.float32)


def relative_modulation(
    cube: np.ndarray, x_km: np.ndarray, y_km: np.ndarray, mask: np.ndarray | None = None, degree: int = 2
) -> np.ndarray:
    """(value / trend - 1) per frame: the modulation relative to the local mean brightness.
    ``mask`` (True = bad) is left out of the trend fit."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cube / trends(cube, x_km, y_km, mask, degree) - 1.0).astype(np.float32)


def temporal_outliers(m: np.ndarray, *, nsigma: float = 5.0, grow: int = 1) -> np.ndarray:
    """True where an observation departs from its cell's median over the sequence by more than
    ``nsigma`` robust sigmas (MAD of the cell's series, floored at the median over the cells):
    stars and point lights passing through. Grown by ``grow`` cells in space."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells never seen
        med = np.nanmedian(m, axis=0)
        dev = np.abs(m - med)
        sigma = 1.4826 * np.nanmedian(dev, axis=0)
    floor = np.nanmedian(sigma)
    sigma = np.fmax(np.where(np.isfinite(sigma), sigma, floor), floor)
    bad = np.where(np.isfinite(dev), dev > nsigma * sigma, False)
    if grow > 0:
        st = np.zeros((1, 2 * grow + 1, 2 * grow + 1), bool)
        st[0] = True
        bad = ndimage.binary_dilation(bad, structure=st)
    return bad


def ground_fixed(
    m: np.ndarray,
    ground_ij: list[tuple[np.ndarray, np.ndarray]],
    shape: tuple[int, int],
    *,
    nsigma: float = 4.0,
    min_count: int = 3,
    grow: int = 1,
    iterations: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What is fixed to the ground, separated from what is fixed to the layer.

    ``ground_ij[t]`` gives, for frame t, the (row, col) index on a ground grid of ``shape`` of the
    ground point behind each layer cell (-1 off the grid). The observations are modelled as
    L(layer cell) + G(ground cell) + noise and the two maps are estimated in turn (L first, as the
    mean over the sequence, so that whatever the parallax cannot tell apart stays with the layer;
    then G as the mean of what is left per ground cell, with its median set to 0). Ground cells
    where G exceeds ``nsigma`` robust sigmas (its scatter over the cells; brighter only: lights and
    lit clouds add light), grown by ``grow``, are lights or clouds, and every observation that
    looks through one is flagged. A pattern that is constant along the direction of the parallax
    motion cannot be placed by it (layer or ground: the same data); it stays with the layer.

    Returns ``(flags, ground, ground_map)``: flags (n, ny, nx) True = on a ground feature; G at
    each observation (n, ny, nx, 0 off the ground grid), to subtract; G per ground cell (NaN where
    fewer than ``min_count`` observations).
    """
    n_cells = shape[0] * shape[1]
    flat_idx = []
    count = np.zeros(n_cells)
    for t, (gi, gj) in enumerate(ground_ij):
        ok = (gi >= 0) & np.isfinite(m[t])
        idx = np.where(ok, gi * shape[1] + gj, -1)
        flat_idx.append(idx)
        count += np.bincount(idx[ok], minlength=n_cells)
    g_map = np.zeros(n_cells)
    g_obs = np.zeros(m.shape)
    for _ in range(iterations):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layer = np.nanmean(m - g_obs, axis=0)
        total = np.zeros(n_cells)
        for t, idx in enumerate(flat_idx):
            ok = idx >= 0
            total += np.bincount(idx[ok], weights=(m[t] - layer)[ok], minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            g_map = np.where(count >= min_count, total / count, np.nan)
        g_map -= np.nanmedian(g_map)
        g_filled = np.nan_to_num(g_map)
        for t, idx in enumerate(flat_idx):
            g_obs[t] = np.where(idx >= 0, g_filled[np.clip(idx, 0, None)], 0.0)
    sigma = 1.4826 * np.nanmedian(np.abs(g_map))
    bright = np.where(np.isfinite(g_map), g_map > nsigma * sigma, False).reshape(shape)
    if grow > 0:
        bright = ndimage.binary_dilation(bright, iterations=grow)
    bright_flat = bright.ravel()
    flags = np.zeros(m.shape, bool)
    for t, idx in enumerate(flat_idx):
        flags[t] = np.where(idx >= 0, bright_flat[np.clip(idx, 0, None)], False)
    return flags, g_obs, g_map.reshape(shape)


def fill_gaps(m: np.ndarray) -> np.ndarray:
    """NaN observations replaced by their cell's median over the sequence (0 where a cell has none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells never seen
        med = np.nan_to_num(np.nanmedian(m, axis=0), nan=0.0)
    return np.where(np.isfinite(m), m, med[None]).astype(np.float32)
