"""The hazard map drawn in the 'after' grid's own CRS when it is projected (hazards.products.map_frame)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.cli.main import main


def _write(path, data, left, top, res, crs):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs=crs, transform=from_origin(left, top, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))


def _utm_pair(tmp_path):
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:32615", always_xy=True).transform(-90.5, 30.0)
    rng = np.random.default_rng(8)
    shape = (120, 150)
    b = np.stack([rng.uniform(lo, hi, shape) for lo, hi in ((0.05, 0.1), (0.06, 0.12), (0.04, 0.08), (0.25, 0.4))])
    a = b + rng.normal(0, 0.005, b.shape)
    a[:, 30:80, 40:110] = np.array([0.05, 0.08, 0.07, 0.03])[:, None, None]
    _write(tmp_path / "before.tif", b, x0, y0, 30.0, "EPSG:32615")
    _write(tmp_path / "after.tif", a, x0, y0, 30.0, "EPSG:32615")
    return tmp_path / "before.tif", tmp_path / "after.tif"


def test_map_frame_of_a_utm_grid_gives_the_meridian_convergence(tmp_path):
    from cupola.hazards.pair import read_pair
    from cupola.hazards.products import map_frame

    before, after = _utm_pair(tmp_path)
    frame = map_frame(read_pair(before, after))
    assert frame is not None and "32615" in frame["crs"] and frame["unit_m"] == 1.0
    x0, y0, x1, y1 = frame["bounds"]
    assert x1 - x0 == pytest.approx(150 * 30.0) and y1 - y0 == pytest.approx(120 * 30.0)
    # convergence of the transverse Mercator grid, gamma = atan(tan(lon - lon0) sin(lat)); true
    # north lies west of grid north east of the central meridian (-93 deg for zone 15)
    lon, lat = -90.5 + 0.0235, 30.0 - 0.0163  # near the scene centre
    gamma = math.degrees(math.atan(math.tan(math.radians(lon + 93.0)) * math.sin(math.radians(lat))))
    assert frame["north_deg"] == pytest.approx(-gamma, abs=0.02)


def test_map_frame_of_a_lonlat_grid_is_none(tmp_path):
    from cupola.hazards.pair import ImagePair
    from cupola.hazards.products import map_frame

    pair = ImagePair(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), (0.1, 0, 0, 0, -0.1, 0), "EPSG:4326", {"red": 0})
    assert map_frame(pair) is None


def test_flood_on_a_utm_pair_draws_the_map_in_utm(tmp_path, capsys):
    before, after = _utm_pair(tmp_path)
    out = tmp_path / "out"
    assert main(["hazards", "flood", str(before), str(after), "--out", str(out), "--quiet"]) == 0, capsys.readouterr()
    result = json.loads((out / "result.json").read_text())
    assert result["polygons"] == 1 and "32615" in result["grid"]["crs"]
    assert (out / "map.png").stat().st_size > 10_000 and (out / "map.pdf").exists()
    from cupola.catalog.validate import validate_stac

    assert validate_stac(out / "stac_item.json") == []  # the item pystac wrote, against the core schema
