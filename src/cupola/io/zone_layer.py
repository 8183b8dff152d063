"""Polygon layers (GeoJSON, GeoPackage, Shapefile, ... anything GDAL/OGR reads) in and out, through
pyogrio: geometries as a shapely array, attribute columns as NumPy arrays, and the layer's CRS.

Example
-------
>>> import numpy as np, shapely
>>> from cupola.io.zone_layer import ZoneLayer, read_zone_layer, write_zone_layer
>>> layer = ZoneLayer(np.array([shapely.box(0, 0, 1, 1)]), {"name": np.array(["a"], dtype=object)}, "EPSG:4326")
>>> _ = write_zone_layer("zones.gpkg", layer)
>>> back = read_zone_layer("zones.gpkg")
>>> back.crs, list(back.fields), float(shapely.area(back.geometries[0]))
('EPSG:4326', ['name'], 1.0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write
from cupola.io.limits import regular_file

__all__ = ["ZoneLayer", "read_zone_layer", "write_zone_layer", "DRIVERS"]

#: output drivers by file extension
DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}

#: a layer with more features than this is refused (memory, and far beyond any city's zones)
MAX_FEATURES = 5_000_000


@dataclass(frozen=True)
class ZoneLayer:
    """Zones: ``geometries`` (shapely array, one per feature, None where a feature has none),
    ``fields`` (column name -> array, one value per feature) and ``crs`` (a string pyproj reads:
    ``EPSG:4326``, WKT, ...; None when the file declares none)."""

    geometries: np.ndarray
    fields: dict[str, np.ndarray]
    crs: str | None

    def __len__(self) -> int:
        return len(self.geometries)


def read_zone_layer(path: str | os.PathLike, layer: str | int | None = None) -> ZoneLayer:
    """The features of ``path`` (first layer unless ``layer``), as a :class:`ZoneLayer`.

    Raises:
        InputError: the file is missing, not a vector file GDAL reads, or has too many features.
    """
    import pyogrio
    import shapely

    p = regular_file(path, "a vector layer of zones (GeoJSON, GeoPackage, ...)")
    try:
        info = pyogrio.read_info(p, layer=layer)
        if int(info.get("features", 0) or 0) > MAX_FEATURES:
            raise InputError(f"{p}: {info['features']} features, more than the {MAX_FEATURES} cupola reads")
        meta, _fids, wkb, columns = pyogrio.raw.read(p, layer=layer)
    except InputError:
        raise
    except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, ... (one line)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{p}: cannot be read as a vector layer ({reason})") from None
    geometries = (
        shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else np.full(len(_fids or []), None, object)
    )
    names = [str(n) for n in meta.get("fields", [])]
    fields = {name: np.asarray(col) for name, col in zip(names, columns)}
    crs = meta.get("crs")
    return ZoneLayer(np.asarray(geometries, dtype=object), fields, str(crs) if crs else None)


def _column(values: np.ndarray) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind in "biuf":
        return a
    if a.dtype.kind == "U":
        return a.astype(object)
    return np.array([None if v is None else str(v) for v in a], dtype=object)


def write_zone_layer(
    path: str | os.PathLike, layer: ZoneLayer, *, name: str = "zones", driver: str | None = None
) -> Path:
    """Write ``layer`` to ``path`` atomically; the driver comes from the extension (:data:`DRIVERS`)
    unless given. GeoJSON is written as RFC 7946 (EPSG:4326, the caller transforms first)."""
    import pyogrio
    import shapely

    path = Path(path)
    driver = driver or DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InputError(f"{path}: unknown vector format; use one of {', '.join(sorted(DRIVERS))}")
    names = list(layer.fields)
    columns = [_column(layer.fields[n]) for n in names]
    geoms = np.asarray(layer.geometries, dtype=object)
    types = {t for t in shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist()}
    geometry_type = "Polygon" if types <= {3} else "MultiPolygon" if types <= {3, 6} else "Unknown"
    options = {"RFC7946": "YES"} if driver == "GeoJSON" else None
    import warnings

    with atomic_write(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # a layer without CRS is wanted
        pyogrio.raw.write(
            str(tmp),
            shapely.to_wkb(geoms),
            columns,
            np.array(names, dtype=object),
            layer=name,
            driver=driver,
            geometry_type=geometry_type,
            crs=layer.crs,
            promote_to_multi=geometry_type == "MultiPolygon",
            layer_options=options,
        )
    return path
