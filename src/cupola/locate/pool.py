"""Localize a photo against a pool of georeferenced tiles, with no hint which one holds it.

1. **Index.** The tiles of a folder are listed with their lon/lat bounds read cheaply: GeoTIFF (or
   any raster with georeferencing rasterio reads) from its metadata, a plain image from a sidecar
   ``NAME.bounds.json`` (``{"west": .., "south": .., "east": .., "north": ..}``, degrees, EPSG:4326,
   north-up and linear like ``--bounds``), and sub-folders in the apl case layout (``case.json``
   with ``reference`` and ``reference_bounds``). No pixels are read at this stage.
2. **Horizon.** With the ISS nadir point, tiles wholly beyond the ISS horizon are dropped.
3. **Global descriptors.** Each tile gets a VLAD descriptor (Jegou et al. 2010; intra-normalised,
   Arandjelovic & Zisserman 2013; signed square root and L2 normalisation) of its local features
   at ``tile_px`` on its long side, for the whole tile and 14 sub-regions (quadrants, centre half,
   a 3 x 3 grid), since a photo often covers a small part of a tile. They are computed once per
   tile content and kept in the :class:`FeatureCache`. The local features are RootSIFT by
   default: on the bundled references with 96 distractors, ALIKED ranked the right reference about
   as well (Syria 1-2 against 2-3, Crimea 7-13 against 7-15 over crops and turns of the photos)
   at ~100x the cost (1-5 s per tile and four photo turns against 0.05 s and one turn, RootSIFT
   being rotation invariant); ``descriptor="aliked"`` remains. The vocabulary (``words`` k-means
   centres) is learnt from descriptors sampled from the tiles of the first pool indexed with a
   cache, then frozen in it: it needs no shipped data, matches the imagery the user searches
   (sensor, season, resolution) and is never fitted to the photos being localized.
4. **Ranking.** By default (``ranking="votes"``) each of the photo's local features (clouds
   masked) votes for the tile holding its nearest neighbour among all the pool's tile features,
   when that neighbour is nearer than ``vote_ratio`` times the second nearest over the whole pool
   (Lowe's ratio test taken across tiles, so a feature common to many tiles votes for none;
   ``vote_ratio_big`` above ``ivf_above`` tile features, where the test would otherwise tighten
   with the pool's size); the
   tiles are ranked by votes, the global descriptor breaking ties. The tiles' local descriptors
   are kept in the cache next to their VLADs. Measured over the bundled photos and seven random
   crops and turns of each, both with and without the focal length (48 queries, 100-tile pool):
   the right tile first in 39-42 of 48 and in the top 4 in 47-48 (vote ratio 0.8-1.0 all within
   46-48 in the top 4), against 4 and 32 of 48 for the VLAD cosine. ``ranking="vlad"``: the
   photo's descriptor (at the four right-angle turns for ALIKED, which is not rotation
   invariant) against every tile region by cosine similarity after centring on the pool's mean
   descriptor; a tile scores its best region and turn.
5. **Verification.** Only the ``top_k`` best tiles are read in full, one at a time, and handed to
   the single-pair :class:`~cupola.locate.localize.Localizer`; the first accepted is the answer,
   otherwise "not here" with the tiles tried and why each was refused. When the votes do not
   single out the leader (a photo with few distinctive features in a pool of a few distinct
   places, where chance votes are as many as true ones), up to ``tied_extra`` more tiles are
   verified: those within ``vote_band_sigma`` Poisson sigmas of the leader's votes
   (see :func:`tied_with_leader`).
   A tile much larger than a photo's footprint (a full Sentinel-2 tile, 10980 px) is also indexed
   as windows (``split_levels``): 3 x 3 windows of half its side and 7 x 7 of a quarter, each
   overlapping its neighbours by half. Each level's features are extracted once over the whole
   file at the level's resolution, with their positions; a window gets the votes that land inside
   it, and in the ratio test the same file's other levels (the same ground at another scale) are
   passed over for the second neighbour. So a footprint a tenth of the tile wide is verified in a
   window it fills a third or more of, at up to 4x the whole tile's resolution.
6. **Mosaics of adjacent tiles.** When every verified tile is rejected after a real search and
   the pool holds a grid (tiles side by side at one pixel size, :mod:`cupola.locate.mosaic`), the
   ``top_k`` windows of 3 x 3 adjacent tiles holding the most votes, then of 5 x 5, then windows
   of one tile's extent centred where tiles meet (``mosaic_tiles``; with a focal length one
   k x k size, from the ground the lens sees, after the one-tile windows when that ground fits
   twice in a tile), are each read as one mosaic and verified: a photo larger than every tile of
   a grid, or smaller but straddling their boundary, is found there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded
from cupola.locate.cache import FeatureCache, feature_key
from cupola.locate.localize import (
    FOLDED_NOTE,
    Localizer,
    LocateOptions,
    LocateResult,
    bounds_width_m,
    cloud_mask,
    frame_mask,
    ground_distance_m,
    horizon_distance_m,
    lens_ground_beyond_m,
    nadir_ground_width_m,
    normalise,
    resize,
    to_gray,
)
from cupola.locate.reference import (
    IMAGE_SUFFIXES,
    MIN_SIDE_PX,
    Reference,
    below_min_size,
    check_bounds,
    file_sha256,
    load_reference,
    window_content_id,
)

SIDECAR_SUFFIX = ".bounds.json"
DESCRIPTORS = ("aliked", "sift")
RANKINGS = ("votes", "vlad")
POOL_FORMAT = "pool-vlad-1"  # bump when the descriptor computation changes


@dataclass
class PoolOptions:
    top_k: int = 4  # tiles verified by matching, best-ranked first
    descriptor: str = "sift"  # local features aggregated into the global descriptor: sift (RootSIFT) | aliked
    tile_px: int = 768  # a tile's long side when its descriptor is computed (<= 1024)
    photo_px: int = 512  # the photo's long side for its descriptor (without a lens prior)
    max_keypoints: int = 1024
    words: int = 64  # VLAD vocabulary size
    vocab_tiles: int = 40  # tiles sampled to learn the vocabulary
    vocab_descriptors: int = 40000
    seed: int = 0
    index_features: bool = True  # with a cache folder: the index holds each tile's matching features too
    ranking: str = "votes"  # votes (nearest-neighbour votes of the photo's features) | vlad (global descriptor)
    vote_ratio: float = 0.9  # a photo feature votes when its nearest tile feature beats the second by this ratio
    # tiles past ``top_k`` are verified too (up to ``tied_extra`` more) while their votes are within
    # this many Poisson sigmas of the leader's, sqrt(leader + tile): the votes cannot tell them apart
    vote_band_sigma: float = 1.0
    tied_extra: int = 4
    # above this many tile features the votes search an inverted file on the VLAD words (each photo
    # feature only the tile features of its ``ivf_probe`` nearest words) instead of every feature
    ivf_above: int = 200_000
    ivf_probe: int = 8
    # the vote ratio of such big pools: Lowe's test tightens as the pool grows (among ~370,000 tile
    # features a chance neighbour from another place is nearly as close as the true one), so the
    # photo's own tile was left without votes (1000-tile study: own tile verified 33 of 48 at 0.9,
    # 41-42 at 0.95; the 10- and 100-tile pools keep ``vote_ratio``, where 0.95 would lose 2 of 48)
    vote_ratio_big: float = 0.95
    # tiles on the side of the mosaics of adjacent grid tiles verified when every tile alone was
    # rejected (``cupola.locate.mosaic``), each size in turn; 1: windows of one tile's extent
    # centred where tiles meet (a footprint smaller than a tile straddling their boundary). With a
    # focal length one k x k size, from the ground the lens sees (at least the first), after the
    # one-tile windows when the lens's ground fits twice in a tile; (): no mosaics
    mosaic_tiles: tuple[int, ...] = (3, 5, 1)
    # a tile longer than ``split_above_px`` (a full Sentinel-2 tile: 10980 px) is also indexed as
    # windows: at each of ``split_levels`` levels, windows of 1/2, 1/4, ... of its side overlapping
    # by half (3 x 3, 7 x 7, ...), none shorter than ``split_min_px`` (the photo's size in the
    # coregistration, ``LocateOptions.photo_px``: a smaller window holds less ground detail than
    # the photo is matched with); each level's features are
    # extracted once over the whole file at the level's resolution, and a window's votes are those
    # that land inside it. The tile and its windows are read at most ``split_above_px`` long, so a
    # footprint much smaller than the tile is verified in a window where it fills a third or more
    # instead of a few dozen pixels of the whole tile read at ``ref_px``. 0: tiles are taken whole
    split_levels: int = 2
    split_above_px: int = 2048
    split_min_px: int = 512


@dataclass
class Tile:
    """One tile of a pool: where it is, its lon/lat box, and the bounds to read it with."""

    path: Path
    name: str
    bounds_lonlat: tuple[float, float, float, float]  # west, south, east, north (degrees)
    sidecar_bounds: tuple[float, float, float, float] | None = None  # plain image: its --bounds
    size_px: tuple[int, int] | None = None  # (rows, cols) when known from metadata
    ground_width_m: float | None = None
    crs: str | None = None  # the projected CRS a georeferenced tile is gridded in; None: lon/lat
    bounds_native: tuple[float, float, float, float] | None = None  # its box in ``crs`` (metres)
    loader: Callable[[], Reference] | None = None  # a mosaic of tiles: how to build it
    # a big file indexed in windows (``PoolOptions.split_levels``): 0 for the whole file, 1.. for a
    # window of that level; None for a tile taken whole
    level: int | None = None
    window: tuple[int, int, int, int] | None = None  # (col0, row0, col1, row1): pixels of ``path``
    read_px: int | None = None  # a split file's tile is read at most this long (area average)
    content_id: str | None = None  # the file's sha256, when known (not hashed again per window)
    file_size_px: tuple[int, int] | None = None  # a split file's (rows, cols)

    @property
    def key(self) -> tuple:
        """Identifies the tile within a pool (a file's windows share its path)."""
        return (self.path, self.window)

    def read_shape(self) -> tuple[int, int] | None:
        """(rows, cols) of the reference :meth:`load` returns without ``shrink_to``, when known."""
        if self.size_px is None:
            return None
        rows, cols = self.size_px
        if self.read_px is not None and max(rows, cols) > self.read_px:
            s = self.read_px / max(rows, cols)
            return max(1, round(rows * s)), max(1, round(cols * s))
        return rows, cols

    def load(self, shrink_to: tuple[int, int] | None = None) -> Reference:
        """The tile's reference; ``shrink_to`` (cols, rows): a georeferenced raster read at most
        that size (:func:`~cupola.locate.reference.load_reference`)."""
        if self.loader is not None:
            return self.loader()
        if shrink_to is None and self.read_px is not None:
            shape = self.read_shape()
            shrink_to = None if shape is None else (shape[1], shape[0])
        ref = load_reference(
            self.path, bounds=self.sidecar_bounds, shrink_to=shrink_to, window=self.window, content_id=self.content_id
        )
        ref.name = self.name
        return ref


@dataclass
class PoolResult:
    """The answer of a pool search: the single-pair result of the accepted tile (or a "not here"
    result), the tile and its loaded reference when accepted, the ranking and what was tried."""

    result: LocateResult
    tile: Tile | None = None
    reference: Reference | None = None
    ranking: list = field(default_factory=list)  # [{"rank", "tile", "score", "rotation_deg"}] best first
    tried: list = field(default_factory=list)  # [{"rank", "tile", "matched", "reason", "seconds"}]
    tiles_total: int = 0  # tile files (a big file's windows are counted in windows_total)
    tiles_beyond_horizon: int = 0
    timings_s: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # files of the folder that are not tiles, and why
    windows_total: int = 0  # windows of big tiles ranked beside the tiles (PoolOptions.split_levels)

    @property
    def matched(self) -> bool:
        return self.result.matched

    def to_dict(self) -> dict:
        return {
            "tiles_total": self.tiles_total,
            "windows_total": self.windows_total,
            "tiles_beyond_horizon": self.tiles_beyond_horizon,
            "tiles_ranked": len(self.ranking),
            "files_skipped": self.skipped[:50],
            "matched_tile": None if self.tile is None else self.tile.name,
            "matched_rank": next((t["rank"] for t in self.tried if t["matched"]), None),
            "ranking": self.ranking[:20],
            "tried": self.tried,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
        }


# -- listing tiles ---------------------------------------------------------------------------------


def _bounds_from_json(d: dict, path: Path) -> tuple[float, float, float, float]:
    b = d.get("reference_bounds", d) if isinstance(d, dict) else None
    try:
        return check_bounds((b["west"], b["south"], b["east"], b["north"]))
    except (KeyError, TypeError):
        raise InputError(f"{path}: bounds need west, south, east and north (degrees)") from None
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_tile(path: Path, name: str | None = None) -> Tile | None:
    """A tile from an image file: bounds from its sidecar, else from its georeferencing; None when
    it has neither."""
    path = Path(path)
    name = name or path.name
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if sidecar.is_file():
        bounds = _bounds_from_json(read_json_bounded(sidecar, "a bounds file (west, south, east, north)"), sidecar)
        return Tile(path, name, bounds, sidecar_bounds=bounds, ground_width_m=bounds_width_m(bounds))
    import rasterio
    from rasterio.warp import transform_bounds

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            ds = rasterio.open(path)
        with ds:
            if ds.crs is None or ds.transform.is_identity:
                return None
            bounds = tuple(float(v) for v in transform_bounds(ds.crs, "EPSG:4326", *ds.bounds))
            size = (ds.height, ds.width)
            # a tile cut in a projected grid (UTM, MGRS) keeps its own box: its lon/lat box is
            # skewed and does not meet its neighbours' edge to edge (cupola.locate.mosaic)
            projected = not ds.crs.is_geographic and ds.transform.b == 0 and ds.transform.d == 0
            crs = ds.crs.to_string() if projected else None
            native = tuple(float(v) for v in ds.bounds) if projected else None
    except rasterio.errors.RasterioIOError:
        return None
    return Tile(path, name, bounds, size_px=size, ground_width_m=bounds_width_m(bounds), crs=crs, bounds_native=native)


def _too_small(tile: Tile) -> str | None:
    """Why a tile is below locate's smallest image (``MIN_SIDE_PX`` on a side), or None. A sidecar
    or case tile's size is read from its image header (and kept in ``tile.size_px``)."""
    if tile.size_px is None:
        from PIL import Image

        try:
            with Image.open(tile.path) as im:
                tile.size_px = (im.height, im.width)
        except (OSError, ValueError):
            return None  # unreadable: loading it says so
    size = tile.size_px
    if not below_min_size(size[1], size[0]):
        return None
    return f"{tile.name} ({size[1]} x {size[0]} px, below {MIN_SIDE_PX} px)"


def _stamp(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def scan_tiles(folder, listing: dict | None = None) -> tuple[list[Tile], list[str]]:
    """The georeferenced tiles of a folder (and of apl case sub-folders), and the files skipped.

    ``listing``: georeferenced rasters read before, ``{path: [size, mtime_ns, inode, bounds,
    size_px]}``; a file whose size, mtime and inode are unchanged is not opened again. New and
    changed files are added to it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of reference tiles")
    tiles: list[Tile] = []
    skipped: list[str] = []

    def keep(tile: Tile) -> None:
        small = _too_small(tile)
        if small:
            skipped.append(small)
        else:
            tiles.append(tile)

    for p in sorted(folder.iterdir()):
        if p.is_dir() and (p / "case.json").is_file():
            case_file = p / "case.json"
            try:
                case = read_json_bounded(case_file, "a case file (case.json)")
                ref = p / case.get("reference", "reference.jpg")
                bounds = _bounds_from_json(case, case_file)
            except (ValueError, AttributeError):  # InputError is a ValueError
                skipped.append(f"{case_file.name} in {p.name} (unreadable)")
                continue
            if ref.is_file():
                keep(
                    Tile(
                        ref,
                        f"{p.name}/{ref.name}",
                        bounds,
                        sidecar_bounds=bounds,
                        ground_width_m=bounds_width_m(bounds),
                    )
                )
            continue
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        known = None if listing is None else listing.get(str(p.resolve()))
        # an entry of a version before the tile's own CRS (5 fields) is read again
        fresh = known is not None and len(known) == 7 and known[:3] == _stamp(p)
        if fresh and not p.with_name(p.stem + SIDECAR_SUFFIX).exists():
            bounds = tuple(known[3])
            native = None if known[6] is None else tuple(known[6])
            keep(
                Tile(
                    p,
                    p.name,
                    bounds,
                    size_px=tuple(known[4]),
                    ground_width_m=bounds_width_m(bounds),
                    crs=known[5],
                    bounds_native=native,
                )
            )
            continue
        tile = read_tile(p)
        if tile is None:
            skipped.append(p.name)
            continue
        if listing is not None and tile.sidecar_bounds is None:
            native = None if tile.bounds_native is None else list(tile.bounds_native)
            listing[str(p.resolve())] = [*_stamp(p), list(tile.bounds_lonlat), list(tile.size_px), tile.crs, native]
        keep(tile)
    if not tiles:
        what = (
            f" ({len(skipped)} images skipped: without georeferencing or a {SIDECAR_SUFFIX} sidecar, or too small)"
            if skipped
            else ""
        )
        raise InputError(
            f"{folder}: folder holds no georeferenced tiles{what}; give GeoTIFFs, or images "
            f"with a NAME{SIDECAR_SUFFIX} file holding west, south, east, north"
        )
    return tiles, skipped


def within_horizon(tiles: list[Tile], nadir_lonlat: tuple[float, float], altitude_m: float) -> list[Tile]:
    """Tiles with some point within the ISS horizon seen from ``nadir_lonlat`` (lon, lat degrees)."""
    limit = horizon_distance_m(altitude_m)
    lon0, lat0 = nadir_lonlat
    keep = []
    for t in tiles:
        west, south, east, north = t.bounds_lonlat
        best = math.inf
        for shift in (-360.0, 0.0, 360.0):  # boxes given in 0..360 or across the antimeridian
            lon = lon0 + shift
            near = (min(max(lon, west), east), min(max(lat0, south), north))
            best = min(best, ground_distance_m(lon, lat0, *near))
        if best <= limit:
            keep.append(t)
    return keep


def split_big_tiles(tiles: list[Tile], levels: int, above_px: int, min_px: int) -> list[Tile]:
    """``tiles``, each longer than ``above_px`` followed by its windows (``PoolOptions.split_levels``):
    at level L, windows 1/2**L of its width and height, overlapping by half (2**(L+1) - 1 along
    each side), while they are at least ``min_px`` long. The big tile itself becomes level 0; every
    tile of a split file is read at most ``above_px`` long."""
    if levels <= 0:
        return tiles
    out: list[Tile] = []
    for t in tiles:
        size = t.size_px
        if t.loader is not None or size is None or max(size) <= above_px:
            out.append(t)
            continue
        box_of = _window_bounds(t)
        if box_of is None:  # a rotated or sheared raster: taken whole
            out.append(t)
            continue
        rows, cols = size
        whole = replace(t, level=0, read_px=above_px, file_size_px=size)
        out.append(whole)
        for level in range(1, levels + 1):
            side_c, side_r = cols / 2**level, rows / 2**level
            if max(side_c, side_r) < min_px:
                break
            n = 2 ** (level + 1) - 1
            for i in range(n):
                for j in range(n):
                    win = (
                        round(j * side_c / 2),
                        round(i * side_r / 2),
                        round(j * side_c / 2 + side_c),
                        round(i * side_r / 2 + side_r),
                    )
                    lonlat, native = box_of(win)
                    out.append(
                        replace(
                            whole,
                            name=f"{t.name}, window r{i}c{j} of {n} x {n}",
                            bounds_lonlat=lonlat,
                            size_px=(win[3] - win[1], win[2] - win[0]),
                            ground_width_m=bounds_width_m(lonlat),
                            bounds_native=native,
                            level=level,
                            window=win,
                        )
                    )
    return out


def in_window(xy: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """Which points (col, row; pixel centres) of ``xy`` (N, 2) lie in ``window`` (col0, row0,
    col1, row1: pixel edges)."""
    c0, r0, c1, r1 = window
    x, y = xy[:, 0], xy[:, 1]
    return (x >= c0 - 0.5) & (x < c1 - 0.5) & (y >= r0 - 0.5) & (y < r1 - 0.5)


def _window_bounds(tile: Tile):
    """A function from a window (col0, row0, col1, row1) of ``tile``'s file to its (lon/lat box,
    box in the tile's projected CRS or None); None for a raster that is not north-up."""
    assert tile.size_px is not None
    rows, cols = tile.size_px
    if tile.sidecar_bounds is not None:
        west, south, east, north = tile.sidecar_bounds
        dx, dy = (east - west) / cols, (north - south) / rows

        def linear(win):
            c0, r0, c1, r1 = win
            return (west + c0 * dx, north - r1 * dy, west + c1 * dx, north - r0 * dy), None

        return linear
    import rasterio
    from rasterio.warp import transform_bounds

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(tile.path) as ds:
                transform, crs = ds.transform, ds.crs
    except rasterio.errors.RasterioIOError:
        return None  # unreadable since it was listed: taken whole, and loading it says why
    if crs is None or transform.b != 0 or transform.d != 0:
        return None

    def georeferenced(win):
        c0, r0, c1, r1 = win
        xs, ys = (transform.c + transform.a * c for c in (c0, c1)), (transform.f + transform.e * r for r in (r0, r1))
        (x0, x1), (y0, y1) = sorted(xs), sorted(ys)
        box = (float(x0), float(y0), float(x1), float(y1))
        lonlat = tuple(float(v) for v in transform_bounds(crs, "EPSG:4326", *box))
        return lonlat, (box if tile.crs is not None else None)

    return georeferenced


# -- VLAD ------------------------------------------------------------------------------------------

# x0, y0, x1, y1 as fractions: the whole tile, its quadrants, its centre half and a 3 x 3 grid
_REGIONS = (
    (0.0, 0.0, 1.0, 1.0),
    (0.0, 0.0, 0.5, 0.5),
    (0.5, 0.0, 1.0, 0.5),
    (0.0, 0.5, 0.5, 1.0),
    (0.5, 0.5, 1.0, 1.0),
    (0.25, 0.25, 0.75, 0.75),
    *((i / 3, j / 3, (i + 1) / 3, (j + 1) / 3) for j in range(3) for i in range(3)),
)


def vlad(desc: np.ndarray, centres: np.ndarray, assign: np.ndarray | None = None) -> np.ndarray:
    """VLAD of local descriptors (N, D) against centres (K, D): residual sums per word, signed
    square root, per-word (intra) L2 normalisation, then global L2. Returns (K * D,) float32."""
    k, d = centres.shape
    out = np.zeros((k, d), np.float32)
    if len(desc):
        if assign is None:
            assign = nearest_word(desc, centres)
        np.add.at(out, assign, desc - centres[assign])
    out = np.sign(out) * np.sqrt(np.abs(out))
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    flat = out.ravel()
    return flat / max(float(np.linalg.norm(flat)), 1e-12)


def nearest_word(desc: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d2 = (desc**2).sum(1)[:, None] - 2 * desc @ centres.T + (centres**2).sum(1)[None]
    return np.argmin(d2, axis=1)


def regional_vlads(keypoints: np.ndarray, desc: np.ndarray, shape: tuple[int, int], centres: np.ndarray) -> np.ndarray:
    """VLADs of the whole image and of its sub-regions, (len(_REGIONS), K * D) float16."""
    h, w = shape
    assign = nearest_word(desc, centres) if len(desc) else np.zeros(0, int)
    x = keypoints[:, 0] / max(w, 1) if len(desc) else np.zeros(0)
    y = keypoints[:, 1] / max(h, 1) if len(desc) else np.zeros(0)
    rows = []
    for x0, y0, x1, y1 in _REGIONS:
        m = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        rows.append(vlad(desc[m], centres, assign[m]))
    return np.stack(rows).astype(np.float16)


def kmeans(data: np.ndarray, k: int, seed: int = 0, iterations: int = 25) -> np.ndarray:
    """k-means++ centres (OpenCV), deterministic for a seed."""
    import cv2

    cv2.setRNGSeed(seed)
    k = min(k, len(data))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, iterations, 1e-4)
    _, _, centres = cv2.kmeans(np.ascontiguousarray(data, np.float32), k, None, crit, 1, cv2.KMEANS_PP_CENTERS)
    return centres.astype(np.float32)


# -- the pool --------------------------------------------------------------------------------------


class TilePool:
    """A folder of georeferenced tiles searched by global descriptor, verified by matching.

    Four tiles, the quadrants of the bundled Chilean mosaic at 256 px each, and a "photo" cut
    from the north-west one and turned a right angle (the matcher is RootSIFT: fast, no weights):

    >>> from importlib.resources import files
    >>> import cv2
    >>> from cupola.io.geotiff import write_lonlat_geotiff
    >>> west, south, east, north = -71.01562, -20.30615, -68.90626, -18.31547
    >>> mosaic = load_reference(files("cupola") / "data/samples/apl/ISS064-E-358/reference.jpg",
    ...                         bounds=(west, south, east, north)).image
    >>> mosaic = cv2.resize(mosaic, (512, 512), interpolation=cv2.INTER_AREA)
    >>> Path("tiles").mkdir()
    >>> for name, r, c in (("nw", 0, 0), ("ne", 0, 1), ("sw", 1, 0), ("se", 1, 1)):
    ...     quadrant = mosaic[256 * r : 256 * (r + 1), 256 * c : 256 * (c + 1)]
    ...     bounds = (west + c * (east - west) / 2, north - (r + 1) * (north - south) / 2,
    ...               west + (c + 1) * (east - west) / 2, north - r * (north - south) / 2)
    ...     _ = write_lonlat_geotiff(f"tiles/{name}.tif", quadrant, bounds)
    >>> photo = np.rot90(mosaic[60:200, 80:220])
    >>> pool = TilePool("tiles/", PoolOptions(words=16, tile_px=256), cache=FeatureCache("cache/"))
    >>> res = pool.locate(photo, LocateOptions(matcher="sift"))
    >>> res.matched, res.tile.name, [round(v, 1) for v in res.result.center_lonlat]
    (True, 'nw.tif', [-70.4, -18.8])
    """

    def __init__(self, folder, options: PoolOptions | None = None, cache: FeatureCache | None = None):
        self.folder = Path(folder)
        self.opts = options or PoolOptions()
        if self.opts.descriptor not in DESCRIPTORS:
            raise InputError(f"unknown pool descriptor {self.opts.descriptor!r}: choose from {', '.join(DESCRIPTORS)}")
        if self.opts.ranking not in RANKINGS:
            raise InputError(f"unknown pool ranking {self.opts.ranking!r}: choose from {', '.join(RANKINGS)}")
        if not 1 <= self.opts.top_k <= 100:
            raise InputError(f"the number of tiles verified must be 1..100, got {self.opts.top_k}")
        if self.opts.tied_extra < 0 or self.opts.vote_band_sigma < 0:
            raise InputError("tied_extra and vote_band_sigma must not be negative")
        self.cache = cache if cache is not None else FeatureCache(None)
        listing = None
        if self.cache.folder is not None and self.folder.is_dir():  # rasters listed before are not reopened
            lkey = feature_key(hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest(), "listing")
            listing = self.cache.get_json(lkey) or {}
            before = json.dumps(listing, sort_keys=True)
        tiles, self.skipped = scan_tiles(self.folder, listing)
        if listing is not None and json.dumps(listing, sort_keys=True) != before:
            self.cache.put_json(lkey, listing)
        o = self.opts
        self.tiles = split_big_tiles(tiles, o.split_levels, o.split_above_px, o.split_min_px)
        self._extractors: dict[int, object] = {}
        self._centres: np.ndarray | None = None
        self._vocab_id: str | None = None
        self._content: dict[Path, str] = {}
        self._sampled: dict[tuple, tuple] = {}
        self._descriptors: dict[tuple, np.ndarray] = {}  # the tiles' regional VLADs (by Tile.key), kept for every query
        # local descriptors (float16) for the votes, by feature set (_set_key): a tile's own, or one
        # level of a split file's, with each feature's position in the file (pixels)
        self._local: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
        self._stacked: tuple | None = None  # (feature sets, all local descriptors, owner, ...) of the last query
        self._multi_level = False  # a file of the last stacked pool has several feature sets (levels)
        self._photo_memo: tuple | None = None
        self._prepared: set[tuple] = set()  # tiles whose matching features are known to be in the cache
        self.index_seconds = 0.0
        self.index_computed = 0
        self.features_computed = 0  # tiles whose matching features the index computed

    # -- content ids (with a manifest of file stats in the cache, so unchanged files are not re-hashed)

    def _manifest_key(self) -> str:
        return feature_key(hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest(), "manifest")

    def content_ids(self, tiles: list[Tile]) -> dict[Path, str]:
        todo = list({t.path: t for t in tiles if t.path not in self._content}.values())
        if not todo:
            self._note_content(tiles)
            return self._content
        manifest = (self.cache.get_json(self._manifest_key()) if self.cache.folder is not None else None) or {}
        changed = False
        for t in todo:
            st = os.stat(t.path)
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
            rec = manifest.get(str(t.path.resolve()))
            if rec and rec[:3] == stamp:
                self._content[t.path] = rec[3]
                continue
            digest = file_sha256(t.path)
            self._content[t.path] = digest
            manifest[str(t.path.resolve())] = [*stamp, digest]
            changed = True
        if changed and self.cache.folder is not None:
            self.cache.put_json(self._manifest_key(), manifest)
        self._note_content(tiles)
        return self._content

    def _note_content(self, tiles: list[Tile]) -> None:
        """Tell each tile its file's sha256, so that loading it (or a window of it) hashes nothing."""
        for t in tiles:
            if t.loader is None and t.path in self._content:
                t.content_id = self._content[t.path]

    # -- local features for the global descriptor ---------------------------------------------------

    def _extract(self, img: np.ndarray, size_px: int, k: int = 0, mask_clouds: bool = False, keypoints: int = 0):
        """(keypoints, descriptors numpy float32, shape) of an image at ``size_px`` (long side),
        turned by ``k`` right angles; at most ``keypoints`` of them (default ``max_keypoints``)."""
        return self._extract_prepared(self._prepare(img, size_px, mask_clouds), k, keypoints)

    @staticmethod
    def _prepare(img: np.ndarray, size_px: int, mask_clouds: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(the normalised grey image at ``size_px`` on its long side, the mask of its usable
        pixels or None): what every right-angle turn of the image shares."""
        h, w = img.shape[:2]
        if max(h, w) > 2 * size_px:
            # a full-resolution photo: area-averaged to twice the size first, so the grey image and
            # the cloud mask are not computed on tens of megapixels (7 s on a 36-megapixel photo)
            r = 2 * size_px / max(h, w)
            img = resize(np.ascontiguousarray(img), max(8, round(w * r)), max(8, round(h * r)))
        gray = to_gray(img)
        h, w = gray.shape
        s = min(1.0, size_px / max(h, w))
        sw, sh = max(8, round(w * s)), max(8, round(h * s))
        small = normalise(resize(gray, sw, sh)) if s < 1.0 else normalise(gray)
        mask = None
        if mask_clouds:
            # not the single pair's preparation (``photo_for_matching``: the cloud mask after haze
            # removal, clouds filled): tried for the ranking in session 53, the own tile ranked lower
            # in 8 of 12 cloud cases and the pool found 6 of them instead of 7 (docs/locate.md)
            mask = ~(resize((cloud_mask(img) | frame_mask(img)).astype(np.uint8), sw, sh) > 0)
        return small, mask

    def _extract_prepared(self, prepared: tuple[np.ndarray, np.ndarray | None], k: int = 0, keypoints: int = 0):
        """``_extract`` of an image ``_prepare`` made."""
        budget = keypoints or self.opts.max_keypoints
        if budget not in self._extractors:
            from cupola.locate.features import make_matcher

            self._extractors[budget] = make_matcher(self.opts.descriptor, max_keypoints=budget)
        extractor = self._extractors[budget]
        small, mask = prepared
        if mask is not None:
            mask = np.ascontiguousarray(np.rot90(mask, k))
        f = extractor.extract(np.ascontiguousarray(np.rot90(small, k)), mask)
        desc = f.descriptors
        desc = desc.detach().cpu().numpy() if not isinstance(desc, np.ndarray) else desc
        return np.asarray(f.keypoints, np.float32), np.asarray(desc, np.float32), f.shape

    def _settings(self) -> tuple:
        o = self.opts
        return (POOL_FORMAT, o.descriptor, o.tile_px, o.max_keypoints)

    def _tile_features(self, tile: Tile):
        """Local features of a tile for its descriptor (kept in memory only while the vocabulary
        is learnt, so the sampled tiles are not read twice)."""
        if tile.key in self._sampled:
            return self._sampled.pop(tile.key)
        return self._extract(tile.load().image, self.opts.tile_px)

    def _level_features(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """A split file's features at ``tile``'s level (cached): the file read at ``tile_px`` times
        2**level on its long side with 4**level times the keypoints, so each window of the level
        gets about what a tile of its own would; (descriptors float16, positions in the file's
        pixels float32)."""
        level = tile.level or 0
        key = self._set_key(tile)
        if key in self._local and self._local[key][1] is not None:
            return self._local[key]  # type: ignore[return-value]
        dkey, xkey = self._level_keys(tile)
        desc, xy = self.cache.get_array(dkey), self.cache.get_array(xkey)
        if desc is None or xy is None or desc.ndim != 2 or xy.shape != (len(desc), 2):
            assert tile.size_px is not None
            rows, cols = tile.file_size_px or tile.size_px
            px = min(max(rows, cols), self.opts.tile_px * 2**level)
            s = px / max(rows, cols)
            ref = load_reference(
                tile.path,
                bounds=tile.sidecar_bounds,
                shrink_to=(max(1, round(cols * s)), max(1, round(rows * s))),
                content_id=tile.content_id,
            )
            kp, d, shape = self._extract(ref.image, px, keypoints=self.opts.max_keypoints * 4**level)
            # pixel centres of the resampled image -> pixels of the file
            xy = np.empty((len(kp), 2), np.float32)
            xy[:, 0] = (kp[:, 0] + 0.5) * cols / shape[1] - 0.5 if len(kp) else 0
            xy[:, 1] = (kp[:, 1] + 0.5) * rows / shape[0] - 0.5 if len(kp) else 0
            desc = d.astype(np.float16)
            self.cache.put_array(dkey, desc)
            self.cache.put_array(xkey, xy)
        self._local[key] = (np.asarray(desc), np.asarray(xy, np.float32))
        return self._local[key]  # type: ignore[return-value]

    def _vocabulary(self, tiles: list[Tile]) -> np.ndarray:
        if self._centres is not None:
            return self._centres
        o = self.opts
        # one vocabulary per cache and settings: learnt from the first pool indexed, then kept
        vkey = feature_key("vocabulary", "pool-vocabulary", *self._settings(), o.words, o.seed)
        centres = self.cache.get_array(vkey)
        if centres is None or centres.ndim != 2:
            rng = np.random.default_rng(o.seed)
            tiles = [t for t in tiles if t.window is None]  # a split file's windows: its whole tile stands for them
            pick = sorted(rng.choice(len(tiles), size=min(o.vocab_tiles, len(tiles)), replace=False))
            per = max(64, o.vocab_descriptors // max(len(pick), 1))
            sample = []
            for i in pick:
                feats = self._tile_features(tiles[i])
                self._sampled[tiles[i].key] = feats
                desc = feats[1]
                if len(desc) > per:
                    desc = desc[rng.choice(len(desc), per, replace=False)]
                sample.append(desc)
            data = np.concatenate(sample) if sample else np.zeros((0, 1), np.float32)
            if len(data) < o.words:
                raise InputError(
                    f"{self.folder}: too few features in the tiles to build a vocabulary ({len(data)} descriptors)"
                )
            centres = kmeans(data, o.words, o.seed)
            self.cache.put_array(vkey, centres)
        self._centres = np.asarray(centres, np.float32)
        self._vocab_id = hashlib.sha256(self._centres.tobytes()).hexdigest()[:16]
        return self._centres

    def build_index(self, tiles: list[Tile] | None = None, progress=None, localizer: Localizer | None = None) -> int:
        """Global descriptors of ``tiles`` (all by default) not yet in the cache; returns how many
        were computed. With ``localizer`` and a cache folder (and ``index_features``), each tile's
        whole-tile matching features are computed into the cache too, once, so that a query only
        reads them (the quick pre-check and the verification of a tile then cost no extraction);
        a split file's windows get theirs when first verified."""
        tiles = self.tiles if tiles is None else tiles
        t0 = time.perf_counter()
        self.content_ids(tiles)
        centres = self._vocabulary(tiles)
        prepare = (
            localizer is not None
            and self.opts.index_features
            and self.cache.folder is not None
            and getattr(localizer.cache, "folder", None) is not None
        )
        n = 0
        votes = self.opts.ranking == "votes"  # the votes need each tile's local descriptors too
        for i, t in enumerate(tiles):
            loaded: Reference | None = None
            if t.key not in self._descriptors or (votes and self._set_key(t) not in self._local):
                d = self.cache.get_array(self._descriptor_key(t))
                vlad_ok = d is not None and d.ndim == 2 and d.shape[1] == centres.size
                if t.level is not None:  # a split file: features per level, a window's VLAD from those inside it
                    desc16, xy = self._level_features(t)
                    if not vlad_ok:
                        c0, r0, c1, r1 = t.window or (0, 0, t.size_px[1], t.size_px[0])  # type: ignore[index]
                        inside = in_window(xy, (c0, r0, c1, r1))
                        kp = xy[inside] - np.array([c0, r0], np.float32)
                        d = regional_vlads(kp, desc16[inside].astype(np.float32), (r1 - r0, c1 - c0), centres)
                        self.cache.put_array(self._descriptor_key(t), d)
                        n += 1
                    self._descriptors[t.key] = d
                else:
                    local = self.cache.get_array(self._local_key(t)) if votes else None
                    local_ok = not votes or (
                        local is not None and local.ndim == 2 and local.shape[1] == centres.shape[1]
                    )
                    if not (vlad_ok and local_ok):
                        if t.key in self._sampled:
                            kp, desc, shape = self._sampled.pop(t.key)
                        else:
                            loaded = t.load()
                            kp, desc, shape = self._extract(loaded.image, self.opts.tile_px)
                        d = regional_vlads(kp, desc, shape, centres)
                        self.cache.put_array(self._descriptor_key(t), d)
                        local = desc.astype(np.float16)
                        if votes:
                            self.cache.put_array(self._local_key(t), local)
                        n += 1
                    self._descriptors[t.key] = d
                    if votes:
                        assert local is not None
                        self._local[t.key] = (local, None)
            # a split file's windows get their matching features when first verified (dozens per
            # file; a query verifies a few), not here
            if prepare and t.window is None and t.key not in self._prepared:
                assert localizer is not None
                shape = t.read_shape()
                ref_id = self._reference_id(t)
                if shape is None or not localizer.has_reference_features(ref_id, shape):
                    loaded = loaded or t.load()
                    if not localizer.has_reference_features(loaded.content_id, loaded.shape):
                        localizer.prepare_reference(loaded)
                        self.features_computed += 1
                self._prepared.add(t.key)
            if progress is not None:
                progress(i + 1, len(tiles))
        self._sampled.clear()
        self.index_seconds += time.perf_counter() - t0
        self.index_computed += n
        return n

    def _descriptor_key(self, tile: Tile) -> str:
        split = () if tile.level is None else ("level", tile.level, *(tile.window or ()), *self._level_settings(tile))
        return feature_key(
            self._content[tile.path], "pool-vlad", *self._settings(), self.opts.words, self._vocab_id, *split
        )

    def _local_key(self, tile: Tile) -> str:
        return feature_key(self._content[tile.path], "pool-local", *self._settings())

    def _level_settings(self, tile: Tile) -> tuple:
        level = tile.level or 0
        return (level, self.opts.tile_px * 2**level, self.opts.max_keypoints * 4**level)

    def _level_keys(self, tile: Tile) -> tuple[str, str]:
        """Cache keys of a split file's level features: descriptors, positions."""
        c = self._content[tile.path]
        return (
            feature_key(c, "pool-local-level", *self._settings(), *self._level_settings(tile)),
            feature_key(c, "pool-xy-level", *self._settings(), *self._level_settings(tile)),
        )

    @staticmethod
    def _set_key(tile: Tile) -> tuple:
        """The feature set a tile's votes come from: its own, or its level's of a split file."""
        return tile.key if tile.level is None else (tile.path, "level", tile.level)

    def _reference_id(self, tile: Tile) -> str | None:
        """The content id of the reference ``tile.load()`` returns (a window's is its own)."""
        cid = self._content.get(tile.path)
        return window_content_id(cid, tile.window) if cid and tile.window is not None else cid

    # -- ranking -----------------------------------------------------------------------------------

    def photo_descriptors(self, photo: np.ndarray, photo_px: int) -> np.ndarray:
        """The photo's VLAD at each right-angle turn (one turn for rotation-invariant RootSIFT)."""
        turns = (0,) if self.opts.descriptor == "sift" else (0, 1, 2, 3)
        rows = []
        for k in turns:
            kp, desc, _ = self._photo_features(photo, photo_px, k)
            rows.append(vlad(desc, self._centres))
        return np.stack(rows)

    def _photo_px(self, tiles: list[Tile], locate_options: LocateOptions | None) -> int:
        """Photo size at about the ground resolution of the tiles' descriptors, when the lens is known."""
        o = locate_options
        if o is None or not o.focal_mm:
            return self.opts.photo_px
        widths = [t.ground_width_m for t in tiles if t.ground_width_m and t.window is None]
        if not widths:
            return self.opts.photo_px
        tile_res = float(np.median(widths)) / self.opts.tile_px
        photo_w = 1.3 * (nadir_ground_width_m(o) or 0.0)
        return int(np.clip(photo_w / tile_res, 256, 1024))

    def rank(self, photo: np.ndarray, tiles: list[Tile], locate_options: LocateOptions | None = None) -> list[dict]:
        """Tiles ranked by global similarity with the photo, best first.

        Descriptors are centred on the pool's mean tile-region descriptor before the cosine: what
        every tile shares (the look of the sensor, generic texture) then no longer makes a few
        tiles similar to every photo ("hubs")."""
        photo_px = self._photo_px(tiles, locate_options)
        votes = self._votes(photo, photo_px, tiles) if self.opts.ranking == "votes" else None
        q = self.photo_descriptors(photo, photo_px).astype(np.float32)
        d = np.stack([self._descriptors[t.key] for t in tiles])  # (tiles, regions, dim) float16
        n, r, dim = d.shape
        flat = d.reshape(n * r, dim)
        mean = flat.astype(np.float32).mean(axis=0)
        qc = q - mean
        qc /= np.maximum(np.linalg.norm(qc, axis=1, keepdims=True), 1e-12)
        sims = np.empty((n * r, len(q)), np.float32)
        norms = np.empty(n * r, np.float32)
        for i in range(0, n * r, 4096):  # blocks: bounded memory for big pools
            block = flat[i : i + 4096].astype(np.float32) - mean
            norms[i : i + 4096] = np.linalg.norm(block, axis=1)
            sims[i : i + 4096] = block @ qc.T
        sims /= np.maximum(norms, 1e-12)[:, None]
        sims = sims.reshape(n, r * len(q))
        best = np.argmax(sims, axis=1)
        scores = sims[np.arange(n), best]
        turns = best % len(q)
        step = 90 if len(q) > 1 else 0
        if votes is None:
            order = np.argsort(-scores, kind="stable")
        else:  # most votes first; the global descriptor breaks ties
            order = np.lexsort((-scores, -votes))
        return [
            {
                "rank": k + 1,
                "tile": tiles[i].name,
                "score": float(scores[i]),
                **({} if votes is None else {"votes": int(votes[i])}),
                "rotation_deg": int(turns[i] * step),
                "_tile": tiles[i],
            }
            for k, i in enumerate(order)
        ]

    def _photo_features(self, photo: np.ndarray, photo_px: int, k: int):
        """The photo's local features (clouds masked) at ``photo_px``, turned ``k`` right angles;
        those of the last photo are kept (keyed by its pixels and size) for every turn, so the
        votes and the descriptor share them."""
        key = (hashlib.sha1(np.ascontiguousarray(photo).data).hexdigest(), photo.shape, photo_px)
        if self._photo_memo is None or self._photo_memo[0] != key:
            # the grey image and its cloud and frame masks once, for every turn
            self._photo_memo = (key, {}, self._prepare(photo, photo_px, mask_clouds=True))
        turns = self._photo_memo[1]
        if k not in turns:
            turns[k] = self._extract_prepared(self._photo_memo[2], k)
        return turns[k]

    def _votes(self, photo: np.ndarray, photo_px: int, tiles: list[Tile]) -> np.ndarray:
        """Votes per tile: each of the photo's local features (clouds masked) votes for the tile
        that holds its nearest neighbour among all the pool's tile features, when that neighbour
        is clearly nearer than the second (``vote_ratio``, Lowe's test taken over the whole pool,
        so features common to many tiles vote for none). RootSIFT is rotation invariant: one turn;
        ALIKED is not: a tile keeps its best of the four right-angle turns. A split file's window
        gets the votes for its level's features that lie inside it; in the ratio test the same
        file's features at another level (the same ground at another scale) are not a second."""
        sets = list(dict.fromkeys(self._set_key(t) for t in tiles))
        if self._stacked is None or self._stacked[0] != sets:
            self._stacked = (sets, *self._stack_features(sets))
        _, allf, owner, group, xy, lists = self._stacked
        best = np.zeros(len(tiles), np.int64)
        if len(allf) < 2:
            return best
        set_of = {k: i for i, k in enumerate(sets)}
        tile_set = np.array([set_of[self._set_key(t)] for t in tiles])
        for k in (0,) if self.opts.descriptor == "sift" else (0, 1, 2, 3):
            _, desc, _ = self._photo_features(photo, photo_px, k)
            if not len(desc):
                continue
            rows = self._vote_rows(desc, allf, owner, group, lists)
            per_set = np.bincount(owner[rows], minlength=len(sets))
            votes = per_set[tile_set]
            if any(t.window is not None for t in tiles):
                voted_set, voted_xy = owner[rows], xy[rows]  # each vote's feature set and position, once
                by_set = {k: voted_xy[voted_set == k] for k in np.unique(voted_set)}
                empty = np.zeros((0, 2), np.float32)
                for i, t in enumerate(tiles):
                    if t.window is not None:
                        votes[i] = int(np.count_nonzero(in_window(by_set.get(tile_set[i], empty), t.window)))
            best = np.maximum(best, votes)
        return best

    def _stack_features(self, sets: list[tuple]):
        """All the feature sets' local descriptors as unit rows (torch), the set and the file of
        each row, each row's position in its file (NaN where not kept), and, for a pool above
        ``ivf_above`` features, an inverted file: the rows sorted by their nearest VLAD word, with
        the unit word centres and each word's row range."""
        import torch

        feats = [self._local[k][0] for k in sets]
        owner = np.concatenate([np.full(len(f), i, np.int32) for i, f in enumerate(feats)])
        files = {k[0]: j for j, k in enumerate(sets)}
        group = np.concatenate([np.full(len(f), files[k[0]], np.int32) for k, f in zip(sets, feats)])
        xy = np.concatenate(
            [
                self._local[k][1] if self._local[k][1] is not None else np.full((len(f), 2), np.nan, np.float32)
                for k, f in zip(sets, feats)
            ]
        ).reshape(-1, 2)
        # a file with several feature sets (a split file's levels): the ratio test looks past them
        self._multi_level = len(files) < len(sets)
        allf = torch.nn.functional.normalize(torch.from_numpy(np.concatenate(feats).astype(np.float32)), dim=1)
        if len(allf) <= self.opts.ivf_above or self._centres is None:
            return allf, owner, group, xy, None
        centres = torch.nn.functional.normalize(torch.from_numpy(self._centres), dim=1)
        words = torch.cat([torch.argmax(allf[i : i + 65536] @ centres.T, dim=1) for i in range(0, len(allf), 65536)])
        order = torch.argsort(words, stable=True)
        starts = np.searchsorted(words[order].numpy(), np.arange(len(centres) + 1))
        o = order.numpy()
        return allf[order].contiguous(), owner[o], group[o], xy[o], (centres, starts)

    # neighbours looked at for a second from another place, when a file has several feature sets
    SECOND_SEARCH = 8

    def _vote_rows(self, desc: np.ndarray, allf, owner: np.ndarray, group: np.ndarray, lists=None) -> np.ndarray:
        """The tile-feature rows the photo's features vote for: each feature's nearest row, when
        it passes the ratio test against the nearest row of another place (another tile, or the
        same feature set: a split file's other levels hold the same ground at another scale)."""
        import torch

        m = self.SECOND_SEARCH if self._multi_level else 2
        # unit vectors: the nearest by distance are the largest dot products
        q = torch.nn.functional.normalize(torch.from_numpy(np.ascontiguousarray(desc, np.float32)), dim=1)
        if lists is None:
            best_s, best_i = [], []
            for i in range(0, len(allf), 65536):  # blocks: bounded memory for big pools
                sims = q @ allf[i : i + 65536].T
                v, j = torch.topk(sims, min(m, sims.shape[1]), dim=1)
                best_s.append(v)
                best_i.append(j + i)
            cat_s = torch.cat(best_s, 1)
            v, j = torch.topk(cat_s, min(m, cat_s.shape[1]), dim=1)
            who = torch.gather(torch.cat(best_i, 1), 1, j).numpy()
            v = v.numpy()
        else:
            v, who = self._inverted_file_search(q, allf, lists, m)
        second = np.ones(len(v), np.int64)
        if v.shape[1] > 2:
            w = np.maximum(who, 0)
            same_file = group[w[:, 1:]] == group[w[:, :1]]
            ok_second = ~(same_file & (owner[w[:, 1:]] != owner[w[:, :1]]) & (who[:, 1:] >= 0))
            second = np.where(ok_second.any(axis=1), 1 + np.argmax(ok_second, axis=1), v.shape[1] - 1)
        d = np.sqrt(np.maximum(2.0 - 2.0 * v, 0.0))
        ratio = self.opts.vote_ratio_big if len(allf) > self.opts.ivf_above else self.opts.vote_ratio
        d2 = d[np.arange(len(d)), second] if v.shape[1] > 1 else np.full(len(d), np.inf)
        ok = (d[:, 0] < ratio * d2) & (who[:, 0] >= 0)
        return who[ok, 0]

    def _inverted_file_search(self, q, allf, lists, m: int = 2):
        """The ``m`` most similar tile rows of each photo feature among the rows of its
        ``ivf_probe`` nearest words (approximate: a neighbour filed under another word is missed;
        a missing neighbour gets similarity 0, i.e. orthogonal, and row -1)."""
        import torch

        centres, starts = lists
        probes = torch.topk(q @ centres.T, min(self.opts.ivf_probe, len(centres)), dim=1).indices
        best_v = torch.full((len(q), m), -2.0)  # below any cosine
        best_i = torch.full((len(q), m), -1, dtype=torch.int64)
        for w in torch.unique(probes).tolist():
            lo, hi = int(starts[w]), int(starts[w + 1])
            if hi <= lo:
                continue
            rows = torch.nonzero((probes == w).any(dim=1)).squeeze(1)
            sims = q[rows] @ allf[lo:hi].T
            v, j = torch.topk(sims, min(m, hi - lo), dim=1)
            cand_v = torch.cat([best_v[rows], v], 1)
            cand_i = torch.cat([best_i[rows], j + lo], 1)
            top_v, top_j = torch.topk(cand_v, m, dim=1)
            best_v[rows] = top_v
            best_i[rows] = torch.gather(cand_i, 1, top_j)
        best_v[:, 1:] = torch.where(best_i[:, 1:] < 0, torch.zeros(()), best_v[:, 1:])
        return best_v.numpy(), best_i.numpy()

    # -- the whole search --------------------------------------------------------------------------

    def locate(
        self,
        photo: np.ndarray,
        locate_options: LocateOptions | None = None,
        localizer: Localizer | None = None,
        progress=None,
    ) -> PoolResult:
        t_start = time.perf_counter()
        lopts = locate_options or (localizer.opts if localizer is not None else LocateOptions())
        timings: dict[str, float] = {}
        tiles = self.tiles
        if lopts.nadir_lonlat is not None:
            tiles = within_horizon(tiles, lopts.nadir_lonlat, lopts.altitude_m)
        # tiles are counted as files; a big file's windows apart
        n_tiles = sum(t.window is None for t in self.tiles)
        n_windows = len(self.tiles) - n_tiles
        beyond = n_tiles - sum(t.window is None for t in tiles)
        if not tiles:
            res = LocateResult(
                False,
                f"not here: all {n_tiles} tiles lie beyond the ISS horizon from the "
                f"given nadir point ({horizon_distance_m(lopts.altitude_m) / 1000:.0f} km)",
            )
            return PoolResult(
                res,
                tiles_total=n_tiles,
                windows_total=n_windows,
                tiles_beyond_horizon=beyond,
                timings_s={"total": time.perf_counter() - t_start},
                skipped=list(self.skipped),
            )
        if localizer is None:
            localizer = localizer_with_cache(lopts, self.cache)
        t0 = time.perf_counter()
        self.build_index(tiles, progress=progress, localizer=localizer)
        timings["index"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ranking = self.rank(photo, tiles, lopts)
        timings["rank"] = time.perf_counter() - t0
        tried = []
        found = None
        t0 = time.perf_counter()
        n_verify = self.opts.top_k
        if ranking and "votes" in ranking[0]:
            n_verify = tied_with_leader(
                [e["votes"] for e in ranking], self.opts.top_k, self.opts.tied_extra, self.opts.vote_band_sigma
            )
        top = distinct_windows(ranking, n_verify)
        quick: dict[int, int] = {}
        if len(top) > 1 and localizer.cache is not None and lopts.quick_inliers is not None:
            # with the features cached, the quick stage costs ~0.1 s a tile: a tile the photo clearly
            # matches (>= quick_inliers, above any wrong pair of the suite) is verified first
            for entry in top:
                quick[entry["rank"]] = localizer.quick_inliers_for(photo, entry["_tile"].load())
            clear = sorted((e for e in top if quick[e["rank"]] >= lopts.quick_inliers), key=lambda e: -quick[e["rank"]])
            top = clear + [e for e in top if quick[e["rank"]] < lopts.quick_inliers]
            timings["quick"] = time.perf_counter() - t0
        searched = False
        narrow: list[float] = []  # the least ground width the lens sees, for each tile narrower than that
        for entry in top:
            tile = entry["_tile"]
            ref = tile.load()
            tv = time.perf_counter()
            # the tiles are retried below, if at all
            res = localizer.locate(photo, [ref], contrast_retry=False, explain_width=False)
            need = lens_ground_beyond_m(lopts, ref)
            if need is not None:
                narrow.append(need)
            searched = searched or localizer.searched
            tried.append(_tried_row(entry, tile, res, quick, tv))
            if res.matched:
                found = (res, tile, ref)
                break
            del ref
        timings["verify"] = time.perf_counter() - t0
        if found is None and searched and self.opts.mosaic_tiles:
            # a grid of tiles each smaller than the photo's ground: the windows of adjacent tiles
            # that hold the most votes, each read as one mosaic
            t0 = time.perf_counter()
            found = self._verify_mosaics(photo, tiles, ranking, lopts, localizer, quick, tried)
            if any("mosaic" in t for t in tried):
                timings["mosaics"] = time.perf_counter() - t0
        if found is None and searched and localizer.retries_on_folded_contrast:
            # as one photo against one reference: when every verified tile is rejected after a real
            # search, the same tiles (those at least ref_px on a side), in the same order, are
            # searched again on contrast-folded images
            t0 = time.perf_counter()
            folded = localizer.folded_localizer()
            for entry in top:
                tile = entry["_tile"]
                shape = tile.read_shape()
                if shape is not None and not localizer.folded_search_allowed(shape):
                    continue  # a small tile, known from its metadata: not read again
                ref = tile.load()
                if not localizer.folded_search_allowed(ref):
                    continue
                tv = time.perf_counter()
                res = folded.locate(photo, [ref])
                tried.append({**_tried_row(entry, tile, res, quick, tv), "contrast": "folded"})
                if res.matched:
                    res.reason += FOLDED_NOTE
                    found = (res, tile, ref)
                    break
                del ref
            timings["contrast-folded retry"] = time.perf_counter() - t0
        public = [{k: v for k, v in e.items() if k != "_tile"} for e in ranking]
        if found is not None:
            res, tile, ref = found
            out = PoolResult(res, tile, ref, public, tried, n_tiles, beyond, windows_total=n_windows)
        else:
            first = [t for t in tried if "contrast" not in t and "mosaic" not in t]
            why = "; ".join(f"{t['tile']} (rank {t['rank']}): {t['reason']}" for t in first)
            n_again = sum("contrast" in t for t in tried)
            again = f" ({n_again} of them searched again on contrast-folded images)" if n_again else ""
            mosaics = [t for t in tried if "mosaic" in t]
            mosaic_why = ""
            if mosaics:
                mosaic_why = (
                    f"; nor {len(mosaics)} mosaic{'s' * (len(mosaics) != 1)} of adjacent tiles ("
                    + "; ".join(f"{t['tile']}: {t['reason']}" for t in mosaics)
                    + ")"
                )
            width = ""
            if first and len(narrow) == len(first):
                width = (
                    f"; every tile verified is narrower than the {min(narrow) / 1000:.0f} km a "
                    f"{lopts.focal_mm:g} mm lens sees: give tiles 2-4 times the photo's footprint"
                )
            n_windows = sum(t.window is not None for t in tiles)
            of = (
                f"{len(tiles) - n_windows} tiles and {n_windows} windows of the big ones"
                if n_windows
                else f"{len(tiles)} tiles"
            )
            res = LocateResult(
                False,
                f"not here: none of the {len(first)} best-ranked of {of} was accepted{again} ({why})"
                + mosaic_why
                + width,
                matcher=localizer.matcher.name,
            )
            res.inliers = max((t["inliers"] for t in tried), default=0)
            out = PoolResult(res, None, None, public, tried, n_tiles, beyond, windows_total=n_windows)
        timings["total"] = time.perf_counter() - t_start
        out.timings_s = timings
        out.skipped = list(self.skipped)
        out.result.seconds = timings["total"]
        return out

    def _verify_mosaics(self, photo, tiles, ranking, lopts: LocateOptions, localizer: Localizer, quick, tried):
        """Verify the ``top_k`` windows of adjacent tiles (:mod:`cupola.locate.mosaic`) that hold
        the most votes (or the best descriptor scores), each as one mosaic; adds their rows to
        ``tried`` and returns (result, tile, reference) of the first accepted, else None."""
        from cupola.locate.mosaic import (
            grid_neighbours,
            mosaic_shape,
            pixel_step,
            read_mosaic,
            window_tiles,
            windows_to_verify,
        )

        tiles = [t for t in tiles if t.window is None]  # a split file's windows are not grid tiles
        # each tile's box in its own grid: a projected tile's in its CRS, the others' in lon/lat
        boxes = [t.bounds_lonlat if t.crs is None or t.bounds_native is None else t.bounds_native for t in tiles]
        crss = [t.crs if t.bounds_native is not None else None for t in tiles]
        neighbours = grid_neighbours(boxes, [t.size_px for t in tiles], crss=crss)
        if not any(neighbours):
            return None
        widths = [t.ground_width_m for t in tiles if t.ground_width_m]
        lens_ground = nadir_ground_width_m(lopts)  # the least ground the lens sees
        sizes = list(self.opts.mosaic_tiles)
        if lens_ground is not None:
            tile_width = float(np.median(widths)) if widths else None
            ks = [k for k in sizes if k >= 3]
            # a footprint straddling two tiles lies whole in a one-tile window when it is at most
            # half a tile wide; a k x k window would leave it a sixth of the mosaic or less
            small = 1 in sizes and tile_width is not None and 2.0 * lens_ground <= tile_width
            sizes = ([1] if small else []) + ([window_tiles(lens_ground, tile_width, k_min=ks[0])] if ks else [])
        index = {id(t): i for i, t in enumerate(tiles)}
        entry_of = {index[id(e["_tile"])]: e for e in ranking if id(e["_tile"]) in index}
        weight = [(entry_of[i].get("votes", 0), entry_of[i]["score"]) for i in range(len(tiles))]
        # a tile that alone kept as many inliers as accept a whole reference (refused for being
        # small, or for its ratio or outline) holds part of the photo: its windows come first
        # (in the grid suite wrong tiles kept at most 24, the photo's own tiles up to 51)
        kept = {t["tile"]: t.get("inliers") or 0 for t in tried if "mosaic" not in t}
        evidence = [kept.get(t.name, 0) if kept.get(t.name, 0) >= lopts.min_inliers else 0 for t in tiles]
        chosen = windows_to_verify(boxes, neighbours, sizes, weight, self.opts.top_k, crss, evidence)
        content = self.content_ids(tiles)
        ids = [content.get(t.path) for t in tiles]
        memo: dict = {}  # tiles read for one window, kept for the next
        # every mosaic needs the small-reference bar, whatever its size: up to three times --top-k
        # windows over the photo's region are as many second chances for a wrong placement (the
        # grid suite re-framed on canvases of unrelated imagery: a 1024-px 2 x 2 mosaic accepted
        # 93 km off with 29 inliers at ratio 0.32; true mosaic accepts kept 117 or more)
        bar = max(lopts.min_inliers, lopts.small_ref_min_inliers)
        if localizer.opts.min_inliers < bar:
            localizer = Localizer(replace(localizer.opts, min_inliers=bar), cache=localizer.cache)
        for win in chosen:
            centre = tiles[win.centre]
            step = pixel_step(boxes[win.centre], centre.size_px)
            assert step is not None  # a window's tiles are grid neighbours: their sizes are known
            ref = read_mosaic(tiles, win, mosaic_shape(win, step, lopts.ref_px), ids, memo)
            tv = time.perf_counter()
            res = localizer.locate(photo, [ref], contrast_retry=False, explain_width=False)
            tile = _as_tile(ref, win)
            tried.append(
                {
                    **_tried_row(entry_of[win.centre], tile, res, quick, tv),
                    "mosaic": [tiles[j].name for j in win.members],
                }
            )
            if res.matched:
                return res, tile, ref
        return None


def _as_tile(ref: Reference, win) -> Tile:
    """A mosaic as a pool tile (named and bounded as the mosaic, loading the mosaic read)."""
    bounds = win.bounds_lonlat()
    return Tile(
        Path(ref.name),
        ref.name,
        bounds,
        size_px=ref.shape,
        ground_width_m=bounds_width_m(bounds),
        loader=lambda: ref,
    )


def _tried_row(entry: dict, tile: Tile, res: LocateResult, quick: dict, t_start: float) -> dict:
    """One verified tile, as ``PoolResult.tried`` and ``result.json`` list it."""
    return {
        "rank": entry["rank"],
        "tile": tile.name,
        "score": entry["score"],
        "quick_inliers": quick.get(entry["rank"]),
        "matched": res.matched,
        "reason": res.reason,
        "inliers": res.inliers,
        "seconds": round(time.perf_counter() - t_start, 3),
    }


def distinct_windows(ranking: list[dict], n: int) -> list[dict]:
    """The first ``n`` entries of ``ranking`` (dicts with the :class:`Tile` under ``"_tile"``), a
    split file's window passed over while a window of the same file and level already taken covers
    half of it or more: its neighbours overlap it by half, share the same votes and would spend
    the verifications on one place (they come after the distinct ones, if any room is left).
    Tiles taken whole are never passed over."""
    taken: list[Tile] = []
    later: list[dict] = []
    out: list[dict] = []
    for e in ranking:
        if len(out) >= n:
            break
        t = e["_tile"]
        if t.window is not None and any(
            o.path == t.path and o.level == t.level and _covered(o.window, t.window) >= 0.5 for o in taken
        ):
            later.append(e)
            continue
        out.append(e)
        taken.append(t)
    return out + later[: n - len(out)]


def _covered(a, b) -> float:
    """The share of window ``b``'s area inside window ``a`` ((col0, row0, col1, row1); 0 for None)."""
    if a is None or b is None:
        return 0.0
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / max(1, (b[2] - b[0]) * (b[3] - b[1]))


def tied_with_leader(votes: list[int], top_k: int, extra: int, sigma: float) -> int:
    """How many of the ranked tiles to verify: at least ``top_k``, and up to ``extra`` more while a
    tile's votes are within ``sigma`` Poisson standard deviations of the leader's (the difference
    of two counts has variance ``leader + tile``), i.e. while the votes cannot tell it from the
    leader. ``votes`` are in rank order (most first).

    >>> tied_with_leader([40, 6, 5, 5, 4, 4, 3], top_k=4, extra=4, sigma=1.0)  # a clear leader
    4
    >>> tied_with_leader([9, 8, 8, 7, 7, 6, 3, 2], top_k=4, extra=4, sigma=1.0)  # chance votes only
    6
    """
    n = min(top_k, len(votes))
    if not votes or extra <= 0:
        return n
    lead = votes[0]
    while n < min(len(votes), top_k + extra) and lead - votes[n] <= sigma * math.sqrt(lead + votes[n]):
        n += 1
    return n


def localizer_with_cache(opts: LocateOptions, cache: FeatureCache | None) -> Localizer:
    """A Localizer that shares the cache (for reference features) when its version accepts one."""
    import inspect

    if cache is not None and "cache" in inspect.signature(Localizer.__init__).parameters:
        return Localizer(opts, cache=cache)
    return Localizer(opts)
