"""Multi-stroke flashes: a network's strokes grouped into flashes, used once in the solve."""

from __future__ import annotations

import numpy as np

from conftest import FRAME_TIME, TLE_FILE


def test_group_strokes_rules():
    from cupola.lightning.events import Events, group_strokes

    t0 = np.datetime64("2017-05-17T05:44:10", "ns")
    ms = np.timedelta64(1_000_000, "ns")
    # flash A: 3 strokes at one place over 0.25 s; B: 20 km away at the same time; C: at A's place 2 s
    # later; D: at A's place, 0.7 s after A's last stroke (gap > 0.5 s: a new flash)
    times = [t0, t0 + 100 * ms, t0 + 250 * ms, t0 + 50 * ms, t0 + 2000 * ms, t0 + 950 * ms]
    lat = [30.0, 30.005, 29.997, 30.18, 30.0, 30.0]
    lon = [-100.0, -100.003, -99.998, -100.0, -100.0, -100.0]
    ev = Events.from_arrays(np.array(times), lon, lat)
    g, members = group_strokes(ev)
    assert len(g) == 4
    sizes = sorted(len(m) for m in members)
    assert sizes == [1, 1, 1, 3]
    a = next(k for k, m in enumerate(members) if len(m) == 3)
    assert g.time[a] == t0  # the first stroke's time and place
    assert abs(g.lat_deg[a] - 30.0) < 1e-9
    assert abs(g.time_sigma_s[a] - 0.25 / 3) < 1e-6


def test_grouped_strokes_are_paired_not_dropped():
    from cupola.geometry import orbit
    from cupola.geometry.camera import Camera
    from cupola.lightning.events import group_strokes
    from cupola.lightning.solve import SolveOptions, solve
    from cupola.simulate.lightning import SceneSpec, simulate_scene

    el = orbit.select_element_set(orbit.parse_tle(TLE_FILE.read_text()), FRAME_TIME)
    d5 = Camera.from_focal_sensor(
        focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=5568, height_px=3712
    )
    sc = simulate_scene(el, FRAME_TIME, d5, (2.0, -1.0, 100.0), SceneSpec(n_flashes=50, strokes_per_flash=4.0), seed=1)
    raw = solve(sc.flashes, sc.events, el, d5, SolveOptions())
    grouped_events, members = group_strokes(sc.events)
    assert len(grouped_events) < 0.4 * len(sc.events)
    grouped = solve(sc.flashes, grouped_events, el, d5, SolveOptions())
    assert grouped.flash_index.size >= raw.flash_index.size + 5
    assert not any("ambiguous" in n for n in grouped.notes)
    err = np.abs(np.array(grouped.rpy_deg) - np.array(sc.rpy_deg))
    assert np.all(err < 0.02), err
