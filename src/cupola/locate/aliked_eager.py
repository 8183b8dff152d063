"""ALIKED's backbone (blocks 1-4 and the four 1x1 projections) in eager PyTorch, arranged for CPU
inference; the same computation as kornia's modules in real arithmetic.

kornia's ``ALIKED`` runs its layers as trained: each convolution followed by a ``BatchNorm2d``, the
grey input copied into three identical channels, the 1x1 convolutions through PyTorch's generic
convolution, and the deformable convolutions of blocks 3 and 4 through
``kornia.feature.aliked.deform_conv2d`` (four gathers of every input channel at every kernel
point). On a 1024 x 1024 reference tile on one CPU thread that costs ~1.6 s, ~40 % of it in the
deformable convolutions. Four rewrites, each exact in real arithmetic (PyTorch ``eval`` mode):

1. **Batch normalisation folded into the convolution before it.** In inference a BN layer is the
   affine map ``y = g (x - m) / sqrt(v + eps) + b`` per channel; after a convolution with weight
   ``W`` (no bias) it is the convolution with ``W s`` and bias ``b - m s``, ``s = g / sqrt(v + eps)``.
   The folded weights are computed from the module's parameters at every call (microseconds), so
   a change to the module's weights (the onboard benchmark's bit flips) reaches this path too.
2. **Grey input.** ``block1.conv1`` sees the grey image repeated in three channels; its output
   equals a one-channel convolution with the weight summed over the input channels.
3. **1x1 convolutions as matrix products** (``W`` as an O x C matrix times the C x HW map, or the
   HW x C pixels times its transpose for a channels-last map).
4. **Deformable convolution as one bilinear resampling and one matrix product.** torchvision's
   definition (kornia's ``deform_conv2d``; ALIKED: stride 1, dilation 1, one offset group, no mask,
   no bias) samples the input bilinearly at ``(row + ky - pad + dy, col + kx - pad + dx)`` for each
   of the k x k kernel points, a corner outside the map counting as zero, and sums the samples
   weighted by the kernel. ``F.grid_sample`` (bilinear, zero padding, ``align_corners=True``, which
   maps pixel ``p`` to ``2 p / (n - 1) - 1``) computes the same samples for all kernel points in
   one call; the sum over channels and kernel points is then one matrix product.

Every map is kept channels-last (``CHANNELS_LAST``): oneDNN's convolutions with few channels are
memory-bound and run several times faster in that layout on a CPU.

In floating point the sums run in another order and the coordinates pass through the normalised
grid, so outputs differ from kornia's by rounding (relative ~1e-6 in the feature maps);
``tests/test_aliked_fast.py`` holds the whole extraction to kornia's keypoints and descriptors.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["backbone_blocks", "backbone_maps", "conv1x1", "grid_deform_conv2d", "projected"]

# the layout every map of the backbone is kept in: oneDNN's 3x3 convolutions with few channels at full
# resolution run 2-5x faster on channels-last maps than on NCHW ones on a CPU (one thread, 1024 px:
# 16 -> 16 channels 121 -> 61 ms, the score head's 8 -> 4 channels 55 -> 15 ms)
CHANNELS_LAST = torch.channels_last


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` (B x C x H x W) in channels-last memory, with channels-last strides even where C is 1:
    there a contiguous map counts as channels-last too, oneDNN takes it as NCHW and returns an NCHW
    map, which the next layer copies (a grey 1024-px image: 88 ms for the first convolution and 53 ms
    to copy its output, against 42 ms with the strides made explicit, on 2 CPU cores)."""
    if x.shape[1] != 1:
        return x.contiguous(memory_format=CHANNELS_LAST)
    b, _, h, w = x.shape
    if x.stride()[1:] == (1, w, 1):
        return x
    out = torch.empty_strided(tuple(x.shape), (h * w, 1, w, 1), dtype=x.dtype, device=x.device)
    return out.copy_(x)


def _folded(conv: Any, bn: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of ``conv`` with the inference-mode ``bn`` after it folded in."""
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * s
    if conv.bias is not None:
        bias = bias + conv.bias * s
    return conv.weight * s.view(-1, 1, 1, 1), bias


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """A 1x1 convolution (stride 1, no padding) as one matrix product per image; a channels-last
    ``x`` gives a channels-last result (one product over every pixel of the batch)."""
    b, c, h, w = x.shape
    o = weight.shape[0]
    m = weight.reshape(o, c)
    if c > 1 and x.is_contiguous(memory_format=CHANNELS_LAST):
        pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c)  # a view: channels-last memory is (B, H, W, C)
        out = torch.mm(pixels, m.t()) if bias is None else torch.addmm(bias, pixels, m.t())
        return out.reshape(b, h, w, o).permute(0, 3, 1, 2)
    # each image's product written in place (torch.stack would copy every output map once more)
    out = torch.empty((b, o, h * w), dtype=torch.result_type(m, x), device=x.device)
    for i in range(b):
        torch.mm(m, x[i].reshape(c, h * w), out=out[i])
    if bias is not None:
        out += bias.view(1, -1, 1)
    return out.reshape(b, o, h, w)


def grid_deform_conv2d(
    x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, padding: int, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """torchvision's ``deform_conv2d`` (stride 1, dilation 1, one offset group, no mask) by one
    ``F.grid_sample`` and one matrix product; ``offset``: B x 2k^2 x H x W, ``(dy, dx)`` per kernel
    point, row-major over the kernel."""
    bsz, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    k = kh * kw
    if offset.shape[1] != 2 * k:
        raise ValueError(f"offset has {offset.shape[1]} channels; expected {2 * k} (one offset group)")
    off = offset.reshape(bsz, k, 2, h, w)
    dt, dev = x.dtype, x.device
    ky = (torch.arange(kh, dtype=dt, device=dev).repeat_interleave(kw) - padding).view(1, k, 1, 1)
    kx = (torch.arange(kw, dtype=dt, device=dev).repeat(kh) - padding).view(1, k, 1, 1)
    rows = torch.arange(h, dtype=dt, device=dev).view(1, 1, h, 1) + ky + off[:, :, 0]
    cols = torch.arange(w, dtype=dt, device=dev).view(1, 1, 1, w) + kx + off[:, :, 1]
    grid = torch.stack((cols * (2.0 / max(w - 1, 1)) - 1.0, rows * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)
    grid = grid.reshape(bsz, k * h, w, 2)
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)  # B x C x kH x W
    m = weight.reshape(o, c * k)  # the samples' (channel, kernel point) order
    out = torch.empty((bsz, o, h * w), dtype=torch.result_type(m, sampled), device=x.device)
    for i in range(bsz):
        torch.mm(m, sampled[i].reshape(c * k, h * w), out=out[i])
    if bias is not None:
        out += bias.view(1, -1, 1)
    return out.reshape(bsz, o, h, w).contiguous(memory_format=CHANNELS_LAST)


def _conv_bn(layer: Any, bn: Any, x: torch.Tensor, grey: bool = False) -> torch.Tensor:
    """``bn(layer(x))``: a plain convolution or kornia's ``DeformableConv2d``, the BN folded in."""
    if hasattr(layer, "offset_conv"):  # kornia's DeformableConv2d
        if layer.stride != 1 or layer.dilation != 1 or layer.mask:
            raise TypeError("only ALIKED's deformable convolutions (stride 1, dilation 1, no mask) are rewritten")
        h, w = x.shape[2:]
        limit = max(h, w) / 4.0  # kornia's clamp of the offsets
        offset = layer.offset_conv(x).clamp(-limit, limit)
        weight, bias = _folded(layer.regular_conv, bn)
        return grid_deform_conv2d(x, offset, weight, int(layer.padding), bias)
    weight, bias = _folded(layer, bn)
    if grey:  # the grey image stands for three equal channels
        weight = weight.sum(dim=1, keepdim=True)
    x, weight = channels_last(x), weight.contiguous(memory_format=CHANNELS_LAST)
    return F.conv2d(x, weight, bias, layer.stride, layer.padding, layer.dilation, layer.groups)


def _block(block: Any, x: torch.Tensor, grey: bool = False) -> torch.Tensor:
    """kornia's ``ConvBlock`` or ``ResBlock`` (eval mode) on ``x``."""
    gate = block.gate
    out = gate(_conv_bn(block.conv1, block.bn1, x, grey))
    out = _conv_bn(block.conv2, block.bn2, out)
    if not hasattr(block, "downsample"):  # ConvBlock: no residual
        return gate(out)
    downsample = block.downsample
    if downsample is None:
        identity = x
    elif isinstance(downsample, torch.nn.Conv2d) and downsample.kernel_size == (1, 1) and downsample.stride == (1, 1):
        identity = conv1x1(x, downsample.weight, downsample.bias)
    else:
        identity = downsample(x)
    return gate(out + identity)


def backbone_blocks(aliked: Any, image: torch.Tensor):
    """(b1, b2, b3, b4): the outputs of kornia's ``ALIKED`` blocks 1-4 (eval mode), before the 1x1
    projections ``conv1..4``, for a padded ``image`` (B x 1 x H x W grey, or B x 3 x H x W);
    channels-last tensors."""
    if aliked.training:
        raise ValueError("backbone_maps folds batch normalisation: the module must be in eval mode")
    grey = image.shape[1] == 1
    b1 = _block(aliked.block1, image, grey=grey)
    b2 = _block(aliked.block2, aliked.pool2(b1))
    b3 = _block(aliked.block3, aliked.pool4(b2))
    b4 = _block(aliked.block4, aliked.pool4(b3))
    return b1, b2, b3, b4


def backbone_maps(aliked: Any, image: torch.Tensor):
    """(x1, x2, x3, x4) of kornia's ``ALIKED`` in eval mode (after ``conv1..4`` and the gate) for a
    padded ``image`` (B x 1 x H x W grey, or B x 3 x H x W); channels-last tensors."""
    return tuple(projected(aliked, level, b) for level, b in enumerate(backbone_blocks(aliked, image), start=1))


def projected(aliked: Any, level: int, block_out: torch.Tensor) -> torch.Tensor:
    """``gate(conv{level}(block_out))``: the 1x1 projection of block ``level``'s output (1-4)."""
    conv = getattr(aliked, f"conv{level}")
    return aliked.gate(conv1x1(block_out, conv.weight, conv.bias))
