"""Gravity waves in a cleaned, motion-compensated stack of airglow frames.

1. **Periodograms**: each frame's modulation, tapered by a window that falls smoothly to zero at
   the edge of the area the sequence sees (cosine taper), Fourier transformed (numpy FFT);
   the sequence's periodogram is the mean over frames (Welch), so a wave that moves during the
   sequence loses nothing.
2. **Significance against red noise** (:func:`red_noise_test`): per annulus of |k|, the
   background is the median of the periodogram (a smooth, red spectrum), turned into a mean by the
   median of a Gamma(k, 1/k) variable, the mean of k exponentials; a peak is significant where the
   ratio exceeds the Gamma(k, 1/k) quantile of ``false_alarm`` / (number of independent
   wavevectors). The frames are not independent realisations (the layer, and whatever cloud is
   left, persist through the sequence), so k is not the number of frames n: it is measured per
   annulus, between 1 and n, from the spread of the periodogram about its background
   (:func:`effective_averages`): near n where photon noise dominates, near 1 where persistent
   structure does.
3. **Waves, one by one (CLEAN)**: the most significant peak becomes a wave, fitted to the whole
   (x, y, t) stack as m = a cos(k.r - w t) + b sin(k.r - w t) (non-linear least squares:
   wavevector, frequency, amplitude, phase), subtracted, and the periodogram of the residual is
   searched again, until no significant peak is left; all the waves are then fitted jointly.
4. **Phase velocity**: the frequency w of each wave comes from the (x, y, t) stack: the phase of
   the wave's Fourier coefficient in each frame advances by -w per second (a linear fit to the
   unwrapped phases starts the joint fit). Its sign resolves the 180 deg ambiguity of a
   periodogram peak: the propagation azimuth is that of k with w > 0. A 60-s sequence is far too
   short for the frequency bins of a 3-D FFT (1/60 Hz: ~800 m/s for a 50 km wave), which is why
   the phase is measured to a fraction of a bin this way; the 3-D FFT's phase-velocity spectrum
   (Matsuda et al. 2014) is computed too (:func:`phase_velocity_spectrum`), for the picture and as
   the baseline.

Units: x, y in km on the layer, t in s, wavevectors in cycles/km, w in rad/s.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, optimize, stats

__all__ = [
    "Wave",
    "window_for",
    "welch_periodogram",
    "red_noise_ratio",
    "find_waves",
    "phase_velocity_spectrum",
    "wave_from_params",
    "mark_aliased",
    "peak_excess",
]


@dataclass(frozen=True)
class Wave:
    """One wave of the table (observed values; ``intrinsic_*`` with a wind given)."""

    wavelength_km: float
    wavelength_sigma_km: float
    azimuth_deg: float  # direction of propagation, clockwise from north
    azimuth_sigma_deg: float
    phase_speed_m_s: float
    phase_speed_sigma_m_s: float
    period_s: float
    period_sigma_s: float
    amplitude_pct: float
    amplitude_sigma_pct: float
    significance: float  # peak periodogram over its significance threshold (> 1)
    ambiguous: bool  # phase speed not significant (< 2 sigma): azimuth only known modulo 180 deg
    kx_cyc_km: float
    ky_cyc_km: float
    omega_rad_s: float
    intrinsic_phase_speed_m_s: float | None = None
    intrinsic_period_s: float | None = None
    #: crests within 15 deg of the direction the ground moves across the layer grid: a pattern the
    #: parallax cannot tell from one fixed to the ground (clouds, city grids)
    track_parallel: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def window_for(valid: np.ndarray, spacing_km: float, taper_km: float = 40.0) -> np.ndarray:
    """A window that is 1 inside the area ``valid`` and falls to 0 at its edge over ``taper_km``
    (a raised cosine of the distance to the nearest invalid cell)."""
    dist = ndimage.distance_transform_edt(np.pad(valid, 1))[1:-1, 1:-1] * spacing_km
    u = np.clip(dist / taper_km, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * u)).astype(np.float64)


def _freqs(shape: tuple[int, int], spacing_km: float) -> tuple[np.ndarray, np.ndarray]:
    """(kx, ky) in cycles/km of a full FFT of an image whose row 0 is north (y decreasing)."""
    fy = np.fft.fftfreq(shape[0], d=spacing_km)
    fx = np.fft.fftfreq(shape[1], d=spacing_km)
    kx, ky = np.meshgrid(fx, -fy)  # rows go south: the y frequency changes sign
    return kx, ky


def welch_periodogram(m: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean over frames of |FFT(window * frame)|^2 / sum(window^2) (frames with NaN as 0)."""
    norm = float(np.sum(window**2))
    acc = np.zeros(window.shape)
    for frame in m:
        f = np.fft.fft2(np.nan_to_num(frame) * window)
        acc += (f.real**2 + f.imag**2) / norm
    return acc / len(m)


def effective_averages(ratio_to_median: np.ndarray, n_max: int) -> int:
    """How many independent exponential periodograms a mean periodogram behaves like, from the
    spread of its ratio to the median background (interquartile range over median, matched to
    that of a Gamma(k, 1/k) variable, k = 1 .. ``n_max``)."""
    r = np.asarray(ratio_to_median, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 16 or n_max <= 1:
        return 1
    q25, q50, q75 = np.percentile(r, [25, 50, 75])
    observed = (q75 - q25) / q50
    k = np.arange(1, n_max + 1)
    model = (stats.gamma.ppf(0.75, k) - stats.gamma.ppf(0.25, k)) / stats.gamma.median(k)
    return int(k[np.argmin(np.abs(model - observed))])


def _red_noise_rings(
    p: np.ndarray, kmag: np.ndarray, n_max: int, search: np.ndarray, false_alarm: float, n_indep: int, n_rings: int = 24
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The annuli of :func:`red_noise_test`: (edges in |k|, mean background, threshold, number of
    averages) per annulus (NaN where an annulus is not tested)."""
    pos = kmag > 0
    edges = np.geomspace(kmag[pos].min() * 0.999, kmag.max() * 1.001, n_rings + 1)
    which = np.digitize(kmag, edges) - 1
    means = np.full(n_rings, np.nan)
    thrs = np.full(n_rings, np.nan)
    ks = np.full(n_rings, np.nan)
    for r in range(n_rings):
        ring = (which == r) & pos
        if ring.sum() < 4:
            continue
        med = float(np.median(p[ring]))
        if not med > 0:
            continue
        inside = ring & search
        k = effective_averages(p[inside] / med, n_max) if inside.sum() >= 64 else 1
        means[r] = med / float(stats.gamma.median(k, scale=1.0 / k))
        thrs[r] = float(stats.gamma.isf(false_alarm / n_indep, k, scale=1.0 / k))
        ks[r] = k
    return edges, means, thrs, ks


def red_noise_test(
    p: np.ndarray, kmag: np.ndarray, n_max: int, search: np.ndarray, false_alarm: float, n_indep: int, n_rings: int = 24
) -> np.ndarray:
    """Periodogram ``p`` over its red-noise background and over its significance threshold, per
    annulus of |k| (log-spaced): in each, the background is the median, the number k of
    independent averages (1..``n_max``) comes from the spread (:func:`effective_averages`; annuli
    of fewer than 64 wavevectors take k = 1, the conservative end), and the threshold is the
    Gamma(k, 1/k) quantile of ``false_alarm`` / ``n_indep``. Returns the excess: (p / mean
    background) / threshold, > 1 where significant."""
    edges, means, thrs, _ = _red_noise_rings(p, kmag, n_max, search, false_alarm, n_indep, n_rings)
    which = np.digitize(kmag, edges) - 1
    pos = kmag > 0
    excess = np.zeros(p.shape)
    for r in range(n_rings):
        if not np.isfinite(means[r]):
            continue
        ring = (which == r) & pos
        excess[ring] = p[ring] / means[r] / thrs[r]
    return excess


def red_noise_ratio(p: np.ndarray, kmag: np.ndarray, n_avg: float, n_rings: int = 40) -> np.ndarray:
    """Periodogram over its red-noise background: the median in log-spaced annuli of |k|,
    interpolated in log |k| and scaled from median to mean for a mean of ``n_avg`` exponentials."""
    pos = kmag > 0
    edges = np.geomspace(kmag[pos].min() * 0.999, kmag.max() * 1.001, n_rings + 1)
    which = np.digitize(kmag, edges) - 1
    centres, meds = [], []
    for r in range(n_rings):
        sel = (which == r) & pos
        if sel.sum() >= 4:
            centres.append(np.sqrt(edges[r] * edges[r + 1]))
            meds.append(np.median(p[sel]))
    med = np.interp(np.log(np.where(pos, kmag, kmag[pos].min())), np.log(centres), np.log(meds))
    median_of_mean = stats.gamma.median(n_avg, scale=1.0 / n_avg)
    return p / (np.exp(med) / median_of_mean)


def _fill(m: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """NaN observations replaced by their cell's median over the sequence; 0 outside ``valid``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nan_to_num(np.nanmedian(m, axis=0), nan=0.0)
    out = np.where(np.isfinite(m), m, med[None])
    out[:, ~valid] = 0.0
    return out


def _model(params: np.ndarray, x, y, t) -> np.ndarray:
    out = np.zeros(np.broadcast(x, y, t).shape)
    for kx, ky, w, a, b in params.reshape(-1, 5):
        ph = 2.0 * np.pi * (kx * x + ky * y) - w * t
        out += a * np.cos(ph) + b * np.sin(ph)
    return out


def _fit(params0: np.ndarray, x, y, t, v) -> tuple[np.ndarray, np.ndarray, float]:
    # the solver asks for the residuals and the Jacobian at the same parameters: their cosines and
    # sines are computed once (the same operations as :func:`_model`, so the same numbers)
    cache: dict[bytes, list[tuple[np.ndarray, np.ndarray]]] = {}

    def trig(p):
        key = np.asarray(p, dtype=float).tobytes()
        if key not in cache:
            cache.clear()
            cs = []
            for kx, ky, w, _, _ in p.reshape(-1, 5):
                ph = 2.0 * np.pi * (kx * x + ky * y) - w * t
                cs.append((np.cos(ph), np.sin(ph)))
            cache[key] = cs
        return cache[key]

    def res(p):
        out = np.zeros(np.broadcast(x, y, t).shape)
        for (c, s), (_, _, _, a, b) in zip(trig(p), p.reshape(-1, 5), strict=True):
            out += a * c + b * s
        return out - v

    def jac(p):
        pw = p.reshape(-1, 5)
        out = np.empty((len(v), pw.size))
        for i, ((c, s), (_, _, _, a, b)) in enumerate(zip(trig(p), pw, strict=True)):
            d_ph = -a * s + b * c
            out[:, 5 * i] = 2 * np.pi * x * d_ph
            out[:, 5 * i + 1] = 2 * np.pi * y * d_ph
            out[:, 5 * i + 2] = -t * d_ph
            out[:, 5 * i + 3] = c
            out[:, 5 * i + 4] = s
        return out

    scale = np.tile([1e-3, 1e-3, 1e-3, 1e-2, 1e-2], len(params0) // 5)
    fit = optimize.least_squares(res, params0, jac=jac, x_scale=scale, method="lm", max_nfev=200)
    r = fit.fun
    dof = max(1, len(v) - len(params0))
    s2 = float(r @ r) / dof
    jj = fit.jac.T @ fit.jac
    try:
        cov = np.linalg.inv(jj) * s2
    except np.linalg.LinAlgError:
        cov = np.full((len(params0), len(params0)), np.nan)
    return fit.x, cov, s2


def _k_distance(k: np.ndarray, kr: np.ndarray) -> float:
    """The distance of wavevector ``k`` from ``kr`` or ``-kr`` (the nearer), over |kr|."""
    return float(min(np.linalg.norm(k - kr), np.linalg.norm(k + kr)) / np.linalg.norm(kr))


def _is_leakage(one: np.ndarray, params: np.ndarray, radius: float, ratio: float) -> bool:
    """Whether the component ``one`` (kx, ky, w, a, b) lies within ``radius`` x |k| of a wave of
    ``params`` (either sign of k) and has less than ``ratio`` of its amplitude."""
    k1, a1 = one[:2], float(np.hypot(one[3], one[4]))
    for p in params:
        kp, ap = p[:2], float(np.hypot(p[3], p[4]))
        if _k_distance(k1, kp) < radius and a1 < ratio * ap:
            return True
    return False


#: components of one wave that is not a plane wave over the area (curved crests, a packet whose
#: phase is not uniform): a weaker row whose |k| is within ``MERGE_DK`` of a stronger one's, whose
#: propagation azimuth is within ``MERGE_DAZ_DEG`` of it and whose phase speed is within
#: ``MERGE_DC`` of it is merged with it, and the merged wave is re-fitted locally, in a disc about
#: the middle of the area (:func:`_merge_split`). Chosen on the curved-crest scenes of seed 9602 of
#: the independence study (docs/airglow.md, "Curved crests and packets")
MERGE_DK = 0.08
MERGE_DAZ_DEG = 40.0
MERGE_DC = 0.3
#: a single row takes its local fit where the local wavevector differs from the whole area's by
#: more than this chi-square (2 degrees of freedom, both covariances; 3 sigma) and by more than
#: ``LOCAL_MIN_CHANGE`` of |k|
LOCAL_CHI2 = 11.8
LOCAL_MIN_CHANGE = 0.05
#: the local fit's disc: this radius (km), or 2.5 wavelengths where that is more, at most half the
#: area's extent
LOCAL_RADIUS_KM = 150.0
#: the plane search's longest wavelength: this fraction of the analysed area's extent (at most
#: 250 km). Two thirds, not the half it was: at a 2-s cadence the area is ~320 km across and a
#: 180-190 km wave was out of range; on two new seeds of the independence study missed waves
#: 10.0 -> 8.3 %, false rows and reversed rows unchanged, the accuracy and detection benches
#: unchanged to the last digit (docs/airglow.md, "The search's longest wavelength")
MAX_WAVELENGTH_FRACTION = 2.0 / 3.0


def _propagating(p: np.ndarray) -> np.ndarray:
    """(kx, ky, w, a, b) with the signs turned so that w >= 0 (the same wave)."""
    q = np.array(p, dtype=float)
    if q[2] < 0:
        q[[0, 1, 2, 4]] = -q[[0, 1, 2, 4]]
    return q


def split_groups(params: np.ndarray, dk: float = MERGE_DK, daz_deg: float = MERGE_DAZ_DEG, dc: float = MERGE_DC):
    """Rows of ``params`` (kx, ky, w, a, b) that look like components of one wave: groups (lists of
    row indices, the strongest first) of rows whose |k| differ by less than ``dk`` (relative to the
    strongest), whose propagation azimuths differ by less than ``daz_deg`` and whose phase speeds
    differ by less than ``dc`` (relative). Each row joins the group of the strongest row it matches."""
    q = np.array([_propagating(p) for p in params]).reshape(-1, 5)
    amp = np.hypot(q[:, 3], q[:, 4])
    k = np.hypot(q[:, 0], q[:, 1])
    az = np.degrees(np.arctan2(q[:, 0], q[:, 1]))
    c = q[:, 2] / np.maximum(k, 1e-12)
    groups: list[list[int]] = []
    for i in np.argsort(-amp):
        for g in groups:
            j = g[0]
            d_az = abs((az[i] - az[j] + 180.0) % 360.0 - 180.0)
            if abs(k[i] / k[j] - 1.0) < dk and d_az < daz_deg and abs(c[i] - c[j]) < dc * abs(c[j]):
                g.append(int(i))
                break
        else:
            groups.append([int(i)])
    return groups


def _merge_split(params, cov, sigs, ox, oy, ot, ov, extent_km, *, dk, daz_deg, dc):
    """Merge the groups of :func:`split_groups`: each group of more than one row becomes one wave
    fitted to the observations within a disc about the middle of the area (radius
    :data:`LOCAL_RADIUS_KM`, or 2.5 wavelengths, at most half ``extent_km``), with every other row
    subtracted. Every single row is fitted there too and takes the local values where they differ
    significantly from the whole area's (:data:`LOCAL_CHI2`, :data:`LOCAL_MIN_CHANGE`): curved
    crests, whose wavevector turns across the area. Returns (params, per-row covariances, sigs,
    number of rows merged away, number of single rows given their local values)."""
    groups = split_groups(params, dk, daz_deg, dc)
    covs = [cov[5 * i : 5 * i + 5, 5 * i : 5 * i + 5] for i in range(len(params))]
    out_p, out_c, out_s = [], [], []
    n_local = 0
    for g in groups:
        first = _propagating(params[g[0]])
        lam = 1.0 / float(np.hypot(first[0], first[1]))
        radius = min(max(LOCAL_RADIUS_KM, 2.5 * lam), extent_km / 2.0)
        sel = ox**2 + oy**2 < radius**2
        others = np.array([params[i] for i in range(len(params)) if i not in g])
        v = ov[sel] - (_model(others.ravel(), ox[sel], oy[sel], ot[sel]) if len(others) else 0.0)
        one, c1, _ = _fit(first, ox[sel], oy[sel], ot[sel], v)
        if len(g) == 1:
            # one row: its local wavevector replaces the area's only where the two differ
            # significantly (a wave that is not plane over the area); else the whole area's fit stays
            # compared as wavevectors up to their sign: a slow wave's fitted w may change sign
            same = one if float(one[:2] @ first[:2]) >= 0 else -one
            dk_vec = same[:2] - first[:2]
            c2 = c1[:2, :2] + covs[g[0]][:2, :2]
            try:
                d2 = float(dk_vec @ np.linalg.solve(c2, dk_vec))
            except np.linalg.LinAlgError:
                d2 = 0.0
            rel = float(np.linalg.norm(dk_vec) / np.hypot(first[0], first[1]))
            if not (np.isfinite(d2) and d2 > LOCAL_CHI2 and rel > LOCAL_MIN_CHANGE):
                out_p.append(params[g[0]])
                out_c.append(covs[g[0]])
                out_s.append(sigs[g[0]])
                continue
            n_local += 1
        out_p.append(one)
        out_c.append(c1)
        out_s.append(max(sigs[i] for i in g))
    return np.array(out_p), out_c, out_s, len(params) - len(groups), n_local


#: the circular-crest search (:func:`_circular_rows`): waves of at least this wavelength (km)
#: whose crests are circles about a source at one of ``CIRCULAR_SOURCES_KM`` (km; ``inf``:
#: straight) behind the middle of the area, at most ``CIRCULAR_MAX_ROWS`` of them, the residual
#: averaged in ``CIRCULAR_BLOCKS`` blocks of consecutive frames. A priori choices written down
#: before the search was measured (docs/airglow.md, "A circular-crest search")
CIRCULAR_MIN_WAVELENGTH_KM = 50.0
CIRCULAR_SOURCES_KM = (300.0, 600.0, 1200.0, float("inf"))
CIRCULAR_MAX_ROWS = 3
CIRCULAR_BLOCKS = 10


def _near_row(
    k: np.ndarray,
    rows: list[np.ndarray],
    dk: float = MERGE_DK,
    daz_deg: float = MERGE_DAZ_DEG,
    radius: float = 0.0,
) -> bool:
    """Whether wavevector ``k`` is within ``dk`` of |k| and ``daz_deg`` (either sign) of a row's,
    or within ``radius`` of it (the vector distance over the row's |k|, either sign)."""
    for r in rows:
        kr = np.asarray(r[:2], float)
        nr = float(np.linalg.norm(kr))
        if _k_distance(k, kr) < radius:
            return True
        if abs(np.linalg.norm(k) / nr - 1.0) >= dk:
            continue
        cos = abs(float(k @ kr)) / float(np.linalg.norm(k) * nr)
        if np.degrees(np.arccos(min(1.0, cos))) < daz_deg:
            return True
    return False


def _circular_rows(
    resid_cube: np.ndarray,
    resid_obs: np.ndarray,
    obs: tuple[np.ndarray, np.ndarray, np.ndarray],
    valid: np.ndarray,
    window: np.ndarray,
    spacing_km: float,
    t_s: np.ndarray,
    found: list[np.ndarray],
    *,
    kmin: float,
    false_alarm: float,
    n_indep: int,
    max_phase_speed_m_s: float,
    snr: float,
    pct: float,
    snr_any: float,
):
    """Waves with circular crests in the residual of the plane rows ``found`` (kx, ky, w, a, b):
    a matched filter per source direction and distance (:func:`cupola.airglow.crests.matched_power`)
    judged by the red-noise test of the residual's periodogram (false alarm divided by the number
    of source distances); the strongest candidate not near a found row is fitted with circular
    crests (:func:`cupola.airglow.crests.fit_circular`) and kept when it passes the rules of every
    row. Returns ([(kx, ky, w, a, b) at the middle], [5 x 5 covariances], [excess])."""
    from cupola.airglow import crests

    kmax = 1.0 / CIRCULAR_MIN_WAVELENGTH_KM
    if kmin >= kmax:
        return [], [], []
    n, ny, nx = resid_cube.shape
    nb = min(CIRCULAR_BLOCKS, n)
    parts = np.array_split(np.arange(n), nb)
    t_b = np.array([t_s[p].mean() for p in parts])
    xs = (np.arange(nx) - (nx - 1) / 2.0) * spacing_km
    ys = ((ny - 1) / 2.0 - np.arange(ny)) * spacing_km
    xx, yy = np.meshgrid(xs, ys)
    kx2, ky2 = _freqs((ny, nx), spacing_km)
    kmag = np.hypot(kx2, ky2)
    # the matched filter on cells of at most a tenth of the shortest wavelength searched
    bf = max(1, int(CIRCULAR_MIN_WAVELENGTH_KM / (10.0 * spacing_km)))
    cy, cx = (ny // bf) * bf, (nx // bf) * bf

    def coarse(a):
        return a[..., :cy, :cx].reshape(*a.shape[:-2], cy // bf, bf, cx // bf, bf).mean(axis=(-3, -1))

    wc = coarse(window)
    cells = wc > 0
    xc, yc = coarse(xx)[cells], coarse(yy)[cells]
    norm = float(np.sum(window**2))
    step = spacing_km / 2.0
    extent = float(np.sqrt(valid.sum()) * spacing_km)
    span = 2.0 * float(np.hypot(np.abs(xc).max(), np.abs(yc).max())) + 2.0 * bf * spacing_km
    n_fft = int(2 ** np.ceil(np.log2(2.0 * span / step)))
    f = np.arange(n_fft // 2 + 1) / (n_fft * step)
    band = (f >= kmin) & (f <= kmax)
    d_az = CIRCULAR_MIN_WAVELENGTH_KM / (2.0 * extent)
    azimuths = np.arange(0.0, 2.0 * np.pi, d_az)
    ox, oy, ot = obs
    rows: list = []
    covs: list = []
    sigs: list = []
    rejected: list = []
    resid_cube = resid_cube.copy()
    resid_obs = resid_obs.copy()
    for _ in range(2 * CIRCULAR_MAX_ROWS):
        if len(rows) >= CIRCULAR_MAX_ROWS:
            break
        blocks = np.array([np.where(valid, resid_cube[p].mean(axis=0), 0.0) for p in parts])
        p2 = welch_periodogram(blocks, window)
        edges, means, thrs, ks = _red_noise_rings(
            p2, kmag, nb, kmag > 0, false_alarm / len(CIRCULAR_SOURCES_KM), n_indep
        )
        ring = np.clip(np.digitize(f, edges) - 1, 0, len(means) - 1)
        weighted = (coarse(blocks * window[None]) * bf * bf)[:, cells]
        filters = [(az, src) for az in azimuths for src in CIRCULAR_SOURCES_KM if np.isfinite(src) or az < np.pi]
        power = np.array([crests.matched_power(weighted, xc, yc, az, src, step, n_fft) / norm for az, src in filters])
        # the background at each wavelength: the median over all the filters (the annulus median of
        # the periodogram is raised by a curved wave's own power, spread over its azimuths), made a
        # mean with the annulus's number of averages; the annulus's threshold
        k_ring = np.where(np.isfinite(ks[ring]), ks[ring], 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            background = np.median(power, axis=0) / stats.gamma.median(k_ring, scale=1.0 / k_ring)
            ex = np.where(band & np.isfinite(thrs[ring]), power / background / thrs[ring], 0.0)
        ex = np.nan_to_num(ex)
        best: tuple[float, tuple | None] = (1.0, None)
        for flat_i in np.argsort(-ex, axis=None)[:200]:
            i, j = np.unravel_index(flat_i, ex.shape)
            if ex[i, j] <= best[0]:
                break
            az, src = filters[i]
            k = f[j] * np.array([np.sin(az), np.cos(az)])
            if _near_row(k, [*found, *rows], radius=LEAKAGE_RADIUS) or _near_row(k, rejected):
                continue
            best = (float(ex[i, j]), (az, src, f[j]))
            break
        if best[1] is None:
            break
        az, src, fk = best[1]
        q = 0.0 if not np.isfinite(src) else 1.0 / src
        k0 = fk * np.array([np.sin(az), np.cos(az)])
        # the window is 0 outside ``valid`` (window_for), as the blocks are
        w0, a0, b0 = _phase_rate_cycles(blocks, window, fk * crests.along_km(xx, yy, k0[0], k0[1], q), t_b)
        p0 = np.array([k0[0], k0[1], q, w0, a0, b0])
        one, cov6 = crests.fit_circular(p0, ox, oy, ot, resid_obs)
        keep = [0, 1, 3, 4, 5]
        p5, c5 = one[keep], cov6[np.ix_(keep, keep)]
        w = wave_from_params(p5, c5, best[0])
        if (
            not w.phase_speed_m_s <= max_phase_speed_m_s
            or weak_row(w.amplitude_pct, w.amplitude_sigma_pct, snr, pct, snr_any)
            or _near_row(p5[:2], [*found, *rows], radius=LEAKAGE_RADIUS)
        ):
            rejected.append(k0)
            continue
        rows.append(p5)
        covs.append(c5)
        sigs.append(best[0])
        resid_obs = resid_obs - crests.circular_model(one, ox, oy, ot)
        resid_cube = resid_cube - np.array([crests.circular_model(one, xx, yy, t) for t in t_s])
    return rows, covs, sigs


def _phase_rate(m: np.ndarray, window: np.ndarray, xx, yy, t_s, kx, ky) -> tuple[float, float, float]:
    """(w, a, b) of a wave of wavevector (kx, ky) from the phase of its coefficient per frame."""
    return _phase_rate_cycles(m, window, kx * xx + ky * yy, t_s)


def _phase_rate_cycles(m: np.ndarray, window: np.ndarray, cycles: np.ndarray, t_s) -> tuple[float, float, float]:
    """(w, a, b) of a wave whose phase at each cell is ``cycles`` (a plane wave's k . x, a circular
    one's distance along its crests' normals times |k|) from its coefficient per frame."""
    e = np.exp(-2j * np.pi * cycles) * window
    norm = float(np.sum(window)) / 2.0
    z = np.array([np.sum(np.nan_to_num(f) * e) for f in m]) / norm  # = (a - i b) e^{-i w t}... per frame
    ph = np.unwrap(np.angle(z))
    slope, intercept = np.polyfit(t_s, ph, 1)
    amp = float(np.median(np.abs(z)))
    # z_t = amp * exp(i (phi0 - w t)) with a cos(.) + b sin(.) = amp cos(. - phi0): a = amp cos phi0, b = amp sin phi0
    w = -float(slope)
    return w, amp * float(np.cos(intercept)), amp * float(np.sin(intercept))


#: a wave whose phase speed is below this many sigma is marked ``ambiguous`` (its direction known
#: modulo 180 deg); chosen on a spread of generated short sequences (docs/airglow.md, "Short
#: sequences")
AMBIGUOUS_NSIGMA = 2.0


def wave_from_params(
    p: np.ndarray, cov: np.ndarray, significance: float, wind_m_s=None, ambiguous_nsigma: float = AMBIGUOUS_NSIGMA
) -> Wave:
    """A table row from fitted (kx, ky, w, a, b) and their covariance (5 x 5); ``ambiguous`` where
    the phase speed is below ``ambiguous_nsigma`` sigma."""
    kx, ky, w, a, b = (float(v) for v in p)
    if w < 0:  # propagate along k with w > 0: the 180 deg ambiguity resolved by the sequence
        kx, ky, w, b = -kx, -ky, -w, -b
    k = np.hypot(kx, ky)
    lam = 1.0 / k
    az = float(np.degrees(np.arctan2(kx, ky)) % 360.0)
    c = w / (2.0 * np.pi * k) * 1e3
    amp = float(np.hypot(a, b))
    # linear error propagation (signs of the flip do not change variances)
    g_lam = np.array([-kx / k**3, -ky / k**3, 0, 0, 0])
    g_az = np.degrees(np.array([ky / k**2, -kx / k**2, 0, 0, 0]))
    g_c = 1e3 / (2 * np.pi) * np.array([-w * kx / k**3, -w * ky / k**3, 1.0 / k, 0, 0])
    g_amp = np.array([0, 0, 0, a / max(amp, 1e-12), b / max(amp, 1e-12)])

    def sig(g):
        v = float(g @ cov @ g)
        return float(np.sqrt(v)) if v >= 0 else float("nan")

    s_c = sig(g_c)
    period = lam * 1e3 / c if c > 0 else float("inf")
    s_period = period * np.hypot(sig(g_lam) / lam, s_c / c) if c > 0 else float("nan")
    wave = Wave(
        wavelength_km=float(lam),
        wavelength_sigma_km=sig(g_lam),
        azimuth_deg=az,
        azimuth_sigma_deg=sig(g_az),
        phase_speed_m_s=float(c),
        phase_speed_sigma_m_s=s_c,
        period_s=float(period),
        period_sigma_s=float(s_period),
        amplitude_pct=100.0 * amp,
        amplitude_sigma_pct=100.0 * sig(g_amp),
        significance=float(significance),
        ambiguous=bool(not c >= ambiguous_nsigma * s_c),
        kx_cyc_km=kx,
        ky_cyc_km=ky,
        omega_rad_s=w,
    )
    if wind_m_s is not None:
        u, v = wind_m_s
        ci = c - (u * np.sin(np.radians(az)) + v * np.cos(np.radians(az)))
        wave = Wave(
            **{
                **asdict(wave),
                "intrinsic_phase_speed_m_s": float(ci),
                "intrinsic_period_s": float(lam * 1e3 / ci) if ci else float("inf"),
            }
        )
    return wave


def peak_excess(m: np.ndarray, valid: np.ndarray, spacing_km: float, false_alarm: float = 1e-4) -> float:
    """The largest excess over the red-noise threshold (:func:`red_noise_test`) of the Welch
    periodogram of ``m`` over wavevectors from 3 grid spacings to half the extent (at most 250 km;
    :func:`find_waves` now searches to two thirds, which was not measured for this): how sharp the
    strongest wave of the stack is."""
    n, ny, nx = m.shape
    window = window_for(valid, spacing_km)
    kx, ky = _freqs((ny, nx), spacing_km)
    kmag = np.hypot(kx, ky)
    extent = np.sqrt(valid.sum()) * spacing_km
    half = (ky > 0) | ((ky == 0) & (kx > 0))
    search = half & (kmag >= 1.0 / min(250.0, extent / 2.0)) & (kmag <= 1.0 / (3.0 * spacing_km))
    n_indep = max(1, int(search.sum() * valid.mean()))
    p = welch_periodogram(_fill(m, valid), window)
    return float(np.max(np.where(search, red_noise_test(p, kmag, n, search, false_alarm, n_indep), 0.0)))


def mark_aliased(waves: list[Wave], t_s: np.ndarray, max_speed_m_s: float = 300.0) -> tuple[list[Wave], int]:
    """The rows whose phase speed the frame times ``t_s`` cannot tell from an alias marked
    ``ambiguous``. Frames dt apart see w and w +- 2 pi / dt alike (the phase is known modulo
    2 pi per frame); the nearest aliases move at |c -+ wavelength / dt|, and where one of them is
    itself a gravity-wave speed (<= ``max_speed_m_s``, the search's own limit) the row's speed
    and direction may be that alias. dt is the longest interval (the worst case of an uneven
    cadence). Returns (rows, how many were newly marked). With the ISS's 0.5-2 s cadences the
    aliases of any wave longer than 1.2 km move at more than 300 m/s: this marks rows only for
    cadences of several seconds and more (a 20-km wave: dt > 33 s)."""
    dt = float(np.max(np.diff(t_s))) if len(t_s) > 1 else 0.0
    out, n = [], 0
    for w in waves:
        c = w.phase_speed_m_s
        alias = w.wavelength_km * 1e3 / dt if dt > 0 else np.inf
        if dt > 0 and min(abs(c - alias), abs(c + alias)) <= max_speed_m_s and not w.ambiguous:
            out.append(Wave(**{**asdict(w), "ambiguous": True}))
            n += 1
        else:
            out.append(w)
    return out, n


@dataclass
class WaveSearch:
    """What :func:`find_waves` found and the spectra it looked at."""

    waves: list[Wave]
    params: np.ndarray  # (n, 5) kx, ky, w, a, b
    covariances: list[np.ndarray]
    spectrum: np.ndarray  # Welch periodogram of the modulation, fftshifted
    ratio: np.ndarray  # its excess over the red-noise significance threshold (> 1: significant), fftshifted
    residual_ratio: np.ndarray  # the same after the waves were subtracted, fftshifted
    kx: np.ndarray  # fftshifted axes (cycles/km)
    ky: np.ndarray
    threshold: float  # of ``ratio``: 1
    window: np.ndarray
    #: significant components passed over as the leakage of a stronger wave (:data:`LEAKAGE_RADIUS`)
    leakage: int = 0
    #: rows merged into a stronger wave as its components (curved crests, packets; :func:`split_groups`)
    merged: int = 0
    #: single rows whose values are those of the local fit about the middle of the area
    local: int = 0
    #: rows left out: fitted amplitude below :data:`MIN_AMPLITUDE_SNR` standard errors and :data:`MIN_AMPLITUDE_PCT`,
    #: or below :data:`MIN_AMPLITUDE_SNR_ANY` standard errors (:func:`weak_row`)
    weak: int = 0
    #: rows found by the circular-crest search in the residual of the plane rows (:func:`_circular_rows`)
    circular: int = 0


#: a significant component within this fraction of a stronger wave's |k| of its wavevector (either
#: sign), with less than :data:`LEAKAGE_RATIO` of its amplitude, is taken as that wave's leakage and
#: passed over: what the subtraction of one plane wave leaves of a strong wave whose phase or
#: amplitude is not quite uniform over the area (the layer's map against the grid's, the frames'
#: resolution across the field, a packet). Below the 25-30 % separation of the generated waves, so
#: no true wave of the benchmarks can be taken for leakage (docs/airglow.md, "Scenes from another
#: generator's choices")
LEAKAGE_RADIUS = 0.2
LEAKAGE_RATIO = 0.1
#: a row whose fitted amplitude is below this many of its standard errors (the joint fit's
#: covariance) **and** below :data:`MIN_AMPLITUDE_PCT` is not listed: a periodogram peak just over
#: the red-noise test that the (x, y, t) fit cannot tell well from zero, fainter than the waves
#: sought (faint cloud remnants, a raw camera's fixed pattern). 4 chosen on seed 9601 of the
#: independence study (the smallest of 2-8 leaving at most 0.5 such rows per sequence, no wave
#: lost), checked on 9602 and the main benchmark's stacks (docs/airglow.md, "Weak rows")
MIN_AMPLITUDE_SNR = 4.0
#: the amplitude (% of the mean) below which a row must also pass :data:`MIN_AMPLITUDE_SNR`: the
#: lower end of the issue's range (1-10 %); a faint night's 2-% waves (3-4 standard errors)
#: stay listed
MIN_AMPLITUDE_PCT = 1.0
#: a row whose fitted amplitude is below this many of its standard errors is not listed whatever
#: its amplitude: a fit that cannot tell it from zero at one sigma has measured nothing. What this
#: catches is a degenerate pair of the joint fit (two rows of one wave with opposite wavevectors and
#: near-cancelling amplitudes of several %, each at ~0.1 standard errors; curved crests of seed
#: 9605, docs/airglow.md); true waves of the studies run from 1.9 standard errors up
MIN_AMPLITUDE_SNR_ANY = 1.0


def weak_row(
    amplitude_pct: float,
    sigma_pct: float,
    snr: float = MIN_AMPLITUDE_SNR,
    pct: float = MIN_AMPLITUDE_PCT,
    snr_any: float = MIN_AMPLITUDE_SNR_ANY,
) -> bool:
    """True for a row left out of the wave table: below ``snr`` standard errors and below ``pct``
    %, or below ``snr_any`` standard errors at any amplitude.

    >>> weak_row(0.5, 0.2), weak_row(2.0, 0.6), weak_row(9.1, 70.0), weak_row(9.1, 3.0)
    (True, False, True, False)
    """
    return (amplitude_pct < snr * sigma_pct and amplitude_pct < pct) or amplitude_pct < snr_any * sigma_pct


def find_waves(
    m: np.ndarray,
    valid: np.ndarray,
    spacing_km: float,
    t_s: np.ndarray,
    *,
    false_alarm: float = 0.01,
    max_waves: int = 8,
    min_wavelength_km: float | None = None,
    max_wavelength_km: float | None = None,
    taper_km: float = 40.0,
    max_samples: int = 80_000,
    wind_m_s=None,
    max_phase_speed_m_s: float = 300.0,
    seed: int = 0,
    ambiguous_nsigma: float = AMBIGUOUS_NSIGMA,
    leakage_radius: float = LEAKAGE_RADIUS,
    leakage_ratio: float = LEAKAGE_RATIO,
    merge: bool = True,
    min_amplitude_snr: float = MIN_AMPLITUDE_SNR,
    min_amplitude_pct: float = MIN_AMPLITUDE_PCT,
    min_amplitude_snr_any: float = MIN_AMPLITUDE_SNR_ANY,
    circular: bool = False,
) -> WaveSearch:
    """The waves of a modulation stack ``m`` (n, ny, nx) on a grid of ``spacing_km`` (row 0 north),
    ``valid`` the cells the analysis uses, ``t_s`` the frame times (s). NaN observations (flagged,
    unseen) are left out of the fit and take their cell's median over the sequence in the
    periodograms. A peak whose fitted phase speed exceeds ``max_phase_speed_m_s`` is no gravity
    wave (what is left of a cloud or a star moving across the grid) and is passed over, and so is
    a peak within ``leakage_radius`` of a found wave's wavevector (relative to its |k|) with less
    than ``leakage_ratio`` of its amplitude (0 turns this off). A row whose fitted amplitude is
    below ``min_amplitude_snr`` times its own standard error (:data:`MIN_AMPLITUDE_SNR`; 0 turns
    this off) and below ``min_amplitude_pct`` % is not listed (counted in ``weak``), nor one below
    ``min_amplitude_snr_any`` standard errors at any amplitude (:func:`weak_row`). See the module
    docstring."""
    n, ny, nx = m.shape
    window = window_for(valid, spacing_km, taper_km)
    xs = (np.arange(nx) - (nx - 1) / 2.0) * spacing_km
    ys = ((ny - 1) / 2.0 - np.arange(ny)) * spacing_km
    xx, yy = np.meshgrid(xs, ys)
    kx, ky = _freqs((ny, nx), spacing_km)
    kmag = np.hypot(kx, ky)
    extent = np.sqrt(valid.sum()) * spacing_km
    kmin = 1.0 / (max_wavelength_km or min(250.0, MAX_WAVELENGTH_FRACTION * extent))
    kmax = 1.0 / (min_wavelength_km or 3.0 * spacing_km)
    half = (ky > 0) | ((ky == 0) & (kx > 0))
    search = half & (kmag >= kmin) & (kmag <= kmax)
    n_indep = max(1, int(search.sum() * valid.mean()))
    # the frames' periodograms are not independent realisations (the layer, and any cloud left,
    # persist through the sequence): the background is a mean of k exponentials, k between 1 and
    # n, measured per annulus of |k| from the spread of the periodogram about its background
    filled = _fill(m, valid)
    spectrum = welch_periodogram(filled, window)
    threshold = 1.0  # on the excess over the threshold

    def excess_of(p):
        return red_noise_test(p, kmag, n, search, false_alarm, n_indep)

    # observations for the joint fit: a random subsample of the valid, finite ones
    rng = np.random.default_rng(seed)
    tt = np.broadcast_to(t_s[:, None, None], m.shape)
    okobs = np.isfinite(m) & valid[None]
    idx = np.flatnonzero(okobs)
    if idx.size > max_samples:
        idx = np.sort(rng.choice(idx, max_samples, replace=False))
    ox = np.broadcast_to(xx[None], m.shape).ravel()[idx]
    oy = np.broadcast_to(yy[None], m.shape).ravel()[idx]
    ot = tt.ravel()[idx]
    ov = m.ravel()[idx].astype(float)
    w_obs = np.broadcast_to(window[None], m.shape).ravel()[idx]
    taper = w_obs > 0.5  # fit where the window is near one (edges are noisier)
    ox, oy, ot, ov = ox[taper], oy[taper], ot[taper], ov[taper]

    ratio0 = excess_of(spectrum)
    params = np.zeros((0, 5))
    cov = np.zeros((0, 0))
    sigs: list[float] = []
    ratio = ratio0
    bin_k = 1.0 / (max(nx, ny) * spacing_km)
    rejected: list[tuple[float, float]] = []
    leakage = 0
    resid_obs = ov.copy()
    resid_cube = filled.copy()
    for _ in range(3 * max_waves):
        if len(params) >= max_waves:
            break
        cand = np.where(search, ratio, 0.0)
        # not within 2.5 bins of a wave already found (leakage of an imperfect subtraction) or rejected
        for p in [*params[:, :2], *rejected]:
            for sgn in (1, -1):
                cand[np.hypot(kx - sgn * p[0], ky - sgn * p[1]) < 2.5 * bin_k] = 0.0
        best = int(np.argmax(cand))
        if cand.flat[best] < threshold:
            break
        k0 = (float(kx.flat[best]), float(ky.flat[best]))
        w0, a0, b0 = _phase_rate(resid_cube, window, xx, yy, t_s, *k0)
        if _is_leakage(np.array([k0[0], k0[1], w0, a0, b0]), params, leakage_radius, leakage_ratio):
            rejected.append(k0)
            leakage += 1
            continue
        one, _, _ = _fit(np.array([k0[0], k0[1], w0, a0, b0]), ox, oy, ot, resid_obs)
        speed = abs(one[2]) / (2.0 * np.pi * np.hypot(one[0], one[1])) * 1e3
        if not speed <= max_phase_speed_m_s or np.hypot(one[3], one[4]) < 1e-6:
            rejected.append(k0)  # moves faster than a gravity wave: left-over ground or sky
            continue
        params = np.vstack([params, one])
        sigs.append(float(cand.flat[best]))
        resid_obs = resid_obs - _model(one, ox, oy, ot)
        resid_cube = resid_cube - _model(one, xx[None], yy[None], t_s[:, None, None])
        ratio = excess_of(welch_periodogram(np.where(valid[None], resid_cube, 0.0), window))
    for _ in range(3):
        if not len(params):
            break
        fitted, cov, _ = _fit(params.ravel(), ox, oy, ot, ov)  # all together, for the final values
        params = fitted.reshape(-1, 5)
        speed = np.abs(params[:, 2]) / (2.0 * np.pi * np.hypot(params[:, 0], params[:, 1])) * 1e3
        if (speed <= max_phase_speed_m_s).all():
            break
        keep = speed <= max_phase_speed_m_s  # too fast once fitted with the others: not a wave
        params = params[keep]
        sigs = [s_ for s_, k_ in zip(sigs, keep, strict=True) if k_]
        cov = np.zeros((5 * len(params), 5 * len(params)))
    if len(params) and not cov.any():  # the last pass dropped a wave: fit the rest once more
        fitted, cov, _ = _fit(params.ravel(), ox, oy, ot, ov)
        params = fitted.reshape(-1, 5)
    covs = [cov[5 * i : 5 * i + 5, 5 * i : 5 * i + 5] for i in range(len(params))]
    circ: tuple[list, list, list] = ([], [], [])
    if circular:
        # only the rows that will be listed shape the circular search (a weak row may be a piece of
        # a curved wave: subtracted, or kept as a found row, it would hide the wave)
        listed = []
        for p_, c_ in zip(params, covs, strict=True):
            w_ = wave_from_params(p_, c_, 1.0)
            if not weak_row(
                w_.amplitude_pct, w_.amplitude_sigma_pct, min_amplitude_snr, min_amplitude_pct, min_amplitude_snr_any
            ):
                listed.append(p_)
        plane = np.array(listed).ravel()
        circ = _circular_rows(
            filled - (_model(plane, xx[None], yy[None], t_s[:, None, None]) if listed else 0.0),
            ov - (_model(plane, ox, oy, ot) if listed else 0.0),
            (ox, oy, ot),
            valid,
            window,
            spacing_km,
            t_s,
            listed,
            kmin=kmin,
            false_alarm=false_alarm,
            n_indep=n_indep,
            max_phase_speed_m_s=max_phase_speed_m_s,
            snr=min_amplitude_snr,
            pct=min_amplitude_pct,
            snr_any=min_amplitude_snr_any,
        )
    merged = n_local = 0
    if merge and len(params):
        params, covs, sigs, merged, n_local = _merge_split(
            params, cov, sigs, ox, oy, ot, ov, extent, dk=MERGE_DK, daz_deg=MERGE_DAZ_DEG, dc=MERGE_DC
        )
    if circ[0]:
        params = np.vstack([params.reshape(-1, 5), np.array(circ[0])])
        covs = [*covs, *circ[1]]
        sigs = [*sigs, *circ[2]]
    waves = [wave_from_params(params[i], covs[i], sigs[i], wind_m_s, ambiguous_nsigma) for i in range(len(params))]
    # a peak over the red-noise test whose amplitude the joint fit cannot tell from zero
    strong = [
        i
        for i, w in enumerate(waves)
        if not weak_row(
            w.amplitude_pct, w.amplitude_sigma_pct, min_amplitude_snr, min_amplitude_pct, min_amplitude_snr_any
        )
    ]
    weak = len(waves) - len(strong)
    waves = [waves[i] for i in strong]
    params = params[strong] if len(params) else params
    covs = [covs[i] for i in strong]
    order = np.argsort([-w.amplitude_pct for w in waves])
    return WaveSearch(
        waves=[waves[i] for i in order],
        params=params[order] if len(params) else params,
        covariances=[covs[i] for i in order],
        spectrum=np.fft.fftshift(spectrum),
        ratio=np.fft.fftshift(ratio0),
        residual_ratio=np.fft.fftshift(ratio),
        kx=np.fft.fftshift(kx),
        ky=np.fft.fftshift(ky),
        threshold=threshold,
        window=window,
        leakage=leakage,
        merged=merged,
        local=n_local,
        weak=weak,
        circular=len(circ[0]),
    )


def phase_velocity_spectrum(
    m: np.ndarray,
    window: np.ndarray,
    spacing_km: float,
    interval_s: float,
    *,
    max_speed_m_s: float = 300.0,
    n_speed: int = 30,
    n_azimuth: int = 36,
    min_wavelength_km: float = 5.0,
    max_wavelength_km: float = 250.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 3-D (x, y, t) FFT of the stack (Hann window in time) turned into a horizontal
    phase-velocity spectrum (Matsuda et al. 2014): the power of each (kx, ky, f) with f > 0 goes to
    the bin of speed f / |k| and azimuth of k. Returns (power (n_speed, n_azimuth), speed edges
    (m/s), azimuth edges (deg)). Its speed resolution is that of the frequency bins: 1 / (n dt) /
    |k|, coarse for a short sequence."""
    n = m.shape[0]
    wt = np.hanning(n)[:, None, None] if n > 2 else np.ones((n, 1, 1))
    cube = np.nan_to_num(m) * window[None] * wt
    # only the positive frequencies are used: the transform in time of the real cube (rfft) and then
    # in space, frequency by frequency (the same numbers as the full 3-D FFT's, half the work)
    along_t = np.fft.rfft(cube, axis=0)
    f = np.fft.rfftfreq(n, d=interval_s)
    if n % 2 == 0:  # the Nyquist frequency, which the full FFT lists as negative
        f = f[:-1]
    kx, ky = _freqs(m.shape[1:], spacing_km)
    k = np.hypot(kx, ky)
    keep_k = (k >= 1.0 / max_wavelength_km) & (k <= 1.0 / min_wavelength_km)
    s_edges = np.linspace(0.0, max_speed_m_s, n_speed + 1)
    a_edges = np.linspace(0.0, 360.0, n_azimuth + 1)
    out = np.zeros((n_speed, n_azimuth))
    # exp(i (2 pi k.r - w t)) sits at (k, -f): a bin (k, f > 0) is a wave moving along -k
    az = np.degrees(np.arctan2(-kx, -ky)) % 360.0
    for i, fi in enumerate(f):
        if fi <= 0:
            continue
        with np.errstate(divide="ignore"):
            speed = np.where(keep_k, fi / np.where(k > 0, k, np.inf) * 1e3, np.inf)
        sel = keep_k & (speed < max_speed_m_s)
        if sel.any():
            spec_i = np.abs(np.fft.fft2(along_t[i])) ** 2
            h, _, _ = np.histogram2d(speed[sel], az[sel], bins=[s_edges, a_edges], weights=spec_i[sel])
            out += h
    return out, s_edges, a_edges
