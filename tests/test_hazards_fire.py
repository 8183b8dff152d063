"""Fires painted into a thermal scene (simulate.hazards.paint_fires) and the fire layer's window
on the ground (hazards.fire)."""

from __future__ import annotations

import numpy as np
import pytest

H = 6.62607015e-34
C = 2.99792458e8
K = 1.380649e-23


def _planck(wavelength_um: float, t_k):
    """Black-body spectral radiance, W m-2 sr-1 m-1, written out from the constants (an
    independent reference for cupola.thermal.planck)."""
    lam = wavelength_um * 1e-6
    return 2 * H * C**2 / lam**5 / np.expm1(H * C / (lam * K * np.asarray(t_k, float)))


def _inverse(wavelength_um: float, radiance):
    lam = wavelength_um * 1e-6
    return H * C / (lam * K * np.log1p(2 * H * C**2 / (lam**5 * radiance)))


def test_square_coverage_sums_to_the_square_area():
    from cupola.simulate.hazards import square_coverage

    cover = square_coverage(2.3, 4.05, 1.7, 2.2, np.arange(8), np.arange(5))
    assert cover.sum() == pytest.approx(1.75 * 0.5)
    assert cover.max() <= 1.0 and cover[2, 3] == pytest.approx(0.5)


def test_painted_fire_mixes_by_planck_radiance():
    from cupola.simulate.hazards import paint_fires

    scene = np.full((60, 60), 300.0, np.float32)
    fires = paint_fires(scene, n_fires=1, seed=3, area_px=(0.05, 0.05), temperature_k=(900.0, 900.0))
    p = fires.fraction
    assert p.sum() == pytest.approx(0.05, rel=1e-5) and (fires.labels > 0).sum() == (p > 0).sum()
    r, c = np.unravel_index(np.argmax(p), p.shape)
    want = _inverse(10.49, p[r, c] * _planck(10.49, 900.0) + (1 - p[r, c]) * _planck(10.49, 300.0))
    assert fires.brightness_k[r, c] == pytest.approx(want, abs=0.01)
    assert fires.brightness_k[p == 0].max() == 300.0  # untouched outside the fire
    # the mixture is far warmer than the linear mix of temperatures for a small fraction
    assert fires.brightness_k[r, c] > 300.0 + p[r, c] * 600.0


def test_painted_fires_go_where_allowed_and_half_on_hot_pixels():
    from cupola.simulate.hazards import paint_fires

    rng = np.random.default_rng(1)
    scene = (300 + rng.normal(0, 2, (200, 200))).astype(np.float32)
    allowed = np.ones(scene.shape, bool)
    allowed[:, :100] = False
    fires = paint_fires(scene, n_fires=20, seed=4, allowed=allowed, spacing_px=10, hot_share=0.5)
    assert fires.area_px.size == 20 and (fires.centre_px[:, 0] > 98).all()
    assert 3 <= fires.on_hot.sum() <= 17
    assert len(np.unique(fires.labels)) == 21  # one label each, none overwritten


def test_window_in_metres_and_fire_layer_at_two_resolutions():
    from cupola.hazards.fire import fire_layer, window_pixels

    assert window_pixels(1470.0, 70.0) == 21 and window_pixels(1470.0, 140.0) == 11
    with pytest.raises(ValueError):
        window_pixels(1000.0, 0.0)
    rng = np.random.default_rng(2)
    t = (300 + rng.normal(0, 1.0, (90, 90))).astype(np.float32)
    t[45, 45] = 330.0
    for pixel_m in (70.0, 140.0, 1000.0):
        layer = fire_layer(t, pixel_m=pixel_m)
        assert layer.mask[45, 45] and layer.mask.sum() == 1


def test_fire_map_keeps_a_one_pixel_fire_as_a_polygon():
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import ImagePair

    rng = np.random.default_rng(5)
    t = (300 + rng.normal(0, 1.0, (1, 80, 80))).astype(np.float32)
    hot = t.copy()
    hot[0, 30, 50] = 340.0
    pair = ImagePair(t, hot, (0.0006, 0.0, -118.0, 0.0, -0.0006, 34.0), "EPSG:4326", {"thermal": 0})
    fire = map_hazard(pair, "fire", min_area_km2=0.0)
    assert len(fire.polygons) == 1 and fire.layer.mask.sum() == 1


def _write_thermal(path, data):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(-118.5, 34.1, 0.00063, 0.00063),
    ) as ds:  # fmt: skip
        ds.write(data[None].astype(np.float32))
        ds.descriptions = ("thermal",)


def test_fire_command_maps_a_one_pixel_fire_painted_into_a_real_scene(tmp_path, capsys):
    import json
    from pathlib import Path

    from cupola.cli.main import main
    from cupola.io.raster_band import read_raster_band
    from cupola.simulate.hazards import paint_fires

    lst = Path(__file__).resolve().parents[2] / "shared/data/ecostress-la/LST"
    files = sorted(lst.glob("*doy2023194*.tif"))
    if not files:
        pytest.skip(f"no ECOSTRESS scenes in {lst}")
    scene = read_raster_band(files[0]).values[400:600, 800:1000]  # a 200 x 200 piece of Los Angeles
    fires = paint_fires(scene, n_fires=1, seed=2, area_px=(0.2, 0.2), temperature_k=(800.0, 800.0))
    _write_thermal(tmp_path / "before.tif", scene)
    _write_thermal(tmp_path / "after.tif", fires.brightness_k)
    out = tmp_path / "out"
    assert main(["hazards", "fire", str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), "--out", str(out),
                 "--quiet"]) == 0, capsys.readouterr().err  # fmt: skip
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    assert len(feats) >= 1
    # the painted fire is inside one of the polygons
    import shapely

    col, row = fires.centre_px[0]
    lon, lat = -118.5 + 0.00063 * (col + 0.5), 34.1 - 0.00063 * (row + 0.5)
    assert any(shapely.geometry.shape(f["geometry"]).buffer(0.0007).contains(shapely.Point(lon, lat)) for f in feats)


def test_fire_command_without_a_thermal_band_is_exit_2(tmp_path, capsys):
    from cupola.cli.main import main

    t = np.full((40, 40), 300.0, np.float32)
    _write_thermal(tmp_path / "a.tif", t)
    out = tmp_path / "out"
    code = main(
        ["hazards", "fire", str(tmp_path / "a.tif"), str(tmp_path / "a.tif"), "--bands", "red", "--out", str(out)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and not out.exists()
