"""Radiance and brightness temperature of a thermal band, through the band-integrated Planck function.

A radiometer band does not measure the Planck radiance at one wavelength: it measures the Planck
radiance weighted by its spectral response ``R(λ)``,

    L_band(T) = ∫ R(λ) B(λ, T) dλ / ∫ R(λ) dλ                     (W m⁻² sr⁻¹ µm⁻¹)

and its brightness temperature is the ``T`` for which ``L_band(T)`` equals the measured radiance.
The central-wavelength shortcut (``B(λ_c, T)`` inverted at one wavelength) is off by a tenth of a
kelvin to a kelvin for bands 0.3-3 µm wide (:func:`central_wavelength_error_k` shows it per band);
:class:`BandPlanck` does the integral (trapezoidal on the response's own samples) once on a grid
of temperatures and inverts it with a monotone cubic spline and Newton steps, to well below
0.001 K against a high-resolution quadrature (``make bench ONLY=thermal_bt``).

Planck's law with the CODATA constants (``scipy.constants``): ``B(λ, T) = 2hc² λ⁻⁵ /
(exp(hc / (λ k T)) − 1)``.

Emissivity correction (the radiative transfer equation of a surface seen through an atmosphere,
e.g. Jiménez-Muñoz & Sobrino 2003, J. Geophys. Res. 108(D22) 4688, eq. 1):

    L_sensor = τ [ε B(T_s) + (1 − ε) L↓] + L↑

so ``T_s = B⁻¹((L_sensor − L↑) / τ − (1 − ε) L↓) / ε)`` (:func:`surface_temperature`); with
τ = 1 and no path radiances it is the plain emissivity correction of an atmospherically corrected
radiance.

>>> from cupola.thermal.planck import BandPlanck, SpectralResponse
>>> band = BandPlanck(SpectralResponse.gaussian("b4", 10.522, 0.41))
>>> L = band.radiance(300.0)
>>> round(float(L), 4), round(float(band.temperature(L)), 6)
(9.7785, 300.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cupola.analysis.planck import C1_W_M2_SR, C2_M_K, planck_radiance, planck_temperature
from cupola.errors import InputError

__all__ = [
    "C1_W_M2_SR",
    "C2_M_K",
    "planck_radiance",
    "planck_temperature",
    "SpectralResponse",
    "BandPlanck",
    "surface_temperature",
    "central_wavelength_error_k",
]

#: Gaussian responses are sampled over ±this many standard deviations
GAUSS_SPAN_SIGMA = 5.0
#: samples of a modelled response (enough for 1e-6 K of integration error)
MODEL_SAMPLES = 801


@dataclass(frozen=True)
class SpectralResponse:
    """A band's relative spectral response: ``response`` (≥ 0, any scale) at ``wavelength_um``
    (strictly increasing), with a ``name`` and where it comes from (``source``: a measured file,
    or the model and the published centre and width it was built from)."""

    name: str
    wavelength_um: np.ndarray
    response: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.wavelength_um, dtype=np.float64)
        r = np.asarray(self.response, dtype=np.float64)
        what = f"spectral response {self.name!r}"
        if w.ndim != 1 or w.shape != r.shape or w.size < 2:
            raise InputError(f"{what}: needs at least two (wavelength, response) pairs of equal length")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(r))):
            raise InputError(f"{what}: wavelengths and responses must be finite numbers")
        if np.any(np.diff(w) <= 0):
            raise InputError(f"{what}: wavelengths must increase strictly")
        if w[0] <= 0:
            raise InputError(f"{what}: wavelengths must be positive micrometres")
        if np.any(r < 0) or not np.any(r > 0):
            raise InputError(f"{what}: responses must be zero or more, and not all zero")
        if w[-1] > 1000.0:
            raise InputError(
                f"{what}: wavelengths up to {w[-1]:g}; expected micrometres (thermal bands lie at 3-15 µm)"
            )
        object.__setattr__(self, "wavelength_um", w)
        object.__setattr__(self, "response", r)

    @classmethod
    def gaussian(cls, name: str, centre_um: float, fwhm_um: float, source: str = "") -> SpectralResponse:
        """A Gaussian response of the given centre and full width at half maximum (µm)."""
        if not (centre_um > 0 and fwhm_um > 0 and math.isfinite(centre_um) and math.isfinite(fwhm_um)):
            raise InputError(f"`centre_um` and `fwhm_um` must be positive, got {centre_um}, {fwhm_um}")
        sigma = fwhm_um / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        w = np.linspace(centre_um - GAUSS_SPAN_SIGMA * sigma, centre_um + GAUSS_SPAN_SIGMA * sigma, MODEL_SAMPLES)
        w = w[w > 0]
        text = source or f"Gaussian model: centre {centre_um:g} µm, FWHM {fwhm_um:g} µm"
        return cls(name, w, np.exp(-0.5 * ((w - centre_um) / sigma) ** 2), text)

    @classmethod
    def top_hat(cls, name: str, low_um: float, high_um: float, source: str = "") -> SpectralResponse:
        """A flat response between ``low_um`` and ``high_um`` (zero outside)."""
        if not (0 < low_um < high_um and math.isfinite(high_um)):
            raise InputError(f"`low_um` must be positive and below `high_um`, got {low_um}, {high_um}")
        w = np.linspace(low_um, high_um, MODEL_SAMPLES)
        text = source or f"top-hat model: {low_um:g}-{high_um:g} µm"
        return cls(name, w, np.ones_like(w), text)

    @property
    def centre_um(self) -> float:
        """Response-weighted mean wavelength (µm)."""
        return float(np.trapezoid(self.response * self.wavelength_um, self.wavelength_um) / self.area)

    @property
    def area(self) -> float:
        return float(np.trapezoid(self.response, self.wavelength_um))

    def to_dict(self) -> dict:
        return {"name": self.name, "centre_um": self.centre_um, "source": self.source}


@dataclass
class BandPlanck:
    """Band radiance ↔ brightness temperature for one :class:`SpectralResponse`, valid between
    ``t_min_k`` and ``t_max_k`` (outside: NaN). The band integral is tabulated every ``step_k``
    and interpolated by a cubic spline in log radiance; :meth:`temperature` refines the
    spline's inverse with Newton steps on it."""

    response: SpectralResponse
    t_min_k: float = 150.0
    t_max_k: float = 500.0
    step_k: float = 0.25
    _t: np.ndarray = field(init=False, repr=False)
    _spline: object = field(init=False, repr=False)
    _dspline: object = field(init=False, repr=False)
    _log_l: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from scipy.interpolate import CubicSpline

        self._t = np.arange(self.t_min_k, self.t_max_k + 0.5 * self.step_k, self.step_k)
        self._log_l = np.log(band_integral(self.response, self._t))
        self._spline = CubicSpline(self._t, self._log_l)
        self._dspline = self._spline.derivative()  # type: ignore[attr-defined]

    def radiance(self, temperature_k):
        """Band radiance (W m⁻² sr⁻¹ µm⁻¹) at ``temperature_k`` (NaN outside the table)."""
        t = np.asarray(temperature_k, dtype=np.float64)
        inside = (t >= self.t_min_k) & (t <= self.t_max_k)
        out = np.exp(self._spline(np.where(inside, t, self.t_min_k)))  # type: ignore[operator]
        return np.where(inside, out, np.nan)

    def temperature(self, radiance):
        """Brightness temperature (K) of a band radiance (W m⁻² sr⁻¹ µm⁻¹); NaN for radiance ≤ 0
        or outside the table's temperatures."""
        r = np.asarray(radiance, dtype=np.float64)
        ok = np.isfinite(r) & (r > 0)
        log_r = np.log(np.where(ok, r, 1.0))
        lo, hi = self._log_l[0], self._log_l[-1]
        ok &= (log_r >= lo) & (log_r <= hi)
        t = np.interp(log_r, self._log_l, self._t)
        for _ in range(3):  # Newton on the spline: quadratic convergence from ~1e-3 K
            t = t - (self._spline(t) - log_r) / self._dspline(t)  # type: ignore[operator]
            t = np.clip(t, self.t_min_k, self.t_max_k)
        return np.where(ok, t, np.nan)


def band_integral(response: SpectralResponse, temperature_k) -> np.ndarray:
    """``∫R B dλ / ∫R dλ`` at each temperature, trapezoidal on the response's samples (no table)."""
    t = np.atleast_1d(np.asarray(temperature_k, dtype=np.float64))
    w = response.wavelength_um
    b = planck_radiance(w[None, :], t[:, None])
    return np.trapezoid(b * response.response[None, :], w, axis=1) / response.area


def surface_temperature(
    radiance,
    band: BandPlanck,
    emissivity,
    *,
    transmittance=1.0,
    upwelling=0.0,
    downwelling=0.0,
):
    """Surface temperature (K) from a band radiance (W m⁻² sr⁻¹ µm⁻¹) by the radiative transfer
    equation of the module: emissivity ``emissivity`` (0-1], atmospheric ``transmittance`` (0-1],
    ``upwelling`` path and ``downwelling`` sky radiances (band-integrated, same units).

    >>> band = BandPlanck(SpectralResponse.gaussian("b", 10.5, 0.4))
    >>> L = 0.97 * band.radiance(305.0) + 0.03 * 2.0
    >>> round(float(surface_temperature(L, band, 0.97, downwelling=2.0)), 6)
    305.0
    """
    e = np.asarray(emissivity, dtype=np.float64)
    tau = np.asarray(transmittance, dtype=np.float64)
    if np.any((e <= 0) | (e > 1)):
        raise InputError("`emissivity` must lie in (0, 1]")
    if np.any((tau <= 0) | (tau > 1)):
        raise InputError("`transmittance` must lie in (0, 1]")
    surface = (np.asarray(radiance, dtype=np.float64) - upwelling) / tau
    return band.temperature((surface - (1.0 - e) * np.asarray(downwelling, dtype=np.float64)) / e)


def central_wavelength_error_k(response: SpectralResponse, temperature_k) -> np.ndarray:
    """Error (K) of the central-wavelength shortcut: the band radiance of a black body at
    ``temperature_k`` inverted with the monochromatic Planck function at the response-weighted
    centre, minus the true temperature."""
    t = np.atleast_1d(np.asarray(temperature_k, dtype=np.float64))
    return planck_temperature(response.centre_um, band_integral(response, t)) - t
