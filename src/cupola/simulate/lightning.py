"""Simulated lightning scenes seen by a camera on the ISS, with the matching network events.

A scene is built from a real orbit (TLE + time), a camera and an LVLH attitude fixed through a
sequence of exposures. Every error the solver has to live with is drawn from a stated model:

* flashes happen at random instants over the sequence; those in the field of view during an
  exposure are photographed (a still exposure freezes the instant; in a video a flash lasts a
  log-normal 0.05-1 s, median 0.2 s, with a glow over its duration carrying 40 % of its light
  and the stroke the network reports, in the first 30 % of the flash, 60 %; Mach et al. 2005,
  JGR 110, D13116 report LIS flash durations of a few hundred ms). Their light leaves the cloud
  top at a height drawn from N(``cloud_top_m``, ``cloud_top_sigma_m``) per flash (10 +- 2 km by
  default; storm tops are 8-16 km, Liu & Zipser 2005, JGR 110, D23104);
* the network reports each flash (first stroke, near the flash's start) directly below that
  point with a Gaussian horizontal error of ``network_sigma_m`` per axis (150 m default: NLDN and
  ENTLN median errors of 100-300 m, Cummins & Murphy 2009, Zhu et al. 2017; 2 km for GLD360,
  Said et al. 2013) and ``network_time_sigma_s`` timing jitter (microseconds, GPS-synchronised);
  it misses ``network_miss_rate`` of them and adds ``network_false_rate`` false events;
* the network also reports flashes the camera cannot see: outside the frame (``outside_ratio``
  times as many as inside) and between exposures;
* the detector measures each centroid with Gaussian noise ``centroid_sigma_px``, misses
  ``miss_rate`` of the flashes (thick cloud, faint flashes) and adds ``false_rate`` false
  detections (noise, glints, flickering lights) at random places and frames;
* the camera clock differs from the network's by ``clock_offset_s`` (network - camera), and frame
  times carry ``frame_time_jitter_s`` of Gaussian error;
* optionally a space-based mapper (GLM-like) reports groups with 4 km errors and 2 ms timing
  (Goodman et al. 2013), detecting 70 % of the flashes (GLM flash detection efficiency is about
  70-90 %, Bateman & Mach 2020 / Rudlosky et al. 2019).

:func:`render_frames` draws the images: dark sky, city lights (point sources on the ground, smeared
by the station's motion during the exposure), and each flash as a Gaussian patch of lit cloud top
(``patch_radius_m``, 3 km by default) with shot and read noise.

Forward model: an independent one, kept on purpose as a check. The scene is projected with its own
few lines (:func:`_project`, :func:`_pixels_to_points`: ray from the pixel, LVLH at each instant,
intersection with the ellipsoid at the flash's own height), not with the solver's observation model
(:mod:`cupola.lightning.observe`), so a mistake there shows up as a pose error in the tests and
benchmarks. What both share is the geometry layer (:mod:`cupola.geometry`: orbit and LVLH frame,
pinhole camera, WGS84), which is tested against independent references on its own. The event
records are written by :func:`cupola.lightning.events.write_events_csv`, the writer beside
:func:`~cupola.lightning.events.read_events`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.attitude import rotation_from_rpy
from cupola.geometry.camera import Camera
from cupola.geometry.orbit import ElementSet
from cupola.geometry.trajectory import trajectory
from cupola.io.staging import staged_output
from cupola.lightning.events import MAPPER_SIGMA_M, Events, format_utc, write_events_csv
from cupola.lightning.flashes import Flashes, Frames

__all__ = [
    "SceneSpec",
    "Scene",
    "simulate_scene",
    "render_frames",
    "drawn_flashes",
    "flash_patch_px",
    "VIDEO",
    "STILLS",
]


@dataclass(frozen=True)
class SceneSpec:
    """How a scene is drawn (see the module docstring for the models and their sources)."""

    n_flashes: int = 50  # flashes in the field of view during exposures, all reported by the network
    n_frames: int = 10
    frame_interval_s: float = 1.0
    exposure_s: float = 0.5
    clock_offset_s: float = 0.0
    network_sigma_m: float = 150.0
    network_time_sigma_s: float = 1e-6
    network_miss_rate: float = 0.0
    network_false_rate: float = 0.0
    cloud_top_m: float = 10_000.0
    cloud_top_sigma_m: float = 2_000.0
    centroid_sigma_px: float = 1.0
    false_rate: float = 0.1
    miss_rate: float = 0.1
    outside_ratio: float = 1.0
    storms: int = 0  # 0: flashes spread uniformly; else they cluster in this many storm cells
    storm_radius_m: float = 20_000.0
    flash_duration_median_s: float = 0.2
    frame_time_jitter_s: float = 0.0
    mapper: bool = False
    mapper_sigma_m: float = MAPPER_SIGMA_M
    mapper_detection: float = 0.7
    patch_radius_m: float = 3_000.0
    #: flash-to-flash spread of the lit patch's radius (sigma of its natural log; 0: all alike)
    patch_radius_spread: float = 0.0
    n_cities: int = 60
    #: city lights as extended urban areas (0.3-4 km glows of lamps, as bright as flashes or more) that
    #: move across the frame with the ground, rather than isolated point lamps; ``n_cities`` is then
    #: the mean number of towns in one frame
    urban_lights: bool = False
    #: mean number of strokes the network reports per flash (1: one; CG flashes average 3-5 strokes,
    #: Rakov & Uman 2003): subsequent strokes 60 ms apart on average (exponential), within 1 s of the
    #: first and 1 km of it (1 sigma), each with its own network error
    strokes_per_flash: float = 1.0

    def validate(self) -> None:
        if self.n_flashes < 0 or self.n_frames < 1:
            raise InputError("simulate: need n_flashes >= 0 and n_frames >= 1")
        if not (self.exposure_s > 0 and self.frame_interval_s > 0 and self.exposure_s <= self.frame_interval_s + 1e-12):
            raise InputError(
                f"simulate: exposure {self.exposure_s:g} s must be positive and not longer than the "
                f"frame interval {self.frame_interval_s:g} s"
            )
        for name in ("false_rate", "miss_rate", "network_miss_rate", "network_false_rate"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise InputError(f"simulate: {name} must be in [0, 1), got {v:g}")

    @property
    def is_video(self) -> bool:
        return self.frame_interval_s < 0.1


#: a 10-frame sequence of stills, 1 s apart, 0.5 s exposures (a typical ISS lightning time-lapse)
STILLS = SceneSpec()
#: 10 s of 60 frames/s video
VIDEO = SceneSpec(n_frames=600, frame_interval_s=1 / 59.94, exposure_s=1 / 59.94)


@dataclass(eq=False)
class Scene:
    spec: SceneSpec
    camera: Camera
    elements: ElementSet
    rpy_deg: tuple[float, float, float]
    mount: Rotation
    frames: Frames  # as recorded (camera clock, with jitter)
    flashes: Flashes  # as detected
    events: Events  # network (sorted by time)
    mapper: Events | None
    clock_offset_s: float
    flash_event: np.ndarray  # for each detected flash: index of its true network event, -1 if none
    flash_true_px: np.ndarray  # (K, 2) true centroid (NaN for false detections)
    flash_height_m: np.ndarray  # (K,) true emission height (NaN for false detections)
    event_height_m: np.ndarray  # (M,) true emission height of each network event (NaN for false)
    render: dict = field(default_factory=dict)  # what render_frames needs

    @property
    def true_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        k = np.flatnonzero(self.flash_event >= 0)
        return k, self.flash_event[k]

    @property
    def reference_offset_s(self) -> float:
        """Network time (seconds after the camera epoch) of the start of the first frame."""
        return float(self.clock_offset_s)


def _pixels_to_points(cam: Camera, mount: np.ndarray, pos, lvlh, col, row, height_m) -> np.ndarray:
    d = np.einsum("nij,nj->ni", lvlh, cam.pixel_to_ray(col, row) @ mount.T)
    out = np.full((len(col), 3), np.nan)
    for i in range(len(col)):
        out[i] = geodesy.ray_ellipsoid_intersection(pos[i], d[i], float(height_m[i]))
    return out


def _project(cam: Camera, mount: np.ndarray, pos, lvlh, points) -> np.ndarray:
    c = np.einsum("nji,nj->ni", lvlh, points - pos) @ mount
    col, row = cam.ray_to_pixel(c)
    return np.column_stack([col, row])


def _displace(points, enu, de, dn) -> tuple[np.ndarray, np.ndarray]:
    p = points + de[:, None] * enu[:, 0] + dn[:, None] * enu[:, 1]
    lon, lat, _ = geodesy.ecef_to_geodetic(p)
    return np.degrees(lon), np.degrees(lat)


def simulate_scene(
    elements: ElementSet,
    time: dt.datetime,
    camera: Camera,
    rpy_deg,
    spec: SceneSpec = STILLS,
    seed: int | np.random.Generator = 0,
) -> Scene:
    """Draw one scene. ``time`` is the start of the first exposure in the camera's clock."""
    spec.validate()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    mount = rotation_from_rpy(*rpy_deg)
    mm = mount.as_matrix()
    W, H = camera.width_px, camera.height_px
    T = (spec.n_frames - 1) * spec.frame_interval_s + spec.exposure_s
    starts_true = np.arange(spec.n_frames) * spec.frame_interval_s
    off = spec.clock_offset_s

    def in_exposure(tau):
        k = np.clip(np.floor(tau / spec.frame_interval_s).astype(int), 0, spec.n_frames - 1)
        return (tau - starts_true[k] <= spec.exposure_s) & (tau >= 0), k

    # --- flashes: camera-clock instants, emission points -------------------------------------------
    def draw(n, where):
        """n flashes: (tau, col, row, heights, points) with the pixel inside/outside the frame."""
        taus, cols, rows, hs, pts = [], [], [], [], []
        need = n
        guard = 0
        while need > 0 and guard < 50:
            guard += 1
            m = max(4 * need, 16)
            if where == "gap":
                tau = rng.uniform(0, T, m)
                tau = tau[~in_exposure(tau)[0]]
            else:
                tau = rng.uniform(0, T, m)
                if where == "seen":
                    tau = tau[in_exposure(tau)[0]]
            m = tau.size
            if m == 0:
                continue
            if spec.storms and "centres" in state:
                tr = trajectory(elements, time, tau + off)
                s = rng.integers(0, len(state["centres"]), m)
                c0 = state["centres"][s]
                enu = geodesy.enu_basis(*geodesy.ecef_to_geodetic(c0)[:2]).reshape(-1, 3, 3)
                de, dn = rng.normal(0, spec.storm_radius_m / 2, (2, m))
                h = np.clip(rng.normal(spec.cloud_top_m, spec.cloud_top_sigma_m, m), 1000, 20000)
                lon, lat = _displace(c0, enu, de, dn)
                p = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), h)
                px = _project(camera, mm, tr.position_m, tr.lvlh_to_itrs, p)
                inside = (px[:, 0] >= 0) & (px[:, 0] <= W - 1) & (px[:, 1] >= 0) & (px[:, 1] <= H - 1)
                sel = inside if where in ("seen", "gap") else ~inside & np.all(np.isfinite(px), axis=1)
                tau, px, h, p = tau[sel], px[sel], h[sel], p[sel]
                col, row = px[:, 0], px[:, 1]
            else:
                if where == "outside":
                    a = (np.sqrt(1 + max(spec.outside_ratio, 0)) - 1) / 2
                    col = rng.uniform(-a * W, (1 + a) * W, m)
                    row = rng.uniform(-a * H, (1 + a) * H, m)
                    sel = ~((col >= 0) & (col <= W - 1) & (row >= 0) & (row <= H - 1))
                    tau, col, row = tau[sel], col[sel], row[sel]
                else:
                    col = rng.uniform(0, W - 1, m)
                    row = rng.uniform(0, H - 1, m)
                m = tau.size
                tr = trajectory(elements, time, tau + off)
                h = np.clip(rng.normal(spec.cloud_top_m, spec.cloud_top_sigma_m, m), 1000, 20000)
                p = _pixels_to_points(camera, mm, tr.position_m, tr.lvlh_to_itrs, col, row, h)
                ok = np.all(np.isfinite(p), axis=1)
                tau, col, row, h, p = tau[ok], col[ok], row[ok], h[ok], p[ok]
            take = min(need, tau.size)
            taus.append(tau[:take])
            cols.append(col[:take])
            rows.append(row[:take])
            hs.append(h[:take])
            pts.append(p[:take])
            need -= take
        if need > 0:
            raise InputError("simulate: cannot place the flashes (does the camera see the Earth?)")
        cat = lambda v: np.concatenate(v) if v else np.zeros(0)  # noqa: E731
        return cat(taus), cat(cols), cat(rows), cat(hs), (np.concatenate(pts) if pts else np.zeros((0, 3)))

    state: dict = {}
    if spec.storms:
        tr_mid = trajectory(elements, time, np.array([T / 2 + off]))
        cc = rng.uniform(0.1, 0.9, spec.storms) * (W - 1)
        rr = rng.uniform(0.1, 0.9, spec.storms) * (H - 1)
        pos = np.repeat(tr_mid.position_m, spec.storms, axis=0)
        lv = np.repeat(tr_mid.lvlh_to_itrs, spec.storms, axis=0)
        state["centres"] = _pixels_to_points(camera, mm, pos, lv, cc, rr, np.zeros(spec.storms))
    seen = draw(spec.n_flashes, "seen")
    gap_time = (spec.n_frames - 1) * (spec.frame_interval_s - spec.exposure_s)
    n_gap = int(round(spec.n_flashes * gap_time / (spec.n_frames * spec.exposure_s)))
    gap = draw(n_gap, "gap") if n_gap else draw(0, "gap")
    n_out = int(round((spec.n_flashes + n_gap) * spec.outside_ratio)) if not spec.storms else 0
    outside = draw(n_out, "outside") if n_out else draw(0, "outside")
    if spec.storms:  # storm flashes outside the frame: as many again, drawn the same way
        outside = draw(int(round((spec.n_flashes + n_gap) * max(spec.outside_ratio, 0))), "outside")

    n_seen = seen[0].size
    tau_all = np.concatenate([seen[0], gap[0], outside[0]])
    h_all = np.concatenate([seen[3], gap[3], outside[3]])
    p_all = np.concatenate([seen[4], gap[4], outside[4]])
    n_all = tau_all.size
    # flash durations (video) and the event (first stroke) within the flash
    if spec.is_video:
        dur = np.clip(np.exp(rng.normal(np.log(spec.flash_duration_median_s), 0.6, n_all)), 0.05, 1.0)
        stroke = tau_all + rng.uniform(0, 0.3, n_all) * dur
    else:
        dur = np.zeros(n_all)
        stroke = tau_all.copy()
    lon0, lat0, _ = geodesy.ecef_to_geodetic(p_all)
    enu = geodesy.enu_basis(lon0, lat0).reshape(-1, 3, 3)
    ground = geodesy.geodetic_to_ecef(lon0, lat0, 0.0)
    de, dn = rng.normal(0, spec.network_sigma_m, (2, n_all))
    ev_lon, ev_lat = _displace(ground, enu, de, dn)
    ev_t = stroke + off + rng.normal(0, spec.network_time_sigma_s, n_all)
    reported = rng.random(n_all) >= spec.network_miss_rate
    ev_height = h_all.copy()
    if spec.strokes_per_flash > 1:
        extra = rng.poisson(spec.strokes_per_flash - 1.0, n_all)
        k_idx = np.repeat(np.arange(n_all), extra)
        if k_idx.size:
            gaps = rng.exponential(0.06, k_idx.size)
            starts = np.r_[0, np.cumsum(extra)[:-1]]
            # time of each subsequent stroke after its flash's first: cumulative gaps within the flash
            within = (
                np.concatenate([np.cumsum(gaps[s0 : s0 + e]) for s0, e in zip(starts, extra) if e])
                if extra.sum()
                else np.zeros(0)
            )
            keep_s = within <= 1.0
            k_idx, within = k_idx[keep_s], within[keep_s]
            se, sn = rng.normal(0, 1000.0, (2, k_idx.size)) + rng.normal(0, spec.network_sigma_m, (2, k_idx.size))
            slon, slat = _displace(ground[k_idx], enu[k_idx], se, sn)
            ev_lon = np.r_[ev_lon, slon]
            ev_lat = np.r_[ev_lat, slat]
            ev_t = np.r_[ev_t, ev_t[k_idx] + within]
            reported = np.r_[reported, reported[k_idx]]
            ev_height = np.r_[ev_height, ev_height[k_idx]]
    # network false alarms: random places around the scene, random times
    n_false_net = int(round(spec.network_false_rate * n_all))
    if n_false_net:
        idx = rng.integers(0, n_all, n_false_net)
        fe, fn = rng.normal(0, 50_000.0, (2, n_false_net))
        flon, flat = _displace(ground[idx], enu[idx], fe, fn)
        ev_lon = np.r_[ev_lon, flon]
        ev_lat = np.r_[ev_lat, flat]
        ev_t = np.r_[ev_t, rng.uniform(0, T, n_false_net) + off]
        reported = np.r_[reported, np.ones(n_false_net, bool)]
        ev_height = np.r_[ev_height, np.full(n_false_net, np.nan)]
    keep = np.flatnonzero(reported)
    order = keep[np.argsort(ev_t[keep], kind="stable")]
    new_index = np.full(ev_t.size, -1)
    new_index[order] = np.arange(order.size)
    epoch64 = np.datetime64(time.astimezone(dt.timezone.utc).replace(tzinfo=None), "ns")
    ev_times = epoch64 + np.round(ev_t[order] * 1e9).astype(np.int64).astype("timedelta64[ns]")
    events = Events.from_arrays(
        ev_times,
        ev_lon[order],
        ev_lat[order],
        sigma_m=spec.network_sigma_m,
        peak_current_ka=np.round(rng.normal(-20, 10, order.size), 1),
        type=np.where(rng.random(order.size) < 0.3, "CG", "IC"),
        source_name="simulated network",
    )
    event_height = ev_height[order]

    # --- what the camera records --------------------------------------------------------------------
    rec_start = (
        starts_true + rng.normal(0, spec.frame_time_jitter_s, spec.n_frames)
        if spec.frame_time_jitter_s
        else starts_true.copy()
    )
    frames = Frames(
        time,
        rec_start,
        np.full(spec.n_frames, spec.exposure_s),
        tuple(f"frame_{i:04d}.png" for i in range(spec.n_frames)),
    )
    true_px = np.column_stack([seen[1], seen[2]])
    t_centroid = np.full(n_seen, np.nan)
    tracks = []
    if spec.is_video:
        f0 = np.clip(np.floor(seen[0] / spec.frame_interval_s).astype(int), 0, spec.n_frames - 1)
        f1 = np.clip(np.floor((seen[0] + dur[:n_seen]) / spec.frame_interval_s).astype(int), 0, spec.n_frames - 1)
        # the image of the lit cloud drifts with the ground while the flash lasts: the centroid is the
        # light-weighted mean of its positions in the lit frames, at the light-weighted mean time
        mids = starts_true + 0.5 * spec.exposure_s
        trf = trajectory(elements, time, mids + off)
        for k in range(n_seen):
            js = np.arange(f0[k], f1[k] + 1)
            a, b = seen[0][k], seen[0][k] + dur[k]
            # light curve: a glow over the flash (40 %) and the stroke the network times (60 %)
            w = (
                0.4
                * np.clip(np.minimum(b, starts_true[js] + spec.exposure_s) - np.maximum(a, starts_true[js]), 0, None)
                / dur[k]
            )
            w[js == min(int(stroke[k] // spec.frame_interval_s), spec.n_frames - 1)] += 0.6
            if w.sum() <= 0:
                w = np.ones(js.size)
            px = _project(camera, mm, trf.position_m[js], trf.lvlh_to_itrs[js], np.repeat(seen[4][k][None], js.size, 0))
            true_px[k] = (w[:, None] * px).sum(axis=0) / w.sum()
            t_centroid[k] = float((w * mids[js]).sum() / w.sum())
            tracks.append((js, px, w))
    else:
        f0 = in_exposure(seen[0])[1]
        f1 = f0.copy()
        tracks = [(np.array([f0[k]]), true_px[k : k + 1], np.ones(1)) for k in range(n_seen)]
    detected = rng.random(n_seen) >= spec.miss_rate
    det = np.flatnonzero(detected)
    n_false = int(round(spec.false_rate * spec.n_flashes))
    obs = true_px[det] + rng.normal(0, spec.centroid_sigma_px, (det.size, 2))
    fcol = np.r_[obs[:, 0], rng.uniform(0, W - 1, n_false)]
    frow = np.r_[obs[:, 1], rng.uniform(0, H - 1, n_false)]
    ff0 = np.r_[f0[det], rng.integers(0, spec.n_frames, n_false)]
    ff1 = np.r_[f1[det], ff0[det.size :] + (rng.integers(0, 3, n_false) if spec.is_video else 0)]
    ff1 = np.minimum(ff1, spec.n_frames - 1)
    tc_false = 0.5 * (starts_true[ff0[det.size :]] + starts_true[ff1[det.size :]] + spec.exposure_s)
    tcen = np.r_[t_centroid[det], tc_false if spec.is_video else np.full(n_false, np.nan)]
    bright = np.r_[np.exp(rng.normal(0, 0.7, det.size)), np.exp(rng.normal(-0.7, 0.5, n_false))]
    inside = (fcol >= -0.5) & (fcol <= W - 0.5) & (frow >= -0.5) & (frow <= H - 0.5)
    flash_event = np.r_[new_index[det], np.full(n_false, -1)]
    true_all = np.r_[true_px[det], np.full((n_false, 2), np.nan)]
    h_flash = np.r_[seen[3][det], np.full(n_false, np.nan)]
    perm = rng.permutation(fcol.size)
    perm = perm[inside[perm]]
    flashes = Flashes.from_frames(
        frames, fcol[perm], frow[perm], ff0[perm], ff1[perm], bright[perm], t_centroid_s=tcen[perm]
    )

    mapper = None
    if spec.mapper:
        mdet = np.flatnonzero(rng.random(n_all) < spec.mapper_detection)
        me, mn = rng.normal(0, spec.mapper_sigma_m, (2, mdet.size))
        mlon, mlat = _displace(ground[mdet], enu[mdet], me, mn)
        mt = stroke[mdet] + off + rng.normal(0, 1e-3, mdet.size)
        o = np.argsort(mt)
        mtimes = epoch64 + np.round(mt[o] * 1e9).astype(np.int64).astype("timedelta64[ns]")
        mapper = Events.from_arrays(
            mtimes,
            mlon[o],
            mlat[o],
            energy=np.exp(rng.normal(-32, 1, mdet.size)),
            kind="mapper",
            sigma_m=spec.mapper_sigma_m,
            source_name="simulated mapper",
        )
    render = {
        "tau": tau_all[:n_seen],
        "dur": dur[:n_seen],
        "px": true_px,
        "height": seen[3],
        "tracks": tracks,
        "bright": np.exp(rng.normal(0, 0.7, n_seen)),
        # drawn last, and only when asked for, so scenes without a spread stay as they were
        "size": np.exp(rng.normal(0, spec.patch_radius_spread, n_seen))
        if spec.patch_radius_spread > 0
        else np.ones(n_seen),
        "detected": detected,
        "false_px": np.column_stack([fcol[det.size :], frow[det.size :]]),
        "false_f0": ff0[det.size :],
        "false_f1": ff1[det.size :],
    }
    roll, pitch, yaw = rpy_deg
    return Scene(
        spec,
        camera,
        elements,
        (float(roll), float(pitch), float(yaw)),
        mount,
        frames,
        flashes,
        events,
        mapper,
        off,
        flash_event[perm],
        true_all[perm],
        h_flash[perm],
        event_height,
        render,
    )


def render_frames(
    scene: Scene,
    time: dt.datetime,
    *,
    seed: int = 1,
    sky_dn: float = 120.0,
    read_noise_dn: float = 6.0,
    flash_peak_dn: float = 1500.0,
    city_dn: float = 3000.0,
    false_detections: bool = False,
):
    """Yield (index, uint16 image) for each frame of the scene (see the module docstring).

    Flashes the scene's detector misses are not drawn (hidden from the camera), so a detector run
    on these images meets the same flashes. False detections are not drawn unless
    ``false_detections`` (they come from the detector's own mistakes).
    """
    rng = np.random.default_rng(seed)
    spec, cam = scene.spec, scene.camera
    W, H = cam.width_px, cam.height_px
    mm = scene.mount.as_matrix()
    off = scene.clock_offset_s
    tr_mid = trajectory(scene.elements, time, np.array([spec.n_frames * spec.frame_interval_s / 2 + off]))
    if spec.urban_lights:
        yield from _render_urban(scene, time, rng, sky_dn, read_noise_dn, flash_peak_dn, city_dn, false_detections)
        return
    # city lights: ground points over the area the sequence sees
    nc = spec.n_cities
    cc = rng.uniform(-0.3, 1.3, nc) * (W - 1)
    rr = rng.uniform(-0.6, 1.6, nc) * (H - 1)
    cities = _pixels_to_points(
        cam, mm, np.repeat(tr_mid.position_m, nc, 0), np.repeat(tr_mid.lvlh_to_itrs, nc, 0), cc, rr, np.zeros(nc)
    )
    cities = cities[np.all(np.isfinite(cities), axis=1)]
    city_amp = city_dn * np.exp(rng.normal(0, 0.8, len(cities)))
    # patch size in pixels from the ground sample distance at the centre
    alt = float(np.linalg.norm(tr_mid.position_m[0]) - geodesy.A_M)
    sig_patch = max(spec.patch_radius_m / (alt / cam.focal_px), 1.5)
    from scipy.ndimage import gaussian_filter

    for i in range(spec.n_frames):
        t0 = i * spec.frame_interval_s
        img = np.full((H, W), sky_dn, dtype=np.float64)
        # city lights, smeared over the exposure
        nsub = 1 if spec.is_video else 8
        tt = t0 + (np.arange(nsub) + 0.5) / nsub * spec.exposure_s + off
        tr = trajectory(scene.elements, time, tt)
        acc = np.zeros((H, W))
        for s in range(nsub):
            n = len(cities)
            px = _project(
                cam, mm, np.repeat(tr.position_m[s : s + 1], n, 0), np.repeat(tr.lvlh_to_itrs[s : s + 1], n, 0), cities
            )
            ok = (
                np.all(np.isfinite(px), axis=1)
                & (px[:, 0] > 0)
                & (px[:, 0] < W - 1)
                & (px[:, 1] > 0)
                & (px[:, 1] < H - 1)
            )
            c, rw, a = px[ok, 0], px[ok, 1], city_amp[ok] / nsub
            c0, r0 = np.floor(c).astype(int), np.floor(rw).astype(int)
            fc, fr = c - c0, rw - r0
            for dc, dr, wgt in (
                (0, 0, (1 - fc) * (1 - fr)),
                (1, 0, fc * (1 - fr)),
                (0, 1, (1 - fc) * fr),
                (1, 1, fc * fr),
            ):
                np.add.at(acc, (r0 + dr, c0 + dc), a * wgt)
        img += gaussian_filter(acc, 0.8) * (2 * np.pi * 0.8**2)
        # flashes lit in this frame, where the cloud is in this frame
        yield i, _finish_frame(img, scene, i, sig_patch, flash_peak_dn, false_detections, read_noise_dn, rng)


def _finish_frame(
    img,
    scene: Scene,
    i: int,
    sig_patch: float,
    flash_peak_dn: float,
    false_detections: bool,
    read_noise_dn: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frame ``i``: the flashes lit in it drawn where their cloud is in this frame (and the false
    detections, if asked), then shot and read noise, as 16-bit digital numbers."""
    r, spec = scene.render, scene.spec
    for k, (js, px, w) in enumerate(r["tracks"]):
        if not r["detected"][k]:  # hidden from the camera (e.g. by thick cloud above it)
            continue
        hit = np.flatnonzero(js == i)
        if hit.size == 0:
            continue
        j = int(hit[0])
        amp = flash_peak_dn * r["bright"][k] * (min(1.0, 1.6 * float(w[j])) if spec.is_video else 1.0)
        _blob(img, px[j], sig_patch * r["size"][k], amp)
    if false_detections:
        for k in range(len(r["false_px"])):
            if r["false_f0"][k] <= i <= r["false_f1"][k]:
                _blob(img, r["false_px"][k], sig_patch, 0.5 * flash_peak_dn)
    noise = rng.normal(0, 1, img.shape) * np.sqrt(read_noise_dn**2 + np.maximum(img, 0) / 4.0)
    return np.clip(np.round(img + noise), 0, 65535).astype(np.uint16)


def _town_points(scene: Scene, time: dt.datetime, rng: np.random.Generator):
    """Towns on the ground over the whole area the sequence sweeps: (centres (N, 3) ECEF, per town a
    list of (east, north, sigma_m, weight) glows); ``n_cities`` towns per frame area on average."""
    spec, cam = scene.spec, scene.camera
    W, H = cam.width_px, cam.height_px
    mm = scene.mount.as_matrix()
    T = (spec.n_frames - 1) * spec.frame_interval_s + spec.exposure_s
    # how far the ground moves across the frame during the sequence, in frame sizes
    tr = trajectory(scene.elements, time, np.array([0.0, T]) + scene.clock_offset_s)
    c0 = _pixels_to_points(
        cam, mm, tr.position_m[:1], tr.lvlh_to_itrs[:1], np.array([W / 2]), np.array([H / 2]), np.zeros(1)
    )
    p1 = _project(cam, mm, tr.position_m[1:], tr.lvlh_to_itrs[1:], c0)[0]
    sweep = float(np.hypot(p1[0] - W / 2, p1[1] - H / 2)) if np.all(np.isfinite(p1)) else 0.0
    n = int(rng.poisson(spec.n_cities * (1.0 + 1.4 * sweep / min(W, H)))) + 1
    tau = rng.uniform(-0.1 * T, 1.1 * T, n)
    trn = trajectory(scene.elements, time, tau + scene.clock_offset_s)
    cols = rng.uniform(-0.2, 1.2, n) * (W - 1)
    rows = rng.uniform(-0.2, 1.2, n) * (H - 1)
    centres = _pixels_to_points(cam, mm, trn.position_m, trn.lvlh_to_itrs, cols, rows, np.zeros(n))
    centres = centres[np.all(np.isfinite(centres), axis=1)]
    towns = []
    for _ in range(len(centres)):
        radius = float(np.exp(rng.uniform(np.log(300.0), np.log(4000.0))))  # town size, m
        k = int(rng.integers(1, 6))
        de, dn = rng.normal(0, radius, (2, k))
        sig = radius * rng.uniform(0.2, 0.6, k)
        w = rng.uniform(0.3, 1.0, k)
        towns.append((de, dn, sig, w / w.max()))
    return centres, towns


def _render_urban(
    scene: Scene, time: dt.datetime, rng, sky_dn, read_noise_dn, flash_peak_dn, city_dn, false_detections
):
    """Frames with extended towns moving with the ground (``SceneSpec.urban_lights``)."""
    spec, cam = scene.spec, scene.camera
    W, H = cam.width_px, cam.height_px
    mm = scene.mount.as_matrix()
    off = scene.clock_offset_s
    centres, towns = _town_points(scene, time, rng)
    # glows of each town: ground points and peak surface brightness (log-normal around ``city_dn``/3)
    pts, sig_m, amp = [], [], []
    for c, (de, dn, sig, w) in zip(centres, towns):
        lon, lat, _ = geodesy.ecef_to_geodetic(c[None])
        enu = geodesy.enu_basis(lon, lat).reshape(3, 3)
        pts.append(c[None] + de[:, None] * enu[0] + dn[:, None] * enu[1])
        sig_m.append(sig)
        amp.append(w * (city_dn / 3.0) * float(np.exp(rng.normal(0, 0.8))))
    pts_a = np.concatenate(pts) if pts else np.zeros((0, 3))
    sig_a = np.concatenate(sig_m) if sig_m else np.zeros(0)
    amp_a = np.concatenate(amp) if amp else np.zeros(0)
    tr_mid = trajectory(scene.elements, time, np.array([spec.n_frames * spec.frame_interval_s / 2 + off]))
    gsd = float(np.linalg.norm(tr_mid.position_m[0]) - geodesy.A_M) / cam.focal_px
    sig_px = np.maximum(sig_a / gsd, 1.0)
    sig_patch = max(spec.patch_radius_m / gsd, 1.5)
    for i in range(spec.n_frames):
        t0 = i * spec.frame_interval_s
        img = np.full((H, W), sky_dn, dtype=np.float64)
        nsub = 1 if spec.is_video else 8
        tt = t0 + (np.arange(nsub) + 0.5) / nsub * spec.exposure_s + off
        tr = trajectory(scene.elements, time, tt)
        n = len(pts_a)
        for s in range(nsub):
            px = (
                _project(
                    cam,
                    mm,
                    np.repeat(tr.position_m[s : s + 1], n, 0),
                    np.repeat(tr.lvlh_to_itrs[s : s + 1], n, 0),
                    pts_a,
                )
                if n
                else np.zeros((0, 2))
            )
            for k in np.flatnonzero(np.all(np.isfinite(px), axis=1)):
                _blob(img, px[k], sig_px[k], amp_a[k] / nsub)
        # flashes lit in this frame, where the cloud is in this frame
        yield i, _finish_frame(img, scene, i, sig_patch, flash_peak_dn, false_detections, read_noise_dn, rng)


def drawn_flashes(scene: Scene, margin_px: float = 0.0) -> list[tuple[int, float, float]]:
    """The flashes :func:`render_frames` draws, as (frame, col, row) of each lit frame, with their centre
    at least ``margin_px`` inside the frame (the truth for detection precision and recall)."""
    W, H = scene.camera.width_px, scene.camera.height_px
    out = []
    for k, (js, px, _) in enumerate(scene.render["tracks"]):
        if not scene.render["detected"][k]:
            continue
        for j, (c, rw) in zip(js, px):
            if margin_px <= c <= W - 1 - margin_px and margin_px <= rw <= H - 1 - margin_px:
                out.append((int(j), float(c), float(rw)))
    return out


def flash_patch_px(scene: Scene) -> float:
    """The 1-sigma radius in pixels of a drawn flash patch at the frame's centre."""
    tr = trajectory(scene.elements, scene.frames.epoch, np.array([scene.clock_offset_s]))
    gsd = float(np.linalg.norm(tr.position_m[0]) - geodesy.A_M) / scene.camera.focal_px
    return max(scene.spec.patch_radius_m / gsd, 1.5)


def _blob(img, centre, sigma, amp):
    H, W = img.shape
    c, r = centre
    half = int(np.ceil(4 * sigma))
    c0, c1 = max(int(c) - half, 0), min(int(c) + half + 1, W)
    r0, r1 = max(int(r) - half, 0), min(int(r) + half + 1, H)
    if c0 >= c1 or r0 >= r1:
        return
    x = np.arange(c0, c1) - c
    y = np.arange(r0, r1) - r
    img[r0:r1, c0:c1] += amp * np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2) / sigma**2)


def write_scene(
    scene: Scene, out_dir, time: dt.datetime, *, images: bool = True, video: bool = False, tle_source: str = ""
) -> list:
    """Write a scene as the files ``lightning solve`` reads, plus the truth (all or nothing).

    ``frames/`` + ``frame_times.csv`` (16-bit PNG stills) or ``video.avi`` (lossless FFV1, 8 bit),
    ``events.csv`` (network), ``mapper.csv`` (if simulated), ``detections.csv`` (the simulated
    detector's flashes, for ``--flashes``) and ``truth.json``.
    """
    import json
    from pathlib import Path

    from PIL import Image

    out = Path(out_dir)
    written: list[Path] = []
    with staged_output(out, written=written) as stage:
        fr = scene.frames
        epoch64 = np.datetime64(fr.epoch.astimezone(dt.timezone.utc).replace(tzinfo=None), "ns")
        if images and video:
            try:
                import cv2
            except ImportError:
                raise InputError("writing video needs OpenCV (pip install opencv-python-headless)") from None
            w = cv2.VideoWriter(
                str(stage / "video.avi"),
                cv2.VideoWriter.fourcc(*"FFV1"),
                1.0 / scene.spec.frame_interval_s,
                (scene.camera.width_px, scene.camera.height_px),
                isColor=False,
            )
            if not w.isOpened():
                raise InputError("OpenCV cannot write an FFV1 video here")
            for _, img in render_frames(scene, time):
                w.write(np.clip(img / 16.0, 0, 255).astype(np.uint8))
            w.release()
        elif images:
            (stage / "frames").mkdir()
            for i, img in render_frames(scene, time):
                Image.fromarray(img).save(stage / "frames" / fr.names[i])
        if not video:
            rows = ["file,time_utc,exposure_s"]
            for i in range(len(fr)):
                t = epoch64 + np.int64(round(fr.start_s[i] * 1e9)).astype("timedelta64[ns]")
                rows.append(f"{fr.names[i]},{format_utc(t)},{fr.exposure_s[i]:.9g}")
            (stage / "frame_times.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        write_events_csv(stage / "events.csv", scene.events)
        if scene.mapper is not None:
            write_events_csv(stage / "mapper.csv", scene.mapper)
        fl = scene.flashes
        timed = bool(np.isfinite(fl.t_centroid_s).all()) and len(fl) > 0
        rows = ["col,row,time_start_utc,time_end_utc,brightness" + (",time_utc" if timed else "")]
        for k in range(len(fl)):
            a = epoch64 + np.int64(round(fl.t_start_s[k] * 1e9)).astype("timedelta64[ns]")
            b = epoch64 + np.int64(round(fl.t_end_s[k] * 1e9)).astype("timedelta64[ns]")
            line = f"{fl.col_px[k]:.4f},{fl.row_px[k]:.4f},{format_utc(a)},{format_utc(b)},{fl.brightness[k]:.4g}"
            if timed:
                c = epoch64 + np.int64(round(fl.t_centroid_s[k] * 1e9)).astype("timedelta64[ns]")
                line += f",{format_utc(c)}"
            rows.append(line)
        (stage / "detections.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        from dataclasses import asdict

        truth = {
            "schema": "cupola.lightning.simulation/1",
            "note": "simulated scene: the flashes, network events and images are synthetic; the orbit is real",
            "tle": {**scene.elements.to_dict(), "source": tle_source},
            "camera": scene.camera.to_dict(),
            "first_frame_camera_time_utc": format_utc(epoch64),
            "attitude_lvlh_roll_pitch_yaw_deg": list(scene.rpy_deg),
            "clock_offset_s": scene.clock_offset_s,
            "clock_offset_definition": "network time minus camera time",
            "spec": asdict(scene.spec),
            "detections": [
                {
                    "col": float(fl.col_px[k]),
                    "row": float(fl.row_px[k]),
                    "event_line": int(scene.flash_event[k]) + 2 if scene.flash_event[k] >= 0 else None,
                    "true_col": None if np.isnan(scene.flash_true_px[k, 0]) else float(scene.flash_true_px[k, 0]),
                    "true_row": None if np.isnan(scene.flash_true_px[k, 1]) else float(scene.flash_true_px[k, 1]),
                    "emission_height_m": None if np.isnan(scene.flash_height_m[k]) else float(scene.flash_height_m[k]),
                }
                for k in range(len(fl))
            ],
        }
        (stage / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return written
