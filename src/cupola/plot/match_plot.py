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
) -> Path:
    """Draw ``photo`` (left) and ``reference`` (right) at the same height, lines between matched
    points (photo pixels -> reference pixels) and the photo's outline on the reference."""
    ph, pw = photo.shape[:2]
    rh, rw = reference.shape[:2]
    scale = rh / ph
    fig = new_figure((13, 13 * rh / (pw * scale + rw) + 0.9))
    ax = fig.add_subplot()
    ax.imshow(photo, extent=(-0.5, pw * scale - 0.5, rh - 0.5, -0.5), cmap="gray" if photo.ndim == 2 else None)
    off = pw * scale + 10
    ax.imshow(
        reference, extent=(off - 0.5, off + rw - 0.5, rh - 0.5, -0.5), cmap="gray" if reference.ndim == 2 else None
    )
    if photo_pts is not None and ref_pts is not None and len(photo_pts):
        idx = np.linspace(0, len(photo_pts) - 1, min(max_lines, len(photo_pts))).astype(int)
        for (x0, y0), (x1, y1) in zip(photo_pts[idx] * scale, ref_pts[idx]):
            ax.plot([x0, x1 + off], [y0, y1], "-", color="#39ff14", lw=0.5, alpha=0.6)
        ax.plot(photo_pts[:, 0] * scale, photo_pts[:, 1] * scale, ".", color="#ffd700", ms=2)
        ax.plot(ref_pts[:, 0] + off, ref_pts[:, 1], ".", color="#ffd700", ms=2)
    if footprint_ref_px is not None:
        fp = np.vstack([footprint_ref_px, footprint_ref_px[:1]])
        ax.plot(fp[:, 0] + off, fp[:, 1], "-", color="#ff2d55", lw=2.2, label="photo footprint")
        ax.legend(loc="lower right", fontsize=9)
    ax.set_xlim(-0.5, off + rw)
    ax.set_ylim(rh, -0.5)
    ax.axis("off")
    ax.set_title(title + ("\n" + subtitle if subtitle else ""), fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
