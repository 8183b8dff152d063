"""cupola onboard's task metric for ALIKED: the backbone swapped into locate, and the CI smoke
configuration of the CLI with the localization of a small case (split from test_onboard.py to keep
each test file short)."""

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cupola.cli.main import main  # noqa: E402
from cupola.onboard import runtimes  # noqa: E402
from cupola.onboard.samples import calibration_crops  # noqa: E402


def _half_size_case(folder):
    """A copy of a bundled case with photo and reference at half size (same bounds): localizes
    with a quarter of the backbone's work."""
    import shutil

    from PIL import Image

    from cupola.cli.onboard_task import APL_CASES

    shutil.copy(APL_CASES / "ISS064-E-358" / "case.json", folder / "case.json")
    for name in ("photo.jpg", "reference.jpg"):
        with Image.open(APL_CASES / "ISS064-E-358" / name) as im:
            im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(folder / name, quality=95)
    return folder


def test_cli_tiny_configuration_with_the_task_metric(tmp_path, capsys, monkeypatch):
    # the CI smoke configuration: 64 x 64 timing, and the task metric on one small case (the
    # bundled case cheapest to localize, at half size) in fp32 PyTorch and dynamic int8; OpenVINO
    # made to look missing
    monkeypatch.setitem(runtimes.RUNTIME_MODULES, "openvino", "cupola_no_such_runtime")
    (tmp_path / "ISS064-E-358-half").mkdir()
    case = _half_size_case(tmp_path / "ISS064-E-358-half")
    out = tmp_path / "bench"
    args = ["onboard", "bench", "--models", "aliked", "--runtimes", "torch,ort-int8,openvino", "--size-px", "64"]
    args += [
        "--repeats",
        "3",
        "--batches",
        "1,2",
        "--bitflip-trials",
        "2",
        "--task-cases",
        str(case),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "latency_drift.png",
        "result.json",
        "results.csv",
        "results.md",
        "task.csv",
    ]
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["runtime"] for r in rows] == ["torch", "ort-int8", "openvino"]
    assert rows[2]["status"] == "not installed" and 1e-4 < float(rows[1]["drift_rel"]) < 0.3
    summary = json.loads((out / "result.json").read_text())
    assert summary["processor"]["cores"] >= 1 and "avx2" in summary["processor"]["flags"]
    assert summary["libraries"]["onnxruntime"] != "not installed" and summary["bitflip"]["aliked"]["trials"] == 2
    assert "--models=aliked" in summary["command"] and f"--task-cases={case}" in summary["command"]
    # the task: the quantized backbone keeps the localization of the case
    task = summary["task"]
    trows = {r["runtime"]: r for r in task["rows"]}
    assert task["cases"] == [case.name] and task["bitflip"] is None
    assert trows["openvino"]["status"] == "not installed"
    # the case's truth is the hand-labelled centre (a few km of label noise); fp32 is within 1 km
    assert trows["torch"]["success"] == 1 and trows["torch"]["centre_error_km_mean"] < 1.0
    assert trows["ort-int8"]["success_unchanged"] and trows["ort-int8"]["centre_error_km_mean"] < 1.0
    torch_km, int8_km = trows["torch"]["centre_error_km_mean"], trows["ort-int8"]["centre_error_km_mean"]
    assert trows["ort-int8"]["centre_error_change_pct"] == pytest.approx(100 * (int8_km - torch_km) / torch_km)
    assert int8_km != torch_km  # int8 did run: its keypoints moved
    assert 0 < trows["ort-int8"]["centre_shift_km_max"] < 1.0
    assert [r["runtime"] for r in csv.DictReader(open(out / "task.csv"))] == ["torch", "ort-int8", "openvino"]


def test_runtime_backbone_gives_locates_keypoints_and_descriptors(tmp_path):
    # the swap used for the task metric: ALIKED's backbone from a runtime, DKD + SDDH in torch,
    # against locate's own FastAliked on a real crop (not a multiple of 32: the padding is exercised)
    from cupola.cli.onboard_task import RuntimeAliked
    from cupola.locate.features import make_matcher
    from cupola.onboard.backbone import BackboneRuntime, backbone_module
    from cupola.onboard.samples import evaluation_crop

    fast = make_matcher("aliked", max_keypoints=128)._aliked
    img = torch.from_numpy(np.ascontiguousarray(calibration_crops(128, per_photo=1, seed=2)[0][:, :, :100, :]))
    ref = fast(img)[0]
    module = backbone_module(fast.aliked)
    for name in ("torch", "ort"):
        backbone = BackboneRuntime(name, module, tmp_path, threads=1)
        got = RuntimeAliked(fast.aliked, backbone)(img)[0]
        assert backbone.exports == 1
        d = torch.cdist(got.keypoints, ref.keypoints).min(dim=1)
        # rounding only (the score head is summed in another order): DKD's soft-argmax amplifies it
        # to at most ~0.06 px here, most keypoints agree to 1e-4 px
        assert len(got.keypoints) == len(ref.keypoints) == 128 and float(d.values.max()) < 0.1
        assert float(d.values.median()) < 1e-3
        cos = (got.descriptors * ref.descriptors[d.indices]).sum(1)
        assert float(cos.min()) > 0.999
    # and the runtime sees its input: another image gives other keypoints
    other = torch.from_numpy(evaluation_crop(128, seed=3)[:, :, :100, :].copy())
    moved = RuntimeAliked(fast.aliked, backbone)(other)[0]
    assert float(torch.cdist(moved.keypoints, ref.keypoints).min(dim=1).values.median()) > 1.0
    assert backbone.exports == 1  # same padded shape: no second export


def test_split_score_head_equals_kornias_order():
    # the score head's 1 x 1 convolution moved before the upsampling (locate's rewrite) against
    # kornia's order (concatenate the upsampled maps, then the head) on an input that is not square
    from cupola.locate.features import make_matcher
    from cupola.onboard.backbone import backbone_module

    aliked = make_matcher("aliked", max_keypoints=128)._aliked.aliked
    x = torch.from_numpy(np.ascontiguousarray(calibration_crops(128, per_photo=1, seed=4)[0][:, :, :, :96]))
    with torch.inference_mode():
        split = backbone_module(aliked)(x)
        plain = backbone_module(aliked, split_score=False)(x)
    assert split[0].shape == (1, 1, 128, 96)
    np.testing.assert_allclose(split[0].numpy(), plain[0].numpy(), atol=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(split[1:], plain[1:]))
    assert float(split[0].std()) > 1e-3  # a score map, not a constant
