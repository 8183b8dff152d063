"""A one-page hazard map in the rapid-mapping style (after Copernicus EMS delineation maps): the
'after' image as background, the hazard polygons, legend, scale bar, north arrow, an inset
locator, sources, times and a disclaimer. Written as PNG and PDF.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cupola.plot.figure import new_figure

__all__ = ["display_rgb", "write_hazard_map"]

HAZARD_COLOURS = {"flood": "#1f6fe0", "burn": "#8b1a1a", "fire": "#ff2a00", "change": "#ff00c8"}
#: graded maps: colours by ascending grade (burn: the usual yellow-orange-red-purple severity ramp)
GRADE_COLOURS = {
    "burn": ("#f5d800", "#f08c00", "#d7261e", "#6a1b9a"),
    "change": ("#ffb3ec", "#ff4fd2", "#a3007f"),
    "flood": ("#9ecae1", "#4292c6", "#2166ac", "#08306b"),  # depth classes, shallow to deep
    "fire": ("#ffe066", "#ffa31a", "#ff5500", "#d7000f", "#7a0010"),  # FRP categories 1-5
}
DISCLAIMER = (
    "Produced automatically by cupola from the images named below; not validated in the field. "
    "Boundaries are approximate; lower confidence where marked. For situational awareness only."
)


def display_rgb(stack: np.ndarray, roles: dict[str, int], max_px: int = 1400) -> np.ndarray:
    """An 8-bit-like (0..1) display image (rows, cols, 3) from a band stack, 2-98 % stretched and
    decimated to at most ``max_px`` on its long side."""
    step = max(1, int(math.ceil(max(stack.shape[1:]) / max_px)))
    if all(r in roles for r in ("red", "green", "blue")):
        bands = [stack[roles[r], ::step, ::step] for r in ("red", "green", "blue")]
    else:
        first = stack[0, ::step, ::step]
        bands = [first, first, first]
    rgb = np.stack(bands, axis=-1).astype(np.float32)
    finite = rgb[np.isfinite(rgb)]
    if finite.size:
        lo, hi = np.percentile(finite, [2, 98])
        rgb = (rgb - lo) / max(hi - lo, 1e-9)
    return np.clip(np.nan_to_num(rgb, nan=1.0), 0.0, 1.0)


def _rings(geom: Any) -> list[np.ndarray]:
    polys = getattr(geom, "geoms", [geom])
    out = []
    for p in polys:
        if getattr(p, "exterior", None) is not None:
            out.append(np.asarray(p.exterior.coords))
    return out


def write_hazard_map(
    paths: list[str | Path],
    background: np.ndarray,
    bounds_lonlat: tuple[float, float, float, float],
    geometries: np.ndarray,
    *,
    kind: str,
    title: str,
    legend_label: str,
    total_km2: float,
    sources: list[str],
    times: dict[str, str | None],
    model: str,
    grade_names: tuple[str, ...] | None = None,
    grades: np.ndarray | None = None,
    frame: dict | None = None,
    no_data: np.ndarray | None = None,
    no_data_label: str = "cloud (no data)",
) -> list[Path]:
    """Draw the map once and save it to every path of ``paths`` (PNG, PDF by extension);
    ``background`` (rows, cols, 3) covers ``bounds_lonlat`` (west, south, east, north), north up;
    ``geometries`` are shapely polygons in lon/lat; a graded map gives ``grade_names`` (ascending)
    and each geometry's grade name in ``grades``: one colour and one legend entry per grade.
    ``frame`` (a projected 'after' grid: ``crs`` name, ``bounds`` x0, y0, x1, y1, ``unit_m``,
    ``north_deg``) draws the map in that CRS instead: ``background`` then covers ``bounds``,
    ``geometries`` are in that CRS, the scale bar is in metres and the north arrow points to true
    north; the inset stays in lon/lat (``bounds_lonlat``). ``no_data`` (bool, the full 'after' grid:
    masked clouds) is drawn in translucent grey with its own legend entry ``no_data_label``."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch, Rectangle

    from cupola.io.atomic import atomic_write
    from cupola.plot.maps import draw_coastline_lines, scale_bar

    west, south, east, north = bounds_lonlat
    fig = new_figure((11.69, 8.27), dpi=110)  # A4 landscape
    ax = fig.add_axes((0.075, 0.08, 0.625, 0.82))  # room for the tick labels and the axis label
    x0, y0, x1, y1 = frame["bounds"] if frame else (west, south, east, north)
    ax.imshow(background, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", zorder=0)
    if no_data is not None and np.any(no_data):
        step = max(1, int(math.ceil(no_data.shape[0] / background.shape[0])))
        nd = np.asarray(no_data, bool)[::step, ::step]
        overlay = np.zeros((*nd.shape, 4), np.float32)
        overlay[nd] = (0.55, 0.55, 0.55, 0.75)
        ax.imshow(overlay, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", zorder=2)
    colour = HAZARD_COLOURS.get(kind, "#ff00c8")
    if grade_names and grades is not None:
        ramp = GRADE_COLOURS.get(kind, ())
        styles = [(name, ramp[k] if k < len(ramp) else colour) for k, name in enumerate(grade_names)]
        which = [np.asarray(grades) == name for name, _c in styles]
    else:
        styles = [(legend_label, colour)]
        which = [np.ones(len(geometries), bool)]
    for (_name, c), sel in zip(styles, which):
        rings = [r for g in np.asarray(geometries, dtype=object)[sel] for r in _rings(g)]
        if rings:
            ax.add_collection(PolyCollection(rings, facecolors=c, edgecolors=c, alpha=0.55, lw=0.6, zorder=3))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.tick_params(labelsize=7)
    ax.ticklabel_format(useOffset=False)
    north_deg = 0.0
    if frame:
        ax.set_aspect(1.0)
        ax.ticklabel_format(style="plain")
        unit = "m" if frame["unit_m"] == 1.0 else f"{frame['unit_m']:g} m"
        ax.set_xlabel(f"easting ({unit})", fontsize=8)
        ax.set_ylabel(f"northing ({unit})", fontsize=8)
        _scale_bar_projected(ax, x0, x1, y0, y1, frame["unit_m"])
        north_deg = float(frame["north_deg"])
    else:
        lat_ref = 0.5 * (south + north)
        ax.set_aspect(1.0 / max(math.cos(math.radians(lat_ref)), 0.05))
        ax.set_xlabel("longitude (°)", fontsize=8)
        ax.set_ylabel("latitude (°)", fontsize=8)
        scale_bar(ax, west, east, south, north, lat_ref)
    tip = (0.95, 0.95)
    dx, dy = 0.11 * math.sin(math.radians(north_deg)), 0.11 * math.cos(math.radians(north_deg))
    ax.annotate(
        "N", xy=tip, xytext=(tip[0] - dx, tip[1] - dy), xycoords="axes fraction", ha="center", va="center",
        fontsize=12, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2}, zorder=7,
    )  # fmt: skip
    fig.text(0.04, 0.94, title, fontsize=15, fontweight="bold")
    fig.text(0.04, 0.915, f"{legend_label}: {total_km2:.3g} km² mapped", fontsize=10)
    # inset locator
    inset = fig.add_axes((0.73, 0.58, 0.24, 0.30))
    pad = max(8.0, 3.0 * max(east - west, north - south))
    ib = (max(west - pad, -180.0), max(south - pad, -90.0), min(east + pad, 180.0), min(north + pad, 90.0))
    draw_coastline_lines(inset, ib, "c", lw=0.5)
    inset.add_patch(Rectangle((west, south), east - west, north - south, fill=False, ec="red", lw=2, zorder=5))
    inset.set_xlim(ib[0], ib[2])
    inset.set_ylim(ib[1], ib[3])
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_title("location", fontsize=8)
    # labels wrapped to the legend's column (a long cloud label ran off the page)
    handles = [Patch(facecolor=c, alpha=0.55, edgecolor=c, label=_wrap(name, 42)) for name, c in styles]
    if no_data is not None and np.any(no_data):
        handles.append(Patch(facecolor="#8c8c8c", alpha=0.75, edgecolor="#8c8c8c", label=_wrap(no_data_label, 42)))
    handles.append(Patch(facecolor="none", edgecolor="red", label="area of interest (inset)"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.73, 0.55), fontsize=8, title="Legend",
               title_fontsize=9, frameon=True)  # fmt: skip
    lines = [f"Method: {model}", "Sources:"] + [f"  {s}" for s in sources]
    lines += [f"Before: {times.get('before') or 'unknown'}", f"After: {times.get('after') or 'unknown'}"]
    grid = f"Grid: {frame['crs']}" if frame else "Grid: WGS84 (EPSG:4326) degrees"
    lines += [f"Map produced: {times.get('produced') or ''}", grid]
    if frame and abs(north_deg) >= 0.05:
        lines.append(f"True north {north_deg:+.2f}° from grid north")
    legend_lines = sum(str(h.get_label()).count("\n") + 1 for h in handles)
    text_top = min(0.43, 0.55 - 0.035 * (legend_lines + 1) - 0.02)  # below the legend, however long
    fig.text(0.73, text_top, "\n".join(_wrap(t, 44) for t in lines), fontsize=7, va="top", family="monospace")
    fig.text(0.04, 0.02, DISCLAIMER, fontsize=7, style="italic", wrap=True)
    written = []
    for p in paths:
        p = Path(p)
        with atomic_write(p) as tmp:
            fig.savefig(tmp, format=p.suffix.lstrip(".").lower() or "png")
        written.append(p)
    return written


def _scale_bar_projected(ax: Any, x0: float, x1: float, y0: float, y1: float, unit_m: float) -> None:
    """A scale bar for a projected map (``unit_m`` metres per map unit; the projection's scale
    factor, under 0.1 % within a UTM zone, is ignored): a round length near a fifth of the width."""
    from cupola.plot.maps import halo, nice_length_km

    length_km = nice_length_km((x1 - x0) * unit_m / 1000.0 / 5.0)
    length = length_km * 1000.0 / unit_m
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    outline = halo()
    ax.plot([bx, bx + length], [by, by], color="black", lw=2.5, solid_capstyle="butt", zorder=6, path_effects=outline)
    for x in (bx, bx + length):
        ax.plot([x, x], [by - 0.006 * (y1 - y0), by + 0.006 * (y1 - y0)], color="black", lw=1.2, zorder=6)
    ax.text(bx + length / 2, by + 0.015 * (y1 - y0), f"{length_km:g} km", ha="center", va="bottom",
            fontsize=8, zorder=6, path_effects=outline)  # fmt: skip


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, subsequent_indent="    ")) or text
