"""The star field of a frame: point sources, their trails, the astrometric solution against
Hipparcos, aperture photometry and the frame's own zero points (Sánchez de Miguel et al. 2021).

:func:`measure_star_field` is the calibration's star step; it fills a :class:`StarField` and,
when the frame has an orbit but no pose, gives it the pose of the stars.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.geometry import attitude as att
from cupola.nightlights.astrometry import AstrometricSolution, _project, solve_astrometry
from cupola.nightlights.catalog import load_catalog, magnitude_limit_for_field
from cupola.nightlights.photometry import Calibration, StarPhotometry, fit_zero_points, measure_stars
from cupola.nightlights.sources import (
    Sources,
    classify_sources,
    hot_pixel_sources,
    luminance,
    noise_background,
    point_sources,
    shape_agrees,
)
from cupola.nightlights.stars import Detections, TrailModel, fit_trails, fit_trails_robust

if TYPE_CHECKING:
    from cupola.nightlights.frame import FrameResult
    from cupola.nightlights.pipeline import CalibrateOptions

__all__ = ["StarField", "carry_sequence_attitudes", "measure_star_field", "seed_star_field"]


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
    #: the sources as the blind search was given them, each with why it is not star-like
    sources: Sources | None = None
    note: str = ""


def _sky_visibility(state):
    """Which ICRS directions the station sees above the Earth (taken as opaque to
    ``EARTH_MASK_HEIGHT_M``) at ``state``: a function of unit vectors (N, 3) -> bool (N,)."""
    from cupola.geometry import geodesy
    from cupola.nightlights.view import EARTH_MASK_HEIGHT_M

    g2i = np.asarray(state.gcrs_to_itrs, float)
    pos = np.asarray(state.position_m, float)

    def visible(vec_icrs: np.ndarray) -> np.ndarray:
        d = np.asarray(vec_icrs, float).reshape(-1, 3) @ g2i.T
        return ~np.isfinite(geodesy.ray_ellipsoid_intersection(pos, d, EARTH_MASK_HEIGHT_M)[:, 0])

    return visible


#: the camera turns with the station (the orbital rate) or, held by hand, up to this many times as fast
MAX_TURN_FACTOR = 4.0


def _source_trails(fr: FrameResult, det: Detections) -> TrailModel | None:
    """The camera's rotation during the exposure from the bright sources' moments, before any star
    is identified (sources without a trail, or with another, are left out of the fit). Kept only
    when it is believable: most of the bright sources agree with it, their trails are 3 plane pixels
    or longer (shorter ones the Gaussian smoothing finds as well) and the rotation is no faster than
    ``MAX_TURN_FACTOR`` times the orbital rate (when the orbit is known)."""
    good = np.flatnonzero((~det.saturated) & (det.snr > 20) & (~det.extended))[:80]
    if good.size < 8:
        return None
    d = det.take(good)
    length = 2.0 * d.trail_length_plane_px  # sensor px
    if np.median(length) < 6.0:
        return None
    cu, ru = fr.lens.undistort(d.col, d.row)
    model, keep = fit_trails_robust(fr.camera, cu, ru, length, d.orientation_rad, weights=np.sqrt(d.snr))
    if model is None or keep is None or keep.sum() < max(6, 0.5 * good.size):
        return None
    tc, tr = model.trail_vectors(fr.camera, cu, ru)
    expect = np.hypot(tc, tr)
    if np.median(expect[keep]) < 6.0 or model.rms_px > max(1.5, 0.25 * float(np.median(expect[keep]))):
        return None
    if fr.state is not None:
        r, v = fr.state.gcrs_position_m, fr.state.gcrs_velocity_m_s
        orbital_rad = float(np.linalg.norm(np.cross(r, v)) / np.dot(r, r)) * fr.exposure.exposure_s
        if np.linalg.norm(model.omega_cam) > MAX_TURN_FACTOR * orbital_rad:
            return None
    return model


def _trail_field(fr: FrameResult, model: TrailModel):
    """Trails (dj, di) in plane pixels at plane pixels (j, i), photo pixels."""

    def field(j, i):
        col, row = 2.0 * np.asarray(j, float) + 0.5, 2.0 * np.asarray(i, float) + 0.5
        cu, ru = fr.lens.undistort(col, row)
        tc, tr = model.trail_vectors(fr.camera, cu, ru)
        return tc / 2.0, tr / 2.0

    return field


def _dominant_trail(det: Detections):
    """One trail (dj, di) for the whole frame (plane px) from the elongated sources' common
    direction (the circular mean of their doubled orientation angles, weighted by length and
    significance), when it is clear (resultant length >= 0.3, >= 4 sources within 15 deg of it) and
    the trails are 3 plane pixels or longer; None otherwise. Round sources (towns, hot pixels) weigh
    little: this finds the trails where they are too few or too faint for :func:`_source_trails`."""
    ok = (~det.saturated) & (det.snr > 8) & (~det.extended)
    if ok.sum() < 5:
        return None
    length, theta = det.trail_length_plane_px[ok], det.orientation_rad[ok]
    w = length * np.sqrt(det.snr[ok])
    if not w.sum() > 0:
        return None
    z = np.sum(w * np.exp(2j * theta)) / np.sum(w)
    if abs(z) < 0.3:
        return None
    th0 = float(np.angle(z)) / 2.0
    near = np.abs((theta - th0 + np.pi / 2) % np.pi - np.pi / 2) < np.radians(15.0)
    if near.sum() < 4:
        return None
    lm = float(np.median(length[near]))
    if lm < 3.0:
        return None
    dj, di = lm * np.cos(th0), lm * np.sin(th0)

    def field(j, i):
        shape = np.shape(j)
        return np.full(shape, dj), np.full(shape, di)

    return field


#: the station's rotation rate when no orbit is given (rad/s, ~0.0655 deg/s)
ISS_ORBITAL_RATE_RAD_S = 1.143e-3


def _orbital_trail_plane_px(fr: FrameResult) -> float:
    """The length (plane px) of a trail at the frame's centre for a camera fixed to the station whose
    boresight is square to the orbit normal (the longest a fixed camera sees)."""
    rate = ISS_ORBITAL_RATE_RAD_S
    if fr.state is not None:
        r, v = fr.state.gcrs_position_m, fr.state.gcrs_velocity_m_s
        rate = float(np.linalg.norm(np.cross(r, v)) / np.dot(r, r))
    return rate * fr.exposure.exposure_s * fr.camera.focal_px / 2.0


#: the trail filters of :func:`_voted_trail`: directions (deg) and lengths (times the orbital one)
VOTE_ANGLES_DEG = np.arange(0.0, 180.0, 10.0)
VOTE_LENGTHS = (0.5, 0.7, 0.85, 1.0, 1.4, 2.0, 3.0)
#: the longest trail (times the orbital one) that votes: a camera fixed to the station
VOTE_MAX_LENGTH = 1.0


def _voted_trail(fr: FrameResult, det: Detections, lum, bg, min_votes: int = 4):
    """One trail (dj, di) for the frame (plane px), voted by the star-like sources it makes
    brighter. Each point source (SNR > 6, not extended, not saturated, at most 150) is measured
    through matched filters (:func:`cupola.nightlights.stars.smooth_along_trail`: a line of the
    trail's length through the Gaussian, noise from the kernel) of 18 directions and 7 lengths
    (0.5-3 times the fixed camera's orbital trail, :func:`_orbital_trail_plane_px`). A source votes
    for its best filter when it is star-like without trails (compact, round, lit in every channel:
    :func:`cupola.nightlights.sources.classify_sources`), that filter is no longer than a fixed
    camera's trail (towns seen obliquely and streaks prefer longer ones) and it beats the round
    Gaussian filter by 3 % and the same length across it by 10 %. The direction with the most votes
    (a 30 deg window), at least ``min_votes`` and a third of the votes, wins, with its voters' mean
    best length (weights SNR^2: the bright trails measure it best). None when no
    direction wins or the trail is shorter than 2 plane px (the Gaussian finds those). Not the
    moments of the segments the filter makes: any source smoothed along a line looks like a trail
    in that line's direction."""
    from scipy.ndimage import gaussian_filter, maximum_filter

    from cupola.nightlights.stars import smooth_along_trail

    ok = np.flatnonzero((~det.saturated) & (det.snr > 6) & (~det.extended))[:150]
    if ok.size < min_votes:
        return None
    d = det.take(ok)
    photo = fr.quantisation is not None
    star_like = classify_sources(fr.frame.planes, d, bg.level, white_balanced=photo).star_like
    if star_like.sum() < min_votes:
        return None
    data = np.asarray(lum, np.float32) - bg.level
    h, w = data.shape
    i = np.clip(np.rint((d.row - 0.5) / 2.0).astype(int), 0, h - 1)
    j = np.clip(np.rint((d.col - 0.5) / 2.0).astype(int), 0, w - 1)
    rms = np.maximum(bg.rms[i, j], 1e-12)
    z_round = maximum_filter(gaussian_filter(data, 1.0, mode="nearest"), 3)[i, j] / (rms / (2.0 * np.sqrt(np.pi)))
    length0 = _orbital_trail_plane_px(fr)
    lengths = np.asarray(VOTE_LENGTHS) * length0
    na, nl = VOTE_ANGLES_DEG.size, lengths.size
    z = np.empty((ok.size, na, nl))
    for a, ang in enumerate(np.radians(VOTE_ANGLES_DEG)):
        for m, length in enumerate(lengths):
            out, factor = smooth_along_trail(data, length * np.cos(ang), length * np.sin(ang))
            z[:, a, m] = maximum_filter(out, 3)[i, j] / (rms * factor)
    a_best, m_best = np.unravel_index(z.reshape(ok.size, -1).argmax(axis=1), (na, nl))
    n = np.arange(ok.size)
    z_best = z[n, a_best, m_best]
    z_across = z[n, (a_best + na // 2) % na, m_best]
    fixed = np.asarray(VOTE_LENGTHS) <= VOTE_MAX_LENGTH + 1e-9
    votes = star_like & fixed[m_best] & (z_best > 1.03 * z_round) & (z_best > 1.10 * z_across)
    if votes.sum() < min_votes:
        return None
    counts = np.bincount(a_best[votes], minlength=na)
    window = counts + np.roll(counts, 1) + np.roll(counts, -1)
    a0 = int(np.argmax(window))
    off = (a_best - a0 + na // 2) % na - na // 2
    near = votes & (np.abs(off) <= 1)
    if near.sum() < max(min_votes, votes.sum() / 3.0):
        return None
    step = float(VOTE_ANGLES_DEG[1] - VOTE_ANGLES_DEG[0])
    ang = np.radians(float(VOTE_ANGLES_DEG[a0] + step * np.mean(off[near])))
    length = float(np.average(lengths[m_best[near]], weights=z_best[near] ** 2))
    if length < 2.0:
        return None
    dj, di = length * np.cos(ang), length * np.sin(ang)

    def field(jj, ii):
        shape = np.shape(jj)
        return np.full(shape, dj), np.full(shape, di)

    return field


def _trail_score(det: Detections, dj: float, di: float) -> int:
    """How many sources (SNR > 6) are shaped like trails (dj, di), at most two per 16-px band across
    the trails: a limb or an airglow band broken into pieces along one line counts as two, stars
    spread over the frame count each."""
    ok = (det.snr > 6) & shape_agrees(det, dj, di)
    if not ok.any():
        return 0
    th = np.arctan2(di, dj)
    across = -np.sin(th) * det.col[ok] + np.cos(th) * det.row[ok]
    _, counts = np.unique(np.floor(across / 16.0).astype(int), return_counts=True)
    return int(np.minimum(counts, 2).sum())


def _searched_trails(fr: FrameResult, det: Detections, lum, bg, sat, mask, planes):
    """Sources found with the trail filter whose direction and length find the most sources shaped
    like that trail: 12 directions (15 deg apart) at the fixed camera's trail length and twice it (a
    hand-held camera turning), and the direction of the elongated sources (:func:`_dominant_trail`).
    Returns (sources, trail field) or None when no filter finds at least 6 trail-shaped sources and
    a third more than the plain detection. For long lenses and exposures, where the stars' light is
    spread too thin for the plain detection and too few sources show their trails."""
    length = _orbital_trail_plane_px(fr)
    fields = []
    dom = _dominant_trail(det)
    if dom is not None:
        fields.append(dom)
    for scale in (1.0, 2.0):
        for ang in np.radians(np.arange(0.0, 180.0, 15.0)):
            dj, di = scale * length * np.cos(ang), scale * length * np.sin(ang)
            fields.append(lambda j, i, dj=dj, di=di: (np.full(np.shape(j), dj), np.full(np.shape(j), di)))
    best, best_score = None, 5
    for field in fields:
        dj, di = (float(np.ravel(v)[0]) for v in field(np.zeros(1), np.zeros(1)))
        d2 = _detect(fr, lum, bg, sat, mask, planes, field)
        score = _trail_score(d2, dj, di)
        plain = _trail_score(det, dj, di)
        if score > best_score and score >= 1.33 * plain:
            best, best_score = (d2, field), score
    return best


def _star_like_first(fr: FrameResult, det: Detections, bg, field) -> tuple[Detections, Sources]:
    """The sources classed by :func:`cupola.nightlights.sources.classify_sources` (the plate
    solve's test, shaped like the trails ``field`` where they are 2 superpixels or longer), the
    star-like ones first, each group brightest first: hot pixels, towns, streaks and merged
    sources fall behind, which is the order the blind search takes them in."""
    photo = fr.quantisation is not None  # white-balanced RGB, not a RAW's sensor channels
    src = classify_sources(fr.frame.planes, det, bg.level, trail_field=field, white_balanced=photo)
    order = src.star_like_first()
    return det.take(order), Sources(det.take(order), src.colour[:, order], [src.reason[k] for k in order])


def _background(fr: FrameResult, lum, mask):
    """The luminance's background and noise (with the code-value floor of a quantised photo)."""
    return noise_background(lum, fr.frame.planes, box_px=32, mask=mask, quantisation=fr.quantisation)


#: the chance of a wrong blind solution the solver allows a frame (its default)
BLIND_FALSE_ALARM = float(solve_astrometry.__kwdefaults__["false_alarm"])

#: the local background under long trails: a running median of this many times the trail's length
#: (plane px; odd, within the bounds below), see :func:`_local_background`
LOCAL_BACKGROUND_TRAILS = 4.0
LOCAL_BACKGROUND_PX = (15, 31)


def _local_background(lum, bg, trail_plane_px: float):
    """``bg`` with its level raised by a running median (:data:`LOCAL_BACKGROUND_TRAILS` times
    the trail's length, :data:`LOCAL_BACKGROUND_PX` superpixels) of what it leaves: the box
    background (32 superpixels, then 3x3 boxes) follows neither the airglow band nor the limb's
    glow, nor the crowd of faint stars' trails, and a matched filter along long trails sums that
    structure as if it were signal. Through the filter the structure lifted large areas above the
    threshold (a star in them joined an extended segment and was lost) and left the filtered
    image's noise about 1.8 times what the white-noise factor of the kernel says, so that '5
    sigma' was nearer 3. The median leaves a star's trail (a line among the window's pixels) and
    removes the rest; the noise estimate stays that of the box background."""
    from scipy.ndimage import median_filter

    lo, hi = LOCAL_BACKGROUND_PX
    size = int(np.clip(LOCAL_BACKGROUND_TRAILS * trail_plane_px, lo, hi)) // 2 * 2 + 1
    data = np.asarray(lum, np.float32) - bg.level
    return type(bg)(bg.level + median_filter(data, size, mode="nearest"), bg.rms, bg.box_px)


def _detect(fr: FrameResult, lum, bg, sat, mask, planes, trail_field=None, split_sigma=None) -> Detections:
    """Point sources (not extended, not hot pixels), brightest first (:func:`cupola.nightlights.
    sources.point_sources`; with ``split_sigma`` the point sources inside extended segments too)."""
    det = point_sources(lum, bg, planes, saturated=sat, mask=mask, trail_field=trail_field, split_sigma=split_sigma)
    return det.take(np.flatnonzero(~det.extended & ~hot_pixel_sources(planes, bg.level, det)))


def _second_pass(fr, sol, det, lum, bg, sat, mask, planes, vec, cat, kw, filtered):
    """With the stars identified, find them again where the first search could not know enough:
    along the trails the identified stars show (when they are 3 plane pixels or longer and were not
    followed yet), and in the sky part only (the Earth masked by the stars' own attitude and the
    orbit); solve from the first solution and keep whichever matched more stars."""
    d = det.take(sol.det_index)
    good = (~d.saturated) & (d.snr > 10)
    cu, ru = fr.lens.undistort(det.col, det.row)
    model = None
    if good.sum() >= 5:
        model, _ = fit_trails_robust(
            sol.camera,
            cu[sol.det_index][good],
            ru[sol.det_index][good],
            2.0 * d.trail_length_plane_px[good],
            d.orientation_rad[good],
            weights=np.sqrt(d.snr[good]),
        )
    long_trails = False
    if model is not None:
        tc, tr = model.trail_vectors(sol.camera, cu[sol.det_index], ru[sol.det_index])
        long_trails = float(np.median(np.hypot(tc, tr))) >= 6.0
    sky_mask = mask
    if mask is None and fr.state is not None:
        from cupola.nightlights.view import ViewGeometry

        pose = att.Pose(
            np.asarray(fr.state.position_m, float),
            Rotation.from_matrix(fr.state.gcrs_to_itrs @ sol.rotation.as_matrix()),
        )
        m = ViewGeometry(sol.camera, fr.lens, pose, fr.frame.shape).earth_mask()
        sky_mask = m if m.any() and not m.all() else None
    if not (long_trails and not filtered) and sky_mask is mask:
        return det, cu, ru, sol
    field = _trail_field(fr, model) if long_trails else None
    bg2 = _background(fr, lum, sky_mask) if sky_mask is not mask else bg
    det2 = _detect(fr, lum, bg2, sat, sky_mask, planes, field)
    if len(det2) < 6:
        return det, cu, ru, sol
    cu2, ru2 = fr.lens.undistort(det2.col, det2.row)
    kw2 = {k: v for k, v in kw.items() if k in ("catalog_visible", "blind_method")}
    sol2, _ = solve_astrometry(
        cu2,
        ru2,
        sol.camera,
        vec,
        cat.hp_mag,
        prior_rotation=sol.rotation,
        prior_radius_px=max(5.0, 4 * sol.rms_px),
        **kw2,
    )
    if sol2 is None or sol2.n_matched < sol.n_matched:
        return det, cu, ru, sol
    sol2 = replace(sol2, method=sol.method, n_candidates=sol.n_candidates, notes=sol.notes, search=sol.search)
    return det2, cu2, ru2, sol2


def measure_star_field(fr: FrameResult, opts: CalibrateOptions) -> None:
    """Detect, identify and measure the stars of ``fr`` into ``fr.stars``; refit the camera's
    focal length on them; give ``fr`` the stars' pose when it has an orbit and no pose, or when the
    stars' attitude fits better than the one it has (:func:`_choose_pose`)."""
    sf = fr.stars
    legacy = getattr(opts, "star_search", "index") == "legacy"
    t0 = _time.perf_counter()
    planes = fr.frame.planes
    lum = luminance(planes)
    sat = fr.frame.saturated.any(axis=0)
    mask = None
    if fr.view is not None:
        mask = fr.view.earth_mask()
        if mask.all():
            sf.note = "the whole frame sees the Earth: no stars"
            return
    bg = _background(fr, lum, mask)
    det = _detect(fr, lum, bg, sat, mask, planes, split_sigma=None if legacy else 25.0)
    filtered = False
    box_route = None  # the vote and detection on the box background, should the local one fail
    if not legacy:
        trails0 = _source_trails(fr, det) if len(det) >= 6 else None
        field = None
        if trails0 is not None:  # long trails: find them again with a filter along them
            field = _trail_field(fr, trails0)
            det2 = _detect(fr, lum, bg, sat, mask, planes, field)
            if len(det2) >= len(det) // 2:
                det, filtered = det2, True
        elif _orbital_trail_plane_px(fr) >= 3.0:
            # long trails expected, their direction unknown: the direction the sources vote for,
            # else (little found without following them) the filter that finds the most trails
            bg_local = _local_background(lum, bg, _orbital_trail_plane_px(fr))
            voted = _voted_trail(fr, det, lum, bg_local)
            found = None
            if voted is not None:
                found = (_detect(fr, lum, bg_local, sat, mask, planes, voted), voted)
                det_plain = det

                def box_route():
                    v = _voted_trail(fr, det_plain, lum, bg)
                    return (
                        None if v is None else _star_like_first(fr, _detect(fr, lum, bg, sat, mask, planes, v), bg, v)
                    )

            elif np.sum(det.snr > 6) < 40:
                found = _searched_trails(fr, det, lum, bg, sat, mask, planes)
            if found is not None:
                (det, field), filtered = found, True
        det, sf.sources = _star_like_first(fr, det, bg, field)
    fr.timings_s["detect"] = _time.perf_counter() - t0
    sf.detections = det
    if len(det) < 6:
        sf.note = f"no stars found: only {len(det)} point sources above 5 sigma"
        return
    t1 = _time.perf_counter()
    cat, vec, catalog_id = _catalog_for(fr, opts, legacy)
    cu, ru = fr.lens.undistort(det.col, det.row)
    prior = None
    if fr.pose is not None and fr.state is not None:
        prior = Rotation.from_matrix(fr.state.gcrs_to_itrs.T @ fr.pose.matrix)
    kw: dict = {}
    if legacy:
        kw["blind_method"] = "legacy"
    else:
        sky = _sky_visibility(fr.state) if fr.state is not None else None
        kw.update(
            catalog_visible=None if sky is None else sky(vec),
            sky_visible=sky,
            focal_tolerance=opts.star_focal_tolerance,
            max_sources=opts.star_max_sources,
            catalog_id=catalog_id,
        )
    if box_route is not None and prior is None:
        # two blind searches (local background, then box background): each at half the budget of
        # a wrong acceptance, so that the frame's stays at the solver's (a union bound over both)
        kw["false_alarm"] = 0.5 * BLIND_FALSE_ALARM
    sol, why = solve_astrometry(cu, ru, fr.camera, vec, cat.hp_mag, prior_rotation=prior, **kw)
    if sol is None and box_route is not None and prior is None:
        other = box_route()
        if other is not None and len(other[0]) >= 6:
            cu2, ru2 = fr.lens.undistort(other[0].col, other[0].row)
            sol, why2 = solve_astrometry(cu2, ru2, fr.camera, vec, cat.hp_mag, **kw)
            if sol is not None:
                (det, sf.sources), cu, ru = other, cu2, ru2
                sf.detections = det
                fr.notes.append(
                    "stars found through the trail filter on the box background after the local background's "
                    "sources matched no pattern (each search at half the false-alarm budget)"
                )
            else:
                why = f"{why}; on the box background: {why2}"
    if sol is not None and not legacy:
        det, cu, ru, sol = _second_pass(fr, sol, det, lum, bg, sat, mask, planes, vec, cat, kw, filtered)
        sf.detections = det
    fr.timings_s["astrometry"] = _time.perf_counter() - t1
    if sol is None:
        sf.note = f"no stars identified: {why}"
        return
    _measure_identified(fr, sol, det, cu, ru, cat)


def _catalog_for(fr: FrameResult, opts: CalibrateOptions, legacy: bool = False):
    """The catalog (to the field's magnitude limit) and its unit vectors at the frame's epoch."""
    epoch = fr.time or dt.datetime(2016, 1, 1, tzinfo=dt.timezone.utc)
    epoch_year = 2000.0 + (epoch - dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)).total_seconds() / 31_557_600
    cam0 = fr.camera
    mag_limit = opts.star_mag_limit
    if mag_limit is None:
        field_sr = (cam0.width_px / cam0.focal_x_px) * (cam0.height_px / cam0.focal_y_px)
        mag_limit = 7.0 if legacy else magnitude_limit_for_field(field_sr)
    cat = load_catalog(mag_limit)
    return cat, cat.unit_vectors(epoch_year), f"hipparcos2<={mag_limit:.1f}"


def _measure_identified(fr: FrameResult, sol: AstrometricSolution, det: Detections, cu, ru, cat) -> None:
    """With the stars identified (``sol`` on the sources ``det``, undistorted ``cu``, ``ru``): the
    camera, trails, photometry, zero points and the pose."""
    sf = fr.stars
    planes = fr.frame.planes
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
    )
    _flag_crowded(phot, det, sol.det_index, np.hypot(tc, tr) / 4.0 + max(2.5, 4.0 * min(max(psf, 0.5), 3.0)))
    sf.photometry = phot
    ci = sol.cat_index
    sf.catalog_rows = {"hip": cat.hip[ci], "hp": cat.hp_mag[ci], "b_v": cat.b_v[ci]}
    cal = fit_zero_points(phot, cat.hp_mag[ci], cat.b_v[ci], source=f"stars in {fr.path.name}")
    fr.timings_s["photometry"] = _time.perf_counter() - t2
    _choose_pose(fr, sol)
    if cal is None:
        sf.note = (
            f"{sol.n_matched} stars identified but fewer than 5 usable for photometry in a channel "
            f"(saturated or crowded)"
        )
        return
    sf.calibration = cal
    sf.note = f"{sol.n_matched} stars identified, {min(cal.n_stars.values())}+ used for the zero points"


#: a neighbour brighter than this fraction of a star's flux within its aperture (plus two pixels)
#: spoils the star's photometry; in its background annulus, one brighter than the second fraction
CROWDING_FLUX_FRACTION = (0.02, 0.2)


def _flag_crowded(phot, det: Detections, det_index: np.ndarray, a_plane: np.ndarray) -> None:
    """Flag (in place) the stars with a source within their aperture (semi-major axis ``a`` plane
    px, plus 2) brighter than ``CROWDING_FLUX_FRACTION[0]`` of theirs, or one in their background
    annulus (to a + 6) brighter than ``CROWDING_FLUX_FRACTION[1]`` (the annulus' median shrugs off
    fainter ones): the faint stars of the sky that are in no catalog sit near most stars of a deep
    frame and change their flux by far less than its noise."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([det.col, det.row]))
    f_ap, f_an = CROWDING_FLUX_FRACTION
    for m, k in enumerate(det_index):
        bad = False
        for j in tree.query_ball_point([det.col[k], det.row[k]], 2.0 * (a_plane[m] + 6.0)):
            if j == k:
                continue
            d_plane = 0.5 * np.hypot(det.col[j] - det.col[k], det.row[j] - det.row[k])
            limit = f_ap if d_plane <= a_plane[m] + 2.0 else f_an
            bad |= bool(det.flux[j] > limit * det.flux[k])
        if bad:
            phot.usable[m] = False
            if not phot.reason[m]:
                phot.reason[m] = "crowded"


def _tie_rms(p, camera, pose) -> float:
    """RMS (px) of the placement's tie points projected with ``camera`` and ``pose``."""
    from cupola.geometry import geodesy

    cu, ru, lon, lat, h = p.tie_points
    g = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), h)
    c, r = camera.ray_to_pixel((g - pose.position_m) @ pose.matrix)
    return float(np.sqrt(np.mean((c - cu) ** 2 + (r - ru) ** 2)))


def _choose_pose(fr: FrameResult, sol: AstrometricSolution) -> None:
    """The attitude used for the products: the stars' (camera -> ICRS turned into ITRS at the
    frame's time, with the stars' focal length) unless tie points disagree with it by more than
    their own scatter allows.

    With tie points, the stars' attitude projects them with an RMS ``r_s``; their own fit (the
    EXIF focal length) leaves ``r_t`` on N points with N - 3 degrees of freedom. Were both
    attitudes right, ``r_s^2 / (r_t^2 N / (N - 3))`` would follow an F(N, N - 3) distribution:
    the stars' attitude is kept unless it exceeds the 99th percentile (and ``r_s`` > 2 px): then
    the tie points see something the stars do not (a time or orbit error moves the ground, not
    the sky) and their attitude stays, with a note. An attitude carried from the first frame of a
    sequence (camera fixed to the station) gives way to the stars.
    """
    p = fr.placement
    if p.state is None:
        return
    star_pose = att.Pose(
        np.asarray(p.state.position_m, float), Rotation.from_matrix(p.state.gcrs_to_itrs @ sol.rotation.as_matrix())
    )
    star_source = f"stars ({sol.n_matched} Hipparcos stars, rms {sol.rms_px:.2f} px) and the orbit"
    if p.pose is None:
        p.pose, p.pose_source = star_pose, star_source
        p.pose_choice = {"used": "stars", "reason": "no other attitude"}
        return
    ang = float(np.degrees((star_pose.rotation.inv() * p.pose.rotation).magnitude()))
    before = "tie points" if p.pose_source.startswith("tie points") else p.pose_source.split(" (")[0]
    choice: dict = {"stars_rms_px": sol.rms_px, "stars_matched": sol.n_matched, "difference_deg": ang}
    use_stars = True
    if p.tie_solution is not None and p.tie_points is not None:
        from scipy.stats import f as f_dist

        n = int(np.size(p.tie_points[0]))
        r_t = float(p.tie_solution.rms_px)
        r_s = _tie_rms(p, sol.camera, star_pose)
        choice.update(tie_points=n, tie_rms_px=r_t, tie_rms_under_stars_px=r_s)
        if n > 3 and r_s > 2.0:
            stat = r_s**2 / max(r_t**2 * n / (n - 3), 1e-12)
            crit = float(f_dist.ppf(0.99, n, n - 3))
            choice.update(f_statistic=stat, f_critical_99=crit)
            use_stars = stat <= crit
        if use_stars:
            choice["reason"] = (
                f"the tie points fit the stars' attitude within their own scatter ({r_s:.2f} px rms vs "
                f"{r_t:.2f} px for their own fit with the EXIF focal length); the stars fix it better"
            )
        else:
            choice["reason"] = (
                f"the tie points are {r_s:.1f} px rms off the stars' attitude, beyond their own scatter "
                f"({r_t:.2f} px): kept the tie points' attitude for the ground (a time or orbit error moves "
                "the ground, not the stars)"
            )
    else:
        choice["reason"] = f"the stars measure this frame's attitude; the {before} only carries the first frame's"
    choice["used"] = "stars" if use_stars else before
    p.pose_choice = choice
    if use_stars:
        p.pose = star_pose
        p.pose_source = f"{star_source}; preferred to the {before} ({ang:.3f} deg apart)"
        fr.notes.append(f"attitude from the stars, {ang:.3f} deg from the {before}: {choice['reason']}")
    else:
        fr.camera = p.tie_solution.camera
        fr.notes.append(f"the stars' attitude differs from the {before} by {ang:.3f} deg: {choice['reason']}")


# -- the attitude carried from the sequence's solved frames --------------------------------------


def _detection_depth(solved: list, opts: CalibrateOptions) -> float | None:
    """The magnitude to which the solved frames detect the catalog's stars
    (:func:`cupola.nightlights.seeded.detection_depth_mag`): each frame's catalog stars predicted
    in its sky by its own solution, and those it matched."""
    from cupola.nightlights.seeded import detection_depth_mag

    per_frame, mags = [], None
    for f in solved:
        sol = f.astrometry
        cat, vec, _ = _catalog_for(f, opts)
        sky = _sky_visibility(f.state)
        pc, pr = _project(sol.rotation, sol.camera, vec)
        w, h = sol.camera.width_px, sol.camera.height_px
        inside = np.isfinite(pc) & (pc >= 0) & (pc < w) & (pr >= 0) & (pr < h) & np.asarray(sky(vec), bool)
        per_frame.append((np.flatnonzero(inside), np.asarray(sol.cat_index, int)))
        mags = cat.hp_mag
    return None if mags is None else detection_depth_mag(per_frame, mags)


def seed_star_field(fr: FrameResult, opts: CalibrateOptions, prediction, camera, check_mag_limit=None) -> dict:
    """Identify the stars of ``fr``, which the blind search left unsolved, from the attitude its
    sequence predicts (:class:`cupola.nightlights.sequence_attitude.AttitudePrediction`) with the
    sequence's fitted ``camera``: a seeded search within the prediction's window
    (:func:`cupola.nightlights.seeded.seeded_identification`, the same 1e-6 false-alarm budget per
    frame as the blind search); on success the frame is measured as if solved blind. Returns what
    the seeded search found (for ``result.json`` and the benchmark)."""
    from cupola.nightlights.seeded import seeded_identification

    sf = fr.stars
    out = {
        "how": prediction.how,
        "window_deg": float(np.degrees(prediction.uncertainty_rad)),
        "accepted": False,
        "seed_quaternion_camera_to_icrs_xyzw": prediction.rotation_cam_to_icrs.as_quat().tolist(),
    }
    det = sf.detections
    if det is None or fr.state is None or len(det) == 0:
        out["reason"] = "no sources"
        return out
    cat, vec, catalog_id = _catalog_for(fr, opts)
    cu, ru = fr.lens.undistort(det.col, det.row)
    sky = _sky_visibility(fr.state)
    res = seeded_identification(
        cu,
        ru,
        camera,
        vec,
        cat.hp_mag,
        prediction.rotation_cam_to_icrs,
        prediction.uncertainty_rad,
        catalog_visible=sky(vec),
        sky_visible=sky,
        catalog_id=catalog_id,
        false_alarm=BLIND_FALSE_ALARM,
        check_mag_limit=check_mag_limit,
    )
    out.update(res.to_dict())
    out["check_mag_limit"] = check_mag_limit
    if res.solution is None:
        return out
    out["accepted"] = True
    blind_note = sf.note
    _measure_identified(fr, res.solution, det, cu, ru, cat)
    fr.notes.append(
        f"stars identified from the attitude carried from the sequence's solved frames ({prediction.how}, window "
        f"{out['window_deg']:.2f} deg, {res.hypotheses} hypotheses, {res.matches} check stars matched, "
        f"false-alarm probability 10^{res.log10_false_alarm:.1f}); the blind search had failed: {blind_note}"
    )
    return out


def carry_sequence_attitudes(frames: list, opts: CalibrateOptions) -> list[tuple[FrameResult, dict]]:
    """The attitude carried through a sequence: the frames whose stars were identified (blind, each
    on its own at 1e-6, or by an accepted seed) give their attitudes in LVLH; every frame with an
    orbit but no identified stars gets the attitude predicted from them and a seeded
    identification, the frame with the narrowest window first; a frame solved so joins the
    solved ones, and the frames refused are tried again while others keep being solved (a
    neighbour solved narrows their window). Each acceptance holds the 1e-6 bound whatever its
    seed (a wrong seed leaves the sources unrelated to the predictions: the bound's null case).
    Returns (frame, what its last seeded search found) per frame tried."""
    import cupola.nightlights.seeded as seeded_mod
    from cupola.nightlights.sequence_attitude import lvlh_rotation, predict_attitude

    def has_orbit(f):
        return f.state is not None and f.time is not None

    solved = [f for f in frames if f.astrometry is not None and f.astrometry.method == "blind" and has_orbit(f)]
    todo = [f for f in frames if f.astrometry is None and has_orbit(f) and f.stars.detections is not None]
    if not solved or not todo:
        return []
    t_ref = solved[0].time
    last: dict = {}
    tried: dict = {}  # frame id -> the window (rad) it was refused with
    progress = True
    while todo and progress:
        progress = False
        times = np.array([(f.time - t_ref).total_seconds() for f in solved])
        rots = Rotation.concatenate([lvlh_rotation(f.state).inv() * f.astrometry.rotation for f in solved])
        depth = _detection_depth(solved, opts) if "depth" in seeded_mod.CHECK_STARS.split("+") else None
        preds = []
        for fr in todo:
            t = (fr.time - t_ref).total_seconds()
            pred = predict_attitude(times, rots, t, fr.state)
            nearest = solved[int(np.argmin(np.abs(times - t)))]
            preds.append((pred.uncertainty_rad, id(fr), fr, pred, nearest.astrometry.camera))
        for u, key, fr, pred, cam in sorted(preds, key=lambda p: p[0]):
            if (cam.width_px, cam.height_px) != (fr.camera.width_px, fr.camera.height_px):
                continue
            if key in tried and tried[key] <= u * (1.0 + 1e-9):
                continue  # refused already with a window as narrow
            got = seed_star_field(fr, opts, pred, cam, depth)
            last[key] = (fr, got)
            if got["accepted"]:
                solved.append(fr)
                todo.remove(fr)
                progress = True
                break  # predict the others again with this frame among the solved
            tried[key] = u
    for fr in todo:  # the last refusal, in the note
        if id(fr) in last:
            got = last[id(fr)][1]
            fr.stars.note = (
                f"{fr.stars.note}; seeded by the sequence ({got['how']}, window {got['window_deg']:.2f} deg): "
                f"{got.get('reason', '')}"
            )
    return list(last.values())
