"""The joint chance bound of issue 14 (cupola.nightlights.joint_chance) against independent references."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from cupola.nightlights import joint_chance as jc
from cupola.nightlights.acceptance import matches_needed


def _inversions(p):
    return sum(1 for i, j in itertools.combinations(range(len(p)), 2) if p[i] > p[j])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
def test_mahonian_numbers_by_enumeration(n):
    brute = np.bincount([_inversions(p) for p in itertools.permutations(range(n))], minlength=n * (n - 1) // 2 + 1)
    assert np.array_equal(jc.inversion_counts(n), brute)


def test_rank_order_pvalue_matches_kendall_exact():
    rng = np.random.default_rng(4)
    for n in (4, 6, 9):
        for _ in range(5):
            flux = rng.permutation(n).astype(float) + 1.0
            mag = rng.permutation(n).astype(float)
            # concordance of brightness = positive tau between flux and -magnitude
            ref = stats.kendalltau(flux, -mag, method="exact", alternative="greater").pvalue
            assert jc.rank_order_pvalue(flux, mag) == pytest.approx(ref, rel=1e-9)
    assert jc.rank_order_pvalue([5, 4, 3, 2, 1], [1, 2, 3, 4, 5]) == pytest.approx(1 / 120)
    assert jc.rank_order_pvalue([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)


def test_product_tail_is_the_gamma_tail():
    for m in (1, 2, 3, 4):
        for c in (0.3, 1e-3, 1e-9):
            assert jc.product_tail(c, m) == pytest.approx(stats.gamma.sf(-math.log(c), m), rel=1e-9)


def test_trail_agreement_by_monte_carlo():
    rng = np.random.default_rng(7)
    n = 400_000
    z = rng.uniform(-1, 1, n)  # isotropic boresight: cos(theta) uniform
    frac = np.sqrt(1 - z * z)
    phi = rng.uniform(0, np.pi, n)
    d = np.abs((phi - 1.0 + np.pi / 2) % np.pi - np.pi / 2)
    hit = (d <= np.radians(5)) & (np.abs(frac / 0.6 - 1) <= 0.1)
    p = jc.trail_agreement_probability(np.radians(5), 0.1, 0.6)
    assert hit.mean() == pytest.approx(p, rel=0.1)


def test_joint_bound_needs_no_more_than_position_alone_and_reduces_to_it():
    for lam, h in ((0.018, 6.9e5), (0.18, 2.2e7), (0.4, 4e5)):
        alone = matches_needed(lam, h)
        assert jc.joint_matches_needed(lam, h, rank_order=False) == alone
        assert jc.joint_matches_needed(lam, h, trail_p=0.01) <= alone
