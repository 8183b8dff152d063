"""``lamp_plane.png``: lamps in the (G/R, B/G) colour plane over the regions of the lamp classes.

The data come in as plain arrays (this layer imports nothing from the capability): the ratios
and family of each lamp, the class regions as a grid of class codes over (ln G/R, ln B/G), and
the classes as (code, name, colour). Lamps a leave-one-out test got wrong can be ringed.

Example
-------
>>> import numpy as np
>>> axis = np.linspace(np.log(0.05), np.log(4.0), 50)
>>> codes = np.where(axis[None, :] < np.log(0.25), 1, 2) * np.ones((50, 1), int)
>>> path = write_lamp_plane(
...     "plane.png", [0.6, 1.2], [0.18, 0.5], ["HPS", "LED"], axis, axis, codes,
...     [(1, "sodium", "#f39c12"), (2, "white", "#3498db")], wrong=[False, True])
>>> path.name
'plane.png'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure

__all__ = ["write_lamp_plane"]

_MARKERS = "osD^vP*Xhp<>"
_UNCLASSIFIED = "#f2f2f2"


def write_lamp_plane(
    path: str | os.PathLike,
    g_r: Sequence[float],
    b_g: Sequence[float],
    families: Sequence[str],
    log_g_r_axis: np.ndarray,
    log_b_g_axis: np.ndarray,
    codes: np.ndarray,
    classes: Sequence[tuple[int, str, str]],
    *,
    wrong: Sequence[bool] | None = None,
    title: str = "",
) -> Path:
    """Draw the lamps and the class regions into ``path`` (PNG, 9 x 7 in at 110 dpi).

    ``codes[i, j]`` is the class at ``(log_g_r_axis[i], log_b_g_axis[j])`` (natural logs; 0 =
    unclassified); ``classes`` lists (code, name, colour); ``wrong`` rings lamps misclassified.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    gr = np.asarray(g_r, float)
    bg = np.asarray(b_g, float)
    fam = np.asarray(families)
    fig = new_figure((9, 7), dpi=110)
    ax = fig.add_subplot()
    # regions: one colour a code, drawn on the grid's cell edges in ratio units
    palette = [_UNCLASSIFIED] + [c for _, _, c in classes]
    index = np.zeros(codes.shape, int)
    for k, (code, _, _) in enumerate(classes, start=1):
        index[codes == code] = k
    x_edges = np.exp(_edges(log_g_r_axis))
    y_edges = np.exp(_edges(log_b_g_axis))
    ax.pcolormesh(
        x_edges, y_edges, index.T, cmap=ListedColormap(palette), vmin=-0.5, vmax=len(palette) - 0.5, alpha=0.35
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    floor = float(np.exp(log_b_g_axis[0]))
    for k, f in enumerate(sorted(set(fam.tolist()))):
        m = fam == f
        ax.scatter(
            gr[m],
            np.maximum(bg[m], floor),
            s=22,
            marker=_MARKERS[k % len(_MARKERS)],
            label=f"{f} ({int(m.sum())})",
            edgecolors="k",
            linewidths=0.3,
            alpha=0.85,
        )
    if wrong is not None and np.any(wrong):
        w = np.asarray(wrong, bool)
        ax.scatter(
            gr[w],
            np.maximum(bg[w], floor),
            s=120,
            facecolors="none",
            edgecolors="red",
            linewidths=1.2,
            label=f"wrong when left out ({int(w.sum())})",
        )
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(facecolor=c, alpha=0.35, label=f"region: {n}") for _, n, c in classes]
    handles.append(Patch(facecolor=_UNCLASSIFIED, edgecolor="0.7", label="region: unclassified"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncol=2)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.set_xlabel("G/R (camera signals)")
    ax.set_ylabel(f"B/G (camera signals; below {floor:g} drawn at {floor:g})")
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=10)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.08, top=0.94)
    return save_figure(fig, path)


def _edges(centres: np.ndarray) -> np.ndarray:
    c = np.asarray(centres, float)
    step = np.diff(c)
    return np.concatenate([[c[0] - step[0] / 2], c[:-1] + step / 2, [c[-1] + step[-1] / 2]])
