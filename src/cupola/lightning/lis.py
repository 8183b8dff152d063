"""ISS LIS, the Lightning Imaging Sensor on the station: its science and background files.

ISS LIS (Blakeslee et al. 2020, JGR Atmos. 125) is a 128 x 128 pixel staring imager with an ~80 deg
field of view and 2 ms frames (~4 km pixels at nadir, 5-6 km at the edge), mounted on the station. Its
files are netCDF-4 (HDF5), read here with h5py:

* science files (``ISS_LIS_SC_*.nc``): the *events* (one pixel lit in one 2 ms frame), *groups* (the
  events of one frame that touch: the closest to a network's stroke), *flashes* (groups close in space
  and within 330 ms) with times, locations and radiances, the *areas* (storms), the *viewtime*
  grid (how long each 0.5 deg cell was seen) and the one-second platform records;
* background files (``ISS_LIS_BG_*.nc``): 128 x 128 background images with their corners and
  boresight on the ground, and one-second records of the station's position and velocity (ECR, m,
  m/s) and the instrument's ``transform_matrix``.

Times are TAI93, SI seconds since 1993-01-01 00:00:00 UTC *counting leap seconds*; they are turned
into UTC with astropy (2020: UTC = 1993-01-01 + TAI93 - 10 s; the file's own ``UTC_start`` agrees).

The transform matrix (row-major 3 x 3) takes instrument directions (boresight +z) into the LVLH
frame of DESIGN.md built from the *inertial* state (z to the Earth's centre, y against the orbit
normal). This was found from the files, not from a document: with an LVLH frame built from the
Earth-fixed velocity instead, the corners of images taken at different latitudes swing by up to 3 deg
about the boresight, with the inertial one they do not (``tests/test_lightning_lis.py``).

:func:`georeference_backgrounds` projects each background image's corner pixels with cupola's own
geometry (a pinhole 128 x 128 camera with the nominal 80 deg field of view, the file's state turned
into GCRS with skyfield, :func:`cupola.geometry.attitude.lvlh_to_itrs`, ray-ellipsoid intersection)
and measures how far they fall from the file's corners.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["LisScience", "LisBackground", "read_lis_science", "read_lis_background", "lis_events",
           "tai93_to_datetime64", "lis_camera", "georeference_backgrounds", "is_lis_file", "LIS_FOV_DEG"]

#: nominal full field of view of ISS LIS (deg, square)
LIS_FOV_DEG = 80.0
#: horizontal location error of an LIS group/flash (m, 1 sigma per axis): ~half a 4-6 km pixel
LIS_SIGMA_M = 4_000.0


def tai93_to_datetime64(seconds) -> np.ndarray:
    """TAI93 seconds (since 1993-01-01 00:00:00 UTC, leap seconds counted) -> datetime64[ns] UTC."""
    from astropy.time import Time, TimeDelta

    s = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
    if s.size == 0:
        return np.zeros(0, dtype="datetime64[ns]")
    whole = np.floor(s)
    t0 = Time("1993-01-01T00:00:00", scale="utc")
    t = (t0.tai + TimeDelta(whole, format="sec")).utc
    base = np.array(t.to_value("isot", subfmt="date_hms"), dtype="datetime64[ns]")
    return base + np.round((s - whole) * 1e9).astype(np.int64).astype("timedelta64[ns]")


def is_lis_file(path: str | os.PathLike) -> bool:
    """True for a netCDF-4/HDF5 file (by its signature), the form of ISS LIS files."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def _open(path, need: str, kind: str):
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    if not is_lis_file(p):
        raise InputError(f"{p}: not a netCDF-4/HDF5 file (an ISS LIS {kind} file was expected)")
    try:
        import h5py
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("reading ISS LIS files needs h5py (pip install h5py)") from None
    try:
        h = h5py.File(p, "r")
    except OSError as e:
        raise InputError(f"{p}: cannot be read as netCDF-4/HDF5 ({e})") from None
    if need not in h:
        h.close()
        raise InputError(f"{p}: variable {need!r} missing; not an ISS LIS {kind} file")
    return h


@dataclass(frozen=True)
class LisTable:
    """One level of the LIS hierarchy (flashes, groups or events): arrays over rows."""

    time: np.ndarray  # datetime64[ns] UTC
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    radiance: np.ndarray  # uJ/sr/m2/um
    footprint_km2: np.ndarray
    address: np.ndarray
    parent_address: np.ndarray
    child_count: np.ndarray | None = None
    duration_s: np.ndarray | None = None  # flashes: delta_time

    def __len__(self) -> int:
        return int(self.time.shape[0])


@dataclass(frozen=True)
class LisScience:
    path: Path
    orbit: int
    flashes: LisTable
    groups: LisTable
    events: LisTable
    #: viewed area: 0.5 deg cells with the time LIS saw them (s)
    view_lat_deg: np.ndarray
    view_lon_deg: np.ndarray
    view_seconds: np.ndarray
    view_start: np.ndarray  # datetime64[ns]


def _table(h, prefix: str, parent: bool = True, extra: bool = False) -> LisTable:
    g = lambda n: np.asarray(h[f"{prefix}_{n}"][...])  # noqa: E731
    n = h[f"{prefix}_TAI93_time"].shape[0]
    return LisTable(tai93_to_datetime64(g("TAI93_time")), g("lat").astype(float), g("lon").astype(float),
                    g("radiance").astype(float), g("footprint").astype(float), g("address").astype(np.int64),
                    g("parent_address").astype(np.int64) if parent else np.full(n, -1),
                    g("child_count").astype(np.int64) if extra else None,
                    g("delta_time").astype(float) if f"{prefix}_delta_time" in h else None)


def read_lis_science(path: str | os.PathLike) -> LisScience:
    """Read an ISS LIS science file (flashes, groups, events, viewed area)."""
    p = Path(path)
    h = _open(p, "lightning_flash_TAI93_time", "science")
    with h:
        try:
            orbit = int(h["orbit_summary_id_number"][()]) if "orbit_summary_id_number" in h else -1
            fl = _table(h, "lightning_flash", extra=True)
            gr = _table(h, "lightning_group", extra=True)
            ev = _table(h, "lightning_event")
            vlat = np.asarray(h["viewtime_lat"][...], float)
            vlon = np.asarray(h["viewtime_lon"][...], float)
            vsec = np.asarray(h["viewtime_effective_obs"][...], float)
            vstart = tai93_to_datetime64(np.asarray(h["viewtime_TAI93_start"][...], float))
        except KeyError as e:
            raise InputError(f"{p}: variable {e.args[0]!r} missing; not an ISS LIS science file") from None
    for name, t in (("flash", fl), ("group", gr), ("event", ev)):
        bad = ~(np.isfinite(t.lat_deg) & np.isfinite(t.lon_deg)) | (np.abs(t.lat_deg) > 90) | (np.abs(t.lon_deg) > 180)
        if bad.any():
            raise InputError(f"{p}: lightning_{name} {int(np.flatnonzero(bad)[0])}: latitude/longitude out of range")
    return LisScience(p, orbit, fl, gr, ev, vlat, vlon, vsec, vstart)


def lis_events(path: str | os.PathLike, *, level: str = "group", sigma_m: float | None = None):
    """ISS LIS groups (default), flashes or events of a science file as mapper
    :class:`~cupola.lightning.events.Events` (``energy`` = radiance) for ``lightning solve``."""
    from cupola.lightning.events import Events

    sc = read_lis_science(path)
    tables = {"group": sc.groups, "flash": sc.flashes, "event": sc.events}
    if level not in tables:
        raise InputError(f"ISS LIS level must be one of {', '.join(tables)}, got {level!r}")
    t = tables[level]
    o = np.argsort(t.time, kind="stable")
    return Events.from_arrays(t.time[o], t.lon_deg[o], t.lat_deg[o], energy=t.radiance[o], kind="mapper",
                              sigma_m=LIS_SIGMA_M if sigma_m is None else sigma_m,
                              source_name=f"{Path(path).name} (ISS LIS {level}s)")


@dataclass(frozen=True)
class LisBackground:
    path: Path
    time: np.ndarray  # (N,) datetime64[ns] image times
    tai93_s: np.ndarray  # (N,)
    images: np.ndarray  # (N, 128, 128)
    corners_lat_lon_deg: np.ndarray  # (N, 4, 2)
    boresight_lat_lon_deg: np.ndarray  # (N, 2)
    position_m: np.ndarray  # (N, 3) ECR (ITRS), interpolated to the image times
    velocity_m_s: np.ndarray  # (N, 3)
    transform: np.ndarray  # (N, 3, 3) instrument -> LVLH


def read_lis_background(path: str | os.PathLike) -> LisBackground:
    """Read an ISS LIS background file; the one-second platform records are interpolated (linearly;
    ~1 m over a second) to each image's time."""
    p = Path(path)
    h = _open(p, "bg_data", "background")
    with h:
        try:
            t = np.asarray(h["bg_data_summary_TAI93_time"][...], float)
            imgs = np.asarray(h["bg_data"][...])
            corners = np.asarray(h["bg_data_summary_corners"][...], float).reshape(-1, 4, 2)
            bore = np.asarray(h["bg_data_summary_boresight"][...], float)
            ti = np.asarray(h["bg_info_TAI93_time"][...], float)
            pos = np.asarray(h["bg_info_position_vector"][...], float)
            vel = np.asarray(h["bg_info_velocity_vector"][...], float)
            mat = np.asarray(h["bg_info_transform_matrix"][...], float)
        except KeyError as e:
            raise InputError(f"{p}: variable {e.args[0]!r} missing; not an ISS LIS background file") from None
    ok = np.isfinite(ti) & np.all(np.isfinite(pos), axis=1) & (np.linalg.norm(pos, axis=1) > 6.0e6)
    if ok.sum() < 2:
        raise InputError(f"{p}: no valid one-second platform records")
    ti, pos, vel, mat = ti[ok], pos[ok], vel[ok], mat[ok]
    o = np.argsort(ti)
    ti, pos, vel, mat = ti[o], pos[o], vel[o], mat[o]
    inside = (t >= ti[0]) & (t <= ti[-1])
    if not inside.all():
        raise InputError(f"{p}: background image {int(np.flatnonzero(~inside)[0])} lies outside the platform records")

    def interp(a):
        return np.column_stack([np.interp(t, ti, a[:, j]) for j in range(a.shape[1])])

    m = interp(mat).reshape(-1, 3, 3)
    # re-orthonormalise the interpolated matrices (polar decomposition)
    u, _, vt = np.linalg.svd(m)
    m = u @ vt
    return LisBackground(p, tai93_to_datetime64(t), t, imgs, corners, bore, interp(pos), interp(vel), m)


def lis_camera(fov_deg: float = LIS_FOV_DEG):
    """The ISS LIS as a 128 x 128 pinhole camera with a square ``fov_deg`` field of view (edge to edge)."""
    from cupola.geometry.camera import Camera

    f = 64.0 / np.tan(np.radians(fov_deg / 2))
    return Camera(128, 128, f, f, 63.5, 63.5)


#: instrument-frame signs (x, y) of the file's four corners, in the file's order (the same in every
#: image of the bundled orbit: found by expressing the corners' directions in the instrument frame)
CORNER_SIGNS = np.array([[1, -1], [1, 1], [-1, -1], [-1, 1]])


def _state(position_m, velocity_m_s, time64):
    """A StateVector from an Earth-fixed position and velocity, with its GCRS form from skyfield."""
    from skyfield.framelib import itrs

    from cupola.geometry.orbit import StateVector, skyfield_time
    from cupola.lightning.flashes import to_datetime

    when = to_datetime(time64)
    t = skyfield_time(when)
    R = np.asarray(itrs.rotation_at(t), dtype=float)  # GCRS -> ITRS
    omega = np.array([0.0, 0.0, 7.292115e-5])  # Earth's rotation rate (IERS), rad/s
    r = np.asarray(position_m, float)
    v_in = np.asarray(velocity_m_s, float) + np.cross(omega, r)
    return StateVector(when, r, np.asarray(velocity_m_s, float), R.T @ r, R.T @ v_in, R)


#: an alignment of the instrument in its transform matrix's frame (rotation vector, deg) and a field of
#: view, fitted by least squares to the corners and boresights of the 104 background images of orbit
#: 20683 (2020-08-23) at height 0 (in-sample: see docs/lightning.md)
FITTED_ALIGNMENT_ROTVEC_DEG = (0.504, 0.498, -0.480)
FITTED_FOV_DEG = 79.21


def georeference_backgrounds(bg: LisBackground, *, height_m: float = 0.0, fov_deg: float = LIS_FOV_DEG,
                             alignment_rotvec_deg=None) -> dict:
    """Corners of every background image by cupola's geometry, and their distances to the file's.

    Returns ``corners_lat_lon_deg`` (N, 4, 2), ``corner_error_km`` (N, 4), ``boresight_error_km`` (N,),
    ``alignment_rotvec_deg``: an extra instrument rotation (e.g. :data:`FITTED_ALIGNMENT_ROTVEC_DEG`).
    """
    from cupola.geometry import geodesy
    from cupola.geometry.attitude import lvlh_to_itrs

    cam = lis_camera(fov_deg)
    px = np.array([[63.5 + 63.5 * sx, 63.5 + 63.5 * sy] for sx, sy in CORNER_SIGNS] + [[63.5, 63.5]])
    rays = cam.pixel_to_ray(px[:, 0], px[:, 1])
    if alignment_rotvec_deg is not None:
        from scipy.spatial.transform import Rotation

        rays = Rotation.from_rotvec(np.radians(alignment_rotvec_deg)).apply(rays)
    n = len(bg.time)
    out = np.full((n, 5, 2), np.nan)
    for i in range(n):
        st = _state(bg.position_m[i], bg.velocity_m_s[i], bg.time[i])
        d = rays @ (lvlh_to_itrs(st) @ bg.transform[i]).T
        g = geodesy.ray_ellipsoid_intersection(bg.position_m[i], d, height_m)
        lon, lat, _ = geodesy.ecef_to_geodetic(g)
        out[i, :, 0], out[i, :, 1] = np.degrees(lat), np.degrees(lon)
    file_pts = np.concatenate([bg.corners_lat_lon_deg, bg.boresight_lat_lon_deg[:, None]], axis=1)
    err = _distance_km(out, file_pts)
    return {"corners_lat_lon_deg": out[:, :4], "boresight_lat_lon_deg": out[:, 4],
            "corner_error_km": err[:, :4], "boresight_error_km": err[:, 4]}


def _distance_km(a, b) -> np.ndarray:
    """Geodesic distance (km, WGS84, pyproj) between (..., 2) lat/lon arrays."""
    from pyproj import Geod

    g = Geod(ellps="WGS84")
    la, lo = a[..., 0].ravel(), a[..., 1].ravel()
    lb, ob = b[..., 0].ravel(), b[..., 1].ravel()
    _, _, d = g.inv(lo, la, ob, lb)
    return (np.asarray(d) / 1000.0).reshape(a.shape[:-1])
