"""Thermal test scenes of stated make-up (for the tests and the benchmark; no real data in them).

* :func:`at_sensor_brightness`: a forward model of what a thermal band sees through a simple
  atmosphere: ``L = τ [ε B(T_s) + (1 − ε) L↓] + L↑`` with ``τ = exp(−k W)`` (``k`` the band's
  water-vapour absorption per g cm⁻², larger at 12 µm than at 11 µm), ``L↑ = (1 − τ) B(T_a − 3 K)``
  and ``L↓ = (1 − τ) B(T_a − 10 K)`` (the downwelling sky sees colder, higher air). A toy
  atmosphere with the right signs and sizes, not a radiative transfer model.
* :func:`urban_scene`: a land-surface temperature raster with warmer city discs over a smooth
  background, and the disc polygons: every city's true heat island is known.

>>> import numpy as np
>>> from cupola.thermal.planck import BandPlanck, SpectralResponse
>>> b = BandPlanck(SpectralResponse.gaussian("b", 10.9, 0.6))
>>> round(float(at_sensor_brightness(300.0, 1.0, 0.0, b, 0.08, 295.0)), 6)   # no water vapour: the surface
300.0
"""

from __future__ import annotations

import numpy as np

from cupola.thermal.planck import BandPlanck

__all__ = ["at_sensor_brightness", "urban_scene", "ABSORPTION_PER_G_CM2"]

#: toy water-vapour absorption (per g cm-2) near 11 and 12 µm
ABSORPTION_PER_G_CM2 = {"11um": 0.07, "12um": 0.12}


def at_sensor_brightness(surface_k, emissivity, water_vapour_g_cm2, band: BandPlanck, absorption, air_k):
    """At-sensor brightness temperature (K) of the module's forward model."""
    tau = np.exp(-absorption * np.asarray(water_vapour_g_cm2, dtype=np.float64))
    air = np.asarray(air_k, dtype=np.float64)
    up = (1.0 - tau) * band.radiance(air - 3.0)
    down = (1.0 - tau) * band.radiance(air - 10.0)
    e = np.asarray(emissivity, dtype=np.float64)
    return band.temperature(tau * (e * band.radiance(surface_k) + (1.0 - e) * down) + up)


def urban_scene(rows: int, cols: int, n_cities: int, *, seed: int = 0, res_deg: float = 0.0006):
    """(temperature K float32, transform, city polygons lon/lat, true heat island K per city): a
    smooth 295-305 K background and ``n_cities`` discs 3-25 px across, each warmer by a random 0-5 K,
    not overlapping their rings much; noise 0.3 K."""
    import shapely

    rng = np.random.default_rng(seed)
    west, north = -118.7, 34.3
    transform = (res_deg, 0.0, west, 0.0, -res_deg, north)
    y, x = np.mgrid[0:rows, 0:cols]
    t = 300.0 + 5.0 * np.sin(x / cols * 3.0) * np.cos(y / rows * 2.0)
    centres = rng.uniform([30, 30], [cols - 30, rows - 30], (n_cities, 2))
    radius = rng.uniform(1.5, 12.5, n_cities)
    uhi = rng.uniform(0.0, 5.0, n_cities)
    for (cx, cy), r, d in zip(centres, radius, uhi):
        r0, r1 = int(max(cy - r - 1, 0)), int(min(cy + r + 2, rows))
        c0, c1 = int(max(cx - r - 1, 0)), int(min(cx + r + 2, cols))
        yy, xx = y[r0:r1, c0:c1] + 0.5, x[r0:r1, c0:c1] + 0.5
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        t[r0:r1, c0:c1] += np.where(inside, d, 0.0)
    t += rng.normal(0.0, 0.3, t.shape)
    pts = shapely.points(west + centres[:, 0] * res_deg, north - centres[:, 1] * res_deg)
    zones = shapely.buffer(pts, radius * res_deg, quad_segs=16)
    return t.astype(np.float32), transform, np.asarray(zones, dtype=object), uhi
