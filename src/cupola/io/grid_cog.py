"""Float rasters already on a grid (a DEM, an error map) as cloud-optimized GeoTIFFs.

:mod:`cupola.io.geotiff` resamples a photograph onto a lon/lat grid; this module writes arrays
that are on their grid already: one or more float32 bands, NaN as nodata, named bands and a unit,
GDAL's COG driver (DEFLATE with the floating-point predictor, internal overviews), written through
a temporary name.

>>> import numpy as np
>>> p = write_grid_cog("dem.tif", [np.array([[1.0, 2.0], [np.nan, 4.0]])], (0.5, 0.0, 10.0, 0.0, -0.5, 40.0),
...                    band_names=["height_m"], units="m")
>>> import rasterio
>>> with rasterio.open(p) as ds:
...     ds.count, ds.dtypes[0], ds.crs.to_epsg(), ds.descriptions, ds.read(1)[0].tolist()
(1, 'float32', 4326, ('height_m',), [1.0, 2.0])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = ["write_grid_cog"]


def write_grid_cog(
    path: str | os.PathLike,
    bands: Sequence[np.ndarray],
    transform: tuple[float, float, float, float, float, float],
    *,
    crs: str = "EPSG:4326",
    band_names: Sequence[str] = (),
    units: str = "",
    tags: Mapping[str, Any] | None = None,
) -> Path:
    """Write equally shaped 2-D ``bands`` as a float32 COG on the grid ``transform`` (GDAL's
    a, b, c, d, e, f at cell edges); NaN is nodata."""
    import rasterio
    import rasterio.shutil
    from rasterio.transform import Affine

    arrays = [np.asarray(b, dtype=np.float32) for b in bands]
    if not arrays or any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays):
        raise InputError(f"{path}: bands must be 2-D arrays of one shape")
    path = Path(path)
    rows, cols = arrays[0].shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": len(arrays),
        "dtype": "float32",
        "crs": crs,
        "transform": Affine(*transform),
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as scratch:
        stage = Path(scratch) / "stage.tif"
        with rasterio.open(stage, "w", **profile) as dst:
            for k, a in enumerate(arrays, start=1):
                dst.write(a, k)
                if k <= len(band_names):
                    dst.set_band_description(k, band_names[k - 1])
            if units:
                dst.units = tuple(units for _ in arrays)
            meta = {"TIFFTAG_SOFTWARE": "cupola"}
            meta.update({str(k): str(v) for k, v in (tags or {}).items()})
            dst.update_tags(**meta)
        with atomic_write(path) as tmp:
            rasterio.shutil.copy(
                stage,
                tmp,
                driver="COG",
                compress="DEFLATE",
                predictor="YES",
                blocksize=512,
                overviews="AUTO",
                resampling="AVERAGE",
                bigtiff="IF_SAFER",
            )
    return path
