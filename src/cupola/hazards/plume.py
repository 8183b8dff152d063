"""Volcanic plume / ash extent from a before/after pair, with a per-pixel confidence.

Two models, chosen by the bands the pair has:

- **thermal split window** (bands ``tir11`` and ``tir12``: brightness temperatures near 11 and
  12 um, K): silicate ash absorbs more at 11 than at 12 um, so through an ash cloud the
  brightness-temperature difference BTD = BT11 - BT12 is negative ("reverse absorption", Prata
  1989, Geophys. Res. Lett. 16, 1293-1296); water and ice cloud, and the clear atmosphere's water
  vapour, absorb more at 12 um and give BTD > 0. A pixel is ash where the 'after' BTD is below
  the threshold t = min(``BTD_MAX_K``, mode - ``BTD_SIGMAS`` x robust sigma of the 'after'
  scene's BTD) (the scene's clear-pixel BTD sets how far below its own noise a pixel must be;
  the fixed ceiling, -1 K, is the cold end of the -0.5 to -1 K of operational tests) and the 'before' BTD at that pixel
  is not (new in 'after': quartz-rich desert and dry soils also give a slightly negative BTD,
  but they do so on both dates; the mask is opened by 3 x 3, so that single pixels where noise
  takes such ground across the threshold on one date only are not ash). Confidence: 0.5 at t,
  rising linearly to 1 at t - ``RAMP_K``.
- **RGB photo** (red, green, blue): a plume is an opaque-ish region new in 'after' whose colour is
  grey to brown. New: some band departs from the clear-sky line between the dates
  (:func:`cupola.hazards.clouds.clear_sky_residual`, per band, in robust sigmas) by more than
  ``RGB_SIGMAS``. Grey to brown: blue no more than red (``b <= BLUE_RED_MAX x r``: a turquoise
  lake or a blue shadow is not ash) and not whiter than the ground: darker than the 'before'
  image's ``CLOUD_QUANTILE`` brightness quantile, and outside the RGB cloud mask
  (:func:`cupola.hazards.clouds.rgb_cloud_mask`, which also takes a white cloud's grey edges).
  A white meteorological cloud is therefore not ash, a brown or grey plume is. Without a thermal
  test this is a colour guess (dust, smoke and ash look alike): its confidence is capped at
  ``RGB_CONFIDENCE``.

The thresholds were chosen on two of four backgrounds (two seeds) and reported on the other two
(``benchmarks/bench_hazards.py hazards_plume_iou``; docs/hazards.md, "Volcanic plume").
"""

from __future__ import annotations

import numpy as np

from cupola.hazards.change import HazardLayer

__all__ = [
    "BTD_MAX_K",
    "BTD_SIGMAS",
    "RAMP_K",
    "RGB_CONFIDENCE",
    "RGB_SIGMAS",
    "btd_threshold_k",
    "thermal_plume_layer",
    "rgb_plume_layer",
]

#: a pixel is never ash at a BTD above this (K; operational split-window tests use -0.5 to -1 K)
BTD_MAX_K = -1.0
#: ... and must be this many robust sigmas below the scene's median BTD
BTD_SIGMAS = 4.0
#: the confidence rises from 0.5 at the threshold to 1 this many kelvin below it
RAMP_K = 2.0
#: the RGB model's confidence ceiling (a colour test, not a physical one)
RGB_CONFIDENCE = 0.5
#: RGB: a band departs from its clear-sky line by more than this many robust sigmas
RGB_SIGMAS = 4.0
#: RGB: blue at most this share of red (grey to brown, not blue)
BLUE_RED_MAX = 1.05
#: RGB: white = brighter than this quantile of the 'before' brightness ...
CLOUD_QUANTILE = 0.99
#: ... and of Gomez-Chova whiteness under this (no colour; brown ash and dust are over it)
MAX_WHITENESS = 0.25


def btd_threshold_k(btd_k: np.ndarray, max_k: float = BTD_MAX_K, sigmas: float = BTD_SIGMAS) -> float:
    """The ash threshold of a scene's BTD (K): min(``max_k``, mode - ``sigmas`` x sigma), sigma
    1.4826 x the median deviation above the mode (the clear side, which ash does not reach: a
    plume covering much of the scene moves neither).

    >>> rng = np.random.default_rng(0)
    >>> abs(btd_threshold_k(rng.normal(0.0, 0.4, 20000)) - (0.0 - 4 * 0.4)) < 0.15
    True
    >>> round(btd_threshold_k(rng.normal(2.0, 0.2, 20000)), 1)  # the fixed ceiling
    -1.0
    >>> round(btd_threshold_k(rng.normal(0.5, 0.5, 20000)), 1)
    -1.5
    """
    v = np.asarray(btd_k, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float(max_k)
    med = _mode(v)
    sigma = 0.0
    for _ in range(2):  # the histogram's mode is coarse: re-centre on the median near it
        up = v[v > med] - med
        sigma = 1.4826 * float(np.median(up)) if up.size else 0.0
        near = v[np.abs(v - med) <= 1.5 * sigma]
        med = float(np.median(near)) if near.size else med
    return float(min(max_k, med - sigmas * sigma))


def _mode(v: np.ndarray, bins: int = 64) -> float:
    """The mode of ``v`` (a histogram over its 1-99 % range, smoothed over 5 bins): the clear
    pixels' peak, which a plume covering much of the scene does not move (the median would)."""
    lo, hi = np.percentile(v, [1, 99])
    if hi <= lo:
        return float(np.median(v))
    h, edges = np.histogram(v, bins=bins, range=(lo, hi))
    k = int(np.argmax(np.convolve(h, np.ones(5), mode="same")))
    return float(0.5 * (edges[k] + edges[k + 1]))


def _ramp(excess: np.ndarray, full: float) -> np.ndarray:
    return np.clip(0.5 + 0.5 * excess / np.float32(full), 0.5, 1.0).astype(np.float32)


def thermal_plume_layer(
    bt11_after_k: np.ndarray,
    bt12_after_k: np.ndarray,
    bt11_before_k: np.ndarray,
    bt12_before_k: np.ndarray,
    *,
    max_k: float = BTD_MAX_K,
    sigmas: float = BTD_SIGMAS,
) -> HazardLayer:
    """Ash new in 'after' from the split window (see the module); arrays (rows, cols) in K, NaN =
    no data. ``score`` is the 'after' BTD (K), ``threshold`` t."""
    a11, a12 = np.asarray(bt11_after_k, np.float32), np.asarray(bt12_after_k, np.float32)
    btd = a11 - a12
    btd_before = np.asarray(bt11_before_k, np.float32) - np.asarray(bt12_before_k, np.float32)
    t = btd_threshold_k(btd, max_k, sigmas)
    with np.errstate(invalid="ignore"):
        mask = (btd < np.float32(t)) & ~(btd_before < np.float32(t))
    mask = _clean(mask & np.isfinite(btd) & np.isfinite(btd_before))
    conf = np.where(mask, _ramp(np.float32(t) - btd, RAMP_K), np.float32(0.0)).astype(np.float32)
    method = (
        f"split window BT11 - BT12 < {t:.2f} K (reverse absorption, Prata 1989; min({max_k:g} K, mode - "
        f"{sigmas:g} sigma)), new in 'after'"
    )
    return HazardLayer(mask, conf, btd, t, method)


def rgb_plume_layer(
    before_rgb: np.ndarray,
    after_rgb: np.ndarray,
    *,
    sigmas: float = RGB_SIGMAS,
    blue_red_max: float = BLUE_RED_MAX,
    cloud_quantile: float = CLOUD_QUANTILE,
    max_whiteness: float = MAX_WHITENESS,
) -> HazardLayer:
    """A grey-to-brown region new in 'after' (see the module); ``before_rgb``, ``after_rgb`` (3,
    rows, cols: red, green, blue, any common scale, NaN = no data). ``score`` is the largest
    per-band departure from the clear-sky line (robust sigmas), ``threshold`` ``sigmas``."""
    from cupola.hazards.clouds import clear_sky_residual, rgb_cloud_mask, whiteness

    b = np.asarray(before_rgb, np.float32)
    a = np.asarray(after_rgb, np.float32)
    resid = np.stack([np.abs(clear_sky_residual(a[k], b[k])) for k in range(3)])
    with np.errstate(invalid="ignore"):
        score = np.nanmax(np.where(np.isfinite(resid), resid, -np.inf), axis=0).astype(np.float32)
    score[~np.isfinite(score)] = np.nan
    bright_a, bright_b = a.mean(axis=0), b.mean(axis=0)
    ok = np.isfinite(bright_a) & np.isfinite(bright_b)
    ceiling = float(np.quantile(bright_b[ok], cloud_quantile)) if ok.any() else np.inf
    with np.errstate(invalid="ignore"):
        # white: no colour and brighter than (nearly) all the ground was; grey ash is darker,
        # brown ash and dust are coloured
        white = (whiteness(a[0], a[1], a[2]) < np.float32(max_whiteness)) & (bright_a >= np.float32(ceiling))
        new = score > np.float32(sigmas)
        warm = a[2] <= np.float32(blue_red_max) * a[0]
    cloud = _white_cored(rgb_cloud_mask(a, b, which="after"), white)
    mask = new & warm & ~white & ~cloud & ok
    mask = _clean(mask)
    conf = np.where(mask, np.float32(RGB_CONFIDENCE) * _ramp(score - np.float32(sigmas), sigmas), 0.0)
    method = (
        f"RGB: new in 'after' (a band > {sigmas:g} sigma off the clear-sky line), blue <= {blue_red_max:g} red, "
        f"not white (whiteness < {max_whiteness:g} and brighter than the 'before' {100 * cloud_quantile:g} % "
        "brightness), not a cloud-mask region with a white core (lower confidence)"
    )
    return HazardLayer(mask, conf.astype(np.float32), score, float(sigmas), method)


def _white_cored(cloud: np.ndarray, white: np.ndarray) -> np.ndarray:
    """The connected regions (8-neighbours) of the cloud mask ``cloud`` that hold a ``white`` pixel:
    a meteorological cloud with its grey edges; a region of the mask without a white core (grey
    ash over dark ground passes the cloud tests) is left to the plume tests."""
    from scipy import ndimage

    labels, n = ndimage.label(cloud, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(cloud.shape, bool)
    cored = np.zeros(n + 1, bool)
    cored[np.unique(labels[white & cloud])] = True
    cored[0] = False
    return cored[labels]


def _clean(mask: np.ndarray) -> np.ndarray:
    """``mask`` opened by 3 x 3 (single pixels and threads of noise out)."""
    from scipy import ndimage

    return np.asarray(ndimage.binary_opening(mask, np.ones((3, 3), bool)), bool)
