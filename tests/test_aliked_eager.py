"""ALIKED's backbone rearranged for CPU inference (cupola.locate.aliked_eager) against kornia's
modules: the deformable convolution, the blocks, and weights changed after loading."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("kornia")

from kornia.feature.aliked.deform_conv2d import deform_conv2d  # noqa: E402

from cupola.locate.aliked_eager import backbone_maps, conv1x1, grid_deform_conv2d  # noqa: E402


@pytest.fixture(scope="module")
def aliked():
    from cupola.locate.features import _aliked_models

    return _aliked_models("aliked-n16", 512, 2)[0]


def _kornia_maps(aliked, image):
    """What kornia computes: the grey image as three channels, each block as trained."""
    a, x = aliked, image.expand(-1, 3, -1, -1)
    x1 = a.block1(x)
    x2 = a.block2(a.pool2(x1))
    x3 = a.block3(a.pool4(x2))
    x4 = a.block4(a.pool4(x3))
    return tuple(a.gate(c(m)) for c, m in zip((a.conv1, a.conv2, a.conv3, a.conv4), (x1, x2, x3, x4)))


@pytest.mark.parametrize("shape, scale", [((2, 5, 9, 13), 1.0), ((1, 8, 16, 16), 6.0), ((1, 3, 7, 5), 20.0)])
def test_grid_deform_conv_equals_torchvisions_definition(shape, scale):
    """Offsets of up to 20 px send samples off the map (zeros there), on non-square maps, in a batch."""
    g = torch.Generator().manual_seed(sum(shape))
    b, c, h, w = shape
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    offset = torch.randn(b, 18, h, w, generator=g, dtype=torch.float64) * scale
    weight = torch.randn(4, c, 3, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(4, generator=g, dtype=torch.float64)
    expected = deform_conv2d(x, offset, weight, bias=bias, padding=(1, 1))
    got = grid_deform_conv2d(x, offset, weight, 1, bias)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-10  # double precision: the same arithmetic


def test_deform_conv_refuses_several_offset_groups():
    with pytest.raises(ValueError, match="one offset group"):
        grid_deform_conv2d(torch.zeros(1, 4, 5, 5), torch.zeros(1, 36, 5, 5), torch.zeros(2, 4, 3, 3), 1)


def test_conv1x1_equals_conv2d():
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(2, 6, 5, 7, generator=g), torch.randn(3, 6, 1, 1, generator=g), torch.randn(3, generator=g)
    expected = torch.nn.functional.conv2d(x, w, b)
    assert torch.allclose(conv1x1(x, w, b), expected, atol=1e-6)
    assert torch.allclose(conv1x1(x, w), torch.nn.functional.conv2d(x, w), atol=1e-6)
    # a channels-last map (the backbone's layout): the same values, channels-last out
    last = x.contiguous(memory_format=torch.channels_last)
    for bias in (b, None):
        got = conv1x1(last, w, bias)
        assert got.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(got, torch.nn.functional.conv2d(x, w, bias), atol=1e-6)


def test_backbone_maps_equal_kornias(aliked):
    g = torch.Generator().manual_seed(5)
    image = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 130, 194, generator=g), 3, 1)[:, :, :128, :192]
    with torch.inference_mode():
        expected = _kornia_maps(aliked, image)
        got = backbone_maps(aliked, image)
        rgb = backbone_maps(aliked, image.expand(-1, 3, -1, -1))  # three channels take the plain route
    for e, a, r in zip(expected, got, rgb):
        assert a.shape == e.shape and a.is_contiguous(memory_format=torch.channels_last)
        assert float((a - e).abs().max()) < 1e-4 * max(1.0, float(e.abs().max()))
        assert float((r - e).abs().max()) < 1e-4 * max(1.0, float(e.abs().max()))


def test_weights_changed_after_loading_reach_the_backbone(aliked):
    """The onboard benchmark flips bits in the loaded module: the folded weights follow."""
    import copy

    changed = copy.deepcopy(aliked)
    with torch.no_grad():
        changed.block3.bn1.weight.mul_(3.0)
        changed.block1.conv1.weight[0, 0, 1, 1] += 0.5
    image = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        before, after, expected = (
            backbone_maps(aliked, image),
            backbone_maps(changed, image),
            _kornia_maps(changed, image),
        )
    assert float((after[2] - before[2]).abs().max()) > 1e-3
    assert float((after[2] - expected[2]).abs().max()) < 1e-4 * max(1.0, float(expected[2].abs().max()))


def test_training_mode_is_refused(aliked):
    import copy

    training = copy.deepcopy(aliked).train()
    with pytest.raises(ValueError, match="eval mode"):
        backbone_maps(training, torch.zeros(1, 1, 32, 32))
