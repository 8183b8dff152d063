"""Dense matching of a rectified pair: semi-global matching, then least-squares sub-pixel refinement
with a precision for every pixel.

1. **Semi-global matching** (Hirschmüller 2008, "Stereo processing by semiglobal matching and
   mutual information", IEEE TPAMI 30(2): 328-341) as OpenCV's ``StereoSGBM`` (Birchfield-Tomasi
   pixel cost over small blocks, smoothness penalties P1 = 8 n^2 and P2 = 32 n^2 for a block of
   n x n pixels as OpenCV recommends), with its left-right consistency check (``disp12MaxDiff``),
   uniqueness test and speckle filter; pixels that fail are invalid. When the disparity search is
   wide, a first pass on a reduced pair finds the range the scene actually spans, and the full
   pair is searched only there.
2. **Least-squares matching** along the rows (a one-dimensional Lucas-Kanade / Gauss-Newton step,
   Lucas & Kanade 1981; Förstner 1982 for the precision) over a window of w x w pixels, iterated:
   the right image is resampled at ``x - d`` by Lanczos-3 interpolation (six taps, weights tabulated
   every 1/1024 px), its row gradient G is the derivative of the same interpolant, both are made
   zero-mean in the window (an offset between the images is allowed) and
   ``d += -sum(G' r') / sum(G'^2)`` with ``r = left - right(x - d)``, every window evaluated at its
   centre's disparity. This removes the "pixel-locking" bias of SGM's parabolic sub-pixel fit.
3. **Precision** of every disparity (Förstner 1982, "On the geometric precision of digital
   correlation", IAPRS 24(3): 176-189): ``sigma_d^2 = s0^2 / sum(G'^2)``, ``s0^2`` the residual
   variance left in the window after the fit (``n - 2`` degrees of freedom), with the share of
   the noise taken out of ``sum(G'^2)`` (the gradient of a noisy image is itself noisy). It is
   measured on the images themselves: noise, texture and what the constant-shift model misses all
   raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MatchSettings", "MatchResult", "match_rectified", "to_uint8"]


@dataclass(frozen=True)
class MatchSettings:
    """Dense-matching parameters (pixels of the rectified pair)."""

    block_px: int = 5  # SGBM block size (odd)
    window_px: int = 5  # least-squares window (odd)
    iterations: int = 2  # least-squares iterations
    uniqueness_pct: int = 10  # SGBM uniqueness margin
    lr_max_diff_px: int = 1  # left-right consistency tolerance
    speckle_window_px: int = 100  # SGBM speckle filter: regions smaller than this ...
    speckle_range_px: int = 2  # ... whose disparity varies by more than this are removed
    max_sigma_px: float = 0.5  # refined disparities less precise than this are dropped
    max_refine_shift_px: float = 1.5  # refinement may move a disparity this far from SGM's
    coarse_max_disparities: int = 96  # a wider search first runs on a reduced pair


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Disparities ``x_left - x_right`` (float32, NaN where invalid) and their precision (px)."""

    disparity_px: np.ndarray
    sigma_px: np.ndarray
    search_px: tuple[int, int]  # the disparity range searched at full resolution (min, max)
    coarse_factor: int  # 1 when no reduced pass ran
    sgm_valid_fraction: float  # of valid left pixels, after SGM and its checks
    valid_fraction: float  # of valid left pixels, after refinement


def to_uint8(left: np.ndarray, right: np.ndarray, valid_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images on one linear 8-bit scale (0.2 and 99.8 percentiles of the left's valid pixels)."""
    step = max(1, int(np.sqrt(left.size / 1_000_000)))
    sample = left[::step, ::step][valid_left[::step, ::step]]
    if sample.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (float(v) for v in np.percentile(sample, [0.2, 99.8]))
    k = 255.0 / max(hi - lo, 1e-6)
    a = np.clip((left - lo) * k, 0, 255).astype(np.uint8)
    b = np.clip((right - lo) * k, 0, 255).astype(np.uint8)
    return a, b


def _sgbm(left8: np.ndarray, right8: np.ndarray, d_min: int, n_disp: int, s: MatchSettings) -> np.ndarray:
    import cv2

    bs = s.block_px
    sgbm = cv2.StereoSGBM.create(
        minDisparity=int(d_min),
        numDisparities=int(n_disp),
        blockSize=bs,
        P1=8 * bs * bs,
        P2=32 * bs * bs,
        disp12MaxDiff=s.lr_max_diff_px,
        uniquenessRatio=s.uniqueness_pct,
        speckleWindowSize=s.speckle_window_px,
        speckleRange=s.speckle_range_px,
        preFilterCap=63,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = sgbm.compute(left8, right8)
    disp = raw.astype(np.float32) / 16.0
    disp[raw < (d_min) * 16] = np.nan
    return disp


def _search(d_lo: float, d_hi: float) -> tuple[int, int]:
    lo = int(np.floor(d_lo)) - 1
    n = int(np.ceil((d_hi - lo + 2) / 16.0)) * 16
    return lo, max(n, 16)


_TABLE_STEPS = 1024  # fractional offsets tabulated every 1/1024 px


def _lanczos_tables() -> tuple[np.ndarray, np.ndarray]:
    """Lanczos-3 weights (normalized to sum 1) for taps -2..3 at offsets t = j / steps, (6, steps + 1),
    and their derivatives with respect to t."""
    t = np.arange(-1, _TABLE_STEPS + 2) / _TABLE_STEPS
    x = t[None, :] - np.arange(-2, 4)[:, None]
    wts = np.sinc(x) * np.sinc(x / 3.0)
    wts /= wts.sum(axis=0, keepdims=True)
    dwts = (wts[:, 2:] - wts[:, :-2]) * (0.5 * _TABLE_STEPS)
    return wts[:, 1:-1].astype(np.float32), dwts.astype(np.float32)


_LANCZOS, _LANCZOS_DT = _lanczos_tables()
#: noise variance gain of the interpolated value and of the interpolated derivative (Lanczos-3):
#: white noise of variance v gives v * gain; the derivative's gain depends on the offset
_VALUE_GAIN = float((_LANCZOS**2).sum(axis=0).mean())
_DERIVATIVE_GAIN = (_LANCZOS_DT**2).sum(axis=0)


def _warp_rows(img: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Values of ``img`` at columns ``xs`` (same rows) and their derivative along the row, by
    Lanczos-3 interpolation (taps -2..3; the derivative of the same interpolant from the same six
    samples); where the six taps lie inside the row; and the derivative's noise gain there."""
    h, w = img.shape
    i = np.floor(xs)
    inside = (i >= 2) & (i <= w - 4)
    i = np.clip(np.nan_to_num(i, nan=2.0), 2, w - 4).astype(np.intp)
    t = np.where(inside, xs - i, 0.0).ravel()
    j = np.rint(t * _TABLE_STEPS).astype(np.intp)
    wts = _LANCZOS[:, j]
    dwts = _LANCZOS_DT[:, j]
    flat = (np.arange(h, dtype=np.intp)[:, None] * w + i).ravel()
    img_f = img.ravel()
    val = np.zeros(flat.shape, np.float32)
    grad = np.zeros(flat.shape, np.float32)
    for k in range(6):
        v = img_f[flat + (k - 2)]
        val += wts[k] * v
        grad += dwts[k] * v
    return val.reshape(h, w), grad.reshape(h, w), inside, _DERIVATIVE_GAIN[j].reshape(h, w)


def _box(a: np.ndarray, n: int) -> np.ndarray:
    import cv2

    return cv2.boxFilter(a, -1, (n, n), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _window_sums(L: np.ndarray, R: np.ndarray, ok: np.ndarray, d: np.ndarray, ref: float, n: int):
    """Zero-mean window sums of one least-squares step: (count, S_GG, S_Gr carried to each
    window's own disparity, S_rr, S_Gr at each pixel's own disparity, the derivative's noise gain)."""
    rw, g, inside, gain = _warp_rows(R, np.arange(L.shape[1], dtype=np.float64)[None, :] - d)
    m = (ok & inside).astype(np.float32)
    r = (L - rw) * m
    g = g * m
    dd = (d - ref).astype(np.float32)
    gd = g * dd
    cnt = _box(m, n)
    sg, sr, sgd = _box(g, n), _box(r, n), _box(gd, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        sgg = _box(g * g, n) - sg * sg / cnt
        sgr_own = _box(g * r, n) - sg * sr / cnt
        # residuals carried to the window centre's disparity: r_p(q) = r(q) + g(q) (d_p - d_q)
        sgr = sgr_own + dd * sgg - (_box(g * gd, n) - sg * sgd / cnt)
        # the residual variance at convergence (neighbours' disparities agree with d_p to within
        # their noise): the carried terms are of second order
        srr = _box(r * r, n) - sr * sr / cnt
    return cnt, sgg, sgr, srr, sgr_own, gain


def _refine(
    left: np.ndarray, right: np.ndarray, disp: np.ndarray, usable: np.ndarray, s: MatchSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares refinement of ``disp`` (NaN invalid) over row bands; returns (disparity, sigma).

    The window of pixel p is evaluated at p's own disparity: the residual of a neighbour q,
    computed at q's disparity, is carried to p's by the first-order term G(q) (d_p - d_q), so all
    window sums are box filters. Each window sums over its pixels that hold a disparity (at least
    60 % of it)."""
    h, w = left.shape
    n = s.window_px
    half = n // 2
    min_count = 0.6 * n * n
    out_d = np.full((h, w), np.nan, np.float32)
    out_s = np.full((h, w), np.nan, np.float32)
    band = max(64, 1_000_000 // max(w, 1))
    for r0 in range(0, h, band):
        a0, a1 = max(0, r0 - half), min(h, r0 + band + half)
        L = np.ascontiguousarray(left[a0:a1], dtype=np.float32)
        R = np.ascontiguousarray(right[a0:a1], dtype=np.float32)
        d0 = disp[a0:a1].astype(np.float64)
        ok = np.isfinite(d0) & usable[a0:a1]
        d = np.where(ok, d0, 0.0)

        # disparities relative to the band's typical one: the sums below stay small in float32
        ref = float(np.round(np.median(d[ok]))) if ok.any() else 0.0
        for _ in range(s.iterations):
            cnt, sgg, sgr, _srr, _own, _gain = _window_sums(L, R, ok, d, ref, n)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.clip(-sgr / sgg, -0.5, 0.5)
            d = np.where(ok & (sgg > 0) & (cnt >= min_count), d + np.nan_to_num(step), d)
        cnt, sgg, sgr, srr, own, gain = _window_sums(L, R, ok, d, ref, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            s0 = np.maximum(srr - own * own / sgg, 0.0) / (cnt - 2.0)
            # the gradient is taken from the noisy right image: take the noise's share out of
            # sum(G'^2) (noise of variance v_R adds gain * v_R per pixel; the residual variance is
            # v_L + value_gain * v_R = (1 + value_gain) v_R for equal noise in both images)
            sgg_signal = sgg - (cnt - 1.0) * gain * s0 / (1.0 + _VALUE_GAIN)
            sigma = np.sqrt(s0 / np.maximum(sgg_signal, 0.25 * sgg))
        good = ok & (cnt >= min_count) & (sgg > 0) & np.isfinite(sigma) & (sigma <= s.max_sigma_px)
        good &= np.abs(d - d0) <= s.max_refine_shift_px
        lo, hi = r0 - a0, r0 - a0 + min(band, h - r0)
        out_d[r0 : r0 + (hi - lo)] = np.where(good, d, np.nan)[lo:hi]
        out_s[r0 : r0 + (hi - lo)] = np.where(good, sigma, np.nan)[lo:hi]
    return out_d, out_s


def match_rectified(
    left: np.ndarray,
    right: np.ndarray,
    valid_left: np.ndarray,
    valid_right: np.ndarray,
    d_range: tuple[float, float],
    settings: MatchSettings | None = None,
) -> MatchResult:
    """Dense disparities of a rectified pair (float images on one scale, same size).

    ``valid_*`` say which rectified pixels hold image (not the border fill); ``d_range`` is the
    disparity range the scene can span (from the height range and the geometry).
    """
    import cv2

    s = settings or MatchSettings()
    left8, right8 = to_uint8(left, right, valid_left)
    lo, n_disp = _search(*d_range)
    factor = 1
    if n_disp > s.coarse_max_disparities:
        factor = 1
        while n_disp / factor > s.coarse_max_disparities and min(left.shape) / (2 * factor) >= 128:
            factor *= 2
    if factor > 1:
        size = (left.shape[1] // factor, left.shape[0] // factor)
        l_c = cv2.resize(left8, size, interpolation=cv2.INTER_AREA)
        r_c = cv2.resize(right8, size, interpolation=cv2.INTER_AREA)
        v_c = cv2.resize(valid_left.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        lo_c, n_c = _search(d_range[0] / factor, d_range[1] / factor)
        d_c = _sgbm(l_c, r_c, lo_c, n_c, s)
        vals = d_c[np.isfinite(d_c) & v_c]
        if vals.size > 100:
            p_lo, p_hi = np.percentile(vals, [0.5, 99.5])
            margin = 2.0 * factor + 2.0
            lo, n_disp = _search(max(p_lo * factor - margin, d_range[0]), min(p_hi * factor + margin, d_range[1]))
    disp = _sgbm(left8, right8, lo, n_disp, s)
    # the match must land on image in the right view as well
    h, w = left.shape
    xs = np.arange(w, dtype=np.float32)[None, :] - np.nan_to_num(disp, nan=-1e6)
    inside = (xs >= 0) & (xs <= w - 1)
    xi = np.clip(np.rint(xs), 0, w - 1).astype(np.intp)
    right_ok = valid_right[np.arange(h)[:, None], xi] & inside
    disp[~(valid_left & right_ok)] = np.nan
    n_valid = max(int(valid_left.sum()), 1)
    sgm_fraction = float(np.isfinite(disp).sum()) / n_valid
    usable = _eroded(valid_left, s.window_px) & right_ok
    d_ref, sigma = _refine(left.astype(np.float32), right.astype(np.float32), disp, usable, s)
    return MatchResult(
        d_ref, sigma, (lo, lo + n_disp - 1), factor, sgm_fraction, float(np.isfinite(d_ref).sum()) / n_valid
    )


def _eroded(mask: np.ndarray, n: int) -> np.ndarray:
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((n, n), np.uint8), borderValue=0).astype(bool)
