"""Grading of hazard maps (cupola.hazards.grading): USGS dNBR burn-severity classes, graded
change magnitude, polygons of one grade, and the grades in the products through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.cli.main import main
from cupola.hazards.grading import grade_burn, grade_change, majority_3x3

# Key & Benson (2006) dNBR severity ranges, typed in from the FIREMON table (unscaled dNBR)
KEY_BENSON = {"low severity": (0.10, 0.27), "moderate-low severity": (0.27, 0.44),
              "moderate-high severity": (0.44, 0.66), "high severity": (0.66, 1.30)}  # fmt: skip


def test_burn_grades_follow_the_usgs_dnbr_ranges():
    values = np.array([0.12, 0.26, 0.27, 0.30, 0.43, 0.50, 0.65, 0.70, 1.2])
    g = grade_burn(values, np.ones(values.size, bool))
    for v, k in zip(values, g.grade):
        lo, hi = KEY_BENSON[g.names[k - 1]]
        assert lo <= v < hi, (v, g.names[k - 1])
    assert grade_burn(values, np.zeros(values.size, bool)).grade.max() == 0


def test_change_grades_split_three_populations_automatically():
    rng = np.random.default_rng(3)
    mag = np.concatenate([rng.normal(m, 0.4, 3000) for m in (5.0, 10.0, 18.0)])
    g = grade_change(mag, np.ones(mag.size, bool), threshold=3.0)
    assert g.names == ("low change", "moderate change", "high change")
    assert 6.2 < g.bounds[1] < 8.8 and 11.2 < g.bounds[2] < 16.8  # in the gaps between the modes
    truth = np.repeat([1, 2, 3], 3000)
    assert (g.grade == truth).mean() > 0.99


def test_change_with_few_pixels_has_one_grade():
    g = grade_change(np.array([5.0, 9.0, 20.0]), np.ones(3, bool), threshold=3.0)
    assert len(g.names) == 1 and g.grade.tolist() == [1, 1, 1]


def test_majority_removes_a_lone_grade_pixel_and_keeps_regions():
    g = np.ones((9, 9), np.uint8)
    g[:, 5:] = 3
    g[2, 2] = 2
    out = majority_3x3(g)
    assert out[2, 2] == 1 and (out[:, :4] == 1).all() and (out[:, 6:] == 3).all()


def _write(path, data, res=0.0003):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs="EPSG:4326", transform=from_origin(-120.0, 38.0, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))


def _burn_pair(tmp_path):
    """Six bands; vegetation before (NBR 0.6); one scar of four blocks after, dNBR 0.2, 0.35, 0.55, 0.8."""
    rng = np.random.default_rng(4)
    shape = (100, 160)
    before = np.stack([np.full(shape, v) for v in (0.04, 0.07, 0.03, 0.4, 0.18, 0.1)])
    before += rng.normal(0, 0.002, before.shape)
    after = before + rng.normal(0, 0.002, before.shape)
    for k, d in enumerate((0.2, 0.35, 0.55, 0.8)):
        nbr = 0.6 - d  # NIR + SWIR2 = 0.5, NIR - SWIR2 = 0.5 NBR
        cols = slice(10 + 35 * k, 45 + 35 * k)  # side by side: one scar, severity rising eastwards
        after[3, 20:80, cols] = 0.25 * (1 + nbr)
        after[5, 20:80, cols] = 0.25 * (1 - nbr)
    _write(tmp_path / "before.tif", before)
    _write(tmp_path / "after.tif", after)
    return str(tmp_path / "before.tif"), str(tmp_path / "after.tif")


def test_burn_command_writes_graded_polygons_and_legend(tmp_path, capsys):
    before, after = _burn_pair(tmp_path)
    out = tmp_path / "out"
    argv = ["hazards", "burn", before, after, "--bands", "red,green,blue,nir,swir1,swir2", "--out", str(out), "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    got = {f["properties"]["grade"]: f["properties"]["area_km2"] for f in feats}
    assert set(got) == set(KEY_BENSON)  # one block per severity class
    block_km2 = 60 * 35 * (0.0003 * 111.32) ** 2 * np.cos(np.radians(37.985))
    for area in got.values():
        assert area == pytest.approx(block_km2, rel=0.05)
    result = json.loads((out / "result.json").read_text())
    grades = {g["grade"]: g for g in result["grading"]["grades"]}
    assert grades["high severity"]["lower_bound"] == 0.66 and grades["low severity"]["polygons"] == 1
    assert sum(g["area_km2"] for g in grades.values()) == pytest.approx(result["area_km2"])
    assert (out / "map.png").stat().st_size > 0


def test_graded_polygons_cover_the_same_area_as_the_hazard():
    from cupola.hazards.polygons import polygonize, polygonize_graded

    rng = np.random.default_rng(6)
    mask = np.zeros((60, 60), bool)
    mask[10:50, 10:40] = True
    mask[55:57, 55:57] = True  # under the minimum mapping unit: dropped
    grade = np.where(rng.random(mask.shape) < 0.5, 1, 2).astype(np.uint8)
    grade[10:50, 10:25] = 1
    grade[10:50, 25:40] = 2
    t = (0.0003, 0.0, -120.0, 0.0, -0.0003, 38.0)
    conf = mask.astype(np.float32)
    graded = polygonize_graded(mask, grade, ("a", "b"), conf, t, "EPSG:4326", min_pixels=9)
    plain = polygonize(mask, conf, t, "EPSG:4326", min_pixels=9)
    assert graded.area_km2.sum() == pytest.approx(plain.area_km2.sum(), rel=1e-6)
    assert sorted(graded.grade.tolist()) == ["a", "b"]


def test_bad_bands_for_a_graded_burn_is_exit_2_and_nothing_written(tmp_path, capsys):
    before, after = _burn_pair(tmp_path)
    out = tmp_path / "out"
    code = main(["hazards", "burn", before, after, "--bands", "red,green,blue,nir,swir1", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and not out.exists()


def test_burn_grows_into_an_attached_low_severity_fringe_but_not_a_lone_patch():
    from cupola.hazards.change import burn_layer

    rng = np.random.default_rng(7)
    d = rng.normal(0.0, 0.02, (80, 80)).astype(np.float32)
    d[10:40, 10:40] = 0.6  # the scar
    d[10:40, 40:46] = 0.15  # its low-severity fringe
    d[60:70, 60:70] = 0.15  # a lone patch of the same dNBR (phenology, say)
    layer = burn_layer(d)
    assert layer.threshold > 0.15
    assert layer.mask[10:40, 10:46].all() and not layer.mask[60:70, 60:70].any()
    assert layer.confidence[20, 43] <= 0.5 < layer.confidence[20, 20]


def test_one_population_of_change_is_one_grade():
    rng = np.random.default_rng(8)
    g = grade_change(rng.normal(20.0, 3.0, 5000), np.ones(5000, bool), threshold=8.0)
    assert len(g.names) == 1 and "no separate levels" in g.method


def test_change_command_grades_weak_and_strong_change(tmp_path, capsys):
    rng = np.random.default_rng(5)
    before = rng.uniform(0.05, 0.4, (3, 200, 200))
    after = before + rng.normal(0, 0.01, before.shape)
    after[:, 20:60, 20:80] += 0.3  # weak change
    after[:, 120:160, 100:160] += 0.6  # strong change
    _write(tmp_path / "before.tif", before)
    _write(tmp_path / "after.tif", after)
    out = tmp_path / "out"
    argv = [
        "hazards",
        "change",
        str(tmp_path / "before.tif"),
        str(tmp_path / "after.tif"),
        "--out",
        str(out),
        "--quiet",
        "--clouds",  # a grey brightening of 0.6 in every band is what a cloud looks like to the RGB cloud model
        "off",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    by_grade: dict[str, float] = {}
    for f in feats:
        by_grade[f["properties"]["grade"]] = by_grade.get(f["properties"]["grade"], 0.0) + f["properties"]["area_km2"]
    assert set(by_grade) == {"low change", "high change"}
    block_km2 = 40 * 60 * (0.0003 * 111.32) ** 2 * np.cos(np.radians(37.97))
    for area in by_grade.values():
        assert area == pytest.approx(block_km2, rel=0.15)
    grading = json.loads((out / "result.json").read_text())["grading"]
    assert grading["method"].startswith("change magnitude") and len(grading["grades"]) == 2
