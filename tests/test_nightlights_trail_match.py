"""The acceptance maths of the blind star search (cupola.nightlights.acceptance), against
independent references: explicit Poisson sums, Monte Carlo areas and chance counts, and trails by
finite differences of the projection."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cupola.geometry.camera import Camera
from cupola.nightlights import acceptance as acc


def _tail(n_beyond: int, lam: float) -> float:
    return 1.0 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(n_beyond))


@pytest.mark.parametrize("n, lam", [(1, 0.3), (2, 0.05), (3, 0.2), (6, 1.5)])
def test_chance_tail_is_the_poisson_tail(n, lam):
    assert acc.chance_tail_log10(n, lam) == pytest.approx(math.log10(_tail(n, lam)), rel=1e-9)
    assert acc.chance_tail_log10(0, lam) == 0.0


@pytest.mark.parametrize("lam, hyp", [(0.02, 1e4), (0.2, 1e5), (0.5, 1e6), (0.0177, 688611)])
def test_matches_needed_is_the_smallest_count_under_the_budget(lam, hyp):
    k = acc.matches_needed(lam, hyp, 1e-6)
    assert _tail(k - 3, lam) * hyp <= 1e-6
    assert _tail(k - 4, lam) * hyp > 1e-6


def test_five_stars_pass_only_with_almost_no_chance_matches():
    # five matches are two beyond the triangle: P(X >= 2) ~ lambda^2 / 2
    assert acc.matches_needed(1e-5, 1e2, 1e-6) == 5
    assert acc.matches_needed(1e-3, 1e2, 1e-6) > 5


def test_stadium_area_by_monte_carlo():
    rng = np.random.default_rng(1)
    r, length = 3.0, 20.0
    pts = rng.uniform([-20, -10], [20, 10], size=(400_000, 2))
    excess = np.maximum(np.abs(pts[:, 0]) - length / 2, 0.0)
    inside = np.hypot(excess, pts[:, 1]) <= r
    assert acc.stadium_area_px2(r, length) == pytest.approx(inside.mean() * 40 * 20, rel=0.01)


def test_stadium_matches_along_not_across_and_one_to_one():
    pc, pr = np.array([100.0, 200.0]), np.array([100.0, 100.0])
    tc, tr = np.array([0.0, 0.0]), np.array([30.0, 30.0])  # vertical trails, 30 px
    col = np.array([100.0, 110.0, 201.0, 200.0])
    row = np.array([112.0, 100.0, 99.0, 120.0])  # 12 px along; 10 px across; near; 20 px along
    s, p, d = acc.stadium_matches(pc, pr, tc, tr, col, row, 3.0)
    pairs = dict(zip(p.tolist(), s.tolist(), strict=True))
    assert pairs == {0: 0, 1: 2}  # source 1 is across the trail, source 3 beyond its end + r
    assert d.max() <= 3.0


def test_chance_matches_agree_with_lambda():
    rng = np.random.default_rng(2)
    w, h, n_src, n_pred, r, length = 1000.0, 800.0, 300, 40, 3.0, 25.0
    counts = []
    for _ in range(300):
        col, row = rng.uniform(0, w, n_src), rng.uniform(0, h, n_src)
        pc, pr = rng.uniform(50, w - 50, n_pred), rng.uniform(50, h - 50, n_pred)
        ang = rng.uniform(0, np.pi)
        tc, tr = np.full(n_pred, length * np.cos(ang)), np.full(n_pred, length * np.sin(ang))
        counts.append(acc.stadium_matches(pc, pr, tc, tr, col, row, r)[0].size)
    lam = acc.expected_chance_matches(n_pred, n_src, w * h, acc.stadium_area_px2(r, length))
    # one-to-one matching takes a little less than the independent-disc mean
    assert np.mean(counts) == pytest.approx(lam, rel=0.08)


def test_fixed_camera_trails_by_finite_differences():
    cam = Camera(focal_x_px=4000.0, focal_y_px=4000.0, cx_px=700.0, cy_px=460.0, width_px=1400, height_px=920)
    rot = Rotation.from_euler("xyz", [20.0, -35.0, 110.0], degrees=True)  # camera -> ICRS
    normal = np.array([0.3, -0.5, 0.81])
    normal /= np.linalg.norm(normal)
    angle = 2.0 * 1.13e-3
    col, row = np.array([100.0, 700.0, 1300.0]), np.array([80.0, 460.0, 900.0])
    tc, tr = acc.fixed_camera_trails(rot, normal, angle, cam, col, row)
    rays = cam.pixel_to_ray(col, row)
    s_icrs = rot.apply(rays / np.linalg.norm(rays, axis=1, keepdims=True))
    ends = []
    for t in (-0.5, 0.5):  # the camera turned about the orbit normal by angle * t
        turned = Rotation.from_rotvec(normal * angle * t) * rot
        ends.append(np.column_stack(cam.ray_to_pixel(turned.inv().apply(s_icrs))))
    diff = ends[1] - ends[0]
    # same segment up to its sign
    sign = np.sign(np.sum(diff[:, 0] * tc + diff[:, 1] * tr))
    np.testing.assert_allclose(sign * np.column_stack([tc, tr]), diff, atol=0.01 * np.hypot(*diff.T).max())
