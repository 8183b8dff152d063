"""CTI fires and clouds: the two-band contextual test on constructed cases, on crops of the real Los
Angeles ECOSTRESS scenes converted to CTI radiances with Dozier-mixed fires, and ``cupola thermal
fire`` through its entry point with its one-line refusals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.thermal.fire import detect_fires
from cupola.thermal.planck import band_integral
from cupola.thermal.sensors import band_response

ROOT = Path(__file__).resolve().parents[1]
LA = ROOT.parent / "shared" / "data" / "ecostress-la"


def cupola(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "cupola", *args], capture_output=True, text=True, env=env, timeout=300)


def _flat(rows=80, cols=80, seed=0):
    rng = np.random.default_rng(seed)
    t11 = 300.0 + rng.normal(0, 0.4, (rows, cols))
    t4 = t11 - 2.0 + rng.normal(0, 0.4, (rows, cols))
    return t4, t11


def test_sunlit_cloud_edge_is_cloud_and_a_fire_beside_it_is_found():
    t4, t11 = _flat()
    yy, xx = np.mgrid[:80, :80]
    disc = np.zeros((80, 80), bool)
    for cy, cx in ((15, 15), (15, 45), (40, 20), (45, 50)):  # small sunlit cumulus cells
        disc |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 3**2
    t11[disc] = 285.0  # 15 K colder than the ground ...
    t4[disc] = 316.0  # ... and bright in the mid-wave (reflected sunlight): dT 31 K, T4 > 310 K
    t4[68, 68], t11[68, 68] = 335.0, 302.0  # a sub-pixel fire: dT 33 K
    day = detect_fires(t4, t11, night=False)
    assert day.cloud[disc].all() and not day.cloud[64:73, 64:73].any()
    assert day.fire[68, 68] and day.fire.sum() == 1  # no false fire on the bright cells
    # the same cells as warm as the ground (no cold contrast, so no cloud): they pass for fires
    blind = detect_fires(t4, np.where(disc, 300.0, t11), night=False)
    assert blind.fire[disc].sum() > 10 and not blind.cloud[disc].any()  # so the test above could fail


def test_thresholds_by_period_and_bad_shapes():
    t4, t11 = _flat()
    t4[40, 40] = 330.0  # contextual by day and by night (dT ~30 K)
    t4[10, 70] = 361.0  # absolute by day
    day, night = detect_fires(t4, t11), detect_fires(t4, t11, night=True)
    assert day.fire[40, 40] and day.reason[10, 70] == 1 and day.reason[40, 40] == 2
    assert night.thresholds["absolute_t4"] == 320.0 and night.reason[40, 40] == 1  # 330 K is absolute at night
    with pytest.raises(InputError, match="one shape"):
        detect_fires(t4, t11[:, :10])


def _crop_scene(index: int, window=(slice(400, 700), slice(900, 1300))):
    from cupola.io.ecostress import find_ecostress_scenes, read_ecostress_geotiffs
    from cupola.simulate.cti_scenes import cti_scene_from_lst
    from cupola.thermal.stack import day_or_night

    f = find_ecostress_scenes(LA)[index]
    s = read_ecostress_geotiffs(f["lst"], f.get("qc"), f.get("cloud"), f.get("water"))
    _, elev = day_or_night(s)
    a, b, c, d, e, g = s.transform
    r0, c0 = window[0].start, window[1].start
    t = (a, b, c + a * c0, d, e, g + e * r0)
    return cti_scene_from_lst(
        s.lst_k[window], t, s.crs, water=s.water[window] == 1, cloud=s.cloud[window] == 1, sun_elevation_deg=elev
    )


@pytest.mark.skipif(not LA.is_dir(), reason="the real ECOSTRESS scenes of ../shared/data are not here")
def test_dozier_mixing_against_an_independent_band_integral():
    from cupola.simulate.cti_scenes import insert_fires, transmittance

    scene = _crop_scene(2, (slice(500, 540), slice(1000, 1040)))
    p, tf = 2e-3, 900.0
    fired = insert_fires(scene, [20], [20], p, tf)
    for k in ("mwir", "lwir"):
        r = band_response(f"cti-{k}")
        # the fire's at-sensor radiance by direct integration over the response (trapezoid of R tau B)
        from cupola.thermal.planck import planck_radiance

        w = r.wavelength_um
        fire = np.trapezoid(r.response * transmittance(w) * planck_radiance(w, tf), w) / r.area + scene.path[k]
        expect = (1 - p) * getattr(scene, k)[20, 20] + p * fire
        assert getattr(fired, k)[20, 20] == pytest.approx(expect, rel=1e-4)
        assert np.array_equal(getattr(fired, k)[:19], getattr(scene, k)[:19])
    t4a, t11a = scene.brightness()
    t4b, t11b = fired.brightness()
    assert (t4b - t4a)[20, 20] > 5 * (t11b - t11a)[20, 20] > 0  # a fire lifts the mid-wave far more
    assert float(band_integral(band_response("cti-mwir"), 300.0)[0]) > 0


@pytest.mark.skipif(not LA.is_dir(), reason="the real ECOSTRESS scenes of ../shared/data are not here")
@pytest.mark.parametrize("index", [0, 1, 3])  # broken-cloud night, stratus morning, clear afternoon
def test_real_scene_fires_found_and_no_false_alarm(index):
    from cupola.simulate.cti_scenes import fire_sites, insert_fires

    scene = _crop_scene(index)
    t4, t11 = scene.brightness()
    clean = detect_fires(t4, t11, night=scene.night, water=scene.water)
    assert not clean.fire.any()  # no fire in the unchanged real scene
    rr, cc = fire_sites(scene, 25, seed=index)
    assert rr.size >= 15
    hits = {}
    for p in (1e-4, 3e-3):
        fired = insert_fires(scene, rr, cc, p, 1000.0)
        a4, a11 = fired.brightness()
        res = detect_fires(a4, a11, night=scene.night, water=fired.water)
        hits[p] = float(res.fire[rr, cc].mean())
        near = np.zeros(res.fire.shape, bool)
        for r, c in zip(rr, cc, strict=True):
            near[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = True
        assert not (res.fire & ~near).any()  # no flag away from the fires
    assert hits[3e-3] >= 0.9 and hits[1e-4] == 0.0  # 20 m2 of fire is found; 0.6 m2 is not
    baseline = float((np.nan_to_num(insert_fires(scene, rr, cc, 3e-3, 1000.0).brightness()[0]) >= 360.0)[rr, cc].mean())
    assert hits[3e-3] > baseline  # a fixed 360 K threshold finds fewer


def _tif(path, a, transform, crs="EPSG:4326", units=None):
    import rasterio

    prof = dict(driver="GTiff", width=a.shape[1], height=a.shape[0], count=1, dtype=a.dtype.name, crs=crs,
                transform=rasterio.Affine(*transform))  # fmt: skip
    with rasterio.open(path, "w", **prof) as d:
        d.write(a, 1)
        if units:
            d.units = (units,)
    return str(path)


@pytest.mark.skipif(not LA.is_dir(), reason="the real ECOSTRESS scenes of ../shared/data are not here")
def test_cli_fire_products_and_refusals(tmp_path):
    from cupola.simulate.cti_scenes import fire_sites, insert_fires

    scene = _crop_scene(3, (slice(400, 560), slice(900, 1100)))
    rr, cc = fire_sites(scene, 8, seed=5)
    fired = insert_fires(scene, rr, cc, 3e-3, 1000.0)
    m = _tif(tmp_path / "mwir.tif", fired.mwir.astype(np.float32), scene.transform)
    lw = _tif(tmp_path / "lwir.tif", fired.lwir.astype(np.float32), scene.transform)
    out = tmp_path / "fire"
    p = cupola("thermal", "fire", m, lw, "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert {"fire.tif", "cloud.tif", "fires.csv", "fire.png", "result.json"} <= {q.name for q in out.iterdir()}
    with open(out / "fires.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    found = {(int(r["row"]), int(r["col"])) for r in rows}
    assert found == set(zip(rr.tolist(), cc.tolist(), strict=True))
    a, _b, c, _d, e, f = scene.transform
    r0 = rows[0]
    assert float(r0["lon"]) == pytest.approx(c + a * (int(r0["col"]) + 0.5))
    assert float(r0["lat"]) == pytest.approx(f + e * (int(r0["row"]) + 0.5))
    doc = json.loads((out / "result.json").read_text())
    assert doc["fire_pixels"] == len(rr) and doc["period"] == "day" and doc["inputs"]["mwir"]["units"] == "radiance"

    def refused(*args, match):
        o = tmp_path / "refused"
        q = cupola("thermal", "fire", *args, "--out", str(o))
        assert q.returncode == 2, q.stderr
        assert len(q.stderr.strip().splitlines()) == 1 and match in q.stderr, q.stderr
        assert not o.exists()
        return q.stderr

    shifted = (a, 0.0, c + 5 * a, 0.0, e, f)
    other = _tif(tmp_path / "lwir_other.tif", fired.lwir.astype(np.float32), shifted)
    msg = refused(m, other, match="different grids")
    assert "mwir.tif" in msg and "lwir_other.tif" in msg
    # library refusals (no CLI start each; the CLI turns the same InputError into one line)
    from cupola.thermal.fire_job import run_fire

    dn = _tif(tmp_path / "dn.tif", (fired.lwir * 1000).astype(np.uint16), scene.transform)
    with pytest.raises(InputError, match="without a scale factor"):
        run_fire(m, dn, tmp_path / "lib")

    c_tif = _tif(tmp_path / "c.tif", (scene.brightness()[1] - 273.15).astype(np.float32), scene.transform, units="degC")
    with pytest.raises(InputError, match="Celsius"):
        run_fire(m, c_tif, tmp_path / "lib")
    with pytest.raises(InputError, match="unknown"):
        run_fire(m, lw, tmp_path / "lib", sensor="modis")
    assert not (tmp_path / "lib").exists()
