"""Tests of cupola.io.quicklook.write_quicklook_png."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon, box

from cupola.errors import InputError
from cupola.io import quicklook as ql

DEL_RIO_FOOTPRINT = Polygon([(-101.9, 28.7), (-100.4, 28.5), (-100.2, 30.9), (-101.7, 31.1)])
TRACK = np.column_stack([np.linspace(-105.0, -98.0, 40), np.linspace(25.0, 34.0, 40)])

FIJI = MultiPolygon(
    [
        Polygon([(179.0, -17.5), (180.0, -17.3), (180.0, -16.0), (179.2, -16.2)]),
        Polygon([(-180.0, -17.3), (-179.5, -17.2), (-179.6, -15.9), (-180.0, -16.0)]),
    ]
)


def _open(path):
    with Image.open(path) as im:
        im.load()
        return im.format, im.size, np.asarray(im.convert("RGB"))


def test_del_rio_quicklook(tmp_path):
    out = tmp_path / "quicklook.png"
    ql.write_quicklook_png(
        out,
        DEL_RIO_FOOTPRINT,
        TRACK,
        iss_lonlat=(-103.0, 27.6),
        center_lonlat=(-101.05, 29.8),
        title="ISS052-E-8888",
        points_lonlat=[(-100.8968, 29.3627)],
        points_labels=["Del Rio, TX"],
    )
    fmt, size, rgb = _open(out)
    assert fmt == "PNG"
    assert size == (1200, 900)  # 8 x 6 in at 150 dpi
    colours = {tuple(c) for c in rgb[::7, ::7].reshape(-1, 3)}
    assert len(colours) > 50, "a map, not a blank image"
    # the footprint fill (orange) and the ground track (blue) are drawn
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    assert ((r > 200) & (g > 150) & (g < 210) & (b < 190)).sum() > 1000  # footprint fill
    assert ((b > 120) & (r < 80)).sum() > 300  # ISS track, blue
    assert [p.name for p in tmp_path.iterdir()] == ["quicklook.png"]


def test_antimeridian_quicklook(tmp_path):
    out = tmp_path / "am.png"
    lon = (np.linspace(176.0, 184.0, 50) + 180.0) % 360.0 - 180.0
    track = np.column_stack([lon, np.linspace(-21.0, -12.0, 50)])
    ql.write_quicklook_png(out, FIJI, track, iss_lonlat=(178.0, -18.6), title="Fiji")
    fmt, size, _ = _open(out)
    assert fmt == "PNG" and size == (1200, 900)


def test_antimeridian_footprint_is_merged():
    merged = ql._unwrap_footprint(FIJI, ref=179.9)
    assert isinstance(merged, Polygon), "the two halves join into one polygon"
    x0, _, x1, _ = merged.bounds
    assert 178.9 < x0 and x1 < 180.6
    assert merged.area == pytest.approx(FIJI.area)


def test_track_unwrapping_is_continuous():
    lon = np.array([178.0, 179.5, -179.0, -177.5])
    xy = ql._unwrap_ring(np.column_stack([lon, np.zeros(4)]), ref=179.0)
    assert np.all(np.diff(xy[:, 0]) > 0) and np.all(np.diff(xy[:, 0]) < 2.0)


def test_global_track(tmp_path):
    out = tmp_path / "wide.png"
    t = np.linspace(-3.0, 3.0, 200)
    track = np.column_stack([np.linspace(-170.0, 170.0, 200), 51.6 * np.sin(t)])
    ql.write_quicklook_png(out, box(-20.0, 30.0, 20.0, 60.0), track, iss_lonlat=(0.0, 40.0))
    assert _open(out)[0] == "PNG"


@pytest.mark.parametrize(
    "span_km, res", [(200.0, "i"), (1200.0, "i"), (5000.0, "l"), (20000.0, "c")]
)
def test_choose_resolution(span_km, res):
    assert ql.choose_resolution(span_km) == res


def test_lon_lat_labels():
    assert ql._format_lon(-101.0) == "101°W"
    assert ql._format_lon(182.0) == "178°W"
    assert ql._format_lon(180.0) == "180°"
    assert ql._format_lat(-17.5) == "17.5°S"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ground_track_lonlat": [[1.0, 2.0, 3.0]]}, "ground_track_lonlat"),
        ({"iss_lonlat": (0.0, 95.0)}, "iss_lonlat"),
        ({"points_lonlat": [(0.0, 0.0)], "points_labels": ["a", "b"]}, "points_labels"),
        ({"footprint": box(0, 0, 1, 1).exterior}, "footprint"),
    ],
)
def test_bad_input(tmp_path, kwargs, match):
    args = {
        "footprint": DEL_RIO_FOOTPRINT,
        "ground_track_lonlat": TRACK,
        "iss_lonlat": (-103.0, 27.6),
    }
    args.update(kwargs)
    out = tmp_path / "q.png"
    with pytest.raises(InputError, match=match):
        ql.write_quicklook_png(out, args.pop("footprint"), args.pop("ground_track_lonlat"), **args)
    assert list(tmp_path.iterdir()) == []
