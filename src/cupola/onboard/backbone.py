"""ALIKED's backbone in any runtime, for the task-level drift (localization with the runtime swapped in).

The exported graph is what locate's sparse ALIKED path needs from the network: on a grey input
padded to multiples of 32 (1 x 1 x H x W) it gives the score map (1 x 1 x H x W, sigmoid) and the
four gated feature maps x1..x4 (32 channels at 1, 1/2, 1/8, 1/32 resolution). Keypoint selection
(DKD) and the descriptor head (SDDH, at the keypoints only) stay in PyTorch: they read these maps.
The graph has a fixed shape, so one export (and one quantization, one session) is made per input
shape and kept (:class:`BackboneRuntime`). An export with dynamic height and width was tried: ORT
matched PyTorch at 256 x 256 and 512 x 384 but not at 192 x 320 (max difference 0.57), so no.

Static int8 is calibrated per shape on crops of the bundled ``apl`` photos of that shape.
``deform_op`` (:func:`backbone_module`): the deformable convolutions of blocks 3 and 4 exported as
one ONNX ``DeformConv`` node each (:mod:`cupola.analysis.deform_onnx`, opset 19) instead of kornia's
gathers; ``int8="locate"`` / ``"mixed"`` (:class:`BackboneRuntime`, runtime ``ort-int8s``): the int8
recipes of :data:`INT8_RECIPES` (:func:`quantize_backbone_int8`); :func:`conv_sensitivity`: the
per-layer sensitivity the ``mixed`` recipe was chosen by.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cupola.analysis.aliked_graph import BACKBONE_OUTPUTS, backbone_module
from cupola.errors import InputError
from cupola.onboard.runtimes import (
    CALIBRATED,
    EAGER,
    RUNTIMES,
    Runner,
    Unsupported,
    export_onnx,
    ort_runner,
    prepare,
    runtime_available,
)
from cupola.onboard.samples import calibration_crops_hw, day_night_crops_hw

__all__ = [
    "BACKBONE_OUTPUTS",
    "INT8_FP32_NODES",
    "INT8_RECIPES",
    "INT8_SENSITIVE_NODES",
    "BackboneRuntime",
    "Int8Recipe",
    "backbone_module",
    "conv_sensitivity",
    "quantize_backbone_int8",
]

#: the convolutions the int8 recipe leaves in fp32 (the backbone graph's node names): the first
#: convolution (on the image) and the score head (its split first layer and its three 3 x 3 layers)
INT8_FP32_NODES = (
    "/block1/conv1/Conv",
    "/Conv",
    "/Conv_1",
    "/Conv_2",
    "/Conv_3",
    "/score_head.2/Conv",
    "/score_head.4/Conv",
    "/score_head.6/Conv",
)


@dataclass(frozen=True)
class Int8Recipe:
    """A static int8 recipe for locate's backbone graph: QDQ, uint8 activations, int8 weights (per
    output channel with ``per_channel``), only the Conv nodes quantized, ``fp32_nodes`` left in
    fp32, activation ranges by ``method`` (``minmax``, ``percentile``, ``entropy``)."""

    name: str
    fp32_nodes: tuple[str, ...] = INT8_FP32_NODES
    per_channel: bool = True
    method: str = "minmax"


#: the recipes :class:`BackboneRuntime` knows by name (``int8=``): ``locate`` is the first recipe
#: (docs/onboard.md, "int8 for locate's backbone"); ``mixed`` also keeps in fp32 the convolutions
#: :data:`INT8_SENSITIVE_NODES` (the per-layer sensitivity rule of docs/onboard.md)
INT8_RECIPES: dict[str, Int8Recipe] = {}
#: the convolutions the ``mixed`` recipe also keeps in fp32, by the rule written before the
#: measurement (docs/onboard.md): the N most sensitive of the ``locate`` recipe's int8 convolutions
#: (:func:`conv_sensitivity`, one quantized at a time, keypoints kept on the 12 day and night
#: calibration crops at 256 x 256, seed 0), N the smallest count (at most 8) that brings the recipe
#: to >= 0.98 of fp32's top-1024 keypoints on those crops: N = 6 (0.868 -> 0.986); the full- and
#: half-resolution convolutions, where the graph's convolution time is.
INT8_SENSITIVE_NODES: tuple[str, ...] = (
    "/block1/conv2/Conv",
    "/conv1/Conv",
    "/block2/conv1/Conv",
    "/block2/conv2/Conv",
    "/block2/downsample/Conv",
    "/conv2/Conv",
)
INT8_RECIPES["locate"] = Int8Recipe("locate")
INT8_RECIPES["mixed"] = Int8Recipe("mixed", fp32_nodes=INT8_FP32_NODES + INT8_SENSITIVE_NODES)


def quantize_backbone_int8(path: Path, calibration: list[np.ndarray], recipe: Int8Recipe | None = None) -> Path:
    """locate's backbone graph in static int8 by ``recipe`` (default: the ``locate`` recipe chosen in
    docs/onboard.md, "int8 for locate's backbone": QDQ, per-channel int8 weights, uint8 activations,
    min/max over ``calibration``, only the Conv nodes quantized (SELU, the upsamplings, the sums and
    DeformConv stay fp32, so no quantize/dequantize pairs around them), :data:`INT8_FP32_NODES`
    left in fp32), written beside ``path``."""
    from cupola.onboard.runtimes import quantize_int8_static

    recipe = recipe or INT8_RECIPES["locate"]
    suffix = "-int8locate" if recipe == INT8_RECIPES["locate"] else f"-int8{recipe.name}"
    return quantize_int8_static(
        path,
        calibration,
        per_channel=recipe.per_channel,
        op_types=("Conv",),
        exclude=recipe.fp32_nodes,
        suffix=suffix,
        method=recipe.method,
    )


def conv_sensitivity(
    path: Path, calibration: list[np.ndarray], evaluation: list[np.ndarray], nodes: tuple[str, ...], k: int = 1024
) -> dict[str, dict[str, float]]:
    """Per-layer int8 sensitivity of the fp32 backbone graph at ``path``: for each Conv node of
    ``nodes``, that node alone quantized (per-channel QDQ, min/max over ``calibration``) and the
    graph run on ``evaluation`` against ORT fp32: ``keypoints`` (mean share of fp32's top-``k``
    score maxima found again within 1.5 px) and ``feature_drift`` (mean relative L2 difference of
    x1..x4). Returns {node: {"keypoints": ..., "feature_drift": ...}}."""
    from cupola.onboard.keypoints import keypoint_agreement
    from cupola.onboard.runtimes import ort_runner, quantize_int8_static

    fp32 = ort_runner(path, 1)
    refs = [fp32.run(x) for x in evaluation]
    out: dict[str, dict[str, float]] = {}
    for i, node in enumerate(nodes):
        q = quantize_int8_static(
            path, calibration, per_channel=True, op_types=("Conv",), only=(node,), suffix=f"-sens{i}"
        )
        runner = ort_runner(q, 1)
        kept, drift = [], []
        for x, ref in zip(evaluation, refs):
            got = runner.run(x)
            kept.append(keypoint_agreement(ref[0][0, 0], got[0][0, 0], k=k, radius_px=1.5))
            rel = [np.linalg.norm(g - r) / max(float(np.linalg.norm(r)), 1e-12) for g, r in zip(got[1:], ref[1:])]
            drift.append(float(np.mean(rel)))
        out[node] = {"keypoints": float(np.mean(kept)), "feature_drift": float(np.mean(drift))}
    return out


class BackboneRuntime:
    """``run(x)`` -> [scores, x1, x2, x3, x4] as NumPy arrays for a padded grey input ``x``
    (1 x 1 x H x W float32), in runtime ``name``; one export / session per shape, kept in ``folder``.

    ``exports`` counts the shapes prepared so far (each costs an export and a session). The export
    is made at ``module.opset`` (19 for a :func:`backbone_module` with ``deform_op``, else 17).
    ``int8`` with runtime ``ort-int8s``: a recipe of :data:`INT8_RECIPES` by name (``locate``,
    ``mixed``) or an :class:`Int8Recipe`, quantized by :func:`quantize_backbone_int8` calibrated on
    :func:`cupola.onboard.samples.day_night_crops_hw`; ``default``: the plain static int8 on apl crops."""

    def __init__(
        self,
        name: str,
        module: Any,
        folder: Path,
        threads: int = 1,
        seed: int = 0,
        int8: str | Int8Recipe = "default",
    ) -> None:
        if isinstance(int8, str) and int8 != "default" and int8 not in INT8_RECIPES:
            known = ", ".join(map(repr, INT8_RECIPES))
            raise InputError(f"`int8` {int8!r}: expected 'default', {known} or an Int8Recipe")
        if int8 != "default" and name != "ort-int8s":
            label = int8 if isinstance(int8, str) else int8.name
            raise InputError(f"`int8` {label!r} is a recipe of runtime ort-int8s, not {name!r}")
        if name not in RUNTIMES:
            raise InputError(f"`runtime` {name!r}: unknown runtime; expected one of {', '.join(sorted(RUNTIMES))}")
        if not runtime_available(name):
            raise InputError(f"`runtime` {name!r}: not installed")
        if name == "torch-pieces":
            raise Unsupported("torch-pieces: only for a network exported in pieces (lightglue)")
        self.name, self.module, self.folder, self.threads, self.seed = name, module, Path(folder), threads, seed
        self.int8 = int8
        self._runners: dict[tuple[int, int], Runner] = {}
        self.load_s = 0.0

    @property
    def exports(self) -> int:
        return len(self._runners)

    def _runner(self, h: int, w: int) -> Runner:
        import torch

        key = (h, w)
        if key not in self._runners:
            if h % 32 or w % 32:
                raise InputError(f"`x`: {h} x {w}, expected multiples of 32 (pad first)")
            # one fp32 export per shape, shared by every runtime using the same folder (an export
            # costs ~4 s of CPU here, more than a localization's inference)
            opset = getattr(self.module, "opset", 17)
            path = self.folder / f"backbone-{h}x{w}-opset{opset}.onnx"
            if self.name not in EAGER and not path.exists():
                export_onnx(self.module, torch.zeros(1, 1, h, w), path, BACKBONE_OUTPUTS, opset=opset)
            if self.int8 != "default":
                t0 = time.process_time()
                recipe = INT8_RECIPES[self.int8] if isinstance(self.int8, str) else self.int8
                quantized = quantize_backbone_int8(path, day_night_crops_hw(h, w, seed=self.seed), recipe)
                runner = ort_runner(quantized, self.threads)
                runner.load_s += time.process_time() - t0
            else:
                calibration = calibration_crops_hw(h, w, seed=self.seed) if self.name in CALIBRATED else None
                runner = prepare(self.name, self.module, path, self.threads, calibration)
            self.load_s += runner.load_s
            self._runners[key] = runner
        return self._runners[key]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        if x.ndim != 4 or x.shape[:2] != (1, 1):
            raise InputError(f"`x`: shape {x.shape}, expected 1 x 1 x H x W")
        return self._runner(x.shape[2], x.shape[3]).run(x)

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self.run(x)


def backbone_factory(module: Any, folder: Path, threads: int = 1, seed: int = 0) -> Callable[[str], BackboneRuntime]:
    """``factory(runtime)`` -> a :class:`BackboneRuntime` of ``module`` in that runtime."""
    return lambda name: BackboneRuntime(name, module, folder, threads, seed)
