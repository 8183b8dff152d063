"""Merging ``result.json`` files of ``cupola onboard bench`` from several machines into one table.

Each file becomes a machine (``m1``, ``m2``, ... in the order given, with its CPU model, cores,
accelerator, library versions and command in ``machines``); every row keeps its columns and gains
``machine``. Speed-ups stay relative to PyTorch on the row's own machine; ``vs_first`` is the
row's p50 latency on the first machine (same model, runtime, precision and thread count) divided by
its own: above 1, this machine is faster.

>>> a = {"version": 1, "processor": {"cpu_model": "A"}, "rows": [
...     {"model": "m", "runtime": "ort", "precision": "fp32", "threads": 1, "latency_p50_ms": 10.0}]}
>>> b = {"version": 1, "processor": {"cpu_model": "B"}, "rows": [
...     {"model": "m", "runtime": "ort", "precision": "fp32", "threads": 1, "latency_p50_ms": 5.0}]}
>>> [(r["machine"], r["vs_first"]) for r in merge_results([a, b])["rows"]]
[('m1', 1.0), ('m2', 2.0)]
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded
from cupola.io.staging import staged_output, write_json
from cupola.onboard.bench import COLUMNS

__all__ = ["MERGED_COLUMNS", "read_result", "merge_results", "write_merged"]

MERGED_COLUMNS = ("machine", *COLUMNS, "vs_first")
_SUMMARY: tuple[str, ...] = ("machine", "model", "runtime", "precision", "threads", "latency_p50_ms")
_SUMMARY += ("speedup_vs_torch", "vs_first", "throughput_best_ips", "best_batch", "drift_rel", "peak_rss_mb", "size_mb")
_SUMMARY += ("task_metric", "task_value", "task_change")


def read_result(path) -> dict:
    """A ``result.json`` of ``cupola onboard bench``; InputError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = read_json_bounded(path, "a result.json of cupola onboard bench")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or "processor" not in data:
        raise InputError(f"{path}: not a result.json of cupola onboard bench (no rows or processor)")
    if data.get("version") != 1:
        raise InputError(f"{path}: result version {data.get('version')!r}, expected 1")
    if not isinstance(data["processor"], dict) or not all(isinstance(r, dict) for r in data["rows"]):
        raise InputError(f"{path}: not a result.json of cupola onboard bench (processor and rows must be objects)")
    task = data.get("task")
    rows = task.get("rows", []) if isinstance(task, dict) else None
    if task is not None and not (isinstance(rows, list) and all(isinstance(t, dict) for t in rows)):
        raise InputError(f"{path}: not a result.json of cupola onboard bench (task must hold a list of rows)")
    return data


def _key(row: dict) -> tuple:
    return (row.get("model"), row.get("runtime"), row.get("precision"), row.get("threads"))


def merge_results(results: list[dict], sources: list[str] | None = None) -> dict:
    """{"machines": [...], "rows": [...], "task": [...]} of ``results`` (at least one)."""
    if not results:
        raise InputError("`results`: nothing to merge")
    sources = sources or [f"result {i + 1}" for i in range(len(results))]
    machines, rows, task = [], [], []
    first: dict[tuple, float] = {}
    for i, (res, src) in enumerate(zip(results, sources)):
        name = f"m{i + 1}"
        proc = res.get("processor") or {}
        machines.append(
            {
                "machine": name,
                "source": src,
                "cpu_model": proc.get("cpu_model"),
                "cores": proc.get("cores"),
                "accelerator": ", ".join(proc.get("accelerators") or []) or "none",
                "libraries": res.get("libraries"),
                "command": res.get("command"),
            }
        )
        for r in res["rows"]:
            row: dict[str, Any] = {c: r.get(c) for c in COLUMNS}
            row["machine"] = name
            p50 = r.get("latency_p50_ms")
            if i == 0 and p50:
                first[_key(r)] = p50
            base = first.get(_key(r))
            row["vs_first"] = base / p50 if base and p50 else None
            rows.append(row)
        for t in (res.get("task") or {}).get("rows", []):
            task.append({"machine": name, **{k: v for k, v in t.items() if k != "per_case"}})
    return {"machines": machines, "rows": rows, "task": task}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def write_merged(merged: dict, out_dir, inputs=()) -> None:
    """merged.csv (every column), merged.md (machines, then the main columns) and merged.json into
    ``out_dir``, all or nothing; ``inputs`` are never replaced."""
    with staged_output(out_dir, "`out_dir`", kind="onboard-merge", inputs=[Path(p) for p in inputs]) as stage:
        with open(Path(stage) / "merged.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(MERGED_COLUMNS), extrasaction="ignore")
            w.writeheader()
            w.writerows(merged["rows"])
        md = ["# cupola onboard: merged results", "", "| machine | CPU | cores | accelerator | source |"]
        md.append("|---|---|---|---|---|")
        for m in merged["machines"]:
            md.append(
                f"| {m['machine']} | {_cell(m['cpu_model'])} | {_cell(m['cores'])} | "
                f"{_cell(m['accelerator'])} | {_cell(m['source'])} |"
            )
        md += ["", "| " + " | ".join(_SUMMARY) + " |", "|" + "---|" * len(_SUMMARY)]
        rows = sorted(merged["rows"], key=lambda r: tuple(str(v) for v in _key(r)) + (r["machine"],))
        md += ["| " + " | ".join(_cell(r.get(c)) for c in _SUMMARY) + " |" for r in rows]
        if merged["task"]:
            cols: tuple[str, ...] = ("machine", "network", "runtime", "status", "success", "cases")
            cols += ("success_unchanged",)
            cols += ("centre_error_km_mean",)
            cols += ("centre_error_change_pct",)
            md += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            md += ["| " + " | ".join(_cell(t.get(c)) for c in cols) + " |" for t in merged["task"]]
        (Path(stage) / "merged.md").write_text("\n".join(md) + "\n")
        write_json(Path(stage) / "merged.json", merged)
