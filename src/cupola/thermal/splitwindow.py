"""Land-surface temperature from two thermal bands by the generalized split-window algorithm of
Jiménez-Muñoz & Sobrino (2008, IEEE Geosci. Remote Sens. Lett. 5(4) 806-809):

    LST = T_i + c1 (T_i − T_j) + c2 (T_i − T_j)² + c0 + (c3 + c4 W)(1 − ε) + (c5 + c6 W) Δε

``T_i``, ``T_j`` the at-sensor brightness temperatures (K) of the band near 11 µm and the band
near 12 µm, ``ε = (ε_i + ε_j) / 2``, ``Δε = ε_i − ε_j``, ``W`` the total column water vapour
(g cm⁻²). Coefficients are sensor specific; bundled: Landsat 8 TIRS bands 10/11 (Jiménez-Muñoz,
Sobrino, Skoković, Mattar & Cristóbal 2014, IEEE Geosci. Remote Sens. Lett. 11(10) 1840-1843:
c0 = −0.268, c1 = 1.378, c2 = 0.183, c3 = 54.30, c4 = −2.238, c5 = −129.20, c6 = 16.40; stated
accuracy ~1.5 K). For another pair of bands :func:`fit_coefficients` derives them the same way
the authors did, by least squares on simulated cases; ECOSTRESS bands 4/5 (10.5 / 12.0 µm) have no
published set that we know of, so :data:`ECOSTRESS_4_5` is *fitted by cupola* on its own toy
forward model (:func:`cupola.simulate.thermal_scenes.at_sensor_brightness`; the recipe is in
:data:`ECOSTRESS_4_5`'s reference and ``tests/test_thermal.py`` re-derives it). Not a radiative
transfer code: treat it as a stand-in until a published set exists.

:data:`SENSORS` names the band pairs the command line knows, with the emissivities of the NDVI
thresholds method and the error the algorithm is stated to have; :func:`predicted_error_k`
propagates the uncertainties of emissivity and water vapour through the equation.

>>> round(float(split_window_lst(300.0, 298.0, 0.98, 0.98, 1.0, LANDSAT8_TIRS)), 3)
304.261
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cupola.errors import InputError

__all__ = [
    "SplitWindowCoefficients",
    "LANDSAT8_TIRS",
    "ECOSTRESS_4_5",
    "SplitWindowSensor",
    "SENSORS",
    "split_window_lst",
    "fit_coefficients",
    "predicted_error_k",
]


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


#: ECOSTRESS bands 4/5 fitted by cupola (see the module): fit_coefficients on 4000 cases of
#: at_sensor_brightness (numpy default_rng(3): LST 270-335 K, W 0.1-5.5 g cm-2, air = LST - U(-5, 10) K,
#: ε_4 U(0.94, 0.998), ε_5 = ε_4 + N(0, 0.006) clipped to [0.9, 1], absorption 0.07 / 0.12 per g cm-2),
#: Gaussian band models of cupola.thermal.sensors; residual 0.27 K on that model
ECOSTRESS_4_5 = SplitWindowCoefficients(
    -0.0451,
    1.7130,
    0.0235,
    55.595,
    0.3443,
    -150.556,
    16.408,
    bands="ECOSTRESS band 4 (10.5 µm) / band 5 (12.0 µm)",
    reference="fitted by cupola on its toy forward model (cupola.simulate.thermal_scenes), not published",
)


@dataclass(frozen=True)
class SplitWindowSensor:
    """A band pair of the split window: its bands (names of :func:`cupola.thermal.sensors.band_response`),
    coefficients, the algorithm's stated error (K, with where it comes from) and the emissivities of
    the NDVI thresholds method for each band, (band i, band j), of bare soil and of full vegetation."""

    name: str
    band_i: str
    band_j: str
    coefficients: SplitWindowCoefficients
    stated_error_k: float
    error_source: str
    soil_emissivity: tuple[float, float]
    vegetation_emissivity: tuple[float, float]
    emissivity_source: str


#: emissivities of the NDVI thresholds method for bands near 11 and 12 µm: soil 0.971 / 0.977 and
#: vegetation 0.987 / 0.989, the values Jiménez-Muñoz et al. (2014) use for TIRS bands 10 / 11
_SOIL = (0.971, 0.977)
_VEG = (0.987, 0.989)

SENSORS: dict[str, SplitWindowSensor] = {
    "landsat8": SplitWindowSensor(
        "landsat8",
        "landsat8-10",
        "landsat8-11",
        LANDSAT8_TIRS,
        1.5,
        "stated accuracy of the algorithm, Jiménez-Muñoz et al. 2014 (simulated atmospheres)",
        _SOIL,
        _VEG,
        "NDVI thresholds method (Sobrino et al. 2008) with the TIRS values of Jiménez-Muñoz et al. 2014",
    ),
    "ecostress": SplitWindowSensor(
        "ecostress",
        "ecostress-4",
        "ecostress-5",
        ECOSTRESS_4_5,
        1.5,
        "no published figure for these coefficients: the 1.5 K of the published TIRS set is assumed "
        "(cupola measures 0.48 K RMS on an independent layered test atmosphere, docs/thermal.md)",
        _SOIL,
        _VEG,
        "NDVI thresholds method (Sobrino et al. 2008) with the TIRS 10/11 values (bands 4/5 lie close to them)",
    ),
}


def predicted_error_k(
    coefficients: SplitWindowCoefficients,
    stated_error_k: float,
    emissivity_i,
    emissivity_j,
    water_vapour_g_cm2,
    *,
    emissivity_sigma: float,
    emissivity_difference_sigma: float,
    water_vapour_sigma_g_cm2,
):
    """1-sigma LST error (K): the algorithm's stated error and the propagated uncertainties of the
    mean emissivity (∂LST/∂ε = −(c3 + c4 W)), the emissivity difference (∂LST/∂Δε = c5 + c6 W) and
    the water vapour (∂LST/∂W = c4 (1 − ε) + c6 Δε), added in quadrature (independent errors).

    >>> round(float(predicted_error_k(LANDSAT8_TIRS, 1.5, 0.98, 0.98, 1.0, emissivity_sigma=0.0,
    ...     emissivity_difference_sigma=0.0, water_vapour_sigma_g_cm2=0.0)), 3)
    1.5
    """
    c = coefficients
    ei = np.asarray(emissivity_i, dtype=np.float64)
    ej = np.asarray(emissivity_j, dtype=np.float64)
    w = np.asarray(water_vapour_g_cm2, dtype=np.float64)
    e = 0.5 * (ei + ej)
    de = ei - ej
    d_e = (c.c3 + c.c4 * w) * emissivity_sigma
    d_de = (c.c5 + c.c6 * w) * emissivity_difference_sigma
    d_w = (c.c4 * (1.0 - e) + c.c6 * de) * np.asarray(water_vapour_sigma_g_cm2, dtype=np.float64)
    return np.sqrt(stated_error_k**2 + d_e**2 + d_de**2 + d_w**2)


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
