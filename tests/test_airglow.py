"""Airglow geometry, cleaning and wave analysis (cupola.airglow) on small synthetic cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cupola.airglow import shell
from cupola.errors import InputError
from cupola.geometry import attitude, geodesy
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import StateVector

T0 = dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=dt.timezone.utc)


def _state(lon_deg=-97.0, lat_deg=30.0, alt_m=420e3) -> StateVector:
    """A station state over (lon, lat) moving north-east, with GCRS = ITRS (enough for geometry)."""
    p = geodesy.geodetic_to_ecef(np.radians(lon_deg), np.radians(lat_deg), alt_m)
    enu = geodesy.enu_basis(np.radians(lon_deg), np.radians(lat_deg))
    v = 7660.0 * (enu[0] + enu[1]) / np.sqrt(2.0)
    return StateVector(T0, p, v, p, v, np.eye(3))


def _camera(w=300, h=200, focal_px=260.0):
    return Camera(w, h, focal_px, focal_px, (w - 1) / 2, (h - 1) / 2)


@pytest.mark.parametrize("rpy", [(0.0, 0.0, 0.0), (10.0, 40.0, 90.0), (0.0, 62.0, 0.0)])
def test_pixel_layer_pixel_round_trip_below_a_hundredth_of_a_pixel(rpy):
    cam = _camera()
    pose = attitude.pose_from_rpy(_state(), *rpy)
    cc, rr = np.meshgrid(np.linspace(0, cam.width_px - 1, 31), np.linspace(0, cam.height_px - 1, 21))
    pts, hit = shell.rays_to_shell(cam, pose, cc, rr, 87e3)
    assert hit.sum() > 100
    # the points are on the shell: geodetic height 87 km
    _, _, h = geodesy.ecef_to_geodetic(pts[hit])
    assert np.abs(h - 87e3).max() < 1e-3
    col, row = shell.shell_to_pixels(cam, pose, pts[hit])
    err = np.hypot(col - cc[hit], row - rr[hit])
    assert err.max() < 0.01


def test_a_limb_view_alone_is_refused_with_its_reason():
    """A narrow camera pitched 70 deg from nadir at 420 km meets the 87-km layer only at grazing
    angles (the limb of the layer is at ~72.5 deg, a slant factor of 4 at ~67.7 deg): the grid has
    nothing to analyse, and the error says why rather than blaming the sequence's length."""
    from cupola.airglow.project import choose_grid

    cam = _camera(120, 80, focal_px=1400.0)  # ~5 x 3 deg
    poses = [attitude.pose_from_rpy(_state(), 0.0, 70.0, 0.0) for _ in range(3)]
    hit = shell.rays_to_shell(cam, poses[1], np.array([59.5]), np.array([39.5]), 87e3)[1]
    assert hit.all()  # the layer is seen ...
    with pytest.raises(InputError, match="grazing angles .* a limb view"):
        choose_grid(cam, poses, 87e3)  # ... but only edge-on
    # the same camera pitched 55 deg looks down on the layer: a grid is chosen
    assert choose_grid(cam, [attitude.pose_from_rpy(_state(), 0.0, 55.0, 0.0)] * 3, 87e3).nx >= 8


def test_limb_rays_take_the_near_intersection_and_misses_are_flagged():
    cam = _camera()
    pose = attitude.pose_from_rpy(_state(), 0.0, 68.0, 0.0)  # the top of the frame looks above the limb
    cc, rr = np.meshgrid(np.linspace(0, cam.width_px - 1, 31), np.linspace(0, cam.height_px - 1, 41))
    pts, hit = shell.rays_to_shell(cam, pose, cc, rr, 87e3)
    assert hit.any() and (~hit).any()
    assert not hit[0].any() and hit[-1].all()  # sky at the top, the layer at the bottom
    # near intersection: the line of sight reaches the point from outside (normal faces the camera)
    v = pts[hit] - pose.position_m
    assert (np.einsum("ij,ij->i", -v, geodesy.ellipsoid_normal(pts[hit])) > 0).all()
    # the far intersection of the same ray is not seen: its pixel is NaN
    d = v / np.linalg.norm(v, axis=1, keepdims=True)
    far = []
    for o_pt, di in zip(pts[hit][:20], d[:20], strict=True):
        # march past the near point and intersect again from inside the shell
        start = o_pt + di * 3e3
        q = geodesy.ray_ellipsoid_intersection(start, di, 87e3)
        far.append(q if np.linalg.norm(q - o_pt) > 50e3 else np.full(3, np.nan))
    far = np.array(far)
    ok = np.isfinite(far[:, 0])
    assert ok.sum() >= 10
    col, _ = shell.shell_to_pixels(cam, pose, far[ok])
    assert np.isnan(col).all()


def test_van_rhijn_against_the_closed_form_and_slant_factor():
    # van Rhijn at the horizon: 1 / sqrt(1 - (R / (R + h))^2), R = 6371 km, h = 87 km
    r, h = 6371e3, 87e3
    assert shell.van_rhijn(np.pi / 2, h, r) == pytest.approx(1.0 / np.sqrt(1.0 - (r / (r + h)) ** 2), rel=1e-12)
    assert shell.van_rhijn(0.0, h) == 1.0
    # from space, a thin layer: 1 / cos(chi), chi the angle at the layer point
    cam = _camera()
    pose = attitude.pose_from_rpy(_state(), 0.0, 35.0, 0.0)
    pts, hit = shell.rays_to_shell(cam, pose, np.array([149.5, 149.5]), np.array([99.5, 10.0]), 87e3)
    s = shell.slant_factor(pose.position_m, pts, 87e3, thickness_m=10.0)
    v = pts - pose.position_m
    cos_chi = np.abs(
        np.einsum(
            "ij,ij->i", v / np.linalg.norm(v, axis=1, keepdims=True), pts / np.linalg.norm(pts, axis=1, keepdims=True)
        )
    )
    assert s == pytest.approx(1.0 / cos_chi, rel=2e-3)
    # a limb ray stays finite: at most the chord through the layer over its thickness
    assert np.all(s < np.sqrt(8 * 6.5e6 * 10.0) / 10.0)


def test_tangent_grid_measures_distances_along_the_layer():
    from pyproj import Geod

    g = shell.TangentGrid(-97.0, 30.0, 87e3, 5.0, 40, 40)
    pts = g.to_ecef(np.array([0.0, 300.0, 0.0]), np.array([0.0, 0.0, -250.0]))
    x, y = g.from_ecef(pts)
    assert np.allclose(x, [0, 300, 0], atol=1e-6) and np.allclose(y, [0, 0, -250], atol=1e-6)
    lon, lat, h = geodesy.ecef_to_geodetic(pts)
    assert np.allclose(h, 87e3, atol=1e-3)
    # geodesic distance on the ground (pyproj.Geod), times (R + h) / R, is the grid distance
    _, _, d = Geod(ellps="WGS84").inv(np.degrees(lon[0]), np.degrees(lat[0]), np.degrees(lon[1]), np.degrees(lat[1]))
    assert d * g.scale / 1e3 == pytest.approx(300.0, rel=2e-3)
    assert g.scale == pytest.approx(1.0 + 87.0 / 6372.8, rel=3e-4)


def test_layer_below_the_cloud_tops_is_refused():
    with pytest.raises(InputError, match="above the cloud tops"):
        shell.check_layer_height(15e3)
    assert shell.check_layer_height(87e3) == 87e3


# -- cleaning and waves on grids built here --------------------------------------------------------


def _grid_cube(n=24, size=128, spacing=3.0, seed=5, noise=0.01):
    rng = np.random.default_rng(seed)
    xs = (np.arange(size) - (size - 1) / 2) * spacing
    ys = ((size - 1) / 2 - np.arange(size)) * spacing
    xx, yy = np.meshgrid(xs, ys)
    t = np.arange(n) * 1.5
    m = rng.normal(0.0, noise, (n, size, size))
    return m, xx, yy, t


@pytest.mark.parametrize(("lam_km", "az_deg", "speed"), [(40.0, 63.0, 90.0), (95.0, 241.0, 35.0)])
def test_a_pure_plane_wave_gives_its_wavelength_azimuth_and_phase_speed_back(lam_km, az_deg, speed):
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _grid_cube()
    az = np.radians(az_deg)
    s = xx * np.sin(az) + yy * np.cos(az)
    m += 0.03 * np.cos(2 * np.pi * (s[None] - speed * 1e-3 * t[:, None, None]) / lam_km + 0.7)
    found = find_waves(m, np.ones(xx.shape, bool), 3.0, t)
    assert len(found.waves) == 1
    w = found.waves[0]
    assert w.wavelength_km == pytest.approx(lam_km, rel=0.01)
    assert abs((w.azimuth_deg - az_deg + 180) % 360 - 180) < 1.0  # the sequence resolves the 180 deg ambiguity
    assert w.phase_speed_m_s == pytest.approx(speed, rel=0.1)
    assert w.amplitude_pct == pytest.approx(3.0, rel=0.05)
    assert w.period_s == pytest.approx(lam_km * 1e3 / speed, rel=0.1)
    assert not w.ambiguous
    # the quoted uncertainties are honest: the errors are within 4 sigma
    assert abs(w.wavelength_km - lam_km) < 4 * w.wavelength_sigma_km + 1e-3 * lam_km


def test_a_wind_gives_intrinsic_phase_speeds():
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _grid_cube(seed=9)
    m += 0.03 * np.cos(2 * np.pi * (xx[None] - 0.06 * t[:, None, None]) / 50.0)  # eastward, 60 m/s
    w = find_waves(m, np.ones(xx.shape, bool), 3.0, t, wind_m_s=(20.0, 5.0)).waves[0]
    assert abs((w.azimuth_deg - 90.0 + 180) % 360 - 180) < 1.0
    assert w.intrinsic_phase_speed_m_s == pytest.approx(w.phase_speed_m_s - 20.0, abs=0.5)


def test_noise_alone_gives_no_wave():
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _grid_cube(seed=11, noise=0.02)
    assert find_waves(m, np.ones(xx.shape, bool), 3.0, t).waves == []


def test_a_static_star_field_leaves_no_wave():
    """Stars (fixed on the sky) race across the layer grid as the station flies: the temporal
    filter removes them and no wave is left; without it their streaks are 'found'."""
    from cupola.airglow import clean
    from cupola.airglow.waves import find_waves

    m, xx, yy, t = _grid_cube(seed=3, noise=0.01)
    rng = np.random.default_rng(4)
    n_star = 300
    x0 = rng.uniform(-500, 200, n_star)
    y0 = rng.uniform(-190, 190, n_star)
    flux = 10 ** rng.uniform(-0.5, 1.5, n_star)  # 0.3 to 30 times the layer in a cell
    starlight = np.zeros_like(m)
    for i, ti in enumerate(t):
        xs = x0 + 6.5 * ti * 1.5  # ~6.5 km/s across the layer (the same for every star)
        ys = y0 + 0.4 * ti
        d2 = (xx[None] - xs[:, None, None]) ** 2 + (yy[None] - ys[:, None, None]) ** 2
        starlight[i] = np.sum(flux[:, None, None] * np.exp(-0.5 * d2 / 2.5**2), axis=0)
    m += starlight
    valid = np.ones(xx.shape, bool)
    flags = clean.temporal_outliers(m)
    cleaned = np.where(flags, np.nan, m)
    assert find_waves(cleaned, valid, 3.0, t).waves == []
    # the check can fail: the filter must take the stars out, and little else
    bright = starlight > 0.05  # five times the noise
    assert bright.sum() > 1000
    assert flags[bright].mean() > 0.99
    assert flags[starlight < 1e-4].mean() < 0.02


def test_lights_fixed_to_the_ground_are_flagged_and_the_layer_is_not():
    from cupola.airglow import clean

    n, size = 20, 64
    m = np.random.default_rng(2).normal(0, 0.01, (n, size, size))
    yy, xx = np.mgrid[0:size, 0:size]
    m += 0.05 * np.cos(2 * np.pi * xx / 16.0)[None]  # a layer wave, still on the layer grid
    ground_ij = []
    for i in range(n):
        shift = i  # the ground drifts one cell per frame under the layer grid
        gi, gj = yy.copy(), xx + shift
        gj = np.where(gj < size, gj, -1)
        gi = np.where(gj >= 0, gi, -1)
        ground_ij.append((gi, gj))
        # a cloud deck at ground cells (20..30, 30..40): seen in the layer cells gj - shift
        cloud = (gi >= 20) & (gi < 30) & (gj >= 30) & (gj < 40)
        m[i] += 0.2 * cloud
    flags, g_obs, ground_mean = clean.ground_fixed(m, ground_ij, (size, size))
    truth = np.array([((gi >= 20) & (gi < 30) & (gj >= 30) & (gj < 40)) for gi, gj in ground_ij])
    assert flags[truth].mean() > 0.99
    assert flags[~truth].mean() < 0.05  # the dilation's rim only; the wave is not flagged
    # the cloud's contrast on the ground; a constant along the direction of motion is the one thing
    # the parallax cannot place (layer or ground), so rows through the cloud carry an offset
    assert ground_mean[25, 35] - ground_mean[25, 10] == pytest.approx(0.2, abs=0.02)
    assert np.abs(ground_mean[5:15, 5:60]).max() < 0.03  # the layer's wave stays with the layer
    assert g_obs[truth].mean() > 0.15


# -- a rendered sequence, end to end ----------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered():
    from cupola.simulate.airglow import WavePacket, make_sequence

    waves = [WavePacket(48.0, 35.0, 70.0, 0.04, 1.0), WavePacket(110.0, 250.0, 120.0, 0.03, 2.5)]
    return make_sequence(waves=waves, n_frames=20, interval_s=1.5, binning=16, clouds=0.6, seed=21)


def test_a_rendered_sequence_gives_its_waves_back(rendered):
    from cupola.airglow.sequence import analyse_sequence

    seq = rendered
    res = analyse_sequence(list(seq.frames), seq.times, seq.camera, seq.poses, flat=seq.flat)
    assert res.ground_flags > 0 and res.star_flags > 0
    assert len(res.waves) == len(seq.waves)
    for truth in seq.waves:
        best = min(res.waves, key=lambda w: abs(np.log(w.wavelength_km / truth.wavelength_km)))
        assert best.wavelength_km == pytest.approx(truth.wavelength_km, rel=0.02)
        assert abs((best.azimuth_deg - truth.azimuth_deg + 180) % 360 - 180) < 2.0
        err = abs(best.phase_speed_m_s - truth.phase_speed_m_s)
        assert err < 4.0 * best.phase_speed_sigma_m_s + 0.1 * truth.phase_speed_m_s
        assert best.amplitude_pct == pytest.approx(100 * truth.amplitude, rel=0.2)


def test_bad_sequences_are_refused(rendered):
    from cupola.airglow.sequence import analyse_sequence, check_sequence

    seq = rendered
    frames = list(seq.frames[:4])
    with pytest.raises(InputError, match="same size"):
        check_sequence([frames[0], frames[1][:-1], frames[2]], seq.times[:3])
    with pytest.raises(InputError, match="must increase"):
        check_sequence(frames[:3], [seq.times[0], seq.times[2], seq.times[1]])
    with pytest.raises(InputError, match="cloud tops"):
        analyse_sequence(frames, seq.times[:4], seq.camera, seq.poses[:4], height_m=12e3)


def test_waves_with_crests_along_the_ground_track_are_marked(rendered):
    from cupola.airglow.project import choose_grid
    from cupola.airglow.sequence import _mark_track_parallel
    from cupola.airglow.waves import wave_from_params
    from cupola.geometry import geodesy

    seq = rendered
    grid = choose_grid(seq.camera, seq.poses, 87e3)
    # the ground track's direction, independently: the station's ITRS velocity in the local ENU frame
    lon, lat, _ = geodesy.ecef_to_geodetic(seq.states[0].position_m)
    e, n, _u = geodesy.enu_basis(lon, lat)
    v = seq.states[0].velocity_m_s
    track = np.array([v @ e, v @ n]) / np.hypot(v @ e, v @ n)
    across = np.array([-track[1], track[0]])
    cov = np.eye(5) * 1e-12
    along_k = wave_from_params(np.r_[track / 40.0, 0.01, 0.02, 0.0], cov, 5.0)  # crests across the track
    across_k = wave_from_params(np.r_[across / 40.0, 0.01, 0.02, 0.0], cov, 5.0)  # crests along it
    marked = _mark_track_parallel([along_k, across_k], grid, seq.poses)
    assert [w.track_parallel for w in marked] == [False, True]


def test_the_layer_height_from_the_emission():
    assert shell.layer_height_m() == 87e3
    assert shell.layer_height_m(emission="o2") == 94e3
    assert shell.layer_height_m(emission="OI 557") == 97e3
    assert shell.layer_height_m(layer_km=92.5) == 92.5e3
    with pytest.raises(InputError, match="not both"):
        shell.layer_height_m(90.0, "OH")
    with pytest.raises(InputError, match="unknown emission"):
        shell.layer_height_m(emission="H-alpha")


def test_a_wave_longer_than_half_the_area_is_searched():
    """A 175-km wave in a 300-km analysed area (inside a larger grid, as a projected stack is):
    longer than half the area, within two thirds. Found with its wavelength, direction, amplitude
    and speed. (With the old limit, half the extent, it was out of range and leaked into false
    rows; that counterfactual took 25 s of fits that never converge and is no longer run.)"""
    import cupola.airglow.waves as waves

    m, xx, yy, t = _grid_cube(size=160, seed=11)
    valid = np.zeros(xx.shape, bool)
    valid[30:130, 30:130] = True
    az = np.radians(130.0)
    s = xx * np.sin(az) + yy * np.cos(az)
    m += 0.04 * np.cos(2 * np.pi * (s[None] - 0.1 * t[:, None, None]) / 175.0)  # 100 m/s
    w = waves.find_waves(m, valid, 3.0, t).waves
    assert len(w) == 1 and w[0].wavelength_km == pytest.approx(175.0, rel=0.01)
    assert abs((w[0].azimuth_deg - 130.0 + 180) % 360 - 180) < 1.0
    assert w[0].amplitude_pct == pytest.approx(4.0, rel=0.05) and w[0].phase_speed_m_s == pytest.approx(100, rel=0.1)
    assert 175.0 > 0.5 * 300.0 and 175.0 <= waves.MAX_WAVELENGTH_FRACTION * 300.0  # the case the old limit lost
