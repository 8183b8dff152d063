"""One band of a georeferenced raster (GeoTIFF or anything GDAL reads) as float values with its grid.

Nodata and masked pixels become NaN; the band's scale and offset tags are applied (VIIRS/Black
Marble exports often carry them). The pixel budget of :mod:`cupola.io.limits` is checked before
anything is decoded.

Example
-------
>>> import numpy as np
>>> from cupola.io.geotiff import write_lonlat_geotiff
>>> from cupola.io.raster_band import read_raster_band
>>> _ = write_lonlat_geotiff("lights.tif", np.arange(6, dtype=np.float32).reshape(2, 3), (0.0, 0.0, 3.0, 2.0))
>>> band = read_raster_band("lights.tif")
>>> band.values.tolist(), band.transform[:3], band.crs
([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], (1.0, 0.0, 0.0), 'EPSG:4326')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import check_pixel_budget, regular_file

__all__ = ["RasterBand", "read_raster_band", "write_raster_band"]


@dataclass(frozen=True)
class RasterBand:
    """``values`` (rows, cols) float32 with NaN where there is no data; ``transform`` the six GDAL
    affine coefficients (a, b, c, d, e, f: x = a*col + b*row + c, y = d*col + e*row + f, pixel
    edges); ``crs`` a string pyproj reads, None when the file has none; ``units`` the band's unit
    tag ('' when none); ``path`` where it came from."""

    values: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: str | None
    units: str = ""
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))


def _crs_text(crs) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def read_raster_band(path: str | os.PathLike, band: int = 1, *, what: str = "a raster (GeoTIFF)") -> RasterBand:
    """Band ``band`` (1-based) of ``path``.

    Raises:
        InputError: missing or unreadable file, no such band, or too many pixels.
    """
    import rasterio

    p = regular_file(path, what)
    try:
        with rasterio.open(p) as ds:
            if not 1 <= band <= ds.count:
                raise InputError(f"{p}: has {ds.count} band(s); band {band} does not exist")
            check_pixel_budget(ds.width, ds.height, str(p))
            masked = ds.read(band, masked=True)
            scale = ds.scales[band - 1] if ds.scales else 1.0
            offset = ds.offsets[band - 1] if ds.offsets else 0.0
            t = ds.transform
            crs = _crs_text(ds.crs)
            units = (ds.units[band - 1] if ds.units else "") or ""
    except InputError:
        raise
    except Exception as exc:  # rasterio's RasterioIOError and friends, in one line
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{p}: cannot be read as a raster ({reason}); expected {what}") from None
    values = np.asarray(masked.filled(np.nan) if masked.dtype.kind == "f" else masked.astype(np.float32).filled(np.nan))
    values = values.astype(np.float32, copy=False)
    if scale not in (None, 1.0) or offset not in (None, 0.0):
        values = values * np.float32(scale or 1.0) + np.float32(offset or 0.0)
    values[~np.isfinite(values)] = np.nan
    return RasterBand(values, (t.a, t.b, t.c, t.d, t.e, t.f), crs, units, p)


def write_raster_band(
    path: str | os.PathLike,
    values: np.ndarray,
    transform: tuple[float, float, float, float, float, float],
    crs: str | None,
    *,
    units: str = "",
    nodata: float | None = None,
) -> Path:
    """Write a single-band float32 GeoTIFF (deflate) atomically; NaN marks no data."""
    import rasterio
    from rasterio.transform import Affine

    from cupola.io.atomic import atomic_write

    a = np.asarray(values, dtype=np.float32)
    path = Path(path)
    with atomic_write(path) as tmp:
        profile = {"driver": "GTiff", "width": a.shape[1], "height": a.shape[0], "count": 1, "dtype": "float32"}
        with rasterio.open(
            tmp, "w", crs=crs, transform=Affine(*transform), compress="deflate", nodata=nodata, **profile
        ) as dst:
            dst.write(a, 1)
            if units:
                dst.update_tags(1, units=units)
                dst.units = (units,)
    return path
