"""Figures of the urban night-light zones: choropleth maps of a per-zone value, Lorenz curves,
light against population, and the centre-periphery profile. Each writes one PNG through
:func:`cupola.plot.figure.save_figure`.

>>> import numpy as np, shapely
>>> from cupola.plot.zones import write_choropleth
>>> zones = np.array([shapely.box(-118.3, 34.0, -118.2, 34.1), shapely.box(-118.2, 34.0, -118.1, 34.1)])
>>> write_choropleth("map.png", zones, np.array([1.0, 10.0]), title="radiance", label="nW cm-2 sr-1", log=True).name
'map.png'
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure
from cupola.plot.maps import aspect_at, scale_bar

__all__ = ["write_choropleth", "write_lorenz", "write_scatter", "write_rings"]


def _rings_of(geom) -> list[np.ndarray]:
    import shapely

    out = []
    for part in shapely.get_parts(geom):
        out.append(np.asarray(part.exterior.coords)[:, :2])
    return out


def write_choropleth(
    path: str | os.PathLike,
    zones_lonlat: np.ndarray,
    values: np.ndarray,
    *,
    title: str,
    label: str,
    log: bool = False,
    diverging: bool = False,
    marks: np.ndarray | None = None,
    centre_lat_lon: tuple[float, float] | None = None,
) -> Path:
    """Zones (lon/lat polygons) filled by ``values`` (grey where NaN); ``log`` for a logarithmic
    scale, ``diverging`` for a scale centred on 0 (residuals); ``marks`` outlines flagged zones
    (deprived) in black; ``centre_lat_lon`` draws the centre."""
    import shapely
    from matplotlib import colormaps
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm, Normalize, TwoSlopeNorm

    v = np.asarray(values, dtype=np.float64)
    polys: list[np.ndarray] = []
    owner: list[int] = []
    for k, g in enumerate(zones_lonlat):
        if g is None or shapely.is_empty(g):
            continue
        for ring in _rings_of(g):
            polys.append(ring)
            owner.append(k)
    idx = np.asarray(owner, dtype=np.int64)
    fig = new_figure((8.0, 6.6), dpi=110)
    ax = fig.add_axes((0.08, 0.08, 0.74, 0.84))
    good = v[np.isfinite(v) & ((v > 0) if log else True)]
    if diverging:
        span = float(np.nanmax(np.abs(good))) if good.size else 1.0
        norm: Normalize = TwoSlopeNorm(0.0, -span or -1.0, span or 1.0)
        cmap = colormaps["RdBu_r"]
    elif log and good.size:
        norm = LogNorm(max(float(good.min()), 1e-6), max(float(good.max()), float(good.min()) * 1.0001, 1e-6))
        cmap = colormaps["magma"]
    else:
        lo, hi = (float(good.min()), float(good.max())) if good.size else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        cmap = colormaps["magma"]
    vals = v[idx] if idx.size else np.zeros(0)
    ok = np.isfinite(vals) & ((vals > 0) if log and not diverging else True)
    colours = np.where(ok[:, None], cmap(norm(np.where(ok, vals, 1.0))), np.array([[0.75, 0.75, 0.75, 1.0]]))
    edge = "white" if len(polys) < 3000 else "none"
    ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors=edge, linewidths=0.3))
    if marks is not None and idx.size:
        flagged = [p for p, k in zip(polys, idx) if marks[k] is True]
        if flagged:
            ax.add_collection(
                PolyCollection(flagged, facecolors="none", edgecolors="black", linewidths=0.9, label="deprived")
            )
    if polys:
        allxy = np.concatenate(polys)
        x0, y0 = allxy.min(axis=0)
        x1, y1 = allxy.max(axis=0)
    else:
        x0, y0, x1, y1 = -1.0, -1.0, 1.0, 1.0
    pad_x, pad_y = 0.03 * (x1 - x0 or 1.0), 0.03 * (y1 - y0 or 1.0)
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
    if centre_lat_lon is not None:
        ax.plot(centre_lat_lon[1], centre_lat_lon[0], marker="+", color="#00a0ff", ms=14, mew=2.2, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(aspect_at(0.5 * (y0 + y1)))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title, fontsize=11)
    scale_bar(ax, x0, x1, y0, y1, 0.5 * (y0 + y1))
    from matplotlib.cm import ScalarMappable

    cax = fig.add_axes((0.85, 0.2, 0.025, 0.6))
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, label=label)
    if marks is not None:
        ax.text(0.01, 0.99, "black outline: deprived", transform=ax.transAxes, va="top", fontsize=8)
    return save_figure(fig, path)


def write_lorenz(
    path: str | os.PathLike, curves: dict[str, tuple[np.ndarray, np.ndarray]], ginis: dict[str, float]
) -> Path:
    """Lorenz curves (cumulative share of weight -> of light), one per entry, with their Gini."""
    fig = new_figure((6.0, 6.0), dpi=110)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for name, (p, lc) in curves.items():
        g = ginis.get(name, math.nan)
        ax.plot(p, lc, lw=1.6, label=f"{name} (Gini {g:.3f})" if math.isfinite(g) else name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("cumulative share of area or population (darkest zones first)")
    ax.set_ylabel("cumulative share of light")
    ax.set_title("Lorenz curves of night light across zones", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


def write_scatter(
    path: str | os.PathLike,
    density: np.ndarray,
    radiance: np.ndarray,
    cities: np.ndarray,
    *,
    deprived: np.ndarray | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    text: str = "",
) -> Path:
    """Mean radiance against population density (log-log), by city, deprived zones as crosses, the
    fitted line."""
    fig = new_figure((7.0, 5.6), dpi=110)
    ax = fig.add_subplot()
    x = np.asarray(density, dtype=np.float64)
    y = np.asarray(radiance, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    names = list(dict.fromkeys(np.asarray(cities)[ok].tolist()))
    dep = np.array([d is True for d in deprived.tolist()]) if deprived is not None else np.zeros(len(x), bool)
    for name in names[:12]:
        sel = ok & (np.asarray(cities) == name)
        ax.scatter(x[sel & ~dep], y[sel & ~dep], s=14, alpha=0.75, label=name if len(names) > 1 else "zones")
        if dep[sel].any():
            ax.scatter(x[sel & dep], y[sel & dep], s=26, marker="x", color="black", lw=1.0)
    if deprived is not None and dep[ok].any():
        ax.scatter([], [], s=26, marker="x", color="black", label="deprived")
    if slope is not None and intercept is not None and math.isfinite(slope) and abs(slope) < 50 and ok.any():
        xs = np.logspace(np.log10(x[ok].min()), np.log10(x[ok].max()), 50)
        ax.plot(xs, 10.0**intercept * xs**slope, color="#c0390b", lw=1.4, label=f"fit: slope {slope:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("population density (persons per km²)")
    ax.set_ylabel("mean radiance (nW cm⁻² sr⁻¹)")
    ax.set_title("Night light against population", fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    if text:
        ax.text(0.99, 0.02, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    return save_figure(fig, path)


def write_rings(path: str | os.PathLike, rings: list[dict]) -> Path:
    """Mean radiance (and population density where known) in each distance ring, per city."""
    fig = new_figure((7.0, 4.6), dpi=110)
    ax = fig.add_subplot()
    cities = list(dict.fromkeys(r["city"] for r in rings))
    twin = None
    for name in cities[:12]:
        rs = [r for r in rings if r["city"] == name]
        mid = [(r["ring_inner_km"] + r["ring_outer_km"]) / 2 for r in rs]
        ax.plot(mid, [r["radiance_mean"] for r in rs], marker="o", lw=1.5, label=f"{name}: radiance")
        if "population_per_km2" in rs[0]:
            twin = twin or ax.twinx()
            twin.plot(mid, [r["population_per_km2"] for r in rs], marker="s", ls="--", lw=1.0, alpha=0.7,
                      label=f"{name}: population")  # fmt: skip
    ax.set_xlabel("distance of the zone centroid from the centre (km)")
    ax.set_ylabel("mean radiance (nW cm⁻² sr⁻¹)")
    ax.set_title("Centre to periphery", fontsize=11)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:
        twin.set_ylabel("population density (persons per km²)")
        h2, l2 = twin.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize=7)
    return save_figure(fig, path)
