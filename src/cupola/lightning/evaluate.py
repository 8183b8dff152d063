"""Detection precision and recall on simulated scenes (the truth is what the renderer drew)."""

from __future__ import annotations

import numpy as np

from cupola.lightning.flashes import Flashes

__all__ = ["match_detections"]


def match_detections(
    flashes: Flashes, truth: list[tuple[int, float, float]], radius_px: float, width: int, height: int, margin_px: float
) -> dict:
    """Greedy one-to-one matching (highest score first) of detections to drawn flashes in the same
    frame within ``radius_px``. Recall counts the drawn flashes at least ``margin_px`` inside the frame
    (a patch cut by the edge has no reliable centroid and is left out by design); precision counts
    every detection. Returns true_positives, detections, drawn (inside the margin), precision, recall.
    """
    order = np.argsort(-np.nan_to_num(flashes.score, nan=0.0))
    used: set[int] = set()
    tp = 0
    t = np.array(truth, dtype=float).reshape(-1, 3)
    for k in order:
        if not len(t):
            break
        d = np.hypot(t[:, 1] - flashes.col_px[k], t[:, 2] - flashes.row_px[k])
        d[(t[:, 0] != flashes.frame_start[k])] = np.inf
        for u in used:
            d[u] = np.inf
        j = int(np.argmin(d))
        if d[j] < radius_px:
            used.add(j)
            tp += 1
    inside = (
        (t[:, 1] >= margin_px)
        & (t[:, 1] <= width - 1 - margin_px)
        & (t[:, 2] >= margin_px)
        & (t[:, 2] <= height - 1 - margin_px)
    )
    n_true = int(inside.sum())
    tp_inside = sum(1 for j in used if inside[j])
    n = len(flashes)
    return {
        "true_positives": tp,
        "detections": n,
        "drawn": n_true,
        "precision": tp / n if n else 1.0,
        "recall": tp_inside / n_true if n_true else 1.0,
    }
