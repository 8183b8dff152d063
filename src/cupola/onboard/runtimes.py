"""Runtimes: PyTorch eager (fp32 reference), ONNX Runtime CPU fp32 and int8, OpenVINO CPU fp32.

A runtime whose library is missing is reported as ``"not installed"`` (:func:`runtime_available`),
never raised. Each :func:`prepare` returns a :class:`Runner`: a call on a NumPy input giving the
outputs as NumPy arrays, the load time and the size on disk of what was loaded.

>>> sorted(RUNTIMES)
['openvino', 'ort', 'ort-int8', 'ort-int8s', 'torch']
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError

__all__ = ["RUNTIMES", "RUNTIME_MODULES", "Runner", "runtime_available", "export_onnx", "prepare"]

#: runtime name -> precision
RUNTIMES = {"torch": "fp32", "ort": "fp32", "ort-int8": "int8", "ort-int8s": "int8", "openvino": "fp32"}
#: runtime name -> the Python module it needs (tests point one at a missing module)
RUNTIME_MODULES = {
    "torch": "torch",
    "ort": "onnxruntime",
    "ort-int8": "onnxruntime",
    "ort-int8s": "onnxruntime",
    "openvino": "openvino",
}


@dataclass
class Runner:
    """A loaded model: ``run(x)`` -> outputs, with its load time (s) and size on disk (bytes)."""

    run: Callable[[np.ndarray], list[np.ndarray]]
    load_s: float
    size_bytes: int


def runtime_available(name: str) -> bool:
    """Whether the library of runtime ``name`` can be imported here."""
    if name not in RUNTIMES:
        raise InputError(f"`name` {name!r}: unknown runtime; expected one of {', '.join(sorted(RUNTIMES))}")
    try:
        return importlib.util.find_spec(RUNTIME_MODULES[name]) is not None
    except (ImportError, ValueError):
        return False


def export_onnx(
    module: Any, example: Any, path: Path, output_names: tuple[str, ...], dynamic_batch: bool = False
) -> Path:
    """Export ``module`` on the fixed ``example`` input (TorchScript-based exporter, opset 17);
    ``dynamic_batch``: the first axis of the input and of every output left free (the rest fixed)."""
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on kornia's Python-side shape checks
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=["input"],
            output_names=list(output_names),
            opset_version=17,
            dynamic_axes={n: {0: "batch"} for n in ("input", *output_names)} if dynamic_batch else None,
        )
    return path


def _torch_runner(module: Any, threads: int) -> Runner:
    import torch

    torch.set_num_threads(threads)
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    t0 = time.perf_counter()
    buf.seek(0)
    module.load_state_dict(torch.load(buf, map_location="cpu", weights_only=True), strict=False)
    module.eval()
    load_s = time.perf_counter() - t0

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = module(torch.from_numpy(x))
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.numpy() for o in outs]

    return Runner(run, load_s, buf.getbuffer().nbytes)


def _ort_runner(path: Path, threads: int) -> Runner:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    t0 = time.perf_counter()
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o) for o in session.run(None, {name: x})]

    return Runner(run, load_s, path.stat().st_size)


def _quantize_int8(path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + "-int8.onnx")
    # dynamic quantization: int8 weights, activations quantized per call (no calibration set);
    # the quantizer logs its notes (pre-processing advice, whole tensor types) on the root logger
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_dynamic(str(path), str(out), weight_type=QuantType.QUInt8)
    finally:
        root.setLevel(level)
    return out


def _quantize_int8_static(path: Path, calibration: list[np.ndarray]) -> Path:
    """Static int8 (QDQ, per-tensor uint8 activations, int8 weights) calibrated on ``calibration``
    (min/max of the activations over those inputs)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise InputError("static int8 quantization: no calibration inputs")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(calibration)

        def get_next(self) -> dict | None:
            x = next(self._it, None)
            return None if x is None else {"input": x}

    pre = path.with_name(path.stem + "-pre.onnx")
    out = path.with_name(path.stem + "-int8s.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # kornia's deformable convolution defeats the symbolic shape inference: ONNX's own only
            quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre),
                str(out),
                Reader(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
    finally:
        root.setLevel(level)
    return out


def _openvino_runner(path: Path, threads: int) -> Runner:  # pragma: no cover - needs openvino
    import openvino as ov

    core = ov.Core()
    t0 = time.perf_counter()
    # fp32 stated explicitly: on CPUs with bf16 support OpenVINO would otherwise run in bf16
    compiled = core.compile_model(
        str(path), "CPU", {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
    )
    load_s = time.perf_counter() - t0

    def run(x: np.ndarray) -> list[np.ndarray]:
        res = compiled([x])
        return [np.asarray(res[o]) for o in compiled.outputs]

    return Runner(run, load_s, path.stat().st_size)


def prepare(
    name: str, module: Any, onnx_path: Path, threads: int, calibration: list[np.ndarray] | None = None
) -> Runner:
    """Load the model for runtime ``name`` (``onnx_path`` is the fp32 export; int8 is made beside it,
    static int8 calibrated on ``calibration``)."""
    if name == "torch":
        return _torch_runner(module, threads)
    if name == "ort":
        return _ort_runner(onnx_path, threads)
    if name == "ort-int8":
        return _ort_runner(_quantize_int8(onnx_path), threads)
    if name == "ort-int8s":
        return _ort_runner(_quantize_int8_static(onnx_path, calibration or []), threads)
    if name == "openvino":
        return _openvino_runner(onnx_path, threads)
    raise InputError(f"`name` {name!r}: unknown runtime; expected one of {', '.join(sorted(RUNTIMES))}")
