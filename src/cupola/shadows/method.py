"""Heights from shadows and side-sway / view angles from relief displacement (both methods).

Conventions: lengths in metres on the (assumed level) ground; 2-D vectors are (east, north)
metres; azimuths clockwise from true north in degrees. The *view* zenith/azimuth describe the line
from the landmark to the satellite; relief displacement points away from the satellite, so the view
azimuth is the displacement's azimuth + 180 deg. The published method calls the view zenith angle
at the landmark the satellite's side-sway angle; the satellite's own off-nadir (roll) angle is
smaller by the Earth's curvature: sin(off-nadir) = R / (R + altitude) sin(view zenith).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.shadows.simple_sun import simple_sun

METHODS = ("simple", "precise")
#: below this solar elevation a shadow is too long and too diffuse to measure
MIN_SUN_ELEVATION_DEG = 5.0


@dataclass(frozen=True)
class Measurement:
    """What was measured on the image, in metres on the ground.

    Give the shadow and the displacement either as lengths (``shadow_m``, ``displacement_m``) or
    as vectors from the landmark's base (``shadow_en_m``, ``displacement_en_m``: east, north).
    ``known_height_m`` replaces the shadow (side-sway from a known height). Sigmas are 1-sigma
    errors: of a length (m) and of the time (s).
    """

    shadow_m: float | None = None
    displacement_m: float | None = None
    shadow_en_m: tuple[float, float] | None = None
    displacement_en_m: tuple[float, float] | None = None
    known_height_m: float | None = None
    sigma_shadow_m: float = 0.0
    sigma_displacement_m: float = 0.0
    sigma_time_s: float = 0.0

    def __post_init__(self):
        for name in (
            "shadow_m",
            "displacement_m",
            "known_height_m",
            "sigma_shadow_m",
            "sigma_displacement_m",
            "sigma_time_s",
        ):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise InputError(f"{name}: {v!r} is not a finite number")
            if v is not None and v < 0:
                raise InputError(f"{name} must not be negative, got {v:g}")
        if self.shadow_m is not None and self.shadow_en_m is not None:
            raise InputError("give the shadow as a length or as a vector, not both")
        if self.displacement_m is not None and self.displacement_en_m is not None:
            raise InputError("give the displacement as a length or as a vector, not both")
        if self.known_height_m is not None and self.known_height_m <= 0:
            raise InputError(f"known_height_m must be positive, got {self.known_height_m:g}")

    @property
    def has_shadow(self) -> bool:
        return self.shadow_m is not None or self.shadow_en_m is not None

    @property
    def has_displacement(self) -> bool:
        return self.displacement_m is not None or self.displacement_en_m is not None


@dataclass
class ShadowResult:
    """Everything the method computes, with 1-sigma uncertainties (first-order propagation)."""

    method: str
    time_utc: str
    lat_deg: float
    lon_deg: float
    day_of_year: int | None = None
    local_solar_time_h: float | None = None
    hour_angle_deg: float | None = None  # positive before noon, as in the published method
    declination_deg: float | None = None
    equation_of_time_min: float | None = None
    solar_elevation_deg: float | None = None
    solar_azimuth_deg: float | None = None
    shadow_length_m: float | None = None
    shadow_direction_misfit_deg: float | None = None
    height_m: float | None = None
    height_source: str | None = None
    displacement_m: float | None = None
    side_sway_deg: float | None = None  # view zenith angle at the landmark
    view_azimuth_deg: float | None = None
    off_nadir_deg: float | None = None  # at the satellite, needs its altitude
    satellite_altitude_m: float | None = None
    sigma_solar_elevation_deg: float | None = None
    sigma_height_m: float | None = None
    sigma_side_sway_deg: float | None = None
    orbit: dict | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


#: the fields of :class:`ShadowResult` that give the sun's position, in the order products list them
SUN_FIELDS = (
    "day_of_year",
    "local_solar_time_h",
    "hour_angle_deg",
    "declination_deg",
    "equation_of_time_min",
    "solar_elevation_deg",
    "solar_azimuth_deg",
)


def _azimuth_deg(en) -> float:
    return math.degrees(math.atan2(en[0], en[1])) % 360.0


def _sun(method: str, time: dt.datetime, lat: float, lon: float) -> dict:
    if method == "simple":
        s = simple_sun(time, lat=lat, lon=lon)
        return {
            "day_of_year": s.day_of_year,
            "local_solar_time_h": s.local_solar_time_h,
            "hour_angle_deg": s.hour_angle_deg,
            "declination_deg": s.declination_deg,
            "solar_elevation_deg": s.elevation_deg,
            "solar_azimuth_deg": s.azimuth_deg,
        }
    from cupola.geometry.sun import sun_position

    if not -90.0 <= lat <= 90.0:
        raise InputError(f"latitude {lat} is outside -90..90 degrees")
    p = sun_position(time, lon=lon, lat=lat)
    t = time.astimezone(dt.timezone.utc)
    utc_h = t.hour + t.minute / 60.0 + (t.second + t.microsecond * 1e-6) / 3600.0
    return {
        "day_of_year": t.timetuple().tm_yday,
        "local_solar_time_h": (12.0 + p.hour_angle_deg / 15.0) % 24.0,  # apparent solar time
        "hour_angle_deg": -p.hour_angle_deg,
        "declination_deg": p.declination_deg,
        "equation_of_time_min": p.equation_of_time_min,
        "solar_elevation_deg": p.elevation_deg,
        "solar_azimuth_deg": p.azimuth_deg,
        "_utc_h": utc_h,
    }


def _core(method, time, lat, lon, m: Measurement) -> dict:
    """Point values (no uncertainty) of everything that depends on the inputs."""
    out = _sun(method, time, lat, lon) if m.has_shadow or m.known_height_m is None else {}
    if m.has_shadow:
        elev = out["solar_elevation_deg"]
        if elev <= 0.0:
            raise InputError(
                f"the sun is below the horizon ({elev:.2f} deg) at {time.isoformat()} "
                f"at {lat:.4f}, {lon:.4f}: no shadow to measure"
            )
        if elev >= 89.9:
            raise InputError(
                f"the sun is at the zenith ({elev:.2f} deg) at {time.isoformat()} at "
                f"{lat:.4f}, {lon:.4f}: a vertical landmark casts no shadow, so it gives no height"
            )
        if m.shadow_en_m is not None:
            if method == "simple":
                length = float(np.hypot(*m.shadow_en_m))
            else:
                # the shadow falls away from the sun: keep its component along that direction
                az = math.radians(out["solar_azimuth_deg"] + 180.0)
                length = m.shadow_en_m[0] * math.sin(az) + m.shadow_en_m[1] * math.cos(az)
                misfit = (_azimuth_deg(m.shadow_en_m) - (out["solar_azimuth_deg"] + 180.0) + 180.0) % 360.0 - 180.0
                out["shadow_direction_misfit_deg"] = misfit
                if length <= 0:
                    raise InputError(
                        f"the measured shadow points towards the sun (misfit {misfit:.0f} deg); "
                        "check the base and shadow-tip positions"
                    )
        else:
            assert m.shadow_m is not None  # has_shadow without a vector
            length = m.shadow_m
        out["shadow_length_m"] = length
        out["height_m"] = length * math.tan(math.radians(elev))
        out["height_source"] = "shadow"
    elif m.known_height_m is not None:
        out["height_m"] = m.known_height_m
        out["height_source"] = "given"
    if m.has_displacement and out.get("height_m"):
        if m.displacement_en_m is not None:
            d = float(np.hypot(*m.displacement_en_m))
            if d > 0:
                out["view_azimuth_deg"] = (_azimuth_deg(m.displacement_en_m) + 180.0) % 360.0
        else:
            assert m.displacement_m is not None  # has_displacement without a vector
            d = m.displacement_m
        out["displacement_m"] = d
        out["side_sway_deg"] = math.degrees(math.atan2(d, out["height_m"]))
    return out


def _sigma(f, x0: float, sigma: float, step: float) -> float:
    """|df/dx| sigma by a central difference (0 if sigma is 0)."""
    if not sigma:
        return 0.0
    return abs(f(x0 + step) - f(x0 - step)) / (2.0 * step) * sigma


def solve(
    time: dt.datetime,
    *,
    lat: float,
    lon: float,
    measurement: Measurement,
    method: str = "precise",
    satellite_altitude_m: float | None = None,
    tle_elements=None,
) -> ShadowResult:
    """Height of a landmark and the satellite's side-sway (view) angle at it.

    ``method`` is ``"precise"`` (default) or ``"simple"`` (the published steps). With
    ``satellite_altitude_m`` the off-nadir angle at the satellite is added; with ``tle_elements``
    (a :class:`cupola.geometry.orbit.ElementSet`) the view geometry the orbit implies is reported
    for comparison (and provides the altitude).

    >>> import datetime as dt
    >>> t = dt.datetime(2013, 8, 5, 2, 56, 39, tzinfo=dt.timezone.utc)
    >>> r = solve(t, lat=31.23, lon=121.5, measurement=Measurement(shadow_m=168, displacement_m=125.5),
    ...           method="simple")
    >>> round(r.hour_angle_deg, 4), round(r.declination_deg, 4)
    (14.3375, 16.8157)
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if time.tzinfo is None:
        raise InputError(f"time {time.isoformat()} has no time zone; give UTC")
    if not -90.0 <= lat <= 90.0:
        raise InputError(f"latitude {lat} is outside -90..90 degrees")
    m = measurement
    if not m.has_shadow and m.known_height_m is None:
        raise InputError("give a shadow length (or vector) or a known height")
    core = _core(method, time, lat, lon, m)
    res = ShadowResult(
        method=method,
        time_utc=time.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        lat_deg=lat,
        lon_deg=lon,
    )
    for k, v in core.items():
        if not k.startswith("_"):
            setattr(res, k, v)
    if res.solar_elevation_deg is not None and res.height_source == "shadow":
        if res.solar_elevation_deg < MIN_SUN_ELEVATION_DEG:
            res.warnings.append(f"the sun is only {res.solar_elevation_deg:.1f} deg high: long, soft shadows")
        if res.solar_elevation_deg > 85.0:
            res.warnings.append("the sun is within 5 deg of the zenith: a tiny shadow, height poorly determined")
        if res.shadow_direction_misfit_deg is not None and abs(res.shadow_direction_misfit_deg) > 10.0:
            res.warnings.append(
                f"the measured shadow is {res.shadow_direction_misfit_deg:+.1f} deg off the "
                "direction away from the sun: check the measurement, the time or the image north"
            )

    # -- uncertainty: independent inputs, first-order propagation by central differences --------
    def scaled(shadow_scale=1.0, disp_scale=1.0):
        return Measurement(
            shadow_m=None if m.shadow_m is None else m.shadow_m * shadow_scale,
            displacement_m=None if m.displacement_m is None else m.displacement_m * disp_scale,
            shadow_en_m=None if m.shadow_en_m is None else tuple(c * shadow_scale for c in m.shadow_en_m),
            displacement_en_m=None
            if m.displacement_en_m is None
            else tuple(c * disp_scale for c in m.displacement_en_m),
            known_height_m=m.known_height_m,
        )

    def value(key, *, dt_s=0.0, shadow_scale=1.0, disp_scale=1.0):
        return _core(method, time + dt.timedelta(seconds=dt_s), lat, lon, scaled(shadow_scale, disp_scale))[key]

    def shadow_and_time_terms(key: str) -> list[float]:
        """The errors of ``key`` from the shadow's length (relative) and from the time."""
        relative_shadow_sigma = m.sigma_shadow_m / res.shadow_length_m if res.shadow_length_m else 0.0
        return [
            _sigma(lambda s: value(key, shadow_scale=s), 1.0, relative_shadow_sigma, 1e-4),
            _sigma(lambda x: value(key, dt_s=x), 0.0, m.sigma_time_s, 1.0),
        ]

    if res.height_m is not None:
        terms = []
        if res.height_source == "shadow":
            terms.extend(shadow_and_time_terms("height_m"))
            res.sigma_solar_elevation_deg = _sigma(
                lambda x: value("solar_elevation_deg", dt_s=x), 0.0, m.sigma_time_s, 1.0
            )
        res.sigma_height_m = float(np.hypot.reduce(terms)) if terms else 0.0
    if res.side_sway_deg is not None:
        terms = []
        if res.displacement_m:
            terms.append(
                _sigma(
                    lambda s: value("side_sway_deg", disp_scale=s),
                    1.0,
                    m.sigma_displacement_m / res.displacement_m,
                    1e-4,
                )
            )
        else:  # zero displacement: d(atan(D/h))/dD = 1/h
            assert res.height_m is not None  # _core gives a side-sway only with a height
            terms.append(math.degrees(m.sigma_displacement_m / res.height_m))
        if res.height_source == "shadow":
            terms.extend(shadow_and_time_terms("side_sway_deg"))
        res.sigma_side_sway_deg = float(np.hypot.reduce(terms))

    # -- the satellite ---------------------------------------------------------------------------
    if tle_elements is not None:
        res.orbit = orbit_view_geometry(tle_elements, time, lat=lat, lon=lon)
        if satellite_altitude_m is None:
            satellite_altitude_m = res.orbit["satellite_altitude_m"]
    if satellite_altitude_m is not None and res.side_sway_deg is not None:
        res.satellite_altitude_m = satellite_altitude_m
        res.off_nadir_deg = off_nadir_from_view_zenith_deg(res.side_sway_deg, satellite_altitude_m, lat=lat)
    return res


def side_sway_from_height(height_m: float, displacement_m: float) -> float:
    """View zenith (side-sway) angle in degrees from a known height and relief displacement."""
    if not height_m > 0:
        raise InputError(f"height must be positive, got {height_m:g} m")
    if displacement_m < 0:
        raise InputError(f"displacement must not be negative, got {displacement_m:g} m")
    return math.degrees(math.atan2(displacement_m, height_m))


def _local_radius_m(lat_deg: float) -> float:
    """Geocentric radius of the WGS84 ellipsoid at a geodetic latitude."""
    p = geodesy.geodetic_to_ecef(0.0, math.radians(lat_deg), 0.0)
    return float(np.linalg.norm(p))


def off_nadir_from_view_zenith_deg(view_zenith_deg: float, satellite_altitude_m: float, *, lat: float = 0.0) -> float:
    """Off-nadir (roll) angle at the satellite for a view zenith angle at the ground (spherical
    Earth of the local radius: sin(eta) = R / (R + altitude) sin(theta))."""
    if not satellite_altitude_m > 0:
        raise InputError(f"satellite altitude must be positive, got {satellite_altitude_m:g} m")
    r = _local_radius_m(lat)
    return math.degrees(math.asin(r / (r + satellite_altitude_m) * math.sin(math.radians(view_zenith_deg))))


def orbit_view_geometry(elements, time: dt.datetime, *, lat: float, lon: float) -> dict:
    """What the orbit implies at a landmark: view zenith and azimuth (landmark -> satellite), the
    satellite's off-nadir angle to the landmark, range and altitude."""
    from cupola.geometry import orbit

    st = orbit.state_at(elements, time)
    g = geodesy.geodetic_to_ecef(math.radians(lon), math.radians(lat), 0.0)
    e, n, u = geodesy.enu_basis(math.radians(lon), math.radians(lat))
    los = st.position_m - g
    rng = float(np.linalg.norm(los))
    los_u = los / rng
    zenith = math.degrees(math.acos(np.clip(los_u @ u, -1.0, 1.0)))
    azimuth = math.degrees(math.atan2(los_u @ e, los_u @ n)) % 360.0
    sat_nadir = -geodesy.ellipsoid_normal(st.position_m)
    off_nadir = math.degrees(math.acos(np.clip(-los_u @ sat_nadir, -1.0, 1.0)))
    return {
        "view_zenith_deg": zenith,
        "view_azimuth_deg": azimuth,
        "off_nadir_deg": off_nadir,
        "range_m": rng,
        "satellite_altitude_m": st.altitude_m,
        "visible": zenith < 90.0,
        "tle_epoch": orbit.iso_z(elements.epoch),
    }
