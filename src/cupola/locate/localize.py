"""Localize one astronaut photo against reference imagery.

Pipeline
--------
1. Photo checks: a blank or cloud-covered photo is rejected with a reason before any matching.
2. Prior (optional): with the ISS nadir point, references beyond the ISS horizon are discarded and
   the most likely right-angle rotation (far side up) is tried first.
3. First pass: the photo (``photo_px`` on its long side) is matched against the whole reference
   (``ref_px``) at 0/90/180/270 deg with ALIKED + LightGlue (or SIFT), and a homography fitted
   with MAGSAC++. A reference much larger than the photo's footprint (known from the focal length,
   or a ladder of widths without one) is also searched tile by tile when the whole pass finds
   nothing.
4. Coregistration: the reference is warped into the photo's frame with the first homography and
   matched again (now with the same orientation and scale), and the homography refined.
5. Decision: accepted when the re-match has enough inliers, spread over the photo, and the refined
   footprint is a convex, unmirrored quadrilateral of plausible size. First-pass inlier counts
   alone do not separate true from wrong candidates.

The defaults were chosen on the robustness suite of :mod:`cupola.simulate.locate_cases` (the
bundled real cases varied in framing, scale, rotation, haze, compression and focal length, and
every reference against every other case's photo); ``make bench ONLY=locate`` prints its rates.
"""

from __future__ import annotations

import math
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from cupola.errors import InputError
from cupola.geometry.geodesy import R_MEAN_M
from cupola.io.srgb import linear_to_srgb, srgb_to_linear
from cupola.locate import homography as hg
from cupola.locate.features import Features, make_matcher
from cupola.locate.reference import Reference

ISS_ALTITUDE_M = 420e3
EARTH_RADIUS_M = R_MEAN_M
FULL_FRAME_WIDTH_MM = 36.0


@dataclass
class LocateOptions:
    matcher: str = "aliked"
    focal_mm: float | None = None
    sensor_width_mm: float = FULL_FRAME_WIDTH_MM
    nadir_lonlat: tuple[float, float] | None = None
    altitude_m: float = ISS_ALTITUDE_M
    # the photo's long side in the first pass, in order. 256 alone: over the suite no case was ever
    # localized at 512 (0 of 40; the 256-px pass, the quick stage or the diagonals found each one
    # first) while the 512 rung cost a rejection two to four LightGlue passes of 2048 x 2048
    photo_ladder_px: tuple[int, ...] = (256,)
    photo_px: int = 512  # the photo's largest long side in the coregistration
    ref_px: int = 1024  # the reference's (or a tile's) long side
    max_keypoints: int = 2048
    coarse_keypoints: int = 1024  # the photo's keypoints in first passes below photo_px
    coarse_ref_keypoints: int | None = None  # the reference's (its highest-scoring) in those passes
    fine_turns: int | None = 2  # turns carried from the first size to the next (most inliers); None: all
    ransac_px: float = 6.0  # MAGSAC++ threshold, first pass
    refine_ransac_px: float = 6.0  # MAGSAC++ threshold after coregistration
    # first pass: worth a coregistration. Chance level: every wrong pair of the suite reaches 5-6
    # inliers at some turn and size (24 of 24, never 7); no true case verified from 5-6 (0 of 14)
    min_coarse_inliers: int = 7
    eager_inliers: int = 25  # first pass: coregister at once, before trying the other rotations
    max_verifications: int = 4  # coregistrations tried per candidate reference (tiles get two more)
    coregistrations: int = 1
    # keypoints of each side in the coregistration re-match (None: max_keypoints); a re-match with
    # fewer than ``coreg_retry_inliers`` inliers is done again with max_keypoints
    # 1024: the suite's accepted true cases had 60-1050 inliers with 2048 (median ~900; ~1000 ->
    # ~490 with 1024); one under 50 is redone with 2048 and decided as before. LightGlue ~3x cheaper
    coreg_keypoints: int | None = 1024
    coreg_retry_inliers: int = 50
    min_inliers: int = 25  # after coregistration
    min_inlier_ratio: float = 0.3  # inliers / LightGlue matches after coregistration
    min_spread: float = 0.03  # convex hull of the inliers / photo area
    size_tolerance: float = 2.5  # accepted ratio between measured and expected ground width
    tile_below_fill: float = 0.3  # tiles when the footprint may span less than this of the reference
    max_tiles: int = 9
    diagonal_turns: bool = True  # when the right angles fail, try the photo turned by 45, 135, ...
    diagonal_turns_near_best: bool = True  # ... only the two diagonals beside the best right angle
    # before LightGlue: mutual nearest descriptors at the first size for every right angle; a turn
    # with at least this many inliers (chance gives <= ~10) is coregistered at once. None: off
    quick_inliers: int | None = 20
    # cloud pixels (the cloud mask) are filled with the surrounding ground, smoothed over this share
    # of the photo's long side, before the matcher sees the photo: otherwise CLAHE spends its local
    # contrast on the bright cloud and the ground beside it goes flat. None: the photo as it is
    cloud_fill_sigma: float | None = 0.03
    # a first pass with fewer inliers than this also fits an affine transform (6 parameters, three
    # points a sample) to its matches; when the re-match from the homography (8 parameters from
    # 7-15 points: poorly pinned away from them) fails, the coregistration is tried once more from
    # the affine estimate. None: off
    affine_retry_below: int | None = 15
    # the photo is taken down to this long side (area averaging) once, before its checks, cloud mask
    # and fill: every match runs at photo_px or less, and a 24-megapixel frame otherwise spends ~8 s
    # on full-resolution preparation. Results are mapped back to the photo's own pixels. None: off
    work_px: int | None = 1024
    # "clahe": CLAHE grey images (the search); "folded": the same, then |image - its blur over
    # FOLD_SIGMA_PX| (local contrast whatever its sign), then CLAHE again. The folded search is the
    # retry below; on its own it loses most photos (docs/locate.md, "Contrast reversed in places")
    contrast: str = "clahe"
    # when every candidate is rejected, search again on contrast-folded images: a photo whose ground
    # is brighter than its surroundings where the reference has it darker (water or salt lakes
    # that changed, snow, wet soil, another sensor's bands) matches in neither sign otherwise
    contrast_retry: bool = True
    # the second search's own bar (at least min_inliers): it is a second chance for every wrong place
    # too. Apart from the small-tile pair it accepted (79 inliers; such tiles are now left out, see
    # folded_search_allowed), its wrong pairs seen so far keep at most 45 inliers; its true accepts
    # on the suite begin at 72 (docs/locate.md, "Session 45")
    contrast_retry_min_inliers: int = 50
    # a reference smaller than ref_px on its long side (a tile cut from a mosaic) needs more inliers:
    # on such tiles of the photo's own region, holding part of its footprint, wrong placements 30-74
    # km off were accepted with 25-52 inliers at ratios 0.34-0.67 (no ratio separates them), right
    # placements had 33, 39, 40 and then 62 or more (the partial-overlap suite, seeds 0 and 1;
    # docs/locate.md, "Session 46"). Whole references keep min_inliers / min_inlier_ratio
    small_ref_min_inliers: int = 60
    # a candidate found at a diagonal turn (searched only after every right angle failed) needs
    # this many: the diagonals are a second search, a second chance for a wrong place too. True
    # diagonal accepts on the suite kept 126-482 inliers (ratio 0.61-1.0); on a canvas mostly of
    # unrelated imagery the Crimean photo at x0.25 was placed 176 km off at a diagonal with 31 at
    # 0.32 (docs/locate.md, "Session 48")
    diagonal_min_inliers: int = 50


@dataclass
class Candidate:
    reference: Reference
    rotation_deg: float  # the photo was turned counter-clockwise by this for the first pass
    inliers: int
    h_photo_to_ref: np.ndarray  # full-resolution photo pixels -> reference pixels
    tile: tuple[int, int, int, int] | None = None
    h_affine_photo_to_ref: np.ndarray | None = None  # the same matches under an affine model (weak passes)


@dataclass
class LocateResult:
    matched: bool
    reason: str
    confidence: float = 0.0
    reference: str | None = None
    center_lonlat: tuple[float, float] | None = None
    footprint_lonlat: list | None = None  # ring of (lon, lat)
    corners_lonlat: list | None = None
    inliers_first_pass: int = 0
    inliers: int = 0
    inlier_ratio: float = 0.0
    inlier_spread: float = 0.0
    rotation_deg: float | None = None
    ground_width_m: float | None = None
    expected_width_m: float | None = None
    iterations: list = field(default_factory=list)
    seconds: float = 0.0
    timings_s: dict = field(default_factory=dict)
    matcher: str = ""
    h_photo_to_ref: np.ndarray | None = None
    match_points: tuple | None = None  # (photo pts full-res, reference pts) of final inliers

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("h_photo_to_ref", "match_points")}
        d["homography_photo_to_reference"] = None if self.h_photo_to_ref is None else self.h_photo_to_ref.tolist()
        return d


# -- image helpers ---------------------------------------------------------------------------------


def to_gray(img: np.ndarray) -> np.ndarray:
    import cv2

    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(g.astype(np.uint8))


#: the blur (px, at the size the matcher sees) whose difference from the image the folded contrast keeps
FOLD_SIGMA_PX = 2.0
CONTRASTS = ("clahe", "folded")


def normalise(gray: np.ndarray, contrast: str = "clahe") -> np.ndarray:
    """Local contrast normalisation (CLAHE) so sensors, seasons and haze look alike; ``"folded"``:
    then the absolute difference from a blur of ``FOLD_SIGMA_PX``, stretched to its 99.5th
    percentile and equalised again: edges and texture whatever their sign, for a scene whose
    contrast is reversed in places between the photo and the reference."""
    import cv2

    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    g = clahe.apply(gray)
    if contrast == "clahe":
        return g
    if contrast != "folded":
        raise InputError(f"`contrast` {contrast!r}: expected one of {', '.join(CONTRASTS)}")
    f = g.astype(np.float32)
    f = np.abs(f - cv2.GaussianBlur(f, (0, 0), FOLD_SIGMA_PX))
    top = max(float(np.percentile(f, 99.5)), 1.0)
    return clahe.apply(np.clip(f * (255.0 / top), 0, 255).astype(np.uint8))


def remove_haze(img: np.ndarray, low_pct: float = 0.5) -> np.ndarray:
    """Dark-object subtraction (Chavez 1988): per band, the darkest pixels (water, shadow) should be
    near black, so the level under them is atmospheric path radiance (haze); it is subtracted and the
    band rescaled so that white stays white. Restores the contrast and colour of hazy photos, so the
    cloud test does not take hazy ground for cloud; a clear photo (dark level near 0) is left
    nearly as it was."""
    f = img.astype(np.float32)
    flat = f.reshape(-1, f.shape[2]) if f.ndim == 3 else f.reshape(-1, 1)
    lo = np.percentile(flat[:: max(1, len(flat) // 200_000)], low_pct, axis=0)
    lo = np.minimum(lo, 250.0)
    out = (f - lo) / (255.0 - lo) * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


#: a picture whose three bands differ by at most this many levels at 99 % of its pixels has no
#: colour (a grey picture stored as RGB, JPEG's chroma noise aside)
GREY_SPREAD_LEVELS = 3
#: the window-frame test's darkness (of white, sRGB) in a normally exposed photo
FRAME_DARK_LEVEL = 0.16


def colourless(img: np.ndarray) -> bool:
    """True for a single-band image and for a grey one stored as RGB: the colour tests (clouds are
    bright *and* colourless, a window's frame dark *and* colourless) say nothing about such a
    picture, where every pixel is colourless, and it is judged as its single band would be."""
    if img.ndim == 2 or img.shape[2] < 3:
        return True
    step = max(1, int(math.sqrt(img.shape[0] * img.shape[1] / 65_536)))  # a sample is enough
    b = img[::step, ::step, :3].astype(np.int16)
    spread = b.max(axis=2) - b.min(axis=2)
    return np.count_nonzero(spread > GREY_SPREAD_LEVELS) <= 0.01 * spread.size


def cloud_mask(img: np.ndarray) -> np.ndarray:
    """True for bright, colourless pixels (clouds, haze tops); in a picture without colour
    (:func:`colourless`) for the near-white ones only."""
    if colourless(img):
        band = img if img.ndim == 2 else img[..., 0] if img.shape[2] < 3 else to_gray(img)
        return band > 235
    f = img.astype(np.float32) / 255.0
    mx, mn = f.max(axis=2), f.min(axis=2)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    return (mx > 0.7) & (sat < 0.18)


def frame_mask(img: np.ndarray, work_px: int = 256) -> np.ndarray:
    """True for the dark, colourless regions that reach the photo's border (a window's frame, the
    station's structure in shadow), widened by 1.5 % of the long side over their soft, sometimes
    lit, edge. Such an edge against the ground is a curved high-contrast line much like a coast,
    and matched one on a wrong reference (the suite's obstruction factor). Dark water keeps its
    colour (a blue or green cast) and is not taken; a region under 2 % of the photo is left. A
    picture without colour (:func:`colourless`: every dark region would be taken) gets none.
    "Dark" is below 0.16 of white, or in a darker exposure below a quarter, in linear light, of the
    brightness that a quarter of the photo exceeds (the frame darkens with the ground; an
    under-exposed photo's ground is not a frame; the 75th percentile is still ground when a frame
    hides up to ~70 % of the photo), and "colourless" shrinks with it."""
    import cv2

    h, w = img.shape[:2]
    if colourless(img):
        return np.zeros((h, w), bool)
    s = min(1.0, work_px / max(h, w))
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    small = resize(np.ascontiguousarray(img[..., :3]), sw, sh)
    small = cv2.GaussianBlur(small.astype(np.float32) / 255.0, (0, 0), 1.0)  # sensor noise out
    mx, mn = small.max(axis=2), small.min(axis=2)
    level = min(FRAME_DARK_LEVEL, float(linear_to_srgb(0.25 * srgb_to_linear(float(np.percentile(mx, 75))))))
    dark = ((mx < level) & (mx - mn < 0.06 * level / FRAME_DARK_LEVEL)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = [int(k) for k in edge if k != 0 and stats[k, cv2.CC_STAT_AREA] >= 0.02 * sw * sh]
    if not keep:
        return np.zeros((h, w), bool)
    m = np.isin(labels, keep).astype(np.uint8)
    r = max(1, round(0.015 * max(sw, sh)))
    m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def fill_masked(gray: np.ndarray, mask: np.ndarray, sigma_frac: float, work_px: int = 512) -> np.ndarray:
    """``gray`` with the pixels under ``mask`` replaced by a normalised convolution of the others
    (a Gaussian of ``sigma_frac`` of the long side, weighted by the unmasked pixels): masked areas
    take the smooth tone of the ground around them and their edges stop being features. Computed
    at ``work_px`` on the long side (the fill is smooth) and resampled; unmasked pixels untouched."""
    import cv2

    if not mask.any():
        return gray
    h, w = gray.shape
    s = min(1.0, work_px / max(h, w))
    sw, sh = max(2, round(w * s)), max(2, round(h * s))
    valid = (~mask).astype(np.float32)
    num = cv2.resize(gray.astype(np.float32) * valid, (sw, sh), interpolation=cv2.INTER_AREA)
    den = cv2.resize(valid, (sw, sh), interpolation=cv2.INTER_AREA)
    sigma = max(0.5, sigma_frac * max(sw, sh))
    num = cv2.GaussianBlur(num, (0, 0), sigma)
    den = cv2.GaussianBlur(den, (0, 0), sigma)
    fill = num / np.maximum(den, 1e-4)
    fill = cv2.resize(fill, (w, h), interpolation=cv2.INTER_LINEAR)
    out = gray.copy()
    out[mask] = np.clip(fill[mask], 0, 255).astype(np.uint8)
    return out


def photo_for_matching(photo: np.ndarray, cloud_fill_sigma: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(the photo's grey image as the matcher sees it, the mask of pixels that carry no keypoints):
    what a pair's search starts from (a pool's ranking prepares the photo its own way,
    ``TilePool._prepare``: this preparation ranked worse there, docs/locate.md). Hazy ground is
    bright and pale like cloud, so the cloud mask is taken after the haze is removed; the grey image
    is the photo as it is (CLAHE evens out its contrast later), its cloud pixels filled with the ground
    around them (``cloud_fill_sigma``, a share of the long side; None: not filled) so that CLAHE
    does not spend the local contrast on bright cloud. A window's frame in view carries no
    keypoints either, but is not filled: dark, it does not flatten the ground beside it as bright
    cloud does, and filling it lost cases that the mask alone keeps."""
    gray, clouds = to_gray(photo), cloud_mask(remove_haze(photo))
    if cloud_fill_sigma:
        gray = fill_masked(gray, clouds, cloud_fill_sigma)
    return gray, clouds | frame_mask(photo)


def photo_quality(img: np.ndarray) -> tuple[bool, str]:
    g = to_gray(img).astype(np.float32)
    if g.std() < 4.0:
        if g.mean() < 32.0:  # e.g. five stops under: the ground's contrast lies in a few levels
            return False, (
                f"photo is too dark to match (mean grey level {g.mean():.0f} of 255, standard deviation "
                f"{g.std():.1f}): under-exposed or taken at night"
            )
        return False, f"photo is blank (grey-level standard deviation {g.std():.1f})"
    clouds = float(cloud_mask(img).mean())
    if clouds > 0.85:
        return False, f"photo is {clouds:.0%} cloud: no ground to match"
    return True, "ok"


def resize(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if width < gray.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(gray, (int(width), int(height)), interpolation=interp)


# -- prior geometry --------------------------------------------------------------------------------


def ground_distance_m(lon1, lat1, lon2, lat2) -> float:
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2])


def horizon_distance_m(altitude_m: float) -> float:
    """Ground distance from the nadir point to the horizon (spherical Earth)."""
    return EARTH_RADIUS_M * math.acos(EARTH_RADIUS_M / (EARTH_RADIUS_M + altitude_m))


def slant_range_m(ground_m: float, altitude_m: float) -> float:
    """Distance from the satellite to a ground point ``ground_m`` from its nadir (spherical Earth)."""
    a = ground_m / EARTH_RADIUS_M
    r = EARTH_RADIUS_M + altitude_m
    return math.sqrt(r * r + EARTH_RADIUS_M**2 - 2 * r * EARTH_RADIUS_M * math.cos(a))


def bounds_width_m(bounds) -> float:
    """East-west ground width (m) of a (west, south, east, north) lon/lat box at its middle latitude."""
    west, south, east, north = bounds
    lat = (south + north) / 2
    return ground_distance_m(west, lat, east, lat)


def lens_ground_beyond_m(opts: LocateOptions, ref: Reference) -> float | None:
    """With a focal length: the least ground width (m) the lens sees when ``ref`` is narrower than
    that (such a reference is never found: docs/locate.md, "Session 46"), else None."""
    if opts.focal_mm is None:
        return None
    need = min(expected_widths_m(opts, ref))
    return need if bounds_width_m(ref.lonlat_bounds()) < need else None


def narrower_than_footprint(opts: LocateOptions, references: list[Reference]) -> str:
    """When every reference is narrower than the least ground the lens sees
    (:func:`lens_ground_beyond_m`): why nothing was found, else ''."""
    needs = [lens_ground_beyond_m(opts, r) for r in references]
    if not needs or any(n is None for n in needs):
        return ""
    w, need = max((bounds_width_m(r.lonlat_bounds()), n) for r, n in zip(references, needs) if n is not None)
    return (
        f"; the reference is {w / 1000:.0f} km across, less than the {need / 1000:.0f} km a "
        f"{opts.focal_mm:g} mm lens sees: give one 2-4 times the photo's footprint"
    )


def nadir_ground_width_m(opts: LocateOptions) -> float | None:
    """Ground width (m) the lens sees looking straight down from ``altitude_m`` (the least it can
    see), or None without a focal length."""
    return opts.altitude_m * (opts.sensor_width_mm / opts.focal_mm) if opts.focal_mm else None


def expected_widths_m(opts: LocateOptions, ref: Reference) -> list[float]:
    """Hypotheses for the ground width the photo covers (m)."""
    if opts.focal_mm is None:
        # no lens: a geometric ladder of widths (about 25 mm to 1600 mm lenses from the ISS)
        return [float(w) for w in np.geomspace(10e3, 240e3, 5)]
    fov = opts.sensor_width_mm / opts.focal_mm
    if opts.nadir_lonlat is not None:
        d = ground_distance_m(*opts.nadir_lonlat, *ref.center_lonlat())
        rng = slant_range_m(d, opts.altitude_m)
        # obliquity stretches the far side of the frame: one wider hypothesis too
        return [rng * fov, rng * fov * 1.35]
    nadir = nadir_ground_width_m(opts)
    assert nadir is not None
    return [nadir * k for k in (1.0, 1.6, 2.6)]


class _Clock:
    """Seconds spent per stage, for ``--verbose``."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, t0: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


# -- the search ------------------------------------------------------------------------------------


#: reference feature sets a localizer keeps in memory (least recently used dropped first); a fine
#: reference searched in tiles uses a few dozen, a pool one per verified tile
REF_FEATURES_IN_MEMORY = 64

FOLDED_NOTE = " (on contrast-folded images: the photo's contrast is reversed in places)"


class Localizer:
    """Reusable localizer: keeps the matcher, and reference features in memory (and in a
    :class:`~cupola.locate.cache.FeatureCache` when one is given, keyed by the file's content)."""

    def __init__(self, options: LocateOptions | None = None, cache=None):
        self.opts = options or LocateOptions()
        self.matcher = (
            make_matcher(self.opts.matcher, max_keypoints=self.opts.max_keypoints)
            if self.opts.matcher in ("aliked", "xfeat")
            else make_matcher(self.opts.matcher)
        )
        self.cache = cache
        self._ref_cache: OrderedDict = OrderedDict()  # (content or id, tile, px) -> (features, ratio, weakref)
        self._clock = _Clock()
        self._searched = False  # whether the last _locate reached the matching
        self._folded: Localizer | None = None  # the second search's localizer, made when first needed

    # -- features ----------------------------------------------------------------------------------

    def _ref_features(self, ref: Reference, tile, size_px: int) -> tuple[Features, float]:
        """Features of a reference tile resampled to ``size_px`` on its long side, and the
        resampling factor (reference pixels per work pixel)."""
        content = getattr(ref, "content_id", None)
        key = (content or id(ref), tile, size_px)
        hit = self._ref_cache.get(key)
        # an in-memory reference is known by its id(), which Python reuses once the object is gone:
        # the entry holds a weak reference, and only the same live object may read it
        if hit is not None and (content or hit[2]() is ref):
            self._ref_cache.move_to_end(key)
            return hit[0], hit[1]
        c0, r0, c1, r1 = tile
        scale = max(c1 - c0, r1 - r0) / size_px
        sw, sh = max(8, round((c1 - c0) / scale)), max(8, round((r1 - r0) / scale))
        ratio = (c1 - c0) / sw  # reference pixels per work pixel
        disk_key = None
        if self.cache is not None and content:
            disk_key = self._ref_disk_key(content, tile, size_px)
            f = self.cache.get(disk_key)
            if f is not None:
                return self._remember_ref(key, ref, f, ratio)
        t0 = time.perf_counter()
        crop = to_gray(ref.image[r0:r1, c0:c1])
        f = self.matcher.extract(normalise(resize(crop, sw, sh), self.opts.contrast))
        self._clock.add("reference features", t0)
        if disk_key is not None:
            self.cache.put(disk_key, f)
        return self._remember_ref(key, ref, f, ratio)

    def _remember_ref(self, key, ref: Reference, f: Features, ratio: float) -> tuple[Features, float]:
        """Keep reference features in memory, the :data:`REF_FEATURES_IN_MEMORY` most recent: a pool
        or a batch visiting thousands of tiles would otherwise hold every tile's features (~1 MB
        each) for the life of the localizer."""
        self._ref_cache[key] = (f, ratio, weakref.ref(ref))
        self._ref_cache.move_to_end(key)
        while len(self._ref_cache) > REF_FEATURES_IN_MEMORY:
            self._ref_cache.popitem(last=False)
        return f, ratio

    def _ref_disk_key(self, content: str, tile, size_px: int) -> str:
        from cupola.locate.cache import feature_key

        folded = () if self.opts.contrast == "clahe" else (self.opts.contrast,)  # clahe keys as before
        return feature_key(
            content, "tile", *tile, size_px, self.matcher.name, getattr(self.matcher, "max_keypoints", 0), *folded
        )

    def _whole_reference(self, shape: tuple[int, int]) -> tuple[tuple[int, int, int, int], int]:
        """The tile and size of the first pass over a whole reference of ``shape`` (rows, cols)."""
        h, w = shape[:2]
        return (0, 0, w, h), min(self.opts.ref_px, max(w, h))

    def has_reference_features(self, content_id: str | None, shape: tuple[int, int]) -> bool:
        """Whether the whole-reference features of this content are on disk (an existence check,
        nothing is read)."""
        if self.cache is None or getattr(self.cache, "folder", None) is None or not content_id:
            return False
        path = self.cache.path_for(self._ref_disk_key(content_id, *self._whole_reference(shape)))
        return path is not None and path.is_file()

    def prepare_reference(self, ref: Reference) -> None:
        """Compute the whole-reference features of ``ref`` into the disk cache (a pool's index does
        this once per tile, so that queries only read them); not kept in memory."""
        tile, px = self._whole_reference(ref.shape)
        self._ref_features(ref, tile, px)
        self._ref_cache.pop((getattr(ref, "content_id", None) or id(ref), tile, px), None)

    def _photo_features(
        self, size_px: int, angle_deg: float, max_keypoints: int | None = None
    ) -> tuple[Features, np.ndarray, tuple[int, int]]:
        """Photo features at ``size_px`` (long side), turned counter-clockwise by ``angle_deg``;
        with the homography from the turned small photo to full-resolution photo pixels."""
        import cv2

        key = (size_px, angle_deg, max_keypoints)
        if key not in self._photo_cache:
            t0 = time.perf_counter()
            gray, mask = self._photo
            ph, pw = gray.shape
            s = size_px / max(ph, pw)
            sw, sh = max(8, round(pw * s)), max(8, round(ph * s))
            small = normalise(resize(gray, sw, sh), self.opts.contrast)
            m = ~(resize(mask.astype(np.uint8), sw, sh) > 0)
            if angle_deg % 90 == 0:
                k = int(angle_deg // 90) % 4
                img, valid = np.rot90(small, k), np.rot90(m, k)
                turned_to_small = hg.rot90_h(k, sw, sh)
            else:  # on a canvas that holds the whole turned photo; the empty corners are masked
                a = math.radians(angle_deg)
                cw = int(math.ceil(abs(sw * math.cos(a)) + abs(sh * math.sin(a))))
                ch = int(math.ceil(abs(sw * math.sin(a)) + abs(sh * math.cos(a))))
                rot = cv2.getRotationMatrix2D(((sw - 1) / 2, (sh - 1) / 2), angle_deg, 1.0)
                rot[:, 2] += [(cw - sw) / 2, (ch - sh) / 2]
                img = cv2.warpAffine(small, rot, (cw, ch), flags=cv2.INTER_LINEAR)
                inside = cv2.warpAffine(np.full((sh, sw), 255, np.uint8), rot, (cw, ch), flags=cv2.INTER_NEAREST)
                valid = cv2.warpAffine(m.astype(np.uint8), rot, (cw, ch), flags=cv2.INTER_NEAREST) > 0
                valid &= cv2.erode(inside, np.ones((7, 7), np.uint8)) > 0
                turned_to_small = np.linalg.inv(np.vstack([rot, [0.0, 0.0, 1.0]]))
            f = self.matcher.extract(
                np.ascontiguousarray(img), np.ascontiguousarray(valid), max_keypoints=max_keypoints
            )
            to_full = hg.scale_h(pw / sw, ph / sh) @ turned_to_small
            self._photo_cache[key] = (f, to_full, (sw, sh))
            self._clock.add("photo features", t0)
        return self._photo_cache[key]

    # -- first pass --------------------------------------------------------------------------------

    def _first_pass(
        self, ref: Reference, tile, photo_px: int, angle_deg: float, quick: bool = False
    ) -> Candidate | None:
        """Match the photo (at ``photo_px``, turned by ``angle_deg``) with a reference tile; a
        candidate when a homography holds ``min_coarse_inliers``. ``quick``: mutual nearest
        descriptors instead of the matcher's own (LightGlue)."""
        opts = self.opts
        c0, r0, c1, r1 = tile
        ref_px = min(opts.ref_px, max(c1 - c0, r1 - r0))
        fr, ref_scale = self._ref_features(ref, tile, ref_px)
        coarse = opts.coarse_keypoints if photo_px < opts.photo_px else None
        if coarse is not None and opts.coarse_ref_keypoints and len(fr) > opts.coarse_ref_keypoints:
            k = opts.coarse_ref_keypoints  # ALIKED lists its keypoints by score, highest first
            fr = Features(fr.keypoints[:k], fr.descriptors[:k], fr.shape)
        fp, to_full, _ = self._photo_features(photo_px, angle_deg, coarse)
        t0 = time.perf_counter()
        i0, i1 = self.matcher.mutual_nearest(fp, fr) if quick else self.matcher.match(fp, fr)
        self._clock.add("quick matching" if quick else "matching", t0)
        if len(i0) < opts.min_coarse_inliers:
            return None
        h, inl = hg.estimate_homography(fp.keypoints[i0], fr.keypoints[i1], opts.ransac_px)
        if h is None or inl.sum() < opts.min_coarse_inliers:
            return None
        tile_to_ref = np.array([[1, 0, c0], [0, 1, r0], [0, 0, 1]], float) @ hg.scale_h(ref_scale)
        h_full = tile_to_ref @ h @ np.linalg.inv(to_full)
        h_aff = None
        if opts.affine_retry_below is not None and inl.sum() < opts.affine_retry_below:
            a = hg.estimate_affine(fp.keypoints[i0], fr.keypoints[i1], opts.ransac_px)
            if a is not None:
                h_aff = tile_to_ref @ a @ np.linalg.inv(to_full)
        return Candidate(ref, angle_deg, int(inl.sum()), h_full, tile, h_aff)

    def _rotation_order(self, ref: Reference, offset_deg: float = 0.0) -> list[float]:
        """Turns of the photo to try (degrees counter-clockwise), most likely first. With a nadir
        point, an oblique photo is usually framed with its far side (away from the nadir) at the
        top."""
        if self.opts.nadir_lonlat is None:
            ks = [0, 1, 2, 3]
        else:
            from pyproj import Geod

            az = Geod(ellps="WGS84").inv(*self.opts.nadir_lonlat, *ref.center_lonlat())[0]
            k = int(round(-az / 90.0)) % 4
            ks = [k, (k + 1) % 4, (k + 3) % 4, (k + 2) % 4]
        return [90.0 * k + offset_deg for k in ks]

    def _tiles(self, ref: Reference) -> list[tuple[int, int, int, int]]:
        """Overlapping tiles ~3 footprints wide, for footprints that may span less than
        ``tile_below_fill`` of the reference (from the focal length)."""
        h, w = ref.shape
        ref_w_m = max(ref.ground_size_m())
        tiles: list[tuple[int, int, int, int]] = []
        for width_m in sorted(set(expected_widths_m(self.opts, ref))):
            if width_m / ref_w_m >= self.opts.tile_below_fill:
                continue
            side = int(round(min(1.0, 3.0 * width_m / ref_w_m) * max(w, h)))
            side = max(side, 64)
            step = max(1, side // 2)
            for r0 in range(0, max(1, h - side + step), step):
                for c0 in range(0, max(1, w - side + step), step):
                    t = (c0, r0, min(w, c0 + side), min(h, r0 + side))
                    if t not in tiles:
                        tiles.append(t)
        return tiles

    # -- coregistration and decision ----------------------------------------------------------------

    def coregister(self, cand: Candidate, keypoints: int | None = None):
        """Warp the reference into the photo's frame with the current estimate and match again
        (``keypoints`` on each side; None: the matcher's maximum)."""
        import cv2

        opts = self.opts
        gray, _ = self._photo
        ph, pw = gray.shape
        # the photo at the coregistration size: as fine as the reference allows, at most photo_px
        corners = hg.apply_h(cand.h_photo_to_ref, hg.border_points(pw, ph, 1))
        ref_span = float(np.nanmax(np.ptp(corners, axis=0))) if np.isfinite(corners).all() else opts.photo_px
        size = int(np.clip(1.25 * ref_span, 256, opts.photo_px))
        # only the ``keypoints`` best are extracted (a descriptor costs per keypoint); at 256 px this
        # is the first pass's own extraction, taken from the cache
        fp, to_full, (bw, bh) = self._photo_features(size, 0.0, keypoints)
        if keypoints is not None:  # ALIKED lists its keypoints by score, highest first
            fp = Features(fp.keypoints[:keypoints], fp.descriptors[:keypoints], fp.shape)
        h_b = cand.h_photo_to_ref @ to_full  # small photo -> reference
        ref_gray = to_gray(cand.reference.image)
        history = []
        last = None
        for it in range(opts.coregistrations):
            t0 = time.perf_counter()
            warped = cv2.warpPerspective(
                ref_gray,
                h_b,
                (bw, bh),
                flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            valid = (
                cv2.warpPerspective(
                    np.full(ref_gray.shape, 255, np.uint8),
                    h_b,
                    (bw, bh),
                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                )
                > 0
            )
            if valid.mean() < 0.05:
                history.append({"iteration": it + 1, "inliers": 0, "note": "estimate falls outside the reference"})
                break
            inside = cv2.erode(valid.astype(np.uint8), np.ones((5, 5))) > 0
            fw = self.matcher.extract(normalise(warped, self.opts.contrast), inside, max_keypoints=keypoints)
            if keypoints is not None:
                fw = Features(fw.keypoints[:keypoints], fw.descriptors[:keypoints], fw.shape)
            self._clock.add("coregistration features", t0)
            t0 = time.perf_counter()
            i0, i1 = self.matcher.match(fp, fw)
            self._clock.add("matching", t0)
            h_delta, inl = (
                hg.estimate_homography(fp.keypoints[i0], fw.keypoints[i1], opts.refine_ransac_px)
                if len(i0) >= 8
                else (None, [])
            )
            n = int(np.sum(inl)) if h_delta is not None else 0
            ratio = n / max(len(i0), 1)
            if h_delta is None or n < 8:
                history.append({"iteration": it + 1, "inliers": n, "matches": int(len(i0)), "note": "re-match failed"})
                break
            h_new = h_b @ h_delta
            c = hg.border_points(bw, bh, 1)
            move = float(np.nanmax(np.linalg.norm(hg.apply_h(h_new, c) - hg.apply_h(h_b, c), axis=1)))
            spread = hg.hull_fraction(fp.keypoints[i0][inl], bw, bh)
            history.append(
                {
                    "iteration": it + 1,
                    "inliers": n,
                    "matches": int(len(i0)),
                    "inlier_ratio": ratio,
                    "spread": spread,
                    "outline_shift_ref_px": move,
                    "photo_px": size,
                }
            )
            h_b = h_new
            last = (
                n,
                ratio,
                spread,
                hg.apply_h(to_full, fp.keypoints[i0][inl]),
                hg.apply_h(h_b, fp.keypoints[i0][inl]),
            )
            if move < 1.0:
                break
        return h_b @ np.linalg.inv(to_full), history, last

    def bars(self, reference: Reference | tuple[int, int], rotation_deg: float = 0.0) -> tuple[int, float]:
        """(inliers, inlier ratio) the re-match needs on ``reference`` (or a reference of this (rows,
        cols) shape): ``min_inliers`` raised to ``small_ref_min_inliers`` on one smaller than
        ``ref_px`` on its long side, and to ``diagonal_min_inliers`` for a candidate found with the
        photo turned by ``rotation_deg`` off the right angles; and ``min_inlier_ratio``."""
        o = self.opts
        n = o.min_inliers if self._at_least_ref_px(reference) else max(o.min_inliers, o.small_ref_min_inliers)
        if rotation_deg % 90.0:
            n = max(n, o.diagonal_min_inliers)
        return n, o.min_inlier_ratio

    def _at_least_ref_px(self, reference: Reference | tuple[int, int]) -> bool:
        """Whether ``reference`` (or a (rows, cols) shape) is at least ``ref_px`` on its long side: a
        whole reference at the first pass's size, not a tile cut from a mosaic."""
        shape = reference.shape if isinstance(reference, Reference) else reference
        return max(shape[:2]) >= self.opts.ref_px

    def _passes(self, m, reference: Reference, rotation_deg: float = 0.0) -> bool:
        """The re-match's own tests of the decision (``m`` as ``coregister``'s ``last``)."""
        n_min, ratio_min = self.bars(reference, rotation_deg)
        return m is not None and m[0] >= n_min and m[1] >= ratio_min and m[2] >= self.opts.min_spread

    def _better(self, m, than, reference: Reference, rotation_deg: float = 0.0) -> bool:
        """One that passes before one that does not, then the one with more inliers."""
        if m is None:
            return False
        passes = self._passes(m, reference, rotation_deg), m[0]
        return than is None or passes > (self._passes(than, reference, rotation_deg), than[0])

    def _coregistration(self, cand: Candidate, start: str):
        """``coregister`` with ``coreg_keypoints``; a weak re-match (fewer than
        ``coreg_retry_inliers``) is done again with every keypoint and the better one kept."""
        opts = self.opts
        h_full, history, last = self.coregister(cand, opts.coreg_keypoints)
        if opts.coreg_keypoints is not None and last is not None and last[0] < opts.coreg_retry_inliers:
            h_more, more, last_more = self.coregister(cand)
            history += more
            if self._better(last_more, last, cand.reference, cand.rotation_deg):
                h_full, last = h_more, last_more
        for m in history:
            m["start"] = start
        return h_full, history, last

    def _verify(self, cand: Candidate) -> LocateResult:
        opts = self.opts
        ref = cand.reference
        ph, pw = self._photo[0].shape
        start = "homography"
        if cand.h_affine_photo_to_ref is not None:
            outline = hg.apply_h(cand.h_photo_to_ref, hg.border_points(pw, ph, 1))
            if not hg.quad_is_sane(outline, allow_mirror=False)[0]:
                # a bow tie or a mirror from a few points: the affine fit of the same matches starts
                cand = replace(cand, h_photo_to_ref=cand.h_affine_photo_to_ref, h_affine_photo_to_ref=None)
                start = "affine"
        h_full, history, last = self._coregistration(cand, start)
        if cand.h_affine_photo_to_ref is not None and not self._passes(last, ref, cand.rotation_deg):
            # the homography of a weak first pass can be far off away from its few points: start
            # the re-match again from the affine fit of the same matches, keep the better outcome
            alt = replace(cand, h_photo_to_ref=cand.h_affine_photo_to_ref, h_affine_photo_to_ref=None)
            h_alt, more, last_alt = self.coregister(alt)  # one pass with every keypoint
            for m in more:
                m["start"] = "affine"
            history += more
            if self._better(last_alt, last, ref, cand.rotation_deg):
                h_full, last = h_alt, last_alt
        res = LocateResult(
            False,
            "",
            reference=ref.name,
            inliers_first_pass=cand.inliers,
            iterations=history,
            rotation_deg=float(cand.rotation_deg),
            matcher=self.matcher.name,
        )
        if last is None:
            res.reason = "the re-match after warping the reference into the photo's frame failed"
            return res
        n, ratio, spread, pts_photo, pts_ref = last
        res.inliers, res.inlier_ratio, res.inlier_spread = n, float(ratio), float(spread)
        res.h_photo_to_ref = h_full
        res.match_points = (pts_photo, pts_ref)
        corners_px = hg.apply_h(
            h_full, np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]])
        )
        sane, why = hg.quad_is_sane(corners_px, allow_mirror=False)
        ring_px = hg.apply_h(h_full, hg.border_points(pw, ph, 8))
        lon, lat = ref.pixel_to_lonlat(ring_px[:, 0], ring_px[:, 1])
        clon, clat = ref.pixel_to_lonlat(*hg.apply_h(h_full, np.array([[(pw - 1) / 2, (ph - 1) / 2]]))[0])
        res.center_lonlat = (float(clon), float(clat))
        res.footprint_lonlat = [[float(a), float(b)] for a, b in zip(lon, lat)]
        clon4, clat4 = ref.pixel_to_lonlat(corners_px[:, 0], corners_px[:, 1])
        res.corners_lonlat = [[float(a), float(b)] for a, b in zip(clon4, clat4)]
        if sane:
            sides = [ground_distance_m(clon4[i], clat4[i], clon4[(i + 1) % 4], clat4[(i + 1) % 4]) for i in range(4)]
            res.ground_width_m = float(max(sides))
        widths = expected_widths_m(opts, ref) if opts.focal_mm else None
        res.expected_width_m = None if widths is None else float(widths[0])
        checks = []
        n_min, ratio_min = self.bars(ref, cand.rotation_deg)
        if n < n_min:
            raised = []
            if not self._at_least_ref_px(ref) and opts.small_ref_min_inliers > opts.min_inliers:
                raised.append(f"on a reference smaller than {opts.ref_px} px")
            if cand.rotation_deg % 90.0 and opts.diagonal_min_inliers > opts.min_inliers:
                raised.append(f"with the photo turned {cand.rotation_deg:g} deg, off the right angles")
            why_more = f" {' and '.join(raised)}" if n_min != opts.min_inliers and raised else ""
            checks.append(f"only {n} inliers after coregistration (need {n_min}{why_more})")
        if ratio < ratio_min:
            checks.append(f"inlier ratio {ratio:.2f} below {ratio_min}")
        if spread < opts.min_spread:
            checks.append(f"inliers cover {spread:.0%} of the photo (need {opts.min_spread:.0%})")
        if not sane:
            checks.append(why)
        if sane and widths is not None:
            lo, hi = min(widths) / opts.size_tolerance, max(widths) * opts.size_tolerance
            if not lo <= res.ground_width_m <= hi:
                checks.append(
                    f"footprint {res.ground_width_m / 1000:.1f} km wide is implausible for a "
                    f"{opts.focal_mm:g} mm lens (expected {lo / 1000:.1f}-{hi / 1000:.1f} km)"
                )
        if checks:
            res.reason = "; ".join(checks)
            return res
        res.matched = True
        res.reason = "accepted: re-match after coregistration is consistent"
        # confidence: grows with the inliers beyond the threshold and with their spread
        res.confidence = float(1.0 - math.exp(-(n - opts.min_inliers + 10) / 25.0) * (1.0 - min(spread, 1.0) * 0.5))
        res.confidence = float(min(max(res.confidence, 0.5), 0.999))
        return res

    # -- the whole search --------------------------------------------------------------------------

    def _set_photo(self, photo: np.ndarray) -> None:
        """The photo's grey image, cloud mask and feature cache; kept when the same pixels come
        again (a pool verifies one photo against several tiles, one call each)."""
        import hashlib

        digest = hashlib.blake2b(np.ascontiguousarray(photo).tobytes(), digest_size=16).hexdigest()
        digest += str(photo.shape)
        if getattr(self, "_photo_digest", None) == digest:
            return
        self._photo = photo_for_matching(photo, self.opts.cloud_fill_sigma)
        self._photo_cache: dict = {}
        self._photo_digest = digest

    def _working_photo(self, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(the photo at ``work_px`` on its long side, the homography from the photo's pixels to
        it), or (the photo, None) when it is no larger; the last one is kept (a pool passes the
        same photo for every tile)."""
        import cv2

        work = self.opts.work_px
        if work is not None:
            work = max(work, self.opts.photo_px, *self.opts.photo_ladder_px)
        h, w = photo.shape[:2]
        if work is None or max(h, w) <= work:
            return photo, None
        cached = getattr(self, "_working", None)
        if cached is not None and cached[0] is photo:
            return cached[1], cached[2]
        s = work / max(h, w)
        sw, sh = max(8, round(w * s)), max(8, round(h * s))
        small = cv2.resize(np.ascontiguousarray(photo), (sw, sh), interpolation=cv2.INTER_AREA)
        to_work = hg.scale_h(sw / w, sh / h)
        self._working = (photo, small, to_work)
        return small, to_work

    def quick_inliers_for(self, photo: np.ndarray, ref: Reference) -> int:
        """The quick stage's best inlier count for this photo on the whole reference (every right
        angle; 0 below ``min_coarse_inliers`` or with the quick stage off): a cheap pre-check that
        lets a pool verify first the tile the photo clearly matches."""
        if self.opts.quick_inliers is None or not hasattr(self.matcher, "mutual_nearest"):
            return 0
        self._set_photo(self._working_photo(photo)[0])
        h, w = ref.shape
        best = 0
        for a in self._rotation_order(ref):
            cand = self._first_pass(ref, (0, 0, w, h), self.opts.photo_ladder_px[0], a, quick=True)
            best = max(best, 0 if cand is None else cand.inliers)
        return best

    def _within_horizon(self, references: list[Reference]) -> list[Reference]:
        limit = horizon_distance_m(self.opts.altitude_m)
        lon0, lat0 = self.opts.nadir_lonlat
        keep = []
        for r in references:
            w, s, e, n = r.lonlat_bounds()
            near = (min(max(lon0, w), e), min(max(lat0, s), n))
            if ground_distance_m(lon0, lat0, *near) <= limit:
                keep.append(r)
        return keep

    @property
    def searched(self) -> bool:
        """Whether the last search reached the matching (not a blank, overcast or beyond-the-horizon
        answer): only then can a second search on contrast-folded images change the answer."""
        return self._searched

    @property
    def retries_on_folded_contrast(self) -> bool:
        """Whether a rejection is followed by a search on contrast-folded images (the option
        ``contrast_retry``, on a localizer that searches CLAHE images)."""
        return self.opts.contrast_retry and self.opts.contrast == "clahe"

    def folded_search_allowed(self, reference: Reference | tuple[int, int]) -> bool:
        """Whether ``reference`` (or a reference of this (rows, cols) shape, as a pool tile's metadata
        gives it) may be searched on contrast-folded images: only one at least
        ``ref_px`` on its long side, the size the first pass works at. On smaller ones (tiles cut
        from a mosaic) the folded images of unrelated desert crops matched the bundled photos with
        up to 79 inliers at ratio 0.39 (docs/locate.md, "Session 45"); on whole 1024-px references
        the folded search's wrong pairs end with no inliers."""
        return self._at_least_ref_px(reference)

    def folded_localizer(self) -> Localizer:
        """The localizer of the second search: the same options on contrast-folded images, its own
        inlier bar (``contrast_retry_min_inliers``), no retry of its own, the same feature cache
        (its entries are keyed apart)."""
        if self._folded is None:
            bar = max(self.opts.min_inliers, self.opts.contrast_retry_min_inliers)
            self._folded = Localizer(
                replace(self.opts, contrast="folded", contrast_retry=False, min_inliers=bar), cache=self.cache
            )
        return self._folded

    def locate(
        self, photo: np.ndarray, references: list[Reference], contrast_retry: bool = True, explain_width: bool = True
    ) -> LocateResult:
        """Find ``photo`` on one of ``references`` (the first accepted), or say why not. With the
        option ``contrast_retry`` (and ``contrast_retry`` here: a pool verifying tile after tile
        passes False and retries the tiles itself), a photo every candidate rejected after a real
        search is searched again on contrast-folded images (:meth:`folded_localizer`). A rejection
        says when every reference is narrower than the lens's footprint (:func:`narrower_than_footprint`;
        ``explain_width`` False: a pool, which says it once for all its tiles)."""
        res = self._locate(photo, references, explain_width)
        if res.matched or not (contrast_retry and self.retries_on_folded_contrast) or not self._searched:
            return res
        wide = [r for r in references if self.folded_search_allowed(r)]
        if not wide:
            return res
        again = self.folded_localizer().locate(photo, wide)
        if again.matched:
            again.reason += FOLDED_NOTE
            again.timings_s = {**res.timings_s, "contrast-folded retry": round(again.seconds, 3)}
            again.seconds += res.seconds
            return again
        res.timings_s["contrast-folded retry"] = round(again.seconds, 3)
        res.seconds += again.seconds
        return res

    def _locate(self, photo: np.ndarray, references: list[Reference], explain_width: bool = True) -> LocateResult:
        t_start = time.perf_counter()
        opts = self.opts
        self._searched = False
        self._clock = _Clock()

        def done(res: LocateResult) -> LocateResult:
            res.seconds = time.perf_counter() - t_start
            res.timings_s = {k: round(v, 3) for k, v in self._clock.seconds.items()}
            res.matcher = self.matcher.name
            return res

        t0 = time.perf_counter()
        photo, to_work = self._working_photo(photo)
        if to_work is not None:
            inner = done

            def done(res: LocateResult) -> LocateResult:  # working pixels -> the photo's own pixels
                if res.h_photo_to_ref is not None:
                    res.h_photo_to_ref = res.h_photo_to_ref @ to_work
                if res.match_points is not None:
                    res.match_points = (hg.apply_h(np.linalg.inv(to_work), res.match_points[0]), res.match_points[1])
                return inner(res)

        self._clock.add("photo preparation", t0)
        # an overcast photo is judged as it is: dehazing would stretch a uniform cloud deck into "ground"
        ok, why = photo_quality(photo)
        if not ok:
            return done(LocateResult(False, why))
        refs = references
        if opts.nadir_lonlat is not None:
            refs = self._within_horizon(references)
            if not refs:
                return done(
                    LocateResult(
                        False,
                        "every candidate lies beyond the ISS horizon from the given nadir "
                        f"point ({horizon_distance_m(opts.altitude_m) / 1000:.0f} km)",
                    )
                )
        self._set_photo(photo)
        self._searched = True
        state = {"best_fail": None, "best_coarse": 0, "verified": 0}

        def verify(cand: Candidate) -> LocateResult | None:
            if state["verified"] >= opts.max_verifications:
                return None
            state["verified"] += 1
            res = self._verify(cand)
            if res.matched:
                return res
            if state["best_fail"] is None or res.inliers > state["best_fail"].inliers:
                state["best_fail"] = res
            return None

        def search(ref: Reference, tiles: list, ladder, turns: list[float]) -> LocateResult | None:
            for rung, photo_px in enumerate(ladder):
                pending: list[Candidate] = []
                best_by_turn = dict.fromkeys(turns, 0)
                for angle in turns:
                    for tile in tiles:
                        cand = self._first_pass(ref, tile, photo_px, angle)
                        if cand is None:
                            continue
                        best_by_turn[angle] = max(best_by_turn[angle], cand.inliers)
                        state["best_coarse"] = max(state["best_coarse"], cand.inliers)
                        if cand.inliers >= opts.eager_inliers:
                            res = verify(cand)
                            if res is not None:
                                return res
                        else:
                            pending.append(cand)
                for cand in sorted(pending, key=lambda c: -c.inliers)[:2]:
                    res = verify(cand)
                    if res is not None:
                        return res
                if rung == 0:
                    # turns ranked by their first-size matches (stable: ties keep the prior's order)
                    turns = sorted(turns, key=lambda a: -best_by_turn[a])
                    state["turn_rank"] = turns
                    if opts.fine_turns is not None and any(best_by_turn.values()):
                        # the finer sizes try only the turns that matched best at the first
                        turns = turns[: opts.fine_turns]
            return None

        def quick(ref: Reference, turns: list[float]) -> tuple[LocateResult | None, list[float]]:
            """Mutual nearest descriptors for every turn at the first size: a clear winner is
            coregistered at once, and leads the turns LightGlue tries next."""
            if opts.quick_inliers is None or not hasattr(self.matcher, "mutual_nearest"):
                return None, turns
            h, w = ref.shape
            cands = [self._first_pass(ref, (0, 0, w, h), opts.photo_ladder_px[0], a, quick=True) for a in turns]
            found = [c for c in cands if c is not None]
            best = max(found, key=lambda c: c.inliers, default=None)
            if best is None or best.inliers < opts.quick_inliers:
                return None, turns
            state["best_coarse"] = max(state["best_coarse"], best.inliers)
            order = [best.rotation_deg] + [a for a in turns if a != best.rotation_deg]
            return verify(best), order

        for ref in refs:
            state["verified"] = 0  # the verification budget holds per candidate reference
            h, w = ref.shape
            res, turns = quick(ref, self._rotation_order(ref))
            if res is not None:
                return done(res)
            state["turn_rank"] = turns
            res = search(ref, [(0, 0, w, h)], opts.photo_ladder_px, turns)
            if res is None and opts.diagonal_turns:
                # a photo turned ~45 deg from every right angle: the diagonals, at the first size; with
                # ``diagonal_turns_near_best``, only the two beside the right angle that matched best
                best = state["turn_rank"][0]
                diagonals = (
                    [best + 45.0, (best + 315.0) % 360.0]
                    if opts.diagonal_turns_near_best
                    else self._rotation_order(ref, 45.0)
                )
                res = search(ref, [(0, 0, w, h)], opts.photo_ladder_px[:1], diagonals)
            # tiles add detail only where the reference is finer than its whole-pass resampling
            if res is None and opts.focal_mm is not None and max(h, w) > 1.5 * opts.ref_px:
                tiles = self._tiles(ref)[: opts.max_tiles]
                if tiles:
                    state["verified"] = min(state["verified"], opts.max_verifications - 2)
                    res = search(ref, tiles, [min(opts.photo_ladder_px)], self._rotation_order(ref))
            if res is not None:
                return done(res)
        best_fail, best_coarse = state["best_fail"], state["best_coarse"]
        if best_fail is None:
            best_fail = LocateResult(
                False,
                f"no consistent matches with any candidate (best first pass: {best_coarse} inliers)",
                inliers_first_pass=best_coarse,
            )
        if explain_width:
            best_fail.reason += narrower_than_footprint(opts, refs)
        return done(best_fail)
