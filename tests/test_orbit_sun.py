import datetime as dt
import warnings

import numpy as np
import pytest

from conftest import FRAME_TIME, TLE_FILE, haversine_m
from cupola.errors import InputError
from cupola.geometry import orbit, sun


def test_nearest_element_set_chosen():
    sets = orbit.parse_tle(TLE_FILE.read_text())
    assert len(sets) == 493
    el = orbit.select_element_set(sets, FRAME_TIME)
    ages = [abs((s.epoch - FRAME_TIME).total_seconds()) for s in sets]
    assert abs((el.epoch - FRAME_TIME).total_seconds()) == min(ages)
    assert el.epoch.date() == dt.date(2017, 5, 16)


def test_subpoint_matches_astropy_teme_to_itrs(meteor_state, astropy_offline):
    from astropy import units as u
    from astropy.coordinates import ITRS, TEME, CartesianRepresentation
    from astropy.time import Time
    from sgp4.api import Satrec

    el, sv = meteor_state
    sat = Satrec.twoline2rv(el.line1, el.line2)
    t = Time(FRAME_TIME)
    err, r, _ = sat.sgp4(t.jd1, t.jd2)
    assert err == 0
    itrs = TEME(CartesianRepresentation(r * u.km), obstime=t).transform_to(ITRS(obstime=t))
    assert np.linalg.norm(itrs.cartesian.xyz.to_value(u.m) - sv.position_m) < 10.0
    loc = itrs.earth_location
    lon, lat = sv.subpoint
    assert haversine_m(lon, lat, loc.lon.deg, loc.lat.deg) < 10.0
    assert sv.altitude_m == pytest.approx(loc.height.to_value(u.m), abs=10.0)
    # the ISS in May 2017: ~405 km up, ~7.66 km/s inertial, ~7 km/s over the ground
    assert 395e3 < sv.altitude_m < 420e3
    assert 6.8e3 < sv.ground_speed_m_s < 7.2e3


def test_itrs_velocity_matches_finite_difference(meteor_state):
    el, sv = meteor_state
    dt_s = 0.5
    a = orbit.state_at(el, FRAME_TIME - dt.timedelta(seconds=dt_s))
    b = orbit.state_at(el, FRAME_TIME + dt.timedelta(seconds=dt_s))
    fd = (b.position_m - a.position_m) / (2 * dt_s)
    assert np.linalg.norm(fd - sv.velocity_m_s) < 0.05


@pytest.mark.parametrize(
    "lon,lat,when",
    [
        (-101.0, 30.0, dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=dt.timezone.utc)),
        (121.5, 31.23, dt.datetime(2013, 8, 5, 2, 56, 39, tzinfo=dt.timezone.utc)),
        (0.0, 51.48, dt.datetime(2024, 6, 21, 12, 0, 0, tzinfo=dt.timezone.utc)),
        (150.0, -35.0, dt.datetime(2020, 12, 1, 23, 0, 0, tzinfo=dt.timezone.utc)),
    ],
)
def test_sun_matches_astropy(lon, lat, when, astropy_offline):
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, get_sun
    from astropy.time import Time

    t = Time(when)
    loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, 0 * u.m)
    aa = get_sun(t).transform_to(AltAz(obstime=t, location=loc, pressure=0 * u.hPa))
    ours = sun.sun_position(when, lon=lon, lat=lat)
    assert ours.elevation_deg == pytest.approx(aa.alt.deg, abs=0.01)
    assert ours.azimuth_deg == pytest.approx(aa.az.deg, abs=0.02)


def test_illumination_classes():
    assert sun.illumination(10) == "day"
    assert sun.illumination(-3) == "civil twilight"
    assert sun.illumination(-9) == "nautical twilight"
    assert sun.illumination(-15) == "astronomical twilight"
    assert sun.illumination(-40) == "night"
    night = sun.sun_position(FRAME_TIME, lon=-101.0, lat=30.0)
    assert night.illumination == "night"  # 00:44 local time in Texas


def test_stale_and_refused_element_sets():
    sets = orbit.parse_tle(TLE_FILE.read_text())
    last = max(s.epoch for s in sets)
    with pytest.warns(orbit.StaleElementsWarning):
        orbit.select_element_set(sets, last + dt.timedelta(days=10))
    with pytest.raises(InputError, match="accept it with `force`"):
        orbit.select_element_set(sets, last + dt.timedelta(days=40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert orbit.select_element_set(sets, last + dt.timedelta(days=40), force=True).epoch == last


def test_time_needs_a_zone():
    with pytest.raises(InputError, match="no time zone"):
        orbit.parse_time("2017-05-17T05:44:09")
    with pytest.raises(InputError, match="ISO 8601"):
        orbit.parse_time("yesterday")
    assert orbit.parse_time("2017-05-17T07:44:09+02:00") == dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=dt.timezone.utc)
