"""Writing a benchmark run: results.csv, results.md, latency_drift.png and result.json, all or nothing."""

from __future__ import annotations

import csv
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cupola.io.staging import staged_output, write_json
from cupola.onboard.bench import COLUMNS, BenchResult
from cupola.onboard.processor import library_versions, processor_info
from cupola.plot.onboard import write_latency_drift

__all__ = ["RESULT_VERSION", "write_bench_products", "markdown_table"]

RESULT_VERSION = 1


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (empty cells where nothing was measured)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r[c]).replace("|", "/") for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


TASK_COLUMNS = (
    "network",
    "runtime",
    "status",
    "cases",
    "success",
    "success_unchanged",
    "centre_error_km_mean",
    "centre_error_change_pct",
    "centre_error_change_abs_max_pct",
    "centre_shift_km_max",
    "shapes_exported",
    "cpu_s",
)


def task_table(task: dict) -> str:
    """The localization rows (ALIKED's backbone or LightGlue per runtime) as a Markdown table."""
    lines = ["| " + " | ".join(TASK_COLUMNS) + " |", "|" + "---|" * len(TASK_COLUMNS)]
    lines += ["| " + " | ".join(_cell(r.get(c)).replace("|", "/") for c in TASK_COLUMNS) + " |" for r in task["rows"]]
    return "\n".join(lines) + "\n"


def write_bench_products(result: BenchResult, out_dir, command: str, task: dict | None = None) -> dict:
    """Write the run into ``out_dir`` (staged: a failure leaves the folder as it was); returns the
    summary written as result.json. ``task``: the localization drift (``task.csv`` and a table)."""
    summary: dict[str, Any] = {
        "version": RESULT_VERSION,
        "command": command,
        "config": asdict(result.config),
        "processor": processor_info(),
        "libraries": library_versions(),
        "rows": result.rows,
        "bitflip": result.bitflip,
        "task": task,
    }
    with staged_output(out_dir, "`out_dir`", kind="onboard") as stage:
        with open(Path(stage) / "results.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            w.writeheader()
            w.writerows([{c: _cell(r[c]) if isinstance(r[c], bool) else r[c] for c in COLUMNS} for r in result.rows])
        md = ["# cupola onboard bench", "", f"`{command}`", "", f"CPU: {summary['processor']['cpu_model']}", ""]
        md.append(markdown_table(result.rows))
        if result.bitflip:
            md += ["", "| model | bits flipped | trials | drift > threshold | tolerance |", "|---|---|---|---|---|"]
            for m, b in result.bitflip.items():
                over = f"{b['exceeded']} (> {b['threshold_rel']:g})"
                md.append(f"| {m} | {b['bits']} | {b['trials']} | {over} | {b['tolerance']:.3g} |")
        if task:
            title = "Localization with ALIKED's backbone or LightGlue per runtime"
            md += ["", f"## {title} (network: the one run in the row's runtime; cases: {', '.join(task['cases'])})", ""]
            md.append(task_table(task))
            with open(Path(stage) / "task.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(TASK_COLUMNS), extrasaction="ignore")
                w.writeheader()
                w.writerows(task["rows"])
            if task.get("bitflip"):
                b = task["bitflip"]
                md += [
                    "",
                    f"Bit flips ({b['bits']} bit, {b['trials']} trials): {b['broken']} changed the "
                    f"localization success; tolerance {b['tolerance']:.3g}",
                ]
        (Path(stage) / "results.md").write_text("\n".join(md) + "\n")
        write_latency_drift(Path(stage) / "latency_drift.png", result.rows)
        write_json(Path(stage) / "result.json", summary)
    return summary
