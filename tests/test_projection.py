import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import astropy_state, reference_ground_points

from conftest import FRAME_TIME, haversine_m
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import attitude, geodesy
from cupola.geometry.camera import Camera, Distortion
from cupola.geometry.projection import Georeference, split_antimeridian


def _georef(state, rpy, cam, height_m=0.0):
    pose = attitude.pose_from_rpy(state, *rpy)
    return Georeference(cam, pose, FRAME_TIME, height_m)


@settings(max_examples=150, deadline=None)
@given(
    roll=st.floats(-35, 35),
    pitch=st.floats(-35, 35),
    yaw=st.floats(-180, 180),
    h=st.floats(0, 20_000),
    u=st.floats(0, 1),
    v=st.floats(0, 1),
    k1=st.floats(-0.2, 0.2),
    p1=st.floats(-0.002, 0.002),
)
def test_ground_pixel_ground_round_trip(meteor_state, roll, pitch, yaw, h, u, v, k1, p1):
    _, state = meteor_state
    cam = Camera.from_focal_sensor(
        focal_mm=50,
        sensor_width_mm=35.9,
        sensor_height_mm=23.9,
        width_px=5568,
        height_px=3712,
        distortion=Distortion(k1=k1, p1=p1),
    )
    geo = _georef(state, (roll, pitch, yaw), cam, h)
    col, row = u * (cam.width_px - 1), v * (cam.height_px - 1)
    p = geo.pixels_to_ecef(col, row)
    lon, lat, hp = geodesy.ecef_to_geodetic(p)
    assert hp == pytest.approx(h, abs=1e-3)
    c2, r2 = geo.ground_to_pixels(np.degrees(lon), np.degrees(lat), h)
    p2 = geo.pixels_to_ecef(c2, r2)
    assert np.linalg.norm(p2 - p) < 1e-3  # < 1 mm on the ground
    assert abs(c2 - col) < 1e-4 and abs(r2 - row) < 1e-4


def test_matches_independent_astropy_chain(meteor_state, meteor_camera, astropy_offline):
    el, state = meteor_state
    cam = meteor_camera
    rpy = (-5.66, 0.71, 84.5)
    geo = _georef(state, rpy, cam)
    rng = np.random.default_rng(3)
    cols = np.r_[0, 1279, 0, 1279, 639.5, rng.uniform(0, 1279, 15)]
    rows = np.r_[0, 0, 737, 737, 368.5, rng.uniform(0, 737, 15)]
    pos, axes = astropy_state(el.line1, el.line2, FRAME_TIME)
    ref = reference_ground_points(pos, axes, rpy, cam.focal_x_px, cam.focal_y_px, cam.cx_px, cam.cy_px, cols, rows)
    lon, lat = geo.pixels_to_ground(cols, rows)
    err = haversine_m(lon, lat, ref[:, 0], ref[:, 1])
    assert err.max() < 1.0
    # the fast whole-frame path gives the same numbers
    glon, glat = geo.ground_grid()
    ic = np.array([0, 1279, 0, 1279])
    ir = np.array([0, 0, 737, 737])
    assert np.allclose(glon[ir, ic], lon[:4], atol=1e-10) and np.allclose(glat[ir, ic], lat[:4], atol=1e-10)


def test_lvlh_axes_orthonormal_and_nadir(meteor_state):
    _, state = meteor_state
    m = attitude.lvlh_to_itrs(state)
    assert np.allclose(m.T @ m, np.eye(3), atol=1e-12)
    assert np.linalg.det(m) == pytest.approx(1.0)
    # +z points to the Earth's centre; +x within a few degrees of the ITRS velocity
    assert m[:, 2] @ (-state.position_m / np.linalg.norm(state.position_m)) == pytest.approx(1.0)
    v = state.velocity_m_s / np.linalg.norm(state.velocity_m_s)
    assert np.degrees(np.arccos(m[:, 0] @ v)) < 5.0


def test_rpy_round_trip_and_signs(meteor_state):
    _, state = meteor_state
    for rpy in [(0, 0, 0), (10, -5, 30), (-20, 15, -120)]:
        pose = attitude.pose_from_rpy(state, *rpy)
        assert np.allclose(attitude.rpy_from_pose(state, pose), rpy, atol=1e-9)
    m = attitude.lvlh_to_itrs(state)
    assert attitude.pose_from_rpy(state, 0, 10, 0).boresight @ m[:, 0] > 0  # pitch: forward
    assert attitude.pose_from_rpy(state, 10, 0, 0).boresight @ m[:, 1] < 0  # roll: to port (-y)
    zero = attitude.pose_from_rpy(state, 0, 0, 0)
    assert -zero.matrix[:, 1] @ m[:, 0] == pytest.approx(1.0)  # image top = flight direction


def test_look_at_centres_target(meteor_state, meteor_camera):
    _, state = meteor_state
    for rot in (0.0, 37.0):
        pose = attitude.pose_look_at(state, lon=-100.9, lat=29.36, rotation_deg=rot)
        geo = Georeference(meteor_camera, pose, FRAME_TIME)
        lon, lat = geo.center()
        assert haversine_m(lon, lat, -100.9, 29.36) < 0.01
    with pytest.raises(InputError, match="below the satellite's horizon"):
        attitude.pose_look_at(state, lon=60.0, lat=-30.0)


@pytest.mark.parametrize("solve_focal", [False, True])
def test_tie_point_solve_recovers_attitude(meteor_state, solve_focal):
    _, state = meteor_state
    true_cam = Camera.from_focal_sensor(
        focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=5568, height_px=3712
    )
    rpy = (12.3, -7.7, 141.0)
    geo = _georef(state, rpy, true_cam)
    cols = np.array([300.0, 5200, 800, 5000, 2800, 1500])
    rows = np.array([200.0, 400, 3500, 3300, 1800, 2600])
    h = np.array([0.0, 250, 1200, 30, 600, 90])
    pts = np.array([geo.pixels_to_ecef(c, r, hh) for c, r, hh in zip(cols, rows, h)])
    lon, lat, _ = geodesy.ecef_to_geodetic(pts)
    start_cam = true_cam.with_focal_scale(1.05) if solve_focal else true_cam
    sol = attitude.solve_attitude(
        start_cam,
        state.position_m,
        col_px=cols,
        row_px=rows,
        lon_deg=np.degrees(lon),
        lat_deg=np.degrees(lat),
        height_m=h,
        solve_focal=solve_focal,
    )
    err_deg = np.degrees((sol.pose.rotation.inv() * geo.pose.rotation).magnitude())
    assert err_deg < 0.001
    assert np.allclose(attitude.rpy_from_pose(state, sol.pose), rpy, atol=0.001)
    assert sol.rms_px < 1e-3 and sol.rms_m < 0.05
    if solve_focal:
        assert sol.camera.focal_x_px == pytest.approx(true_cam.focal_x_px, rel=1e-6)


def test_tie_point_solve_rejects_bad_sets(meteor_state, meteor_camera):
    _, state = meteor_state
    kw = dict(lon_deg=[-100.2, -101.9, -101.3, -103.0], lat_deg=[30.3, 28.5, 31.1, 29.4])
    with pytest.raises(InputError, match="at least 2"):
        attitude.solve_attitude(
            meteor_camera, state.position_m, col_px=[1.0], row_px=[1.0], lon_deg=[-100.2], lat_deg=[30.3]
        )
    with pytest.raises(InputError, match="at least 4"):
        attitude.solve_attitude(
            meteor_camera,
            state.position_m,
            col_px=[1.0, 500, 900],
            row_px=[1.0, 300, 9],
            lon_deg=kw["lon_deg"][:3],
            lat_deg=kw["lat_deg"][:3],
            solve_focal=True,
        )
    with pytest.raises(InputError, match="collinear"):
        attitude.solve_attitude(
            meteor_camera,
            state.position_m,
            col_px=[0.0, 100, 200, 300],
            row_px=[0.0, 100, 200, 300],
            solve_focal=True,
            **kw,
        )


def test_rays_over_the_limb_are_nan(meteor_state):
    _, state = meteor_state
    cam = Camera.from_focal_sensor(focal_mm=24, sensor_width_mm=36, sensor_height_mm=24, width_px=600, height_px=400)
    # pitched 70 deg forward: the top of the frame looks above the limb (~70.2 deg off nadir at 408 km)
    geo = _georef(state, (0, 70, 0), cam)
    lon, lat = geo.ground_grid()
    assert np.isnan(lon[0]).all() and np.isnan(lat[0]).all()
    assert np.isfinite(lon[-1]).all()
    assert np.isnan(lon).sum() == np.isnan(lat).sum()
    # ground -> pixel refuses points beyond the horizon rather than giving a pixel
    c, r = geo.ground_to_pixels(78.7, -30.0)  # antipode of the sub-point
    assert np.isnan(c) and np.isnan(r)
    # the footprint follows the horizon and stays finite
    ring = geo.footprint_lonlat()
    assert np.isfinite(ring).all()
    dist = haversine_m(ring[:, 0], ring[:, 1], *state.subpoint)
    assert dist.max() < 2.4e6  # horizon distance from 408 km is ~2,270 km


def test_view_missing_earth_raises(meteor_state):
    _, state = meteor_state
    cam = Camera.from_focal_sensor(focal_mm=200, sensor_width_mm=36, sensor_height_mm=24, width_px=60, height_px=40)
    geo = _georef(state, (0, 150, 0), cam)  # looking up and back into space
    with pytest.raises(NoSolutionError):
        geo.footprint()


def test_antimeridian_split():
    ring = np.array([[179.0, 10.0], [181.5, 10.0], [181.5, 12.0], [179.0, 12.0]])
    fp = split_antimeridian(ring)
    assert fp.geom_type == "MultiPolygon"
    b = [g.bounds for g in fp.geoms]
    assert any(x[2] == pytest.approx(180.0) for x in b) and any(x[0] == pytest.approx(-180.0) for x in b)
    assert sum(g.area for g in fp.geoms) == pytest.approx(2.5 * 2.0)
    plain = split_antimeridian(np.array([[-10.0, 0], [10, 0], [10, 5], [-10, 5]]))
    assert plain.geom_type == "Polygon"


def test_gsd_matches_simple_nadir_formula(meteor_state):
    _, state = meteor_state
    cam = Camera.from_pixel_pitch(focal_mm=400, pixel_pitch_um=6.4, width_px=5568, height_px=3712)
    geo = _georef(state, (0, 0, 0), cam)
    # nadir GSD = altitude * pitch / focal (flat-Earth limit, good to ~0.1 % here)
    expected = state.altitude_m * 6.4e-6 / 0.4
    g = geo.gsd_m()
    assert g[0] == pytest.approx(expected, rel=2e-3) and g[1] == pytest.approx(expected, rel=2e-3)


def test_a_distortion_that_is_no_lens_is_found_on_the_frame():
    """OpenCV's undistortPoints agrees with the inversion where the check passes (a real lens), and
    coefficients no lens has (a unit mistake, a sign slip) are named before any work."""
    import cv2

    body = dict(focal_mm=24.0, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=5568, height_px=3712)
    for d in (Distortion(k1=-0.08), Distortion(k1=-0.28, k2=0.07, p1=0.001, p2=-0.0005), Distortion(k1=0.1, k3=0.05)):
        cam = Camera.from_focal_sensor(**body, distortion=d)
        assert cam.distortion_problem() is None, d
        pts = np.array([[0.0, 0.0], [5567.0, 3711.0], [100.0, 3000.0]])
        k = np.array([[cam.focal_x_px, 0, cam.cx_px], [0, cam.focal_y_px, cam.cy_px], [0, 0, 1]])
        ref = cv2.undistortPoints(
            pts[:, None, :],
            k,
            np.array([d.k1, d.k2, d.p1, d.p2, d.k3]),
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12),
        )[:, 0, :]
        x, y = cam.normalized(pts[:, 0], pts[:, 1])
        assert np.abs(np.stack([x, y], axis=1) - ref).max() < 1e-6
    assert Camera.from_focal_sensor(**body).distortion_problem() is None  # none at all
    for d, word in (
        (Distortion(k1=1e9), "inverted"),  # pixels for normalized units
        (Distortion(k1=-1.0), "inverted"),  # folds back inside the frame
        (Distortion(p1=0.5), "diverges"),
    ):
        problem = Camera.from_focal_sensor(**body, distortion=d).distortion_problem()
        assert problem is not None and word in problem, (d, problem)
