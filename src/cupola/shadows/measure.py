"""Pixel measurements on an image -> ground vectors (east, north metres) from the landmark's base.

Either a ground sample distance and the image's orientation (azimuth of the image's "up"
direction, 0 for a north-up image), or a georeferenced image (any CRS rasterio reads; distances
and azimuths on the WGS84 ellipsoid with pyproj.Geod). Pixels are (col, row), (0, 0) the centre of
the top-left pixel. :func:`measurement_from` builds a :class:`~cupola.shadows.Measurement` from
lengths, vectors or pixels, with the pixel error carried into metres.

>>> m = measurement_from(base_px=(500, 500), shadow_tip_px=(437, 445), gsd_m=2.0, sigma_px=1.0)
>>> m.shadow_en_m, round(m.sigma_shadow_m, 4)
((-126.0, 110.0), 2.8284)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.shadows.method import Measurement

__all__ = ["PixelFrame", "measurement_from"]


@dataclass(frozen=True)
class PixelFrame:
    """Converts pixel offsets from a base pixel into (east, north) metres."""

    base_px: tuple[float, float]
    gsd_m: float | None = None
    up_azimuth_deg: float = 0.0
    geotiff: Path | None = None

    def __post_init__(self):
        if (self.gsd_m is None) == (self.geotiff is None):
            raise InputError(
                "pixel measurements need either a ground sample distance (`gsd_m`) or a "
                "georeferenced image (`geotiff`), not both"
            )
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
        assert self.geotiff is not None  # __post_init__: exactly one of gsd_m and geotiff
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


def measurement_from(
    *,
    shadow_m: float | None = None,
    shadow_en_m=None,
    displacement_m: float | None = None,
    displacement_en_m=None,
    known_height_m: float | None = None,
    base_px=None,
    top_px=None,
    shadow_tip_px=None,
    gsd_m: float | None = None,
    up_azimuth_deg: float = 0.0,
    geotiff: Path | None = None,
    sigma_px: float = 0.0,
    sigma_shadow_m: float = 0.0,
    sigma_displacement_m: float = 0.0,
    sigma_time_s: float = 0.0,
) -> Measurement:
    """A :class:`~cupola.shadows.Measurement` from lengths (m), vectors (east, north m) or pixels.

    Pixels (col, row): ``base_px`` with ``shadow_tip_px`` and/or ``top_px``, converted through
    ``gsd_m`` and ``up_azimuth_deg`` or a georeferenced ``geotiff`` (:class:`PixelFrame`). A length
    between two points each known to ``sigma_px`` has the error sqrt(2) ``sigma_px`` pixels, in
    metres through the pixel size at the base; without ``sigma_px`` the sigmas in metres are kept.

    Raises:
        InputError: pixels mixed with metres, pixels without ``base_px``, ``sigma_px`` without
            pixels, a negative length.
    """
    pixel_mode = any(x is not None for x in (base_px, top_px, shadow_tip_px))
    if pixel_mode:
        if base_px is None:
            raise InputError("pixel measurements need `base_px` COL ROW")
        if any(x is not None for x in (shadow_m, shadow_en_m, displacement_m, displacement_en_m)):
            raise InputError("give measurements either in pixels (`base_px` ...) or in metres, not both")
        frame = PixelFrame(tuple(base_px), gsd_m=gsd_m, up_azimuth_deg=up_azimuth_deg, geotiff=geotiff)
        shadow_en_m = frame.to_en_m(shadow_tip_px) if shadow_tip_px is not None else None
        displacement_en_m = frame.to_en_m(top_px) if top_px is not None else None
        if sigma_px:  # a length between two points each known to +-sigma_px: sqrt(2) sigma_px
            sigma_shadow_m = sigma_displacement_m = (2**0.5) * sigma_px * frame.pixel_size_m()
    elif sigma_px:
        raise InputError("`sigma_px` applies to pixel measurements; use `sigma_shadow_m` for lengths in metres")
    for name, v in (("shadow_m", shadow_m), ("displacement_m", displacement_m), ("known_height_m", known_height_m)):
        if v is not None and v < 0:
            raise InputError(f"`{name}` must not be negative, got {v:g}")
    return Measurement(
        shadow_m=shadow_m,
        displacement_m=displacement_m,
        shadow_en_m=tuple(shadow_en_m) if shadow_en_m is not None else None,
        displacement_en_m=tuple(displacement_en_m) if displacement_en_m is not None else None,
        known_height_m=known_height_m,
        sigma_shadow_m=sigma_shadow_m or 0.0,
        sigma_displacement_m=sigma_displacement_m or 0.0,
        sigma_time_s=sigma_time_s,
    )


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
