"""Association of optical flashes with network events: time coincidence and spatial consistency.

Two stages:

1. **Search without a pose** (:func:`triangle_search`), as a star tracker identifies stars: the
   angle between two flashes' camera rays does not depend on the camera's orientation, so it must
   equal the angle between the directions (from the station, in its LVLH frame at each event's
   instant) of the two events they belong to, within the events' errors; and the two events must
   fit the flashes' exposure windows with one common clock offset. Triangles of bright flashes
   matched this way (with the right handedness) give candidate orientations (Wahba's problem,
   ``Rotation.align_vectors``), each scored by how many other flashes then land on a
   time-compatible event. An attitude guess only narrows the candidate events.
2. **Gated association at a pose** (:func:`gated_pairs`): every event is projected with its
   predicted image covariance; flash-event pairs inside the chi-square gate and compatible in
   time are kept, the clock offset is chosen where most flashes have a partner
   (:func:`best_offset`), and a one-to-one assignment minimising the Mahalanobis distances (with
   "no partner" allowed at the gate's cost) picks the pairs (:func:`assign`).

Clock offset o = network time - camera time: a flash seen between camera times a and b and an event
at network time t are compatible for o in [t - b, t - a].
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

__all__ = ["CandidatePairs", "candidate_pairs", "triangle_search", "best_offset", "assign", "Hypothesis"]


@dataclass(frozen=True, eq=False)
class CandidatePairs:
    """Time-compatible (flash, event) pairs with the clock-offset interval each allows."""

    flash: np.ndarray
    event: np.ndarray
    lo_s: np.ndarray
    hi_s: np.ndarray

    def __len__(self) -> int:
        return int(self.flash.shape[0])

    def subset(self, mask) -> CandidatePairs:
        return CandidatePairs(self.flash[mask], self.event[mask], self.lo_s[mask], self.hi_s[mask])


def pair_interval(t_event, a_flash, b_flash, tol_s):
    """Clock-offset interval [lo, hi] in which an event at ``t_event`` fits a flash window [a, b]."""
    return t_event - b_flash - tol_s, t_event - a_flash + tol_s


def candidate_pairs(a_s, b_s, t_event_s, o_lo: float, o_hi: float, tol_s) -> CandidatePairs:
    """All (flash, event) pairs whose offset interval meets [o_lo, o_hi]; events sorted by time."""
    t = np.asarray(t_event_s, dtype=float)
    tol = np.broadcast_to(np.asarray(tol_s, dtype=float), t.shape)
    tol_max = float(tol.max()) if t.size else 0.0
    first = np.searchsorted(t, np.asarray(a_s) + o_lo - tol_max, side="left")
    last = np.searchsorted(t, np.asarray(b_s) + o_hi + tol_max, side="right")
    counts = np.maximum(last - first, 0)
    fl = np.repeat(np.arange(len(a_s)), counts)
    ev = (
        np.concatenate([np.arange(f, e) for f, e in zip(first, last) if e > f])
        if counts.sum()
        else np.zeros(0, dtype=np.int64)
    )
    lo, hi = pair_interval(t[ev], np.asarray(a_s)[fl], np.asarray(b_s)[fl], tol[ev])
    keep = (hi >= o_lo) & (lo <= o_hi)
    return CandidatePairs(fl[keep], ev[keep].astype(np.int64), np.maximum(lo[keep], o_lo), np.minimum(hi[keep], o_hi))


@dataclass(frozen=True)
class Hypothesis:
    mount: Rotation  # camera -> LVLH
    offset_lo_s: float
    offset_hi_s: float
    flash: np.ndarray  # pairs that support it
    event: np.ndarray
    score: int
    cost: float
    tried: int  # hypotheses scored in total


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (rad) between rows of unit vectors a (n, 3) and b (m, 3): (n, m)."""
    return np.arccos(np.clip(a @ b.T, -1.0, 1.0))


def triangle_search(
    rays: np.ndarray,
    w: np.ndarray,
    sig_ang: np.ndarray,
    pairs: CandidatePairs,
    brightness: np.ndarray,
    score,
    *,
    sigma_px_rad: float,
    focal_tolerance: float = 0.01,
    n_sigma: float = 4.0,
    top: int = 12,
    max_triplets: int = 80,
    min_support: int = 4,
    enough: int | None = None,
    anchor: np.ndarray | None = None,
) -> Hypothesis | None:
    """Best orientation from flash triangles matched to event triangles (see the module docstring).

    Args:
        rays: (K, 3) unit camera-frame rays of the flashes.
        w: (M, 3) unit LVLH directions of the events (each at its own instant).
        sig_ang: (M,) 1-sigma angular error of each event direction (rad).
        pairs: time-compatible candidate pairs (possibly narrowed by an attitude guess).
        brightness: (K,) for choosing the flashes to start from.
        score: callable(mount Rotation, lo, hi) -> (count, cost, flash_idx, event_idx).
        sigma_px_rad: centroid error as an angle.
        focal_tolerance: relative focal-length uncertainty (angles scale with it).
        anchor: (M,) bool, events precise enough to start triangles from (default all).
        enough: stop early once a hypothesis is supported by this many flashes.
    """
    if anchor is not None:
        pairs = pairs.subset(anchor[pairs.event])
    by_flash = {k: np.flatnonzero(pairs.flash == k) for k in np.unique(pairs.flash)}
    usable = [k for k in np.argsort(-brightness, kind="stable") if k in by_flash][:top]
    if len(usable) < 3:
        return None
    diag = max(float(np.max(_angles(rays, rays))), 1e-6)
    trips = []
    for i, j, k in itertools.combinations(range(len(usable)), 3):
        k1, k2, k3 = usable[i], usable[j], usable[k]
        u = rays[[k1, k2, k3]]
        ang = _angles(u, u)
        if min(ang[0, 1], ang[0, 2], ang[1, 2]) < 0.08 * diag:
            continue
        vol = abs(np.linalg.det(u))
        if vol < 1e-9:
            continue
        # prefer bright and spread-out triangles
        trips.append((i + j + k - 0.5 * min(ang[0, 1], ang[0, 2], ang[1, 2]) / diag * len(usable), k1, k2, k3))
    trips.sort()
    best: Hypothesis | None = None
    tried = 0
    seen: set[tuple[int, int, int]] = set()
    for _, k1, k2, k3 in trips[:max_triplets]:
        for m1, m2, m3, lo, hi in _triangles(
            rays, w, sig_ang, pairs, by_flash, k1, k2, k3, sigma_px_rad, focal_tolerance, n_sigma
        ):
            key = (int(m1), int(m2), int(m3))
            if key in seen:
                continue
            seen.add(key)
            mount, _ = Rotation.align_vectors(w[[m1, m2, m3]], rays[[k1, k2, k3]])
            tried += 1
            count, cost, fi, ei = score(mount, lo, hi)
            if best is None or (count, -cost) > (best.score, -best.cost):
                best = Hypothesis(mount, float(lo), float(hi), fi, ei, int(count), float(cost), tried)
        if best is not None and enough is not None and best.score >= enough:
            break
    if best is None or best.score < min_support:
        return None
    return Hypothesis(
        best.mount, best.offset_lo_s, best.offset_hi_s, best.flash, best.event, best.score, best.cost, tried
    )


def _triangles(rays, w, sig_ang, pairs, by_flash, k1, k2, k3, sigma_px_rad, focal_tol, n_sigma):
    """Event triangles (m1, m2, m3, offset lo, offset hi) consistent with flashes k1, k2, k3."""
    i1, i2, i3 = by_flash[k1], by_flash[k2], by_flash[k3]
    m1, m2, m3 = pairs.event[i1], pairs.event[i2], pairs.event[i3]
    u = rays[[k1, k2, k3]]
    th = _angles(u, u)
    sp2 = 2.0 * sigma_px_rad**2
    s1, s2, s3 = sig_ang[m1] ** 2, sig_ang[m2] ** 2, sig_ang[m3] ** 2
    # edge 1-2
    tol12 = n_sigma * np.sqrt(s1[:, None] + s2[None, :] + sp2) + focal_tol * th[0, 1]
    ok = np.abs(_angles(w[m1], w[m2]) - th[0, 1]) < tol12
    ok &= np.maximum(pairs.lo_s[i1][:, None], pairs.lo_s[i2][None, :]) <= np.minimum(
        pairs.hi_s[i1][:, None], pairs.hi_s[i2][None, :]
    )
    ok &= m1[:, None] != m2[None, :]
    a, b = np.nonzero(ok)
    if a.size == 0:
        return []
    lo12 = np.maximum(pairs.lo_s[i1][a], pairs.lo_s[i2][b])
    hi12 = np.minimum(pairs.hi_s[i1][a], pairs.hi_s[i2][b])
    sign = np.sign(np.linalg.det(u))
    out = []
    for start in range(0, a.size, 4000):
        sa, sb = a[start : start + 4000], b[start : start + 4000]
        l12, h12 = lo12[start : start + 4000], hi12[start : start + 4000]
        wa, wb = w[m1[sa]], w[m2[sb]]
        tol13 = n_sigma * np.sqrt(s1[sa][:, None] + s3[None, :] + sp2) + focal_tol * th[0, 2]
        tol23 = n_sigma * np.sqrt(s2[sb][:, None] + s3[None, :] + sp2) + focal_tol * th[1, 2]
        ok3 = np.abs(_angles(wa, w[m3]) - th[0, 2]) < tol13
        ok3 &= np.abs(_angles(wb, w[m3]) - th[1, 2]) < tol23
        lo = np.maximum(l12[:, None], pairs.lo_s[i3][None, :])
        hi = np.minimum(h12[:, None], pairs.hi_s[i3][None, :])
        ok3 &= lo <= hi
        ok3 &= (m1[sa][:, None] != m3[None, :]) & (m2[sb][:, None] != m3[None, :])
        p, q = np.nonzero(ok3)
        if p.size == 0:
            continue
        det = np.einsum("ni,ni->n", np.cross(wa[p], wb[p]), w[m3[q]])
        hand = np.sign(det) == sign
        for pp, qq in zip(p[hand], q[hand]):
            out.append((m1[sa[pp]], m2[sb[pp]], m3[qq], lo[pp, qq], hi[pp, qq]))
    return out


def best_offset(pairs: CandidatePairs, weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Clock offset at which the most distinct flashes have a compatible partner.

    Returns (offset, mask of the pairs compatible with it). Ties are broken by the summed
    ``weight`` of the compatible pairs (e.g. gate minus Mahalanobis distance), then by the
    offset nearest the middle of the tied range.
    """
    if len(pairs) == 0:
        return float("nan"), np.zeros(0, dtype=bool)
    wgt = np.ones(len(pairs)) if weight is None else np.asarray(weight, dtype=float)
    cand = np.unique(np.concatenate([pairs.lo_s, pairs.hi_s]))
    best_key, best_o = None, float(cand[0])
    for chunk in range(0, cand.size, 512):
        o = cand[chunk : chunk + 512]
        inside = (pairs.lo_s[:, None] <= o[None, :] + 1e-12) & (pairs.hi_s[:, None] >= o[None, :] - 1e-12)
        nflash = np.array([np.unique(pairs.flash[inside[:, j]]).size for j in range(o.size)])
        wsum = (inside * wgt[:, None]).sum(axis=0)
        for j in range(o.size):
            key = (nflash[j], wsum[j])
            if best_key is None or key > best_key:
                best_key, best_o = key, float(o[j])
    mask = (pairs.lo_s <= best_o + 1e-12) & (pairs.hi_s >= best_o - 1e-12)
    # centre the offset within the range where the same pairs stay compatible
    lo, hi = float(np.max(pairs.lo_s[mask])), float(np.min(pairs.hi_s[mask]))
    return 0.5 * (lo + hi), mask


def assign(flash: np.ndarray, event: np.ndarray, cost: np.ndarray, gate: float) -> np.ndarray:
    """One-to-one assignment of candidate pairs minimising the total cost; a flash or event may
    stay unmatched at cost ``gate``. Returns the indices of the chosen candidate pairs."""
    if flash.size == 0:
        return np.zeros(0, dtype=np.int64)
    uf, fi = np.unique(flash, return_inverse=True)
    ue, ei = np.unique(event, return_inverse=True)
    big = 1e9
    nf, ne = uf.size, ue.size
    mat = np.full((nf, ne + nf), big)
    best = np.full((nf, ne), np.inf)
    which = np.full((nf, ne), -1, dtype=np.int64)
    for idx in np.argsort(cost):
        if cost[idx] < best[fi[idx], ei[idx]]:
            best[fi[idx], ei[idx]] = cost[idx]
            which[fi[idx], ei[idx]] = idx
    ok = np.isfinite(best)
    mat[:, :ne][ok] = best[ok]
    mat[np.arange(nf), ne + np.arange(nf)] = gate
    rows, cols = linear_sum_assignment(mat)
    chosen = [which[r, c] for r, c in zip(rows, cols) if c < ne and mat[r, c] < big]
    return np.array(sorted(chosen), dtype=np.int64)


def make_scorer(flash_px: np.ndarray, a_s, b_s, t_ev, tol_s, predict, gate_px: np.ndarray):
    """Score function for :func:`triangle_search`: project events with a candidate orientation and
    count the flashes that then have a time-compatible event within ``gate_px`` of them."""
    tree = cKDTree(flash_px)
    gmax = float(np.max(gate_px)) if gate_px.size else 0.0
    a_s, b_s = np.asarray(a_s), np.asarray(b_s)
    t_min, t_max = float(a_s.min()), float(b_s.max())

    def score(mount: Rotation, lo: float, hi: float):
        sel = np.flatnonzero((t_ev >= t_min + lo - 1.0) & (t_ev <= t_max + hi + 1.0))
        if sel.size == 0:
            return 0, np.inf, np.zeros(0, int), np.zeros(0, int)
        pix = predict(mount.as_matrix(), sel)
        good = np.all(np.isfinite(pix), axis=1)
        sel, pix = sel[good], pix[good]
        d, k = tree.query(pix, distance_upper_bound=gmax)
        hit = np.isfinite(d)
        sel, d, k = sel[hit], d[hit], k[hit]
        ok = d <= gate_px[sel]
        plo, phi = pair_interval(t_ev[sel], a_s[k], b_s[k], tol_s[sel] if np.ndim(tol_s) else tol_s)
        ok &= (phi >= lo) & (plo <= hi)
        sel, d, k = sel[ok], d[ok], k[ok]
        if sel.size == 0:
            return 0, np.inf, sel, k
        # one event per flash: the nearest
        order = np.lexsort((d, k))
        k, sel, d = k[order], sel[order], d[order]
        first = np.r_[True, k[1:] != k[:-1]]
        k, sel, d = k[first], sel[first], d[first]
        cost = float(np.sum((d / gate_px[sel]) ** 2))
        return int(k.size), cost, k, sel

    return score
