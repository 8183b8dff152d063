"""Does a learned change detector help `cupola hazards change`? (issue 17: "change detection
(change-vector analysis with an automatic threshold, and a learned option if it helps, measured)").

Two learned options are compared with the default product (:func:`cupola.hazards.change.detect_change`:
histogram matching, change-vector analysis, Otsu with a noise floor, pseudo-invariant re-matching),
on the painted changes of the weak-change study (a strong change with a weak fringe and a separate
weak patch, in the four real backgrounds; contrasts 0.2 / 0.5 of the strong change, region scales 8
and 20 px, noise 0.004 and 0.01) and on the four real backgrounds acquired twice with nothing
changed (gain, gamma, noise, 0.3-pixel shift):

- **self-trained** (per pair, no outside labels): a random forest on per-pixel features (the band
  differences after matching, their 3 x 3 and 7 x 7 means, the change-vector score) trained on the
  default product's confident pixels (score above 1.5x its threshold: change; below 0.5x: no
  change), then applied to every pixel;
- **trained elsewhere** (supervised): the same features and forest trained on the painted truth of
  two backgrounds and on their unchanged pairs (every pixel "no change": gain, gamma, noise and
  misregistration are what it must learn to ignore), scored on the other two (both splits), as a
  model shipped with the tool would be.

Scores: F1 of the mapped change against the painted truth (all painted change pixels), weak-change
recall, and the km² mapped on the unchanged pairs. ``hazards_learned_change_f1`` is the better
learned option's F1 with the default's as baseline; the default stays unless a learned option is
better on F1 without more false alarms on the unchanged pairs.
"""

from __future__ import annotations

import numpy as np
from bench_hazards import SAMPLES, _background, _painted_change, _unchanged_pair
from common import bench_line

RATIOS = (0.2, 0.5)
SCALES_PX = (8.0, 20.0)
NOISES = (0.004, 0.01)


def _features(before: np.ndarray, after: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(pixels, features): band differences, their 3 x 3 and 7 x 7 means, the change-vector score."""
    from scipy import ndimage

    diff = after - before
    layers = [*diff]
    for size in (3, 7):
        layers += [ndimage.uniform_filter(d, size) for d in diff]
    layers.append(np.nan_to_num(score, nan=0.0))
    return np.stack([np.asarray(x, np.float32).ravel() for x in layers], axis=1)


def _forest(seed: int = 0):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=40, max_depth=12, min_samples_leaf=5, n_jobs=1, random_state=seed)


def _balanced(labels: np.ndarray, n: int, rng) -> np.ndarray:
    """Indices of up to ``n`` pixels per class (labels 0/1; -1 ignored)."""
    out = []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        if len(idx):
            out.append(rng.choice(idx, size=min(n, len(idx)), replace=False))
    return np.concatenate(out) if out else np.zeros(0, int)


def _default(before, after):
    from cupola.hazards.change import detect_change
    from cupola.hazards.normalise import match_histograms

    layer = detect_change(before, after)
    matched = match_histograms(before, after, invariant=~layer.mask) if layer.mask.any() else before
    return layer, matched


def _self_trained(before, after, rng) -> np.ndarray:
    layer, matched = _default(before, after)
    feats = _features(matched, after, layer.score)
    s = np.nan_to_num(layer.score.ravel(), nan=0.0)
    labels = np.full(s.shape, -1)
    labels[s > 1.5 * layer.threshold] = 1
    labels[s < 0.5 * layer.threshold] = 0
    pick = _balanced(labels, 5000, rng)
    if len(np.unique(labels[pick])) < 2:
        return layer.mask
    model = _forest().fit(feats[pick], labels[pick])
    return model.predict(feats).reshape(layer.mask.shape).astype(bool)


def _scores(mask, truth, weak) -> tuple[int, int, int, int, int]:
    return (int((mask & truth).sum()), int((mask & ~truth).sum()), int((~mask & truth).sum()),
            int((mask & weak).sum()), int(weak.sum()))  # fmt: skip


def _f1(tp, fp, fn) -> float:
    return 2 * tp / max(2 * tp + fp + fn, 1)


def _km2(mask, transform) -> float:
    rows = mask.shape[0]
    lat = transform[5] + transform[4] * (np.arange(rows) + 0.5)
    cell = abs(transform[0] * transform[4]) * 111.32 * 110.57 * np.cos(np.radians(lat))
    return float((mask.sum(axis=1) * cell).sum())


def learned_change() -> None:
    rng = np.random.default_rng(17)
    cases = []  # (background index, before, after, truth, weak)
    for k, path in enumerate(SAMPLES):
        stack, _own, _t = _background(path)
        stack = np.ascontiguousarray(stack[:, 256:768, 256:768])
        for ratio in RATIOS:
            for scale in SCALES_PX:
                for noise in NOISES:
                    r = np.random.default_rng(900 + 31 * k + int(100 * ratio) + int(scale) + int(1e4 * noise))
                    before, after, strong, adj, sep = _painted_change(stack, r, ratio, scale, noise)
                    cases.append((k, before, after, strong | adj | sep, adj | sep))
    totals = {m: np.zeros(5, np.int64) for m in ("default", "self-trained", "trained elsewhere")}
    prepared = []
    for k, before, after, truth, weak in cases:
        layer, matched = _default(before, after)
        prepared.append((k, _features(matched, after, layer.score), truth, weak))
        totals["default"] += _scores(layer.mask, truth, weak)
        totals["self-trained"] += _scores(_self_trained(before, after, rng), truth, weak)
    unchanged_feats = {}
    for k, path in enumerate(SAMPLES):
        before, after, transform = _unchanged_pair(k, path)
        layer, matched = _default(before, after)
        unchanged_feats[k] = (_features(matched, after, layer.score), layer.mask, transform, before, after)
    n_bg = len(SAMPLES)
    splits = ([0, 1], [2, 3]) if n_bg >= 4 else ([0],)
    models = {}
    for held in splits:
        xs, ys = [], []
        for k, f, t, _w in prepared:
            if k not in held:
                pick = _balanced(t.ravel().astype(int), 3000, rng)
                xs.append(f[pick])
                ys.append(t.ravel()[pick].astype(int))
        for k, (f, *_rest) in unchanged_feats.items():
            if k not in held:
                pick = rng.choice(len(f), size=min(6000, len(f)), replace=False)
                xs.append(f[pick])
                ys.append(np.zeros(len(pick), int))
        model = _forest().fit(np.concatenate(xs), np.concatenate(ys))
        for k in held:
            models[k] = model
    for k, f, truth, weak in prepared:
        mask = models[k].predict(f).reshape(truth.shape).astype(bool)
        totals["trained elsewhere"] += _scores(mask, truth, weak)
    unchanged = {m: 0.0 for m in totals}
    for k, (f, default_mask, transform, before, after) in unchanged_feats.items():
        unchanged["default"] += _km2(default_mask, transform)
        unchanged["self-trained"] += _km2(_self_trained(before, after, rng), transform)
        unchanged["trained elsewhere"] += _km2(models[k].predict(f).reshape(default_mask.shape).astype(bool), transform)
    f1 = {}
    for m, (tp, fp, fn, wtp, wn) in totals.items():
        f1[m] = _f1(tp, fp, fn)
        print(
            f"# {m}: F1 {f1[m]:.3f} (precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f}), "
            f"weak-change recall {wtp / max(wn, 1):.3f}; unchanged pairs {unchanged[m]:.2f} km² mapped "
            f"({len(cases)} painted cases, {len(SAMPLES)} unchanged pairs)",
            flush=True,
        )
    best = max(("self-trained", "trained elsewhere"), key=lambda m: f1[m])
    print(f"# best learned option: {best}", flush=True)
    bench_line("hazards_learned_change_f1", f1[best], "fraction", baseline=f1["default"])
    bench_line("hazards_learned_change_unchanged_km2", unchanged[best], "km2", baseline=unchanged["default"])


BENCHMARKS = {"hazards_learned_change": learned_change}

if __name__ == "__main__":
    learned_change()
