"""The chance that a wrong attitude matches stars in position *and* in trail and brightness order.

Pure maths for issue 14 (docs/nightlights.md, *A joint chance bound*). The acceptance of
:mod:`cupola.nightlights.acceptance` counts chance matches by position only: a wrong candidate
matches ``X ~ Poisson(lambda)`` check stars beyond the triangle. Two further agreements are, under
a wrong candidate, independent of the positional count:

* **brightness order**: for a wrong candidate the sources near predicted stars are unrelated to
  them, so the flux ranks of the ``n`` matched sources are a uniformly random permutation of the
  catalog-magnitude ranks; the p-value of ``I`` or fewer discordant pairs (inversions) is the
  Mahonian tail :func:`rank_order_pvalue` (``1 / n!`` for a perfect order). The triangle's own
  stars are *chosen* bright on both sides, so only the matches beyond the triangle count;
* **trail direction and length**: every star of a frame trails alike (one attitude rate, one
  exposure), so the frame's trail is *one* measurement per candidate, not one per match. For a
  wrong candidate at a random attitude the predicted direction (a line, no sign) is uniform on
  [0, pi): agreement within ``delta`` has probability ``2 delta / pi``; the predicted length is
  ``L_max sin(theta)`` with ``theta`` the angle between boresight and rotation axis, ``cos theta``
  uniform for an isotropic boresight (:func:`trail_agreement_probability`).

Each is a p-value, uniform or super-uniform under a wrong candidate and independent of the others,
so the product ``c = p_1 ... p_m`` of ``m`` of them has ``P(product <= c) = c sum_{j<m} (-ln c)^j
/ j!`` (:func:`product_tail`); a candidate is accepted when that, times the hypotheses ``H`` the
search may verify, is <= alpha (:func:`joint_matches_needed`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "inversion_counts",
    "joint_matches_needed",
    "product_tail",
    "rank_order_pvalue",
    "trail_agreement_probability",
]


def inversion_counts(n: int) -> np.ndarray:
    """The Mahonian numbers: entry ``i`` is the number of permutations of ``n`` items with ``i``
    inversions (length ``n (n - 1) / 2 + 1``), as floats (exact up to n ~ 18)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    counts = np.ones(1)
    for m in range(2, n + 1):  # inserting the m-th item adds 0..m-1 inversions
        new = np.zeros(counts.size + m - 1)
        for add in range(m):
            new[add : add + counts.size] += counts
        counts = new
    return counts


def rank_order_pvalue(flux, magnitude) -> float:
    """P(as few inversions or fewer | a random order): brighter sources (larger ``flux``) should go
    with brighter stars (smaller ``magnitude``). 1 for fewer than two pairs; ties count half."""
    f = np.asarray(flux, float)
    m = np.asarray(magnitude, float)
    n = f.size
    if n < 2:
        return 1.0
    # pair (i, j) is discordant when the brighter source has the fainter star
    df = f[:, None] - f[None, :]
    dm = m[:, None] - m[None, :]
    s = np.sign(df) * np.sign(dm)  # > 0: discordant (more flux, larger magnitude)
    iu = np.triu_indices(n, 1)
    inv = float(np.sum(s[iu] > 0) + 0.5 * np.sum(s[iu] == 0))
    counts = inversion_counts(n)
    return float(np.sum(counts[: int(math.floor(inv)) + 1]) / math.factorial(n))


def trail_agreement_probability(direction_tol_rad: float, length_rel_tol: float | None, length_frac: float) -> float:
    """The chance that a wrong candidate at a random attitude predicts the frame's trail: direction
    (an undirected line) within ``direction_tol_rad`` and, unless ``length_rel_tol`` is None, length
    within a factor ``1 +- length_rel_tol`` of the measured ``length_frac`` = L / L_max (L_max the
    trail of a boresight at right angles to the rotation axis)."""
    p = min(1.0, 2.0 * float(direction_tol_rad) / math.pi)
    if length_rel_tol is None:
        return p
    a = min(max(length_frac * (1.0 - length_rel_tol), 0.0), 1.0)
    b = min(max(length_frac * (1.0 + length_rel_tol), 0.0), 1.0)
    return p * (math.sqrt(1.0 - a * a) - math.sqrt(1.0 - b * b))


def product_tail(c: float, m: int) -> float:
    """P(U_1 ... U_m <= c) for independent uniform U_i: ``c sum_{j<m} (-ln c)^j / j!`` (1 for c >= 1)."""
    if c >= 1.0:
        return 1.0
    if c <= 0.0:
        return 0.0
    t = -math.log(c)
    return float(min(1.0, c * sum(t**j / math.factorial(j) for j in range(max(int(m), 1)))))


def joint_matches_needed(
    expected: float,
    hypotheses: float,
    alpha: float = 1e-6,
    triangle: int = 3,
    trail_p: float | None = None,
    rank_order: bool = True,
    k_max: int = 60,
) -> int | None:
    """The fewest matches ``k`` (triangle included) a true candidate must reach under the joint bound
    *in the best case*: the ``k - triangle`` further matches in perfect brightness order (p-value
    ``1 / (k - triangle)!``) and, when ``trail_p`` is given, the frame's trail predicted (p-value
    ``trail_p``). None if no ``k`` up to ``k_max`` does."""
    from cupola.nightlights.acceptance import chance_tail_log10

    target = alpha / max(float(hypotheses), 1.0)
    for k in range(triangle + 1, k_max + 1):
        beyond = k - triangle
        ps = [10.0 ** chance_tail_log10(beyond, expected)]
        if rank_order and beyond >= 2:
            ps.append(1.0 / math.factorial(beyond))
        if trail_p is not None:
            ps.append(float(trail_p))
        if product_tail(float(np.prod(ps)), len(ps)) <= target:
            return k
    return None
