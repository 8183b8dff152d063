"""The int8 routes of issue 20 beyond the first recipe: the mixed-precision recipe keeps its named
convolutions in fp32, another calibration method quantizes, and the hybrid route sends every
extraction of locate's final re-match (coregistration) to the fp32 backbone."""

import numpy as np
import onnx
import pytest
import torch

from cupola.onboard.hybrid import RoutedBackbone, fp32_rematch


@pytest.fixture(scope="module")
def aliked():
    from cupola.locate.features import make_matcher

    return make_matcher("aliked", max_keypoints=128)._aliked.aliked


def _tagged(tag, calls):
    def backbone(x):
        calls.append((tag, x.shape[-2:]))
        return [np.full((1, 1) + x.shape[-2:], float(len(calls)), np.float32)]

    return backbone


def test_routed_backbone_routes_by_stage_then_size():
    calls: list = []
    r = RoutedBackbone(_tagged("d", calls), rematch=_tagged("r", calls), large=_tagged("l", calls), min_pixels=64 * 64)
    r(np.zeros((1, 1, 32, 32), np.float32))
    r(np.zeros((1, 1, 64, 64), np.float32))
    r.rematch_active = True
    r(np.zeros((1, 1, 64, 64), np.float32))
    assert [c[0] for c in calls] == ["d", "l", "r"]
    assert r.calls == {"default": 1, "large": 1, "rematch": 1}
    assert r.shapes["large"] == {(64, 64)}
    with pytest.raises(ValueError, match="min_pixels"):
        RoutedBackbone(_tagged("d", calls), large=_tagged("l", calls))


def test_fp32_rematch_switches_inside_coregister_only_and_restores():
    calls: list = []
    routed = RoutedBackbone(_tagged("search", calls), rematch=_tagged("fp32", calls))

    class Loc:  # the two attributes of locate's Localizer that fp32_rematch relies on
        def __init__(self):
            self._photo_cache = {"first pass": 1}

        def coregister(self, cand, keypoints=None):
            routed(np.zeros((1, 1, 32, 32), np.float32))
            self._photo_cache["coreg"] = cand
            return dict(self._photo_cache)

    loc = Loc()
    original = Loc.coregister
    with fp32_rematch(Loc, routed):
        routed(np.zeros((1, 1, 32, 32), np.float32))  # a search outside the re-match
        seen = loc.coregister("c1", keypoints=5)
        again = loc.coregister("c2")
    assert [c[0] for c in calls] == ["search", "fp32", "fp32"]
    assert seen == {"coreg": "c1"} and again == {"coreg": "c2"}  # its own cache: not the first pass's
    assert loc._photo_cache == {"first pass": 1} and not routed.rematch_active
    assert Loc.coregister is original
    with fp32_rematch(loc, routed):  # one instance
        loc.coregister("c3")
    assert "coregister" not in vars(loc) and calls[-1][0] == "fp32"


def test_mixed_recipe_keeps_named_convolutions_fp32(aliked, tmp_path):
    from cupola.onboard.backbone import (
        INT8_FP32_NODES,
        INT8_RECIPES,
        BackboneRuntime,
        Int8Recipe,
        backbone_module,
        quantize_backbone_int8,
    )
    from cupola.onboard.samples import day_night_crops_hw

    module = backbone_module(aliked, deform_op=True)
    x = day_night_crops_hw(64, 96, per_photo=1, night=1, seed=2)
    BackboneRuntime("ort", module, tmp_path)(x[0])
    (path,) = tmp_path.glob("backbone-64x96-opset19.onnx")
    mixed = INT8_RECIPES["mixed"]
    assert set(INT8_FP32_NODES) < set(mixed.fp32_nodes)
    keep = Int8Recipe("t", fp32_nodes=INT8_FP32_NODES + ("/block2/conv1/Conv",), method="percentile")
    for recipe in (mixed, keep):
        graph = onnx.load(str(quantize_backbone_int8(path, x, recipe))).graph
        dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
        convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
        for name, node in convs.items():  # a quantized Conv reads its weight through DequantizeLinear
            assert (node.input[1] in dequantized) == (name not in recipe.fp32_nodes), name
        assert any(n.input[1] in dequantized for n in convs.values())  # and some are quantized
    got = BackboneRuntime("ort-int8s", module, tmp_path, int8="mixed")(x[1])
    with torch.inference_mode():
        ref = module(torch.from_numpy(x[1]))[0].numpy()
    assert got[0].shape == ref.shape and float(np.abs(got[0] - ref).max()) < 0.5


def test_hybrid_route_rematches_with_the_fp32_backbone(aliked, tmp_path):
    # locate's own Localizer on a half-size case: every extraction inside coregistration goes to the
    # fp32 backbone, every other one (reference, first pass) to the search backbone
    from test_onboard_task import _half_size_case

    from cupola.cli.onboard_task import localize_case
    from cupola.locate.localize import Localizer
    from cupola.onboard.backbone import BackboneRuntime, backbone_module

    (tmp_path / "case").mkdir()
    case = _half_size_case(tmp_path / "case")
    fp32 = BackboneRuntime("torch", backbone_module(aliked), tmp_path)
    search_calls: list = []

    def search(x):
        search_calls.append(x.shape)
        return fp32(x)

    routed = RoutedBackbone(search, rematch=fp32)
    with fp32_rematch(Localizer, routed):
        got = localize_case(case, routed, 1)
    ref = localize_case(case, fp32, 1)
    assert routed.calls["rematch"] >= 2 and routed.calls["default"] == len(search_calls) >= 2
    assert got["correct"] and got["centre_error_km"] == pytest.approx(ref["centre_error_km"], abs=1e-9)
    assert not routed.rematch_active and "coregister" in vars(Localizer)
