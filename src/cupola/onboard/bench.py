"""The benchmark loop: every (model, runtime) combination measured against fp32 PyTorch.

Per combination: latency p50/p95 (ms, batch 1, after ``warmup`` runs, over ``repeats`` runs; wall
clock, and the process CPU time per run, p50: on a shared machine the fairer ratio), load
time (s), size on disk (MB), raw output drift against fp32 PyTorch on the same fixed input (max
absolute and relative L2 difference), and a repeat check (are the ``repeats`` outputs bit-identical,
else their largest spread). A missing runtime or an unavailable network is a row with its status.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError
from cupola.onboard.faults import bitflip_trials, output_drift
from cupola.onboard.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from cupola.onboard.networks import MODELS, Network, NetworkUnavailable, build_network
from cupola.onboard.runtimes import (
    CALIBRATED,
    EAGER,
    RUNTIMES,
    Runner,
    Unsupported,
    export_onnx,
    prepare,
    runtime_available,
)
from cupola.onboard.samples import calibration_crops, evaluation_crop

__all__ = [
    "BenchConfig",
    "BenchResult",
    "COLUMNS",
    "NetworkBuilder",
    "TaskMetric",
    "run_bench",
    "parse_list",
    "parse_counts",
]

COLUMNS = (
    "model",
    "runtime",
    "precision",
    "status",
    "threads",
    "latency_p50_ms",
    "latency_p95_ms",
    "speedup_vs_torch",
    "cpu_p50_ms",
    "cpu_speedup_vs_torch",
    "throughput_b1_ips",
    "best_batch",
    "throughput_best_ips",
    "peak_rss_mb",
    "peak_rss_delta_mb",
    "load_s",
    "size_mb",
    "drift_max_abs",
    "drift_rel",
    "repeat_identical",
    "repeat_spread",
    "task_metric",
    "task_value",
    "task_change",
)
#: a model's task metric on a loaded runtime: Runner -> {"task_metric": name, "task_value": value}
TaskMetric = Callable[[Runner], dict[str, Any]]
#: a builder of a network whose code lives outside ``onboard``: (size_px, seed) -> Network
NetworkBuilder = Callable[[int, int], Network]


def parse_list(text: str, known, what: str) -> tuple[str, ...]:
    """``"a,b"`` -> ("a", "b"), each checked against ``known``.

    >>> parse_list("aliked, unet", MODELS, "model")
    ('aliked', 'unet')
    """
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    if not items:
        raise InputError(f"`{what}s`: empty list; expected some of {', '.join(sorted(known))}")
    for s in items:
        if s not in known:
            raise InputError(f"`{what}s` {s!r}: unknown {what}; expected one of {', '.join(sorted(known))}")
    return items


def parse_counts(text: str, what: str) -> tuple[int, ...]:
    """``"1,2"`` -> (1, 2): positive integers, in the given order, no repeats.

    >>> parse_counts("1, 2,4", "threads")
    (1, 2, 4)
    """
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    try:
        counts = tuple(int(s) for s in items)
    except ValueError:
        raise InputError(f"`{what}` {text!r}: expected comma-separated positive integers") from None
    if not counts or any(c < 1 for c in counts) or len(set(counts)) != len(counts):
        raise InputError(f"`{what}` {text!r}: expected comma-separated positive integers, each once")
    return counts


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...] = ("aliked", "unet", "pose")
    runtimes: tuple[str, ...] = ("torch", "ort", "ort-int8")
    threads: tuple[int, ...] = (1,)  # every combination is measured at each of these thread counts
    batches: tuple[int, ...] = (1,)  # throughput measured at each batch size; the best one reported
    repeats: int = 20
    warmup: int = 3
    size_px: int = 256
    seed: int = 0
    bitflip_bits: int = 1
    bitflip_trials: int = 10
    bitflip_threshold: float = 0.01
    input: str = "sample"  # "sample": a crop of the bundled Meteor frame; "synthetic": smooth noise

    def __post_init__(self) -> None:  # a single count is accepted as ``threads=2``
        if isinstance(self.threads, int):
            object.__setattr__(self, "threads", (self.threads,))
        if isinstance(self.batches, int):
            object.__setattr__(self, "batches", (self.batches,))

    def check(self) -> None:
        """Raises InputError on an unknown model or runtime or a count out of range."""
        for m in self.models:
            if m not in MODELS:
                raise InputError(f"`models` {m!r}: unknown model; expected one of {', '.join(sorted(MODELS))}")
        for r in self.runtimes:
            if r not in RUNTIMES:
                raise InputError(f"`runtimes` {r!r}: unknown runtime; expected one of {', '.join(sorted(RUNTIMES))}")
        if not self.models or not self.runtimes:
            raise InputError("`models` and `runtimes`: expected at least one of each")
        if not self.threads or any(t < 1 for t in self.threads):
            raise InputError(f"`threads` {self.threads}: expected thread counts >= 1")
        if not self.batches or any(b < 1 for b in self.batches):
            raise InputError(f"`batches` {self.batches}: expected batch sizes >= 1")
        if self.repeats < 2 or self.warmup < 0:
            raise InputError(f"`repeats` {self.repeats}: expected >= 2 (and `warmup` >= 0)")
        if self.bitflip_trials < 0 or self.bitflip_bits < 1 or not self.bitflip_threshold > 0:
            raise InputError("`bitflip_trials`, `bitflip_bits`, `bitflip_threshold`: expected >= 0, >= 1 and > 0")
        if self.input not in ("sample", "synthetic"):
            raise InputError(f"`input` {self.input!r}: expected sample or synthetic")
        if self.size_px < 32 or self.size_px % 32:
            raise InputError(f"`size_px` {self.size_px}: expected a positive multiple of 32")


@dataclass
class BenchResult:
    config: BenchConfig
    rows: list[dict] = field(default_factory=list)
    bitflip: dict[str, dict] = field(default_factory=dict)


def _row(model: str, runtime: str, status: str, threads: int) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(model=model, runtime=runtime, precision=RUNTIMES[runtime], status=status, threads=threads)
    return row


def _throughput(runner, x: np.ndarray, batches: tuple[int, ...], p50_ms: float, repeats: int) -> dict[str, Any]:
    """Images per second at batch 1 (from the p50 latency) and at each larger batch (the input
    repeated, one warm-up run, the median of ``max(3, repeats // 4)`` runs); the best batch."""
    best_b, best = 1, 1e3 / p50_ms
    for b in sorted(set(batches) - {1}):
        xb = np.ascontiguousarray(np.repeat(x, b, axis=0))
        runner.run(xb)
        times = []
        for _ in range(max(3, repeats // 4)):
            t0 = time.perf_counter()
            runner.run(xb)
            times.append(time.perf_counter() - t0)
        ips = b / float(np.median(times))
        if ips > best:
            best_b, best = b, ips
    return {"throughput_b1_ips": 1e3 / p50_ms, "best_batch": best_b, "throughput_best_ips": best}


def _measure(runner, x: np.ndarray, ref: list[np.ndarray], warmup: int, repeats: int) -> dict[str, Any]:
    for _ in range(warmup):
        runner.run(x)
    times, cpu, outs = [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = runner.run(x)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        outs.append(out)
    first = outs[0]
    identical = all(all(np.array_equal(a, b) for a, b in zip(first, o)) for o in outs[1:])
    spread = max(output_drift(first, o)[0] for o in outs[1:])
    drift_abs, drift_rel = output_drift(ref, first)
    ms = np.asarray(times) * 1e3
    return {
        "latency_p50_ms": float(np.percentile(ms, 50)),
        "latency_p95_ms": float(np.percentile(ms, 95)),
        "cpu_p50_ms": float(np.median(cpu)) * 1e3,
        "load_s": runner.load_s,
        "size_mb": runner.size_bytes / 1e6,
        "drift_max_abs": drift_abs,
        "drift_rel": drift_rel,
        "repeat_identical": identical,
        "repeat_spread": spread,
    }


def run_bench(
    config: BenchConfig,
    progress: Callable[[str, int, int], None] | None = None,
    example: np.ndarray | None = None,
    builders: Mapping[str, NetworkBuilder] | None = None,
    tasks: Mapping[str, TaskMetric] | None = None,
) -> BenchResult:
    """Measure every combination of ``config`` on ``example`` (1 x 1 x S x S float32; default a
    crop of the bundled Meteor frame, or the network's synthetic input when ``config.input`` is
    ``"synthetic"``; a network built with ``own_example`` always runs on its own example); the ONNX
    files live in a temporary folder. Static int8 is calibrated on crops of the bundled ``apl``
    photos, or on the network's own ``calibration`` inputs.

    ``builders``: model name -> builder, for networks whose code lives in another capability (the
    command-line layer hands them in); ``tasks``: model name -> its task metric, run on every loaded
    runtime (``task_metric``, ``task_value``; ``task_change`` is the value less fp32 PyTorch's)."""
    import torch

    config.check()
    threads_before = torch.get_num_threads()
    try:
        from cupola.onboard.scene import task_accuracy

        own: dict[str, TaskMetric] = {"scene": task_accuracy}
        return _run(config, progress, example, builders or {}, {**own, **(tasks or {})})
    finally:
        torch.set_num_threads(threads_before)  # the runtimes set it; the caller's setting comes back


def _run(config: BenchConfig, progress, example: np.ndarray | None, builders, tasks) -> BenchResult:
    import torch

    result = BenchResult(config)
    steps = len(config.models) * len(config.runtimes) * len(config.threads)
    done = 0
    with tempfile.TemporaryDirectory(prefix="cupola-onboard-") as tmp:
        for model in config.models:
            try:
                builder = builders.get(model)
                net = (
                    builder(config.size_px, config.seed)
                    if builder
                    else build_network(model, config.size_px, config.seed)
                )
            except NetworkUnavailable as exc:
                for threads in config.threads:
                    for rt in config.runtimes:
                        result.rows.append(_row(model, rt, f"unavailable: {exc}", threads))
                done += len(config.runtimes) * len(config.threads)
                if progress:
                    progress("bench", done, steps)
                continue
            torch.set_num_threads(config.threads[0])
            if net.own_example:
                x = net.example.numpy()
            elif example is not None:
                x = np.ascontiguousarray(example, np.float32)
            elif config.input == "sample":
                x = evaluation_crop(config.size_px, config.seed)
            else:
                x = net.example.numpy()
            if x.shape != tuple(net.example.shape):
                raise InputError(f"`example`: shape {x.shape}, expected {tuple(net.example.shape)}")
            tx = torch.from_numpy(x)
            with torch.inference_mode():
                out = net.module(tx)
            ref = [o.numpy().copy() for o in (out if isinstance(out, tuple | list) else (out,))]
            onnx_path = Path(tmp) / f"{model}.onnx"
            rows: list[dict] = []
            for threads in config.threads:
                torch.set_num_threads(threads)
                group: list[dict] = []
                for rt in config.runtimes:
                    if not runtime_available(rt):
                        group.append(_row(model, rt, "not installed", threads))
                    else:
                        row = _row(model, rt, "ok", threads)
                        try:
                            if rt not in EAGER and net.prepare is None and not onnx_path.exists():
                                export_onnx(
                                    net.module, net.example, onnx_path, net.output_names, max(config.batches) > 1
                                )
                            calibration = None
                            if rt in CALIBRATED:
                                calibration = net.calibration or calibration_crops(config.size_px, seed=config.seed)
                            tracked = reset_peak_rss()
                            rss0 = rss_bytes()
                            runner = (
                                net.prepare(rt, threads)
                                if net.prepare is not None and rt != "torch"
                                else prepare(rt, net.module, onnx_path, threads, calibration)
                            )
                            row.update(_measure(runner, x, ref, config.warmup, config.repeats))
                            # the peak of loading and the batch-1 runs (before the larger batches)
                            peak = peak_rss_bytes() if tracked else None
                            if peak is not None and rss0 is not None:
                                # Linux's resident-page counts are approximate (per-CPU or per-thread parts
                                # folded in lazily): the mark can read a few pages below the starting size
                                # (-0.02 MB seen); the peak of an interval is never below its start
                                peak = max(peak, rss0)
                                row["peak_rss_mb"] = peak / 1e6
                                row["peak_rss_delta_mb"] = (peak - rss0) / 1e6
                            batches = config.batches if net.batchable else (1,)
                            row.update(_throughput(runner, x, batches, row["latency_p50_ms"], config.repeats))
                            if model in tasks:
                                row.update(tasks[model](runner))
                            del runner
                        except Unsupported as exc:  # a precision this device does not run
                            row["status"] = f"unsupported: {exc}"
                        except Exception as exc:  # a runtime that fails is a row, not a crash
                            row["status"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                        group.append(row)
                    done += 1
                    if progress:
                        progress("bench", done, steps)
                base = next((r for r in group if r["runtime"] == "torch" and r["status"] == "ok"), None)
                for r in group:
                    if base and r["status"] == "ok":
                        r["speedup_vs_torch"] = base["latency_p50_ms"] / r["latency_p50_ms"]
                        if r["cpu_p50_ms"] > 0:
                            r["cpu_speedup_vs_torch"] = base["cpu_p50_ms"] / r["cpu_p50_ms"]
                        if r["task_value"] is not None and base["task_value"] is not None:
                            r["task_change"] = r["task_value"] - base["task_value"]
                rows += group
            result.rows.extend(rows)
            if config.bitflip_trials:
                rep = bitflip_trials(
                    net.module,
                    tx,
                    bits=config.bitflip_bits,
                    trials=config.bitflip_trials,
                    threshold=config.bitflip_threshold,
                    seed=config.seed + 1,
                )
                result.bitflip[model] = {
                    "bits": rep.bits,
                    "trials": rep.trials,
                    "threshold_rel": rep.threshold,
                    "exceeded": rep.exceeded,
                    "tolerance": rep.tolerance,
                    "drifts_rel": rep.drifts,
                }
    return result
