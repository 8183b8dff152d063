"""Flood depth from a DEM (cupola.hazards.depth, FwDET) against water surfaces of known height
on analytic terrains: a flat lake in a bowl, a sloping river in a valley; edges that are not the
flood's (image border, permanent water) are not used; `hazards flood --dem` through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.cli.main import main
from cupola.hazards.depth import flood_depth_m


def test_flat_lake_in_a_bowl_gets_its_depth():
    rows, cols = np.mgrid[0:120, 0:150].astype(np.float64)
    dem = 0.002 * ((rows - 60) ** 2 + (cols - 75) ** 2)  # a bowl, 0 m at its centre
    level = 4.0
    flooded = dem < level
    truth = level - dem
    rise = 0.18 * np.sqrt(2)  # the rim's slope (0.18 m a pixel) over a diagonal neighbour
    wet = flood_depth_m(flooded, dem, edge="wet", connectivity=8, smooth_px=1).depth_m
    assert np.isnan(wet[~flooded]).all()
    err = wet[flooded] - truth[flooded]
    # FwDET: the edge pixel is wet, under the water line by up to its dry neighbour's rise
    assert err.max() <= 1e-6 and err.min() > -rise and float(err.mean()) < -0.1
    got = flood_depth_m(flooded, dem, smooth_px=1).depth_m  # the water line half-way to the dry neighbour
    err = got[flooded] - truth[flooded]
    assert np.abs(err).max() < rise / 2 + 0.01 and abs(float(err.mean())) < 0.07
    got = flood_depth_m(flooded, dem).depth_m  # and averaged along the edge (5 x 5): less bias
    err2 = got[flooded] - truth[flooded]
    assert abs(float(err2.mean())) < 0.04 and np.abs(err2).mean() < np.abs(err).mean()
    assert got[60, 75] == pytest.approx(level, abs=0.1)


def test_sloping_river_surface_is_followed_along_the_valley():
    rows, cols = np.mgrid[0:200, 0:60].astype(np.float64)
    dem = 100.0 - 0.05 * rows + 0.1 * np.abs(cols - 30) ** 1.5  # valley falling 5 cm a pixel southwards
    surface = 101.5 - 0.05 * rows  # the river's water surface, parallel to the valley floor
    flooded = dem < surface
    got = flood_depth_m(flooded, dem).depth_m
    truth = surface - dem
    err = np.abs(got[flooded] - truth[flooded])
    # the banks rise 0.38 m from the last wet pixel to the first dry one: the water line is put
    # half-way, so the error is under half of that, plus the river's fall over the 5 x 5 window's
    # half (2 pixels of 0.05 m) where the window is one-sided, at the image's ends
    assert err.max() < 0.5 * 0.385 + 2 * 0.05 and np.ptp(got[flooded] - truth[flooded]) < 0.15
    flat = np.full_like(dem, np.median(dem[flooded & (np.abs(cols - 30) > 5)]))  # one level: wrong by metres
    assert np.abs((flat - dem)[flooded] - truth[flooded]).mean() > 2.0


def test_image_border_and_permanent_water_are_not_flood_edges():
    dem = np.tile(np.arange(40, dtype=np.float64), (30, 1))  # rising eastwards 1 m a pixel
    flooded = np.zeros(dem.shape, bool)
    flooded[:, 10:20] = True  # the flood: west of it permanent water, east of it dry land
    lake = np.zeros(dem.shape, bool)
    lake[:, :10] = True
    d = flood_depth_m(flooded, dem, exclude=lake, edge="wet", smooth_px=1)
    assert d.edge[:, 19].all() and not d.edge[:, :19].any()  # only the dry-land side, the whole column
    assert d.depth_m[0, 10] == pytest.approx(9.0) and d.depth_m[15, 15] == pytest.approx(4.0)
    d = flood_depth_m(flooded, dem, exclude=lake)  # the water line half-way to the dry bank: 19.5 m
    assert d.depth_m[0, 10] == pytest.approx(9.5, abs=1e-4) and d.depth_m[29, 19] == pytest.approx(0.5, abs=1e-4)
    assert d.depth_m[15, 12] == pytest.approx(7.5, abs=1e-4)
    assert flood_depth_m(flooded, dem).depth_m[15, 12] < 1.0  # without `exclude`: the lake's shore taken for an edge
    no_dry = flood_depth_m(np.ones((5, 5), bool), np.zeros((5, 5)))  # the border alone: no edge, no depth
    assert not no_dry.edge.any() and np.isnan(no_dry.depth_m).all()


def _write(path, data, transform, crs="EPSG:4326", descriptions=None):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs=crs, transform=transform,
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))
        if descriptions:
            ds.descriptions = descriptions


def _flood_with_dem(tmp_path, res=0.0003):
    """A 4-band pair whose flood is the bowl of a DEM under a 2.5 m water level; the DEM on a grid
    of twice the pixel size (resampled onto the pair by the command)."""
    rng = np.random.default_rng(2)
    rows, cols = np.mgrid[0:120, 0:150].astype(np.float64)
    dem = 0.0008 * ((rows - 60) ** 2 + (cols - 75) ** 2)
    flooded = dem < 2.5
    land = np.array([0.05, 0.08, 0.04, 0.30])[:, None, None] * np.ones((4, 120, 150))
    water = np.array([0.07, 0.08, 0.06, 0.03])[:, None, None]
    before = land + rng.normal(0, 0.003, land.shape)
    after = np.where(flooded, water, land) + rng.normal(0, 0.003, land.shape)
    t = from_origin(-90.0, 30.0, res, res)
    _write(tmp_path / "before.tif", before, t)
    _write(tmp_path / "after.tif", after, t)
    r2, c2 = np.mgrid[0:61, 0:76].astype(np.float64) * 2.0  # centres of the coarse cells, in fine pixels
    dem2 = 0.0008 * ((r2 + 0.5 - 60) ** 2 + (c2 + 0.5 - 75) ** 2)
    _write(tmp_path / "dem.tif", dem2[None], from_origin(-90.0, 30.0, 2 * res, 2 * res))
    return flooded, 2.5 - dem


def test_flood_command_with_a_dem_writes_depth_and_depth_grades(tmp_path, capsys):
    flooded, truth = _flood_with_dem(tmp_path)
    out = tmp_path / "out"
    argv = ["hazards", "flood", str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), "--dem",
            str(tmp_path / "dem.tif"), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    with rasterio.open(out / "depth.tif") as ds:
        depth = ds.read(1)
    both = flooded & np.isfinite(depth)
    assert both.sum() > 0.95 * flooded.sum()
    assert np.abs(depth[both] - truth[both]).mean() < 0.15
    result = json.loads((out / "result.json").read_text())
    assert result["depth"]["mean_m"] == pytest.approx(float(truth[flooded].mean()), abs=0.15)
    assert result["files"]["depth_cog"] == "depth.tif"
    grades = {g["grade"] for g in result["grading"]["grades"] if g["polygons"] > 0}
    assert grades == {"depth < 0.5 m", "depth 0.5-1 m", "depth 1-2 m", "depth >= 2 m"}
    assert "depth.tif" in json.dumps(json.loads((out / "stac_item.json").read_text())["assets"])


def test_flood_command_with_a_dem_without_georeferencing_is_exit_2(tmp_path, capsys):
    _flood_with_dem(tmp_path)
    with rasterio.open(tmp_path / "plain.tif", "w", driver="GTiff", width=5, height=5, count=1, dtype="float32") as ds:
        ds.write(np.zeros((1, 5, 5), np.float32))
    out = tmp_path / "out"
    argv = ["hazards", "flood", str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), "--dem",
            str(tmp_path / "plain.tif"), "--out", str(out)]  # fmt: skip
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "DEM" in err and not out.exists()


def test_a_dem_for_a_map_other_than_a_flood_is_an_input_error():
    from cupola.errors import InputError
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import ImagePair

    rng = np.random.default_rng(3)
    stack = rng.uniform(0.05, 0.4, (3, 30, 30)).astype(np.float32)
    pair = ImagePair(
        stack, stack, (0.001, 0.0, 10.0, 0.0, -0.001, 40.0), "EPSG:4326", {"red": 0, "green": 1, "blue": 2}
    )
    with pytest.raises(InputError, match="dem_m"):
        map_hazard(pair, "change", dem_m=np.zeros((30, 30), np.float32))
