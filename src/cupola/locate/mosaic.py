"""Mosaics of adjacent pool tiles, for a photo whose footprint is larger than one tile of a grid.

A pool of grid tiles (a region cut into squares, each finer or smaller than an astronaut photo's
footprint) hands the verification tiles that hold only part of the photo's ground: a tile smaller
than the footprint is never found (docs/locate.md, "Session 46": 0 of 40). A window of ``k x k``
side-by-side tiles resampled onto one lon/lat grid is a reference 2-4 times the footprint again,
the size the first pass is built for.

The geometry (which tiles form a grid, which windows to read) works on lon/lat boxes and pixel
sizes only; :func:`read_mosaic` reads a window's tiles and resamples them onto one grid.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # west, south, east, north (degrees)


@dataclass(frozen=True)
class Window:
    """``members`` (indices into the pool's tiles) around the tile ``centre``, and their union."""

    centre: int
    members: tuple[int, ...]
    bounds_lonlat: Box


def pixel_deg(box: Box, size_px: tuple[int, int] | None) -> tuple[float, float] | None:
    """Degrees per pixel (lon, lat) of a tile of ``size_px`` (rows, cols) over ``box``; None when
    its size is not known."""
    if size_px is None:
        return None
    rows, cols = size_px
    return (box[2] - box[0]) / cols, (box[3] - box[1]) / rows


def grid_neighbours(
    boxes: list[Box], sizes_px: list[tuple[int, int] | None], edge_tol: float = 0.05, pixel_tol: float = 0.02
) -> list[set[int]]:
    """For each tile, the tiles beside it in a grid: the same pixel size (degrees per pixel within
    ``pixel_tol``), the same extent (within ``pixel_tol``), the boxes meeting along one axis (gap
    or overlap below ``edge_tol`` of the extent) and overlapping along the other by at least half
    of it. Tiles of another resolution, or that overlap a tile or sit apart from it, are not its
    neighbours; a copy of a tile (another date of the same square) sits beside the same tiles as
    it does; crops of one image cut at one size that happen to abut count as a grid (a mosaic of
    them is still true to the ground). Diagonal tiles are reached in two steps.

    >>> boxes = [(0, 0, 1, 1), (1, 0, 2, 1), (0, 1, 1, 2), (0.5, 0.5, 1.5, 1.5), (2.3, 0, 3.3, 1)]
    >>> grid_neighbours(boxes, [(100, 100)] * 5)
    [{1, 2}, {0}, {0}, set(), set()]
    """
    n = len(boxes)
    b = np.asarray(boxes, float).reshape(n, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    res = [pixel_deg(box, s) for box, s in zip(boxes, sizes_px)]
    out: list[set[int]] = [set() for _ in range(n)]
    for i in range(n):
        ri = res[i]
        if ri is None:
            continue
        same = (np.abs(w - w[i]) <= pixel_tol * w[i]) & (np.abs(h - h[i]) <= pixel_tol * h[i])
        x_overlap = np.minimum(b[:, 2], b[i, 2]) - np.maximum(b[:, 0], b[i, 0])  # < 0: a gap
        y_overlap = np.minimum(b[:, 3], b[i, 3]) - np.maximum(b[:, 1], b[i, 1])
        beside_x = (np.abs(x_overlap) <= edge_tol * w[i]) & (y_overlap >= 0.5 * h[i])  # east or west
        beside_y = (np.abs(y_overlap) <= edge_tol * h[i]) & (x_overlap >= 0.5 * w[i])  # north or south
        for j in np.flatnonzero(same & (beside_x | beside_y)):
            rj = res[int(j)]
            if j == i or rj is None:
                continue
            if abs(rj[0] - ri[0]) <= pixel_tol * ri[0] and abs(rj[1] - ri[1]) <= pixel_tol * ri[1]:
                out[i].add(int(j))
    return out


def windows(boxes: list[Box], neighbours: list[set[int]], k: int) -> list[Window]:
    """The ``k x k`` window (``k`` odd) centred on each tile that has neighbours: the tiles reached
    from it through :func:`grid_neighbours` whose centres lie within ``(k - 1) / 2`` tile extents
    of its own; windows holding the same tiles are given once.

    >>> boxes = [(c, r, c + 1, r + 1) for r in range(3) for c in range(3)]  # a 3 x 3 grid
    >>> nb = grid_neighbours(boxes, [(10, 10)] * 9)
    >>> [(w.centre, len(w.members), w.bounds_lonlat) for w in windows(boxes, nb, 3)][:2]
    [(0, 4, (0.0, 0.0, 2.0, 2.0)), (1, 6, (0.0, 0.0, 3.0, 2.0))]
    """
    if k < 3 or k % 2 == 0:
        raise ValueError(f"a mosaic window is an odd number of tiles >= 3 on a side, got {k}")
    half = (k - 1) / 2 + 0.25  # a centre this many tile extents away is in the window
    b = np.asarray(boxes, float).reshape(len(boxes), 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    seen: set[tuple[int, ...]] = set()
    out = []
    for i in range(len(boxes)):
        if not neighbours[i]:
            continue
        inside = (np.abs(cx - cx[i]) <= half * (b[i, 2] - b[i, 0])) & (np.abs(cy - cy[i]) <= half * (b[i, 3] - b[i, 1]))
        members = {i}
        todo = deque([i])
        while todo:
            for j in neighbours[todo.popleft()]:
                if j not in members and inside[j]:
                    members.add(j)
                    todo.append(j)
        key = tuple(sorted(members))
        if len(key) < 2 or key in seen:
            continue
        seen.add(key)
        mb = np.asarray([boxes[j] for j in key], float)
        union = (float(mb[:, 0].min()), float(mb[:, 1].min()), float(mb[:, 2].max()), float(mb[:, 3].max()))
        out.append(Window(i, key, union))
    return out


def windows_to_verify(
    boxes: list[Box], neighbours: list[set[int]], sizes: list[int], weight: list[tuple[float, float]], top_k: int
) -> list[Window]:
    """The windows a pool verifies, in order: for each size in ``sizes`` (smaller first), the
    ``top_k`` windows whose tiles hold the most ``weight`` (per tile: (votes, descriptor score);
    windows ranked by their tiles' summed votes, then their best score). A window holding the same
    tiles as one of a smaller size is not given again.

    >>> boxes = [(c, r, c + 1, r + 1) for r in range(4) for c in range(4)]  # a 4 x 4 grid
    >>> nb = grid_neighbours(boxes, [(10, 10)] * 16)
    >>> weight = [(0, 0.0)] * 16
    >>> weight[15] = (9, 0.5)  # votes in the north-east corner
    >>> [(w.centre, len(w.members)) for w in windows_to_verify(boxes, nb, [3, 5], weight, 2)]
    [(10, 9), (11, 6), (5, 16), (7, 12)]
    """
    chosen: list[Window] = []
    seen: set[tuple[int, ...]] = set()
    for k in sizes:
        wins = [w for w in windows(boxes, neighbours, k) if w.members not in seen]
        seen.update(w.members for w in wins)
        wins.sort(key=lambda w: (-sum(weight[j][0] for j in w.members), -max(weight[j][1] for j in w.members)))
        chosen += wins[:top_k]
    return chosen


def window_tiles(ground_width_m: float | None, tile_width_m: float | None, k_min: int = 3, k_max: int = 7) -> int:
    """Tiles on a window's side: ``k_min``, or enough for three times the least ground the lens sees
    (``ground_width_m``, when the focal length is known), odd, at most ``k_max``.

    >>> window_tiles(None, 20e3), window_tiles(30e3, 20e3), window_tiles(100e3, 20e3)
    (3, 5, 7)
    """
    if not ground_width_m or not tile_width_m:
        return k_min
    k = math.ceil(3.0 * ground_width_m / tile_width_m)
    k += 1 - k % 2
    return int(min(max(k, k_min), k_max))


def mosaic_shape(window: Window, step_deg: tuple[float, float], long_px: int) -> tuple[int, int]:
    """(rows, cols) of a window's mosaic: the tiles' own pixel size (``step_deg``, lon and lat
    degrees), taken down so that the long side is at most ``long_px`` (never up).

    >>> mosaic_shape(Window(0, (0, 1), (0.0, 0.0, 2.0, 1.0)), (0.01, 0.01), 1024)
    (100, 200)
    >>> mosaic_shape(Window(0, (0, 1), (0.0, 0.0, 2.0, 1.0)), (0.001, 0.001), 1024)
    (512, 1024)
    """
    w, s, e, n = window.bounds_lonlat
    cols, rows = (e - w) / step_deg[0], (n - s) / step_deg[1]
    scale = min(1.0, long_px / max(cols, rows))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def read_mosaic(tiles, window: Window, shape: tuple[int, int], content_ids: list[str | None], memo=None):
    """The window's tiles resampled onto one lon/lat grid of ``shape`` (rows, cols) spanning
    ``window.bounds_lonlat``: a :class:`~cupola.locate.reference.Reference` with those bounds,
    its content id derived from the tiles' (so its features can be cached). Each tile is read,
    taken down by area averaging when it is finer than the mosaic, and reprojected (rasterio);
    ground no tile covers stays black. ``tiles``: the pool's :class:`~cupola.locate.pool.Tile` s.
    ``memo``: a dict kept across the windows of one search, so a tile that several windows share
    at the same pixel size is read and taken down once."""
    import cv2
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, reproject

    from cupola.locate.reference import Reference

    rows, cols = shape
    west, south, east, north = window.bounds_lonlat
    dst_transform = from_bounds(west, south, east, north, cols, rows)
    lonlat = CRS.from_epsg(4326)
    out = np.zeros((rows, cols, 3), np.uint8)
    memo = {} if memo is None else memo
    for j in window.members:
        tile = tiles[j]
        tw, ts, te, tn = tile.bounds_lonlat
        want_w = max(2, round((te - tw) / (east - west) * cols))
        want_h = max(2, round((tn - ts) / (north - south) * rows))
        if (j, want_w, want_h) not in memo:
            ref = tile.load()
            img = ref.image if ref.image.ndim == 3 else np.repeat(ref.image[:, :, None], 3, axis=2)
            h, w = img.shape[:2]
            if ref.bounds is not None:
                src_transform, src_crs = from_bounds(*ref.bounds, w, h), lonlat
            else:
                src_transform, src_crs = ref.transform, ref.crs
            # finer than the mosaic: area-averaged to the mosaic's pixel size first, so the
            # reprojection (bilinear) samples a grid like its own instead of skipping pixels
            if w > want_w or h > want_h:
                nw, nh = min(w, want_w), min(h, want_h)
                img = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_AREA)
                src_transform = src_transform @ Affine.scale(w / nw, h / nh)
            del ref
            memo[(j, want_w, want_h)] = (np.ascontiguousarray(np.moveaxis(img, -1, 0)), src_transform, src_crs)
        src, src_transform, src_crs = memo[(j, want_w, want_h)]
        dst = np.zeros((3, rows, cols), np.uint8)
        cover = np.zeros((rows, cols), np.uint8)
        common = dict(src_transform=src_transform, src_crs=src_crs, dst_transform=dst_transform, dst_crs=lonlat)
        reproject(src, dst, resampling=Resampling.bilinear, **common)
        reproject(np.ones(src.shape[1:], np.uint8), cover, resampling=Resampling.nearest, **common)
        sel = cover > 0
        out[sel] = np.moveaxis(dst, 0, -1)[sel]
    ids = [content_ids[j] for j in window.members]
    digest = (
        None  # a tile without a content id (a VRT): nothing to key the mosaic's features by
        if any(c is None for c in ids)
        else hashlib.sha256(repr(("mosaic-1", ids, window.bounds_lonlat, shape)).encode()).hexdigest()
    )
    name = f"mosaic of {len(window.members)} tiles around {tiles[window.centre].name}"
    return Reference(out, name, bounds=window.bounds_lonlat, content_id=digest)
