"""Pixel measurements on an image -> ground vectors (east, north metres) from the landmark's base.

Either a ground sample distance and the image's orientation (azimuth of the image's "up"
direction, 0 for a north-up image), or a georeferenced image (any CRS rasterio reads; distances
and azimuths on the WGS84 ellipsoid with pyproj.Geod). Pixels are (col, row), (0, 0) the centre of
the top-left pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError


@dataclass(frozen=True)
class PixelFrame:
    """Converts pixel offsets from a base pixel into (east, north) metres."""

    base_px: tuple[float, float]
    gsd_m: float | None = None
    up_azimuth_deg: float = 0.0
    geotiff: Path | None = None

    def __post_init__(self):
        if (self.gsd_m is None) == (self.geotiff is None):
            raise InputError("pixel measurements need either a ground sample distance (--gsd-m) or a "
                             "georeferenced image (--geotiff), not both")
        if self.gsd_m is not None and not self.gsd_m > 0:
            raise InputError(f"ground sample distance must be positive, got {self.gsd_m:g} m")

    def to_en_m(self, point_px) -> tuple[float, float]:
        """(east, north) metres from the base to another pixel."""
        c0, r0 = self.base_px
        c1, r1 = point_px
        if self.gsd_m is not None:
            right = (c1 - c0) * self.gsd_m
            up = -(r1 - r0) * self.gsd_m
            a = math.radians(self.up_azimuth_deg)
            return (right * math.cos(a) + up * math.sin(a), -right * math.sin(a) + up * math.cos(a))
        lon0, lat0 = _pixel_lonlat(self.geotiff, c0, r0)
        lon1, lat1 = _pixel_lonlat(self.geotiff, c1, r1)
        from pyproj import Geod

        az, _, dist = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
        return (dist * math.sin(math.radians(az)), dist * math.cos(math.radians(az)))

    def pixel_size_m(self) -> float:
        """Ground size of one pixel at the base (mean of the two axes)."""
        if self.gsd_m is not None:
            return self.gsd_m
        c0, r0 = self.base_px
        dx = np.hypot(*self.to_en_m((c0 + 1.0, r0)))
        dy = np.hypot(*self.to_en_m((c0, r0 + 1.0)))
        return float(0.5 * (dx + dy))


def _pixel_lonlat(path: Path, col: float, row: float) -> tuple[float, float]:
    import rasterio
    from pyproj import Transformer

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None or ds.transform.is_identity:
                raise InputError(f"{path}: image is not georeferenced (no CRS or geotransform)")
            if not (-0.5 <= col <= ds.width - 0.5 and -0.5 <= row <= ds.height - 0.5):
                raise InputError(f"{path}: pixel ({col:g}, {row:g}) is outside the {ds.width}x{ds.height} image")
            x, y = ds.xy(row, col, offset="center")
            crs = ds.crs
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{path}: cannot read as a georeferenced image ({exc})") from None
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)
