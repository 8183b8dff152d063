import csv
import datetime as dt
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.shadows import Measurement, off_nadir_from_view_zenith_deg, side_sway_from_height, simple_sun, solve
from cupola.shadows.batch import run_batch
from cupola.shadows.measure import PixelFrame

UTC = dt.timezone.utc
GF1_TIME = dt.datetime(2013, 8, 5, 2, 56, 39, tzinfo=UTC)
TOWER = dict(lat=31.23, lon=121.5)


def test_published_worked_example_simple_method():
    r = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=168.0, displacement_m=125.5), method="simple")
    assert r.day_of_year == 217
    assert r.hour_angle_deg == pytest.approx(14.3375, abs=1e-3)
    assert r.declination_deg == pytest.approx(16.8157, abs=1e-3)
    # the published steps with the published inputs; recomputed here by hand, independently
    la, d, t = map(math.radians, (31.23, 16.8157, 14.3375))
    h_ref = math.degrees(math.asin(math.sin(la) * math.sin(d) + math.cos(la) * math.cos(d) * math.cos(t)))
    assert r.solar_elevation_deg == pytest.approx(h_ref, abs=1e-3)
    assert r.solar_elevation_deg == pytest.approx(70.566, abs=1e-3)  # the paper prints 70.611: see docs/shadows.md
    assert r.height_m == pytest.approx(168.0 * math.tan(math.radians(r.solar_elevation_deg)), rel=1e-12)
    assert r.side_sway_deg == pytest.approx(math.degrees(math.atan(125.5 / r.height_m)), abs=1e-12)
    assert r.side_sway_deg == pytest.approx(14.765, abs=1e-3)


def test_worked_example_precise_method_and_surveyed_height():
    simple = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=168.0, displacement_m=125.5), method="simple")
    precise = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=168.0, displacement_m=125.5))
    assert precise.method == "precise"
    # equation of time on 5 August is about -6 minutes: the true sun is 1.5 deg further east
    assert precise.equation_of_time_min == pytest.approx(-6.0, abs=0.1)
    assert precise.hour_angle_deg - simple.hour_angle_deg == pytest.approx(1.5, abs=0.02)
    assert precise.solar_elevation_deg == pytest.approx(69.724, abs=0.01)
    assert precise.height_m == pytest.approx(454.7, abs=0.2)
    # against the surveyed 468 m, the simple method happens to land closer (see docs/shadows.md)
    assert abs(simple.height_m - 468) < abs(precise.height_m - 468)


def test_precise_sun_matches_astropy(astropy_offline):
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, HADec, get_sun
    from astropy.time import Time

    for when, lat, lon in [
        (GF1_TIME, 31.23, 121.5),
        (dt.datetime(2021, 12, 21, 1, 0, tzinfo=UTC), -33.86, 151.21),
        (dt.datetime(2019, 3, 20, 16, 0, tzinfo=UTC), 40.7, -74.0),
    ]:
        r = solve(when, lat=lat, lon=lon, measurement=Measurement(shadow_m=50.0))
        t = Time(when)
        loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, 0 * u.m)
        sun = get_sun(t)
        aa = sun.transform_to(AltAz(obstime=t, location=loc, pressure=0 * u.hPa))
        hd = sun.transform_to(HADec(obstime=t, location=loc, pressure=0 * u.hPa))
        assert r.solar_elevation_deg == pytest.approx(aa.alt.deg, abs=0.01)
        assert r.solar_azimuth_deg == pytest.approx(aa.az.deg, abs=0.01)
        assert r.declination_deg == pytest.approx(hd.dec.deg, abs=0.01)
        ha = hd.ha.wrap_at(180 * u.deg).deg
        assert -r.hour_angle_deg == pytest.approx(ha, abs=0.01)


def test_sun_at_zenith_limit():
    # day 173 (22 June 2021), 12:00 local solar time at lon 0, latitude = the formula's declination
    when = dt.datetime(2021, 6, 22, 12, 0, tzinfo=UTC)
    decl = math.degrees(math.asin(0.39795))
    s = simple_sun(when, lat=decl, lon=0.0)
    assert s.hour_angle_deg == pytest.approx(0.0, abs=1e-9)
    assert s.elevation_deg == pytest.approx(90.0, abs=1e-6)
    with pytest.raises(InputError, match="zenith"):
        solve(when, lat=decl, lon=0.0, measurement=Measurement(shadow_m=0.0), method="simple")


def test_zero_displacement_and_known_height():
    r = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=168.0, displacement_m=0.0, sigma_displacement_m=2.0))
    assert r.side_sway_deg == 0.0
    assert r.sigma_side_sway_deg == pytest.approx(math.degrees(2.0 / r.height_m), rel=1e-6)
    known = solve(GF1_TIME, **TOWER, measurement=Measurement(known_height_m=468.0, displacement_m=125.5))
    assert known.height_source == "given" and known.solar_elevation_deg is None
    assert known.side_sway_deg == pytest.approx(side_sway_from_height(468.0, 125.5))
    assert known.side_sway_deg == pytest.approx(math.degrees(math.atan2(125.5, 468.0)))


def test_southern_hemisphere_mirror_and_solstices():
    # the simple sun is symmetric under lat -> -lat with the date half a year later (d -> -d)
    north = simple_sun(dt.datetime(2021, 6, 22, 3, 0, tzinfo=UTC), lat=35.0, lon=100.0)
    n2 = 173 + 180.0 / 0.98563  # where the declination cosine has turned by exactly 180 deg
    south_date = dt.datetime(2021, 1, 1, 3, 0, tzinfo=UTC) + dt.timedelta(days=round(n2) - 1)
    south = simple_sun(south_date, lat=-35.0, lon=100.0)
    assert south.declination_deg == pytest.approx(-north.declination_deg, abs=0.02)
    assert south.elevation_deg == pytest.approx(north.elevation_deg, abs=0.02)
    # the northern-summer sun stands north of a southern observer at noon, south of a northern one
    noon = dt.datetime(2021, 6, 21, 12, 0, tzinfo=UTC)
    assert (
        abs(
            ((solve(noon, lat=-30.0, lon=0.0, measurement=Measurement(shadow_m=10.0)).solar_azimuth_deg + 180) % 360)
            - 180
        )
        < 5
    )
    assert solve(noon, lat=50.0, lon=0.0, measurement=Measurement(shadow_m=10.0)).solar_azimuth_deg == pytest.approx(
        180, abs=5
    )
    # solstice declinations
    assert simple_sun(dt.datetime(2021, 6, 22, tzinfo=UTC), lat=0, lon=0).declination_deg == pytest.approx(
        23.45, abs=0.01
    )
    assert simple_sun(dt.datetime(2021, 12, 21, tzinfo=UTC), lat=0, lon=0).declination_deg == pytest.approx(
        -23.45, abs=0.05
    )
    june = solve(dt.datetime(2021, 6, 21, 12, tzinfo=UTC), lat=10.0, lon=0.0, measurement=Measurement(shadow_m=1.0))
    assert june.declination_deg == pytest.approx(23.43, abs=0.02)


def test_uncertainty_matches_analytic_derivatives():
    m = Measurement(shadow_m=168.0, displacement_m=125.5, sigma_shadow_m=2.0, sigma_displacement_m=3.0)
    r = solve(GF1_TIME, **TOWER, measurement=m, method="simple")
    tan_h = math.tan(math.radians(r.solar_elevation_deg))
    assert r.sigma_height_m == pytest.approx(2.0 * tan_h, rel=1e-5)
    h, d = r.height_m, 125.5
    ds_dd = h / (h * h + d * d)
    ds_dh = -d / (h * h + d * d)
    expected = math.degrees(math.hypot(ds_dd * 3.0, ds_dh * 2.0 * tan_h))
    assert r.sigma_side_sway_deg == pytest.approx(expected, rel=1e-4)
    # a time error only matters through the sun
    t_only = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=168.0, sigma_time_s=60.0))
    assert t_only.sigma_solar_elevation_deg == pytest.approx(0.2, abs=0.1)  # ~0.25 deg/min near noon here
    assert t_only.sigma_height_m > 0


def test_two_dimensional_geometry_and_direction_check():
    sun = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_m=1.0))
    away = math.radians(sun.solar_azimuth_deg + 180)
    vec = (168 * math.sin(away), 168 * math.cos(away))
    r = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_en_m=vec, displacement_en_m=(0.0, -125.5)))
    assert r.shadow_length_m == pytest.approx(168.0)
    assert r.shadow_direction_misfit_deg == pytest.approx(0.0, abs=1e-9)
    assert r.view_azimuth_deg == pytest.approx(0.0, abs=1e-9)  # top displaced south: satellite to the north
    assert not r.warnings
    # a shadow 30 deg off the anti-sun direction: only its component counts, and a warning says so
    a = away + math.radians(30)
    off = solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_en_m=(168 * math.sin(a), 168 * math.cos(a))))
    assert off.shadow_length_m == pytest.approx(168 * math.cos(math.radians(30)))
    assert any("off the direction" in w for w in off.warnings)
    with pytest.raises(InputError, match="towards the sun"):
        solve(GF1_TIME, **TOWER, measurement=Measurement(shadow_en_m=(-vec[0], -vec[1])))


def test_pixels_to_ground_vectors(tmp_path):
    north_up = PixelFrame((100.0, 100.0), gsd_m=2.0)
    assert north_up.to_en_m((110.0, 100.0)) == pytest.approx((20.0, 0.0))
    assert north_up.to_en_m((100.0, 90.0)) == pytest.approx((0.0, 20.0))
    east_up = PixelFrame((0.0, 0.0), gsd_m=1.0, up_azimuth_deg=90.0)  # the image's top points east
    assert east_up.to_en_m((0.0, -5.0)) == pytest.approx((5.0, 0.0), abs=1e-12)
    assert east_up.to_en_m((5.0, 0.0)) == pytest.approx((0.0, -5.0), abs=1e-12)
    # a real georeferenced raster (UTM 51N, 2 m pixels) gives the same lengths as the GSD route
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "gf1.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=400,
        height=400,
        count=1,
        dtype="uint8",
        crs="EPSG:32651",
        transform=from_origin(356000.0, 3457000.0, 2.0, 2.0),
    ) as ds:
        ds.write(np.zeros((1, 400, 400), dtype="uint8"))
    geo = PixelFrame((200.0, 200.0), geotiff=path)
    e, n = geo.to_en_m((263.0, 255.0))
    assert math.hypot(e, n) == pytest.approx(2.0 * math.hypot(63, 55), rel=2e-3)
    assert geo.pixel_size_m() == pytest.approx(2.0, rel=2e-3)
    with pytest.raises(InputError):
        PixelFrame((0.0, 0.0))
    with pytest.raises(InputError, match="outside"):
        geo.to_en_m((1000.0, 0.0))


def test_orbit_comparison_round_trip(meteor_state):
    """Synthesise the displacement the orbit geometry implies; the method must give it back."""
    from conftest import FRAME_TIME

    el, _ = meteor_state
    lat, lon = 29.36, -100.9
    r0 = solve(
        FRAME_TIME, lat=lat, lon=lon, measurement=Measurement(known_height_m=100.0, displacement_m=1.0), tle_elements=el
    )
    geo = r0.orbit
    theta = math.radians(geo["view_zenith_deg"])
    away = math.radians(geo["view_azimuth_deg"] + 180.0)
    d = 100.0 * math.tan(theta)
    r = solve(
        FRAME_TIME,
        lat=lat,
        lon=lon,
        tle_elements=el,
        measurement=Measurement(known_height_m=100.0, displacement_en_m=(d * math.sin(away), d * math.cos(away))),
    )
    assert r.side_sway_deg == pytest.approx(geo["view_zenith_deg"], abs=1e-9)
    assert r.view_azimuth_deg == pytest.approx(geo["view_azimuth_deg"], abs=1e-9)
    # the spherical curvature formula vs the exact off-nadir angle from the orbit
    assert r.off_nadir_deg == pytest.approx(geo["off_nadir_deg"], abs=0.02)
    assert off_nadir_from_view_zenith_deg(0.0, 645e3) == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(measurement=Measurement(shadow_m=10.0), lat=95.0, lon=0.0), "latitude"),
        (dict(measurement=Measurement(shadow_m=10.0), lat=31.23, lon=121.5, method="fancy"), "method"),
        (dict(measurement=Measurement(displacement_m=10.0), lat=31.23, lon=121.5), "shadow length"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        solve(GF1_TIME, **kwargs)


def test_bad_measurements():
    with pytest.raises(InputError, match="negative"):
        Measurement(shadow_m=-1.0)
    with pytest.raises(InputError, match="negative"):
        Measurement(shadow_m=1.0, displacement_m=-3.0)
    with pytest.raises(InputError, match="finite"):
        Measurement(shadow_m=float("nan"))
    with pytest.raises(InputError, match="below the horizon"):
        solve(dt.datetime(2013, 8, 5, 14, 0, tzinfo=UTC), **TOWER, measurement=Measurement(shadow_m=168.0))


def test_batch(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "id,time,lat,lon,shadow_m,displacement_m,sigma_shadow_m,method\n"
        "tower,2013-08-05T02:56:39Z,31.23,121.5,168,125.5,2,simple\n"
        "night,2013-08-05T14:56:39Z,31.23,121.5,168,125.5,2,\n"
        "bad,2013-08-05T02:56:39Z,31.23,121.5,abc,125.5,2,\n"
    )
    out = tmp_path / "out.csv"
    ok, failed = run_batch(src, out)
    assert (ok, failed) == (1, 2)
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["tower", "night", "bad"]
    assert float(rows[0]["height_m"]) == pytest.approx(476.17, abs=0.01)
    assert "below the horizon" in rows[1]["error"]
    assert "not a number" in rows[2]["error"]
    with pytest.raises(InputError, match="missing column"):
        (tmp_path / "x.csv").write_text("when,lat\n1,2\n")
        run_batch(tmp_path / "x.csv", tmp_path / "y.csv")
    assert not (tmp_path / "y.csv").exists()


def test_batch_reads_csv_as_every_reader_does(tmp_path):
    """Comment and blank lines are skipped, names in any case; a row with another number of fields
    than the header fails on its own, naming its line."""
    src = tmp_path / "in.csv"
    src.write_text(
        "# towers, measured 2013-08-06\n"
        "ID,Time,Lat,Lon,Shadow_m,Method\n"
        "\n"
        "tower,2013-08-05T02:56:39Z,31.23,121.5,168,simple\n"
        "# the next row lost its method\n"
        "short,2013-08-05T02:56:39Z,31.23,121.5,168\n"
    )
    out = tmp_path / "out.csv"
    assert run_batch(src, out) == (1, 1)
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["tower", "short"]
    assert float(rows[0]["height_m"]) == pytest.approx(476.17, abs=0.01) and rows[0]["method"] == "simple"
    assert rows[1]["error"] == f"{src}: line 6: 5 fields; expected 6 as in the header"


def test_batch_pixel_measurements_as_on_the_command_line(tmp_path):
    """Rows in pixels give what `shadows height --base-px ... --sigma-px` gives; the errors name columns."""
    src = tmp_path / "px.csv"
    src.write_text(
        "id,time,lat,lon,base_col,base_row,shadow_tip_col,shadow_tip_row,gsd_m,sigma_px\n"
        "px,2013-08-05T02:56:39Z,31.23,121.5,500,500,437,445,2,1\n"
        "no-base,2013-08-05T02:56:39Z,31.23,121.5,,,437,445,2,1\n"
    )
    out = tmp_path / "out.csv"
    assert run_batch(src, out) == (1, 1)
    rows = list(csv.DictReader(out.open()))
    tan_h = math.tan(math.radians(69.724))
    assert float(rows[0]["height_m"]) == pytest.approx(167.6 * tan_h, rel=0.01)
    assert float(rows[0]["sigma_height_m"]) == pytest.approx(math.sqrt(2) * 2 * tan_h, rel=0.01)
    assert "base_col/base_row" in rows[1]["error"] and "`" not in rows[1]["error"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cupola", *args], capture_output=True, text=True, timeout=120)


def test_cli_sideway_json_and_plot(tmp_path):
    png = tmp_path / "diagram.png"
    p = _cli(
        "shadows",
        "sideway",
        "--time",
        "2013-08-05T02:56:39Z",
        "--lat",
        "31.23",
        "--lon",
        "121.5",
        "--shadow-m",
        "168",
        "--displacement-m",
        "125.5",
        "--method",
        "simple",
        "--json",
        "--plot",
        str(png),
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["hour_angle_deg"] == pytest.approx(14.3375, abs=1e-3)
    assert d["declination_deg"] == pytest.approx(16.8157, abs=1e-3)
    from PIL import Image

    assert Image.open(png).size[0] > 800
    p = _cli(
        "shadows",
        "height",
        "--time",
        "2013-08-05T02:56:39Z",
        "--lat",
        "31.23",
        "--lon",
        "121.5",
        "--base-px",
        "500",
        "500",
        "--shadow-tip-px",
        "437",
        "445",
        "--gsd-m",
        "2",
        "--sigma-px",
        "1",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["height_m"] == pytest.approx(167.6 * math.tan(math.radians(69.724)), rel=0.01)
    assert d["sigma_height_m"] == pytest.approx(math.sqrt(2) * 2 * math.tan(math.radians(69.724)), rel=0.01)


@pytest.mark.parametrize(
    "args,match",
    [
        (["--shadow-m", "-168", "--displacement-m", "1"], "--shadow-m"),
        (["--shadow-m", "168", "--displacement-m", "-1"], "--displacement-m"),
        (["--shadow-m", "168", "--displacement-m", "1", "--lat", "123"], "latitude"),
        (["--shadow-m", "168", "--displacement-m", "1", "--time", "2013-08-05T14:56:39Z"], "below the horizon"),
    ],
)
def test_cli_bad_input(args, match, tmp_path):
    base = {"--time": "2013-08-05T02:56:39Z", "--lat": "31.23", "--lon": "121.5"}
    for i in range(0, len(args) - 1):
        if args[i] in base:
            base[args[i]] = args[i + 1]
    rest = [a for i, a in enumerate(args) if a not in base and (i == 0 or args[i - 1] not in base)]
    out = tmp_path / "r.json"
    flat = [x for kv in base.items() for x in kv]
    p = _cli("shadows", "sideway", *flat, *rest, "--out", str(out))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0]
    assert not out.exists()
