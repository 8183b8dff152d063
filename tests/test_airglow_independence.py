"""The generator's variants for the independence study (curved crests, a raw camera's noise,
off-axis vignetting) and the wave search on shapes other than plane waves."""

from __future__ import annotations

import numpy as np
import pytest
from test_airglow import _grid_cube as _cube

from cupola.simulate.airglow import WavePacket, make_sequence


def test_curved_crests_are_circles_about_a_source_behind_the_centre():
    w = WavePacket(40.0, 63.0, 0.0, 1.0, curvature_km=500.0)
    az = np.radians(63.0)
    src = -500.0 * np.array([np.sin(az), np.cos(az)])
    ang = np.linspace(0.0, 2 * np.pi, 50)
    for radius in (500.0, 520.0, 530.0):  # the crests at the centre's distance and a half wave on
        x, y = src[0] + radius * np.sin(ang), src[1] + radius * np.cos(ang)
        v = w.value(x, y, 0.0)
        assert np.ptp(v) < 1e-9
        assert v[0] == pytest.approx(np.cos(2 * np.pi * (radius - 500.0) / 40.0))
    # at the centre: the local wavevector is the plane wave's (wavelength, azimuth)
    plane = WavePacket(40.0, 63.0, 0.0, 1.0)
    d = 1e-3
    for dx, dy in ((d, 0.0), (0.0, d)):
        assert w.value(dx, dy, 0.0) == pytest.approx(plane.value(dx, dy, 0.0), abs=1e-9)


@pytest.mark.parametrize(
    ("kw", "amplitude"),
    [
        ({"curvature_km": 1500.0}, 0.03),  # crests turning by +-7 deg across the 380-km grid
        ({"envelope_km": 90.0, "offset_km": (40.0, -30.0)}, 0.06),  # a packet in part of the grid
    ],
)
def test_curved_crests_and_finite_packets_give_the_centre_wave_back(kw, amplitude):
    """The strongest row is the wave at the centre. (A curved wave also leaves weaker rows, its
    plane-wave decomposition: the search is stopped at two here to keep the test fast.)"""
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _cube()
    wave = WavePacket(40.0, 63.0, 90.0, amplitude, 0.7, **kw)
    m += np.stack([wave.value(xx, yy, ti) for ti in t])
    found = find_waves(m, np.ones(xx.shape, bool), 3.0, t, max_waves=2).waves
    assert found, "the wave was missed"
    w = found[0]  # the strongest
    assert w.wavelength_km == pytest.approx(40.0, rel=0.02)
    assert abs((w.azimuth_deg - 63.0 + 180) % 360 - 180) < 2.0
    assert w.phase_speed_m_s == pytest.approx(90.0, rel=0.1)


def test_the_camera_noise_model_keeps_the_mean_and_adds_a_fixed_pattern():
    kw = {"n_frames": 2, "binning": 16, "stars": 0, "cities": 0, "seed": 21, "gradient": 0.0, "noise": False}
    plain = make_sequence(**kw)
    raw = make_sequence(noise_model="camera", **kw)
    core = np.s_[40:-40, 60:-60]
    # black level and dark current subtracted: the same signal but for the fixed pattern
    assert np.median(raw.frames[0][core]) == pytest.approx(np.median(plain.frames[0][core]), rel=0.01)
    dev = (raw.frames - plain.frames)[:, 40:-40, 60:-60]
    mean = float(np.mean(plain.frames[0][core]))
    hot = dev[0] > 10 * mean
    assert 0 < hot.mean() < 1e-3  # a few hot pixels (2e-4 of them)
    rel = np.std(dev[0][~hot]) / mean
    assert 0.003 < rel < 0.03  # 0.5 % gains, column offsets, quantisation
    # the pattern is the camera's: the same in both frames, whatever the layer does
    assert np.corrcoef(dev[0][~hot], dev[1][~hot])[0, 1] > 0.9
    with pytest.raises(ValueError, match="noise_model"):
        make_sequence(noise_model="gaussian", **kw)


def test_off_axis_vignetting_peaks_off_the_frame_centre():
    seq = make_sequence(n_frames=1, binning=16, stars=0, cities=0, noise=False, vignetting_model="offaxis")
    h, w = seq.flat.shape
    r, c = np.unravel_index(int(np.argmax(seq.flat)), seq.flat.shape)
    assert c == pytest.approx((w - 1) / 2 + 0.04 * w, abs=1.5)
    assert r == pytest.approx((h - 1) / 2 - 0.03 * h, abs=1.5)
    assert seq.flat.max() == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="vignetting_model"):
        make_sequence(n_frames=1, binning=16, vignetting_model="flat")


def test_a_weak_component_next_to_a_strong_wave_is_taken_as_its_leakage():
    """A component 12 % of |k| from a strong wave with 5 % of its amplitude (as the subtraction of
    a not quite uniform wave leaves) is passed over and counted; a weak wave farther away is kept;
    without the rule the close one is listed."""
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _cube(n=16, noise=0.005)
    strong = WavePacket(15.0, 40.0, 80.0, 0.06, 0.2)
    close = WavePacket(17.0, 40.0, 80.0, 0.003, 1.1)  # 12 % of |k| away: 3 frequency bins
    far = WavePacket(60.0, 150.0, 50.0, 0.004, 2.0)
    for w in (strong, close, far):
        m += np.stack([w.value(xx, yy, ti) for ti in t])
    valid = np.ones(xx.shape, bool)

    def listed(search):  # rows above 0.1 %: the waves put in (the noise is 0.5 % per cell and frame)
        return sorted(round(w.wavelength_km) for w in search.waves if w.amplitude_pct > 0.1)

    with_rule = find_waves(m, valid, 3.0, t, max_waves=3)
    assert listed(with_rule) == [15, 60] and with_rule.leakage >= 1
    without = find_waves(m, valid, 3.0, t, max_waves=3, leakage_radius=0.0)
    assert listed(without) == [15, 17, 60] and without.leakage == 0


def test_a_strongly_curved_wave_is_listed_once_with_its_wavelength_and_azimuth_at_the_centre():
    """Crests about a source 400 km behind the centre turn by +-25 deg across the 380-km grid:
    the plane-wave search splits the wave into several rows; merged, it is one row with the
    centre's wavelength, azimuth and speed, and a plane wave elsewhere in k is kept."""
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _cube(n=10, noise=0.005)
    curved = WavePacket(15.0, 50.0, 85.0, 0.05, 0.3, curvature_km=400.0)
    plane = WavePacket(45.0, 250.0, 60.0, 0.02, 1.3)
    for w in (curved, plane):
        m += np.stack([w.value(xx, yy, ti) for ti in t])
    valid = np.ones(xx.shape, bool)

    def near(waves, lam):
        return [w for w in waves if abs(w.wavelength_km / lam - 1) < 0.1]

    split = find_waves(m, valid, 3.0, t, max_waves=4, merge=False).waves
    assert len(near(split, 15.0)) >= 2  # without the merge: split into components
    found = find_waves(m, valid, 3.0, t, max_waves=4)
    rows = near(found.waves, 15.0)
    assert len(rows) == 1 and found.merged >= 1
    w = rows[0]
    assert w.wavelength_km == pytest.approx(15.0, rel=0.02)
    assert abs((w.azimuth_deg - 50.0 + 180) % 360 - 180) < 3.0
    assert w.phase_speed_m_s == pytest.approx(85.0, rel=0.1)
    other = near(found.waves, 45.0)
    assert len(other) == 1 and abs((other[0].azimuth_deg - 250.0 + 180) % 360 - 180) < 1.0


def test_split_groups_joins_components_of_one_wave_and_not_distinct_waves():
    from cupola.airglow.waves import split_groups

    def row(lam, az_deg, speed, amp):  # (kx, ky, w, a, b) of a wave propagating towards az
        a = np.radians(az_deg)
        k = 1.0 / lam
        return [k * np.sin(a), k * np.cos(a), 2 * np.pi * k * speed * 1e-3, amp, 0.0]

    params = np.array(
        [
            row(15.0, 50.0, 85.0, 0.03),
            row(15.3, 62.0, 80.0, 0.02),  # a component of the first: 2 % in |k|, 12 deg, 6 % in speed
            row(15.0, 50.0, 85.0, -0.01) * np.array([-1, -1, -1, 1, 1]),  # the same wave, k and w negated
            row(15.0, 75.0, 85.0, 0.02),  # 25 deg off (crests turning across the area): merged
            row(20.0, 50.0, 85.0, 0.02),  # 25 % longer: a wave of its own
            row(15.0, 50.0, 30.0, 0.02),  # the same wavevector, another speed: a wave of its own
            row(15.0, 230.0, 85.0, 0.02),  # propagating the other way: a wave of its own
        ]
    )
    groups = sorted(sorted(g) for g in split_groups(params))
    assert groups == [[0, 1, 2, 3], [4], [5], [6]]


def test_rows_below_the_amplitude_snr_are_left_out_and_counted():
    """``min_amplitude_snr``, ``min_amplitude_pct``: exactly the rows whose fitted amplitude is
    below that many of their own standard errors and below that percentage are dropped (and
    counted in ``weak``); the others keep their values."""
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _cube(n=12, noise=0.01)
    for w in (WavePacket(30.0, 70.0, 60.0, 0.03, 0.4), WavePacket(80.0, 200.0, 40.0, 0.004, 1.9)):
        m += np.stack([w.value(xx, yy, ti) for ti in t])
    valid = np.ones(xx.shape, bool)
    every = find_waves(m, valid, 3.0, t, max_waves=3, min_amplitude_snr=0.0, min_amplitude_snr_any=0.0)
    snr = sorted(w.amplitude_pct / w.amplitude_sigma_pct for w in every.waves)
    assert len(snr) >= 2 and every.weak == 0
    cut = 0.5 * (snr[-2] + snr[-1])  # between the two strongest: only the strongest stays
    some = find_waves(
        m, valid, 3.0, t, max_waves=3, min_amplitude_snr=cut, min_amplitude_pct=100.0, min_amplitude_snr_any=0.0
    )
    assert some.weak == len(snr) - 1
    assert [w.wavelength_km for w in some.waves] == [
        w.wavelength_km for w in every.waves if w.amplitude_pct >= cut * w.amplitude_sigma_pct
    ]
    # below the cut but brighter than the percentage: kept
    bright = find_waves(
        m, valid, 3.0, t, max_waves=3, min_amplitude_snr=cut, min_amplitude_pct=0.1, min_amplitude_snr_any=0.0
    )
    below = [w.amplitude_pct < cut * w.amplitude_sigma_pct and w.amplitude_pct < 0.1 for w in every.waves]
    assert bright.weak == sum(below) and len(bright.waves) == len(every.waves) - sum(below) >= 2
    # ``min_amplitude_snr_any``: below that many standard errors a row goes whatever its amplitude
    floor = find_waves(m, valid, 3.0, t, max_waves=3, min_amplitude_snr=0.0, min_amplitude_snr_any=cut)
    assert floor.weak == len(snr) - 1 and [w.wavelength_km for w in floor.waves] == [
        w.wavelength_km for w in some.waves
    ]


def test_phase_velocity_spectrum_matches_the_full_3d_fft():
    """The spectrum made from the real transform in time equals the one binned from the full 3-D
    FFT (computed here independently), for even and odd numbers of frames."""
    from cupola.airglow.waves import _freqs, phase_velocity_spectrum

    rng = np.random.default_rng(3)
    for n in (10, 11):
        m = rng.normal(size=(n, 40, 48)).astype(np.float32)
        m[2, 5, 6] = np.nan
        window = rng.uniform(size=(40, 48))
        got, s_edges, a_edges = phase_velocity_spectrum(m, window, 3.0, 60.0, min_wavelength_km=7.0)
        cube = np.nan_to_num(m) * window[None] * np.hanning(n)[:, None, None]
        spec = np.abs(np.fft.fftn(cube)) ** 2
        f = np.fft.fftfreq(n, d=60.0)
        kx, ky = _freqs((40, 48), 3.0)
        k = np.hypot(kx, ky)
        az = np.degrees(np.arctan2(-kx, -ky)) % 360.0
        want = np.zeros_like(got)
        for i in np.flatnonzero(f > 0):
            with np.errstate(divide="ignore"):
                speed = f[i] / k * 1e3
            sel = (k >= 1 / 250.0) & (k <= 1 / 7.0) & (speed < 300.0)
            want += np.histogram2d(speed[sel], az[sel], bins=[s_edges, a_edges], weights=spec[i][sel])[0]
        assert want.sum() > 0
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * want.max())
