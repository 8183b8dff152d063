"""The calibration pipeline: RAW frames -> radiance, colour ratios, lamp classes, GeoTIFFs.

Steps per frame (Sánchez de Miguel et al. 2021, "Colour remote sensing of the impact of artificial
light at night (II)", Remote Sens. Environ. 264, 112611, automated):

1. decode the RAW into linear Bayer planes (:mod:`.raw`), subtract the black level or a dark frame,
   flag saturation;
2. flat field: vignetting from lensfun or a user flat (:mod:`.lens`);
3. exposure normalisation to counts/s at ISO 100, f/1 (:mod:`.exposure`);
4. stars: detection and trails (:mod:`.stars`), astrometric solution against Hipparcos
   (:mod:`.astrometry`), aperture photometry and zero points with colour terms (:mod:`.photometry`);
   frames of a sequence without enough stars use the constants of those with stars, or supplied ones;
5. geometry: orbit (TLE) at the frame time and attitude from tie points, or from the stars
   (camera -> ICRS rotation turned into ITRS at that time);
6. radiance with window and atmospheric corrections (:mod:`.radiance`), G/R and B/G, lamp classes
   (:mod:`.colour`);
7. products: georeferenced GeoTIFFs in EPSG:4326 (or image-space TIFFs without geometry),
   ``result.json``, ``calibration.json``, ``stars.csv`` and ``report.png``.

Everything stays at the Bayer superpixel grid (half the sensor resolution in each direction);
the GeoTIFFs resample it bilinearly (classes: nearest).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time as _time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.io.staging import json_safe as _json_safe
from cupola import __version__
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import attitude as att
from cupola.geometry import geodesy, orbit
from cupola.geometry.camera import Camera, camera_body, camera_for_body
from cupola.geometry.projection import Georeference
from cupola.nightlights import colour as colour_mod
from cupola.nightlights.astrometry import AstrometricSolution, solve_astrometry
from cupola.nightlights.catalog import load_catalog
from cupola.nightlights.exposure import Exposure, exposure_from_metadata
from cupola.nightlights.lens import LensModel, flat_field_gain, lens_from_lensfun
from cupola.nightlights.photometry import (CHANNELS, Calibration, StarPhotometry, combine_calibrations,
                                           fit_zero_points, measure_stars, read_calibration)
from cupola.nightlights.radiance import RadianceSettings, airmass, radiance_planes
from cupola.nightlights.raw import RawFrame, read_raw, subtract_dark
from cupola.nightlights.stars import Detections, TrailModel, detect_sources, estimate_background, fit_trails

__all__ = ["CalibrateOptions", "FrameResult", "SequenceResult", "calibrate", "write_products", "RESULT_SCHEMA"]

RESULT_SCHEMA = "cupola.nightlights/1"


@dataclass
class CalibrateOptions:
    """Inputs besides the RAW files (all optional)."""

    dark: Path | None = None
    flat: Path | None = None
    stars: str | Path = "auto"  # "auto" or a calibration.json
    tie_points: Path | None = None
    tle: Path | None = None
    time: dt.datetime | None = None  # mid-exposure of the first frame, UTC
    exposure_s: float | None = None
    iso: float | None = None
    f_number: float | None = None
    lens_transmission: float = 1.0
    sensor_mm: tuple[float, float] | None = None
    radiance: RadianceSettings = field(default_factory=RadianceSettings)
    height_m: float = 0.0
    saturation_fraction: float = 0.98
    star_mag_limit: float = 7.0
    ratio_min_snr: float = 5.0
    force_tle: bool = False
    geotiff_max_pixels: int = 8_000_000
    write_geotiffs: bool = True


@dataclass(eq=False)
class FrameResult:
    path: Path
    frame: RawFrame  # planes normalised: flat-fielded counts/s at ISO 100, f/1
    exposure: Exposure
    lens: LensModel
    camera: Camera  # full resolution, undistorted (pinhole) pixels
    detections: Detections | None = None
    trails: TrailModel | None = None
    astrometry: AstrometricSolution | None = None
    star_note: str = ""
    photometry: StarPhotometry | None = None
    star_catalog_rows: dict | None = None
    calibration: Calibration | None = None  # this frame's own
    calibration_used: Calibration | None = None
    calibration_from: str = ""
    time: dt.datetime | None = None
    elements: orbit.ElementSet | None = None
    state: orbit.StateVector | None = None
    pose: att.Pose | None = None
    pose_source: str = ""
    tie_solution: att.AttitudeSolution | None = None
    radiance: np.ndarray | None = None  # (3, h, w) nW cm-2 sr-1
    saturated: np.ndarray | None = None  # (h, w) any channel
    ratios: np.ndarray | None = None
    classes: np.ndarray | None = None
    airmass: np.ndarray | None = None
    raw_quicklook: np.ndarray | None = None
    radiance_settings: RadianceSettings | None = None
    notes: list = field(default_factory=list)
    timings_s: dict = field(default_factory=dict)

    @property
    def georeference(self) -> Georeference | None:
        if self.pose is None or self.time is None:
            return None
        return Georeference(self.camera, self.pose, self.time)

    def lonlat_to_plane(self, lon, lat, height_m: float = 0.0):
        """Ground -> superpixel plane (j, i) through the pose, camera and lens distortion."""
        geo = self.georeference
        c, r = geo.ground_to_pixels(lon, lat, height_m)
        cd, rd = self.lens.distort(c, r)
        return (cd - 0.5) / 2.0, (rd - 0.5) / 2.0

    def plane_rays_itrs(self, j, i):
        cu, ru = self.lens.undistort(2.0 * np.asarray(j, float) + 0.5, 2.0 * np.asarray(i, float) + 0.5)
        return self.camera.pixel_to_ray(cu, ru) @ self.pose.matrix.T


@dataclass(eq=False)
class SequenceResult:
    frames: list
    calibration: Calibration | None
    options: CalibrateOptions


# -- helpers ---------------------------------------------------------------------------------

def _camera_for(frame: RawFrame, opts: CalibrateOptions, focal_mm: float | None) -> Camera:
    m = frame.meta
    if focal_mm is None:
        raise InputError(f"{m.path}: EXIF FocalLength missing; the camera's focal length is needed")
    if opts.sensor_mm is not None:
        w_mm, h_mm = opts.sensor_mm
        return Camera.from_focal_sensor(focal_mm=focal_mm, sensor_width_mm=w_mm, sensor_height_mm=h_mm,
                                        width_px=m.width_px, height_px=m.height_px)
    if not m.model:
        raise InputError(f"{m.path}: EXIF Model missing; the camera is needed for its sensor size "
                         "(give --sensor-mm WIDTH HEIGHT)")
    try:
        body = camera_body(m.model)
        return camera_for_body(body, focal_mm=focal_mm, width_px=m.width_px - m.width_px % 2,
                               height_px=m.height_px - m.height_px % 2)
    except InputError as exc:
        raise InputError(f"{m.path}: unsupported camera: {exc}") from None


def _lens_for(frame: RawFrame, opts: CalibrateOptions, flat_gain: np.ndarray | None, flat_name: str) -> LensModel:
    m = frame.meta
    w, h = frame.shape[1] * 2, frame.shape[0] * 2
    lf = lens_from_lensfun(m.make, m.model, m.lens_make, m.lens_model, focal_mm=m.focal_mm or 0.0,
                           f_number=m.f_number or 0.0, width_px=w, height_px=h)
    if flat_gain is None:
        return lf
    if flat_gain.shape != frame.planes.shape:
        raise InputError(f"{flat_name}: flat field of {flat_gain.shape[2] * 2}x{flat_gain.shape[1] * 2} px does "
                         f"not match {m.path} ({w}x{h} px)")
    dist = f"; distortion from {lf.source}" if lf.distortion == "lensfun" else "; no distortion model"
    return replace(lf, vignetting="flat", flat_gain=flat_gain, vignetting_terms=None,
                   source=f"user flat field {flat_name} (per Bayer channel, smoothed){dist}",
                   notes=tuple(n for n in lf.notes if "vignetting" not in n))


def _time_of(frame: RawFrame, k: int, first: RawFrame, opts: CalibrateOptions, notes: list) -> dt.datetime | None:
    if opts.time is not None:
        if k == 0:
            return opts.time
        t0, tk = first.meta.datetime_original, frame.meta.datetime_original
        if t0 is not None and tk is not None:
            return opts.time + (tk - t0)
        notes.append("no EXIF time to offset this frame from the first; used --time")
        return opts.time
    t = frame.meta.datetime_original
    if t is None:
        return None
    exp = frame.meta.exposure_s or 0.0
    notes.append("time from EXIF DateTimeOriginal taken as UTC plus half the exposure (give --time to be sure)")
    return t.replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=exp / 2.0)


def _earth_mask(fr: FrameResult, shape, step: int = 8, height_m: float = 50_000.0) -> np.ndarray:
    """True on superpixels whose line of sight meets the Earth (with an opaque layer to height_m)."""
    h, w = shape
    ii = np.arange(0, h + step, step).clip(0, h - 1)
    jj = np.arange(0, w + step, step).clip(0, w - 1)
    J, I = np.meshgrid(jj, ii)
    d = fr.plane_rays_itrs(J, I)
    hit = np.isfinite(geodesy.ray_ellipsoid_intersection(fr.pose.position_m, d.reshape(-1, 3), height_m)[:, 0])
    coarse = hit.reshape(J.shape)
    from scipy.ndimage import binary_dilation

    coarse = binary_dilation(coarse, iterations=1)  # a margin of one grid step along the limb
    ri = np.minimum((np.arange(h) + step // 2) // step, coarse.shape[0] - 1)
    ci = np.minimum((np.arange(w) + step // 2) // step, coarse.shape[1] - 1)
    return coarse[ri][:, ci]


def _view_geometry(fr: FrameResult, shape, step: int = 8) -> np.ndarray:
    """Airmass (h, w) float32 of each superpixel's line of sight at the ground (NaN off the Earth
    or beyond the maximum view zenith angle), computed on a grid of ``step`` superpixels."""
    from cupola.nightlights.stars import bilinear_upsample

    h, w = shape
    ii = np.arange(0, h + step, step, dtype=float)
    jj = np.arange(0, w + step, step, dtype=float)
    J, I = np.meshgrid(jj, ii)
    d = fr.plane_rays_itrs(J, I).reshape(-1, 3)
    g = geodesy.ray_ellipsoid_intersection(fr.pose.position_m, d, fr.georeference.height_m)
    up = geodesy.ellipsoid_normal(np.where(np.isfinite(g), g, 1.0))
    los = -d / np.linalg.norm(d, axis=1, keepdims=True)
    vza = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", los, up), -1.0, 1.0)))
    vza = np.where(np.isfinite(g[:, 0]), vza, np.nan).reshape(J.shape)
    bad = ~(vza <= fr.radiance_settings.max_view_zenith_deg)
    am = np.where(bad, 0.0, airmass(np.where(bad, 0.0, vza)))
    out = bilinear_upsample(am, shape, np.arange(h) / step, np.arange(w) / step)
    # off the Earth (or too oblique) where the nearest grid node is
    near = bad[np.minimum(np.rint(np.arange(h) / step).astype(int), bad.shape[0] - 1)][
        :, np.minimum(np.rint(np.arange(w) / step).astype(int), bad.shape[1] - 1)]
    out[near] = np.nan
    return out


# -- the steps ----------------------------------------------------------------------------------

def _load_frame(path: Path, opts: CalibrateOptions, dark: RawFrame | None, flat: tuple | None) -> FrameResult:
    t0 = _time.perf_counter()
    frame = read_raw(path, saturation_fraction=opts.saturation_fraction)
    notes = []
    if dark is not None:
        frame = subtract_dark(frame, dark)
        notes += frame.notes
    exposure = exposure_from_metadata(frame.meta, exposure_s=opts.exposure_s, iso=opts.iso,
                                      f_number=opts.f_number, lens_transmission=opts.lens_transmission)
    camera = _camera_for(frame, opts, frame.meta.focal_mm)
    lens = _lens_for(frame, opts, flat[0] if flat else None, flat[1] if flat else "")
    notes += list(lens.notes)
    if lens.vignetting == "none":
        notes.append("no vignetting correction: " + lens.source + "; give --flat FILE")
    # quicklook of the raw signal (before flat field and calibration), every 4th superpixel
    h4, w4 = frame.shape[0] // 4, frame.shape[1] // 4
    ql = np.stack([frame.planes[0], 0.5 * (frame.planes[1] + frame.planes[2]), frame.planes[3]])[:, :h4 * 4, :w4 * 4]
    ql = ql.reshape(3, h4, 4, w4, 4).mean(axis=(2, 4))
    rate = np.float32(exposure.rate_factor)
    for k in range(4):
        frame.planes[k] *= lens.plane_gain(frame.offsets[k], frame.shape, k)
        frame.planes[k] *= rate
    fr = FrameResult(path=path, frame=frame, exposure=exposure, lens=lens, camera=camera, notes=notes,
                     raw_quicklook=ql)
    fr.timings_s["decode_flat_exposure"] = _time.perf_counter() - t0
    return fr


def _geometry(fr: FrameResult, k: int, first: FrameResult | None, opts: CalibrateOptions, elements_all, tie,
              first_rpy) -> None:
    fr.time = _time_of(fr.frame, k, first.frame if first else fr.frame, opts, fr.notes)
    if elements_all is None or fr.time is None:
        if elements_all is not None and fr.time is None:
            fr.notes.append("no time (give --time): not georeferenced")
        return
    fr.elements = orbit.select_element_set(elements_all, fr.time, force=opts.force_tle, source=str(opts.tle),
                                           notes=fr.notes)
    fr.state = orbit.state_at(fr.elements, fr.time)
    if tie is not None and k == 0:
        cu, ru = fr.lens.undistort(tie.col_px, tie.row_px)
        sol = att.solve_attitude(fr.camera, fr.state.position_m, col_px=cu, row_px=ru, lon_deg=tie.lon_deg,
                                 lat_deg=tie.lat_deg, height_m=tie.height_m)
        fr.tie_solution = sol
        fr.pose = sol.pose
        fr.pose_source = f"tie points {opts.tie_points} ({len(tie)} points, rms {sol.rms_px:.2f} px)"
    elif first_rpy is not None:
        fr.pose = att.pose_from_rpy(fr.state, *first_rpy)
        fr.pose_source = "LVLH attitude of the first frame's tie points (camera fixed to the station)"


def _single_pixel(planes: np.ndarray, lum_background: np.ndarray, det: Detections) -> np.ndarray:
    """Hot pixels and cosmic-ray hits: the light of the brightest superpixel is in one Bayer plane
    only, where a star (seen through all four filters) lights them all."""
    if len(det) == 0:
        return np.zeros(0, bool)
    h, w = planes.shape[1:]
    i = np.clip(np.rint((det.row - 0.5) / 2.0).astype(int), 0, h - 1)
    j = np.clip(np.rint((det.col - 0.5) / 2.0).astype(int), 0, w - 1)
    hot = np.zeros(len(det), bool)
    for di in (-1, 0, 1):  # the brightest superpixel near the centroid
        for dj in (-1, 0, 1):
            ii, jj = np.clip(i + di, 0, h - 1), np.clip(j + dj, 0, w - 1)
            p = planes[:, ii, jj] - lum_background[ii, jj] / 4.0
            tot = p.sum(axis=0)
            frac = p.max(axis=0) / np.where(tot > 0, tot, np.inf)
            bright = tot >= 0.5 * det.peak
            hot |= bright & (frac > 0.8)
    return hot


def _stars(fr: FrameResult, opts: CalibrateOptions) -> None:
    t0 = _time.perf_counter()
    planes = fr.frame.planes
    lum = planes[0] + planes[1]
    lum += planes[2]
    lum += planes[3]
    # hot pixels and cosmic-ray hits light one Bayer plane of a superpixel; a star (seen through all
    # four filters) lights them all: replace such superpixels by the other three planes' signal
    top = np.maximum(np.maximum(planes[0], planes[1]), np.maximum(planes[2], planes[3]))
    rest = lum - top
    hot = (top > 0.8 * lum) & (top > 4.0 * np.abs(rest) / 3.0 + 10.0 * float(np.median(np.abs(lum[::16, ::16]))) + 1e-30)
    lum = np.where(hot, rest * np.float32(4.0 / 3.0), lum)
    del top, rest
    sat = fr.frame.saturated.any(axis=0)
    mask = None
    if fr.pose is not None:
        mask = _earth_mask(fr, fr.frame.shape)
        if mask.all():
            fr.star_note = "the whole frame sees the Earth: no stars"
            return
    bg = estimate_background(lum, box_px=32, mask=mask)
    det = detect_sources(lum, bg, saturated=sat, mask=mask)
    fr.timings_s["detect"] = _time.perf_counter() - t0
    det = det.take(np.flatnonzero(~det.extended & ~_single_pixel(planes, bg.level, det)))
    fr.detections = det
    if len(det) < 6:
        fr.star_note = f"no stars found: only {len(det)} point sources above 5 sigma"
        return
    t1 = _time.perf_counter()
    epoch = (fr.time or dt.datetime(2016, 1, 1, tzinfo=dt.timezone.utc))
    epoch_year = 2000.0 + (epoch - dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)).total_seconds() / 31_557_600
    cat = load_catalog(opts.star_mag_limit)
    vec = cat.unit_vectors(epoch_year)
    cu, ru = fr.lens.undistort(det.col, det.row)
    prior = None
    if fr.pose is not None and fr.state is not None:
        prior = Rotation.from_matrix(fr.state.gcrs_to_itrs.T @ fr.pose.matrix)
    sol, why = solve_astrometry(cu, ru, fr.camera, vec, cat.hp_mag, prior_rotation=prior)
    fr.timings_s["astrometry"] = _time.perf_counter() - t1
    if sol is None:
        fr.star_note = f"no stars identified: {why}"
        return
    fr.astrometry = sol
    fr.camera = sol.camera  # focal length fitted on the stars
    # trails: fit the camera's rotation during the exposure to bright, unsaturated, isolated stars
    d = det.take(sol.det_index)
    good = (~d.saturated) & (d.snr > 20)
    if good.sum() >= 3:
        fr.trails = fit_trails(fr.camera, cu[sol.det_index][good], ru[sol.det_index][good],
                               2.0 * d.trail_length_plane_px[good], d.orientation_rad[good],
                               weights=np.sqrt(d.snr[good]))
    # photometry of all matched stars
    t2 = _time.perf_counter()
    pc, pr = cu[sol.det_index], ru[sol.det_index]
    if fr.trails is not None:
        tc, tr = fr.trails.trail_vectors(fr.camera, pc, pr)
    else:
        tc = tr = np.zeros(pc.size)
    x = (pc - fr.camera.cx_px) / fr.camera.focal_x_px
    y = (pr - fr.camera.cy_px) / fr.camera.focal_y_px
    saf = (1.0 + x * x + y * y) ** -1.5 * fr.lens.area_factor(d.col, d.row)
    psf = float(np.median(d.sigma_minor[good])) if good.any() else 0.8
    phot = measure_stars(planes, fr.frame.offsets, fr.frame.saturated, d.col, d.row, trail_col=tc, trail_row=tr,
                         psf_sigma_plane_px=min(max(psf, 0.5), 3.0), solid_angle_factor=saf,
                         cat_index=sol.cat_index, others_col=fr.detections.col, others_row=fr.detections.row)
    fr.photometry = phot
    ci = sol.cat_index
    fr.star_catalog_rows = {"hip": cat.hip[ci], "hp": cat.hp_mag[ci], "b_v": cat.b_v[ci]}
    cal = fit_zero_points(phot, cat.hp_mag[ci], cat.b_v[ci], source=f"stars in {fr.path.name}")
    fr.timings_s["photometry"] = _time.perf_counter() - t2
    if cal is None:
        fr.star_note = (f"{sol.n_matched} stars identified but fewer than 5 usable for photometry in a channel "
                        f"(saturated or crowded)")
        return
    fr.calibration = cal
    fr.star_note = f"{sol.n_matched} stars identified, {min(cal.n_stars.values())}+ used for the zero points"
    if fr.state is not None and fr.pose is None:
        fr.pose = att.Pose(np.asarray(fr.state.position_m, float),
                           Rotation.from_matrix(fr.state.gcrs_to_itrs @ sol.rotation.as_matrix()))
        fr.pose_source = f"stars ({sol.n_matched} Hipparcos stars, rms {sol.rms_px:.2f} px) and the orbit"
    elif fr.state is not None and fr.pose is not None:
        r_stars = fr.state.gcrs_to_itrs @ sol.rotation.as_matrix()
        ang = np.degrees(np.arccos(np.clip((np.trace(r_stars.T @ fr.pose.matrix) - 1) / 2, -1, 1)))
        fr.notes.append(f"the stars' attitude differs from the {fr.pose_source.split(' (')[0]} by {ang:.3f} deg")


def _noise_floor(band: np.ndarray, nsigma: float) -> float:
    """Median plus ``nsigma`` robust standard deviations of a band's finite pixels (mostly dark
    ground), i.e. a detection threshold for light."""
    finite = np.isfinite(band)
    if not finite.any():
        return float("inf")
    sample = band[finite][:: max(1, int(finite.sum()) // 200_000)]
    med = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - med)))
    return med + nsigma * max(noise, 1e-30)


def _radiance(fr: FrameResult, opts: CalibrateOptions) -> None:
    t0 = _time.perf_counter()
    planes = fr.frame.planes
    sig = {"R": planes[0], "G": 0.5 * (planes[1] + planes[2]), "B": planes[3]}
    sat = {c: fr.frame.channel_saturated(c) for c in CHANNELS}
    fr.saturated = sat["R"] | sat["G"] | sat["B"]
    omega = 4.0 / (fr.camera.focal_x_px * fr.camera.focal_y_px)
    am = None
    fr.radiance_settings = opts.radiance
    if fr.pose is not None:
        am = _view_geometry(fr, fr.frame.shape)
        fr.airmass = am
    else:
        fr.notes.append("no geometry (give --tle and --time): atmosphere not corrected, radiance at the camera")
    settings = opts.radiance if am is not None else replace(opts.radiance, atmosphere=False)
    fr.radiance_settings = settings
    rad = radiance_planes(sig, sat, fr.calibration_used, omega, airmass_map=am, settings=settings)
    if am is not None:
        rad[:, ~np.isfinite(am)] = np.nan
    fr.radiance = rad
    # colour only where R and G stand well above the noise of the background
    fr.ratios = colour_mod.colour_ratios(rad, min_r=_noise_floor(rad[0], 3.0),
                                         min_g=_noise_floor(rad[1], opts.ratio_min_snr))
    fr.ratios[:, fr.saturated] = np.nan  # a colour needs all three channels unclipped
    fr.classes = colour_mod.classify_lamps(fr.ratios)
    fr.timings_s["radiance_colour"] = _time.perf_counter() - t0
    del sig


def calibrate(raw_paths, options: CalibrateOptions | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> SequenceResult:
    """Calibrate one or more RAW frames of a sequence (same camera, lens and settings)."""
    opts = options or CalibrateOptions()
    paths = [Path(p) for p in raw_paths]
    if not paths:
        raise InputError("give at least one RAW file")
    say = progress or (lambda label, done, total: None)
    dark = read_raw(opts.dark, saturation_fraction=opts.saturation_fraction) if opts.dark else None
    flat = None
    if opts.flat:
        ff = read_raw(opts.flat, saturation_fraction=opts.saturation_fraction)
        if dark is not None and dark.planes.shape == ff.planes.shape:
            ff = subtract_dark(ff, dark)
        if ff.saturated.mean() > 0.01:
            raise InputError(f"{opts.flat}: {100 * ff.saturated.mean():.1f}% of the flat field is saturated")
        flat = (flat_field_gain(ff.planes), Path(opts.flat).name)
    supplied = None
    if str(opts.stars) != "auto":
        supplied = read_calibration(opts.stars)
    elements_all = None
    if opts.tle is not None:
        from cupola.io.tle import read_tle_file

        elements_all = read_tle_file(opts.tle)
    if opts.tie_points is not None and opts.tle is None:
        raise InputError("--tie-points needs --tle (and --time) to solve the attitude")
    n = len(paths)
    frames: list[FrameResult] = []
    tie = None
    first_rpy = None
    for k, p in enumerate(paths):
        say("frames", k, n)
        fr = _load_frame(p, opts, dark, flat)
        if k == 0 and opts.tie_points is not None:
            from cupola.io.tables import read_tie_points

            tie = read_tie_points(opts.tie_points, image_size_px=(fr.frame.shape[1] * 2, fr.frame.shape[0] * 2))
        _geometry(fr, k, frames[0] if frames else None, opts, elements_all, tie, first_rpy)
        if k == 0 and fr.tie_solution is not None:
            first_rpy = att.rpy_from_pose(fr.state, fr.pose)
        need_pose = fr.state is not None and fr.pose is None
        if supplied is None or need_pose:
            _stars(fr, opts)
        frames.append(fr)
    # constants: own stars, else the sequence's, else the supplied file
    own = [f.calibration for f in frames if f.calibration is not None]
    seq_cal = combine_calibrations(own, "stars in " + ", ".join(f.path.name for f in frames if f.calibration)) \
        if own else None
    for fr in frames:
        if supplied is not None:
            fr.calibration_used, fr.calibration_from = supplied, f"supplied constants {opts.stars}"
        elif fr.calibration is not None:
            fr.calibration_used, fr.calibration_from = fr.calibration, "stars in this frame"
        elif seq_cal is not None:
            fr.calibration_used, fr.calibration_from = seq_cal, f"sequence constants ({seq_cal.source})"
        else:
            reasons = "; ".join(f"{f.path.name}: {f.star_note or 'no stars'}" for f in frames)
            raise NoSolutionError(f"{reasons}. Without stars there are no calibration constants: give --stars "
                                  "calibration.json from a frame of the same sequence with stars")
    for k, fr in enumerate(frames):
        say("frames", k, n)
        _radiance(fr, opts)
    say("frames", n, n)
    return SequenceResult(frames, supplied or seq_cal, opts)


# -- products ---------------------------------------------------------------------------------


def frame_summary(fr: FrameResult) -> dict:
    rad = fr.radiance
    classes = fr.classes
    counts = {cl.name: int(np.count_nonzero(classes == cl.code)) for cl in colour_mod.LAMP_CLASSES}
    counts["unclassified"] = int(np.count_nonzero(classes == colour_mod.CLASS_UNCLASSIFIED))
    d = {
        "schema": RESULT_SCHEMA, "cupola_version": __version__, "raw": str(fr.path),
        "metadata": fr.frame.meta.to_dict(), "dark": fr.frame.dark, "exposure": fr.exposure.to_dict(),
        "lens": fr.lens.to_dict(), "camera": fr.camera.to_dict(),
        "stars": {"note": fr.star_note, "detected": 0 if fr.detections is None else len(fr.detections)},
        "calibration": fr.calibration_used.to_dict() if fr.calibration_used else None,
        "calibration_from": fr.calibration_from,
        "own_calibration": fr.calibration.to_dict() if fr.calibration else None,
        "radiance": {"units": "nW cm-2 sr-1", "bands": ["R", "G", "B"], "grid": "Bayer superpixels (2x2 sensor px)",
                     "settings": {**_settings_dict(fr), **fr_settings(fr)},
                     "median": [float(np.nanmedian(rad[k])) if np.isfinite(rad[k]).any() else None for k in range(3)],
                     "max": [float(np.nanmax(rad[k])) if np.isfinite(rad[k]).any() else None for k in range(3)],
                     "saturated_superpixels": int(np.count_nonzero(fr.saturated))},
        "colour": {"ratios": ["G/R", "B/G"], "pixels_with_colour": int(np.count_nonzero(np.isfinite(fr.ratios[0]))),
                   "lamp_class_pixels": counts,
                   "classes": [{"code": c.code, "name": c.name, "g_r": list(c.g_r), "b_g": list(c.b_g)}
                               for c in colour_mod.LAMP_CLASSES]},
        "notes": fr.notes, "timings_s": fr.timings_s,
    }
    if fr.astrometry is not None:
        d["stars"]["astrometry"] = fr.astrometry.to_dict()
    if fr.trails is not None:
        d["stars"]["trail"] = {"rotation_deg_per_exposure": fr.trails.angle_per_exposure_deg,
                               "rotation_deg_s": fr.trails.angle_per_exposure_deg / fr.exposure.exposure_s,
                               "stars_used": fr.trails.n_used, "rms_px": fr.trails.rms_px}
    if fr.state is not None:
        d["time_utc"] = orbit.iso_z(fr.time)
        d["tle"] = fr.elements.to_dict()
        lon, lat = fr.state.subpoint
        d["iss"] = {"subpoint_lon_deg": lon, "subpoint_lat_deg": lat, "altitude_m": fr.state.altitude_m}
    if fr.pose is not None:
        roll, pitch, yaw = att.rpy_from_pose(fr.state, fr.pose)
        d["pose"] = {"source": fr.pose_source, "lvlh_roll_deg": roll, "lvlh_pitch_deg": pitch, "lvlh_yaw_deg": yaw,
                     "off_nadir_deg": att.off_nadir_deg(fr.state, fr.pose),
                     "quaternion_camera_to_itrs_xyzw": fr.pose.rotation.as_quat().tolist()}
    if fr.tie_solution is not None:
        d["tie_points"] = {"rms_px": fr.tie_solution.rms_px, "rms_m": fr.tie_solution.rms_m}
    return _json_safe(d)


def fr_settings(fr: FrameResult) -> dict:
    return dict(fr.radiance_settings.to_dict()) if getattr(fr, "radiance_settings", None) else {}


def _settings_dict(fr: FrameResult) -> dict:
    return {"atmosphere_corrected": fr.airmass is not None,
            "window_applied": bool(fr.calibration_used and not fr.calibration_used.through_window)}


def _write_stars_csv(path: Path, fr: FrameResult) -> None:
    sol, ph = fr.astrometry, fr.photometry
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hip", "hp_mag", "b_v", "col", "row", "residual_col_px", "residual_row_px", "flux_R", "flux_G",
                    "flux_B", "usable", "reason"])
        if sol is None or ph is None:
            return
        for m in range(sol.n_matched):
            w.writerow([int(fr.star_catalog_rows["hip"][m]), f"{fr.star_catalog_rows['hp'][m]:.4f}",
                        f"{fr.star_catalog_rows['b_v'][m]:.3f}", f"{ph.col[m]:.3f}", f"{ph.row[m]:.3f}",
                        f"{sol.residuals_px[m, 0]:.4f}", f"{sol.residuals_px[m, 1]:.4f}",
                        *(f"{ph.flux[c][m]:.6g}" for c in CHANNELS), int(ph.usable[m]), ph.reason[m]])


def _grid_for(fr: FrameResult, step: int = 16):
    """Bounds and resolution (deg) of the ground seen by the frame's superpixels."""
    h, w = fr.frame.shape
    ii = np.arange(0, h, step, dtype=float)
    jj = np.arange(0, w, step, dtype=float)
    J, I = np.meshgrid(jj, ii)
    d = fr.plane_rays_itrs(J, I)
    g = geodesy.ray_ellipsoid_intersection(fr.pose.position_m, d.reshape(-1, 3), 0.0).reshape(d.shape)
    lon, lat, _ = geodesy.ecef_to_geodetic(g)
    lon, lat = np.degrees(lon), np.degrees(lat)
    am = fr.airmass[I.astype(int), J.astype(int)]
    ok = np.isfinite(lon) & np.isfinite(am)
    if ok.sum() < 4:
        return None
    lon0 = float(np.nanmedian(lon[ok]))
    lon = lon0 + (lon - lon0 + 180.0) % 360.0 - 180.0
    coslat = np.cos(np.radians(lat))
    across = np.hypot(np.diff(lat, axis=1), np.diff(lon, axis=1) * coslat[:, 1:])[:-1]
    along = np.hypot(np.diff(lat, axis=0), np.diff(lon, axis=0) * coslat[1:])[:, :-1]
    spacing = np.sqrt(across * along)  # side of the square of equal area
    sp_ok = ok[1:, 1:] & ok[:-1, :-1] & ok[1:, :-1] & ok[:-1, 1:] & np.isfinite(spacing)
    # the median ground spacing of superpixels: near-field pixels keep their detail to within a
    # factor of ~2, oblique far-field pixels are not oversampled
    res = float(np.median(spacing[sp_ok])) / step if sp_ok.any() else 0.001
    pad = 2 * step * res
    bounds = (float(lon[ok].min()) - pad, max(-90.0, float(lat[ok].min()) - pad),
              float(lon[ok].max()) + pad, min(90.0, float(lat[ok].max()) + pad))
    return bounds, res


def write_products(seq: SequenceResult, out_dir: str | Path,
                   progress: Callable[[str, int, int], None] | None = None) -> list[Path]:
    """Write every frame's products into ``out_dir/<raw stem>/`` and ``out_dir/calibration.json``;
    staged in a hidden folder and moved into place only when all succeeded."""
    from cupola.io.geotiff import write_georeferenced_cog
    from cupola.plot.nightlights import write_report

    from cupola.io.staging import staged_output

    out = Path(out_dir)
    say = progress or (lambda label, done, total: None)
    written: list[Path] = []
    from cupola.io.names import safe_name

    # a RAW named '...dng' or '.x.nef' must not name the output folder itself or a hidden one
    stems = [s if s and not s.startswith(".") else (safe_name(s) or "frame") for s in
             (fr.path.stem for fr in seq.frames)]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        same = [str(fr.path) for fr, s in zip(seq.frames, stems) if s == dup]
        raise InputError(f"{same[0]} and {same[1]}: RAW files with the same name {dup!r}; their product folders "
                         "would collide")
    inputs = [fr.path for fr in seq.frames]
    with staged_output(out, written=written, inputs=inputs) as stage:
        if seq.calibration is not None:
            (stage / "calibration.json").write_text(json.dumps(_json_safe(seq.calibration.to_dict()), indent=2) + "\n")
        for k, fr in enumerate(seq.frames):
            t0 = _time.perf_counter()
            fdir = stage / stems[k]
            fdir.mkdir()
            summary = frame_summary(fr)
            products = {}
            grid = _grid_for(fr) if (fr.pose is not None and seq.options.write_geotiffs) else None
            # GDAL, NumPy and Agg release the GIL: products are written two at a time
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=2)
            futures = [pool.submit(write_report, fdir / "report.png", fr, colour_mod.LAMP_CLASSES),
                       pool.submit(_write_stars_csv, fdir / "stars.csv", fr)]
            jobs = []
            caught: list = []
            if grid is not None:
                bounds, res = grid
                f = _Memo(fr.lonlat_to_plane)  # the three products share one grid: project it once

                def nearest(lon, lat, f=f):
                    j, i = f(lon, lat)
                    return np.rint(j), np.rint(i)

                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", UserWarning)
                    tags = {"UNITS": "nW cm-2 sr-1", "BANDS": "R,G,B", "SOURCE": str(fr.path)}
                    info = write_georeferenced_cog(fdir / "radiance.tif", fr.radiance.transpose(1, 2, 0), f, bounds,
                                                   res, max_pixels=seq.options.geotiff_max_pixels, tags=tags,
                                                   progress=lambda d, t: say("radiance.tif", d, t))
                bounds, res = info["bounds_lonlat"], info["resolution_deg"]  # the same grid for all
                classes_tag = "; ".join(f"{c.code}={c.name}" for c in colour_mod.LAMP_CLASSES) + \
                    "; 0=unclassified; 255=no colour"
                jobs += [lambda fdir=fdir, fr=fr, f=f, bounds=bounds, res=res: write_georeferenced_cog(
                             fdir / "ratios.tif", fr.ratios.transpose(1, 2, 0), f, bounds, res,
                             max_pixels=seq.options.geotiff_max_pixels, tags={"BANDS": "G/R,B/G"}),
                         lambda fdir=fdir, fr=fr, bounds=bounds, res=res, nearest=nearest, tag=classes_tag:
                             write_georeferenced_cog(fdir / "lamp_class.tif", fr.classes, nearest, bounds, res,
                                                     max_pixels=seq.options.geotiff_max_pixels,
                                                     tags={"CLASSES": tag})]
                summary["geotiff"] = {k2: info[k2] for k2 in ("width", "height", "resolution_deg", "bounds_lonlat",
                                                              "valid_fraction")}
                products.update(radiance="radiance.tif", ratios="ratios.tif", lamp_class="lamp_class.tif")
            else:
                jobs += [lambda fdir=fdir, fr=fr: _write_plain_tiff(fdir / "radiance_image.tif", fr.radiance),
                         lambda fdir=fdir, fr=fr: _write_plain_tiff(fdir / "ratios_image.tif", fr.ratios),
                         lambda fdir=fdir, fr=fr: _write_plain_tiff(fdir / "lamp_class_image.tif", fr.classes[None])]
                products.update(radiance="radiance_image.tif", ratios="ratios_image.tif",
                                lamp_class="lamp_class_image.tif")
            try:
                futures += [pool.submit(job) for job in jobs]
                for fut in futures:
                    fut.result()
            finally:
                pool.shutdown(wait=True)
            summary["notes"] = summary["notes"] + [str(w.message) for w in caught]
            products.update(stars="stars.csv", report="report.png")
            summary["products"] = products
            summary["timings_s"]["products"] = _time.perf_counter() - t0
            (fdir / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
            say("products", k + 1, len(seq.frames))
    return written


class _Memo:
    """Ground -> plane mapping for the row blocks of a regular lon/lat grid (as
    :func:`cupola.io.geotiff.write_georeferenced_cog` asks for them), remembered so that several
    products on one grid project it once.

    The mapping is smooth, so it is computed exactly on every ``step``-th grid node and
    interpolated bilinearly between them; cells next to a node that misses the image (the limb,
    the horizon) are computed exactly.
    """

    def __init__(self, func, step: int = 4):
        self.func = func
        self.step = step
        self.cache: dict = {}

    def __call__(self, lon, lat):
        key = (lon.size, float(lon[0]), float(lat[0]), float(lon[-1]), float(lat[-1]))
        hit = self.cache.get(key)
        if hit is None:
            hit = self._project(np.asarray(lon, float), np.asarray(lat, float))
            self.cache[key] = hit
        return hit

    def _project(self, lon, lat):
        from cupola.nightlights.stars import bilinear_upsample

        change = np.flatnonzero(lat != lat[0])
        width = int(change[0]) if change.size else lon.size
        nr = lon.size // width
        if nr * width != lon.size or nr < 2 * self.step or width < 2 * self.step:
            j, i = self.func(lon, lat)
            return np.asarray(j, np.float32), np.asarray(i, np.float32)
        lon_c, lat_c = lon[:width], lat[::width]
        rn = np.unique(np.r_[np.arange(0, nr, self.step), nr - 1])
        cn = np.unique(np.r_[np.arange(0, width, self.step), width - 1])
        LO, LA = np.meshgrid(lon_c[cn], lat_c[rn])
        jn, in_ = (np.asarray(v, float).reshape(LO.shape) for v in self.func(LO.ravel(), LA.ravel()))
        rpos = np.interp(np.arange(nr), rn, np.arange(rn.size))
        cpos = np.interp(np.arange(width), cn, np.arange(cn.size))
        bad = ~(np.isfinite(jn) & np.isfinite(in_))
        j = bilinear_upsample(np.where(bad, 0.0, jn), (nr, width), rpos, cpos)
        i = bilinear_upsample(np.where(bad, 0.0, in_), (nr, width), rpos, cpos)
        near_bad = bilinear_upsample(bad.astype(np.float32), (nr, width), rpos, cpos) > 0
        if near_bad.any():
            rr, cc = np.nonzero(near_bad)
            je, ie = self.func(lon_c[cc], lat_c[rr])
            j[rr, cc] = je
            i[rr, cc] = ie
        return j.ravel(), i.ravel()


def _write_plain_tiff(path: Path, arr: np.ndarray) -> None:
    """Image-space TIFF (no CRS) of a (bands, h, w) array, written atomically."""
    import rasterio

    from cupola.io.atomic import atomic_write

    a = np.asarray(arr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: NotGeoreferencedWarning
        with atomic_write(path) as tmp:
            profile = {"driver": "GTiff", "width": a.shape[2], "height": a.shape[1], "count": a.shape[0],
                       "dtype": a.dtype.name, "compress": "deflate", "tiled": True}
            if np.issubdtype(a.dtype, np.floating):
                profile["nodata"] = float("nan")
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(a)
