"""A slow cadence: phase speeds that the frame times cannot tell from an alias are marked."""

from __future__ import annotations

import numpy as np
import pytest
from test_airglow import _grid_cube

from cupola.airglow.waves import find_waves, mark_aliased


def _found(speed_m_s, interval_s, lam_km=12.0, az_deg=60.0):
    m, xx, yy, _ = _grid_cube(n=10, noise=0.005)
    t = np.arange(len(m)) * interval_s
    az = np.radians(az_deg)
    s = xx * np.sin(az) + yy * np.cos(az)
    m += 0.03 * np.cos(2 * np.pi * (s[None] - speed_m_s * 1e-3 * t[:, None, None]) / lam_km + 0.4)
    search = find_waves(m, np.ones(xx.shape, bool), 3.0, t, max_waves=1, merge=False)
    assert len(search.waves) == 1
    return search.waves, t


def test_an_aliased_speed_is_marked_and_not_listed_as_a_measured_one():
    """A 12-km wave at 200 m/s seen every 50 s moves 10 km (0.83 cycle) per frame: the sequence
    sees it move back by 0.17 cycle, 40 m/s the other way (the alias). The row is marked."""
    waves, t = _found(200.0, 50.0)
    w = waves[0]
    assert w.phase_speed_m_s == pytest.approx(40.0, rel=0.1)  # the alias, as a search must see it
    assert abs((w.azimuth_deg - 240.0 + 180) % 360 - 180) < 1.0  # reversed
    assert not w.ambiguous  # the speed alone is significant ...
    marked, n = mark_aliased(waves, t)
    assert n == 1 and marked[0].ambiguous  # ... but the cadence cannot tell it from 200 m/s


def test_a_fast_cadence_leaves_the_same_wave_unmarked():
    waves, t = _found(200.0, 1.5)
    assert waves[0].phase_speed_m_s == pytest.approx(200.0, rel=0.05)
    marked, n = mark_aliased(waves, t)
    assert n == 0 and not marked[0].ambiguous
    # the alias of a wave seen every 1.5 s: 12 km / 1.5 s = 8 km/s away, no gravity-wave speed
