import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cupola.geometry import geodesy

TO_ECEF = pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)


def test_geodetic_to_ecef_matches_pyproj():
    rng = np.random.default_rng(1)
    lon = rng.uniform(-180, 180, 500)
    lat = rng.uniform(-90, 90, 500)
    h = rng.uniform(-500, 500_000, 500)
    ours = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), h)
    ref = np.column_stack(TO_ECEF.transform(lon, lat, h))
    assert np.abs(ours - ref).max() < 1e-6


def test_ecef_to_geodetic_matches_pyproj():
    rng = np.random.default_rng(2)
    lon = rng.uniform(-180, 180, 500)
    lat = rng.uniform(-89.9, 89.9, 500)
    h = rng.uniform(-500, 40_000_000, 500)
    xyz = np.column_stack(TO_ECEF.transform(lon, lat, h))
    lo, la, hh = geodesy.ecef_to_geodetic(xyz)
    assert np.abs(np.degrees(lo) - lon).max() < 1e-9
    assert np.abs(np.degrees(la) - lat).max() < 1e-9
    assert np.abs(hh - h).max() < 1e-4


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-80, 80),
    h=st.floats(0, 100_000),
    alt=st.floats(200_000, 2_000_000),
    dx=st.floats(-0.3, 0.3),
    dy=st.floats(-0.3, 0.3),
)
def test_ray_hits_surface_at_requested_height(lon, lat, h, alt, dx, dy):
    o = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), alt)
    e, n, u = geodesy.enu_basis(np.radians(lon), np.radians(lat))
    d = -u + dx * e + dy * n
    p = geodesy.ray_ellipsoid_intersection(o, d, h)
    _, _, hp = geodesy.ecef_to_geodetic(p)
    assert abs(hp - h) < 1e-3
    # the hit lies on the ray, in front of the origin
    v = p - o
    assert np.linalg.norm(np.cross(v, d)) / np.linalg.norm(d) < 1e-3
    assert v @ d > 0


def test_ray_missing_or_pointing_away_is_nan():
    o = geodesy.geodetic_to_ecef(0.0, 0.0, 400_000.0)
    up = o / np.linalg.norm(o)
    side = np.array([0.0, 0.0, 1.0])
    p = geodesy.ray_ellipsoid_intersection(o, np.stack([up, side, -up]), 0.0)
    assert np.isnan(p[0]).all() and np.isnan(p[1]).all()
    assert np.isfinite(p[2]).all()
    assert p[2] == pytest.approx([geodesy.A_M, 0, 0], abs=1e-6)
