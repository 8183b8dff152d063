"""Known-answer tests of each step of the night-lights calibration (cupola.nightlights)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rawpy")
pytest.importorskip("photutils")

from cupola.analysis import lamp_colour as colour  # noqa: E402
from cupola.errors import InputError  # noqa: E402
from cupola.io.dng import read_tiff_tags, write_dng  # noqa: E402
from cupola.nightlights import radiance  # noqa: E402
from cupola.nightlights.catalog import load_catalog  # noqa: E402
from cupola.nightlights.exposure import exposure_from_metadata  # noqa: E402
from cupola.nightlights.lens import lens_from_lensfun  # noqa: E402
from cupola.nightlights.photometry import Calibration, StarPhotometry, fit_zero_points  # noqa: E402
from cupola.nightlights.raw import read_raw, read_raw_metadata, subtract_dark  # noqa: E402

LENS = ("NIKON CORPORATION", "NIKON D5", "Nikon", "AF-S Zoom-Nikkor 24-70mm f/2.8G ED")


# -- RAW ------------------------------------------------------------------------------------------


def test_dng_round_trip_through_libraw(tmp_path):
    import rawpy

    rng = np.random.default_rng(1)
    mosaic = rng.integers(0, 15000, (40, 60)).astype(np.uint16)
    p = write_dng(
        tmp_path / "a.dng",
        mosaic,
        cfa_pattern="BGGR",
        black_level=600,
        white_level=15000,
        exposure_s=0.25,
        f_number=2.8,
        iso=6400,
        focal_mm=24,
        lens_make="Nikon",
        lens_model=LENS[3],
    )
    with rawpy.imread(str(p)) as raw:
        assert np.array_equal(raw.raw_image_visible, mosaic)
        assert raw.white_level == 15000
    tags = read_tiff_tags(p)
    assert tags["Model"] == "NIKON D5" and tags["ExposureTime"] == 0.25 and tags["ISOSpeedRatings"] == 6400
    meta = read_raw_metadata(p)
    assert (meta.exposure_s, meta.iso, meta.f_number, meta.focal_mm) == (0.25, 6400, 2.8, 24)
    assert meta.lens_model == LENS[3] and meta.cfa == "BGGR"


def test_read_raw_planes_black_level_and_saturation(tmp_path):
    m = np.full((32, 40), 600, np.uint16)
    m[0::2, 0::2] = 600 + 100  # B sites of a BGGR mosaic
    m[1::2, 1::2] = 600 + 300  # R sites
    m[0::2, 1::2] = 600 + 200  # G on the blue row
    m[1::2, 0::2] = 600 + 201
    m[3, 5] = 15000  # a saturated red pixel
    write_dng(
        tmp_path / "b.dng",
        m,
        cfa_pattern="BGGR",
        black_level=600,
        white_level=15000,
        exposure_s=1,
        f_number=2,
        iso=100,
        focal_mm=50,
    )
    f = read_raw(tmp_path / "b.dng")
    assert f.planes.shape == (4, 16, 20)
    r, g1, g2, b = f.planes
    assert r[0, 0] == 300 and b[0, 0] == 100 and {float(g1[0, 0]), float(g2[0, 0])} == {200.0, 201.0}
    assert f.offsets[0] == (1, 1) and f.offsets[3] == (0, 0)  # R at odd col and row in BGGR
    assert f.saturated[0, 1, 2] and f.saturated.sum() == 1  # raw (col 5, row 3) -> R plane (j 2, i 1)
    assert f.channel("G")[0, 0] == pytest.approx(200.5)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b"this is not a raw file at all" * 10, "not a readable RAW"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 200, "not a readable RAW"),
    ],
)
def test_corrupt_raw_is_one_clear_input_error(tmp_path, content, words):
    p = tmp_path / "bad.nef"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_raw(p)
    assert words in str(e.value) and "bad.nef" in str(e.value) and "\n" not in str(e.value)


def test_truncated_dng_is_refused(tmp_path):
    m = np.full((64, 64), 1000, np.uint16)
    p = write_dng(tmp_path / "t.dng", m, exposure_s=1, f_number=2, iso=100, focal_mm=50)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="t.dng"):
        read_raw(p)


def test_dark_frame_subtraction_removes_dark_signal_and_hot_pixels(tmp_path):
    from cupola.simulate.nightlights import make_frame

    kw = dict(width_px=240, height_px=160, exposure_s=30.0, dark_only=True, hot_pixel_fraction=5e-3, lens_model=None)
    make_frame(tmp_path / "light.dng", seed=1, **kw)
    make_frame(tmp_path / "dark.dng", seed=2, **kw)
    light, dark = read_raw(tmp_path / "light.dng"), read_raw(tmp_path / "dark.dng")
    assert light.planes.max() > 100  # hot pixels and amplifier glow are there before
    d = subtract_dark(light, dark)
    assert abs(float(d.planes.mean())) < 0.5
    assert float(np.percentile(np.abs(d.planes), 99.99)) < 0.3 * float(light.planes.max())
    assert d.dark.startswith("dark frame")


def test_star_light_grows_with_the_aperture_and_a_surface_does_not(tmp_path):
    """At the same f-number, exposure and ISO a 100 mm lens collects 16 times a 25 mm lens's light
    from a star (the aperture's area) but the same counts per pixel from a town (the pixel's solid
    angle falls as the aperture grows): measured on the rendered DNGs, isolated stars summed in a
    box, the town's centre read per Bayer plane. The generator once gave stars the same counts
    through every lens."""
    from cupola.simulate.nightlights import City, make_frame

    kw = dict(
        width_px=480, height_px=320, f_number=2.8, exposure_s=1.0, iso=100, lens_model=None, noise=False,
        vignetting=False, distortion=False, sky_e_per_px_s=0.0, dark_e_per_s=0.0, hot_pixel_fraction=0.0,
    )  # fmt: skip
    sky = {f: make_frame(tmp_path / f"s{f:g}.dng", focal_mm=f, rpy_deg=(0.0, 110.0, 0.0), rotation_rate_deg_s=0.0,
                         star_mag_limit=5.0, **kw) for f in (25.0, 100.0)}  # fmt: skip

    def box_sum(truth, j, half=3):
        raw = read_raw(truth.path)
        total = 0.0
        for plane, (oc, orow) in zip(raw.planes, raw.offsets, strict=True):
            i0 = int(round((truth.stars["row"][j] - orow) / 2))
            j0 = int(round((truth.stars["col"][j] - oc) / 2))
            total += float(plane[i0 - half : i0 + half + 1, j0 - half : j0 + half + 1].sum())
        return total

    wide, tele = sky[25.0].stars, sky[100.0].stars
    ratios = []
    for k in np.flatnonzero((tele["hip"] > 0) & tele["visible"]):
        j = int(np.flatnonzero(wide["hip"] == tele["hip"][k])[0])
        gap = np.hypot(wide["col"] - wide["col"][j], wide["row"] - wide["row"][j])
        gap[j] = np.inf
        inside = 16 < tele["col"][k] < 464 and 16 < tele["row"][k] < 304
        if gap.min() > 14 and inside:  # no other star in or near the wide frame's box
            ratios.append(box_sum(sky[100.0], k) / box_sum(sky[25.0], j))
    assert len(ratios) >= 2
    assert np.allclose(ratios, 16.0, rtol=0.03), ratios
    town = City(0.5, 0.5, 60_000.0, 0.3, (0.8, 0.3))
    centre = {}
    for f in (25.0, 100.0):
        t = make_frame(tmp_path / f"c{f:g}.dng", focal_mm=f, rpy_deg=(0.0, 0.0, 0.0), cities=[town], stars=False, **kw)
        centre[f] = np.array([p[78:82, 118:122].mean() for p in read_raw(t.path).planes])
    assert centre[25.0].min() > 20 and centre[25.0].max() < 10_000
    assert np.allclose(centre[100.0], centre[25.0], rtol=0.01), centre


# -- lens --------------------------------------------------------------------------------------------


def test_lensfun_vignetting_and_distortion_match_lensfunpy_modifier():
    lensfunpy = pytest.importorskip("lensfunpy")
    w, h = 696, 464
    lens = lens_from_lensfun(*LENS, focal_mm=50, f_number=2.8, width_px=w, height_px=h)
    assert lens.vignetting == "lensfun" and lens.distortion == "lensfun" and "AF-S Zoom-Nikkor 24-70mm" in lens.source
    db = lensfunpy.Database()
    cam = db.find_cameras("NIKON CORPORATION", "NIKON D5")[0]
    lf = db.find_lenses(cam, "Nikon", LENS[3])[0]
    mod = lensfunpy.Modifier(lf, cam.crop_factor, w, h)
    mod.initialize(50, 2.8, 1000, scale=1.0, pixel_format=np.float32)
    img = np.ones((h, w, 3), np.float32)
    assert mod.apply_color_modification(img)
    gain_lensfun = img[..., 1]
    yy, xx = np.mgrid[0:h, 0:w]
    ours = 1.0 / lens.relative_illumination(xx, yy)
    assert np.max(np.abs(ours / gain_lensfun - 1)) < 2e-4
    assert gain_lensfun.max() > 2.0  # strong vignetting wide open: a real test
    geo = mod.apply_geometry_distortion()
    dc, dr = lens.distort(xx.astype(float), yy.astype(float))
    assert np.max(np.hypot(dc - geo[..., 0], dr - geo[..., 1])) < 0.15
    # inverse
    uc, ur = lens.undistort(dc, dr)
    assert np.max(np.hypot(uc - xx, ur - yy)) < 1e-6


def test_plane_gain_is_inverse_vignetting_at_plane_pixels():
    lens = lens_from_lensfun(*LENS, focal_mm=24, f_number=4, width_px=600, height_px=400)
    g = lens.plane_gain((1, 0), (200, 300))
    assert g[10, 20] == pytest.approx(1.0 / lens.relative_illumination(2 * 20 + 1, 2 * 10 + 0), rel=1e-5)


def test_unknown_lens_falls_back_with_a_reason():
    lens = lens_from_lensfun(
        "NIKON CORPORATION",
        "NIKON D5",
        "Nikon",
        "Imaginary 13mm f/0.7",
        focal_mm=13,
        f_number=0.7,
        width_px=600,
        height_px=400,
    )
    assert lens.vignetting == "none" and "not in the lensfun database" in lens.source
    assert np.all(lens.plane_gain((0, 0), (5, 5)) == 1)


# -- exposure, catalog, radiance, colour --------------------------------------------------------


def test_exposure_normalisation_and_missing_exif(tmp_path):
    p = write_dng(
        tmp_path / "e.dng", np.zeros((32, 32), np.uint16), exposure_s=0.5, f_number=2.8, iso=6400, focal_mm=50
    )
    e = exposure_from_metadata(read_raw_metadata(p))
    assert e.rate_factor == pytest.approx((100 / 6400) * 2.8**2 / 0.5)
    q = write_dng(
        tmp_path / "n.dng", np.zeros((32, 32), np.uint16), exposure_s=None, f_number=2.8, iso=6400, focal_mm=50
    )
    with pytest.raises(InputError, match="ExposureTime missing.*`exposure_s`"):
        exposure_from_metadata(read_raw_metadata(q))
    assert exposure_from_metadata(read_raw_metadata(q), exposure_s=2.0).exposure_s == 2.0


def test_hipparcos_catalog_known_stars():
    cat = load_catalog(1.0)
    sirius = np.flatnonzero(cat.hip == 32349)[0]
    assert cat.hp_mag[sirius] == pytest.approx(-1.0876) and cat.b_v[sirius] == pytest.approx(0.009)
    v = cat.unit_vectors(2000.0)[sirius]
    ra, dec = np.degrees(np.arctan2(v[1], v[0])) % 360, np.degrees(np.arcsin(v[2]))
    assert ra == pytest.approx(101.287, abs=0.01) and dec == pytest.approx(-16.716, abs=0.01)  # SIMBAD J2000
    assert np.all(np.diff(cat.hp_mag) >= 0)


def test_airmass_kasten_young():
    assert radiance.airmass(0.0) == pytest.approx(0.9997, abs=1e-3)
    assert radiance.airmass(60.0) == pytest.approx(1.9942, abs=2e-3)
    assert radiance.airmass(85.0) == pytest.approx(10.32, rel=0.01)


def _cal(zp=13.0):
    d = {c: zp for c in "RGB"}
    z = {c: 0.0 for c in "RGB"}
    return Calibration(d, z, z, z, {c: 10 for c in "RGB"}, z)


def test_radiance_is_linear_and_saturation_is_nan():
    cal = _cal()
    s = np.array([[1.0, 2.0, 4.0]], np.float32)
    sat = np.array([[False, False, True]])
    rad = radiance.radiance_planes({c: s for c in "RGB"}, {c: sat for c in "RGB"}, cal, 1e-8, airmass_map=None)
    e0 = cal.band_irradiance_w_m2["G"]
    assert rad[1, 0, 0] == pytest.approx(e0 * 10 ** (-0.4 * 13.0) / 1e-8 * 1e5, rel=1e-6)
    assert rad[1, 0, 1] == pytest.approx(2 * rad[1, 0, 0], rel=1e-6)
    assert np.isnan(rad[:, 0, 2]).all()
    am = np.full((1, 3), 2.0, np.float32)
    rad2 = radiance.radiance_planes({c: s for c in "RGB"}, {c: sat for c in "RGB"}, cal, 1e-8, airmass_map=am)
    assert rad2[2, 0, 0] / rad[2, 0, 0] == pytest.approx(10 ** (0.4 * 0.25 * 2.0), rel=1e-5)


def test_lamp_classes_from_ratios():
    from cupola.nightlights.photometry import VEGA_BAND_IRRADIANCE_W_M2
    from cupola.nightlights.radiance import DEFAULT_EXTINCTION_MAG
    from cupola.simulate.nightlights import LAMP_RADIANCE_RATIOS

    # the simulator's radiance ratios, turned into the camera system as the pipeline does
    codes = {"hps": 1, "led": 2, "metal_halide": 2, "fluorescent": 2, "mercury": 2, "amber_led": 3}
    gr = np.array([LAMP_RADIANCE_RATIOS[k][0] for k in codes] + [np.nan, 0.4])
    bg = np.array([LAMP_RADIANCE_RATIOS[k][1] for k in codes] + [0.5, 4.0])
    cam = colour.camera_ratios_from_radiance(
        np.stack([gr, bg]), VEGA_BAND_IRRADIANCE_W_M2, extinction_mag=DEFAULT_EXTINCTION_MAG
    )
    out = colour.classify_lamps(cam)
    assert out.tolist() == list(codes.values()) + [colour.CLASS_NODATA, colour.CLASS_UNCLASSIFIED]
    rad = np.array([[[10.0, 1.0]], [[5.0, 2.0]], [[1.0, -0.1]]])
    r = colour.colour_ratios(rad, min_g=3.0)
    assert r[0, 0, 0] == pytest.approx(0.5) and r[1, 0, 0] == pytest.approx(0.2) and np.isnan(r[0, 0, 1])


# -- zero points -----------------------------------------------------------------------------------


def test_zero_point_fit_recovers_known_constants_and_rejects_outliers():
    rng = np.random.default_rng(3)
    n = 60
    hp = rng.uniform(3, 6.5, n)
    bv = rng.uniform(-0.1, 1.6, n)
    truth = {"R": (13.2, -0.45), "G": (13.55, -0.05), "B": (13.05, 0.55)}
    flux, err = {}, {}
    for c, (zp, a) in truth.items():
        f = 10 ** (-0.4 * (hp + a * bv - zp))
        flux[c] = f * (1 + rng.normal(0, 0.02, n))
        err[c] = 0.02 * f
    flux["G"][0] *= 3.0  # a blended star
    phot = StarPhotometry(np.arange(n), np.zeros(n), np.zeros(n), flux, err, np.ones(n, bool), [""] * n)
    cal = fit_zero_points(phot, hp, bv)
    for c, (zp, a) in truth.items():
        assert abs(cal.zero_points[c] - zp) < 3 * cal.zero_point_err[c] + 0.005
        assert abs(cal.colour_terms[c] - a) < 0.03
    assert cal.n_stars["G"] == n - 1
    back = Calibration.from_dict(cal.to_dict())
    assert back.zero_points == cal.zero_points


def test_calibration_file_errors(tmp_path):
    from cupola.nightlights.photometry import read_calibration

    with pytest.raises(InputError, match="no such calibration"):
        read_calibration(tmp_path / "none.json")
    (tmp_path / "c.json").write_text('{"zero_points_mag": {"R": 1}}')
    with pytest.raises(InputError, match="zero_points_mag"):
        read_calibration(tmp_path / "c.json")
