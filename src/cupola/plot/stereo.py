"""The stereo DEM figure: shaded relief of the heights, the predicted height error and, with a
reference elevation model, the measured difference; one PNG through :func:`save_figure`.

>>> import numpy as np
>>> z = np.add.outer(np.arange(40.0), np.arange(50.0)) * 10.0
>>> write_dem_figure("dem.png", z, np.full(z.shape, 3.0), (-84.4, 36.5, -84.3, 36.6), title="test").name
'dem.png'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.geometry.geodesy import M_PER_DEG
from cupola.plot.figure import new_figure, save_figure
from cupola.plot.maps import aspect_at, decorate_degrees, scale_bar

__all__ = ["write_dem_figure", "hillshade"]


def hillshade(height_m: np.ndarray, dx_m: float, dy_m: float, azimuth_deg: float = 315.0, altitude_deg: float = 45.0):
    """Lambertian shaded relief (0..1, NaN where the height is) of a north-up grid whose cells are
    ``dx_m`` x ``dy_m`` metres, lit from ``azimuth_deg`` (clockwise from north) at ``altitude_deg``."""
    z = np.asarray(height_m, dtype=float)
    filled = np.where(np.isfinite(z), z, np.nanmean(z) if np.isfinite(z).any() else 0.0)
    gy, gx = np.gradient(filled, dy_m, dx_m)
    gn = -gy  # rows run south
    az, alt = np.radians(azimuth_deg), np.radians(altitude_deg)
    sun = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])
    shade = (-gx * sun[0] - gn * sun[1] + sun[2]) / np.sqrt(gx * gx + gn * gn + 1.0)
    return np.where(np.isfinite(z), np.clip(shade, 0.0, 1.0), np.nan)


def write_dem_figure(
    path: str | os.PathLike,
    height_m: np.ndarray,
    sigma_m: np.ndarray,
    bounds_lonlat: tuple[float, float, float, float],
    *,
    difference_m: np.ndarray | None = None,
    title: str = "",
    max_side_px: int = 1200,
) -> Path:
    """Heights (colour over shaded relief), predicted sigma and, when given, the difference to a
    reference, side by side over ``bounds_lonlat`` (west, south, east, north; degrees)."""
    from matplotlib import colormaps

    z = np.asarray(height_m, dtype=float)
    step = max(1, int(np.ceil(max(z.shape) / max_side_px)))
    z = z[::step, ::step]
    sig = np.asarray(sigma_m, dtype=float)[::step, ::step]
    w, s, e, n = bounds_lonlat
    lat_mid = 0.5 * (s + n)
    dx = (e - w) * M_PER_DEG * np.cos(np.radians(lat_mid)) / z.shape[1]
    dy = (n - s) * M_PER_DEG / z.shape[0]
    panels = 3 if difference_m is not None else 2
    fig = new_figure((5.0 * panels, 5.0), dpi=110)
    extent = (w, e, s, n)
    aspect = aspect_at(lat_mid)
    ok = np.isfinite(z)
    lo, hi = np.percentile(z[ok], [1, 99]) if ok.any() else (0.0, 1.0)
    shade = hillshade(z, dx, dy)
    cmap = colormaps["terrain"]
    rgb = cmap(np.clip((z - lo) / max(hi - lo, 1e-6), 0, 1))[..., :3]
    rgb = rgb * (0.35 + 0.65 * np.nan_to_num(shade, nan=1.0))[..., None]
    rgba = np.dstack([rgb, ok.astype(float)])
    ax = fig.add_subplot(1, panels, 1)
    ax.imshow(rgba, extent=extent, origin="upper", aspect=aspect, interpolation="nearest")
    sm = fig.colorbar(
        ax.imshow(np.full((1, 1), np.nan), cmap=cmap, vmin=lo, vmax=hi, extent=extent, aspect=aspect),
        ax=ax,
        shrink=0.75,
    )
    sm.set_label("height above WGS84 ellipsoid (m)")
    ax.set_title("DEM (shaded relief)", fontsize=10)
    maps = [(ax, "")]
    ax2 = fig.add_subplot(1, panels, 2)
    ok_s = np.isfinite(sig)
    vmax = float(np.percentile(sig[ok_s], 99)) if ok_s.any() else 1.0
    im = ax2.imshow(sig, extent=extent, origin="upper", aspect=aspect, cmap="magma", vmin=0.0, vmax=vmax)
    fig.colorbar(im, ax=ax2, shrink=0.75).set_label("predicted height sigma (m)")
    ax2.set_title("predicted error", fontsize=10)
    maps.append((ax2, ""))
    if difference_m is not None:
        diff = np.asarray(difference_m, dtype=float)[::step, ::step]
        okd = np.isfinite(diff)
        lim = float(np.percentile(np.abs(diff[okd]), 99)) if okd.any() else 1.0
        ax3 = fig.add_subplot(1, panels, 3)
        im3 = ax3.imshow(diff, extent=extent, origin="upper", aspect=aspect, cmap="RdBu_r", vmin=-lim, vmax=lim)
        fig.colorbar(im3, ax=ax3, shrink=0.75).set_label("DEM - reference (m)")
        ax3.set_title("measured difference", fontsize=10)
        maps.append((ax3, ""))
    for a, _ in maps:
        a.set_xlim(w, e)
        a.set_ylim(s, n)
        decorate_degrees(a, (w, s, e, n), (4, 4), 7.0)
        scale_bar(a, w, e, s, n, lat_mid)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
