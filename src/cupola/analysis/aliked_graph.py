"""ALIKED's backbone as one exportable graph, shared by locate (its ONNX Runtime path) and onboard
(every runtime of the benchmark).

:func:`backbone_module` is the network locate's sparse ALIKED path needs: a grey input padded to
multiples of 32 (1 x 1 x H x W) -> the score map (sigmoid) and the four gated feature maps x1..x4
(32 channels at 1, 1/2, 1/8, 1/32 resolution); keypoint selection (DKD) and the descriptors at the
keypoints (SDDH) read these maps and stay with the caller. With ``deform_op`` the deformable
convolutions of blocks 3 and 4 become ONNX ``DeformConv`` nodes (:mod:`cupola.analysis.deform_onnx`),
which ONNX Runtime runs as one kernel each (kornia's PyTorch gathers, exported, were ~30 % of the
graph's time, docs/onboard.md).

:class:`OrtBackbone` runs that graph in ONNX Runtime fp32, one export and session per input shape
kept in memory (a fixed-shape graph: a dynamic one gave wrong outputs at some shapes).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["BACKBONE_OUTPUTS", "OrtBackbone", "backbone_module"]

BACKBONE_OUTPUTS = ("scores", "x1", "x2", "x3", "x4")


def backbone_module(aliked: Any, split_score: bool = True, deform_op: bool = False) -> Any:
    """A torch module around a loaded kornia ``ALIKED``: grey 1 x 1 x H x W (H, W multiples of 32)
    -> (score map, x1, x2, x3, x4), the module's own layers (bit flips in ``aliked`` reach it).

    ``split_score`` (default, as locate's ``FastAliked`` computes it): the score head's first layer,
    a 1 x 1 convolution over the 128 channels of cat(x1, up(x2), up(x3), up(x4)), applied to each
    32-channel map before its upsampling (the convolution is per pixel and linear, the bilinear
    upsampling per channel and linear: they commute) and the four results summed, so the 128 x H x W
    concatenation is never formed; False: kornia's order (concatenate, then the head).

    ``deform_op``: blocks 3 and 4 run their deformable convolutions through
    :func:`cupola.analysis.deform_onnx.OnnxDeformConv` (the same computation in PyTorch; one ONNX
    ``DeformConv`` node each when exported at the module's ``opset``, 19); ``aliked`` itself is not
    changed (shallow copies of the two blocks share its layers). The module's ``opset`` attribute
    is the ONNX opset its export needs (17 without ``deform_op``)."""
    import copy

    import torch
    import torch.nn.functional as F

    from cupola.analysis.deform_onnx import DEFORM_OPSET, OnnxDeformConv

    def deform_block(block: Any) -> Any:
        out = copy.copy(block)
        out._modules = dict(block._modules)  # the copy's own module table: ``block`` keeps kornia's layers
        out.conv1, out.conv2 = OnnxDeformConv(block.conv1), OnnxDeformConv(block.conv2)
        return out

    class AlikedBackbone(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net
            self.opset = DEFORM_OPSET if deform_op else 17
            if deform_op:
                self.block3, self.block4 = deform_block(net.block3), deform_block(net.block4)

        def forward(self, x: torch.Tensor):
            n = self.net
            x1 = n.block1(x.expand(-1, 3, -1, -1))
            x2 = n.block2(n.pool2(x1))
            b3, b4 = (self.block3, self.block4) if deform_op else (n.block3, n.block4)
            x3 = b3(n.pool4(x2))
            x4 = b4(n.pool4(x3))
            x1, x2, x3, x4 = (n.gate(n.conv1(x1)), n.gate(n.conv2(x2)), n.gate(n.conv3(x3)), n.gate(n.conv4(x4)))
            head = list(n.score_head)
            if not split_score:
                feats = torch.cat([x1, n.upsample2(x2), n.upsample8(x3), n.upsample32(x4)], dim=1)
                return torch.sigmoid(n.score_head(feats)), x1, x2, x3, x4
            first = head[0]
            parts = torch.split(first.weight, [x1.shape[1], x2.shape[1], x3.shape[1], x4.shape[1]], dim=1)
            s = F.conv2d(x1, parts[0], first.bias)
            for up, xi, wi in zip((n.upsample2, n.upsample8, n.upsample32), (x2, x3, x4), parts[1:]):
                s = s + up(F.conv2d(xi, wi))
            for layer in head[1:]:
                s = layer(s)
            return torch.sigmoid(s), x1, x2, x3, x4

    return AlikedBackbone(aliked).eval()


class OrtBackbone:
    """``backbone(x)`` -> [scores, x1, x2, x3, x4] (NumPy) for a padded grey ``x`` (1 x 1 x H x W
    float32): :func:`backbone_module` with ``deform_op`` exported once per shape into memory and run
    by an ONNX Runtime CPU session on ``threads`` threads. ``exports`` counts the shapes prepared."""

    def __init__(self, aliked: Any, threads: int = 2) -> None:
        self.aliked = aliked
        self.module = backbone_module(aliked, deform_op=True)
        self.threads = threads
        self._sessions: dict[tuple[int, int], Any] = {}

    @property
    def exports(self) -> int:
        return len(self._sessions)

    def _session(self, h: int, w: int):
        key = (h, w)
        if key not in self._sessions:
            import warnings

            import onnxruntime as ort
            import torch

            buf = io.BytesIO()
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the exporter's notes on traced shapes
                torch.onnx.export(
                    self.module,
                    (torch.zeros(1, 1, h, w),),
                    buf,  # type: ignore[arg-type]  # the TorchScript exporter writes to a file object too
                    dynamo=False,
                    input_names=["input"],
                    output_names=list(BACKBONE_OUTPUTS),
                    opset_version=self.module.opset,
                )
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            self._sessions[key] = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self._session(int(x.shape[2]), int(x.shape[3])).run(None, {"input": x})
