"""Airglow figures: the wavenumber spectrum with the waves found, the phase-velocity polar plot,
and the projected sequence as an animated GIF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.io.atomic import atomic_write
from cupola.plot.figure import new_figure, save_figure

__all__ = ["write_spectrum_png", "write_velocity_png", "write_sequence_gif"]


def write_spectrum_png(
    path: str | os.PathLike, ratio: np.ndarray, kx: np.ndarray, ky: np.ndarray, threshold: float, waves: list
) -> Path:
    """The periodogram over its red-noise background (log colour) in (kx, ky) cycles/km with the
    significance contour and each wave's wavevector (arrow along its propagation)."""
    fig = new_figure((6.4, 5.6), dpi=110)
    ax = fig.add_subplot()
    kmax = min(float(np.abs(kx).max()), 0.1)
    im = ax.pcolormesh(kx, ky, np.log10(np.clip(ratio, 1e-2, None)), shading="auto", cmap="magma", vmin=-1)
    ax.contour(kx, ky, ratio, levels=[threshold], colors="cyan", linewidths=0.6)
    for i, w in enumerate(waves, 1):
        ax.annotate("", xy=(w.kx_cyc_km, w.ky_cyc_km), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "white"})
        ax.text(w.kx_cyc_km * 1.08, w.ky_cyc_km * 1.08, f"{i}: {w.wavelength_km:.0f} km", color="white", fontsize=8)
    ax.set_xlim(-kmax, kmax)
    ax.set_ylim(-kmax, kmax)
    ax.set_aspect("equal")
    ax.set_xlabel("k east (cycles/km)")
    ax.set_ylabel("k north (cycles/km)")
    ax.set_title("Periodogram / red-noise background (cyan: significant)", fontsize=10)
    fig.colorbar(im, ax=ax, label="log10 ratio")
    return save_figure(fig, path)


def write_velocity_png(
    path: str | os.PathLike, power: np.ndarray, speed_edges: np.ndarray, azimuth_edges: np.ndarray, waves: list
) -> Path:
    """Phase-velocity spectrum (3-D FFT, polar: azimuth clockwise from north, radius m/s) with the
    waves of the table and their 1-sigma speed bars."""
    fig = new_figure((5.8, 5.8), dpi=110)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    theta = np.radians(azimuth_edges)
    p = power / power.max() if power.max() > 0 else power
    ax.pcolormesh(theta, speed_edges, p, cmap="Greys", shading="auto")
    for i, w in enumerate(waves, 1):
        th = np.radians(w.azimuth_deg)
        ax.errorbar(th, w.phase_speed_m_s, yerr=w.phase_speed_sigma_m_s, fmt="o", color="tab:red", ms=4)
        ax.text(th, w.phase_speed_m_s, f" {i}", color="tab:red", fontsize=8)
    ax.set_rmax(float(speed_edges[-1]))
    ax.set_title(
        "Phase velocity (m/s): 3-D FFT spectrum (grey; nothing below its lowest frequency bin / |k|),\n"
        "waves of the table (red, 1-sigma bars)",
        fontsize=8,
    )
    return save_figure(fig, path)


def write_sequence_gif(
    path: str | os.PathLike, frames: np.ndarray, *, duration_ms: int = 120, limit: float | None = None
) -> Path:
    """The modulation frames (n, ny, nx; NaN = no data, shown black) as a looping grey GIF
    (Pillow), stretched to +-``limit`` (default: 3 robust sigmas)."""
    from PIL import Image

    finite = frames[np.isfinite(frames)]
    if limit is None:
        limit = 3.0 * 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) if finite.size else 1.0
        limit = limit or 1.0
    images = []
    for f in frames:
        g = np.clip((np.nan_to_num(f, nan=-limit) + limit) / (2 * limit), 0, 1)
        g = np.where(np.isfinite(f), g, 0.0)
        images.append(Image.fromarray((g * 255).astype(np.uint8), mode="L"))
    path = Path(path)
    with atomic_write(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path
