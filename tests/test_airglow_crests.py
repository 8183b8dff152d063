"""Waves with circular crests (a source a few hundred km behind the area): the geometry of
:mod:`cupola.airglow.crests` and the circular-crest search of :func:`find_waves`."""

from __future__ import annotations

import numpy as np
import pytest

from cupola.airglow.crests import along_km, circular_model, matched_power
from cupola.simulate.airglow import WavePacket


def test_circular_phase_is_the_generators_distance_from_the_source():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-250, 250, (2, 200))
    lam, az, src = 120.0, 60.0, 300.0
    k = np.array([np.sin(np.radians(az)), np.cos(np.radians(az))]) / lam
    truth = WavePacket(lam, az, 0.0, 1.0, curvature_km=src).value(x, y, 0.0)
    model = circular_model(np.array([k[0], k[1], 1.0 / src, 0.0, 1.0, 0.0]), x, y, 0.0)
    assert np.allclose(model, truth, atol=1e-9)
    # no curvature: the distance along k
    assert np.allclose(along_km(x, y, k[0], k[1], 0.0), (x * k[0] + y * k[1]) / np.hypot(*k))


def test_matched_power_of_a_straight_profile_is_the_periodogram():
    """With straight crests the filter is the 2-D Fourier transform along one direction."""
    rng = np.random.default_rng(2)
    n = 64
    xs = (np.arange(n) - (n - 1) / 2) * 2.0
    xx, yy = np.meshgrid(xs, -xs)
    img = rng.normal(size=(n, n))
    f = 3 / (64 * 2.0)  # a bin of the 2-D transform along x (azimuth 90 deg)
    direct = abs(np.sum(img * np.exp(-2j * np.pi * f * xx))) ** 2
    p = matched_power(img.ravel()[None], xx.ravel(), yy.ravel(), np.pi / 2, np.inf, 2.0, 64)
    assert p[3] == pytest.approx(direct, rel=1e-9)


def _curved_stack(amplitude, curvature_km=300.0, seed=3):
    rng = np.random.default_rng(seed)
    xs = (np.arange(160) - 79.5) * 3.0
    xx, yy = np.meshgrid(xs, -xs)
    t = np.arange(30, dtype=float)
    w = WavePacket(120.0, 60.0, 80.0, amplitude, curvature_km=curvature_km)
    m = np.array([w.value(xx, yy, ti) for ti in t]) + rng.normal(0, 0.02, (30, 160, 160))
    return m, t


def test_a_strongly_curved_long_wave_is_found_by_the_circular_search():
    """A 120-km wave of 2 % about a source 300 km away, on a 480-km area: its crests turn by
    +-38 deg, the plane-wave periodogram spreads it below the red-noise test (the plane search
    alone lists nothing); the circular search finds it with its values at the middle."""
    from cupola.airglow.waves import find_waves

    m, t = _curved_stack(0.02)
    valid = np.ones(m.shape[1:], bool)
    assert find_waves(m, valid, 3.0, t).waves == []  # the default: plane waves only
    search = find_waves(m, valid, 3.0, t, circular=True)
    assert search.circular == 1
    (w,) = search.waves
    assert w.wavelength_km == pytest.approx(120.0, rel=0.02)
    assert abs(w.azimuth_deg - 60.0) < 2.0
    assert w.phase_speed_m_s == pytest.approx(80.0, rel=0.3)
    assert w.amplitude_pct == pytest.approx(2.0, rel=0.1)


def test_noise_alone_gives_no_circular_row():
    from cupola.airglow.waves import find_waves

    m, t = _curved_stack(0.0, seed=11)
    search = find_waves(m, np.ones(m.shape[1:], bool), 3.0, t, circular=True)
    assert search.waves == [] and search.circular == 0
