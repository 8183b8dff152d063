"""cupola onboard: fp16 (ONNX Runtime, OpenVINO), OpenVINO fp32 and NNCF int8, devices, missing libraries."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cupola.onboard import runtimes  # noqa: E402
from cupola.onboard.bench import BenchConfig, run_bench  # noqa: E402
from cupola.onboard.faults import output_drift  # noqa: E402
from cupola.onboard.networks import build_network  # noqa: E402
from cupola.onboard.processor import library_versions, processor_info  # noqa: E402

needs_openvino = pytest.mark.skipif(
    not runtimes.runtime_available("openvino-int8"),
    reason="openvino or nncf not installed (pip install 'cupola[onboard]')",
)


@pytest.fixture(scope="module")
def aliked_score(tmp_path_factory):
    net = build_network("aliked-score", size_px=64, seed=7)
    path = runtimes.export_onnx(net.module, net.example, tmp_path_factory.mktemp("onnx") / "s.onnx", net.output_names)
    with torch.inference_mode():
        ref = [net.module(net.example).numpy()]
    return net, path, ref


def test_ort_fp16_halves_the_file_and_stays_close(aliked_score):
    net, path, ref = aliked_score
    fp16 = runtimes.prepare("ort-fp16", net.module, path, threads=1)
    fp32 = runtimes.prepare("ort", net.module, path, threads=1)
    # the weights are stored in float16: about half the fp32 file
    assert fp16.size_bytes < 0.6 * fp32.size_bytes
    out = fp16.run(net.example.numpy())
    assert out[0].dtype == np.float32 and out[0].shape == ref[0].shape  # inputs and outputs kept fp32
    # float16 has an 11-bit significand (relative step 1e-3): the score map moves, but little
    rel = output_drift(ref, out)[1]
    assert 1e-6 < rel < 2e-2, rel
    assert output_drift(ref, fp32.run(net.example.numpy()))[1] < 1e-5


def test_runtime_needing_two_libraries_is_not_installed_when_one_is_missing(monkeypatch):
    monkeypatch.setitem(runtimes.RUNTIME_MODULES, "openvino-int8", ("numpy", "cupola_no_such_runtime"))
    assert not runtimes.runtime_available("openvino-int8")
    res = run_bench(
        BenchConfig(models=("scene",), runtimes=("openvino-int8",), repeats=2, batches=(1,), bitflip_trials=0)
    )
    assert res.rows[0]["status"] == "not installed" and res.rows[0]["latency_p50_ms"] is None
    monkeypatch.setitem(runtimes.RUNTIME_MODULES, "openvino-int8", ("numpy", "onnxruntime"))
    assert runtimes.runtime_available("openvino-int8")


@needs_openvino
def test_openvino_fp32_round_trip(aliked_score):
    net, path, ref = aliked_score
    runner = runtimes.prepare("openvino", net.module, path, threads=1)
    out = runner.run(net.example.numpy())
    np.testing.assert_allclose(out[0], ref[0], atol=1e-4)
    # a second input gives another output (the request does not keep the first input)
    other = runner.run(np.flip(net.example.numpy(), 3).copy())
    assert output_drift(out, other)[1] > 1e-2


@needs_openvino
def test_nncf_int8_is_quantized_and_keeps_the_scene_accuracy():
    import openvino as ov

    res = run_bench(
        BenchConfig(
            models=("scene",),
            runtimes=("torch", "openvino", "openvino-int8", "openvino-fp16"),
            repeats=3,
            batches=(1,),
            bitflip_trials=0,
        )
    )
    rows = {r["runtime"]: r for r in res.rows}
    assert rows["torch"]["status"] == rows["openvino"]["status"] == rows["openvino-int8"]["status"] == "ok"
    assert rows["openvino"]["drift_rel"] < 1e-5 and rows["openvino"]["task_change"] == 0
    q = rows["openvino-int8"]
    assert q["precision"] == "int8" and q["repeat_identical"]
    # int8 moves the logits (it is quantized, not a copy of fp32) but keeps the accuracy on 507 tiles
    assert 1e-3 < q["drift_rel"] < 0.2
    assert abs(q["task_change"]) < 0.05 and q["task_value"] > 0.5
    # fp16 runs where the CPU has it (AVX512-FP16 / AMX-FP16), else the row says it does not
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    fp16 = rows["openvino-fp16"]
    if "FP16" in caps:
        assert fp16["status"] == "ok" and abs(fp16["task_change"]) < 0.05
    else:
        assert fp16["status"].startswith("unsupported: OpenVINO CPU runs fp16 as f32")


@needs_openvino
def test_nncf_graph_has_fake_quantize_nodes(tmp_path):
    import openvino as ov

    net = build_network("scene")
    path = runtimes.export_onnx(net.module, net.example, tmp_path / "scene.onnx", net.output_names)
    with torch.inference_mode():
        ref = [net.module(net.example).numpy()]
    runner = runtimes.prepare("openvino-int8", net.module, path, threads=1, calibration=net.calibration[:8])
    ir = path.with_name(path.stem + "-nncf-int8.xml")
    types = [op.get_type_name() for op in ov.Core().read_model(str(ir)).get_ops()]
    # at least the inputs of the three convolutions and of the linear layer (NNCF stores the weights
    # already quantized, as int8 constants)
    assert types.count("FakeQuantize") >= 4 and types.count("Convolution") == 3
    assert runner.size_bytes == ir.stat().st_size + ir.with_suffix(".bin").stat().st_size
    assert 1e-4 < output_drift(ref, runner.run(net.example.numpy()))[1] < 1.0
    with pytest.raises(Exception, match="no calibration"):
        runtimes.prepare("openvino-int8", net.module, path, threads=1, calibration=[])


@needs_openvino
def test_processor_lists_openvino_devices():
    info = processor_info()
    assert "CPU" in info["openvino_devices"] and info["openvino_devices"]["CPU"]
    assert library_versions()["nncf"] != "not installed"
