"""Every figure cupola draws: maps, diagrams and reports, as PNG.

Drawing uses matplotlib's object API on the Agg canvas (:func:`new_figure`), never pyplot or
``matplotlib.use``: no global state, no screen, safe from worker threads. What figures share lives
here once: the palette (:mod:`.palette`), the base map with coastlines and borders, longitude
wrapping, extents, degree labels and the scale bar (:mod:`.maps`), and :func:`save_figure`, which
writes atomically.

Figures: :mod:`.quicklook` (footprint and ground track), :mod:`.shadow_diagram` (shadows),
:mod:`.match_plot` (locate), :mod:`.lightning` (lightning solve and LIS map), :mod:`.nightlights`
(the calibration report), :mod:`.lamps` (lamps and lamp classes in the colour plane).
"""

from cupola.plot.figure import new_figure, save_figure

__all__ = ["new_figure", "save_figure"]
