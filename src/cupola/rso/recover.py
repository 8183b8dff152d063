"""Image recovery: the trained U-Net, and the classical baselines with the known PSF (Wiener and
Richardson-Lucy deconvolution, scikit-image), scored by MSE, PSNR and SSIM against the clean image
(clipped to [0, 1], data range 1).

Example
-------
>>> import numpy as np
>>> from cupola.rso.degrade import convolve, gaussian_psf
>>> clean = np.zeros((32, 32)); clean[10:22, 8:24] = 0.8
>>> blurred = convolve(clean, gaussian_psf(1.5))
>>> bool(mse(richardson_lucy(blurred, gaussian_psf(1.5), 30), clean) < mse(blurred, clean))
True
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["mse", "psnr_db", "ssim", "wiener", "richardson_lucy", "recover_images", "tune_baselines"]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) for data range 1."""
    return float(10.0 * np.log10(1.0 / max(mse(a, b), 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.asarray(a, float), np.asarray(b, float), data_range=1.0))


def wiener(image: np.ndarray, psf: np.ndarray, balance: float) -> np.ndarray:
    """Wiener-Hunt deconvolution (scikit-image) with regularisation weight ``balance``, clipped to [0, 1]."""
    from skimage.restoration import wiener as _wiener

    return np.clip(_wiener(np.asarray(image, float), psf, balance, clip=False), 0.0, 1.0)


def richardson_lucy(image: np.ndarray, psf: np.ndarray, iterations: int) -> np.ndarray:
    """Richardson-Lucy deconvolution (scikit-image), clipped to [0, 1]."""
    from skimage.restoration import richardson_lucy as _rl

    return np.clip(_rl(np.asarray(image, float), psf, num_iter=iterations, clip=False), 0.0, 1.0)


WIENER_BALANCES = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
RL_ITERATIONS = (3, 5, 10, 20, 40, 80, 160, 320, 640, 1280)


def tune_baselines(degraded: np.ndarray, clean: np.ndarray, psf: np.ndarray) -> tuple[float, int]:
    """The Wiener balance and Richardson-Lucy iteration count with the lowest mean MSE over the
    given (training) images: the baselines get their best setting, chosen on other images."""
    target = np.clip(clean, 0, 1)
    w = [np.mean([mse(wiener(d, k, b), t) for d, k, t in zip(degraded, psf, target)]) for b in WIENER_BALANCES]
    r = [np.mean([mse(richardson_lucy(d, k, it), t) for d, k, t in zip(degraded, psf, target)]) for it in RL_ITERATIONS]
    return WIENER_BALANCES[int(np.argmin(w))], RL_ITERATIONS[int(np.argmin(r))]


def recover_images(net: torch.nn.Module, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """The U-Net's restoration of images (N, H, W) in [0, 1]; sides padded to a multiple of 4."""
    images = np.asarray(images, np.float32)
    h, w = images.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    padded = np.pad(images, ((0, 0), (0, ph), (0, pw)))
    out = np.empty_like(padded)
    with torch.no_grad():
        for s in range(0, len(padded), batch):
            out[s : s + batch] = net(torch.from_numpy(padded[s : s + batch])[:, None])[:, 0].numpy()
    return np.clip(out[:, :h, :w], 0.0, 1.0)
