"""kornia's deformable convolution exported as one ONNX ``DeformConv`` node (opset 19).

kornia's ``DeformableConv2d`` (ALIKED's blocks 3 and 4) computes its deformable convolution in
plain PyTorch (``kornia.feature.aliked.deform_conv2d``: bilinear gathers, their bounds logic and an
einsum), so the TorchScript exporter writes ~100 elementwise and gather nodes per convolution:
in ONNX Runtime they were ~30 % of the backbone graph's kernel time at 512 x 512. The same
operation (``torchvision.ops.deform_conv2d``'s definition: offsets ``(dy, dx)`` interleaved per
kernel point, bilinear sampling with zeros outside, no mask) is the ONNX operator ``DeformConv``,
which ONNX Runtime's CPU provider runs as one kernel. :class:`OnnxDeformConv` wraps a loaded
kornia ``DeformableConv2d`` (its own layers: bit flips in them reach it): in PyTorch eager it
computes exactly what kornia computes (the same function on the same tensors); under
``torch.onnx.export(..., opset_version=DEFORM_OPSET)`` the deformable part becomes one
``DeformConv`` node (the offset convolution and its clamp stay ordinary nodes).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFORM_OPSET", "OnnxDeformConv"]

#: the first ONNX opset with DeformConv
DEFORM_OPSET = 19
_registered = False


def _register() -> None:
    """Define the custom op ``cupola_analysis::deform_conv`` (kornia's function) and its ONNX symbolic, once."""
    global _registered
    if _registered:
        return
    import torch
    from kornia.feature.aliked.deform_conv2d import deform_conv2d

    @torch.library.custom_op(
        "cupola_analysis::deform_conv",
        mutates_args=(),
        schema="(Tensor x, Tensor offset, Tensor weight, int pad) -> Tensor",  # annotations are strings here
    )
    def _deform(x, offset, weight, pad):
        return deform_conv2d(input=x, offset=offset, weight=weight, padding=(pad, pad))

    @_deform.register_fake
    def _(x, offset, weight, pad):  # stride 1, dilation 1: the output keeps the input's size
        return x.new_empty(x.shape[0], weight.shape[0], x.shape[2], x.shape[3])

    def symbolic(g, x, offset, weight, pad):
        from torch.onnx.symbolic_helper import _maybe_get_const

        p = int(_maybe_get_const(pad, "i"))
        k = weight.type().sizes()[2:]
        return g.op("DeformConv", x, weight, offset, pads_i=[p, p, p, p], kernel_shape_i=list(k))

    torch.onnx.register_custom_op_symbolic("cupola_analysis::deform_conv", symbolic, DEFORM_OPSET)
    _registered = True


def OnnxDeformConv(dc: Any) -> Any:  # noqa: N802 - a module factory, named as the module it returns
    """A torch module standing in for kornia's ``DeformableConv2d`` ``dc`` (stride 1, dilation 1,
    no bias, no mask: ALIKED's): the same forward, exported as an ONNX ``DeformConv`` node."""
    import torch

    _register()
    if dc.stride != 1 or dc.dilation != 1 or dc.mask or dc.regular_conv.bias is not None:
        raise ValueError("OnnxDeformConv: only stride 1, dilation 1, no mask and no bias (ALIKED's)")

    class _Deform(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dc = dc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[2:]
            max_offset = max(h, w) / 4.0  # kornia's clamp of the offsets
            offset = self.dc.offset_conv(x).clamp(-max_offset, max_offset)
            return torch.ops.cupola_analysis.deform_conv(x, offset, self.dc.regular_conv.weight, int(self.dc.padding))

    return _Deform()
