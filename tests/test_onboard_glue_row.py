"""LightGlue as a row of ``cupola onboard bench`` (issue 20): the fixed pair of real ALIKED feature
sets, ORT's matches equal to kornia's on it, unavailable runtimes and networks as rows, the CLI and
merge with the new rows."""

import csv
import json

import numpy as np
import pytest
import torch

# torch and onnxruntime are required dependencies (pyproject): a missing one fails, not skips
from cupola.cli import onboard_lightglue as ol
from cupola.cli.main import main
from cupola.onboard import runtimes
from cupola.onboard.bench import BenchConfig, run_bench
from cupola.onboard.faults import bitflip_trials, output_drift
from cupola.onboard.matches import dense_matches, match_iou
from cupola.onboard.networks import NetworkUnavailable, build_network

KEYPOINTS = 192  # a small pair: fast, still real (the first bundled case's photo and reference)


@pytest.fixture(scope="module")
def glue_net():
    return ol.lightglue_builders(KEYPOINTS)["lightglue"](256, 0)


def test_fixed_pair_is_real_and_the_same_every_time(glue_net):
    glue, f0, f1 = ol.glue_pair(KEYPOINTS)
    assert len(f0) == len(f1) == KEYPOINTS
    assert max(f0.shape) == 512 and max(f1.shape) == 1024  # locate's photo and reference sides
    x = glue_net.example.numpy()
    assert x.shape == (1, 2 * KEYPOINTS, 130) and x.dtype == np.float32
    # a second feature extraction (not the cache) gives the same bytes
    ol.glue_pair.cache_clear()
    again = ol.lightglue_builders(KEYPOINTS)["lightglue"](256, 0).example.numpy()
    assert np.array_equal(x, again)


def test_ort_output_equals_torch_matches_on_the_fixed_pair(glue_net):
    x = glue_net.example.numpy()
    with torch.inference_mode():
        ref_scores, ref_matches = (t.numpy() for t in glue_net.module(torch.from_numpy(x)))
    n_matched = int((ref_matches >= 0).sum())
    assert n_matched > 10  # a real pair: the photo is inside its reference
    for rt in ("ort", "torch-pieces"):
        scores, matches = glue_net.prepare(rt, 1).run(x)
        assert np.array_equal(matches, ref_matches), rt  # the same pairs
        np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    # the packed input is really read: other keypoint positions give other matches
    moved = x.copy()
    moved[0, :KEYPOINTS, :2] = moved[0, :KEYPOINTS, :2][::-1]
    assert not np.array_equal(glue_net.prepare("ort", 1).run(moved)[1], ref_matches)


def test_lightglue_rows_in_the_smoke_configuration(monkeypatch):
    monkeypatch.setitem(runtimes.RUNTIME_MODULES, "openvino", "cupola_no_such_runtime")
    res = run_bench(
        BenchConfig(
            models=("lightglue",),
            runtimes=("torch", "ort", "ort-int8", "ort-fp16", "openvino"),
            batches=(1, 4),
            repeats=2,
            warmup=1,
            bitflip_trials=1,
        ),
        builders=ol.lightglue_builders(KEYPOINTS),
        tasks=ol.lightglue_tasks(KEYPOINTS),
    )
    rows = {r["runtime"]: r for r in res.rows}
    assert [r["model"] for r in res.rows] == ["lightglue"] * 5
    for rt in ("torch", "ort", "ort-int8"):
        r = rows[rt]
        assert r["status"] == "ok" and r["precision"] == ("int8" if rt == "ort-int8" else "fp32")
        assert r["latency_p50_ms"] > 0 and r["best_batch"] == 1  # the pair runs at batch 1 only
        assert r["task_metric"] == "match_iou" and 0 <= r["task_value"] <= 1
        assert r["repeat_identical"]
    assert rows["torch"]["task_value"] == 1.0 and rows["ort"]["task_value"] == 1.0
    assert rows["ort"]["drift_max_abs"] < 1e-4 and rows["ort"]["size_mb"] > 10 and rows["ort"]["load_s"] > 0
    assert rows["ort-int8"]["drift_rel"] > 1e-4  # int8 weights move the scores
    assert rows["ort-fp16"]["status"].startswith("unsupported: LightGlue pieces")
    assert rows["openvino"]["status"] == "not installed"
    assert res.bitflip["lightglue"]["trials"] == 1


def test_library_alone_reports_lightglue_unavailable_and_pieces_only_for_pieces():
    with pytest.raises(NetworkUnavailable, match="onboard_lightglue"):
        build_network("lightglue")
    res = run_bench(
        BenchConfig(models=("lightglue", "scene"), runtimes=("torch", "torch-pieces"), repeats=2, bitflip_trials=0)
    )
    status = {(r["model"], r["runtime"]): r["status"] for r in res.rows}
    assert status[("lightglue", "torch")].startswith("unavailable: LightGlue's code")
    assert status[("scene", "torch")] == "ok"
    assert status[("scene", "torch-pieces")].startswith("unsupported: torch-pieces")


def test_integer_outputs_left_out_of_the_raw_drift_and_match_iou():
    ref = [np.array([[0.5, 0.0]], np.float32), np.array([[3, -1]])]
    got = [np.array([[0.25, 0.0]], np.float32), np.array([[4, -1]])]
    assert output_drift(ref, got) == pytest.approx((0.25, 0.5))
    assert output_drift(ref, [got[0], np.array([[4, -1, 0]])]) == (float("inf"), float("inf"))
    s, m = dense_matches(np.array([[1, 3], [0, 2]]), np.array([0.5, 0.25]), 3)
    assert s.tolist() == [[0.25, 0.5, 0.0]] and m.tolist() == [[2, 3, -1]]
    assert match_iou(m, m) == 1.0 and match_iou(m, np.array([[2, -1, -1]])) == 0.5
    assert match_iou(np.array([[-1]]), np.array([[-1]])) == 1.0


def test_a_flipped_network_that_raises_counts_as_broken():
    class Fragile(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0]))

        def forward(self, x):
            if self.w.item() != 1.0:
                raise ValueError("non-finite keypoints")
            return x * self.w

    rep = bitflip_trials(Fragile(), torch.ones(1), bits=1, trials=4, threshold=0.01, seed=0)
    assert rep.exceeded == 4 and rep.tolerance == 0.0


def test_cli_writes_and_merges_lightglue_rows(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["onboard", "bench", "--models", "lightglue", "--runtimes", "torch,ort", "--repeats", "2"]
    args += ["--bitflip-trials", "0", "--glue-keypoints", str(KEYPOINTS), "--task-cases", "none", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["model"], r["runtime"], r["status"], r["task_value"]) for r in rows] == [
        ("lightglue", "torch", "ok", "1.0"),
        ("lightglue", "ort", "ok", "1.0"),
    ]
    summary = json.loads((out / "result.json").read_text())
    assert f"--glue-keypoints={KEYPOINTS}" in summary["command"]
    assert "| lightglue | ort | fp32 | ok |" in (out / "results.md").read_text()
    merged = tmp_path / "m"
    assert main(["onboard", "merge", str(out / "result.json"), str(out / "result.json"), "--out", str(merged)]) == 0
    m = list(csv.DictReader(open(merged / "merged.csv")))
    assert [(r["machine"], r["model"], r["runtime"]) for r in m] == [
        ("m1", "lightglue", "torch"),
        ("m1", "lightglue", "ort"),
        ("m2", "lightglue", "torch"),
        ("m2", "lightglue", "ort"),
    ]
    bad = main(["onboard", "bench", "--glue-keypoints", "1", "--out", str(tmp_path / "b"), "--quiet"])
    assert bad == 2 and "--glue-keypoints" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_pieces_runtime_is_unsupported_for_alikeds_localization_backbone(tmp_path):
    from cupola.onboard.backbone import BackboneRuntime

    with pytest.raises(runtimes.Unsupported, match="torch-pieces"):
        BackboneRuntime("torch-pieces", None, tmp_path)


def test_localization_with_lightglue_plugged_in_per_runtime():
    """The task metric: a bundled case localized with the pieces as locate's LightGlue (what
    CUPOLA_LIGHTGLUE=ort plugs in) against the PyTorch run; other precisions are rows."""
    from cupola.cli.onboard_task import APL_CASES, localization_drift

    task = localization_drift(
        ("torch",),
        [APL_CASES / "ISS050-E-70536"],
        glue_runtimes=("torch", "ort", "ort-fp16"),
        glue_factory=lambda rt, threads: ol.glue_pieces(rt, threads),
    )
    rows = {(r["network"], r["runtime"]): r for r in task["rows"]}
    assert list(rows) == [("aliked+lightglue", "torch"), ("lightglue", "ort"), ("lightglue", "ort-fp16")]
    ref, ort = rows[("aliked+lightglue", "torch")], rows[("lightglue", "ort")]
    assert ref["success"] == 1 and ort["status"] == "ok" and ort["success_unchanged"]
    assert ort["centre_shift_km_max"] == pytest.approx(0.0, abs=1e-3)  # the same matches: the same centre
    assert rows[("lightglue", "ort-fp16")]["status"].startswith("unsupported: LightGlue pieces")
