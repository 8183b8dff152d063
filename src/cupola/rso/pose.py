"""Pose from an image: the trained ResNet-50, a nearest-neighbour template baseline, and the
wireframe overlay of the model at an attitude.

Example
-------
>>> import numpy as np
>>> t = np.random.default_rng(0).random((5, 16, 16)).astype(np.float32)
>>> int(nearest_templates(t[3:4], t)[0])
3
"""

from __future__ import annotations

import os

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from cupola.rso.rotations import matrix_from_6d
from cupola.rso.train import normalise, turn_labels

__all__ = [
    "predict_pose",
    "predict_pose_turns",
    "pose_turn_estimates",
    "turns_medoid",
    "image_estimates",
    "medoid_index",
    "nearest_templates",
    "overlay_wireframe",
]


def predict_pose(net: torch.nn.Module, obj: dict, images: np.ndarray, batch: int = 64) -> tuple[Rotation, np.ndarray]:
    """Attitudes (body -> camera) and ranges (m) the pose network gives for images (N, H, W) in [0, 1]."""
    x = normalise(images)
    mats, logr = [], []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            y = net(torch.from_numpy(x[s : s + batch])[:, None])
            mats.append(matrix_from_6d(y[:, :6]).double().numpy())
            logr.append(y[:, 6].double().numpy())
    return Rotation.from_matrix(np.concatenate(mats)), np.exp(np.concatenate(logr)) * float(obj["range_scale_m"])


def pose_turn_estimates(
    net: torch.nn.Module, obj: dict, images: np.ndarray, batch: int = 64
) -> list[tuple[Rotation, np.ndarray]]:
    """:func:`predict_pose` on the images and on their quarter turns about the boresight (k = 0..3;
    exact camera rolls, the spacecraft being on the boresight), each estimate turned back. The four
    turns of an image go through the network in one batch (about twice as fast as four passes on a
    CPU)."""
    images = np.asarray(images, np.float32)
    n = len(images)
    turned = np.stack([np.rot90(images, k, axes=(-2, -1)) for k in range(4)], axis=1)  # (N, 4, H, W)
    r, rng_m = predict_pose(net, obj, np.ascontiguousarray(turned.reshape(4 * n, *images.shape[-2:])), 4 * batch)
    mats, rng_m = r.as_matrix().reshape(n, 4, 3, 3), rng_m.reshape(n, 4)
    out = []
    for k in range(4):
        back = Rotation.from_matrix(turn_labels(k).double().numpy()).inv()
        out.append((back * Rotation.from_matrix(mats[:, k]), rng_m[:, k]))
    return out


def image_estimates(est: list[tuple[Rotation, np.ndarray]], i: int) -> tuple[Rotation, np.ndarray]:
    """Image ``i``'s four estimates of :func:`pose_turn_estimates`: attitudes (4) and ranges (4, m),
    the starts of its refinement."""
    return Rotation.concatenate([r[i] for r, _ in est]), np.array([float(g[i]) for _, g in est])


def predict_pose_turns(
    net: torch.nn.Module, obj: dict, images: np.ndarray, batch: int = 64
) -> tuple[Rotation, np.ndarray]:
    """Per image the medoid of the four :func:`pose_turn_estimates`: the one with the smallest sum
    of angles (over the model's symmetries, ``obj["symmetries"]``) to the other three; the range
    is the median of the four."""
    return turns_medoid(pose_turn_estimates(net, obj, images, batch), obj)


def turns_medoid(est: list[tuple[Rotation, np.ndarray]], obj: dict) -> tuple[Rotation, np.ndarray]:
    """The medoid of :func:`pose_turn_estimates` (see :func:`predict_pose_turns`)."""
    syms = np.stack([np.asarray(m, float) for m in obj.get("symmetries", [np.eye(3)])])
    mats = np.stack([r.as_matrix() for r, _ in est], axis=1)  # (N, 4, 3, 3)
    best = medoid_index(mats, syms)
    ranges = np.stack([r for _, r in est], axis=1)
    return Rotation.from_matrix(mats[np.arange(len(best)), best]), np.median(ranges, axis=1)


def medoid_index(mats: np.ndarray, symmetries: np.ndarray) -> np.ndarray:
    """For each row of ``mats`` (N, M, 3, 3) of rotation matrices, the index of the medoid: the one
    with the smallest sum of angles to the others, an angle the smallest over ``symmetries``
    (K, 3, 3): a and b S are the same attitude."""
    # trace(a^T b S) is largest for the S that brings b nearest to a
    tr = np.einsum("nakj,nbkl,slj->nabs", mats, mats, np.asarray(symmetries, float))
    ang = np.arccos(np.clip((tr.max(axis=-1) - 1.0) / 2.0, -1.0, 1.0))
    return np.argmin(ang.sum(axis=2), axis=1)


def _unit_rows(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images, np.float32).reshape(len(images), -1)
    a = a - a.mean(axis=1, keepdims=True)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)


def nearest_templates(images: np.ndarray, templates: np.ndarray, batch: int = 256) -> np.ndarray:
    """Index of the template (normalised cross-correlation, the highest) nearest to each image."""
    t = _unit_rows(templates)
    out = np.empty(len(images), np.int64)
    for s in range(0, len(images), batch):
        out[s : s + batch] = np.argmax(_unit_rows(images[s : s + batch]) @ t.T, axis=1)
    return out


def overlay_wireframe(
    image: np.ndarray, model, rotation: Rotation, range_m: float, fov_deg: float, path: str | os.PathLike
) -> None:
    """Write a PNG of ``image`` with the model's feature edges drawn at the attitude and range."""
    from cupola.plot.figure import new_figure, save_figure
    from cupola.rso.render import View, project

    h, w = image.shape
    view = View(rotation, float(range_m), (0.0, 0.0, -1.0), None, fov_deg)
    px = project(model.vertices_m, view, w)
    fig = new_figure((4, 4), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image, cmap="gray", vmin=0, vmax=max(float(np.percentile(image, 99.5)), 1e-3))
    segs = px[model.edges]
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection(segs, colors="#00e0ff", linewidths=0.6, alpha=0.8))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_axis_off()
    save_figure(fig, path)
