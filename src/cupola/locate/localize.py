"""Localize one astronaut photo against reference imagery.

Pipeline
--------
1. Photo checks: a blank or cloud-covered photo is rejected with a reason before any matching.
2. Prior (optional): with the ISS nadir point, references beyond the ISS horizon are discarded and
   the slant range gives the expected ground size of the photo.
3. Coarse search at comparable ground resolution: the photo is scaled to the reference's working
   resolution (from lens focal length, sensor width and range; several scales when the range is
   unknown), tried at 0/90/180/270 deg, matched, and a homography fitted with MAGSAC++. A large
   reference is searched tile by tile.
4. Iterative coregistration: the reference is warped into the photo's frame around the current
   estimate and matched again at the photo's resolution, until the outline moves < 1 px.
5. Decision: accepted only if the re-match after warping has enough, well-spread inliers, the
   footprint is a convex quadrilateral, its ground size is plausible for the focal length and the
   range, and the last iterations agree. First-pass inlier counts alone do not separate true from
   wrong candidates.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from cupola.locate import homography as hg
from cupola.locate.features import Features, make_matcher
from cupola.locate.reference import Reference

ISS_ALTITUDE_M = 420e3
EARTH_RADIUS_M = 6371e3
FULL_FRAME_WIDTH_MM = 36.0


@dataclass
class LocateOptions:
    matcher: str = "aliked"
    focal_mm: float | None = None
    sensor_width_mm: float = FULL_FRAME_WIDTH_MM
    nadir_lonlat: tuple[float, float] | None = None
    altitude_m: float = ISS_ALTITUDE_M
    coarse_photo_px: int = 320  # the photo's size in the coarse search (the reference follows)
    min_ref_px: int = 384
    max_ref_px: int = 768
    photo_px: int = 384  # photo size for coregistration
    max_keypoints: int = 1024
    max_iterations: int = 3
    min_inliers: int = 30  # after coregistration
    min_inlier_ratio: float = 0.3
    min_spread: float = 0.08
    size_tolerance: float = 2.5  # accepted ratio between measured and expected ground size
    early_accept_inliers: int = 25  # coarse: stop trying rotations once one reaches this
    min_coarse_inliers: int = 8  # coarse: worth a coregistration
    max_verifications: int = 3


@dataclass
class Candidate:
    reference: Reference
    scale: float
    rotation_k: int
    inliers: int
    h_photo_to_ref: np.ndarray  # full-resolution photo pixels -> reference pixels
    tile: tuple[int, int, int, int] | None = None


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


def normalise(gray: np.ndarray) -> np.ndarray:
    """Local contrast normalisation (CLAHE) so sensors, seasons and haze look alike."""
    import cv2

    return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)


def cloud_mask(img: np.ndarray) -> np.ndarray:
    """True for bright, colourless pixels (clouds, haze tops)."""
    if img.ndim == 2:
        return img > 235
    f = img.astype(np.float32) / 255.0
    mx, mn = f.max(axis=2), f.min(axis=2)
    sat = (mx - mn) / np.maximum(mx, 1e-6)
    return (mx > 0.7) & (sat < 0.18)


def photo_quality(img: np.ndarray) -> tuple[bool, str]:
    g = to_gray(img).astype(np.float32)
    if g.std() < 4.0:
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


def expected_widths_m(opts: LocateOptions, ref: Reference) -> list[float]:
    """Hypotheses for the ground width the photo covers."""
    if opts.focal_mm is None:
        # no lens: a geometric ladder of widths (about 25 mm to 800 mm lenses from the ISS)
        return [float(w) for w in np.geomspace(15e3, 240e3, 4)]
    fov = opts.sensor_width_mm / opts.focal_mm
    if opts.nadir_lonlat is not None:
        d = ground_distance_m(*opts.nadir_lonlat, *ref.center_lonlat())
        rng = slant_range_m(d, opts.altitude_m)
        # the obliquity widens the far side; keep one scale, plus a wider one for strong obliquity
        # obliquity stretches the far side of the frame: one wider hypothesis too
        return [rng * fov, rng * fov * 1.35]
    return [opts.altitude_m * fov * k for k in (1.0, 1.6, 2.6)]


# -- the search ------------------------------------------------------------------------------------

class Localizer:
    """Reusable localizer (keeps the matcher and cached reference features)."""

    def __init__(self, options: LocateOptions | None = None):
        self.opts = options or LocateOptions()
        self.matcher = make_matcher(self.opts.matcher, max_keypoints=self.opts.max_keypoints) \
            if self.opts.matcher in ("aliked", "xfeat") else make_matcher(self.opts.matcher)
        self._ref_cache: dict = {}

    # reference features at the working resolution, per tile
    def _ref_features(self, ref: Reference, tile, size_px: int) -> tuple[Features, float]:
        key = (id(ref), tile, size_px)
        if key not in self._ref_cache:
            c0, r0, c1, r1 = tile
            crop = to_gray(ref.image[r0:r1, c0:c1])
            s = size_px / max(crop.shape)
            small = normalise(resize(crop, max(8, round(crop.shape[1] * s)), max(8, round(crop.shape[0] * s))))
            self._ref_cache[key] = (self.matcher.extract(small), crop.shape[1] / small.shape[1])
        return self._ref_cache[key]

    def _tiles(self, ref: Reference, width_m: float) -> list[tuple[int, int, int, int]]:
        """The whole reference, or overlapping tiles ~3x the photo's footprint when it is far bigger."""
        h, w = ref.shape
        ref_w_m, ref_h_m = ref.ground_size_m()
        if max(ref_w_m, ref_h_m) <= 5.0 * width_m:
            return [(0, 0, w, h)]
        # tiles ~3 footprints wide, but never more than 5 x 5 of them (coarser tiles for tiny footprints)
        tile_px = max(int(round(3.0 * width_m / ref_w_m * w)), int(np.ceil(max(w, h) / 3.0)))
        step = max(1, tile_px // 2)
        tiles = []
        for r0 in range(0, max(1, h - tile_px + step), step):
            for c0 in range(0, max(1, w - tile_px + step), step):
                tiles.append((c0, r0, min(w, c0 + tile_px), min(h, r0 + tile_px)))
        return tiles

    def coarse_candidates(self, photo_gray: np.ndarray, photo_mask, ref: Reference, width_m: float,
                          tile, on_candidate=None) -> list[Candidate]:
        """Coarse matches of the photo at one ground-width hypothesis against one reference tile,
        at the four right-angle rotations (best first). ``on_candidate(c)`` is called as each is
        found; returning True stops the search (the candidate was verified and accepted)."""
        opts = self.opts
        ph, pw = photo_gray.shape
        c0, r0, c1, r1 = tile
        tile_w_m = ref.ground_size_m()[0] * (c1 - c0) / ref.shape[1]
        # the reference at a resolution where the photo spans ~coarse_photo_px pixels (one resolution
        # for all width hypotheses, so the reference's features are computed once)
        widths = expected_widths_m(opts, ref)
        typical = float(np.exp(np.mean(np.log(widths))))
        work_px = int(np.clip(opts.coarse_photo_px * tile_w_m / typical, opts.min_ref_px, opts.max_ref_px))
        work_px = min(work_px, max(c1 - c0, r1 - r0))
        fr, ref_scale = self._ref_features(ref, tile, work_px)
        gsd_work = tile_w_m / ((c1 - c0) / ref_scale)
        n_px = int(np.clip(width_m / gsd_work, 96, 1.5 * opts.coarse_photo_px))
        seen = self._coarse_sizes.setdefault((id(ref), tile), set())
        if any(abs(n_px - m) <= 0.1 * m for m in seen):
            return []  # this photo size (clamped) was already tried on this tile
        seen.add(n_px)
        s = n_px / pw
        small = normalise(resize(photo_gray, n_px, max(8, round(ph * s))))
        small_mask = None if photo_mask is None else \
            resize(photo_mask.astype(np.uint8), small.shape[1], small.shape[0]) > 0
        to_small = hg.scale_h(small.shape[1] / pw, small.shape[0] / ph)
        tile_to_ref = np.array([[1, 0, c0], [0, 1, r0], [0, 0, 1]], float) @ hg.scale_h(ref_scale)
        out: list[Candidate] = []
        for k in self._rotation_order(ref):
            img = np.ascontiguousarray(np.rot90(small, k))
            m = None if small_mask is None else ~np.rot90(small_mask, k)
            fp = self.matcher.extract(img, m)
            i0, i1 = self.matcher.match(fp, fr)
            if len(i0) < 8:
                continue
            h, inl = hg.estimate_homography(fp.keypoints[i0], fr.keypoints[i1], 4.0)
            if h is None or inl.sum() < 8:
                continue
            # full-res photo -> small -> rotated small -> tile (work) -> reference (full)
            rot = np.linalg.inv(hg.rot90_h(k, small.shape[1], small.shape[0]))
            out.append(Candidate(ref, s, k, int(inl.sum()), tile_to_ref @ h @ rot @ to_small, tile))
            if on_candidate is not None and on_candidate(out[-1]):
                break
            if inl.sum() >= opts.early_accept_inliers:
                break
        return sorted(out, key=lambda c: -c.inliers)

    def _rotation_order(self, ref: Reference) -> list[int]:
        """Right-angle rotations to try, most likely first. With a nadir point, an oblique photo is
        usually framed with its far side (away from the nadir) at the top."""
        if self.opts.nadir_lonlat is None:
            return [0, 1, 2, 3]
        from pyproj import Geod

        az = Geod(ellps="WGS84").inv(*self.opts.nadir_lonlat, *ref.center_lonlat())[0]
        k = int(round(-az / 90.0)) % 4
        return [k, (k + 1) % 4, (k + 3) % 4, (k + 2) % 4]

    def coregister(self, photo_gray: np.ndarray, photo_mask, cand: Candidate):
        """Warp the reference into the photo's frame around the estimate and match again."""
        import cv2

        opts = self.opts
        ph, pw = photo_gray.shape
        k = cand.rotation_k
        s = opts.photo_px / max(ph, pw)
        pb = normalise(resize(photo_gray, round(pw * s), round(ph * s)))
        pb = np.ascontiguousarray(np.rot90(pb, k))
        mb = None if photo_mask is None else ~np.ascontiguousarray(
            np.rot90(resize(photo_mask.astype(np.uint8), round(pw * s), round(ph * s)) > 0, k))
        bh, bw = pb.shape
        # photo_b pixels -> full-res photo pixels
        b_to_full = hg.scale_h(pw / round(pw * s), ph / round(ph * s)) @ hg.rot90_h(k, round(pw * s), round(ph * s))
        h_b = cand.h_photo_to_ref @ b_to_full  # photo_b -> reference
        fp = self.matcher.extract(pb, mb)
        ref_gray = to_gray(cand.reference.image)
        history = []
        last = None
        for it in range(opts.max_iterations):
            warped = cv2.warpPerspective(ref_gray, h_b, (bw, bh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            valid = cv2.warpPerspective(np.full(ref_gray.shape, 255, np.uint8), h_b, (bw, bh),
                                        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
            if valid.mean() < 0.05:
                history.append({"iteration": it + 1, "inliers": 0, "note": "estimate falls outside the reference"})
                break
            fw = self.matcher.extract(normalise(warped), valid)
            i0, i1 = self.matcher.match(fp, fw)
            h_delta, inl = hg.estimate_homography(fp.keypoints[i0], fw.keypoints[i1], 3.0) if len(i0) >= 8 else (None, [])
            n = int(np.sum(inl)) if h_delta is not None else 0
            ratio = n / max(len(i0), 1)
            if h_delta is None or n < 8:
                history.append({"iteration": it + 1, "inliers": n, "matches": int(len(i0)), "note": "re-match failed"})
                break
            h_new = h_b @ h_delta
            corners = hg.border_points(bw, bh, 1)
            move = float(np.nanmax(np.linalg.norm(hg.apply_h(h_new, corners) - hg.apply_h(h_b, corners), axis=1)))
            spread = hg.hull_fraction(fp.keypoints[i0][inl], bw, bh)
            history.append({"iteration": it + 1, "inliers": n, "matches": int(len(i0)), "inlier_ratio": ratio,
                            "spread": spread, "outline_shift_ref_px": move})
            h_b = h_new
            last = (n, ratio, spread, fp.keypoints[i0][inl], hg.apply_h(h_b, fp.keypoints[i0][inl]))
            if move < 1.0:
                break
        h_full = h_b @ np.linalg.inv(b_to_full)
        if last is not None:
            pts_full = hg.apply_h(b_to_full, last[3])
            last = last[:3] + (pts_full, last[4])
        return h_full, history, last

    def locate(self, photo: np.ndarray, references: list[Reference]) -> LocateResult:
        t0 = time.perf_counter()
        opts = self.opts
        ok, why = photo_quality(photo)
        if not ok:
            return LocateResult(False, why, seconds=time.perf_counter() - t0, matcher=self.matcher.name)
        refs = references
        if opts.nadir_lonlat is not None:
            limit = horizon_distance_m(opts.altitude_m)
            refs = []
            for r in references:
                w, s, e, n = r.lonlat_bounds()
                lon0, lat0 = opts.nadir_lonlat
                near_lon = min(max(lon0, w), e)
                near_lat = min(max(lat0, s), n)
                if ground_distance_m(lon0, lat0, near_lon, near_lat) <= limit:
                    refs.append(r)
            if not refs:
                return LocateResult(False, "every candidate lies beyond the ISS horizon from the given nadir point "
                                    f"({limit / 1000:.0f} km)", seconds=time.perf_counter() - t0,
                                    matcher=self.matcher.name)
        gray = to_gray(photo)
        mask = cloud_mask(photo)
        self._coarse_sizes: dict = {}
        state = {"best_fail": None, "best_coarse": 0, "verified": 0, "accepted": None, "tried": set()}

        def verify(cand: Candidate) -> bool:
            """Coregister and decide one candidate (within the verification budget)."""
            state["best_coarse"] = max(state["best_coarse"], cand.inliers)
            if (cand.inliers < opts.min_coarse_inliers or state["verified"] >= opts.max_verifications
                    or id(cand) in state["tried"]):
                return False
            state["verified"] += 1
            state["tried"].add(id(cand))
            res = self._verify(photo, gray, mask, cand)
            if res.matched:
                state["accepted"] = res
                return True
            if state["best_fail"] is None or res.inliers > state["best_fail"].inliers:
                state["best_fail"] = res
            return False

        for ref in refs:
            for width_m in expected_widths_m(opts, ref):
                tiles = self._tiles(ref, width_m)
                # one tile: verify a plausible rotation at once (the prior orders them, most
                # likely first); many tiles: rank all first, so the budget goes to the best
                eager = verify if len(tiles) == 1 else None
                cands = []
                for tile in tiles:
                    cands.extend(self.coarse_candidates(gray, mask, ref, width_m, tile, on_candidate=eager))
                    if state["accepted"] is not None:
                        state["accepted"].seconds = time.perf_counter() - t0
                        return state["accepted"]
                cands.sort(key=lambda c: -c.inliers)
                for cand in cands[:2]:
                    if verify(cand):
                        state["accepted"].seconds = time.perf_counter() - t0
                        return state["accepted"]
        best_fail, best_coarse = state["best_fail"], state["best_coarse"]
        if best_fail is None:
            return LocateResult(False, f"no consistent matches with any candidate (best first pass: {best_coarse} "
                                "inliers)", inliers_first_pass=best_coarse, seconds=time.perf_counter() - t0,
                                matcher=self.matcher.name)
        best_fail.seconds = time.perf_counter() - t0
        return best_fail

    def _verify(self, photo, gray, mask, cand: Candidate) -> LocateResult:
        opts = self.opts
        ref = cand.reference
        ph, pw = gray.shape
        h_full, history, last = self.coregister(gray, mask, cand)
        res = LocateResult(False, "", reference=ref.name, inliers_first_pass=cand.inliers, iterations=history,
                           rotation_deg=90.0 * cand.rotation_k, matcher=self.matcher.name)
        if last is None:
            res.reason = "the re-match after warping the reference into the photo's frame failed"
            return res
        n, ratio, spread, pts_photo, pts_ref = last
        res.inliers, res.inlier_ratio, res.inlier_spread = n, float(ratio), float(spread)
        res.h_photo_to_ref = h_full
        res.match_points = (pts_photo, pts_ref)
        corners_px = hg.apply_h(h_full, np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]]))
        sane, why = hg.quad_is_sane(corners_px)
        ring_px = hg.apply_h(h_full, hg.border_points(pw, ph, 8))
        lon, lat = ref.pixel_to_lonlat(ring_px[:, 0], ring_px[:, 1])
        clon, clat = ref.pixel_to_lonlat(*hg.apply_h(h_full, np.array([[(pw - 1) / 2, (ph - 1) / 2]]))[0])
        res.center_lonlat = (float(clon), float(clat))
        res.footprint_lonlat = [[float(a), float(b)] for a, b in zip(lon, lat)]
        clon4, clat4 = ref.pixel_to_lonlat(corners_px[:, 0], corners_px[:, 1])
        res.corners_lonlat = [[float(a), float(b)] for a, b in zip(clon4, clat4)]
        # the ground width (long side of the outline, in metres)
        if sane:
            sides = [ground_distance_m(clon4[i], clat4[i], clon4[(i + 1) % 4], clat4[(i + 1) % 4]) for i in range(4)]
            res.ground_width_m = float(max(sides))
        widths = expected_widths_m(opts, ref) if opts.focal_mm else None
        res.expected_width_m = None if widths is None else float(widths[0])
        checks = []
        if n < opts.min_inliers:
            checks.append(f"only {n} inliers after coregistration (need {opts.min_inliers})")
        if ratio < opts.min_inlier_ratio:
            checks.append(f"inlier ratio {ratio:.2f} below {opts.min_inlier_ratio}")
        if spread < opts.min_spread:
            checks.append(f"inliers cover {spread:.0%} of the photo (need {opts.min_spread:.0%})")
        if not sane:
            checks.append(why)
        if sane and widths is not None:
            lo, hi = min(widths) / opts.size_tolerance, max(widths) * opts.size_tolerance
            if not lo <= res.ground_width_m <= hi:
                checks.append(f"footprint {res.ground_width_m / 1000:.1f} km wide is implausible for a "
                              f"{opts.focal_mm:g} mm lens (expected {lo / 1000:.1f}-{hi / 1000:.1f} km)")
        if len(history) >= 2 and history[-1].get("outline_shift_ref_px", 0) > 20:
            checks.append("the estimate did not settle between iterations")
        if checks:
            res.reason = "; ".join(checks)
            res.confidence = 0.0
            return res
        res.matched = True
        res.reason = "accepted: re-match after coregistration is consistent"
        # confidence: grows with inliers beyond the threshold and with their spread
        res.confidence = float(1.0 - math.exp(-(n - opts.min_inliers + 10) / 25.0) * (1.0 - min(spread, 1.0) * 0.5))
        res.confidence = float(min(max(res.confidence, 0.5), 0.999))
        return res
