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
#: the emission-height modes and their synonyms: yes = free (solved), no = fixed (given)
HEIGHT_MODES = {"auto": "auto", "free": "free", "fixed": "fixed", "yes": "free", "no": "fixed"}


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

    def __post_init__(self) -> None:
        """``height_mode`` synonyms (:data:`HEIGHT_MODES`: yes, no) become their modes."""
        if self.height_mode not in HEIGHT_MODES:
            raise InputError(f"`height_mode` must be auto, yes (free) or no (fixed), got {self.height_mode!r}")
        object.__setattr__(self, "height_mode", HEIGHT_MODES[self.height_mode])

    def validate(self) -> None:
        lo, hi = -500.0, 25_000.0
        if not lo <= self.emission_height_m <= hi:
            raise InputError(f"`emission_height_m` {self.emission_height_m:g} is outside [{lo:g}, {hi:g}] m")
        for name, v in (
            ("`emission_height_sigma_m`", self.emission_height_sigma_m),
            ("`centroid_sigma_px`", self.centroid_sigma_px),
        ):
            if not v > 0:
                raise InputError(f"{name} must be positive, got {v:g}")
        if not self.max_clock_offset_s >= 0:
            raise InputError(f"`max_clock_offset_s` must not be negative, got {self.max_clock_offset_s:g}")
        if not 0 < self.guess_radius_deg <= 180:
            raise InputError(f"`guess_radius_deg` must be in (0, 180], got {self.guess_radius_deg:g}")


class PairModel:
    """Whitened residuals of matched (flash, event) pairs as a function of the parameters.

    Parameters x: rotation vector (rad, applied in the LVLH frame to ``mount0``), then the log focal
    scale if ``solve_focal``, then the mean emission height offset in km if the height is not fixed.
    """

    def __init__(
        self,
        camera: Camera,
        geom: observe.EventGeometry,
        observed_px: np.ndarray,
        options: SolveOptions,
        mount0: Rotation,
        uniform_weights: bool = False,
    ):
        self.camera = camera
        self.geom = geom
        self.obs = np.asarray(observed_px, dtype=float).reshape(-1, 2)
        self.opt = options
        self.mount0 = mount0
        self.solve_focal = bool(options.solve_focal)
        self.solve_height = options.height_mode != "fixed" and bool(np.isnan(geom.given_height_m).any())
        self.prior = options.height_mode == "auto"
        self.names = (
            ["rot_x_rad", "rot_y_rad", "rot_z_rad"]
            + (["log_focal_scale"] if self.solve_focal else [])
            + (["emission_height_km"] if self.solve_height else [])
        )
        self.sigma_h = np.where(np.isnan(geom.given_height_m), options.emission_height_sigma_m, GIVEN_HEIGHT_SIGMA_M)
        self.whiten: np.ndarray | None = None  # set by reweight()
        self.uniform = uniform_weights
        self.x_scale = np.array(
            [1e-4] * 3 + ([1e-3] if self.solve_focal else []) + ([1.0] if self.solve_height else [])
        )

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
        assert self.whiten is not None, "reweight() first"
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
    fit = least_squares(
        model.residuals,
        x0,
        loss="soft_l1" if robust else "linear",
        f_scale=2.0,
        x_scale=model.x_scale,
        method="trf",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=200,
    )
    x = fit.x
    model.reweight(x)
    if not robust:  # one more pass with the weights at the solution
        fit = least_squares(
            model.residuals, x, x_scale=model.x_scale, method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=100
        )
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
    residual_en_m: (
        np.ndarray
    )  # (P, 2) east/north offset of the flash (observed ray at the emission height) from the event
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
        s_roll, s_pitch, s_yaw = np.sqrt(np.clip(np.diag(c), 0, None))
        return float(s_roll), float(s_pitch), float(s_yaw)

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


def pair_geometry(
    geom: observe.EventGeometry, flashes: Flashes, flash_idx, event_idx, flash_traj
) -> observe.EventGeometry:
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


@dataclass(eq=False)
class _Problem:
    """What every stage of :func:`solve` reads: the flashes, and the events that fall in time with
    the frames and in view of the station, with their geometry."""

    flashes: Flashes
    camera: Camera
    elements: ElementSet
    options: SolveOptions
    min_pairs: int
    events: Events  # the events in time and in view
    event_index: np.ndarray  # ... as indices into the events given to solve()
    t_s: np.ndarray  # their network times, seconds after the flashes' epoch
    tol_s: np.ndarray  # their time tolerances
    geom: observe.EventGeometry
    # emission points (M, 3) of the events in view at the model height, for the first orientation
    # search: row m belongs to events[m] and geom[m], like every per-event array here
    search_points_m: np.ndarray
    observed_px: np.ndarray  # (K, 2) flash centroids
    tree: cKDTree  # over observed_px
    video: bool  # flashes have centroid times (seen over several frames)
    drift_px: float  # how far a video flash's image may drift during its frames

    @property
    def epoch(self) -> dt.datetime:
        return self.flashes.epoch

    @property
    def offset_range_s(self) -> tuple[float, float]:
        """Clock offsets (network - camera) searched."""
        o0, w = self.options.clock_offset_s, self.options.max_clock_offset_s
        return o0 - w, o0 + w

    def pair_interval(self, flash: np.ndarray, event: np.ndarray):
        """Clock-offset interval (lo, hi) each (flash, event) pair allows."""
        return assoc.pair_interval(
            self.t_s[event], self.flashes.t_start_s[flash], self.flashes.t_end_s[flash], self.tol_s[event]
        )

    def flash_trajectory(self, offset_s: float):
        """Station states at the video flashes' centroid times (None for stills)."""
        return flash_trajectory(self.flashes, self.elements, offset_s) if self.video else None

    def pair_model(self, flash: np.ndarray, event: np.ndarray, flash_traj, mount0: Rotation) -> PairModel:
        """The model of matched (flash, event) pairs."""
        return PairModel(
            self.camera,
            pair_geometry(self.geom, self.flashes, flash, event, flash_traj),
            self.observed_px[flash],
            self.options,
            mount0,
        )

    def events_model(self, mount0: Rotation) -> PairModel:
        """The model of every event in view (predictions only: no observations)."""
        return PairModel(self.camera, self.geom, np.zeros((len(self.events), 2)), self.options, mount0)

    def gated(self, full: PairModel, xf, gate: float, ftr) -> tuple[assoc.CandidatePairs, np.ndarray, np.ndarray]:
        """Time-compatible (flash, event) pairs inside the chi-square gate at parameters ``xf`` of
        ``full`` (:meth:`events_model`), with their Mahalanobis distances and the log-determinants of
        their covariances."""
        o_lo, o_hi = self.offset_range_s
        pred = full.predict(xf)
        cov = full.covariance(xf)
        radius = np.sqrt(gate * np.linalg.eigvalsh(cov)[:, -1]) + self.drift_px
        ev_ok = np.flatnonzero(np.all(np.isfinite(pred), axis=1))
        hits = self.tree.query_ball_point(pred[ev_ok], radius[ev_ok]) if ev_ok.size else []
        sizes = np.array([len(h) for h in hits], dtype=np.int64)
        ce = np.repeat(ev_ok, sizes).astype(np.int64)
        cf = np.fromiter((k for h in hits for k in h), dtype=np.int64, count=int(sizes.sum()))
        if cf.size == 0:
            return assoc.CandidatePairs(cf, ce, np.zeros(0), np.zeros(0)), np.zeros(0), np.zeros(0)
        if self.video:
            cm = self.pair_model(cf, ce, ftr, full.mount0)
            r = self.observed_px[cf] - cm.predict(xf)
            ccov = cm.covariance(xf)
        else:
            r = self.observed_px[cf] - pred[ce]
            ccov = cov[ce]
        fin = np.all(np.isfinite(r), axis=1)
        cf, ce, r, ccov = cf[fin], ce[fin], r[fin], ccov[fin]
        d2 = np.einsum("pi,pij,pj->p", r, np.linalg.inv(ccov), r)
        logdet = np.linalg.slogdet(ccov)[1]
        lo, hi = self.pair_interval(cf, ce)
        g = (d2 <= gate) & (hi >= o_lo) & (lo <= o_hi)
        return (assoc.CandidatePairs(cf[g], ce[g], np.maximum(lo[g], o_lo), np.minimum(hi[g], o_hi)), d2[g], logdet[g])


@dataclass(eq=False)
class _Fit:
    """The state the fitting stages hand on: parameters ``x`` of ``model``, the orientation they
    are relative to, and the matched pairs."""

    x: np.ndarray | None
    model: PairModel | None
    mount0: Rotation
    flash: np.ndarray
    event: np.ndarray
    iterations: int = 0
    flash_traj: object = None


def _min_pairs(options: SolveOptions) -> int:
    return max(options.min_pairs, 5 if options.solve_focal else 4)


def _check_flash_count(flashes: Flashes, options: SolveOptions) -> None:
    k = len(flashes)
    if k < 3:
        raise NoSolutionError(
            f"only {k} optical flash{'es' if k != 1 else ''} detected; at least 3 are needed "
            f"(and {_min_pairs(options)} matched to network events)"
        )


def _events_in_time(flashes: Flashes, events: Events, options: SolveOptions):
    """Indices of the events that can fall in a frame's exposure for some searched clock offset,
    with every event's time (s after the flashes' epoch) and tolerance."""
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
            f"`max_clock_offset_s`"
        )
    return in_time, t_all, tol_all


def _in_view(geom: observe.EventGeometry, points_m: np.ndarray, max_view_angle_deg: float) -> np.ndarray:
    """Events whose emission point is above the station's horizon and within the view angle of nadir."""
    los = points_m - geom.position_m
    nadir = geom.lvlh[:, :, 2]
    cos_nadir = np.einsum("mi,mi->m", los, nadir) / np.linalg.norm(los, axis=1)
    visible = np.einsum("mi,mi->m", geom.position_m - points_m, geom.enu[:, 2, :]) > 0
    return visible & (cos_nadir >= np.cos(np.radians(max_view_angle_deg)))


def _video_drift_px(
    flashes: Flashes, geom: observe.EventGeometry, points_m: np.ndarray, focal_px: float, options: SolveOptions
) -> float:
    """A video flash is seen over its frames while the image drifts with the ground: how far, to
    allow for when looking for candidates around the events' own-instant predictions."""
    rng_m = float(np.median(np.linalg.norm(points_m - geom.position_m, axis=1)))
    span = float(np.max(flashes.t_end_s - flashes.t_start_s)) + 2 * options.time_tolerance_s
    return 8.0e3 * focal_px / rng_m * span  # 8 km/s bounds the station's speed


def _problem(flashes: Flashes, events: Events, elements: ElementSet, camera: Camera, options: SolveOptions) -> _Problem:
    """The events in time with the frames and in view of the station, and their geometry."""
    in_time, t_all, tol_all = _events_in_time(flashes, events, options)
    ev = events.subset(in_time)
    t_ev = t_all[in_time]
    tol_ev = tol_all[in_time]
    geom = observe.event_geometry(elements, flashes.epoch, t_ev, ev.lon_deg, ev.lat_deg, ev.height_m, ev.sigma_m)
    pts = geom.points(options.emission_height_m)
    in_view = _in_view(geom, pts, options.max_view_angle_deg)
    if not in_view.any():
        raise NoSolutionError(
            f"none of the {in_time.size} network events within the time window is in view of the "
            f"station (all beyond {options.max_view_angle_deg:g} deg from nadir or below the horizon)"
        )
    keep = np.flatnonzero(in_view)
    # one cut for every per-event array, so that they stay row-aligned with the events in view
    ev, t_ev, tol_ev, geom, in_time = ev.subset(keep), t_ev[keep], tol_ev[keep], geom.subset(keep), in_time[keep]
    pts = pts[keep]
    obs_all = np.column_stack([flashes.col_px, flashes.row_px])
    video = bool(np.isfinite(flashes.t_centroid_s).any())
    drift_px = _video_drift_px(flashes, geom, pts, camera.focal_px, options) if video else 0.0
    return _Problem(
        flashes=flashes,
        camera=camera,
        elements=elements,
        options=options,
        min_pairs=_min_pairs(options),
        events=ev,
        event_index=in_time,
        t_s=t_ev,
        tol_s=tol_ev,
        geom=geom,
        search_points_m=pts,
        observed_px=obs_all,
        tree=cKDTree(obs_all),
        video=video,
        drift_px=drift_px,
    )


def _first_orientation(p: _Problem) -> assoc.Hypothesis:
    """The first orientation and clock offset: triangles of time-compatible pairs
    (:func:`cupola.lightning.associate.triangle_search`), near the attitude guess if one is given."""
    flashes, camera, options = p.flashes, p.camera, p.options
    o_lo, o_hi = p.offset_range_s
    o0, W = options.clock_offset_s, options.max_clock_offset_s
    h0 = options.emission_height_m
    rays = _flash_rays(camera, flashes)
    w = p.geom.lvlh_directions(h0)
    sig_ang = observe.angular_sigma(p.geom, h0, options.emission_height_sigma_m)
    focal = camera.focal_px
    spx_rad = options.centroid_sigma_px / focal
    focal_tol = 0.05 if options.solve_focal else 0.005
    pairs = assoc.candidate_pairs(flashes.t_start_s, flashes.t_end_s, p.t_s, o_lo, o_hi, p.tol_s)
    if len(pairs) == 0:
        raise NoSolutionError(
            f"no network event fits the exposure window of any of the {len(flashes)} flashes within "
            f"{o0:+g} +- {W:g} s of clock offset"
        )
    if options.attitude_guess_deg is not None:
        guess = rotation_from_rpy(*options.attitude_guess_deg)
        v = guess.apply(rays[pairs.flash])
        ang = np.arccos(np.clip(np.einsum("pi,pi->p", v, w[pairs.event]), -1, 1))
        pairs = pairs.subset(ang <= np.radians(options.guess_radius_deg) + 4 * sig_ang[pairs.event])
        if len(pairs) == 0:
            raise NoSolutionError(
                f"no time-compatible network event lies within {options.guess_radius_deg:g} deg "
                "of where the attitude guess puts any flash; widen `guess_radius_deg` or drop the guess"
            )

    pix_sigma = np.sqrt(options.centroid_sigma_px**2 + (focal * sig_ang) ** 2)
    gate_px = 5.0 * pix_sigma + focal_tol * 0.5 * np.hypot(camera.width_px, camera.height_px)
    pos, lvlh, pts = p.geom.position_m, p.geom.lvlh, p.search_points_m

    def predict(mount_m, sel):
        c = observe.camera_vectors(mount_m, pos[sel], lvlh[sel], pts[sel])
        return observe.project(camera, c)

    score = assoc.make_scorer(p.observed_px, flashes.t_start_s, flashes.t_end_s, p.t_s, p.tol_s, predict, gate_px)
    precise = p.events.sigma_m <= 1000.0
    anchor = precise if precise.sum() >= 3 else None
    enough = max(p.min_pairs + 2, int(np.ceil(0.4 * len(flashes))))
    hyp = assoc.triangle_search(
        rays,
        w,
        sig_ang,
        pairs,
        flashes.brightness,
        score,
        sigma_px_rad=spx_rad,
        focal_tolerance=focal_tol,
        max_triplets=options.max_triplets,
        min_support=p.min_pairs,
        enough=enough,
        anchor=anchor,
    )
    if hyp is None:
        raise NoSolutionError(
            f"no consistent set of at least {p.min_pairs} flash-event pairs: the {len(flashes)} "
            f"flashes and {len(p.events)} events in view do not agree on one camera orientation "
            "and clock offset"
        )
    return hyp


def _settle_association(p: _Problem, hyp: assoc.Hypothesis) -> _Fit:
    """Gated association at the current pose, fit, repeat until the pairs stop changing (robust
    loss for the first two rounds, a wider gate for the first)."""
    fit = _Fit(x=None, model=None, mount0=hyp.mount, flash=hyp.flash, event=hyp.event)
    prev = None
    offset = 0.5 * (hyp.offset_lo_s + hyp.offset_hi_s)
    for it in range(1, 13):
        fit.iterations = it
        ftr = p.flash_trajectory(offset)
        model = p.pair_model(fit.flash, fit.event, ftr, fit.mount0)
        if fit.x is None:
            x0 = np.zeros(model.n_params)
        else:
            assert fit.model is not None  # set with fit.x
            x0 = _carry(fit.x, fit.model, model)
        fit.x, fit.model = _fit(model, x0, robust=it <= 2), model
        # gated association with the full model over all events in view
        full = p.events_model(fit.mount0)
        xf = _carry(fit.x, model, full)
        gate = p.options.gate_chi2 * (4.0 if it == 1 else 1.0)
        cand, d2, logdet = p.gated(full, xf, gate, ftr)
        if len(cand) == 0:
            break
        offset, comp = assoc.best_offset(cand, weight=gate - d2)
        cand, d2, logdet = cand.subset(comp), d2[comp], logdet[comp]
        pick = assoc.assign(cand.flash, cand.event, _pair_cost(cand.flash, d2, logdet), gate)
        new_f, new_e = cand.flash[pick], cand.event[pick]
        key = (tuple(new_f), tuple(new_e))
        fit.mount0 = full.unpack(xf)[0]
        fit.x, fit.model = _carry(xf, full, full, reset_rotation=True), full
        fit.flash, fit.event = new_f, new_e
        if key == prev and it > 2:
            break
        prev = key
    if fit.flash.size < p.min_pairs:
        raise NoSolutionError(
            f"only {fit.flash.size} flash{'es' if fit.flash.size != 1 else ''} match network events "
            f"consistently; at least {p.min_pairs} are needed"
        )
    return fit


def _final_fit(p: _Problem, fit: _Fit) -> None:
    """Final fit on the settled pairs, Gaussian likelihood; drop pairs outside the gate after the fit."""
    assert fit.model is not None  # fitted by _settle_association
    for _ in range(3):
        lo, hi = p.pair_interval(fit.flash, fit.event)
        offset = 0.5 * (float(np.max(lo)) + float(np.min(hi)))
        fit.flash_traj = p.flash_trajectory(offset)
        model = p.pair_model(fit.flash, fit.event, fit.flash_traj, fit.mount0)
        fit.x, fit.model = _fit(model, _carry(fit.x, fit.model, model), robust=False), model
        bad = model.mahalanobis2(fit.x) > p.options.gate_chi2
        if not bad.any():
            break
        fit.flash, fit.event = fit.flash[~bad], fit.event[~bad]
        if fit.flash.size < p.min_pairs:
            raise NoSolutionError(
                f"only {fit.flash.size} flash-event pairs survive the fit; at least {p.min_pairs} are needed"
            )


def _drop_ambiguous(p: _Problem, fit: _Fit) -> list[str]:
    """Leave out ambiguous pairs and refit; returns the note saying so, if any.

    A pair is ambiguous when its flash has a second event, or its event a second flash, nearly as
    likely (likelihood ratio below AMBIGUITY_RATIO) and compatible with the same clock offset. Two
    flashes a few hundred metres apart in one exposure cannot be told apart: keep neither."""
    model = fit.model
    assert model is not None  # fitted by _settle_association
    full = p.events_model(model.mount0)
    xf = _carry(fit.x, model, full)
    lo, hi = p.pair_interval(fit.flash, fit.event)
    win_lo, win_hi = float(np.max(lo)), float(np.min(hi))
    cand, cd2, cld = p.gated(full, xf, p.options.gate_chi2, fit.flash_traj)
    same = (cand.hi_s >= win_lo) & (cand.lo_s <= win_hi)
    cand, cost = cand.subset(same), (cd2 + cld)[same]  # -2 log likelihood, up to a constant
    own = {(int(f), int(e)): float(c) for f, e, c in zip(cand.flash, cand.event, cost)}
    own = {(int(f), int(e)): own.get((int(f), int(e)), np.inf) for f, e in zip(fit.flash, fit.event)}
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
            ambiguous.update(int(k) for k, ee in zip(fit.flash, fit.event) if int(ee) == e)
    if not ambiguous:
        return []
    keep = np.array([int(f) not in ambiguous for f in fit.flash])
    note = f"{int((~keep).sum())} flash-event pair(s) left out as ambiguous (another flash or event nearly as likely)"
    fit.flash, fit.event = fit.flash[keep], fit.event[keep]
    if fit.flash.size < p.min_pairs:
        raise NoSolutionError(f"only {fit.flash.size} unambiguous flash-event pairs; at least {p.min_pairs} are needed")
    refit = p.pair_model(fit.flash, fit.event, fit.flash_traj, model.mount0)
    fit.x, fit.model = _fit(refit, _carry(fit.x, model, refit), robust=False), refit
    return [note]


def _emission_height_report(model: PairModel, covariance: np.ndarray, options: SolveOptions) -> tuple[float, str]:
    """1-sigma of the emission height and where its value comes from."""
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
    return h_sigma, h_source


def _ground_residuals_en(model: PairModel, cam: Camera, mount: Rotation, h: float) -> np.ndarray:
    """(P, 2) east/north offset from each event of its flash: the observed pixel's ray at the
    event instant, to the emission-height surface."""
    g = model.geom
    rays_obs = cam.pixel_to_ray(model.obs[:, 0], model.obs[:, 1])
    d = np.einsum("mij,mj->mi", g.lvlh, rays_obs @ mount.as_matrix().T)
    heights = g.heights(h)
    res_en = np.full((len(model.obs), 2), np.nan)
    for i in range(len(model.obs)):
        hit = geodesy.ray_ellipsoid_intersection(g.position_m[i], d[i], float(heights[i]))
        diff = hit - (g.ground_m[i] + heights[i] * g.enu[i, 2])
        res_en[i] = [diff @ g.enu[i, 0], diff @ g.enu[i, 1]]
    return res_en


def _solution(p: _Problem, fit: _Fit, hyp: assoc.Hypothesis, notes: list[str], t_start: float) -> Solution:
    """The solution at the fitted parameters: covariance, residuals, clock window, emission height."""
    model, x = fit.model, fit.x
    assert model is not None and x is not None  # fitted by _settle_association
    jac = model.jacobian(x)
    try:
        covariance = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        covariance = np.linalg.pinv(jac.T @ jac)
    mount, cam, h = model.unpack(x)
    res_px = model.predict(x) - model.obs
    d2 = model.mahalanobis2(x)
    chi2 = float(np.sum(model.residuals(x) ** 2))
    dof = 2 * fit.flash.size - model.n_params + (1 if (model.solve_height and model.prior) else 0)
    # offset window: intersection of the chosen pairs' intervals
    lo, hi = p.pair_interval(fit.flash, fit.event)
    win = (float(np.max(lo)), float(np.min(hi)))
    if win[0] > win[1]:  # cannot happen after best_offset, but keep the report sane
        win = (min(win), max(win))
    h_sigma, h_source = _emission_height_report(model, covariance, p.options)
    res_en = _ground_residuals_en(model, cam, mount, h)
    if chi2 / max(dof, 1) > 3.0:
        notes.append(
            f"the fit is worse than the error model predicts (chi2/dof = {chi2 / max(dof, 1):.1f}); "
            "the network or centroid errors may be larger than assumed"
        )
    return Solution(
        camera=cam,
        mount=mount,
        emission_height_m=h,
        emission_height_sigma_m=h_sigma,
        emission_height_source=h_source,
        param_names=model.names,
        x=x,
        covariance=covariance,
        clock_offset_s=0.5 * (win[0] + win[1]),
        clock_window_s=win,
        flash_index=fit.flash,
        event_index=p.event_index[fit.event],
        residual_px=res_px,
        residual_en_m=res_en,
        mahalanobis2=d2,
        chi2=chi2,
        dof=dof,
        elements=p.elements,
        epoch=p.epoch,
        n_flashes=len(p.flashes),
        n_events_in_window=len(p.events),
        hypotheses_tried=hyp.tried,
        iterations=fit.iterations,
        seconds=_time.perf_counter() - t_start,
        notes=notes,
    )


def solve(
    flashes: Flashes, events: Events, elements: ElementSet, camera: Camera, options: SolveOptions = SolveOptions()
) -> Solution:
    """Associate flashes with events and solve the camera pose.

    The stages: the events in time with the frames and in view of the station (:func:`_problem`);
    a first orientation and clock offset from triangles of pairs (:func:`_first_orientation`); the
    association settled by gating and refitting (:func:`_settle_association`); a final Gaussian fit
    on the settled pairs (:func:`_final_fit`); ambiguous pairs left out (:func:`_drop_ambiguous`);
    the solution with its covariance and residuals (:func:`_solution`).

    Raises:
        NoSolutionError: too few flashes, no event in time with the frames, none in view, or too
            few consistent pairs; the message says which.
    """
    options.validate()
    t_start = _time.perf_counter()
    _check_flash_count(flashes, options)
    problem = _problem(flashes, events, elements, camera, options)
    hyp = _first_orientation(problem)
    fit = _settle_association(problem, hyp)
    _final_fit(problem, fit)
    notes = _drop_ambiguous(problem, fit)
    return _solution(problem, fit, hyp, notes, t_start)


def fit_pairs(
    solution: Solution,
    flashes: Flashes,
    events: Events,
    camera: Camera,
    options: SolveOptions,
    uniform_weights: bool = False,
) -> tuple[Rotation, Camera, float]:
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
