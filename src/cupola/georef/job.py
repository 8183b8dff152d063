"""The geolocate job: inputs -> :class:`GeolocateResult` -> products in an output folder.

``geolocate`` validates and computes everything without writing; ``write_products`` then writes
``result.json``, ``footprint.geojson``, ``footprint.kml``, ``georef.tif``, ``quicklook.png`` and
optionally ``pixels.csv`` into a hidden staging folder and moves them into place only when all
succeeded, so a failure leaves no partial output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from cupola import __version__
from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, Distortion, camera_body, camera_for_body
from cupola.geometry.projection import Georeference
from cupola.geometry.sun import sun_position
from cupola.io.staging import staged_output, write_json

RESULT_SCHEMA = "cupola.geolocate/1"


@dataclass
class GeolocateRequest:
    """Everything the geolocate job needs. Exactly one of ``attitude_rpy_deg``, ``look_at`` and
    ``tie_points`` must be given."""

    photo: Path
    time: dt.datetime
    tle_path: Path
    focal_mm: float | None = None
    sensor_mm: tuple[float, float] | None = None
    distortion: tuple[float, float, float, float, float] | None = None  # k1, k2, p1, p2, k3 (OpenCV)
    attitude_rpy_deg: tuple[float, float, float] | None = None
    look_at: tuple[float, float] | None = None  # (lat, lon) degrees
    look_at_rotation_deg: float = 0.0
    tie_points: Path | None = None
    solve_focal: bool = False
    pixels: Path | None = None
    height_m: float = 0.0
    force_tle: bool = False
    landmarks: list[tuple[str, float, float]] = field(default_factory=list)  # (name, lat, lon)


@dataclass
class GeolocateResult:
    request: GeolocateRequest
    image: np.ndarray
    camera: Camera
    camera_source: str
    elements: orbit.ElementSet
    state: orbit.StateVector
    georef: Georeference
    pose_source: str
    solution: att.AttitudeSolution | None
    footprint: object  # shapely Polygon / MultiPolygon
    footprint_ring: np.ndarray
    warnings: list[str]
    pixels: tuple[np.ndarray, np.ndarray] | None = None
    _summary: dict | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The result.json summary (computed once; a new top-level dict on every call)."""
        if self._summary is None:
            self._summary = self._summarise()
        return dict(self._summary)

    def _summarise(self) -> dict:
        st, geo = self.state, self.georef
        sub_lon, sub_lat = st.subpoint
        c_lon, c_lat = geo.center()
        sun_c = sun_position(st.time, lon=c_lon, lat=c_lat) if np.isfinite(c_lon) else None
        sun_s = sun_position(st.time, lon=sub_lon, lat=sub_lat)
        roll, pitch, yaw = att.rpy_from_pose(st, geo.pose)
        gsd = geo.gsd_m() if np.isfinite(c_lon) else (float("nan"), float("nan"))
        d = {
            "schema": RESULT_SCHEMA,
            "cupola_version": __version__,
            "photo": str(self.request.photo),
            "time_utc": orbit.iso_z(st.time),
            "tle": {**self.elements.to_dict(), "source": str(self.request.tle_path),
                    "age_days": (st.time - self.elements.epoch).total_seconds() / 86400.0},
            "iss": {
                "subpoint_lon_deg": sub_lon, "subpoint_lat_deg": sub_lat,
                "altitude_m": st.altitude_m, "ground_speed_m_s": st.ground_speed_m_s,
                "position_itrs_m": st.position_m.tolist(), "velocity_itrs_m_s": st.velocity_m_s.tolist(),
            },
            "sun": {
                "at_center": None if sun_c is None else {
                    "elevation_deg": sun_c.elevation_deg, "azimuth_deg": sun_c.azimuth_deg,
                    "illumination": sun_c.illumination},
                "at_subpoint": {"elevation_deg": sun_s.elevation_deg, "azimuth_deg": sun_s.azimuth_deg,
                                "illumination": sun_s.illumination},
            },
            "camera": {**self.camera.to_dict(), "source": self.camera_source},
            "pose": {
                "source": self.pose_source,
                "lvlh_roll_deg": roll, "lvlh_pitch_deg": pitch, "lvlh_yaw_deg": yaw,
                "off_nadir_deg": att.off_nadir_deg(st, geo.pose),
                "rotation_camera_to_itrs": geo.pose.matrix.tolist(),
                "quaternion_camera_to_itrs_xyzw": geo.pose.rotation.as_quat().tolist(),
                "convention": "see cupola.geometry.attitude: R(cam->LVLH) = Rz(yaw) Ry(pitch) Rx(roll) C0",
            },
            "surface_height_m": geo.height_m,
            "center": {"lon_deg": c_lon, "lat_deg": c_lat},
            "gsd_at_center_m": {"along_columns": gsd[0], "along_rows": gsd[1]},
            "footprint": shapely.geometry.mapping(self.footprint),
            "warnings": self.warnings,
        }
        if self.solution is not None:
            s = self.solution
            d["tie_points"] = {
                "file": str(self.request.tie_points),
                "count": int(len(s.residuals_m)),
                "focal_solved": s.focal_solved,
                "rms_px": s.rms_px, "rms_m": s.rms_m,
                "residuals_px": [[float(a), float(b)] for a, b in s.residuals_px],
                "residuals_m": [float(x) for x in s.residuals_m],
                "inliers": [bool(x) for x in s.inliers],
            }
        if self.request.landmarks:
            marks = []
            for name, lat, lon in self.request.landmarks:
                col, row = geo.ground_to_pixels(lon, lat, 0.0)
                inside = bool(np.isfinite(col) and -0.5 <= col <= self.camera.width_px - 0.5
                              and -0.5 <= row <= self.camera.height_px - 0.5)
                marks.append({"name": name, "lat_deg": lat, "lon_deg": lon,
                              "col_px": float(col), "row_px": float(row), "in_frame": inside})
            d["landmarks"] = marks
        return d


def camera_from_request(req: GeolocateRequest, width: int, height: int, info) -> tuple[Camera, str]:
    focal = req.focal_mm
    if focal is not None and not focal > 0:
        raise InputError(f"--focal-mm must be positive, got {focal:g}")
    if focal is None:
        focal = info.focal_length_mm
        if focal is None:
            raise InputError(f"{req.photo}: no focal length in EXIF; give --focal-mm")
        if not focal > 0:
            raise InputError(f"{req.photo}: EXIF focal length {focal!r} is not positive; give --focal-mm")
    if req.sensor_mm is not None:
        w_mm, h_mm = req.sensor_mm
        if not (w_mm > 0 and h_mm > 0):
            raise InputError(f"--sensor-mm must be positive, got {w_mm:g} {h_mm:g}")
        cam = Camera.from_focal_sensor(focal_mm=focal, sensor_width_mm=w_mm, sensor_height_mm=h_mm,
                                       width_px=width, height_px=height)
        return cam, f"focal {focal:g} mm, sensor {w_mm:g} x {h_mm:g} mm (given)"
    if not info.camera_model:
        raise InputError(f"{req.photo}: no camera model in EXIF; give --sensor-mm WIDTH HEIGHT")
    try:
        body = camera_body(info.camera_model)
        cam = camera_for_body(body, focal_mm=focal, width_px=width, height_px=height)
    except InputError as exc:  # name the photo whose EXIF camera does not fit
        raise InputError(f"{req.photo}: {exc}") from None
    return cam, f"{body.model} ({body.sensor_width_mm} x {body.sensor_height_mm} mm), focal {focal:g} mm (EXIF)"


def geolocate(req: GeolocateRequest) -> GeolocateResult:
    """Run the whole computation; raises :class:`InputError` on bad input, writes nothing."""
    from cupola.io.images import read_photo
    from cupola.io.tables import read_pixels, read_tie_points
    from cupola.io.tle import read_tle_file

    modes = sum(x is not None for x in (req.attitude_rpy_deg, req.look_at, req.tie_points))
    if modes != 1:
        raise InputError("give exactly one of --attitude ROLL PITCH YAW, --look-at LAT LON, --tie-points FILE")
    notes: list[str] = []
    image, info = read_photo(req.photo)
    height, width = image.shape[:2]
    cam, cam_source = camera_from_request(req, width, height, info)
    if req.distortion is not None:
        if not all(np.isfinite(req.distortion)):
            raise InputError("--distortion: coefficients must be finite numbers")
        cam = dataclasses.replace(cam, distortion=Distortion(*map(float, req.distortion)))
        cam_source += ", distortion k1 k2 p1 p2 k3 = " + " ".join(f"{x:g}" for x in req.distortion)
    sets = read_tle_file(req.tle_path)
    elements = orbit.select_element_set(sets, req.time, force=req.force_tle, source=str(req.tle_path), notes=notes)
    state = orbit.state_at(elements, req.time)
    solution = None
    if req.attitude_rpy_deg is not None:
        pose = att.pose_from_rpy(state, *req.attitude_rpy_deg)
        pose_source = "attitude (LVLH roll, pitch, yaw given)"
    elif req.look_at is not None:
        lat, lon = req.look_at
        pose = att.pose_look_at(state, lon=lon, lat=lat, rotation_deg=req.look_at_rotation_deg)
        pose_source = f"look-at ({lat:g}, {lon:g}), rotation {req.look_at_rotation_deg:g} deg"
    else:
        tp = read_tie_points(req.tie_points)
        inside = (tp.col_px >= -0.5) & (tp.col_px <= width - 0.5) & (tp.row_px >= -0.5) & (tp.row_px <= height - 0.5)
        if not inside.all():
            bad = ", ".join(str(i + 1) for i in np.flatnonzero(~inside))
            raise InputError(f"{req.tie_points}: tie point(s) {bad} lie outside the {width}x{height} image")
        try:
            solution = att.solve_attitude(cam, state.position_m, col_px=tp.col_px, row_px=tp.row_px,
                                          lon_deg=tp.lon_deg, lat_deg=tp.lat_deg, height_m=tp.height_m,
                                          solve_focal=req.solve_focal)
        except InputError as exc:  # name the tie-point file
            raise InputError(f"{req.tie_points}: {exc}") from None
        pose, cam = solution.pose, solution.camera
        pose_source = f"solved from {len(tp.col_px)} tie points" + (" (focal length free)" if req.solve_focal else "")
        if solution.rms_px > 10.0:
            notes.append(f"tie-point fit is poor: RMS {solution.rms_px:.1f} px; check the points and the time")
    geo = Georeference(cam, pose, req.time, req.height_m)
    ring = geo.footprint_lonlat()
    footprint = geo.footprint()
    c_lon, _ = geo.center()
    if not np.isfinite(c_lon):
        notes.append("the image centre does not see the Earth (view above the limb)")
    pixels = read_pixels(req.pixels) if req.pixels is not None else None
    return GeolocateResult(req, image, cam, cam_source, elements, state, geo, pose_source, solution,
                           footprint, ring, notes, pixels)


def write_products(result: GeolocateResult, out_dir: Path,
                   progress: Callable[[str, int, int], None] | None = None, georef_scale: int = 1) -> list[Path]:
    """Write every product into ``out_dir`` (all or nothing). Returns the written paths.

    ``georef_scale`` > 1 writes ``georef.tif`` from the photo block-averaged by that factor, on a grid
    that much coarser (a quick product of a large frame; positions stay exact)."""
    from cupola.io.geotiff import write_georeferenced_cog
    from cupola.plot.quicklook import write_quicklook_png
    from cupola.io.tables import write_pixels_csv
    from cupola.io.vector import write_footprint_geojson, write_footprint_kml

    written: list[Path] = []
    req = result.request
    inputs = [req.photo, req.tle_path, req.tie_points, req.pixels]
    with staged_output(out_dir, written=written, inputs=inputs) as stage:
        summary = result.to_dict()
        geo, st = result.georef, result.state
        props = {"time_utc": summary["time_utc"], "photo": Path(result.request.photo).name,
                 "center_lon_deg": summary["center"]["lon_deg"], "center_lat_deg": summary["center"]["lat_deg"],
                 "iss_altitude_km": st.altitude_m / 1000.0,
                 "sun_elevation_deg": (summary["sun"]["at_center"] or summary["sun"]["at_subpoint"])["elevation_deg"],
                 "pose": result.pose_source}
        c_lon, c_lat = geo.center()
        center = (c_lon, c_lat) if np.isfinite(c_lon) else None
        write_footprint_geojson(stage / "footprint.geojson", result.footprint, props)
        write_footprint_kml(stage / "footprint.kml", result.footprint, name=Path(result.request.photo).name,
                            description=f"Footprint of {Path(result.request.photo).name} at {summary['time_utc']}",
                            properties=props, center_lonlat=center)
        # GeoTIFF on a lat/lon grid at the centre's ground sample distance
        ring = result.footprint_ring
        west, east = float(ring[:, 0].min()), float(ring[:, 0].max())
        south, north = float(ring[:, 1].min()), float(ring[:, 1].max())
        gsd = min(geo.gsd_m()) if center else 1000.0
        s = max(int(georef_scale), 1)
        res_deg = gsd * s / 111320.0
        image = result.image
        if s > 1:
            import cv2

            h_, w_ = (image.shape[0] // s) * s, (image.shape[1] // s) * s
            image = cv2.resize(np.ascontiguousarray(image[:h_, :w_]), (w_ // s, h_ // s), interpolation=cv2.INTER_AREA)

        def to_pixels(lon, lat):
            col, row = geo.ground_to_pixels(lon, lat, geo.height_m)
            return ((col - (s - 1) / 2.0) / s, (row - (s - 1) / 2.0) / s) if s > 1 else (col, row)

        tif = write_georeferenced_cog(
            stage / "georef.tif", image, to_pixels, (west, south, east, north), res_deg,
            progress=(lambda done, total: progress("georef.tif", done, total)) if progress else None)
        summary["georef_tif"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in tif.items()}
        # ISS ground track +- 5 minutes
        times = [st.time + dt.timedelta(seconds=s) for s in range(-300, 301, 10)]
        track = orbit.ground_track(result.elements, times)
        marks = [(m[0], m[2], m[1]) for m in result.request.landmarks]
        write_quicklook_png(stage / "quicklook.png", result.footprint, track, iss_lonlat=st.subpoint,
                            center_lonlat=center,
                            title=f"{Path(result.request.photo).name}  {summary['time_utc']}",
                            points_lonlat=[(lon, lat) for _, lon, lat in marks] or None,
                            points_labels=[n for n, _, _ in marks] or None)
        if result.pixels is not None:
            col, row = result.pixels
            lon, lat = geo.pixels_to_ground(col, row)
            write_pixels_csv(stage / "pixels.csv", col, row, lon, lat)
        write_json(stage / "result.json", summary)
    return written


def parse_landmark(text: str) -> tuple[str, float, float]:
    """``NAME:LAT:LON`` -> (name, lat, lon)."""
    parts = text.rsplit(":", 2)
    try:
        name, lat, lon = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise InputError(f"--landmark {text!r}: expected NAME:LAT:LON, e.g. 'Del Rio, TX:29.36:-100.9'") from None
    if not -90 <= lat <= 90:
        raise InputError(f"--landmark {text!r}: latitude {lat} outside -90..90")
    return name, lat, lon
