"""Localization: synthetic homographies of a real reference (known answers), right-angle and
arbitrary rotations, rejection of other places, blank and cloudy photos, bad inputs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.locate import homography as hg
from cupola.locate.localize import Localizer, LocateOptions, photo_quality
from cupola.locate.reference import check_bounds, load_reference

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
CHILE = SAMPLES / "ISS064-E-358"
CHILE_BOUNDS = (-71.01562, -20.30615, -68.90626, -18.31547)
NEW_MEXICO = SAMPLES / "ISS064-E-46242"
NEW_MEXICO_BOUNDS = (-105.4248, 34.05273, -105.16113, 34.27089)


@pytest.fixture(scope="module")
def chile_ref():
    return load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS)


@pytest.fixture(scope="module")
def localizer():
    # the synthetic photos span ~73 km: what a 207 mm lens sees from 420 km; no nadir prior
    return Localizer(LocateOptions(matcher="aliked", focal_mm=207.0))


def synthetic_photo(ref, theta_deg, centre=(600.0, 430.0), half=170.0, tilt=0.0, size=768):
    """A 'photo' cut from the reference: a rotated (and optionally keystoned) square around
    ``centre``, resampled to ``size`` px. Returns the photo and its centre's true lon/lat."""
    import cv2

    a = np.radians(theta_deg)
    sq = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    sq[:2] *= 1.0 - tilt  # far edge shorter: an oblique view
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = sq @ rot.T + centre
    dst = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], float)
    h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    photo = cv2.warpPerspective(ref.image, h, (size, size), flags=cv2.INTER_CUBIC)
    c = hg.apply_h(np.linalg.inv(h), np.array([[(size - 1) / 2, (size - 1) / 2]]))[0]
    lon, lat = ref.pixel_to_lonlat(c[0], c[1])
    return photo, (float(lon), float(lat))


def _error_m(result, truth):
    from pyproj import Geod

    return Geod(ellps="WGS84").inv(*result.center_lonlat, *truth)[2]


@pytest.mark.parametrize("theta", [0, 90, 180, 270])
def test_right_angle_rotations_known_answer(chile_ref, localizer, theta):
    photo, truth = synthetic_photo(chile_ref, theta + 3.0)
    res = localizer.locate(photo, [chile_ref])
    assert res.matched, res.reason
    assert _error_m(res, truth) < 500.0  # the reference pixel is ~215 m
    assert res.rotation_deg is not None


@pytest.mark.parametrize("theta,tilt", [(35.0, 0.0), (-25.0, 0.25)])
def test_arbitrary_rotation_and_obliquity(chile_ref, localizer, theta, tilt):
    photo, truth = synthetic_photo(chile_ref, theta, tilt=tilt)
    res = localizer.locate(photo, [chile_ref])
    assert res.matched, res.reason
    assert _error_m(res, truth) < 500.0


def test_other_place_is_rejected(localizer):
    # the Chilean coast looked for on a New Mexico mosaic
    photo, _ = synthetic_photo(load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS), 0.0)
    res = localizer.locate(photo, [load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS)])
    assert not res.matched
    assert res.reason and res.confidence == 0.0


def test_blank_and_cloud_photos_are_rejected_with_reason(chile_ref, localizer):
    blank = np.full((512, 512, 3), 90, np.uint8)
    ok, why = photo_quality(blank)
    assert not ok and "blank" in why
    res = localizer.locate(blank, [chile_ref])
    assert not res.matched and "blank" in res.reason
    rng = np.random.default_rng(0)
    deck = rng.normal(0, 8, (512, 512, 1))
    cloud = np.clip(np.array([228.0, 232.0, 240.0]) + deck, 0, 255).astype(np.uint8)  # white, a faint blue cast
    res = localizer.locate(cloud, [chile_ref])
    assert not res.matched and "cloud" in res.reason
    # a picture without colour: only its near-white pixels count as cloud, in either form
    grey_deck = np.clip(246 + 0.75 * deck[..., 0], 0, 255).astype(np.uint8)
    for picture in (grey_deck, np.dstack([grey_deck] * 3)):
        res = localizer.locate(picture, [chile_ref])
        assert not res.matched and "cloud" in res.reason


def test_a_grey_picture_stored_as_rgb_gets_the_masks_of_its_single_band():
    """Clouds are bright *and* colourless, a window's frame dark *and* colourless: in a grey picture
    every pixel is colourless, so stored as RGB (also through JPEG's chroma noise) it is judged as its
    single band is. Before, the bright half of a grey thermal scene was taken for cloud and its dark
    half for a window's frame. The bundled colour photos are not taken for grey."""
    import cv2

    from cupola.locate.localize import cloud_mask, colourless, frame_mask, remove_haze, to_gray

    for case in (CHILE, NEW_MEXICO):
        photo = cv2.cvtColor(cv2.imread(str(case / "photo.jpg")), cv2.COLOR_BGR2RGB)
        assert not colourless(photo)
        grey = to_gray(photo)
        stored = cv2.imdecode(cv2.imencode(".jpg", np.dstack([grey] * 3), [cv2.IMWRITE_JPEG_QUALITY, 80])[1], 1)
        assert colourless(grey) and colourless(stored)
        assert np.array_equal(cloud_mask(np.dstack([grey] * 3)), cloud_mask(grey))
        assert np.array_equal(cloud_mask(stored), cloud_mask(to_gray(stored)))
        assert not frame_mask(np.dstack([grey] * 3)).any() and not frame_mask(stored).any()
    # a grey scene whose bright half is ground: the colour test took all of it for cloud
    ramp = np.tile(np.linspace(0, 255, 512).astype(np.uint8), (512, 1))
    assert cloud_mask(remove_haze(np.dstack([ramp] * 3))).mean() < 0.1


def test_prior_discards_candidates_beyond_the_horizon(chile_ref):
    loc = Localizer(LocateOptions(matcher="sift", focal_mm=240, nadir_lonlat=(35.4, -4.2)))
    res = loc.locate(np.zeros((64, 64, 3), np.uint8) + np.arange(64, dtype=np.uint8)[:, None, None], [chile_ref])
    assert not res.matched and "horizon" in res.reason


def test_reference_mapping_round_trip(chile_ref):
    lon, lat = chile_ref.pixel_to_lonlat([-0.5, 1023.5], [-0.5, 1023.5])
    assert lon[0] == pytest.approx(CHILE_BOUNDS[0]) and lat[0] == pytest.approx(CHILE_BOUNDS[3])
    assert lon[1] == pytest.approx(CHILE_BOUNDS[2]) and lat[1] == pytest.approx(CHILE_BOUNDS[1])
    c, r = chile_ref.lonlat_to_pixel(lon, lat)
    assert np.allclose(c, [-0.5, 1023.5]) and np.allclose(r, [-0.5, 1023.5])


def test_geotiff_reference(tmp_path, chile_ref):
    from cupola.io.geotiff import write_lonlat_geotiff

    path = write_lonlat_geotiff(tmp_path / "ref.tif", chile_ref.image, CHILE_BOUNDS)
    ref = load_reference(path)
    assert np.allclose(ref.pixel_to_lonlat(100.0, 200.0), chile_ref.pixel_to_lonlat(100.0, 200.0))


def test_projected_16_bit_reference_with_nodata_is_located(tmp_path, chile_ref, localizer):
    """A reference as satellite archives deliver it: UTM (not lon/lat), 16-bit reflectance-like
    numbers, a fourth (near-infrared) band and a nodata wedge at a scene edge. The photo, cut from the
    lon/lat reference, is found on it at the same ground point (pyproj maps UTM to lon/lat)."""
    import rasterio
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    h, w = chile_ref.image.shape[:2]
    west, south, east, north = CHILE_BOUNDS
    src_t = Affine((east - west) / w, 0.0, west, 0.0, -(north - south) / h, north)
    utm = "EPSG:32719"
    dst_t, dw, dh = calculate_default_transform("EPSG:4326", utm, w, h, *CHILE_BOUNDS)
    bands = np.zeros((4, dh, dw), np.uint16)
    for i in range(3):
        dn = np.zeros((dh, dw), np.float32)
        reproject(chile_ref.image[..., i].astype(np.float32) * 40 + 500, dn, src_transform=src_t,
                  src_crs="EPSG:4326", dst_transform=dst_t, dst_crs=utm, resampling=Resampling.bilinear,
                  dst_nodata=0)  # fmt: skip
        bands[i] = dn.astype(np.uint16)
    bands[3] = bands[1] // 2
    rows, cols = np.mgrid[:dh, :dw]
    bands[:, cols > 0.85 * dw + 0.3 * (rows - dh / 2)] = 0  # the scene's edge: nodata east of it
    path = tmp_path / "ref_utm.tif"
    profile = dict(driver="GTiff", width=dw, height=dh, count=4, dtype="uint16", crs=utm, transform=dst_t, nodata=0)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(bands)
    ref = load_reference(path)
    assert ref.image.dtype == np.uint8 and ref.image.shape == (dh, dw, 3)
    photo, truth = synthetic_photo(chile_ref, 90.0)
    res = localizer.locate(photo, [ref])
    assert res.matched, res.reason
    assert _error_m(res, truth) < 500.0


def test_folded_contrast_is_the_same_for_a_scene_and_its_negative(chile_ref):
    """The folded image keeps local contrast whatever its sign: a reference and its negative look
    alike after it (correlation > 0.8), while after CLAHE alone they are opposites."""
    from cupola.locate.localize import normalise, to_gray

    g = to_gray(chile_ref.image)
    neg = 255 - g

    def corr(a, b):
        return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])

    assert corr(normalise(g), normalise(neg)) < -0.5
    assert corr(normalise(g, "folded"), normalise(neg, "folded")) > 0.8
    with pytest.raises(InputError, match="contrast"):
        normalise(g, "inverted")


def test_a_negative_photo_is_found_by_the_contrast_folded_retry(chile_ref):
    """Contrast reversed everywhere (the photo as a negative): the search on CLAHE images finds
    nothing; the retry on contrast-folded images finds it at the right place, and says so."""
    photo, truth = synthetic_photo(chile_ref, 90.0, size=512)
    opts = LocateOptions(matcher="aliked", focal_mm=207.0, diagonal_turns=False)  # a right angle: no diagonals
    res = Localizer(opts).locate(255 - photo, [chile_ref])
    assert res.matched, res.reason
    # the retry runs only once the search on CLAHE images has rejected every candidate
    assert "contrast-folded" in res.reason and "contrast-folded retry" in res.timings_s
    assert _error_m(res, truth) < 500.0


def test_reference_features_in_memory_are_bounded_and_read_only_by_the_same_object(chile_ref):
    """A localizer keeps the most recent REF_FEATURES_IN_MEMORY reference feature sets, not every
    tile a long run visits; an in-memory reference (no content id) is known by id(), which Python
    reuses for a new object once the old one is gone: its entry must not be read for another."""
    import weakref

    from cupola.locate.localize import REF_FEATURES_IN_MEMORY
    from cupola.locate.reference import Reference

    loc = Localizer(LocateOptions(matcher="sift"))
    img = chile_ref.image[:256, :256]
    tile = (0, 0, 256, 256)
    alive = [Reference(np.roll(img, k, axis=1), f"r{k}") for k in range(REF_FEATURES_IN_MEMORY + 6)]
    for ref in alive:  # kept alive, so that no two share an id()
        loc._ref_features(ref, tile, 256)
    assert len(loc._ref_cache) == REF_FEATURES_IN_MEMORY
    a = Reference(img, "a")
    b = Reference(np.ascontiguousarray(img[::-1]), "b")  # another place
    fa, ratio = loc._ref_features(a, tile, 256)
    # b given a's entry under its own id, as if a had been freed and its id reused
    loc._ref_cache[(id(b), tile, 256)] = (fa, ratio, weakref.ref(a))
    fb, _ = loc._ref_features(b, tile, 256)
    assert fb is not fa and not np.array_equal(fb.keypoints, fa.keypoints)
    assert loc._ref_features(b, tile, 256)[0] is fb  # the same object: read from memory
    # a reference read from a file is known by its content, whatever object holds it
    again = load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS)
    assert loc._ref_features(chile_ref, tile, 256)[0] is loc._ref_features(again, tile, 256)[0]


def test_a_small_desert_tile_of_another_place_is_not_taken():
    """One of the pool bench's distractors: a 322-px crop of the New Mexico mosaic (re-toned by a
    gamma of 0.83). Against it the Chilean photo found nothing in the first search, and session 44's
    second search, on contrast-folded images, accepted it (79 inliers at ratio 0.39, 10,000 km from
    the truth). A reference smaller than ref_px is not searched on folded images any more."""
    import cv2

    from cupola.locate.job import read_photo_rgb
    from cupola.locate.reference import Reference

    nm = load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS)
    c0, r0, side = 366, 550, 352
    crop = cv2.resize(nm.image[r0 : r0 + side, c0 : c0 + side], (322, 322), interpolation=cv2.INTER_AREA)
    crop = (255.0 * (crop / 255.0) ** 0.8341).astype(np.uint8)
    lon, lat = nm.pixel_to_lonlat(np.array([c0 - 0.5, c0 + side - 0.5]), np.array([r0 - 0.5, r0 + side - 0.5]))
    tile = Reference(crop, "new_mexico_crop", bounds=(lon.min(), lat.min(), lon.max(), lat.max()))
    res = Localizer(LocateOptions()).locate(read_photo_rgb(CHILE / "photo.jpg"), [tile])
    assert not res.matched, res.reason


def _own_tile(name: str, c0: int, r0: int, side: int):
    """The case's photo, a ``side``-px tile of its own mosaic at (``c0``, ``r0``) at the mosaic's
    resolution (a neighbouring tile of a grid pool), and the labelled footprint's centre."""
    from cupola.locate.job import read_photo_rgb
    from cupola.locate.reference import Reference
    from cupola.simulate.locate_cases import read_base_case

    base = read_base_case(SAMPLES / name)
    ref = Reference(base.reference, name, bounds=base.bounds)
    lon, lat = ref.pixel_to_lonlat(np.array([c0 - 0.5, c0 + side - 0.5]), np.array([r0 - 0.5, r0 + side - 0.5]))
    img = np.ascontiguousarray(base.reference[r0 : r0 + side, c0 : c0 + side])
    tile = Reference(img, f"{name}_tile", bounds=(lon.min(), lat.min(), lon.max(), lat.max()))
    return read_photo_rgb(SAMPLES / name / "photo.jpg"), tile, base.center_lonlat


def test_a_wrong_match_on_a_tile_holding_part_of_the_footprint_is_not_taken():
    """A 341-px tile of the Crimean mosaic that holds a fifth of the photo's footprint: the photo's
    features matched another stretch of the same coast there, and it was accepted 38 km from the
    label (42 inliers at ratio 0.36; those inliers lie 37 km from where the whole mosaic puts them).
    A reference smaller than ref_px now needs 60 inliers. A 512-px tile of the Syrian mosaic holding
    a tenth of that photo's footprint is still found (88 inliers), its centre extended from the
    tile within 1 km."""
    from cupola.locate.localize import ground_distance_m

    photo, tile, _ = _own_tile("ISS062-E-150758", 511, 511, 341)
    loc = Localizer(LocateOptions())
    res = loc.locate(photo, [tile])
    assert not res.matched, res.reason
    assert "smaller than 1024 px" in res.reason
    assert loc.bars(tile) == (60, 0.3) and loc.bars((1024, 1024)) == (25, 0.3)
    photo, tile, truth = _own_tile("ISS050-E-70536", 0, 512, 512)
    res = loc.locate(photo, [tile])
    assert res.matched, res.reason
    assert ground_distance_m(*res.center_lonlat, *truth) < 1000.0


def test_a_rejection_on_a_small_reference_keeps_every_reason(monkeypatch):
    """The raised bar's note and the outline's own reason both reach the rejection (the note once
    overwrote the outline's reason: "inlier ratio ... below 0.3;  on a reference smaller than 1024
    px")."""
    from cupola.locate import homography as hg

    photo, tile, _ = _own_tile("ISS050-E-70536", 0, 512, 512)
    monkeypatch.setattr(hg, "quad_is_sane", lambda corners, allow_mirror=True: (False, "a test outline"))
    res = Localizer(LocateOptions(small_ref_min_inliers=100_000)).locate(photo, [tile])
    assert not res.matched
    assert "(need 100000 on a reference smaller than 1024 px)" in res.reason and "a test outline" in res.reason
    assert res.reason.count("smaller than 1024 px") == 1


def test_a_reference_narrower_than_the_lens_footprint_is_named_in_the_rejection(chile_ref):
    """Tiles smaller than the photo's footprint are never found (session 46: 0 of 40). With a focal
    length the rejection says so when every reference is narrower than the ground the lens sees."""
    from cupola.locate.localize import bounds_width_m, expected_widths_m, narrower_than_footprint

    photo, _ = synthetic_photo(chile_ref, 0.0, size=384)
    nm = load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS)
    opts = LocateOptions(matcher="sift", focal_mm=207.0, contrast_retry=False)
    across, sees = bounds_width_m(nm.lonlat_bounds()) / 1000, min(expected_widths_m(opts, nm)) / 1000
    assert 20 < across < 30 and 60 < sees < 90  # the New Mexico mosaic; 420 km x 36 mm / 207 mm
    res = Localizer(opts).locate(photo, [nm])
    assert not res.matched
    assert f"the reference is {across:.0f} km across, less than the {sees:.0f} km a 207 mm lens sees" in res.reason
    # without a focal length, or with one reference wide enough, nothing is claimed
    assert "km across" not in Localizer(LocateOptions(matcher="sift", contrast_retry=False)).locate(photo, [nm]).reason
    assert narrower_than_footprint(opts, [nm, chile_ref]) == ""
    assert narrower_than_footprint(opts, []) == ""


def test_the_contrast_retry_follows_a_search_and_not_a_pool_tile_or_a_blank_photo(chile_ref):
    from cupola.locate.reference import Reference

    photo, _ = synthetic_photo(chile_ref, 0.0, size=384)
    other = load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS)
    loc = Localizer(LocateOptions(matcher="sift", focal_mm=207.0))
    res = loc.locate(photo, [other])
    assert not res.matched and "contrast-folded retry" in res.timings_s
    assert "contrast-folded retry" not in loc.locate(photo, [other], contrast_retry=False).timings_s
    # a reference smaller than the first pass's size (ref_px) is not searched on folded images
    small = Reference(other.image[:512, :512], "small", bounds=(0.0, 0.0, 0.5, 0.5))
    assert not loc.folded_search_allowed(small) and loc.folded_search_allowed(other)
    assert "contrast-folded retry" not in loc.locate(photo, [small]).timings_s
    blank = loc.locate(np.full((256, 256, 3), 90, np.uint8), [other])
    assert "blank" in blank.reason and "contrast-folded retry" not in blank.timings_s
    off = Localizer(LocateOptions(matcher="sift", focal_mm=207.0, contrast_retry=False))
    assert "contrast-folded retry" not in off.locate(photo, [other]).timings_s
    # the second search: folded images, its own (higher) inlier bar, no third search, the same cache
    second = loc.folded_localizer()
    assert second.opts.contrast == "folded" and second.opts.min_inliers == loc.opts.contrast_retry_min_inliers
    assert loc.opts.contrast_retry_min_inliers > loc.opts.min_inliers
    assert not second.retries_on_folded_contrast and second.cache is loc.cache and loc.folded_localizer() is second


@pytest.mark.parametrize(
    "bounds,match",
    [
        ((10, 5, 0, 6), "not a box"),
        ((0, 6, 1, 5), "not a box"),
        ((0, -95, 1, 5), "not a box"),
        (("a", 1, 2, 3), "four numbers"),
    ],
)
def test_bounds_must_be_a_box(bounds, match):
    with pytest.raises(InputError, match=match):
        check_bounds(bounds)


def test_homography_helpers():
    for k in range(4):
        m = np.arange(12.0).reshape(3, 4)
        rot = np.rot90(m, k)
        h = hg.rot90_h(k, 4, 3)
        for r in range(rot.shape[0]):
            for c in range(rot.shape[1]):
                x, y = hg.apply_h(h, np.array([[c, r]], float))[0]
                assert m[int(round(y)), int(round(x))] == rot[r, c]
    ok, _ = hg.quad_is_sane(np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float))
    assert ok
    bad, why = hg.quad_is_sane(np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float))
    assert not bad and "self-intersecting" in why


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cupola", *args], capture_output=True, text=True, timeout=300)


def test_cli_locate_real_case_and_products(tmp_path):
    out = tmp_path / "out"
    p = _cli(
        "locate",
        str(CHILE / "photo.jpg"),
        "--reference",
        str(CHILE / "reference.jpg"),
        "--bounds",
        *map(str, CHILE_BOUNDS),
        "--focal-mm",
        "240",
        "--nadir",
        "-20.6",
        "-73.3",
        "--out",
        str(out),
        "--quiet",
        "--verbose",
    )
    assert p.returncode == 0, p.stderr
    times = dict(line[5:].rsplit(": ", 1) for line in p.stdout.splitlines() if line.startswith("time "))
    assert {"reference features", "matching", "writing products", "total"} <= set(times)
    assert sum(float(v[:-2]) for k, v in times.items() if k != "total") == pytest.approx(
        float(times["total"][:-2]), abs=0.1
    )
    d = json.loads((out / "result.json").read_text())
    assert d["matched"] and d["confidence"] > 0.5
    truth = json.loads((CHILE / "case.json").read_text())["truth"]["footprint_center_lat_lon"]
    from pyproj import Geod

    assert Geod(ellps="WGS84").inv(d["center"]["lon_deg"], d["center"]["lat_deg"], truth[1], truth[0])[2] < 2000
    for name in ("footprint.geojson", "georef.tif", "matches.png"):
        assert (out / name).is_file()
    import rasterio

    with rasterio.open(out / "georef.tif") as ds:
        assert ds.crs.to_epsg() == 4326


def test_cli_locate_wrong_candidate_exit_3(tmp_path):
    out = tmp_path / "out"
    p = _cli(
        "locate",
        str(NEW_MEXICO / "photo.jpg"),
        "--reference",
        str(NEW_MEXICO / "reference.jpg"),
        "--bounds",
        *map(str, NEW_MEXICO_BOUNDS),
        "--focal-mm",
        "420",
        "--nadir",
        "-4.2",
        "35.4",
        "--out",
        str(out),
        "--quiet",
    )
    assert p.returncode == 3
    assert json.loads((out / "result.json").read_text())["matched"] is False
    assert not (out / "footprint.geojson").exists()


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--bounds", "10", "5", "0", "6"], "not a box"),
        (["--bounds", "1", "2", "3", "4", "--focal-mm", "-5"], "--focal-mm"),
    ],
)
def test_cli_locate_bad_input(tmp_path, extra, match):
    out = tmp_path / "out"
    p = _cli("locate", str(CHILE / "photo.jpg"), "--reference", str(CHILE / "reference.jpg"), *extra, "--out", str(out))
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and match in p.stderr
    assert not out.exists()


def test_cli_locate_unreadable_files(tmp_path):
    junk = tmp_path / "photo.jpg"
    junk.write_text("not an image")
    p = _cli(
        "locate",
        str(junk),
        "--reference",
        str(CHILE / "reference.jpg"),
        "--bounds",
        *map(str, CHILE_BOUNDS),
        "--out",
        str(tmp_path / "o"),
    )
    assert p.returncode == 2 and "photo.jpg" in p.stderr
    p = _cli("locate", str(CHILE / "photo.jpg"), "--reference", str(junk), "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "photo.jpg" in p.stderr
    assert not (tmp_path / "o").exists()


def test_batch_on_dask_writes_skips_and_records_failures(tmp_path):
    from cupola.locate.batch import run_batch

    b = CHILE_BOUNDS
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "id,photo,reference,west,south,east,north,nadir_lat,nadir_lon,focal_mm\n"
        f"chile,{CHILE / 'photo.jpg'},{CHILE / 'reference.jpg'},{b[0]},{b[1]},{b[2]},{b[3]},-20.6,-73.3,240\n"
        f"missing,{tmp_path / 'nope.jpg'},{CHILE / 'reference.jpg'},{b[0]},{b[1]},{b[2]},{b[3]},,,\n"
    )
    out = tmp_path / "out"
    counts = run_batch(catalog, out, matcher="sift", workers=1)
    assert counts["matched"] == 1 and counts["failed"] == 1
    assert json.loads((out / "chile" / "result.json").read_text())["matched"] is True
    assert "nope.jpg" in json.loads((out / "missing" / "failed.json").read_text())["error"]
    again = run_batch(catalog, out, matcher="sift", workers=1)
    assert again["skipped"] == 1 and again["failed"] == 1  # the finished photo is not redone


def test_evaluate_cli_on_bundled_cases_sift():
    p = _cli("locate", "evaluate", str(SAMPLES), "--matcher", "sift", "--no-prior")
    assert p.returncode == 0, p.stderr
    assert "false accepts 0/1" in p.stdout


def test_folder_of_tiles_picks_the_right_one(tmp_path, chile_ref, localizer):
    from cupola.io.geotiff import write_lonlat_geotiff
    from cupola.locate.reference import load_references

    tiles = tmp_path / "tiles"
    tiles.mkdir()
    for name, folder, bounds in (
        ("a_new_mexico.tif", NEW_MEXICO, NEW_MEXICO_BOUNDS),
        ("b_chile.tif", CHILE, CHILE_BOUNDS),
    ):
        write_lonlat_geotiff(tiles / name, load_reference(folder / "reference.jpg", bounds=bounds).image, bounds)
    refs = load_references(tiles)
    assert [r.name for r in refs] == ["a_new_mexico.tif", "b_chile.tif"]
    photo, truth = synthetic_photo(chile_ref, 10.0)
    res = localizer.locate(photo, refs)
    assert res.matched and res.reference == "b_chile.tif"
    assert _error_m(res, truth) < 500.0


def test_tle_and_time_give_the_nadir_prior():
    from cupola.locate.job import nadir_from_tle

    tle = SAMPLES.parent / "iss-meteor-2017" / "iss_tle_25544_20170101-20170630.txt"
    lat, lon = nadir_from_tle(tle, "2017-05-17T05:44:09.526Z")
    assert lat == pytest.approx(30.174, abs=0.01) and lon == pytest.approx(-101.365, abs=0.01)


def test_xfeat_matcher_known_answer(chile_ref):
    loc = Localizer(LocateOptions(matcher="xfeat", focal_mm=207.0))
    photo, truth = synthetic_photo(chile_ref, 183.0)
    res = loc.locate(photo, [chile_ref])
    assert res.matched and res.matcher == "xfeat", res.reason
    assert _error_m(res, truth) < 500.0


def test_unlabelled_case_is_not_scored_as_a_false_accept():
    from cupola.locate.evaluate import CaseOutcome, expected_match, summarise

    assert expected_match({"truth": {"footprint_center_lat_lon": [1, 2]}}) is True
    assert expected_match({"expected": {"photo_inside_reference": False}, "truth": {}}) is False
    assert expected_match({"metadata": {}}) is None
    outcomes = [
        CaseOutcome("a", None, True, 0.9, None, None, None, 1.0, ""),
        CaseOutcome("b", False, False, 0.0, None, None, None, 1.0, ""),
    ]
    s = summarise(outcomes)
    assert (s["false_accepts"], s["wrong_candidates"], s["unlabelled"]) == (0, 1, 1)
    assert outcomes[0].correct is None and outcomes[1].correct is True


def test_mutual_nearest_pairs_are_mutual(chile_ref, localizer):
    from cupola.locate.localize import to_gray

    gray = to_gray(chile_ref.image)
    f0 = localizer.matcher.extract(gray[:400, :400], max_keypoints=300)
    f1 = localizer.matcher.extract(np.ascontiguousarray(gray[50:450, 30:430]), max_keypoints=300)
    i0, i1 = localizer.matcher.mutual_nearest(f0, f1)
    assert len(i0) > 30 and len(set(i0)) == len(i0) and len(set(i1)) == len(i1)
    d0, d1 = f0.descriptors.numpy(), f1.descriptors.numpy()
    sim = d0 @ d1.T
    assert np.array_equal(sim[i0].argmax(1), i1) and np.array_equal(sim[:, i1].argmax(0), i0)
    # the shifted crop: most mutual pairs are the same ground point, (30, 50) px apart
    shift = f0.keypoints[i0] - f1.keypoints[i1]
    assert np.mean(np.hypot(shift[:, 0] - 30, shift[:, 1] - 50) < 2.0) > 0.5


def test_quick_stage_finds_the_turn_without_lightglue(chile_ref):
    # a clear photo: the mutual-nearest stage ranks the turn and one LightGlue pass (the
    # coregistration) settles it; with the stage off the same answer comes from the full search
    photo, truth = synthetic_photo(chile_ref, 273.0)  # the last right angle tried without a prior
    quick = Localizer(LocateOptions(matcher="aliked", focal_mm=207.0))
    calls = []
    match = quick.matcher.match
    quick.matcher.match = lambda a, b: calls.append(1) or match(a, b)
    try:
        res = quick.locate(photo, [chile_ref])
    finally:
        quick.matcher.match = match
    assert res.matched, res.reason
    assert _error_m(res, truth) < 500.0
    assert len(calls) == 1 and "quick matching" in res.timings_s
    slow = Localizer(LocateOptions(matcher="aliked", focal_mm=207.0, quick_inliers=None)).locate(photo, [chile_ref])
    assert slow.matched and _error_m(slow, truth) < 500.0 and "quick matching" not in slow.timings_s


def test_coregistration_with_fewer_keypoints_and_its_retry(chile_ref):
    # the re-match runs on the best-scoring coreg_keypoints of each side; a weak one is done again
    # with all keypoints, and the decision is taken there
    photo, truth = synthetic_photo(chile_ref, 0.0)
    sizes = []

    def run(**kw):
        loc = Localizer(LocateOptions(matcher="aliked", focal_mm=207.0, **kw))
        match = loc.matcher.match
        loc.matcher.match = lambda a, b: sizes.append((len(a), len(b))) or match(a, b)
        return loc.locate(photo, [chile_ref])

    res = run(coreg_keypoints=512)
    assert res.matched and _error_m(res, truth) < 500.0, res.reason
    assert len(res.iterations) == 1 and max(sizes[-1]) <= 512 and res.inliers >= 50
    sizes.clear()
    res = run(coreg_keypoints=512, coreg_retry_inliers=10**6)  # every re-match counts as weak
    assert res.matched and _error_m(res, truth) < 500.0, res.reason
    assert len(res.iterations) == 2 and max(sizes[-2]) <= 512 < max(sizes[-1])


def test_a_candidate_found_at_a_diagonal_turn_needs_the_second_search_bar():
    """The diagonal turns are a second search: a candidate found there needs
    ``diagonal_min_inliers`` (50). The Crimean photo at a quarter of its size against one 2 x 2
    tile of its place re-framed on a canvas of unrelated imagery (a quarter of its footprint in a
    corner, the rest mirrored copies of the New Mexico mosaic) was placed 176 km off at the 315-deg
    diagonal with 31 inliers at ratio 0.32; with the whole-reference bar it is accepted there."""
    from dataclasses import replace

    from cupola.locate.reference import Reference
    from cupola.simulate.locate_cases import (
        Variant,
        _linear_pixels,
        grid_tiles,
        read_base_case,
        reframe_reference,
        transform_photo,
    )

    base = read_base_case(SAMPLES / "ISS062-E-150758")
    filler = read_base_case(SAMPLES / "ISS064-E-46242").reference
    px = _linear_pixels(base.footprint_lonlat, base.bounds, base.reference.shape)
    side = round(6 * float(max(np.ptp(px[:, 0]), np.ptp(px[:, 1]))))
    canvas, bounds = reframe_reference(base, 1 / 6, (0.5, 0.5), filler, out_px=side)
    img, box = next((img, box) for name, img, box, _ in grid_tiles(canvas, bounds, 2) if name == "r1c0")
    photo = transform_photo(base.photo, Variant("scale", "x0.25", photo_scale=0.25))
    tile = Reference(img, "r1c0", bounds=box)
    opts = LocateOptions(contrast_retry=False)
    assert Localizer(opts).bars(tile, 315.0) == (50, 0.3) and Localizer(opts).bars(tile, 270.0) == (25, 0.3)
    res = Localizer(opts).locate(photo, [tile])
    assert not res.matched
    loose = Localizer(replace(opts, diagonal_min_inliers=25)).locate(photo, [tile])
    assert loose.matched and loose.rotation_deg == 315.0 and 25 <= loose.inliers < 50


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_a_16_bit_photo_fills_the_8_bits_as_its_8_bit_export_would(tmp_path, fmt):
    """A 12-bit photo stored in a 16-bit RGB PNG or TIFF was read as its high byte (levels 0-15:
    "photo is blank"); now it is read at full depth and full scale of the depth its values use
    becomes 255: both read back as the 8-bit photo, and a grey 14-bit one with two hot pixels at
    16-bit full scale as its grey image (before: 4 times darker)."""
    import cv2

    from cupola.locate.localize import to_gray
    from cupola.locate.reference import read_rgb8

    photo = cv2.imread(str(CHILE / "photo.jpg"))[:512, :512]  # BGR, as OpenCV writes it
    cv2.imwrite(str(tmp_path / f"p12.{fmt}"), np.rint(photo * (4095 / 255)).astype(np.uint16))
    np.testing.assert_array_equal(read_rgb8(tmp_path / f"p12.{fmt}"), photo[..., ::-1])
    grey = to_gray(np.ascontiguousarray(photo[..., ::-1]))
    deep = grey.astype(np.uint16) * 64
    deep[5, 5] = deep[100, 7] = 65535
    cv2.imwrite(str(tmp_path / "g16.png"), deep)
    got = read_rgb8(tmp_path / "g16.png").astype(int)
    assert np.abs(got - grey)[deep < 65535].max() <= 1
