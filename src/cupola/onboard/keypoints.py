"""ALIKED's task-level drift without the rest of locate: do the keypoints and descriptors survive?

From the dense maps (descriptor map D x H x W, score map H x W) of a reference run and a changed
run (int8, another runtime, flipped bits): the share of the reference's top-``k`` score maxima
found again within ``radius_px`` in the changed run, and the mean cosine similarity of the two
runs' descriptors at the reference keypoints.

>>> import numpy as np
>>> s = np.zeros((32, 32), np.float32); s[5, 7] = s[20, 9] = 1.0
>>> top_maxima(s, 2).tolist()
[[7, 5], [9, 20]]
>>> keypoint_agreement(s, np.roll(s, 1, axis=1), k=2, radius_px=1.5)
1.0
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["top_maxima", "keypoint_agreement", "descriptor_similarity"]


def top_maxima(scores: np.ndarray, k: int, nms_px: int = 2, border_px: int = 2) -> np.ndarray:
    """(col, row) of the ``k`` highest local maxima of ``scores`` (non-maximum suppression over a
    (2 nms_px + 1)^2 window, ``border_px`` from the edges), highest first; ties by position."""
    s = np.asarray(scores, np.float64)
    peak = (s == ndimage.maximum_filter(s, size=2 * nms_px + 1, mode="constant", cval=-np.inf)) & (s > 0)
    if border_px:
        peak[:border_px] = peak[-border_px:] = False
        peak[:, :border_px] = peak[:, -border_px:] = False
    rows, cols = np.nonzero(peak)
    order = np.lexsort((cols, rows, -s[rows, cols]))[:k]
    return np.stack([cols[order], rows[order]], axis=1)


def keypoint_agreement(ref_scores: np.ndarray, scores: np.ndarray, k: int = 256, radius_px: float = 1.5) -> float:
    """Share of the reference's top-``k`` maxima with one of the changed run's top-``k`` within
    ``radius_px`` (1.0: the detector is unchanged)."""
    a = top_maxima(ref_scores, k)
    b = top_maxima(scores, k)
    if len(a) == 0:
        return float("nan")
    if len(b) == 0:
        return 0.0
    d, _ = cKDTree(b).query(a, k=1)
    return float(np.mean(d <= radius_px))


def descriptor_similarity(ref_desc: np.ndarray, desc: np.ndarray, keypoints: np.ndarray) -> float:
    """Mean cosine similarity of the two D x H x W descriptor maps at ``keypoints`` (col, row)."""
    c, r = keypoints[:, 0], keypoints[:, 1]
    a = ref_desc[:, r, c].T
    b = desc[:, r, c].T
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))
