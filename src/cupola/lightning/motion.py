"""Apparent motion of the ground between frames, estimated from the frames themselves.

Seen from the ISS the ground (and the towns on it) moves at ~7 km/s: a D5 with a 50 mm lens sees it
move ~135 px between stills a second apart. A camera fixed in LVLH that looks at a nearly flat patch
of Earth sees consecutive frames related by a plane homography; over one frame it is an affine map
to a small fraction of a pixel (the projective terms of a view within ~10 deg of nadir are
second-order). It is estimated without a pose, so detection needs none:

1. the global shift between the two frames by phase correlation (Kuglin & Hines 1975, OpenCV's
   ``phaseCorrelate``): towns dominate it; a flash lit in one frame only does not correlate;
2. the shifts of overlapping tiles (a 4 x 3 grid), each by phase correlation after the global
   shift, kept where the correlation peak is clear, then an affine map fitted to them by least
   squares with outlier rejection (a tile holding a flash or no town is rejected or left out);
   with fewer than 4 good tiles the global shift alone is used.

Over a sequence the motion barely changes (the orbit and the mount are steady), so a pair whose map
disagrees with the sequence's median by more than 2 px anywhere in the frame takes the median
instead (:func:`sequence_motion`). Lit cloud tops at ~10 km move ~2.5 % slower than the ground;
that does not matter because a flash is compared with frames in which its cloud is dark.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pair_tiles", "sequence_motion"]


def _phase(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Shift (dx, dy) of b relative to a, and the correlation peak's response."""
    import cv2

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    win = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_64F)
    (dx, dy), resp = cv2.phaseCorrelate(a - a.mean(), b - b.mean(), win)
    return float(dx), float(dy), float(resp)


def _stretch(img: np.ndarray) -> np.ndarray:
    """Logarithmic stretch above the sky level (towns and flashes span decades; keeps the
    correlation from being one bright town's)."""
    a = np.asarray(img, dtype=np.float32)
    sample = a[::4, ::4]
    sky = float(np.median(sample))
    noise = max(1.4826 * float(np.median(np.abs(sample - sky))), 1e-3)
    return np.log1p(np.maximum(a - sky - 3.0 * noise, 0.0) / noise)


def pair_tiles(
    a: np.ndarray, b: np.ndarray, *, grid: tuple[int, int] = (6, 4), min_response: float = 0.08
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Tile correspondences between images ``a`` and ``b``: (src (N, 2), dst (N, 2)) tile centres in
    ``a`` and where they are in ``b``, and the global shift (dx, dy) (None when nothing correlates)."""
    sa, sb = _stretch(a), _stretch(b)
    h, w = sa.shape
    dx, dy, resp = _phase(sa, sb)
    if resp < min_response / 2:
        return np.zeros((0, 2)), np.zeros((0, 2)), None
    nx, ny = grid
    tw, th = int(w / (nx + 1) * 2), int(h / (ny + 1) * 2)
    src, dst = [], []
    idx, idy = int(round(dx)), int(round(dy))
    for gy in range(ny):
        for gx in range(nx):
            x0 = int(gx * (w - tw) / max(nx - 1, 1))
            y0 = int(gy * (h - th) / max(ny - 1, 1))
            # the part of the tile both frames see
            cx0, cy0 = max(x0, -idx, 0), max(y0, -idy, 0)
            cx1, cy1 = min(x0 + tw, w - idx, w), min(y0 + th, h - idy, h)
            if cx1 - cx0 < tw // 2 or cy1 - cy0 < th // 2:
                continue
            ta = sa[cy0:cy1, cx0:cx1]
            tb = sb[cy0 + idy : cy1 + idy, cx0 + idx : cx1 + idx]
            if ta.std() == 0 or tb.std() == 0:
                continue
            ex, ey, r = _phase(ta, tb)
            if r < min_response or abs(ex) > (cx1 - cx0) / 4 or abs(ey) > (cy1 - cy0) / 4:
                continue
            c = np.array([(cx0 + cx1 - 1) / 2, (cy0 + cy1 - 1) / 2])
            src.append(c)
            dst.append(c + [idx + ex, idy + ey])
    return np.array(src).reshape(-1, 2), np.array(dst).reshape(-1, 2), np.array([dx, dy])


def _corners(m: np.ndarray, w: int, h: int) -> np.ndarray:
    c = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    p = m @ c
    return (p[:2] / p[2]).T


def _pool_map(fn, items, workers):
    import os
    from concurrent.futures import ThreadPoolExecutor

    k = workers if workers else min(os.cpu_count() or 1, 8)
    if k <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(k) as ex:
        return list(ex.map(fn, items))


def sequence_motion(
    images: list[np.ndarray], *, max_pixels: int = 400_000, workers: int | None = None
) -> tuple[list[np.ndarray], list[str]]:
    """Maps between consecutive frames (``maps[i]``: frame i -> frame i+1, pixels of ``images``) and
    how each was found, estimated on copies binned to at most ``max_pixels``.

    The camera is fixed in LVLH and the orbit steady, so the map is the same for every pair: one
    homography is fitted (RANSAC, 1 px) to the tile correspondences of all pairs pooled, then each
    pair's translation is adjusted by the median residual of its own inlying tiles. A pair whose tiles
    do not correlate takes the common map.
    """
    import cv2

    h, w = images[0].shape[:2]
    b = max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))

    def small(img):
        a = np.asarray(img, np.float32)
        hh, ww = (a.shape[0] // b) * b, (a.shape[1] // b) * b
        return a[:hh, :ww].reshape(hh // b, b, ww // b, b).mean(axis=(1, 3)) if b > 1 else a

    sm = [small(im) for im in images]
    # maps in the small images' pixels, then scaled: x_full = b * x_small + (b - 1) / 2
    S = np.array([[b, 0, (b - 1) / 2], [0, b, (b - 1) / 2], [0, 0, 1.0]])
    Si = np.linalg.inv(S)
    pairs = _pool_map(lambda i: pair_tiles(sm[i], sm[i + 1]), range(len(sm) - 1), workers)
    src = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros((0, 2))
    dst = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros((0, 2))
    common, kind = None, "none"
    if len(src) >= 6:
        A, inl = cv2.estimateAffine2D(
            src.astype(np.float32),
            dst.astype(np.float32),
            method=cv2.RANSAC,
            ransacReprojThreshold=1.0,
            maxIters=5000,
            confidence=0.999,
        )
        if A is not None and inl is not None and int(inl.sum()) >= 6:
            # least squares on the inliers (RANSAC's own estimate rests on 3 points)
            k = inl.ravel().astype(bool)
            X = np.column_stack([src[k], np.ones(k.sum())])
            sol, *_ = np.linalg.lstsq(X, dst[k], rcond=None)
            common, kind = np.vstack([sol.T, [0, 0, 1.0]]), "affine"
    if common is None:
        shifts = [p[2] for p in pairs if p[2] is not None]
        if shifts:
            d = np.median(np.stack(shifts), axis=0)
            common, kind = np.array([[1.0, 0, d[0]], [0, 1.0, d[1]], [0, 0, 1.0]]), "shift"
        else:
            common = np.eye(3)
    maps, how = [], []
    for ps, pd, _ in pairs:
        m = common.copy()
        if len(ps) >= 3 and kind == "affine":
            q = np.column_stack([ps, np.ones(len(ps))]) @ common.T
            res = pd - q[:, :2] / q[:, 2:]
            ok = np.hypot(*res.T) < 1.5
            if ok.sum() >= 3:
                m = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
                m[:2, 2] = np.median(res[ok], axis=0)
                m = m @ common
        maps.append(S @ m @ Si)
        how.append(kind)
    return maps, how
