"""Radiometric normalisation of the 'before' image to the 'after' one by histogram matching.

Each band of ``before`` is mapped through the monotone function that makes its cumulative
distribution equal to that of the same band of ``after`` (Gonzalez & Woods, Digital Image
Processing, ch. 3, "histogram specification"), computed on the overlap's finite pixels. This
removes differences of exposure, sun angle and atmosphere that are global; it assumes that most of
the scene did not change (true for floods and fires that cover a minority of the frame).

>>> import numpy as np
>>> a = np.linspace(0, 1, 100, dtype=np.float32).reshape(1, 10, 10)
>>> b = 2 * a + 5
>>> bool(np.allclose(match_histograms(a, b), b, atol=1e-3))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["match_histograms"]


def step(mask: np.ndarray, n: int = 2_000_000) -> int:
    """A stride that keeps about ``n`` of the True pixels (quantiles of a sample: fast on 20 MP)."""
    return max(1, int(np.count_nonzero(mask) // n))


def match_histograms(
    before: np.ndarray, after: np.ndarray, quantiles: int = 1024, invariant: np.ndarray | None = None
) -> np.ndarray:
    """``before`` (bands, rows, cols) with each band's histogram matched to ``after``'s band;
    NaNs stay NaN. Quantile-based (``quantiles`` points), so it runs in O(n log q). ``invariant``
    (rows, cols) bool, when given, restricts the pixels the mapping is learned from to those
    (pseudo-invariant features: the pixels a first pass found unchanged), so that a large change
    does not bend the mapping of the rest."""
    src = np.asarray(before, dtype=np.float32)
    ref = np.asarray(after, dtype=np.float32)
    out = np.full_like(src, np.nan)
    q = np.linspace(0.0, 1.0, quantiles)
    for k in range(src.shape[0]):
        s, r = src[k], ref[k]
        ok_s, ok_r = np.isfinite(s), np.isfinite(r)
        learn_s, learn_r = ok_s, ok_r
        if invariant is not None:
            learn_s, learn_r = ok_s & invariant, ok_r & invariant
        if learn_s.sum() < 2 or learn_r.sum() < 2:
            out[k] = s
            continue
        sq = np.quantile(s[learn_s][:: step(learn_s)], q)
        rq = np.quantile(r[learn_r][:: step(learn_r)], q)
        sq, idx = np.unique(sq, return_index=True)
        out[k][ok_s] = np.interp(s[ok_s], sq, rq[idx]).astype(np.float32)
    return out
