"""Planck's law of black-body radiation, shared by the capabilities that turn thermal radiance into
temperature (:mod:`cupola.thermal`) and fire power (:mod:`cupola.hazards`).

``B(λ, T) = 2hc² λ⁻⁵ / (exp(hc / (λ k T)) − 1)`` with the CODATA constants of ``scipy.constants``.
"""

from __future__ import annotations

import numpy as np
from scipy import constants as _k

__all__ = ["C1_W_M2_SR", "C2_M_K", "planck_radiance", "planck_temperature"]

#: first radiation constant for radiance, 2hc² (W m² sr⁻¹)
C1_W_M2_SR = 2.0 * _k.h * _k.c**2
#: second radiation constant, hc/k (m K)
C2_M_K = _k.h * _k.c / _k.k


def planck_radiance(wavelength_um, temperature_k):
    """Spectral radiance of a black body (W m⁻² sr⁻¹ µm⁻¹) at ``wavelength_um`` and ``temperature_k``.

    >>> round(float(planck_radiance(10.0, 300.0)), 4)
    9.924
    """
    lam = np.asarray(wavelength_um, dtype=np.float64) * 1e-6
    t = np.asarray(temperature_k, dtype=np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return C1_W_M2_SR / lam**5 / np.expm1(C2_M_K / (lam * t)) * 1e-6


def planck_temperature(wavelength_um, radiance):
    """The temperature (K) whose black-body radiance at ``wavelength_um`` is ``radiance``
    (W m⁻² sr⁻¹ µm⁻¹): the monochromatic inverse, NaN for radiance ≤ 0.

    >>> round(float(planck_temperature(10.0, planck_radiance(10.0, 300.0))), 9)
    300.0
    """
    lam = np.asarray(wavelength_um, dtype=np.float64) * 1e-6
    r = np.asarray(radiance, dtype=np.float64) * 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        t = C2_M_K / (lam * np.log1p(C1_W_M2_SR / (lam**5 * r)))
    return np.where(r > 0, t, np.nan)
