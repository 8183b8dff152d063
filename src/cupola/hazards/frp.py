"""Fire radiative power (FRP, W) of active-fire pixels from one thermal band in the 8-12 µm window
(ECOSTRESS, CTI): an approximation with stated limits, not the MIR method.

The MIR method (Wooster, Zhukov & Oertel 2003, Remote Sens. Environ. 86, 83-107),
FRP = A σ / a (L_MIR - L_MIR,bg), works because at ~4 µm the Planck radiance of a fire grows
nearly as T⁴ over 650-1350 K, so one coefficient ``a`` converts excess radiance to radiated power
whatever the (unknown) fire temperature. At 10.5 µm it grows only as ~T^1.5, so no coefficient
does: the conversion depends on the fire temperature. What is done here: a pixel of area ``A``
with a fire of unknown fraction ``p`` and temperature ``T_f`` over a background ``T_b`` has the
excess radiance ΔL = p (B(T_f) - B(T_b)) and radiates FRP = A p σ (T_f⁴ - T_b⁴) more than its
background (Stefan-Boltzmann, black bodies), so FRP = A ΔL k(T_f) with
k(T) = σ (T⁴ - T_b⁴) / (B(T) - B(T_b)). ``k`` is taken at the geometric mean of its values at the
ends of an assumed fire-temperature range (600-1200 K: smouldering to flaming), so for a fire in
that range the estimate is within a factor sqrt(k(1200) / k(600)) (about 2 at 300 K background)
of the truth, high for cool fires and low for hot ones.

Limits: the fire temperature range is an assumption (a 400 K smoulder is overestimated more); the
band is treated as monochromatic at ``wavelength_um``; emissivity 1 and no atmosphere (the LST
product or a brightness temperature is used as is); no point spread function (fire energy spread
into unflagged neighbours is not counted); a saturated pixel gives a floor. The background ``T_b``
is the mean of the valid non-fire pixels around each fire pixel (``window_px``, fire pixels and
their 8 neighbours excluded).

>>> k = frp_coefficient(300.0)
>>> round(float(k(1200.0) / k(600.0)), 1)   # why one coefficient cannot hold at 10.5 µm
3.8
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cupola.analysis.planck import planck_radiance

__all__ = ["FireRadiativePower", "fire_radiative_power", "frp_coefficient"]

#: Stefan-Boltzmann constant (W m⁻² K⁻⁴)
SIGMA = 5.670374419e-8
#: ECOSTRESS TIR band 4 centre (µm)
BAND_UM = 10.49
#: assumed range of fire temperatures (K)
FIRE_K = (600.0, 1200.0)


def frp_coefficient(background_k, wavelength_um: float = BAND_UM) -> Callable[[float], np.ndarray]:
    """``k(T_f)`` (sr µm: W of radiated power per m² of pixel per unit of excess spectral radiance)
    for a fire at ``T_f`` over ``background_k``."""
    tb = np.asarray(background_k, dtype=np.float64)
    lb = planck_radiance(wavelength_um, tb)

    def k(t_fire: float) -> np.ndarray:
        return SIGMA * (t_fire**4 - tb**4) / (planck_radiance(wavelength_um, t_fire) - lb)

    return k


@dataclass(frozen=True)
class FireRadiativePower:
    """``frp_w`` (rows, cols) per fire pixel (W, 0 elsewhere); ``labels`` (int32) hotspot k + 1
    (8-connected fire pixels); ``hotspot_w`` the FRP of each hotspot; ``factor`` the most the
    estimate may be off (either way) for a fire in the assumed temperature range; ``method``."""

    frp_w: np.ndarray
    labels: np.ndarray
    hotspot_w: np.ndarray
    factor: float
    method: str


def fire_radiative_power(
    brightness_k: np.ndarray,
    fire: np.ndarray,
    pixel_area_m2,
    *,
    wavelength_um: float = BAND_UM,
    fire_k: tuple[float, float] = FIRE_K,
    window_px: int = 11,
) -> FireRadiativePower:
    """FRP of the ``fire`` pixels of ``brightness_k`` (K, NaN = no data) on pixels of
    ``pixel_area_m2`` (a number or an array broadcastable to the grid). See the module."""
    from scipy import ndimage

    t = np.asarray(brightness_k, dtype=np.float64)
    f = np.asarray(fire, bool) & np.isfinite(t)
    area = np.broadcast_to(np.asarray(pixel_area_m2, dtype=np.float64), t.shape)
    near = ndimage.binary_dilation(f, structure=np.ones((3, 3), bool))
    w = (np.isfinite(t) & ~near).astype(np.float64)
    num = ndimage.uniform_filter(np.where(w > 0, t, 0.0), window_px, mode="constant")
    den = ndimage.uniform_filter(w, window_px, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        tb = np.where(den > 1e-9, num / den, np.nan)
    frp = np.zeros(t.shape)
    lo, hi = fire_k
    if f.any():
        tbf = tb[f]
        k = frp_coefficient(tbf, wavelength_um)
        k_mid = np.sqrt(k(lo) * k(hi))
        excess = planck_radiance(wavelength_um, t[f]) - planck_radiance(wavelength_um, tbf)
        frp[f] = np.nan_to_num(np.maximum(excess, 0.0) * k_mid * area[f], nan=0.0)
    k300 = frp_coefficient(300.0, wavelength_um)
    factor = float(np.sqrt(k300(hi) / k300(lo)))
    labels, n = ndimage.label(f, structure=np.ones((3, 3), bool))
    hotspot = ndimage.sum(frp, labels, index=np.arange(1, n + 1)) if n else np.zeros(0)
    method = (
        f"FRP from the {wavelength_um:g} µm excess radiance over the local background, Stefan-Boltzmann for a "
        f"fire of {lo:g}-{hi:g} K (within a factor {factor:.1f} in that range; not the MIR method)"
    )
    return FireRadiativePower(frp.astype(np.float32), labels.astype(np.int32), np.asarray(hotspot), factor, method)
