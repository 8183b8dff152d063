"""The lightning figures: the solve plot (image flashes and network events over the footprint, with
residual vectors) and the ISS LIS map.

Solve plot, two panels (matplotlib Agg, no pyplot): on the left a map (plate carree, aspect 1/cos(lat)) with
the frame's ground footprint, coastlines and borders (GSHHG via :mod:`cupola.plot.maps`), the
network events of the sequence (grey; matched ones blue), the solved flash positions (red) and,
for each matched pair, the vector from the event to the flash, magnified by a stated factor; on the
right the same in the image: the flash centroids, where the solved pose puts their events, and the
pixel residuals, magnified.

LIS map (:func:`write_lis_map`): the cells the instrument viewed (grey by viewing time) and the
flashes coloured by radiance.
"""

from __future__ import annotations

import os

import numpy as np

from cupola.plot import palette
from cupola.plot.figure import new_figure, save_figure
from cupola.plot.maps import KM_PER_DEG, aspect_at, draw_coastline_lines, padded_bounds, wrap_near

__all__ = ["write_lightning_plot", "write_lis_map"]


def _nice(x: float) -> float:
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = 10 ** np.floor(np.log10(x))
    for m in (1, 2, 5, 10):
        if m * e >= x:
            return float(m * e)
    return float(10 * e)


def write_lightning_plot(
    path: str | os.PathLike,
    *,
    footprint_ring,
    flash_lonlat,
    event_lonlat,
    matched_event_lonlat,
    matched_flash_lonlat,
    image_size,
    flash_px,
    matched_obs_px,
    matched_pred_px,
    title: str = "",
    subtitle: str = "",
    track_lonlat=None,
) -> None:
    """Draw the two-panel plot into ``path`` (PNG, written atomically)."""
    ring = np.asarray(footprint_ring, dtype=float)
    fl = np.asarray(flash_lonlat, dtype=float).reshape(-1, 2)
    ev = np.asarray(event_lonlat, dtype=float).reshape(-1, 2)
    me = np.asarray(matched_event_lonlat, dtype=float).reshape(-1, 2)
    mf = np.asarray(matched_flash_lonlat, dtype=float).reshape(-1, 2)
    fig = new_figure((14, 6.2), dpi=120)
    ax = fig.add_axes((0.05, 0.09, 0.43, 0.78))
    bx = fig.add_axes((0.55, 0.09, 0.43, 0.78))
    ref = float(np.nanmean(ring[:, 0]))

    def wrap(lon):
        return wrap_near(lon, ref)

    west, south, east, north = padded_bounds(wrap(ring[:, 0]), ring[:, 1], fraction=0.08, add_deg=0.05)
    lat0 = 0.5 * (south + north)
    draw_coastline_lines(ax, (west, south, east, north), "i", lw=0.6, ref=ref)
    ax.fill(wrap(ring[:, 0]), ring[:, 1], color=palette.FOOTPRINT, alpha=0.10, lw=0)
    ax.plot(
        np.r_[wrap(ring[:, 0]), wrap(ring[:1, 0])],
        np.r_[ring[:, 1], ring[:1, 1]],
        color=palette.FOOTPRINT_EDGE,
        lw=1.2,
        label="footprint (ground, first frame)",
    )
    if track_lonlat is not None:
        tr = np.asarray(track_lonlat, dtype=float)
        ax.plot(wrap(tr[:, 0]), tr[:, 1], color=palette.TRACK, lw=1.0, label="ISS ground track")
    if ev.size:
        ax.plot(wrap(ev[:, 0]), ev[:, 1], ".", color="#8a8a8a", ms=3, label=f"network events ({len(ev)})")
    unmatched = fl
    if fl.size:
        ax.plot(
            wrap(unmatched[:, 0]),
            unmatched[:, 1],
            "o",
            mfc="none",
            mec="#d62728",
            ms=4,
            mew=0.8,
            label=f"image flashes, solved ({len(fl)})",
        )
    scale_map = 1.0
    if me.size:
        d_km = np.hypot(
            (mf[:, 0] - me[:, 0]) * KM_PER_DEG * np.cos(np.radians(lat0)), (mf[:, 1] - me[:, 1]) * KM_PER_DEG
        )
        span_km = max((east - west) * KM_PER_DEG * np.cos(np.radians(lat0)), (north - south) * KM_PER_DEG)
        typical = float(np.median(d_km)) if d_km.size else 0.0
        scale_map = _nice(0.04 * span_km / typical) if typical > 0 else 1.0
        ax.plot(wrap(me[:, 0]), me[:, 1], ".", color="#1f77b4", ms=5, label=f"matched events ({len(me)})")
        ax.quiver(
            wrap(me[:, 0]),
            me[:, 1],
            (mf[:, 0] - me[:, 0]) * scale_map,
            (mf[:, 1] - me[:, 1]) * scale_map,
            angles="xy",
            scale_units="xy",
            scale=1,
            color="#d62728",
            width=0.0025,
        )
        ax.set_title(
            f"map: residual vectors event -> flash x{scale_map:g} (median {typical * 1000:.0f} m)", fontsize=10
        )
    else:
        ax.set_title("map", fontsize=10)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(aspect_at(lat0, min_cos=0.05))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
    ax.grid(True, lw=0.3, alpha=0.5)

    # --- image panel -------------------------------------------------------------------------------
    w, h = image_size
    fpx = np.asarray(flash_px, dtype=float).reshape(-1, 2)
    obs = np.asarray(matched_obs_px, dtype=float).reshape(-1, 2)
    pred = np.asarray(matched_pred_px, dtype=float).reshape(-1, 2)
    bx.set_facecolor("#101418")
    bx.plot(
        [-0.5, w - 0.5, w - 0.5, -0.5, -0.5], [-0.5, -0.5, h - 0.5, h - 0.5, -0.5], color=palette.FOOTPRINT_EDGE, lw=1
    )
    if fpx.size:
        bx.plot(fpx[:, 0], fpx[:, 1], "o", mfc="none", mec="#ff7f7f", ms=5, mew=0.8, label=f"flashes ({len(fpx)})")
    scale_px = 1.0
    if obs.size:
        r = pred - obs
        typical = float(np.median(np.hypot(r[:, 0], r[:, 1])))
        scale_px = _nice(0.03 * max(w, h) / typical) if typical > 0 else 1.0
        bx.plot(pred[:, 0], pred[:, 1], "+", color="#6fb7ff", ms=6, label=f"matched events, solved pose ({len(pred)})")
        bx.quiver(
            obs[:, 0],
            obs[:, 1],
            r[:, 0] * scale_px,
            r[:, 1] * scale_px,
            angles="xy",
            scale_units="xy",
            scale=1,
            color="#ffd34f",
            width=0.0025,
        )
        bx.set_title(f"image: residuals flash -> event x{scale_px:g} (median {typical:.2f} px)", fontsize=10)
    else:
        bx.set_title("image", fontsize=10)
    bx.set_xlim(-0.02 * w, 1.02 * w)
    bx.set_ylim(1.02 * h, -0.02 * h)
    bx.set_aspect("equal")
    bx.set_xlabel("column (px)")
    bx.set_ylabel("row (px)")
    bx.legend(loc="lower left", fontsize=7, framealpha=0.85)
    fig.suptitle(title, fontsize=12, y=0.985)
    if subtitle:
        fig.text(0.5, 0.925, subtitle, ha="center", fontsize=9, color="#333333")
    save_figure(fig, path)


def write_lis_map(
    path: str | os.PathLike, *, view_lonlat, view_seconds, flash_lonlat, flash_radiance, title: str = ""
) -> None:
    """The ISS LIS map into ``path`` (PNG, written atomically): viewed cells ``view_lonlat`` (N, 2)
    shaded by ``view_seconds``, flashes ``flash_lonlat`` (M, 2) coloured by log10 of
    ``flash_radiance`` (uJ sr-1 m-2 um-1), low-resolution coastlines."""
    view = np.asarray(view_lonlat, dtype=float).reshape(-1, 2)
    fl = np.asarray(flash_lonlat, dtype=float).reshape(-1, 2)
    fig = new_figure((11, 6), dpi=110)
    ax = fig.add_axes((0.07, 0.1, 0.78, 0.8))
    lon, lat = view[:, 0], view[:, 1]
    west, south, east, north = padded_bounds(lon, lat, add_deg=1.0)
    draw_coastline_lines(ax, (west, south, east, north), "l", lw=0.5, borders=False)
    ax.scatter(lon, lat, c=view_seconds, s=2, cmap="Greys", alpha=0.4, lw=0)
    if len(fl):
        rad = np.log10(np.maximum(np.asarray(flash_radiance, dtype=float), 1.0))
        s = ax.scatter(
            fl[:, 0], fl[:, 1], c=rad, s=14, cmap="plasma", edgecolors="k", linewidths=0.3, label=f"flashes ({len(fl)})"
        )
        cb = fig.colorbar(s, ax=ax, fraction=0.04, pad=0.02)
        cb.set_label("log10 flash radiance (uJ/sr/m2/um)")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(aspect_at(0.5 * (south + north)))
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)
