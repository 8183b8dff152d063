"""How many matched stars a blind star solution needs, and matching along long trails.

Pure maths for the acceptance of :mod:`cupola.nightlights.astrometry` (see docs/nightlights.md,
*Acceptance of a blind solution*): a candidate attitude predicts ``n`` check stars; a wrong one
matches each by chance with probability ``q = rho a`` (``rho`` sources per pixel of sky, ``a`` the
match region's area), so the matches beyond the triangle's three are at most Poisson with mean
``lambda = n rho a``; a solution is accepted when ``P(X >= k - 3) H <= alpha`` over the ``H``
hypotheses the search may verify.

Along a long trail a faint star's position is uncertain along the trail (its peak wanders, see
the docs), so the match region can be a *stadium*: the disc of radius ``r`` swept along the
trail's length ``L`` (area ``pi r^2 + 2 r L``), with the trail of each predicted star known from
the candidate attitude and the station's rotation (a camera fixed to the station sees the sky turn
about the orbit normal at the orbital rate).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "chance_tail_log10",
    "expected_chance_matches",
    "fixed_camera_trails",
    "matches_needed",
    "stadium_area_px2",
    "stadium_matches",
]


def chance_tail_log10(n_beyond: int, expected: float) -> float:
    """log10 P(X >= n_beyond) for X ~ Poisson(expected); 0 when ``n_beyond`` <= 0."""
    from scipy.stats import poisson

    if n_beyond <= 0:
        return 0.0
    return float(poisson.logsf(n_beyond - 1, max(float(expected), 1e-300)) / np.log(10.0))


def stadium_area_px2(radius_px: float, length_px) -> np.ndarray:
    """Area (px^2) of the points within ``radius_px`` of a segment of ``length_px`` (a disc for 0)."""
    return np.pi * radius_px**2 + 2.0 * radius_px * np.asarray(length_px, float)


def expected_chance_matches(n_predicted: int, n_sources: int, sky_area_px2: float, match_area_px2) -> float:
    """``lambda``: the chance matches a wrong candidate expects, ``n_predicted`` check stars each
    with ``n_sources / sky_area_px2 * match_area_px2`` (``match_area_px2`` a scalar or one per
    predicted star, then summed)."""
    a = np.asarray(match_area_px2, float)
    per_star = a if a.ndim else np.full(int(n_predicted), float(a))
    return float(np.sum(per_star) * n_sources / max(sky_area_px2, 1e-12))


def matches_needed(expected: float, hypotheses: float, alpha: float = 1e-6, triangle: int = 3) -> int:
    """The fewest matches ``k`` (the triangle's ``triangle`` included) with
    ``P(X >= k - triangle) * hypotheses <= alpha``, X ~ Poisson(``expected``)."""
    target = np.log10(alpha) - np.log10(max(float(hypotheses), 1.0))
    k = triangle + 1
    while chance_tail_log10(k - triangle, expected) > target:
        k += 1
        if k > 10_000:
            raise ValueError("no number of matches reaches the false-alarm target")
    return k


def fixed_camera_trails(rotation_cam_to_icrs, orbit_normal_icrs, angle_rad: float, camera, col, row):
    """Trails (dcol, drow, undistorted px, whole exposure) at undistorted pixels (col, row) of a
    camera fixed to the station: the sky turns by ``angle_rad`` (orbital rate x exposure) about
    the orbit normal. The sign (which end is first) is arbitrary."""
    from cupola.nightlights.stars import TrailModel

    n = np.asarray(orbit_normal_icrs, float)
    n = n / np.linalg.norm(n)
    m = rotation_cam_to_icrs.as_matrix() if hasattr(rotation_cam_to_icrs, "as_matrix") else rotation_cam_to_icrs
    omega_cam = np.asarray(m, float).T @ n * float(angle_rad)
    return TrailModel(omega_cam, 0, 0.0).trail_vectors(camera, np.asarray(col, float), np.asarray(row, float))


def stadium_matches(pc, pr, trail_c, trail_r, col, row, radius_px: float):
    """One-to-one matches of predicted positions (pc, pr) to sources (col, row) within ``radius_px``
    of each prediction's trail segment (centred on it, vector (trail_c, trail_r)); the nearer in
    the metric of the distance to the segment wins a source claimed twice. Returns (source
    indices, prediction indices, distances to the segments)."""
    pc, pr = np.asarray(pc, float), np.asarray(pr, float)
    tc, tr = np.asarray(trail_c, float), np.asarray(trail_r, float)
    col, row = np.asarray(col, float), np.asarray(row, float)
    if pc.size == 0 or col.size == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    length = np.hypot(tc, tr)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(length > 0, tc / length, 1.0)
        uy = np.where(length > 0, tr / length, 0.0)
    dx = col[None, :] - pc[:, None]
    dy = row[None, :] - pr[:, None]
    along = dx * ux[:, None] + dy * uy[:, None]
    across = -dx * uy[:, None] + dy * ux[:, None]
    excess = np.maximum(np.abs(along) - 0.5 * length[:, None], 0.0)
    dist = np.hypot(excess, across)  # (n_pred, n_src)
    p_i, s_i = np.nonzero(dist <= radius_px)
    d = dist[p_i, s_i]
    order = np.argsort(d, kind="stable")
    used_p, used_s = set(), set()
    chosen: list[int] = []
    for k in order:
        if p_i[k] in used_p or s_i[k] in used_s:
            continue
        used_p.add(p_i[k])
        used_s.add(s_i[k])
        chosen.append(int(k))
    keep = np.asarray(chosen, int)
    return s_i[keep], p_i[keep], d[keep]
