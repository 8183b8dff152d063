"""Change and hazard layers, each a boolean mask with a per-pixel confidence in [0, 1].

- Change-vector analysis (Malila 1980; Bruzzone & Prieto 2000, IEEE TGRS 38(3)): the magnitude of
  the per-pixel difference vector of the normalised bands, each band scaled by a robust spread
  (1.4826 MAD of its difference); threshold = the larger of Otsu's threshold on the magnitude and a
  noise floor, median + ``noise_sigmas`` robust sigmas of the magnitude, so that an unchanged pair
  (one mode only, which Otsu would still split) yields no change; a second level for a weak change
  beside a strong one (see :func:`change_vector`).
- Flood (UN-SPIDER recommended practice): a water index on both dates, one Otsu threshold on the
  pooled values (when the histogram is not clearly bimodal, Ashman's D < 2, the index's
  conventional threshold instead); flooded = water after and not water before.
- Burn scar: dNBR above Otsu's threshold, never below the USGS low-severity bound 0.1 (Key &
  Benson 2006), grown by hysteresis into the connected pixels above 0.1.

Confidence is the distance from the threshold in units of the class's standard deviation,
``min(1, |x - t| / (2 s))``; the flood confidence is the smaller of the two dates', scaled by
``model_confidence`` (1 for NDWI/MNDWI, 0.6 for the RGB water model of true-colour photos).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cupola.hazards.normalise import match_histograms
from cupola.hazards.threshold import class_separation, has_valley, otsu_threshold

__all__ = [
    "HazardLayer",
    "change_vector",
    "change_magnitude",
    "scaled_differences",
    "under_floor_change",
    "detect_change",
    "flood_layer",
    "burn_layer",
    "threshold_with_fallback",
    "ashman_d",
]


@dataclass(frozen=True)
class HazardLayer:
    """``mask`` (rows, cols) bool: the hazard; ``confidence`` float32 in [0, 1] (0 outside the
    mask); ``score`` the quantity that was thresholded; ``threshold`` its threshold; ``method`` a
    short description (written into the products)."""

    mask: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    threshold: float
    method: str


def ashman_d(values: np.ndarray, threshold: float) -> float:
    """Ashman's D of the two classes split at ``threshold`` (Ashman, Bird & Zepf 1994):
    |mu1 - mu0| / sqrt((s0² + s1²) / 2); D > 2 means a clean separation of two modes."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    lo, hi = v[v <= threshold], v[v > threshold]
    if lo.size < 2 or hi.size < 2:
        return 0.0
    s = np.sqrt((lo.var() + hi.var()) / 2.0)
    return float(abs(hi.mean() - lo.mean()) / max(s, 1e-9))


def _sample(values: np.ndarray, n: int = 2_000_000) -> np.ndarray:
    v = np.asarray(values).ravel()
    if v.size <= n:
        return v
    return v[:: int(np.ceil(v.size / n))]


def threshold_with_fallback(values: np.ndarray, default: float, min_ashman_d: float = 2.0) -> tuple[float, bool]:
    """Otsu's threshold of ``values`` if the split is clearly bimodal (Ashman's D >=
    ``min_ashman_d``), else ``default``; returns (threshold, otsu_used)."""
    v = _sample(values)
    v = v[np.isfinite(v)]
    if v.size < 2 or float(v.min()) == float(v.max()):
        return default, False
    t = otsu_threshold(v)
    if ashman_d(v, t) >= min_ashman_d:
        return t, True
    return default, False


def _confidence(x: np.ndarray, t: float, spread: float) -> np.ndarray:
    c = np.abs(x - np.float32(t)) / np.float32(2.0 * spread)
    return np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0).astype(np.float32)


def change_vector(
    before: np.ndarray,
    after: np.ndarray,
    noise_sigmas: float = 6.0,
    min_relative_change: float = 0.1,
    weak_change: str = "masked",
) -> HazardLayer:
    """Change-vector analysis of two co-registered, normalised stacks (bands, rows, cols). Besides
    the statistical threshold, a change must be meaningful: the (3 x 3 mean) norm of the band
    differences, each relative to its band's 2-98 % range in 'after', above ``min_relative_change``
    (a sub-pixel misregistration of textured ground is significant but small).

    A weak change beside a strong one falls under Otsu's split (which separates the strong change
    from the rest), so a second level is sought among the pixels the first split left
    (``weak_change``): ``"masked"`` (default) re-averages the magnitude over each pixel's 3 x 3
    neighbours that are not strong change (normalized convolution, Knutsson & Westin 1993), so the
    rim of intermediate values that the plain 3 x 3 mean puts around every strong change is gone,
    then takes the larger of their Otsu threshold and the noise floor, when a histogram valley
    is at Otsu's (:func:`~cupola.hazards.threshold.has_valley`: a second population of change); ``"plain"``
    does the same on the plain 3 x 3 mean (maps the rim: for comparison); ``"off"`` one level."""
    from scipy import ndimage

    if weak_change not in ("masked", "plain", "off"):
        raise ValueError(f"change_vector: weak_change={weak_change!r} is not 'masked', 'plain' or 'off'")
    raw_mag, raw_rel = change_magnitude(before, after)
    # 3 x 3 mean of the magnitude: speckle and sub-pixel misregistration at edges average out
    # (the noise floor comes from the unaveraged magnitude: conservative for the averaged one)
    raw = _sample(raw_mag)
    raw = raw[np.isfinite(raw)]
    med = float(np.median(raw))
    mad = 1.4826 * float(np.median(np.abs(raw - med)))
    floor = med + noise_sigmas * max(mad, 1e-6)
    # (a normalized convolution: a running-sum filter would spread one NaN along its row and column)
    mag = _masked_mean_3x3(raw_mag, np.isfinite(raw_mag))
    mag[~np.isfinite(raw_mag)] = np.nan
    s = _sample(mag)
    s = s[np.isfinite(s)]
    t_otsu = otsu_threshold(s) if s.size > 1 and s.min() < s.max() else floor
    t = max(t_otsu, floor)
    rel = ndimage.uniform_filter(raw_rel, 3, mode="nearest")
    mask = np.isfinite(mag) & (mag > t) & (rel > min_relative_change)
    _s0, s1 = class_separation(s, t)
    conf = np.where(mask, _confidence(mag, t, s1), 0.0).astype(np.float32)
    method = (
        f"change-vector analysis, threshold max(Otsu {t_otsu:.3g}, noise floor {floor:.3g}), "
        f"relative change > {min_relative_change:g}"
    )
    if weak_change == "off" or not mask.any() or t_otsu <= floor:
        return HazardLayer(mask, conf, mag, float(t), method)
    if weak_change == "masked":
        keep = ~mask
        score = np.where(mask, mag, _masked_mean_3x3(raw_mag, keep)).astype(np.float32)
        score[~np.isfinite(mag)] = np.nan  # no data stays no data
        rel_w = np.where(mask, rel, _masked_mean_3x3(raw_rel, keep))
    else:
        score, rel_w = mag, rel
    rest = _sample(score[~mask])
    rest = rest[np.isfinite(rest)]
    if rest.size < 10 or float(rest.min()) == float(rest.max()):
        return HazardLayer(mask, conf, mag, float(t), method)
    t2_otsu = otsu_threshold(rest)
    t2 = max(t2_otsu, floor)
    if not (t2 < t and has_valley(rest, t2_otsu)):
        return HazardLayer(mask, conf, mag, float(t), method)
    weak = ~mask & np.isfinite(score) & (score > t2) & (rel_w > min_relative_change)
    _w0, w1 = class_separation(rest, t2)
    conf = np.where(weak, _confidence(score, t2, w1), conf).astype(np.float32)
    how = "3 x 3 mean over the pixels that are not strong change" if weak_change == "masked" else "3 x 3 mean"
    method += f"; weak change: max(Otsu {t2_otsu:.3g}, noise floor) of the rest ({how})"
    return HazardLayer(mask | weak, conf, score, float(t2), method)


def scaled_differences(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The band differences of two co-registered stacks (bands, rows, cols), each centred on its
    median and scaled by its robust spread (1.4826 MAD), NaN where a band has no data; and the norm
    of the band differences relative to each band's 2-98 % range in ``after`` (0 where no data)."""
    b = np.asarray(before, dtype=np.float32)
    a = np.asarray(after, dtype=np.float32)
    diff = a - b
    scaled = np.empty(diff.shape, dtype=np.float32)
    rel2 = np.zeros(a.shape[1:], dtype=np.float32)
    for k in range(diff.shape[0]):
        d = diff[k]
        sa = _sample(a[k])
        sa = sa[np.isfinite(sa)]
        lo, hi = np.percentile(sa, [2, 98]) if sa.size else (0.0, 1.0)
        rel2 += (d / np.float32(max(hi - lo, 1e-9))) ** 2
        s = _sample(d)
        s = s[np.isfinite(s)]
        med = float(np.median(s)) if s.size else 0.0
        mad = 1.4826 * float(np.median(np.abs(s - med))) if s.size else 1.0
        mad = mad if mad > 1e-9 else max(float(s.std()) if s.size else 1.0, 1e-6)
        scaled[k] = (d - np.float32(med)) / np.float32(mad)
    return scaled, np.sqrt(np.nan_to_num(rel2))


def change_magnitude(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel change-vector magnitude (the norm of :func:`scaled_differences`) and the
    relative change norm."""
    scaled, rel = scaled_differences(before, after)
    return np.sqrt((scaled**2).sum(axis=0)), rel


#: window sides (pixels) of the multiscale test for change under the pixel noise floor
UNDER_FLOOR_SCALES_PX = (5, 9, 17)
#: a pixel joins the multiscale change only if its own 3 x 3 statistic is this many robust sigmas up
UNDER_FLOOR_PIXEL_SIGMAS = 2.0


def under_floor_change(
    scaled_diff: np.ndarray,
    raw_rel: np.ndarray,
    mapped: np.ndarray,
    sigmas: float,
    *,
    scales_px: tuple[int, ...] = UNDER_FLOOR_SCALES_PX,
    pixel_sigmas: float = UNDER_FLOOR_PIXEL_SIGMAS,
    min_relative_change: float = 0.1,
    statistic: str = "vector",
) -> tuple[np.ndarray, np.ndarray]:
    """Change too weak for the pixel test but spread over a region, from the scaled band
    differences ``scaled_diff`` (bands, rows, cols; :func:`scaled_differences`): a statistic
    averaged over windows of ``scales_px`` (normalized convolution over the valid pixels not
    already ``mapped``), each scale against its own noise floor, median + ``sigmas`` robust sigmas
    of that statistic over the image (the size-aware threshold: averaging n pixels narrows the null
    distribution, and measuring it on the image itself keeps the spatial correlation in it).

    ``statistic``: ``"vector"`` (default) the norm of the window's *mean difference vector*: a
    change on the ground moves every pixel of a region the same way and adds up, while noise and
    the signed differences that a sub-pixel misregistration leaves along textured edges (of both
    signs) cancel; ``"magnitude"`` the window's mean change magnitude (the norm per pixel, then the
    mean: misregistration texture adds up too; for comparison).

    A pixel is taken when some scale exceeds its floor there, its own 3 x 3 statistic is
    ``pixel_sigmas`` above that scale's median (so that the window's blur does not spread the
    region into unchanged neighbours) and the relative change at that scale exceeds
    ``min_relative_change``. Returns (mask, the largest z-score over the scales)."""
    if statistic not in ("vector", "magnitude"):
        raise ValueError(f"under_floor_change: statistic={statistic!r} is not 'vector' or 'magnitude'")
    d = np.asarray(scaled_diff, dtype=np.float32)
    valid = np.isfinite(d).all(axis=0)
    keep = ~np.asarray(mapped, bool) & valid
    mag = np.sqrt((d**2).sum(axis=0)) if statistic == "magnitude" else None
    best = np.full(valid.shape, -np.inf, dtype=np.float32)
    taken = np.zeros(valid.shape, bool)

    def zscore(size: int) -> np.ndarray:
        if mag is not None:
            m = _masked_mean(mag, keep, size)
        else:
            m = np.sqrt(sum(_masked_mean(d[k], keep, size) ** 2 for k in range(d.shape[0])))
        v = _sample(m[keep])
        v = v[np.isfinite(v)]
        if v.size < 10:
            return np.full(m.shape, -np.inf, np.float32)
        med = float(np.median(v))
        sd = max(1.4826 * float(np.median(np.abs(v - med))), 1e-6)
        return np.nan_to_num((m - np.float32(med)) / np.float32(sd), nan=-np.inf).astype(np.float32)

    z3 = zscore(3)
    for size in scales_px:
        z = zscore(size)
        rel = _masked_mean(raw_rel, keep, size)
        taken |= (z > sigmas) & (np.nan_to_num(rel) > min_relative_change)
        best = np.maximum(best, z)
    mask = taken & keep & (z3 > pixel_sigmas)
    return mask, best


def _masked_mean(values: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` mean of the finite ``values`` where ``keep`` (normalized
    convolution); NaN where no kept neighbour is finite."""
    from scipy import ndimage

    w = (np.asarray(keep, bool) & np.isfinite(values)).astype(np.float32)
    num = ndimage.uniform_filter(np.where(w > 0, values, 0.0).astype(np.float32), size, mode="nearest")
    den = ndimage.uniform_filter(w, size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(den > 1e-6, out, np.nan).astype(np.float32)


def _masked_mean_3x3(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The 3 x 3 mean of the finite ``values`` where ``keep``, at every pixel (normalized
    convolution); NaN where no kept neighbour is finite.

    >>> v = np.array([[0.0, 0.0, 9.0], [0.0, 0.0, 9.0], [0.0, 0.0, 9.0]])
    >>> float(_masked_mean_3x3(v, v < 5)[1, 1]), float(_masked_mean_3x3(v, v > -1)[1, 1])
    (0.0, 3.0)
    """
    return _masked_mean(values, keep, 3)


def detect_change(
    before: np.ndarray,
    after: np.ndarray,
    noise_sigmas: float = 6.0,
    weak_change: str = "masked",
    under_floor_sigmas: float | None = None,
) -> HazardLayer:
    """Histogram-match ``before`` to ``after``, run change-vector analysis, then learn the matching
    again from the pixels found unchanged (pseudo-invariant features) and run it once more
    (``weak_change``: see :func:`change_vector`). ``under_floor_sigmas`` adds the multiscale test
    of :func:`under_floor_change` at that many robust sigmas (None: not run)."""
    first = change_vector(match_histograms(before, after), after, noise_sigmas, weak_change=weak_change)
    if first.mask.any():
        matched = match_histograms(before, after, invariant=~first.mask)
        layer = change_vector(matched, after, noise_sigmas, weak_change=weak_change)
    else:
        matched, layer = None, first
    if under_floor_sigmas is None:
        return layer
    scaled, raw_rel = scaled_differences(match_histograms(before, after) if matched is None else matched, after)
    extra, _z = under_floor_change(scaled, raw_rel, layer.mask, under_floor_sigmas)
    if not extra.any():
        return layer
    conf = np.where(extra, np.float32(0.5), layer.confidence).astype(np.float32)
    method = layer.method + f"; under the floor: multiscale mean change vector > {under_floor_sigmas:g} robust sigmas"
    return HazardLayer(layer.mask | extra, conf, layer.score, layer.threshold, method)


def flood_layer(
    index_before: np.ndarray,
    index_after: np.ndarray,
    *,
    default_threshold: float = 0.0,
    model_confidence: float = 1.0,
    name: str = "NDWI",
    refine: Callable[[float], float] | None = None,
) -> HazardLayer:
    """Flooded = water after (index above the threshold) and not water before. ``refine``, when
    given, maps Otsu's threshold to the one used (see :func:`mixture_threshold`)."""
    ib = np.asarray(index_before, dtype=np.float32)
    ia = np.asarray(index_after, dtype=np.float32)
    pooled = np.concatenate([_sample(ib, 1_000_000), _sample(ia, 1_000_000)])
    t, used = threshold_with_fallback(pooled, default_threshold)
    t_otsu = t
    if used and refine is not None:
        t = float(refine(t))
    finite = pooled[np.isfinite(pooled)]
    s_dry, s_wet = class_separation(finite, t) if finite.size else (1.0, 1.0)
    water_after = ia > t
    dry_before = ib <= t
    mask = water_after & dry_before & np.isfinite(ia) & np.isfinite(ib)
    conf = np.minimum(_confidence(ia, t, s_wet), _confidence(ib, t, s_dry)) * np.float32(model_confidence)
    conf = np.where(mask, conf, 0.0).astype(np.float32)
    how = f"Otsu {t:.3g}" if used else f"fixed {t:.3g} (histogram not bimodal)"
    if used and refine is not None:
        how = f"{t:.3g}, the half-water mixture of the Otsu classes (Otsu {t_otsu:.3g})"
    return HazardLayer(mask, conf, ia - ib, float(t), f"{name} water after and not before, threshold {how}")


def mixture_threshold(
    a: np.ndarray, b: np.ndarray, index: np.ndarray, otsu: float, index_of: Callable[..., np.ndarray]
) -> float:
    """The index of a pixel half water, half land: the bands ``a``, ``b`` averaged over each Otsu
    class of ``index`` (water above ``otsu``), mixed 50/50 (linear spectral mixing), through
    ``index_of(a, b)``. Otsu's threshold on a normalized difference sits nearer the land mode and
    takes in pixels that are mostly land; this one splits mixed edge pixels at half cover."""
    sel = np.isfinite(index) & np.isfinite(a) & np.isfinite(b)
    wet = sel & (index > otsu)
    dry = sel & (index <= otsu)
    if wet.sum() < 10 or dry.sum() < 10:
        return otsu
    ma = 0.5 * (float(np.mean(a[wet])) + float(np.mean(a[dry])))
    mb = 0.5 * (float(np.mean(b[wet])) + float(np.mean(b[dry])))
    t = float(index_of(np.array([ma]), np.array([mb]))[0])
    return t if np.isfinite(t) else otsu


def burn_layer(dnbr_values: np.ndarray, min_dnbr: float = 0.1) -> HazardLayer:
    """Burn scar: dNBR above max(Otsu, ``min_dnbr``), grown by hysteresis (as in Canny's edge
    detector) into the connected pixels down to ``min_dnbr`` (the USGS low-severity bound), so the
    low-severity fringe of a scar is mapped and graded while isolated pixels of low dNBR (phenology,
    noise) are not. The grown pixels' confidence ramps from 0 at ``min_dnbr`` to 0.5 at the Otsu
    threshold."""
    from skimage.filters import apply_hysteresis_threshold

    d = np.asarray(dnbr_values, dtype=np.float32)
    t, used = threshold_with_fallback(d, min_dnbr)
    t = max(t, min_dnbr)
    finite = _sample(d)
    finite = finite[np.isfinite(finite)]
    _s0, s1 = class_separation(finite, t) if finite.size else (1.0, 1.0)
    core = np.isfinite(d) & (d > t)
    dz = np.nan_to_num(d, nan=-np.inf)
    mask = apply_hysteresis_threshold(dz, min_dnbr, t) | core if t > min_dnbr else core
    grown = np.clip((d - min_dnbr) / max(t - min_dnbr, 1e-6), 0.0, 1.0) * 0.5
    conf = np.where(core, _confidence(d, t, s1), np.where(mask, grown, 0.0)).astype(np.float32)
    how = "Otsu" if used else "USGS low severity"
    grow = f", grown to the connected pixels above {min_dnbr:g}" if t > min_dnbr else ""
    return HazardLayer(mask, conf, d, float(t), f"dNBR above {t:.3g} ({how}){grow}")
