"""Figures of the thermal capability: temperature maps with the cloud mask, the screening sheet of
a stack, heat-island time series, the central-wavelength error of brightness temperature, and the
band-to-band coregistration. Each writes one PNG through :func:`cupola.plot.figure.save_figure`.

>>> import numpy as np
>>> write_lst_map("lst.png", np.full((20, 30), 300.0), (0.01, 0, -118, 0, -0.01, 34), title="LST").name
'lst.png'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure
from cupola.plot.maps import aspect_at

__all__ = [
    "write_lst_map",
    "write_screening_sheet",
    "write_uhi_series",
    "write_bt_error",
    "write_coregistration",
    "write_index_map",
]


def _extent(transform, shape) -> tuple[float, float, float, float]:
    a, _b, c, _d, e, f = transform[:6]
    rows, cols = shape
    return (c, c + a * cols, f + e * rows, f)


def _stride(shape, max_px: int = 1400) -> int:
    return max(1, int(np.ceil(max(shape) / max_px)))


def _lst_axes(ax, lst, transform, *, cloud=None, vmin=None, vmax=None, zones=None):
    s = _stride(lst.shape)
    t = np.asarray(lst, dtype=np.float64)[::s, ::s]
    good = t[np.isfinite(t)]
    lo = vmin if vmin is not None else (float(np.percentile(good, 1)) if good.size else 0.0)
    hi = vmax if vmax is not None else (float(np.percentile(good, 99)) if good.size else 1.0)
    ext = _extent(transform, lst.shape)
    im = ax.imshow(t, extent=ext, cmap="inferno", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    if cloud is not None:
        c = np.asarray(cloud, bool)[::s, ::s]
        over = np.zeros(c.shape + (4,), np.float32)
        over[c] = (0.55, 0.85, 1.0, 0.75)
        ax.imshow(over, extent=ext, interpolation="nearest")
    if zones is not None:
        import shapely

        for g in zones:
            if g is None or shapely.is_empty(g):
                continue
            for part in shapely.get_parts(g):
                xy = np.asarray(part.exterior.coords)
                ax.plot(xy[:, 0], xy[:, 1], color="white", lw=0.4, alpha=0.7)
    ax.set_aspect(aspect_at(0.5 * (ext[2] + ext[3])))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    return im


def write_lst_map(
    path: str | os.PathLike,
    lst_k: np.ndarray,
    transform,
    *,
    title: str,
    cloud: np.ndarray | None = None,
    zones: np.ndarray | None = None,
    label: str = "land surface temperature (K)",
) -> Path:
    """A temperature map (K) with cloud (light blue) and zone outlines (white) over it."""
    fig = new_figure((9.0, 5.6), dpi=110)
    ax = fig.add_axes((0.08, 0.1, 0.74, 0.82))
    im = _lst_axes(ax, lst_k, transform, cloud=cloud, zones=zones)
    cax = fig.add_axes((0.85, 0.1, 0.025, 0.82))
    fig.colorbar(im, cax=cax, label=label)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def write_screening_sheet(path: str | os.PathLike, panels: list[dict]) -> Path:
    """One small map per scene (``lst_k``, ``transform``, ``cloud``, ``title``, ``usable``,
    ``reason``), framed green when usable, red when not."""
    n = max(1, len(panels))
    cols = min(2, n)
    rows = int(np.ceil(n / cols))
    fig = new_figure((6.2 * cols, 3.9 * rows), dpi=100)
    for k, p in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        _lst_axes(ax, p["lst_k"], p["transform"], cloud=p.get("cloud"))
        colour = "#1a9850" if p["usable"] else "#d73027"
        for side in ax.spines.values():
            side.set_edgecolor(colour)
            side.set_linewidth(3)
        verdict = "usable" if p["usable"] else "not usable"
        reason = p["reason"] if len(p["reason"]) < 90 else p["reason"][:87] + "..."
        ax.set_title(f"{p['title']}: {verdict}\n{reason}", fontsize=7.5, color=colour)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_size(7)
        ax.yaxis.label.set_size(7)
    fig.tight_layout()
    return save_figure(fig, path)


def write_uhi_series(path: str | os.PathLike, rows: list[dict], cities: list[str]) -> Path:
    """Heat island (K) of ``cities`` scene by scene (``rows``: scene_time, city, uhi_k, period,
    usable); unusable scenes drawn hollow."""
    import datetime as dt

    fig = new_figure((9.0, 4.8), dpi=110)
    ax = fig.add_axes((0.08, 0.14, 0.66, 0.78))
    drawn = 0
    for city in cities:
        pts = [r for r in rows if r["city"] == city and r["scene_time"]]
        if not pts:
            continue
        drawn += 1
        t = [dt.datetime.fromisoformat(r["scene_time"].replace("Z", "+00:00")) for r in pts]
        v = [r["uhi_k"] for r in pts]
        (line,) = ax.plot(t, v, "-", lw=1, alpha=0.6)
        for ti, vi, r in zip(t, v, pts):
            marker = "o" if r["period"] == "day" else "s"
            face = line.get_color() if r["usable"] else "none"
            ax.plot([ti], [vi], marker, color=line.get_color(), mfc=face, ms=6)
        line.set_label(city)
    ax.axhline(0.0, color="#888", lw=0.8)
    ax.set_ylabel("surface heat island, city − rural ring (K)")
    ax.set_title("Heat island per scene (○ day, □ night; hollow: scene screened out)", fontsize=10)
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    else:
        ax.text(0.5, 0.5, "no heat island measured: no city with a usable scene", ha="center", transform=ax.transAxes)
    fig.autofmt_xdate()
    return save_figure(fig, path)


def write_bt_error(path: str | os.PathLike, temperature_k: np.ndarray, errors: dict[str, np.ndarray]) -> Path:
    """Central-wavelength brightness-temperature error (K) against temperature, one line per band."""
    fig = new_figure((7.5, 4.5), dpi=110)
    ax = fig.add_axes((0.11, 0.13, 0.62, 0.78))
    for name, err in errors.items():
        ax.plot(temperature_k, err, label=name)
    ax.axhline(0.0, color="#888", lw=0.8)
    ax.set_xlabel("scene temperature (K)")
    ax.set_ylabel("central-wavelength BT − true BT (K)")
    ax.set_title("Error of the central-wavelength shortcut\n(band-integrated Planck: < 0.001 K)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    return save_figure(fig, path)


def write_coregistration(
    path: str | os.PathLike,
    reference: np.ndarray,
    moving: np.ndarray,
    aligned: np.ndarray,
    surface: np.ndarray,
    shift_px: tuple[float, float],
    title: str,
) -> Path:
    """Phase-correlation surface around its peak, and the band difference before and after."""
    fig = new_figure((12.0, 4.0), dpi=100)

    def norm(a):
        a = np.asarray(a, dtype=np.float64)
        m, s = np.nanmean(a), np.nanstd(a)
        return (a - m) / (s if s > 0 else 1.0)

    before = norm(moving) - norm(reference)
    after = norm(aligned) - norm(reference)
    span = float(np.nanpercentile(np.abs(before), 99)) or 1.0
    ax = fig.add_subplot(1, 3, 1)
    h, w = surface.shape
    ax.imshow(np.fft.fftshift(surface), cmap="viridis", extent=(-w / 2, w / 2, h / 2, -h / 2))
    dx, dy = shift_px
    ax.plot([dx], [dy], "r+", ms=12)
    lim = max(8.0, 3 * max(abs(dx), abs(dy)))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(lim, -lim)
    ax.set_title(f"phase correlation: shift ({dx:+.3f}, {dy:+.3f}) px", fontsize=9)
    for k, (img, name) in enumerate(((before, "difference before"), (after, "difference after"))):
        ax = fig.add_subplot(1, 3, k + 2)
        ax.imshow(img, cmap="RdBu_r", vmin=-span, vmax=span)
        rms = float(np.sqrt(np.nanmean(img[8:-8, 8:-8] ** 2)))
        ax.set_title(f"{name} (rms {rms:.3f})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def write_index_map(path: str | os.PathLike, values: np.ndarray, *, title: str, label: str) -> Path:
    """A spectral index image (-1..1, diverging)."""
    fig = new_figure((7.0, 5.2), dpi=100)
    ax = fig.add_axes((0.05, 0.08, 0.75, 0.84))
    s = _stride(values.shape)
    im = ax.imshow(values[::s, ::s], cmap="RdYlGn", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    cax = fig.add_axes((0.83, 0.08, 0.03, 0.84))
    fig.colorbar(im, cax=cax, label=label)
    return save_figure(fig, path)
