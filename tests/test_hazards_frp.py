"""Fire radiative power (cupola.hazards.frp) against the power that painted fires of known area
and temperature radiate (Stefan-Boltzmann), the fires mixed into the scene by radiance after
Dozier (1981) with the thermal module's Planck function; through `hazards fire` into frp.tif."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.analysis.planck import planck_radiance
from cupola.cli.main import main
from cupola.hazards.frp import SIGMA, fire_radiative_power
from cupola.simulate.hazards import paint_fires

PIXEL_M = 70.0


def _scene(seed=0, shape=(160, 160)):
    rng = np.random.default_rng(seed)
    return (300.0 + rng.normal(0, 0.3, shape)).astype(np.float32)


def test_planck_agrees_with_astropy_black_body():
    from astropy import units as u
    from astropy.modeling.physical_models import BlackBody

    for t in (250.0, 300.0, 600.0, 1200.0):
        bb = BlackBody(temperature=t * u.K, scale=1.0 * u.W / (u.m**2 * u.micron * u.sr))
        ref = bb(10.49 * u.micron).to_value(u.W / (u.m**2 * u.micron * u.sr))
        assert float(planck_radiance(10.49, t)) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("temperature_k", [600.0, 900.0, 1200.0])
def test_frp_of_painted_fires_is_within_the_stated_factor(temperature_k):
    fires = paint_fires(_scene(), n_fires=16, seed=1, area_px=(0.05, 4.0), temperature_k=(temperature_k, temperature_k))
    got = fire_radiative_power(fires.brightness_k, fires.labels > 0, PIXEL_M**2, window_px=11)
    truth = fires.area_px * PIXEL_M**2 * SIGMA * (temperature_k**4 - 300.0**4)  # W, each fire
    est = np.array([got.frp_w[fires.labels == k + 1].sum() for k in range(truth.size)])
    ratio = est / truth
    assert got.factor == pytest.approx(1.95, abs=0.05)
    assert (ratio > 1 / got.factor - 0.02).all() and (ratio < got.factor + 0.02).all()
    if temperature_k == 600.0:  # cool fires are overestimated, hot ones underestimated
        assert (ratio > 1.5).all()
    if temperature_k == 1200.0:
        assert (ratio < 0.7).all()
    assert ratio.std() < 0.05 * ratio.mean()  # the same for every size: it is the temperature's
    assert got.hotspot_w.sum() == pytest.approx(got.frp_w.sum(), rel=1e-6)


def test_no_fire_no_power_and_a_cool_pixel_gives_none():
    t = _scene()
    none = fire_radiative_power(t, np.zeros(t.shape, bool), PIXEL_M**2)
    assert none.hotspot_w.size == 0 and float(none.frp_w.max()) == 0.0
    cold = t.copy()
    cold[50, 50] = 280.0  # flagged by mistake and colder than its background: no negative power
    assert fire_radiative_power(cold, cold < 290, PIXEL_M**2).frp_w[50, 50] == 0.0


def test_fire_command_writes_frp(tmp_path, capsys):
    fires = paint_fires(_scene(2), n_fires=9, seed=3, area_px=(0.5, 3.0), temperature_k=(850.0, 850.0))
    res = 0.00063
    for name, data in (("before", _scene(4)), ("after", fires.brightness_k)):
        with rasterio.open(
            tmp_path / f"{name}.tif", "w", driver="GTiff", width=160, height=160, count=1, dtype="float32",
            crs="EPSG:4326", transform=from_origin(-118.5, 34.2, res, res),
        ) as ds:  # fmt: skip
            ds.write(data[None])
    out = tmp_path / "out"
    argv = ["hazards", "fire", str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), "--bands", "thermal",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "fire radiative power" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    frp = result["frp"]
    area_m2 = (res * 111_320.0) ** 2 * np.cos(np.radians(34.15))
    truth_mw = float(fires.area_px.sum()) * area_m2 * SIGMA * (850.0**4 - 300.0**4) / 1e6
    assert frp["hotspots"] == fires.area_px.size
    assert 1 / frp["within_factor"] < frp["total_mw"] / truth_mw < frp["within_factor"]
    with rasterio.open(out / "frp.tif") as ds:
        assert float(np.nansum(ds.read(1))) == pytest.approx(frp["total_mw"], rel=1e-4)
    spot = frp["largest"][0]
    assert -118.5 < spot["lon"] < -118.5 + 160 * res and 34.2 - 160 * res < spot["lat"] < 34.2


def _category(mw: float) -> int:
    """The FRP category (1-5) of Ichoku et al. (2008), written out here independently."""
    return 1 + sum(mw >= b for b in (100.0, 500.0, 1000.0, 1500.0))


def test_fire_polygons_carry_their_power_and_its_category(tmp_path, capsys):  # noqa: PLR0914
    """Fires of known area at 880 K (where the one-band estimate is unbiased: k there is the
    geometric mean of k(600) and k(1200)) from a tenth of a pixel to 25 pixels: each is one
    polygon whose FRP is its painted power (Stefan-Boltzmann) and whose grade is the category of
    that power, away from a category bound; through `hazards fire`."""
    from shapely.geometry import Point
    from shapely.geometry import shape as to_shape

    shape = (300, 300)
    fires = paint_fires(_scene(5, shape), n_fires=64, seed=7, area_px=(0.1, 25.0), temperature_k=(880.0, 880.0))
    res = 0.00063
    for name, data in (("before", _scene(6, shape)), ("after", fires.brightness_k)):
        with rasterio.open(
            tmp_path / f"{name}.tif", "w", driver="GTiff", width=shape[1], height=shape[0], count=1,
            dtype="float32", crs="EPSG:4326", transform=from_origin(-118.5, 34.2, res, res),
        ) as ds:  # fmt: skip
            ds.write(data[None])
    out = tmp_path / "out"
    argv = ["hazards", "fire", str(tmp_path / "before.tif"), str(tmp_path / "after.tif"), "--bands", "thermal",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    features = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    geoms = [to_shape(f["geometry"]) for f in features]
    props = [f["properties"] for f in features]
    n = fires.area_px.size
    assert len(features) == n  # one feature per fire, whatever its shape on the pixel grid
    lat = 34.2 - fires.centre_px[:, 1] * res - res / 2
    pixel_m2 = (res * 111_320.0) ** 2 * np.cos(np.radians(lat))
    truth_mw = fires.area_px * pixel_m2 * SIGMA * (880.0**4 - 300.0**4) / 1e6
    centres = [Point(-118.5 + (c + 0.5) * res, 34.2 - (r + 0.5) * res) for c, r in fires.centre_px]
    seen = set()
    cats = []
    for k, c in enumerate(centres):
        hit = [i for i, g in enumerate(geoms) if g.buffer(res).contains(c)]
        assert len(hit) == 1
        row = props[hit[0]]
        seen.add(hit[0])
        assert 0.8 < row["frp_mw"] / truth_mw[k] < 1.25
        cat = _category(truth_mw[k])
        assert row["grade"].startswith(f"FRP category {cat} ") or any(
            _category(truth_mw[k] * f) != cat for f in (0.8, 1.25)
        ), (truth_mw[k], row["grade"])
        cats.append(cat)
    assert len(seen) == n and len(set(cats)) >= 4  # every category but at most one is exercised
    result = json.loads((out / "result.json").read_text())
    grades = result["grading"]["grades"]
    assert [g["lower_bound"] for g in grades] == [0.0, 100.0, 500.0, 1000.0, 1500.0]
    assert sum(g["polygons"] for g in grades) == n
    assert sum(p["frp_mw"] for p in props) == pytest.approx(result["frp"]["total_mw"], rel=1e-3)


def test_corner_touching_fire_pixels_are_one_polygon():
    from cupola.hazards.polygons import polygonize

    m = np.zeros((20, 20), bool)
    m[5, 5] = m[6, 6] = m[7, 7] = True  # a diagonal line of fire
    m[15, 3] = True
    power = np.where(m, 2e6, 0.0)
    t = (0.001, 0.0, 10.0, 0.0, -0.001, 50.0)
    eight = polygonize(m, m.astype(np.float32), t, "EPSG:4326", connectivity=8, sum_of=power)
    four = polygonize(m, m.astype(np.float32), t, "EPSG:4326")
    assert len(eight) == 2 and len(four) == 4
    assert sorted(eight.value_sum.tolist()) == [2e6, 6e6]
    assert all(g.is_valid for g in eight.geometries)
    assert four.value_sum is None
