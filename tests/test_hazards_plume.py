"""Volcanic plume / ash (cupola.hazards.plume): split-window BTD and the RGB colour model, and the
`cupola hazards plume` command through its real entry point."""

import json

import numpy as np
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import shape

from cupola.analysis.planck import planck_radiance, planck_temperature
from cupola.cli.main import main
from cupola.hazards.plume import btd_threshold_k, rgb_plume_layer, thermal_plume_layer

SHAPE = (80, 100)


def _smooth(rng, lo, hi, sigma=6.0):
    f = ndimage.gaussian_filter(rng.normal(size=SHAPE), sigma)
    f = (f - f.min()) / (f.max() - f.min())
    return lo + (hi - lo) * f


def _disc(row, col, radius):
    r, c = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (r - row) ** 2 + (c - col) ** 2 <= radius**2


def _through_layer(bt_k, wavelength_um, tau, top_k):
    """BT seen through a layer of optical depth ``tau`` at ``top_k`` (Planck radiances, no scattering)."""
    t = np.exp(-tau)
    rad = planck_radiance(wavelength_um, bt_k) * t + planck_radiance(wavelength_um, top_k) * (1 - t)
    return planck_temperature(wavelength_um, rad)


def _thermal_scene(rng, plume, cloud):
    """(before, after) stacks (tir11, tir12; K): clear sky BTD ~ +1 K (water vapour), an ash layer
    of optical depth 1.2 at 11 um and 0.85 at 12 um in ``plume``, a water cloud absorbing more at
    12 um (1.0 and 1.2) in ``cloud``; 0.15 K noise per band."""
    ground = _smooth(rng, 290.0, 315.0)
    clear = np.stack([ground - 1.0, ground - 2.0])
    after = clear.copy()
    for m, (t11, t12), top in ((plume, (1.2, 0.85), 240.0), (cloud, (1.0, 1.2), 250.0)):
        after[0][m] = _through_layer(clear[0][m], 10.8, t11, top)
        after[1][m] = _through_layer(clear[1][m], 12.0, t12, top)
    noise = lambda: rng.normal(0, 0.15, clear.shape)  # noqa: E731
    return clear + noise(), after + noise()


def test_btd_threshold_takes_the_clear_side_and_the_fixed_ceiling():
    rng = np.random.default_rng(3)
    clear = rng.normal(0.5, 0.5, 30000)
    assert abs(btd_threshold_k(clear) - (0.5 - 4 * 0.5)) < 0.15
    # a plume over 40 % of the scene moves neither the clear peak nor its sigma (a median and a
    # MAD about it would: -2.97 K instead of -1 K for a clear peak at +1 K)
    with_ash = np.concatenate([clear, rng.normal(-3.0, 1.0, 20000)])
    assert abs(btd_threshold_k(with_ash) - (0.5 - 4 * 0.5)) < 0.15
    assert btd_threshold_k(rng.normal(3.0, 0.1, 1000)) == -1.0


def test_ash_with_negative_btd_is_found_and_a_water_cloud_is_not():
    rng = np.random.default_rng(0)
    plume, cloud = _disc(25, 30, 12), _disc(50, 75, 12)
    before, after = _thermal_scene(rng, plume, cloud)
    assert np.median((after[0] - after[1])[plume]) < -0.5 < np.median((after[0] - after[1])[cloud])
    layer = thermal_plume_layer(after[0], after[1], before[0], before[1])
    assert (layer.mask & plume).sum() / (layer.mask | plume).sum() > 0.9
    assert not (layer.mask & cloud).any()
    assert (layer.confidence[layer.mask] >= 0.5).all() and (layer.confidence[~layer.mask] == 0).all()


def test_negative_btd_on_both_dates_is_ground_not_a_new_plume():
    rng = np.random.default_rng(1)
    desert = _disc(40, 50, 15)
    before, after = _thermal_scene(rng, np.zeros(SHAPE, bool), np.zeros(SHAPE, bool))
    for stack in (before, after):
        stack[1][desert] += 2.5  # quartz: emissivity lower at 11 um than at 12 um, on every date
    layer = thermal_plume_layer(after[0], after[1], before[0], before[1])
    assert layer.mask.sum() < 5


def _rgb_scene(rng, plume, cloud, plume_colour=(0.30, 0.22, 0.14)):
    """(before, after) (3, rows, cols) reflectances: real-looking mixed ground, a second acquisition
    with other gain and noise; in 'after' an opaque-ish plume of ``plume_colour`` and a white cloud."""
    ground = np.stack([_smooth(rng, 0.05, 0.25), _smooth(rng, 0.06, 0.22), _smooth(rng, 0.04, 0.18)])
    ground += rng.normal(0, 0.01, ground.shape)
    before = ground * 1.1 + 0.01 + rng.normal(0, 0.004, ground.shape)
    after = ground + rng.normal(0, 0.004, ground.shape)
    alpha = 0.85
    for m, colour in ((plume, plume_colour), (cloud, (0.72, 0.72, 0.74))):
        for k in range(3):
            after[k][m] = (1 - alpha) * after[k][m] + alpha * colour[k]
    return before.astype(np.float32), after.astype(np.float32)


def test_rgb_brown_plume_is_found_and_a_white_cloud_is_not():
    rng = np.random.default_rng(4)
    plume, cloud = _disc(25, 30, 12), _disc(50, 75, 12)
    before, after = _rgb_scene(rng, plume, cloud)
    layer = rgb_plume_layer(before, after)
    assert (layer.mask & plume).sum() / (layer.mask | plume).sum() > 0.8
    assert not (layer.mask & ndimage.binary_dilation(cloud, iterations=2)).any()
    assert 0 < layer.confidence.max() <= 0.5


def test_rgb_grey_ash_is_found_and_an_unchanged_pair_gives_nothing():
    rng = np.random.default_rng(5)
    plume = _disc(40, 50, 14)
    before, after = _rgb_scene(rng, plume, np.zeros(SHAPE, bool), plume_colour=(0.07, 0.068, 0.065))
    layer = rgb_plume_layer(before, after)
    assert (layer.mask & plume).sum() / (layer.mask | plume).sum() > 0.8
    before, after = _rgb_scene(rng, np.zeros(SHAPE, bool), np.zeros(SHAPE, bool))
    assert rgb_plume_layer(before, after).mask.sum() < 10


def _write(path, data, res=0.0006):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs="EPSG:4326", transform=from_origin(15.0, 37.8, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))
    return str(path)


def test_cli_plume_thermal_polygons_are_valid_with_km2(tmp_path, capsys):
    rng = np.random.default_rng(6)
    plume, cloud = _disc(25, 30, 12), _disc(50, 75, 12)
    before, after = _thermal_scene(rng, plume, cloud)
    b, a = _write(tmp_path / "before.tif", before), _write(tmp_path / "after.tif", after)
    out = tmp_path / "out"
    code = main(["hazards", "plume", b, a, "--bands", "tir11,tir12", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    assert len(feats) == 1 and feats[0]["properties"]["class"] == "volcanic ash plume"
    geom = shape(feats[0]["geometry"])
    assert geom.is_valid
    # the disc's area on the ground: pixels x (0.0006 deg)^2 at 37.8 N (independent of the product)
    px_km2 = (0.0006 * 111.32) * (0.0006 * 111.32 * np.cos(np.radians(37.8 - 0.0006 * 25)))
    assert abs(feats[0]["properties"]["area_km2"] - plume.sum() * px_km2) / (plume.sum() * px_km2) < 0.1


def test_cli_plume_without_its_bands_is_exit_2_and_writes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(7)
    two = _write(tmp_path / "two.tif", rng.normal(300, 1, (2, 40, 50)))
    out = tmp_path / "out"
    code = main(["hazards", "plume", two, two, "--bands", "nir,thermal", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "tir11 and tir12" in err and len(err.splitlines()) == 1
    assert not out.exists()
