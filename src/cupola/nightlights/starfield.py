"""The star field of a frame: point sources, their trails, the astrometric solution against
Hipparcos, aperture photometry and the frame's own zero points (Sánchez de Miguel et al. 2021).

:func:`measure_star_field` is the calibration's star step; it fills a :class:`StarField` and,
when the frame has an orbit but no pose, gives it the pose of the stars.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry import attitude as att
from cupola.nightlights.astrometry import AstrometricSolution, solve_astrometry
from cupola.nightlights.catalog import load_catalog
from cupola.nightlights.photometry import Calibration, StarPhotometry, fit_zero_points, measure_stars
from cupola.nightlights.stars import Detections, TrailModel, detect_sources, estimate_background, fit_trails

if TYPE_CHECKING:
    from cupola.nightlights.frame import FrameResult
    from cupola.nightlights.pipeline import CalibrateOptions

__all__ = ["StarField", "measure_star_field"]


@dataclass(eq=False)
class StarField:
    """What the stars of a frame gave; ``note`` says how far it got and why it stopped."""

    detections: Detections | None = None
    trails: TrailModel | None = None
    astrometry: AstrometricSolution | None = None
    photometry: StarPhotometry | None = None
    #: Hipparcos ``hip``, ``hp`` (mag) and ``b_v`` of the matched stars, in match order
    catalog_rows: dict | None = None
    #: the frame's own zero points and colour terms
    calibration: Calibration | None = None
    note: str = ""


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


def _luminance(planes: np.ndarray) -> np.ndarray:
    """Sum of the four Bayer planes, hot pixels and cosmic-ray hits replaced: they light one plane
    of a superpixel, a star (seen through all four filters) lights them all, so such superpixels
    take the other three planes' signal."""
    lum = planes[0] + planes[1]
    lum += planes[2]
    lum += planes[3]
    top = np.maximum(np.maximum(planes[0], planes[1]), np.maximum(planes[2], planes[3]))
    rest = lum - top
    hot = (top > 0.8 * lum) & (
        top > 4.0 * np.abs(rest) / 3.0 + 10.0 * float(np.median(np.abs(lum[::16, ::16]))) + 1e-30
    )
    return np.where(hot, rest * np.float32(4.0 / 3.0), lum)


def measure_star_field(fr: FrameResult, opts: CalibrateOptions) -> None:
    """Detect, identify and measure the stars of ``fr`` into ``fr.stars``; refit the camera's
    focal length on them; give ``fr`` the stars' pose when it has an orbit and no pose (else note
    how far the two attitudes differ)."""
    sf = fr.stars
    t0 = _time.perf_counter()
    planes = fr.frame.planes
    lum = _luminance(planes)
    sat = fr.frame.saturated.any(axis=0)
    mask = None
    if fr.view is not None:
        mask = fr.view.earth_mask()
        if mask.all():
            sf.note = "the whole frame sees the Earth: no stars"
            return
    bg = estimate_background(lum, box_px=32, mask=mask)
    det = detect_sources(lum, bg, saturated=sat, mask=mask)
    fr.timings_s["detect"] = _time.perf_counter() - t0
    det = det.take(np.flatnonzero(~det.extended & ~_single_pixel(planes, bg.level, det)))
    sf.detections = det
    if len(det) < 6:
        sf.note = f"no stars found: only {len(det)} point sources above 5 sigma"
        return
    t1 = _time.perf_counter()
    epoch = fr.time or dt.datetime(2016, 1, 1, tzinfo=dt.timezone.utc)
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
        sf.note = f"no stars identified: {why}"
        return
    sf.astrometry = sol
    fr.camera = sol.camera  # focal length fitted on the stars
    # trails: fit the camera's rotation during the exposure to bright, unsaturated, isolated stars
    d = det.take(sol.det_index)
    good = (~d.saturated) & (d.snr > 20)
    if good.sum() >= 3:
        sf.trails = fit_trails(
            fr.camera,
            cu[sol.det_index][good],
            ru[sol.det_index][good],
            2.0 * d.trail_length_plane_px[good],
            d.orientation_rad[good],
            weights=np.sqrt(d.snr[good]),
        )
    # photometry of all matched stars
    t2 = _time.perf_counter()
    pc, pr = cu[sol.det_index], ru[sol.det_index]
    if sf.trails is not None:
        tc, tr = sf.trails.trail_vectors(fr.camera, pc, pr)
    else:
        tc = tr = np.zeros(pc.size)
    x = (pc - fr.camera.cx_px) / fr.camera.focal_x_px
    y = (pr - fr.camera.cy_px) / fr.camera.focal_y_px
    saf = (1.0 + x * x + y * y) ** -1.5 * fr.lens.area_factor(d.col, d.row)
    psf = float(np.median(d.sigma_minor[good])) if good.any() else 0.8
    phot = measure_stars(
        planes,
        fr.frame.offsets,
        fr.frame.saturated,
        d.col,
        d.row,
        trail_col=tc,
        trail_row=tr,
        psf_sigma_plane_px=min(max(psf, 0.5), 3.0),
        solid_angle_factor=saf,
        cat_index=sol.cat_index,
        others_col=det.col,
        others_row=det.row,
    )
    sf.photometry = phot
    ci = sol.cat_index
    sf.catalog_rows = {"hip": cat.hip[ci], "hp": cat.hp_mag[ci], "b_v": cat.b_v[ci]}
    cal = fit_zero_points(phot, cat.hp_mag[ci], cat.b_v[ci], source=f"stars in {fr.path.name}")
    fr.timings_s["photometry"] = _time.perf_counter() - t2
    if cal is None:
        sf.note = (
            f"{sol.n_matched} stars identified but fewer than 5 usable for photometry in a channel "
            f"(saturated or crowded)"
        )
        return
    sf.calibration = cal
    sf.note = f"{sol.n_matched} stars identified, {min(cal.n_stars.values())}+ used for the zero points"
    p = fr.placement
    if p.state is not None and p.pose is None:
        p.pose = att.Pose(
            np.asarray(p.state.position_m, float), Rotation.from_matrix(p.state.gcrs_to_itrs @ sol.rotation.as_matrix())
        )
        p.pose_source = f"stars ({sol.n_matched} Hipparcos stars, rms {sol.rms_px:.2f} px) and the orbit"
    elif p.state is not None and p.pose is not None:
        r_stars = p.state.gcrs_to_itrs @ sol.rotation.as_matrix()
        ang = np.degrees(np.arccos(np.clip((np.trace(r_stars.T @ p.pose.matrix) - 1) / 2, -1, 1)))
        fr.notes.append(f"the stars' attitude differs from the {p.pose_source.split(' (')[0]} by {ang:.3f} deg")
