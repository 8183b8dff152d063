"""The simple sun of the published side-sway method (steps 1-6), exactly as published.

Formulas: local solar time T_local = UTC + lon/15 h; hour angle T = (12 - T_local) x 15 deg
(positive before noon); declination d = asin(0.39795 cos(0.98563 (N - 173))) with the cosine's
argument in degrees and N the day of the year; elevation H = asin(sin Lat sin d + cos Lat cos d cos T).
The azimuth, which the published method does not use, follows from the same spherical triangle.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from cupola.errors import InputError


@dataclass(frozen=True)
class SimpleSun:
    day_of_year: int
    local_solar_time_h: float
    hour_angle_deg: float  # the method's T: positive in the morning
    declination_deg: float
    elevation_deg: float
    azimuth_deg: float  # clockwise from north


def simple_sun(time: dt.datetime, *, lat: float, lon: float) -> SimpleSun:
    """Sun of the simple method at a UTC time and a place (degrees)."""
    if time.tzinfo is None:
        raise InputError(f"time {time.isoformat()} has no time zone; give UTC")
    if not -90.0 <= lat <= 90.0:
        raise InputError(f"latitude {lat} is outside -90..90 degrees")
    if not -180.0 <= lon <= 360.0:
        raise InputError(f"longitude {lon} is outside -180..360 degrees")
    t = time.astimezone(dt.timezone.utc)
    n = t.timetuple().tm_yday
    utc_h = t.hour + t.minute / 60.0 + (t.second + t.microsecond * 1e-6) / 3600.0
    local_h = utc_h + lon / 15.0
    hour_angle = (12.0 - local_h) * 15.0
    decl = math.degrees(math.asin(0.39795 * math.cos(math.radians(0.98563 * (n - 173)))))
    la, d, ha = math.radians(lat), math.radians(decl), math.radians(hour_angle)
    sin_h = math.sin(la) * math.sin(d) + math.cos(la) * math.cos(d) * math.cos(ha)
    elevation = math.degrees(math.asin(max(-1.0, min(1.0, sin_h))))
    # azimuth from north, clockwise; T > 0 (morning) puts the sun in the east
    east = math.cos(d) * math.sin(ha)
    north = math.sin(d) * math.cos(la) - math.cos(d) * math.cos(ha) * math.sin(la)
    azimuth = math.degrees(math.atan2(east, north)) % 360.0
    return SimpleSun(n, local_h, hour_angle, decl, elevation, azimuth)
