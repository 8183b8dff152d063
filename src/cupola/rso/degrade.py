"""The degradation of a clean rendering into what a camera records: a point-spread function
(Gaussian, Moffat, linear motion blur, or a user's kernel), photon (Poisson) and read (Gaussian)
noise at a chosen signal level, 8-bit quantisation and optional JPEG compression. ``blur``
degradations (:data:`DEGRADATIONS`) keep the PSF and the quantisation only, the degradation
Aberdeen et al. (2025) used (a star-measured PSF, no added noise).

Every PSF kernel sums to 1 and the blur is a zero-padded convolution, so the blurred image keeps
the clean image's flux (for an object away from the edges); the noise is zero-mean in electrons,
so the flux is kept on average too. Moffat (1969): I(r) = (1 + (r/alpha)^2)^-beta.

Example
-------
>>> import numpy as np
>>> img = np.zeros((32, 32)); img[12:20, 10:22] = 1.0
>>> blurred = convolve(img, gaussian_psf(1.5))
>>> round(float(blurred.sum()), 6) == round(float(img.sum()), 6)
True
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Degradation",
    "gaussian_psf",
    "moffat_psf",
    "motion_psf",
    "combine_psfs",
    "convolve",
    "degrade",
    "random_degradation",
    "DEGRADATIONS",
    "PSF_SIZE_PX",
]

PSF_SIZE_PX = 15
DEGRADATIONS = {
    "full": "drawn PSF, photon and read noise at 30-1000 e- for white, JPEG for half",
    "blur": "drawn PSF and 8-bit quantisation only (no noise, no JPEG)",
}


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(float)
    return x - c, y - c


def gaussian_psf(sigma_px: float, size: int = PSF_SIZE_PX) -> np.ndarray:
    """A circular Gaussian kernel of standard deviation ``sigma_px``, summing to 1."""
    x, y = _grid(size)
    k = np.exp(-(x**2 + y**2) / (2.0 * sigma_px**2))
    return k / k.sum()


def moffat_psf(alpha_px: float, beta: float, size: int = PSF_SIZE_PX) -> np.ndarray:
    """A Moffat kernel (1 + r²/alpha²)^-beta (seeing-like wings), summing to 1."""
    x, y = _grid(size)
    k = (1.0 + (x**2 + y**2) / alpha_px**2) ** (-beta)
    return k / k.sum()


def motion_psf(length_px: float, angle_deg: float, size: int = PSF_SIZE_PX) -> np.ndarray:
    """A straight smear of ``length_px`` at ``angle_deg`` (from +col towards +row), summing to 1,
    sampled with 8 sub-steps per pixel and bilinear spreading."""
    k = np.zeros((size, size))
    c = (size - 1) / 2.0
    steps = max(int(np.ceil(length_px * 8)), 1)
    t = (np.arange(steps) + 0.5) / steps - 0.5 if length_px > 0 else np.zeros(1)
    a = np.radians(angle_deg)
    xs = c + t * length_px * np.cos(a)
    ys = c + t * length_px * np.sin(a)
    x0 = np.floor(xs).astype(int)
    y0 = np.floor(ys).astype(int)
    fx = xs - x0
    fy = ys - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), w)
    return k / k.sum()


def combine_psfs(*kernels: np.ndarray) -> np.ndarray:
    """The PSF of blurs applied one after the other (their convolution, cropped to the first's size)."""
    from scipy.signal import fftconvolve

    out = kernels[0]
    for k in kernels[1:]:
        out = fftconvolve(out, k, mode="same")
    out = np.clip(out, 0, None)
    return out / out.sum()


def convolve(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """``image`` blurred by ``psf`` (zero padding, same size)."""
    from scipy.signal import fftconvolve

    return np.clip(fftconvolve(np.asarray(image, float), psf, mode="same"), 0, None)


@dataclass(frozen=True)
class Degradation:
    """One degradation: the PSF kernel and its description, the signal level ``photons_white``
    (electrons collected from a white Lambert surface facing the Sun: low light is a small number),
    ``read_noise_e`` (electrons RMS), ``jpeg_quality`` (None: no JPEG); ``noise`` False: no photon
    or read noise whatever the signal level (the ``blur`` degradation)."""

    psf: np.ndarray
    psf_kind: str
    photons_white: float
    read_noise_e: float
    jpeg_quality: int | None = None
    noise: bool = True


def degrade(clean: np.ndarray, d: Degradation, rng: np.random.Generator | None = None) -> np.ndarray:
    """The recorded image (float32 in [0, 1], on the clean image's scale) of ``clean`` under ``d``:
    blur, Poisson photon noise and Gaussian read noise in electrons, back to the clean scale, clipped
    to [0, 1], quantised to 8 bits, and JPEG-compressed when ``d.jpeg_quality`` is set. ``rng``
    None or ``d.noise`` False: no noise (blur and quantisation only)."""
    blurred = convolve(clean, d.psf)
    if rng is not None and d.noise:
        electrons = rng.poisson(blurred * d.photons_white).astype(float)
        electrons += rng.normal(0.0, d.read_noise_e, electrons.shape)
        blurred = electrons / d.photons_white
    img8 = np.round(np.clip(blurred, 0.0, 1.0) * 255.0).astype(np.uint8)
    if d.jpeg_quality is not None:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(img8).save(buf, format="JPEG", quality=int(d.jpeg_quality))
        buf.seek(0)
        img8 = np.asarray(Image.open(buf).convert("L"))
    return (img8.astype(np.float32) / 255.0).astype(np.float32)


def random_degradation(
    rng: np.random.Generator, psf: tuple[np.ndarray, str] | None = None, kind: str = "full"
) -> Degradation:
    """A degradation drawn from the ranges the synthetic sets use: Gaussian (sigma 0.8-2.2 px) or
    Moffat (alpha 1-2.5 px, beta 2.5-4.5) PSF, half of them with a motion smear of 2-7 px; signal
    30-1000 e- for white (low light to daylight); read noise 1-6 e-; JPEG quality 50-95 for half.
    ``psf`` (kernel, description), e.g. measured from stars (:mod:`cupola.rso.psf_stars`), replaces
    the drawn PSF; the same random numbers are drawn, so the noise and JPEG draws are unchanged.
    ``kind`` "blur" (:data:`DEGRADATIONS`): the same draws, then no noise and no JPEG, so a blur set
    of a seed has the PSFs of the full set of that seed."""
    if kind not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {kind!r}; expected one of {', '.join(DEGRADATIONS)}")
    if rng.random() < 0.5:
        sigma = rng.uniform(0.8, 2.2)
        kernel = gaussian_psf(sigma)
        desc = f"gaussian sigma={sigma:.3f}px"
    else:
        alpha, beta = rng.uniform(1.0, 2.5), rng.uniform(2.5, 4.5)
        kernel = moffat_psf(alpha, beta)
        desc = f"moffat alpha={alpha:.3f}px beta={beta:.3f}"
    if rng.random() < 0.5:
        length, angle = rng.uniform(2.0, 7.0), rng.uniform(0.0, 180.0)
        kernel = combine_psfs(kernel, motion_psf(length, angle))
        desc += f" + motion {length:.2f}px at {angle:.1f}deg"
    photons = float(np.exp(rng.uniform(np.log(30.0), np.log(1000.0))))
    read = float(rng.uniform(1.0, 6.0))
    jpeg = int(rng.integers(50, 96)) if rng.random() < 0.5 else None
    if psf is not None:
        kernel, desc = psf
    if kind == "blur":
        return Degradation(kernel, desc, photons, 0.0, None, noise=False)
    return Degradation(kernel, desc, photons, read, jpeg)
