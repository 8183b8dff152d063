"""CTI scenes made from a real ECOSTRESS land-surface-temperature scene, with fires inserted at
known sub-pixel fractions (for the fire tests and the benchmark).

What the Compact Thermal Imager would see of the ECOSTRESS scene, band by band (3.3-5.4 µm,
7.8-10.7 µm, the top-hat models of :mod:`cupola.thermal.sensors`):

* the LST resampled from ~70 m to CTI's 82 m (bilinear on the temperatures, no data where any
  contributing pixel had none); the product's cloud and water masks resampled by nearest pixel;
* surface emission ``ε B(T_s)`` with band emissivities of land 0.93 (mid-wave; soils 0.85-0.97 at
  3-5 µm) and 0.97 (long-wave), of water 0.98 and 0.99;
* by day, sunlight reflected in the mid-wave: reflectance ``1 − ε`` on land and water and 0.15 on
  the product's cloud pixels (water droplets at 3.7 µm reflect 0.05-0.3), the Sun a 5778 K black
  body at 1 AU, irradiance ``π B ⋅ (R_sun / AU)² ⋅ sin(sun elevation)``;
* a toy atmosphere, *spectral* within each wide band: transmittance 0.05 over the 4.2-4.45 µm CO₂
  band, 0.5 over 5.0-5.4 µm (water vapour), 0.5 over 7.8-8.2 µm, 0.6 over 9.4-10.0 µm (ozone),
  0.85 elsewhere; the opaque parts see the air, emitting at the scene's median LST − 15 K; the
  downwelling sky is left out;
* sensor noise of 0.2 K (NEdT at 300 K; an assumption, CTI's is not published that we know of).

Fires (:func:`insert_fires`) mix at the surface after Dozier (1981, Remote Sens. Environ. 11,
221-229): ``L = p B(T_f) + (1 − p) L_background`` for a fire of temperature ``T_f`` filling the
fraction ``p`` of a pixel, then through the same atmosphere. Not a radiative transfer code: the
brightness temperatures have the right shape and size, not a real atmosphere's exact values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cupola.thermal.planck import BandPlanck, SpectralResponse, band_integral
from cupola.thermal.sensors import CTI_BANDS_UM, CTI_PIXEL_M, band_response

__all__ = ["CtiScene", "cti_scene_from_lst", "insert_fires", "fire_sites"]

SUN_K = 5778.0
SUN_RADIUS_OVER_AU = 6.957e8 / 1.495978707e11
EMISSIVITY = {"mwir": {"land": 0.93, "water": 0.98}, "lwir": {"land": 0.97, "water": 0.99}}
CLOUD_REFLECTANCE_MWIR = 0.15
NOISE_K = 0.2
AIR_BELOW_MEDIAN_K = 15.0
#: (low µm, high µm, transmittance) of the toy atmosphere; 0.85 elsewhere
ABSORPTION = ((4.2, 4.45, 0.05), (5.0, 5.4, 0.5), (7.8, 8.2, 0.5), (9.4, 10.0, 0.6))
CLEAR_TRANSMITTANCE = 0.85


def transmittance(wavelength_um: np.ndarray) -> np.ndarray:
    """The toy atmosphere's transmittance at each wavelength (see the module)."""
    w = np.asarray(wavelength_um, dtype=np.float64)
    tau = np.full(w.shape, CLEAR_TRANSMITTANCE)
    for lo, hi, t in ABSORPTION:
        tau[(w >= lo) & (w <= hi)] = t
    return tau


@dataclass(frozen=True)
class _Band:
    """The parts of one band's at-sensor radiance: surface emission seen through the atmosphere
    (``surface``: a BandPlanck of R τ, weighted by ``surface_weight``), the path (``path``) and
    the reflected sunlight per unit reflectance at the zenith (``sun``)."""

    planck: BandPlanck
    surface: BandPlanck
    surface_weight: float
    sun: float

    def through(self, surface_temperature_k, emissivity, reflectance, sun_sin, path):
        return (
            self.surface_weight * emissivity * self.surface.radiance(surface_temperature_k)
            + reflectance * sun_sin * self.sun
            + path
        )


def _band(name: str) -> _Band:
    r = band_response(f"cti-{name}")
    tau = transmittance(r.wavelength_um)
    seen = SpectralResponse(f"{r.name}-surface", r.wavelength_um, r.response * tau, source="R x toy transmittance")
    two_way = SpectralResponse(f"{r.name}-sun", r.wavelength_um, r.response * tau**2, source="R x tau^2")
    sun = float(band_integral(two_way, SUN_K)[0]) * two_way.area / r.area * SUN_RADIUS_OVER_AU**2
    return _Band(BandPlanck(r, t_max_k=1500.0), BandPlanck(seen, t_max_k=1500.0), seen.area / r.area, sun)


def _path(name: str, air_k: float) -> float:
    r = band_response(f"cti-{name}")
    tau = transmittance(r.wavelength_um)
    opaque = SpectralResponse("path", r.wavelength_um, r.response * (1.0 - tau), source="R x (1 - tau)")
    return float(band_integral(opaque, air_k)[0]) * opaque.area / r.area


@dataclass(frozen=True)
class CtiScene:
    """A CTI scene: ``mwir``/``lwir`` at-sensor band radiances (W m⁻² sr⁻¹ µm⁻¹, NaN = no data),
    the surface it was made from (``lst_k``, ``water``, ``cloud`` the product's cloud mask), the
    grid (``transform``, ``crs``), ``sun_elevation_deg`` and what fires need to mix in:
    ``sun_sin``, the path radiances ``path`` and the ``name``."""

    mwir: np.ndarray
    lwir: np.ndarray
    lst_k: np.ndarray
    water: np.ndarray
    cloud: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: str
    sun_elevation_deg: float
    sun_sin: float
    path: dict
    name: str = ""

    @property
    def night(self) -> bool:
        return self.sun_elevation_deg <= -0.833

    def brightness(self) -> tuple[np.ndarray, np.ndarray]:
        """(T4, T11): the brightness temperatures of the two bands (K)."""
        return _bands()["mwir"].planck.temperature(self.mwir), _bands()["lwir"].planck.temperature(self.lwir)


_CACHE: dict = {}


def _bands() -> dict[str, _Band]:
    if "bands" not in _CACHE:
        _CACHE["bands"] = {k: _band(k) for k in CTI_BANDS_UM}
    return _CACHE["bands"]


def _resample(a: np.ndarray, zoom: float, order: int) -> np.ndarray:
    from scipy import ndimage

    return ndimage.zoom(a, zoom, order=order, mode="nearest", grid_mode=True)


def cti_scene_from_lst(
    lst_k: np.ndarray,
    transform,
    crs: str,
    *,
    water: np.ndarray | None = None,
    cloud: np.ndarray | None = None,
    sun_elevation_deg: float,
    source_pixel_m: float = 70.0,
    seed: int = 0,
    name: str = "",
) -> CtiScene:
    """The CTI scene of an LST raster (see the module)."""
    zoom = source_pixel_m / CTI_PIXEL_M
    lst = np.asarray(lst_k, dtype=np.float64)
    valid = np.isfinite(lst)
    fill = float(np.nanmedian(lst)) if valid.any() else 300.0
    t = _resample(np.where(valid, lst, fill), zoom, 1)
    ok = _resample(valid.astype(np.float64), zoom, 1) > 0.999
    w = _resample(np.zeros(lst.shape, bool) if water is None else np.asarray(water, bool), zoom, 0).astype(bool)
    c = _resample(np.zeros(lst.shape, bool) if cloud is None else np.asarray(cloud, bool), zoom, 0).astype(bool)
    a, b, x0, d, e, y0 = transform[:6]
    new_t = (a / zoom, b / zoom, x0, d / zoom, e / zoom, y0)
    t = np.where(ok, t, np.nan)
    air = fill - AIR_BELOW_MEDIAN_K
    sun_sin = max(0.0, float(np.sin(np.radians(sun_elevation_deg))))
    rng = np.random.default_rng(seed)
    out = {}
    path = {}
    for k, band in _bands().items():
        eps = np.where(w, EMISSIVITY[k]["water"], EMISSIVITY[k]["land"])
        refl = (1.0 - eps) if k == "mwir" else np.zeros_like(eps)
        if k == "mwir":
            refl = np.where(c & ~w, CLOUD_REFLECTANCE_MWIR, refl)
        path[k] = _path(k, air)
        rad = band.through(np.where(ok, t, fill), eps, refl, sun_sin, path[k])
        slope = (band.planck.radiance(300.0 + 0.05) - band.planck.radiance(300.0 - 0.05)) / 0.1
        rad = rad + rng.normal(0.0, NOISE_K * float(slope), rad.shape)
        out[k] = np.where(ok, rad, np.nan)
    return CtiScene(
        out["mwir"], out["lwir"], t, w & ok, c & ok, new_t, crs, float(sun_elevation_deg), sun_sin, path, name
    )


def insert_fires(scene: CtiScene, rows, cols, fraction, fire_k) -> CtiScene:
    """``scene`` with fires at pixels (``rows``, ``cols``), each filling ``fraction`` of its pixel at
    ``fire_k`` (scalars or one per fire): Dozier mixing at the surface, then the atmosphere."""
    r = np.asarray(rows, dtype=np.intp)
    c = np.asarray(cols, dtype=np.intp)
    p = np.broadcast_to(np.asarray(fraction, dtype=np.float64), r.shape)
    tf = np.broadcast_to(np.asarray(fire_k, dtype=np.float64), r.shape)
    new = {}
    for k, band in _bands().items():
        a = getattr(scene, k).copy()
        fire = band.through(tf, 1.0, 0.0, 0.0, scene.path[k])
        a[r, c] = (1.0 - p) * a[r, c] + p * fire
        new[k] = a
    return replace(scene, mwir=new["mwir"], lwir=new["lwir"])


def fire_sites(scene: CtiScene, n: int, *, spacing_px: int = 25, margin_px: int = 12, seed: int = 0):
    """Up to ``n`` pixels (rows, cols) for fires: valid land, away from the product's clouds
    (``margin_px``) and from the edge, at least ``spacing_px`` apart (a grid, jittered)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    rows, cols = scene.lst_k.shape
    near_cloud = ndimage.binary_dilation(scene.cloud, iterations=margin_px) if scene.cloud.any() else scene.cloud
    ok = np.isfinite(scene.mwir) & np.isfinite(scene.lwir) & ~scene.water & ~near_cloud
    ok &= ndimage.binary_erosion(np.isfinite(scene.lst_k), iterations=margin_px)
    gr, gc = np.meshgrid(
        np.arange(margin_px, rows - margin_px, spacing_px),
        np.arange(margin_px, cols - margin_px, spacing_px),
        indexing="ij",
    )
    j = spacing_px // 3
    rr = np.clip(gr + rng.integers(-j, j + 1, gr.shape), 0, rows - 1).ravel()
    cc = np.clip(gc + rng.integers(-j, j + 1, gc.shape), 0, cols - 1).ravel()
    keep = ok[rr, cc]
    pick = rng.permutation(int(keep.sum()))[:n]
    return rr[keep][pick], cc[keep][pick]
