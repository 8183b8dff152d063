"""The RSO networks in ``cupola onboard bench``: the recovery U-Net and the pose ResNet-50 built from
the bundled model files, and their task metrics on a held-out set rendered by the rso generator.

This joins two capabilities (``onboard`` runs and times the network, ``rso`` holds its code, its
weights and its generator), which DESIGN.md lets only the command-line layer do; it holds no maths
of its own: the images come from :func:`cupola.rso.dataset.draw_sample`, PSNR from
:func:`cupola.rso.recover.psnr_db`, the rotation from :func:`cupola.rso.rotations.matrix_from_6d`
and the angular error (smallest over the model's symmetries) from :func:`cupola.rso.rotations.angle_deg`.

The held-out set is image 0..n-1 of seed :data:`HELDOUT_SEED`, a seed no bundled weights were
trained or validated on (training seed 1, validation 2, rso's benchmark 1000 and 1001); static int8
is calibrated on images of the training seed 1. Each runtime sees the images one at a time (batch 1),
exactly the inputs fp32 PyTorch sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["HELDOUT_SEED", "CALIBRATION_SEED", "RSO_MODELS", "RsoHeldOut", "held_out", "rso_builders", "rso_tasks"]

HELDOUT_SEED = 2027
CALIBRATION_SEED = 1  # the seed the bundled weights were trained on
RSO_MODELS = ("unet", "pose")
_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "rso"
_FILES = {"unet": ("recover.pt", "recover"), "pose": ("pose.pt", "pose")}


@dataclass(frozen=True)
class RsoHeldOut:
    """Rendered images (N, H, W) float32: clean radiance, degraded (as the sets store them), the
    attitudes (body -> camera, a scipy Rotation of N)."""

    clean: np.ndarray
    degraded: np.ndarray
    rotations: Any


@cache
def held_out(n: int, size_px: int = 64, seed: int = HELDOUT_SEED) -> RsoHeldOut:
    """Images 0..n-1 of ``seed`` from the rso generator (the ISS-like model, Embree renderer)."""
    from scipy.spatial.transform import Rotation

    from cupola.rso.dataset import draw_sample
    from cupola.rso.spacecraft import iss_like_model

    model = iss_like_model()
    samples = [draw_sample(model, seed, i, size_px) for i in range(n)]
    return RsoHeldOut(
        np.stack([s.clean for s in samples]).astype(np.float32),
        np.stack([s.degraded for s in samples]).astype(np.float32),
        Rotation.concatenate([s.view.rotation for s in samples]),
    )


def _model_file(name: str) -> dict:
    from cupola.onboard.networks import NetworkUnavailable
    from cupola.rso.train import load_model_file

    file, kind = _FILES[name]
    path = _WEIGHTS / file
    if not path.is_file():
        raise NetworkUnavailable(f"{path}: the bundled rso weights are missing")
    obj = load_model_file(path, kind)
    if obj.get("model", "iss-like") != "iss-like":
        raise NetworkUnavailable(
            f"{path}: trained on the model {obj.get('model')!r}; the held-out set renders iss-like"
        )
    return obj


def _inputs(name: str, obj: dict, images: RsoHeldOut) -> np.ndarray:
    """What the network is fed (N, 1, H, W): the U-Net the degraded images, the pose network the
    images it was trained on (clean, degraded, or degraded restored by the bundled U-Net),
    normalised as in training."""
    from cupola.rso.train import normalise, pose_inputs

    if name == "unet":
        return images.degraded[:, None].copy()
    kind = obj.get("input", "clean")
    unet = _model_file("unet") if kind == "restored" else None
    return normalise(pose_inputs(kind, images.clean, images.degraded, unet))[:, None]


def rso_builders(n_images: int = 48) -> dict:
    """``run_bench`` builders for ``unet`` and ``pose``: the bundled weights, fp32, on image 0 of the
    held-out set (their own example whatever ``--size-px``: the pose network takes 64 x 64 only)."""

    def builder(name: str):
        def build(size_px: int, seed: int):
            import torch

            from cupola.onboard.networks import Network
            from cupola.rso.train import build as build_net

            obj = _model_file(name)
            side = int(obj.get("size_px") or 64)
            x = _inputs(name, obj, held_out(n_images, side))
            calib = _inputs(name, obj, held_out(8, side, CALIBRATION_SEED))
            return Network(
                name,
                build_net(obj),
                torch.from_numpy(np.ascontiguousarray(x[:1])),
                ("restored",) if name == "unet" else ("pose",),
                own_example=True,
                calibration=[np.ascontiguousarray(c[None]) for c in calib],
            )

        return build

    return {name: builder(name) for name in RSO_MODELS}


def rso_tasks(n_images: int = 48) -> dict:
    """``run_bench`` task metrics: ``unet`` the mean PSNR (dB, restored clipped to [0, 1] against
    the clean image clipped, as ``rso evaluate`` scores it), ``pose`` the median angular error
    (deg, smallest over the model's symmetries), over the ``n_images`` held-out images."""

    def unet_psnr(runner) -> dict:
        from cupola.rso.recover import psnr_db

        obj = _model_file("unet")
        images = held_out(n_images, int(obj.get("size_px") or 64))
        x = _inputs("unet", obj, images)
        target = np.clip(images.clean, 0.0, 1.0)
        values = [psnr_db(np.clip(runner.run(xi[None])[0][0, 0], 0.0, 1.0), t) for xi, t in zip(x, target)]
        return {"task_metric": "psnr_db", "task_value": float(np.mean(values))}

    def pose_angle(runner) -> dict:
        import torch
        from scipy.spatial.transform import Rotation

        from cupola.rso.rotations import angle_deg, matrix_from_6d

        obj = _model_file("pose")
        images = held_out(n_images, int(obj.get("size_px") or 64))
        x = _inputs("pose", obj, images)
        y = np.concatenate([runner.run(xi[None])[0] for xi in x]).astype(np.float32)
        pred = Rotation.from_matrix(matrix_from_6d(torch.from_numpy(y[:, :6])).double().numpy())
        sym = tuple(Rotation.from_matrix(m.double().numpy()) for m in obj["symmetries"])
        err = angle_deg(pred, images.rotations, sym)
        return {"task_metric": "median_angle_deg", "task_value": float(np.median(err))}

    return {"unet": unet_psnr, "pose": pose_angle}
