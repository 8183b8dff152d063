"""Satellite orbits from two-line element sets: parsing, choice of element set, ITRS state.

SGP4 (the ``sgp4`` package, through skyfield) propagates in TEME; skyfield converts TEME to the
GCRS and on to the ITRS once, here, so everything downstream works in ITRS / WGS84 ECEF.
Time is always timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.times import iso_z, parse_time  # noqa: F401 - the one ISO 8601 parser, re-exported

#: an element set further than this from the photo time triggers a warning
WARN_AGE_DAYS = 3.0
#: an element set further than this is refused unless forced
MAX_AGE_DAYS = 30.0


class StaleElementsWarning(UserWarning):
    """The chosen element set is more than a few days from the requested time."""


@dataclass(frozen=True)
class ElementSet:
    """One two-line element set."""

    line1: str
    line2: str
    name: str
    epoch: dt.datetime
    norad_id: int

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "norad_id": self.norad_id,
            "epoch": iso_z(self.epoch),
            "line1": self.line1,
            "line2": self.line2,
        }


@dataclass(frozen=True)
class StateVector:
    """Position and velocity at one time: ITRS (Earth-fixed) and GCRS (inertial), SI units."""

    time: dt.datetime
    position_m: np.ndarray
    velocity_m_s: np.ndarray
    gcrs_position_m: np.ndarray
    gcrs_velocity_m_s: np.ndarray
    #: rotation matrix taking GCRS vectors to ITRS vectors at ``time``
    gcrs_to_itrs: np.ndarray

    @property
    def subpoint(self) -> tuple[float, float]:
        """Geodetic (lon_deg, lat_deg) of the point directly below (along the ellipsoid normal)."""
        lon, lat, _ = geodesy.ecef_to_geodetic(self.position_m)
        return float(np.degrees(lon)), float(np.degrees(lat))

    @property
    def altitude_m(self) -> float:
        """Height above the WGS84 ellipsoid."""
        return float(geodesy.ecef_to_geodetic(self.position_m)[2])

    @property
    def ground_speed_m_s(self) -> float:
        """Speed of the sub-satellite point over the ellipsoid surface (Earth-fixed)."""
        lon, lat, h = geodesy.ecef_to_geodetic(self.position_m)
        up = geodesy.enu_basis(lon, lat)[2]
        v = self.velocity_m_s
        horizontal = v - (v @ up) * up
        sl = np.sin(lat)
        n = geodesy.A_M / np.sqrt(1.0 - geodesy.E2 * sl * sl)
        # horizontal motion scaled down from orbit height to the surface (local sphere radius)
        return float(np.linalg.norm(horizontal) * n / (n + h))


def _checksum(line: str) -> int:
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def _epoch_from_line1(line1: str) -> dt.datetime:
    yy = int(line1[18:20])
    year = 2000 + yy if yy < 57 else 1900 + yy
    day = float(line1[20:32])
    return dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=day - 1.0)


def parse_tle(text: str, source: str = "TLE") -> list[ElementSet]:
    """Parse 2-line or 3-line (name line first) element sets from text.

    Raises :class:`InputError` naming ``source`` and the line number on any malformed line
    (wrong length, bad line number, checksum mismatch, mismatched satellite numbers).
    """
    from sgp4.api import Satrec

    lines = [(i + 1, ln.rstrip()) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    sets: list[ElementSet] = []
    name = ""
    k = 0
    while k < len(lines):
        no, ln = lines[k]
        if not ln.startswith("1 "):
            if ln.startswith("2 ") or k + 1 >= len(lines) or not lines[k + 1][1].startswith("1 "):
                raise InputError(f"{source}: line {no}: expected TLE line 1 (starting '1 '), got {ln[:30]!r}")
            name = ln[2:].strip() if ln.startswith("0 ") else ln.strip()
            k += 1
            continue
        if k + 1 >= len(lines):
            raise InputError(f"{source}: line {no}: TLE line 1 has no line 2 after it")
        no2, ln2 = lines[k + 1]
        for n_, l_, want in ((no, ln, "1"), (no2, ln2, "2")):
            if len(l_.rstrip()) != 69 or l_[0] != want:
                raise InputError(
                    f"{source}: line {n_}: expected a 69-character TLE line {want}, got {len(l_.rstrip())} characters"
                )
            if not l_[68].isdigit():
                raise InputError(f"{source}: line {n_}: TLE checksum (column 69) is not a digit")
            if int(l_[68]) != _checksum(l_):
                raise InputError(
                    f"{source}: line {n_}: TLE checksum mismatch (expected {_checksum(l_)}, found {l_[68]})"
                )
        if ln[2:7] != ln2[2:7]:
            raise InputError(f"{source}: lines {no}-{no2}: satellite numbers differ ({ln[2:7]} vs {ln2[2:7]})")
        try:
            sat = Satrec.twoline2rv(ln[:69], ln2[:69])
            if sat.error != 0:
                raise ValueError(f"sgp4 rejects the elements (error code {sat.error})")
            epoch = _epoch_from_line1(ln)
            norad = int(ln[2:7])
        except Exception as exc:  # sgp4 raises ValueError with column details
            raise InputError(f"{source}: lines {no}-{no2}: malformed TLE ({exc})") from None
        sets.append(ElementSet(ln[:69], ln2[:69], name or f"NORAD {norad}", epoch, norad))
        name = ""
        k += 2
    if not sets:
        raise InputError(f"{source}: no two-line element sets found")
    return sets


def select_element_set(
    sets: list[ElementSet],
    time: dt.datetime,
    *,
    force: bool = False,
    source: str = "TLE",
    notes: list[str] | None = None,
) -> ElementSet:
    """The element set whose epoch is nearest ``time``.

    Beyond 3 days it warns (:class:`StaleElementsWarning`), or, when a ``notes`` list is given,
    appends the message to it instead; beyond 30 days it refuses unless ``force``.
    """
    if not sets:
        raise InputError(f"{source}: no element sets to choose from")
    if time.tzinfo is None:
        raise InputError(f"time {time.isoformat()} has no time zone; cupola works in UTC")
    ages = [abs((s.epoch - time).total_seconds()) / 86400.0 for s in sets]
    best = sets[int(np.argmin(ages))]
    age = min(ages)
    if age > MAX_AGE_DAYS and not force:
        first = min(s.epoch for s in sets)
        last = max(s.epoch for s in sets)
        raise InputError(
            f"{source}: time {iso_z(time)} is {age:.1f} days from the nearest element set "
            f"(file covers {iso_z(first)} to {iso_z(last)}); more than {MAX_AGE_DAYS:.0f} days (accept it with `force`)"
        )
    if age > WARN_AGE_DAYS:
        message = (
            f"{source}: nearest element set is {age:.1f} days from {iso_z(time)}; "
            "expect kilometres of along-track error"
        )
        if notes is not None:
            notes.append(message)
        else:
            warnings.warn(message, StaleElementsWarning, stacklevel=2)
    return best


@lru_cache(maxsize=1)
def timescale():
    """Skyfield timescale from the data shipped with skyfield (no download)."""
    from skyfield.api import load
    from skyfield.data import iers

    ts = load.timescale(builtin=True)
    # polar motion (~10 m at the surface) from the IERS table that skyfield-data ships
    with open(_skyfield_data_file("finals2000A.all"), "rb") as f:
        finals = iers.parse_x_y_dut1_from_finals_all(f)
    iers.install_polar_motion_table(ts, finals)
    return ts


def _skyfield_data_file(name: str) -> str:
    import pathlib

    import skyfield_data

    with warnings.catch_warnings():
        # skyfield-data warns that its Earth-orientation table no longer predicts the future;
        # the past, which is what photos need, stays valid
        warnings.simplefilter("ignore", RuntimeWarning)
        folder = skyfield_data.get_skyfield_data_path()
    return str(pathlib.Path(folder) / name)


def skyfield_time(times):
    """A skyfield Time from one datetime or a sequence of them (UTC)."""
    ts = timescale()
    if isinstance(times, dt.datetime):
        return ts.from_datetime(times.astimezone(dt.timezone.utc))
    return ts.from_datetimes([t.astimezone(dt.timezone.utc) for t in times])


def state_at(elements: ElementSet, time: dt.datetime) -> StateVector:
    """SGP4 state of the satellite at ``time`` in ITRS and GCRS.

    >>> # sv = state_at(select_element_set(parse_tle(text), t), t); sv.subpoint
    """
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    sat = EarthSatellite(elements.line1, elements.line2, elements.name, timescale())
    t = skyfield_time(time)
    geo = sat.at(t)
    if getattr(geo, "message", None):
        raise InputError(f"SGP4 failed at {iso_z(time)}: {geo.message}")
    pos, vel = geo.frame_xyz_and_velocity(itrs)
    return StateVector(
        time=time.astimezone(dt.timezone.utc),
        position_m=np.asarray(pos.m, dtype=float),
        velocity_m_s=np.asarray(vel.m_per_s, dtype=float),
        gcrs_position_m=np.asarray(geo.position.m, dtype=float),
        gcrs_velocity_m_s=np.asarray(geo.velocity.m_per_s, dtype=float),
        gcrs_to_itrs=np.asarray(itrs.rotation_at(t), dtype=float),
    )


def ground_track(elements: ElementSet, times: list[dt.datetime]) -> np.ndarray:
    """Sub-satellite points (lon_deg, lat_deg) at many times, shape (N, 2)."""
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    sat = EarthSatellite(elements.line1, elements.line2, elements.name, timescale())
    t = skyfield_time(times)
    pos, _ = sat.at(t).frame_xyz_and_velocity(itrs)
    lon, lat, _ = geodesy.ecef_to_geodetic(np.asarray(pos.m).T)
    return np.degrees(np.stack([lon, lat], axis=-1))
