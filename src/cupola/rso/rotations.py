"""Rotations for pose regression (PyTorch and NumPy): the continuous 6-D representation of Zhou
et al. (2019, "On the Continuity of Rotation Representations in Neural Networks", CVPR), the
geodesic distance on SO(3), its minimum over a model's symmetry group, and the SPEED score of the
ESA/Stanford Satellite Pose Estimation Challenge (Kisantal et al. 2020): rotation error in radians
plus the translation error relative to the range.

Example
-------
>>> import torch
>>> eye = torch.eye(3)[None]
>>> float(geodesic_rad(eye, eye)[0])
0.0
>>> flip = torch.diag(torch.tensor([-1.0, -1.0, 1.0]))[None]
>>> round(float(geodesic_rad(eye, flip)[0]), 6)
3.141593
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

__all__ = ["matrix_from_6d", "sixd_from_matrix", "geodesic_rad", "symmetric_geodesic_rad", "angle_deg", "speed_score"]


def matrix_from_6d(x: torch.Tensor) -> torch.Tensor:
    """(N, 6) -> (N, 3, 3) rotation matrices: Gram-Schmidt of the two 3-vectors (Zhou et al. 2019,
    eq. 16); the first two columns of the result are the normalised inputs."""
    a1, a2 = x[:, :3], x[:, 3:6]
    b1 = torch.nn.functional.normalize(a1, dim=1, eps=1e-8)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(dim=1, keepdim=True) * b1, dim=1, eps=1e-8)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=2)


def sixd_from_matrix(m: torch.Tensor) -> torch.Tensor:
    """The 6-D representation (first two columns) of (N, 3, 3) matrices."""
    return torch.cat([m[:, :, 0], m[:, :, 1]], dim=1)


def geodesic_rad(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The angle (rad, 0..pi) of a^T b for batches of rotation matrices, by atan2 of its sine (from
    the skew part) and cosine (from the trace): exact at 0 and pi, finite gradients in between."""
    r = a.transpose(1, 2) @ b
    cos = (r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2] - 1.0) / 2.0
    skew = torch.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], dim=1)
    eps = torch.tensor(1e-12, dtype=r.dtype)
    sin = (torch.sqrt((skew**2).sum(dim=1) + eps) - torch.sqrt(eps)) / 2.0  # exactly 0 at 0 and pi
    return torch.atan2(sin, cos)


def symmetric_geodesic_rad(pred: torch.Tensor, true: torch.Tensor, symmetries: torch.Tensor) -> torch.Tensor:
    """min over the body symmetries S (K, 3, 3) of the angle between ``pred`` and ``true`` S: the
    attitudes ``true`` S show the same image (rotations body -> camera)."""
    errs = [geodesic_rad(pred, true @ s) for s in symmetries]
    return torch.stack(errs, dim=0).min(dim=0).values


def angle_deg(pred: Rotation, true: Rotation, symmetries: tuple[Rotation, ...] = (Rotation.identity(),)) -> np.ndarray:
    """Angular error (deg) of each predicted attitude, the smallest over the symmetries."""
    errs = [(pred.inv() * (true * s)).magnitude() for s in symmetries]
    return np.degrees(np.min(np.vstack(errs), axis=0))


def speed_score(rot_err_rad: np.ndarray, t_pred_m: np.ndarray, t_true_m: np.ndarray) -> float:
    """Mean SPEED score: rotation error (rad) + |t_pred - t_true| / |t_true| per image."""
    et = np.linalg.norm(np.asarray(t_pred_m) - np.asarray(t_true_m), axis=-1) / np.linalg.norm(t_true_m, axis=-1)
    return float(np.mean(np.asarray(rot_err_rad) + et))
