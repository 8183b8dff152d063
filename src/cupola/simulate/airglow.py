"""Synthetic airglow sequences from the ISS with every wave known (tests and benchmarks).

A sequence is made from:

* the real orbit: ISS element sets bundled with cupola (the night pass over Texas of the Meteor
  sample), a state per frame (``interval_s`` apart), a camera fixed in LVLH (roll/pitch/yaw of
  :mod:`cupola.geometry.attitude`): a Nikon D5 body, full size or binned (``binning``: the sensor
  read in ``binning`` x ``binning`` blocks, the same field of view and the electrons of the block);
* an emission layer at ``height_m`` whose vertical brightness is a mean (``airglow_e_per_px_s``,
  electrons a full-size pixel looking straight down collects per second) times a slow
  large-scale gradient times 1 + the sum of known wave packets (:class:`WavePacket`: wavelength,
  propagation azimuth, phase speed, amplitude, a Gaussian envelope), moving in the layer; seen
  along each line of sight with the thin-layer slant factor 1 / cos(chi);
* stars (random, fixed in the inertial frame) where the line of sight passes above 50 km, city
  lights (Gaussian patches on the ground) and moonlit clouds (a smooth random field at 10 km),
  both fixed to the Earth, so that they move across the layer grid with the station's parallax;
* vignetting (cos^4 of the field angle times a radial fall-off), photon noise and read noise.

Forward model independent of :mod:`cupola.airglow` where it matters: the layer coordinates here
are a spherical azimuthal-equidistant map built from geocentric directions (the pipeline uses
PROJ's ellipsoidal ``aeqd``), the slant factor is 1 / cos(chi) (the pipeline uses the chord
through a layer of finite thickness), and the frames are rendered forwards, pixel -> layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from cupola.geometry import attitude as att
from cupola.geometry import geodesy, orbit
from cupola.geometry.camera import Camera, camera_body, camera_for_body

__all__ = ["WavePacket", "AirglowSequence", "make_sequence", "random_waves", "SEQUENCE_START"]

#: the night pass over Texas of the bundled Meteor frame, a minute before it
SEQUENCE_START = dt.datetime(2017, 5, 17, 5, 43, 0, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class WavePacket:
    """A gravity wave in the layer: ``wavelength_km``, ``azimuth_deg`` (direction of propagation,
    clockwise from north), ``phase_speed_m_s`` (>= 0, along the azimuth), ``amplitude`` (fraction
    of the mean), ``phase_rad`` at the scene centre at the first frame, and a Gaussian envelope of
    ``envelope_km`` (None: a plane wave) centred ``offset_km`` (east, north) from the scene centre.
    ``curvature_km`` (None: straight crests): circular crests about a source that far behind the
    scene centre (against the propagation), as from a convective source; the wavelength, azimuth
    and speed are then those at the scene centre (the azimuth turns across the scene)."""

    wavelength_km: float
    azimuth_deg: float
    phase_speed_m_s: float
    amplitude: float
    phase_rad: float = 0.0
    envelope_km: float | None = None
    offset_km: tuple[float, float] = (0.0, 0.0)
    curvature_km: float | None = None

    @property
    def period_s(self) -> float:
        return self.wavelength_km * 1e3 / self.phase_speed_m_s if self.phase_speed_m_s > 0 else float("inf")

    def value(self, x_km, y_km, t_s):
        k = 2.0 * np.pi / self.wavelength_km
        az = np.radians(self.azimuth_deg)
        if self.curvature_km is None:
            along = x_km * np.sin(az) + y_km * np.cos(az)
        else:  # distance from the source, less the source's distance from the centre
            r = self.curvature_km
            along = np.hypot(x_km + r * np.sin(az), y_km + r * np.cos(az)) - r
        s = along - self.phase_speed_m_s * 1e-3 * t_s
        w = self.amplitude * np.cos(k * s + self.phase_rad)
        if self.envelope_km is not None:
            dx, dy = x_km - self.offset_km[0], y_km - self.offset_km[1]
            w = w * np.exp(-0.5 * (dx * dx + dy * dy) / self.envelope_km**2)
        return w


@dataclass
class AirglowSequence:
    """The frames and everything that made them."""

    frames: np.ndarray  # (n, rows, cols) float32, electrons
    times: list[dt.datetime]
    camera: Camera
    states: list[orbit.StateVector]
    poses: list[att.Pose]
    rpy_deg: tuple[float, float, float]
    element_set: orbit.ElementSet
    height_m: float
    waves: list[WavePacket]
    centre_lonlat_deg: tuple[float, float]
    flat: np.ndarray  # the relative illumination of the frame (vignetting)
    mean_e: float  # the layer's vertical brightness per frame pixel (electrons)
    notes: list[str] = field(default_factory=list)
    focal_mm: float = 14.0
    #: (n, 3) the true roll, pitch, yaw of every frame (all equal to ``rpy_deg`` without a walk)
    rpy_per_frame_deg: np.ndarray | None = None

    @property
    def t_s(self) -> np.ndarray:
        return np.array([(t - self.times[0]).total_seconds() for t in self.times])


def random_waves(
    rng: np.random.Generator,
    n: int,
    *,
    wavelength_km=(10.0, 200.0),
    speed_m_s=(10.0, 150.0),
    amplitude=(0.01, 0.10),
    min_separation=0.25,
) -> list[WavePacket]:
    """``n`` waves with log-uniform wavelengths, uniform azimuths, speeds and amplitudes, no two
    closer than ``min_separation`` in wavevector (relative to the larger)."""
    out: list[WavePacket] = []
    while len(out) < n:
        lam = float(np.exp(rng.uniform(np.log(wavelength_km[0]), np.log(wavelength_km[1]))))
        az = float(rng.uniform(0.0, 360.0))
        k = np.array([np.sin(np.radians(az)), np.cos(np.radians(az))]) / lam
        if any(
            min(np.linalg.norm(k - kk), np.linalg.norm(k + kk))
            < min_separation * max(np.linalg.norm(k), np.linalg.norm(kk))
            for kk in (
                np.array([np.sin(np.radians(w.azimuth_deg)), np.cos(np.radians(w.azimuth_deg))]) / w.wavelength_km
                for w in out
            )
        ):
            continue
        out.append(
            WavePacket(
                lam,
                az,
                float(rng.uniform(*speed_m_s)),
                float(rng.uniform(*amplitude)),
                float(rng.uniform(0.0, 2.0 * np.pi)),
            )
        )
    return out


def _default_elements(time: dt.datetime) -> orbit.ElementSet:
    from importlib import resources

    from cupola.io.tle import element_set_at

    tle = resources.files("cupola") / "data" / "samples" / "iss-meteor-2017" / "iss_tle_25544_20170101-20170630.txt"
    with resources.as_file(tle) as path:
        return element_set_at(path, time)


def _sphere_map(points_m: np.ndarray, centre_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spherical azimuthal-equidistant (x east, y north) km of ``points_m`` about ``centre_m``
    on the sphere through the centre (geocentric directions)."""
    r0 = float(np.linalg.norm(centre_m))
    u = centre_m / r0
    east = np.cross([0.0, 0.0, 1.0], u)
    east /= np.linalg.norm(east)
    north = np.cross(u, east)
    d = points_m / np.linalg.norm(points_m, axis=-1, keepdims=True)
    de, dn, du = d @ east, d @ north, d @ u
    psi = np.arctan2(np.hypot(de, dn), du)
    az = np.arctan2(de, dn)
    return r0 * psi * np.sin(az) / 1e3, r0 * psi * np.cos(az) / 1e3


def _hit(origin_m: np.ndarray, d: np.ndarray, height_m: float) -> np.ndarray:
    """Nearer intersection of rays with the WGS84 ellipsoid inflated by ``height_m`` (axes a + h,
    b + h; within tens of metres of the surface of geodetic height h), NaN where they miss."""
    s = np.array([geodesy.A_M + height_m, geodesy.A_M + height_m, geodesy.B_M + height_m])
    o = origin_m / s
    ds = d / s
    qa = np.einsum("...i,...i->...", ds, ds)
    qb = 2.0 * (ds @ o)
    qc = float(o @ o) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        t = (-qb - np.sqrt(disc)) / (2.0 * qa)
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return origin_m + t[..., None] * d


def _cloud_field(rng: np.random.Generator, half_km: float = 900.0, step_km: float = 2.0, scale_km: float = 12.0):
    """Cloud decks on (x, y) km: white noise smoothed by a Gaussian of ``scale_km``, normalised,
    and what exceeds 1 sigma kept (patchy decks of tens of km with a broad, red spectrum), in [0, ~2]."""
    from scipy import ndimage

    n = int(2 * half_km / step_km) + 1
    field_ = ndimage.gaussian_filter(rng.normal(size=(n, n)), scale_km / step_km, mode="wrap")
    field_ /= field_.std()
    field_ = np.clip(field_ - 1.0, 0.0, None)

    def f(x, y):
        c = (np.asarray(x) + half_km) / step_km
        r = (np.asarray(y) + half_km) / step_km
        return ndimage.map_coordinates(field_, [r, c], order=1, mode="constant", cval=0.0)

    return f


def make_sequence(
    *,
    waves: list[WavePacket] | None = None,
    n_frames: int = 60,
    interval_s: float = 1.0,
    exposure_s: float = 1.0,
    start: dt.datetime = SEQUENCE_START,
    model: str = "NIKON D5",
    binning: int = 8,
    focal_mm: float = 14.0,
    rpy_deg: tuple[float, float, float] = (0.0, 0.0, 90.0),
    height_m: float = 87e3,
    airglow_e_per_px_s: float = 4.0,
    gradient: float = 0.08,
    stars: int = 400,
    cities: int = 12,
    city_peak_ratio: float = 30.0,
    clouds: float = 0.0,
    vignetting: bool = True,
    read_noise_e: float = 2.0,
    noise: bool = True,
    seed: int = 0,
    smear_steps: int = 1,
    attitude_walk_deg: float = 0.0,
    ground_stripes: float = 0.0,
    stripes_wavelength_km: float = 40.0,
    noise_model: str = "poisson",
    vignetting_model: str = "cos4",
) -> AirglowSequence:
    """Render a sequence (see the module docstring). ``stars``: how many random stars over the
    whole sky (brighter than ~6 mag); ``cities``: random towns on the ground below the scene, each
    ``city_peak_ratio`` times the layer's nadir brightness at its peak; ``clouds``: the brightness of
    moonlit cloud decks relative to the layer (0: none). ``smear_steps``: 1 renders each exposure
    at one instant (the station at the frame's time stamp, the layer at mid-exposure); n > 1
    renders it as the mean of n sub-instants spread evenly over ``exposure_s`` after the time
    stamp (the shutter opening), the station and the waves moving between them: the smear of a
    long exposure (~7 km along the track on the layer for 1 s). ``attitude_walk_deg``: a
    hand-held camera: the roll, pitch and yaw take a random walk from ``rpy_deg`` with steps of
    this standard deviation per frame and axis (drawn from a generator of its own, so the rest of
    the scene is the same as without it); ``rpy_per_frame_deg`` and ``poses`` are the true ones.

    Variants of the camera model, for checking that the analysis does not lean on this generator's
    own choices (each drawn from a generator of its own, so the rest of the scene is unchanged):
    ``noise_model`` "poisson" (photon noise, Gaussian read noise, float electrons) or "camera" (a
    raw camera: a fixed pattern of pixel gains, 0.5 % rms, and of column offsets, dark current
    with its shot noise, 0.02 % hot pixels, read noise, quantised to ADU at 1.5 e/ADU with a black
    level of 1024 and 14-bit saturation, the black level then subtracted as a user would);
    ``vignetting_model`` "cos4" (cos^4 of the field angle times 1 - 0.15 r^2) or "offaxis"
    (cos^3 times 1 - 0.25 r^2 + 0.05 r^4 about an optical centre 4 % of the width right and 3 % of
    the height up of the frame centre)."""
    rng = np.random.default_rng(seed)
    waves = list(waves or [])
    body = camera_body(model)
    w_px, h_px = body.width_px // binning, body.height_px // binning
    cam = camera_for_body(body, focal_mm=focal_mm, width_px=w_px, height_px=h_px)
    el = _default_elements(start)
    times = [start + dt.timedelta(seconds=i * interval_s) for i in range(n_frames)]
    states = [orbit.state_at(el, t) for t in times]
    walk = np.zeros((n_frames, 3))
    if attitude_walk_deg > 0:
        steps = np.random.default_rng([seed, 7919]).normal(0.0, attitude_walk_deg, (n_frames, 3))
        steps[0] = 0.0
        walk = np.cumsum(steps, axis=0)
    rpy_frames = np.asarray(rpy_deg, dtype=float)[None, :] + walk
    poses = [att.pose_from_rpy(s, *a) for s, a in zip(states, rpy_frames, strict=True)]
    # the scene centre: the layer point on the boresight at mid-sequence
    mid = att.pose_from_rpy(states[n_frames // 2], *rpy_deg)  # the nominal pointing, without the walk
    centre = geodesy.ray_ellipsoid_intersection(mid.position_m, mid.boresight, height_m)
    lon0, lat0, _ = geodesy.ecef_to_geodetic(centre)
    cc, rr = np.meshgrid(np.arange(w_px, dtype=float), np.arange(h_px, dtype=float))
    rays_cam = cam.pixel_to_ray(cc, rr)
    cos_field = 1.0 / np.linalg.norm(rays_cam, axis=-1)
    r_field = np.hypot(cc - cam.cx_px, rr - cam.cy_px) / np.hypot(cam.cx_px, cam.cy_px)
    if not vignetting:
        flat = np.ones_like(cos_field)
    elif vignetting_model == "cos4":
        flat = cos_field**4 * (1.0 - 0.15 * r_field**2)
    elif vignetting_model == "offaxis":
        oc, orow = cam.cx_px + 0.04 * w_px, cam.cy_px - 0.03 * h_px
        cos_off = 1.0 / np.sqrt(1.0 + ((cc - oc) / cam.focal_x_px) ** 2 + ((rr - orow) / cam.focal_y_px) ** 2)
        r_off = np.hypot(cc - oc, rr - orow) / np.hypot(cam.cx_px, cam.cy_px)
        flat = cos_off**3 * (1.0 - 0.25 * r_off**2 + 0.05 * r_off**4)
    else:
        raise ValueError(f"vignetting_model must be 'cos4' or 'offaxis', got {vignetting_model!r}")
    if noise_model not in ("poisson", "camera"):
        raise ValueError(f"noise_model must be 'poisson' or 'camera', got {noise_model!r}")
    fixed = np.random.default_rng([seed, 31337])  # the camera's fixed pattern
    prnu = 1.0 + 0.005 * fixed.normal(size=(h_px, w_px))
    column_e = 0.3 * binning * fixed.normal(size=w_px)[None, :]
    hot = fixed.uniform(size=(h_px, w_px)) < 2e-4
    dark_e = 0.05 * exposure_s * binning * binning  # dark current per binned pixel
    mean_e = airglow_e_per_px_s * exposure_s * binning * binning  # per binned pixel, straight down
    # stars: random directions fixed in the GCRS, magnitudes 1-6.5 (N(<m) ~ 10^(0.5 m))
    star_dir = rng.normal(size=(stars, 3))
    star_dir /= np.linalg.norm(star_dir, axis=1, keepdims=True)
    star_mag = 1.0 + 2.0 * np.log10(rng.uniform(1.0, 10 ** (0.5 * 5.5), stars))
    star_e = 7e5 * exposure_s * 10 ** (-0.4 * star_mag)  # D5 + f/1.4 lens: ~7e5 e/s from a 0 mag star
    # towns: random ground points within 400 km of the scene centre
    enu = geodesy.enu_basis(lon0, lat0)
    town_xy = rng.uniform(-400.0, 400.0, (cities, 2))
    town_sigma_m = rng.uniform(1500.0, 5000.0, cities)
    cloud = _cloud_field(rng) if clouds > 0 else None
    ground_centre = geodesy.geodetic_to_ecef(lon0, lat0, 0.0)
    # the across-track direction on the ground map (x east, y north) and the stripes' phase
    sub = [
        geodesy.geodetic_to_ecef(*geodesy.ecef_to_geodetic(st.position_m)[:2], 0.0) for st in (states[0], states[-1])
    ]
    tx, ty = _sphere_map(np.array(sub), ground_centre)
    across = np.array([-(ty[1] - ty[0]), tx[1] - tx[0]])
    across = across / np.linalg.norm(across) if np.linalg.norm(across) > 0 else np.array([1.0, 0.0])
    stripe_phase = float(np.random.default_rng([seed, 104729]).uniform(0.0, 2.0 * np.pi))
    frames = np.empty((n_frames, h_px, w_px), np.float32)
    notes: list[str] = []
    if int(smear_steps) != smear_steps or smear_steps < 1:
        raise ValueError(f"smear_steps must be a whole number >= 1, got {smear_steps}")

    def render(state, pose, t_s: float) -> np.ndarray:
        """Electrons per exposure (before vignetting and noise) seen at one instant."""
        d = rays_cam @ pose.matrix.T
        o = pose.position_m
        pts = _hit(o, d, height_m)
        seen = np.isfinite(pts[..., 0])
        x, y = _sphere_map(np.where(seen[..., None], pts, centre), centre)
        vertical = 1.0 + gradient * (x / 500.0) + 0.5 * gradient * (y / 500.0) ** 2
        mod = np.ones_like(x)
        for wv in waves:
            mod += wv.value(x, y, t_s)
        normal = pts / np.linalg.norm(pts, axis=-1, keepdims=True)
        dn = d / np.linalg.norm(d, axis=-1, keepdims=True)
        cos_chi = np.abs(np.einsum("...i,...i->...", dn, np.where(seen[..., None], normal, 0.0)))
        slant = np.where(seen, 1.0 / np.clip(cos_chi, 0.05, None), 0.0)
        signal = mean_e * vertical * mod * slant
        # ground: towns and clouds, fixed to the Earth
        ground = _hit(o, d, 0.0)
        on_earth = np.isfinite(ground[..., 0])
        if cities:
            town_pts = ground_centre + town_xy[:, :1] * 1e3 * enu[0] + town_xy[:, 1:] * 1e3 * enu[1]
            lon_t, lat_t, _ = geodesy.ecef_to_geodetic(town_pts)
            town_pts = geodesy.geodetic_to_ecef(lon_t, lat_t, 0.0)
            gflat = np.where(on_earth[..., None], ground, 0.0)
            for tp, sig in zip(town_pts, town_sigma_m, strict=True):
                d2 = np.sum((gflat - tp) ** 2, axis=-1)
                signal += np.where(on_earth, city_peak_ratio * mean_e * np.exp(-0.5 * d2 / sig**2), 0.0)
        if cloud is not None:
            cl = _hit(o, d, 10e3)
            ok = np.isfinite(cl[..., 0])
            gx, gy = _sphere_map(np.where(ok[..., None], cl, ground_centre + 1.0), ground_centre)
            signal += np.where(ok, clouds * mean_e * cloud(gx, gy), 0.0)
        if ground_stripes > 0:
            cl = _hit(o, d, 10e3)
            ok = np.isfinite(cl[..., 0])
            gx, gy = _sphere_map(np.where(ok[..., None], cl, ground_centre + 1.0), ground_centre)
            u = (gx * across[0] + gy * across[1]) / stripes_wavelength_km
            stripes = 0.5 * (1.0 + np.cos(2.0 * np.pi * u + stripe_phase))
            signal += np.where(ok, ground_stripes * mean_e * stripes, 0.0)
        # stars above 50 km
        if stars:
            s_itrs = star_dir @ state.gcrs_to_itrs.T
            col, row = cam.ray_to_pixel(s_itrs @ pose.matrix)
            inside = np.isfinite(col) & (col > -3) & (col < w_px + 2) & (row > -3) & (row < h_px + 2)
            blocked = np.isfinite(_hit(o, s_itrs[inside], 50e3)[:, 0])
            for c0, r0, e in zip(col[inside][~blocked], row[inside][~blocked], star_e[inside][~blocked], strict=True):
                c_lo, c_hi = max(0, int(c0) - 3), min(w_px, int(c0) + 4)
                r_lo, r_hi = max(0, int(r0) - 3), min(h_px, int(r0) + 4)
                if c_lo >= c_hi or r_lo >= r_hi:
                    continue
                sc, sr = np.meshgrid(np.arange(c_lo, c_hi), np.arange(r_lo, r_hi))
                psf = np.exp(-0.5 * ((sc - c0) ** 2 + (sr - r0) ** 2) / 0.8**2) / (2 * np.pi * 0.8**2)
                signal[r_lo:r_hi, c_lo:c_hi] += e * psf
        return signal

    for i, (state, pose) in enumerate(zip(states, poses, strict=True)):
        t0_s = (times[i] - times[0]).total_seconds()
        if smear_steps == 1:  # one instant: the station at the time stamp, the layer at mid-exposure
            signal = render(state, pose, t0_s + 0.5 * exposure_s)
        else:  # the mean over sub-instants spread evenly over the exposure, station and layer moving
            signal = np.zeros((h_px, w_px))
            for j in range(smear_steps):
                dt_s = (j + 0.5) / smear_steps * exposure_s
                st = orbit.state_at(el, times[i] + dt.timedelta(seconds=dt_s))
                signal += render(st, att.pose_from_rpy(st, *rpy_frames[i]), t0_s + dt_s)
            signal /= smear_steps
        electrons = signal * flat
        if noise_model == "camera":
            electrons = electrons * prnu + dark_e + np.where(hot, 50.0 * mean_e, 0.0)
        if noise:
            electrons = rng.poisson(np.clip(electrons, 0.0, None)).astype(float)
            electrons += rng.normal(0.0, read_noise_e * binning, electrons.shape)
        if noise_model == "camera":  # to ADU and back, as a raw developer with black subtraction gives it
            adu = np.clip(np.rint((electrons + column_e) / 1.5) + 1024.0, 0.0, 16383.0 * binning * binning)
            electrons = (adu - 1024.0) * 1.5 - dark_e
        frames[i] = electrons
    notes.append(
        f"{n_frames} frames {interval_s:g} s apart, {exposure_s:g} s exposures rendered at mid-exposure "
        "(no smear by the station's motion during the exposure)"
        if smear_steps == 1
        else f"{n_frames} frames {interval_s:g} s apart, {exposure_s:g} s exposures rendered as the mean of "
        f"{smear_steps} instants over the exposure from the time stamp (smeared by the station's motion)"
    )
    return AirglowSequence(
        frames=frames,
        times=times,
        camera=cam,
        states=states,
        poses=poses,
        rpy_deg=tuple(float(v) for v in rpy_deg),  # type: ignore[arg-type]
        element_set=el,
        height_m=height_m,
        waves=waves,
        centre_lonlat_deg=(float(np.degrees(lon0)), float(np.degrees(lat0))),
        flat=flat.astype(np.float32),
        mean_e=float(mean_e),
        notes=notes,
        focal_mm=float(focal_mm),
        rpy_per_frame_deg=rpy_frames,
    )


def write_sequence_files(seq: AirglowSequence, folder) -> dict:
    """Write a sequence as ``cupola airglow waves`` reads it: 16-bit PNG frames in
    ``folder/frames``, ``folder/frame_times.csv`` (file,time), ``folder/flat.png`` (the
    vignetting, any scale) and ``folder/truth.json`` (the waves); returns the paths and the
    command-line camera and attitude arguments."""
    import json
    from pathlib import Path

    from PIL import Image

    folder = Path(folder)
    frames = folder / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (f, t) in enumerate(zip(seq.frames, seq.times, strict=True)):
        name = f"frame_{i:03d}.png"
        Image.fromarray(np.clip(np.rint(f), 0, 65535).astype(np.uint16)).save(frames / name)
        rows.append(f"{name},{t.isoformat().replace('+00:00', 'Z')}\n")
    times = folder / "frame_times.csv"
    times.write_text("file,time\n" + "".join(rows), encoding="utf-8")
    flat = folder / "flat.png"
    Image.fromarray(np.clip(40000.0 * seq.flat, 0, 65535).astype(np.uint16)).save(flat)
    truth = folder / "truth.json"
    truth.write_text(
        json.dumps(
            {
                "waves": [
                    {
                        "wavelength_km": w.wavelength_km,
                        "azimuth_deg": w.azimuth_deg,
                        "phase_speed_m_s": w.phase_speed_m_s,
                        "amplitude_pct": 100.0 * w.amplitude,
                    }
                    for w in seq.waves
                ],
                "layer_height_m": seq.height_m,
                "notes": seq.notes,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    cam = seq.camera
    focal_mm = seq.focal_mm
    sensor_w = cam.width_px / cam.focal_x_px
    sensor_h = cam.height_px / cam.focal_y_px
    args = [
        "--focal-mm", f"{focal_mm:g}",
        "--sensor-mm", f"{sensor_w * focal_mm:.6f}", f"{sensor_h * focal_mm:.6f}",
        "--attitude", *(f"{v:g}" for v in seq.rpy_deg),
    ]  # fmt: skip
    return {"frames": frames, "frame_times": times, "flat": flat, "truth": truth, "args": args}
