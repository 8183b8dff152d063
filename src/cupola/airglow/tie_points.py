"""A pose per frame from tie points measured on several frames of a sequence.

Each frame that has tie points (at least 2) gets its own camera orientation from cupola's
tie-point solver (:func:`cupola.geometry.attitude.solve_attitude`: Wahba start, robust least
squares on the reprojection error) at that frame's orbit position. The orientation is kept as the
camera -> LVLH rotation, which changes slowly for a camera held by hand or fixed on a bracket (the
LVLH frame itself turns ~0.07 deg/s with the orbit); frames without tie points take it by
spherical linear interpolation in time between the nearest solved frames, and before the first or
after the last solved frame the nearest one's. No file is read here (see
:mod:`cupola.airglow.inputs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera

__all__ = ["FrameAttitudes", "solve_frame_attitudes"]


@dataclass
class FrameAttitudes:
    """The camera -> LVLH rotation of every frame, and how each solved frame's fit went."""

    rotations_lvlh: list[Rotation]
    #: one entry per frame that had tie points: frame index, points, RMS in pixels and metres
    solved: list[dict]
    #: how many frames took an interpolated (or held) attitude
    interpolated: int

    def to_dict(self, names: Sequence[str]) -> dict:
        res_px = np.array([s["rms_px"] for s in self.solved])
        res_m = np.array([s["rms_m"] for s in self.solved])
        n = np.array([s["points"] for s in self.solved])
        return {
            "frames": len(self.solved),
            "points": int(n.sum()),
            "rms_px": float(np.sqrt(np.sum(n * res_px**2) / n.sum())),
            "rms_m": float(np.sqrt(np.sum(n * res_m**2) / n.sum())),
            "interpolated_frames": self.interpolated,
            "per_frame": [{**s, "frame": names[s["frame"]]} for s in self.solved],
        }


def _lvlh(state: orbit.StateVector) -> Rotation:
    return Rotation.from_matrix(att.lvlh_to_itrs(state))


def solve_frame_attitudes(
    camera: Camera,
    states: Sequence[orbit.StateVector],
    t_s: np.ndarray,
    frame_of_point: np.ndarray,
    *,
    col_px: np.ndarray,
    row_px: np.ndarray,
    lon_deg: np.ndarray,
    lat_deg: np.ndarray,
    height_m: np.ndarray,
    names: Sequence[str] | None = None,
) -> FrameAttitudes:
    """The attitude of every frame from tie points: point i (``col_px``, ``row_px`` on frame
    ``frame_of_point[i]`` <-> ``lon_deg``, ``lat_deg``, ``height_m``). ``states``: the station at
    each frame (its position is the camera's), ``t_s``: the frames' times in seconds (increasing).
    Every frame named must have at least 2 points; :class:`InputError` names the frame (by
    ``names``) otherwise, or when the solver refuses its points (below the horizon, coinciding)."""
    n = len(states)
    names = list(names) if names is not None else [f"frame {i}" for i in range(n)]
    frame_of_point = np.asarray(frame_of_point, dtype=int)
    if frame_of_point.size == 0:
        raise InputError("no tie points")
    if frame_of_point.min() < 0 or frame_of_point.max() >= n:
        raise InputError(f"tie points on frame {int(frame_of_point.max())}, but there are {n} frames")
    solved: list[dict] = []
    frames = sorted(set(frame_of_point.tolist()))
    rots: list[Rotation] = []
    for f in frames:
        sel = frame_of_point == f
        if sel.sum() < 2:
            raise InputError(f"{names[f]}: 1 tie point; a frame needs at least 2 (or none)")
        try:
            sol = att.solve_attitude(
                camera,
                states[f].position_m,
                col_px=np.asarray(col_px)[sel],
                row_px=np.asarray(row_px)[sel],
                lon_deg=np.asarray(lon_deg)[sel],
                lat_deg=np.asarray(lat_deg)[sel],
                height_m=np.asarray(height_m)[sel],
            )
        except InputError as exc:
            raise InputError(f"{names[f]}: {exc}") from None
        rots.append(_lvlh(states[f]).inv() * sol.pose.rotation)
        solved.append({"frame": f, "points": int(sel.sum()), "rms_px": sol.rms_px, "rms_m": sol.rms_m})
    t = np.asarray(t_s, dtype=float)
    out = att.interpolate_rotations(t[frames], rots, t)
    for f, r in zip(frames, rots, strict=True):  # the solved frames exactly as solved
        out[f] = r
    return FrameAttitudes(rotations_lvlh=out, solved=solved, interpolated=n - len(frames))
