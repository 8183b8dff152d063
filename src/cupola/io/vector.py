"""Footprint writers: GeoJSON (RFC 7946) and KML 2.2 (Google Earth).

A footprint is a shapely ``Polygon`` or ``MultiPolygon`` in (lon_deg, lat_deg) on WGS84; it is a
``MultiPolygon`` when it was split at the antimeridian, so all longitudes lie in [-180, 180].

Example
-------
>>> from shapely.geometry import box
>>> from cupola.io.vector import write_footprint_geojson, write_footprint_kml
>>> fp = box(-101.9, 28.5, -100.2, 31.1)
>>> write_footprint_geojson("footprint.geojson", fp, {"photo": "ISS052-E-8888"})
>>> write_footprint_kml("footprint.kml", fp, "ISS052-E-8888", "Del Rio, TX",
...                     {"photo": "ISS052-E-8888"}, center_lonlat=(-101.0, 29.8))
>>> import json, pathlib
>>> json.loads(pathlib.Path("footprint.geojson").read_text())["features"][0]["properties"]
{'photo': 'ISS052-E-8888'}
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = ["write_footprint_geojson", "write_footprint_kml", "footprint_to_geojson", "KML_NS"]

#: KML 2.2 namespace.
KML_NS = "http://www.opengis.net/kml/2.2"

#: Decimal places kept in coordinates (1e-7 deg, ~1 cm on the ground).
COORD_DECIMALS = 7


# --------------------------------------------------------------------------------------------
# shared helpers


def _polygons(footprint: Any, path: str | os.PathLike) -> list[Polygon]:
    """Validate a footprint and return its polygons, exteriors counter-clockwise."""
    if isinstance(footprint, Polygon):
        parts = [footprint]
    elif isinstance(footprint, MultiPolygon):
        parts = list(footprint.geoms)
    else:
        raise InputError(
            f"{path}: footprint must be a shapely Polygon or MultiPolygon in lon/lat degrees, "
            f"got {type(footprint).__name__}"
        )
    parts = [p for p in parts if not p.is_empty]
    if not parts:
        raise InputError(f"{path}: footprint is empty")
    for p in parts:
        lon_min, lat_min, lon_max, lat_max = p.bounds
        if not all(map(math.isfinite, p.bounds)):
            raise InputError(f"{path}: footprint has non-finite coordinates")
        if lon_min < -180.0 - 1e-9 or lon_max > 180.0 + 1e-9 or lat_min < -90.0 - 1e-9 or lat_max > 90.0 + 1e-9:
            raise InputError(
                f"{path}: footprint coordinates must be lon in [-180, 180], lat in [-90, 90] deg "
                f"(split at the antimeridian into a MultiPolygon); got bounds {p.bounds}"
            )
    # RFC 7946 section 3.1.6: exterior rings counter-clockwise, holes clockwise
    return [orient(p, sign=1.0) for p in parts]


def _round_ring(coords: Any) -> list[list[float]]:
    """Ring coordinates as [[lon, lat], ...] rounded to COORD_DECIMALS, without repeated points."""
    xy = np.round(np.asarray(coords, dtype=float)[:, :2], COORD_DECIMALS)
    out = [xy[0]]
    for pt in xy[1:]:
        if pt[0] != out[-1][0] or pt[1] != out[-1][1]:
            out.append(pt)
    if out[0][0] != out[-1][0] or out[0][1] != out[-1][1]:
        out.append(out[0])
    return [[float(x) + 0.0, float(y) + 0.0] for x, y in out]  # + 0.0 turns -0.0 into 0.0


def _jsonable(value: Any, field: str, path: str | os.PathLike) -> Any:
    """Convert a property value to plain JSON types (NaN/inf become null)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise InputError(f"{path}: property {field!r} is a naive datetime; use timezone-aware UTC")
        utc = value.astimezone(_dt.timezone.utc)
        return utc.isoformat().replace("+00:00", "Z")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _jsonable(value.value, field, path)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), field, path)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{field}.{k}", path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{field}[{i}]", path) for i, v in enumerate(value)]
    raise InputError(
        f"{path}: property {field!r} has type {type(value).__name__}, which cannot be written "
        "to JSON (use numbers, strings, booleans, lists, dicts or UTC datetimes)"
    )


def _properties(properties: Mapping[str, Any] | None, path: str | os.PathLike) -> dict[str, Any]:
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise InputError(f"{path}: properties must be a dict, got {type(properties).__name__}")
    return {str(k): _jsonable(v, str(k), path) for k, v in properties.items()}


# --------------------------------------------------------------------------------------------
# GeoJSON


def footprint_to_geojson(footprint: Polygon | MultiPolygon, properties: Mapping[str, Any] | None = None) -> dict:
    """GeoJSON FeatureCollection (as a dict) with the footprint as its single Feature.

    Parameters
    ----------
    footprint : shapely Polygon or MultiPolygon
        Footprint in (lon_deg, lat_deg), longitudes in [-180, 180].
    properties : dict, optional
        Feature properties; values are converted to JSON types (numpy scalars and arrays,
        timezone-aware datetimes as ISO 8601 ``...Z``; NaN becomes ``null``).

    Returns
    -------
    dict
        RFC 7946 FeatureCollection: exterior rings counter-clockwise, holes clockwise,
        coordinates rounded to 1e-7 deg.
    """
    where = "<geojson>"
    polys = _polygons(footprint, where)
    rings = [[_round_ring(p.exterior.coords)] + [_round_ring(h.coords) for h in p.interiors] for p in polys]
    if isinstance(footprint, Polygon):
        geometry = {"type": "Polygon", "coordinates": rings[0]}
    else:
        geometry = {"type": "MultiPolygon", "coordinates": rings}
    feature = {"type": "Feature", "geometry": geometry, "properties": _properties(properties, where)}
    return {"type": "FeatureCollection", "features": [feature]}


def write_footprint_geojson(
    path: str | os.PathLike,
    footprint: Polygon | MultiPolygon,
    properties: Mapping[str, Any] | None = None,
) -> None:
    """Write a footprint as an RFC 7946 GeoJSON FeatureCollection with one Feature.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.geojson``); written atomically.
    footprint : shapely Polygon or MultiPolygon
        Footprint in (lon_deg, lat_deg), longitudes in [-180, 180] (a MultiPolygon when split at
        the antimeridian).
    properties : dict, optional
        Feature properties, see :func:`footprint_to_geojson`.

    Raises
    ------
    cupola.errors.InputError
        If the footprint is not a (Multi)Polygon in range, or a property cannot be serialised.
    """
    try:
        doc = footprint_to_geojson(footprint, properties)
    except InputError as exc:
        raise InputError(str(exc).replace("<geojson>", os.fspath(path), 1)) from None
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    with atomic_write(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# KML

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    """Text for an XML element: characters XML 1.0 forbids are removed (escaping is ET's job)."""
    if isinstance(value, str):
        s = value
    elif value is None:
        s = ""
    elif isinstance(value, (dict, list)):
        s = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, float):
        s = repr(value)
    else:
        s = str(value)
    return _XML_INVALID.sub("", s)


def _kml_coords(coords: Any) -> str:
    return " ".join(f"{x:.{COORD_DECIMALS}f},{y:.{COORD_DECIMALS}f},0" for x, y in _round_ring(coords))


def _kml_polygon(parent: ET.Element, poly: Polygon) -> None:
    el = ET.SubElement(parent, "Polygon")
    ET.SubElement(el, "tessellate").text = "1"
    ET.SubElement(el, "altitudeMode").text = "clampToGround"
    outer = ET.SubElement(ET.SubElement(el, "outerBoundaryIs"), "LinearRing")
    ET.SubElement(outer, "coordinates").text = _kml_coords(poly.exterior.coords)
    for hole in poly.interiors:
        inner = ET.SubElement(ET.SubElement(el, "innerBoundaryIs"), "LinearRing")
        ET.SubElement(inner, "coordinates").text = _kml_coords(hole.coords)


def _kml_color(rgb_hex: str, alpha: float) -> str:
    """KML colour ``aabbggrr`` from ``#rrggbb`` and an opacity 0..1."""
    r, g, b = rgb_hex[1:3], rgb_hex[3:5], rgb_hex[5:7]
    return f"{round(alpha * 255):02x}{b}{g}{r}"


def write_footprint_kml(
    path: str | os.PathLike,
    footprint: Polygon | MultiPolygon,
    name: str,
    description: str = "",
    properties: Mapping[str, Any] | None = None,
    center_lonlat: tuple[float, float] | None = None,
) -> None:
    """Write a footprint as a KML 2.2 document that opens in Google Earth.

    The document holds a semi-transparent style, a Placemark with the footprint (a ``Polygon``,
    or a ``MultiGeometry`` of polygons when split at the antimeridian) and the properties in an
    ``ExtendedData`` block, and optionally a Point placemark at the centre.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.kml``); written atomically.
    footprint : shapely Polygon or MultiPolygon
        Footprint in (lon_deg, lat_deg), longitudes in [-180, 180].
    name : str
        Name of the document and the footprint placemark (e.g. the photo id).
    description : str
        Free text shown in the placemark balloon (XML-escaped in the file; Google Earth renders
        any HTML markup it contains).
    properties : dict, optional
        Written as ``<Data name="key"><value>...</value></Data>``; lists and dicts as JSON text.
    center_lonlat : (lon_deg, lat_deg), optional
        If given, a Point placemark "<name> centre" is added there.

    Raises
    ------
    cupola.errors.InputError
        If the footprint is not a (Multi)Polygon in range, a property cannot be serialised, or
        the centre is not a finite (lon, lat) pair.
    """
    polys = _polygons(footprint, path)
    props = _properties(properties, path)
    if center_lonlat is not None:
        try:
            c_lon, c_lat = (float(v) for v in center_lonlat)
        except (TypeError, ValueError):
            raise InputError(f"{path}: center_lonlat must be (lon_deg, lat_deg), got {center_lonlat!r}") from None
        if not (math.isfinite(c_lon) and math.isfinite(c_lat) and -90.0 <= c_lat <= 90.0):
            raise InputError(f"{path}: center_lonlat {center_lonlat!r} is not a valid (lon_deg, lat_deg)")
        c_lon = (c_lon + 180.0) % 360.0 - 180.0

    kml = ET.Element("kml", xmlns=KML_NS)
    doc = ET.SubElement(kml, "Document")
    ET.SubElement(doc, "name").text = _text(name)
    if description:
        ET.SubElement(doc, "description").text = _text(description)

    style = ET.SubElement(doc, "Style", id="footprint")
    line = ET.SubElement(style, "LineStyle")
    ET.SubElement(line, "color").text = _kml_color("#ff3c00", 1.0)
    ET.SubElement(line, "width").text = "2"
    poly_style = ET.SubElement(style, "PolyStyle")
    ET.SubElement(poly_style, "color").text = _kml_color("#ff3c00", 0.3)
    ET.SubElement(poly_style, "fill").text = "1"
    ET.SubElement(poly_style, "outline").text = "1"

    center_style = ET.SubElement(doc, "Style", id="centre")
    icon_style = ET.SubElement(center_style, "IconStyle")
    ET.SubElement(icon_style, "scale").text = "1.0"
    icon = ET.SubElement(icon_style, "Icon")
    ET.SubElement(icon, "href").text = "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"

    pm = ET.SubElement(doc, "Placemark", id="footprint-geometry")
    ET.SubElement(pm, "name").text = _text(name)
    if description:
        ET.SubElement(pm, "description").text = _text(description)
    ET.SubElement(pm, "styleUrl").text = "#footprint"
    if props:
        ext = ET.SubElement(pm, "ExtendedData")
        for key, value in props.items():
            data = ET.SubElement(ext, "Data", name=_text(key))
            ET.SubElement(data, "value").text = _text(value)
    if len(polys) == 1:
        _kml_polygon(pm, polys[0])
    else:
        multi = ET.SubElement(pm, "MultiGeometry")
        for p in polys:
            _kml_polygon(multi, p)

    if center_lonlat is not None:
        cpm = ET.SubElement(doc, "Placemark", id="footprint-centre")
        ET.SubElement(cpm, "name").text = _text(f"{name} centre")
        ET.SubElement(cpm, "styleUrl").text = "#centre"
        point = ET.SubElement(cpm, "Point")
        ET.SubElement(point, "coordinates").text = f"{c_lon:.{COORD_DECIMALS}f},{c_lat:.{COORD_DECIMALS}f},0"

    ET.indent(kml, space=" ")
    tree = ET.ElementTree(kml)
    with atomic_write(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
