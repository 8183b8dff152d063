"""Lightning cross-referencing (issue 6): readers, geometry, association and solve on simulated scenes,
detection on rendered frames and video, the CLI through its real entry point."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import FRAME_TIME, TLE_FILE
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import attitude, orbit
from cupola.geometry.camera import Camera
from cupola.geometry.trajectory import trajectory
from cupola.lightning import crb, observe
from cupola.lightning.events import Events, parse_utc, read_events
from cupola.lightning.flashes import Frames, read_frame_times
from cupola.lightning.solve import SolveOptions, solve
from cupola.simulate.lightning import SceneSpec, simulate_scene

UTC = dt.timezone.utc
METEOR_RPY = (-5.66, 0.71, 84.52)


@pytest.fixture(scope="module")
def elements():
    return orbit.select_element_set(orbit.parse_tle(TLE_FILE.read_text()), FRAME_TIME)


@pytest.fixture(scope="module")
def d5():
    return Camera.from_focal_sensor(
        focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=5568, height_px=3712
    )


@pytest.fixture(scope="module")
def meteor():
    return Camera.from_focal_sensor(
        focal_mm=10.5, sensor_width_mm=8.7, sensor_height_mm=4.89375, width_px=1280, height_px=738
    )


def pose_error_m(scene, sol, elements):
    """Median check-point error (m) of the solved vs true camera at the true first-frame instant."""
    tr = trajectory(elements, FRAME_TIME, np.array([scene.reference_offset_s]))
    cols, rows = crb.checkpoint_grid(scene.camera)
    return float(
        np.median(
            crb.checkpoint_errors(
                scene.camera, scene.mount, sol.camera, sol.mount, tr.position_m[0], tr.lvlh_to_itrs[0], cols, rows
            )
        )
    )


def wrong_pairs(scene, sol) -> int:
    return int(np.sum(scene.flash_event[sol.flash_index] != sol.event_index))


# --- readers --------------------------------------------------------------------------------------------------


def test_parse_utc_forms():
    base = np.datetime64("2017-05-17T05:44:09.123456789", "ns")
    assert parse_utc("2017-05-17T05:44:09.123456789Z") == base
    assert parse_utc("2017-05-17 05:44:09.123456789") == base  # no zone: the column says UTC
    assert parse_utc("2017-05-17T07:44:09.123456789+02:00") == base
    assert parse_utc("2017-05-17T00:44:09.123456789-0500") == base
    assert parse_utc("2017-05-17T05:44:09Z") == np.datetime64("2017-05-17T05:44:09", "ns")
    with pytest.raises(InputError, match="not an ISO 8601"):
        parse_utc("17/05/2017 05:44")
    with pytest.raises(InputError, match="not a valid date"):
        parse_utc("2017-02-30T00:00:00Z")


def test_read_network_and_mapper_events(tmp_path):
    p = tmp_path / "net.csv"
    p.write_text(
        "# ENTLN export\nTYPE, time_utc ,lat,lon,peak_current_ka,height_m\n"
        "CG,2017-05-17T05:44:10.000002Z,29.5,-100.5,-23.5,\n"
        "IC,2017-05-17T05:44:09.5Z,29.6,259.5,,12000\n"
    )
    ev = read_events(p)
    assert len(ev) == 2
    assert list(ev.type) == ["IC", "CG"]  # sorted by time
    assert ev.lon_deg[0] == pytest.approx(-100.5)  # 259.5 wrapped
    assert ev.height_m[0] == 12000 and np.isnan(ev.height_m[1])
    assert np.isnan(ev.peak_current_ka[0]) and ev.peak_current_ka[1] == -23.5
    assert set(ev.kind) == {"network"} and np.all(ev.sigma_m == 150.0)
    assert ev.where(1) == f"{p}:3"
    assert ev.offsets_s(dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=UTC))[1] == pytest.approx(1.000002, abs=1e-9)
    m = tmp_path / "glm.csv"
    m.write_text("time_utc,lat,lon,energy\n2017-05-17T05:44:09.731Z,29.9,-101.3,2.1e-14\n")
    g = read_events(m)
    assert g.kind[0] == "mapper" and g.sigma_m[0] == 4000.0 and g.time_sigma_s[0] == 2e-3
    both = Events.concat([ev, g])
    assert len(both) == 3 and both.kind[1] == "mapper" and both.where(1) == f"{m}:2"
    assert read_events(p, sigma_m=2000.0).sigma_m[0] == 2000.0


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "file is empty"),
        ("time_utc;lat;lon\n", "separated by ';'"),
        ("time_utc,lat\n2017-05-17T05:44:09Z,29\n", "missing column lon"),
        ("time,lat,lon\n2017-05-17T05:44:09Z,29,-100\n", "'time' is not understood; expected 'time_utc'"),
        ("time_utc,lat,lon,height\n2017-05-17T05:44:09Z,29,-100,9000\n", "'height' is not understood"),
        ("time_utc,lat,lon\n", "no data rows"),
        ("time_utc,lat,lon\n2017-05-17T05:44:09Z,95,-100\n", r"line 2, column lat: 95 is out of range"),
        ("time_utc,lat,lon\n2017-05-17T05:44:09Z,29,west\n", r"line 2, column lon: 'west' is not a number"),
        ("time_utc,lat,lon\nyesterday,29,-100\n", r"line 2, column time_utc: 'yesterday' is not an ISO 8601"),
        ("time_utc,lat,lon\n2017-05-17T05:44:09Z,29\n", r"line 2: 2 fields; expected 3"),
        ("time_utc,lat,lon,height_m\n2017-05-17T05:44:09Z,29,-100,9e5\n", r"column height_m: 9e5 is out of range"),
        ("time_utc,lat,lon,energy\n2017-05-17T05:44:09Z,29,-100,-1\n", r"column energy: -1 is out of range"),
    ],
)
def test_malformed_event_files(tmp_path, text, match):
    p = tmp_path / "events.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as exc:
        read_events(p)
    assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_binary_and_missing_event_files(tmp_path):
    b = tmp_path / "events.csv"
    b.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_events(b)
    with pytest.raises(InputError, match="not found"):
        read_events(tmp_path / "nope.csv")


def test_frame_times(tmp_path):
    for n in ("a.png", "b.png", "c.png"):
        (tmp_path / n).write_bytes(b"x")
    p = tmp_path / "times.csv"
    p.write_text(
        "file,time_utc,exposure_s\nb.png,2017-05-17T05:44:10.5Z,0.5\na.png,2017-05-17T05:44:09.5Z,0.5\n"
        "c.png,2017-05-17T05:44:11.5Z,0.25\n"
    )
    fr = read_frame_times(p, tmp_path)
    assert fr.names == ("a.png", "b.png", "c.png")
    assert fr.epoch == dt.datetime(2017, 5, 17, 5, 44, 9, 500000, tzinfo=UTC)
    assert np.allclose(fr.start_s, [0, 1, 2]) and np.allclose(fr.exposure_s, [0.5, 0.5, 0.25]) and not fr.is_video
    q = tmp_path / "t2.csv"
    q.write_text("file,time_utc\na.png,2017-05-17T05:44:09.500Z\nb.png,2017-05-17T05:44:09.5167Z\n")
    v = read_frame_times(q, tmp_path)
    assert v.exposure_s[0] == pytest.approx(0.0167) and v.is_video
    bad = tmp_path / "bad.csv"
    bad.write_text("file,time_utc,exposure_s\nzz.png,2017-05-17T05:44:09Z,0.5\n")
    with pytest.raises(InputError, match="'zz.png' not found"):
        read_frame_times(bad, tmp_path)
    bad.write_text("file,time_utc,exposure_s\na.png,2017-05-17T05:44:09Z,2\nb.png,2017-05-17T05:44:10Z,2\n")
    with pytest.raises(InputError, match="overlaps the next frame"):
        read_frame_times(bad, tmp_path)
    bad.write_text("file,time_utc,exposure\na.png,2017-05-17T05:44:09Z,2\n")
    with pytest.raises(InputError, match="no unit"):
        read_frame_times(bad, tmp_path)


# --- geometry -------------------------------------------------------------------------------------------------


def test_trajectory_matches_state_at(elements):
    offs = np.array([-3.0, 0.0, 0.123456, 7.5])
    tr = trajectory(elements, FRAME_TIME, offs)
    for i, o in enumerate(offs):
        st = orbit.state_at(elements, FRAME_TIME + dt.timedelta(seconds=float(o)))
        assert np.abs(tr.position_m[i] - st.position_m).max() < 1e-3
        assert np.abs(tr.lvlh_to_itrs[i] - attitude.lvlh_to_itrs(st)).max() < 1e-9


def test_observation_model_round_trip_and_jacobian(elements, d5):
    """An emission point cast from a pixel projects back onto it; the analytic Jacobian matches."""
    from cupola.geometry import geodesy

    t = np.array([0.25, 0.75, 1.5])
    tr = trajectory(elements, FRAME_TIME, t)
    mount = attitude.rotation_from_rpy(3.0, -2.0, 40.0).as_matrix()
    col, row = np.array([100.0, 2780.0, 5400.0]), np.array([3600.0, 1850.0, 50.0])
    pts = np.array(
        [
            geodesy.ray_ellipsoid_intersection(
                tr.position_m[i], tr.lvlh_to_itrs[i] @ mount @ d5.pixel_to_ray(c, r), 11000.0
            )
            for i, (c, r) in enumerate(zip(col, row))
        ]
    )
    lon, lat, h = geodesy.ecef_to_geodetic(pts)
    geom = observe.event_geometry(
        elements, FRAME_TIME, t, np.degrees(lon), np.degrees(lat), np.full(3, np.nan), np.full(3, 150.0)
    )
    c = observe.camera_vectors(mount, geom.position_m, geom.lvlh, geom.points(11000.0))
    assert np.abs(observe.project(d5, c) - np.column_stack([col, row])).max() < 1e-4
    jac = observe.pixel_jacobian(d5, mount, geom.lvlh, c)
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1.0
        cp = observe.camera_vectors(mount, geom.position_m, geom.lvlh, geom.points(11000.0) + e)
        fd = observe.project(d5, cp) - observe.project(d5, c)
        assert np.abs(fd - jac[:, :, k]).max() < 1e-4
    # the parallax term vanishes at nadir and grows towards the edge
    cov = observe.pixel_covariance(jac, geom.enu, geom.sigma_m, np.full(3, 2000.0), 1.0)
    assert np.all(np.linalg.eigvalsh(cov)[:, -1] > 1.0)


# --- association and solve on simulated scenes ------------------------------------------------------------------


def test_known_answer_d5_stills(elements, d5):
    """50 flashes, unknown clock offset of +2.2 s, no attitude guess: pose, offset and emission height."""
    rpy = (2.0, -1.5, 123.0)
    sc = simulate_scene(elements, FRAME_TIME, d5, rpy, SceneSpec(n_flashes=50, clock_offset_s=2.2), seed=11)
    sol = solve(sc.flashes, sc.events, elements, d5)
    assert wrong_pairs(sc, sol) == 0
    assert sol.flash_index.size >= 40
    err = pose_error_m(sc, sol, elements)
    assert err < 120.0  # the bound is ~46 m for such scenes
    r, p, y = sol.rpy_deg
    sr, sp, sy = sol.rpy_sigma_deg
    for got, want, s in ((r, rpy[0], sr), (p, rpy[1], sp), (y, rpy[2], sy)):
        assert abs(got - want) < 5 * s + 1e-4
    lo, hi = sol.clock_window_s
    assert lo <= 2.2 <= hi and hi - lo < 0.05
    assert sol.clock_offset_s == pytest.approx(2.2, abs=0.03)
    assert abs(sol.emission_height_m - 10_000.0) < 4 * sol.emission_height_sigma_m
    assert sol.seconds < 5.0
    assert 0.3 < sol.chi2 / sol.dof < 2.0
    # the covariance agrees with the Cramer-Rao bound of the same pairs (same model)
    ev = sc.events.subset(sol.event_index)
    geom = observe.event_geometry(
        elements, FRAME_TIME, ev.offsets_s(FRAME_TIME), ev.lon_deg, ev.lat_deg, ev.height_m, ev.sigma_m
    )
    cov, names = crb.fisher_covariance(d5, sc.mount, geom, SolveOptions())
    assert names == sol.param_names
    assert np.allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(sol.covariance)), rtol=0.1)


def test_crb_scales_with_number_of_flashes(elements, d5):
    out = []
    for n in (40, 160):
        sc = simulate_scene(
            elements, FRAME_TIME, d5, (0, 0, 30), SceneSpec(n_flashes=n, false_rate=0, miss_rate=0), seed=5
        )
        tk, te = sc.true_pairs
        ev = sc.events
        geom = observe.event_geometry(
            elements,
            FRAME_TIME,
            ev.offsets_s(FRAME_TIME)[te],
            ev.lon_deg[te],
            ev.lat_deg[te],
            ev.height_m[te],
            ev.sigma_m[te],
        )
        cov, names = crb.fisher_covariance(d5, sc.mount, geom, SolveOptions())
        tr = trajectory(elements, FRAME_TIME, np.array([0.0]))
        cols, rows = crb.checkpoint_grid(d5)
        out.append(
            crb.crb_median_error(
                d5, sc.mount, cov, names, tr.position_m[0], tr.lvlh_to_itrs[0], cols, rows, n_samples=1000
            )
        )
    assert 25 < out[0] < 80  # the budget: ~45 m for 50 flashes
    assert out[1] / out[0] == pytest.approx(0.5, abs=0.12)  # 1 / sqrt(4)


def test_robust_to_30_percent_outliers(elements, d5):
    """30 % false optical detections and 30 % false network events, 30 % of flashes unseen."""
    spec = SceneSpec(n_flashes=60, false_rate=0.3, miss_rate=0.3, network_false_rate=0.3, clock_offset_s=-1.3)
    sc = simulate_scene(elements, FRAME_TIME, d5, (-3.0, 1.0, -60.0), spec, seed=21)
    sol = solve(sc.flashes, sc.events, elements, d5)
    assert wrong_pairs(sc, sol) <= 1
    assert sol.flash_index.size >= 30
    assert pose_error_m(sc, sol, elements) < 150.0
    assert sol.clock_window_s[0] <= -1.3 <= sol.clock_window_s[1]


def test_unweighted_fit_is_worse_than_the_weighted_one(elements, d5):
    from cupola.lightning.solve import fit_pairs

    errs_w, errs_u = [], []
    for seed in range(4):
        sc = simulate_scene(elements, FRAME_TIME, d5, (1.0, 1.0, 10.0 * seed), SceneSpec(n_flashes=80), seed=100 + seed)
        sol = solve(sc.flashes, sc.events, elements, d5)
        m_u, c_u, _ = fit_pairs(sol, sc.flashes, sc.events, d5, SolveOptions(), uniform_weights=True)
        tr = trajectory(elements, FRAME_TIME, np.array([0.0]))
        cols, rows = crb.checkpoint_grid(d5)
        errs_w.append(pose_error_m(sc, sol, elements))
        errs_u.append(
            float(
                np.median(
                    crb.checkpoint_errors(d5, sc.mount, c_u, m_u, tr.position_m[0], tr.lvlh_to_itrs[0], cols, rows)
                )
            )
        )
    assert np.mean(errs_w) < np.mean(errs_u)


def test_emission_height_and_focal_length_solved(elements, d5, meteor):
    # cloud tops at 14 km: the default 10 km is far off, the data move it (D5: it is constrained)
    sc = simulate_scene(
        elements,
        FRAME_TIME,
        d5,
        (0.5, 0.5, 0.0),
        SceneSpec(n_flashes=120, cloud_top_m=14_000.0, cloud_top_sigma_m=1_000.0),
        seed=8,
    )
    sol = solve(sc.flashes, sc.events, elements, d5, SolveOptions(height_mode="free"))
    assert sol.emission_height_source == "solved"
    assert abs(sol.emission_height_m - 14_000.0) < max(4 * sol.emission_height_sigma_m, 600.0)
    # a lens whose focal length is 3 % off the nominal one (no height solve: they trade off near nadir)
    true_cam = meteor.with_focal_scale(1.03)
    sc = simulate_scene(elements, FRAME_TIME, true_cam, METEOR_RPY, SceneSpec(n_flashes=80, n_frames=20), seed=9)
    sol = solve(sc.flashes, sc.events, elements, meteor, SolveOptions(solve_focal=True, height_mode="fixed"))
    assert sol.camera.focal_px == pytest.approx(true_cam.focal_px, rel=0.004)
    assert abs(sol.camera.focal_px - true_cam.focal_px) < 5 * sol.focal_sigma_px
    assert wrong_pairs(sc, sol) == 0


def test_attitude_guess_and_mapper_events(elements, meteor):
    spec = SceneSpec(n_flashes=40, mapper=True, clock_offset_s=0.4)
    sc = simulate_scene(elements, FRAME_TIME, meteor, METEOR_RPY, spec, seed=4)
    both = Events.concat([sc.events, sc.mapper])
    sol = solve(sc.flashes, both, elements, meteor, SolveOptions(attitude_guess_deg=(-3.0, 3.0, 80.0)))
    assert np.allclose(sol.rpy_deg, METEOR_RPY, atol=0.1)
    kinds = set(both.kind[sol.event_index])
    assert "network" in kinds
    # a guess 60 degrees off in yaw with a 10-degree radius finds nothing consistent
    with pytest.raises(NoSolutionError):
        solve(sc.flashes, sc.events, elements, meteor, SolveOptions(attitude_guess_deg=(-5.66, 0.71, 144.5)))
    # mapper groups alone (4 km errors) still orient the camera, more loosely
    sol_m = solve(sc.flashes, sc.mapper, elements, meteor)
    assert np.allclose(sol_m.rpy_deg[:2], METEOR_RPY[:2], atol=0.5)


def test_video_scene_centroid_times(elements, meteor):
    """In video the centroid is timed by the camera clock: the pose is consistent with the offset."""
    spec = SceneSpec(n_flashes=40, n_frames=300, frame_interval_s=1 / 59.94, exposure_s=1 / 59.94, clock_offset_s=-0.8)
    sc = simulate_scene(elements, FRAME_TIME, meteor, METEOR_RPY, spec, seed=12)
    assert np.isfinite(sc.flashes.t_centroid_s).all()
    sol = solve(sc.flashes, sc.events, elements, meteor)
    assert wrong_pairs(sc, sol) == 0
    lo, hi = sol.clock_window_s
    assert lo - 1e-3 <= -0.8 <= hi + 1e-3 and hi - lo < 0.2
    tr = trajectory(elements, FRAME_TIME, np.array([-0.8, sol.clock_offset_s]))
    cols, rows = crb.checkpoint_grid(meteor)
    a = crb._ground(meteor, sc.mount.as_matrix(), tr.position_m[0], tr.lvlh_to_itrs[0], cols, rows)
    b = crb._ground(sol.camera, sol.mount.as_matrix(), tr.position_m[1], tr.lvlh_to_itrs[1], cols, rows)
    assert np.median(np.linalg.norm(a - b, axis=1)) < 300.0  # ~1 Meteor pixel; the bound is ~80 m


@pytest.mark.parametrize("kind,n_far", [("stills", 30), ("stills", 100), ("video", 30)])
def test_events_in_time_but_out_of_view(elements, d5, meteor, kind, n_far):
    """Network events at the right times but below the station's horizon (the antipodes of scene
    events) are cut from the problem: the solve is the one without them. The first orientation
    search once kept their emission points while every other per-event array dropped them, which
    mismatched points and stations (stills: no consistent set; video: a broadcasting error)."""
    if kind == "stills":
        cam, rpy = d5, (2.0, -1.5, 123.0)
        spec = SceneSpec(n_flashes=50, clock_offset_s=2.2)
        seed = 11
    else:
        cam, rpy = meteor, METEOR_RPY
        spec = SceneSpec(
            n_flashes=40, n_frames=300, frame_interval_s=1 / 59.94, exposure_s=1 / 59.94, clock_offset_s=-0.8
        )
        seed = 12
    sc = simulate_scene(elements, FRAME_TIME, cam, rpy, spec, seed=seed)
    base = solve(sc.flashes, sc.events, elements, cam)
    rng = np.random.default_rng(5)
    t0, t1 = sc.events.time.min(), sc.events.time.max()
    t_far = t0 + rng.integers(0, int((t1 - t0).astype(np.int64)), n_far).astype("timedelta64[ns]")
    i = rng.integers(0, len(sc.events), n_far)
    far = Events.from_arrays(t_far, sc.events.lon_deg[i] + 180.0, -sc.events.lat_deg[i])
    both = Events.concat([sc.events, far])  # sorted by time: the far events fall between the scene's
    n = len(sc.events)
    order = np.argsort(np.r_[sc.events.time, far.time], kind="stable")
    assert np.array_equal(both.time, np.r_[sc.events.time, far.time][order])
    scene_index = np.where(order < n, order, -1)  # index into sc.events of each of both's events
    assert np.any(np.diff(np.flatnonzero(scene_index < 0)) > 1)  # interleaved, not all at the end
    sol = solve(sc.flashes, both, elements, cam)
    got = scene_index[sol.event_index]
    assert np.all(got >= 0)  # no far event matched
    assert np.sum(sc.flash_event[sol.flash_index] != got) == 0
    assert np.array_equal(sol.flash_index, base.flash_index) and np.array_equal(got, base.event_index)
    assert np.allclose(sol.rpy_deg, base.rpy_deg, atol=1e-9, rtol=0)
    assert sol.clock_offset_s == pytest.approx(base.clock_offset_s, abs=1e-9)


@pytest.mark.parametrize("case", ["two flashes", "no overlap", "events elsewhere", "no consistent pairs"])
def test_no_solution_reasons(elements, meteor, case):
    sc = simulate_scene(elements, FRAME_TIME, meteor, METEOR_RPY, SceneSpec(n_flashes=30), seed=2)
    fl, ev = sc.flashes, sc.events
    if case == "two flashes":
        fl, match = fl.subset([0, 1]), "only 2 optical flashes detected"
    elif case == "no overlap":
        ev = Events.from_arrays(ev.time + np.timedelta64(3600, "s"), ev.lon_deg, ev.lat_deg)
        match = "no time overlap"
    elif case == "events elsewhere":  # right times, the other side of the Earth
        ev = Events.from_arrays(ev.time, ev.lon_deg + 180.0, -ev.lat_deg)
        match = "in view of the station"
    else:  # right times and area, scrambled positions
        rng = np.random.default_rng(0)
        ev = Events.from_arrays(ev.time, rng.permutation(ev.lon_deg), rng.permutation(ev.lat_deg))
        match = "no consistent set|only .* match"
    with pytest.raises(NoSolutionError, match=match):
        solve(fl, ev, elements, meteor)


# --- detection on rendered images -------------------------------------------------------------------------------


def _match_truth(scene, flashes):
    from scipy.spatial import cKDTree

    seen = scene.render["px"][scene.render["detected"]]
    d, _ = cKDTree(seen).query(np.column_stack([flashes.col_px, flashes.row_px]))
    return d


def test_detect_stills_against_city_lights(elements, meteor):
    from cupola.lightning.detect import detect_flashes
    from cupola.simulate.lightning import render_frames

    sc = simulate_scene(elements, FRAME_TIME, meteor, METEOR_RPY, SceneSpec(n_flashes=24, n_frames=5), seed=3)
    imgs = [im for _, im in render_frames(sc, FRAME_TIME)]
    fl = detect_flashes(iter(imgs), sc.frames)
    d = _match_truth(sc, fl)
    good = d < 2.0
    px = sc.render["px"][sc.render["detected"]]
    clear = (px[:, 0] > 40) & (px[:, 0] < 1240) & (px[:, 1] > 40) & (px[:, 1] < 698)  # patches not cut by the edge
    assert good.sum() >= 0.85 * clear.sum()
    assert np.median(d[good]) < 0.3  # sub-pixel centroids
    assert (~good).sum() <= 3  # no city lights taken for flashes (a blend of overlapping patches may be)
    sol = solve(fl, sc.events, elements, meteor)
    assert np.allclose(sol.rpy_deg, METEOR_RPY, atol=0.1)


def test_detect_video_links_frames(elements):
    from cupola.lightning.detect import detect_flashes
    from cupola.simulate.lightning import render_frames

    cam = Camera.from_focal_sensor(
        focal_mm=5.25, sensor_width_mm=8.7, sensor_height_mm=4.89375, width_px=640, height_px=369
    )
    spec = SceneSpec(
        n_flashes=25, n_frames=100, frame_interval_s=1 / 59.94, exposure_s=1 / 59.94, clock_offset_s=0.3, n_cities=30
    )
    sc = simulate_scene(elements, FRAME_TIME, cam, METEOR_RPY, spec, seed=6)
    imgs = [im for _, im in render_frames(sc, FRAME_TIME)]
    fl = detect_flashes(iter(imgs), sc.frames)
    assert np.isfinite(fl.t_centroid_s).all()
    assert np.all(fl.frame_end >= fl.frame_start) and (fl.frame_end > fl.frame_start).any()
    d = _match_truth(sc, fl)
    assert (d < 2.0).sum() >= 0.7 * sc.render["detected"].sum()
    sol = solve(fl, sc.events, elements, cam)
    assert np.allclose(sol.rpy_deg, METEOR_RPY, atol=0.3)
    assert sol.clock_window_s[0] - 0.02 <= 0.3 <= sol.clock_window_s[1] + 0.02


# --- the command line -------------------------------------------------------------------------------------------


def cupola(*args, timeout=300):
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "cupola", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


METEOR_CAMERA = ["--focal-mm", "10.5", "--sensor-mm", "8.7", "4.89375"]


@pytest.fixture(scope="module")
def simulated_sequence(tmp_path_factory):
    d = tmp_path_factory.mktemp("lightning_sim")
    proc = cupola(
        "lightning",
        "simulate",
        "--tle",
        TLE_FILE,
        "--time",
        "2017-05-17T05:44:09.526Z",
        "--attitude",
        *METEOR_RPY,
        "--camera",
        "meteor",
        "--flashes",
        30,
        "--frames",
        4,
        "--clock-offset-s",
        1.7,
        "--seed",
        5,
        "--out",
        d / "scene",
    )
    assert proc.returncode == 0, proc.stderr
    return d / "scene"


def test_cli_simulate_then_solve_frames(simulated_sequence, tmp_path):
    scene = simulated_sequence
    assert {"frames", "frame_times.csv", "events.csv", "detections.csv", "truth.json"} <= {
        p.name for p in scene.iterdir()
    }
    truth = json.loads((scene / "truth.json").read_text())
    pixels = tmp_path / "pixels.csv"
    pixels.write_text("col,row,height_m\n639.5,368.5,0\n639.5,368.5,10000\n0,0,0\n")
    out = tmp_path / "out"
    proc = cupola(
        "lightning",
        "solve",
        "--frames",
        scene / "frames",
        "--frame-times",
        scene / "frame_times.csv",
        "--events",
        scene / "events.csv",
        "--tle",
        TLE_FILE,
        *METEOR_CAMERA,
        "--pixels",
        pixels,
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()} - {".cupola-products.json"}  # the product manifest
    assert names == {
        "result.json",
        "flashes.csv",
        "flashes.geojson",
        "footprint.geojson",
        "footprint.kml",
        "georef.tif",
        "quicklook.png",
        "lightning.png",
        "pixels.csv",
    }
    res = json.loads((out / "result.json").read_text())
    assert res["schema"] == "cupola.lightning/1"
    pose = res["pose"]
    for key, want in zip(
        ("lvlh_roll_deg", "lvlh_pitch_deg", "lvlh_yaw_deg"), truth["attitude_lvlh_roll_pitch_yaw_deg"]
    ):
        assert pose[key] == pytest.approx(want, abs=0.1)
    lo, hi = res["clock_offset"]["window_s"]
    assert lo <= truth["clock_offset_s"] <= hi and res["clock_offset_s"] == pytest.approx(1.7, abs=0.05)
    assert res["clock_offset"]["definition"].startswith("network time minus camera time")
    assert res["fit"]["pairs"] >= 15 and res["matched_pairs"][0]["residual_m_east_north"]
    assert res["geolocation_uncertainty"]["grid_median_rms_m"] > 0
    assert res["georeference"]["schema"] == "cupola.geolocate/1"
    rows = list(csv.DictReader((out / "flashes.csv").open()))
    assert len(rows) == res["fit"]["flashes"]
    matched = [r for r in rows if r["event"]]
    assert len(matched) == res["fit"]["pairs"]
    assert all(r["event"].startswith(str(scene / "events.csv")) for r in matched)
    gj = json.loads((out / "flashes.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(rows)
    px = list(csv.DictReader((out / "pixels.csv").open()))
    assert [float(r["height_m"]) for r in px] == [0.0, 10000.0, 0.0]
    assert px[0]["lat"] != px[1]["lat"]  # a cloud-top pixel lands elsewhere than a ground pixel


def test_cli_solve_with_detections_and_video(simulated_sequence, tmp_path):
    scene = simulated_sequence
    out = tmp_path / "with_detections"
    proc = cupola(
        "lightning",
        "solve",
        "--frames",
        scene / "frames",
        "--frame-times",
        scene / "frame_times.csv",
        "--flashes",
        scene / "detections.csv",
        "--events",
        scene / "events.csv",
        "--tle",
        TLE_FILE,
        *METEOR_CAMERA,
        "--attitude-guess",
        -5,
        0,
        85,
        "--quiet",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "result.json").read_text())["input"]["flashes_file"].endswith("detections.csv")
    pytest.importorskip("cv2")
    vid = tmp_path / "video"
    proc = cupola(
        "lightning",
        "simulate",
        "--tle",
        TLE_FILE,
        "--time",
        "2017-05-17T05:44:09.526Z",
        "--attitude",
        *METEOR_RPY,
        "--focal-mm",
        5.25,
        "--sensor-mm",
        8.7,
        4.89375,
        "--size",
        640,
        369,
        "--flashes",
        25,
        "--frames",
        100,
        "--interval-s",
        0.016683,
        "--video",
        "--clock-offset-s",
        -0.4,
        "--seed",
        6,
        "--out",
        vid,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "video_out"
    proc = cupola(
        "lightning",
        "solve",
        "--video",
        vid / "video.avi",
        "--time",
        "2017-05-17T05:44:09.526Z",
        "--events",
        vid / "events.csv",
        "--tle",
        TLE_FILE,
        "--focal-mm",
        5.25,
        "--sensor-mm",
        8.7,
        4.89375,
        "--quiet",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads((out / "result.json").read_text())
    assert res["input"]["mode"] == "video" and res["input"]["frames"] == 100
    assert res["pose"]["lvlh_yaw_deg"] == pytest.approx(METEOR_RPY[2], abs=0.3)


def test_cli_errors(simulated_sequence, tmp_path):
    scene = simulated_sequence
    base = [
        "lightning",
        "solve",
        "--frames",
        scene / "frames",
        "--frame-times",
        scene / "frame_times.csv",
        "--tle",
        TLE_FILE,
        *METEOR_CAMERA,
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("time_utc,lat,lon\n2017-05-17T05:44:10Z,29.5,-100\n2017-05-17T05:44:11Z,129.5,-100\n")
    out = tmp_path / "out"
    proc = cupola(*base, "--events", bad, "--out", out)
    assert proc.returncode == 2
    line = one_line(proc)
    assert str(bad) in line and "line 3" in line and "lat" in line
    assert not out.exists()
    # no time overlap: exit 3 with the reason, nothing written
    late = tmp_path / "late.csv"
    late.write_text("time_utc,lat,lon\n2017-05-17T07:00:00Z,29.5,-100\n")
    proc = cupola(*base, "--events", late, "--out", out)
    assert proc.returncode == 3
    assert "no solution: no time overlap" in one_line(proc)
    assert not out.exists()
    # too few flashes
    few = tmp_path / "few.csv"
    rows = (scene / "detections.csv").read_text().splitlines()[:3]
    few.write_text("\n".join(rows) + "\n")
    proc = cupola(*base, "--flashes", few, "--events", scene / "events.csv", "--out", out)
    assert proc.returncode == 3 and "only 2 optical flashes" in one_line(proc)
    # two inputs at once
    proc = cupola(*base, "--video", bad, "--events", scene / "events.csv", "--out", out)
    assert proc.returncode == 2 and "exactly one input" in one_line(proc)


def test_detect_the_real_meteor_flash():
    """The bundled real frame (Meteor camera, 2017-05-17) shows a lightning-lit cloud near the lower
    left, beside city lights (Del Rio at the top) and the camera's logo: the lit cloud is found and is
    by far the brightest detection, centred on its core, not on its halo reaching the frame's edge."""
    from conftest import PHOTO
    from cupola.io.images import read_photo
    from cupola.lightning.detect import detect_flashes

    img, _ = read_photo(PHOTO)
    frames = Frames(FRAME_TIME, np.array([0.0]), np.array([1 / 59.94]), (PHOTO.name,))
    fl = detect_flashes(iter([img]), frames)
    k = int(np.argmax(fl.brightness))
    assert fl.col_px[k] == pytest.approx(243.5, abs=3) and fl.row_px[k] == pytest.approx(630.0, abs=3)
    assert fl.brightness[k] > 3 * np.sort(fl.brightness)[-2]


def test_offset_vote_and_one_to_one_assignment():
    from cupola.lightning.associate import CandidatePairs, assign, best_offset
    from cupola.lightning.solve import _pair_cost

    # flashes 0-2 agree on an offset near 1.2 s; flash 3 has a partner only at 5 s
    pairs = CandidatePairs(
        np.array([0, 1, 2, 3, 0]),
        np.array([10, 11, 12, 13, 14]),
        np.array([1.0, 1.1, 1.15, 4.9, 3.0]),
        np.array([1.3, 1.25, 1.5, 5.1, 3.4]),
    )
    off, mask = best_offset(pairs)
    assert 1.15 <= off <= 1.25 and list(mask) == [True, True, True, False, False]
    # two flashes wanting the same event: the cheaper total wins, the other stays unmatched
    pick = assign(np.array([0, 1, 1]), np.array([7, 7, 8]), np.array([1.0, 0.5, 2.0]), gate=9.21)
    assert sorted(zip(np.array([0, 1, 1])[pick], np.array([7, 7, 8])[pick])) == [(0, 7), (1, 8)]
    pick = assign(np.array([0, 1]), np.array([7, 7]), np.array([1.0, 0.5]), gate=9.21)
    assert list(pick) == [1]
    # a precise network event beats a vague mapper group at the same Mahalanobis distance
    cost = _pair_cost(np.array([0, 0]), np.array([2.0, 1.0]), np.log(np.array([4.0, 4.0e4])))
    assert cost[0] < cost[1]


def test_solve_reads_16bit_colour_frames_at_full_depth(simulated_sequence, tmp_path):
    """Frames saved as 16-bit RGB PNGs (low sensor counts, as a RAW converter writes them) give
    the same detections and pose as the same counts in grey: Pillow alone reads such files as their
    high byte (at most 32 levels here), and the faint flashes went under the noise."""
    cv2 = pytest.importorskip("cv2")
    scene = simulated_sequence
    colour = tmp_path / "frames16rgb"
    colour.mkdir()
    for p in sorted((scene / "frames").iterdir()):
        g = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert g.dtype == np.uint16 and g.ndim == 2 and g.max() < 2**13  # the simulated sensor: low counts
        assert cv2.imwrite(str(colour / p.name), np.dstack([g, g, g]))

    grey, rgb = _solve_frames(scene, scene / "frames", workers=1), _solve_frames(scene, colour, workers=1)
    assert rgb.image.dtype == np.uint16 and rgb.image.ndim == 3
    assert len(rgb.flashes) == len(grey.flashes) >= 15
    assert rgb.solution.flash_index.size == grey.solution.flash_index.size
    np.testing.assert_allclose(rgb.flashes.col_px, grey.flashes.col_px, atol=0.05)


def test_solve_refuses_frames_of_two_bit_depths(simulated_sequence, tmp_path):
    from PIL import Image

    scene = simulated_sequence
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    names = sorted(p.name for p in (scene / "frames").iterdir())
    for i, nm in enumerate(names):
        a = np.asarray(Image.open(scene / "frames" / nm))
        Image.fromarray(a if i == 0 else (a >> 4).astype(np.uint8)).save(mixed / nm)
    for fast in (True, False):
        with pytest.raises(InputError, match=r"8-bit pixels, but the first frame has 16-bit; expected one bit depth"):
            _solve_frames(scene, mixed, fast_decode=fast)


def _solve_frames(scene, frames_dir, **options):
    """``lightning solve`` in-process on a simulated scene's events and frame times, the frames
    from ``frames_dir``, with the Meteor camera."""
    from cupola.lightning.job import LightningRequest, run

    return run(
        LightningRequest(
            events=[scene / "events.csv"],
            tle_path=TLE_FILE,
            frames_dir=frames_dir,
            frame_times=scene / "frame_times.csv",
            focal_mm=10.5,
            sensor_mm=(8.7, 4.89375),
            **options,
        )
    )
