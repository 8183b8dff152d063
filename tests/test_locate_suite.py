"""The robustness suite's factors as tests, on small versions of the real cases: the reference
re-framed at 512 px (footprint 1/2 to 1/4 of it, off-centre), the photo rescaled, turned, hazed and
JPEG-compressed, with and without the focal length; and real photos against other places'
references, which must be rejected. The oblique-view, cloud and obstruction factors are checked
here as transforms only: at these small sizes they are not localized (see docs/locate.md). A wide-angle
oblique view rendered from a reference is localized here, for its geometry (the keystone)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cupola.locate import homography as hg
from cupola.locate.localize import Localizer, LocateOptions, remove_haze
from cupola.locate.reference import Reference
from cupola.simulate.locate_cases import (
    Variant,
    build_suite,
    edge_offset,
    make_case,
    paint_clouds,
    paint_solar_array,
    paint_window_edge,
    perspective_view,
    read_base_case,
    reframe_reference,
    suite_variants,
    tilt_homography,
    transform_photo,
)

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
SMALL = dict(ref_px=512, photo_ladder_px=(256,), photo_px=384, max_keypoints=1024)


@pytest.fixture(scope="module")
def bases():
    return {p.name: read_base_case(p) for p in sorted(SAMPLES.iterdir()) if (p / "case.json").is_file()}


@pytest.fixture(scope="module")
def filler(bases):
    return bases["ISS064-E-46242"].reference  # New Mexico: a place none of the true photos shows


def _error_km(res, truth):
    from pyproj import Geod

    return Geod(ellps="WGS84").inv(*res.center_lonlat, *truth)[2] / 1000.0


VARIANTS = [
    Variant("framing", "fill 1/2", fill=1 / 2, offset=(0.35, 0.6)),
    Variant("framing", "fill 1/4", fill=1 / 4, offset=(0.65, 0.35)),
    Variant("scale", "photo x0.25", photo_scale=0.25),
    Variant("scale", "photo x2", photo_scale=2.0),
    Variant("rotation", "90", rotation_deg=90.0),
    Variant("rotation", "270", rotation_deg=270.0),
    Variant("rotation", "-20", rotation_deg=-20.0),
    Variant("haze", "haze", haze=0.45),
    Variant("jpeg", "jpeg", jpeg_quality=12),
    Variant("focal", "focal", with_focal=True),
    Variant("obstruction", "array 20%", obstruction="array", obstruction_fraction=0.2, obstruction_seed=0),
    Variant("obstruction", "window 40%", obstruction="window", obstruction_fraction=0.4, obstruction_seed=1),
    Variant("edge", "25% beyond north", beyond_edge="north", beyond_share=0.25),
    # the window-frame test took 56 % of this dark photo two stops under for a frame (0 inliers)
    Variant("exposure", "-2 stops", exposure_stops=-2.0),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v.factor}-{v.label}" for v in VARIANTS])
def test_factor_localized(bases, filler, variant):
    # a photo turned off the right angles needs a finer reference than 512 px (the suite uses 1024)
    ref_px = 768 if variant.rotation_deg % 90 else 512
    case = make_case(bases["ISS064-E-358"], variant, filler, reference_px=ref_px)
    res = Localizer(LocateOptions(focal_mm=case.focal_mm, **{**SMALL, "ref_px": ref_px})).locate(
        case.photo, [case.reference]
    )
    assert res.matched, res.reason
    # the reference pixel is ~0.9 km here; the label itself is hand-drawn
    assert _error_km(res, case.truth_center_lonlat) < 3.0


@pytest.mark.parametrize(
    "photo_case,ref_case",
    [("ISS064-E-358", "ISS050-E-70536"), ("ISS050-E-70536", "ISS064-E-358"), ("ISS064-E-46242", "ISS062-E-150758")],
)
def test_other_places_reference_rejected(bases, photo_case, ref_case):
    b = bases[ref_case]
    ref = Reference(b.reference, b.name, bounds=b.bounds)
    res = Localizer(LocateOptions(**SMALL)).locate(bases[photo_case].photo, [ref])
    assert not res.matched, res.reason


def test_a_window_edge_is_masked_and_no_longer_matches_a_coast(bases):
    """The Crimean photo with the dark edge of a round window over 30 % of it was accepted on the
    Chilean reference (39 inliers at ratio 0.40: the edge and its lit rim against the ground look
    like a coast against the sea). The frame mask takes the edge, and not the bundled photos, dark
    blue water or a solar array; with it the pair is rejected, at the default sizes."""
    from cupola.locate.localize import frame_mask

    for b in bases.values():
        assert not frame_mask(b.photo).any(), b.name
    p = bases["ISS062-E-150758"].photo
    framed = paint_window_edge(p, 0.3, seed=7)
    painted = np.abs(framed.astype(int) - p.astype(int)).max(axis=2) > 12
    mask = frame_mask(framed)
    assert mask[painted].mean() > 0.97 and 0.29 < mask.mean() < 0.36
    assert not frame_mask(paint_solar_array(p, 0.3, seed=7)).any()
    sea = p.copy()
    sea[:, : p.shape[1] // 3] = (12, 28, 52)  # deep water by day: dark, but blue
    assert not frame_mask(sea).any()
    chile = bases["ISS064-E-358"]
    # the first search accepted it (the contrast-folded retry after a rejection is not needed here)
    opts = LocateOptions(contrast_retry=False)
    res = Localizer(opts).locate(framed, [Reference(chile.reference, chile.name, bounds=chile.bounds)])
    assert not res.matched, res.reason


def test_reframed_reference_places_the_footprint_where_asked(bases, filler):
    b = bases["ISS050-E-70536"]
    for fill, off in ((1 / 2, (0.35, 0.6)), (1 / 8, (0.6, 0.4))):
        img, bounds = reframe_reference(b, fill, off, filler, out_px=400)
        west, south, east, north = bounds
        lon, lat = b.center_lonlat
        # the labelled centre sits at the asked fraction of the new reference (linear mapping)
        assert (lon - west) / (east - west) == pytest.approx(off[0], abs=0.02)
        assert (north - lat) / (north - south) == pytest.approx(off[1], abs=0.02)
        # and the footprint spans the asked fraction of its width
        fp = b.footprint_lonlat
        span = max(np.ptp(fp[:, 0]) / (east - west), np.ptp(fp[:, 1]) / (north - south))
        assert span == pytest.approx(fill, rel=0.05)
        assert img.shape[:2] == (400, 400)


def test_suite_covers_the_factors():
    factors = {v.factor for v in suite_variants()}
    assert {"framing", "scale", "rotation", "haze", "jpeg", "focal", "tilt", "clouds", "obstruction"} <= factors
    assert {v.obstruction for v in suite_variants() if v.factor == "obstruction"} == {"window", "array"}
    assert "edge" in factors
    assert {"blur", "vignetting", "exposure", "noise", "colour"} <= factors  # the camera's own factors
    assert max(v.tilt_deg for v in suite_variants()) >= 50  # the held-out photos: 0-50 deg
    assert max(v.cloud_fraction for v in suite_variants()) >= 0.4  # the held-out photos: 10-50 %
    fills = [v.fill for v in suite_variants() if v.factor == "framing"]
    assert min(fills) <= 1 / 8 and max(fills) >= 1 / 2


def test_an_edge_variant_cuts_the_footprint_by_the_asked_share(bases, filler):
    """The edge factor's references hold the footprint but for a quarter or a half of it, beyond
    the east or the north edge."""
    for base, v in ((b, v) for b in bases.values() if b.inside for v in suite_variants() if v.factor == "edge"):
        fp = base.footprint_lonlat
        offset = edge_offset(base, v.fill, v.beyond_edge, v.beyond_share, v.offset)
        img, (west, south, east, north) = reframe_reference(base, v.fill, offset, filler, out_px=400)
        if v.beyond_edge == "east":
            lo, hi, edge = fp[:, 0].min(), fp[:, 0].max(), east
        else:
            lo, hi, edge = fp[:, 1].min(), fp[:, 1].max(), north
        beyond = (hi - edge) / (hi - lo)
        assert beyond == pytest.approx(v.beyond_share, abs=0.02), v.label
    assert sorted(v.beyond_share for v in suite_variants() if v.factor == "edge") == [0.25, 0.25, 0.5, 0.5]


def test_photo_transforms(bases):
    p = bases["ISS064-E-358"].photo
    assert transform_photo(p, Variant("s", "", photo_scale=0.25)).shape[:2] == (256, 256)
    turned = transform_photo(p, Variant("r", "", rotation_deg=90.0))
    assert np.array_equal(turned, np.rot90(p))
    tilted = transform_photo(p, Variant("r", "", rotation_deg=20.0))
    assert tilted.shape[0] < p.shape[0] and tilted.min(axis=2).mean() > 5  # no black corners left
    hazy = transform_photo(p, Variant("h", "", haze=0.45))
    assert hazy.std() < p.std()


def test_remove_haze_restores_contrast(bases):
    p = bases["ISS064-E-358"].photo
    hazy = transform_photo(p, Variant("h", "", haze=0.45))
    clear = remove_haze(hazy)
    assert clear.std() > 1.5 * hazy.std()
    assert np.percentile(clear, 1) < 10
    from cupola.locate.localize import cloud_mask

    bright = transform_photo(bases["ISS050-E-70536"].photo, Variant("h", "", haze=0.45))
    assert cloud_mask(bright).mean() > 0.3 > 0.01 > cloud_mask(remove_haze(bright)).mean()  # hazy ground is not cloud
    # white stays white: no clear ground turned into "cloud"
    for base in bases.values():
        assert cloud_mask(remove_haze(base.photo)).mean() <= cloud_mask(base.photo).mean() + 0.005


def test_mirrored_footprint_refused():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert hg.quad_is_sane(square, allow_mirror=False)[0]
    mirrored = square[:, ::-1].copy()  # x and y swapped: a reflection
    ok, why = hg.quad_is_sane(mirrored, allow_mirror=False)
    assert not ok and "mirrored" in why
    assert hg.quad_is_sane(mirrored)[0]  # allowed by default


def _jacobian(h, x, y, eps=0.5):
    def f(px, py):
        q = h @ np.array([px, py, 1.0])
        return q[:2] / q[2]

    return np.column_stack([(f(x + eps, y) - f(x - eps, y)) / (2 * eps), (f(x, y + eps) - f(x, y - eps)) / (2 * eps)])


@pytest.mark.parametrize("tilt,azimuth", [(30.0, 0.0), (50.0, 120.0), (50.0, 270.0)])
def test_tilt_homography_foreshortens_along_the_look_and_shrinks_the_far_side(tilt, azimuth):
    import math

    w = h = 1000
    m = tilt_homography((h, w), tilt, azimuth, fov_deg=8.0)
    c = (w - 1) / 2
    jac = _jacobian(m, c, c)
    u, sv, vt = np.linalg.svd(jac)
    # across the look the ground is 1/cos(tilt) larger than along it (foreshortening)
    assert sv[0] / sv[1] == pytest.approx(1 / math.cos(math.radians(tilt)), rel=0.01)
    a = math.radians(azimuth)
    look = np.array([math.sin(a), -math.cos(a)])  # image x right, y down; azimuth 0 = up
    assert abs(vt[1] @ look) > 0.99  # the least-stretched input direction is the look direction
    # the far side (towards the look) is smaller than the near side by the slant-range ratio
    far, near = c + 300 * look, c - 300 * look
    s_far = math.sqrt(abs(np.linalg.det(_jacobian(m, *far))))
    s_near = math.sqrt(abs(np.linalg.det(_jacobian(m, *near))))
    assert s_far < s_near
    # every output pixel comes from inside the input frame (nothing invented at the borders)
    inv = np.linalg.inv(m)
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [w - 1, h - 1, 1], [0, h - 1, 1]], float) @ inv.T
    xy = corners[:, :2] / corners[:, 2:]
    assert np.all(xy >= -1e-6) and np.all(xy <= w - 1 + 1e-6)


def test_painted_clouds_cover_what_is_asked_and_the_mask_finds_them(bases):
    from cupola.locate.localize import cloud_mask

    p = bases["ISS064-E-358"].photo
    for frac in (0.2, 0.45):
        clouded = paint_clouds(p, frac, seed=3)
        covered = float((clouded.min(axis=2) > 225).mean() - (p.min(axis=2) > 225).mean())
        assert covered == pytest.approx(frac, abs=0.1)
        assert cloud_mask(clouded).mean() > 0.7 * frac  # the soft edges are partly transparent


@pytest.mark.parametrize("paint", [paint_window_edge, paint_solar_array])
def test_an_obstruction_hides_what_is_asked_and_leaves_the_rest(bases, paint):
    """The window edge and the solar array cover the asked share of the photo (the pixels they
    change), leave the rest as it was, come out the same for a seed, and enter from another side
    for another seed."""
    p = bases["ISS064-E-358"].photo
    for frac in (0.2, 0.4):
        out = paint(p, frac, seed=0)
        changed = np.abs(out.astype(int) - p.astype(int)).max(axis=2) > 12
        assert out.shape == p.shape and out.dtype == np.uint8
        assert changed.mean() == pytest.approx(frac, abs=0.04)
        assert np.array_equal(out, paint(p, frac, seed=0))
    a, b = paint(p, 0.3, seed=0), paint(p, 0.3, seed=1)
    assert (np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 12).mean() > 0.1
    # through the variant, as the suite builds it
    v = Variant(
        "obstruction",
        "",
        obstruction="window" if paint is paint_window_edge else "array",
        obstruction_fraction=0.2,
        obstruction_seed=0,
    )
    assert np.array_equal(transform_photo(p, v), paint(p, 0.2, seed=0))


def test_camera_effects_act_in_linear_light(bases):
    """Exposure scales linear light by 2**stops (clipped at white), white balance scales each band
    by its gain, blur keeps the mean, vignetting darkens the corners by its stops and not the
    centre, sensor noise has Poisson variance; each leaves 8 bits."""
    from cupola.io.srgb import srgb_to_linear

    p = bases["ISS064-E-358"].photo  # dark enough that one stop up clips nothing
    lin = srgb_to_linear(p / 255.0)

    def linear(v):
        out = transform_photo(p, v)
        assert out.dtype == np.uint8 and out.shape == p.shape
        return srgb_to_linear(out / 255.0)

    assert linear(Variant("exposure", "", exposure_stops=1.0)).mean() == pytest.approx(2 * lin.mean(), rel=0.01)
    assert linear(Variant("exposure", "", exposure_stops=-2.0)).mean() == pytest.approx(lin.mean() / 4, rel=0.03)
    cast = linear(Variant("colour", "", white_balance=(0.8, 1.0, 1.35))).mean(axis=(0, 1))
    np.testing.assert_allclose(cast / lin.mean(axis=(0, 1)), [0.8, 1.0, 1.35], rtol=0.02)
    blurred = linear(Variant("blur", "", blur_sigma_px=4.0))
    assert blurred.mean() == pytest.approx(lin.mean(), rel=0.01) and blurred.std() < lin.std()
    vignetted = linear(Variant("vignetting", "", vignetting_stops=2.0))
    h, w = p.shape[:2]
    assert vignetted[h // 2 - 8 : h // 2 + 8, w // 2 - 8 : w // 2 + 8].mean() == pytest.approx(
        lin[h // 2 - 8 : h // 2 + 8, w // 2 - 8 : w // 2 + 8].mean(), rel=0.01
    )  # the centre keeps its light, the corners lose 2 stops
    assert vignetted[:4, :4].mean() == pytest.approx(lin[:4, :4].mean() / 4, rel=0.1)
    flat = np.full((256, 256, 3), 188, np.uint8)  # linear 0.5
    noisy = srgb_to_linear(transform_photo(flat, Variant("noise", "", electrons_white=150.0)) / 255.0)
    # Poisson: 75 electrons, sigma sqrt(75 + 3**2) = 9.2 electrons = 0.061 of white (8-bit steps aside)
    assert noisy.mean() == pytest.approx(0.5, abs=0.01) and noisy.std() == pytest.approx(0.061, rel=0.1)


def test_a_photo_too_dark_to_match_is_called_so(bases):
    from cupola.locate.localize import photo_quality

    p = bases["ISS064-E-358"].photo
    assert photo_quality(transform_photo(p, Variant("exposure", "", exposure_stops=-4.0))) == (True, "ok")
    ok, why = photo_quality(transform_photo(p, Variant("exposure", "", exposure_stops=-5.0)))
    assert not ok and why.startswith("photo is too dark to match (mean grey level ")
    ok, why = photo_quality(np.full((64, 64, 3), 128, np.uint8))
    assert not ok and why.startswith("photo is blank")


def test_frame_mask_follows_the_exposure(bases):
    """A photo exposed two or three stops under is not a window frame; a frame on it still is, over
    40 % or 60 % of it (when the frame is most of the photo, its median is the frame)."""
    from cupola.locate.localize import frame_mask

    for b in bases.values():
        for stops in (-2.0, -3.0):
            assert frame_mask(transform_photo(b.photo, Variant("exposure", "", exposure_stops=stops))).mean() < 0.01
        for stops in (0.0, -2.0):
            for frac in (0.4, 0.6):
                v = Variant("o", "", obstruction="window", obstruction_fraction=frac, obstruction_seed=1)
                v = replace(v, exposure_stops=stops)
                assert frame_mask(transform_photo(b.photo, v)).mean() == pytest.approx(frac + 0.015, abs=0.03), b.name


def test_fill_masked_takes_the_surrounding_tone_and_leaves_ground_alone():
    from cupola.locate.localize import fill_masked

    rng = np.random.default_rng(0)
    h, w = 300, 400
    ground = np.full((h, w), 60, np.uint8)
    ground[:, w // 2 :] = 140  # two ground tones, left and right
    ground = np.clip(ground + rng.integers(-5, 6, (h, w)), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[100:160, 40:100] = True  # a cloud over the dark half
    mask[100:160, 300:360] = True  # one over the bright half
    clouded = ground.copy()
    clouded[mask] = 245
    out = fill_masked(clouded, mask, 0.03)
    assert np.array_equal(out[~mask], clouded[~mask])  # the ground is not touched
    assert abs(float(out[100:160, 40:100].mean()) - 60) < 6  # each cloud takes the tone around it
    assert abs(float(out[100:160, 300:360].mean()) - 140) < 6
    assert fill_masked(clouded, np.zeros((h, w), bool), 0.03) is clouded  # nothing masked: as it was


def test_cloud_fill_gives_the_ground_back_its_contrast(bases):
    """Under painted cloud, CLAHE spends its local contrast on the bright cloud: with the cloud
    pixels filled by the ground around them, the ground the matcher sees (the normalised 256-px
    image, outside the cloud mask) has more detail (mean absolute Laplacian)."""
    import cv2

    from cupola.locate.localize import normalise, resize

    photo = paint_clouds(bases["ISS064-E-358"].photo, 0.3, seed=1)
    detail = {}
    for sigma in (None, 0.03):
        loc = Localizer(LocateOptions(cloud_fill_sigma=sigma))
        loc._set_photo(photo)
        gray, mask = loc._photo
        h, w = gray.shape
        sw, sh = round(w * 256 / max(h, w)), round(h * 256 / max(h, w))
        small = normalise(resize(gray, sw, sh)).astype(np.float32)
        ground = ~(resize(mask.astype(np.uint8), sw, sh) > 0)
        detail[sigma] = float(np.abs(cv2.Laplacian(small, cv2.CV_32F))[ground].mean())
    assert detail[0.03] > 1.1 * detail[None], detail


def test_estimate_affine_recovers_a_known_transform_among_outliers():
    rng = np.random.default_rng(3)
    a = np.array([[0.8, -0.35, 40.0], [0.3, 0.7, -12.0], [0.0, 0.0, 1.0]])
    src = rng.uniform(0, 300, (40, 2))
    dst = hg.apply_h(a, src) + rng.normal(0, 0.2, src.shape)
    dst[:12] = rng.uniform(0, 300, (12, 2))  # 30 % outliers
    est = hg.estimate_affine(src, dst, 2.0)
    assert est is not None
    np.testing.assert_allclose(est, a, atol=0.02 * np.abs(a).max())
    assert hg.estimate_affine(src[:3], dst[:3]) is None


def test_a_weak_first_pass_is_coregistered_again_from_its_affine_fit(bases):
    """A first pass of a few matches can give a homography whose outline is a bow tie (as on the
    Crimean photo turned by 20 degrees in the suite); the affine fit of the same matches starts the
    coregistration instead, and is accepted. From the bow tie alone the re-match fails."""
    import cv2

    from cupola.locate.localize import Candidate

    b = bases["ISS064-E-358"]
    ref = Reference(b.reference, b.name, bounds=b.bounds)
    loc = Localizer(LocateOptions(**SMALL))
    good = loc.locate(b.photo, [ref])
    assert good.matched, good.reason
    h = good.h_photo_to_ref
    ph, pw = b.photo.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    dst = hg.apply_h(h, src).astype(np.float32)
    bow_tie = cv2.getPerspectiveTransform(src, dst[[0, 1, 3, 2]])
    without = loc._verify(Candidate(ref, 0.0, 9, bow_tie))
    assert not without.matched
    with_affine = loc._verify(Candidate(ref, 0.0, 9, bow_tie, h_affine_photo_to_ref=h))
    assert with_affine.matched, with_affine.reason
    assert _error_km(with_affine, good.center_lonlat) < 1.0


def test_a_large_photo_is_matched_at_the_working_size_and_mapped_back(bases):
    """A photo larger than ``work_px`` is taken down once (area averaging) before its checks and
    mask; the homography and the match points come back in the photo's own pixels: the same
    footprint as the photo at its own size gives."""
    import cv2

    b = bases["ISS064-E-358"]
    ref = Reference(b.reference, b.name, bounds=b.bounds)
    small = Localizer(LocateOptions(**SMALL)).locate(b.photo, [ref])
    big_photo = cv2.resize(b.photo, (b.photo.shape[1] * 3, b.photo.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
    big = Localizer(LocateOptions(**SMALL)).locate(big_photo, [ref])
    assert small.matched and big.matched, (small.reason, big.reason)
    assert "photo preparation" in big.timings_s
    ph, pw = b.photo.shape[:2]
    corners = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]])
    got = hg.apply_h(big.h_photo_to_ref, (corners + 0.5) * 3 - 0.5)  # the same corners in big pixels
    want = hg.apply_h(small.h_photo_to_ref, corners)
    assert np.abs(got - want).max() < 6.0  # reference pixels (512-px reference here)
    assert _error_km(big, small.center_lonlat) < 1.0
    # match points in the big photo's pixels: they land inside it
    pts = big.match_points[0]
    assert pts[:, 0].max() > pw and (pts >= -0.5).all() and (pts[:, 0] < 3 * pw).all()


def _edge_ratio(corners: np.ndarray) -> float:
    """The larger ratio between opposite edges of a quadrilateral (the far edge over the near one for
    an oblique view; its sides differ far less)."""
    edge = [float(np.hypot(*(corners[(i + 1) % 4] - corners[i]))) for i in range(4)]
    return max(max(edge[0], edge[2]) / min(edge[0], edge[2]), max(edge[1], edge[3]) / min(edge[1], edge[3]))


@pytest.mark.parametrize("tilt", [0.0, 50.0])
def test_wide_angle_oblique_view_is_located_with_its_keystone(bases, tilt):
    """A 50-mm view (40 deg across) up to 50 deg off nadir: its far edge spans cos(30)/cos(70) = 2.5
    times the near edge's ground. Rendered from the reference itself (geometry only: blurred,
    re-toned, noisy, JPEG, turned a right angle), it must be accepted with the right centre and the
    keystone of the closed form."""
    import cv2

    ref_img = bases["ISS064-E-358"].reference
    ref = Reference(ref_img, "chile", bounds=bases["ISS064-E-358"].bounds)
    h, w = ref_img.shape[:2]
    centre = (0.45 * w, 0.55 * h)
    view, corners = perspective_view(ref_img, 40.0, tilt, 30.0, 0.5, centre, out_px=512)
    expected = np.cos(np.radians(tilt - 20.0)) / np.cos(np.radians(tilt + 20.0))
    assert _edge_ratio(corners) == pytest.approx(expected, rel=1e-6)
    rng = np.random.default_rng(0)
    x = (cv2.GaussianBlur(view.astype(np.float32), (0, 0), 1.0) / 255.0) ** 0.8 * np.array([1.08, 1.0, 0.9])
    x = np.clip(x * 255 + rng.normal(0, 4, x.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(x[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 70])
    photo = np.ascontiguousarray(np.rot90(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1], 1))
    res = Localizer(LocateOptions(**SMALL)).locate(photo, [ref])
    assert res.matched, res.reason
    truth = tuple(float(v[0]) for v in ref.pixel_to_lonlat(np.array([centre[0]]), np.array([centre[1]])))
    assert _error_km(res, truth) < 0.5  # ~2 reference pixels
    found = np.array(res.corners_lonlat) * [np.cos(np.radians(truth[1])), 1.0]  # local, equal scales
    assert _edge_ratio(found) == pytest.approx(expected, rel=0.05), _edge_ratio(found)


def test_perspective_view_refuses_a_view_that_reaches_the_horizon(bases):
    with pytest.raises(ValueError, match="horizon"):
        perspective_view(bases["ISS064-E-358"].reference, 40.0, 70.0, 0.0, 0.5, (10.0, 10.0), out_px=64)


def test_every_wrong_pairs_each_varied_photo_with_every_other_place():
    variants = [Variant("base", "base"), Variant("rotation", "90", rotation_deg=90.0)]
    true_cases, wrong = build_suite(SAMPLES, variants, every_wrong=True)
    _, plain = build_suite(SAMPLES, variants)
    extra = wrong[len(plain) :]
    places = {c.place for c in true_cases}
    n_places = len({p.name for p in SAMPLES.iterdir() if (p / "case.json").is_file()})
    assert len(extra) == len(true_cases) * (n_places - 1)
    assert all(w.truth_center_lonlat is None and w.reference.name != w.place for w in extra)
    assert {w.place for w in extra} == places
    # each varied photo is used as it is, against each other place once
    for c in true_cases:
        mine = [w for w in extra if w.photo is c.photo]
        assert sorted(w.reference.name for w in mine) == sorted(
            p.name for p in SAMPLES.iterdir() if (p / "case.json").is_file() and p.name != c.place
        )
