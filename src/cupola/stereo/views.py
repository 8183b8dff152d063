"""The two views of a stereo pair: where each photo's pose comes from, and whether the pair can
give heights at all.

A view's pose (camera, position, orientation, time) comes from one of:

* a ``result.json`` of ``cupola geolocate`` (schema ``cupola.geolocate/1``): everything is in it;
* a ``result.json`` of ``cupola locate`` that matched (schema ``cupola.locate/1``): the located
  footprint gives tie points (its 32 border points and the centre, as the localizer mapped them),
  and the attitude is solved from them at the station's position from the element sets, at the
  photo's time; the camera comes from the focal length and sensor given or the photo's EXIF;
* the photo's time, the element sets and the LVLH attitude (roll, pitch, yaw) as ``cupola
  geolocate`` takes them.

A pair is refused (one line, naming the parameter) when the photos were taken at the same instant,
from the same place, or see no common ground.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, Distortion, camera_from_photo
from cupola.geometry.projection import Georeference

__all__ = ["ViewSource", "view_georeference", "check_pair", "MIN_OVERLAP"]

#: a pair whose footprints share less than this fraction of the smaller one is refused
MIN_OVERLAP = 0.05
#: two photos closer in time than this are one instant
MIN_SEPARATION_S = 1e-3


@dataclass(frozen=True)
class ViewSource:
    """Where one view's pose comes from (see the module); ``which`` is 1 or 2 (for messages)."""

    which: int
    pose_file: Path | None = None
    time: dt.datetime | None = None
    attitude_rpy_deg: tuple[float, float, float] | None = None


def _load_json(path: Path, what: str) -> dict:
    from cupola.io.limits import read_bytes_bounded

    raw = read_bytes_bounded(path, what)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a JSON file ({' '.join(str(exc).split())}); expected {what}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected {what} (a JSON object)")
    return doc


def _field(doc: dict, path: Path, *keys: str):
    v = doc
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            raise InputError(f"{path}: missing field {'.'.join(keys)}; expected a cupola geolocate result.json")
        v = v[k]
    return v


def _georef_from_geolocate(doc: dict, path: Path, width: int, height: int) -> Georeference:
    cam_d = _field(doc, path, "camera")
    try:
        dist = Distortion(**{k: float(cam_d.get("distortion", {}).get(k, 0.0)) for k in ("k1", "k2", "p1", "p2", "k3")})
        cam = Camera(
            int(cam_d["width_px"]),
            int(cam_d["height_px"]),
            float(cam_d["focal_x_px"]),
            float(cam_d["focal_y_px"]),
            float(cam_d["cx_px"]),
            float(cam_d["cy_px"]),
            dist,
        )
        position = np.asarray(_field(doc, path, "iss", "position_itrs_m"), dtype=float).reshape(3)
        matrix = np.asarray(_field(doc, path, "pose", "rotation_camera_to_itrs"), dtype=float).reshape(3, 3)
        time = orbit.parse_time(str(_field(doc, path, "time_utc")), f"{path}: time_utc")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed camera or pose ({' '.join(str(exc).split())})") from None
    if not (np.isfinite(position).all() and np.isfinite(matrix).all()):
        raise InputError(f"{path}: the pose holds numbers that are not finite")
    if abs(np.linalg.det(matrix) - 1.0) > 1e-3:
        raise InputError(f"{path}: pose.rotation_camera_to_itrs is not a rotation matrix")
    if (cam.width_px, cam.height_px) != (width, height):
        raise InputError(
            f"{path}: its camera is {cam.width_px}x{cam.height_px} px but the photo is {width}x{height} px; "
            "give the result of this photo"
        )
    return Georeference(cam, att.Pose(position, Rotation.from_matrix(matrix)), time)


def _locate_tie_points(doc: dict, path: Path, width: int, height: int):
    """(col, row, lon, lat) of a matched locate result's footprint ring and centre."""
    ring = doc.get("footprint_lonlat")
    centre = doc.get("center_lonlat")
    if not doc.get("matched") or not ring or not centre:
        raise InputError(f"{path}: this locate result found no match; it gives no pose")
    per_edge = len(ring) // 4
    if per_edge < 1 or len(ring) != 4 * per_edge:
        raise InputError(f"{path}: footprint_lonlat has {len(ring)} points; expected four equal edges")
    # the localizer's border ring: clockwise from the top-left pixel corner, per_edge points an edge
    s = np.linspace(0.0, 1.0, per_edge, endpoint=False)
    x0, y0, x1, y1 = -0.5, -0.5, width - 0.5, height - 0.5
    cols = np.concatenate([x0 + s * (x1 - x0), np.full_like(s, x1), x1 - s * (x1 - x0), np.full_like(s, x0)])
    rows = np.concatenate([np.full_like(s, y0), y0 + s * (y1 - y0), np.full_like(s, y1), y1 - s * (y1 - y0)])
    lonlat = np.asarray(ring, dtype=float)
    cols = np.r_[cols, (width - 1) / 2.0]
    rows = np.r_[rows, (height - 1) / 2.0]
    lon = np.r_[lonlat[:, 0], float(centre[0])]
    lat = np.r_[lonlat[:, 1], float(centre[1])]
    return cols, rows, lon, lat


def view_georeference(
    src: ViewSource,
    *,
    width_px: int,
    height_px: int,
    photo: Path,
    exif_focal_mm: float | None = None,
    exif_model: str | None = None,
    tle_path: Path | None = None,
    focal_mm: float | None = None,
    sensor_mm: tuple[float, float] | None = None,
    force_tle: bool = False,
    notes: list[str] | None = None,
) -> tuple[Georeference, str]:
    """The georeference of one view and a line saying where its pose came from."""
    from cupola.io.tle import element_set_at

    k = src.which
    if src.pose_file is not None:
        doc = _load_json(Path(src.pose_file), "a cupola geolocate or locate result.json")
        schema = str(doc.get("schema", ""))
        if schema.startswith("cupola.geolocate/"):
            geo = _georef_from_geolocate(doc, Path(src.pose_file), width_px, height_px)
            if src.time is not None and abs((src.time - geo.time).total_seconds()) > 1e-3:
                raise InputError(f"`time{k}` differs from the time in {src.pose_file} ({orbit.iso_z(geo.time)})")
            return geo, f"{src.pose_file} (geolocate result)"
        if not schema.startswith("cupola.locate/"):
            raise InputError(f"{src.pose_file}: schema {schema!r}; expected a cupola geolocate or locate result.json")
        if src.time is None or tle_path is None:
            raise InputError(f"`pose{k}` {src.pose_file} is a locate result: give `time{k}` and `tle_path` with it")
        cam, _ = camera_from_photo(
            width_px,
            height_px,
            focal_mm=focal_mm,
            sensor_mm=sensor_mm,
            exif_focal_mm=exif_focal_mm,
            exif_model=exif_model,
            photo=photo,
        )
        state = orbit.state_at(element_set_at(tle_path, src.time, force=force_tle, notes=notes), src.time)
        cols, rows, lon, lat = _locate_tie_points(doc, Path(src.pose_file), width_px, height_px)
        try:
            sol = att.solve_attitude(cam, state.position_m, col_px=cols, row_px=rows, lon_deg=lon, lat_deg=lat)
        except InputError as exc:
            raise InputError(f"{src.pose_file}: {exc}") from None
        how = f"attitude solved from {len(cols)} footprint points, RMS {sol.rms_px:.1f} px"
        return Georeference(sol.camera, sol.pose, src.time), f"{src.pose_file} (locate result: {how})"
    if src.time is None or src.attitude_rpy_deg is None:
        raise InputError(f"photo {k}: no pose; give `pose{k}` (a result.json) or `time{k}` with `attitude{k}`")
    if tle_path is None:
        raise InputError(f"photo {k}: `attitude{k}` needs the element sets; give `tle_path`")
    cam, _ = camera_from_photo(
        width_px,
        height_px,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        exif_focal_mm=exif_focal_mm,
        exif_model=exif_model,
        photo=photo,
    )
    state = orbit.state_at(element_set_at(tle_path, src.time, force=force_tle, notes=notes), src.time)
    pose = att.pose_from_rpy(state, *src.attitude_rpy_deg)
    r, p, y = src.attitude_rpy_deg
    return Georeference(cam, pose, src.time), f"attitude (LVLH roll {r:g}, pitch {p:g}, yaw {y:g} deg) and the TLE"


def check_pair(georef1: Georeference, georef2: Georeference) -> dict:
    """Refuse a pair that cannot give heights; return its overlap (fraction of the smaller
    footprint) and the time between the photos.

    Raises:
        InputError: the same instant, the same place, or footprints that do not overlap.
    """
    from cupola.errors import NoSolutionError

    separation = (georef2.time - georef1.time).total_seconds()
    if abs(separation) < MIN_SEPARATION_S:
        raise InputError(
            f"`time1` and `time2` are the same instant ({orbit.iso_z(georef1.time)}): two photos need "
            "the station to have moved between them"
        )
    base = float(np.linalg.norm(np.asarray(georef2.pose.position_m) - np.asarray(georef1.pose.position_m)))
    if base < 1.0:
        raise InputError("the two photos were taken from the same place (base < 1 m): no stereo")
    try:
        f1, f2 = georef1.footprint(), georef2.footprint()
    except NoSolutionError as exc:
        raise InputError(f"a photo does not see the Earth ({exc}): no stereo") from None
    inter = f1.intersection(f2).area
    smaller = min(f1.area, f2.area)
    overlap = inter / smaller if smaller > 0 else 0.0
    if overlap < MIN_OVERLAP:
        c1, c2 = f1.centroid, f2.centroid
        from cupola.geometry.geodesy import M_PER_DEG

        dist_km = (
            float(np.hypot((c1.x - c2.x) * np.cos(np.radians(0.5 * (c1.y + c2.y))), c1.y - c2.y)) * M_PER_DEG / 1e3
        )
        raise InputError(
            f"the photos do not overlap ({100 * overlap:.1f} % of the smaller footprint is shared, at least "
            f"{100 * MIN_OVERLAP:.0f} % is needed; their centres are {dist_km:.0f} km apart)"
        )
    return {"overlap_fraction": float(overlap), "separation_s": float(separation), "base_m": base}
