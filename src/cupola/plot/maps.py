"""What every map figure shares: longitude wrapping, extents and aspect of plate carrée axes, the
base map (sea, land, lakes, shorelines, borders from :mod:`cupola.io.coastlines`), degree labels
and the scale bar.

Maps are plate carrée: plain lon/lat axes whose aspect is 1/cos(latitude) at the map's centre, so
shapes look right near that latitude. Longitudes are unwrapped around a reference (see
:func:`wrap_near`), so a map across the antimeridian is drawn in one piece; tick labels show
wrapped longitudes.

Example
-------
>>> float(wrap_near(-179.0, 178.0))
181.0
>>> format_lon(181.0), format_lat(-12.5)
('179°W', '12.5°S')
>>> nice_length_km(7.3)
5.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cupola.geometry import geodesy
from cupola.plot import palette

__all__ = [
    "KM_PER_DEG",
    "aspect_at",
    "circular_mean_deg",
    "decorate_degrees",
    "draw_base_map",
    "draw_coastline_lines",
    "format_lat",
    "format_lon",
    "halo",
    "nice_length_km",
    "padded_bounds",
    "scale_bar",
    "wrap_near",
]

#: kilometres per degree of latitude (and of longitude at the equator), for map scales
KM_PER_DEG = geodesy.M_PER_DEG / 1000.0


# --------------------------------------------------------------------------------------------
# longitudes and extents


def wrap_near(lon: Any, ref: float) -> np.ndarray:
    """Longitudes (deg) shifted by multiples of 360 deg into [ref - 180, ref + 180)."""
    return ref + (np.asarray(lon, dtype=float) - ref + 180.0) % 360.0 - 180.0


def circular_mean_deg(lon: np.ndarray) -> float:
    """Mean of longitudes (deg) on the circle, in (-180, 180]."""
    r = np.deg2rad(lon)
    return float(np.rad2deg(np.arctan2(np.sin(r).mean(), np.cos(r).mean())))


def padded_bounds(lon: Any, lat: Any, *, fraction: float = 0.0, add_deg: float = 0.0) -> tuple[float, ...]:
    """``(west, south, east, north)`` of points, each side padded by ``fraction`` of the span
    plus ``add_deg`` degrees (NaN ignored; wrap longitudes first)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    west, east = float(np.nanmin(lon)), float(np.nanmax(lon))
    south, north = float(np.nanmin(lat)), float(np.nanmax(lat))
    padx, pady = fraction * (east - west) + add_deg, fraction * (north - south) + add_deg
    return west - padx, south - pady, east + padx, north + pady


def aspect_at(lat_deg: float, min_cos: float = 0.2) -> float:
    """Data aspect (y unit / x unit on screen) of plate carrée true at ``lat_deg``; the cosine is
    held at ``min_cos`` or more near the poles."""
    return 1.0 / max(math.cos(math.radians(lat_deg)), min_cos)


# --------------------------------------------------------------------------------------------
# labels and scale


def format_lon(x: float, _pos: Any = None) -> str:
    """Tick label of an unwrapped longitude: '179°W', '0°', '180°'."""
    lon = (x + 180.0) % 360.0 - 180.0
    if abs(abs(lon) - 180.0) < 1e-9:
        return "180°"
    if abs(lon) < 1e-9:
        return "0°"
    return f"{abs(lon):g}°{'E' if lon > 0 else 'W'}"


def format_lat(y: float, _pos: Any = None) -> str:
    """Tick label of a latitude: '12.5°S', '0°'."""
    if abs(y) < 1e-9:
        return "0°"
    return f"{abs(y):g}°{'N' if y > 0 else 'S'}"


def nice_length_km(target_km: float) -> float:
    """1, 2 or 5 times a power of ten, not above ``target_km``."""
    exp = math.floor(math.log10(target_km))
    for m in (5.0, 2.0, 1.0):
        if m * 10**exp <= target_km:
            return m * 10**exp
    return 10.0**exp


def halo() -> list:
    """A white outline that keeps text and lines readable over the map."""
    import matplotlib.patheffects as pe

    return [pe.withStroke(linewidth=3, foreground="white")]


def scale_bar(ax: Any, x0: float, x1: float, y0: float, y1: float, lat_ref: float) -> None:
    """A scale bar in the lower left corner of a map with extent (x0..x1, y0..y1) deg, true at
    latitude ``lat_ref``; its length is a round number near a fifth of the map's width."""
    km_per_deg = KM_PER_DEG * max(math.cos(math.radians(lat_ref)), 1e-6)
    width_km = (x1 - x0) * km_per_deg
    length_km = nice_length_km(width_km / 5.0)
    length_deg = length_km / km_per_deg
    bx = x0 + 0.04 * (x1 - x0)
    by = y0 + 0.05 * (y1 - y0)
    outline = halo()
    ax.plot([bx, bx + length_deg], [by, by], color="black", lw=2.5, solid_capstyle="butt",
            zorder=6, path_effects=outline)  # fmt: skip
    for x in (bx, bx + length_deg):
        ax.plot([x, x], [by - 0.006 * (y1 - y0), by + 0.006 * (y1 - y0)], color="black", lw=1.2, zorder=6)
    label = f"{length_km:g} km"
    ax.text(bx + length_deg / 2, by + 0.015 * (y1 - y0), label, ha="center", va="bottom",
            fontsize=8, zorder=6, path_effects=outline)  # fmt: skip


def decorate_degrees(
    ax: Any, bounds: tuple[float, float, float, float], nbins: tuple[int, int], labelsize: float
) -> None:
    """Degree ticks and labels (wrapped longitudes), grid and frame of a map with ``bounds``
    ``(west, south, east, north)``."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

    x0, y0, x1, y1 = bounds
    for axis, span, n in ((ax.xaxis, x1 - x0, nbins[0]), (ax.yaxis, y1 - y0, nbins[1])):
        if span > 90.0:
            axis.set_major_locator(MultipleLocator(60.0 if span > 240.0 else 30.0))
        else:
            axis.set_major_locator(MaxNLocator(nbins=n, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(format_lon))
    ax.yaxis.set_major_formatter(FuncFormatter(format_lat))
    ax.tick_params(labelsize=labelsize, direction="out", length=3)
    ax.grid(True, color=palette.GRID, lw=0.4, alpha=0.7, ls="-")
    for spine in ax.spines.values():
        spine.set_color("#333333")
        spine.set_linewidth(0.8)


# --------------------------------------------------------------------------------------------
# base maps


def draw_base_map(ax: Any, bounds: tuple[float, float, float, float], resolution: str) -> tuple[bool, bool]:
    """Sea, land, lakes, shorelines and borders (GSHHG) inside ``bounds``. Returns (any shoreline,
    any border) drawn."""
    from matplotlib.collections import LineCollection, PolyCollection

    from cupola.io import coastlines

    ax.set_facecolor(palette.OCEAN)
    # land and lakes, painted by GSHHG level (1/5 land, 2 lake, 3 island in lake, 4 pond)
    min_area = 0.0 if resolution == "i" else 50.0
    polys = coastlines.land_polygons(bounds, resolution, min_area_km2=min_area)
    levels = ((1, palette.LAND, 1.0), (2, palette.OCEAN, 1.1), (3, palette.LAND, 1.2), (4, palette.OCEAN, 1.3))
    for level, colour, z in levels:
        rings = [r for lv, r in polys if lv == level or (level == 1 and lv == 5)]
        if rings:
            ax.add_collection(PolyCollection(rings, facecolors=colour, edgecolors="none", zorder=z))
    shore = coastlines.coastlines(bounds, resolution, min_area_km2=min_area)
    if shore:
        ax.add_collection(LineCollection(shore, colors=palette.COAST, linewidths=0.6, zorder=2.0))
    frontiers = coastlines.borders(bounds, resolution)
    if frontiers:
        ax.add_collection(
            LineCollection(frontiers, colors=palette.BORDER, linewidths=1.0, linestyles=(0, (5, 2.5)), zorder=2.1)
        )
    return bool(shore), bool(frontiers)


def draw_coastline_lines(
    ax: Any,
    bounds: tuple[float, float, float, float],
    resolution: str,
    *,
    lw: float = 0.6,
    borders: bool = True,
    ref: float | None = None,
) -> None:
    """Shorelines (and dashed borders) as plain lines on a :data:`palette.MAP_BACKGROUND` map,
    longitudes wrapped near ``ref`` when given. Decoration only: a failure to read the coastline
    data leaves the map without them."""
    from cupola.io import coastlines

    def x(lon: np.ndarray) -> np.ndarray:
        return lon if ref is None else wrap_near(lon, ref)

    ax.set_facecolor(palette.MAP_BACKGROUND)
    try:
        for line in coastlines.coastlines(bounds, resolution=resolution):
            ax.plot(x(line[:, 0]), line[:, 1], color=palette.COAST, lw=lw)
        if borders:
            for line in coastlines.borders(bounds, resolution=resolution):
                ax.plot(x(line[:, 0]), line[:, 1], color=palette.BORDER, lw=lw, ls="--")
    except Exception:  # noqa: BLE001 - coastlines are decoration; the map stands without them
        pass
