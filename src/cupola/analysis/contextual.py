"""A contextual anomaly test: a pixel against the statistics of the valid background around it.

The core of the MODIS active-fire algorithm (Giglio, Descloitres, Justice & Kaufman 2003, Remote
Sens. Environ. 87, 273-282; Giglio, Schroeder & Justice 2016, RSE 178, 31-41), shared by the
hazards fire layer (one thermal band) and the thermal fire test (mid-wave band and the mid-wave
minus long-wave difference): the background of a pixel is the mean and mean absolute deviation
(MAD) of the valid pixels in a ``window_px`` square around it, with obviously hot pixels (above
the scene's 99th percentile plus ``min_excess``) and their neighbours left out, and with any
pixels the caller ``exclude``\\ s (clouds, water); a pixel is anomalous when

    value > mean + max(sigmas * MAD, min_excess)   (and the window holds >= 25 % background)

or when ``value >= absolute``. The confidence rises from 0.3 at the threshold to 1 at twice the
excess (a ramp after Giglio et al. 2003).

>>> import numpy as np
>>> v = np.full((30, 30), 300.0); v[15, 15] = 320.0
>>> a = contextual_anomaly(v, window_px=11, sigmas=3.5, min_excess=6.0)
>>> int(a.mask.sum()), bool(a.mask[15, 15])
(1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ContextualAnomaly", "contextual_anomaly"]


@dataclass(frozen=True)
class ContextualAnomaly:
    """``mask`` the anomalous pixels; ``confidence`` float32 in [0, 1] (0 outside the mask);
    ``score`` (value − mean) / max(MAD, 0.5) (NaN where no data); ``mean``, ``mad`` the background
    statistics (NaN where the window holds no background); ``enough`` where the window holds at
    least a quarter of background pixels."""

    mask: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    mean: np.ndarray
    mad: np.ndarray
    enough: np.ndarray


def contextual_anomaly(
    values: np.ndarray,
    *,
    window_px: int = 21,
    sigmas: float = 3.5,
    min_excess: float = 6.0,
    absolute: float = float("inf"),
    exclude: np.ndarray | None = None,
) -> ContextualAnomaly:
    """The contextual test of the module on ``values`` (rows, cols; NaN = no data)."""
    from scipy import ndimage

    t = np.asarray(values, dtype=np.float32)
    valid = np.isfinite(t)
    tv = np.where(valid, t, 0.0).astype(np.float64)
    hot = valid & (t > np.nanpercentile(t, 99.0) + min_excess) if valid.any() else valid
    hot = ndimage.binary_dilation(hot, iterations=1)
    bg = valid & ~hot
    if exclude is not None:
        bg &= ~np.asarray(exclude, bool)
    w = np.float64
    n = ndimage.uniform_filter(bg.astype(w), window_px)
    s1 = ndimage.uniform_filter(np.where(bg, tv, 0.0), window_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        mad = ndimage.uniform_filter(np.where(bg, np.abs(tv - mean), 0.0), window_px) / n
    excess = np.maximum(sigmas * mad, min_excess)
    enough = n * window_px * window_px >= 0.25 * window_px * window_px
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a window holds no background
        score = ((tv - mean) / np.maximum(mad, 0.5)).astype(np.float32)
        mask = valid & ((t >= absolute) | (enough & (tv > mean + excess)))
        ramp = np.clip((tv - mean - excess) / np.maximum(excess, 1e-6), 0.0, 1.0)
    conf = np.where(mask, np.maximum(ramp, np.where(t >= absolute, 1.0, 0.0)), 0.0).astype(np.float32)
    conf = np.where(mask, np.maximum(conf, 0.3), 0.0).astype(np.float32)
    score[~valid] = np.nan
    return ContextualAnomaly(mask, conf, score, mean, mad, enough)
