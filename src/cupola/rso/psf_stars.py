"""The point-spread function measured from stars: isolated, unsaturated star images of the camera
that took (or will take) the spacecraft images, recentred to their sub-pixel centroids, normalised
to unit flux and median-stacked into an empirical kernel (issue 19: "a PSF estimated from star
images given by the user"; the route of Aberdeen et al. 2025, whose PSF came from bright stars).

The kernel is on the star image's pixel grid: it applies to spacecraft images of the same camera
and pixel scale. A Moffat profile fitted to the stack gives its FWHM for the record.

>>> import numpy as np
>>> from cupola.rso.degrade import moffat_psf
>>> rng = np.random.default_rng(0)
>>> sky = rng.normal(100.0, 2.0, (200, 200))
>>> for r, c in [(30, 40), (60, 150), (110, 80), (160, 170), (170, 30)]:
...     sky[r - 7 : r + 8, c - 7 : c + 8] += 5000.0 * moffat_psf(1.8, 3.0)
>>> est = estimate_psf(sky)
>>> est.n_stars, round(est.fwhm_px, 1), bool(abs(est.psf.sum() - 1.0) < 1e-9)
(5, 1.8, True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.rso.degrade import PSF_SIZE_PX

__all__ = ["StarPsf", "estimate_psf", "find_stars", "read_star_image", "moffat_fwhm_px"]

#: stars at least this many noise sigmas above the background are used
DETECT_SIGMA = 8.0
#: any other source brighter than this (sigmas) within the cutout disqualifies a star (crowding);
#: at 5 sigma pure noise gives a false neighbour in about 1 cutout of 3000 (Gaussian tail 3e-7 a pixel)
NEIGHBOUR_SIGMA = 5.0
#: a star whose cutout reaches this share of the saturation level is dropped (clipped core)
SATURATED_SHARE = 0.98
#: fewer usable stars than this is an input error
MIN_STARS = 3
BACKGROUND_BLOCK_PX = 64
#: the phase regression (below) needs this many stars and phases spread at least this much (std, px)
PHASE_FIT_STARS = 12
PHASE_FIT_SPREAD_PX = 0.15


@dataclass(frozen=True)
class StarPsf:
    """An empirical PSF: ``psf`` (size x size, sums to 1), the number of stars stacked, and the
    Moffat profile fitted to it (``alpha`` px, ``beta``; FWHM px)."""

    psf: np.ndarray
    n_stars: int
    fwhm_px: float
    moffat_alpha_px: float
    moffat_beta: float

    def kind(self) -> str:
        return f"stars n={self.n_stars} fwhm={self.fwhm_px:.3f}px (moffat beta={self.moffat_beta:.2f})"


def moffat_fwhm_px(alpha_px: float, beta: float) -> float:
    """FWHM of the Moffat profile (1 + r²/alpha²)^-beta: 2 alpha sqrt(2^(1/beta) - 1)."""
    return float(2.0 * alpha_px * np.sqrt(2.0 ** (1.0 / beta) - 1.0))


def _background(img: np.ndarray) -> np.ndarray:
    """A smooth background: the median of each 64-px block, interpolated bilinearly."""
    from scipy import ndimage

    h, w = img.shape
    b = BACKGROUND_BLOCK_PX
    nr, nc = max(1, h // b), max(1, w // b)
    rows = np.array_split(np.arange(h), nr)
    cols = np.array_split(np.arange(w), nc)
    grid = np.array([[np.median(img[r[0] : r[-1] + 1, c[0] : c[-1] + 1]) for c in cols] for r in rows])
    if grid.size == 1:
        return np.full_like(img, grid[0, 0])
    rc = np.array([r.mean() for r in rows])
    cc = np.array([c.mean() for c in cols])
    rr = np.interp(np.arange(h), rc, np.arange(nr))
    ci = np.interp(np.arange(w), cc, np.arange(nc))
    return ndimage.map_coordinates(grid, np.meshgrid(rr, ci, indexing="ij"), order=1, mode="nearest")


def find_stars(
    image: np.ndarray, size: int = PSF_SIZE_PX, saturation_level: float | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """(peaks (N, 2) row, col of the usable stars, noise sigma, background-subtracted image):
    local maxima ``DETECT_SIGMA`` above the background, a full cutout inside the image, no other
    source above ``NEIGHBOUR_SIGMA`` within the cutout, and no pixel of the cutout near saturation."""
    from scipy import ndimage

    img = np.asarray(image, float)
    sub = img - _background(img)
    mad = np.median(np.abs(sub - np.median(sub)))
    sigma = float(1.4826 * mad) if mad > 0 else float(np.std(sub))
    if not np.isfinite(sigma) or sigma <= 0:
        return np.zeros((0, 2), int), 0.0, sub
    local_max = ndimage.maximum_filter(sub, size=5) == sub
    half = size // 2 + 1
    faint = np.argwhere(local_max & (sub > NEIGHBOUR_SIGMA * sigma))
    bright = np.argwhere(local_max & (sub > DETECT_SIGMA * sigma))
    h, w = img.shape
    inside = (bright[:, 0] >= half) & (bright[:, 1] >= half) & (bright[:, 0] < h - half) & (bright[:, 1] < w - half)
    bright = bright[inside]
    if len(bright) == 0:
        return np.zeros((0, 2), int), sigma, sub
    from scipy.spatial import cKDTree

    # sources within the cutout (Chebyshev distance): the star itself and any neighbour
    near = cKDTree(faint).query_ball_point(bright, r=half + 2, p=np.inf, return_length=True)
    keep = []
    for (r, c), n_near in zip(bright, near):
        if n_near > 1:
            continue  # a neighbour in or near the cutout
        if saturation_level is not None and img[r - half : r + half + 1, c - half : c + half + 1].max() >= (
            SATURATED_SHARE * saturation_level
        ):
            continue
        keep.append((r, c))
    return np.array(keep, int).reshape(-1, 2), sigma, sub


def _moffat_fit(psf: np.ndarray) -> tuple[float, float]:
    """(alpha px, beta) of a Moffat profile fitted to a centred kernel (least squares)."""
    from scipy.optimize import least_squares

    n = psf.shape[0]
    c = (n - 1) / 2.0
    y, x = np.mgrid[0:n, 0:n].astype(float)

    def resid(p):
        amp, alpha, beta, x0, y0 = p
        return (amp * (1.0 + ((x - x0) ** 2 + (y - y0) ** 2) / alpha**2) ** (-beta) - psf).ravel()

    fit = least_squares(
        resid,
        [psf.max(), 1.5, 3.0, c, c],
        bounds=([0, 0.05, 0.5, c - 2, c - 2], [np.inf, n, 50.0, c + 2, c + 2]),
    )
    return float(fit.x[1]), float(fit.x[2])


def estimate_psf(
    image: np.ndarray,
    size: int = PSF_SIZE_PX,
    saturation_level: float | None = None,
    max_stars: int = 300,
    name: str = "the star image",
) -> StarPsf:
    """The PSF of a star image (grey, linear counts): :func:`find_stars`; each star's cutout about
    the pixel nearest its centroid (first moment within 3 px), normalised to unit flux. With at
    least ``PHASE_FIT_STARS`` stars whose sub-pixel phases spread, each kernel pixel is the
    intercept of a quadratic regression of the stars' values on their phases (the value for a star
    centred on a pixel: an undersampled profile is never interpolated, which would widen it);
    otherwise the cutouts are shifted onto the pixel by cubic splines and their median taken.
    Negatives set to 0, normalised to sum 1. The brightest ``max_stars`` stars are used.

    Raises:
        InputError: not a 2-D image, or fewer than ``MIN_STARS`` usable stars.
    """
    from scipy import ndimage

    img = np.asarray(image, float)
    if img.ndim != 2 or min(img.shape) < 2 * size:
        raise InputError(f"{name}: a grey star image at least {2 * size} px on a side is needed, got shape {img.shape}")
    if not np.isfinite(img).all():
        raise InputError(f"{name}: the image holds NaN or infinite values")
    peaks, sigma, sub = find_stars(img, size, saturation_level)
    if len(peaks) < MIN_STARS:
        raise InputError(
            f"{name}: {len(peaks)} isolated, unsaturated star(s) above {DETECT_SIGMA:g} sigma found, "
            f"at least {MIN_STARS} needed to measure a PSF"
        )
    order = np.argsort(-sub[peaks[:, 0], peaks[:, 1]])[:max_stars]
    half = size // 2
    pad = half + 3
    yy, xx = np.mgrid[-3:4, -3:4]
    raw, shifted, phases = [], [], []
    for r, c in peaks[order]:
        core = np.clip(sub[r - 3 : r + 4, c - 3 : c + 4], 0, None)
        f = core.sum()
        if f <= 0:
            continue
        dy, dx = float((core * yy).sum() / f), float((core * xx).sum() / f)
        r0, c0 = r + int(round(dy)), c + int(round(dx))  # the pixel nearest the centroid
        py, px = dy - round(dy), dx - round(dx)  # the star's phase on it, -0.5..0.5 px
        box = sub[r0 - pad : r0 + pad + 1, c0 - pad : c0 + pad + 1]
        if box.shape != (2 * pad + 1, 2 * pad + 1):
            continue
        stamp = box[pad - half : pad + half + 1, pad - half : pad + half + 1]
        moved = ndimage.shift(box, (-py, -px), order=3, mode="nearest")[
            pad - half : pad + half + 1, pad - half : pad + half + 1
        ]
        if stamp.sum() > 0 and moved.sum() > 0:
            raw.append(stamp / stamp.sum())
            shifted.append(moved / moved.sum())
            phases.append((py, px))
    if len(raw) < MIN_STARS:
        raise InputError(f"{name}: only {len(raw)} star(s) with positive flux, at least {MIN_STARS} needed")
    ph = np.array(phases)
    if len(raw) >= PHASE_FIT_STARS and ph.std(axis=0).min() >= PHASE_FIT_SPREAD_PX:
        # each pixel's value regressed on the stars' phases (quadratic): the intercept is the kernel
        # of a star centred on a pixel, with no interpolation of the undersampled profile
        vy, vx = ph[:, 0], ph[:, 1]
        design = np.column_stack([np.ones_like(vy), vy, vx, vy * vy, vy * vx, vx * vx])
        values = np.stack(raw).reshape(len(raw), -1)
        use = np.ones(len(raw), bool)
        for _ in range(2):  # a second fit without the stars that fit worst (a blend, a cosmic ray)
            coef, *_ = np.linalg.lstsq(design[use], values[use], rcond=None)
            misfit = np.sqrt(((design @ coef - values) ** 2).sum(axis=1))
            clip = misfit <= 3.0 * np.median(misfit[use])
            if clip.sum() < PHASE_FIT_STARS or np.array_equal(clip, use):
                break
            use = clip
        psf = coef[0].reshape(size, size)
    else:  # too few stars or phases: each stamp shifted onto the pixel (cubic splines), the median
        psf = np.median(np.stack(shifted), axis=0)
    psf = np.clip(psf, 0, None)
    psf /= psf.sum()
    alpha, beta = _moffat_fit(psf)
    return StarPsf(psf, len(raw), moffat_fwhm_px(alpha, beta), alpha, beta)


def read_star_image(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """(grey image as float, saturation level or None) of a star image: FITS (first image HDU;
    no saturation level unless the header has SATURATE) or any image :func:`read_photo_full_depth`
    reads (colour averaged to grey; saturation at the integer type's maximum)."""
    p = Path(path)
    if p.suffix.lower() in (".fits", ".fit", ".fts"):
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        from astropy.io import fits

        try:
            with fits.open(p) as hdul:
                hdu = next((h for h in hdul if h.data is not None and np.ndim(h.data) == 2), None)
                if hdu is None:
                    raise InputError(f"{p}: no 2-D image in the FITS file")
                sat = hdu.header.get("SATURATE")
                return np.asarray(hdu.data, float), (float(sat) if sat is not None else None)
        except OSError as exc:
            raise InputError(f"{p}: not a readable FITS file ({str(exc).splitlines()[0]})") from None
    from cupola.io.images import read_photo_full_depth

    pixels, _ = read_photo_full_depth(p)  # a 16-bit RGB PNG or TIFF keeps its 16 bits
    top = float(np.iinfo(pixels.dtype).max)
    grey = pixels.astype(float).mean(axis=2) if pixels.ndim == 3 else pixels.astype(float)
    return grey, top
