"""Astrometric calibration: which catalog star is which source, and the camera's orientation.

Two ways in:

* **from a pose** (tie points or a given attitude, with the orbit): catalog stars are projected
  into the frame, matched to the nearest sources, and the fit is refined;
* **blind**: the camera's focal length (EXIF) fixes the angular scale, so star triangles are
  compared by their shape (ratios of the sides, an invariant) and size (angle of the longest
  side) against an index of triangles of bright catalog stars (geometric hashing, as in
  astrometry.net or tetra3, with triangles instead of quads); every candidate gives a rotation
  (``Rotation.align_vectors``) that is kept only if it predicts many other stars.

The model is a rotation camera -> ICRS and a focal length (one scale for both axes) of a pinhole
camera applied to *undistorted* sensor pixels (lens distortion removed with the lens model), fitted
by robust least squares on pixel residuals with sigma clipping. The result can be written as a FITS
TAN WCS (astropy.wcs) of the undistorted pixels. Apparent directions: the solved rotation absorbs
annual and orbital aberration (a near-uniform shift of ~20" over the field).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from cupola.geometry.attitude import fit_rotation
from cupola.geometry.camera import Camera

__all__ = ["AstrometricSolution", "PatternIndex", "pattern_index", "scale_band", "solve_astrometry", "wcs_header"]


@dataclass(frozen=True, eq=False)
class AstrometricSolution:
    """Camera -> ICRS rotation and the fitted (undistorted) camera, with the matched stars.

    ``det_index``/``cat_index`` pair sources with catalog rows; ``residuals_px`` (N, 2) are
    projected minus observed, undistorted sensor pixels, for the stars kept in the fit.
    """

    rotation: Rotation
    camera: Camera
    det_index: np.ndarray
    cat_index: np.ndarray
    residuals_px: np.ndarray
    method: str
    n_candidates: int = 0
    notes: tuple = ()
    predicted: dict = field(default_factory=dict)
    #: what the blind search did: index size and band, candidates tried and checked, matches of
    #: the accepted candidate and the log10 of its false-alarm probability
    search: dict = field(default_factory=dict)

    @property
    def n_matched(self) -> int:
        return int(self.det_index.size)

    @property
    def rms_px(self) -> float:
        return float(np.sqrt(np.mean(np.sum(self.residuals_px**2, axis=1)))) if self.n_matched else float("nan")

    @property
    def boresight_radec_deg(self) -> tuple[float, float]:
        b = self.rotation.apply([0.0, 0.0, 1.0])
        return float(np.degrees(np.arctan2(b[1], b[0])) % 360.0), float(np.degrees(np.arcsin(np.clip(b[2], -1, 1))))

    def to_dict(self) -> dict:
        ra, dec = self.boresight_radec_deg
        return {
            "method": self.method,
            "n_matched": self.n_matched,
            "rms_px": self.rms_px,
            "focal_px": self.camera.focal_px,
            "boresight_ra_deg": ra,
            "boresight_dec_deg": dec,
            "quaternion_camera_to_icrs_xyzw": self.rotation.as_quat().tolist(),
            "wcs": wcs_header(self),
            "search": dict(self.search),
            "notes": list(self.notes),
        }


def _project(rotation: Rotation, camera: Camera, vec_icrs: np.ndarray):
    cam = rotation.inv().apply(vec_icrs)
    return camera.ray_to_pixel(cam)


def _rays(camera: Camera, col, row) -> np.ndarray:
    r = camera.pixel_to_ray(col, row)
    return r / np.linalg.norm(r, axis=-1, keepdims=True)


def _match(pc, pr, col, row, radius_px):
    """Nearest-source match of predicted catalog positions; one catalog star per source."""
    ok = np.flatnonzero(np.isfinite(pc) & np.isfinite(pr))
    if ok.size == 0 or col.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    tree = cKDTree(np.column_stack([col, row]))
    d, j = tree.query(np.column_stack([pc[ok], pr[ok]]), distance_upper_bound=radius_px)
    hit = np.isfinite(d)
    cat_i, det_i, dist = ok[hit], j[hit], d[hit]
    order = np.argsort(dist)
    seen = set()
    keep = []
    for k in order:  # a source claimed by two catalog stars keeps the nearer
        if det_i[k] not in seen:
            seen.add(det_i[k])
            keep.append(k)
    keep = np.array(keep, int)
    return det_i[keep], cat_i[keep]


def _refine(rotation, camera, vec, col, row, *, fit_focal=True, loss="soft_l1", f_scale=1.0):
    return fit_rotation(camera, rotation, vec, col, row, solve_focal=fit_focal, loss=loss, f_scale_px=f_scale)


def _fit_and_clip(rotation, camera, vec_cat, col, row, *, fit_focal, clip_sigma=3.5, min_stars=5):
    keep = np.ones(col.size, bool)
    res = None
    for _ in range(4):
        if keep.sum() < min_stars:
            break
        rotation, cam, r = _refine(
            rotation, camera, vec_cat[keep], col[keep], row[keep], fit_focal=fit_focal and keep.sum() >= 8
        )
        c, rr = _project(rotation, cam, vec_cat)
        res = np.column_stack([c, rr]) - np.column_stack([col, row])
        d = np.hypot(res[:, 0], res[:, 1])
        # per-axis sigma from the median distance (a 2-D Gaussian's distances are Rayleigh, median
        # 1.1774 sigma): blends with fainter stars, the stars cut by the frame's edge or the limb
        # and cosmic rays fall out of the fit
        sigma = max(float(np.median(d[keep])) / 1.1774, 0.05)
        new = d <= clip_sigma * sigma
        if np.array_equal(new, keep):
            camera = cam
            break
        keep = new
        camera = cam
    return rotation, camera, keep, res


class _TriangleIndex:
    """Triangles of bright catalog stars: shape invariants in a KD-tree."""

    def __init__(self, vec: np.ndarray, max_side_rad: float, neighbours: int = 7):
        tree = cKDTree(vec)
        chord = 2.0 * np.sin(max_side_rad / 2.0)
        tris = set()
        for a in range(vec.shape[0]):
            nb = [b for b in tree.query_ball_point(vec[a], chord) if b != a]
            nb = sorted(nb)[:neighbours]  # catalog sorted bright -> faint: keep the brightest
            for i in range(len(nb)):
                for j in range(i + 1, len(nb)):
                    tris.add(tuple(sorted((a, nb[i], nb[j]))))
        self.tri = np.array(sorted(tris), int).reshape(-1, 3)
        self.vec = vec
        self.key, self.order, self.longest, self.sign = _invariants(vec, self.tri)
        self.tree = cKDTree(self.key) if len(self.key) else None


def _invariants(vec: np.ndarray, tri: np.ndarray):
    """Per triangle: (s1/s3, s2/s3) with s1 <= s2 <= s3 (angles), vertex order opposite s1, s2, s3,
    the longest side (rad) and the orientation sign of the ordered vertices."""
    p = vec[tri]  # (n, 3, 3)
    # side opposite vertex k joins the other two
    opp = np.stack(
        [np.arccos(np.clip(np.einsum("ij,ij->i", p[:, (k + 1) % 3], p[:, (k + 2) % 3]), -1, 1)) for k in range(3)],
        axis=1,
    )
    order = np.argsort(opp, axis=1)
    s = np.take_along_axis(opp, order, axis=1)
    key = np.column_stack([s[:, 0] / s[:, 2], s[:, 1] / s[:, 2]])
    verts = np.take_along_axis(tri, order, axis=1)
    q = vec[verts]
    sign = np.sign(np.einsum("ij,ij->i", q[:, 0], np.cross(q[:, 1], q[:, 2])))
    return key, verts, s[:, 2], sign


def _index_mag_limit(catalog_mag: np.ndarray, fov_sr: float, target: float = 30.0) -> float:
    need = int(target * 4 * np.pi / max(fov_sr, 1e-6))
    mags = np.sort(catalog_mag)
    if need >= mags.size:
        return float(mags[-1])
    return float(mags[max(need, 10)])


def _blind(
    vec_cat,
    mag_cat,
    det_rays,
    det_col,
    det_row,
    camera,
    *,
    n_image=25,
    ratio_tol=0.008,
    scale_tol=0.06,
    verify_radius_px=None,
    max_candidates=4000,
):
    w, h = camera.width_px, camera.height_px
    half_short = 0.5 * min(w / camera.focal_x_px, h / camera.focal_y_px)
    fov_sr = (w / camera.focal_x_px) * (h / camera.focal_y_px)
    max_side = 2.0 * np.arctan(half_short) * 0.9
    m_idx = _index_mag_limit(mag_cat, fov_sr)
    sel = np.flatnonzero(mag_cat <= m_idx)
    index = _TriangleIndex(vec_cat[sel], max_side)
    if index.tree is None:
        return None, 0
    n = min(n_image, det_rays.shape[0])
    img = det_rays[:n]
    from itertools import combinations

    tri = np.array(list(combinations(range(n), 3)), int).reshape(-1, 3)
    if tri.size == 0:
        return None, 0
    key, verts, longest, sign = _invariants(img, tri)
    min_side = 30.0 / camera.focal_px
    good = (longest <= max_side) & (key[:, 0] * longest > min_side)
    key, verts, longest, sign = key[good], verts[good], longest[good], sign[good]
    radius = verify_radius_px or max(4.0, 0.004 * max(w, h))
    n_verify = min(80, det_rays.shape[0])
    vcol, vrow = det_col[:n_verify], det_row[:n_verify]
    # catalog stars for verification: about twice as many as the index density
    m_ver = _index_mag_limit(mag_cat, fov_sr, target=90.0)
    ver = np.flatnonzero(mag_cat <= m_ver)
    best = (0, None, 0)
    tried = 0
    cands = []
    for t in range(key.shape[0]):
        for c in index.tree.query_ball_point(key[t], ratio_tol):
            if index.sign[c] != sign[t] or abs(index.longest[c] / longest[t] - 1.0) > scale_tol:
                continue
            cands.append((float(np.sum((index.key[c] - key[t]) ** 2)), t, c))
    cands.sort()
    for _, t, c in cands[:max_candidates]:
        tried += 1
        rot, _ = Rotation.align_vectors(vec_cat[sel][index.order[c]], img[verts[t]])
        pc, pr = _project(rot, camera, vec_cat[ver])
        inside = np.isfinite(pc) & (pc > -radius) & (pc < w + radius) & (pr > -radius) & (pr < h + radius)
        di, ci = _match(np.where(inside, pc, np.nan), pr, vcol, vrow, radius)
        if di.size > best[0]:
            best = (di.size, rot, int(inside.sum()))
            if di.size >= max(12, 0.5 * min(n_verify, inside.sum())):
                break
    n_best, rot, n_pred = best
    # chance coincidences: n_pred predicted stars, n_verify sources, each match disc pi r^2 of w h
    expected = n_pred * n_verify * np.pi * radius**2 / (w * h)
    if n_best < max(8, expected + 5.0 * np.sqrt(expected) + 3, 0.25 * min(n_verify, n_pred)):
        return None, tried
    return rot, tried


# -- the pattern index of the blind search ----------------------------------------------------------

#: Parameters of the pattern index (a change of any of them gives another cache key).
#: ``cells``: cells of the uniform thinning per reference field (a square of the band's side);
#: ``index_per_cell``/``verify_per_cell``: the brightest stars kept per cell as pattern stars
#: (~40 per field) and as stars of the quick check (~120 per field); ``neighbours``: each pattern
#: star's nearest pattern stars, whose pairs make its triangles; ``verify_neighbours``: each pattern
#: star's nearest check stars; ``max_side``/``min_side``: the longest side of a triangle as a
#: fraction of the band's field. Chosen on the robustness suite (see docs/nightlights.md).
INDEX_PARAMS = {
    "version": 1,
    "cells": 20.0,
    "index_per_cell": 2,
    "verify_per_cell": 6,
    "neighbours": 10,
    "verify_neighbours": 32,
    "max_side": 0.6,
    "min_side": 0.035,
}
_INDEX_CACHE: OrderedDict = OrderedDict()
_INDEX_CACHE_SIZE = 4


def scale_band(short_fov_rad: float) -> tuple[int, float]:
    """The scale band of a frame whose short side spans ``short_fov_rad``: band ``b`` is the nearest
    field of ``2^(b/2)`` degrees (fields within a factor 2^(1/4) of it); returns
    ``(b, 2^(b/2) deg in radians)``."""
    b = int(np.round(2.0 * np.log2(max(np.degrees(short_fov_rad), 0.05))))
    return b, float(np.radians(2.0 ** (b / 2.0)))


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _thin(vec: np.ndarray, mag: np.ndarray, n_cells: int, per_cell: int) -> np.ndarray:
    """Rows of the ``per_cell`` brightest stars in each of ``n_cells`` near-equal cells of the sphere
    (nearest point of a Fibonacci lattice), bright first: a star density that does not follow the
    Milky Way."""
    _, cell = cKDTree(_fibonacci_sphere(max(int(n_cells), 12))).query(vec)
    order = np.lexsort((mag, cell))
    cs = cell[order]
    idx = np.arange(cs.size)
    start = np.maximum.accumulate(np.where(np.r_[True, cs[1:] != cs[:-1]], idx, 0))
    keep = order[(idx - start) < per_cell]
    return keep[np.argsort(mag[keep], kind="stable")]


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between unit vectors (last axis), accurate at small angles (from the chord)."""
    d = u - v
    return 2.0 * np.arcsin(np.clip(0.5 * np.sqrt(np.einsum("...i,...i->...", d, d)), 0.0, 1.0))


def _tri_invariants(vec: np.ndarray, tri: np.ndarray, opp: np.ndarray | None = None):
    """Per triangle of rows ``tri`` of unit vectors ``vec``: the key (s1/s3, s2/s3) with sides (angles)
    s1 <= s2 <= s3, the vertices ordered as the sides opposite them, s3, the shortest side s1 and
    the orientation sign of the ordered vertices. ``opp``: the sides opposite each vertex, if known."""
    p = vec[tri]
    if opp is None:
        opp = np.stack([_angle(p[:, (k + 1) % 3], p[:, (k + 2) % 3]) for k in range(3)], axis=1)
    order = np.argsort(opp, axis=1)
    s = np.take_along_axis(opp, order, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        key = np.column_stack([s[:, 0] / s[:, 2], s[:, 1] / s[:, 2]])
    verts = np.take_along_axis(tri, order, axis=1)
    q = vec[verts]
    sign = np.sign(np.einsum("ij,ij->i", q[:, 0], np.cross(q[:, 1], q[:, 2]))).astype(np.int8)
    return key, verts, s[:, 2], s[:, 0], sign


@dataclass(frozen=True, eq=False)
class PatternIndex:
    """Triangles of a uniform selection of catalog stars for one scale band, with their shape keys
    in a KD-tree, and for each pattern star its nearest check stars. Rows refer to the catalog the
    index was built from."""

    band: int
    field_rad: float
    stars: np.ndarray  # catalog rows of the pattern stars
    verify: np.ndarray  # catalog rows of the check stars
    tri: np.ndarray  # (T, 3) catalog rows, ordered as the sides opposite them (shortest first)
    key: np.ndarray  # (T, 2)
    longest: np.ndarray  # (T,) rad
    sign: np.ndarray  # (T,) int8
    slot: np.ndarray  # catalog row -> row of ``neighbours`` (-1: not a pattern star)
    neighbours: np.ndarray  # (n_stars, M) catalog rows of each pattern star's nearest check stars
    min_side_rad: float
    max_side_rad: float
    trees: dict = field(repr=False)  # orientation sign -> (KD-tree of (key, KEY_SCALE_WEIGHT ln s3), rows)
    verify_tree: cKDTree = field(repr=False)


def _build_index(vec: np.ndarray, mag: np.ndarray, band: int, field_rad: float) -> PatternIndex:
    p = INDEX_PARAMS
    n_cells = int(np.ceil(p["cells"] * 4.0 * np.pi / field_rad**2))
    stars = _thin(vec, mag, n_cells, int(p["index_per_cell"]))
    verify = _thin(vec, mag, n_cells, int(p["verify_per_cell"]))
    max_side = p["max_side"] * field_rad
    min_side = p["min_side"] * field_rad
    sv = vec[stars]
    k = int(min(p["neighbours"], stars.size - 1))
    _, nb = cKDTree(sv).query(sv, k=k + 1, distance_upper_bound=2.0 * np.sin(max_side / 2.0))
    from itertools import combinations

    pairs = np.array(list(combinations(range(1, k + 1), 2)), int).reshape(-1, 2)
    a = np.repeat(np.arange(stars.size, dtype=np.int64), pairs.shape[0])
    b = nb[:, pairs[:, 0]].ravel().astype(np.int64)
    c = nb[:, pairs[:, 1]].ravel().astype(np.int64)
    ok = (b < stars.size) & (c < stars.size)
    t = np.sort(np.column_stack([a[ok], b[ok], c[ok]]), axis=1)
    n = np.int64(stars.size)
    code = np.sort((t[:, 0] * n + t[:, 1]) * n + t[:, 2])
    code = code[np.r_[True, code[1:] != code[:-1]]]  # each triangle once
    t = np.column_stack([code // (n * n), (code // n) % n, code % n])
    # the sides first (cheap), the full invariants of the triangles kept
    p3 = sv[t]
    sides = np.stack([_angle(p3[:, (j + 1) % 3], p3[:, (j + 2) % 3]) for j in range(3)], axis=1)
    longest, shortest = sides.max(axis=1), sides.min(axis=1)
    good = (longest <= max_side) & (longest >= min_side) & (shortest >= 0.25 * min_side)
    tri = stars[t[good]]  # catalog rows
    key, verts, longest, _, sign = _tri_invariants(vec, tri, sides[good])
    slot = np.full(vec.shape[0], -1, np.int64)
    slot[stars] = np.arange(stars.size)
    m = int(min(p["verify_neighbours"], verify.size))
    _, nv = cKDTree(vec[verify]).query(sv, k=m)
    return PatternIndex(
        band=band,
        field_rad=field_rad,
        stars=stars,
        verify=verify,
        tri=verts,
        key=key,
        longest=longest,
        sign=sign,
        slot=slot,
        neighbours=verify[np.asarray(nv).reshape(stars.size, m)],
        min_side_rad=float(min_side),
        max_side_rad=float(max_side),
        trees=_key_trees(key, longest, sign),
        verify_tree=cKDTree(vec[verify]),
    )


#: weight of ln(longest side) against the shape key in the index's KD-trees: a 4 % scale
#: tolerance then spans about the distance of a 0.01 shape tolerance
KEY_SCALE_WEIGHT = 0.25


def _key_trees(key: np.ndarray, longest: np.ndarray, sign: np.ndarray) -> dict:
    out = {}
    for sg in (-1, 1):
        rows = np.flatnonzero(sign == sg)
        pts = np.column_stack([key[rows], KEY_SCALE_WEIGHT * np.log(longest[rows])])
        out[sg] = (cKDTree(pts), rows)
    return out


def catalog_fingerprint(mag_cat: np.ndarray) -> str:
    """A short id of a catalog (its magnitudes in order): stable across epochs of its positions."""
    import hashlib

    m = np.ascontiguousarray(np.asarray(mag_cat, np.float64))
    return f"{m.size}-{hashlib.sha1(m.tobytes()).hexdigest()[:12]}"


def pattern_index(vec_cat: np.ndarray, mag_cat: np.ndarray, short_fov_rad: float, *, catalog_id: str | None = None):
    """The pattern index of the catalog (``vec_cat``, ``mag_cat``, bright first) for frames whose
    short side spans ``short_fov_rad``, built once per catalog, magnitude limit and scale band and
    kept in memory (the last few). Positions of another epoch of the same catalog reuse it: the
    shapes of the triangles change by far less than their tolerance."""
    band, field_rad = scale_band(short_fov_rad)
    cid = catalog_id or catalog_fingerprint(mag_cat)
    key = (cid, band, tuple(sorted(INDEX_PARAMS.items())))
    hit = _INDEX_CACHE.get(key)
    if hit is not None:
        _INDEX_CACHE.move_to_end(key)
        return hit
    idx = _build_index(np.asarray(vec_cat, float), np.asarray(mag_cat, float), band, field_rad)
    _INDEX_CACHE[key] = idx
    while len(_INDEX_CACHE) > _INDEX_CACHE_SIZE:
        _INDEX_CACHE.popitem(last=False)
    return idx


# -- the blind search ---------------------------------------------------------------------------------


def _thin_image(col, row, cell_px: float, per_cell: int) -> np.ndarray:
    """Indices of the sources kept when each cell (``cell_px`` square) keeps its first ``per_cell``
    (in the sources' order, most star-like first), in that order."""
    key = np.floor(np.asarray(col) / cell_px).astype(np.int64) * 1_000_003 + np.floor(np.asarray(row) / cell_px).astype(
        np.int64
    )
    order = np.arange(key.size)
    srt = np.lexsort((order, key))
    ks = key[srt]
    start = np.maximum.accumulate(np.where(np.r_[True, ks[1:] != ks[:-1]], np.arange(ks.size), 0))
    keep = srt[(np.arange(ks.size) - start) < per_cell]
    return np.sort(keep)


def _ordered_triples(n: int) -> np.ndarray:
    """All (i, j, k), i < j < k < n, in the order of the faintest source k (then j, i): the
    triangles of the brightest sources first."""
    from itertools import combinations

    t = np.array(list(combinations(range(n), 3)), np.int32).reshape(-1, 3)
    return t[np.lexsort((t[:, 0], t[:, 1], t[:, 2]))]


def _kabsch(img: np.ndarray, cat: np.ndarray) -> np.ndarray:
    """Rotations (B, 3, 3) taking ``img`` (B, n, 3) onto ``cat`` (B, n, 3) in the least-squares sense."""
    hmat = np.einsum("bni,bnj->bij", cat, img)
    u, _, vt = np.linalg.svd(hmat)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, 2] *= d[:, None]
    return u @ vt


def _match_tree(tree: cKDTree, pc, pr, radius_px: float):
    """One-to-one nearest matches of predicted positions to the sources in ``tree`` (vectorised:
    a source claimed twice keeps the nearer prediction)."""
    ok = np.flatnonzero(np.isfinite(pc) & np.isfinite(pr))
    if ok.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    d, j = tree.query(np.column_stack([pc[ok], pr[ok]]), distance_upper_bound=radius_px)
    hit = np.isfinite(d)
    cat_i, det_i, dist = ok[hit], j[hit], d[hit]
    order = np.argsort(dist, kind="stable")
    _, first = np.unique(det_i[order], return_index=True)
    keep = order[first]
    return det_i[keep], cat_i[keep]


class _Search:
    """The state of one blind search: sources, their occupancy grid and KD-tree, the catalog's
    visibility, the trial count."""

    def __init__(self, det_col, det_row, camera, vec_cat, index, catalog_visible, sky_visible, n_verify, sigma_px):
        self.camera = camera
        self.w, self.h = camera.width_px, camera.height_px
        self.vec = vec_cat
        self.index = index
        self.visible = catalog_visible
        self.sky_visible = sky_visible
        self.col, self.row = det_col[:n_verify], det_row[:n_verify]
        self.tree = cKDTree(np.column_stack([self.col, self.row]))
        self.sigma = sigma_px
        # matching radius of the check, and the cell of the occupancy grid of the quick check
        self.radius = max(3.0, 0.002 * max(self.w, self.h), 3.0 * sigma_px)
        self.cell = self.radius
        gh, gw = int(np.ceil(self.h / self.cell)) + 2, int(np.ceil(self.w / self.cell)) + 2
        grid = np.zeros((gh, gw), bool)
        ci = np.clip((self.col / self.cell).astype(int) + 1, 0, gw - 1)
        ri = np.clip((self.row / self.cell).astype(int) + 1, 0, gh - 1)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                grid[np.clip(ri + di, 0, gh - 1), np.clip(ci + dj, 0, gw - 1)] = True
        self.grid = grid
        self.trials = 0
        self.hypotheses = 0  # all the candidates the search would try if it ran to its end
        self.verified = 0
        gc, gr = np.meshgrid(np.linspace(0, self.w - 1, 16), np.linspace(0, self.h - 1, 11))
        self.grid_rays = _rays(camera, gc.ravel(), gr.ravel())
        self.half_diag_rad = float(
            np.arctan(
                np.hypot(
                    max(camera.cx_px, self.w - camera.cx_px) / camera.focal_x_px,
                    max(camera.cy_px, self.h - camera.cy_px) / camera.focal_y_px,
                )
            )
        )

    def quick_check(self, rot: np.ndarray, scale: np.ndarray, tri_cat: np.ndarray, img_xy: np.ndarray):
        """For each candidate, how many of its pattern star's nearest check stars land in the frame
        and how many of them near a source (the triangle's own stars excepted)."""
        cam = self.camera
        nb = self.index.neighbours[self.index.slot[tri_cat[:, 0]]]  # (B, M)
        v = self.vec[nb]
        c = np.einsum("bji,bmj->bmi", rot, v)  # camera frame: R^T v
        z = c[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pc = cam.focal_x_px * scale[:, None] * c[..., 0] / z + cam.cx_px
            pr = cam.focal_y_px * scale[:, None] * c[..., 1] / z + cam.cy_px
        ok = (z > 0) & (pc >= 0) & (pc < self.w) & (pr >= 0) & (pr < self.h)
        if self.visible is not None:
            ok &= self.visible[nb]
        for k in range(3):  # not the triangle's own stars
            ok &= np.hypot(pc - img_xy[:, k, 0, None], pr - img_xy[:, k, 1, None]) > self.cell
        gi = np.where(ok, pr / self.cell + 1, 0).astype(int)
        gj = np.where(ok, pc / self.cell + 1, 0).astype(int)
        return np.sum(ok & self.grid[gi, gj], axis=1), np.sum(ok, axis=1)

    def check(self, rotation: Rotation, camera: Camera):
        """Matches of the check stars predicted in the frame under ``rotation`` and ``camera``:
        (source indices, catalog rows, number predicted)."""
        b = rotation.apply([0.0, 0.0, 1.0])
        near = self.index.verify[
            self.index.verify_tree.query_ball_point(b, 2.0 * np.sin(min(self.half_diag_rad * 1.05, 1.5) / 2.0))
        ]
        if self.visible is not None:
            near = near[self.visible[near]]
        pc, pr = _project(rotation, camera, self.vec[near])
        inside = np.isfinite(pc) & (pc >= 0) & (pc < self.w) & (pr >= 0) & (pr < self.h)
        near, pc, pr = near[inside], pc[inside], pr[inside]
        di, ci = _match_tree(self.tree, pc, pr, self.radius)
        return di, near[ci], near.size

    def sky(self, rotation: Rotation, camera: Camera) -> tuple[int, float]:
        """Sources in the sky and the sky's fraction of the frame under ``rotation``."""
        if self.sky_visible is None:
            return self.col.size, 1.0
        frac = float(np.mean(self.sky_visible(rotation.apply(self.grid_rays))))
        n_src = int(np.sum(self.sky_visible(rotation.apply(_rays(camera, self.col, self.row)))))
        return n_src, frac

    def verify(self, rot_m: np.ndarray, scale: float, false_alarm: float, min_matches: int):
        """Full check of a candidate: match, refit rotation and focal length on the matches, match
        again, and the chance of as many matches by coincidence. Returns (rotation, camera, matches,
        log10 of the false-alarm probability) or None."""
        self.verified += 1
        rot = Rotation.from_matrix(rot_m)
        cam = self.camera.with_focal_scale(scale)
        di, ci, n_pred = self.check(rot, cam)
        if di.size < max(5, min_matches - 2):
            return None
        rot, cam, _ = fit_rotation(
            cam, rot, self.vec[ci], self.col[di], self.row[di], solve_focal=di.size >= 8, f_scale_px=self.radius / 2
        )
        di, ci, n_pred = self.check(rot, cam)
        k = di.size
        if k < min_matches:
            return None
        n_src, frac = self.sky(rot, cam)
        if frac < 0.01:
            return None
        lam = max(n_pred * n_src * np.pi * self.radius**2 / (self.w * self.h * frac), 1e-9)
        log10_p = chance_match_log10_p(k - 3, lam)  # beyond the triangle, which always matches
        if log10_p + np.log10(max(self.hypotheses, 1)) > np.log10(false_alarm):
            return None
        return rot, cam, k, log10_p


def chance_match_log10_p(n_beyond: int, expected: float) -> float:
    """log10 of the chance that ``n_beyond`` or more of a candidate's predicted check stars (the
    triangle's own three left out) land within the matching radius of a source by coincidence:
    the Poisson tail ``P(X >= n_beyond)`` of a mean ``expected`` = predicted stars x sources per
    unit of sky area x the radius' disc (see docs/nightlights.md, *Acceptance*)."""
    from scipy.stats import poisson

    if n_beyond <= 0:
        return 0.0
    return float(poisson.logsf(n_beyond - 1, max(expected, 1e-12)) / np.log(10.0))


#: the focal-length hypotheses of the blind search, tried in this order (relative to the prior)
_FOCAL_STEP = 0.05


def _focal_hypotheses(tolerance: float) -> list[float]:
    n = int(np.ceil(max(tolerance - _FOCAL_STEP / 2, 0.0) / _FOCAL_STEP))
    out = [0.0]
    for k in range(1, n + 1):
        out += [-k * _FOCAL_STEP, k * _FOCAL_STEP]
    return out


def _blind_index(
    det_col,
    det_row,
    camera: Camera,
    vec_cat,
    mag_cat,
    *,
    catalog_visible=None,
    sky_visible=None,
    focal_tolerance: float = 0.15,
    max_sources: int = 80,
    sigma_px: float = 1.0,
    false_alarm: float = 1e-6,
    min_matches: int = 6,
    catalog_id: str | None = None,
    max_checks: int = 1500,
    checks_per_chunk: int = 60,
):
    """Blind search with the pattern index. Returns (rotation, camera, info) or (None, None, info)."""
    from scipy.stats import binom

    w, h = camera.width_px, camera.height_px
    short_fov = 2.0 * np.arctan(0.5 * min(w / camera.focal_x_px, h / camera.focal_y_px))
    index = pattern_index(vec_cat, mag_cat, short_fov, catalog_id=catalog_id)
    search = _Search(
        det_col, det_row, camera, vec_cat, index, catalog_visible, sky_visible, max(2 * max_sources, 150), sigma_px
    )
    info = {"index_triangles": int(index.tri.shape[0]), "index_band_deg": float(np.degrees(index.field_rad))}
    # the pattern sources: as the catalog's pattern stars, the first few of each cell of the frame
    # (cells of the index's size), so that a crowd of towns or hot pixels cannot push the sky's
    # stars off the list
    cell_px = index.field_rad / np.sqrt(INDEX_PARAMS["cells"]) * camera.focal_px
    pat = _thin_image(det_col, det_row, cell_px, int(INDEX_PARAMS["index_per_cell"]) + 2)[:max_sources]
    n = pat.size
    tri = _ordered_triples(n)
    if tri.size == 0:
        return None, None, info
    p0 = float(search.grid.mean())  # chance that a predicted star lands on a source's cells
    x = det_col[pat] - camera.cx_px
    y = det_row[pat] - camera.cy_px
    xy = np.column_stack([det_col[pat], det_row[pat]])
    r_field = np.hypot(x / camera.focal_x_px, y / camera.focal_y_px)
    sin2 = (r_field**2 / (1.0 + r_field**2))[tri].max(axis=1)  # sin^2 of the largest field angle
    faintest = tri[:, 2]
    bounds = [b for b in (5, 8, 12, 16, 20, 26, 33, 41, 50, 60, 70, 80, 90, 100, 120) if b < n] + [n]

    def chunks():
        """The candidates (focal hypothesis, image triangles, index triangles, size ratio, vertices),
        chunk by chunk, in the order the search takes them."""
        for e in _focal_hypotheses(focal_tolerance):
            resid = _FOCAL_STEP / 2 if e else max(_FOCAL_STEP / 2, 0.02)
            rays = _rays(camera.with_focal_scale(1.0 + e), det_col[pat], det_row[pat])
            key, verts, longest, _, sign = _tri_invariants(rays, tri)
            s3_px = longest * camera.focal_px * (1.0 + e)
            scale_tol = resid + 3.0 * sigma_px / s3_px + 0.01
            usable = (longest * (1 - scale_tol) <= index.max_side_rad) & (
                longest * (1 + scale_tol) >= index.min_side_rad
            )
            usable &= np.isfinite(key).all(axis=1)
            tol = np.sqrt((3.0 * np.sqrt(2.0) * sigma_px / s3_px) ** 2 + (0.002 + resid * sin2) ** 2)
            usable &= tol <= 0.03  # a small triangle's shape is too uncertain to select by
            qpt = np.column_stack([key, KEY_SCALE_WEIGHT * np.log(np.maximum(longest, 1e-12))])
            qrad = np.hypot(tol, KEY_SCALE_WEIGHT * np.log1p(scale_tol))
            lo = 0
            for hi in bounds:
                sel = np.flatnonzero(usable & (faintest >= lo) & (faintest < hi))
                lo = hi
                if sel.size == 0:
                    continue
                ts, cs = [], []
                for sg, (tree, rows) in index.trees.items():
                    ss = sel[sign[sel] == sg]
                    if ss.size == 0 or rows.size == 0:
                        continue
                    hits = tree.query_ball_point(qpt[ss], r=qrad[ss], return_sorted=False)
                    counts = np.fromiter((len(q) for q in hits), int, ss.size)
                    ts.append(np.repeat(ss, counts))
                    cs.append(rows[np.fromiter((i for q in hits for i in q), int, int(counts.sum()))])
                if not ts:
                    continue
                t, c = np.concatenate(ts), np.concatenate(cs)
                ratio = longest[t] / index.longest[c]  # the focal length, relative to this hypothesis
                ok = np.abs(ratio - 1.0) <= scale_tol[t]
                ok &= np.hypot(*(key[t] - index.key[c]).T) <= tol[t]
                ok &= np.abs((1.0 + e) * ratio - 1.0) <= focal_tolerance + 0.01
                t, c, ratio = t[ok], c[ok], ratio[ok]
                if t.size:
                    yield e, t, c, ratio, verts

    # the Bonferroni count: every candidate the search may verify, counted before any is (a count
    # that grew as the search went would let each chunk spend the whole false-alarm budget again)
    search.hypotheses = sum(int(t.size) for _, t, _, _, _ in chunks())
    for e, t, c, ratio, verts in chunks():
        search.trials += t.size
        scale = (1.0 + e) * ratio
        hits_q = np.empty(t.size, int)
        n_in = np.empty(t.size, int)
        rots = np.empty((t.size, 3, 3))
        for s0 in range(0, t.size, 20_000):
            sl = slice(s0, s0 + 20_000)
            vi = verts[t[sl]]
            pix = xy[vi]  # (B, 3, 2)
            img = np.stack(
                [
                    (pix[..., 0] - camera.cx_px) / (camera.focal_x_px * scale[sl, None]),
                    (pix[..., 1] - camera.cy_px) / (camera.focal_y_px * scale[sl, None]),
                    np.ones(pix.shape[:2]),
                ],
                axis=-1,
            )
            img /= np.linalg.norm(img, axis=-1, keepdims=True)
            rots[sl] = _kabsch(img, vec_cat[index.tri[c[sl]]])
            hits_q[sl], n_in[sl] = search.quick_check(rots[sl], scale[sl], index.tri[c[sl]], pix)
        # rank by the chance of as many hits by coincidence (binomial, the grid's occupancy); two
        # hits are enough where they are unlikely (a sparse frame whose faint stars are not seen)
        good = np.flatnonzero(hits_q >= 2)
        logp = binom.logsf(hits_q[good] - 1, n_in[good], p0)
        keep = logp < np.log(1e-3)
        good, logp = good[keep], logp[keep]
        good = good[np.argsort(logp, kind="stable")][:checks_per_chunk]
        for g in good:
            res = search.verify(rots[g], float(scale[g]), false_alarm, min_matches)
            if res is not None:
                rot, cam, k, log10_p = res
                info.update(
                    matches=k,
                    log10_false_alarm=log10_p + float(np.log10(max(search.hypotheses, 1))),
                    trials=search.trials,
                    hypotheses=search.hypotheses,
                    checks=search.verified,
                    focal_scale=float(cam.focal_px / camera.focal_px),
                )
                return rot, cam, info
            if search.verified >= max_checks:
                info.update(
                    trials=search.trials, hypotheses=search.hypotheses, checks=search.verified, stopped="check budget"
                )
                return None, None, info
    info.update(trials=search.trials, hypotheses=search.hypotheses, checks=search.verified)
    return None, None, info


def solve_astrometry(
    det_col,
    det_row,
    camera: Camera,
    vec_cat: np.ndarray,
    mag_cat: np.ndarray,
    *,
    prior_rotation: Rotation | None = None,
    prior_radius_px: float | None = None,
    match_radius_px: float | None = None,
    fit_focal: bool = True,
    min_stars: int = 6,
    catalog_visible: np.ndarray | None = None,
    sky_visible: Callable[[np.ndarray], np.ndarray] | None = None,
    blind_method: str = "index",
    focal_tolerance: float = 0.15,
    max_sources: int = 80,
    position_sigma_px: float = 0.5,
    false_alarm: float = 1e-6,
    catalog_id: str | None = None,
) -> tuple[AstrometricSolution | None, str]:
    """Solve the star field.

    Args:
        det_col, det_row: undistorted sensor pixels of the sources, most star-like (brightest)
            first.
        camera: the prior pinhole camera (focal from EXIF), undistorted pixels.
        vec_cat, mag_cat: ICRS unit vectors and magnitudes of catalog stars, bright first.
        prior_rotation: camera -> ICRS from a known pose; None for a blind solve.
        catalog_visible: (len(vec_cat),) bool, the stars that can be seen at all (not behind the
            Earth, known from the orbit alone); None: all.
        sky_visible: a function of ICRS unit vectors (N, 3) -> bool (N,), True where the sky can be
            seen (not the Earth); the blind search then counts only sources and frame area in the sky
            when it weighs a candidate. None: the whole frame may hold stars.
        blind_method: "index" (the pattern index: triangles of up to ``max_sources`` sources
            against a cached index of uniformly spread catalog stars, focal length free within
            ``focal_tolerance``) or "legacy" (triangles of the 25 brightest sources, focal length
            within 6 %, kept as the baseline of the benchmark).
        position_sigma_px: the uncertainty of a source position (trailed stars, distortion left
            over), which sets the tolerance of the triangle shapes.
        false_alarm: the accepted chance, per frame, that a blind solution is a coincidence: the
            number of matched stars beyond the triangle must be that unlikely under a Poisson
            count of chance matches (:func:`chance_match_log10_p`), times the number of hypotheses
            the search may verify (all of them, counted before the first is verified).
        catalog_id: names the catalog (with its magnitude limit) for the index cache; default a
            fingerprint of ``mag_cat``.
    Returns:
        (solution or None, the reason when None).
    """
    det_col = np.asarray(det_col, float)
    det_row = np.asarray(det_row, float)
    if det_col.size < min_stars:
        return None, f"only {det_col.size} point sources found, at least {min_stars} stars are needed"
    if blind_method not in ("index", "legacy"):
        raise ValueError(f"blind_method must be 'index' or 'legacy', got {blind_method!r}")
    vis = None if catalog_visible is None else np.asarray(catalog_visible, bool)
    w, h = camera.width_px, camera.height_px
    rot = None
    method = "pose"
    tried = 0
    notes = []
    info: dict = {}
    usable = np.ones(vec_cat.shape[0], bool) if vis is None else vis
    radius = match_radius_px or max(3.0, 0.002 * max(w, h))

    def refine(rot, camera):
        """Match everything with a shrinking radius, fit rotation (+ focal); (rot, camera, det,
        cat, residuals) or the reason it failed."""
        for rad in (4 * radius, 2 * radius, radius):
            pc, pr = _project(rot, camera, vec_cat)
            inside = usable & np.isfinite(pc) & (pc > -1) & (pc < w) & (pr > -1) & (pr < h)
            di, ci = _match(np.where(inside, pc, np.nan), pr, det_col, det_row, rad)
            if di.size < min_stars:
                return f"only {di.size} sources matched catalog stars after the initial solution"
            rot, camera, keep, res = _fit_and_clip(
                rot, camera, vec_cat[ci], det_col[di], det_row[di], fit_focal=fit_focal
            )
        return rot, camera, di[keep], ci[keep], res[keep]

    if prior_rotation is not None:
        prior_r = prior_radius_px or max(15.0, 0.01 * max(w, h))
        pc, pr = _project(prior_rotation, camera, vec_cat)
        inside = usable & np.isfinite(pc) & (pc > 0) & (pc < w) & (pr > 0) & (pr < h)
        di, ci = _match(np.where(inside, pc, np.nan), pr, det_col[:200], det_row[:200], prior_r)
        out = None
        if di.size >= min_stars:
            rot0, cam0, _, _ = _fit_and_clip(
                prior_rotation, camera, vec_cat[ci], det_col[di], det_row[di], fit_focal=False
            )
            out = refine(rot0, cam0)
        if isinstance(out, tuple):
            return AstrometricSolution(*out, "pose", 0, tuple(notes)), ""
        notes.append(
            f"the given pose predicted only {di.size} stars near sources; solved blind"
            if out is None
            else f"the stars near the given pose did not hold ({out}); solved blind"
        )
    method = "blind"
    if blind_method == "legacy":
        rays = _rays(camera, det_col, det_row)
        rot, tried = _blind(vec_cat, mag_cat, rays, det_col, det_row, camera)
        if rot is None:
            return None, (
                f"no star pattern of the {min(25, det_col.size)} brightest sources matched the catalog "
                f"({tried} candidate triangles tried)"
            )
    else:
        rot, cam, info = _blind_index(
            det_col,
            det_row,
            camera,
            vec_cat,
            mag_cat,
            catalog_visible=vis,
            sky_visible=sky_visible,
            focal_tolerance=focal_tolerance,
            max_sources=max_sources,
            sigma_px=position_sigma_px,
            false_alarm=false_alarm,
            catalog_id=catalog_id,
        )
        tried = int(info.get("trials", 0))
        if rot is None:
            return None, (
                f"no star pattern of the {min(max_sources, det_col.size)} most star-like sources matched the "
                f"catalog with the focal length within {100 * focal_tolerance:.0f}% ({tried} candidate "
                f"triangles, {info.get('checks', 0)} checked{'; ' + info['stopped'] if 'stopped' in info else ''})"
            )
        if abs(cam.focal_px / camera.focal_px - 1.0) > 0.02:
            notes.append(
                f"the stars give a focal length {100 * (cam.focal_px / camera.focal_px - 1):+.1f}% from the prior"
            )
        camera = cam
    out = refine(rot, camera)
    if not isinstance(out, tuple):
        return None, out
    return AstrometricSolution(*out, method, tried, tuple(notes), search=info), ""


def wcs_header(sol: AstrometricSolution) -> dict:
    """FITS TAN WCS (CRPIX 1-based, CD in deg/px) of the *undistorted* sensor pixels."""
    cam = sol.camera
    m = sol.rotation.as_matrix()
    b = m[:, 2]
    ra, dec = sol.boresight_radec_deg
    east = np.cross([0.0, 0.0, 1.0], b)
    if np.linalg.norm(east) < 1e-12:
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(b, east)
    ex, ey = m[:, 0], m[:, 1]
    k = np.degrees(1.0)
    return {
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CRPIX1": cam.cx_px + 1.0,
        "CRPIX2": cam.cy_px + 1.0,
        "CRVAL1": ra,
        "CRVAL2": dec,
        "CD1_1": k * ex @ east / cam.focal_x_px,
        "CD1_2": k * ey @ east / cam.focal_y_px,
        "CD2_1": k * ex @ north / cam.focal_x_px,
        "CD2_2": k * ey @ north / cam.focal_y_px,
        "RADESYS": "ICRS",
        "NAXIS1": cam.width_px,
        "NAXIS2": cam.height_px,
    }
