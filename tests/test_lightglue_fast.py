"""locate's LightGlue cross-attention through PyTorch's fused attention (cupola.locate.lightglue_fast)
against kornia's own ``CrossBlock``."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cupola.locate.lightglue_fast import (  # noqa: E402
    fused_cross_attention,
    head_scale,
    use_fused_cross_attention,
)

CHILE = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl" / "ISS064-E-358"


@pytest.fixture(scope="module")
def matcher():
    from cupola.locate.features import make_matcher

    return make_matcher("aliked", max_keypoints=1024)


def _kornia_block():
    from kornia.feature.lightglue import CrossBlock

    torch.manual_seed(0)
    return CrossBlock(32, 4).eval()


@pytest.mark.parametrize("n0,n1", [(7, 11), (64, 5), (1, 1)])
def test_fused_cross_attention_equals_kornias(n0, n1):
    block = _kornia_block().double()
    g = torch.Generator().manual_seed(n0 + n1)
    x0, x1 = (
        torch.randn(1, n0, 32, generator=g, dtype=torch.float64),
        torch.randn(1, n1, 32, generator=g, dtype=torch.float64),
    )
    with torch.inference_mode():
        expected = block(x0, x1)
        got = fused_cross_attention(block, x0, x1)
    for e, a in zip(expected, got):
        assert a.shape == e.shape
        assert float((a - e).abs().max()) < 1e-10


def test_a_block_without_kornias_scale_gets_the_same_one():
    # kornia 0.9 dropped CrossBlock.scale for scaled_dot_product_attention's default; the fused path
    # and the ONNX export then take 1/sqrt(head dim), the value kornia 0.8 stores (32 / 4 heads: 8)
    block = _kornia_block()
    if hasattr(block, "scale"):
        assert head_scale(block) == pytest.approx(block.scale)
        del block.scale
    assert head_scale(block) == pytest.approx(8**-0.5)
    x0, x1 = torch.randn(1, 5, 32), torch.randn(1, 6, 32)
    with torch.inference_mode():
        for e, a in zip(_kornia_block()(x0, x1), fused_cross_attention(block, x0, x1)):
            assert float((a - e).abs().max()) < 1e-5


def test_a_mask_or_an_empty_side_takes_kornias_code():
    block = _kornia_block()
    x0, x1 = torch.randn(1, 5, 32), torch.randn(1, 6, 32)
    mask = torch.ones(1, 1, 5, 6, dtype=torch.bool)
    mask[..., 0, 0] = False
    with torch.inference_mode():
        for e, a in zip(block(x0, x1, mask), fused_cross_attention(block, x0, x1, mask)):
            assert torch.equal(e, a)
        empty = torch.zeros(1, 0, 32)
        e0, e1 = block(empty, x1)
        a0, a1 = fused_cross_attention(block, empty, x1)
    assert a0.shape == e0.shape == (1, 0, 32) and torch.equal(a1, e1)


def test_only_the_given_instance_is_rerouted():
    from kornia.feature.lightglue import CrossBlock

    block = _kornia_block()
    other = _kornia_block()

    class Glue:
        transformers = [type("Layer", (), {"cross_attn": block})()]

    use_fused_cross_attention(Glue)
    assert block.forward.__func__ is fused_cross_attention
    assert other.forward.__func__ is CrossBlock.forward  # kornia's class is untouched
    copied = copy.deepcopy(block)  # the onboard bench copies modules
    assert copied.forward.__self__ is copied


def test_locates_lightglue_gives_kornias_matches_on_a_real_pair(matcher):
    """The whole matcher on the Chilean photo (256 px, turned like the sample) against its reference:
    the rerouted LightGlue keeps kornia's matches and scores to rounding, and stops at the same layer."""
    import cv2

    from cupola.locate.features import kornia_glue
    from cupola.locate.localize import resize, to_gray

    photo = to_gray(cv2.cvtColor(cv2.imread(str(CHILE / "photo.jpg")), cv2.COLOR_BGR2RGB))
    ref = to_gray(cv2.cvtColor(cv2.imread(str(CHILE / "reference.jpg")), cv2.COLOR_BGR2RGB))
    f0 = matcher.extract(np.ascontiguousarray(np.rot90(resize(photo, 256, 256), 3)))
    f1 = matcher.extract(ref, max_keypoints=2048)
    fused = matcher._glue
    plain = copy.deepcopy(fused)
    for layer in plain.transformers:
        del layer.cross_attn.forward  # back to the class's (kornia's) method
    m_plain, s_plain, stop_plain = kornia_glue(plain, f0, f1)
    m_fused, s_fused, stop_fused = kornia_glue(fused, f0, f1)
    assert len(m_plain) >= 10 and stop_fused == stop_plain
    assert {tuple(r) for r in m_fused.tolist()} == {tuple(r) for r in m_plain.tolist()}
    order = np.lexsort(m_plain.T[::-1]), np.lexsort(m_fused.T[::-1])
    assert np.allclose(s_plain[order[0]], s_fused[order[1]], atol=1e-4)
