"""The frame model of the calibration: one RAW frame as it goes through the steps of
:func:`cupola.nightlights.pipeline.calibrate`, and the first two steps, loading and placing it.

A :class:`FrameResult` is made of parts, each filled by one step:

* the loaded frame (:func:`load_frame`): RAW planes flat-fielded and normalised to counts/s at ISO 100,
  f/1, the exposure, the lens and the camera;
* its :class:`Placement` (:func:`place_frame`): time, element set, ISS state and camera pose, from
  the TLE and tie points (the star field can add the pose later);
* its star field (:class:`cupola.nightlights.starfield.StarField`);
* its view geometry (:class:`cupola.nightlights.view.ViewGeometry`), once the pose is known;
* its light (:class:`Light`): radiance, colour ratios and lamp classes.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, camera_body, camera_for_body
from cupola.geometry.projection import Georeference
from cupola.nightlights.exposure import Exposure, exposure_from_metadata
from cupola.nightlights.lens import LensModel, lens_from_lensfun
from cupola.nightlights.photo import is_photo, read_photo_frame
from cupola.nightlights.photometry import Calibration
from cupola.nightlights.radiance import RadianceSettings
from cupola.nightlights.raw import RawFrame, read_raw, subtract_dark
from cupola.nightlights.sources import Quantisation
from cupola.nightlights.starfield import StarField
from cupola.nightlights.view import ViewGeometry, lonlat_to_plane

if TYPE_CHECKING:
    from cupola.nightlights.pipeline import CalibrateOptions

__all__ = ["FrameResult", "Light", "Placement", "load_frame", "place_frame"]


@dataclass(eq=False)
class Placement:
    """Where and when a frame was taken, and where its camera looked."""

    time: dt.datetime | None = None  # mid-exposure, UTC
    elements: orbit.ElementSet | None = None
    state: orbit.StateVector | None = None
    pose: att.Pose | None = None
    pose_source: str = ""
    tie_solution: att.AttitudeSolution | None = None
    #: the tie points as fitted: undistorted col, row (sensor px), lon, lat (deg), height (m)
    tie_points: tuple | None = None
    #: which attitude the products use and why, when the stars offered one besides another
    pose_choice: dict | None = None


@dataclass(eq=False)
class Light:
    """What the calibration measured: radiance, colour and lamp classes, on the superpixel grid."""

    radiance: np.ndarray  # (3, h, w) nW cm-2 sr-1
    saturated: np.ndarray  # (h, w) any channel
    ratios: np.ndarray  # (2, h, w) G/R, B/G
    classes: np.ndarray  # (h, w) lamp class codes
    airmass: np.ndarray | None  # (h, w), None without geometry
    settings: RadianceSettings


@dataclass(eq=False)
class FrameResult:
    """One frame through the calibration; the parts are filled step by step (see the module)."""

    path: Path
    frame: RawFrame  # planes normalised: flat-fielded counts/s at ISO 100, f/1
    exposure: Exposure
    lens: LensModel
    camera: Camera  # full resolution, undistorted (pinhole) pixels; refitted on the stars
    raw_quicklook: np.ndarray  # (3, h/4, w/4) RAW signal before flat field and calibration
    placement: Placement = field(default_factory=Placement)
    stars: StarField = field(default_factory=StarField)
    calibration_used: Calibration | None = None
    calibration_from: str = ""
    light: Light | None = None
    notes: list = field(default_factory=list)
    timings_s: dict = field(default_factory=dict)
    #: a photo's quantisation (JPEG/TIFF/PNG code values) for the source detection's noise floor
    quantisation: Quantisation | None = None
    _view: ViewGeometry | None = field(default=None, repr=False)

    # -- the parts, read as before ------------------------------------------------------------
    time = property(lambda self: self.placement.time)
    elements = property(lambda self: self.placement.elements)
    state = property(lambda self: self.placement.state)
    pose = property(lambda self: self.placement.pose)
    pose_source = property(lambda self: self.placement.pose_source)
    tie_solution = property(lambda self: self.placement.tie_solution)
    detections = property(lambda self: self.stars.detections)
    trails = property(lambda self: self.stars.trails)
    astrometry = property(lambda self: self.stars.astrometry)
    photometry = property(lambda self: self.stars.photometry)
    star_catalog_rows = property(lambda self: self.stars.catalog_rows)
    star_note = property(lambda self: self.stars.note)
    calibration = property(lambda self: self.stars.calibration, doc="this frame's own calibration, if any")
    radiance = property(lambda self: None if self.light is None else self.light.radiance)
    saturated = property(lambda self: None if self.light is None else self.light.saturated)
    ratios = property(lambda self: None if self.light is None else self.light.ratios)
    classes = property(lambda self: None if self.light is None else self.light.classes)
    airmass = property(lambda self: None if self.light is None else self.light.airmass)
    radiance_settings = property(lambda self: None if self.light is None else self.light.settings)

    @property
    def georeference(self) -> Georeference | None:
        if self.pose is None or self.time is None:
            return None
        return Georeference(self.camera, self.pose, self.time)

    @property
    def view(self) -> ViewGeometry | None:
        """The view geometry of the current camera and pose (None without a pose), computed once
        and kept until the camera or the pose changes."""
        if self.pose is None:
            return None
        v = self._view
        if v is None or v.camera is not self.camera or v.pose is not self.pose:
            v = self._view = ViewGeometry(self.camera, self.lens, self.pose, self.frame.shape)
        return v

    def lonlat_to_plane(self, lon, lat, height_m: float = 0.0):
        """Ground -> superpixel plane (j, i) through the pose, camera and lens distortion."""
        return lonlat_to_plane(self.camera, self.lens, self.pose, self.time, lon, lat, height_m)


# -- step 1: load -------------------------------------------------------------------------------


def _camera_for(frame: RawFrame, opts: CalibrateOptions, focal_mm: float | None) -> Camera:
    m = frame.meta
    if focal_mm is None:
        raise InputError(f"{m.path}: EXIF FocalLength missing; the camera's focal length is needed (give `focal_mm`)")
    if not (np.isfinite(focal_mm) and focal_mm > 0):
        raise InputError(f"`focal_mm` {focal_mm}: must be a positive number of millimetres")
    if opts.sensor_mm is not None:
        w_mm, h_mm = opts.sensor_mm
        return Camera.from_focal_sensor(
            focal_mm=focal_mm, sensor_width_mm=w_mm, sensor_height_mm=h_mm, width_px=m.width_px, height_px=m.height_px
        )
    if not m.model:
        raise InputError(
            f"{m.path}: EXIF Model missing; the camera is needed for its sensor size (give `sensor_mm` WIDTH HEIGHT)"
        )
    try:
        body = camera_body(m.model)
        return camera_for_body(
            body, focal_mm=focal_mm, width_px=m.width_px - m.width_px % 2, height_px=m.height_px - m.height_px % 2
        )
    except InputError as exc:
        raise InputError(f"{m.path}: unsupported camera: {exc}") from None


def _lens_for(frame: RawFrame, flat_gain: np.ndarray | None, flat_name: str, focal_mm: float | None) -> LensModel:
    m = frame.meta
    w, h = frame.shape[1] * 2, frame.shape[0] * 2
    lf = lens_from_lensfun(
        m.make,
        m.model,
        m.lens_make,
        m.lens_model,
        focal_mm=focal_mm or 0.0,
        f_number=m.f_number or 0.0,
        width_px=w,
        height_px=h,
    )
    if flat_gain is None:
        return lf
    if flat_gain.shape != frame.planes.shape:
        raise InputError(
            f"{flat_name}: flat field of {flat_gain.shape[2] * 2}x{flat_gain.shape[1] * 2} px does "
            f"not match {m.path} ({w}x{h} px)"
        )
    dist = f"; distortion from {lf.source}" if lf.distortion == "lensfun" else "; no distortion model"
    return replace(
        lf,
        vignetting="flat",
        flat_gain=flat_gain,
        vignetting_terms=None,
        source=f"user flat field {flat_name} (per Bayer channel, smoothed){dist}",
        notes=tuple(n for n in lf.notes if "vignetting" not in n or n.startswith("lens ")),
    )


def load_frame(path: Path, opts: CalibrateOptions, dark: RawFrame | None, flat: tuple | None) -> FrameResult:
    """Decode a RAW (or a JPEG, TIFF or PNG photo, :mod:`cupola.nightlights.photo`), subtract the
    dark, flat-field and normalise it to counts/s at ISO 100, f/1."""
    t0 = _time.perf_counter()
    photo = is_photo(path)
    if photo:  # JPEG, TIFF, PNG: decoded to (approximately) linear light
        frame = read_photo_frame(path, transfer=opts.transfer, saturation_fraction=opts.saturation_fraction)
    else:
        frame = read_raw(path, saturation_fraction=opts.saturation_fraction)
    notes = list(frame.notes)
    if dark is not None:
        frame = subtract_dark(frame, dark)
        notes = list(frame.notes)  # the frame's own notes and the dark frame's
    exposure = exposure_from_metadata(
        frame.meta,
        exposure_s=opts.exposure_s,
        iso=opts.iso,
        f_number=opts.f_number,
        lens_transmission=opts.lens_transmission,
    )
    focal_mm = opts.focal_mm if opts.focal_mm is not None else frame.meta.focal_mm
    camera = _camera_for(frame, opts, focal_mm)
    lens = _lens_for(frame, flat[0] if flat else None, flat[1] if flat else "", focal_mm)
    notes += list(lens.notes)
    if lens.vignetting == "none":
        notes.append("no vignetting correction: " + lens.source + "; give a flat-field frame (`flat`)")
    # quicklook of the raw signal (before flat field and calibration), every 4th superpixel
    h4, w4 = frame.shape[0] // 4, frame.shape[1] // 4
    ql = np.stack([frame.planes[0], 0.5 * (frame.planes[1] + frame.planes[2]), frame.planes[3]])[:, : h4 * 4, : w4 * 4]
    ql = ql.reshape(3, h4, 4, w4, 4).mean(axis=(2, 4))
    rate = np.float32(exposure.rate_factor)
    gains = []
    for k in range(4):
        g = lens.plane_gain(frame.offsets[k], frame.shape, k)
        frame.planes[k] *= g
        frame.planes[k] *= rate
        if photo:
            gains.append(np.asarray(g, np.float32) * rate)
    quant = None
    if photo:  # code values of the decoded photo, for the noise floor of the source detection
        gain = np.stack([gains[0], 0.5 * (gains[1] + gains[2]), gains[3]])
        quant = Quantisation(frame.meta.white_level, opts.transfer, gain)
    fr = FrameResult(
        path=path,
        frame=frame,
        exposure=exposure,
        lens=lens,
        camera=camera,
        notes=notes,
        raw_quicklook=ql,
        quantisation=quant,
    )
    fr.timings_s["decode_flat_exposure"] = _time.perf_counter() - t0
    return fr


# -- step 2: place ------------------------------------------------------------------------------


def _time_of(frame: RawFrame, k: int, first: RawFrame, opts: CalibrateOptions, notes: list) -> dt.datetime | None:
    if opts.time is not None:
        if k == 0:
            return opts.time
        t0, tk = first.meta.datetime_original, frame.meta.datetime_original
        if t0 is not None and tk is not None:
            return opts.time + (tk - t0)
        notes.append("no EXIF time to offset this frame from the first; used `time`")
        return opts.time
    t = frame.meta.datetime_original
    if t is None:
        return None
    exp = frame.meta.exposure_s or 0.0
    notes.append("time from EXIF DateTimeOriginal taken as UTC plus half the exposure (give `time` to be sure)")
    return t.replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=exp / 2.0)


def place_frame(
    fr: FrameResult, k: int, first: FrameResult | None, opts: CalibrateOptions, tles, tie, first_rpy
) -> None:
    """Time, element set and state of frame ``k``; its pose from the tie points (first frame) or
    from the first frame's LVLH attitude (a camera fixed to the station). ``tles``: the
    :class:`cupola.io.tle.TleFile` of the run, or None without one."""
    p = fr.placement
    p.time = _time_of(fr.frame, k, first.frame if first else fr.frame, opts, fr.notes)
    if tles is not None and p.time is None:
        raise InputError(f"{fr.path}: no EXIF DateTimeOriginal, and `tle` needs the frame's time: give `time`")
    if tles is None or p.time is None:
        return
    p.elements = tles.at(p.time, force=opts.force_tle, notes=fr.notes)
    p.state = orbit.state_at(p.elements, p.time)
    if tie is not None and k == 0:
        cu, ru = fr.lens.undistort(tie.col_px, tie.row_px)
        sol = att.solve_attitude(
            fr.camera,
            p.state.position_m,
            col_px=cu,
            row_px=ru,
            lon_deg=tie.lon_deg,
            lat_deg=tie.lat_deg,
            height_m=tie.height_m,
        )
        p.tie_solution = sol
        p.tie_points = (cu, ru, np.asarray(tie.lon_deg, float), np.asarray(tie.lat_deg, float), tie.height_m)
        p.pose = sol.pose
        p.pose_source = f"tie points {opts.tie_points} ({len(tie)} points, rms {sol.rms_px:.2f} px)"
    elif first_rpy is not None:
        p.pose = att.pose_from_rpy(p.state, *first_rpy)
        p.pose_source = "LVLH attitude of the first frame's tie points (camera fixed to the station)"
