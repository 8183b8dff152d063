"""Point sources in a night frame: background, detection (photutils), trails.

Stars trail in ISS frames: a camera fixed to the station turns with the LVLH frame once per orbit
(~0.065 deg/s) about the orbit normal, so in a 1 s exposure at 50 mm a star moves ~9 px. Sources
are found by image segmentation (``photutils.segmentation``) of a lightly smoothed detection
image, which keeps a trail in one segment; the segment's intensity-weighted centroid is the star's
position at mid-exposure (a uniformly swept trail is symmetric about it), and its second moments
give the trail: a line of length L blurred by a PSF of sigma s has variances L^2/12 + s^2 along
and s^2 across, so ``L = sqrt(12 (sigma_major^2 - sigma_minor^2))``.

All positions are returned in full-resolution photo pixels (col, row); the detection image is the
superpixel plane (one value per 2x2 Bayer cell), whose pixel (i, j) is centred at sensor pixel
(2 j + 0.5, 2 i + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Background",
    "estimate_background",
    "Detections",
    "detect_sources",
    "TrailModel",
    "fit_trails",
    "smooth_along_trail",
    "plane_to_sensor",
    "sensor_to_plane",
]


def plane_to_sensor(j, i, offset=(0.5, 0.5)):
    """Plane pixel (j = column, i = row) -> sensor pixel (col, row)."""
    return 2.0 * np.asarray(j, float) + offset[0], 2.0 * np.asarray(i, float) + offset[1]


def sensor_to_plane(col, row, offset=(0.5, 0.5)):
    """Sensor pixel (col, row) -> plane pixel (j, i) of the plane with the given 2x2 offset."""
    return (np.asarray(col, float) - offset[0]) / 2.0, (np.asarray(row, float) - offset[1]) / 2.0


@dataclass(frozen=True)
class Background:
    level: np.ndarray  # (h, w) float32
    rms: np.ndarray  # (h, w) float32
    box_px: int


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN, by one vectorised sort (NaN sorts last)."""
    srt = np.sort(a, axis=-1)
    n = np.sum(np.isfinite(srt), axis=-1)
    lo = np.clip((n - 1) // 2, 0, a.shape[-1] - 1)
    hi = np.clip(n // 2, 0, a.shape[-1] - 1)
    med = 0.5 * (
        np.take_along_axis(srt, lo[..., None], -1)[..., 0] + np.take_along_axis(srt, hi[..., None], -1)[..., 0]
    )
    return np.where(n > 0, med, np.nan)


def _block_stat(img: np.ndarray, box: int, mask: np.ndarray | None, stride: int = 2):
    """Sigma-clipped median and standard deviation in boxes of ``box`` pixels (every ``stride``-th
    pixel of a box is enough for smooth statistics)."""
    h, w = img.shape
    nh, nw = max(1, h // box), max(1, w // box)
    k = box // stride

    def blocks(x):
        x = x[: nh * box : stride, : nw * box : stride]
        return x.reshape(nh, k, nw, k).swapaxes(1, 2).reshape(nh, nw, k * k)

    a = blocks(img).astype(np.float32)
    if mask is not None:
        a = np.where(blocks(mask), np.nan, a)
    # sigma-clip once around the median: stars and trails are few pixels of a box
    med = _nanmedian_last(a)
    mad = _nanmedian_last(np.abs(a - med[..., None])) * 1.4826
    a = np.where(np.abs(a - med[..., None]) > 3.0 * mad[..., None], np.nan, a)
    med = _nanmedian_last(a)
    std = np.nanstd(a, axis=2)
    return med, std


def bilinear_upsample(grid: np.ndarray, shape: tuple[int, int], rows, cols) -> np.ndarray:
    """Bilinear interpolation of a coarse ``grid`` at fractional grid positions ``rows`` (length
    h) x ``cols`` (length w), clamped at the edges; separable, as two small matrix products."""

    def weights(pos, n):
        pos = np.clip(np.asarray(pos, float), 0.0, n - 1.0)
        i0 = np.minimum(np.floor(pos).astype(int), max(n - 2, 0))
        f = pos - i0
        m = np.zeros((pos.size, n), np.float32)
        m[np.arange(pos.size), i0] = 1.0 - f
        if n > 1:
            m[np.arange(pos.size), i0 + 1] += f
        else:
            m[:, 0] = 1.0
        return m

    g = np.nan_to_num(np.asarray(grid, np.float32), nan=0.0)
    return (weights(rows, g.shape[0]) @ g @ weights(cols, g.shape[1]).T).astype(np.float32).reshape(shape)


def _upsample(grid: np.ndarray, shape: tuple[int, int], box: int) -> np.ndarray:
    h, w = shape
    return bilinear_upsample(grid, shape, (np.arange(h) + 0.5) / box - 0.5, (np.arange(w) + 0.5) / box - 0.5)


def estimate_background(img: np.ndarray, *, box_px: int = 32, mask: np.ndarray | None = None) -> Background:
    """Smooth background level and noise: sigma-clipped median and standard deviation in boxes,
    median-filtered over 3x3 boxes, interpolated bilinearly (the approach of SExtractor and
    photutils' Background2D, vectorised in NumPy for speed)."""
    import warnings

    from scipy.ndimage import median_filter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes
        med, std = _block_stat(np.asarray(img, np.float32), box_px, mask)
    for a in (med, std):
        bad = ~np.isfinite(a)
        if bad.all():
            a[:] = 0.0
        elif bad.any():
            a[bad] = np.nanmedian(a)
    med = median_filter(med, size=3, mode="nearest")
    std = median_filter(std, size=3, mode="nearest")
    return Background(_upsample(med, img.shape, box_px), _upsample(std, img.shape, box_px), box_px)


@dataclass(frozen=True)
class Detections:
    """Sources, brightest first; positions in sensor pixels, shapes in plane pixels."""

    col: np.ndarray
    row: np.ndarray
    flux: np.ndarray  # detection-image units, summed over the segment
    peak: np.ndarray
    area_px: np.ndarray
    sigma_major: np.ndarray  # plane px
    sigma_minor: np.ndarray
    orientation_rad: np.ndarray  # of the major axis, from +col towards +row
    saturated: np.ndarray  # any saturated pixel in the segment
    snr: np.ndarray
    extended: np.ndarray  # much larger than a star trail: city lights, clouds

    def __len__(self) -> int:
        return int(self.col.size)

    def take(self, idx) -> Detections:
        return Detections(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @property
    def trail_length_plane_px(self) -> np.ndarray:
        return np.sqrt(12.0 * np.clip(self.sigma_major**2 - self.sigma_minor**2, 0.0, None))


def _column(cat, name: str, old: str | None = None) -> np.ndarray:
    """A SourceCatalog column as floats, by its photutils >= 3 name or its older one."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (name, old):
            if n is not None and hasattr(type(cat), n):
                v = getattr(cat, n)
                return np.asarray(getattr(v, "value", v), float)
    raise AttributeError(name)


def smooth_along_trail(img: np.ndarray, dj: float, di: float, smooth_px: float = 1.0) -> tuple[np.ndarray, float]:
    """A matched filter for trails: ``img`` smoothed by a Gaussian of ``smooth_px`` and averaged
    along the segment (``dj``, ``di``) (a whole trail, plane pixels) centred on each pixel; returns
    the filtered image and the factor by which it reduces white noise (from the kernel itself).

    A trail of length L spreads a star's light over ~L pixels; the filter collects it again, so a
    faint trail rises above the noise by ~sqrt(L) more than with the Gaussian alone, and it stays
    one segment (its centroid in the data is the trail's midpoint)."""
    from scipy.ndimage import gaussian_filter

    n = max(1, int(np.ceil(np.hypot(dj, di))) + 1)
    t = np.linspace(-0.5, 0.5, n)
    offs = np.unique(np.column_stack([np.rint(t * dj), np.rint(t * di)]).astype(int), axis=0)
    pad = int(np.abs(offs).max()) if offs.size else 0
    g = gaussian_filter(np.asarray(img, np.float32), smooth_px, mode="nearest")
    if pad == 0:
        out = g
    else:
        gp = np.pad(g, pad, mode="edge")
        h, w = g.shape
        out = np.zeros_like(g)
        for oj, oi in offs:
            out += gp[pad + oi : pad + oi + h, pad + oj : pad + oj + w]
        out /= np.float32(len(offs))
    # the kernel: a delta through the same operations
    r = pad + int(np.ceil(4 * smooth_px)) + 1
    delta = np.zeros((2 * r + 1, 2 * r + 1))
    delta[r, r] = 1.0
    kd = gaussian_filter(delta, smooth_px, mode="constant")
    k = np.zeros_like(kd)
    for oj, oi in offs:
        k += np.roll(np.roll(kd, oi, axis=0), oj, axis=1)
    k /= len(offs)
    return out, float(np.sqrt(np.sum(k**2)))


def detect_sources(
    img: np.ndarray,
    background: Background,
    *,
    saturated: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    nsigma: float = 5.0,
    npixels: int = 4,
    smooth_px: float = 1.0,
    max_sources: int = 3000,
    trail_plane_px=None,
) -> Detections:
    """Segment ``img`` (the superpixel detection plane) above ``nsigma`` times the noise of the
    smoothed image; returns the sources brightest first (at most ``max_sources``).

    ``trail_plane_px``: the stars' trails, a function of plane pixels (j, i) giving the trail
    (dj, di) there (plane pixels, whole exposure), e.g. from :class:`TrailModel`; where trails are
    2 plane pixels or longer the detection image is smoothed along them (:func:`smooth_along_trail`,
    one kernel per ninth of the frame) instead of by the Gaussian alone. Centroids stay those of
    the unsmoothed data in each segment: a trail's midpoint."""
    from photutils.segmentation import SourceCatalog
    from photutils.segmentation import detect_sources as _detect
    from scipy.ndimage import gaussian_filter, maximum

    data = np.asarray(img, np.float32) - background.level
    conv = gaussian_filter(data, smooth_px, mode="nearest")
    # noise of the smoothed image: a Gaussian of sigma s reduces white noise by 2 sqrt(pi) s
    thr = nsigma * background.rms / (2.0 * np.sqrt(np.pi) * smooth_px)
    matched = False
    if trail_plane_px is not None:
        conv, factor = _trail_filtered(data, trail_plane_px, smooth_px, conv)
        if factor is not None:
            thr = nsigma * background.rms * factor
            matched = True
    try:
        segm = _detect(conv, thr, n_pixels=npixels, mask=mask)  # photutils >= 3
    except TypeError:
        segm = _detect(conv, thr, npixels=npixels, mask=mask)
    empty = np.zeros(0)
    if segm is None or len(segm.labels) == 0:
        return Detections(
            empty, empty, empty, empty, empty, empty, empty, empty, empty.astype(bool), empty, empty.astype(bool)
        )
    cat = SourceCatalog(data, segm, mask=mask)
    flux = _column(cat, "segment_flux")
    j = _column(cat, "x_centroid", "xcentroid")
    i = _column(cat, "y_centroid", "ycentroid")
    area = _column(cat, "area")
    smaj = _column(cat, "semimajor_axis", "semimajor_sigma")
    smin = _column(cat, "semiminor_axis", "semiminor_sigma")
    ori = np.radians(_column(cat, "orientation"))
    peak = _column(cat, "max_value")
    labels = np.asarray(cat.labels)
    if matched:
        # along trails: the peak of the matched filter, the trail's middle (mid-exposure); the
        # centroid of a faint trail's segment wanders with the noise pixels it takes in
        j, i = _filter_peaks(conv, segm.data, labels, j, i)
    if saturated is not None:
        sat = np.asarray(maximum(saturated.astype(np.uint8), labels=segm.data, index=labels), bool)
    else:
        sat = np.zeros(labels.size, bool)
    ii = np.clip(np.rint(np.nan_to_num(i)).astype(int), 0, img.shape[0] - 1)
    jj = np.clip(np.rint(np.nan_to_num(j)).astype(int), 0, img.shape[1] - 1)
    rms_at = background.rms[ii, jj]
    snr = flux / np.maximum(rms_at * np.sqrt(np.maximum(area, 1.0)), 1e-12)
    ok = np.isfinite(j) & np.isfinite(i) & np.isfinite(flux) & (flux > 0)
    med_area = np.median(area[ok & (snr > 10)]) if np.any(ok & (snr > 10)) else np.median(area[ok]) if ok.any() else 1
    extended = area > max(12.0 * med_area, 200.0)
    order = np.flatnonzero(ok)[np.argsort(-flux[ok])][:max_sources]
    col, row = plane_to_sensor(j, i)
    return Detections(
        col[order],
        row[order],
        flux[order],
        peak[order],
        area[order],
        smaj[order],
        smin[order],
        ori[order],
        sat[order],
        snr[order],
        extended[order],
    )


def _filter_peaks(conv: np.ndarray, seg: np.ndarray, labels: np.ndarray, j: np.ndarray, i: np.ndarray):
    """Sub-pixel position (j, i) of the highest value of ``conv`` in each segment ``labels`` of
    ``seg``: the brightest pixel and a parabola through it and its two neighbours along each axis.
    Segments whose peak lies on the frame's edge keep the given (j, i)."""
    from scipy.ndimage import maximum_position

    h, w = conv.shape
    pos = np.asarray(maximum_position(conv, labels=seg, index=labels), float).reshape(-1, 2)
    pi, pj = pos[:, 0].astype(int), pos[:, 1].astype(int)
    inner = (pi > 0) & (pi < h - 1) & (pj > 0) & (pj < w - 1)
    out_j, out_i = np.array(j, float), np.array(i, float)
    a, b = pi[inner], pj[inner]
    c0 = conv[a, b]

    def vertex(m, p):
        den = m - 2.0 * c0 + p
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(den < 0, 0.5 * (m - p) / den, 0.0)
        return np.clip(d, -0.5, 0.5)

    out_j[inner] = b + vertex(conv[a, b - 1], conv[a, b + 1])
    out_i[inner] = a + vertex(conv[a - 1, b], conv[a + 1, b])
    return out_j, out_i


def _trail_filtered(data: np.ndarray, trail_plane_px, smooth_px: float, conv: np.ndarray):
    """The detection image smoothed along the trails tile by tile (3 x 3 tiles, each with its own
    trail), and the noise factor per pixel; (conv, None) when the trails are short."""
    h, w = data.shape
    edges_i = np.linspace(0, h, 4).astype(int)
    edges_j = np.linspace(0, w, 4).astype(int)
    ci = 0.5 * (edges_i[:-1] + edges_i[1:])
    cj = 0.5 * (edges_j[:-1] + edges_j[1:])
    jj, ii = np.meshgrid(cj, ci)
    dj, di = (np.asarray(v, float).reshape(3, 3) for v in trail_plane_px(jj.ravel(), ii.ravel()))
    length = np.hypot(dj, di)
    if not np.all(np.isfinite(length)) or np.median(length) < 2.0:
        return conv, None
    out = np.empty_like(conv)
    factor = np.empty((h, w), np.float32)
    for a in range(3):
        for b in range(3):
            pad = int(np.ceil(length[a, b])) + 8
            i0, i1 = max(0, edges_i[a] - pad), min(h, edges_i[a + 1] + pad)
            j0, j1 = max(0, edges_j[b] - pad), min(w, edges_j[b + 1] + pad)
            sm, f = smooth_along_trail(data[i0:i1, j0:j1], dj[a, b], di[a, b], smooth_px)
            out[edges_i[a] : edges_i[a + 1], edges_j[b] : edges_j[b + 1]] = sm[
                edges_i[a] - i0 : edges_i[a + 1] - i0, edges_j[b] - j0 : edges_j[b + 1] - j0
            ]
            factor[edges_i[a] : edges_i[a + 1], edges_j[b] : edges_j[b + 1]] = f
    return out, factor


@dataclass(frozen=True)
class TrailModel:
    """Star trails as a rotation of the camera during the exposure.

    ``omega_cam`` (rad per exposure, camera frame) is the rotation vector of the sky relative to
    the camera over the exposure: a star at unit direction s (camera frame) moves by
    ``omega_cam x s``. ``length_px``/``angle_rad`` give each position's trail.
    """

    omega_cam: np.ndarray
    n_used: int
    rms_px: float

    def trail_vectors(self, camera, col_u, row_u) -> tuple[np.ndarray, np.ndarray]:
        """Trail (dcol, drow) in ideal sensor pixels at ideal positions (whole exposure)."""
        rays = camera.pixel_to_ray(col_u, row_u)
        ds = np.cross(self.omega_cam, rays)
        z = rays[..., 2]
        dx = (ds[..., 0] * z - rays[..., 0] * ds[..., 2]) / z**2
        dy = (ds[..., 1] * z - rays[..., 1] * ds[..., 2]) / z**2
        return dx * camera.focal_x_px, dy * camera.focal_y_px

    @property
    def angle_per_exposure_deg(self) -> float:
        return float(np.degrees(np.linalg.norm(self.omega_cam)))


def fit_trails(camera, col_u, row_u, length_px, angle_rad, weights=None) -> TrailModel | None:
    """Fit the camera's rotation during the exposure to measured trails (sensor px, ideal positions).

    The sign of a trail's direction is unknown from moments; it is aligned with the dominant
    direction of the longest trails before the (linear) least-squares fit for omega.
    """
    col_u, row_u = np.asarray(col_u, float), np.asarray(row_u, float)
    L = np.asarray(length_px, float)
    if L.size < 3:
        return None
    d = np.column_stack([np.cos(angle_rad), np.sin(angle_rad)]) * L[:, None]
    # orientation is axial (mod pi): align signs with the doubled-angle mean direction
    ref = np.angle(np.sum(L**2 * np.exp(2j * np.asarray(angle_rad)))) / 2.0
    sgn = np.sign(d @ np.array([np.cos(ref), np.sin(ref)]))
    sgn[sgn == 0] = 1
    d *= sgn[:, None]
    rays = camera.pixel_to_ray(col_u, row_u)
    x, y = rays[:, 0], rays[:, 1]
    fx, fy = camera.focal_x_px, camera.focal_y_px
    # d(pixel) = J * (omega x s) with s = (x, y, 1): linear in omega
    # omega x s = (wy - wz y, wz x - wx, wx y - wy x)
    # dcol = fx (ds_x - x ds_z), drow = fy (ds_y - y ds_z)
    a_col = np.column_stack([-x * y, 1 + x * x, -y]) * fx
    a_row = np.column_stack([-(1 + y * y), x * y, x]) * fy
    A = np.vstack([a_col, a_row])
    b = np.concatenate([d[:, 0], d[:, 1]])
    w = np.ones(L.size) if weights is None else np.asarray(weights, float)
    W = np.concatenate([w, w])
    sol, *_ = np.linalg.lstsq(A * W[:, None], b * W, rcond=None)
    res = A @ sol - b
    return TrailModel(sol, int(L.size), float(np.sqrt(np.mean(res**2))))


def fit_trails_robust(camera, col_u, row_u, length_px, angle_rad, weights=None, *, clip: float = 3.0):
    """:func:`fit_trails` with the sources that disagree with the fit left out and the fit
    repeated (hot pixels, towns and merged sources among the bright sources have no trail or
    another one); returns the model and the sources kept, or (None, None)."""
    col_u, row_u = np.asarray(col_u, float), np.asarray(row_u, float)
    L = np.asarray(length_px, float)
    ang = np.asarray(angle_rad, float)
    w = np.ones(L.size) if weights is None else np.asarray(weights, float)
    keep = np.isfinite(L) & np.isfinite(ang) & np.isfinite(col_u) & np.isfinite(row_u)
    model = None
    for _ in range(3):
        if keep.sum() < 3:
            return None, None
        model = fit_trails(camera, col_u[keep], row_u[keep], L[keep], ang[keep], w[keep])
        if model is None:
            return None, None
        pc, pr = model.trail_vectors(camera, col_u, row_u)
        meas = np.column_stack([np.cos(ang), np.sin(ang)]) * L[:, None]
        err = np.minimum(np.hypot(pc - meas[:, 0], pr - meas[:, 1]), np.hypot(pc + meas[:, 0], pr + meas[:, 1]))
        scale = max(1.4826 * float(np.median(err[keep])), 0.5)
        new = keep & (err <= clip * scale)
        if np.array_equal(new, keep):
            break
        keep = new
    return model, keep
