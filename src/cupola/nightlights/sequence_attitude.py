"""The attitude of a frame predicted from the solved frames of its sequence (issue 14).

A camera on the station keeps its attitude in the station's local frame (LVLH: z to nadir, y
against the orbit normal), which turns once per orbit against the stars. The solved frames'
attitudes are turned into LVLH at their own times (the orbit at each time), interpolated in LVLH
over time (spherical linear interpolation between the nearest solved frame before and after;
outside them the nearest solved frame's LVLH attitude, i.e. the sky carried at the station's
rotation rate) and turned back into ICRS at the frame's time.

The **uncertainty** of the prediction is measured on the sequence itself. Between two solved
frames ``d1`` and ``d2`` seconds away, a smooth attitude path leaves the interpolation an error of
about ``a d1 d2 / 2`` (``a``: the path's angular acceleration); ``a`` is measured on every solved
frame that has solved frames on both sides (leave it out, interpolate it from those two, and
``a = 2 err / (g1 g2)``) and the largest is taken. Outside the solved frames (carried) the error
grows as ``w d + a d^2 / 2`` with ``w`` the largest angular rate between consecutive solved
frames. The window is ``LOO_FACTOR`` times that, plus ``FLOOR_DEG`` (the frames' jitter and the
solved attitudes' own errors). With two solved frames the curvature is unknown: the window is the
angle between them plus the floor; with one, ``SINGLE_FRAME_DRIFT_DEG_S`` times the time to it
plus the floor.

**Drift extrapolation** (``EXTRAPOLATE_DRIFT``): outside the solved frames, with three or more
solved frames (the curvature ``a`` measured) and two of them on the frame's side, the path is
extrapolated at the rate between those two (``g`` seconds apart, the nearer ``d`` seconds from the
frame) rather than held; the linear extrapolation's error is ``a d (d + g) / 2`` (the remainder of
the line through the two points), so the window is ``LOO_FACTOR`` times that plus the floor. It is
used when that window is narrower than the carried one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from cupola.geometry import attitude as att

__all__ = ["AttitudePrediction", "lvlh_rotation", "predict_attitude"]

#: the window is this many times the error the solved frames' path predicts (module doc)
LOO_FACTOR = 2.0
#: the narrowest window (deg): the solved frames' own errors, the mount's play
FLOOR_DEG = 0.1
#: with a single solved frame: the drift of the camera in LVLH assumed (deg/s)
SINGLE_FRAME_DRIFT_DEG_S = 0.02
#: outside the solved frames, extrapolate at the rate of the two nearest (module doc)
EXTRAPOLATE_DRIFT = True


def lvlh_rotation(state) -> Rotation:
    """LVLH -> ICRS (GCRS axes) at ``state``."""
    return Rotation.from_matrix(state.gcrs_to_itrs.T @ att.lvlh_to_itrs(state))


@dataclass(frozen=True)
class AttitudePrediction:
    rotation_cam_to_icrs: Rotation
    uncertainty_rad: float
    how: str  # "interpolated", "carried" or "extrapolated" (one side only) or "single"
    neighbours: tuple  # indices (into the solved list) used


def _predict_lvlh(t_solved: np.ndarray, r_solved: Rotation, t: float):
    before = np.flatnonzero(t_solved <= t)
    after = np.flatnonzero(t_solved >= t)
    if before.size and after.size:
        i, j = int(before[np.argmax(t_solved[before])]), int(after[np.argmin(t_solved[after])])
        if i == j or t_solved[i] == t_solved[j]:
            return r_solved[i], "interpolated", (i,)
        s = Slerp([t_solved[i], t_solved[j]], Rotation.concatenate([r_solved[i], r_solved[j]]))
        return s([t])[0], "interpolated", (i, j)
    k = int(np.argmin(np.abs(t_solved - t)))
    return r_solved[k], "carried", (k,)


def predict_attitude(times_s, rotations_cam_to_lvlh: Rotation, t_s: float, state) -> AttitudePrediction:
    """The camera -> ICRS attitude at ``t_s`` (seconds on the times' scale, the frame's ``state``)
    from the solved frames' camera -> LVLH rotations at ``times_s``, with its uncertainty (module
    doc)."""
    t = np.asarray(times_s, float)
    if t.size == 0:
        raise ValueError("no solved frame to predict from")
    r_lvlh, how, used = _predict_lvlh(t, rotations_cam_to_lvlh, float(t_s))
    floor = np.radians(FLOOR_DEG)
    order = np.argsort(t)
    ts, rs = t[order], rotations_cam_to_lvlh[order]
    if t.size >= 3:
        acc = [0.0]
        for j in range(1, t.size - 1):
            g1, g2 = ts[j] - ts[j - 1], ts[j + 1] - ts[j]
            if g1 <= 0 or g2 <= 0:
                continue
            s_ = Slerp([ts[j - 1], ts[j + 1]], Rotation.concatenate([rs[j - 1], rs[j + 1]]))
            err = float((s_([ts[j]])[0].inv() * rs[j]).magnitude())
            acc.append(2.0 * err / (g1 * g2))
        a = max(acc)
        rates = [
            float((rs[j].inv() * rs[j + 1]).magnitude()) / (ts[j + 1] - ts[j])
            for j in range(t.size - 1)
            if ts[j + 1] > ts[j]
        ]
        w = max(rates) if rates else 0.0
        if how == "interpolated" and len(used) == 2:
            d1, d2 = abs(float(t_s) - t[used[0]]), abs(t[used[1]] - float(t_s))
            grow = 0.5 * a * d1 * d2
        else:
            d = float(np.min(np.abs(t - float(t_s))))
            grow = w * d + 0.5 * a * d * d
            side = np.flatnonzero(ts <= float(t_s)) if float(t_s) >= ts[-1] else np.flatnonzero(ts >= float(t_s))
            if EXTRAPOLATE_DRIFT and side.size >= 2:
                k, j = (int(side[-1]), int(side[-2])) if float(t_s) >= ts[-1] else (int(side[0]), int(side[1]))
                g = abs(float(ts[k] - ts[j]))
                d_k = abs(float(t_s) - float(ts[k]))
                grow_x = 0.5 * a * d_k * (d_k + g)
                if g > 0 and grow_x < grow:
                    rate = (rs[j].inv() * rs[k]).as_rotvec() / float(ts[k] - ts[j])
                    r_lvlh = rs[k] * Rotation.from_rotvec(rate * (float(t_s) - float(ts[k])))
                    how, used, grow = "extrapolated", tuple(int(x) for x in order[[k, j]]), grow_x
        u = floor + LOO_FACTOR * grow
    elif t.size == 2:
        u = floor + float((rotations_cam_to_lvlh[0].inv() * rotations_cam_to_lvlh[1]).magnitude())
    else:
        how = "single"
        u = floor + np.radians(SINGLE_FRAME_DRIFT_DEG_S) * abs(float(t_s) - float(t[0]))
    return AttitudePrediction(lvlh_rotation(state) * r_lvlh, u, how, used)
