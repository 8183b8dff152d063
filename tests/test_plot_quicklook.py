"""Tests of cupola.plot.quicklook.write_quicklook_png and the map helpers of cupola.plot.maps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon, box

from cupola.errors import InputError
from cupola.plot import maps
from cupola.plot import quicklook as ql

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
    assert size == (1650, 900)  # 11 x 6 in at 150 dpi: main map and close-up
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
    layout = ql.write_quicklook_png(out, FIJI, track, iss_lonlat=(178.0, -18.6), title="Fiji")
    fmt, size, _ = _open(out)
    assert fmt == "PNG" and size == layout.size_px == (1650, 900)
    # the close-up straddles the antimeridian in one piece, around the unwrapped footprint
    x0, y0, x1, y1 = layout.inset_bounds
    assert x0 < 179.0 and 180.5 < x1 < 181.5 and x1 - x0 < 3.0
    assert y0 < -17.5 and -15.9 < y1


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


@pytest.mark.parametrize("span_km, res", [(200.0, "i"), (1200.0, "i"), (5000.0, "l"), (20000.0, "c")])
def test_choose_resolution(span_km, res):
    assert ql.choose_resolution(span_km) == res


def test_lon_lat_labels():
    assert maps.format_lon(-101.0) == "101°W"
    assert maps.format_lon(182.0) == "178°W"
    assert maps.format_lon(180.0) == "180°"
    assert maps.format_lat(-17.5) == "17.5°S"


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


# ---- close-up panel


def test_inset_bounds_and_layout(tmp_path):
    out = tmp_path / "q.png"
    layout = ql.write_quicklook_png(
        out, DEL_RIO_FOOTPRINT, TRACK, iss_lonlat=(-103.0, 27.6), center_lonlat=(-101.05, 29.8)
    )
    assert layout.inset_bounds is not None and layout.inset_resolution == "i"
    assert layout.footprint_fraction < ql.INSET_MAX_FRACTION
    fx0, fy0, fx1, fy1 = DEL_RIO_FOOTPRINT.bounds
    x0, y0, x1, y1 = layout.inset_bounds
    # the footprint with margins on every side, much smaller than the main map
    assert x0 < fx0 and fy1 < y1 and y0 < fy0 and fx1 < x1
    pad_y = min(fy0 - y0, y1 - fy1)
    assert pad_y == pytest.approx(ql.INSET_PAD * (fy1 - fy0), rel=0.05)
    mx0, _, mx1, _ = layout.map_bounds
    assert (x1 - x0) < 0.5 * (mx1 - mx0)


def test_tiny_footprint_gets_close_up(tmp_path):
    out = tmp_path / "tiny.png"
    # ~10 km footprint (a long lens) seen from a track ~4000 km long
    c = (-100.8968, 29.3627)
    tiny = box(c[0] - 0.05, c[1] - 0.045, c[0] + 0.05, c[1] + 0.045)
    track = np.column_stack([np.linspace(-115.0, -88.0, 61), np.linspace(18.0, 40.0, 61)])
    layout = ql.write_quicklook_png(
        out, tiny, track, iss_lonlat=(-101.4, 29.9), center_lonlat=c,
        points_lonlat=[c, (-95.37, 29.76)], points_labels=["Del Rio, TX", "Houston, TX"],
    )  # fmt: skip
    x0, y0, x1, y1 = layout.inset_bounds
    assert 0.1 < x1 - x0 < 0.3 and 0.09 < y1 - y0 < 0.3
    assert layout.inset_resolution == "i"
    _, size, rgb = _open(out)
    assert size == (1650, 900)
    # the footprint fill is visible in the close-up, the right third of the image
    r, g, b = (rgb[:, 1100:, i].astype(int) for i in range(3))
    assert ((r > 200) & (g > 150) & (g < 210) & (b < 190)).sum() > 20000


def test_large_footprint_has_no_close_up(tmp_path):
    out = tmp_path / "big.png"
    fp = Polygon([(-10.0, 40.0), (2.0, 38.0), (4.0, 47.0), (-8.0, 49.0)])
    track = np.column_stack([np.linspace(-9.0, -1.0, 20), np.linspace(41.0, 46.0, 20)])
    layout = ql.write_quicklook_png(out, fp, track, iss_lonlat=(-5.0, 43.5))
    assert layout.inset_bounds is None and layout.inset_resolution is None
    assert layout.footprint_fraction > ql.INSET_MAX_FRACTION
    assert _open(out)[1] == layout.size_px == (1200, 900)  # 8 x 6 in, as without a close-up


def test_close_up_can_be_turned_off(tmp_path):
    out = tmp_path / "q.png"
    layout = ql.write_quicklook_png(out, DEL_RIO_FOOTPRINT, TRACK, iss_lonlat=(-103.0, 27.6), inset=False)
    assert layout.inset_bounds is None
    assert _open(out)[1] == (1200, 900)


def test_inset_extent_fits_box_and_tiny_minimum():
    # the extent is widened to the panel's shape (aspect 1/cos(lat))
    box_ratio = 1.5
    x0, y0, x1, y1, aspect, lat = ql._inset_extent((10.0, 45.0, 10.001, 45.001), box_ratio)
    assert (y1 - y0) / ((x1 - x0) / aspect) == pytest.approx(box_ratio)
    km_x = maps.KM_PER_DEG * np.cos(np.radians(lat))
    assert (x1 - x0) * km_x >= ql.INSET_MIN_SPAN_KM  # at least a few km across


def test_legend_avoids_the_track():
    bounds = (0.0, 0.0, 10.0, 10.0)
    track = np.column_stack([np.linspace(0.0, 10.0, 100), np.linspace(0.0, 10.0, 100)])  # SW to NE
    assert ql._legend_loc((6.0, 5.0), bounds, 6, track, np.zeros((0, 2))) == "upper left"
    heavy = np.array([[1.0, 9.0]])
    assert ql._legend_loc((6.0, 5.0), bounds, 6, track, heavy) == "lower right"
