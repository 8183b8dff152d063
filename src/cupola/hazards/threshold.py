"""Automatic thresholds: Otsu's method on a histogram.

Otsu, N. (1979), "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9(1),
62-66: the threshold that maximises the between-class variance
sigma_B²(t) = w0(t) w1(t) (mu0(t) - mu1(t))².

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(-0.5, 0.1, 5000), rng.normal(0.4, 0.1, 5000)])
>>> -0.2 < otsu_threshold(x) < 0.1
True
"""

from __future__ import annotations

import numpy as np

from cupola.errors import InputError

__all__ = ["otsu_threshold", "class_separation", "has_valley"]


def otsu_threshold(values: np.ndarray, bins: int = 256, value_range: tuple[float, float] | None = None) -> float:
    """Otsu's threshold of the finite ``values`` (any shape), on a histogram of ``bins`` bins over
    ``value_range`` (default: the 0.1-99.9 percentile range, so a few outliers do not squeeze the
    histogram). Values above the threshold form the upper class.

    Raises:
        InputError: fewer than two distinct finite values.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2 or float(v.min()) == float(v.max()):
        raise InputError("`values`: Otsu's threshold needs at least two distinct finite values")
    if value_range is None:
        lo, hi = np.percentile(v, [0.1, 99.9])
        if hi <= lo:
            lo, hi = float(v.min()), float(v.max())
    else:
        lo, hi = value_range
    counts, edges = np.histogram(v, bins=bins, range=(float(lo), float(hi)))
    centres = 0.5 * (edges[:-1] + edges[1:])
    p = counts.astype(np.float64) / max(counts.sum(), 1)
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    mt = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1.0
    k = int(np.argmax(between))
    # empty bins between the modes leave the criterion flat: take the middle of that plateau
    flat = np.isclose(between, between[k], rtol=1e-9, atol=0.0)
    j = k
    while j + 1 < flat.size and flat[j + 1]:
        j += 1
    return float(0.5 * (edges[k + 1] + edges[j + 1]))


def class_separation(values: np.ndarray, threshold: float) -> tuple[float, float]:
    """Standard deviations of the lower and upper class of finite ``values`` split at
    ``threshold`` (the scale of the per-pixel confidence); a class with < 2 values gets the
    overall standard deviation."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    overall = float(v.std()) if v.size > 1 else 1.0
    lower, upper = v[v <= threshold], v[v > threshold]
    s0 = float(lower.std()) if lower.size > 1 else overall
    s1 = float(upper.std()) if upper.size > 1 else overall
    return max(s0, 1e-6), max(s1, 1e-6)


def has_valley(values: np.ndarray, threshold: float, ratio: float = 0.5, bins: int = 64) -> bool:
    """Whether the histogram of ``values`` (``bins`` bins, 3-bin mean) has a valley at
    ``threshold``: its height there under ``ratio`` of the lower of the two peaks on either side.
    A test of two modes that one population cut anywhere fails (Ashman's D does not do: one
    normal population cut at its mean already gives D = 2.65).

    >>> rng = np.random.default_rng(1)
    >>> one = rng.normal(0, 1, 5000)
    >>> two = np.concatenate([one, rng.normal(8, 1, 5000)])
    >>> has_valley(one, 0.0), has_valley(two, 4.0)
    (False, True)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10 or not float(v.min()) < threshold < float(v.max()):
        return False
    counts, edges = np.histogram(v, bins=bins)
    smooth = np.convolve(counts, np.ones(3) / 3.0, mode="same")
    centres = 0.5 * (edges[:-1] + edges[1:])
    k = int(np.clip(np.searchsorted(edges, threshold) - 1, 0, bins - 1))
    below, above = smooth[centres < threshold], smooth[centres > threshold]
    if below.size == 0 or above.size == 0:
        return False
    return bool(smooth[k] < ratio * min(below.max(), above.max()))
