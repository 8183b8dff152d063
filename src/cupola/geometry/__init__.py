"""Pure computation, no file I/O: WGS84 geodesy, ISO 8601 times, orbits from TLEs (ITRS state),
the sun, cameras (intrinsics, distortion), attitude (LVLH, look-at, tie-point solve) and
projection (pixel <-> ground, footprints). SI units inside; degrees only where a name says
``_deg``. Names are imported on first use.

>>> from cupola.geometry import geodesy, parse_time
>>> round(geodesy.A_M), parse_time("2017-05-17T05:44:09Z").isoformat()
(6378137, '2017-05-17T05:44:09+00:00')
"""

from cupola._lazy import lazy_names

_NAMES = {
    "parse_time": "cupola.geometry.times",
    "parse_time_ns": "cupola.geometry.times",
    "iso_z": "cupola.geometry.times",
    "ElementSet": "cupola.geometry.orbit",
    "StateVector": "cupola.geometry.orbit",
    "parse_tle": "cupola.geometry.orbit",
    "select_element_set": "cupola.geometry.orbit",
    "state_at": "cupola.geometry.orbit",
    "SunPosition": "cupola.geometry.sun",
    "sun_position": "cupola.geometry.sun",
    "Camera": "cupola.geometry.camera",
    "Distortion": "cupola.geometry.camera",
    "Pose": "cupola.geometry.attitude",
    "pose_from_rpy": "cupola.geometry.attitude",
    "pose_look_at": "cupola.geometry.attitude",
    "solve_attitude": "cupola.geometry.attitude",
    "Georeference": "cupola.geometry.projection",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
