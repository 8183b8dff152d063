"""Fast CPU inference for kornia's ALIKED without the full-resolution 128-channel feature map.

ALIKED (Zhao, Wu, Chen, Chen, Xu, Li: "ALIKED: A Lighter Keypoint and Descriptor Extraction Network
via Deformable Transformation", IEEE Transactions on Instrumentation and Measurement 72, 2023)
builds four feature maps x1..x4 at 1, 1/2, 1/8 and 1/32 resolution (32 channels each after the
``conv1..conv4`` + SELU projections), upsamples x2, x3, x4 bilinearly (``align_corners=True``) to full
resolution and concatenates them into a 128 x H x W map ``x1234``.  kornia's
``ALIKED.extract_dense_map`` materialises that map, runs the score head on it and L2-normalises it
along the channels; on CPU this costs more than the convolutions of the whole backbone.  Neither
consumer needs it:

1. **Score head.**  The first layer of ``score_head`` is a 1x1 convolution without bias
   (128 -> 8 channels), i.e. the same linear map applied at every pixel; bilinear upsampling is a
   per-channel linear combination of low-resolution pixels with weights that do not depend on the
   channel.  The two commute, so with the weight split by input channel into ``W = [Wa|Wb|Wc|Wd]``::

       conv1x1(cat(x1, up2(x2), up8(x3), up32(x4)))
           = Wa*x1 + up2(Wb*x2) + up8(Wc*x3) + up32(Wd*x4)

   (a bias, if there were one, would be added once).  The right-hand side upsamples 8-channel maps
   instead of 32-channel ones and never forms the concatenation; the SELU and the rest of the score
   head (4-channel 3x3 convolutions) follow unchanged.  The upsampling is done by the module's own
   ``upsample2/8/32`` layers, so its coordinate mapping is reproduced by construction.

2. **Descriptors.**  The SDDH head reads the normalised map ``F = x1234 / |x1234|`` only (a) in the
   ``kernel_size`` x ``kernel_size`` integer-pixel patch around each keypoint (``get_patches``), which
   feeds the offset network, and (b) through ``F.grid_sample`` (bilinear, ``align_corners=True``,
   zero padding) at ``n_pos`` deformed positions per keypoint.  Bilinear sampling is by definition
   the weighted sum of the values at the four surrounding integer pixels, a corner outside the map
   contributing zero; the normalisation is per pixel, so the sample equals the same weighted sum of
   the normalised vectors at those corners.  The raw 128-vector at an integer pixel is
   ``cat(x1[p], up2(x2)[p], up8(x3)[p], up32(x4)[p])`` and each upsampled value at an integer pixel
   is the bilinear interpolation of the low-resolution map with the ``align_corners=True`` mapping
   ``src = dst * (in - 1) / (out - 1)`` that ``upsample_bilinear2d`` uses.  So only the
   N x (kernel_size**2 + 4 n_pos) pixels actually used are gathered, normalised and interpolated.
   The ``InputPadder`` replicate padding to a multiple of 32 is applied before the backbone exactly
   as in kornia, and pixel coordinates are shifted by the left/top padding instead of unpadding.

3. **The first level where it is read.**  ``x1 = gate(conv1(b1))`` is a 1x1 convolution and a
   pointwise gate of block 1's output ``b1``, so its value at a pixel depends on ``b1`` at that pixel
   only.  The score head needs ``Wa x1`` (8 channels) at every pixel: computed a block of pixels at a
   time, ``x1``'s block used while it is in cache; the descriptors need ``x1`` at the pixels in (2),
   computed there.  The 32-channel full-resolution map is never stored.

4. **The descriptor head's products.**  SDDH's ``offset_conv`` (a k x k convolution without padding
   on each k x k patch, the gate, a 1x1 convolution), ``sf_conv`` (1x1 on each sample) and ``convM``
   are matrix products over the flattened window, sample or keypoint (what kornia 0.9 itself does);
   the samples stay as rows (N * n_pos, C), so ``agg_weights`` is one product too.  For the bilinear
   samples of (2), each corner's weight is divided by the norm of that corner's 128-vector and every
   level is interpolated in the layout it comes in (rows for ``x1``, ``grid_sample``'s columns for the
   others): the weighted sum of normalised vectors, without forming the 4 (N * n_pos) normalised
   vectors.

All rewrites are exact in real arithmetic; in floating point the sums are evaluated in a
different order (and the upsampled values at integer pixels come from ``F.grid_sample`` at
``2 P / (out - 1) - 1`` rather than from ``upsample_bilinear2d``), so the results differ from kornia's
by rounding only: about 1e-6 in the score map and the keypoint scores, up to about 1e-4 px in the
keypoints (the soft-argmax refinement of DKD divides score differences by its temperature 0.1) and
about 1e-5 in the descriptors.  Keypoints whose scores tie to within rounding may leave DKD's top-k
in another order, so compare keypoint sets, not rows; a near-tie at the top-k cut-off could in
principle swap one keypoint for another (not seen in the tests).  Keypoint detection is the
module's own ``dkd`` on the score map, and the SDDH offset network, ``sf_conv`` and ``agg_weights``
(or ``convM``) are the module's own layers and parameters; the backbone is the module's own blocks.

Usage::

    from cupola.locate.aliked_fast import FastAliked, fast_aliked_features
    kp, desc, scores = fast_aliked_features(aliked, t)   # t: (1, 1, H, W) grey in [0, 1]
    f = FastAliked(aliked)(t)[0]                         # like aliked(t)[0]: .keypoints, .descriptors
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cupola.locate.aliked_eager import backbone_blocks, conv1x1, projected

__all__ = ["FastAliked", "fast_aliked_features", "fast_aliked_batch", "bilinear_normalised_sample"]


def bilinear_normalised_sample(grid_xy: torch.Tensor, h: int, w: int, fetch) -> torch.Tensor:
    """Bilinear ``grid_sample`` (align_corners=True, zero padding) of a map known only through ``fetch``.

    ``grid_xy``: (M, 2) normalised [-1, 1] coordinates (x, y) in a map of size h x w; ``fetch(ys, xs)``
    returns the (K, C) map vectors at K integer pixels (ys, xs) inside the map, one per row.  Returns
    (M, C): the
    sum over the 4 corner pixels of bilinear weight * vector, a corner outside the map contributing
    zero, which is what ``F.grid_sample(..., mode="bilinear", padding_mode="zeros",
    align_corners=True)`` computes.  Because ``fetch`` is applied per pixel, any per-pixel function
    of the map (here: the L2 normalisation) is applied before interpolating, as in kornia.
    """
    ys, xs, wts = _bilinear_corners(grid_xy, h, w)
    vec = fetch(ys, xs)  # (4M, C)
    m = grid_xy.shape[0]
    vec = vec.view(4, m, vec.shape[-1])
    wts = wts.to(vec.dtype).unsqueeze(-1)
    out = vec[0] * wts[0]
    for k in range(1, 4):
        out.addcmul_(vec[k], wts[k])
    return out


def _bilinear_corners(grid_xy: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ys, xs, weights): the 4 corner pixels of each of the M points of ``grid_xy`` (normalised,
    ``align_corners=True``) as (4M,) rows and columns clamped into the h x w map, corner-major
    (nw, ne, sw, se), and their bilinear weights (4, M), zero for a corner outside the map."""
    gx = grid_xy[:, 0].to(torch.float32)
    gy = grid_xy[:, 1].to(torch.float32)
    ix = (gx + 1) / 2 * (w - 1)
    iy = (gy + 1) / 2 * (h - 1)
    x0f = torch.floor(ix)
    y0f = torch.floor(iy)
    tx = ix - x0f
    ty = iy - y0f
    x0 = x0f.long()
    y0 = y0f.long()
    # corner-major layout (4, M): nw, ne, sw, se
    cx = torch.stack([x0, x0 + 1, x0, x0 + 1])
    cy = torch.stack([y0, y0, y0 + 1, y0 + 1])
    wts = torch.stack([(1 - tx) * (1 - ty), tx * (1 - ty), (1 - tx) * ty, tx * ty])
    inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
    wts = wts.masked_fill_(~inside, 0.0)
    return cy.clamp_(0, h - 1).reshape(-1), cx.clamp_(0, w - 1).reshape(-1), wts


class _FirstLevel:
    """ALIKED's first-level map ``x1 = gate(conv1(b1))`` of one image, computed only at the pixels
    read: a 1x1 convolution and the gate are per pixel, so ``x1`` at a pixel is the same function of
    ``b1`` at that pixel wherever it is evaluated. The full 32-channel map (written, gated and read
    again: 134 MB at 1024 px) is never formed; the score head gets its 8-channel product with
    ``Wa`` from :func:`_first_level_score`, and the descriptors read ``x1`` at N (k^2 + 4 n_pos)
    pixels. ``b1``: (B, C, Hp, Wp); ``image``: which of the batch."""

    def __init__(self, b1: torch.Tensor, conv, gate, image: int = 0) -> None:
        self.shape = (conv.weight.shape[0], *b1.shape[2:])  # x1's (C1, Hp, Wp)
        self.pixels = b1.permute(0, 2, 3, 1).reshape(-1, b1.shape[1])  # a view of a channels-last map
        self.offset = image * b1.shape[2] * b1.shape[3]
        self.weight = conv.weight.reshape(conv.weight.shape[0], -1).t()  # (C, C1)
        self.bias = conv.bias
        self.gate = gate

    def __call__(self, at: torch.Tensor) -> torch.Tensor:
        """(M, C1) ``x1`` at the flat padded pixel indices ``at``."""
        return self.rows(self.pixels.index_select(0, at + self.offset))

    def rows(self, pixels: torch.Tensor) -> torch.Tensor:
        x = torch.mm(pixels, self.weight) if self.bias is None else torch.addmm(self.bias, pixels, self.weight)
        return self.gate(x)


def _first_level_score(level: _FirstLevel, weight: torch.Tensor, chunk: int = 32768) -> torch.Tensor:
    """``conv1x1(x1, weight)`` for every image of the batch ``level``'s ``b1`` holds (B, O, Hp, Wp,
    channels-last) without the full ``x1``: ``chunk`` pixels at a time, so each block of ``x1`` is
    used while it is in cache (at 1024 px on 2 CPU cores 295 -> 141 ms for the chain of products
    and gate)."""
    pixels = level.pixels
    m = weight.reshape(weight.shape[0], -1).t()  # (C1, O)
    out = torch.empty((pixels.shape[0], m.shape[1]), dtype=torch.result_type(pixels, m), device=pixels.device)
    for start in range(0, pixels.shape[0], chunk):
        torch.mm(level.rows(pixels[start : start + chunk]), m, out=out[start : start + chunk])
    _, hp, wp = level.shape
    return out.view(-1, hp, wp, m.shape[1]).permute(0, 3, 1, 2)


class _SparseFeatureMap:
    """The L2-normalised, unpadded ALIKED feature map, evaluated only at requested integer pixels.

    The vector at a pixel P is ``cat(x1[P], up2(x2)[P], up8(x3)[P], up32(x4)[P])``, normalised.  The
    upsampled values are bilinear ``align_corners=True`` interpolations of the low-resolution maps,
    which take output pixel ``P`` of ``out`` pixels from source ``P * (in - 1) / (out - 1)``
    (``nn.Upsample`` ignores the scale factor's value when ``align_corners=True``).  That is
    ``F.grid_sample(align_corners=True)`` at the normalised coordinate ``2 P / (out - 1) - 1``, the same
    for every low-resolution map, so one grid serves all three.
    """

    def __init__(
        self,
        x1: torch.Tensor | _FirstLevel,
        x2: torch.Tensor,
        x3: torch.Tensor,
        x4: torch.Tensor,
        pad_left: int,
        pad_top: int,
    ) -> None:
        # x1: (C1, Hp, Wp) at full (padded) resolution, or the first level computed where it is
        # read (_FirstLevel); x2..x4: (C, h, w) low-resolution maps
        self.first = None if isinstance(x1, torch.Tensor) else x1
        self.hp, self.wp = int(x1.shape[-2]), int(x1.shape[-1])
        # the full-resolution map as (Hp * Wp, C1) pixels when it is channels-last (the eager
        # backbone's), else as (C1, Hp * Wp) (an exported backbone's NCHW output): a view either way
        if isinstance(x1, torch.Tensor):
            self.by_pixel = x1.permute(1, 2, 0).is_contiguous()
            self.map1 = x1.permute(1, 2, 0).reshape(-1, x1.shape[0]) if self.by_pixel else x1.reshape(x1.shape[0], -1)
        self.low = [x[None] for x in (x2, x3, x4)]
        self.pad_left = pad_left
        self.pad_top = pad_top

    def _parts(self, ys: torch.Tensor, xs: torch.Tensor) -> list[torch.Tensor]:
        """The raw (unnormalised) vectors at unpadded integer pixels (ys, xs), level by level:
        x1 as (M, C1) rows, then x2, x3, x4 upsampled as (C, M) columns (``grid_sample``'s layout)."""
        py = ys + self.pad_top
        px = xs + self.pad_left
        at = py * self.wp + px
        if self.first is not None:
            parts = [self.first(at)]
        else:
            parts = [self.map1.index_select(0, at) if self.by_pixel else self.map1.index_select(1, at).t()]
        gx = px.to(torch.float32) * (2.0 / max(self.wp - 1, 1)) - 1
        gy = py.to(torch.float32) * (2.0 / max(self.hp - 1, 1)) - 1
        grid = torch.stack([gx, gy], dim=1).view(1, 1, -1, 2)
        for x in self.low:
            parts.append(F.grid_sample(x, grid.to(x.dtype), mode="bilinear", align_corners=True)[0, :, 0])
        return parts

    def __call__(self, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        """(M, C) normalised feature vectors at unpadded integer pixels (ys, xs), one per row."""
        parts = self._parts(ys, xs)
        raw = torch.cat([parts[0], *(p.t() for p in parts[1:])], dim=1)  # (M, 128)
        # F.normalize(raw, p=2, dim=1): raw / max(|raw|, 1e-12), in place (a row-wise norm: 62 -> 3 ms
        # for 131072 vectors against the same on (C, M) columns)
        return raw.div_(torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min_(1e-12))

    def bilinear(self, grid_xy: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """``bilinear_normalised_sample(grid_xy, h, w, self)``, (M, C), without forming the 4M
        normalised vectors: each corner's weight is divided by its vector's norm, and each level
        is interpolated in the layout it comes in, so only the M results are put side by side
        (the 4M-row concatenation was 13 % of a 512-px extraction on 2 CPU cores)."""
        ys, xs, wts = _bilinear_corners(grid_xy, h, w)
        parts = self._parts(ys, xs)
        m = grid_xy.shape[0]
        sumsq = parts[0].square().sum(dim=1)
        for p in parts[1:]:
            sumsq += p.square().sum(dim=0)
        scale = (wts.to(sumsq.dtype).reshape(-1) / sumsq.sqrt_().clamp_min_(1e-12)).view(4, m)
        rows = parts[0].view(4, m, -1)
        out = [rows[0] * scale[0, :, None]]
        for k in range(1, 4):
            out[0].addcmul_(rows[k], scale[k, :, None])
        for p in parts[1:]:
            cols = p.view(p.shape[0], 4, m)
            level = cols[:, 0] * scale[0]
            for k in range(1, 4):
                level.addcmul_(cols[:, k], scale[k])
            out.append(level.t())
        return torch.cat(out, dim=1)


def _score_and_features(aliked, image: torch.Tensor):
    """Backbone + score map (B,1,H,W, unpadded) + per-image sparse feature maps, without x1234."""
    from kornia.feature.aliked.aliked import InputPadder

    padder = InputPadder(image.shape[-2], image.shape[-1], 2**5)
    image = padder.pad(image)

    # the module's blocks, arranged for CPU inference; x2..x4 projected, x1 only where it is read
    b1, b2, b3, b4 = backbone_blocks(aliked, image)
    x2, x3, x4 = (projected(aliked, level, b) for level, b in ((2, b2), (3, b3), (4, b4)))
    batch = image.shape[0]
    firsts = [_FirstLevel(b1, aliked.conv1, aliked.gate, i) for i in range(batch)]

    head = aliked.score_head
    first = head[0]
    if not (
        isinstance(first, torch.nn.Conv2d)
        and first.kernel_size == (1, 1)
        and first.groups == 1
        and first.stride == (1, 1)
        and first.padding == (0, 0)
    ):
        raise TypeError("score_head[0] is not a plain 1x1 convolution; the split rewrite does not apply")
    weight = first.weight
    splits = [aliked.conv1.weight.shape[0]] + [x.shape[1] for x in (x2, x3, x4)]
    wa, wb, wc, wd = torch.split(weight, splits, dim=1)
    s = _first_level_score(firsts[0], wa)  # the pixels of every image of the batch
    s.add_(aliked.upsample2(conv1x1(x2, wb)))
    s.add_(aliked.upsample8(conv1x1(x3, wc)))
    s.add_(aliked.upsample32(conv1x1(x4, wd)))
    if first.bias is not None:
        s.add_(first.bias.view(1, -1, 1, 1))
    for layer in list(head)[1:]:
        s = layer(s)
    score_map = padder.unpad(torch.sigmoid(s))

    pad_left, pad_top = padder._pad[0], padder._pad[2]
    maps = [_SparseFeatureMap(firsts[i], x2[i], x3[i], x4[i], pad_left, pad_top) for i in range(batch)]
    return score_map, maps


def _offsets(offset_conv, patch: torch.Tensor) -> torch.Tensor:
    """(N, channels) output of SDDH's offset network on (N, C, k, k) patches: its convolutions see
    one k x k window each, so they are matrix products over the flattened window (kornia's
    ``Sequential(Conv2d k x k, gate, Conv2d 1x1)``; another layout runs as the module)."""
    layers: list[Any] = list(offset_conv) if isinstance(offset_conv, torch.nn.Sequential) else []
    if not (
        len(layers) == 3
        and all(isinstance(layers[i], torch.nn.Conv2d) for i in (0, 2))
        and layers[0].kernel_size == tuple(patch.shape[-2:])
        and layers[0].padding == (0, 0)
        and layers[2].kernel_size == (1, 1)
        and all(layer.groups == 1 for layer in (layers[0], layers[2]))
    ):
        return offset_conv(patch)[:, :, 0, 0]
    first, gate, last = layers
    out = gate(F.linear(patch.flatten(1), first.weight.flatten(1), first.bias)[:, :, None, None])
    return F.linear(out.flatten(1), last.weight.flatten(1), last.bias)


def _sddh_sparse(sddh, fmap: _SparseFeatureMap, h: int, w: int, kpts: torch.Tensor, dtype) -> torch.Tensor:
    """SDDH.forward for one image, reading the normalised feature map through ``fmap``."""
    wh = torch.tensor([[w - 1, h - 1]], device=kpts.device, dtype=torch.promote_types(dtype, torch.float32))
    max_offset = max(h, w) / 4.0
    kptsi_wh = (kpts / 2 + 0.5) * wh
    n = len(kpts)
    ks = sddh.kernel_size
    kl = kptsi_wh.long()
    if ks > 1:
        # the module's own patch indexing, applied to a map of pixel indices: same pixels by construction
        index_map = torch.arange(h * w, device=kpts.device).view(1, h, w)
        idx = sddh.get_patches_func(index_map, kl, ks)  # (N, 1, ks, ks)
        idx = idx.reshape(-1)
        patch = fmap(torch.div(idx, w, rounding_mode="floor"), idx % w)  # (N*ks*ks, C)
        c = patch.shape[1]
        patch = patch.view(n, ks, ks, c).permute(0, 3, 1, 2)
    else:
        patch = fmap(kl[:, 1], kl[:, 0])
        c = patch.shape[1]
        patch = patch.reshape(n, c, 1, 1)
    patch = patch.to(dtype).contiguous()

    offset = _offsets(sddh.offset_conv, patch).clamp(-max_offset, max_offset)
    if sddh.mask:
        offset = offset.view(n, 3, sddh.n_pos).permute(0, 2, 1)
        mask_w = torch.sigmoid(offset[:, :, -1])
        offset = offset[:, :, :-1]
    else:
        offset = offset.view(n, 2, sddh.n_pos).permute(0, 2, 1)
        mask_w = None

    pos = kptsi_wh.unsqueeze(1) + offset
    pos = 2.0 * pos / wh[None] - 1
    grid = pos.reshape(n * sddh.n_pos, 2).to(dtype)
    feats = fmap.bilinear(grid, h, w).to(dtype)  # (N*n_pos, C), keypoint-major rows
    if mask_w is not None:
        feats = feats * mask_w.reshape(-1, 1).to(dtype)
    # sf_conv, a 1x1 convolution over the (N, C, n_pos, 1) samples, is one product over the sample
    # rows (oneDNN's convolution on that shape took 6x as long on a 2-core CPU)
    feats = torch.selu_(F.linear(feats, sddh.sf_conv.weight.flatten(1), sddh.sf_conv.bias))
    feats = feats.view(n, sddh.n_pos, c)  # SDDH's features, as (N, n_pos, C)
    if not sddh.conv2d:  # sum over samples and channels of agg_weights (n_pos, C, D): one product
        descs = feats.reshape(n, -1) @ sddh.agg_weights.flatten(0, 1)
    else:  # convM: a 1x1 convolution over the channel-major (C * n_pos) vector of each keypoint
        descs = F.linear(feats.transpose(1, 2).reshape(n, -1), sddh.convM.weight.flatten(1), sddh.convM.bias)
    return F.normalize(descs, p=2.0, dim=1)


def fast_aliked_batch(aliked, images: torch.Tensor, image_size: torch.Tensor | None = None):
    """Drop-in for ``aliked(images)``: a list of kornia ``ALIKEDFeatures``, one per image.

    ``images``: (B, 1 or 3, H, W) float in [0, 1] (or (H, W) / (1, H, W) for a single grey image);
    a grey image is not copied into three channels (kornia does; the first convolution's weight is
    summed over them instead, :mod:`cupola.locate.aliked_eager`).
    """
    from kornia.feature.aliked.aliked import ALIKEDFeatures

    if images.dim() == 2:
        images = images[None, None]
    elif images.dim() == 3:
        images = images[None]
    with torch.inference_mode():
        score_map, maps = _score_and_features(aliked, images)
        keypoints, kptscores, _ = aliked.dkd(score_map, image_size=image_size)
        b, _, h, w = images.shape
        wh = torch.tensor([w - 1, h - 1], device=images.device, dtype=torch.promote_types(images.dtype, torch.float32))
        out = []
        for i in range(b):
            desc = _sddh_sparse(aliked.desc_head, maps[i], h, w, keypoints[i], images.dtype)
            kps_px = wh * (keypoints[i] + 1) / 2.0
            out.append(ALIKEDFeatures(kps_px, desc, kptscores[i]))
    return out


def fast_aliked_features(aliked, image: torch.Tensor):
    """(keypoints_px (N,2), descriptors (N,D), scores (N,)) for one image, as ``aliked(image)[0]``.

    ``aliked`` is a loaded kornia ``ALIKED`` module in eval mode (e.g. from
    ``cupola.locate.features._aliked_models``); ``image`` is (H, W), (1, H, W) or (1, C, H, W) float.
    """
    f = fast_aliked_batch(aliked, image)[0]
    return f.keypoints, f.descriptors, f.keypoint_scores


class FastAliked:
    """Callable wrapper: ``FastAliked(aliked)(t)`` returns what ``aliked(t)`` returns, computed sparsely."""

    def __init__(self, aliked) -> None:
        self.aliked = aliked

    def __call__(self, images: torch.Tensor, image_size: torch.Tensor | None = None):
        return fast_aliked_batch(self.aliked, images, image_size)

    def __getattr__(self, name):  # max_num_keypoints, dkd, ... of the wrapped module
        if name == "aliked":
            raise AttributeError(name)
        return getattr(self.aliked, name)
