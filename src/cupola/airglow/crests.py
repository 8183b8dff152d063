"""Waves whose crests are circles about a source at a finite distance (convective sources a few
hundred km away), for the long waves a plane-wave periodogram spreads over several wavevectors.

A wave of local wavevector k (cycles/km) at the middle of the area, propagating away from a source
R = 1 / q km behind the middle, has the phase 2 pi |k| s(x, y) - w t, with s the distance from the
source less R (:func:`along_km`; s -> the distance along k as q -> 0). :func:`matched_power` sums a
stack along the circles about one source (a profile in s) and Fourier transforms the profile: the
power of a matched filter for every wavelength at once, on the scale of the periodogram of
:func:`cupola.airglow.waves.welch_periodogram`. :func:`fit_circular` fits the wave (local kx, ky,
curvature q, w, a, b) to (x, y, t) observations.

Units: x, y in km (the middle of the area at 0), t in s, wavevectors in cycles/km, q in 1/km,
w in rad/s. Pure computation.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

__all__ = ["along_km", "circular_model", "matched_power", "fit_circular"]


def along_km(x, y, kx: float, ky: float, curvature_per_km: float):
    """Distance from a source 1 / ``curvature_per_km`` km behind the origin (against the direction
    of (``kx``, ``ky``)) less that distance: sqrt((x + R sin az)^2 + (y + R cos az)^2) - R, written
    so that it tends to the distance along k as the curvature tends to 0.

    >>> round(float(along_km(10.0, 0.0, 0.01, 0.0, 0.0)), 6), round(float(along_km(0.0, 30.0, 0.01, 0.0, 1 / 40)), 6)
    (10.0, 10.0)
    """
    k = float(np.hypot(kx, ky))
    u = (x * kx + y * ky) / k
    q = float(curvature_per_km)
    rho2 = x * x + y * y
    inner = np.maximum(1.0 + 2.0 * q * u + q * q * rho2, 0.0)
    return (2.0 * u + q * rho2) / (np.sqrt(inner) + 1.0)


def circular_model(params: np.ndarray, x, y, t) -> np.ndarray:
    """a cos(phase) + b sin(phase), phase = 2 pi |k| s - w t, for (kx, ky, q, w, a, b)."""
    kx, ky, q, w, a, b = (float(v) for v in params)
    ph = 2.0 * np.pi * np.hypot(kx, ky) * along_km(x, y, kx, ky, q) - w * t
    return a * np.cos(ph) + b * np.sin(ph)


def matched_power(
    weighted: np.ndarray,
    x_km: np.ndarray,
    y_km: np.ndarray,
    azimuth_rad: float,
    source_km: float,
    step_km: float,
    n_fft: int,
) -> np.ndarray:
    """Mean over the first axis of |sum of ``weighted`` e^(-2 pi i f s)|^2 for f = j / (``n_fft``
    ``step_km``), j = 0 .. n_fft // 2: ``weighted`` (blocks, cells) the stack times its window at
    the cells (``x_km``, ``y_km``), s the distance from a source ``source_km`` behind the origin
    against ``azimuth_rad`` (``inf``: straight crests), binned to ``step_km``. Divided by the sum of
    the squared window this is on the scale of a Welch periodogram."""
    q = 0.0 if not np.isfinite(source_km) else 1.0 / source_km
    s = along_km(x_km, y_km, np.sin(azimuth_rad), np.cos(azimuth_rad), q)
    idx = np.floor((s - s.min()) / step_km).astype(np.int64)
    n_bins = int(idx.max()) + 1
    if n_bins > n_fft:
        raise ValueError(f"{n_bins} bins of {step_km} km do not fit a transform of {n_fft}")
    nb = weighted.shape[0]
    flat = (idx[None, :] + n_fft * np.arange(nb)[:, None]).ravel()
    prof = np.bincount(flat, weights=weighted.ravel(), minlength=nb * n_fft).reshape(nb, n_fft)
    f = np.fft.rfft(prof, axis=1)
    return (f.real**2 + f.imag**2).mean(axis=0)


def fit_circular(params0: np.ndarray, x, y, t, v) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of :func:`circular_model` (kx, ky, q, w, a, b) to the observations ``v``
    at (``x``, ``y``, ``t``): (parameters, covariance = residual variance times (J^T J)^-1)."""

    def res(p):
        return circular_model(p, x, y, t) - v

    scale = np.array([1e-3, 1e-3, 1e-4, 1e-3, 1e-2, 1e-2])
    fit = optimize.least_squares(res, np.asarray(params0, float), x_scale=scale, method="lm", max_nfev=400)
    r = fit.fun
    s2 = float(r @ r) / max(1, len(v) - 6)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((6, 6), np.nan)
    return fit.x, cov
