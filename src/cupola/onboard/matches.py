"""A matcher's output in the benchmark's terms: fixed-shape arrays per keypoint of image 0, and
how many matched pairs two runs share.

LightGlue returns a variable number of matches (K x 2 index pairs and K scores); the benchmark
compares runs output by output, so a run is written per keypoint of image 0: its match score
(0 where it has no match) and the index of its match in image 1 (-1 where none). The raw drift is
taken on the scores (float); the pairs are compared as sets (:func:`match_iou`).

>>> import numpy as np
>>> s, m = dense_matches(np.array([[0, 2], [3, 0]]), np.array([0.75, 0.5]), 4)
>>> s.tolist(), m.tolist()
([[0.75, 0.0, 0.0, 0.5]], [[2, -1, -1, 0]])
>>> match_iou(m, np.array([[2, -1, 1, -1]]))
0.3333333333333333
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_matches", "match_pairs", "match_iou"]


def dense_matches(matches: np.ndarray, scores: np.ndarray, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores 1 x n0 float32, match index in image 1 per keypoint of image 0, 1 x n0 int64, -1:
    none) from ``matches`` (K x 2: index in image 0, index in image 1) and their ``scores`` (K)."""
    matches = np.asarray(matches, np.int64).reshape(-1, 2)
    score0 = np.zeros((1, n0), np.float32)
    match0 = np.full((1, n0), -1, np.int64)
    score0[0, matches[:, 0]] = np.asarray(scores, np.float32).reshape(-1)
    match0[0, matches[:, 0]] = matches[:, 1]
    return score0, match0


def match_pairs(match0: np.ndarray) -> set[tuple[int, int]]:
    """The (index in image 0, index in image 1) pairs of a per-keypoint match array (-1: none)."""
    m = np.asarray(match0).reshape(-1)
    i0 = np.flatnonzero(m >= 0)
    return set(zip(i0.tolist(), m[i0].tolist()))


def match_iou(ref: np.ndarray, got: np.ndarray) -> float:
    """Intersection over union of the matched pairs of two per-keypoint match arrays (1.0: the same
    pairs; also 1.0 when neither has a match)."""
    a, b = match_pairs(ref), match_pairs(got)
    return len(a & b) / len(a | b) if a | b else 1.0
