"""Change detection (cupola.hazards.change): a weak change beside a strong one is mapped by a
second level of the change-vector magnitude, without the rim that the 3 x 3 mean puts around the
strong change; one population of change and an unchanged pair get no second level."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage

from cupola.cli.main import main
from cupola.hazards.change import _masked_mean_3x3, detect_change


def _weak_beside_strong(seed=5, weak=0.15, strong=0.45, shape=(200, 200)):
    rng = np.random.default_rng(seed)
    before = rng.uniform(0.05, 0.4, (3, *shape)).astype(np.float32)
    after = before + rng.normal(0, 0.01, before.shape).astype(np.float32)
    w = np.zeros(shape, bool)
    s = np.zeros(shape, bool)
    w[60:100, 20:80] = True  # weak, touching the strong block along one side
    s[60:100, 80:140] = True
    w[150:180, 150:190] = True  # weak, on its own
    after[:, w] += weak
    after[:, s] += strong
    return before, after, w, s


def test_weak_change_beside_a_strong_one_is_mapped_without_a_rim():
    before, after, weak, strong = _weak_beside_strong()
    truth = weak | strong
    one = detect_change(before, after, weak_change="off").mask
    assert one[strong].mean() > 0.99 and one[weak].mean() < 0.1  # the case: Otsu splits weak from strong
    layer = detect_change(before, after)
    assert layer.mask[weak].mean() > 0.98 and layer.mask[strong].mean() > 0.99
    assert (layer.mask & ~truth).sum() < 0.005 * truth.sum()  # no rim
    plain = detect_change(before, after, weak_change="plain").mask
    rim = ndimage.binary_dilation(strong) & ~truth
    assert (plain & rim).mean() > 0.5 * rim.mean() and (plain & ~truth).sum() > 0.02 * truth.sum()
    assert 0 < layer.confidence[weak].mean() <= 1 and "weak change" in layer.method
    assert layer.threshold < float(np.nanmedian(layer.score[strong]))


def test_one_strong_change_gets_no_second_level():
    before, after, weak, strong = _weak_beside_strong(weak=0.0)
    layer = detect_change(before, after)
    assert "weak change" not in layer.method
    assert layer.mask[strong].mean() > 0.99 and (layer.mask & ~strong).sum() < 0.005 * strong.sum()


def test_unchanged_misregistered_pair_gets_nothing_with_the_second_level():
    rng = np.random.default_rng(9)
    scene = ndimage.gaussian_filter(rng.uniform(0.05, 0.4, (3, 160, 160)), (0, 1.5, 1.5)).astype(np.float32)
    before = 1.05 * scene + 0.01 + rng.normal(0, 0.003, scene.shape).astype(np.float32)
    after = 0.95 * ndimage.shift(scene, (0, 0.3, -0.3), order=1, mode="nearest") + rng.normal(0, 0.003, scene.shape)
    assert not detect_change(before, after.astype(np.float32)).mask.any()


def test_masked_mean_ignores_the_excluded_pixels():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(12, 15)).astype(np.float32)
    keep = rng.random(v.shape) > 0.3
    got = _masked_mean_3x3(v, keep)
    for r, c in ((0, 0), (5, 7), (11, 14), (6, 0)):
        rows = [min(max(r + d, 0), 11) for d in (-1, 0, 1)]  # edge pixels repeated ("nearest")
        cols = [min(max(c + d, 0), 14) for d in (-1, 0, 1)]
        vals = [v[i, j] for i in rows for j in cols if keep[i, j]]
        assert got[r, c] == pytest.approx(np.mean(vals), rel=1e-5) if vals else np.isnan(got[r, c])
    assert np.isnan(_masked_mean_3x3(v, np.zeros(v.shape, bool))).all()


def test_change_command_grades_a_weak_change_beside_a_strong_one(tmp_path, capsys):
    before, after, weak, strong = _weak_beside_strong()
    for name, data in (("before", before), ("after", after)):
        with rasterio.open(
            tmp_path / f"{name}.tif", "w", driver="GTiff", width=200, height=200, count=3, dtype="float32",
            crs="EPSG:4326", transform=from_origin(-120.0, 38.0, 0.0003, 0.0003),
        ) as ds:  # fmt: skip
            ds.write(data)
    out = tmp_path / "out"
    argv = [
        "hazards",
        "change",
        str(tmp_path / "before.tif"),
        str(tmp_path / "after.tif"),
        "--out",
        str(out),
        "--quiet",
        "--clouds",  # an equal brightening of every band is what a cloud looks like to the RGB cloud model
        "off",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    by_grade: dict[str, float] = {}
    for f in feats:
        by_grade[f["properties"]["grade"]] = by_grade.get(f["properties"]["grade"], 0.0) + f["properties"]["area_km2"]
    px_km2 = (0.0003 * 111.32) ** 2 * np.cos(np.radians(37.97))
    assert set(by_grade) == {"low change", "high change"}
    assert by_grade["low change"] == pytest.approx(weak.sum() * px_km2, rel=0.05)
    assert by_grade["high change"] == pytest.approx(strong.sum() * px_km2, rel=0.05)


def test_no_data_pixels_stay_unmapped_with_the_second_level():
    before, after, weak, strong = _weak_beside_strong()
    after[:, 95:110, 30:60] = np.nan  # a hole across the weak block's edge, in both (as read_pair does)
    before[:, 95:110, 30:60] = np.nan
    layer = detect_change(before, after)
    hole = np.zeros(weak.shape, bool)
    hole[95:110, 30:60] = True
    assert not layer.mask[hole].any() and np.isnan(layer.score[hole]).all()
    assert layer.mask[weak & ~ndimage.binary_dilation(hole, iterations=2)].mean() > 0.95


def _under_floor_pair(seed=11, change=0.0, shape=(220, 220), noise=0.01):
    """Four bands of texture seen twice with noise; a block changed by ``change`` in every band
    (|change vector| = 2 ``change``: under the pixel noise floor for 0.02 at this noise)."""
    rng = np.random.default_rng(seed)
    ground = rng.uniform(0.05, 0.3, (4, *shape)).astype(np.float32)
    block = np.zeros(shape, bool)
    block[70:130, 50:130] = True
    changed = ground.copy()
    changed[:, block] += np.float32(change)
    before = ground + rng.normal(0, noise, ground.shape).astype(np.float32)
    after = changed + rng.normal(0, noise, ground.shape).astype(np.float32)
    return before, after, block


def test_change_under_the_pixel_noise_floor_is_found_by_the_multiscale_test():
    before, after, block = _under_floor_pair(change=0.02)
    plain = detect_change(before, after).mask
    assert plain[block].mean() < 0.05  # 2.8 noise sigmas a band: under the pixel floor
    layer = detect_change(before, after, under_floor_sigmas=6.0)
    assert layer.mask[block].mean() > 0.8
    ring = ndimage.binary_dilation(block, iterations=3) & ~block
    far = ~ndimage.binary_dilation(block, iterations=3)
    lab, _n = ndimage.label(layer.mask & far)
    assert (np.bincount(lab.ravel())[1:] < 9).all()  # away from the block: no region of 9 pixels
    assert (layer.mask & ring).sum() < 0.05 * block.sum()  # the windows' blur is not mapped


def test_an_unchanged_pair_gets_nothing_from_the_multiscale_test():
    for seed in (1, 2, 4, 5):
        before, after, _block = _under_floor_pair(seed=seed, change=0.0)
        lab, n = ndimage.label(detect_change(before, after, under_floor_sigmas=6.0).mask)
        assert n == 0 or np.bincount(lab.ravel())[1:].max() < 9  # under the minimum mapping unit
