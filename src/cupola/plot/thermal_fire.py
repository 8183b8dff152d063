"""The figure of ``cupola thermal fire``: the long-wave brightness temperature with the cloud mask
(light blue) and the fires (circles, coloured by confidence).

>>> import numpy as np
>>> write_fire_map("fire.png", np.full((20, 30), 300.0), (0.01, 0, -118, 0, -0.01, 34),
...                cloud=np.zeros((20, 30), bool), fire_rows=[5], fire_cols=[7], confidence=[0.8], title="t").name
'fire.png'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure
from cupola.plot.thermal import _lst_axes

__all__ = ["write_fire_map"]


def write_fire_map(
    path: str | os.PathLike,
    t11_k: np.ndarray,
    transform,
    *,
    cloud: np.ndarray,
    fire_rows,
    fire_cols,
    confidence,
    title: str,
) -> Path:
    """Long-wave brightness temperature (K), cloud over it, fires as circles at pixel centres."""
    fig = new_figure((9.0, 5.6), dpi=110)
    ax = fig.add_axes((0.08, 0.1, 0.74, 0.82))
    im = _lst_axes(ax, t11_k, transform, cloud=cloud)
    a, b, c, d, e, f = transform[:6]
    r = np.asarray(fire_rows, dtype=np.float64) + 0.5
    q = np.asarray(fire_cols, dtype=np.float64) + 0.5
    if r.size:
        x, y = c + a * q + b * r, f + d * q + e * r
        ax.scatter(x, y, s=28, facecolors="none", edgecolors="lime", linewidths=1.0)
        ax.scatter(x, y, s=4, c=np.asarray(confidence, dtype=np.float64), cmap="autumn", vmin=0, vmax=1)
    cax = fig.add_axes((0.85, 0.1, 0.025, 0.82))
    fig.colorbar(im, cax=cax, label="long-wave brightness temperature (K)")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
