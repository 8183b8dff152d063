"""What the benchmark ran on: platform, CPU model, cores, instruction sets, accelerators, versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

__all__ = ["processor_info", "library_versions"]

#: int8 (VNNI, AMX-INT8), bf16 (AVX512-BF16, AMX-BF16) and fp16 (AVX512-FP16, AMX-FP16) arithmetic; Arm SIMD
_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_int8",
    "amx_bf16",
    "amx_fp16",
    "neon",
    "asimd",
)


def processor_info(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> dict:
    """Platform, CPU model, logical cores and the SIMD flags that matter for int8, bf16 and fp16 inference.

    >>> sorted(processor_info("/nonexistent"))[:3]
    ['accelerators', 'cores', 'cpu_model']
    """
    model = platform.processor() or "unknown"
    flags: set[str] = set()
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware") and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags |= set(value.split())
    accelerators = []
    from cupola.onboard.runtimes import openvino_devices

    try:
        import torch

        if torch.cuda.is_available():
            accelerators.append(torch.cuda.get_device_name(0))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import onnxruntime as ort

        providers = list(ort.get_available_providers())
    except ImportError:
        providers = []
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "flags": {f: f in flags for f in _FLAGS},
        "accelerators": accelerators,
        "openvino_devices": openvino_devices(),  # name -> full name; {} without OpenVINO
        "onnxruntime_providers": providers,  # CUDAExecutionProvider with onnxruntime-gpu
    }


def library_versions() -> dict[str, str]:
    """Versions of the inference libraries (``"not installed"`` where missing)."""
    out = {"python": platform.python_version()}
    for dist in ("torch", "kornia", "onnx", "onnxruntime", "openvino", "nncf", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
