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
