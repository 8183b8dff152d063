"""Figures of a plate-solved star field: the photo with its sources and the identified stars
(``stars.png`` of ``cupola nightlights stars``), and a map of the angle between two star-field
solutions of one photo (the AUROMAT comparison of docs/nightlights.md).

Arrays in, PNG out: this layer knows nothing of the solver.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cupola.io.srgb import linear_to_srgb
from cupola.plot.figure import new_figure, save_figure

__all__ = ["display_image", "write_star_field", "write_agreement_map"]


def display_image(rgb_linear: np.ndarray, *, max_width_px: int = 1600) -> tuple[np.ndarray, int]:
    """An (h, w, 3) image in [0, 1] for display from linear R, G, B planes (3, H, W): binned by an
    integer factor to at most ``max_width_px`` wide, scaled to the 99.7th percentile and encoded
    with the sRGB curve; returns it and the binning factor."""
    a = np.nan_to_num(np.asarray(rgb_linear, np.float32), nan=0.0)
    k = max(1, int(np.ceil(a.shape[2] / max_width_px)))
    h, w = a.shape[1] // k, a.shape[2] // k
    a = a[:, : h * k, : w * k].reshape(3, h, k, w, k).mean(axis=(2, 4))
    pos = a[a > 0]
    top = float(np.percentile(pos, 99.7)) if pos.size else 1.0
    x = np.clip(a / max(top, 1e-30), 0.0, 1.0)
    return linear_to_srgb(x).astype(np.float32).transpose(1, 2, 0), k


def write_star_field(
    path: str | Path,
    rgb_linear: np.ndarray,
    *,
    plane_to_photo: float,
    sources_col: np.ndarray,
    sources_row: np.ndarray,
    star_like: np.ndarray,
    matched_col: np.ndarray,
    matched_row: np.ndarray,
    predicted_col: np.ndarray,
    predicted_row: np.ndarray,
    labels: list[str],
    title: str,
    photo_size_px: tuple[int, int],
) -> Path:
    """The photo (linear planes ``rgb_linear`` whose pixel is ``plane_to_photo`` photo pixels)
    with every detected source (grey: not star-like, yellow: star-like), the identified stars
    (cyan circles at their measured position, red crosses where the solution puts the catalog
    star) and the labels of the brightest; photo pixel coordinates on the axes."""
    img, k = display_image(rgb_linear)
    scale = plane_to_photo * k  # photo pixels per displayed pixel
    w_px, h_px = photo_size_px
    aspect = h_px / w_px
    fig = new_figure((12.0, 12.0 * aspect + 0.8), dpi=110)
    ax = fig.add_axes((0.07, 0.06, 0.91, 0.86))
    ax.imshow(
        img, extent=(-0.5, img.shape[1] * scale - 0.5, img.shape[0] * scale - 0.5, -0.5), interpolation="bilinear"
    )
    sl = np.asarray(star_like, bool)
    ax.scatter(sources_col[~sl], sources_row[~sl], s=8, facecolors="none", edgecolors="0.6", linewidths=0.5)
    ax.scatter(sources_col[sl], sources_row[sl], s=14, facecolors="none", edgecolors="yellow", linewidths=0.6)
    ax.scatter(matched_col, matched_row, s=110, facecolors="none", edgecolors="cyan", linewidths=1.0)
    ax.scatter(predicted_col, predicted_row, s=30, marker="+", c="red", linewidths=0.8)
    for c, rr, text in zip(predicted_col, predicted_row, labels):
        if text:
            ax.annotate(text, (c, rr), xytext=(6, -6), textcoords="offset points", color="cyan", fontsize=7)
    ax.set_xlim(-0.5, w_px - 0.5)
    ax.set_ylim(h_px - 0.5, -0.5)
    ax.set_xlabel("col (px)")
    ax.set_ylabel("row (px)")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def write_agreement_map(
    path: str | Path,
    angle_deg: np.ndarray,
    sky: np.ndarray,
    extent_px: tuple[float, float, float, float],
    *,
    stars_col: np.ndarray,
    stars_row: np.ndarray,
    residual_a_px: np.ndarray,
    residual_b_px: np.ndarray,
    names: tuple[str, str],
    title: str,
) -> Path:
    """Left: the angle (deg) between two solutions on a pixel grid (``angle_deg`` (ny, nx) over
    ``extent_px`` = (col0, col1, row1, row0)), the part outside ``sky`` hatched grey. Right: each
    matched star's residual (measured minus predicted, px, (N, 2)) under solution a and b, as
    arrows scaled x100 from the star."""
    fig = new_figure((14.0, 5.0), dpi=100)
    ax, ax2 = fig.subplots(1, 2)
    shown = np.where(sky, angle_deg, np.nan)
    im = ax.imshow(shown, extent=extent_px, cmap="viridis", vmin=0.0, vmax=float(np.nanmax(angle_deg)))
    ax.imshow(np.where(sky, np.nan, 1.0), extent=extent_px, cmap="Greys", vmin=0, vmax=3, alpha=0.6)
    fig.colorbar(im, ax=ax, label="angle between the two solutions (deg)")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("col (px)")
    ax.set_ylabel("row (px)")
    for res, colour, name in ((residual_a_px, "tab:blue", names[0]), (residual_b_px, "tab:red", names[1])):
        rms = float(np.sqrt(np.mean(np.sum(np.asarray(res) ** 2, axis=1)))) if len(res) else float("nan")
        ax2.quiver(
            stars_col,
            stars_row,
            res[:, 0],
            res[:, 1],
            color=colour,
            angles="xy",
            scale_units="xy",
            scale=0.01,
            width=0.003,
            label=f"{name}: rms {rms:.2f} px",
        )
    ax2.set_xlim(extent_px[0], extent_px[1])
    ax2.set_ylim(extent_px[2], extent_px[3])
    ax2.set_aspect("equal")
    ax2.legend(loc="lower left", fontsize=8)
    ax2.set_title("star residuals, measured - predicted (x100)", fontsize=9)
    ax2.set_xlabel("col (px)")
    fig.tight_layout()
    return save_figure(fig, path)
