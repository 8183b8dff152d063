"""Reference imagery: a georeferenced raster, or a plain north-up image with lat/lon bounds.

A :class:`Reference` holds the image and maps its pixels (col, row; (0, 0) the centre of the
top-left pixel) to lon/lat degrees and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".vrt", ".jp2"}


@dataclass
class Reference:
    image: np.ndarray  # (H, W, 3) uint8 RGB or (H, W) uint8
    name: str
    bounds: tuple[float, float, float, float] | None = None  # west, south, east north (linear mapping)
    transform: object = None  # affine.Affine (pixel corner -> CRS)
    crs: object = None
    content_id: str | None = None  # sha256 hex of the file's bytes (cache key), set by load_reference

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]

    def pixel_to_lonlat(self, col, row) -> tuple[np.ndarray, np.ndarray]:
        col = np.asarray(col, dtype=float)
        row = np.asarray(row, dtype=float)
        h, w = self.shape
        if self.bounds is not None:
            west, south, east, north = self.bounds
            return west + (col + 0.5) / w * (east - west), north - (row + 0.5) / h * (north - south)
        t = self.transform
        x = t.a * (col + 0.5) + t.b * (row + 0.5) + t.c
        y = t.d * (col + 0.5) + t.e * (row + 0.5) + t.f
        if self.crs is not None and not self.crs.is_geographic:
            from pyproj import Transformer

            x, y = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(x, y)
        return np.asarray(x, float), np.asarray(y, float)

    def lonlat_to_pixel(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        h, w = self.shape
        if self.bounds is not None:
            west, south, east, north = self.bounds
            return (lon - west) / (east - west) * w - 0.5, (north - lat) / (north - south) * h - 0.5
        x, y = lon, lat
        if self.crs is not None and not self.crs.is_geographic:
            from pyproj import Transformer

            x, y = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True).transform(lon, lat)
        t = ~self.transform
        c = t.a * x + t.b * y + t.c
        r = t.d * x + t.e * y + t.f
        return np.asarray(c, float) - 0.5, np.asarray(r, float) - 0.5

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        h, w = self.shape
        cols = np.array([-0.5, w - 0.5, w - 0.5, -0.5])
        rows = np.array([-0.5, -0.5, h - 0.5, h - 0.5])
        lon, lat = self.pixel_to_lonlat(cols - 0.0, rows - 0.0)
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def ground_size_m(self) -> tuple[float, float]:
        """Ground width and height of the reference (m) through its centre."""
        from pyproj import Geod

        h, w = self.shape
        g = Geod(ellps="WGS84")
        lon, lat = self.pixel_to_lonlat(
            [-0.5, w - 0.5, (w - 1) / 2, (w - 1) / 2], [(h - 1) / 2, (h - 1) / 2, -0.5, h - 0.5]
        )
        width = g.inv(lon[0], lat[0], lon[1], lat[1])[2]
        height = g.inv(lon[2], lat[2], lon[3], lat[3])[2]
        return float(width), float(height)

    def center_lonlat(self) -> tuple[float, float]:
        h, w = self.shape
        lon, lat = self.pixel_to_lonlat((w - 1) / 2, (h - 1) / 2)
        return float(lon), float(lat)


def check_bounds(bounds) -> tuple[float, float, float, float]:
    """Validate WEST SOUTH EAST NORTH degrees (a box)."""
    try:
        west, south, east, north = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise InputError(f"bounds must be four numbers WEST SOUTH EAST NORTH, got {bounds!r}") from None
    if not all(np.isfinite([west, south, east, north])):
        raise InputError("bounds must be finite numbers")
    if not (-90 <= south < north <= 90):
        raise InputError(f"bounds are not a box: south {south} must be below north {north}, both within -90..90")
    if not (-180 <= west < east <= 540) or east - west > 360:
        raise InputError(f"bounds are not a box: west {west} must be below east {east} (degrees)")
    return west, south, east, north


# the shortest side of a photo or reference that locate takes. Measured on two bundled photos taken
# down to a square of N px (matched against their own references): 96 px localized both, 64 and 48 px
# neither. A smaller image is a thumbnail or the wrong file: an input error, not "not here"
MIN_SIDE_PX = 64


def below_min_size(width: int, height: int) -> bool:
    """Whether an image of ``width`` x ``height`` px is smaller than ``MIN_SIDE_PX`` on a side."""
    return min(width, height) < MIN_SIDE_PX


def check_min_size(width: int, height: int, path, what: str) -> None:
    """:class:`InputError` naming ``path`` when an image is smaller than ``MIN_SIDE_PX`` on a side."""
    if below_min_size(width, height):
        raise InputError(
            f"{path}: the {what} is {width} x {height} px; locate needs at least {MIN_SIDE_PX} px on each side"
        )


#: the share of a 16-bit image's brightest pixels left out when its bit depth is judged (hot pixels)
WHITE_POINT_PCT = 99.99


def read_rgb8(path) -> np.ndarray:
    """An image file as 8-bit (grey or RGB). A 16-bit one (grey, or a colour PNG or TIFF read at
    its full depth) is scaled as its 8-bit export would be: full scale of the depth its values
    use (10, 12, 14 or 16 bits: a 12-bit image stored in 16 bits has its white at 4095) becomes
    255. The depth is judged from the level under the brightest 0.01 % of pixels, so that a few
    hot pixels do not darken the rest."""
    from cupola.io.images import read_photo_full_depth

    img, _ = read_photo_full_depth(Path(path))
    if img.dtype != np.uint8:
        step = max(1, int(np.sqrt(img.shape[0] * img.shape[1] / 1_000_000)))  # a sample is enough
        top = float(np.percentile(img[::step, ::step], WHITE_POINT_PCT))
        white = next(2.0**bits - 1 for bits in (8, 10, 12, 14, 16) if top <= 2.0**bits - 1)
        img = np.clip(np.rint(img.astype(np.float32) * (255.0 / white)), 0, 255).astype(np.uint8)
    return img


def file_sha256(path, chunk_bytes: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes, read in chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def load_reference(
    path,
    bounds=None,
    shrink_to: tuple[int, int] | None = None,
    window: tuple[int, int, int, int] | None = None,
    content_id: str | None = None,
) -> Reference:
    """A reference from a georeferenced raster (GeoTIFF/VRT) or a plain image plus ``bounds``.
    ``shrink_to`` (cols, rows): a raster larger than that is read at most that size by averaging,
    its transform scaled to match (GDAL reads a file's overviews or JPEG 2000 resolution levels,
    so a mosaic of full Sentinel-2 tiles does not decode each at 10 m); a plain image is read
    whole, and resampled (area average) when it is larger. ``window`` (col0, row0, col1, row1),
    pixels of the file: only that part is read, with its own transform or bounds. ``content_id``:
    the file's sha256 when the caller knows it (a big file is not hashed again for each window);
    a window's reference gets an id of its own, derived from the file's and the window."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such reference file")
    # a VRT keeps no id (its pixels live in other files, whose changes its own hash would not see)
    cid = content_id if content_id is not None and path.suffix.lower() != ".vrt" else _content_id(path)
    if cid is not None and window is not None:
        cid = window_content_id(cid, window)
    if bounds is not None:
        img = read_rgb8(path)
        bounds = check_bounds(bounds)
        if window is not None:
            img, bounds = _crop_linear(img, bounds, window, path)
        check_min_size(img.shape[1], img.shape[0], path, "reference")
        if shrink_to is not None and (img.shape[1] > shrink_to[0] or img.shape[0] > shrink_to[1]):
            import cv2

            cols, rows = min(img.shape[1], max(1, shrink_to[0])), min(img.shape[0], max(1, shrink_to[1]))
            img = cv2.resize(img, (cols, rows), interpolation=cv2.INTER_AREA)
        return Reference(np.ascontiguousarray(img), path.name, bounds=bounds, content_id=cid)
    import rasterio

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None or ds.transform.is_identity:
                raise InputError(f"{path}: reference has no georeferencing; give `bounds` (west, south, east, north)")
            from cupola.io.limits import check_pixel_budget

            win = None
            width, height, transform, crs = ds.width, ds.height, ds.transform, ds.crs
            if window is not None:
                from rasterio.windows import Window

                c0, r0, c1, r1 = _check_window(window, ds.width, ds.height, path)
                win = Window(c0, r0, c1 - c0, r1 - r0)
                width, height, transform = c1 - c0, r1 - r0, ds.window_transform(win)
            check_pixel_budget(width, height, str(path))  # before reading: no 10 GiB surprises
            check_min_size(width, height, path, "reference")
            if shrink_to is not None and (width > shrink_to[0] or height > shrink_to[1]):
                from affine import Affine
                from rasterio.enums import Resampling

                cols, rows = min(width, max(1, shrink_to[0])), min(height, max(1, shrink_to[1]))
                data = ds.read(out_shape=(ds.count, rows, cols), window=win, resampling=Resampling.average)
                transform = transform @ Affine.scale(width / cols, height / rows)
            else:
                data = ds.read(window=win)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{path}: cannot read the reference ({exc})") from None
    if data.shape[0] >= 3:
        img = np.moveaxis(data[:3], 0, -1)
    else:
        img = data[0]
    if img.dtype != np.uint8:
        lo, hi = np.nanpercentile(img, [1, 99])
        img = np.clip((img - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    return Reference(np.ascontiguousarray(img), path.name, transform=transform, crs=crs, content_id=cid)


def window_content_id(content_id: str, window) -> str:
    """The cache id of a window (col0, row0, col1, row1) of a file whose sha256 is ``content_id``."""
    import hashlib

    return hashlib.sha256(f"{content_id}|window {tuple(int(v) for v in window)}".encode()).hexdigest()


def _check_window(window, width: int, height: int, path) -> tuple[int, int, int, int]:
    """``window`` (col0, row0, col1, row1) as ints, checked to lie within a ``width`` x ``height`` image."""
    c0, r0, c1, r1 = (int(v) for v in window)
    if not (0 <= c0 < c1 <= width and 0 <= r0 < r1 <= height):
        raise InputError(f"{path}: window {window} does not lie within the image ({width} x {height} px)")
    return c0, r0, c1, r1


def _crop_linear(img: np.ndarray, bounds, window, path) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The ``window`` of a north-up image with linear lon/lat ``bounds``, and the window's bounds."""
    h, w = img.shape[:2]
    c0, r0, c1, r1 = _check_window(window, w, h, path)
    west, south, east, north = bounds
    dx, dy = (east - west) / w, (north - south) / h
    box = (west + c0 * dx, north - r1 * dy, west + c1 * dx, north - r0 * dy)
    return np.ascontiguousarray(img[r0:r1, c0:c1]), box


def _content_id(path: Path) -> str | None:
    """The file's sha256; None for a VRT (its pixels live in other files, the hash would not see them)."""
    try:
        return file_sha256(path) if path.is_file() and path.suffix.lower() != ".vrt" else None
    except OSError:
        return None


def load_references(path, bounds=None) -> list[Reference]:
    """One reference, or every georeferenced image in a folder (tiles)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{path}: folder holds no reference images")
        return [load_reference(p) for p in files]
    return [load_reference(path, bounds)]
