"""Star identification from a *seed*: an attitude predicted to within a known angle (issue 14: the
attitude carried from the frames of a sequence that solved blind to one that did not).

The search is a grid over the seed's window: rotations ``R_seed * exp([w])`` with the small
rotation vector ``w`` (camera axes) on a grid whose steps move the frame's stars by at most
``step_px`` (``step_px / f`` about the camera's x and y axes, ``step_px / R`` about its axis, ``R``
the frame's half diagonal in pixels), within ``|(w_x, w_y)| <= u`` and ``|w_z| <= u``. Every grid
point is a hypothesis; it predicts the check stars (in the sky part) and counts those with a
source within ``r``.

**Check stars.** By default every star of the catalog handed over (the calibration's, to the
field's magnitude limit) and, should that refuse, the pattern index's verification stars (6 per
cell, the blind acceptance's), each search at half the false-alarm budget (a union bound over the
two, as the blind search's two routes). More check stars raise ``lambda`` and the expected matches
in proportion, and the Poisson tail at a fixed ratio of the two falls as both grow, so a deeper
list tests a hypothesis harder as long as the frame detects a good share of its stars; stars it
cannot detect add only chance matches (a short exposure that sees only the brightest stars is
better tested on the index's). Each list depends on the catalog and the window only, never on the
frame's sources, so the bound below holds as for any fixed list. A list cut at the depth the
sequence's solved frames detect (:func:`detection_depth_mag`, ``check_stars="depth"``) was
measured and not taken (docs/nightlights.md).

**False alarm.** Were the sources unrelated to the sky (a wrong seed, or no star among them), each
predicted star of a hypothesis would have a source within ``r`` with chance at most
``rho pi r^2`` (``rho``: sources per pixel of sky), so its matches are at most Poisson with mean
``lambda = n_pred rho pi r^2`` (as in the blind acceptance, :mod:`.acceptance`, but without a
triangle that matches by construction: all ``k`` matches count). Over the ``H`` grid points, by the
union bound, the chance that any reaches ``k`` is at most ``H P(X >= k)``; a seeded solution is
accepted when that is ``<= alpha`` (1e-6 per frame, as the blind search). ``n_pred`` and ``rho``
are taken at their largest over the window's centre and edge (a conservative ``lambda``), and
``H`` is the count of grid points, fixed before any is looked at. The window is tiny beside the
whole sky, so ``H`` is 10^1-10^4 instead of the blind search's 10^5-10^7 *and* no triangle has
to be found among the sources: five or six stars can pass where the blind search needs 9-17.
The count is taken at the grid point itself (no refit before it), so the union bound applies to
exactly the hypotheses counted; the solution is refitted on the matches afterwards.

**Wide windows, coarse to fine.** A camera tilted toward the Earth and back between solved frames
gives windows of several degrees: 10^6-10^8 grid points, too many to look at each. The grid is then
searched through a coarse grid, every ``m``-th point of the fine one on each axis, each coarse point
standing for the fine points within ``m // 2`` steps of it (its cell). A fine point's predictions lie
within ``d`` pixels of its coarse point's (``d`` the most a rotation across half a cell moves a star
in the frame, :func:`_cell_shift_px`), so a check star with a source within ``r`` at the fine point
has one within ``r + d`` at the coarse point: a coarse point's hits within ``r + d`` bound every
fine point of its cell from above, and only the cells whose bound reaches the matches needed can
hold an acceptable fine point (branch and bound). Those cells are searched point by point at ``r``,
most hits first. The decision is the exhaustive search's (the same fine grid, the same count, the
same ``H``: the union bound runs over every fine point whether it was looked at or not); only the
CPU is less. When more cells pass than :data:`MAX_SEED_EVALUATIONS` allows, those with the most
hits are searched and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from cupola.geometry.camera import Camera
from cupola.nightlights.acceptance import chance_tail_log10
from cupola.nightlights.astrometry import (
    AstrometricSolution,
    _fit_and_clip,
    _match,
    _match_tree,
    _project,
    _rays,
    pattern_index,
)

__all__ = ["SeededResult", "detection_depth_mag", "seeded_grid", "seeded_grid_size", "seeded_identification"]

#: the most grid points a seeded search looks at one by one; a wider window is searched coarse to
#: fine (module doc)
MAX_SEED_HYPOTHESES = 100_000
#: the most fine grid points a seeded search may hold (its false-alarm bound counts them all): a
#: window wider than this is left unsolved
MAX_SEED_GRID = 1_000_000_000
#: the most attitudes a coarse-to-fine search evaluates (coarse points and refined cells together)
MAX_SEED_EVALUATIONS = 400_000
#: search wide windows coarse to fine (False: the exhaustive grid only, wider windows refused)
COARSE_TO_FINE = True
#: the check stars a hypothesis predicts: "catalog", every star of the catalog handed over (the
#: calibration's, ~400 a frame, to the field's magnitude limit); "depth", the catalog's stars down
#: to the magnitude the sequence's solved frames detect (``check_mag_limit``,
#: :func:`detection_depth_mag`; measured and not taken: docs/nightlights.md); "index", the pattern
#: index's verification stars (6 per cell of a twentieth of the field, as the blind acceptance);
#: lists joined by "+" are searched in turn, each at its share of the false-alarm budget
CHECK_STARS = "catalog+index"
#: :func:`detection_depth_mag`: magnitude bins, and the share of the predicted stars a bin's
#: detections must reach
DEPTH_BIN_MAG = 0.5
DEPTH_MIN_FRACTION = 0.5


def detection_depth_mag(
    frames, mag_cat: np.ndarray, *, bin_mag: float = DEPTH_BIN_MAG, min_fraction: float = DEPTH_MIN_FRACTION
) -> float | None:
    """The faintest magnitude to which solved frames of the same camera and exposure detect the
    catalog's stars: ``frames`` is (catalog rows predicted in the frame's sky, rows matched) per
    solved frame; pooled over them, bins of ``bin_mag`` from the brightest, the limit is the faint
    edge of the last bin before the first whose matched share is under ``min_fraction`` (bins with
    fewer than 3 predicted stars are skipped). None when no bin qualifies. Chosen from *other*
    frames than the one searched, before its sources are looked at, so the check list is fixed
    independently of them and the false-alarm bound holds as for any fixed list."""
    mag_cat = np.asarray(mag_cat, float)
    pred = np.concatenate([np.asarray(p, int) for p, _ in frames]) if frames else np.zeros(0, int)
    hit = np.concatenate([np.asarray(m, int) for _, m in frames]) if frames else np.zeros(0, int)
    if pred.size == 0:
        return None
    lo = np.floor(mag_cat[pred].min() / bin_mag) * bin_mag
    edges = np.arange(lo, mag_cat[pred].max() + bin_mag, bin_mag)
    n_pred = np.histogram(mag_cat[pred], edges)[0]
    n_hit = np.histogram(mag_cat[hit], edges)[0]
    limit = None
    for k in range(n_pred.size):
        if n_pred[k] < 3:
            continue
        if n_hit[k] < min_fraction * n_pred[k]:
            break
        limit = float(edges[k + 1])
    return limit


@dataclass(frozen=True)
class SeededResult:
    """What a seeded search found: the solution (None when refused) and its numbers."""

    solution: AstrometricSolution | None
    hypotheses: int
    matches: int
    expected_chance: float  # lambda
    log10_false_alarm: float  # log10(H P(X >= k))
    matches_needed: int
    reason: str = ""
    coarse_to_fine: dict = field(default_factory=dict)  # the wide window's search (empty: exhaustive)

    def to_dict(self) -> dict:
        return {
            "hypotheses": self.hypotheses,
            "matches": self.matches,
            "expected_chance_matches": self.expected_chance,
            "log10_false_alarm": self.log10_false_alarm,
            "matches_needed": self.matches_needed,
            "reason": self.reason,
            **({"coarse_to_fine": dict(self.coarse_to_fine)} if self.coarse_to_fine else {}),
        }


def _half_diagonal_px(camera: Camera) -> float:
    return float(
        np.hypot(max(camera.cx_px, camera.width_px - camera.cx_px), max(camera.cy_px, camera.height_px - camera.cy_px))
    )


def seeded_grid(camera: Camera, uncertainty_rad: float, step_px: float) -> np.ndarray:
    """The small rotation vectors (camera axes, rad) of the seed's window: (H, 3)."""
    s_xy, s_z, n_xy, n_z = _grid_steps(camera, uncertainty_rad, step_px)
    i = np.arange(-n_xy, n_xy + 1)
    ix, iy = np.meshgrid(i, i)
    keep = _disc_mask(ix, iy, s_xy, uncertainty_rad)
    gz = np.arange(-n_z, n_z + 1) * s_z
    xy = np.column_stack([ix[keep], iy[keep]]) * s_xy
    return np.column_stack([np.repeat(xy, gz.size, axis=0), np.tile(gz, xy.shape[0])])


def _coarse_to_fine(
    hits_of, camera: Camera, uncertainty_rad: float, step_px: float, radius_px: float, need: int, budget: int
):
    """The fine grid points (index triples, fine steps) worth counting one by one: the cells of a
    coarse grid (every ``m``-th fine point) whose coarse hits within ``radius_px`` plus the cell's
    shift reach ``need`` (module doc), most hits first, within ``budget`` evaluations in all.
    ``hits_of(index_triples, radius)`` counts the check stars with a source within ``radius``.
    Returns (fine index triples, coarse points, cells passing, cells searched, m, the most coarse
    hits)."""
    s_xy, s_z, n_xy, n_z = _grid_steps(camera, uncertainty_rad, step_px)
    size = seeded_grid_size(camera, uncertainty_rad, step_px)
    m = 3
    while size / m**3 > budget // 2:
        m += 2
    h = m // 2
    shift = _cell_shift_px(camera, step_px, h)
    # coarse points: every m-th fine index whose cell reaches the fine grid
    c_xy = np.arange(-((n_xy + h) // m), (n_xy + h) // m + 1) * m
    c_z = np.arange(-((n_z + h) // m), (n_z + h) // m + 1) * m
    cx, cy = np.meshgrid(c_xy, c_xy)
    near_disc = (np.hypot(cx, cy) - h * np.sqrt(2.0)) * s_xy <= uncertainty_rad + 1e-12
    cxy = np.column_stack([cx[near_disc], cy[near_disc]])
    coarse = np.column_stack([np.repeat(cxy, c_z.size, axis=0), np.tile(c_z, cxy.shape[0])])
    hits = hits_of(coarse, radius_px + shift)
    top = int(hits.max()) if hits.size else 0
    passing = np.flatnonzero(hits >= need)
    order = passing[np.argsort(-hits[passing], kind="stable")]
    o = np.arange(-h, h + 1)
    ox, oy, oz = (a.ravel() for a in np.meshgrid(o, o, o, indexing="ij"))
    per_cell = ox.size
    room = max(budget - coarse.shape[0], 0) // per_cell
    searched = order[:room]
    if searched.size == 0:
        return np.zeros((0, 3), int), coarse.shape[0], passing.size, 0, m, top
    fine = (coarse[searched][:, None, :] + np.column_stack([ox, oy, oz])[None, :, :]).reshape(-1, 3)
    ok = _disc_mask(fine[:, 0], fine[:, 1], s_xy, uncertainty_rad) & (np.abs(fine[:, 2]) <= n_z)
    fine = np.unique(fine[ok], axis=0)
    return fine, coarse.shape[0], passing.size, searched.size, m, top


def _grid_steps(camera: Camera, uncertainty_rad: float, step_px: float) -> tuple[float, float, int, int]:
    """The fine grid's steps (rad, about x/y and about the axis) and half-widths (in steps)."""
    s_xy = step_px / camera.focal_px
    s_z = step_px / _half_diagonal_px(camera)
    return s_xy, s_z, int(np.floor(uncertainty_rad / s_xy)), int(np.floor(uncertainty_rad / s_z))


def _disc_mask(ix: np.ndarray, iy: np.ndarray, s_xy: float, uncertainty_rad: float) -> np.ndarray:
    """Which (x, y) grid indices are inside the window's disc (the fine grid's rule)."""
    return (ix * s_xy) ** 2 + (iy * s_xy) ** 2 <= uncertainty_rad**2 + 1e-18


def seeded_grid_size(camera: Camera, uncertainty_rad: float, step_px: float) -> int:
    """The number of points of :func:`seeded_grid` (the hypotheses ``H``), without building it."""
    s_xy, _, n_xy, n_z = _grid_steps(camera, uncertainty_rad, step_px)
    i = np.arange(-n_xy, n_xy + 1)
    per_row = np.sum(_disc_mask(i[:, None], i[None, :], s_xy, uncertainty_rad), axis=1)
    return int(per_row.sum()) * (2 * n_z + 1)


def _cell_shift_px(camera: Camera, step_px: float, half_cell_steps: int) -> float:
    """The most a star in the frame moves between a coarse point and a fine point of its cell
    (``half_cell_steps`` fine steps on each axis at most): a turn ``t`` about an axis across the
    view moves a point at ``p`` pixels from the centre by at most ``f t (1 + (p / f)^2)`` (the
    pinhole's derivative; ``p`` up to the half diagonal ``R``), a turn about the view axis by ``t
    R``; the x and y turns together by ``sqrt(2)`` times one."""
    f = camera.focal_px
    big_r = _half_diagonal_px(camera)
    s_xy, s_z = step_px / f, step_px / big_r
    t_xy, t_z = half_cell_steps * s_xy, half_cell_steps * s_z
    # x 1.25: the turns compose on top of the window's (up to its width, a few degrees), which
    # mixes the axis turn into the x and y ones; a looser bound only searches more cells
    return 1.25 * float(np.sqrt(2.0) * f * t_xy * (1.0 + (big_r / f) ** 2) + t_z * big_r)


def _matches_needed(lam: float, hypotheses: int, alpha: float, floor: int) -> int:
    target = np.log10(alpha) - np.log10(max(hypotheses, 1))
    k = max(floor, 1)
    while chance_tail_log10(k, lam) > target and k < 10_000:
        k += 1
    return k


def seeded_identification(
    det_col,
    det_row,
    camera: Camera,
    vec_cat: np.ndarray,
    mag_cat: np.ndarray,
    seed_rotation: Rotation,
    uncertainty_rad: float,
    *,
    catalog_visible: np.ndarray | None = None,
    sky_visible=None,
    catalog_id: str | None = None,
    false_alarm: float = 1e-6,
    min_matches: int = 4,
    match_radius_px: float | None = None,
    max_hypotheses: int = MAX_SEED_HYPOTHESES,
    check_stars: str | None = None,
    check_mag_limit: float | None = None,
) -> SeededResult:
    """Identify the stars of a frame whose attitude (camera -> ICRS) is known to be within
    ``uncertainty_rad`` of ``seed_rotation``; the camera (focal length) is taken as known (from the
    sequence's solved frames). ``det_col``, ``det_row``: undistorted sensor pixels of the sources,
    most star-like first. Accepts only when the false-alarm bound of the module doc is
    ``<= false_alarm``; otherwise the solution is None and ``reason`` says why. ``check_stars``:
    "depth", "catalog" or "index", or lists joined by "+" (default :data:`CHECK_STARS`), the
    stars each hypothesis predicts; ``check_mag_limit``: the "depth" list's faintest magnitude."""
    how = check_stars or CHECK_STARS
    if "+" in how:  # several check lists, each at its share of the budget (a union bound over them)
        parts = how.split("+")
        res = None
        for part in parts:
            res = seeded_identification(
                det_col,
                det_row,
                camera,
                vec_cat,
                mag_cat,
                seed_rotation,
                uncertainty_rad,
                catalog_visible=catalog_visible,
                sky_visible=sky_visible,
                catalog_id=catalog_id,
                false_alarm=false_alarm / len(parts),
                min_matches=min_matches,
                match_radius_px=match_radius_px,
                max_hypotheses=max_hypotheses,
                check_stars=part,
                check_mag_limit=check_mag_limit,
            )
            if res.solution is not None:
                break
        assert res is not None
        return res
    col = np.asarray(det_col, float)
    row = np.asarray(det_row, float)
    w, h = camera.width_px, camera.height_px
    r = float(match_radius_px or max(3.0, 0.002 * max(w, h)))
    step = 0.5 * r
    n_h = seeded_grid_size(camera, uncertainty_rad, step)
    exhaustive = n_h <= max_hypotheses

    extra: dict = {}

    def refused(why, k=0, lam=float("nan"), lg=float("nan"), need=0):
        return SeededResult(None, n_h, k, lam, lg, need, why, extra)

    if not exhaustive and (not COARSE_TO_FINE or n_h > MAX_SEED_GRID):
        return refused(f"the seed's window ({np.degrees(uncertainty_rad):.2f} deg) holds {n_h} hypotheses")
    if col.size < min_matches:
        return refused(f"only {col.size} point sources")
    short_fov = 2.0 * np.arctan(0.5 * min(w / camera.focal_x_px, h / camera.focal_y_px))
    half_diag = float(np.arctan(_half_diagonal_px(camera) / camera.focal_px))
    b = seed_rotation.apply([0.0, 0.0, 1.0])
    cone = min(half_diag * 1.05 + uncertainty_rad, 1.5)
    if how in ("catalog", "depth"):
        in_cone = np.asarray(vec_cat, float) @ b >= np.cos(cone)
        if how == "depth" and check_mag_limit is not None:
            in_cone &= np.asarray(mag_cat, float) <= check_mag_limit
        near = np.flatnonzero(in_cone)
    else:
        index = pattern_index(vec_cat, mag_cat, short_fov, catalog_id=catalog_id)
        near = index.verify[index.verify_tree.query_ball_point(b, 2.0 * np.sin(cone / 2.0))]
    if catalog_visible is not None:
        near = near[np.asarray(catalog_visible, bool)[near]]
    tree = cKDTree(np.column_stack([col, row]))
    # the window's centre and the ends of its axes: the largest lambda over them
    edges = [np.zeros(3)] + [
        s * uncertainty_rad * e for e in (np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]) for s in (-1.0, 1.0)
    ]
    gc, gr = np.meshgrid(np.linspace(0, w - 1, 24), np.linspace(0, h - 1, 16))
    grid_rays = _rays(camera, gc.ravel(), gr.ravel())
    src_rays = _rays(camera, col, row)
    lam = 0.0
    for e in edges:
        rot = seed_rotation * Rotation.from_rotvec(e)
        pc, pr = _project(rot, camera, vec_cat[near])
        n_pred = int(np.sum(np.isfinite(pc) & (pc >= 0) & (pc < w) & (pr >= 0) & (pr < h)))
        if sky_visible is None:
            frac, n_src = 1.0, col.size
        else:
            frac = float(np.mean(sky_visible(rot.apply(grid_rays))))
            n_src = int(np.sum(sky_visible(rot.apply(src_rays))))
        if frac < 0.005:
            continue
        lam = max(lam, n_pred * n_src * np.pi * r**2 / (w * h * frac))
    if lam <= 0.0:
        return refused("no check star or no sky in the seed's window")
    lam = max(lam, 1e-12)
    need = _matches_needed(lam, n_h, false_alarm, min_matches)
    c0 = seed_rotation.inv().apply(vec_cat[near])  # (n, 3) in the seed's camera axes
    s_xy, s_z, _, _ = _grid_steps(camera, uncertainty_rad, step)
    scale = np.array([s_xy, s_xy, s_z])

    def hits_of(vectors: np.ndarray, radius: float) -> np.ndarray:
        """Per small rotation vector (camera axes, rad): the check stars with a source within
        ``radius`` (not one to one)."""
        out = np.zeros(vectors.shape[0], int)
        for start in range(0, vectors.shape[0], 4096):
            rots = Rotation.from_rotvec(vectors[start : start + 4096]).as_matrix()  # camera -> seed camera
            c = np.einsum("bji,nj->bni", rots, c0)  # R^T c0
            z = c[..., 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                pc = camera.focal_x_px * c[..., 0] / z + camera.cx_px
                pr = camera.focal_y_px * c[..., 1] / z + camera.cy_px
            ok = (z > 0) & (pc >= 0) & (pc < w) & (pr >= 0) & (pr < h)
            d, _ = tree.query(np.column_stack([np.where(ok, pc, -1e9).ravel(), np.where(ok, pr, -1e9).ravel()]), k=1)
            out[start : start + 4096] = np.sum((d.reshape(ok.shape) <= radius) & ok, axis=1)
        return out

    if exhaustive:
        grid = seeded_grid(camera, uncertainty_rad, step)
    else:
        fine, n_coarse, n_pass, n_cells, m, top = _coarse_to_fine(
            lambda idx, rad: hits_of(idx * scale, rad), camera, uncertainty_rad, step, r, need, MAX_SEED_EVALUATIONS
        )
        grid = fine * scale
        extra.update(
            {
                "coarse_points": n_coarse,
                "coarse_factor": m,
                "cells_passing": n_pass,
                "cells_searched": n_cells,
                "coarse_best_hits": top,
                "evaluated": n_coarse + int(fine.shape[0]),
            }
        )
        if n_pass == 0:
            return refused(
                f"no cell of the coarse grid over the seed's window ({np.degrees(uncertainty_rad):.2f} deg, {n_h} "
                f"hypotheses, {n_coarse} coarse points) reaches the {need} matches needed for a false-alarm "
                f"probability <= {false_alarm:g} (lambda {lam:.3g})",
                0,
                lam,
                float("nan"),
                need,
            )
    hits = hits_of(grid, r)
    best_k = int(hits.max()) if hits.size else 0
    best = list(np.flatnonzero(hits == best_k)) if hits.size else []
    # one-to-one matches at the best grid points: the count the decision uses
    k_best, rot_best, di_best, ci_best = 0, None, None, None
    for g in best[:50]:
        rot = seed_rotation * Rotation.from_rotvec(grid[g])
        pc, pr = _project(rot, camera, vec_cat[near])
        inside = np.isfinite(pc) & (pc >= 0) & (pc < w) & (pr >= 0) & (pr < h)
        di, ci = _match_tree(tree, np.where(inside, pc, np.nan), pr, r)
        if di.size > k_best:
            k_best, rot_best, di_best, ci_best = di.size, rot, di, near[ci]
    lg = chance_tail_log10(k_best, lam) + float(np.log10(max(n_h, 1)))
    if k_best < need or rot_best is None:
        return refused(
            f"{k_best} check stars matched at the best of {n_h} attitudes in the seed's window, "
            f"{need} needed for a false-alarm probability <= {false_alarm:g} (lambda {lam:.3g})",
            k_best,
            lam,
            lg,
            need,
        )
    # refit on the matches (focal length kept), then all catalog stars in view matched and refitted
    rot, cam, keep, _ = _fit_and_clip(
        rot_best, camera, vec_cat[ci_best], col[di_best], row[di_best], fit_focal=False, min_stars=3
    )
    usable = np.ones(vec_cat.shape[0], bool) if catalog_visible is None else np.asarray(catalog_visible, bool)
    di = ci = res = None
    for rad in (2.0 * r, r):
        pc, pr = _project(rot, cam, vec_cat)
        inside = usable & np.isfinite(pc) & (pc > -1) & (pc < w) & (pr > -1) & (pr < h)
        di, ci = _match(np.where(inside, pc, np.nan), pr, col, row, rad)
        if di.size < 3:
            return refused("the accepted attitude lost its matches in the refit", k_best, lam, lg, need)
        rot, cam, keep, res = _fit_and_clip(rot, cam, vec_cat[ci], col[di], row[di], fit_focal=False, min_stars=3)
    search = {
        "seeded": True,
        "hypotheses": n_h,
        "matches": k_best,
        "expected_chance_matches": lam,
        "log10_false_alarm": lg,
        "matches_needed": need,
        "window_deg": float(np.degrees(uncertainty_rad)),
        "check_stars": how,
        "check_mag_limit": check_mag_limit,
        "offset_from_seed_deg": float(np.degrees((seed_rotation.inv() * rot).magnitude())),
        **({"coarse_to_fine": dict(extra)} if extra else {}),
    }
    assert di is not None and ci is not None and res is not None
    sol = AstrometricSolution(rot, cam, di[keep], ci[keep], res[keep], "seeded", n_h, (), search=search)
    return SeededResult(sol, n_h, k_best, lam, lg, need, "", extra)
