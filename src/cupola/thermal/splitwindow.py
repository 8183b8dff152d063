"""Land-surface temperature from two thermal bands by the generalized split-window algorithm of
Jiménez-Muñoz & Sobrino (2008, IEEE Geosci. Remote Sens. Lett. 5(4) 806-809):

    LST = T_i + c1 (T_i − T_j) + c2 (T_i − T_j)² + c0 + (c3 + c4 W)(1 − ε) + (c5 + c6 W) Δε

``T_i``, ``T_j`` the at-sensor brightness temperatures (K) of the band near 11 µm and the band
near 12 µm, ``ε = (ε_i + ε_j) / 2``, ``Δε = ε_i − ε_j``, ``W`` the total column water vapour
(g cm⁻²). Coefficients are sensor specific; bundled: Landsat 8 TIRS bands 10/11 (Jiménez-Muñoz,
Sobrino, Skoković, Mattar & Cristóbal 2014, IEEE Geosci. Remote Sens. Lett. 11(10) 1840-1843:
c0 = −0.268, c1 = 1.378, c2 = 0.183, c3 = 54.30, c4 = −2.238, c5 = −129.20, c6 = 16.40; stated
accuracy ~1.5 K). For another pair of bands (ECOSTRESS 4/5, CTI) :func:`fit_coefficients`
derives them the same way the authors did, by least squares on simulated cases.

>>> round(float(split_window_lst(300.0, 298.0, 0.98, 0.98, 1.0, LANDSAT8_TIRS)), 3)
304.261
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cupola.errors import InputError

__all__ = ["SplitWindowCoefficients", "LANDSAT8_TIRS", "split_window_lst", "fit_coefficients"]


@dataclass(frozen=True)
class SplitWindowCoefficients:
    """c0 … c6 of the generalized split-window equation, the bands they are for and their source."""

    c0: float
    c1: float
    c2: float
    c3: float
    c4: float
    c5: float
    c6: float
    bands: str = ""
    reference: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


LANDSAT8_TIRS = SplitWindowCoefficients(
    -0.268,
    1.378,
    0.183,
    54.30,
    -2.238,
    -129.20,
    16.40,
    bands="Landsat 8 TIRS band 10 (10.9 µm) / band 11 (12.0 µm)",
    reference="Jiménez-Muñoz et al. 2014, IEEE GRSL 11(10) 1840-1843",
)


def _terms(ti, tj, ei, ej, w):
    d = ti - tj
    e = 0.5 * (ei + ej)
    de = ei - ej
    return d, e, de


def split_window_lst(ti_k, tj_k, emissivity_i, emissivity_j, water_vapour_g_cm2, coefficients: SplitWindowCoefficients):
    """LST (K) by the equation of the module; arrays broadcast. Raises InputError for emissivities
    outside (0, 1] or negative water vapour."""
    ti = np.asarray(ti_k, dtype=np.float64)
    tj = np.asarray(tj_k, dtype=np.float64)
    ei = np.asarray(emissivity_i, dtype=np.float64)
    ej = np.asarray(emissivity_j, dtype=np.float64)
    w = np.asarray(water_vapour_g_cm2, dtype=np.float64)
    if np.any((ei <= 0) | (ei > 1) | (ej <= 0) | (ej > 1)):
        raise InputError("`emissivity` values must lie in (0, 1]")
    if np.any(w < 0):
        raise InputError("`water_vapour_g_cm2` must be zero or more")
    c = coefficients
    d, e, de = _terms(ti, tj, ei, ej, w)
    return ti + c.c1 * d + c.c2 * d * d + c.c0 + (c.c3 + c.c4 * w) * (1.0 - e) + (c.c5 + c.c6 * w) * de


def fit_coefficients(ti_k, tj_k, emissivity_i, emissivity_j, water_vapour_g_cm2, lst_k, *, bands: str = ""):
    """Least-squares coefficients of the generalized split-window equation from simulated cases
    (the method of Jiménez-Muñoz & Sobrino 2008). Returns (coefficients, rms residual K)."""
    ti, tj, ei, ej, w, ts = (
        np.asarray(x, dtype=np.float64).ravel()
        for x in (ti_k, tj_k, emissivity_i, emissivity_j, water_vapour_g_cm2, lst_k)
    )
    if not (ti.size == tj.size == ei.size == ej.size == w.size == ts.size) or ti.size < 7:
        raise InputError("fitting needs at least 7 cases, every input with one value per case")
    d, e, de = _terms(ti, tj, ei, ej, w)
    a = np.column_stack([np.ones_like(d), d, d * d, 1.0 - e, w * (1.0 - e), de, w * de])
    coef, *_ = np.linalg.lstsq(a, ts - ti, rcond=None)
    rms = float(np.sqrt(np.mean((a @ coef - (ts - ti)) ** 2)))
    c0, c1, c2, c3, c4, c5, c6 = (float(x) for x in coef)
    return SplitWindowCoefficients(c0, c1, c2, c3, c4, c5, c6, bands=bands, reference="fitted on simulated cases"), rms
