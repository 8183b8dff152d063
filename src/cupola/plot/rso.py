"""Figures of ``cupola rso``: a grid of small grey images (views x stages of recovery).

Example
-------
>>> import numpy as np
>>> grid = np.random.default_rng(0).random((2, 3, 16, 16))
>>> write_image_grid("grid.png", grid, ["a", "b", "c"], ["one", "two"]).name
'grid.png'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure

__all__ = ["write_image_grid"]


def write_image_grid(
    path: str | os.PathLike,
    images: np.ndarray,
    column_titles: Sequence[str],
    row_labels: Sequence[str],
    *,
    title: str = "",
) -> Path:
    """Write a PNG of ``images`` (rows, columns, H, W) in grey, each row on the scale of its last
    column (0 to its 99.5th percentile: the reference image), titles above the columns and a label
    under each image (``row_labels`` per row, or one per image when it has rows x columns items)."""
    a = np.asarray(images, float)
    rows, cols = a.shape[:2]
    fig = new_figure((1.5 * cols, 1.65 * rows + (0.4 if title else 0.1)), dpi=100)
    height_in = fig.get_size_inches()[1]
    top = 1.0 - (0.4 if title else 0.1) / height_in
    for r in range(rows):
        vmax = max(float(np.percentile(a[r, -1], 99.5)), 1e-3)
        for c in range(cols):
            bottom = top - (r + 1) * top / rows + 0.2 / height_in  # room for the label below
            ax = fig.add_axes((c / cols + 0.005, bottom, 1.0 / cols - 0.01, top / rows - 0.45 / height_in))
            ax.imshow(a[r, c], cmap="gray", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
            label = row_labels[r * cols + c] if len(row_labels) == rows * cols else (row_labels[r] if c == 0 else "")
            ax.set_xlabel(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9, y=0.995)
    return save_figure(fig, path)
