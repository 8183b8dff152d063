"""The scene classifier: day / night / limb / cloudy, a tiny CNN on 32 x 32 grey tiles.

What a spacecraft would run on board to choose what to downlink. The labels come from metadata and
geometry, never from looking at the tiles by hand (the rules below; :mod:`cupola.cli.onboard_scene`
applies them to cupola's real samples):

* **limb** (:func:`limb_tile`): the tile holds the Earth's limb: some of its rays hit the Earth
  and some pass above it, or all pass within :data:`LIMB_TOP_KM` of the surface (the airglow and
  aurora layer). From the photo's pointing (a star-field WCS) and the station's position.
* **night / day** (:func:`daylight_class`): the Sun's elevation at the tile's ground point and the
  photo's time: night below :data:`NIGHT_BELOW_DEG` (civil twilight's end), day above
  :data:`DAY_ABOVE_DEG` (the Sun's upper limb at the horizon); twilight in between is no label.
* **cloudy** (day only, :func:`cloud_class`): more than half the tile cloud by the source's cloud
  layer or rule; at most :data:`CLEAR_BELOW` cloud is day; in between no label.

Priority: limb, then night, then cloudy, then day. Tiles are grey in [0, 1] (stored as uint8).

Example
-------
>>> import torch
>>> net = SceneNet()
>>> net(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 4])
>>> sum(p.numel() for p in net.parameters())
6020
>>> daylight_class(20.0), daylight_class(-3.0), daylight_class(-30.0)
('day', None, 'night')
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError

__all__ = [
    "CLASSES",
    "TILE_PX",
    "SCENE_WEIGHTS",
    "SCENE_TEST",
    "SCENE_CALIBRATION",
    "SceneNet",
    "TileSet",
    "daylight_class",
    "cloud_class",
    "limb_tile",
    "tangent_height_km",
    "scene_label",
    "tiles_of",
    "train_scene",
    "predict_classes",
    "accuracy",
    "task_accuracy",
    "save_scene_model",
    "load_scene_model",
    "read_tile_set",
    "write_tile_set",
]

CLASSES = ("day", "night", "limb", "cloudy")
TILE_PX = 32
NIGHT_BELOW_DEG = -6.0
DAY_ABOVE_DEG = -0.833
CLOUDY_ABOVE = 0.5
CLEAR_BELOW = 0.1
LIMB_TOP_KM = 100.0
EARTH_RADIUS_KM = 6371.0  # mean radius: the limb rule needs tens of km, not the ellipsoid
_DATA = Path(__file__).resolve().parents[1] / "data" / "onboard"
SCENE_WEIGHTS = _DATA / "scene.pt"
SCENE_TEST = _DATA / "scene_test.npz"
SCENE_CALIBRATION = _DATA / "scene_calibration.npz"


def daylight_class(sun_elevation_deg: float) -> str | None:
    """'day', 'night' or None (twilight: no label) from the Sun's elevation at the ground point."""
    e = float(sun_elevation_deg)
    if e > DAY_ABOVE_DEG:
        return "day"
    if e < NIGHT_BELOW_DEG:
        return "night"
    return None


def cloud_class(cloud_fraction: float) -> str | None:
    """'cloudy' (more than half cloud), 'day' (at most a tenth) or None in between."""
    f = float(cloud_fraction)
    if f > CLOUDY_ABOVE:
        return "cloudy"
    if f <= CLEAR_BELOW:
        return "day"
    return None


def tangent_height_km(station_km: np.ndarray, directions: np.ndarray, radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Height (km) above a sphere of ``radius_km`` of the closest approach of each ray from
    ``station_km`` (3,) along unit ``directions`` (..., 3); negative: the ray enters the sphere
    (as deep as that). A ray pointing away from the centre's side approaches closest at the station.

    >>> round(float(tangent_height_km(np.array([6771.0, 0, 0]), np.array([0.0, 1.0, 0]))), 6)
    400.0
    """
    r = np.asarray(station_km, float)
    d = np.asarray(directions, float)
    t = -(d @ r)
    closest = np.linalg.norm(r + np.maximum(t, 0.0)[..., None] * d, axis=-1)
    return closest - radius_km


def limb_tile(tangent_height_km: np.ndarray) -> bool | None:
    """From the tangent heights (km) of a tile's rays (negative: the ray hits the Earth at that
    depth of its closest approach): True when the tile holds the limb (rays both below and above
    the surface, or all within ``LIMB_TOP_KM`` above it), False when every ray hits the Earth, None
    when all pass higher (space: no label).

    >>> limb_tile(np.array([-50.0, 20.0])), limb_tile(np.array([-5.0, -1.0])), limb_tile(np.array([300.0]))
    (True, False, None)
    """
    h = np.asarray(tangent_height_km, float)
    if np.all(h < 0):
        return False
    if np.any(h < 0) or np.min(h) <= LIMB_TOP_KM:
        return True
    return None


def scene_label(limb: bool | None, sun_elevation_deg: float, cloud_fraction: float | None) -> str | None:
    """The tile's class by the priority limb, night, cloudy, day (None: no label). ``limb`` None
    means space (no label); ``cloud_fraction`` None means no cloud information (day stays day)."""
    if limb is None:
        return None
    if limb:
        return "limb"
    light = daylight_class(sun_elevation_deg)
    if light != "day":
        return light
    return "day" if cloud_fraction is None else cloud_class(cloud_fraction)


def tiles_of(image: np.ndarray, tile_px: int = TILE_PX) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``tile_px`` squares of a 2-D image (the ragged edge dropped): (N, t, t) and
    their top-left (row, col) (N, 2).

    >>> t, rc = tiles_of(np.arange(70 * 40).reshape(70, 40), 32)
    >>> t.shape, rc.tolist()
    ((2, 32, 32), [[0, 0], [32, 0]])
    """
    a = np.asarray(image)
    nr, nc = a.shape[0] // tile_px, a.shape[1] // tile_px
    if nr == 0 or nc == 0:
        return np.empty((0, tile_px, tile_px), a.dtype), np.empty((0, 2), int)
    t = a[: nr * tile_px, : nc * tile_px].reshape(nr, tile_px, nc, tile_px).swapaxes(1, 2)
    rc = np.stack(np.meshgrid(np.arange(nr) * tile_px, np.arange(nc) * tile_px, indexing="ij"), -1)
    return t.reshape(-1, tile_px, tile_px), rc.reshape(-1, 2)


@dataclass
class TileSet:
    """Labelled tiles: ``tiles`` (N, t, t) uint8 (grey x 255), ``labels`` (N,) class indices into
    :data:`CLASSES`, ``groups`` (N,) the photo each came from, ``sources`` (N,) the data set."""

    tiles: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))

    def subset(self, mask: np.ndarray) -> TileSet:
        return TileSet(self.tiles[mask], self.labels[mask], self.groups[mask], self.sources[mask])

    def inputs(self) -> np.ndarray:
        """(N, 1, t, t) float32 in [0, 1]."""
        return (self.tiles.astype(np.float32) / 255.0)[:, None]


def write_tile_set(path: str | os.PathLike, ts: TileSet) -> None:
    np.savez_compressed(
        path, tiles=ts.tiles, labels=ts.labels, groups=ts.groups.astype(str), sources=ts.sources.astype(str)
    )


def read_tile_set(path: str | os.PathLike = SCENE_TEST) -> TileSet:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: the scene tile set is missing")
    with np.load(p) as z:
        return TileSet(z["tiles"], z["labels"], z["groups"], z["sources"])


def _net():
    import torch
    from torch import nn

    class _SceneNet(nn.Module):
        """Three 3x3 convolutions (8, 16, 32 channels, ReLU, 2x2 max pool), global mean, linear."""

        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )
            self.head = nn.Linear(32, len(CLASSES))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x).mean(dim=(2, 3)))

    return _SceneNet


def SceneNet() -> Any:  # noqa: N802 - a class built on first use (torch is imported lazily)
    """A new, untrained classifier: (N, 1, 32, 32) in [0, 1] -> (N, 4) logits over :data:`CLASSES`."""
    return _net()()


def train_scene(
    train: TileSet, *, epochs: int = 30, batch: int = 64, lr: float = 3e-3, seed: int = 0, threads: int = 1
) -> tuple[Any, list[float]]:
    """Train a :func:`SceneNet` (AdamW, cross entropy weighted by the inverse class frequency,
    random flips and quarter turns of each tile); returns the network (eval mode) and the loss per
    epoch."""
    import torch

    if len(train) < 2:
        raise InputError(f"training needs at least 2 tiles, got {len(train)}")
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    rng = np.random.default_rng(seed)
    net = SceneNet()
    x = torch.from_numpy(train.inputs())
    y = torch.from_numpy(train.labels.astype(np.int64))
    counts = np.bincount(train.labels, minlength=len(CLASSES)).astype(float)
    weight = torch.tensor(
        np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(CLASSES), 0.0), dtype=torch.float32
    )
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = max(1, len(train) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    history = []
    net.train()
    for _ in range(epochs):
        order = rng.permutation(len(train))
        total = 0.0
        for s in range(steps):
            idx = torch.from_numpy(order[s * batch : (s + 1) * batch])
            xb = torch.rot90(x[idx], int(rng.integers(4)), dims=(2, 3))
            if rng.random() < 0.5:
                xb = torch.flip(xb, dims=(3,))
            loss = loss_fn(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        history.append(total / steps)
    return net.eval(), history


def predict_classes(net: Any, inputs: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class indices for (N, 1, t, t) float32 inputs."""
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(inputs), batch):
            out.append(net(torch.from_numpy(np.ascontiguousarray(inputs[s : s + batch]))).argmax(1).numpy())
    return np.concatenate(out) if out else np.empty(0, np.int64)


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Overall accuracy, per class (recall; None where a class has no tile) and the confusion
    matrix (rows: true class, columns: predicted).

    >>> accuracy(np.array([0, 1, 1]), np.array([0, 1, 0]))["accuracy"]
    0.6666666666666666
    """
    p, t = np.asarray(predicted), np.asarray(labels)
    conf = np.zeros((len(CLASSES), len(CLASSES)), int)
    np.add.at(conf, (t, p), 1)
    per = {c: (float(conf[i, i] / conf[i].sum()) if conf[i].sum() else None) for i, c in enumerate(CLASSES)}
    return {"accuracy": float(np.mean(p == t)) if len(t) else None, "per_class": per, "confusion": conf.tolist()}


def task_accuracy(runner: Any, test: TileSet | None = None) -> dict[str, Any]:
    """The benchmark's task metric: accuracy of a loaded runtime (``runner.run``: (1, 1, t, t) ->
    [logits]) over the bundled test tiles (photos the bundled weights never saw), one tile a call."""
    ts = test if test is not None else read_tile_set()
    x = ts.inputs()
    pred = np.array([int(np.argmax(runner.run(np.ascontiguousarray(x[i : i + 1]))[0])) for i in range(len(ts))])
    return {"task_metric": "accuracy", "task_value": float(np.mean(pred == ts.labels))}


def save_scene_model(path: str | os.PathLike, net: Any, meta: dict) -> None:
    """The weights (float16) with ``meta`` (classes, tile size, training record) as a torch file."""
    import torch

    from cupola.io.atomic import atomic_write

    state = {k: v.detach().half() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"kind": "scene", "classes": list(CLASSES), "tile_px": TILE_PX, "state": state, **meta}, buf)
    with atomic_write(Path(path)) as tmp:
        Path(tmp).write_bytes(buf.getvalue())


def load_scene_model(path: str | os.PathLike = SCENE_WEIGHTS) -> tuple[Any, dict]:
    """The classifier (eval mode, float32) and its file's dictionary."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: the scene classifier weights are missing")
    obj = torch.load(p, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or obj.get("kind") != "scene" or tuple(obj.get("classes", ())) != CLASSES:
        raise InputError(f"{p}: not a cupola scene classifier")
    net = SceneNet()
    net.load_state_dict({k: v.float() for k, v in obj["state"].items()})
    return net.eval(), obj
