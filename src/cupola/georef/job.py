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

from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, Distortion, camera_from_photo
from cupola.geometry.projection import Georeference
from cupola.io.staging import staged_output, write_json
from cupola.products import GEOREF_SCHEMA, GeorefFrame, georef_summary, write_georef_bundle, write_located_pixels

RESULT_SCHEMA = GEOREF_SCHEMA


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

    @property
    def frame(self) -> GeorefFrame:
        """The georeferenced frame, as the shared product writers take it."""
        return GeorefFrame(
            photo=self.request.photo,
            image=self.image,
            georef=self.georef,
            state=self.state,
            elements=self.elements,
            tle_source=str(self.request.tle_path),
            camera_source=self.camera_source,
            pose_source=self.pose_source,
            footprint=self.footprint,
            footprint_ring=self.footprint_ring,
            warnings=self.warnings,
        )

    def _summarise(self) -> dict:
        d = georef_summary(self.frame)
        geo = self.georef
        if self.solution is not None:
            s = self.solution
            assert s.inliers is not None  # solve_attitude always sets it
            d["tie_points"] = {
                "file": str(self.request.tie_points),
                "count": int(len(s.residuals_m)),
                "focal_solved": s.focal_solved,
                "rms_px": s.rms_px,
                "rms_m": s.rms_m,
                "residuals_px": [[float(a), float(b)] for a, b in s.residuals_px],
                "residuals_m": [float(x) for x in s.residuals_m],
                "inliers": [bool(x) for x in s.inliers],
            }
        if self.request.landmarks:
            marks = []
            for name, lat, lon in self.request.landmarks:
                col, row = geo.ground_to_pixels(lon, lat, 0.0)
                inside = bool(
                    np.isfinite(col)
                    and -0.5 <= col <= self.camera.width_px - 0.5
                    and -0.5 <= row <= self.camera.height_px - 0.5
                )
                marks.append(
                    {
                        "name": name,
                        "lat_deg": lat,
                        "lon_deg": lon,
                        "col_px": float(col),
                        "row_px": float(row),
                        "in_frame": inside,
                    }
                )
            d["landmarks"] = marks
        return d


def camera_from_request(req: GeolocateRequest, width: int, height: int, info) -> tuple[Camera, str]:
    """The photo's camera from the request's focal length and sensor, else from its EXIF ``info``."""
    return camera_from_photo(
        width,
        height,
        focal_mm=req.focal_mm,
        sensor_mm=req.sensor_mm,
        exif_focal_mm=info.focal_length_mm,
        exif_model=info.camera_model,
        photo=req.photo,
    )


def geolocate(req: GeolocateRequest) -> GeolocateResult:
    """Run the whole computation; raises :class:`InputError` on bad input, writes nothing."""
    from cupola.io.images import read_photo_full_depth  # georef.tif keeps a 16-bit RGB photo's 16 bits
    from cupola.io.tables import read_pixels, read_tie_points
    from cupola.io.tle import element_set_at

    modes = sum(x is not None for x in (req.attitude_rpy_deg, req.look_at, req.tie_points))
    if modes != 1:
        raise InputError(
            "give exactly one of `attitude_rpy_deg` (roll, pitch, yaw), `look_at` (lat, lon), `tie_points` (a file)"
        )
    notes: list[str] = []
    image, info = read_photo_full_depth(req.photo)
    height, width = image.shape[:2]
    cam, cam_source = camera_from_request(req, width, height, info)
    if req.distortion is not None:
        if not all(np.isfinite(req.distortion)):
            raise InputError("`distortion`: coefficients must be finite numbers")
        cam = dataclasses.replace(cam, distortion=Distortion(*map(float, req.distortion)))
        problem = cam.distortion_problem()
        if problem is not None:
            raise InputError(
                f"`distortion` {' '.join(f'{x:g}' for x in req.distortion)}: {problem}; expected OpenCV's "
                "k1 k2 p1 p2 k3 on normalized coordinates (a few tenths at most for a real lens)"
            )
        cam_source += ", distortion k1 k2 p1 p2 k3 = " + " ".join(f"{x:g}" for x in req.distortion)
    elements = element_set_at(req.tle_path, req.time, force=req.force_tle, notes=notes)
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
        assert req.tie_points is not None  # exactly one mode is given (checked above)
        tp = read_tie_points(req.tie_points)
        inside = (tp.col_px >= -0.5) & (tp.col_px <= width - 0.5) & (tp.row_px >= -0.5) & (tp.row_px <= height - 0.5)
        if not inside.all():
            bad = ", ".join(str(i + 1) for i in np.flatnonzero(~inside))
            raise InputError(f"{req.tie_points}: tie point(s) {bad} lie outside the {width}x{height} image")
        try:
            solution = att.solve_attitude(
                cam,
                state.position_m,
                col_px=tp.col_px,
                row_px=tp.row_px,
                lon_deg=tp.lon_deg,
                lat_deg=tp.lat_deg,
                height_m=tp.height_m,
                solve_focal=req.solve_focal,
            )
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
    return GeolocateResult(
        req, image, cam, cam_source, elements, state, geo, pose_source, solution, footprint, ring, notes, pixels
    )


def write_products(
    result: GeolocateResult,
    out_dir: Path,
    progress: Callable[[str, int, int], None] | None = None,
    georef_scale: int = 1,
) -> list[Path]:
    """Write every product into ``out_dir`` (all or nothing). Returns the written paths.

    ``georef_scale`` > 1 writes ``georef.tif`` from the photo block-averaged by that factor, on a grid
    that much coarser (a quick product of a large frame; positions stay exact)."""
    written: list[Path] = []
    req = result.request
    inputs = [req.photo, req.tle_path, req.tie_points, req.pixels]
    with staged_output(out_dir, written=written, inputs=inputs) as stage:
        summary = result.to_dict()
        summary["georef_tif"] = write_georef_bundle(
            stage, result.frame, summary, landmarks=req.landmarks, georef_scale=georef_scale, progress=progress
        )
        if result.pixels is not None:
            write_located_pixels(stage / "pixels.csv", result.georef, *result.pixels)
        write_json(stage / "result.json", summary)
    return written


def parse_landmark(text: str) -> tuple[str, float, float]:
    """``NAME:LAT:LON`` -> (name, lat, lon)."""
    parts = text.rsplit(":", 2)
    try:
        name, lat, lon = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise InputError(f"`landmarks` {text!r}: expected NAME:LAT:LON, e.g. 'Del Rio, TX:29.36:-100.9'") from None
    if not -90 <= lat <= 90:
        raise InputError(f"`landmarks` {text!r}: latitude {lat} outside -90..90")
    return name, lat, lon
