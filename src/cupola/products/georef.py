"""The georeferenced bundle of one frame: its summary and ``footprint.geojson``,
``footprint.kml``, ``georef.tif`` (cloud-optimized GeoTIFF, EPSG:4326) and ``quicklook.png``.

:func:`georef_summary` is the ``cupola.geolocate/1`` summary of the frame (the orbit, the sun,
the camera, the pose, the footprint); ``cupola geolocate`` writes it as ``result.json`` and
``cupola lightning solve`` embeds it under ``georeference``. :func:`write_georef_bundle` writes the
four files into a staging folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from cupola import __version__
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.geodesy import M_PER_DEG
from cupola.geometry.projection import Georeference
from cupola.geometry.sun import sun_position

__all__ = ["GEOREF_SCHEMA", "GeorefFrame", "georef_summary", "write_georef_bundle"]

GEOREF_SCHEMA = "cupola.geolocate/1"

#: the quicklook's ISS ground track spans this many seconds either side of the frame's time
TRACK_HALF_SPAN_S = 300
TRACK_STEP_S = 10


@dataclass(frozen=True, eq=False)
class GeorefFrame:
    """One frame georeferenced: what the bundle is written from.

    ``georef`` carries the camera, the pose, the time and the surface height; ``state`` is the
    ISS at that time from ``elements`` (read from ``tle_source``). ``footprint`` (shapely, split at
    the antimeridian) and ``footprint_ring`` ((N, 2) lon, lat degrees) are the georeference's, as
    computed by the caller. ``camera_source`` and ``pose_source`` say where the camera and the pose
    came from; ``warnings`` go into the summary as they are.
    """

    photo: Path
    image: np.ndarray
    georef: Georeference
    state: orbit.StateVector
    elements: orbit.ElementSet
    tle_source: str
    camera_source: str
    pose_source: str
    footprint: object  # shapely Polygon / MultiPolygon
    footprint_ring: np.ndarray
    warnings: list[str]

    @property
    def center_lonlat(self) -> tuple[float, float] | None:
        """Ground point of the image centre, or None when the centre sees no Earth."""
        c_lon, c_lat = self.georef.center()
        return (c_lon, c_lat) if np.isfinite(c_lon) else None


def georef_summary(frame: GeorefFrame) -> dict:
    """The ``cupola.geolocate/1`` summary of ``frame`` (a new dict; JSON-ready through
    :func:`cupola.io.staging.json_safe`)."""
    st, geo = frame.state, frame.georef
    sub_lon, sub_lat = st.subpoint
    c_lon, c_lat = geo.center()
    sun_c = sun_position(st.time, lon=c_lon, lat=c_lat) if np.isfinite(c_lon) else None
    sun_s = sun_position(st.time, lon=sub_lon, lat=sub_lat)
    roll, pitch, yaw = att.rpy_from_pose(st, geo.pose)
    gsd = geo.gsd_m() if np.isfinite(c_lon) else (float("nan"), float("nan"))
    return {
        "schema": GEOREF_SCHEMA,
        "cupola_version": __version__,
        "photo": str(frame.photo),
        "time_utc": orbit.iso_z(st.time),
        "tle": {
            **frame.elements.to_dict(),
            "source": frame.tle_source,
            "age_days": (st.time - frame.elements.epoch).total_seconds() / 86400.0,
        },
        "iss": {
            "subpoint_lon_deg": sub_lon,
            "subpoint_lat_deg": sub_lat,
            "altitude_m": st.altitude_m,
            "ground_speed_m_s": st.ground_speed_m_s,
            "position_itrs_m": st.position_m.tolist(),
            "velocity_itrs_m_s": st.velocity_m_s.tolist(),
        },
        "sun": {
            "at_center": None
            if sun_c is None
            else {
                "elevation_deg": sun_c.elevation_deg,
                "azimuth_deg": sun_c.azimuth_deg,
                "illumination": sun_c.illumination,
            },
            "at_subpoint": {
                "elevation_deg": sun_s.elevation_deg,
                "azimuth_deg": sun_s.azimuth_deg,
                "illumination": sun_s.illumination,
            },
        },
        "camera": {**geo.camera.to_dict(), "source": frame.camera_source},
        "pose": {
            "source": frame.pose_source,
            "lvlh_roll_deg": roll,
            "lvlh_pitch_deg": pitch,
            "lvlh_yaw_deg": yaw,
            "off_nadir_deg": att.off_nadir_deg(st, geo.pose),
            "rotation_camera_to_itrs": geo.pose.matrix.tolist(),
            "quaternion_camera_to_itrs_xyzw": geo.pose.rotation.as_quat().tolist(),
            "convention": "see cupola.geometry.attitude: R(cam->LVLH) = Rz(yaw) Ry(pitch) Rx(roll) C0",
        },
        "surface_height_m": geo.height_m,
        "center": {"lon_deg": c_lon, "lat_deg": c_lat},
        "gsd_at_center_m": {"along_columns": gsd[0], "along_rows": gsd[1]},
        "footprint": shapely.geometry.mapping(frame.footprint),
        "warnings": frame.warnings,
    }


def _footprint_properties(frame: GeorefFrame, summary: dict) -> dict:
    sun = summary["sun"]["at_center"] or summary["sun"]["at_subpoint"]
    return {
        "time_utc": summary["time_utc"],
        "photo": Path(frame.photo).name,
        "center_lon_deg": summary["center"]["lon_deg"],
        "center_lat_deg": summary["center"]["lat_deg"],
        "iss_altitude_km": frame.state.altitude_m / 1000.0,
        "sun_elevation_deg": sun["elevation_deg"],
        "pose": frame.pose_source,
    }


def _write_footprint(stage: Path, frame: GeorefFrame, summary: dict) -> None:
    from cupola.io.vector import write_footprint_geojson, write_footprint_kml

    name = Path(frame.photo).name
    props = _footprint_properties(frame, summary)
    write_footprint_geojson(stage / "footprint.geojson", frame.footprint, props)
    write_footprint_kml(
        stage / "footprint.kml",
        frame.footprint,
        name=name,
        description=f"Footprint of {name} at {summary['time_utc']}",
        properties=props,
        center_lonlat=frame.center_lonlat,
    )


def _write_georef_tif(
    stage: Path, frame: GeorefFrame, scale: int, progress: Callable[[str, int, int], None] | None
) -> dict:
    """``georef.tif`` on a lat/lon grid at the centre's ground sample distance; returns its summary."""
    from cupola.io.geotiff import write_georeferenced_cog

    geo, ring = frame.georef, frame.footprint_ring
    west, east = float(ring[:, 0].min()), float(ring[:, 0].max())
    south, north = float(ring[:, 1].min()), float(ring[:, 1].max())
    gsd = min(geo.gsd_m()) if frame.center_lonlat else 1000.0
    s = max(int(scale), 1)
    res_deg = gsd * s / M_PER_DEG
    image = frame.image
    if s > 1:
        import cv2

        h_, w_ = (image.shape[0] // s) * s, (image.shape[1] // s) * s
        image = cv2.resize(np.ascontiguousarray(image[:h_, :w_]), (w_ // s, h_ // s), interpolation=cv2.INTER_AREA)

    def to_pixels(lon, lat):
        col, row = geo.ground_to_pixels(lon, lat, geo.height_m)
        return ((col - (s - 1) / 2.0) / s, (row - (s - 1) / 2.0) / s) if s > 1 else (col, row)

    tif = write_georeferenced_cog(
        stage / "georef.tif",
        image,
        to_pixels,
        (west, south, east, north),
        res_deg,
        progress=(lambda done, total: progress("georef.tif", done, total)) if progress else None,
        mapping_is_smooth=True,  # a camera projection; checked on the lattice, exact near the limb
    )
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in tif.items()}


def _write_quicklook(
    stage: Path, frame: GeorefFrame, summary: dict, landmarks: Sequence[tuple[str, float, float]]
) -> None:
    from cupola.plot.quicklook import write_quicklook_png

    st = frame.state
    times = [st.time + dt.timedelta(seconds=s) for s in range(-TRACK_HALF_SPAN_S, TRACK_HALF_SPAN_S + 1, TRACK_STEP_S)]
    track = orbit.ground_track(frame.elements, times)
    marks = [(name, lon, lat) for name, lat, lon in landmarks]
    write_quicklook_png(
        stage / "quicklook.png",
        frame.footprint,
        track,
        iss_lonlat=st.subpoint,
        center_lonlat=frame.center_lonlat,
        title=f"{Path(frame.photo).name}  {summary['time_utc']}",
        points_lonlat=[(lon, lat) for _, lon, lat in marks] or None,
        points_labels=[n for n, _, _ in marks] or None,
    )


def write_georef_bundle(
    stage: Path,
    frame: GeorefFrame,
    summary: dict,
    *,
    landmarks: Sequence[tuple[str, float, float]] = (),
    georef_scale: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write ``footprint.geojson``, ``footprint.kml``, ``georef.tif`` and ``quicklook.png`` of
    ``frame`` into the folder ``stage``; returns the summary of ``georef.tif`` (its grid).

    ``summary`` is :func:`georef_summary` of the frame (its time, centre and sun label the
    footprint). ``landmarks`` ((name, lat, lon) degrees) are marked on the quicklook.
    ``georef_scale`` > 1 writes ``georef.tif`` from the image block-averaged by that factor, on a
    grid that much coarser (a quick product of a large frame; positions stay exact).
    ``progress(name, done, total)`` is told how far ``georef.tif`` has come.
    """
    stage = Path(stage)
    _write_footprint(stage, frame, summary)
    tif = _write_georef_tif(stage, frame, georef_scale, progress)
    _write_quicklook(stage, frame, summary, landmarks)
    return tif
