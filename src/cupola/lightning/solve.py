"""Camera attitude (and optionally focal length, emission height) from flashes matched to events.

The unknowns are the camera's orientation in the LVLH frame (fixed through the sequence; a
rotation vector about a starting orientation), optionally the focal length (log scale) and the mean
emission height of the flashes. The data are the flash centroids; each is compared with its
event's predicted pixel (:mod:`cupola.lightning.observe`) and weighted by the inverse of the
predicted image covariance: centroid error + network location error + the parallax of the scatter
of cloud-top heights about the mean. This generalised least squares (``scipy.optimize.least_squares``)
is the maximum-likelihood estimate for Gaussian errors, which is what makes its error reach the
Cramer-Rao bound (:mod:`cupola.lightning.crb`); a robust soft-L1 loss is used only while the
association is still being settled.

Emission height: light from lightning leaves the cloud top after multiple scattering (Thomason &
Krider 1982, J. Atmos. Sci. 39, 2051-2065; Koshak et al. 1994, JGR 99, 14361-14371), which for
thunderstorms is typically 8-16 km (mid-latitude storms ~10-12 km; tropical deep convection up to
~17 km; e.g. Liu & Zipser 2005, JGR 110, D23104). Space-based mappers navigate their events to a
"lightning ellipsoid" above the surface for the same reason (GLM, Goodman et al. 2013). The model
height defaults to 10 km with a 2 km scatter per flash; with ``height_mode='auto'`` the mean is a
parameter with that prior, so the data move it only when the flashes span enough view angles
(near nadir a height change looks like a focal-length change, and cannot be told from one).
"""

from __future__ import annotations

import datetime as dt
import time as _time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from cupola.errors import InputError, NoSolutionError
from cupola.geometry import geodesy
from cupola.geometry.attitude import C0, Pose, rotation_from_rpy
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import ElementSet
from cupola.geometry.trajectory import trajectory
from cupola.lightning import associate as assoc
from cupola.lightning import observe
from cupola.lightning.events import Events
from cupola.lightning.flashes import Flashes

__all__ = ["SolveOptions", "Solution", "PairModel", "solve", "GIVEN_HEIGHT_SIGMA_M"]

#: 1-sigma of an emission height given in the event file (m)
GIVEN_HEIGHT_SIGMA_M = 500.0
#: a pair is ambiguous when an alternative partner is less than this many times less likely
AMBIGUITY_RATIO = 20.0


@dataclass(frozen=True)
class SolveOptions:
    """Settings of :func:`solve` (SI units; angles in degrees where the name says so)."""

    emission_height_m: float = 10_000.0
    emission_height_sigma_m: float = 2_000.0
    height_mode: str = "auto"  # auto (prior), fixed, free
    solve_focal: bool = False
    centroid_sigma_px: float = 1.0
    clock_offset_s: float = 0.0  # centre of the search for (network - camera) time
    max_clock_offset_s: float = 10.0  # half-width of that search
    time_tolerance_s: float = 1e-3  # frame-time errors
    attitude_guess_deg: tuple[float, float, float] | None = None
    guess_radius_deg: float = 10.0
    max_view_angle_deg: float = 75.0  # events further from nadir are ignored
    gate_chi2: float = 9.21  # 99 % for 2 degrees of freedom
    min_pairs: int = 4
    max_triplets: int = 80

    def validate(self) -> None:
        if self.height_mode not in ("auto", "fixed", "free"):
            raise InputError(f"emission height mode must be auto, fixed or free, got {self.height_mode!r}")
        lo, hi = -500.0, 25_000.0
        if not lo <= self.emission_height_m <= hi:
            raise InputError(f"--emission-height-m {self.emission_height_m:g} is outside [{lo:g}, {hi:g}] m")
        for name, v in (("--emission-height-sigma-m", self.emission_height_sigma_m),
                        ("--centroid-sigma-px", self.centroid_sigma_px)):
            if not v > 0:
                raise InputError(f"{name} must be positive, got {v:g}")
        if not self.max_clock_offset_s >= 0:
            raise InputError(f"--max-clock-offset-s must not be negative, got {self.max_clock_offset_s:g}")
        if not 0 < self.guess_radius_deg <= 180:
            raise InputError(f"--guess-radius-deg must be in (0, 180], got {self.guess_radius_deg:g}")


class PairModel:
    """Whitened residuals of matched (flash, event) pairs as a function of the parameters.

    Parameters x: rotation vector (rad, applied in the LVLH frame to ``mount0``), then the log focal
    scale if ``solve_focal``, then the mean emission height offset in km if the height is not fixed.
    """

    def __init__(self, camera: Camera, geom: observe.EventGeometry, observed_px: np.ndarray,
                 options: SolveOptions, mount0: Rotation, uniform_weights: bool = False):
        self.camera = camera
        self.geom = geom
        self.obs = np.asarray(observed_px, dtype=float).reshape(-1, 2)
        self.opt = options
        self.mount0 = mount0
        self.solve_focal = bool(options.solve_focal)
        self.solve_height = options.height_mode != "fixed" and bool(np.isnan(geom.given_height_m).any())
        self.prior = options.height_mode == "auto"
        self.names = ["rot_x_rad", "rot_y_rad", "rot_z_rad"] + (["log_focal_scale"] if self.solve_focal else []) \
            + (["emission_height_km"] if self.solve_height else [])
        self.sigma_h = np.where(np.isnan(geom.given_height_m), options.emission_height_sigma_m, GIVEN_HEIGHT_SIGMA_M)
        self.whiten = None
        self.uniform = uniform_weights
        self.x_scale = np.array([1e-4] * 3 + ([1e-3] if self.solve_focal else []) + ([1.0] if self.solve_height else []))

    @property
    def n_params(self) -> int:
        return len(self.names)

    def unpack(self, x):
        x = np.asarray(x, dtype=float)
        mount = Rotation.from_rotvec(x[:3]) * self.mount0
        i = 3
        cam = self.camera
        if self.solve_focal:
            cam = cam.with_focal_scale(float(np.exp(x[i])))
            i += 1
        h = self.opt.emission_height_m + (1000.0 * float(x[i]) if self.solve_height else 0.0)
        return mount, cam, h

    def vectors(self, x):
        mount, cam, h = self.unpack(x)
        m = mount.as_matrix()
        c = observe.camera_vectors(m, self.geom.position_m, self.geom.lvlh, self.geom.points(h))
        return m, cam, c

    def predict(self, x) -> np.ndarray:
        _, cam, c = self.vectors(x)
        return observe.project(cam, c)

    def covariance(self, x) -> np.ndarray:
        m, cam, c = self.vectors(x)
        jac = observe.pixel_jacobian(cam, m, self.geom.lvlh, c)
        return observe.pixel_covariance(jac, self.geom.enu, self.geom.sigma_m, self.sigma_h, self.opt.centroid_sigma_px)

    def reweight(self, x) -> None:
        """Fix the whitening matrices at ``x`` (they change slowly with the parameters)."""
        s = self.covariance(x)
        if self.uniform:  # the unweighted baseline: every pair alike, at the median scale
            scale = float(np.sqrt(np.median(np.trace(s, axis1=1, axis2=2)) / 2.0))
            self.whiten = np.broadcast_to(np.eye(2) / scale, s.shape).copy()
            return
        self.whiten = np.linalg.inv(np.linalg.cholesky(s))

    def residuals(self, x) -> np.ndarray:
        r = self.predict(x) - self.obs
        r = np.nan_to_num(r, nan=1e6)
        w = np.einsum("pij,pj->pi", self.whiten, r).ravel()
        if self.solve_height and self.prior:
            h = self.unpack(x)[2]
            w = np.append(w, (h - self.opt.emission_height_m) / self.opt.emission_height_sigma_m)
        return w

    def mahalanobis2(self, x) -> np.ndarray:
        r = self.residuals(x)[: 2 * len(self.obs)].reshape(-1, 2)
        return np.sum(r * r, axis=1)

    def jacobian(self, x, step=None) -> np.ndarray:
        """Central-difference Jacobian of :meth:`residuals`."""
        x = np.asarray(x, dtype=float)
        h = self.x_scale * 1e-2 if step is None else step
        cols = []
        for i in range(x.size):
            e = np.zeros_like(x)
            e[i] = h[i]
            cols.append((self.residuals(x + e) - self.residuals(x - e)) / (2 * h[i]))
        return np.column_stack(cols)


def _fit(model: PairModel, x0, robust: bool):
    model.reweight(x0)
    fit = least_squares(model.residuals, x0, loss="soft_l1" if robust else "linear", f_scale=2.0,
                        x_scale=model.x_scale, method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=200)
    x = fit.x
    model.reweight(x)
    if not robust:  # one more pass with the weights at the solution
        fit = least_squares(model.residuals, x, x_scale=model.x_scale, method="trf", xtol=1e-12, ftol=1e-12,
                            gtol=1e-12, max_nfev=100)
        x = fit.x
    return x


@dataclass
class Solution:
    """A solved pose with everything the products need."""

    camera: Camera
    mount: Rotation
    emission_height_m: float
    emission_height_sigma_m: float
    emission_height_source: str
    param_names: list[str]
    x: np.ndarray
    covariance: np.ndarray
    clock_offset_s: float
    clock_window_s: tuple[float, float]
    flash_index: np.ndarray  # matched pairs: index into the flashes
    event_index: np.ndarray  # ... and into the events given to solve()
    residual_px: np.ndarray  # (P, 2) predicted - observed
    residual_en_m: np.ndarray  # (P, 2) east/north offset of the flash (observed ray at the emission height) from the event
    mahalanobis2: np.ndarray
    chi2: float
    dof: int
    elements: ElementSet
    epoch: dt.datetime  # camera-clock epoch of the flashes
    n_flashes: int
    n_events_in_window: int
    hypotheses_tried: int
    iterations: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def rpy_deg(self) -> tuple[float, float, float]:
        yaw, pitch, roll = (self.mount * Rotation.from_matrix(C0).inv()).as_euler("ZYX", degrees=True)
        return float(roll), float(pitch), float(yaw)

    def _rot_cov(self) -> np.ndarray:
        return self.covariance[:3, :3]

    @property
    def rpy_sigma_deg(self) -> tuple[float, float, float]:
        base = np.array(self.rpy_deg)
        jac = np.zeros((3, 3))
        for i in range(3):
            e = np.zeros(3)
            e[i] = 1e-6
            m = Rotation.from_rotvec(e) * self.mount
            yaw, pitch, roll = (m * Rotation.from_matrix(C0).inv()).as_euler("ZYX", degrees=True)
            d = np.array([roll, pitch, yaw]) - base
            jac[:, i] = ((d + 180.0) % 360.0 - 180.0) / 1e-6
        c = jac @ self._rot_cov() @ jac.T
        return tuple(float(s) for s in np.sqrt(np.clip(np.diag(c), 0, None)))

    @property
    def focal_sigma_px(self) -> float | None:
        if "log_focal_scale" not in self.param_names:
            return None
        i = self.param_names.index("log_focal_scale")
        return float(self.camera.focal_px * np.sqrt(self.covariance[i, i]))

    def network_time(self, camera_offset_s: float) -> dt.datetime:
        """Network (UTC) time of a camera-clock instant given as seconds after ``epoch``."""
        return self.epoch + dt.timedelta(seconds=camera_offset_s + self.clock_offset_s)

    def poses_at(self, t_s) -> list[Pose]:
        """Camera poses at network times ``epoch + t_s`` (the attitude is fixed in LVLH)."""
        tr = trajectory(self.elements, self.epoch, np.atleast_1d(t_s))
        return [Pose(tr.position_m[i], Rotation.from_matrix(tr.lvlh_to_itrs[i]) * self.mount) for i in range(len(tr))]


def flash_trajectory(flashes: Flashes, elements: ElementSet, offset_s: float):
    """Station states at the flashes' centroid times shifted to network time (None for stills)."""
    tc = flashes.t_centroid_s
    has = np.isfinite(tc)
    if not has.any():
        return None
    return trajectory(elements, flashes.epoch, np.where(has, tc, 0.0) + offset_s)


def pair_geometry(geom: observe.EventGeometry, flashes: Flashes, flash_idx, event_idx, flash_traj) -> observe.EventGeometry:
    """Geometry of (flash, event) pairs: the event's emission point, seen from where the station was
    when the flash's centroid was recorded: at the event's instant for a still (the flash is short),
    at the centroid time + clock offset for a video flash (``flash_traj`` from :func:`flash_trajectory`)."""
    g = geom.subset(event_idx)
    if flash_traj is None:
        return g
    fi = np.asarray(flash_idx)
    use = np.isfinite(flashes.t_centroid_s[fi])
    pos = np.where(use[:, None], flash_traj.position_m[fi], g.position_m)
    lv = np.where(use[:, None, None], flash_traj.lvlh_to_itrs[fi], g.lvlh)
    return observe.EventGeometry(g.t_s, pos, lv, g.ground_m, g.enu, g.given_height_m, g.sigma_m)


def _event_tolerance(events: Events, options: SolveOptions) -> np.ndarray:
    return options.time_tolerance_s + 3.0 * events.time_sigma_s


def _flash_rays(camera: Camera, flashes: Flashes) -> np.ndarray:
    r = camera.pixel_to_ray(flashes.col_px, flashes.row_px)
    return r / np.linalg.norm(r, axis=1, keepdims=True)


def solve(flashes: Flashes, events: Events, elements: ElementSet, camera: Camera,
          options: SolveOptions = SolveOptions()) -> Solution:
    """Associate flashes with events and solve the camera pose.

    Raises:
        NoSolutionError: too few flashes, no event in time with the frames, none in view, or too
            few consistent pairs; the message says which.
    """
    options.validate()
    t_start = _time.perf_counter()
    K = len(flashes)
    min_pairs = max(options.min_pairs, 5 if options.solve_focal else 4)
    if K < 3:
        raise NoSolutionError(f"only {K} optical flash{'es' if K != 1 else ''} detected; at least 3 are needed "
                              f"(and {min_pairs} matched to network events)")
    epoch = flashes.epoch
    o0, W = options.clock_offset_s, options.max_clock_offset_s
    t_all = events.offsets_s(epoch)
    tol_all = _event_tolerance(events, options)
    lo_t = float(flashes.t_start_s.min()) + o0 - W - options.time_tolerance_s - 1e-3
    hi_t = float(flashes.t_end_s.max()) + o0 + W + options.time_tolerance_s + 1e-3
    in_time = np.flatnonzero((t_all >= lo_t - tol_all) & (t_all <= hi_t + tol_all))
    if in_time.size == 0:
        ev_first = np.datetime_as_string(events.time.min(), unit="ms") + "Z" if len(events) else "-"
        ev_last = np.datetime_as_string(events.time.max(), unit="ms") + "Z" if len(events) else "-"
        f0 = (epoch + dt.timedelta(seconds=float(flashes.t_start_s.min()))).isoformat(timespec="milliseconds")
        f1 = (epoch + dt.timedelta(seconds=float(flashes.t_end_s.max()))).isoformat(timespec="milliseconds")
        raise NoSolutionError(
            f"no time overlap: none of the {len(events)} network events ({ev_first} to {ev_last}) falls within the "
            f"frames ({f0} to {f1}, camera clock) shifted by {o0:+g} +- {W:g} s; check the times or widen "
            f"--max-clock-offset-s")
    ev = events.subset(in_time)
    t_ev = t_all[in_time]
    tol_ev = tol_all[in_time]
    geom = observe.event_geometry(elements, epoch, t_ev, ev.lon_deg, ev.lat_deg, ev.height_m, ev.sigma_m)
    h0 = options.emission_height_m
    pts = geom.points(h0)
    los = pts - geom.position_m
    nadir = geom.lvlh[:, :, 2]
    cos_nadir = np.einsum("mi,mi->m", los, nadir) / np.linalg.norm(los, axis=1)
    visible = np.einsum("mi,mi->m", geom.position_m - pts, geom.enu[:, 2, :]) > 0
    in_view = visible & (cos_nadir >= np.cos(np.radians(options.max_view_angle_deg)))
    if not in_view.any():
        raise NoSolutionError(f"none of the {in_time.size} network events within the time window is in view of the "
                              f"station (all beyond {options.max_view_angle_deg:g} deg from nadir or below the horizon)")
    keep = np.flatnonzero(in_view)
    ev, t_ev, tol_ev, geom, in_time = ev.subset(keep), t_ev[keep], tol_ev[keep], geom.subset(keep), in_time[keep]
    M = len(ev)

    rays = _flash_rays(camera, flashes)
    w = geom.lvlh_directions(h0)
    sig_ang = observe.angular_sigma(geom, h0, options.emission_height_sigma_m)
    focal = camera.focal_px
    spx_rad = options.centroid_sigma_px / focal
    focal_tol = 0.05 if options.solve_focal else 0.005
    pairs = assoc.candidate_pairs(flashes.t_start_s, flashes.t_end_s, t_ev, o0 - W, o0 + W, tol_ev)
    if len(pairs) == 0:
        raise NoSolutionError(f"no network event fits the exposure window of any of the {K} flashes within "
                              f"{o0:+g} +- {W:g} s of clock offset")
    notes: list[str] = []
    if options.attitude_guess_deg is not None:
        guess = rotation_from_rpy(*options.attitude_guess_deg)
        v = guess.apply(rays[pairs.flash])
        ang = np.arccos(np.clip(np.einsum("pi,pi->p", v, w[pairs.event]), -1, 1))
        pairs = pairs.subset(ang <= np.radians(options.guess_radius_deg) + 4 * sig_ang[pairs.event])
        if len(pairs) == 0:
            raise NoSolutionError(f"no time-compatible network event lies within {options.guess_radius_deg:g} deg "
                                  "of where the attitude guess puts any flash; widen --guess-radius-deg or drop the guess")

    pix_sigma = np.sqrt(options.centroid_sigma_px**2 + (focal * sig_ang) ** 2)
    gate_px = 5.0 * pix_sigma + focal_tol * 0.5 * np.hypot(camera.width_px, camera.height_px)
    pos, lvlh = geom.position_m, geom.lvlh

    def predict(mount_m, sel):
        c = observe.camera_vectors(mount_m, pos[sel], lvlh[sel], pts[sel])
        return observe.project(camera, c)

    score = assoc.make_scorer(np.column_stack([flashes.col_px, flashes.row_px]), flashes.t_start_s,
                              flashes.t_end_s, t_ev, tol_ev, predict, gate_px)
    precise = ev.sigma_m <= 1000.0
    anchor = precise if precise.sum() >= 3 else None
    enough = max(min_pairs + 2, int(np.ceil(0.4 * K)))
    hyp = assoc.triangle_search(rays, w, sig_ang, pairs, flashes.brightness, score, sigma_px_rad=spx_rad,
                                focal_tolerance=focal_tol, max_triplets=options.max_triplets,
                                min_support=min_pairs, enough=enough, anchor=anchor)
    if hyp is None:
        raise NoSolutionError(f"no consistent set of at least {min_pairs} flash-event pairs: the {K} flashes and "
                              f"{M} events in view do not agree on one camera orientation and clock offset")

    # --- refine: gated association at the current pose, fit, repeat -----------------------------------
    x = None
    mount0 = hyp.mount
    chosen_f, chosen_e = hyp.flash, hyp.event
    obs_all = np.column_stack([flashes.col_px, flashes.row_px])
    tree = cKDTree(obs_all)
    prev = None
    prev_model = None
    it = 0
    offset = 0.5 * (hyp.offset_lo_s + hyp.offset_hi_s)
    video = bool(np.isfinite(flashes.t_centroid_s).any())
    # a video flash is seen over its frames while the image drifts with the ground: allow for that
    # drift when looking for candidates around the events' own-instant predictions
    drift_px = 0.0
    if video:
        rng_m = float(np.median(np.linalg.norm(pts - geom.position_m, axis=1)))
        span = float(np.max(flashes.t_end_s - flashes.t_start_s)) + 2 * options.time_tolerance_s
        drift_px = 8.0e3 * focal / rng_m * span  # 8 km/s bounds the station's speed

    def gated(full: PairModel, xf, gate: float, ftr) -> tuple[assoc.CandidatePairs, np.ndarray, np.ndarray]:
        """Time-compatible (flash, event) pairs inside the chi-square gate at parameters ``xf``, with
        their Mahalanobis distances and the log-determinants of their covariances."""
        pred = full.predict(xf)
        cov = full.covariance(xf)
        radius = np.sqrt(gate * np.linalg.eigvalsh(cov)[:, -1]) + drift_px
        ev_ok = np.flatnonzero(np.all(np.isfinite(pred), axis=1))
        hits = tree.query_ball_point(pred[ev_ok], radius[ev_ok]) if ev_ok.size else []
        sizes = np.array([len(h) for h in hits], dtype=np.int64)
        ce = np.repeat(ev_ok, sizes).astype(np.int64)
        cf = np.fromiter((k for h in hits for k in h), dtype=np.int64, count=int(sizes.sum()))
        if cf.size == 0:
            return assoc.CandidatePairs(cf, ce, np.zeros(0), np.zeros(0)), np.zeros(0), np.zeros(0)
        if video:
            cm = PairModel(camera, pair_geometry(geom, flashes, cf, ce, ftr), obs_all[cf], options, full.mount0)
            r = obs_all[cf] - cm.predict(xf)
            ccov = cm.covariance(xf)
        else:
            r = obs_all[cf] - pred[ce]
            ccov = cov[ce]
        fin = np.all(np.isfinite(r), axis=1)
        cf, ce, r, ccov = cf[fin], ce[fin], r[fin], ccov[fin]
        d2 = np.einsum("pi,pij,pj->p", r, np.linalg.inv(ccov), r)
        logdet = np.linalg.slogdet(ccov)[1]
        lo, hi = assoc.pair_interval(t_ev[ce], flashes.t_start_s[cf], flashes.t_end_s[cf], tol_ev[ce])
        g = (d2 <= gate) & (hi >= o0 - W) & (lo <= o0 + W)
        return (assoc.CandidatePairs(cf[g], ce[g], np.maximum(lo[g], o0 - W), np.minimum(hi[g], o0 + W)), d2[g],
                logdet[g])

    for it in range(1, 13):
        ftr = flash_trajectory(flashes, elements, offset) if video else None
        model = PairModel(camera, pair_geometry(geom, flashes, chosen_f, chosen_e, ftr), obs_all[chosen_f], options,
                          mount0)
        x0 = np.zeros(model.n_params) if x is None else _carry(x, prev_model, model)
        x = _fit(model, x0, robust=it <= 2)
        prev_model = model
        # gated association with the full model over all events in view
        full = PairModel(camera, geom, np.zeros((M, 2)), options, mount0)
        xf = _carry(x, model, full)
        gate = options.gate_chi2 * (4.0 if it == 1 else 1.0)
        cand, d2, logdet = gated(full, xf, gate, ftr)
        if len(cand) == 0:
            break
        offset, comp = assoc.best_offset(cand, weight=gate - d2)
        cand, d2, logdet = cand.subset(comp), d2[comp], logdet[comp]
        pick = assoc.assign(cand.flash, cand.event, _pair_cost(cand.flash, d2, logdet), gate)
        new_f, new_e = cand.flash[pick], cand.event[pick]
        key = (tuple(new_f), tuple(new_e))
        mount0 = full.unpack(xf)[0]
        x = _carry(xf, full, full, reset_rotation=True)
        prev_model = full
        chosen_f, chosen_e = new_f, new_e
        if key == prev and it > 2:
            break
        prev = key
    if chosen_f.size < min_pairs:
        raise NoSolutionError(f"only {chosen_f.size} flash{'es' if chosen_f.size != 1 else ''} match network events "
                              f"consistently; at least {min_pairs} are needed")
    # final fit on the settled pairs, Gaussian likelihood; drop pairs outside the gate after the fit
    for _ in range(3):
        lo, hi = assoc.pair_interval(t_ev[chosen_e], flashes.t_start_s[chosen_f], flashes.t_end_s[chosen_f],
                                     tol_ev[chosen_e])
        offset = 0.5 * (float(np.max(lo)) + float(np.min(hi)))
        ftr = flash_trajectory(flashes, elements, offset) if video else None
        model = PairModel(camera, pair_geometry(geom, flashes, chosen_f, chosen_e, ftr), obs_all[chosen_f], options,
                          mount0)
        x = _fit(model, _carry(x, prev_model, model), robust=False)
        prev_model = model
        d2 = model.mahalanobis2(x)
        bad = d2 > options.gate_chi2
        if not bad.any():
            break
        chosen_f, chosen_e = chosen_f[~bad], chosen_e[~bad]
        if chosen_f.size < min_pairs:
            raise NoSolutionError(f"only {chosen_f.size} flash-event pairs survive the fit; at least {min_pairs} "
                                  "are needed")
    # ambiguous pairs: a flash with a second event, or an event with a second flash, nearly as
    # likely (likelihood ratio below AMBIGUITY_RATIO) and compatible with the same clock offset. Two
    # flashes a few hundred metres apart in one exposure cannot be told apart: keep neither.
    full = PairModel(camera, geom, np.zeros((M, 2)), options, model.mount0)
    xf = _carry(x, model, full)
    lo, hi = assoc.pair_interval(t_ev[chosen_e], flashes.t_start_s[chosen_f], flashes.t_end_s[chosen_f],
                                 tol_ev[chosen_e])
    win_lo, win_hi = float(np.max(lo)), float(np.min(hi))
    cand, cd2, cld = gated(full, xf, options.gate_chi2, ftr)
    same = (cand.hi_s >= win_lo) & (cand.lo_s <= win_hi)
    cand, cost = cand.subset(same), (cd2 + cld)[same]  # -2 log likelihood, up to a constant
    own = {(int(f), int(e)): float(c) for f, e, c in zip(cand.flash, cand.event, cost)}
    own = {(int(f), int(e)): own.get((int(f), int(e)), np.inf) for f, e in zip(chosen_f, chosen_e)}
    best_f = {int(f): d for (f, _), d in own.items()}
    best_e = {int(e): d for (_, e), d in own.items()}
    margin = 2.0 * np.log(AMBIGUITY_RATIO)
    ambiguous = set()
    for f, e, d in zip(cand.flash, cand.event, cost):
        f, e = int(f), int(e)
        if (f, e) in own:
            continue
        if f in best_f and d < best_f[f] + margin:
            ambiguous.add(f)
        if e in best_e and d < best_e[e] + margin:
            ambiguous.update(int(k) for k, ee in zip(chosen_f, chosen_e) if int(ee) == e)
    if ambiguous:
        keep = np.array([int(f) not in ambiguous for f in chosen_f])
        notes.append(f"{int((~keep).sum())} flash-event pair(s) left out as ambiguous (another flash or event "
                     "nearly as likely)")
        chosen_f, chosen_e = chosen_f[keep], chosen_e[keep]
        if chosen_f.size < min_pairs:
            raise NoSolutionError(f"only {chosen_f.size} unambiguous flash-event pairs; at least {min_pairs} are needed")
        model = PairModel(camera, pair_geometry(geom, flashes, chosen_f, chosen_e, ftr), obs_all[chosen_f], options,
                          model.mount0)
        x = _fit(model, _carry(x, prev_model, model), robust=False)
    jac = model.jacobian(x)
    try:
        covariance = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        covariance = np.linalg.pinv(jac.T @ jac)
    mount, cam, h = model.unpack(x)
    res_px = model.predict(x) - model.obs
    d2 = model.mahalanobis2(x)
    chi2 = float(np.sum(model.residuals(x) ** 2))
    dof = 2 * chosen_f.size - model.n_params + (1 if (model.solve_height and model.prior) else 0)
    # offset window: intersection of the chosen pairs' intervals
    lo, hi = assoc.pair_interval(t_ev[chosen_e], flashes.t_start_s[chosen_f], flashes.t_end_s[chosen_f],
                                 tol_ev[chosen_e])
    win = (float(np.max(lo)), float(np.min(hi)))
    if win[0] > win[1]:  # cannot happen after best_offset, but keep the report sane
        win = (min(win), max(win))
    h_sigma, h_source = options.emission_height_sigma_m, "model (fixed)"
    if model.solve_height:
        i = model.names.index("emission_height_km")
        h_sigma = float(1000.0 * np.sqrt(covariance[i, i]))
        if options.height_mode == "free" or h_sigma < 0.5 * options.emission_height_sigma_m:
            h_source = "solved"
        else:
            h_source = "model (the flashes' view angles do not constrain it; prior kept)"
    elif options.height_mode != "fixed":
        h_source = "from the event file"
    # ground residuals: the observed pixel's ray at the event instant, to the emission-height surface
    g = model.geom
    rays_obs = cam.pixel_to_ray(model.obs[:, 0], model.obs[:, 1])
    d = np.einsum("mij,mj->mi", g.lvlh, rays_obs @ mount.as_matrix().T)
    heights = g.heights(h)
    res_en = np.full((chosen_f.size, 2), np.nan)
    for i in range(chosen_f.size):
        hit = geodesy.ray_ellipsoid_intersection(g.position_m[i], d[i], float(heights[i]))
        diff = hit - (g.ground_m[i] + heights[i] * g.enu[i, 2])
        res_en[i] = [diff @ g.enu[i, 0], diff @ g.enu[i, 1]]
    if chi2 / max(dof, 1) > 3.0:
        notes.append(f"the fit is worse than the error model predicts (chi2/dof = {chi2 / max(dof, 1):.1f}); "
                     "the network or centroid errors may be larger than assumed")
    return Solution(
        camera=cam, mount=mount, emission_height_m=h, emission_height_sigma_m=h_sigma,
        emission_height_source=h_source, param_names=model.names, x=x, covariance=covariance,
        clock_offset_s=0.5 * (win[0] + win[1]), clock_window_s=win,
        flash_index=chosen_f, event_index=in_time[chosen_e], residual_px=res_px, residual_en_m=res_en,
        mahalanobis2=d2, chi2=chi2, dof=dof, elements=elements, epoch=epoch, n_flashes=K,
        n_events_in_window=int(M), hypotheses_tried=hyp.tried, iterations=it,
        seconds=_time.perf_counter() - t_start, notes=notes)


def fit_pairs(solution: Solution, flashes: Flashes, events: Events, camera: Camera, options: SolveOptions,
              uniform_weights: bool = False) -> tuple[Rotation, Camera, float]:
    """Refit the pose on a solution's pairs (e.g. with ``uniform_weights``, the unweighted baseline
    that treats every pair alike and ignores the parallax of unknown cloud heights)."""
    t_ev = events.offsets_s(solution.epoch)[solution.event_index]
    e = events.subset(solution.event_index)
    geom = observe.event_geometry(solution.elements, solution.epoch, t_ev, e.lon_deg, e.lat_deg, e.height_m, e.sigma_m)
    obs = np.column_stack([flashes.col_px, flashes.row_px])[solution.flash_index]
    ftr = flash_trajectory(flashes, solution.elements, solution.clock_offset_s)
    geom = pair_geometry(geom, flashes, solution.flash_index, np.arange(len(e)), ftr)
    model = PairModel(camera, geom, obs, options, solution.mount, uniform_weights=uniform_weights)
    x = _fit(model, np.zeros(model.n_params), robust=False)
    return model.unpack(x)


def _pair_cost(flash: np.ndarray, d2: np.ndarray, logdet: np.ndarray) -> np.ndarray:
    """Assignment cost: -2 log likelihood of each candidate pair relative to the flash's most
    precise candidate (Mahalanobis distance plus the log-determinant penalty of a vaguer event, so
    that a flash seen by a precise network and a coarse mapper pairs with the network event)."""
    best = np.full(int(flash.max()) + 1 if flash.size else 0, np.inf)
    np.minimum.at(best, flash, logdet)
    return d2 + logdet - best[flash]


def _carry(x, old: PairModel, new: PairModel, reset_rotation: bool = False) -> np.ndarray:
    """Parameters of ``old`` expressed for ``new`` (same mount0 unless ``reset_rotation``, in which
    case ``new.mount0`` already holds the rotation and the rotation vector restarts at zero)."""
    out = np.zeros(new.n_params)
    if not reset_rotation:
        out[:3] = x[:3]
    for name in ("log_focal_scale", "emission_height_km"):
        if name in old.names and name in new.names:
            out[new.names.index(name)] = x[old.names.index(name)]
    return out
