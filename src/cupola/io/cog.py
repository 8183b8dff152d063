"""A raster on its own grid as a cloud-optimized GeoTIFF (GDAL "COG" driver: DEFLATE, tiles,
internal overviews), written atomically: staged as a plain GeoTIFF, then copied to the COG layout.

>>> import numpy as np, rasterio
>>> p = write_cog("t.tif", np.full((2, 3), 300.0, np.float32), (0.1, 0, -118, 0, -0.1, 34), "EPSG:4326",
...               units="K", description="land surface temperature")
>>> with rasterio.open(p) as ds:
...     ds.driver, ds.count, ds.units[0], ds.descriptions[0]
('GTiff', 1, 'K', 'land surface temperature')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cupola.io.atomic import atomic_write

__all__ = ["write_cog"]


def write_cog(
    path: str | os.PathLike,
    values: np.ndarray,
    transform: tuple[float, float, float, float, float, float],
    crs: str | None,
    *,
    nodata: float | None = None,
    units: str = "",
    description: str = "",
    band_names: Sequence[str] = (),
    tags: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``values`` (rows, cols) or (bands, rows, cols) as a COG. Float data get NaN as no
    data unless ``nodata`` is given; ``band_names`` name the bands one by one (else each gets
    ``description``)."""
    import rasterio
    import rasterio.shutil
    from rasterio.transform import Affine

    a = np.asarray(values)
    bands = a[None] if a.ndim == 2 else a
    if nodata is None and bands.dtype.kind == "f":
        nodata = float("nan")
    path = Path(path)
    profile = {
        "driver": "GTiff",
        "width": bands.shape[2],
        "height": bands.shape[1],
        "count": bands.shape[0],
        "dtype": bands.dtype.name,
        "crs": crs,
        "transform": Affine(*transform),
        "nodata": nodata,
    }
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as scratch:
        stage = Path(scratch) / "stage.tif"
        with rasterio.open(stage, "w", **profile) as dst:
            dst.write(bands)
            dst.update_tags(TIFFTAG_SOFTWARE="cupola", **{str(k): str(v) for k, v in (tags or {}).items()})
            if units:
                dst.units = (units,) * bands.shape[0]
            if band_names:
                for k, name in enumerate(band_names[: bands.shape[0]], start=1):
                    dst.set_band_description(k, name)
            elif description:
                dst.descriptions = (description,) * bands.shape[0]
        with atomic_write(path) as tmp:
            rasterio.shutil.copy(
                stage,
                tmp,
                driver="COG",
                compress="DEFLATE",
                predictor="YES" if bands.dtype.kind == "f" else "NO",
                blocksize=512,
                overviews="AUTO",
                resampling="AVERAGE" if bands.dtype.kind == "f" else "NEAREST",
                bigtiff="IF_SAFER",
            )
    return path
