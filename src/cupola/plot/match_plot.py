"""``matches.png``: photo and reference side by side with the inlier matches and the footprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure


def write_matches_png(
    path,
    photo: np.ndarray,
    reference: np.ndarray,
    *,
    photo_pts=None,
    ref_pts=None,
    footprint_ref_px=None,
    title: str = "",
    subtitle: str = "",
    max_lines: int = 300,
    width_in: float = 13.0,
    dpi: float = 110.0,
) -> Path:
    """Draw ``photo`` (left) and ``reference`` (right) at the same height, lines between matched
    points (photo pixels -> reference pixels) and the photo's outline on the reference.

    The images are shrunk to the pixels the figure gives them before drawing (the figure is
    ``width_in`` x ``dpi`` pixels wide), the match lines are one collection, and the PNG is written
    with light compression: the figure costs a few tenths of a second, not the seconds of drawing
    full-resolution images and one artist per line.
    """
    from matplotlib.collections import LineCollection

    ph, pw = photo.shape[:2]
    rh, rw = reference.shape[:2]
    scale = rh / ph
    fig_h = width_in * rh / (pw * scale + rw) + 0.9
    fig = new_figure((width_in, fig_h))
    # the axes span the figure's width below a title band: each image gets about this many pixels
    ax = fig.add_axes((0.01, 0.01, 0.98, 1.0 - 0.95 / fig_h))
    shown_w_px = width_in * dpi * 0.98
    shrink = min(1.0, 1.5 * shown_w_px / (pw * scale + rw))  # 1.5: a little finer than the screen
    ax.imshow(
        _shrunk(photo, shrink * scale),
        extent=(-0.5, pw * scale - 0.5, rh - 0.5, -0.5),
        cmap="gray" if photo.ndim == 2 else None,
    )
    off = pw * scale + 10
    ax.imshow(
        _shrunk(reference, shrink),
        extent=(off - 0.5, off + rw - 0.5, rh - 0.5, -0.5),
        cmap="gray" if reference.ndim == 2 else None,
    )
    if photo_pts is not None and ref_pts is not None and len(photo_pts):
        idx = np.linspace(0, len(photo_pts) - 1, min(max_lines, len(photo_pts))).astype(int)
        a = np.asarray(photo_pts, float)[idx] * scale
        b = np.asarray(ref_pts, float)[idx] + [off, 0.0]
        ax.add_collection(LineCollection(list(np.stack([a, b], axis=1)), colors="#39ff14", linewidths=0.5, alpha=0.6))
        ax.plot(np.asarray(photo_pts)[:, 0] * scale, np.asarray(photo_pts)[:, 1] * scale, ".", color="#ffd700", ms=2)
        ax.plot(np.asarray(ref_pts)[:, 0] + off, np.asarray(ref_pts)[:, 1], ".", color="#ffd700", ms=2)
    if footprint_ref_px is not None:
        fp = np.vstack([footprint_ref_px, footprint_ref_px[:1]])
        ax.plot(fp[:, 0] + off, fp[:, 1], "-", color="#ff2d55", lw=2.2, label="photo footprint")
        ax.legend(loc="lower right", fontsize=9)
    ax.set_xlim(-0.5, off + rw)
    ax.set_ylim(rh, -0.5)
    ax.axis("off")
    fig.suptitle(title + ("\n" + subtitle if subtitle else ""), fontsize=11, y=1.0 - 0.08 / fig_h, va="top")
    return save_figure(fig, path, dpi=dpi, pil_kwargs={"compress_level": 1})


def _shrunk(img: np.ndarray, factor: float) -> np.ndarray:
    """``img`` resampled by ``factor`` (area averaging) when that shrinks it; else as it is."""
    import cv2

    if factor >= 0.95:
        return img
    h, w = img.shape[:2]
    return cv2.resize(
        np.ascontiguousarray(img), (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA
    )
