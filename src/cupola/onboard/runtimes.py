"""Runtimes: PyTorch eager (fp32 reference; bf16 on a CPU with bf16 arithmetic), ONNX Runtime CPU
fp32, fp16 and int8, OpenVINO CPU fp32, fp16, bf16 and int8 (NNCF post-training quantization); on an
accelerator, PyTorch and ONNX Runtime on a CUDA GPU (fp32, fp16) and OpenVINO on its GPU device
(fp32, fp16).

A runtime whose library is missing is reported as ``"not installed"`` (:func:`runtime_available`),
never raised; a precision the device does not run, or a device that is not here, raises
:class:`Unsupported` (a row ``unsupported: ...``, not a crash). :func:`accelerator_runtimes` lists
the accelerator runtimes whose device is found here (the command adds them to its default run).
Each :func:`prepare` returns a :class:`Runner`: a call on a NumPy input giving the outputs as NumPy
arrays, the load time and the size on disk of what was loaded.

>>> sorted(RUNTIMES)  # doctest: +NORMALIZE_WHITESPACE
['openvino', 'openvino-bf16', 'openvino-fp16', 'openvino-gpu', 'openvino-gpu-fp16', 'openvino-int8', 'ort',
 'ort-cuda', 'ort-cuda-fp16', 'ort-fp16', 'ort-int8', 'ort-int8s', 'torch', 'torch-bf16', 'torch-cuda',
 'torch-cuda-fp16', 'torch-pieces']
>>> sorted(CALIBRATED)
['openvino-int8', 'ort-int8s']
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

__all__ = [
    "ACCELERATED",
    "CALIBRATED",
    "EAGER",
    "RUNTIMES",
    "RUNTIME_MODULES",
    "Runner",
    "Unsupported",
    "accelerator_runtimes",
    "bf16_native",
    "default_runtimes",
    "runtime_available",
    "export_onnx",
    "openvino_devices",
    "ort_runner",
    "prepare",
    "quantize_int8_static",
]

#: runtime name -> precision
RUNTIMES = {
    "torch": "fp32",
    "torch-bf16": "bf16",  # PyTorch eager under CPU autocast: convolutions and matrix products in bf16
    "torch-pieces": "fp32",  # a network's exported pieces run in PyTorch eager (LightGlue only)
    "ort": "fp32",
    "ort-fp16": "fp16",
    "ort-int8": "int8",
    "ort-int8s": "int8",
    "openvino": "fp32",
    "openvino-fp16": "fp16",
    "openvino-bf16": "bf16",
    "openvino-int8": "int8",
    "torch-cuda": "fp32",  # PyTorch eager on the first CUDA device
    "torch-cuda-fp16": "fp16",  # the same with weights and activations in half precision
    "ort-cuda": "fp32",  # ONNX Runtime's CUDA execution provider (the onnxruntime-gpu wheel)
    "ort-cuda-fp16": "fp16",  # the fp16 graph of ort-fp16 on that provider
    "openvino-gpu": "fp32",  # OpenVINO's GPU device (an Intel GPU), f32 precision hint
    "openvino-gpu-fp16": "fp16",  # the same with the f16 hint (the GPU plugin's own default)
}
#: the runtimes that run on an accelerator, not the CPU
ACCELERATED = frozenset(
    {"torch-cuda", "torch-cuda-fp16", "ort-cuda", "ort-cuda-fp16", "openvino-gpu", "openvino-gpu-fp16"}
)
#: the runtimes that run the PyTorch module itself on the CPU (no ONNX export)
EAGER = frozenset({"torch", "torch-bf16"})
#: the runtimes quantized on a calibration set (static int8)
CALIBRATED = frozenset({"ort-int8s", "openvino-int8"})
#: runtime name -> the Python module(s) it needs (tests point one at a missing module)
RUNTIME_MODULES: dict[str, str | tuple[str, ...]] = {
    "torch": "torch",
    "torch-bf16": "torch",
    "torch-pieces": "torch",
    "ort": "onnxruntime",
    "ort-fp16": ("onnxruntime", "onnx"),
    "ort-int8": "onnxruntime",
    "ort-int8s": "onnxruntime",
    "openvino": "openvino",
    "openvino-fp16": "openvino",
    "openvino-bf16": "openvino",
    "openvino-int8": ("openvino", "nncf"),
    "torch-cuda": "torch",
    "torch-cuda-fp16": "torch",
    "ort-cuda": "onnxruntime",
    "ort-cuda-fp16": ("onnxruntime", "onnx"),
    "openvino-gpu": "openvino",
    "openvino-gpu-fp16": "openvino",
}
#: OpenVINO's name of each precision hint
_OV_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "f32"}


class Unsupported(RuntimeError):
    """The device does not run the asked precision (OpenVINO fell back to another)."""


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
    needs = RUNTIME_MODULES[name]
    try:
        return all(importlib.util.find_spec(m) is not None for m in ((needs,) if isinstance(needs, str) else needs))
    except (ImportError, ValueError):
        return False


def openvino_devices() -> dict[str, str]:
    """OpenVINO's devices here (name -> full name); empty when OpenVINO is not installed."""
    if not runtime_available("openvino"):
        return {}
    import openvino as ov

    core = ov.Core()
    out = {}
    for dev in core.available_devices:
        try:
            out[dev] = str(core.get_property(dev, "FULL_DEVICE_NAME"))
        except RuntimeError:  # pragma: no cover - a device without the property
            out[dev] = dev
    return out


def _torch_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _ort_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _require_ort_cuda() -> None:
    if not _ort_cuda():
        import onnxruntime as ort

        have = ", ".join(ort.get_available_providers())
        raise Unsupported(f"ONNX Runtime has no CUDA provider here (providers: {have}; needs onnxruntime-gpu)")


def accelerator_runtimes() -> tuple[str, ...]:
    """The :data:`ACCELERATED` runtimes whose library and device are here (none on a CPU-only
    machine): PyTorch with a CUDA device, ONNX Runtime with its CUDA provider, OpenVINO with a GPU."""
    found: list[str] = []
    if runtime_available("torch-cuda") and _torch_cuda():
        found += ["torch-cuda", "torch-cuda-fp16"]
    if runtime_available("ort-cuda-fp16") and _ort_cuda():
        found += ["ort-cuda", "ort-cuda-fp16"]
    if any(d.split(".")[0] == "GPU" for d in openvino_devices()):
        found += ["openvino-gpu", "openvino-gpu-fp16"]
    return tuple(found)


def default_runtimes() -> tuple[str, ...]:
    """What ``cupola onboard bench`` runs unless told: PyTorch, ONNX Runtime fp32 and dynamic int8 (no
    optional extra, no calibration), PyTorch bf16 where the CPU has bf16 arithmetic, and every
    accelerator runtime whose device is here."""
    bf16 = ("torch-bf16",) if bf16_native() else ()
    return ("torch", "ort", "ort-int8", *bf16, *accelerator_runtimes())


def export_onnx(
    module: Any,
    example: Any,
    path: Path,
    output_names: tuple[str, ...],
    dynamic_batch: bool = False,
    opset: int = 17,
) -> Path:
    """Export ``module`` on the fixed ``example`` input (TorchScript-based exporter, opset ``opset``);
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
            opset_version=opset,
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


def bf16_native() -> bool:
    """Whether this CPU has bf16 arithmetic for PyTorch's oneDNN kernels (AVX512-BF16 or AMX tiles);
    without it PyTorch still runs bf16, emulated and slower than fp32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, hence looked up
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def _torch_bf16_runner(module: Any, threads: int, native_only: bool = True) -> Runner:
    """``module`` in PyTorch eager under CPU autocast to bf16 (convolutions and matrix products in
    bf16 through oneDNN, which uses AMX where the CPU has it; the weights stay fp32 and are cast per
    call, so the size on disk is fp32's); outputs back as float32. Raises :class:`Unsupported` on a
    CPU without bf16 arithmetic unless ``native_only`` is False (how the tests run it anywhere)."""
    import torch

    if native_only and not bf16_native():
        raise Unsupported("this CPU has no bf16 arithmetic (neither AVX512-BF16 nor AMX); PyTorch would emulate it")
    runner = _torch_runner(module, threads)

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(torch.from_numpy(x))
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.float().numpy() for o in outs]

    return Runner(run, runner.load_s, runner.size_bytes)


def _torch_device_runner(module: Any, precision: str, device: str = "cuda") -> Runner:
    """A copy of ``module`` on ``device`` (the first CUDA device; fp16: weights in half precision,
    the input cast on the device), ``module`` itself left as it is; outputs come back to the host as
    float32, so each call's time includes both copies and the device's synchronisation, as a user's
    call would. (``device="cpu"`` runs the same steps on the CPU: how the tests check them.)"""
    import copy

    import torch

    if device == "cuda" and not _torch_cuda():
        raise Unsupported("no CUDA device here (torch.cuda.is_available() is False)")
    half = precision == "fp16"
    t0 = time.perf_counter()
    net = copy.deepcopy(module).to(device).eval()
    if half:
        net = net.half()
    if device == "cuda":
        torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    size = sum(t.numel() * t.element_size() for t in net.state_dict().values())

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            t = torch.from_numpy(x).to(device)
            out = net(t.half() if half else t)
        outs = out if isinstance(out, tuple | list) else (out,)
        return [o.float().cpu().numpy() for o in outs]  # the copy back synchronises

    return Runner(run, load_s, size)


def ort_runner(path: Path, threads: int, device: str = "cpu") -> Runner:
    """An ONNX Runtime session of the graph at ``path`` on ``threads`` threads (one inter-op thread),
    on the CPU or (``device="cuda"``) on the CUDA execution provider; raises :class:`Unsupported` when
    the provider is not here or ONNX Runtime fell back to the CPU."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only (fp16 graphs log a warning per node it cannot fold)
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        _require_ort_cuda()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a provider it cannot use is a warning; the check below says it
        session = ort.InferenceSession(str(path), opts, providers=providers)
    load_s = time.perf_counter() - t0
    if session.get_providers()[0] != providers[0]:
        raise Unsupported(f"ONNX Runtime fell back to {session.get_providers()[0]} (no usable CUDA device)")
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o) for o in session.run(None, {name: x})]

    return Runner(run, load_s, path.stat().st_size)


def _convert_fp16(path: Path) -> Path:
    """The fp32 ONNX graph with its weights and activations in float16, inputs and outputs kept
    float32 (ONNX Runtime's own converter); ONNX Runtime CPU inserts casts around the operators it
    has no float16 kernel for."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    out = path.with_name(path.stem + "-fp16.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # notes on constants clipped to the float16 range
        onnx.save(convert_float_to_float16(onnx.load(str(path)), keep_io_types=True), str(out))
    return out


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


def quantize_int8_static(
    path: Path,
    calibration: list[np.ndarray],
    per_channel: bool = False,
    op_types: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    suffix: str = "-int8s",
    method: str = "minmax",
    only: tuple[str, ...] | None = None,
) -> Path:
    """Static int8 (QDQ, per-tensor uint8 activations, int8 weights) calibrated on ``calibration``
    (activation ranges over those inputs by ``method``: ``minmax``, ``percentile`` (ONNX Runtime's
    99.999th) or ``entropy``), written beside ``path`` with ``suffix``; ``per_channel``: one weight
    scale per output channel; ``op_types``: only those operators quantized (None: ONNX Runtime's
    default set); ``exclude``: node names left in fp32; ``only``: just these nodes quantized."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }
    if method not in methods:
        raise InputError(f"`method` {method!r}: expected one of {', '.join(methods)}")
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
    out = path.with_name(path.stem + suffix + ".onnx")
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
                per_channel=per_channel,
                op_types_to_quantize=list(op_types) if op_types else None,
                nodes_to_exclude=list(exclude),
                nodes_to_quantize=list(only) if only else None,
                calibrate_method=methods[method],
            )
    finally:
        root.setLevel(level)
    return out


def _quantize_nncf(path: Path, calibration: list[np.ndarray]) -> Path:
    """OpenVINO int8: NNCF post-training quantization with its defaults (preset ``performance``:
    symmetric int8, weights per channel, activation ranges from statistics over every input of
    ``calibration``, fast bias correction; FakeQuantize nodes that the CPU plugin runs in int8),
    saved as OpenVINO IR (.xml + .bin) beside ``path``."""
    import nncf
    import openvino as ov

    if not calibration:
        raise InputError("NNCF int8 quantization: no calibration inputs")
    out = path.with_name(path.stem + "-nncf-int8.xml")
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = ov.Core().read_model(str(path))
            quantized = nncf.quantize(model, nncf.Dataset(calibration), subset_size=len(calibration))
        ov.save_model(quantized, str(out), compress_to_fp16=False)
    finally:
        nncf_log.setLevel(level)
    return out


def _openvino_runner(path: Path, threads: int, precision: str = "fp32", device: str = "CPU") -> Runner:
    """OpenVINO on ``device`` (``CPU``, or ``GPU``: its first GPU) at ``precision`` (its inference
    precision hint; int8 graphs run with the f32 hint: quantized layers in int8, the rest in fp32).
    Raises :class:`Unsupported` when the device is not here or the compiled model runs another
    precision than asked (fp16 on a CPU without AVX512-FP16 / AMX-FP16)."""
    import openvino as ov

    core = ov.Core()
    if device != "CPU" and not any(d.split(".")[0] == device for d in core.available_devices):
        raise Unsupported(f"OpenVINO finds no {device} device here (devices: {', '.join(core.available_devices)})")
    hint = _OV_HINTS[precision]
    t0 = time.perf_counter()
    # the hint stated always: on CPUs with bf16 support OpenVINO would otherwise run fp32 graphs in bf16
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint}
    if device == "CPU":
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(str(path), device, config)
    load_s = time.perf_counter() - t0
    ran = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    if ran != hint:
        caps = ", ".join(core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
        raise Unsupported(f"OpenVINO {device} runs {precision} as {ran} here (capabilities: {caps})")

    request = compiled.create_infer_request()  # one request, reused (a call per run costs ~0.1 ms more)

    def run(x: np.ndarray) -> list[np.ndarray]:
        res = request.infer({0: np.ascontiguousarray(x)}, share_inputs=True, share_outputs=False)
        return [np.asarray(res[o]) for o in compiled.outputs]

    size = path.stat().st_size + (path.with_suffix(".bin").stat().st_size if path.suffix == ".xml" else 0)
    return Runner(run, load_s, size)


def prepare(
    name: str, module: Any, onnx_path: Path, threads: int, calibration: list[np.ndarray] | None = None
) -> Runner:
    """Load the model for runtime ``name`` (``onnx_path`` is the fp32 export; fp16 and int8 are made
    beside it, static int8 (the :data:`CALIBRATED` runtimes) calibrated on ``calibration``)."""
    if name == "torch":
        return _torch_runner(module, threads)
    if name == "torch-bf16":
        return _torch_bf16_runner(module, threads)
    if name == "torch-pieces":
        raise Unsupported("torch-pieces: only for a network exported in pieces (lightglue)")
    if name == "ort":
        return ort_runner(onnx_path, threads)
    if name == "ort-fp16":
        return ort_runner(_convert_fp16(onnx_path), threads)
    if name == "ort-int8":
        return ort_runner(_quantize_int8(onnx_path), threads)
    if name == "ort-int8s":
        return ort_runner(quantize_int8_static(onnx_path, calibration or []), threads)
    if name in ("openvino", "openvino-fp16", "openvino-bf16"):
        return _openvino_runner(onnx_path, threads, RUNTIMES[name])
    if name == "openvino-int8":
        return _openvino_runner(_quantize_nncf(onnx_path, calibration or []), threads, "int8")
    if name in ("torch-cuda", "torch-cuda-fp16"):
        return _torch_device_runner(module, RUNTIMES[name])
    if name == "ort-cuda":
        return ort_runner(onnx_path, threads, device="cuda")
    if name == "ort-cuda-fp16":
        _require_ort_cuda()  # before the conversion: the row says why at once
        return ort_runner(_convert_fp16(onnx_path), threads, device="cuda")
    if name in ("openvino-gpu", "openvino-gpu-fp16"):
        return _openvino_runner(onnx_path, threads, RUNTIMES[name], device="GPU")
    raise InputError(f"`name` {name!r}: unknown runtime; expected one of {', '.join(sorted(RUNTIMES))}")
