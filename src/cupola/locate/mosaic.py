"""Mosaics of adjacent pool tiles, for a photo whose footprint is larger than one tile of a grid.

A pool of grid tiles (a region cut into squares, each finer or smaller than an astronaut photo's
footprint) hands the verification tiles that hold only part of the photo's ground: a tile smaller
than the footprint is never found (docs/locate.md, "Session 46": 0 of 40). A window of ``k x k``
side-by-side tiles resampled onto one lon/lat grid is a reference 2-4 times the footprint again,
the size the first pass is built for.

The geometry (which tiles form a grid, which windows to read) works on boxes and pixel sizes only,
each tile's box in its own grid's coordinates: lon/lat degrees, or metres of the projected CRS a
grid is cut in (a UTM grid's lon/lat boxes are skewed and do not meet edge to edge);
:func:`read_mosaic` reads a window's tiles and resamples them onto one grid in that CRS.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # west, south, east, north (degrees, or metres in a CRS)


@dataclass(frozen=True)
class Window:
    """``members`` (indices into the pool's tiles) around the tile ``centre``, and their union
    ``bounds`` in ``crs`` (a projected CRS such as "EPSG:32637", metres; None: lon/lat degrees)."""

    centre: int
    members: tuple[int, ...]
    bounds: Box
    crs: str | None = None
    where: str = "around"  # how the window sits on ``centre``, for its name

    def bounds_lonlat(self) -> Box:
        """The window's box in lon/lat degrees (around a projected window, which it contains)."""
        if self.crs is None:
            return self.bounds
        from rasterio.warp import transform_bounds

        w, s, e, n = transform_bounds(self.crs, "EPSG:4326", *self.bounds)
        return float(w), float(s), float(e), float(n)


def pixel_step(box: Box, size_px: tuple[int, int] | None) -> tuple[float, float] | None:
    """The pixel size (x, y; the box's units) of a tile of ``size_px`` (rows, cols) over ``box``;
    None when its size is not known."""
    if size_px is None:
        return None
    rows, cols = size_px
    return (box[2] - box[0]) / cols, (box[3] - box[1]) / rows


def grid_neighbours(
    boxes: list[Box],
    sizes_px: list[tuple[int, int] | None],
    edge_tol: float = 0.05,
    pixel_tol: float = 0.02,
    overlap_tol: float = 0.10,
    crss: list[str | None] | None = None,
) -> list[set[int]]:
    """For each tile, the tiles beside it in a grid: the same pixel size (within ``pixel_tol``),
    the same extent (within ``pixel_tol``), the boxes meeting along one axis (a gap below
    ``edge_tol`` of the extent, or an overlap below ``overlap_tol``: Sentinel-2's MGRS tiles
    overlap by 9.8 km of 109.8 km, 8.9 %) and overlapping along the other by at least half of it,
    in the same CRS (``crss``: each tile's; boxes in its units). Tiles of another resolution or
    CRS, or that overlap a tile or sit apart from it, are not its neighbours; a copy of a tile
    (another date of the same square) sits beside the same tiles as it does; crops of one image
    cut at one size that happen to abut count as a grid (a mosaic of them is still true to the
    ground). Diagonal tiles are reached in two steps.

    >>> boxes = [(0, 0, 1, 1), (1, 0, 2, 1), (0, 1, 1, 2), (0.5, 0.5, 1.5, 1.5), (2.3, 0, 3.3, 1)]
    >>> grid_neighbours(boxes, [(100, 100)] * 5)
    [{1, 2}, {0}, {0}, set(), set()]
    >>> grid_neighbours(boxes[:2], [(100, 100)] * 2, crss=["EPSG:32637", "EPSG:32638"])
    [set(), set()]
    """
    n = len(boxes)
    b = np.asarray(boxes, float).reshape(n, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    res = [pixel_step(box, s) for box, s in zip(boxes, sizes_px)]
    crs = np.asarray([None] * n if crss is None else [c or "" for c in crss], object)
    out: list[set[int]] = [set() for _ in range(n)]
    for i in range(n):
        ri = res[i]
        if ri is None:
            continue
        same = (np.abs(w - w[i]) <= pixel_tol * w[i]) & (np.abs(h - h[i]) <= pixel_tol * h[i]) & (crs == crs[i])
        x_overlap = np.minimum(b[:, 2], b[i, 2]) - np.maximum(b[:, 0], b[i, 0])  # < 0: a gap
        y_overlap = np.minimum(b[:, 3], b[i, 3]) - np.maximum(b[:, 1], b[i, 1])
        meet_x = (x_overlap >= -edge_tol * w[i]) & (x_overlap <= overlap_tol * w[i])
        meet_y = (y_overlap >= -edge_tol * h[i]) & (y_overlap <= overlap_tol * h[i])
        beside_x = meet_x & (y_overlap >= 0.5 * h[i])  # east or west
        beside_y = meet_y & (x_overlap >= 0.5 * w[i])  # north or south
        for j in np.flatnonzero(same & (beside_x | beside_y)):
            rj = res[int(j)]
            if j == i or rj is None:
                continue
            if abs(rj[0] - ri[0]) <= pixel_tol * ri[0] and abs(rj[1] - ri[1]) <= pixel_tol * ri[1]:
                out[i].add(int(j))
    return out


def windows(boxes: list[Box], neighbours: list[set[int]], k: int, crss: list[str | None] | None = None) -> list[Window]:
    """The ``k x k`` window (``k`` odd) centred on each tile that has neighbours: the tiles reached
    from it through :func:`grid_neighbours` whose centres lie within ``(k - 1) / 2`` tile extents
    of its own; windows holding the same tiles are given once. ``crss``: each tile's CRS (None:
    lon/lat), given to its windows.

    >>> boxes = [(c, r, c + 1, r + 1) for r in range(3) for c in range(3)]  # a 3 x 3 grid
    >>> nb = grid_neighbours(boxes, [(10, 10)] * 9)
    >>> [(w.centre, len(w.members), w.bounds) for w in windows(boxes, nb, 3)][:2]
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
        out.append(Window(i, key, union, None if crss is None else crss[i]))
    return out


def straddle_windows(
    boxes: list[Box], neighbours: list[set[int]], crss: list[str | None] | None = None
) -> list[Window]:
    """Windows of one tile's extent centred where adjacent tiles meet: on the middle of each
    shared edge, and on each corner shared by four tiles. A footprint smaller than a tile that
    straddles their boundary is held by no tile alone, and a ``k x k`` window would take it down
    with the rest (a 3 x 3 window of tiles three times the footprint leaves it 1/9 of the
    mosaic); such a window holds it whole at the tiles' own pixel size. Where tiles overlap, the
    boundary is the middle of the overlap. ``members``: the tiles the window overlaps; ``centre``:
    the tile whose east or north side it sits on; windows with the same box are given once.

    >>> boxes = [(c, r, c + 1, r + 1) for r in range(2) for c in range(2)]  # 0 1 / 2 3 from the south
    >>> nb = grid_neighbours(boxes, [(10, 10)] * 4)
    >>> [(w.centre, w.members, w.bounds) for w in straddle_windows(boxes, nb)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [(0, (0, 1), (0.5, 0.0, 1.5, 1.0)), (0, (0, 2), (0.0, 0.5, 1.0, 1.5)),
     (0, (0, 1, 2, 3), (0.5, 0.5, 1.5, 1.5)), (1, (1, 3), (1.0, 0.5, 2.0, 1.5)),
     (2, (2, 3), (0.5, 1.0, 1.5, 2.0))]
    """
    b = np.asarray(boxes, float).reshape(len(boxes), 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    seen: set[tuple[float, ...]] = set()
    out = []
    for i in range(len(boxes)):
        w, h = b[i, 2] - b[i, 0], b[i, 3] - b[i, 1]
        east = [j for j in neighbours[i] if cx[j] > cx[i] + w / 2]
        north = [j for j in neighbours[i] if cy[j] > cy[i] + h / 2]
        x = (b[i, 2] + b[east[0], 0]) / 2 if east else None  # the middle of the overlap (or gap)
        y = (b[i, 3] + b[north[0], 1]) / 2 if north else None
        centres = []
        if x is not None:
            centres.append((x, cy[i], "across the east edge of"))
        if y is not None:
            centres.append((cx[i], y, "across the north edge of"))
        if x is not None and y is not None:
            centres.append((x, y, "across the north-east corner of"))
        near = {i} | set(neighbours[i])
        for j in list(near):
            near |= neighbours[j]
        for px, py, where in centres:
            box = (float(px - w / 2), float(py - h / 2), float(px + w / 2), float(py + h / 2))
            key = tuple(round(v / max(w, h), 6) for v in box)
            if key in seen:
                continue
            members = tuple(
                sorted(
                    j
                    for j in near
                    if min(b[j, 2], box[2]) - max(b[j, 0], box[0]) > 0.01 * w
                    and min(b[j, 3], box[3]) - max(b[j, 1], box[1]) > 0.01 * h
                )
            )
            if len(members) < 2:
                continue
            seen.add(key)
            out.append(Window(i, members, box, None if crss is None else crss[i], where))
    return out


def windows_to_verify(
    boxes: list[Box],
    neighbours: list[set[int]],
    sizes: list[int],
    weight: list[tuple[float, float]],
    top_k: int,
    crss: list[str | None] | None = None,
    evidence: list[int] | None = None,
) -> list[Window]:
    """The windows a pool verifies, in order: for each size in ``sizes``, the ``top_k`` windows
    whose tiles hold the most ``weight`` (per tile: (votes, descriptor score); windows ranked by
    their tiles' summed votes, then their best score). ``evidence`` (per tile, e.g. the inliers a
    tile verified alone kept, where they reached the acceptance level of a whole reference; 0
    elsewhere) comes before the votes: windows holding such a tile first, the strongest first. A
    size ``k`` >= 3 gives the ``k x k`` windows of :func:`windows` (a window holding the same
    tiles as one before is not given again); size 1 gives the :func:`straddle_windows`, ranked
    the same way, ties broken by the votes counted by the share of each tile inside the window.
    (The votes say which tiles hold the photo, not where in them: a footprint across a corner
    puts votes on four tiles, and the corner's window holds all four.)

    >>> boxes = [(c, r, c + 1, r + 1) for r in range(4) for c in range(4)]  # a 4 x 4 grid
    >>> nb = grid_neighbours(boxes, [(10, 10)] * 16)
    >>> weight = [(0, 0.0)] * 16
    >>> weight[15] = (9, 0.5)  # votes in the north-east corner
    >>> [(w.centre, len(w.members)) for w in windows_to_verify(boxes, nb, [3, 5], weight, 2)]
    [(10, 9), (11, 6), (5, 16), (7, 12)]
    >>> [(w.centre, w.bounds) for w in windows_to_verify(boxes, nb, [1], weight, 2)]  # half of tile 15 each
    [(11, (3.0, 2.5, 4.0, 3.5)), (14, (2.5, 3.0, 3.5, 4.0))]
    >>> evidence = [0] * 16
    >>> evidence[0] = 40  # tile 0, in the south-west corner, kept 40 inliers alone
    >>> [(w.centre, len(w.members)) for w in windows_to_verify(boxes, nb, [3], weight, 2, evidence=evidence)]
    [(0, 4), (1, 6)]
    """
    b = np.asarray(boxes, float).reshape(len(boxes), 4)
    ev = evidence or [0] * len(boxes)

    def share(j: int, box: Box) -> float:
        dx = min(b[j, 2], box[2]) - max(b[j, 0], box[0])
        dy = min(b[j, 3], box[3]) - max(b[j, 1], box[1])
        return max(0.0, dx) * max(0.0, dy) / ((b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]))

    chosen: list[Window] = []
    seen: set[tuple[int, ...]] = set()
    for k in sizes:
        if k == 1:
            wins = straddle_windows(boxes, neighbours, crss)
            wins.sort(
                key=lambda w: (
                    -max(ev[j] for j in w.members),
                    -sum(weight[j][0] for j in w.members),
                    -sum(weight[j][0] * share(j, w.bounds) for j in w.members),
                    -max(weight[j][1] for j in w.members),
                )
            )
        else:
            wins = [w for w in windows(boxes, neighbours, k, crss) if w.members not in seen]
            seen.update(w.members for w in wins)
            wins.sort(
                key=lambda w: (
                    -max(ev[j] for j in w.members),
                    -sum(weight[j][0] for j in w.members),
                    -max(weight[j][1] for j in w.members),
                )
            )
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


def mosaic_shape(window: Window, step: tuple[float, float], long_px: int) -> tuple[int, int]:
    """(rows, cols) of a window's mosaic: the tiles' own pixel size (``step``, x and y in the
    window's units), taken down so that the long side is at most ``long_px`` (never up).

    >>> mosaic_shape(Window(0, (0, 1), (0.0, 0.0, 2.0, 1.0)), (0.01, 0.01), 1024)
    (100, 200)
    >>> mosaic_shape(Window(0, (0, 1), (0.0, 0.0, 2.0, 1.0)), (0.001, 0.001), 1024)
    (512, 1024)
    """
    w, s, e, n = window.bounds
    cols, rows = (e - w) / step[0], (n - s) / step[1]
    scale = min(1.0, long_px / max(cols, rows))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def read_mosaic(tiles, window: Window, shape: tuple[int, int], content_ids: list[str | None], memo=None):
    """The window's tiles resampled onto one grid of ``shape`` (rows, cols) spanning
    ``window.bounds`` in the window's CRS (lon/lat, or the projected CRS its tiles are cut in): a
    :class:`~cupola.locate.reference.Reference` with those bounds (or that transform and CRS), its
    content id derived from the tiles' (so its features can be cached). Each tile is read, taken
    down by area averaging when it is finer than the mosaic, and reprojected (rasterio); where
    tiles overlap, the later one's valid pixels win, and ground no tile covers (or only a tile's
    nodata, black in all bands) stays black. ``tiles``: the pool's
    :class:`~cupola.locate.pool.Tile` s. ``memo``: a dict kept across the windows of one search, so
    a tile that several windows share at the same pixel size is read and taken down once."""
    import cv2
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.transform import from_bounds
    from rasterio.warp import Resampling, reproject

    from cupola.locate.reference import Reference

    rows, cols = shape
    west, south, east, north = window.bounds
    dst_transform = from_bounds(west, south, east, north, cols, rows)
    lonlat = CRS.from_epsg(4326)
    dst_crs = lonlat if window.crs is None else CRS.from_user_input(window.crs)
    out = np.zeros((rows, cols, 3), np.uint8)
    memo = {} if memo is None else memo
    for j in window.members:
        tile = tiles[j]
        tw, ts, te, tn = tile.bounds_lonlat if window.crs is None else tile.bounds_native
        want_w = max(2, round((te - tw) / (east - west) * cols))
        want_h = max(2, round((tn - ts) / (north - south) * rows))
        if (j, want_w, want_h) not in memo:
            ref = tile.load(shrink_to=(want_w, want_h))  # a raster finer than the mosaic: read smaller
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
            src = np.ascontiguousarray(np.moveaxis(img, -1, 0))
            valid = src.any(axis=0).astype(np.uint8)  # a scene edge's nodata is black in every band
            memo[(j, want_w, want_h)] = (src, valid, src_transform, src_crs)
        src, valid, src_transform, src_crs = memo[(j, want_w, want_h)]
        dst = np.zeros((3, rows, cols), np.uint8)
        cover = np.zeros((rows, cols), np.uint8)
        common = dict(src_transform=src_transform, src_crs=src_crs, dst_transform=dst_transform, dst_crs=dst_crs)
        reproject(src, dst, resampling=Resampling.bilinear, **common)
        reproject(valid, cover, resampling=Resampling.nearest, **common)
        sel = cover > 0
        out[sel] = np.moveaxis(dst, 0, -1)[sel]
    ids = [content_ids[j] for j in window.members]
    digest = (
        None  # a tile without a content id (a VRT): nothing to key the mosaic's features by
        if any(c is None for c in ids)
        else hashlib.sha256(repr(("mosaic-1", ids, window.bounds, window.crs, shape)).encode()).hexdigest()
    )
    name = f"mosaic of {len(window.members)} tiles {window.where} {tiles[window.centre].name}"
    if window.crs is None:
        return Reference(out, name, bounds=window.bounds, content_id=digest)
    return Reference(out, name, transform=dst_transform, crs=dst_crs, content_id=digest)
