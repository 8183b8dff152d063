"""``cupola onboard bench --out DIR``: cupola's networks across inference runtimes and precisions
(thin wrapper over :mod:`cupola.onboard`)."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from cupola.cli import options
from cupola.errors import InputError

onboard_app = typer.Typer(
    help="Onboard inference benchmark: latency, size, drift and bit-flip tolerance per runtime.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(onboard_app, name="onboard")


@onboard_app.command("bench")
def bench_command(
    models: str = typer.Option(
        "aliked,lightglue,unet,pose,scene",
        "--models",
        help="Comma-separated: aliked, aliked-score, lightglue (on a fixed pair of ALIKED feature sets), unet, "
        "pose, scene (the day/night/limb/cloudy classifier).",
    ),
    runtimes: str = typer.Option(
        "default",
        "--runtimes",
        help="Comma-separated: torch, torch-bf16 (autocast; CPUs with AVX512-BF16 or AMX), torch-pieces (LightGlue's "
        "exported pieces in PyTorch eager), ort, ort-fp16, "
        "ort-int8 (dynamic), ort-int8s (static), openvino, openvino-fp16, openvino-bf16, openvino-int8 (NNCF, static); "
        "on an accelerator torch-cuda, torch-cuda-fp16, ort-cuda, ort-cuda-fp16, openvino-gpu, openvino-gpu-fp16. "
        "default: torch,ort,ort-int8, torch-bf16 where the CPU has bf16 arithmetic (AVX512-BF16 or AMX), and every "
        "accelerator runtime whose device is here.",
    ),
    threads: str = typer.Option(
        "1", "--threads", help="Intra-op thread counts, comma-separated: every combination is run at each."
    ),
    batches: str = typer.Option(
        "1,4", "--batches", help="Batch sizes for the throughput, comma-separated (the best is reported)."
    ),
    repeats: int = typer.Option(20, "--repeats", help="Timed runs per combination (after 3 warm-up runs)."),
    size_px: int = typer.Option(256, "--size-px", help="Side of the square one-channel input (multiple of 32)."),
    bitflip_trials: int = typer.Option(10, "--bitflip-trials", help="Fault-injection trials per model (0: off)."),
    bitflip_bits: int = typer.Option(1, "--bitflip-bits", help="Random weight bits flipped per trial."),
    bitflip_threshold: float = typer.Option(
        0.01, "--bitflip-threshold", help="Relative output drift above which a trial counts as broken."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the example input and the bit flips."),
    input_kind: str = typer.Option(
        "sample", "--input", help="sample (a crop of the bundled Meteor frame) or synthetic (smooth noise)."
    ),
    task_cases: str = typer.Option(
        "all",
        "--task-cases",
        help="Cases localized with ALIKED's backbone, and with LightGlue, in each runtime: all (the bundled apl "
        "cases), none, "
        "or comma-separated bundled case names or case folders.",
    ),
    task_bitflip_trials: int = typer.Option(
        0, "--task-bitflip-trials", help="Localization trials with ALIKED weight bits flipped (0: off)."
    ),
    rso_images: int = typer.Option(
        48,
        "--rso-images",
        help="Held-out images rendered by the rso generator for the U-Net's PSNR and the pose network's "
        "median angular error (used when unet or pose is benchmarked).",
    ),
    glue_keypoints: int = typer.Option(
        1024,
        "--glue-keypoints",
        help="ALIKED keypoints per image in LightGlue's fixed pair (the first bundled case's photo at 512 px, "
        "its reference at 1024 px; used when lightglue is benchmarked).",
    ),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Export each network to ONNX once and measure it in every runtime against fp32 PyTorch."""
    from cupola.cli.progress import progress_bar
    from cupola.onboard.bench import BenchConfig, parse_counts, parse_list, run_bench
    from cupola.onboard.networks import MODELS
    from cupola.onboard.products import write_bench_products
    from cupola.onboard.runtimes import RUNTIMES, default_runtimes

    if runtimes.strip() == "default":
        runtimes = ",".join(default_runtimes())
    config = BenchConfig(
        models=parse_list(models, MODELS, "model"),
        runtimes=parse_list(runtimes, RUNTIMES, "runtime"),
        threads=parse_counts(threads, "threads"),
        batches=parse_counts(batches, "batches"),
        repeats=repeats,
        size_px=size_px,
        seed=seed,
        bitflip_bits=bitflip_bits,
        bitflip_trials=bitflip_trials,
        bitflip_threshold=bitflip_threshold,
        input=input_kind,
    )
    config.check()
    from cupola.cli.onboard_rso import rso_builders, rso_tasks
    from cupola.cli.onboard_task import localization_drift, task_case_folders

    with_aliked = any(m.startswith("aliked") for m in config.models)
    cases = task_case_folders(task_cases)  # checked whatever the models: a wrong name is an error, not ignored
    if not (with_aliked or "lightglue" in config.models):
        cases = []
    if task_bitflip_trials < 0:
        raise InputError(f"--task-bitflip-trials {task_bitflip_trials}: expected >= 0")
    if not 1 <= rso_images <= 2000:
        raise InputError(f"--rso-images {rso_images}: expected 1 to 2000")
    if not 2 <= glue_keypoints <= 8192:
        raise InputError(f"--glue-keypoints {glue_keypoints}: expected 2 to 8192")
    from cupola.cli.onboard_lightglue import glue_pair, glue_pieces, lightglue_builders, lightglue_tasks

    builders = {**rso_builders(rso_images), **lightglue_builders(glue_keypoints)}
    tasks = {**rso_tasks(rso_images), **lightglue_tasks(glue_keypoints)}
    with progress_bar(disable=quiet) as advance:
        result = run_bench(config, progress=advance, builders=builders, tasks=tasks)
        task = None
        if cases:
            task = localization_drift(
                config.runtimes if with_aliked else ("torch",),
                cases,
                threads=config.threads[0],
                seed=seed,
                bitflip_trials=task_bitflip_trials,
                bitflip_bits=bitflip_bits,
                progress=advance,
                glue_runtimes=config.runtimes if "lightglue" in config.models else (),
                glue_factory=lambda rt, threads: glue_pieces(rt, threads, glue_pair(glue_keypoints)[0]),
            )
    # the command as run, every option spelled out (so another machine can repeat it exactly)
    command = "cupola onboard bench " + shlex.join(
        [f"--models={models}", f"--runtimes={runtimes}", f"--threads={threads}", f"--batches={batches}"]
        + [f"--repeats={repeats}"]
        + [f"--size-px={size_px}", f"--seed={seed}", f"--input={input_kind}", f"--bitflip-trials={bitflip_trials}"]
        + [f"--bitflip-bits={bitflip_bits}", f"--bitflip-threshold={bitflip_threshold}"]
        + [f"--task-cases={task_cases}", f"--task-bitflip-trials={task_bitflip_trials}"]
        + [f"--rso-images={rso_images}", f"--glue-keypoints={glue_keypoints}", f"--out={out}"]
    )
    write_bench_products(result, out, command, task)
    if not quiet:
        for r in result.rows:
            if r["status"] == "ok":
                print(
                    f"{r['model']:9s} {r['runtime']:13s} {r['precision']:5s} t{r['threads']} p50 "
                    f"{r['latency_p50_ms']:8.2f} ms  x{r['speedup_vs_torch'] or float('nan'):.2f} (CPU "
                    f"x{r['cpu_speedup_vs_torch'] or float('nan'):.2f})  drift "
                    f"{r['drift_rel']:.2e}  {r['throughput_best_ips']:.1f} img/s (batch {r['best_batch']})  "
                    f"peak RSS {_fmt(r['peak_rss_mb'])} MB"
                    + (f"  {r['task_metric']} {r['task_value']:.4g}" if r["task_metric"] else "")
                )
            else:
                print(f"{r['model']:9s} {r['runtime']:13s} {r['status']}")
        for m, b in result.bitflip.items():
            print(f"{m}: bit flips ({b['bits']} bit, {b['trials']} trials) tolerance {b['tolerance']:.2f}")
        for t in task["rows"] if task else []:
            if t["status"] == "ok":
                print(
                    f"locate {t.get('network', ''):16s} {t['runtime']:12s} success {t['success']}/{t['cases']}  "
                    f"centre error {_fmt(t['centre_error_km_mean'])} km  "
                    f"change {_fmt(t.get('centre_error_change_pct'))} %"
                )
            else:
                print(f"locate {t.get('network', ''):16s} {t['runtime']:12s} {t['status']}")
        if task and task["bitflip"]:
            b = task["bitflip"]
            print(f"locate: bit flips ({b['bits']} bit, {b['trials']} trials) tolerance {b['tolerance']:.2f}")
        print(f"-> {out}")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


@onboard_app.command("merge")
def merge_command(
    results: list[Path] = typer.Argument(..., help="result.json files of cupola onboard bench (one per machine)."),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Merge result.json files from several machines into one table (merged.csv, merged.md, merged.json)."""
    from cupola.onboard.merge import merge_results, read_result, write_merged

    data = [read_result(p) for p in results]
    merged = merge_results(data, [str(p) for p in results])
    write_merged(merged, out, inputs=results)
    if not quiet:
        for m in merged["machines"]:
            print(f"{m['machine']}: {m['cpu_model']} ({m['cores']} cores) <- {m['source']}")
        print(f"{len(merged['rows'])} rows -> {out}")
