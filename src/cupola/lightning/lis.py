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

The transform matrix (row-major 3 x 3) takes directions in the station's frame into the LVLH frame
(z to the Earth's centre, y against the orbit normal): not into ECR, whatever its netCDF comment says
(it stays within ~2 deg of a fixed 94 deg yaw all orbit long). cupola builds that LVLH from the
*inertial* state (DESIGN.md); NASA's own processing builds it from the Earth-fixed velocity and
corrects with an empirical yaw proportional to v_z (``frame="nasa"`` in :func:`locate_pixels`).

:func:`locate_pixels` projects pixels with NASA's laboratory lens model and instrument mounting
(constants from NASA's public geolocation code, see below; not fitted here), the file's state and
matrix interpolated to the pixel's time, and cupola's LVLH and ellipsoid.
:func:`georeference_backgrounds` compares the corners of each background image with the file's,
:func:`georeference_events` every event's pixel with the file's event location (docs/lightning.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = [
    "LisScience",
    "LisBackground",
    "LisPlatform",
    "read_lis_science",
    "read_lis_background",
    "lis_events",
    "tai93_to_datetime64",
    "lis_look_vectors",
    "mount_matrix",
    "locate_pixels",
    "georeference_backgrounds",
    "georeference_events",
    "is_lis_file",
    "LIS_FOV_DEG",
    "LIS_FILE_HEIGHT_M",
]

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
    from cupola.io.limits import regular_file

    p = regular_file(path, f"an ISS LIS {kind} file (netCDF-4/HDF5)")
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
    col: np.ndarray | None = None  # events: CCD pixel column (x_pixel)
    row: np.ndarray | None = None  # events: CCD pixel row (y_pixel)

    def __len__(self) -> int:
        return int(self.time.shape[0])


@dataclass(frozen=True)
class LisPlatform:
    """The one-second platform records of a LIS file, sorted by time, valid rows only."""

    path: Path
    tai93_s: np.ndarray  # (M,)
    position_m: np.ndarray  # (M, 3) ECR (ITRS)
    velocity_m_s: np.ndarray  # (M, 3) ECR
    transform: np.ndarray  # (M, 3, 3) row-major: the station's frame -> LVLH (see module notes)


def _platform(h, prefix: str, p: Path) -> LisPlatform:
    ti = np.asarray(h[f"{prefix}_TAI93_time"][...], float)
    pos = np.asarray(h[f"{prefix}_position_vector"][...], float)
    vel = np.asarray(h[f"{prefix}_velocity_vector"][...], float)
    mat = np.asarray(h[f"{prefix}_transform_matrix"][...], float)
    ok = (
        np.isfinite(ti)
        & np.all(np.isfinite(pos), axis=1)
        & np.all(np.isfinite(vel), axis=1)
        & np.all(np.isfinite(mat), axis=1)
        & (np.linalg.norm(pos, axis=1) > 6.0e6)
    )
    if ok.sum() < 2:
        raise InputError(f"{p}: no valid one-second platform records")
    o = np.argsort(ti[ok], kind="stable")
    return LisPlatform(p, ti[ok][o], pos[ok][o], vel[ok][o], mat[ok][o].reshape(-1, 3, 3))


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
    #: the one-second platform records (None where the file lacks them)
    platform: LisPlatform | None = None
    #: event times as TAI93 seconds (the platform records' time scale)
    event_tai93_s: np.ndarray | None = None


def _table(h, prefix: str, parent: bool = True, extra: bool = False) -> LisTable:
    g = lambda n: np.asarray(h[f"{prefix}_{n}"][...])  # noqa: E731
    n = h[f"{prefix}_TAI93_time"].shape[0]
    return LisTable(
        tai93_to_datetime64(g("TAI93_time")),
        g("lat").astype(float),
        g("lon").astype(float),
        g("radiance").astype(float),
        g("footprint").astype(float),
        g("address").astype(np.int64),
        g("parent_address").astype(np.int64) if parent else np.full(n, -1),
        g("child_count").astype(np.int64) if extra else None,
        g("delta_time").astype(float) if f"{prefix}_delta_time" in h else None,
    )


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
            ev = LisTable(
                **{
                    **ev.__dict__,
                    "col": np.asarray(h["lightning_event_x_pixel"][...], float),
                    "row": np.asarray(h["lightning_event_y_pixel"][...], float),
                }
            )
            ev_t = np.asarray(h["lightning_event_TAI93_time"][...], float)
            plat = _platform(h, "one_second", p) if "one_second_transform_matrix" in h else None
        except KeyError as e:
            raise InputError(f"{p}: variable {e.args[0]!r} missing; not an ISS LIS science file") from None
    for name, t in (("flash", fl), ("group", gr), ("event", ev)):
        bad = ~(np.isfinite(t.lat_deg) & np.isfinite(t.lon_deg)) | (np.abs(t.lat_deg) > 90) | (np.abs(t.lon_deg) > 180)
        if bad.any():
            raise InputError(f"{p}: lightning_{name} {int(np.flatnonzero(bad)[0])}: latitude/longitude out of range")
    return LisScience(p, orbit, fl, gr, ev, vlat, vlon, vsec, vstart, plat, ev_t)


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
    return Events.from_arrays(
        t.time[o],
        t.lon_deg[o],
        t.lat_deg[o],
        energy=t.radiance[o],
        kind="mapper",
        sigma_m=LIS_SIGMA_M if sigma_m is None else sigma_m,
        source_name=f"{Path(path).name} (ISS LIS {level}s)",
    )


@dataclass(frozen=True)
class LisBackground:
    path: Path
    time: np.ndarray  # (N,) datetime64[ns] image times
    tai93_s: np.ndarray  # (N,)
    images: np.ndarray  # (N, 128, 128), [row = y_pixel, col = x_pixel]
    corners_lat_lon_deg: np.ndarray  # (N, 4, 2)
    boresight_lat_lon_deg: np.ndarray  # (N, 2)
    position_m: np.ndarray  # (N, 3) ECR (ITRS), interpolated to the image times
    velocity_m_s: np.ndarray  # (N, 3)
    transform: np.ndarray  # (N, 3, 3) the station's frame -> LVLH, interpolated and re-orthonormalised
    platform: LisPlatform  # the one-second records themselves


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
            plat = _platform(h, "bg_info", p)
        except KeyError as e:
            raise InputError(f"{p}: variable {e.args[0]!r} missing; not an ISS LIS background file") from None
    ti = plat.tai93_s
    inside = (t >= ti[0]) & (t <= ti[-1])
    if not inside.all():
        raise InputError(f"{p}: background image {int(np.flatnonzero(~inside)[0])} lies outside the platform records")
    pos, vel, mat = _interp_records(t, ti, plat.position_m, plat.velocity_m_s, plat.transform.reshape(-1, 9))
    # re-orthonormalise the interpolated matrices (polar decomposition)
    u, _, vt = np.linalg.svd(mat.reshape(-1, 3, 3))
    return LisBackground(p, tai93_to_datetime64(t), t, imgs, corners, bore, pos, vel, u @ vt, plat)


# --- geometry: ISS LIS pixel -> ground ------------------------------------------------------------
#
# The files' own geolocation (events, background corners and boresights) is NASA MSFC's: a lens
# model from laboratory measurements, a fixed mounting of the instrument in the frame of the file's
# transform matrix, the transform matrix into the station's LVLH and a surface 13.5 km above the
# WGS84 ellipsoid ("cloud top"). The constants are those of NASA's public ISS LIS geolocation code
# (T. Lang, nasa/ISS_Camera_Geolocate, iss_lis_background_geolocate.py; the same in P. Bitzer's
# pyltg, pyltg/core/lis.py), where they are called "empirically derived values specific to the ISS
# LIS optics and integration on the space station". None of them is fitted here.

#: lens: the sine of a pixel's angle off the boresight is ``r * (c0 + c1 r + c2 r^2 + c3 r^3) * 1.01``,
#: with ``r`` the pixel's distance from the array centre (63.5, 63.5) in units of 127 pixels
#: (a polynomial fit of laboratory measurements, NASA MSFC); ~0.67 deg/pixel at the centre, 0.55 at
#: the edge: neither a pinhole nor an f-theta lens
LENS_COEFFS = (1.4754537, -0.36224695, -0.088939824, -0.28203806)
LENS_MAGNIFICATION = 1.01
#: mounting of LIS in the frame of the file's transform matrix: yaw, pitch, roll (rad; matrix
#: Rz(yaw) Ry(pitch) Rx(roll)): turned 180 deg about the boresight and tilted by -0.41 deg (pitch)
#: and -0.60 deg (roll), 0.73 deg in all: the "systematic ~0.8 deg boresight offset". NASA's code
#: adds to the yaw 0.0485 rad * v_z / 6000 m/s and to the pitch -0.0042 rad * v_z / 6000 m/s (v_z
#: the Earth-fixed velocity's z): the yaw term stands in for the turn between an LVLH built from the
#: Earth-fixed velocity (NASA's) and one from the inertial velocity (cupola's, DESIGN.md; up to
#: 0.046 rad at the equator); the pitch term has no stated cause and is left out (see docs).
MOUNT_YPR_RAD = (3.182 - 0.0485, -0.020 + 0.015 - 0.0022, 0.020 - 0.051 + 0.0205)
NASA_VZ_YAW_RAD = 0.0485
NASA_VZ_PITCH_RAD = -0.0042
#: height above the WGS84 ellipsoid of the surface on which the LIS files place events and corners (m)
LIS_FILE_HEIGHT_M = 13_500.0
#: the file's four corners as pixels (col = x_pixel, row = y_pixel), in the file's order, and the
#: pixel of its "boresight" (the file: "lat/lon location of center pixel (63,64)")
CORNER_PIXELS = np.array([[0, 0], [0, 127], [127, 0], [127, 127]], dtype=float)
BORESIGHT_PIXEL = (63.0, 64.0)


def lis_look_vectors(col, row, *, lens: str = "lis") -> np.ndarray:
    """Unit directions (N, 3) of pixels in the LIS instrument frame: +x towards increasing ``col``
    (the files' ``x_pixel``), +y towards *decreasing* ``row`` (``y_pixel``), +z the boresight.

    The frame is right-handed, so a background image drawn with row 0 at the top is the scene seen
    mirror-reversed. ``lens="lis"``: NASA's laboratory lens model (:data:`LENS_COEFFS`);
    ``lens="pinhole"``: the nominal 80 deg pinhole (cupola's first model, kept for comparison).
    """
    c = np.atleast_1d(np.asarray(col, dtype=float))
    r = np.atleast_1d(np.asarray(row, dtype=float))
    if lens == "lis":
        x = (c - 63.5) / 127.0
        y = -(r - 63.5) / 127.0
        rad = np.hypot(x, y)
        c0, c1, c2, c3 = LENS_COEFFS
        k = (c0 + rad * (c1 + rad * (c2 + rad * c3))) * LENS_MAGNIFICATION
        lx, ly = x * k, y * k
        return np.column_stack([lx, ly, np.sqrt(np.clip(1.0 - lx * lx - ly * ly, 0.0, None))])
    if lens == "pinhole":
        t = np.tan(np.radians(LIS_FOV_DEG / 2)) / 64.0
        v = np.column_stack([(c - 63.5) * t, -(r - 63.5) * t, np.ones_like(c)])
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    raise InputError(f"ISS LIS lens model must be 'lis' or 'pinhole', got {lens!r}")


def mount_matrix(mount: bool = True, *, velocity_z_m_s: float | None = None) -> np.ndarray:
    """Instrument frame -> the frame of the file's transform matrix: :data:`MOUNT_YPR_RAD`, or with
    ``mount=False`` only the 180 deg turn about the boresight (no alignment). With
    ``velocity_z_m_s`` (the Earth-fixed v_z), NASA's v_z terms are added (only for ``frame="nasa"``)."""
    from scipy.spatial.transform import Rotation

    if not mount:
        return np.diag([-1.0, -1.0, 1.0])
    yaw, pitch, roll = MOUNT_YPR_RAD
    if velocity_z_m_s is not None:
        yaw += NASA_VZ_YAW_RAD * velocity_z_m_s / 6000.0
        pitch += NASA_VZ_PITCH_RAD * velocity_z_m_s / 6000.0
    return Rotation.from_euler("ZYX", [yaw, pitch, roll]).as_matrix()


def _lvlh_nasa(r, v) -> np.ndarray:
    """NASA's LVLH (columns x, y, z in ITRS) from the Earth-fixed state: x along v, z to the centre."""
    x = v / np.linalg.norm(v)
    z = -r / np.linalg.norm(r)
    y = np.cross(r, v) / (-np.linalg.norm(r) * np.linalg.norm(v))
    return np.column_stack([x, y, z])


def _interp_records(t, ti, *arrays):
    return [np.column_stack([np.interp(t, ti, a[:, j]) for j in range(a.shape[1])]) for a in arrays]


def _gcrs_to_itrs(times64: np.ndarray) -> np.ndarray:
    """(N, 3, 3) GCRS -> ITRS rotations from skyfield, one call for all times."""
    from skyfield.framelib import itrs

    from cupola.geometry.orbit import skyfield_time
    from cupola.lightning.flashes import to_datetime

    when = [to_datetime(t) for t in times64]
    R = np.asarray(itrs.rotation_at(skyfield_time(when)), dtype=float)
    return np.moveaxis(R.reshape(3, 3, -1), -1, 0)


def locate_pixels(
    platform: LisPlatform,
    tai93_s,
    col,
    row,
    *,
    height_m: float = LIS_FILE_HEIGHT_M,
    lens: str = "lis",
    mount: bool = True,
    frame: str = "inertial",
) -> tuple[np.ndarray, np.ndarray]:
    """Ground (lat_deg, lon_deg) of LIS pixels seen at TAI93 times, by cupola's geometry.

    The one-second records are interpolated (linearly, re-orthonormalised) to each time; the pixel's
    direction (:func:`lis_look_vectors`) goes through :func:`mount_matrix`, the file's transform
    matrix (into LVLH), :func:`cupola.geometry.attitude.lvlh_to_itrs` (LVLH of the *inertial* state,
    GCRS from skyfield) and meets the surface ``height_m`` above the WGS84 ellipsoid.

    ``frame="nasa"`` reproduces the files' own convention instead: an LVLH from the Earth-fixed
    velocity and NASA's v_z-dependent yaw and pitch of the mounting (:data:`NASA_VZ_YAW_RAD`).
    """
    from cupola.geometry import geodesy
    from cupola.geometry.attitude import lvlh_to_itrs
    from cupola.geometry.orbit import StateVector
    from cupola.lightning.flashes import to_datetime

    t = np.atleast_1d(np.asarray(tai93_s, dtype=float))
    col = np.broadcast_to(np.asarray(col, dtype=float), t.shape)
    row = np.broadcast_to(np.asarray(row, dtype=float), t.shape)
    if t.size and ((t < platform.tai93_s[0]) | (t > platform.tai93_s[-1])).any():
        raise InputError(f"{platform.path}: a time lies outside the one-second platform records")
    if frame not in ("inertial", "nasa"):
        raise InputError(f"ISS LIS frame must be 'inertial' or 'nasa', got {frame!r}")
    look0 = lis_look_vectors(col, row, lens=lens)
    look = look0 @ mount_matrix(mount).T
    frames, inverse = np.unique(t, return_inverse=True)
    pos, vel, mat = _interp_records(
        frames, platform.tai93_s, platform.position_m, platform.velocity_m_s, platform.transform.reshape(-1, 9)
    )
    u, _, vt = np.linalg.svd(mat.reshape(-1, 3, 3))
    mat = u @ vt
    times64 = tai93_to_datetime64(frames)
    R = _gcrs_to_itrs(times64)
    omega = np.array([0.0, 0.0, 7.292115e-5])  # Earth's rotation rate (IERS), rad/s
    lat = np.full(t.shape, np.nan)
    lon = np.full(t.shape, np.nan)
    for k in range(len(frames)):
        sel = np.flatnonzero(inverse.ravel() == k)
        r, v = pos[k], vel[k]
        if frame == "nasa":
            m = mount_matrix(mount, velocity_z_m_s=float(v[2])) if mount else mount_matrix(False)
            d = look0[sel] @ (_lvlh_nasa(r, v) @ mat[k] @ m).T
        else:
            st = StateVector(to_datetime(times64[k]), r, v, R[k].T @ r, R[k].T @ (v + np.cross(omega, r)), R[k])
            d = look[sel] @ (lvlh_to_itrs(st) @ mat[k]).T
        g = geodesy.ray_ellipsoid_intersection(r, d, height_m)
        lo, la, _ = geodesy.ecef_to_geodetic(g)
        lat[sel], lon[sel] = np.degrees(la), np.degrees(lo)
    return lat, lon


def georeference_backgrounds(
    bg: LisBackground,
    *,
    height_m: float = LIS_FILE_HEIGHT_M,
    lens: str = "lis",
    mount: bool = True,
    frame: str = "inertial",
) -> dict:
    """Corners and boresight of every background image by cupola's geometry (:func:`locate_pixels`),
    and their distances to the file's.

    Returns ``corners_lat_lon_deg`` (N, 4, 2), ``boresight_lat_lon_deg`` (N, 2), ``corner_error_km``
    (N, 4), ``boresight_error_km`` (N,). The file's points lie :data:`LIS_FILE_HEIGHT_M` above the
    ellipsoid: compare at that height (the default); ``lens="pinhole", mount=False, height_m=0`` is
    cupola's first model (12.9 km median on orbit 20683).
    """
    n = len(bg.time)
    px = np.vstack([CORNER_PIXELS, [BORESIGHT_PIXEL]])
    t = np.repeat(bg.tai93_s, len(px))
    lat, lon = locate_pixels(
        bg.platform,
        t,
        np.tile(px[:, 0], n),
        np.tile(px[:, 1], n),
        height_m=height_m,
        lens=lens,
        mount=mount,
        frame=frame,
    )
    out = np.stack([lat, lon], axis=-1).reshape(n, len(px), 2)
    file_pts = np.concatenate([bg.corners_lat_lon_deg, bg.boresight_lat_lon_deg[:, None]], axis=1)
    err = _distance_km(out, file_pts)
    return {
        "corners_lat_lon_deg": out[:, :4],
        "boresight_lat_lon_deg": out[:, 4],
        "corner_error_km": err[:, :4],
        "boresight_error_km": err[:, 4],
    }


def georeference_events(
    sc: LisScience,
    *,
    height_m: float = LIS_FILE_HEIGHT_M,
    lens: str = "lis",
    mount: bool = True,
    frame: str = "inertial",
) -> dict:
    """Every event's pixel located by cupola's geometry from the science file's own one-second
    records, against the file's event latitude/longitude: ``lat_lon_deg`` (N, 2), ``error_km`` (N,)."""
    ev = sc.events
    if sc.platform is None or ev.col is None:
        raise InputError(f"{sc.path}: no one-second platform records or event pixels to locate the events with")
    lat, lon = locate_pixels(
        sc.platform, sc.event_tai93_s, ev.col, ev.row, height_m=height_m, lens=lens, mount=mount, frame=frame
    )
    out = np.stack([lat, lon], axis=-1)
    return {"lat_lon_deg": out, "error_km": _distance_km(out, np.stack([ev.lat_deg, ev.lon_deg], axis=-1))}


def _distance_km(a, b) -> np.ndarray:
    """Geodesic distance (km, WGS84, pyproj) between (..., 2) lat/lon arrays."""
    from pyproj import Geod

    g = Geod(ellps="WGS84")
    la, lo = a[..., 0].ravel(), a[..., 1].ravel()
    lb, ob = b[..., 0].ravel(), b[..., 1].ravel()
    _, _, d = g.inv(lo, la, ob, lb)
    return (np.asarray(d) / 1000.0).reshape(a.shape[:-1])
