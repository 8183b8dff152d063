"""A figure on the Agg canvas, and saving it atomically.

Example
-------
>>> from cupola.plot import new_figure, save_figure
>>> fig = new_figure((4, 3), dpi=50)
>>> ax = fig.add_subplot()
>>> _ = ax.plot([0, 1], [0, 1])
>>> save_figure(fig, "line.png").name
'line.png'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cupola.io.atomic import atomic_write

__all__ = ["new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float], dpi: float | None = None) -> Any:
    """A :class:`matplotlib.figure.Figure` of ``figsize`` inches with an Agg canvas attached.

    ``dpi`` None takes matplotlib's default (``rcParams["figure.dpi"]``, 100).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: float | None = None, **kwargs: Any) -> Path:
    """Write ``fig`` as PNG to ``path`` through a temporary name (no half file on a crash).

    ``dpi`` None saves at the figure's own resolution; other keywords go to ``Figure.savefig``
    (e.g. ``metadata``).
    """
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi="figure" if dpi is None else dpi, **kwargs)
    return path
