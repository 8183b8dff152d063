"""Sun position (elevation, azimuth) anywhere on Earth, and the day / twilight / night class.

Computed with skyfield from the JPL DE421 ephemeris shipped by ``skyfield-data`` (no download):
apparent geocentric direction, then the topocentric horizon frame of a WGS84 observer.
Refraction is not applied (geometric elevation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from cupola.errors import InputError


@dataclass(frozen=True)
class SunPosition:
    """Apparent topocentric sun position (no refraction)."""

    elevation_deg: float
    azimuth_deg: float  # clockwise from true north
    #: local hour angle, positive west (afternoon); 0 at apparent solar noon
    hour_angle_deg: float = float("nan")
    #: apparent topocentric declination
    declination_deg: float = float("nan")
    #: equation of time: apparent minus mean local solar time, minutes
    equation_of_time_min: float = float("nan")

    @property
    def illumination(self) -> str:
        return illumination(self.elevation_deg)


def illumination(elevation_deg: float) -> str:
    """'day' (sun above the horizon), 'civil/nautical/astronomical twilight' or 'night'."""
    e = float(elevation_deg)
    if e > -0.833:  # upper limb at the horizon with standard refraction
        return "day"
    if e > -6.0:
        return "civil twilight"
    if e > -12.0:
        return "nautical twilight"
    if e > -18.0:
        return "astronomical twilight"
    return "night"


@lru_cache(maxsize=1)
def _ephemeris():
    from skyfield.api import load_file

    from cupola.geometry.orbit import _skyfield_data_file

    return load_file(_skyfield_data_file("de421.bsp"))


def sun_position(time: dt.datetime, *, lon: float, lat: float, height_m: float = 0.0) -> SunPosition:
    """Geometric (unrefracted) apparent sun elevation and azimuth for a WGS84 observer.

    ``lon``, ``lat`` in degrees. DE421 covers 1900-2050.
    """
    from skyfield.api import wgs84

    from cupola.geometry.orbit import skyfield_time

    if not (-90.0 <= lat <= 90.0):
        raise InputError(f"latitude {lat} is outside -90..90 degrees")
    if time.year < 1900 or time.year >= 2050:
        raise InputError(f"time {time.isoformat()} is outside the DE421 ephemeris (1900-2050)")
    eph = _ephemeris()
    earth, sun = eph["earth"], eph["sun"]
    observer = earth + wgs84.latlon(lat, lon, elevation_m=height_m)
    apparent = observer.at(skyfield_time(time)).observe(sun).apparent()
    alt, az, _ = apparent.altaz()
    ha, dec, _ = apparent.hadec()
    ha_deg = float(ha.hours) * 15.0
    # mean local solar time = UTC + lon/15 h; apparent = 12 h + HA/15 h
    utc_h = time.hour + time.minute / 60 + (time.second + time.microsecond * 1e-6) / 3600
    mean_h = utc_h + lon / 15.0
    eot_h = ((12.0 + ha_deg / 15.0 - mean_h + 12.0) % 24.0) - 12.0
    return SunPosition(float(alt.degrees), float(az.degrees), ha_deg, float(dec.degrees), eot_h * 60.0)
