"""Thermal scenes and multispectral bands (``cupola thermal``): Planck round trips against an
independent quadrature, QC-bit decoding on constructed words, the split-window algorithm on a
forward model, clouds and screening, heat islands with a planted answer, coregistration with a
known shift, the ECOSTRESS readers (GeoTIFF and HDF5), the command line with its products and its
one-line refusals, and the real Los Angeles scenes of ../shared/data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cupola.errors import InputError
from cupola.thermal.planck import (
    BandPlanck,
    SpectralResponse,
    band_integral,
    central_wavelength_error_k,
    planck_radiance,
    planck_temperature,
    surface_temperature,
)
from cupola.thermal.qc import QC_FIELDS, decode_qc, good_pixels

ROOT = Path(__file__).resolve().parents[1]
LA = ROOT.parent / "shared" / "data" / "ecostress-la"
B4 = BandPlanck(SpectralResponse.gaussian("b4", 10.522, 0.41))


def cupola(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cupola", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


# --- Planck -------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.floats(160.0, 480.0), st.floats(3.5, 14.0))
def test_monochromatic_planck_round_trip(t, wl):
    assert planck_temperature(wl, planck_radiance(wl, t)) == pytest.approx(t, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(160.0, 480.0))
def test_band_planck_round_trip(t):
    assert float(B4.temperature(B4.radiance(t))) == pytest.approx(t, abs=1e-6)


def test_planck_against_a_published_value_and_wien():
    # B(10 µm, 300 K) = 9.924 W m-2 sr-1 µm-1 (standard value); Wien peak at 2897.77/T µm
    assert float(planck_radiance(10.0, 300.0)) == pytest.approx(9.924, abs=5e-4)
    wl = np.linspace(5.0, 15.0, 20001)
    assert wl[np.argmax(planck_radiance(wl, 300.0))] == pytest.approx(2897.771955 / 300.0, abs=1e-3)


def test_band_integral_against_scipy_quadrature():
    from scipy import integrate

    lo, hi = 7.8, 10.7
    band = SpectralResponse.top_hat("cti-lwir", lo, hi)
    for t in (220.0, 300.0, 340.0):
        ref = integrate.quad(lambda w, t=t: float(planck_radiance(w, t)), lo, hi, epsrel=1e-12)[0] / (hi - lo)
        assert float(band_integral(band, t)[0]) == pytest.approx(ref, rel=1e-6)


def test_central_wavelength_shortcut_is_worse_for_wide_bands():
    narrow = abs(central_wavelength_error_k(SpectralResponse.gaussian("n", 10.5, 0.1), [300.0])[0])
    wide = abs(central_wavelength_error_k(SpectralResponse.top_hat("w", 7.8, 10.7), [300.0])[0])
    assert narrow < 0.01 < 0.5 < wide


def test_emissivity_and_atmosphere_correction_round_trip():
    ts, e, tau, up, down = 310.0, 0.95, 0.8, 1.2, 2.5
    L = tau * (e * B4.radiance(ts) + (1 - e) * down) + up
    assert float(surface_temperature(L, B4, e, transmittance=tau, upwelling=up, downwelling=down)) == pytest.approx(ts)
    # without the correction the brightness temperature is colder than the surface
    assert float(B4.temperature(e * B4.radiance(ts))) < ts - 2.0
    with pytest.raises(InputError, match="emissivity"):
        surface_temperature(L, B4, 1.2)


def test_response_file_and_bad_responses(tmp_path):
    from cupola.thermal.sensors import band_response, read_spectral_response

    f = tmp_path / "r.csv"
    f.write_text("wavelength_nm,response\n10000,0\n10500,1\n11000,0\n")
    assert read_spectral_response(f).centre_um == pytest.approx(10.5)
    with pytest.raises(InputError, match="increase"):
        SpectralResponse("x", np.array([11.0, 10.0]), np.array([1.0, 1.0]))
    with pytest.raises(InputError, match="unknown band"):
        band_response("ecostress-9")
    assert band_response("tophat:3.3:5.4").centre_um == pytest.approx(4.35)


# --- QC -----------------------------------------------------------------------------------------


def test_qc_decoding_of_constructed_words():
    values = {"mandatory": 1, "data_quality": 1, "cloud_ocean": 0, "iterations": 3, "atmospheric_opacity": 2,
              "mmd": 2, "emissivity_accuracy": 0, "lst_accuracy": 2}  # fmt: skip
    word = sum(v << f.first_bit for f, v in zip(QC_FIELDS, values.values()))
    d = decode_qc(np.array([word]))
    assert {k: int(v[0]) for k, v in d.items()} == values
    # every field on its own: value 3 in one field reads back as 3 there and 0 elsewhere
    for f in QC_FIELDS:
        d = decode_qc(np.array([3 << f.first_bit], dtype=np.int32))
        assert all(int(d[g.name][0]) == (3 if g is f else 0) for g in QC_FIELDS)
    # real words of the Los Angeles scenes (bits written out by hand)
    assert int(decode_qc(np.array([32960]))["lst_accuracy"][0]) == 2  # 0b10_00_00_00_11_00_00_00
    assert int(decode_qc(np.array([16832]))["lst_accuracy"][0]) == 1  # 0b01_00_00_01_11_00_00_00


def test_good_pixels_rules():
    good = (2 << 14) | (3 << 6)
    assert good_pixels(np.array([good, good | 2, good | 3, good | (3 << 2), (3 << 6), -99999])).tolist() == [
        True,  # produced, good L1B, LST error 1-1.5 K
        False,  # cloud
        False,  # not produced
        False,  # bad L1B
        False,  # LST error > 2 K
        False,  # fill
    ]


# --- split window -------------------------------------------------------------------------------


def test_split_window_by_hand_and_on_a_forward_model():
    from cupola.simulate.thermal_scenes import at_sensor_brightness
    from cupola.thermal.splitwindow import LANDSAT8_TIRS, fit_coefficients, split_window_lst

    # by hand: 300 + 1.378*2 + 0.183*4 - 0.268 + (54.30 - 2.238*1)*0.02 = 304.26124
    assert float(split_window_lst(300.0, 298.0, 0.98, 0.98, 1.0, LANDSAT8_TIRS)) == pytest.approx(304.26124)
    b10 = BandPlanck(SpectralResponse.gaussian("t10", 10.9, 0.59))
    b11 = BandPlanck(SpectralResponse.gaussian("t11", 12.0, 1.01))
    rng = np.random.default_rng(1)
    n = 1200
    ts = rng.uniform(280, 320, n)
    w = rng.uniform(0.2, 4.0, n)
    air = ts - rng.uniform(-5, 8, n)
    e1 = rng.uniform(0.95, 0.995, n)
    e2 = np.clip(e1 + rng.normal(0, 0.005, n), 0.9, 1.0)
    ti = at_sensor_brightness(ts, e1, w, b10, 0.07, air)
    tj = at_sensor_brightness(ts, e2, w, b11, 0.12, air)
    assert np.all(ti < ts + 0.5)  # the atmosphere cools what the sensor sees
    published = split_window_lst(ti, tj, e1, e2, w, LANDSAT8_TIRS)
    assert np.sqrt(np.mean((published - ts) ** 2)) < 1.5  # the algorithm's stated accuracy
    coef, rms = fit_coefficients(ti[:600], tj[:600], e1[:600], e2[:600], w[:600], ts[:600])
    held_out = split_window_lst(ti[600:], tj[600:], e1[600:], e2[600:], w[600:], coef)
    assert rms < 0.3 and np.sqrt(np.mean((held_out - ts[600:]) ** 2)) < 0.3
    # the single band alone is far worse than the split window
    assert np.sqrt(np.mean((ti - ts) ** 2)) > 2.0


# --- clouds, screening, heat island -------------------------------------------------------------


def test_cloud_growing_and_screening_reason():
    from cupola.thermal.clouds import grow_clouds
    from cupola.thermal.screening import screen_scene

    rng = np.random.default_rng(2)
    t = 300.0 + rng.normal(0, 0.5, (100, 100))
    t[:, :30] = 288.0 + rng.normal(0, 0.3, (100, 30))  # a deck over 30 % of the scene
    mask = np.zeros_like(t, dtype=np.uint8)
    mask[:, :5] = 1  # the product caught only its edge
    grown = grow_clouds(mask == 1, t, buffer_px=0)
    assert 0.29 < grown.mean() < 0.32
    s = screen_scene(t, cloud=mask, qc=None, water=np.zeros_like(mask))
    assert not s.usable and "cloud 30" in s.reason and "the mask flags 5.0%" in s.reason
    clear = screen_scene(t[:, 40:], cloud=mask[:, 40:], qc=None, water=None)
    assert clear.usable and clear.reason.startswith("clear enough")
    qc = np.full(t.shape, (2 << 14), dtype=np.int32)
    qc[:50] = -99999
    s = screen_scene(t[:, 40:], cloud=None, qc=qc[:, 40:], water=None)
    assert not s.usable and s.reason.startswith("coverage 50.0% < 80%")


def test_heat_island_recovers_planted_values():
    from cupola.io.raster_band import RasterBand
    from cupola.simulate.thermal_scenes import urban_scene
    from cupola.thermal.heat_island import heat_island

    t, transform, zones, truth = urban_scene(400, 600, 40, seed=5)
    hi = heat_island(RasterBand(t, transform, "EPSG:4326"), zones, np.arange(40).astype(str))
    ok = np.isfinite(hi.uhi_k)
    assert ok.sum() >= 35
    assert np.median(np.abs(hi.uhi_k[ok] - truth[ok])) < 0.3
    # a city on no data has no heat island, with the reason
    t2 = t.copy()
    t2[:, :] = np.nan
    hi2 = heat_island(RasterBand(t2, transform, "EPSG:4326"), zones[:2], np.array(["a", "b"]))
    assert np.isnan(hi2.uhi_k).all() and "measured" in hi2.reason[0]


# --- coregistration and indices -----------------------------------------------------------------


@pytest.mark.parametrize("dx,dy", [(0.3, -1.7), (-2.25, 0.6), (4.1, 3.35)])
def test_phase_correlation_sub_pixel(dx, dy):
    from scipy import ndimage

    from cupola.thermal.coregister import apply_shift, phase_correlation

    rng = np.random.default_rng(7)
    ref = ndimage.gaussian_filter(rng.normal(size=(192, 160)), 2.5)
    mov = 3.0 * apply_shift(ref, dx, dy) + 5.0 + rng.normal(0, 0.01, ref.shape)  # another band: gain, offset, noise
    s = phase_correlation(ref, mov)
    assert abs(s.dx_px - dx) < 0.05 and abs(s.dy_px - dy) < 0.05


def test_indices_and_rgb_proxies():
    from cupola.thermal.multispectral import compute_indices

    red, green, blue = np.full((3, 3), 0.2), np.full((3, 3), 0.3), np.full((3, 3), 0.1)
    out = compute_indices({"red": red, "green": green, "blue": blue})
    assert set(out) == {"vari", "ngrdi", "exg"} and all(ix.proxy for ix in out.values())
    assert float(out["vari"].values[0, 0]) == pytest.approx((0.3 - 0.2) / (0.3 + 0.2 - 0.1))
    full = compute_indices({"red": red, "green": green, "nir": np.full((3, 3), 0.6), "swir1": blue, "swir2": blue})
    assert set(full) == {"ndvi", "ndwi", "mndwi", "nbr"} and not any(ix.proxy for ix in full.values())
    assert float(full["nbr"].values[0, 0]) == pytest.approx(0.5 / 0.7)
    with pytest.raises(InputError, match="different sizes"):
        compute_indices({"red": red, "nir": np.ones((4, 4))})


# --- readers ------------------------------------------------------------------------------------


def _write_tif(path, a, transform=(0.001, 0, -118.3, 0, -0.001, 34.1), tags=None, scale=None):
    import rasterio

    prof = dict(driver="GTiff", width=a.shape[1], height=a.shape[0], count=1, dtype=a.dtype.name, crs="EPSG:4326",
                transform=rasterio.Affine(*transform))  # fmt: skip
    with rasterio.open(path, "w", **prof) as d:
        d.write(a, 1)
        if tags:
            d.update_tags(**tags)
        if scale is not None:
            d.scales = (scale,)
    return path


def test_geotiff_reader_refuses_a_missing_scale_and_other_grids(tmp_path):
    from cupola.io.ecostress import read_ecostress_geotiffs

    lst = (np.full((20, 30), 300.0) / 0.02).astype(np.uint16)
    bare = _write_tif(tmp_path / "ECO_LST_doy2023175112358.tif", lst)
    with pytest.raises(InputError, match="without a scale factor"):
        read_ecostress_geotiffs(bare)
    assert float(np.nanmean(read_ecostress_geotiffs(bare, lst_scale=0.02).lst_k)) == pytest.approx(300.0)
    scaled = _write_tif(tmp_path / "s.tif", lst, scale=0.02)
    other = _write_tif(tmp_path / "qc.tif", np.zeros((21, 30), np.int32))
    with pytest.raises(InputError, match="differs from the LST"):
        read_ecostress_geotiffs(scaled, qc_path=other)
    wrong = _write_tif(tmp_path / "w.tif", lst, scale=1.5)
    with pytest.raises(InputError, match="scale factor is wrong or missing"):
        read_ecostress_geotiffs(wrong)


def test_hdf5_swath_reader(tmp_path):
    import h5py

    from cupola.io.ecostress import read_ecostress_h5

    rows, cols = 40, 50
    lat, lon = np.meshgrid(34.0 - 0.0006 * np.arange(rows), -118.0 + 0.0006 * np.arange(cols), indexing="ij")
    lst = np.full((rows, cols), int(305.0 / 0.02), np.uint16)
    lst[:5] = 0
    f = tmp_path / "ECOSTRESS_L2_LSTE_28157_004_20230624T112358_0711_01.h5"
    with h5py.File(f, "w") as h:
        d = h.create_dataset("SDS/LST", data=lst)
        d.attrs["scale_factor"] = 0.02
        d.attrs["_FillValue"] = 0
        h.create_dataset("SDS/QC", data=np.full((rows, cols), 2 << 14, np.uint16))
        h.create_dataset("SDS/cloud_mask", data=np.zeros((rows, cols), np.uint8))
        h.create_dataset("Geolocation/latitude", data=lat)
        h.create_dataset("Geolocation/longitude", data=lon)
    s = read_ecostress_h5(f)
    assert s.time is not None and s.time.isoformat() == "2023-06-24T11:23:58+00:00"
    assert np.nanmedian(s.lst_k) == pytest.approx(305.0) and np.isnan(s.lst_k[:4]).all()
    assert s.qc is not None and good_pixels(s.qc[np.isfinite(s.lst_k)]).all()
    g = tmp_path / "noscale.h5"
    with h5py.File(g, "w") as h:
        h.create_dataset("SDS/LST", data=lst)
        h.create_dataset("Geolocation/latitude", data=lat)
        h.create_dataset("Geolocation/longitude", data=lon)
    with pytest.raises(InputError, match="no scale_factor attribute"):
        read_ecostress_h5(g)


# --- command line -------------------------------------------------------------------------------


def test_cli_bt_and_indices_products_and_refusals(tmp_path):
    rad = B4.radiance(np.linspace(280, 320, 600).reshape(20, 30)).astype(np.float32)
    r = _write_tif(tmp_path / "rad.tif", rad)
    p = cupola("thermal", "bt", str(r), "--band", "ecostress-4", "--emissivity", "0.97", "--out", str(tmp_path / "bt"))
    assert p.returncode == 0, p.stderr
    import rasterio

    with rasterio.open(tmp_path / "bt" / "bt.tif") as ds:
        assert ds.profile.get("tiled") and ds.overviews(1) is not None
        np.testing.assert_allclose(ds.read(1), np.linspace(280, 320, 600).reshape(20, 30), atol=1e-3)
    doc = json.loads((tmp_path / "bt" / "result.json").read_text())
    assert doc["surface_temperature_k"]["emissivity"] == 0.97

    # bands on different grids without --coregister: one line, exit 2, nothing written
    a = _write_tif(tmp_path / "red.tif", np.ones((20, 30), np.float32))
    b = _write_tif(tmp_path / "nir.tif", np.ones((25, 30), np.float32))
    out = tmp_path / "ix"
    p = cupola("thermal", "indices", "--band-file", f"red={a}", "--band-file", f"nir={b}", "--out", str(out))
    assert p.returncode == 2 and "different grid" in p.stderr and "--coregister" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.exists()
    # with --coregister they are resampled and aligned
    p = cupola("thermal", "indices", "--band-file", f"red={a}", "--band-file", f"nir={b}", "--coregister", "--out",
               str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert (out / "ndvi.tif").exists()

    # an RGB photo: proxies only, flagged
    from PIL import Image

    img = np.zeros((40, 40, 3), np.uint8)
    img[..., 1] = 120
    img[..., 0] = 60
    img[..., 2] = 40
    Image.fromarray(img).save(tmp_path / "photo.png")
    p = cupola("thermal", "indices", str(tmp_path / "photo.png"), "--out", str(tmp_path / "rgb"))
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "rgb" / "result.json").read_text())
    assert {i["name"] for i in doc["indices"]} == {"vari", "ngrdi", "exg"} and all(i["proxy"] for i in doc["indices"])

    # a scale factor missing: one line, exit 2
    lst = _write_tif(tmp_path / "lst.tif", (np.full((20, 30), 300.0) / 0.02).astype(np.uint16))
    p = cupola("thermal", "scene", str(lst), "--out", str(tmp_path / "sc"))
    assert p.returncode == 2 and "--lst-scale" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sc").exists()


@pytest.mark.skipif(not LA.is_dir(), reason="../shared/data/ecostress-la not present")
def test_real_los_angeles_stack(tmp_path):
    out = tmp_path / "la"
    p = cupola("thermal", "stack", str(LA), "--cities", str(LA / "California_Cities.geojson"), "--out", str(out))
    assert p.returncode == 0, p.stderr
    doc = json.loads((out / "result.json").read_text())
    verdict = {s["scene"]: s["usable"] for s in doc["scenes"]}
    assert verdict == {
        "doy2023175112358": False,
        "doy2023184152551": False,
        "doy2023194040614": True,
        "doy2023205231732": True,
    }
    periods = {s["scene"]: s["period"] for s in doc["scenes"]}
    assert periods["doy2023205231732"] == "day" and periods["doy2023194040614"] == "night"
    cities = {r["city"]: r for r in doc["heat_island_cities"]}
    assert len(cities) > 100
    day = np.array([r["uhi_day_k"] for r in cities.values()], dtype=float)
    assert np.isfinite(day).sum() > 100 and math.isfinite(float(np.nanmedian(day)))
    for name in ("screening.csv", "heat_island.csv", "heat_island_cities.csv", "uhi_day.png", "screening.png"):
        assert (out / name).exists()
