"""Georeferenced cloud-optimized GeoTIFF of a photograph on a north-up EPSG:4326 grid.

The caller supplies the photograph and a vectorized mapping from ground (lon, lat) to photo
pixel (col, row); this module builds a regular lon/lat grid, resamples the photograph onto it
bilinearly in row blocks (bounded memory; OpenCV's ``remap``, or the NumPy reference
:func:`_bilinear` where OpenCV cannot) and writes a COG (GDAL "COG" driver, DEFLATE, internal
overviews) atomically. A caller whose mapping is smooth may say so (``mapping_is_smooth``): it is
then evaluated on a coarse lattice and interpolated, checked at the lattice midpoints.

Example
-------
>>> import numpy as np
>>> from cupola.io.geotiff import write_georeferenced_cog
>>> photo = np.zeros((400, 600, 3), np.uint8)
>>> def to_colrow(lon, lat):            # a toy affine mapping: 0.01 deg per pixel
...     return (lon + 101.0) / 0.01, (30.0 - lat) / 0.01
>>> info = write_georeferenced_cog("georef.tif", photo, to_colrow,
...                                (-101.0, 26.0, -95.0, 30.0), 0.01)
>>> info["width"], info["height"], info["transform"]
(600, 400, (0.01, 0.0, -101.0, 0.0, -0.01, 30.0))
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = ["write_georeferenced_cog", "write_image_tiff", "MAX_PIXELS"]

#: Default cap on the output size (pixels); larger grids are coarsened with a warning.
MAX_PIXELS = 50_000_000

#: Tile size of the COG (pixels).
TILE = 512

#: Points resampled per block at most, to bound memory whatever the grid width.
_MAX_BLOCK_POINTS = 1_000_000

#: DEFLATE level of the COG (libdeflate/zlib 1-9). GDAL's default, 6, took ~2/3 of the whole
#: write of a 25-MP photo; 3 is about twice as fast for ~13 % more bytes (docs/locate.md).
DEFLATE_LEVEL = 3

#: OpenCV's remap: images and maps must be smaller than this on each side (SHRT_MAX).
_REMAP_MAX_SIDE = 32767

#: A smooth mapping is evaluated exactly on every ``LATTICE_STEP``-th grid node and interpolated
#: bilinearly between nodes; a lattice cell whose interpolation misses the exact mapping by more
#: than ``LATTICE_TOLERANCE_PX`` photo pixels at its centre or edge midpoints (or that has a
#: NaN there) is evaluated at every cell.
LATTICE_STEP = 16
LATTICE_TOLERANCE_PX = 0.05

LonLatToColRow = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _grid_shape(west: float, south: float, east: float, north: float, res: float) -> tuple[int, int]:
    width = max(1, math.ceil((east - west) / res - 1e-9))
    height = max(1, math.ceil((north - south) / res - 1e-9))
    return width, height


def _bilinear(image: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` (H, W, B) at pixel positions, shape (N, B) float32.

    Positions are clamped to the pixel-centre range [0, W-1] x [0, H-1], i.e. the half pixel at
    the border repeats the edge value.
    """
    h, w = image.shape[:2]
    c = np.clip(col, 0.0, w - 1.0)
    r = np.clip(row, 0.0, h - 1.0)
    c0 = np.minimum(np.floor(c).astype(np.intp), max(w - 2, 0))
    r0 = np.minimum(np.floor(r).astype(np.intp), max(h - 2, 0))
    c1 = np.minimum(c0 + 1, w - 1)
    r1 = np.minimum(r0 + 1, h - 1)
    fc = (c - c0).astype(np.float32)[:, None]
    fr = (r - r0).astype(np.float32)[:, None]
    top = image[r0, c0].astype(np.float32) * (1.0 - fc) + image[r0, c1].astype(np.float32) * fc
    bottom = image[r1, c0].astype(np.float32) * (1.0 - fc) + image[r1, c1].astype(np.float32) * fc
    return top * (1.0 - fr) + bottom * fr


def _remap_bilinear(image: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray | None:
    """Bilinear samples of ``image`` (H, W) or (H, W, B) (uint8, uint16 or float32) at float32
    maps ``col``, ``row`` (h, w) with OpenCV: (h, w, B) of the image's dtype, integers rounded.

    Same clamping at the border as :func:`_bilinear` (the edge value repeats); the positions are
    rounded to 1/32 pixel (OpenCV's INTER_BITS = 5). None where OpenCV cannot do it (a side of
    the image or of the maps at or above SHRT_MAX, or a channel count it refuses).
    """
    import cv2

    if max(image.shape[:2]) >= _REMAP_MAX_SIDE or max(col.shape) >= _REMAP_MAX_SIDE:
        return None
    try:
        out = cv2.remap(image, col, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    except cv2.error:
        return None
    return out.reshape(col.shape + (-1,))


def _grid_colrow(lonlat_to_colrow: LonLatToColRow, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The caller's mapping at points ``lon``, ``lat`` (1-D), as flat float arrays, checked."""
    col, row = lonlat_to_colrow(lon, lat)
    col = np.asarray(col, dtype=float).reshape(-1)
    row = np.asarray(row, dtype=float).reshape(-1)
    if col.size != lon.size or row.size != lon.size:
        raise ValueError(f"lonlat_to_colrow returned {col.size} cols and {row.size} rows for {lon.size} points")
    return col, row


def _lattice_nodes(n: int, step: int) -> np.ndarray:
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _upsample(values: np.ndarray, rn: np.ndarray, cn: np.ndarray, nr: int, width: int) -> np.ndarray:
    """Bilinear interpolation of ``values`` given on lattice rows ``rn`` x cols ``cn`` (index
    positions, first 0, last ``nr - 1`` / ``width - 1``) at every (row, col) of an (nr, width) grid."""
    ci = np.minimum(np.searchsorted(cn, np.arange(width), side="right") - 1, cn.size - 2)
    tc = (np.arange(width) - cn[ci]) / (cn[ci + 1] - cn[ci])
    along = values[:, ci] * (1.0 - tc) + values[:, ci + 1] * tc  # (len(rn), width)
    ri = np.minimum(np.searchsorted(rn, np.arange(nr), side="right") - 1, rn.size - 2)
    tr = ((np.arange(nr) - rn[ri]) / (rn[ri + 1] - rn[ri]))[:, None]
    return along[ri] * (1.0 - tr) + along[ri + 1] * tr


def _lattice_colrow(
    lonlat_to_colrow: LonLatToColRow,
    corner_res: tuple[float, float, float],
    nr: int,
    width: int,
    limits: tuple[float, float, float, float],
    *,
    step: int = LATTICE_STEP,
    tolerance_px: float = LATTICE_TOLERANCE_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth mapping on an (nr, width) block of grid cells, flat, from a coarse lattice.

    ``corner_res``: (lon, lat) of the block's top-left corner and the cell size (degrees); cell
    (r, c) has its centre at lon + (c + 0.5) res, lat - (r + 0.5) res. The mapping is evaluated
    on every ``step``-th row and column (and the last) and at the centres and edge midpoints of
    the lattice cells; lattice cells where bilinear interpolation of the nodes misses a midpoint
    by more than ``tolerance_px`` (in col or row), or where any of these points is NaN, are
    evaluated at every grid cell (a NaN region that touches none of them is not seen). So are
    the cells whose interpolated position lies within 2 x ``tolerance_px`` of an edge of
    ``limits`` (col_min, col_max, row_min, row_max: the inside test), so that the inside/outside
    decision is the exact mapping's.
    """
    lon0, lat0, res = corner_res

    def lon_of_col(c: np.ndarray) -> np.ndarray:
        return lon0 + (c + 0.5) * res

    def lat_of_row(r: np.ndarray) -> np.ndarray:
        return lat0 - (r + 0.5) * res

    rn, cn = _lattice_nodes(nr, step), _lattice_nodes(width, step)
    rm, cm = (rn[:-1] + rn[1:]) / 2.0, (cn[:-1] + cn[1:]) / 2.0
    # one call: nodes (rn x cn), centres (rm x cm), horizontal edge midpoints (rn x cm), vertical (rm x cn)
    sets = [(rn, cn), (rm, cm), (rn, cm), (rm, cn)]
    lons = [np.broadcast_to(lon_of_col(c.astype(float)), (r.size, c.size)).ravel() for r, c in sets]
    lats = [np.repeat(lat_of_row(r.astype(float)), c.size) for r, c in sets]
    col_all, row_all = _grid_colrow(lonlat_to_colrow, np.concatenate(lons), np.concatenate(lats))
    splits = np.cumsum([r.size * c.size for r, c in sets])[:-1]
    cols = [v.reshape(r.size, c.size) for v, (r, c) in zip(np.split(col_all, splits), sets, strict=True)]
    rows = [v.reshape(r.size, c.size) for v, (r, c) in zip(np.split(row_all, splits), sets, strict=True)]

    bad = np.zeros((rn.size - 1, cn.size - 1), dtype=bool)
    with np.errstate(invalid="ignore"):
        for node, centre, h_mid, v_mid in (cols, rows):
            err_c = np.abs(centre - (node[:-1, :-1] + node[:-1, 1:] + node[1:, :-1] + node[1:, 1:]) / 4.0)
            err_h = np.abs(h_mid - (node[:, :-1] + node[:, 1:]) / 2.0)  # (len(rn), cells across)
            err_v = np.abs(v_mid - (node[:-1] + node[1:]) / 2.0)  # (cells down, len(cn))
            worst = np.stack([err_c, err_h[:-1], err_h[1:], err_v[:, :-1], err_v[:, 1:]]).max(axis=0)
            bad |= ~(worst <= tolerance_px)  # NaN anywhere (a corner or a midpoint) counts as bad

    col = _upsample(np.where(np.isfinite(cols[0]), cols[0], 0.0), rn, cn, nr, width)
    row = _upsample(np.where(np.isfinite(rows[0]), rows[0], 0.0), rn, cn, nr, width)
    ri = np.minimum(np.searchsorted(rn, np.arange(nr), side="right") - 1, rn.size - 2)
    ci = np.minimum(np.searchsorted(cn, np.arange(width), side="right") - 1, cn.size - 2)
    exact = bad[ri][:, ci]
    margin = 2.0 * tolerance_px
    c_lo, c_hi, r_lo, r_hi = limits
    exact |= (np.abs(col - c_lo) <= margin) | (np.abs(col - c_hi) <= margin)
    exact |= (np.abs(row - r_lo) <= margin) | (np.abs(row - r_hi) <= margin)
    if exact.any():
        rr, cc = np.nonzero(exact)
        col[rr, cc], row[rr, cc] = _grid_colrow(
            lonlat_to_colrow, lon_of_col(cc.astype(float)), lat_of_row(rr.astype(float))
        )
    return col.ravel(), row.ravel()


def write_georeferenced_cog(
    path: str | os.PathLike,
    image: np.ndarray,
    lonlat_to_colrow: LonLatToColRow,
    bounds_lonlat: tuple[float, float, float, float],
    resolution_deg: float,
    *,
    block_rows: int = 512,
    progress: Callable[[int, int], Any] | None = None,
    max_pixels: int = MAX_PIXELS,
    tags: Mapping[str, Any] | None = None,
    mapping_is_smooth: bool = False,
    resampler: str = "opencv",
) -> dict[str, Any]:
    """Resample a photograph onto a north-up lon/lat grid and write it as a cloud-optimized GeoTIFF.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.tif``; written atomically.
    image : numpy.ndarray
        The photograph, (H, W) or (H, W, bands), dtype uint8, uint16 or floating point.
    lonlat_to_colrow : callable
        ``f(lon_deg, lat_deg) -> (col, row)`` on 1-D float arrays of equal length: the photo pixel
        seeing each ground point, (0, 0) the centre of the top-left pixel; NaN where the point is
        not seen. It is called once per row block with the grid-cell centres (several times, at
        chosen points, with ``mapping_is_smooth``); longitudes are the grid's own numbers
        (above 180 when the bounds are unwrapped across the antimeridian).
    bounds_lonlat : (west, south, east, north), degrees
        Area to cover. ``east`` may exceed 180 (or ``west`` be below -180) for an area across the
        antimeridian; the numbers are used as given. The grid starts at (west, north) and
        covers at least up to east and down to south.
    resolution_deg : float
        Pixel size in degrees (square pixels in lon/lat).
    block_rows : int
        Grid rows resampled per block (bounded further so one block has at most ~1 million cells).
    progress : callable, optional
        Called as ``progress(done_rows, total_rows)`` after each block.
    max_pixels : int
        Cap on width x height; a finer request is coarsened (with a ``UserWarning``).
    tags : dict, optional
        Extra GDAL metadata items (strings) stored in the file.
    mapping_is_smooth : bool
        The caller's promise that ``lonlat_to_colrow`` is smooth (e.g. a homography composed with
        a north-up reference's affine lon/lat -> pixel, or a camera projection): it is then
        evaluated on every ``LATTICE_STEP``-th grid node, at the lattice cells' centres and edge
        midpoints, and at every cell only where the bilinear interpolation of the nodes misses a
        midpoint by more than ``LATTICE_TOLERANCE_PX``, where a point is NaN, and next to the
        photo's edges (so the inside test is the exact mapping's). It is then called several
        times per block, with arbitrary points. False: evaluated at every grid cell.
    resampler : {"opencv", "numpy"}
        ``"opencv"``: ``cv2.remap`` on float32 positions (OpenCV 4 rounds them to 1/32 pixel,
        5.1 does not), falling back to ``"numpy"`` where OpenCV cannot (a side >= 32767 pixels);
        ``"numpy"``: the reference (float64 positions, float32 weights), several times slower.

    Returns
    -------
    dict
        ``width``, ``height`` (pixels), ``transform`` (the affine coefficients a, b, c, d, e, f:
        lon = c + a*col, lat = f + e*row at pixel corners), ``resolution_deg``,
        ``bounds_lonlat`` (west, south, east, north of the written grid) and
        ``valid_fraction`` (share of cells that see the photograph).

    Notes
    -----
    Integer images get an extra alpha band (0 = not seen, full scale = seen) so QGIS and GDAL
    show uncovered cells transparent; floating-point images are written as float32 with NaN as
    nodata. Sampling is bilinear between pixel centres; a ground point is inside the photo when
    -0.5 <= col <= W - 0.5 and -0.5 <= row <= H - 0.5.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.enums import ColorInterp
    from rasterio.transform import Affine
    from rasterio.windows import Window

    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"{path}: cannot write, directory {path.parent} does not exist")
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[0] < 1 or img.shape[1] < 1 or img.shape[2] < 1:
        raise InputError(f"{path}: image must have shape (H, W) or (H, W, bands), got {np.shape(image)}")
    if img.dtype in (np.uint8, np.uint16):
        out_dtype = img.dtype
        full = float(np.iinfo(img.dtype).max)
        use_alpha = True
    elif np.issubdtype(img.dtype, np.floating):
        out_dtype = np.dtype(np.float32)
        full = 1.0
        use_alpha = False
    else:
        raise InputError(f"{path}: image dtype must be uint8, uint16 or float, got {img.dtype}")
    h_img, w_img, n_bands = img.shape

    try:
        west, south, east, north = (float(v) for v in bounds_lonlat)
        res = float(resolution_deg)
    except (TypeError, ValueError):
        raise InputError(
            f"{path}: bounds_lonlat must be (west, south, east, north) in degrees and "
            f"resolution_deg a number, got {bounds_lonlat!r}, {resolution_deg!r}"
        ) from None
    if not all(map(math.isfinite, (west, south, east, north, res))) or res <= 0:
        raise InputError(f"{path}: bounds and resolution must be finite, resolution > 0 (got {res})")
    if not (west < east and -90.0 <= south < north <= 90.0):
        raise InputError(
            f"{path}: bounds_lonlat must have west < east and -90 <= south < north <= 90, "
            f"got {(west, south, east, north)}"
        )
    if east - west > 720.0:
        raise InputError(f"{path}: bounds_lonlat span more than 720 deg of longitude")
    if block_rows < 1:
        raise InputError(f"{path}: block_rows must be >= 1, got {block_rows}")
    if resampler not in ("opencv", "numpy"):
        raise InputError(f"{path}: resampler must be 'opencv' or 'numpy', got {resampler!r}")

    width, height = _grid_shape(west, south, east, north, res)
    if width * height > max_pixels:
        requested = res
        while width * height > max_pixels:
            res *= math.sqrt(width * height / max_pixels) * 1.0001
            width, height = _grid_shape(west, south, east, north, res)
        warnings.warn(
            f"{Path(path).name}: a {requested:.3g} deg grid over {east - west:.3g} x {north - south:.3g} deg "
            f"exceeds {max_pixels} pixels; coarsened to {res:.3g} deg ({width} x {height})",
            UserWarning,
            stacklevel=2,
        )
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    rows_per_block = max(1, min(block_rows, _MAX_BLOCK_POINTS // width))
    count = n_bands + (1 if use_alpha else 0)
    lon_centres = west + (np.arange(width) + 0.5) * res

    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": out_dtype.name,
        "crs": "EPSG:4326",
        "transform": transform,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "bigtiff": "IF_SAFER",  # staged uncompressed: the COG copy compresses it
        "interleave": "pixel",
    }
    if not use_alpha:
        profile["nodata"] = float("nan")
    if use_alpha and n_bands == 3 and out_dtype == np.uint8:
        profile["photometric"] = "RGB"
    if use_alpha:
        profile["alpha"] = "YES"  # GTiff creation option: last band is (unassociated) alpha

    # what cv2.remap reads: contiguous, float as float32, one band as a 2-D image
    remap_src = (
        np.ascontiguousarray(img[:, :, 0] if n_bands == 1 else img, dtype=out_dtype) if resampler == "opencv" else img
    )
    n_valid = 0
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as scratch:
        stage = Path(scratch) / "stage.tif"
        with rasterio.open(stage, "w", **profile) as dst:
            if use_alpha:
                interp = (
                    [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
                    if n_bands == 3
                    else [ColorInterp.gray] + [ColorInterp.undefined] * (n_bands - 1)
                )
                dst.colorinterp = interp + [ColorInterp.alpha]
            meta = {"TIFFTAG_SOFTWARE": "cupola"}
            meta.update({str(k): str(v) for k, v in (tags or {}).items()})
            dst.update_tags(**meta)
            for r0 in range(0, height, rows_per_block):
                nr = min(rows_per_block, height - r0)
                if mapping_is_smooth and nr >= 2 and width >= 2:
                    col, row = _lattice_colrow(
                        lonlat_to_colrow,
                        (west, north - r0 * res, res),
                        nr,
                        width,
                        (-0.5, w_img - 0.5, -0.5, h_img - 0.5),
                    )
                else:
                    lat_centres = north - (r0 + np.arange(nr) + 0.5) * res
                    lon = np.broadcast_to(lon_centres, (nr, width)).ravel()
                    col, row = _grid_colrow(lonlat_to_colrow, lon, np.repeat(lat_centres, width))
                with np.errstate(invalid="ignore"):
                    ok = (
                        np.isfinite(col)
                        & np.isfinite(row)
                        & (col >= -0.5)
                        & (col <= w_img - 0.5)
                        & (row >= -0.5)
                        & (row <= h_img - 0.5)
                    )
                n_valid += int(ok.sum())
                sampled = None
                if resampler == "opencv":
                    maps = [np.where(ok, v, 0.0).astype(np.float32).reshape(nr, width) for v in (col, row)]
                    sampled = _remap_bilinear(remap_src, *maps)
                if sampled is not None:
                    block = np.empty((nr * width, count), dtype=out_dtype)
                    block[:, :n_bands] = sampled.reshape(-1, n_bands)
                    if use_alpha:
                        block[:, n_bands] = np.where(ok, full, 0).astype(out_dtype)
                        block[~ok, :n_bands] = 0
                    else:
                        block[~ok] = np.nan
                else:
                    if use_alpha:
                        block = np.zeros((nr * width, count), dtype=out_dtype)
                    else:
                        block = np.full((nr * width, count), np.nan, dtype=out_dtype)
                    if ok.any():
                        values = _bilinear(img, col[ok], row[ok])
                        if use_alpha:
                            values = np.clip(np.rint(values), 0.0, full)
                            block[ok, :n_bands] = values.astype(out_dtype)
                            block[ok, n_bands] = full
                        else:
                            block[ok] = values
                data = block.reshape(nr, width, count).transpose(2, 0, 1)
                dst.write(data, window=Window(0, r0, width, nr))
                if progress is not None:
                    progress(r0 + nr, height)

        cog_options = {
            "driver": "COG",
            "compress": "DEFLATE",
            "level": DEFLATE_LEVEL,
            "predictor": "YES",
            "blocksize": TILE,
            "overviews": "AUTO",
            "resampling": "AVERAGE",
            "bigtiff": "IF_SAFER",
            "num_threads": "ALL_CPUS",
        }
        with atomic_write(path) as tmp:
            rasterio.shutil.copy(stage, tmp, **cog_options)

    a, b, c, d, e, f = tuple(transform)[:6]
    return {
        "width": width,
        "height": height,
        "transform": (a, b, c, d, e, f),
        "resolution_deg": res,
        "bounds_lonlat": (west, north - height * res, west + width * res, north),
        "valid_fraction": n_valid / float(width * height),
    }


def write_image_tiff(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a (bands, h, w) array as a plain image-space TIFF (no CRS, deflate, tiled; NaN as
    nodata for floats), atomically: the product of an image that cannot be georeferenced."""
    import rasterio

    a = np.asarray(array)
    if a.ndim != 3:
        raise InputError(f"{path}: write_image_tiff needs a (bands, height, width) array, got shape {a.shape}")
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: NotGeoreferencedWarning
        with atomic_write(path) as tmp:
            profile = {
                "driver": "GTiff",
                "width": a.shape[2],
                "height": a.shape[1],
                "count": a.shape[0],
                "dtype": a.dtype.name,
                "compress": "deflate",
                "tiled": True,
            }
            if np.issubdtype(a.dtype, np.floating):
                profile["nodata"] = float("nan")
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(a)
    return path


def write_lonlat_geotiff(
    path: str | os.PathLike, image: np.ndarray, bounds_lonlat: tuple[float, float, float, float]
) -> Path:
    """Write a north-up (rows, cols[, bands]) image whose edges are ``bounds_lonlat`` (west, south,
    east, north; EPSG:4326, pixel edges) as a deflated GeoTIFF, atomically: a reference tile.

    >>> p = write_lonlat_geotiff("tile.tif", np.zeros((4, 6, 3), np.uint8), (10.0, 40.0, 10.6, 40.4))
    >>> import rasterio
    >>> with rasterio.open(p) as ds:
    ...     ds.count, ds.width, ds.height, round(ds.transform.a, 3), ds.crs.to_epsg()
    (3, 6, 4, 0.1, 4326)
    """
    return write_north_up_geotiff(path, image, bounds_lonlat, "EPSG:4326")


def write_north_up_geotiff(
    path: str | os.PathLike, image: np.ndarray, bounds: tuple[float, float, float, float], crs: str
) -> Path:
    """Write a north-up (rows, cols[, bands]) image whose edges are ``bounds`` (west, south, east,
    north in the units of ``crs``, e.g. metres of "EPSG:32637"; pixel edges) as a deflated GeoTIFF,
    atomically: a tile of a grid cut in that CRS.

    >>> p = write_north_up_geotiff("utm.tif", np.zeros((4, 6), np.uint8), (5e5, 4e6, 5e5 + 60, 4e6 + 40), "EPSG:32637")
    >>> import rasterio
    >>> with rasterio.open(p) as ds:
    ...     ds.count, ds.width, ds.height, ds.transform.a, ds.crs.to_epsg()
    (1, 6, 4, 10.0, 32637)
    """
    import rasterio
    from rasterio.transform import Affine

    a = np.asarray(image)
    bands = a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)
    west, south, east, north = bounds
    h, w = bands.shape[1:]
    transform = Affine.translation(west, north) @ Affine.scale((east - west) / w, (south - north) / h)
    path = Path(path)
    with atomic_write(path) as tmp:
        profile = {"driver": "GTiff", "width": w, "height": h, "count": bands.shape[0], "dtype": bands.dtype.name}
        with rasterio.open(tmp, "w", crs=crs, transform=transform, compress="deflate", **profile) as dst:
            dst.write(bands)
    return path
