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
