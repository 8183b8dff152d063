"""Landmark heights from shadows and satellite side-sway (view) angles from relief displacement.

A tall landmark's shadow gives its height through the sun's elevation (height = L_shadow tan H);
its relief displacement (the shift of its top relative to its base, the "projection difference")
divided by that height gives the tangent of the view zenith angle, the satellite's side-sway
(roll) angle at the landmark.

Two methods:

* ``simple``: the published steps (local solar time = UTC + lon/15 h, hour angle
  T = (12 - T_local) 15 deg, declination d = asin(0.39795 cos(0.98563 (N - 173))),
  H = asin(sin Lat sin d + cos Lat cos d cos T)).
* ``precise`` (default): the apparent sun from the JPL DE421 ephemeris through skyfield (equation
  of time, nutation, aberration; refraction off), 2-D geometry on the ground (shadow along the
  sun's azimuth, displacement along the view azimuth), view azimuth and, with the satellite's
  altitude or a TLE, the off-nadir angle at the satellite.

Measurements in pixels become ground vectors through :func:`measurement_from`; a CSV of
landmarks is solved row by row with :func:`run_batch`.

>>> from cupola.shadows import side_sway_from_height
>>> round(side_sway_from_height(100.0, 50.0), 3)  # displacement 50 m of a 100 m tower
26.565
"""

from cupola.shadows.batch import run_batch
from cupola.shadows.measure import PixelFrame, measurement_from
from cupola.shadows.method import (
    Measurement,
    ShadowResult,
    off_nadir_from_view_zenith_deg,
    orbit_view_geometry,
    side_sway_from_height,
    solve,
)
from cupola.shadows.simple_sun import SimpleSun, simple_sun

__all__ = [
    "Measurement",
    "PixelFrame",
    "ShadowResult",
    "SimpleSun",
    "measurement_from",
    "off_nadir_from_view_zenith_deg",
    "orbit_view_geometry",
    "run_batch",
    "side_sway_from_height",
    "simple_sun",
    "solve",
]
