"""Exposure smear: the generator's sub-instant rendering, the smear vector on the layer grid, its
response (against a numerical box average) and the amplitude correction end to end."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cupola.airglow.sequence import analyse_sequence, layer_smear_km, smear_mtf
from cupola.geometry import attitude as att
from cupola.geometry import orbit


def test_smear_response_matches_a_numerical_box_average():
    rng = np.random.default_rng(5)
    for _ in range(20):
        k = rng.uniform(-0.1, 0.1, 2)  # cycles/km
        L = rng.uniform(-8.0, 8.0, 2)  # km
        s = (np.arange(20000) + 0.5) / 20000 - 0.5  # the exposure, centred
        phase = rng.uniform(0, 2 * np.pi)
        # amplitude of the box-averaged wave: mean of cos(2 pi k.(x + s L) + phase) over s, at x = 0
        # and a quarter wavelength on (cos and sin parts)
        c = np.mean(np.cos(2 * np.pi * (k @ L) * s + phase))
        d = np.mean(np.sin(2 * np.pi * (k @ L) * s + phase))
        assert np.hypot(c, d) == pytest.approx(abs(float(smear_mtf(k[0], k[1], L))), abs=1e-6)


@pytest.fixture(scope="module")
def smeared():
    from cupola.simulate.airglow import WavePacket, make_sequence

    common = {"n_frames": 6, "interval_s": 3.0, "binning": 16, "cities": 0, "stars": 0, "seed": 41}
    probe = make_sequence(n_frames=6, interval_s=3.0, binning=16, cities=0, stars=0, noise=False, seed=41)
    return probe, common, WavePacket, make_sequence


def _poses_at(seq, offset_s):
    return [
        att.pose_from_rpy(orbit.state_at(seq.element_set, t + dt.timedelta(seconds=offset_s)), *seq.rpy_deg)
        for t in seq.times
    ]


def test_smear_vector_is_the_layer_motion_in_one_exposure(smeared):
    from cupola.airglow.project import choose_grid
    from cupola.simulate.airglow import _hit, _sphere_map

    seq = smeared[0]
    grid = choose_grid(seq.camera, seq.poses, seq.height_m)
    L = layer_smear_km(seq.camera, seq.poses, seq.times, grid, 1.0)
    # independently: the generator's own geometry (its ray-shell intersection and spherical map)
    # for the centre pixel, one second apart in the middle of the sequence
    p0, p1 = _poses_at(seq, 9.0), _poses_at(seq, 10.0)
    ray = seq.camera.pixel_to_ray(seq.camera.cx_px, seq.camera.cy_px)
    a = _hit(p0[0].position_m, ray @ p0[0].matrix.T, seq.height_m)
    b = _hit(p1[0].position_m, ray @ p1[0].matrix.T, seq.height_m)
    x, y = _sphere_map(np.array([a, b]), a)
    ref = np.array([x[1] - x[0], y[1] - y[0]])
    assert 6.5 < np.hypot(*ref) < 8.0  # ~7 km/s at the layer
    assert np.hypot(*(L - ref)) < 0.03 * np.hypot(*ref), (L, ref)


LAMBDA_KM = 25.0


def test_a_smeared_short_wave_along_the_track_gets_its_amplitude_back(smeared):
    probe, common, WavePacket, make_sequence = smeared
    from cupola.airglow.project import choose_grid

    grid = choose_grid(probe.camera, probe.poses, probe.height_m)
    L = layer_smear_km(probe.camera, probe.poses, probe.times, grid, 1.0)
    az = float(np.degrees(np.arctan2(L[0], L[1])))  # crests across the track: the worst case
    wave = WavePacket(LAMBDA_KM, az, 60.0, 0.05, 0.4)
    seq = make_sequence(waves=[wave], smear_steps=6, exposure_s=2.0, **common)  # 2-s exposures: ~15 km
    k = np.array([np.sin(np.radians(az)), np.cos(np.radians(az))]) / LAMBDA_KM
    g = float(smear_mtf(k[0], k[1], 2.0 * L))
    assert 0.3 < g < 0.75  # a strong effect to measure
    frames = list(seq.frames)
    raw = analyse_sequence(frames, seq.times, seq.camera, seq.poses, flat=seq.flat)
    fixed = analyse_sequence(frames, seq.times, seq.camera, _poses_at(seq, 1.0), flat=seq.flat, exposure_s=2.0)
    for res in (raw, fixed):
        assert len(res.waves) >= 1
    w_raw = min(raw.waves, key=lambda w: abs(w.wavelength_km - LAMBDA_KM))
    w_fix = min(fixed.waves, key=lambda w: abs(w.wavelength_km - LAMBDA_KM))
    assert w_raw.amplitude_pct == pytest.approx(5.0 * g, rel=0.12)  # smeared, as the response says
    assert w_fix.amplitude_pct == pytest.approx(5.0, rel=0.12)  # corrected
    assert w_fix.wavelength_km == pytest.approx(LAMBDA_KM, rel=0.01)
    assert abs((w_fix.azimuth_deg - az + 180) % 360 - 180) < 1.0
    assert fixed.smear_km == pytest.approx(tuple(2.0 * L), abs=0.1)
    assert any("exposure smear" in n for n in fixed.notes)


def test_one_smear_step_renders_as_before():
    from cupola.simulate.airglow import WavePacket, make_sequence

    kw = {"waves": [WavePacket(30.0, 45.0, 50.0, 0.05)], "n_frames": 3, "binning": 32, "seed": 2}
    a = make_sequence(**kw)
    b = make_sequence(**kw, smear_steps=1)
    assert np.array_equal(a.frames, b.frames)
    c = make_sequence(**kw, smear_steps=4)
    assert not np.array_equal(a.frames, c.frames)
    with pytest.raises(ValueError, match="smear_steps"):
        make_sequence(**kw, smear_steps=0)
