"""Spectral indices for water and burn mapping (reflectances, any scale, bands as float arrays).

- NDWI (McFeeters 1996, Int. J. Remote Sens. 17(7)): (green - NIR) / (green + NIR).
- MNDWI (Xu 2006, Int. J. Remote Sens. 27(14)): (green - SWIR) / (green + SWIR).
- NBR (Key & Benson 2006, FIREMON LA): (NIR - SWIR2) / (NIR + SWIR2); dNBR = NBR_before - NBR_after.
- RGB water model for true-colour photos (no NIR): water is dark and bluer than it is red;
  ``rgb_water_index`` = (blue - red) / (blue + red) - brightness, lower confidence than NDWI.

>>> import numpy as np
>>> round(float(ndwi(np.array([0.08]), np.array([0.02]))[0]), 6)
0.6
"""

from __future__ import annotations

import numpy as np

__all__ = ["normalized_difference", "ndwi", "mndwi", "nbr", "dnbr", "rgb_water_index"]


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b) as float32, NaN where a + b is 0 or either is NaN."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    s = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / s
    out[~np.isfinite(out)] = np.nan
    return out


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """McFeeters' NDWI: water > 0 typically."""
    return normalized_difference(green, nir)


def mndwi(green: np.ndarray, swir: np.ndarray) -> np.ndarray:
    """Xu's modified NDWI (SWIR 1.6 um): better against built-up land."""
    return normalized_difference(green, swir)


def nbr(nir: np.ndarray, swir2: np.ndarray) -> np.ndarray:
    """Normalized Burn Ratio (SWIR 2.2 um)."""
    return normalized_difference(nir, swir2)


def dnbr(
    nir_before: np.ndarray, swir2_before: np.ndarray, nir_after: np.ndarray, swir2_after: np.ndarray
) -> np.ndarray:
    """Differenced NBR (before - after); USGS severity classes start at 0.1 (low), 0.27, 0.44, 0.66
    (Key & Benson 2006)."""
    return nbr(nir_before, swir2_before) - nbr(nir_after, swir2_after)


def rgb_water_index(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """A water score for true-colour photos: blue-red normalized difference minus brightness
    (bands scaled to their 99th percentile), higher for dark, bluish pixels. Turbid flood water is
    brown, so this is a weaker model than NDWI: results carry a lower confidence."""
    r = np.asarray(red, dtype=np.float32)
    g = np.asarray(green, dtype=np.float32)
    b = np.asarray(blue, dtype=np.float32)
    stack = np.stack([r, g, b])
    top = np.nanpercentile(stack, 99) if np.isfinite(stack).any() else 1.0
    top = float(top) if top and np.isfinite(top) and top > 0 else 1.0
    brightness = (r + g + b) / (3.0 * top)
    return normalized_difference(b, r) - brightness
