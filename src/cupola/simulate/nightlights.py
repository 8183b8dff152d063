"""Synthetic DSLR night frames from the ISS, written as DNG, with every quantity known.

Used by the tests and the benchmark, and useful to anyone checking the pipeline on their own
settings. A frame is made from:

* the real geometry: an ISS state from a TLE at a time, a camera attitude in LVLH roll/pitch/yaw
  (:mod:`cupola.geometry.attitude`), a Nikon body and lens (full-resolution or a downsampled
  sensor with the same field of view);
* stars of the Hipparcos catalog (the same one the pipeline solves against), each with a flux per
  camera channel from known zero points and colour terms, trailing with the station's rotation
  (LVLH turns about the orbit normal once per orbit, ~0.065 deg/s) through the exposure, hidden
  behind the Earth; a Gaussian PSF;
* city lights: Gaussian patches of known ground radiance per band (lamp colours) on the WGS84
  ellipsoid, dimmed by a known atmospheric extinction; not smeared by the ground's motion (as with
  a tracking mount, or a short exposure);
* vignetting from lensfun evaluated by ``lensfunpy.Modifier`` itself (an implementation independent
  of :mod:`cupola.nightlights.lens`), distortion from the lensfun model as evaluated by
  :class:`~cupola.nightlights.lens.LensModel`;
* sensor effects: photon noise (electrons), a dark signal with an amplifier-glow gradient and hot
  pixels, read noise, black level, 14-bit quantisation and clipping at the white level.

Truth (positions, fluxes, zero points, radiances) comes back as :class:`SyntheticTruth`.

Forward model: partly reused, partly independent on purpose. Reused from cupola: the geometry
(:mod:`cupola.geometry`: orbit, LVLH pose, camera, WGS84), the star catalog the pipeline solves
against, the lens distortion model (:class:`~cupola.nightlights.lens.LensModel`), the airmass
formula and the band irradiances of Vega. Independent, as checks: the radiometric chain from
ground radiance to DN (zero points, colour terms, extinction, exposure, gain) written forwards
here while the pipeline inverts it, the star trails (the LVLH rotation applied to the catalog
directly), and vignetting evaluated by ``lensfunpy.Modifier`` rather than by
:mod:`cupola.nightlights.lens`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.geometry import attitude as att
from cupola.geometry import geodesy, orbit
from cupola.geometry.camera import camera_body, camera_for_body

__all__ = [
    "City",
    "SyntheticTruth",
    "make_frame",
    "default_state",
    "NIGHT_TIME",
    "DEFAULT_ZERO_POINTS",
    "DEFAULT_COLOUR_TERMS",
    "LAMP_RADIANCE_RATIOS",
]

#: a night pass over Texas (the time of the bundled Meteor frame), ISS TLEs bundled with cupola
NIGHT_TIME = dt.datetime(2017, 5, 17, 5, 44, 9, 526000, tzinfo=dt.timezone.utc)
#: zero points of the synthetic camera (mag): counts/s per Bayer plane at ISO 100, f/1 of a
#: Hp = 0, B-V = 0 star is 10^(0.4 ZP)
DEFAULT_ZERO_POINTS = {"R": 13.20, "G": 13.55, "B": 13.05}
#: colour terms a_c of  m_inst,c = Hp + a_c (B-V) - ZP_c
DEFAULT_COLOUR_TERMS = {"R": -0.45, "G": -0.05, "B": 0.55}
#: band radiance ratios (G/R, B/G) of typical lamps for the synthetic cities: lamps of the lamp
#: table of cupola.nightlights.colour (D3S) in the Vega-equivalent radiance the calibration gives
#: with its default constants (the inverse of colour.camera_ratios_from_radiance, atmosphere
#: corrected): HPS_LSPDD, a 4000 K LED (Cylinder 1014), a 4280 K metal halide, a T8 fluorescent, a
#: mercury lamp and an amber LED street light (Streetview 3 amber)
LAMP_RADIANCE_RATIOS = {
    "hps": (0.80, 0.30),
    "led": (1.46, 0.96),
    "metal_halide": (1.47, 0.85),
    "fluorescent": (1.42, 0.83),
    "mercury": (1.88, 0.68),
    "amber_led": (0.69, 0.10),
}


@dataclass(frozen=True)
class City:
    """A patch of light: centre at a fraction of the frame (``col_frac``, ``row_frac``) placed on
    the ground, Gaussian of ``sigma_m`` metres, peak ground radiance ``radiance_g`` (nW cm^-2 sr^-1,
    green band) and lamp colours ``ratios`` = (G/R, B/G)."""

    col_frac: float
    row_frac: float
    sigma_m: float
    radiance_g: float
    ratios: tuple[float, float]


@dataclass
class SyntheticTruth:
    path: Path
    time: dt.datetime
    state: orbit.StateVector
    rpy_deg: tuple
    pose: att.Pose
    rotation_cam_to_icrs: np.ndarray
    width_px: int
    height_px: int
    focal_mm: float
    exposure_s: float
    iso: float
    f_number: float
    zero_points: dict
    colour_terms: dict
    band_irradiance: dict
    extinction: dict
    stars: dict  # hip, col, row (mid-exposure, photo pixels), hp, b_v, flux_R/G/B (plane counts/s at ref), visible
    cities: list = field(default_factory=list)  # dicts: lon, lat, sigma_m, radiance R/G/B (nW cm-2 sr-1)
    trail_px: float = 0.0
    electrons_per_dn: float = 0.1
    notes: list = field(default_factory=list)


def default_state(time: dt.datetime = NIGHT_TIME) -> tuple[orbit.ElementSet, orbit.StateVector]:
    from importlib import resources

    from cupola.io.tle import element_set_at

    tle = resources.files("cupola") / "data" / "samples" / "iss-meteor-2017" / "iss_tle_25544_20170101-20170630.txt"
    with resources.as_file(tle) as path:
        el = element_set_at(path, time)
    return el, orbit.state_at(el, time)


def _modifier_vignetting(lens_make, lens_model, model, focal_mm, f_number, width, height, step=8):
    """Relative illumination V at every sensor pixel from lensfunpy.Modifier on a coarse grid."""
    import lensfunpy
    from scipy.ndimage import map_coordinates

    db = lensfunpy.Database()
    cam = db.find_cameras("NIKON CORPORATION", model, loose_search=True)[0]
    lens = db.find_lenses(cam, lens_make, lens_model, loose_search=True)[0]
    ws, hs = max(8, width // step), max(8, height // step)
    mod = lensfunpy.Modifier(lens, cam.crop_factor, ws, hs)
    mod.initialize(
        float(focal_mm),
        float(f_number),
        1000.0,
        scale=1.0,
        pixel_format=np.float32,
        flags=lensfunpy.ModifyFlags.VIGNETTING,
    )
    img = np.ones((hs, ws, 3), np.float32)
    mod.apply_color_modification(img)
    v = 1.0 / img[..., 1].astype(float)  # correction gain -> relative illumination
    rows = (np.arange(height) - (height - 1) / 2.0) * (hs / height) + (hs - 1) / 2.0
    cols = (np.arange(width) - (width - 1) / 2.0) * (ws / width) + (ws - 1) / 2.0
    out = np.empty((height, width), np.float32)
    for r0 in range(0, height, 512):
        rr = rows[r0 : r0 + 512]
        gr, gc = np.meshgrid(rr, cols, indexing="ij")
        out[r0 : r0 + 512] = map_coordinates(v, [gr.ravel(), gc.ravel()], order=1, mode="nearest").reshape(gr.shape)
    return out


def make_frame(
    path,
    *,
    model: str = "NIKON D5",
    width_px: int | None = None,
    height_px: int | None = None,
    focal_mm: float = 50.0,
    f_number: float = 2.8,
    exposure_s: float = 1.0,
    iso: float = 6400,
    lens_make: str = "Nikon",
    lens_model: str | None = "AF-S Zoom-Nikkor 24-70mm f/2.8G ED",
    time: dt.datetime = NIGHT_TIME,
    rpy_deg=(0.0, 75.0, 0.0),
    stars: bool = True,
    star_mag_limit: float = 7.0,
    cities: list[City] | None = None,
    zero_points: dict | None = None,
    colour_terms: dict | None = None,
    extinction: dict | None = None,
    band_irradiance: dict | None = None,
    psf_sigma_px: float = 1.2,
    sky_e_per_px_s: float = 3.0,
    dark_e_per_s: float = 2.0,
    hot_pixel_fraction: float = 5e-4,
    read_noise_e: float = 2.0,
    electrons_per_dn: float | None = None,
    black_level: int = 1008,
    white_level: int = 15520,
    noise: bool = True,
    vignetting: bool = True,
    distortion: bool = True,
    flat_field: bool = False,
    flat_e: float = 20000.0,
    dark_only: bool = False,
    seed: int = 0,
    exif: dict | None = None,
    rotation_rate_deg_s: float | None = None,
) -> SyntheticTruth:
    """Render one frame and write it as DNG to ``path``; returns the truth.

    ``flat_field=True`` renders a uniform source of ``flat_e`` electrons per pixel (on axis)
    instead of the scene (a flat-field frame); ``dark_only=True`` renders the lens-capped dark
    frame (same dark pattern, ``seed`` picks the noise, ``seed`` 0 the dark pattern is fixed).
    ``exif`` overrides what is written (None values leave a tag out).
    """
    from cupola.io.dng import write_dng
    from cupola.nightlights.catalog import load_catalog
    from cupola.nightlights.lens import lens_from_lensfun
    from cupola.nightlights.photometry import VEGA_BAND_IRRADIANCE_W_M2
    from cupola.nightlights.radiance import DEFAULT_EXTINCTION_MAG

    body = camera_body(model)
    w = int(width_px or body.width_px)
    h = int(height_px or body.height_px)
    zp = dict(DEFAULT_ZERO_POINTS, **(zero_points or {}))
    ct = dict(DEFAULT_COLOUR_TERMS, **(colour_terms or {}))
    ext = dict(DEFAULT_EXTINCTION_MAG, **(extinction or {}))
    e0 = dict(VEGA_BAND_IRRADIANCE_W_M2, **(band_irradiance or {}))
    g_e = electrons_per_dn if electrons_per_dn is not None else 0.1 * 6400.0 / iso
    rng = np.random.default_rng(seed)
    _, state = default_state(time)
    pose = att.pose_from_rpy(state, *rpy_deg)
    cam = camera_for_body(body, focal_mm=focal_mm, width_px=w, height_px=h)
    lens = (
        lens_from_lensfun(
            "NIKON CORPORATION",
            body.model,
            lens_make,
            lens_model,
            focal_mm=focal_mm,
            f_number=f_number,
            width_px=w,
            height_px=h,
        )
        if lens_model
        else None
    )
    if lens is not None and not distortion:
        from dataclasses import replace

        lens = replace(lens, distortion="none")
    # camera -> ICRS (GCRS axes) at mid-exposure
    r_cam_icrs = state.gcrs_to_itrs.T @ pose.matrix
    rate_factor = exposure_s * (iso / 100.0) / f_number**2  # DN per (DN/s at ISO 100 f/1)
    vig = (
        _modifier_vignetting(lens_make, lens_model, body.model, focal_mm, f_number, w, h)
        if (vignetting and lens_model)
        else np.ones((h, w), np.float32)
    )

    cfa = "RGGB"
    chan_of = np.array([[0, 1], [1, 2]])  # R G / G B
    signal = np.zeros((h, w), np.float64)  # DN before noise
    truth_stars = {"hip": np.zeros(0, int)}
    trail_px = 0.0
    city_truth = []
    if not dark_only and not flat_field:
        # -- sky background (airglow) over the whole frame, then the Earth replaces it ----------
        rows_sp = np.arange(h // 2) * 2 + 0.5
        cols_sp = np.arange(w // 2) * 2 + 0.5
        cc, rr = np.meshgrid(cols_sp, rows_sp)
        cu, ru = lens.undistort(cc, rr) if lens is not None else (cc, rr)
        rays = cam.pixel_to_ray(cu, ru)
        d_itrs = rays @ pose.matrix.T
        hit = geodesy.ray_ellipsoid_intersection(pose.position_m, d_itrs.reshape(-1, 3), 0.0).reshape(d_itrs.shape)
        earth = np.isfinite(hit[..., 0])
        omega_sp = 4.0 / (cam.focal_x_px * cam.focal_y_px)  # superpixel solid angle on axis (sr)
        plane_rate = {c: np.zeros(earth.shape) for c in "RGB"}
        if cities:
            lon, lat, _ = geodesy.ecef_to_geodetic(np.where(earth[..., None], hit, 0.0))
            up = geodesy.ellipsoid_normal(np.where(earth[..., None], hit, 1.0))
            los = -d_itrs / np.linalg.norm(d_itrs, axis=-1, keepdims=True)
            cos_vza = np.clip(np.einsum("...i,...i->...", los, up), 1e-3, 1.0)
            from cupola.nightlights.radiance import airmass as _airmass

            airmass = _airmass(np.degrees(np.arccos(cos_vza)))
            for city in cities:
                i = int(round(city.row_frac * (h // 2 - 1)))
                j = int(round(city.col_frac * (w // 2 - 1)))
                if not earth[i, j]:
                    raise ValueError(f"city at {city.col_frac}, {city.row_frac} of the frame is not on the Earth")
                c_xyz = hit[i, j]
                dist = np.linalg.norm(np.where(earth[..., None], hit, np.inf) - c_xyz, axis=-1)
                prof = np.exp(-0.5 * (dist / city.sigma_m) ** 2)
                gr, bg = city.ratios
                lg = city.radiance_g
                rad = {"R": lg / gr, "G": lg, "B": lg * bg}
                clon, clat, _ = geodesy.ecef_to_geodetic(c_xyz)
                city_truth.append(
                    {
                        "lon": float(np.degrees(clon)),
                        "lat": float(np.degrees(clat)),
                        "sigma_m": city.sigma_m,
                        "radiance_nw": rad,
                        "ratios": city.ratios,
                        "col_sp": j,
                        "row_sp": i,
                        "airmass": float(airmass[i, j]),
                    }
                )
                for c in "RGB":
                    l_toa = rad[c] * 1e-5 * prof * np.exp(-0.4 * np.log(10) * ext[c] * airmass)
                    plane_rate[c] += l_toa * omega_sp / e0[c] * 10 ** (0.4 * zp[c])
        for c in "RGB":
            plane_rate[c] = plane_rate[c].astype(np.float64)
        sky_dn = sky_e_per_px_s * exposure_s / g_e
        # plane_rate (DN/s at ref per plane pixel) -> every mosaic pixel of that colour
        for dy in (0, 1):
            for dx in (0, 1):
                c = "RGB"[chan_of[dy, dx]]
                signal[dy::2, dx::2] = plane_rate[c] * rate_factor + np.where(earth, 0.0, sky_dn)
        signal *= vig
        # -- stars ---------------------------------------------------------------------------
        if stars:
            cat = load_catalog(star_mag_limit)
            epoch = 2000.0 + (time - dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)).total_seconds() / (
                365.25 * 86400
            )
            s_icrs = cat.unit_vectors(epoch)
            s_cam0 = s_icrs @ r_cam_icrs
            fov = s_cam0[:, 2] > 0.5
            idx = np.flatnonzero(fov)
            r_g, v_g = state.gcrs_position_m, state.gcrs_velocity_m_s
            hvec = np.cross(r_g, v_g)
            omega = np.linalg.norm(hvec) / np.dot(r_g, r_g)  # rad/s
            if rotation_rate_deg_s is not None:
                omega = np.radians(rotation_rate_deg_s)
            n_hat = hvec / np.linalg.norm(hvec)
            k = max(2, int(np.ceil(omega * exposure_s * cam.focal_px / 0.25)) + 1)
            ts = (np.arange(k) + 0.5) / k - 0.5
            from scipy.spatial.transform import Rotation

            cols_t = np.empty((idx.size, k))
            rows_t = np.empty((idx.size, k))
            for m, t in enumerate(ts * exposure_s):
                rot = Rotation.from_rotvec(n_hat * omega * t).as_matrix()  # LVLH turned by omega t
                s_cam = s_icrs[idx] @ (rot @ r_cam_icrs)
                cu_, ru_ = cam.ray_to_pixel(s_cam)
                cols_t[:, m], rows_t[:, m] = lens.distort(cu_, ru_) if lens is not None else (cu_, ru_)
            c_mid, r_mid = cam.ray_to_pixel(s_cam0[idx])
            c_mid_d, r_mid_d = lens.distort(c_mid, r_mid) if lens is not None else (c_mid, r_mid)
            c_mean, r_mean = cols_t.mean(axis=1), rows_t.mean(axis=1)
            trail_px = float(omega * exposure_s * cam.focal_px)
            # hidden by the Earth (with a 50 km margin for the opaque lower atmosphere)?
            d_itrs_s = (state.gcrs_to_itrs @ s_icrs[idx].T).T
            blocked = np.isfinite(geodesy.ray_ellipsoid_intersection(pose.position_m, d_itrs_s, 50_000.0)[:, 0])
            inside = (c_mean > 8) & (c_mean < w - 9) & (r_mean > 8) & (r_mean < h - 9)
            show = inside & ~blocked
            hp, bv = cat.hp_mag[idx], cat.b_v[idx]
            bv = np.where(np.isfinite(bv), bv, 0.6)
            flux = {c: 10 ** (-0.4 * (hp + ct[c] * bv - zp[c])) for c in "RGB"}  # plane counts/s at ref, on axis
            # on-axis -> at the pixel: vignetting V over the pixel solid-angle factor
            x = (c_mid - cam.cx_px) / cam.focal_x_px
            y = (r_mid - cam.cy_px) / cam.focal_y_px
            cos3 = (1.0 + x * x + y * y) ** -1.5
            area = lens.area_factor(c_mid_d, r_mid_d) if lens is not None else np.ones_like(x)
            throughput = 1.0 / (cos3 * area)  # times the vignetting at each pixel of the trail
            sel = np.flatnonzero(show)
            rad = int(np.ceil(4.5 * psf_sigma_px))
            oy, ox = np.mgrid[-rad : rad + 1, -rad : rad + 1]
            fl = np.stack([flux[c][sel] * throughput[sel] for c in "RGB"], axis=1)  # (n, 3)
            n_idx = np.arange(sel.size)[:, None, None]
            for m in range(k):
                pc = cols_t[sel, m]
                pr = rows_t[sel, m]
                px = np.rint(pc).astype(int)[:, None, None] + ox
                py = np.rint(pr).astype(int)[:, None, None] + oy
                wgt = np.exp(-0.5 * ((px - pc[:, None, None]) ** 2 + (py - pr[:, None, None]) ** 2) / psf_sigma_px**2)
                wgt /= wgt.sum(axis=(1, 2), keepdims=True)
                ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
                pyc, pxc = np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)
                val = 4.0 * wgt * fl[n_idx, chan_of[pyc % 2, pxc % 2]] * (rate_factor / k) * vig[pyc, pxc]
                np.add.at(signal, (py[ok], px[ok]), val[ok])
            truth_stars = {
                "hip": cat.hip[idx],
                "col": c_mean,
                "row": r_mean,
                "col_mid": c_mid_d,
                "row_mid": r_mid_d,
                "hp": hp,
                "b_v": bv,
                "visible": show,
                "throughput": throughput,
                **{f"flux_{c}": flux[c] for c in "RGB"},
            }
    elif flat_field:
        signal[:] = flat_e / g_e
        signal *= vig

    # -- sensor: electrons, dark signal, noise, black level, clipping --------------------------
    pat_rng = np.random.default_rng(12345)  # the dark pattern is a property of the sensor
    yy = np.linspace(0, 1, h)[:, None]
    xx = np.linspace(0, 1, w)[None, :]
    dark_rate = dark_e_per_s * (1.0 + 4.0 * np.exp(-((1 - xx) ** 2 + yy**2) / 0.02))  # amp glow top right
    hot = pat_rng.random((h, w)) < hot_pixel_fraction
    dark_rate = dark_rate + hot * pat_rng.uniform(50, 500, (h, w))
    dark_e = dark_rate * exposure_s
    e = signal * g_e + dark_e
    if noise:
        e = rng.poisson(np.clip(e, 0, None)).astype(np.float64) + rng.normal(0.0, read_noise_e, e.shape)
    dn = np.clip(np.rint(e / g_e + black_level), 0, white_level).astype(np.uint16)
    meta = {
        "exposure_s": exposure_s,
        "f_number": f_number,
        "iso": int(iso),
        "focal_mm": focal_mm,
        "lens_make": lens_make if lens_model else None,
        "lens_model": lens_model,
        "datetime_original": time.astimezone(dt.timezone.utc).replace(tzinfo=None),
    }
    meta.update(exif or {})
    path = Path(path)
    write_dng(
        path,
        dn,
        make="NIKON CORPORATION",
        model=body.model,
        cfa_pattern=cfa,
        black_level=black_level,
        white_level=white_level,
        **meta,
    )
    return SyntheticTruth(
        path=path,
        time=time,
        state=state,
        rpy_deg=tuple(rpy_deg),
        pose=pose,
        rotation_cam_to_icrs=r_cam_icrs,
        width_px=w,
        height_px=h,
        focal_mm=focal_mm,
        exposure_s=exposure_s,
        iso=iso,
        f_number=f_number,
        zero_points=zp,
        colour_terms=ct,
        band_irradiance=e0,
        extinction=ext,
        stars=truth_stars,
        cities=city_truth,
        trail_px=trail_px,
        electrons_per_dn=g_e,
    )
