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


def _patches(centres, sigma_px, amps, shape=(200, 300), noise_dn=2.0, seed=0):
    """A difference image with Gaussian lit patches and white noise, and its significance (z)."""
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros(shape)
    for (c, r), s, a in zip(centres, sigma_px, amps):
        img += a * np.exp(-0.5 * ((cc - c) ** 2 + (rr - r) ** 2) / s**2)
    img += np.random.default_rng(seed).normal(0, noise_dn, shape)
    return img.astype(np.float32), (img / noise_dn).astype(np.float32)


@pytest.mark.parametrize("sigma_px", [6.0, 14.0])
def test_close_flashes_are_parted(sigma_px):
    """Two equal patches 2 sigma apart (where the dip between them vanishes) are two flashes, with
    their centroids within a third of a sigma, at any patch size."""
    from cupola.lightning.detect import seeded_blobs

    sep = 2.0 * sigma_px
    centres = [(150 - sep / 2, 100), (150 + sep / 2, 100), (60, 60)]  # the third, alone, is the typical size
    for seed in range(3):
        diff, z = _patches(centres, [sigma_px] * 3, [400.0, 400.0, 400.0], seed=seed)
        found = seeded_blobs(diff, z, 6.0, 25.0, 1)
        pair = found[np.hypot(found[:, 0] - 150, found[:, 1] - 100) < 2 * sigma_px]
        assert len(pair) == 2, found
        assert np.allclose(np.sort(pair[:, 0]), [150 - sep / 2, 150 + sep / 2], atol=0.35 * sigma_px)


@pytest.mark.parametrize("sigma_px", [6.0, 14.0])
def test_faint_flash_on_a_bright_ones_flank_is_found(sigma_px):
    """A flash at 40 % of its neighbour's brightness, 2.5 sigma away, is a shoulder on the bright one's
    flank (no maximum of its own): the curvature finds it, the brightness peaks do not."""
    from cupola.lightning.detect import seeded_blobs

    centres = [(140, 100), (140 + 2.5 * sigma_px, 100), (60, 60)]
    diff, z = _patches(centres, [sigma_px] * 3, [1000.0, 400.0, 1000.0])
    found = seeded_blobs(diff, z, 6.0, 25.0, 1)
    assert np.min(np.hypot(found[:, 0] - centres[1][0], found[:, 1] - 100)) < 0.4 * sigma_px, found
    assert len(found) == 3
    assert len(seeded_blobs(diff, z, 6.0, 25.0, 1, curvature_scale=0.0)) == 2


@pytest.mark.parametrize("sigma_px,elongation", [(5.0, 1.0), (12.0, 1.0), (25.0, 1.0), (12.0, 2.5)])
def test_one_flash_stays_one(sigma_px, elongation):
    """A single patch, small, large or elongated, bright or faint, and one cut by the frame's edge,
    is never split."""
    from cupola.lightning.detect import seeded_blobs

    shape = (240, 320)
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    rng = np.random.default_rng(1)
    for amp in (60.0, 3000.0):
        for centre in ((160, 120), (4, 120)):
            img = amp * np.exp(
                -0.5 * (((cc - centre[0]) / (elongation * sigma_px)) ** 2 + ((rr - centre[1]) / sigma_px) ** 2)
            )
            img = (img + rng.normal(0, 2.0, shape)).astype(np.float32)
            found = seeded_blobs(img, img / 2.0, 6.0, 25.0, 1)
            assert len(found) <= 1, (amp, centre, found)
            if centre[0] > 100:
                assert len(found) == 1
