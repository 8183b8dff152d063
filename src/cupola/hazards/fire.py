"""Active fire from a thermal brightness-temperature band: a contextual anomaly test.

After the MODIS contextual algorithm (Giglio, Descloitres, Justice & Kaufman 2003, Remote Sens.
Environ. 87, 273-282; Giglio, Schroeder & Justice 2016, RSE 178, 31-41), reduced to one thermal
band: a pixel is a candidate when it is warmer than ``absolute_k`` or warmer than its background
by ``min_excess_k``; it is a fire when, against the mean and mean absolute deviation of the
valid background in a window around it (fires and their neighbours excluded),
T > mean + max(``sigmas`` * MAD, ``min_excess_k``). The confidence rises with the excess in MAD
units (Giglio et al. 2003 eq. for confidence, a ramp from 0 at the threshold to 1 at twice it).
"""

from __future__ import annotations

import numpy as np

from cupola.hazards.change import HazardLayer

__all__ = ["fire_layer"]


def fire_layer(
    brightness_k: np.ndarray,
    *,
    window_px: int = 21,
    sigmas: float = 3.5,
    min_excess_k: float = 6.0,
    absolute_k: float = 360.0,
) -> HazardLayer:
    """Fire pixels of ``brightness_k`` (rows, cols, kelvin, NaN = no data)."""
    from scipy import ndimage

    t = np.asarray(brightness_k, dtype=np.float32)
    valid = np.isfinite(t)
    tv = np.where(valid, t, 0.0).astype(np.float64)
    # background: exclude obviously hot pixels (above the scene's 99th percentile + margin) and neighbours
    hot = valid & (t > np.nanpercentile(t, 99.0) + min_excess_k) if valid.any() else valid
    hot = ndimage.binary_dilation(hot, iterations=1)
    bg = valid & ~hot
    w = np.float64
    n = ndimage.uniform_filter(bg.astype(w), window_px)
    s1 = ndimage.uniform_filter(np.where(bg, tv, 0.0), window_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        mad = ndimage.uniform_filter(np.where(bg, np.abs(tv - mean), 0.0), window_px) / n
    excess = np.maximum(sigmas * mad, min_excess_k)
    enough = n * window_px * window_px >= 0.25 * window_px * window_px
    score = ((tv - mean) / np.maximum(mad, 0.5)).astype(np.float32)
    mask = valid & ((t >= absolute_k) | (enough & (tv > mean + excess)))
    ramp = np.clip((tv - mean - excess) / np.maximum(excess, 1e-6), 0.0, 1.0)
    conf = np.where(mask, np.maximum(ramp, np.where(t >= absolute_k, 1.0, 0.0)), 0.0).astype(np.float32)
    conf = np.where(mask, np.maximum(conf, 0.3), 0.0).astype(np.float32)
    score[~valid] = np.nan
    return HazardLayer(mask, conf, score, float(sigmas), f"T > background mean + max({sigmas} MAD, {min_excess_k} K)")
