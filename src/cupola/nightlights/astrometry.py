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

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from cupola.geometry.attitude import fit_rotation
from cupola.geometry.camera import Camera

__all__ = ["AstrometricSolution", "solve_astrometry", "wcs_header"]


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


def _fit_and_clip(rotation, camera, vec_cat, col, row, *, fit_focal, clip_sigma=3.0, min_stars=5):
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
        scale = max(1.4826 * np.median(d[keep]), 0.05)
        new = d <= clip_sigma * scale * 1.5
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
) -> tuple[AstrometricSolution | None, str]:
    """Solve the star field.

    Args:
        det_col, det_row: undistorted sensor pixels of the sources, brightest first.
        camera: the prior pinhole camera (focal from EXIF), undistorted pixels.
        vec_cat, mag_cat: ICRS unit vectors and magnitudes of catalog stars, bright first.
        prior_rotation: camera -> ICRS from a known pose; None for a blind solve.
    Returns:
        (solution or None, the reason when None).
    """
    det_col = np.asarray(det_col, float)
    det_row = np.asarray(det_row, float)
    if det_col.size < min_stars:
        return None, f"only {det_col.size} point sources found, at least {min_stars} stars are needed"
    w, h = camera.width_px, camera.height_px
    rot = None
    method = "pose"
    tried = 0
    notes = []
    if prior_rotation is not None:
        radius = prior_radius_px or max(15.0, 0.01 * max(w, h))
        pc, pr = _project(prior_rotation, camera, vec_cat)
        inside = np.isfinite(pc) & (pc > 0) & (pc < w) & (pr > 0) & (pr < h)
        di, ci = _match(np.where(inside, pc, np.nan), pr, det_col[:200], det_row[:200], radius)
        if di.size >= min_stars:
            rot, camera, keep, _ = _fit_and_clip(
                prior_rotation, camera, vec_cat[ci], det_col[di], det_row[di], fit_focal=False
            )
        else:
            notes.append(f"the given pose predicted only {di.size} stars near sources; solved blind")
    if rot is None:
        method = "blind"
        rays = _rays(camera, det_col, det_row)
        rot, tried = _blind(vec_cat, mag_cat, rays, det_col, det_row, camera)
        if rot is None:
            return None, (
                f"no star pattern of the {min(25, det_col.size)} brightest sources matched the catalog "
                f"({tried} candidate triangles tried)"
            )
    # iterate: match everything with a shrinking radius, fit rotation (+ focal)
    radius = match_radius_px or max(3.0, 0.002 * max(w, h))
    for rad in (4 * radius, 2 * radius, radius):
        pc, pr = _project(rot, camera, vec_cat)
        inside = np.isfinite(pc) & (pc > -1) & (pc < w) & (pr > -1) & (pr < h)
        di, ci = _match(np.where(inside, pc, np.nan), pr, det_col, det_row, rad)
        if di.size < min_stars:
            return None, f"only {di.size} sources matched catalog stars after the initial solution"
        rot, camera, keep, res = _fit_and_clip(rot, camera, vec_cat[ci], det_col[di], det_row[di], fit_focal=fit_focal)
    di, ci, res = di[keep], ci[keep], res[keep]
    return AstrometricSolution(rot, camera, di, ci, res, method, tried, tuple(notes)), ""


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
