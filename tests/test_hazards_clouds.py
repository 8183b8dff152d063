"""Cloud masks of ``cupola hazards``: clouds are no data (not change), bright ground is not cloud,
given mask rasters are checked (through the real entry point)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from cupola.cli.main import main
from cupola.hazards.clouds import clear_sky_residual, rgb_cloud_mask, thermal_cloud_mask, whiteness

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
RES = 0.0005


def _write(path, data, left=30.0, top=45.0, res=RES, crs="EPSG:4326", dtype="float32", nodata=None):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype=dtype, crs=crs, transform=from_origin(left, top, res, res), nodata=nodata,
    ) as ds:  # fmt: skip
        ds.write(data.astype(dtype))


def _reference(case, rows, cols):
    """A window of a real cloud-free Sentinel-2 mosaic, (3, rows, cols) scaled to 0..0.4."""
    rgb = np.asarray(Image.open(SAMPLES / case / "reference.jpg").convert("RGB"), np.float32) / 255.0 * 0.4
    return np.moveaxis(rgb[rows, cols], -1, 0).copy()


def _real_cloud(shape):
    """Real stratocumulus (the deck in the ISS064-E-358 photo), tiled to ``shape``, (3, r, c)."""
    photo = np.asarray(Image.open(SAMPLES / "ISS064-E-358" / "photo.jpg").convert("RGB"), np.float32)
    # the photo's radiometry to its mosaic's (the linear map taking the photo's clear sea and desert
    # to the same sea and desert in its reference mosaic, as in benchmarks/bench_hazards.py)
    window = np.clip(-41.5 + 2.277 * photo[40:480, 920:1024], 0, 255) / 255.0 * 0.4
    reps = (int(np.ceil(shape[0] / window.shape[0])), int(np.ceil(shape[1] / window.shape[1])), 1)
    return np.moveaxis(np.tile(window, reps)[: shape[0], : shape[1]], -1, 0)


def _acquire(x, rng, gain, gamma, noise=0.004):
    return (gain * np.power(np.clip(x, 0, None), gamma) + rng.normal(0, noise, x.shape)).astype(np.float32)


def _cloudy_pair(tmp_path, case="ISS062-E-150758"):
    """A real mosaic window twice (another gain and gamma), with a disc of real cloud (radius 25
    px, soft edge) pasted into 'after'; returns the paths and the cloud's truth mask."""
    rng = np.random.default_rng(3)
    ground = _reference(case, slice(600, 760), slice(100, 260))
    yy, xx = np.mgrid[:160, :160]
    r = np.hypot(yy - 70, xx - 90)
    alpha = np.clip((30 - r) / 5, 0, 1).astype(np.float32)
    after = ground * (1 - alpha) + _real_cloud(ground.shape[1:]) * alpha
    _write(tmp_path / "before.tif", _acquire(ground, rng, 1.05, 0.95))
    _write(tmp_path / "after.tif", _acquire(after, rng, 0.95, 1.05))
    return str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), alpha >= 0.5


def _polygon_pixels(out):
    import rasterio.features
    import shapely

    from cupola.io.zone_layer import read_zone_layer

    layer = read_zone_layer(out / "hazard_polygons.geojson")
    if len(layer.geometries) == 0:
        return np.zeros((160, 160), bool)
    return rasterio.features.geometry_mask(
        [shapely.geometry.mapping(g) for g in layer.geometries], (160, 160), from_origin(30.0, 45.0, RES, RES),
        invert=True,
    )  # fmt: skip


def test_a_cloud_is_no_data_not_change(tmp_path, capsys):
    before, after, cloud = _cloudy_pair(tmp_path)
    off = tmp_path / "off"
    assert main(["hazards", "change", before, after, "--clouds", "off", "--quiet", "--out", str(off)]) == 0
    mapped_off = _polygon_pixels(off)
    assert (mapped_off & cloud).sum() > 0.5 * cloud.sum()  # without the mask the cloud is "change"
    out = tmp_path / "out"
    assert main(["hazards", "change", before, after, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "clouds (no data)" in printed
    mapped = _polygon_pixels(out)
    # (a few pixels at most: the 0.5 % of the cloud's pixels the mask misses, at its dim edge)
    assert (mapped & cloud).sum() <= 0.01 * cloud.sum()
    result = json.loads((out / "result.json").read_text())
    c = result["clouds"]
    assert c["after"]["source"].startswith("automatic") and c["applied_to"] == ["before", "after"]
    # the cloud (1,963 truth pixels of 25,600) is masked, with its soft rim and buffer, and not much more
    assert cloud.mean() <= c["after"]["cloud_share"] < 2.0 * cloud.mean()
    assert c["before"]["cloud_share"] < 0.01
    pixel_km2 = (RES * 111.32) ** 2 * np.cos(np.radians(45 - 80 * RES))
    assert c["no_data_km2"] == pytest.approx(
        (c["after"]["cloud_share"] + c["before"]["cloud_share"]) * 160 * 160 * pixel_km2, rel=0.05
    )
    with rasterio.open(out / "change.tif") as ds:
        score = ds.read(1)
    assert np.isnan(score[cloud]).mean() > 0.99 and np.isfinite(score[~cloud]).mean() > 0.8


@pytest.mark.parametrize(
    ("case", "rows", "cols", "what"),
    [
        ("ISS050-E-70536", slice(0, 300), slice(0, 300), "bright desert"),
        ("ISS062-E-150758", slice(380, 560), slice(520, 760), "salt lakes"),
        ("ISS064-E-46242", slice(0, 300), slice(300, 600), "tan desert"),
    ],
)
def test_bright_ground_is_not_masked_wholesale(case, rows, cols, what):
    """Cloud-free bright ground, acquired twice with another gain, gamma and noise and a 0.3-pixel
    shift: at most 0.5 % of it, and at most 2 % of its brightest 5 %, is called cloud."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    ground = _reference(case, rows, cols)
    b = _acquire(ground, rng, 1.08, 0.95)
    a = _acquire(ndimage.shift(ground, (0, 0.3, -0.3), order=1, mode="nearest"), rng, 0.93, 1.05)
    bright = ground.mean(axis=0)
    top = bright >= np.quantile(bright, 0.95)
    for m in (rgb_cloud_mask(b, a), rgb_cloud_mask(a, b)):
        assert m.mean() <= 0.005, what
        assert m[top].mean() <= 0.02, what


def test_a_darker_after_image_does_not_make_before_clouds():
    """A flood (darkening) in 'after' is bright-relative-to-the-line in 'before': not a cloud."""
    rng = np.random.default_rng(6)
    ground = _reference("ISS064-E-46242", slice(300, 500), slice(300, 500))
    after = ground.copy()
    after[:, 50:150, 60:160] = np.array([0.02, 0.03, 0.03], np.float32)[:, None, None]
    b, a = _acquire(ground, rng, 1.0, 1.0), _acquire(after, rng, 1.0, 1.0)
    assert rgb_cloud_mask(b, a).mean() < 0.005 and rgb_cloud_mask(a, b).mean() < 0.005


def test_clear_sky_residual_and_whiteness_against_direct_formulas():
    rng = np.random.default_rng(1)
    y = rng.uniform(10, 200, 50_000)
    x = 0.7 * y + 12 + rng.normal(0, 2.0, y.size)
    x[:10_000] += rng.uniform(40, 120, 10_000)  # 20 % clouds, all brighter
    r = clear_sky_residual(x, y)
    # the clear pixels' residual is their noise over its sigma (2), whatever the clouds do
    direct = (x[10_000:] - (0.7 * y[10_000:] + 12)) / 2.0
    assert np.corrcoef(r[10_000:], direct)[0, 1] > 0.99
    assert np.median(np.abs(r[10_000:] - direct)) < 0.15
    assert (r[:10_000] > 10).all()
    rgb = rng.uniform(0.1, 1.0, (3, 100))
    m = rgb.mean(axis=0)
    assert np.allclose(whiteness(*rgb), np.abs(rgb - m).sum(axis=0) / m, rtol=1e-5)


def test_a_cold_cloud_top_is_masked_in_a_thermal_pair():
    rng = np.random.default_rng(2)
    y = (295 + 8 * np.sin(np.linspace(0, 6, 120))[:, None] + rng.normal(0, 1.0, (120, 120))).astype(np.float32)
    x = (0.9 * y + 40 + rng.normal(0, 1.0, y.shape)).astype(np.float32)
    x[20:50, 30:70] = 255.0 + rng.normal(0, 2, (30, 40))  # a cloud top 40 K colder
    m = thermal_cloud_mask(x, y)
    assert m[20:50, 30:70].all() and m.sum() < 1.3 * 30 * 40
    assert not thermal_cloud_mask(y, x)[60:, :].any()


def _mask_file(tmp_path, name, **kw):
    m = np.zeros((1, 160, 160), np.uint8)
    m[0, 40:100, 50:130] = 1
    _write(tmp_path / name, m, dtype="uint8", **kw)
    return str(tmp_path / name), m[0].astype(bool)


def test_a_given_cloud_mask_makes_its_pixels_no_data(tmp_path):
    before, after, _cloud = _cloudy_pair(tmp_path)
    mask, m = _mask_file(tmp_path, "cloud_b.tif", nodata=255)
    out = tmp_path / "out"
    code = main(["hazards", "change", before, after, "--cloud-mask-before", mask, "--quiet", "--out", str(out)])
    assert code == 0
    c = json.loads((out / "result.json").read_text())["clouds"]
    assert c["before"]["source"] == "cloud_b.tif" and c["before"]["cloud_share"] == pytest.approx(m.mean())
    assert c["after"]["source"].startswith("automatic")
    with rasterio.open(out / "change.tif") as ds:
        assert np.isnan(ds.read(1)[m]).all()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("elsewhere", "covers 0.0 %"),
        ("half", "covers 50.0 %"),
        ("utm_small", "covers"),
        ("corrupt", "cannot be read"),
        ("truncated", "mask.tif"),
        ("no_georef", "no georeferencing"),
        ("probability", "values other than 0 and 1"),
        ("missing", "file not found"),
    ],
)
def test_bad_cloud_masks_exit_2_with_one_line_and_nothing_written(tmp_path, capsys, make, message):
    before, after, _cloud = _cloudy_pair(tmp_path)
    path = tmp_path / "mask.tif"
    if make == "elsewhere":
        _mask_file(tmp_path, "mask.tif", left=10.0)
    elif make == "half":
        _write(path, np.ones((1, 160, 80), np.uint8), dtype="uint8")
    elif make == "utm_small":
        _write(
            path,
            np.ones((1, 50, 50), np.uint8),
            left=500000.0,
            top=4982000.0,
            res=30.0,
            crs="EPSG:32636",
            dtype="uint8",
        )
    elif make == "corrupt":
        path.write_bytes(b"II*\x00" + bytes(range(256)) * 8)
    elif make == "truncated":
        _mask_file(tmp_path, "mask.tif")
        path.write_bytes(path.read_bytes()[:300])
    elif make == "no_georef":
        with rasterio.open(path, "w", driver="GTiff", width=160, height=160, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, 160, 160), np.uint8))
    elif make == "probability":
        _write(path, np.full((1, 160, 160), 0.3, np.float32))
    out = tmp_path / "out"
    code = main(["hazards", "change", before, after, "--cloud-mask-after", str(path), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert "--cloud-mask-after" in err or make == "missing" or str(path) in err
    assert not out.exists()


def test_a_flood_map_masks_after_clouds_automatically_and_before_clouds_only_when_given(tmp_path):
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import read_pair

    before, after, cloud = _cloudy_pair(tmp_path)
    pair = read_pair(before, after, bands="red,green,blue")
    h = map_hazard(pair, "flood")
    assert h.clouds is not None and h.clouds.sources["before"] == "none"
    assert h.clouds.sources["after"].startswith("automatic") and h.clouds.no_data[cloud].mean() > 0.99
    given = np.zeros(cloud.shape, bool)
    given[:20] = True
    h = map_hazard(pair, "flood", cloud_masks={"before": (given, "b.tif")})
    assert h.clouds is not None and h.clouds.sources["before"] == "b.tif" and h.clouds.no_data[:20].all()
    assert map_hazard(pair, "flood", clouds="off").clouds is None


def test_with_nir_a_visible_brightening_that_darkens_nir_is_not_a_cloud():
    rng = np.random.default_rng(11)
    ground = _reference("ISS062-E-150758", slice(600, 760), slice(100, 260))
    nir = (0.12 + 1.2 * ground.mean(axis=0) + 1.5 * np.maximum(ground[1] - ground[0], 0)).astype(np.float32)
    block = (slice(50, 110), slice(40, 120))
    after, nir_up, nir_down = ground.copy(), nir.copy(), nir.copy()
    after[(slice(None), *block)] = 0.35  # bright and grey in R, G, B
    nir_up[block] += 0.25
    nir_down[block] -= 0.1
    b, a = _acquire(ground, rng, 1.0, 1.0), _acquire(after, rng, 1.0, 1.0)
    nb = _acquire(nir, rng, 1.0, 1.0)
    assert rgb_cloud_mask(a, b)[block].mean() > 0.95  # RGB alone: a cloud
    assert rgb_cloud_mask(a, b, nir=_acquire(nir_up, rng, 1.0, 1.0), nir_other=nb)[block].mean() > 0.95
    assert rgb_cloud_mask(a, b, nir=_acquire(nir_down, rng, 1.0, 1.0), nir_other=nb).sum() == 0


def test_the_map_legend_names_the_clouds_with_their_area_and_shares(tmp_path):
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.pair import read_pair
    from cupola.hazards.products import _cloud_label

    before, after, _cloud = _cloudy_pair(tmp_path)
    h = map_hazard(read_pair(before, after), "change")
    assert h.clouds is not None
    label = _cloud_label(h)
    km2 = h.clouds.km2["no_data"]
    assert label.startswith("cloud, no data: ") and f"{km2:.3g} km²" in label
    assert f"after {100 * h.clouds.share['after']:.0f} %" in label and "before 0 %" in label


def _deck_over_sea():
    """Tan land (90 %, brightness 0.15-0.35) and dark sea (10 %, left columns); in 'after' a grey
    deck over the sea: a bright rim (0.45, brighter than any land) round a grey core (0.335, no
    brighter than the brightest land)."""
    rng = np.random.default_rng(11)
    rows, cols = 200, 400
    level = rng.uniform(0.15, 0.35, (rows, cols)).astype(np.float32)
    ground = np.stack([1.2 * level, level, 0.8 * level])
    ground[:, :, :40] = np.array([0.04, 0.05, 0.07], np.float32)[:, None, None]
    after = ground.copy()
    after[:, 20:180, :36] = 0.45  # the rim
    core = np.zeros((rows, cols), bool)
    core[30:170, :30] = True
    after[:, core] = 0.335
    return _acquire(ground, rng, 1.0, 1.0, 0.002), _acquire(after, rng, 1.0, 1.0, 0.002), core


def test_an_after_deck_grows_into_its_grey_core_over_the_sea():
    """The grey core (rank here + rank there < 1: the sea under it is among the darkest) is reached
    from the deck's bright rim in an 'after' mask, not by the seeds' own rank-sum test."""
    from cupola.hazards.clouds import CloudTests

    before, after, core = _deck_over_sea()
    grown = rgb_cloud_mask(after, before, which="after")
    strict = rgb_cloud_mask(after, before, CloudTests(grow_rank_sum=1.0), which="after")
    assert grown[core].mean() > 0.95
    assert strict[core].mean() < 0.5  # the previous rule left most of the core
    assert not grown[:, 60:].any()  # the land is not touched
    # a 'before' mask keeps the seeds' rank-sum test (a flood in 'after' must not be grown into)
    assert np.array_equal(rgb_cloud_mask(after, before, which="before"), strict)


def test_a_thermal_pair_across_the_day_does_not_take_the_sea_for_cloud():
    """Night then afternoon: the land warms 25 K, the sea 1 K; the sea is far below the land's
    clear-sky line, but no colder than it was at night: not a cloud."""
    rng = np.random.default_rng(4)
    night = (288 + 3 * rng.standard_normal((150, 150))).astype(np.float32)
    night[:, :40] = 291.0 + rng.normal(0, 0.3, (150, 40))
    day = (night + 25 + rng.normal(0, 1.0, night.shape)).astype(np.float32)
    day[:, :40] = night[:, :40] + 1.0
    assert not thermal_cloud_mask(day, night).any()
    assert thermal_cloud_mask(day, night, colder_than_other=False)[:, :40].mean() > 0.9  # the line alone
