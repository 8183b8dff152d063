"""cupola.hazards: Otsu, indices, normalisation, change detection, polygons, pair reading."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.errors import InputError
from cupola.hazards.change import burn_layer, change_vector, detect_change, flood_layer
from cupola.hazards.indices import dnbr, ndwi, rgb_water_index
from cupola.hazards.normalise import match_histograms
from cupola.hazards.pair import read_pair
from cupola.hazards.polygons import polygonize
from cupola.hazards.threshold import otsu_threshold


def test_otsu_on_a_bimodal_histogram_splits_between_the_modes():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(10, 1, 20000), rng.normal(20, 2, 8000)])
    t = otsu_threshold(x)
    assert 13 < t < 17
    # the separating threshold of equal-weight, equal-spread modes is their midpoint
    y = np.concatenate([rng.normal(-1, 0.2, 20000), rng.normal(1, 0.2, 20000)])
    assert abs(otsu_threshold(y)) < 0.1


def test_otsu_refuses_a_constant():
    with pytest.raises(InputError, match="values"):
        otsu_threshold(np.ones(10))


def test_ndwi_and_dnbr_values():
    assert ndwi(np.array([0.3]), np.array([0.1]))[0] == pytest.approx(0.5)
    d = dnbr(np.array([0.4]), np.array([0.1]), np.array([0.2]), np.array([0.3]))
    assert d[0] == pytest.approx(0.6 - (-0.2))
    r, g, b = np.array([0.05, 0.3]), np.array([0.06, 0.3]), np.array([0.1, 0.25])
    w = rgb_water_index(r, g, b)
    assert w[0] > w[1]  # dark, bluish water scores above bright land


def test_histogram_matching_removes_a_gain_and_offset():
    rng = np.random.default_rng(2)
    a = rng.gamma(2.0, 0.05, (2, 60, 60)).astype(np.float32)
    b = 1.7 * a + 0.03
    m = match_histograms(a, b)
    assert np.nanmax(np.abs(m - b)) < 0.01


def _scene(rng, shape=(200, 240)):
    green = rng.uniform(0.05, 0.12, shape).astype(np.float32)
    nir = rng.uniform(0.25, 0.4, shape).astype(np.float32)
    return green, nir


def test_flood_layer_finds_the_painted_flood_with_confidence():
    rng = np.random.default_rng(3)
    g0, n0 = _scene(rng)
    g1, n1 = g0 + rng.normal(0, 0.005, g0.shape), n0 + rng.normal(0, 0.005, n0.shape)
    truth = np.zeros(g0.shape, bool)
    truth[50:120, 60:180] = True
    g1[truth] = 0.09
    n1[truth] = 0.03
    layer = flood_layer(ndwi(g0, n0), ndwi(g1, n1))
    iou = (layer.mask & truth).sum() / (layer.mask | truth).sum()
    assert iou > 0.95
    assert layer.confidence[truth].mean() > 0.5 and layer.confidence[~layer.mask].max() == 0
    rgb = flood_layer(ndwi(g0, n0), ndwi(g1, n1), model_confidence=0.6)
    assert rgb.confidence.max() <= 0.6


def test_unchanged_pair_yields_no_polygon_above_the_noise_floor():
    rng = np.random.default_rng(4)
    base = rng.uniform(0.05, 0.4, (3, 200, 200)).astype(np.float32)
    after = base + rng.normal(0, 0.01, base.shape).astype(np.float32)
    layer = change_vector(match_histograms(base, after), after)
    t = from_origin(-118.5, 34.2, 0.0003, 0.0003)[:6]
    polys = polygonize(layer.mask, layer.confidence, t, "EPSG:4326", min_area_km2=0.01)
    assert len(polys) == 0
    g0, n0 = _scene(rng)
    flood = flood_layer(ndwi(g0, n0), ndwi(g0 * 1.01, n0 * 0.99))
    assert len(polygonize(flood.mask, flood.confidence, t, "EPSG:4326", min_area_km2=0.01)) == 0


def test_change_vector_detects_a_changed_block():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.05, 0.4, (3, 200, 200)).astype(np.float32)
    after = base + rng.normal(0, 0.01, base.shape).astype(np.float32)
    after[:, 20:60, 100:160] += 0.3
    layer = detect_change(base, after)
    assert layer.mask[20:60, 100:160].mean() > 0.95 and layer.mask.sum() < 1.1 * 40 * 60


def test_polygons_are_valid_and_areas_are_equal_area():
    import shapely
    from pyproj import Geod

    mask = np.zeros((100, 100), bool)
    mask[10:40, 10:50] = True
    mask[60:90, 60:70] = True
    mask[70:80, 63:67] = False  # a hole
    conf = np.where(mask, 0.8, 0.0).astype(np.float32)
    t = from_origin(10.0, 60.0, 0.001, 0.001)[:6]  # high latitude: plate carree areas are wrong by 2x
    polys = polygonize(mask, conf, t, "EPSG:4326")
    assert len(polys) == 2
    assert shapely.is_valid(polys.geometries).all()
    geod = Geod(ellps="WGS84")
    for g, a in zip(polys.geometries, polys.area_km2):
        ref = abs(geod.geometry_area_perimeter(g)[0]) / 1e6
        assert a == pytest.approx(ref, rel=1e-3)
    assert polys.confidence == pytest.approx([0.8, 0.8])
    assert "laea" in polys.equal_area_crs
    small = polygonize(mask, conf, t, "EPSG:4326", min_area_km2=float(polys.area_km2.min()) + 1e-6)
    assert len(small) == 1


def test_burn_layer_threshold_never_below_low_severity():
    rng = np.random.default_rng(6)
    d = rng.normal(0, 0.02, (100, 100)).astype(np.float32)
    assert not burn_layer(d).mask.any()
    d[20:50, 20:50] = 0.5
    assert burn_layer(d).mask[20:50, 20:50].all()


def _write(path, data, left, top, res=0.001, crs="EPSG:4326"):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs=crs, transform=from_origin(left, top, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))


def test_pair_without_overlap_is_an_input_error(tmp_path):
    data = np.ones((4, 20, 20), np.float32)
    _write(tmp_path / "b.tif", data, 0.0, 1.0)
    _write(tmp_path / "a.tif", data, 5.0, 1.0)
    with pytest.raises(InputError, match="do not overlap"):
        read_pair(tmp_path / "b.tif", tmp_path / "a.tif")


def test_after_without_georeferencing_says_to_georeference_first(tmp_path):
    data = np.ones((3, 20, 20), np.float32)
    _write(tmp_path / "b.tif", data, 0.0, 1.0)
    with rasterio.open(tmp_path / "a.tif", "w", driver="GTiff", width=20, height=20, count=3, dtype="float32") as ds:
        ds.write(data)
    with pytest.raises(InputError, match="georeference it first"):
        read_pair(tmp_path / "b.tif", tmp_path / "a.tif")


def test_pair_is_resampled_onto_the_after_grid_and_cropped_to_the_overlap(tmp_path):
    rng = np.random.default_rng(7)
    data = rng.uniform(0, 1, (4, 40, 40)).astype(np.float32)
    _write(tmp_path / "b.tif", data, 0.0, 1.0)
    _write(tmp_path / "a.tif", data[:, 10:, 10:], 0.010, 0.990)
    pair = read_pair(tmp_path / "b.tif", tmp_path / "a.tif")
    assert pair.after.shape == (4, 30, 30) and pair.has("nir")
    assert np.nanmax(np.abs(pair.before - pair.after)) < 1e-5


def _flood_pair(tmp_path, shape=(120, 150)):
    rng = np.random.default_rng(8)
    b = np.stack([rng.uniform(lo, hi, shape) for lo, hi in ((0.05, 0.1), (0.06, 0.12), (0.04, 0.08), (0.25, 0.4))])
    a = b + rng.normal(0, 0.005, b.shape)
    a[:, 30:80, 40:110] = np.array([0.05, 0.08, 0.07, 0.03])[:, None, None]
    _write(tmp_path / "before.tif", b, -90.2, 30.1, res=0.0003)
    _write(tmp_path / "after.tif", a, -90.2, 30.1, res=0.0003)
    return tmp_path / "before.tif", tmp_path / "after.tif"


def test_flood_products_are_written_with_their_fields(tmp_path):
    import json

    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.products import write_hazard_products
    from cupola.io.zone_layer import read_zone_layer

    before, after = _flood_pair(tmp_path)
    pair = read_pair(before, after)
    hmap = map_hazard(pair, "flood")
    summary = write_hazard_products(hmap, pair, tmp_path / "out", inputs=[before, after])
    out = tmp_path / "out"
    for name in ("hazard_polygons.geojson", "hazard_polygons.gpkg", "change.tif", "confidence.tif", "map.png"):
        assert (out / name).stat().st_size > 0
    layer = read_zone_layer(out / "hazard_polygons.gpkg")
    assert list(layer.fields["class"]) == ["flooded area"]
    assert {"area_km2", "confidence", "source", "acquisition_time"} <= set(layer.fields)
    assert float(layer.fields["area_km2"][0]) == pytest.approx(summary["area_km2"], rel=1e-5)
    assert summary["area_km2"] == pytest.approx(50 * 70 * (0.0003 * 111.32) ** 2 * np.cos(np.radians(30.09)), rel=0.03)
    import pystac

    item = pystac.Item.from_dict(json.loads((out / "stac_item.json").read_text()))
    assert {"polygons_geojson", "change_cog", "map_png"} <= set(item.assets) and item.datetime is not None
    assert json.loads((out / "result.json").read_text())["kind"] == "flood"


def test_fire_layer_flags_a_hot_spot_and_not_a_warm_plain():
    from cupola.hazards.fire import fire_layer

    rng = np.random.default_rng(9)
    t = (300 + rng.normal(0, 1.0, (80, 80))).astype(np.float32)
    assert not fire_layer(t, pixel_m=70.0).mask.any()
    t[40, 40] = 330.0
    layer = fire_layer(t, pixel_m=70.0)
    assert layer.mask[40, 40] and layer.mask.sum() == 1 and layer.confidence[40, 40] > 0.5


def test_before_in_another_crs_is_resampled_onto_the_after_grid(tmp_path):
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(-0.01, 0.01)
    ramp = np.tile(np.linspace(0.1, 0.5, 60, dtype=np.float32), (3, 60, 1))
    _write(tmp_path / "b.tif", ramp, x0, y0, res=50.0, crs="EPSG:3857")
    _write(tmp_path / "a.tif", np.ones((3, 20, 20), np.float32), 0.0, 0.0, res=0.0005)
    pair = read_pair(tmp_path / "b.tif", tmp_path / "a.tif")
    row = pair.before[0, 10]
    assert np.isfinite(row).all() and np.all(np.diff(row) > 0)  # the ramp, resampled, still rises eastwards


def test_burn_and_fire_maps_from_a_pair():
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import ImagePair

    rng = np.random.default_rng(10)
    shape = (100, 120)
    veg = [rng.uniform(lo, hi, shape) for lo, hi in ((0.03, 0.06), (0.06, 0.09), (0.02, 0.05), (0.3, 0.45))]
    before = np.stack([*veg, rng.uniform(0.15, 0.2, shape), rng.uniform(0.08, 0.12, shape)]).astype(np.float32)
    after = before + rng.normal(0, 0.003, before.shape).astype(np.float32)
    after[3, 20:60, 30:90] = 0.12  # burnt: NIR down, SWIR2 up
    after[5, 20:60, 30:90] = 0.25
    roles = {"red": 0, "green": 1, "blue": 2, "nir": 3, "swir1": 4, "swir2": 5}
    t = from_origin(-120.0, 38.0, 0.0003, 0.0003)[:6]
    burn = map_hazard(ImagePair(before, after, t, "EPSG:4326", roles), "burn")
    assert len(burn.polygons) == 1 and burn.layer.mask[20:60, 30:90].all()
    thermal = (300 + rng.normal(0, 1, (1, *shape))).astype(np.float32)
    hot = thermal.copy()
    hot[0, 50:52, 60:62] = 340.0
    fire = map_hazard(ImagePair(thermal, hot, t, "EPSG:4326", {"thermal": 0}), "fire", min_area_km2=0, min_pixels=1)
    assert len(fire.polygons) == 1 and fire.layer.mask.sum() == 4
    with pytest.raises(InputError, match="bands"):
        map_hazard(ImagePair(thermal, hot, t, "EPSG:4326", {"thermal": 0}), "burn")


def test_match_colours_lets_the_rgb_model_see_through_another_cameras_blue_cast():
    """A real mosaic as 'before', the same ground with a painted flood seen through a blue cast and
    haze as 'after' (another camera): the plain RGB model reads the cast as water nearly
    everywhere; with ``match_colours`` 'before' is matched to 'after' first and the flood stands out."""
    from pathlib import Path

    from PIL import Image

    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import ImagePair
    from cupola.simulate.hazards import soft_blobs

    path = Path(__file__).resolve().parents[1] / "src/cupola/data/samples/apl/ISS050-E-70536/reference.jpg"
    rgb = np.asarray(Image.open(path).convert("RGB").resize((256, 256)), dtype=np.float32)
    before = np.moveaxis(rgb, -1, 0)
    blend = soft_blobs((256, 256), np.random.default_rng(4), 0.12, 10.0)
    water = np.array([0.07, 0.08, 0.06], np.float32)[:, None, None] / 0.4 * 255
    flooded = before * (1 - blend) + water * blend
    cast = np.array([0.55, 0.8, 1.0], np.float32)[:, None, None]  # red and green lost to the blue haze
    after = flooded * cast + np.array([5.0, 30.0, 60.0], np.float32)[:, None, None]
    truth = blend > 0.5
    roles = {"red": 0, "green": 1, "blue": 2}
    pair = ImagePair(before, after, (0.001, 0.0, 38.0, 0.0, -0.001, 36.0), "EPSG:4326", roles)

    def iou(m):
        return (m & truth).sum() / (m | truth).sum()

    plain = map_hazard(pair, "flood", clouds="off").layer.mask
    matched = map_hazard(pair, "flood", clouds="off", match_colours=True)
    assert iou(matched.layer.mask) > 0.6 and iou(matched.layer.mask) > iou(plain) + 0.2
    assert "histogram-matched" in matched.model


def test_mask_on_grid_follows_the_located_homography():
    from rasterio.transform import Affine

    from cupola.simulate.hazards import mask_on_grid

    mask = np.zeros((10, 20), bool)
    mask[2:4, 5:8] = True
    t = Affine(0.1, 0.0, 30.0, 0.0, -0.1, 10.0)  # the reference's grid and the output grid alike
    assert (mask_on_grid(mask, np.eye(3), t, t, (10, 20)) == mask).all()
    shift = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])  # photo (c, r) -> reference (c + 3, r + 1)
    moved = mask_on_grid(mask, shift, t, t, (10, 20))
    assert moved[3:5, 8:11].all() and moved.sum() == mask.sum()
    # a grid twice as coarse, offset so its centres fall on the centres of odd pixels 1, 3, 5, 7 ...
    coarse = Affine(0.2, 0.0, 30.05, 0.0, -0.2, 9.95)
    sampled = mask_on_grid(mask, np.eye(3), t, coarse, (5, 10))
    assert sampled[1, 2:4].all() and sampled.sum() == 2  # rows 3, columns 5 and 7
