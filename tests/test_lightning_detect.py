"""Motion-compensated flash detection against towns that move with the ground (simulated scenes)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FRAME_TIME, TLE_FILE


@pytest.fixture(scope="module")
def elements():
    from cupola.geometry import orbit

    return orbit.select_element_set(orbit.parse_tle(TLE_FILE.read_text()), FRAME_TIME)


def _scene(elements, rpy, seed, **kw):
    from cupola.geometry.camera import Camera
    from cupola.simulate.lightning import SceneSpec, render_frames, simulate_scene

    # a D5 with a 50 mm lens at a quarter of its resolution (same field of view, faster)
    cam = Camera.from_focal_sensor(
        focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=1392, height_px=928
    )
    spec = SceneSpec(
        n_flashes=45,
        n_frames=6,
        urban_lights=True,
        n_cities=kw.pop("n_cities", 25),
        frame_interval_s=kw.pop("interval_s", 1.0),
        exposure_s=0.5,
    )
    sc = simulate_scene(elements, FRAME_TIME, cam, rpy, spec, seed=seed)
    imgs = [im for _, im in render_frames(sc, FRAME_TIME, seed=seed + 1, **kw)]
    return sc, imgs


@pytest.mark.parametrize(
    "rpy,seed,kw",
    [
        ((2.0, -3.0, 30.0), 0, {}),
        ((-4.0, 1.0, 200.0), 5, {"n_cities": 50, "flash_peak_dn": 800.0}),
        ((0.5, 4.0, 300.0), 9, {"interval_s": 2.0, "read_noise_dn": 12.0}),
    ],
)
def test_motion_compensation_rejects_moving_towns(elements, rpy, seed, kw):
    from cupola.lightning.detect import DetectOptions, detect_flashes
    from cupola.lightning.evaluate import match_detections
    from cupola.simulate.lightning import drawn_flashes, flash_patch_px

    sc, imgs = _scene(elements, rpy, seed, **kw)
    truth = drawn_flashes(sc)
    p = flash_patch_px(sc)
    fl = detect_flashes(imgs, sc.frames)
    m = match_detections(fl, truth, 2 * p, 1392, 928, 2 * p)
    assert m["precision"] >= 0.9 and m["recall"] >= 0.9, m
    assert np.all(np.isfinite(fl.score)) and np.all(fl.score >= DetectOptions().threshold_sigma)
    # the old route (each frame against the sequence's median) reports the towns as flashes
    old = detect_flashes(imgs, sc.frames, options=DetectOptions(motion_compensation=False))
    assert match_detections(old, truth, 2 * p, 1392, 928, 2 * p)["precision"] < 0.8
    # the user's threshold: every detection then scores above it
    strict = detect_flashes(imgs, sc.frames, options=DetectOptions(threshold_sigma=30.0))
    assert len(strict) > 0 and np.all(strict.score >= 30.0)


def test_sequence_motion_matches_the_orbit(elements):
    """The estimated frame-to-frame map agrees with the true ground motion to about a pixel."""
    from cupola.geometry.trajectory import trajectory
    from cupola.lightning.detect import broad_light
    from cupola.lightning.motion import sequence_motion
    from cupola.simulate.lightning import _pixels_to_points, _project

    sc, imgs = _scene(elements, (3.0, 2.0, 75.0), 3)
    maps, how = sequence_motion([broad_light(im, 1, 9.0) for im in imgs])
    assert set(how) == {"affine"}
    mm = sc.mount.as_matrix()
    tr = trajectory(elements, FRAME_TIME, np.array([0.25, 1.25]))
    cc, rr = np.meshgrid(np.linspace(50, 1340, 5), np.linspace(50, 870, 4))
    cc, rr = cc.ravel(), rr.ravel()
    n = cc.size
    g = _pixels_to_points(
        sc.camera, mm, np.repeat(tr.position_m[:1], n, 0), np.repeat(tr.lvlh_to_itrs[:1], n, 0), cc, rr, np.zeros(n)
    )
    true = _project(sc.camera, mm, np.repeat(tr.position_m[1:], n, 0), np.repeat(tr.lvlh_to_itrs[1:], n, 0), g)
    q = maps[0] @ np.vstack([cc, rr, np.ones(n)])
    err = np.hypot(*(q[:2] / q[2] - true.T))
    assert np.median(err) < 0.8 and err.max() < 2.0, err
