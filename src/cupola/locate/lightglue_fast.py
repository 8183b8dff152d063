"""LightGlue's cross-attention through PyTorch's fused attention on a CPU; the same computation as
kornia's ``CrossBlock`` in real arithmetic.

kornia's ``CrossBlock`` (away from CUDA) forms the similarity of the two images' features,
``sim = (q0 s)(q1 s)^T`` with ``s = scale ** 0.5``, takes its softmax along the rows (attention
0 -> 1) and, after copying its transpose into a new tensor, along the columns (attention 1 -> 0),
and multiplies each with the other image's values. With 1024 and 2048 keypoints and four heads the
similarity holds 8.4 million numbers a layer; the transposed copy alone was ~20 % of a LightGlue
pass on two CPU threads. The two messages are two scaled dot-product attentions:

    m0 = softmax(q0 q1^T scale) v1        m1 = softmax(q1 q0^T scale) v0

(``(q0 s)(q1 s)^T = q0 q1^T scale``; the column softmax of ``sim`` is the row softmax of its
transpose), which ``F.scaled_dot_product_attention`` computes blockwise without forming the
similarity (its CPU "flash" kernel, the one kornia's ``SelfBlock`` already uses). Each similarity
is computed twice instead of once, which costs less than the softmaxes, the copy and the two large
products it replaces. Only the order of the floating-point sums differs.

kornia 0.9.2 computes its cross-attention the same way and drops ``CrossBlock.scale`` (its
default is the same 1/sqrt(head dim)); :func:`head_scale` keeps this module and the ONNX export
working on 0.8 and 0.9.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["fused_cross_attention", "head_scale", "use_fused_cross_attention"]


def head_scale(block: Any) -> float:
    """The similarity's scale of a kornia attention block: its ``scale`` (kornia 0.8) or, where kornia
    0.9 dropped it for ``scaled_dot_product_attention``'s default, the same 1/sqrt(head dim)."""
    scale = getattr(block, "scale", None)
    if scale is not None:
        return float(scale)
    return float(block.to_out.in_features // block.heads) ** -0.5


def fused_cross_attention(block: Any, x0: torch.Tensor, x1: torch.Tensor, mask: torch.Tensor | None = None):
    """kornia's ``CrossBlock.forward`` for ``block``, its attention fused. A mask, a CUDA tensor (kornia
    has its own flash path there) or an image without features goes to kornia's own code."""
    if mask is not None or x0.device.type == "cuda" or min(x0.shape[1], x1.shape[1]) == 0:
        return type(block).forward(block, x0, x1, mask)
    qk0, qk1 = block.to_qk(x0), block.to_qk(x1)
    v0, v1 = block.to_v(x0), block.to_v(x1)
    qk0, qk1, v0, v1 = (t.unflatten(-1, (block.heads, -1)).transpose(1, 2) for t in (qk0, qk1, v0, v1))
    scale = head_scale(block)
    m0 = F.scaled_dot_product_attention(qk0, qk1, v1, scale=scale)
    m1 = F.scaled_dot_product_attention(qk1, qk0, v0, scale=scale)
    m0, m1 = (block.to_out(m.transpose(1, 2).flatten(start_dim=-2)) for m in (m0, m1))
    return x0 + block.ffn(torch.cat([x0, m0], -1)), x1 + block.ffn(torch.cat([x1, m1], -1))


def use_fused_cross_attention(glue: Any) -> Any:
    """Route every cross-attention block of a loaded kornia ``LightGlue`` through
    :func:`fused_cross_attention` (on this instance only; the class and other instances keep
    kornia's code). Returns ``glue``."""
    for layer in glue.transformers:
        block = layer.cross_attn
        block.forward = types.MethodType(fused_cross_attention, block)
    return glue
