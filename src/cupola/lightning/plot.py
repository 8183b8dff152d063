"""The lightning plot: image flashes and network events over the footprint, with residual vectors.

Two panels (matplotlib Agg, no pyplot): on the left a map (plate carree, aspect 1/cos(lat)) with
the frame's ground footprint, coastlines and borders (GSHHG via :mod:`cupola.io.coastlines`), the
network events of the sequence (grey; matched ones blue), the solved flash positions (red) and,
for each matched pair, the vector from the event to the flash, magnified by a stated factor; on the
right the same in the image: the flash centroids, where the solved pose puts their events, and the
pixel residuals, magnified.
"""

from __future__ import annotations

import os

import numpy as np

from cupola.io.atomic import atomic_write

__all__ = ["write_lightning_plot"]


def _nice(x: float) -> float:
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = 10 ** np.floor(np.log10(x))
    for m in (1, 2, 5, 10):
        if m * e >= x:
            return float(m * e)
    return float(10 * e)


def write_lightning_plot(path: str | os.PathLike, *, footprint_ring, flash_lonlat, event_lonlat, matched_event_lonlat,
                         matched_flash_lonlat, image_size, flash_px, matched_obs_px, matched_pred_px,
                         title: str = "", subtitle: str = "", track_lonlat=None) -> None:
    """Draw the two-panel plot into ``path`` (PNG, written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cupola.io import coastlines

    ring = np.asarray(footprint_ring, dtype=float)
    fl = np.asarray(flash_lonlat, dtype=float).reshape(-1, 2)
    ev = np.asarray(event_lonlat, dtype=float).reshape(-1, 2)
    me = np.asarray(matched_event_lonlat, dtype=float).reshape(-1, 2)
    mf = np.asarray(matched_flash_lonlat, dtype=float).reshape(-1, 2)
    fig = Figure(figsize=(14, 6.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.05, 0.09, 0.43, 0.78))
    bx = fig.add_axes((0.55, 0.09, 0.43, 0.78))
    ref = float(np.nanmean(ring[:, 0]))

    def wrap(lon):
        return ref + (np.asarray(lon) - ref + 180.0) % 360.0 - 180.0

    west, east = float(np.nanmin(wrap(ring[:, 0]))), float(np.nanmax(wrap(ring[:, 0])))
    south, north = float(np.nanmin(ring[:, 1])), float(np.nanmax(ring[:, 1]))
    padx, pady = 0.08 * (east - west) + 0.05, 0.08 * (north - south) + 0.05
    west, east, south, north = west - padx, east + padx, south - pady, north + pady
    lat0 = 0.5 * (south + north)
    ax.set_facecolor("#e8eef3")
    try:
        for line in coastlines.coastlines((west, south, east, north), resolution="i"):
            ax.plot(wrap(line[:, 0]), line[:, 1], color="#5a6670", lw=0.6)
        for line in coastlines.borders((west, south, east, north), resolution="i"):
            ax.plot(wrap(line[:, 0]), line[:, 1], color="#6b4f7a", lw=0.6, ls="--")
    except Exception:  # noqa: BLE001 - coastlines are decoration; the plot stands without them
        pass
    ax.fill(wrap(ring[:, 0]), ring[:, 1], color="#f05a28", alpha=0.10, lw=0)
    ax.plot(np.r_[wrap(ring[:, 0]), wrap(ring[:1, 0])], np.r_[ring[:, 1], ring[:1, 1]], color="#c0390b", lw=1.2,
            label="footprint (ground, first frame)")
    if track_lonlat is not None:
        tr = np.asarray(track_lonlat, dtype=float)
        ax.plot(wrap(tr[:, 0]), tr[:, 1], color="#1f4e9c", lw=1.0, label="ISS ground track")
    if ev.size:
        ax.plot(wrap(ev[:, 0]), ev[:, 1], ".", color="#8a8a8a", ms=3, label=f"network events ({len(ev)})")
    unmatched = fl
    if fl.size:
        ax.plot(wrap(unmatched[:, 0]), unmatched[:, 1], "o", mfc="none", mec="#d62728", ms=4, mew=0.8,
                label=f"image flashes, solved ({len(fl)})")
    scale_map = 1.0
    if me.size:
        d_km = np.hypot((mf[:, 0] - me[:, 0]) * 111.32 * np.cos(np.radians(lat0)), (mf[:, 1] - me[:, 1]) * 111.32)
        span_km = max((east - west) * 111.32 * np.cos(np.radians(lat0)), (north - south) * 111.32)
        typical = float(np.median(d_km)) if d_km.size else 0.0
        scale_map = _nice(0.04 * span_km / typical) if typical > 0 else 1.0
        ax.plot(wrap(me[:, 0]), me[:, 1], ".", color="#1f77b4", ms=5, label=f"matched events ({len(me)})")
        ax.quiver(wrap(me[:, 0]), me[:, 1], (mf[:, 0] - me[:, 0]) * scale_map, (mf[:, 1] - me[:, 1]) * scale_map,
                  angles="xy", scale_units="xy", scale=1, color="#d62728", width=0.0025)
        ax.set_title(f"map: residual vectors event -> flash x{scale_map:g} (median {typical * 1000:.0f} m)", fontsize=10)
    else:
        ax.set_title("map", fontsize=10)
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 0.05))
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
    bx.plot([-0.5, w - 0.5, w - 0.5, -0.5, -0.5], [-0.5, -0.5, h - 0.5, h - 0.5, -0.5], color="#c0390b", lw=1)
    if fpx.size:
        bx.plot(fpx[:, 0], fpx[:, 1], "o", mfc="none", mec="#ff7f7f", ms=5, mew=0.8, label=f"flashes ({len(fpx)})")
    scale_px = 1.0
    if obs.size:
        r = pred - obs
        typical = float(np.median(np.hypot(r[:, 0], r[:, 1])))
        scale_px = _nice(0.03 * max(w, h) / typical) if typical > 0 else 1.0
        bx.plot(pred[:, 0], pred[:, 1], "+", color="#6fb7ff", ms=6, label=f"matched events, solved pose ({len(pred)})")
        bx.quiver(obs[:, 0], obs[:, 1], r[:, 0] * scale_px, r[:, 1] * scale_px, angles="xy", scale_units="xy", scale=1,
                  color="#ffd34f", width=0.0025)
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
    with atomic_write(path) as tmp:
        fig.savefig(str(tmp), format="png")
