"""Satellite states at many instants at once: positions and LVLH frames for a sequence of times.

:func:`cupola.geometry.orbit.state_at` gives one :class:`~cupola.geometry.orbit.StateVector`; a
frame sequence, a video or a list of lightning events needs the station's position and its LVLH
frame at hundreds of instants. :func:`trajectory` evaluates them in one vectorized skyfield call
(the same SGP4 -> TEME -> GCRS -> ITRS chain as ``state_at``, polar motion included), with times
given as seconds after a reference ``epoch`` so that microsecond offsets keep their precision.

>>> # tr = trajectory(elements, epoch, [0.0, 0.5, 1.0]); tr.position_m.shape == (3, 3)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError
from cupola.geometry.orbit import ElementSet, timescale

__all__ = ["Trajectory", "trajectory"]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Station states at ``epoch + offsets_s`` (UTC), SI units, ITRS (WGS84 ECEF).

    Attributes:
        epoch: reference time (timezone-aware UTC).
        offsets_s: (N,) seconds after ``epoch``.
        position_m, velocity_m_s: (N, 3) ITRS position and Earth-fixed velocity.
        lvlh_to_itrs: (N, 3, 3) matrices whose columns are the LVLH x, y, z axes in ITRS, built from
            the inertial (GCRS) position and velocity as in :func:`cupola.geometry.attitude.lvlh_to_itrs`.
    """

    epoch: dt.datetime
    offsets_s: np.ndarray
    position_m: np.ndarray
    velocity_m_s: np.ndarray
    lvlh_to_itrs: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets_s.shape[0])


def _skyfield_times(epoch: dt.datetime, offsets_s: np.ndarray):
    if epoch.tzinfo is None:
        raise InputError(f"time {epoch.isoformat()} has no time zone; cupola works in UTC")
    e = epoch.astimezone(dt.timezone.utc)
    seconds = e.second + e.microsecond * 1e-6 + np.asarray(offsets_s, dtype=float)
    return timescale().utc(e.year, e.month, e.day, e.hour, e.minute, seconds)


def trajectory(elements: ElementSet, epoch: dt.datetime, offsets_s) -> Trajectory:
    """SGP4 states of the satellite at ``epoch + offsets_s`` (any number of instants, one call)."""
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    off = np.atleast_1d(np.asarray(offsets_s, dtype=float))
    if off.ndim != 1:
        raise InputError("trajectory: offsets_s must be one-dimensional")
    if off.size == 0:
        empty = np.zeros((0, 3))
        return Trajectory(epoch, off, empty, empty.copy(), np.zeros((0, 3, 3)))
    sat = EarthSatellite(elements.line1, elements.line2, elements.name, timescale())
    t = _skyfield_times(epoch, off)
    geo = sat.at(t)
    msg = getattr(geo, "message", None)
    if msg is not None and np.any(np.asarray(msg, dtype=object) != None):  # noqa: E711 - array of messages
        raise InputError(f"SGP4 failed near {epoch.isoformat()}: {msg}")
    pos, vel = geo.frame_xyz_and_velocity(itrs)
    r = np.asarray(geo.position.m, dtype=float).reshape(3, -1).T
    v = np.asarray(geo.velocity.m_per_s, dtype=float).reshape(3, -1).T
    rot = np.asarray(itrs.rotation_at(t), dtype=float).reshape(3, 3, -1)  # GCRS -> ITRS
    z = -r / np.linalg.norm(r, axis=1, keepdims=True)
    n = np.cross(r, v)
    y = -n / np.linalg.norm(n, axis=1, keepdims=True)
    x = np.cross(y, z)
    axes_gcrs = np.stack([x, y, z], axis=-1)  # (N, 3, 3), columns = axes
    lvlh = np.einsum("ijn,njk->nik", rot, axes_gcrs)
    return Trajectory(
        epoch=epoch.astimezone(dt.timezone.utc),
        offsets_s=off,
        position_m=np.asarray(pos.m, dtype=float).reshape(3, -1).T,
        velocity_m_s=np.asarray(vel.m_per_s, dtype=float).reshape(3, -1).T,
        lvlh_to_itrs=lvlh,
    )
