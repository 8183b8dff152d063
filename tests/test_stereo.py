"""cupola stereo: triangulation against pyproj, heights of rendered pairs (flat terrain, a step, the
real Jacksboro elevation model), the predicted precision, one-line refusals of bad pairs, and the
command through the real entry point."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.camera import Camera
from cupola.geometry.triangulation import closest_approach, geodetic_of

# a 400 mm lens on a full-frame sensor, rendered small: ~75 m per pixel from the ISS
SMALL = Camera.from_focal_sensor(focal_mm=400, sensor_width_mm=36, sensor_height_mm=24, width_px=480, height_px=320)


def _run_cli(argv):
    from cupola.cli.main import main

    return main([str(a) for a in argv])


# -- geometry ---------------------------------------------------------------------------------------


def test_triangulated_heights_agree_with_pyproj():
    from pyproj import Transformer

    rng = np.random.default_rng(4)
    lon = rng.uniform(-180, 180, 200)
    lat = rng.uniform(-80, 80, 200)
    h = rng.uniform(-400, 8000, 200)
    target = geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), h)
    up = geodesy.enu_basis(np.radians(lon), np.radians(lat))[:, 2, :]
    east = geodesy.enu_basis(np.radians(lon), np.radians(lat))[:, 0, :]
    c1 = target + 420e3 * up - 20e3 * east
    c2 = target + 420e3 * up + 20e3 * east
    meet = closest_approach(c1, target - c1, c2, target - c2)
    assert np.max(meet.miss_m) < 1e-6
    assert np.max(np.linalg.norm(meet.point_m - target, axis=1)) < 1e-4
    glon, glat, gh = geodetic_of(meet.point_m)
    to_geodetic = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    plon, plat, ph = to_geodetic.transform(meet.point_m[:, 0], meet.point_m[:, 1], meet.point_m[:, 2])
    assert np.max(np.abs(gh - ph)) < 1e-3
    assert np.max(np.abs(glat - plat)) < 1e-9
    assert np.max(np.abs(((glon - plon) + 180) % 360 - 180)) < 1e-9
    assert np.allclose(gh, h, atol=1e-3)


def test_skew_rays_meet_halfway_with_their_miss_distance():
    o1, o2 = np.zeros(3), np.array([10.0, 0.0, 0.0])
    d1, d2 = np.array([0.0, 0.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    # shift the second ray 2 m along y: the rays pass 2 m apart at (0, 0, 10) and (0, 2, 10)
    meet = closest_approach(o1, d1, o2 + np.array([0.0, 2.0, 0.0]), d2)
    assert meet.miss_m == pytest.approx(2.0)
    assert np.allclose(meet.point_m, [0.0, 1.0, 10.0])
    assert np.degrees(meet.angle_rad) == pytest.approx(45.0)
    assert np.isnan(closest_approach(o1, d1, o2, d1).point_m).all()  # parallel rays


# -- rendered pairs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flat_pair():
    from cupola.simulate.stereo import flat_terrain, render_pair

    return render_pair(flat_terrain(0.0, size_km=60, cell_m=200, texture_px=2048), SMALL, separation_s=6.0)


@pytest.fixture(scope="module")
def flat_result(flat_pair):
    from cupola.stereo.job import StereoOptions, compute_stereo

    p = flat_pair
    return compute_stereo(p.image1, p.image2, p.georef1, p.georef2, StereoOptions(height_range_m=(-1000.0, 3000.0)))


def test_flat_terrain_gives_zero_height(flat_result):
    h = flat_result.points.height_m
    sigma = flat_result.points.sigma_m
    assert len(h) > 0.8 * SMALL.width_px * SMALL.height_px
    assert abs(float(np.median(h))) < 3.0
    rmse = float(np.sqrt(np.mean(h**2)))
    predicted = float(np.sqrt(np.mean(sigma**2)))
    assert 0.6 < rmse / predicted < 1.4
    dem = flat_result.dem
    assert abs(float(np.nanmedian(dem.height_m))) < 3.0


def test_predicted_sigma_is_the_base_to_height_rule_near_nadir(flat_result):
    # sigma_h = (H / B) * GSD * sigma_d for near-vertical views (Kraus 2007, section 4.6)
    r = flat_result
    d = r.summary()
    gsd = float(np.mean(r.georef1.gsd_m()))
    expected_m_per_px = gsd / d["base_to_height"]
    assert d["predicted_sigma_m"]["metres_per_px_disparity_median"] == pytest.approx(expected_m_per_px, rel=0.05)


def test_a_synthetic_step_gives_its_height():
    from cupola.simulate.stereo import render_pair, step_terrain
    from cupola.stereo.job import StereoOptions, compute_stereo

    terrain = step_terrain(600.0, size_km=60, cell_m=200, texture_px=2048)
    p = render_pair(terrain, SMALL, separation_s=8.0, seed=1)
    r = compute_stereo(p.image1, p.image2, p.georef1, p.georef2, StereoOptions(height_range_m=(-1000.0, 3000.0)))
    lon, lat = r.dem.cell_centres()
    lon0 = terrain.centre_lonlat[0]
    km_per_deg = 111.32 * np.cos(np.radians(terrain.centre_lonlat[1]))
    east = (lon - lon0) * km_per_deg
    low = r.dem.height_m[(east < -2.0) & (east > -12.0)]
    high = r.dem.height_m[(east > 2.0) & (east < 12.0)]
    assert np.isfinite(low).sum() > 200 and np.isfinite(high).sum() > 200
    assert float(np.nanmedian(low)) == pytest.approx(0.0, abs=5.0)
    assert float(np.nanmedian(high)) == pytest.approx(600.0, abs=5.0)


def test_real_elevation_model_within_its_predicted_error():
    from cupola.simulate.stereo import jacksboro_terrain, render_pair
    from cupola.stereo.job import StereoOptions, compute_stereo

    terrain = jacksboro_terrain(detail_cell_m=40.0)
    p = render_pair(terrain, SMALL, separation_s=5.0, seed=2)
    r = compute_stereo(p.image1, p.image2, p.georef1, p.georef2, StereoOptions(height_range_m=(-500.0, 2500.0)))
    pts = r.points
    inside = terrain.inside(pts.lon_deg, pts.lat_deg, 2.0)
    err = pts.height_m[inside] - terrain.heights_at(pts.lon_deg[inside], pts.lat_deg[inside])
    rmse = float(np.sqrt(np.mean(err**2)))
    predicted = float(np.sqrt(np.mean(pts.sigma_m[inside] ** 2)))
    assert abs(float(np.mean(err))) < 0.2 * predicted
    assert rmse / predicted < 1.4


# -- refusals ------------------------------------------------------------------------------------------


def _georef(time, target_lonlat):
    from cupola.geometry import attitude, orbit
    from cupola.geometry.projection import Georeference
    from cupola.simulate.stereo import sample_elements

    el = sample_elements(time)
    state = orbit.state_at(el, time)
    lon, lat = target_lonlat
    return Georeference(SMALL, attitude.pose_look_at(state, lon=lon, lat=lat), time)


T0 = dt.datetime(2017, 4, 18, 16, 31, 50, tzinfo=dt.timezone.utc)


def test_refuses_photos_of_one_instant():
    from cupola.stereo.views import check_pair

    g = _georef(T0, (-84.25, 36.59))
    with pytest.raises(InputError, match="same instant"):
        check_pair(g, g)


def test_refuses_photos_that_do_not_overlap():
    from cupola.stereo.views import check_pair

    g1 = _georef(T0, (-84.25, 36.59))
    g2 = _georef(T0 + dt.timedelta(seconds=5), (-83.0, 37.5))
    with pytest.raises(InputError, match="do not overlap"):
        check_pair(g1, g2)


def test_refuses_an_image_that_is_not_its_cameras_size(flat_pair):
    from cupola.stereo.job import compute_stereo

    p = flat_pair
    with pytest.raises(InputError, match="photo 2 is 240x320 px"):
        compute_stereo(p.image1, p.image2[:, :240], p.georef1, p.georef2)


# -- the command ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory, flat_pair):
    from cupola.simulate.stereo import write_pair_files

    return write_pair_files(flat_pair, tmp_path_factory.mktemp("pair"))


def test_command_writes_the_products(pair_files, tmp_path):
    import rasterio

    out = tmp_path / "out"
    f = pair_files
    argv = ["stereo", f["photo1"], f["photo2"], "--pose1", f["pose1"], "--pose2", f["pose2"]]
    argv += ["--height-range-m", "-1000", "3000", "--reference-dem", f["truth_dem"], "--quiet", "--out", out]
    assert _run_cli(argv) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "dem.png",
        "dem.tif",
        "dem_error.tif",
        "result.json",
    ]
    with rasterio.open(out / "dem.tif") as ds:
        assert ds.crs.to_epsg() == 4326 and ds.dtypes[0] == "float32"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        z = ds.read(1)
    assert abs(float(np.nanmedian(z))) < 3.0
    with rasterio.open(out / "dem_error.tif") as ds:
        assert ds.descriptions == ("predicted_sigma_m", "dem_minus_reference_m")
    d = json.loads((out / "result.json").read_text())
    assert d["schema"] == "cupola.stereo/1"
    assert d["separation_s"] == pytest.approx(6.0)
    assert d["reference"]["rmse_over_predicted"] < 1.4


def test_command_reads_16bit_colour_photos_at_full_depth(pair_files, tmp_path):
    """The pair as 16-bit RGB PNGs holding 10-bit counts (Pillow alone reads such a file as its high
    byte: 4 levels) gives the heights of the 8-bit pair."""
    cv2 = pytest.importorskip("cv2")
    from PIL import Image

    f = pair_files
    deep = {}
    for k in ("photo1", "photo2"):
        g = np.asarray(Image.open(f[k])).astype(np.uint16) * 4  # 10-bit counts
        deep[k] = tmp_path / f"{k}_16bit_rgb.png"
        assert cv2.imwrite(str(deep[k]), np.dstack([g, g, g]))
    medians = []
    for p1, p2, name in ((f["photo1"], f["photo2"], "out8"), (deep["photo1"], deep["photo2"], "out16")):
        out = tmp_path / name
        argv = ["stereo", p1, p2, "--pose1", f["pose1"], "--pose2", f["pose2"], "--height-range-m", "-1000", "3000"]
        assert _run_cli([*argv, "--quiet", "--out", out]) == 0
        d = json.loads((out / "result.json").read_text())
        medians.append((d["matching"]["valid_fraction"], d["height_m"]["median"]))
    assert medians[1][0] == pytest.approx(medians[0][0], abs=0.02) and medians[0][0] > 0.5
    assert medians[1][1] == pytest.approx(medians[0][1], abs=0.5)


def _no_products(out):
    return not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".cupola-products")]


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_pose", "photo 2: no pose; give --pose2"),
        ("same_pose", "same instant"),
        ("not_json", "not a JSON file"),
        ("wrong_schema", "expected a cupola geolocate or locate result.json"),
        ("wrong_photo", "its camera is 480x320 px but the photo is"),
        ("locate_no_time", "--pose1 "),
        ("mixed_depth", "photo2_16bit.png: 16-bit pixels, but "),
    ],
)
def test_command_refuses_bad_input_in_one_line(pair_files, tmp_path, capsys, case, message):
    from PIL import Image

    f = pair_files
    out = tmp_path / "out"
    photo1, photo2, pose1, pose2 = f["photo1"], f["photo2"], f["pose1"], f["pose2"]
    extra: list = []
    if case == "no_pose":
        pose2 = None
    elif case == "same_pose":
        pose2 = pose1
    elif case == "not_json":
        pose2 = tmp_path / "pose.json"
        pose2.write_text("{not json")
    elif case == "wrong_schema":
        pose2 = tmp_path / "pose.json"
        pose2.write_text(json.dumps({"schema": "cupola.lightning/1"}))
    elif case == "wrong_photo":
        photo2 = tmp_path / "small.png"
        Image.fromarray(np.zeros((100, 150), np.uint8)).save(photo2)
    elif case == "mixed_depth":
        photo2 = tmp_path / "photo2_16bit.png"
        Image.fromarray(np.asarray(Image.open(f["photo2"])).astype(np.uint16) * 257).save(photo2)
    elif case == "locate_no_time":
        pose1 = tmp_path / "locate.json"
        pose1.write_text(json.dumps({"schema": "cupola.locate/1", "matched": True}))
    argv = ["stereo", photo1, photo2, "--pose1", pose1, *(["--pose2", pose2] if pose2 else []), *extra]
    argv += ["--quiet", "--out", out]
    assert _run_cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cupola: error:")
    assert message in err[0]
    assert _no_products(out)


def test_command_takes_a_pose_from_a_locate_result(pair_files, flat_pair, tmp_path):
    """A matched ``cupola locate`` result gives the footprint; the attitude is solved from it."""
    from cupola.geometry import orbit

    p = flat_pair
    geo = p.georef1
    w, h = SMALL.width_px, SMALL.height_px
    per_edge = 8
    s = np.linspace(0.0, 1.0, per_edge, endpoint=False)
    x0, y0, x1, y1 = -0.5, -0.5, w - 0.5, h - 0.5
    cols = np.concatenate([x0 + s * (x1 - x0), np.full_like(s, x1), x1 - s * (x1 - x0), np.full_like(s, x0)])
    rows = np.concatenate([np.full_like(s, y0), y0 + s * (y1 - y0), np.full_like(s, y1), y1 - s * (y1 - y0)])
    lon, lat = geo.pixels_to_ground(cols, rows)
    clon, clat = geo.center()
    doc = {
        "schema": "cupola.locate/1",
        "matched": True,
        "footprint_lonlat": [[float(a), float(b)] for a, b in zip(lon, lat)],
        "center_lonlat": [clon, clat],
    }
    loc = tmp_path / "locate.json"
    loc.write_text(json.dumps(doc))
    tle = tmp_path / "iss.tle"
    from cupola.simulate.stereo import sample_elements

    el = sample_elements(geo.time)
    tle.write_text(f"{el.line1}\n{el.line2}\n")
    out = tmp_path / "out"
    argv = ["stereo", pair_files["photo1"], pair_files["photo2"], "--pose1", loc, "--time1", orbit.iso_z(geo.time)]
    argv += ["--tle", tle, "--focal-mm", "400", "--sensor-mm", "36", "24", "--pose2", pair_files["pose2"]]
    argv += ["--height-range-m", "-1000", "3000", "--quiet", "--out", out]
    assert _run_cli(argv) == 0
    d = json.loads((out / "result.json").read_text())
    assert "locate result" in d["pose_sources"][0]
    assert abs(d["height_m"]["median"]) < 10.0


def test_independent_poses_are_reconciled_and_aligned_to_a_reference(tmp_path):
    """A second pose off by ~0.02 deg (what two independent georeferences give): the refined
    relative orientation removes the vertical parallax, and the height offset the pair cannot see
    (~1.4 km here) is taken out against a reference elevation model."""
    from scipy.spatial.transform import Rotation

    from cupola.geometry.attitude import Pose
    from cupola.geometry.projection import Georeference
    from cupola.io.geotiff import write_lonlat_geotiff
    from cupola.simulate.stereo import jacksboro_terrain, render_pair
    from cupola.stereo.job import StereoOptions, compute_stereo

    terrain = jacksboro_terrain(detail_cell_m=40.0)
    p = render_pair(terrain, SMALL, separation_s=5.0, seed=2)
    g2 = p.georef2
    tilted = Pose(g2.pose.position_m, g2.pose.rotation * Rotation.from_rotvec([3e-4, -3e-4, 2e-4]))
    bad = Georeference(g2.camera, tilted, g2.time)
    ref = write_lonlat_geotiff(tmp_path / "ref.tif", terrain.height_m.astype(np.float32), terrain.bounds)
    wide = (-3000.0, 5000.0)
    plain = compute_stereo(
        p.image1, p.image2, p.georef1, bad, StereoOptions(height_range_m=wide, refine_orientation=False)
    )
    assert plain.match.valid_fraction < 0.8  # rows no longer correspond
    r = compute_stereo(
        p.image1,
        p.image2,
        p.georef1,
        bad,
        StereoOptions(height_range_m=wide, align_to_reference=True),
        reference_dem=ref,
    )
    o = r.orientation
    assert o["vertical_parallax_rms_px_before"] > 1.0 > 0.3 > o["vertical_parallax_rms_px_after"]
    assert abs(o["aligned_to_reference_disparity_offset_px"]) > 1.0
    assert r.match.valid_fraction > 0.9
    assert abs(r.reference["mean_difference_m"]) < 15.0
    assert r.reference["rmse_over_predicted"] < 1.4


def test_rectified_closed_form_is_the_closest_approach_of_the_rays(flat_result):
    """Heights use the rectified frame's closed form; it is the rays' closest approach in ECEF."""
    r = flat_result
    rect, pts = r.rectification, r.points
    k = slice(None, None, max(1, len(pts) // 500))
    d = r.match.disparity_px[pts.y_px[k].astype(int), pts.x_px[k].astype(int)]
    meet = closest_approach(
        rect.centre1_m,
        rect.rays(pts.x_px[k], pts.y_px[k], 1),
        rect.centre2_m,
        rect.rays(pts.x_px[k] - d, pts.y_px[k], 2),
    )
    assert np.max(meet.miss_m) < 1e-2
    _, _, h = geodetic_of(meet.point_m)
    assert np.max(np.abs(h - pts.height_m[k])) < 2e-2  # ECEF rounding of the general form: ~1 cm
    assert np.allclose(meet.angle_rad, pts.angle_rad[k], atol=1e-6)
