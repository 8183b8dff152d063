"""locate's ALIKED with its backbone computed elsewhere: ONNX Runtime (``CUPOLA_ALIKED=ort``) or
an onboard runtime (the benchmark's task metric).

:class:`BackboneAliked` stands in for :class:`cupola.locate.aliked_fast.FastAliked`: it pads the
image as kornia does, takes the score map and the feature maps x1..x4 from a backbone callable
(:func:`cupola.analysis.aliked_graph.backbone_module`'s outputs) and runs the module's own keypoint
detection (DKD) and its descriptor head at the keypoints (the sparse SDDH of
:mod:`cupola.locate.aliked_fast`) in PyTorch. :func:`ort_aliked` routes images of at least
:data:`ORT_MIN_PIXELS` (the 1024-px reference tiles) through the DeformConv graph in ONNX Runtime,
~2.3x faster than PyTorch there, and leaves smaller ones (the photo's passes, ~1.15x) to PyTorch,
which also bounds the exports (one per input shape) to the references' shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cupola.analysis.aliked_graph import OrtBackbone
from cupola.locate.aliked_fast import _sddh_sparse, _SparseFeatureMap

__all__ = ["ORT_MIN_PIXELS", "BackboneAliked", "ort_aliked"]

#: images of at least this many pixels go through ONNX Runtime in :func:`ort_aliked` (half of
#: 1024 x 1024: the reference tiles; at 512 x 512 the gain is ~1.15x, not worth an export per shape)
ORT_MIN_PIXELS = 512 * 1024


class BackboneAliked:
    """Stands in for locate's ``FastAliked``: ``(images, image_size)`` -> kornia ``ALIKEDFeatures``,
    the backbone computed by ``backbone`` (padded 1 x 1 x H x W NumPy -> [scores, x1, x2, x3, x4])."""

    def __init__(self, aliked: Any, backbone) -> None:
        self.aliked = aliked
        self.backbone = backbone

    def __call__(self, images, image_size=None):
        import torch
        from kornia.feature.aliked.aliked import ALIKEDFeatures, InputPadder

        if images.dim() == 2:
            images = images[None, None]
        elif images.dim() == 3:
            images = images[None]
        if images.shape[1] != 1:
            images = images.mean(dim=1, keepdim=True)  # locate hands over grey; the graph expands it
        b, _, h, w = images.shape
        padder = InputPadder(h, w, 2**5)
        out = []
        with torch.inference_mode():
            for i in range(b):
                padded = padder.pad(images[i : i + 1])
                scores, x1, x2, x3, x4 = (
                    torch.from_numpy(np.ascontiguousarray(a)) for a in self.backbone(padded.numpy())
                )
                score_map = padder.unpad(scores)
                fmap = _SparseFeatureMap(x1[0], x2[0], x3[0], x4[0], padder._pad[0], padder._pad[2])
                keypoints, kptscores, _ = self.aliked.dkd(score_map, image_size=image_size)
                desc = _sddh_sparse(self.aliked.desc_head, fmap, h, w, keypoints[0], images.dtype)
                wh = torch.tensor([w - 1, h - 1], dtype=torch.float32)
                out.append(ALIKEDFeatures(wh * (keypoints[0] + 1) / 2.0, desc, kptscores[0]))
        return out

    def __getattr__(self, name):  # dkd, max_num_keypoints, ... of the wrapped module
        if name == "aliked":
            raise AttributeError(name)
        return getattr(self.aliked, name)


class _SizeSwitch:
    """``images`` of at least ``min_pixels`` through ``large`` (a :class:`BackboneAliked`), others
    through ``small`` (locate's ``FastAliked``); attributes (``dkd`` ...) are ``small``'s."""

    def __init__(self, small: Any, large: Any, min_pixels: int) -> None:
        self.small, self.large, self.min_pixels = small, large, min_pixels

    def __call__(self, images, image_size=None):
        h, w = images.shape[-2:]
        return (self.large if h * w >= self.min_pixels else self.small)(images, image_size)

    def __getattr__(self, name):
        if name in ("small", "large", "min_pixels"):
            raise AttributeError(name)
        return getattr(self.small, name)


def ort_aliked(fast: Any, backbone: OrtBackbone, min_pixels: int = ORT_MIN_PIXELS) -> Any:
    """locate's ``FastAliked`` ``fast`` with images of at least ``min_pixels`` computed by
    ``backbone`` (the DeformConv graph of ``fast``'s module in ONNX Runtime); the same keypoints to
    rounding."""
    if backbone.aliked is not fast.aliked:
        raise ValueError("ort_aliked: the backbone was built from another ALIKED module")
    return _SizeSwitch(fast, BackboneAliked(fast.aliked, backbone), min_pixels)
