"""Tests of cupola.io.vector (GeoJSON, KML) and cupola.io.atomic."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LinearRing, LineString, MultiPolygon, Polygon, box, shape

from cupola.errors import InputError
from cupola.io.atomic import atomic_write
from cupola.io.vector import KML_NS, write_footprint_geojson, write_footprint_kml

NS = {"k": KML_NS}

# a clockwise footprint with a clockwise hole (both "wrong" for RFC 7946 exteriors)
CW_EXTERIOR = [(-101.9, 28.5), (-101.9, 31.1), (-100.2, 31.1), (-100.2, 28.5)]
CW_HOLE = [(-101.0, 29.5), (-100.8, 29.5), (-100.8, 29.7), (-101.0, 29.7)]  # counter-clockwise
DEL_RIO = Polygon(CW_EXTERIOR, [CW_HOLE])

ANTIMERIDIAN = MultiPolygon(
    [
        Polygon([(179.0, -17.5), (180.0, -17.3), (180.0, -16.0), (179.2, -16.2)]),
        Polygon([(-180.0, -17.3), (-179.5, -17.2), (-179.6, -15.9), (-180.0, -16.0)]),
    ]
)


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------ atomic_write


def test_atomic_write_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp.name.startswith(".")
        tmp.write_text("new")
        assert target.read_text() == "old"  # not replaced before success
    assert target.read_text() == "new"
    assert _leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_write_missing_directory(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        with atomic_write(tmp_path / "nope" / "a.txt"):
            pass


# ------------------------------------------------------------------------------ GeoJSON


def _read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_geojson_polygon_rfc7946(tmp_path):
    out = tmp_path / "footprint.geojson"
    when = dt.datetime(2017, 8, 21, 18, 4, 12, tzinfo=dt.timezone.utc)
    props = {
        "photo": "ISS052-E-8888",
        "time": when,
        "focal_mm": np.float32(50.0),
        "n_px": np.int64(4928),
        "ok": np.bool_(True),
        "rms_px": float("nan"),
        "corners": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "nested": {"a": (1, 2)},
    }
    write_footprint_geojson(out, DEL_RIO, props)
    doc = _read(out)
    assert doc["type"] == "FeatureCollection"
    (feature,) = doc["features"]
    assert feature["type"] == "Feature"
    geom = feature["geometry"]
    assert geom["type"] == "Polygon"
    exterior, hole = geom["coordinates"]
    assert LinearRing(exterior).is_ccw, "RFC 7946: exterior rings counter-clockwise"
    assert not LinearRing(hole).is_ccw, "RFC 7946: holes clockwise"
    assert exterior[0] == exterior[-1]
    assert shape(geom).equals(DEL_RIO)
    assert feature["properties"] == {
        "photo": "ISS052-E-8888",
        "time": "2017-08-21T18:04:12Z",
        "focal_mm": 50.0,
        "n_px": 4928,
        "ok": True,
        "rms_px": None,
        "corners": [[1.0, 2.0], [3.0, 4.0]],
        "nested": {"a": [1, 2]},
    }
    assert "NaN" not in out.read_text()


def test_geojson_coordinates_rounded(tmp_path):
    out = tmp_path / "f.geojson"
    poly = Polygon([(10.123456789, 20.987654321), (10.5, 20.9876543), (10.3, 21.5)])
    write_footprint_geojson(out, poly, {})
    ring = _read(out)["features"][0]["geometry"]["coordinates"][0]
    for lon, lat in ring:
        assert round(lon, 7) == lon and round(lat, 7) == lat
    orig = np.asarray(poly.exterior.coords)
    got = np.asarray(ring)
    # same vertex set (orientation may be reversed)
    for p in orig:
        assert np.min(np.abs(got - p).max(axis=1)) <= 0.5e-7 + 1e-12


def test_geojson_antimeridian_multipolygon(tmp_path):
    out = tmp_path / "f.geojson"
    write_footprint_geojson(out, ANTIMERIDIAN, {"crosses_antimeridian": True})
    geom = _read(out)["features"][0]["geometry"]
    assert geom["type"] == "MultiPolygon"
    assert len(geom["coordinates"]) == 2
    for poly in geom["coordinates"]:
        ring = poly[0]
        assert LinearRing(ring).is_ccw
        lons = [p[0] for p in ring]
        assert -180.0 <= min(lons) and max(lons) <= 180.0
        assert max(lons) - min(lons) < 2.0  # no part wraps round the globe
    assert shape(geom).equals(ANTIMERIDIAN)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-179.0, 179.0), st.floats(-89.0, 89.0)),
        min_size=3,
        max_size=12,
        unique=True,
    ),
    st.booleans(),
)
def test_geojson_round_trip_property(tmp_path_factory, pts, reverse):
    hull = LineString(pts).convex_hull if len(pts) > 2 else None
    if not isinstance(hull, Polygon) or hull.area < 1e-6:
        return
    coords = list(hull.exterior.coords)
    poly = Polygon(coords[::-1] if reverse else coords)
    out = tmp_path_factory.mktemp("gj") / "f.geojson"
    write_footprint_geojson(out, poly, {"i": 1})
    geom = _read(out)["features"][0]["geometry"]
    assert LinearRing(geom["coordinates"][0]).is_ccw
    back = shape(geom)
    assert back.symmetric_difference(poly).area <= 1e-6 * max(poly.length, 1.0)


@pytest.mark.parametrize(
    "footprint, props, match",
    [
        (LineString([(0, 0), (1, 1)]), {}, "Polygon"),
        (box(179.0, 0.0, 181.0, 1.0), {}, "antimeridian"),
        (Polygon(), {}, "empty"),
        (box(0, 0, 1, 1), {"when": dt.datetime(2017, 1, 1)}, "when"),
        (box(0, 0, 1, 1), {"obj": object()}, "obj"),
    ],
)
def test_geojson_bad_input(tmp_path, footprint, props, match):
    out = tmp_path / "f.geojson"
    with pytest.raises(InputError, match=match) as info:
        write_footprint_geojson(out, footprint, props)
    assert "f.geojson" in str(info.value)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ KML


def _ring(el):
    text = el.find("k:coordinates", NS).text
    return [tuple(float(v) for v in c.split(",")[:2]) for c in text.split()]


def test_kml_polygon(tmp_path):
    out = tmp_path / "footprint.kml"
    props = {"photo": "ISS052-E-8888", "focal_mm": 50.0, "tags": ["night", "city"], "bad\x01": "a\x02b"}
    write_footprint_kml(
        out,
        DEL_RIO,
        name='ISS052-E-8888 <"Del Rio"> & co',
        description="Rio Grande at <Del Rio>, TX & Ciudad Acuña",
        properties=props,
        center_lonlat=(-101.05, 29.8),
    )
    root = ET.parse(out).getroot()  # also proves the file is well-formed XML
    assert root.tag == f"{{{KML_NS}}}kml"
    doc = root.find("k:Document", NS)
    assert doc.find("k:name", NS).text == 'ISS052-E-8888 <"Del Rio"> & co'
    style = doc.find("k:Style", NS)
    poly_colour = style.find("k:PolyStyle/k:color", NS).text
    assert len(poly_colour) == 8 and 0 < int(poly_colour[:2], 16) < 255  # semi-transparent

    placemarks = doc.findall("k:Placemark", NS)
    assert len(placemarks) == 2
    fp = placemarks[0]
    assert fp.find("k:styleUrl", NS).text == "#footprint"
    assert fp.find("k:description", NS).text == "Rio Grande at <Del Rio>, TX & Ciudad Acuña"
    data = {d.get("name"): d.find("k:value", NS).text for d in fp.findall("k:ExtendedData/k:Data", NS)}
    assert data == {"photo": "ISS052-E-8888", "focal_mm": "50.0", "tags": '["night", "city"]', "bad": "ab"}

    poly = fp.find("k:Polygon", NS)
    outer = _ring(poly.find("k:outerBoundaryIs/k:LinearRing", NS))
    inner = _ring(poly.find("k:innerBoundaryIs/k:LinearRing", NS))
    assert LinearRing(outer).is_ccw and not LinearRing(inner).is_ccw
    assert Polygon(outer, [inner]).equals(DEL_RIO)

    centre = placemarks[1]
    lon, lat, alt = (float(v) for v in centre.find("k:Point/k:coordinates", NS).text.split(","))
    assert (lon, lat, alt) == (-101.05, 29.8, 0.0)


def test_kml_antimeridian_multigeometry(tmp_path):
    out = tmp_path / "f.kml"
    write_footprint_kml(out, ANTIMERIDIAN, "fiji", properties={})
    root = ET.parse(out).getroot()
    (pm,) = root.findall("k:Document/k:Placemark", NS)  # no centre requested
    polys = pm.findall("k:MultiGeometry/k:Polygon", NS)
    assert len(polys) == 2
    rings = [_ring(p.find("k:outerBoundaryIs/k:LinearRing", NS)) for p in polys]
    assert MultiPolygon([Polygon(r) for r in rings]).equals(ANTIMERIDIAN)
    for r in rings:
        assert LinearRing(r).is_ccw
        assert all(-180.0 <= lon <= 180.0 for lon, _ in r)
    assert pm.find("k:ExtendedData", NS) is None


def test_kml_bad_centre(tmp_path):
    with pytest.raises(InputError, match="center_lonlat"):
        write_footprint_kml(tmp_path / "f.kml", DEL_RIO, "x", center_lonlat=(0.0, 95.0))
    assert list(tmp_path.iterdir()) == []
