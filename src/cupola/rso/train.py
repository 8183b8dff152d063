"""Training the recovery U-Net and the pose ResNet-50 on a synthetic set, on the CPU (one thread
unless told otherwise) or a CUDA GPU when there is one; checkpoints after every epoch and resume.

A model file is a ``torch.save`` dictionary of plain types and tensors (loaded with
``weights_only=True``): ``kind`` ("recover" or "pose"), ``config`` (network arguments),
``state`` (float16 weights), ``input`` (what the pose network was trained on), ``history``
(loss per epoch) and, for pose, ``symmetries`` (body rotations as matrices) and ``range_scale_m``.
The checkpoint next to it (``MODEL.ckpt``) also holds the optimiser and the epoch reached; a run
with ``resume=True`` continues from it, and it is removed when training ends. Neither ever
replaces a file that is not a cupola model / checkpoint (:func:`check_model_out`).

Inputs are normalised per image by :func:`normalise` (divided by the 99.5th percentile), so that
the networks see the shape, not the exposure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cupola.errors import InputError
from cupola.io.atomic import atomic_write
from cupola.rso.dataset import RsoSet
from cupola.rso.nets import ResNet50, UNet
from cupola.rso.rotations import matrix_from_6d, symmetric_geodesic_rad

__all__ = [
    "TrainConfig",
    "train_recover",
    "train_pose",
    "normalise",
    "load_model_file",
    "check_model_out",
    "checkpoint_path",
    "device",
    "roll_labels",
    "roll_images",
]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings: ``epochs``, ``batch``, learning rate ``lr``, ``seed``, network size
    (``width`` of the ResNet-50, ``base`` channels of the U-Net), ``crop_px`` (U-Net training
    crops), ``threads`` (CPU threads), ``input`` of the pose network ("clean", "degraded" or
    "restored": the degraded images through a recovery U-Net),
    ``rot90``: pose batches turned by a random multiple of 90 deg about the boresight (the exact
    label of a turned image is :func:`turn_labels`), four times the views for free; ``roll``: each
    pose image turned by its own random angle (uniform, 0-360 deg) about the image centre, an exact
    camera roll with the spacecraft on the boresight (:func:`roll_images`, :func:`roll_labels`)."""

    epochs: int = 10
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0
    width: float = 0.25
    base: int = 64
    crop_px: int = 32
    threads: int = 1
    input: str = "clean"
    rot90: bool = False
    roll: bool = False
    limit: int | None = None
    extra: dict = field(default_factory=dict)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def normalise(images: np.ndarray) -> np.ndarray:
    """Each image (…, H, W) divided by its 99.5th percentile (at least 0.02), float32."""
    a = np.asarray(images, np.float32)
    scale = np.percentile(a.reshape(*a.shape[:-2], -1), 99.5, axis=-1)
    return (a / np.maximum(scale, 0.02)[..., None, None]).astype(np.float32)


#: what a pose network can be trained on
POSE_INPUTS = ("clean", "degraded", "restored")


def pose_inputs(kind: str, clean: np.ndarray, degraded: np.ndarray, recover: dict | None = None) -> np.ndarray:
    """Images as a pose network trained on ``kind`` sees them (before :func:`normalise`): the
    ``clean`` renderings (clipped to [0, 1]), the ``degraded`` images, or the degraded images
    restored by the U-Net ``recover`` (a recovery model dictionary)."""
    if kind == "clean":
        return np.clip(clean, 0, 1)
    if kind == "degraded":
        return np.asarray(degraded)
    if kind == "restored":
        if recover is None:
            raise InputError("a pose network on restored images needs the recovery model")
        from cupola.rso.recover import recover_images

        return recover_images(build(recover), degraded)
    raise InputError(f"`input` must be one of {', '.join(POSE_INPUTS)}; got {kind!r}")


def _check(cfg: TrainConfig, data: RsoSet) -> None:
    if cfg.epochs < 1 or cfg.batch < 2 or not cfg.lr > 0:  # batch normalisation: 2 or more images a batch
        raise InputError(
            f"`epochs` must be at least 1, `batch` at least 2, `lr` positive; got {cfg.epochs}, {cfg.batch}, {cfg.lr}"
        )
    if len(data) < 2:
        raise InputError(f"{data.folder}: {len(data)} image(s); training needs at least 2")
    if cfg.input not in POSE_INPUTS:
        raise InputError(f"`input` must be one of {', '.join(POSE_INPUTS)}; got {cfg.input!r}")


def _save(path: Path, obj: dict) -> None:
    with atomic_write(path) as tmp:  # a hidden unique name beside it: never a file of the user's
        torch.save(obj, tmp)


CHECKPOINT_KEYS = ("net", "opt", "sched", "epoch", "history")


def checkpoint_path(out: str | os.PathLike) -> Path:
    """The checkpoint kept beside the model file ``out`` while training: ``MODEL.ckpt``."""
    p = Path(out)
    return p.with_name(p.name + ".ckpt")


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _ours(path: Path, keys: tuple[str, ...] | None) -> bool:
    """True if ``path`` is a model file (``keys`` None) or a checkpoint (its ``keys``) of cupola's."""
    if not _is_zip(path):
        return False
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - pickle and zip errors of every kind: not ours
        return False
    if not isinstance(obj, dict):
        return False
    return obj.get("kind") in ("recover", "pose") if keys is None else all(k in obj for k in keys)


def check_model_out(out: str | os.PathLike) -> None:
    """Refuse a model file name whose writing would replace what cupola did not write.

    Training writes ``out`` and, while it runs, the checkpoint ``out.ckpt``; either may replace
    only a model file (or checkpoint) of cupola's, never a user's file, a folder or an input.

    Raises:
        InputError: ``out`` is a folder, its folder does not exist, or ``out`` / ``out.ckpt``
            exists and is not a cupola rso model file / checkpoint.
    """
    p = Path(out)
    if p.is_dir():
        raise InputError(f"`out` {p}: is a folder; expected the name of a model file")
    if not p.parent.is_dir():
        raise InputError(f"`out` {p}: folder {p.parent} does not exist")
    for path, keys, what in ((p, None, "model file"), (checkpoint_path(p), CHECKPOINT_KEYS, "checkpoint")):
        if not (path.exists() or path.is_symlink()):
            continue
        if path.is_symlink() or not path.is_file() or not _ours(path, keys):
            raise InputError(
                f"`out` {p}: {path} is already there and is not a cupola rso {what}; "
                "training would replace it: move it or choose another name"
            )


def _half(state: dict) -> dict:
    return {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}


def load_model_file(path: str | os.PathLike, kind: str) -> dict:
    """The dictionary of a model file written by :func:`train_recover` / :func:`train_pose`.

    Raises:
        InputError: the file is missing, not a cupola model, or a model of another kind.
    """
    from cupola.io.limits import regular_file

    p = regular_file(path, "a cupola rso model file")
    if not _is_zip(p):  # torch.save writes a zip archive; torch's own message for anything else misleads
        raise InputError(f"{p}: not a cupola rso model file (not a PyTorch archive)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle and zip errors of every kind
        reason = " ".join(str(exc).split())[:120]
        raise InputError(f"{p}: not a cupola rso model file (a damaged archive: {reason})") from None
    if not isinstance(obj, dict) or obj.get("kind") not in ("recover", "pose"):
        raise InputError(f"{p}: not a cupola rso model file")
    if obj["kind"] != kind:
        raise InputError(f"{p}: a {obj['kind']} model; expected a {kind} model")
    return obj


def build(obj: dict) -> torch.nn.Module:
    """The network of a model dictionary, in evaluation mode, float32."""
    net: torch.nn.Module = UNet(**obj["config"]) if obj["kind"] == "recover" else ResNet50(**obj["config"])
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in obj["state"].items()})
    return net.eval()


def _loop(
    net: torch.nn.Module,
    out: Path,
    cfg: TrainConfig,
    n: int,
    step: Callable[[np.ndarray], torch.Tensor],
    meta: dict,
    resume: bool,
    progress: Progress | None,
) -> dict:
    torch.set_num_threads(max(1, cfg.threads))
    torch.manual_seed(cfg.seed)
    dev = device()
    net.to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    per_epoch = max(1, n // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * per_epoch)
    check_model_out(out)
    ckpt = checkpoint_path(out)
    start, history = 0, []
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        try:
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            start, history = int(state["epoch"]), [float(v) for v in state["history"]]
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            reason = " ".join(str(exc).split())[:100]
            raise InputError(
                f"`resume`: {ckpt} is a checkpoint of another network or other settings ({reason}); "
                "train with the settings it was made with, or without `resume` to start again"
            ) from None
    rng = np.random.default_rng([cfg.seed, start])
    for epoch in range(start, cfg.epochs):
        net.train()
        order = rng.permutation(n)
        total = 0.0
        for b in range(per_epoch):
            loss = step(order[b * cfg.batch : (b + 1) * cfg.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
            if progress is not None:
                progress("training", epoch * per_epoch + b + 1, cfg.epochs * per_epoch)
        history.append(total / per_epoch)
        _save(ckpt, {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                     "epoch": epoch + 1, "history": history})  # fmt: skip
    net.to("cpu")
    obj = {**meta, "config": net.config, "state": _half(net.state_dict()), "history": history}  # type: ignore[dict-item]
    _save(out, obj)
    ckpt.unlink(missing_ok=True)
    return obj


def _crops(images: list[np.ndarray], rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """The same random crop of ``size`` from each array (N, H, W), centred near the bright pixels."""
    ref = images[0]
    h, w = ref.shape[-2:]
    out = [np.empty((len(ref), size, size), np.float32) for _ in images]
    for i in range(len(ref)):
        r, c = np.nonzero(ref[i] > ref[i].max() * 0.1) if ref[i].max() > 0 else (np.array([h // 2]), np.array([w // 2]))
        k = rng.integers(len(r)) if len(r) else 0
        r0 = int(np.clip((r[k] if len(r) else h // 2) - size // 2 + rng.integers(-4, 5), 0, h - size))
        c0 = int(np.clip((c[k] if len(c) else w // 2) - size // 2 + rng.integers(-4, 5), 0, w - size))
        for a, o in zip(images, out):
            o[i] = a[i, r0 : r0 + size, c0 : c0 + size]
    return out


def train_recover(
    data: RsoSet, out: str | os.PathLike, cfg: TrainConfig, *, resume: bool = False, progress: Progress | None = None
) -> dict:
    """Train the U-Net on (degraded, clean) pairs of ``data`` (random crops of ``cfg.crop_px``; the
    target is the clean image on the degraded image's scale, [0, 1]); mean squared error loss.
    Writes the model file ``out`` and returns its dictionary."""
    _check(cfg, data)
    h = data.degraded.shape[-1]
    if cfg.crop_px % 4 or cfg.crop_px > h:
        raise InputError(f"`crop_px` must be a multiple of 4 and at most the image size {h}, got {cfg.crop_px}")
    n = len(data) if cfg.limit is None else min(cfg.limit, len(data))
    x_all = data.degraded[:n]
    y_all = np.clip(data.clean[:n], 0.0, 1.0)
    net = UNet(base=cfg.base, depth=3)
    dev = device()
    rng = np.random.default_rng(cfg.seed + 1)

    def step(idx: np.ndarray) -> torch.Tensor:
        x, y = _crops([y_all[idx], x_all[idx]], rng, cfg.crop_px)[::-1]
        xt = torch.from_numpy(x)[:, None].to(dev)
        yt = torch.from_numpy(y)[:, None].to(dev)
        return torch.nn.functional.mse_loss(net(xt), yt)

    meta = {"kind": "recover", "input": "degraded", "size_px": int(h)}
    return _loop(net, Path(out), cfg, n, step, meta, resume, progress)


RANGE_SCALE_M = 1000.0


def turn_labels(k: int) -> torch.Tensor:
    """The camera rotation (3, 3) that ``torch.rot90(image, k, dims=(-2, -1))`` applies: a turn of
    -90 k deg about the boresight (rows grow along +y, columns along +x)."""
    c, s = [(1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (0.0, 1.0)][k % 4]
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def roll_labels(angle_rad: torch.Tensor) -> torch.Tensor:
    """The camera rotations (N, 3, 3) of rolls by ``angle_rad`` (N,) about the boresight (+z):
    ``roll_labels(a) @ R`` is the attitude seen in ``roll_images(x, a)`` of an image of attitude R.
    ``roll_labels(-pi/2)`` is ``turn_labels(1)``."""
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, -s, z, s, c, z, z, z, o], dim=1).reshape(-1, 3, 3)


def roll_images(x: torch.Tensor, angle_rad: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W), H = W, as a camera rolled by ``angle_rad`` (N,) about the boresight
    through the image centre would see them (bilinear, zero outside): a pixel at p (x right, y down,
    from the centre) of the rolled image shows the pixel at Q^T p of the image, Q the roll."""
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    z = torch.zeros_like(c)
    theta = torch.stack([c, s, z, -s, c, z], dim=1).reshape(-1, 2, 3).to(x.dtype)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_pose(
    data: RsoSet,
    out: str | os.PathLike,
    cfg: TrainConfig,
    symmetries: np.ndarray,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    loss_symmetries: np.ndarray | None = None,
    init: dict | None = None,
    recover: dict | None = None,
) -> dict:
    """Train the ResNet-50 to regress the 6-D rotation and log(range / 1000 m) from ``cfg.input``
    images of ``data`` (``restored``: the degraded images through the U-Net ``recover``, a recovery
    model dictionary, as `rso pose` feeds the network). Loss: the geodesic angle (rad), smallest
    over ``loss_symmetries`` (K, 3, 3; default ``symmetries``, the model's), plus the absolute error
    of the log range. The model file keeps ``symmetries`` (what evaluation forgives) and
    ``loss_symmetries`` apart. ``init``: a pose model dictionary (:func:`load_model_file`) whose
    weights the network starts from (fine-tuning; same width and image size). Writes the model file
    ``out`` and returns its dictionary."""
    _check(cfg, data)
    n = len(data) if cfg.limit is None else min(cfg.limit, len(data))
    images = normalise(pose_inputs(cfg.input, data.clean[:n], data.degraded[:n], recover))
    rot = torch.from_numpy(data.rotations[:n].as_matrix().astype(np.float32))
    logr = torch.from_numpy(np.log(data.range_m[:n] / RANGE_SCALE_M).astype(np.float32))
    sym = torch.from_numpy(np.asarray(symmetries, np.float32))
    loss_sym = sym if loss_symmetries is None else torch.from_numpy(np.asarray(loss_symmetries, np.float32))
    net = ResNet50(width=cfg.width, outputs=7)
    if init is not None:
        if init.get("kind") != "pose" or init["config"] != net.config or int(init["size_px"]) != images.shape[-1]:
            raise InputError(
                f"`init`: a {init.get('kind')} model of {init.get('config')} for {init.get('size_px')} px images; "
                f"expected a pose model of {net.config} for {images.shape[-1]} px"
            )
        net.load_state_dict(build(init).state_dict())
    dev = device()

    turn_rng = np.random.default_rng(cfg.seed + 2)

    def step(idx: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images[idx])[:, None].to(dev)
        target = rot[idx]
        if cfg.rot90:
            k = int(turn_rng.integers(4))
            x = torch.rot90(x, k, dims=(2, 3))
            target = turn_labels(k) @ target
        if cfg.roll:
            angle = torch.from_numpy(turn_rng.uniform(0.0, 2.0 * np.pi, len(idx)).astype(np.float32))
            x = roll_images(x, angle.to(dev))
            target = roll_labels(angle) @ target
        y = net(x)
        ang = symmetric_geodesic_rad(matrix_from_6d(y[:, :6]), target.to(dev), loss_sym.to(dev))
        return ang.mean() + (y[:, 6] - logr[idx].to(dev)).abs().mean()

    meta = {"kind": "pose", "input": cfg.input, "size_px": int(images.shape[-1]), "symmetries": sym,
            "recover_history": list(recover["history"]) if cfg.input == "restored" and recover else [],
            "loss_symmetries": loss_sym, "roll": cfg.roll,
            "init_history": list(init["history"]) if init is not None else [], "range_scale_m": RANGE_SCALE_M,
            "fov_deg": float(data.summary.get("fov_deg", 10.0)),
            "model": str(data.summary.get("model", ""))}  # fmt: skip
    return _loop(net, Path(out), cfg, n, step, meta, resume, progress)
