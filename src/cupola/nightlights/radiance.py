"""Radiance per band: apply the calibration constants, the window and the atmosphere.

For a flat-fielded, exposure-normalised signal S_c (counts/s per Bayer plane pixel at ISO 100,
f/1), the top-of-atmosphere band radiance seen by the camera is

    L_toa,c = S_c * E0_c 10^(-0.4 ZP_c) / Omega_sp / T_window,c

(:mod:`cupola.nightlights.photometry`; T_window only when the constants were *not* measured
through the same window), and the radiance leaving the ground

    L_ground,c = L_toa,c * 10^(0.4 k_c X)

with the extinction coefficient k_c (mag per airmass) and the airmass X of the line of sight at
the ground, X = 1 / (cos z + 0.50572 (96.07995 - z)^-1.6364), z the view zenith angle in degrees
(Kasten & Young 1989, Applied Optics 28, 4735). Radiances are given in nW cm^-2 sr^-1
(1 W m^-2 sr^-1 = 1e5 nW cm^-2 sr^-1), integrated over each camera band, as "Vega-equivalent" band
radiance: the calibration is relative to an A0 V star, so the number is exact for a source with
Vega's spectral shape within the band and approximate otherwise (Sánchez de Miguel et al. 2021).

Defaults (documented, configurable):

* extinction k = 0.10 (R), 0.15 (G), 0.25 (B) mag/airmass: typical of a clear night at a
  low-altitude site (Rayleigh plus a little aerosol; compare the B, V, R coefficients of
  observatory sites, e.g. La Silla's 0.23, 0.12, 0.09). Urban aerosol raises them: measure or
  model your scene's atmosphere for absolute work.
* window transmission 0.92 (R, G) and 0.90 (B), applied only to constants measured without the
  window (a lab calibration): an assumed value for a multi-pane, anti-reflection-coated fused-silica
  window, not a measurement of a particular ISS window; give your window's values.
* pixels whose line of sight is more than 80 degrees from the vertical are left out (airmass > 5.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DEFAULT_EXTINCTION_MAG",
    "DEFAULT_WINDOW_TRANSMISSION",
    "RadianceSettings",
    "airmass",
    "radiance_planes",
    "W_M2_SR_TO_NW_CM2_SR",
]

DEFAULT_EXTINCTION_MAG = {"R": 0.10, "G": 0.15, "B": 0.25}
DEFAULT_WINDOW_TRANSMISSION = {"R": 0.92, "G": 0.92, "B": 0.90}
W_M2_SR_TO_NW_CM2_SR = 1e5


def airmass(view_zenith_deg) -> np.ndarray:
    """Relative optical airmass (Kasten & Young 1989); NaN beyond 90 degrees."""
    z = np.asarray(view_zenith_deg, dtype=float)
    with np.errstate(invalid="ignore"):
        x = 1.0 / (np.cos(np.radians(z)) + 0.50572 * (96.07995 - z) ** -1.6364)
    return np.where((z >= 0) & (z <= 90), x, np.nan)


@dataclass(frozen=True)
class RadianceSettings:
    extinction_mag: dict = field(default_factory=lambda: dict(DEFAULT_EXTINCTION_MAG))
    window_transmission: dict = field(default_factory=lambda: dict(DEFAULT_WINDOW_TRANSMISSION))
    max_view_zenith_deg: float = 80.0
    atmosphere: bool = True

    def to_dict(self) -> dict:
        return {
            "extinction_mag_per_airmass": self.extinction_mag,
            "window_transmission": self.window_transmission,
            "max_view_zenith_deg": self.max_view_zenith_deg,
            "atmosphere_corrected": self.atmosphere,
            "airmass_formula": "Kasten & Young 1989",
            "units": "nW cm-2 sr-1 (band-integrated, Vega-equivalent)",
        }


def radiance_planes(
    signal: dict,
    saturated: dict,
    calibration,
    omega_sp_sr: float,
    *,
    airmass_map: np.ndarray | None,
    settings: RadianceSettings = RadianceSettings(),
) -> np.ndarray:
    """(3, h, w) float32 ground radiance R, G, B in nW cm^-2 sr^-1; NaN where saturated, where the
    line of sight is too oblique, or (with an airmass map) off the Earth."""
    h, w = signal["R"].shape
    out = np.empty((3, h, w), np.float32)
    for k, c in enumerate(("R", "G", "B")):
        scale = calibration.counts_to_irradiance(c) / omega_sp_sr * W_M2_SR_TO_NW_CM2_SR
        if not calibration.through_window:
            scale /= settings.window_transmission[c]
        np.multiply(signal[c], np.float32(scale), out=out[k])
        if airmass_map is not None and settings.atmosphere:
            t = airmass_map * np.float32(0.4 * np.log(10.0) * settings.extinction_mag[c])
            np.exp(t, out=t)
            out[k] *= t
        out[k][saturated[c]] = np.nan
    return out
