"""Active fire from a before/after pair of night photos: new light whose colour is a flame's.

Pure computation on arrays (the fire colour table is read from ``cupola/data/lamps``).

Physics
    A flame's visible light is close to a grey body at ~1000-1400 K (smouldering ~800 K); the soot
    that radiates it has an emissivity falling with wavelength, ``eps ~ lambda^-alpha`` with
    ``alpha`` ~ 0.7-1.4 in the visible (Hottel & Broughton 1932), which makes it a little bluer than
    a black body. Its colour through a DSLR on the ISS is synthesised exactly as the lamps' are
    (:mod:`cupola.analysis.lamps`: spectrum x window x atmosphere x channel sensitivity), over
    800-1500 K every 25 K, ``alpha`` 0, 0.7, 1.4, aerosol optical depth at 550 nm 0.05, 0.15, 0.4
    (smoke) and airmass 1 and 2: ``tools/fire_colours.py`` writes the table
    ``cupola/data/lamps/fire_colours_<camera>.csv`` from the shared camera responses.
    Through the D3S a 1000 K flame has G/R ~0.19, B/G ~0.10 and 1500 K G/R ~0.39: redder than
    every high-pressure sodium lamp of the library (G/R 0.47-0.87) and every incandescent bulb
    (0.68-0.86); amber LEDs and low-pressure sodium (G/R 0.08-0.73, B/G < 0.11) overlap it.

Model
    The lamp classifier of :mod:`cupola.analysis.lamp_colour` (a Gaussian kernel density per class in
    (ln G/R, ln B/G), kernel 0.15 plus 0.05 of noise, equal priors) with a fourth class, "fire",
    whose kernels are the synthesised flames. P(fire) is its posterior; a colour more than
    :data:`MAX_DISTANCE` kernel widths from every flame has P(fire) = 0 (a deep-red LED is not a
    fire because it is unlike the lamps).

Change
    The pixels are linear camera signals (R, G, B in the camera's own system, as the lamp table:
    a raw-developed linear photo or radiance turned into camera ratios; a JPEG's gamma must be
    undone first). New light: after minus before (the brightness R + G + B) above ``k_sigma``
    robust standard deviations of the pair's brightness difference and at least ``min_ratio`` times
    the light before (absent or much fainter before). Each 8-connected blob of new light is judged
    by the colour of its added light (the sum over the blob of after - before, per band), so that
    a fire beside a lamp is judged by its own colour; the blob is an active fire where its
    P(fire) >= ``p_min``; its pixels carry P(fire) as their confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from cupola.analysis.lamp_colour import (
    CLASS_UNCLASSIFIED,
    LAMP_CLASSES,
    LampClass,
    LampModel,
    LampTable,
    fit_lamp_model,
    lamp_groups,
    read_lamp_table,
)
from cupola.analysis.lamps import WAVELENGTH_NM, CameraResponse, camera_ratios, planck_spd
from cupola.errors import InputError

__all__ = [
    "FIRE_CLASS",
    "FIRE_TEMPERATURES_K",
    "SOOT_ALPHAS",
    "SMOKE_TAU_550",
    "AIRMASSES",
    "P_MIN",
    "K_SIGMA",
    "MIN_RATIO",
    "flame_spd",
    "synthesise_fire_colours",
    "FireColours",
    "read_fire_colours",
    "fire_model",
    "fire_probability",
    "fire_confusion",
    "NewLight",
    "new_light",
    "NightFire",
    "night_fire",
]

#: The flame class added to the lamp classes (code 4 in the confusion tables)
FIRE_CLASS = LampClass(4, "fire", ("FIRE",), "#e31a1c")
#: Synthesised flames: temperatures (K), soot emissivity exponents, aerosol depths at 550 nm, airmasses
FIRE_TEMPERATURES_K = tuple(float(t) for t in range(800, 1501, 25))
SOOT_ALPHAS = (0.0, 0.7, 1.4)
SMOKE_TAU_550 = (0.05, 0.15, 0.4)
AIRMASSES = (1.0, 2.0)
#: Kernel distance (sigmas) beyond which a colour is unlike every flame: P(fire) = 0
MAX_DISTANCE = 4.0
#: Defaults of the change test, chosen on the benchmark's tuning seeds (docs/hazards.md)
P_MIN = 0.5
K_SIGMA = 4.0
MIN_RATIO = 2.0
#: The smallest blob mapped (pixels)
MIN_PIXELS = 1


def flame_spd(wavelength_nm, temperature_k: float, soot_alpha: float = 0.0) -> np.ndarray:
    """Relative spectral radiance of a grey body (``soot_alpha`` 0) or of soot, emissivity
    ``(lambda / 560 nm)^-soot_alpha``, at ``temperature_k``."""
    wl = np.asarray(wavelength_nm, float)
    return planck_spd(wl, temperature_k) * (wl / 560.0) ** (-soot_alpha)


def synthesise_fire_colours(camera: CameraResponse) -> list[tuple[float, float, float, float, float, float]]:
    """(temperature K, soot alpha, tau_550, airmass, G/R, B/G) of every synthesised flame through
    ``camera``, the window and the atmosphere (:func:`cupola.analysis.lamps.camera_ratios`)."""
    rows = []
    for t in FIRE_TEMPERATURES_K:
        for a in SOOT_ALPHAS:
            spd = flame_spd(WAVELENGTH_NM, t, a)
            for tau in SMOKE_TAU_550:
                for am in AIRMASSES:
                    gr, bg = camera_ratios(WAVELENGTH_NM, spd, camera, atmosphere_kw={"tau_550": tau, "airmass": am})
                    rows.append((t, a, tau, am, gr, bg))
    return rows


@dataclass(frozen=True, eq=False)
class FireColours:
    """The synthesised flames of one camera (one row a flame)."""

    camera: str
    temperature_k: np.ndarray
    soot_alpha: np.ndarray
    tau_550: np.ndarray
    airmass: np.ndarray
    g_r: np.ndarray
    b_g: np.ndarray


@lru_cache(maxsize=4)
def read_fire_colours(camera: str = "d3s", path: str | Path | None = None) -> FireColours:
    """The bundled flame table of ``camera`` (``fire_colours_<camera>.csv``), or the one at ``path``."""
    from cupola.io.tables import read_table

    cam = camera.lower()
    p = (
        Path(str(resources.files("cupola") / "data" / "lamps" / f"fire_colours_{cam}.csv"))
        if path is None
        else Path(path)
    )
    if not p.is_file():
        raise InputError(f"camera: no flame colour table for {camera!r} ({p.name})")
    cols = ("temperature_k", "soot_alpha", "tau_550", "airmass", "g_r", "b_g")
    rows = list(read_table(p, "fire colours", required=cols))
    return FireColours(cam, *(np.array([r.number(c) for r in rows]) for c in cols))


def _with_fires(table: LampTable, fires: FireColours) -> LampTable:
    """The lamp table with the flames appended as lamps of type ``FIRE``."""
    import dataclasses

    n = len(fires.g_r)
    nan = np.full(n, np.nan)
    return dataclasses.replace(
        table,
        file=table.file
        + tuple(
            f"FIRE_{t:.0f}K_a{a:g}_tau{u:g}_m{m:g}"
            for t, a, u, m in zip(fires.temperature_k, fires.soot_alpha, fires.tau_550, fires.airmass)
        ),
        type=table.type + ("FIRE",) * n,
        g_r=np.concatenate([table.g_r, fires.g_r]),
        b_g=np.concatenate([table.b_g, fires.b_g]),
        sp_ratio=np.concatenate([table.sp_ratio, nan]),
        sli=np.concatenate([table.sli, nan]),
        mel_der=np.concatenate([table.mel_der, nan]),
        cct_k=np.concatenate([table.cct_k, nan]),
        duv=np.concatenate([table.duv, nan]),
    )


@lru_cache(maxsize=4)
def fire_table(camera: str = "d3s") -> LampTable:
    """The bundled lamps of ``camera`` and its synthesised flames in one table."""
    return _with_fires(read_lamp_table(camera), read_fire_colours(camera))


@lru_cache(maxsize=4)
def fire_model(camera: str = "d3s") -> LampModel:
    """The lamp classes and the fire class fitted on the bundled lamps and flames of ``camera``."""
    return fit_lamp_model(fire_table(camera), (*LAMP_CLASSES, FIRE_CLASS))


def _class_terms_noisy(k, x: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log density of a class (its isotropic kernels widened per point by the variances ``var``
    (m, 2) of ln G/R and ln B/G) and the smallest Mahalanobis distance, at ``x`` (m, 2)."""
    h = 1.0 / float(k.precision[0, 0])  # the class's isotropic kernel variance (width + noise)
    cov = h + var  # (m, 2)
    d2 = (x[:, None, :] - k.centres[None, :, :]) ** 2 / cov[:, None, :]
    m2 = d2.sum(axis=2)
    lo = m2.min(axis=1)
    log_norm = k.log_norm + 0.5 * (2.0 * np.log(h) - np.log(cov).sum(axis=1))
    logp = np.log(np.exp(-0.5 * (m2 - lo[:, None])).sum(axis=1)) - 0.5 * lo + log_norm
    return logp, np.sqrt(lo)


def fire_probability(g_r, b_g, model: LampModel | None = None, noise_log=None) -> np.ndarray:
    """P(fire) (float64, the shape of ``g_r``) of colours G/R, B/G in the camera system: the fire
    class's posterior, 0 farther than :data:`MAX_DISTANCE` kernel widths from every flame, NaN
    where a ratio is not valid. ``noise_log`` (shape of ``g_r`` + (2,)): the standard deviation
    of each colour's ln G/R and ln B/G beyond the model's own 5 % (a faint light's measurement
    noise), which widens every class's kernels for that colour."""
    from cupola.analysis.lamp_colour import _log_features

    m = model or fire_model()
    names = [c.name for c in m.classes]
    if FIRE_CLASS.name not in names:
        raise ValueError("fire_probability: the model has no fire class")
    x = _log_features(g_r, b_g)
    shape = x.shape[:-1]
    x = x.reshape(-1, 2)
    var = np.zeros_like(x) if noise_log is None else np.square(np.asarray(noise_log, float)).reshape(-1, 2)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(var).all(axis=1)
    out = np.full(len(x), np.nan)
    if ok.any():
        terms = [_class_terms_noisy(k, x[ok], var[ok]) for k in m.kernels]
        logp = np.stack([t[0] for t in terms])
        logp -= logp.max(axis=0, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(axis=0, keepdims=True)
        i = names.index(FIRE_CLASS.name)
        out[ok] = np.where(terms[i][1] <= MAX_DISTANCE, post[i], 0.0)
    return out.reshape(shape)


def fire_confusion(camera: str = "d3s", p_min: float = P_MIN, band_k: float = 100.0) -> dict:
    """Leave-one-out: each lamp (with its duplicates, :func:`lamp_groups`) scored by a model fitted
    without it, and each band of ``band_k`` kelvin of flames by a model fitted without that band.
    Returns per lamp family the number of lamps and how many were taken for fire (P(fire) >=
    ``p_min``), and per flame temperature band how many flames were found."""
    lamps = read_lamp_table(camera)
    fires = read_fire_colours(camera)
    table = _with_fires(lamps, fires)
    n_lamps = len(lamps)
    classes = (*LAMP_CLASSES, FIRE_CLASS)
    groups = lamp_groups(lamps)
    p = np.full(len(table), np.nan)
    for g in np.unique(groups):
        test = np.zeros(len(table), bool)
        test[:n_lamps] = groups == g
        m = fit_lamp_model(table, classes, keep=~test)
        p[test] = fire_probability(table.g_r[test], table.b_g[test], m)
    band = np.floor((fires.temperature_k - FIRE_TEMPERATURES_K[0]) / band_k)
    for b in np.unique(band):
        test = np.zeros(len(table), bool)
        test[n_lamps:] = band == b
        m = fit_lamp_model(table, classes, keep=~test)
        p[test] = fire_probability(table.g_r[test], table.b_g[test], m)
    fam = np.array(table.family)
    lamp_rows = {}
    for f in sorted(set(fam[:n_lamps])):
        sel = fam[:n_lamps] == f
        lamp_rows[f] = {"lamps": int(sel.sum()), "as_fire": int((p[:n_lamps][sel] >= p_min).sum())}
    fire_rows = {}
    for t0 in np.unique(band):
        sel = band == t0
        temps = fires.temperature_k[sel]
        key = f"{temps.min():.0f}-{temps.max():.0f} K"
        fire_rows[key] = {"flames": int(sel.sum()), "as_fire": int((p[n_lamps:][sel] >= p_min).sum())}
    return {"lamps": lamp_rows, "flames": fire_rows, "p_fire": p, "unclassified_code": CLASS_UNCLASSIFIED}


@dataclass(frozen=True)
class NewLight:
    """``mask`` new light; ``added`` (3, rows, cols) after - before; ``sigma`` the robust standard
    deviation of the brightness difference; ``band_sigma`` (3,) that of each band's difference."""

    mask: np.ndarray
    added: np.ndarray
    sigma: float
    band_sigma: np.ndarray


def new_light(
    before_rgb: np.ndarray, after_rgb: np.ndarray, *, k_sigma: float = K_SIGMA, min_ratio: float = MIN_RATIO
) -> NewLight:
    """Light present in 'after' and absent or ``min_ratio`` times fainter in 'before' (module
    docstring). NaN pixels are never new light.

    Raises:
        InputError: the images are not (3, rows, cols) of one shape, or have no valid pixel.
    """
    b = np.asarray(before_rgb, np.float64)
    a = np.asarray(after_rgb, np.float64)
    if a.ndim != 3 or a.shape[0] != 3 or b.shape != a.shape:
        raise InputError(f"night photos: expected two (3, rows, cols) R, G, B images, got {b.shape} and {a.shape}")
    valid = np.isfinite(b).all(axis=0) & np.isfinite(a).all(axis=0)
    if not valid.any():
        raise InputError("night photos: no pixel is valid in both images")
    b = _normalised(b, a, np.asarray(valid, bool))
    lb, la = b.sum(axis=0), a.sum(axis=0)
    d = la - lb
    floor = float(np.finfo(np.float32).eps * max(float(np.max(np.abs(la[valid]))), 1.0))
    # an exactly repeated, noise-free background: any added light is new (the floor)
    sigma = max(_robust_sigma(d[valid]), floor)
    band_sigma = np.array([max(_robust_sigma((a[c] - b[c])[valid]), floor / 3.0) for c in range(3)])
    with np.errstate(invalid="ignore"):
        mask = valid & (d > k_sigma * sigma) & (la >= min_ratio * np.maximum(lb, 0.0))
    return NewLight(mask, a - b, sigma, band_sigma)


def _normalised(b: np.ndarray, a: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """'before' put on the radiometry of 'after', per band: a gain, the median of after/before
    over the lights of 'before' (brighter than 20 robust sigma of its dark sky: mostly the
    unchanged city), and an offset, the median of after - gain x before over every valid pixel
    (exposure, ISO, haze and sky glow differ between two night photos)."""
    out = np.empty_like(b)
    for c in range(3):
        bv, av = b[c][valid], a[c][valid]
        sky = float(np.median(bv))
        lit = bv > sky + 20.0 * max(_robust_sigma(bv), 1e-12)
        gain = float(np.median(av[lit] / bv[lit])) if lit.sum() >= 20 else 1.0
        gain = gain if np.isfinite(gain) and gain > 0 else 1.0
        offset = float(np.median(av - gain * bv))
        out[c] = gain * b[c] + offset
    return out


def _robust_sigma(v: np.ndarray) -> float:
    """1.4826 x the median absolute deviation from the median."""
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


@dataclass(frozen=True)
class NightFire:
    """``mask`` active fire; ``p_fire`` per pixel (the P(fire) of its blob of new light, 0 off new
    light); ``light`` the new light; ``blobs`` per blob of new light: pixels, G/R, B/G, P(fire)."""

    mask: np.ndarray
    p_fire: np.ndarray
    light: NewLight
    blobs: list[dict]


def night_fire(
    before_rgb: np.ndarray,
    after_rgb: np.ndarray,
    *,
    p_min: float = P_MIN,
    k_sigma: float = K_SIGMA,
    min_ratio: float = MIN_RATIO,
    model: LampModel | None = None,
) -> NightFire:
    """Active fires of a night pair (module docstring)."""
    from scipy import ndimage

    light = new_light(before_rgb, after_rgb, k_sigma=k_sigma, min_ratio=min_ratio)
    labels, n = ndimage.label(light.mask, structure=np.ones((3, 3), bool))
    p_pix = np.zeros(light.mask.shape, np.float32)
    blobs: list[dict] = []
    if n:
        idx = np.arange(1, n + 1)
        added = np.nan_to_num(light.added)
        # a blob's colour from its core, the pixels of at least half its brightest added light:
        # the faint rim is mostly noise selected for being positive, and mixes with neighbours
        lum = added.sum(axis=0)
        peak = np.concatenate([[0.0], ndimage.maximum(lum, labels, idx)])
        core = np.where(lum >= 0.5 * peak[labels], labels, 0)
        sums = np.stack([ndimage.sum(added[c], core, idx) for c in range(3)])
        with np.errstate(invalid="ignore", divide="ignore"):
            gr = np.where(sums[0] > 0, sums[1] / sums[0], np.nan)
            bg = np.where(sums[1] > 0, np.maximum(sums[2], 0.0) / sums[1], np.nan)
        sizes = ndimage.sum(np.ones_like(labels), labels, idx)
        core_sizes = ndimage.sum(np.ones_like(core), core, idx)
        # the noise of each blob's sums (independent pixels), as ln-ratio standard deviations; a
        # band under its noise counts as its noise (B of a faint flame: B/G then means "under")
        sd = light.band_sigma[:, None] * np.sqrt(core_sizes)[None, :]
        rel = sd / np.maximum(sums, sd)
        noise = np.stack([np.hypot(rel[0], rel[1]), np.hypot(rel[1], rel[2])], axis=-1)
        p = np.nan_to_num(fire_probability(gr, bg, model, noise_log=noise), nan=0.0)
        p_pix = np.concatenate([[0.0], p]).astype(np.float32)[labels]
        blobs = [
            {"pixels": int(s), "g_r": float(x), "b_g": float(y), "p_fire": float(q)}
            for s, x, y, q in zip(sizes, gr, bg, p)
        ]
    mask = light.mask & (p_pix >= p_min)
    return NightFire(mask, np.where(light.mask, p_pix, 0.0).astype(np.float32), light, blobs)
