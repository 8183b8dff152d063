"""Active fire from a thermal brightness-temperature band: a contextual anomaly test.

After the MODIS contextual algorithm (Giglio, Descloitres, Justice & Kaufman 2003, Remote Sens.
Environ. 87, 273-282; Giglio, Schroeder & Justice 2016, RSE 178, 31-41), reduced to one thermal
band: a pixel is a candidate when it is warmer than ``absolute_k`` or warmer than its background
by ``min_excess_k``; it is a fire when, against the mean and mean absolute deviation of the
valid background in a window around it (fires and their neighbours excluded),
T > mean + max(``sigmas`` * MAD, ``min_excess_k``). The confidence rises with the excess in MAD
units (Giglio et al. 2003 eq. for confidence, a ramp from 0 at the threshold to 1 at twice it).

The window is given on the ground (``window_m``) so that one default serves 70 m ECOSTRESS and
coarser or finer sensors alike; it becomes an odd number of pixels, at least ``MIN_WINDOW_PX``.
The defaults (700 m, 6 MAD, 6 K) were chosen on fires painted into real ECOSTRESS scenes at two
pixel sizes, on two scenes, and checked on two others (docs/hazards.md, "choosing the fire test's
defaults"): against the 1 km MODIS values (21 pixels, 3.5 MAD, 6 K) they cut the false alarms at
64 m from ~1.2-1.8 km² to 0-0.15 km² per two scenes and lose under half a percent of the fires.
"""

from __future__ import annotations

import numpy as np

from cupola.hazards.change import HazardLayer

__all__ = ["fire_layer", "window_pixels", "WINDOW_M", "SIGMAS", "MIN_EXCESS_K", "ABSOLUTE_K"]

#: background window side on the ground (m)
WINDOW_M = 700.0
#: background MAD multiplier
SIGMAS = 6.0
#: least excess over the background mean (K)
MIN_EXCESS_K = 6.0
#: a pixel at least this hot is a fire whatever its background (K)
ABSOLUTE_K = 360.0
#: the smallest window (pixels) that still holds a background around a fire and its neighbours
MIN_WINDOW_PX = 7


def window_pixels(window_m: float, pixel_m: float) -> int:
    """The odd window side (pixels) closest to ``window_m`` on a grid of ``pixel_m`` pixels.

    >>> window_pixels(1470.0, 70.0), window_pixels(1470.0, 1000.0), window_pixels(2000.0, 100.0)
    (21, 7, 21)
    """
    if not (np.isfinite(window_m) and window_m > 0 and np.isfinite(pixel_m) and pixel_m > 0):
        raise ValueError(f"window_pixels: window_m={window_m} and pixel_m={pixel_m} must be > 0")
    n = int(round(window_m / pixel_m))
    n = n if n % 2 == 1 else n + 1
    return max(n, MIN_WINDOW_PX)


def fire_layer(
    brightness_k: np.ndarray,
    *,
    pixel_m: float,
    window_m: float = WINDOW_M,
    sigmas: float = SIGMAS,
    min_excess_k: float = MIN_EXCESS_K,
    absolute_k: float = ABSOLUTE_K,
) -> HazardLayer:
    """Fire pixels of ``brightness_k`` (rows, cols, kelvin, NaN = no data) on a grid of
    ``pixel_m`` pixels; the test itself is :func:`cupola.analysis.contextual.contextual_anomaly`
    (shared with the thermal fire test)."""
    from cupola.analysis.contextual import contextual_anomaly

    window_px = window_pixels(window_m, pixel_m)
    a = contextual_anomaly(
        brightness_k, window_px=window_px, sigmas=sigmas, min_excess=min_excess_k, absolute=absolute_k
    )
    return HazardLayer(
        a.mask,
        a.confidence,
        a.score,
        float(sigmas),
        f"T > background mean + max({sigmas:g} MAD, {min_excess_k:g} K) in a {window_m:g} m window, "
        f"or T >= {absolute_k:g} K",
    )
