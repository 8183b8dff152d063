"""Active fire from night photos: flame colours against lamp colours, new light, the CLI."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.analysis.lamp_colour import read_lamp_table
from cupola.cli.main import main
from cupola.hazards.night_fire import fire_confusion, fire_probability, night_fire, read_fire_colours

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lamp-spectra"


def _flame_colour(t_k=1200.0, alpha=0.0, tau=0.15, airmass=1.0):
    f = read_fire_colours("d3s")
    i = np.flatnonzero(
        (f.temperature_k == t_k) & (f.soot_alpha == alpha) & (f.tau_550 == tau) & (f.airmass == airmass)
    )[0]
    return float(f.g_r[i]), float(f.b_g[i])


def _lamp_colour(kind: str):
    t = read_lamp_table("d3s")
    fam = np.array(t.family)
    if kind == "white LED":  # the library's whitest phosphor LED (most blue)
        i = np.flatnonzero(fam == "LED")[np.argmax(t.b_g[fam == "LED"])]
    else:  # the reddest high-pressure sodium lamp (closest to a flame)
        i = np.flatnonzero(fam == "HPS")[np.argmin(t.g_r[fam == "HPS"])]
    return float(t.g_r[i]), float(t.b_g[i])


def _rgb(colour, level):
    g_r, b_g = colour
    return level * np.array([1.0, g_r, g_r * b_g])


def _blob(shape, row, col, sigma):
    r, c = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * sigma**2))


def _city(shape, rng):
    """A dark night scene with sodium and white street lights, and read noise."""
    img = np.full((3, *shape), 0.02)
    for k in range(12):
        colour = _lamp_colour("HPS" if k % 2 else "white LED")
        row, col = rng.uniform(5, shape[0] - 5), rng.uniform(5, shape[1] - 5)
        img += _rgb(colour, rng.uniform(2, 6))[:, None, None] * _blob(shape, row, col, rng.uniform(1, 2.5))
    return img


def _noisy(img, rng, gain=1.0):
    return img * gain + rng.normal(0, 0.01, img.shape)


def test_flame_colours_are_redder_than_sodium_and_incandescent_lamps():
    lamps = read_lamp_table("d3s")
    fam = np.array(lamps.family)
    g_r_1200, _ = _flame_colour(1200.0)
    assert g_r_1200 < 0.6 * lamps.g_r[np.isin(fam, ("HPS", "INC"))].min()
    assert fire_probability(*_flame_colour(1000.0)) > 0.99
    assert fire_probability(*_lamp_colour("white LED")) < 0.01


def test_leave_one_out_keeps_lamps_out_of_the_fire_class():
    c = fire_confusion("d3s")
    lamps_as_fire = sum(v["as_fire"] for v in c["lamps"].values())
    flames = sum(v["flames"] for v in c["flames"].values())
    found = sum(v["as_fire"] for v in c["flames"].values())
    assert lamps_as_fire == 0
    assert found / flames > 0.95
    assert c["flames"]["800-875 K"]["as_fire"] == c["flames"]["800-875 K"]["flames"]


def test_planck_1200k_blob_is_a_fire_and_a_new_white_led_is_not():
    rng = np.random.default_rng(3)
    shape = (80, 100)
    city = _city(shape, rng)
    before = _noisy(city, rng)
    add = _rgb(_flame_colour(1200.0), 1.5)[:, None, None] * _blob(shape, 20, 30, 2.0)
    add += _rgb(_lamp_colour("white LED"), 1.5)[:, None, None] * _blob(shape, 60, 75, 2.0)
    after = _noisy(city + add, rng, gain=1.05)
    found = night_fire(before, after)
    assert found.mask[20, 30] and found.p_fire[20, 30] > 0.9
    assert found.light.mask[60, 75]  # the LED is new light ...
    assert not found.mask[50:70, 65:85].any()  # ... but not a fire
    assert not (found.mask & (_blob(shape, 20, 30, 2.0) < 1e-3)).any()  # nothing else is a fire


def test_unchanged_city_lights_give_no_fire():
    rng = np.random.default_rng(5)
    city = _city((80, 100), rng)
    found = night_fire(_noisy(city, rng), _noisy(city, rng, gain=1.1))
    assert not found.mask.any()


def _write(path, data, res=0.0003):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs="EPSG:4326", transform=from_origin(-90.2, 30.1, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))
    return str(path)


def test_cli_night_photo_maps_the_fire(tmp_path, capsys):
    rng = np.random.default_rng(11)
    shape = (80, 100)
    city = _city(shape, rng)
    add = _rgb(_flame_colour(1100.0, alpha=0.7), 2.0)[:, None, None] * _blob(shape, 40, 50, 2.5)
    before = _write(tmp_path / "before.tif", _noisy(city, rng))
    after = _write(tmp_path / "after.tif", _noisy(city + add, rng))
    out = tmp_path / "out"
    code = main(["hazards", "fire", before, after, "--night-photo", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    feats = json.loads((out / "hazard_polygons.geojson").read_text())["features"]
    assert len(feats) == 1 and feats[0]["properties"]["class"] == "active fire (night light)"
    assert feats[0]["properties"]["confidence"] > 0.9


def test_cli_night_photo_without_rgb_is_exit_2(tmp_path, capsys):
    rng = np.random.default_rng(2)
    one = _write(tmp_path / "thermal.tif", rng.normal(300, 1, (1, 40, 50)))
    out = tmp_path / "out"
    code = main(["hazards", "fire", one, one, "--night-photo", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "red, green and blue" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared camera responses are not beside the repository")
def test_tool_reproduces_the_bundled_flame_tables():
    spec = importlib.util.spec_from_file_location("fire_colours", ROOT / "tools" / "fire_colours.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, text in mod.build_tables(SHARED).items():
        assert (ROOT / "src" / "cupola" / "data" / "lamps" / name).read_text(encoding="utf-8") == text


def test_flame_table_follows_the_physics():
    """Hotter is greener (G/R rises with T, Wien); soot (emissivity falling with wavelength) is
    bluer than a grey body; more aerosol is redder (Angstrom extinction is stronger in the blue)."""
    f = read_fire_colours("d3s")
    grey = (f.soot_alpha == 0) & (f.tau_550 == 0.05) & (f.airmass == 1)
    order = np.argsort(f.temperature_k[grey])
    assert np.all(np.diff(f.g_r[grey][order]) > 0)
    at = (f.temperature_k == 1200) & (f.tau_550 == 0.15) & (f.airmass == 1)
    by_alpha = f.b_g[at][np.argsort(f.soot_alpha[at])]
    assert np.all(np.diff(by_alpha) > 0)
    hazy = (f.temperature_k == 1200) & (f.soot_alpha == 0) & (f.airmass == 1)
    by_tau = f.g_r[hazy][np.argsort(f.tau_550[hazy])]
    assert np.all(np.diff(by_tau) < 0)
