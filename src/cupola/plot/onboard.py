"""The onboard benchmark's figure: latency against output drift, one point per model/runtime.

>>> rows = [{"model": "m", "runtime": "torch", "precision": "fp32", "status": "ok",
...          "latency_p50_ms": 10.0, "drift_rel": 0.0}]
>>> write_latency_drift("lat.png", rows).name
'lat.png'
"""

from __future__ import annotations

import os
from pathlib import Path

from cupola.plot.figure import new_figure, save_figure

__all__ = ["write_latency_drift"]

_MARKERS = "osD^v<>Px*"
_FLOOR = 1e-9  # drift 0 (the fp32 reference itself) drawn at this floor on the log axis


def write_latency_drift(path: str | os.PathLike, rows: list[dict], title: str = "") -> Path:
    """Median latency (ms, log) against relative output drift vs fp32 PyTorch (log, floored at 1e-9);
    markers by model, labels by runtime/precision. Rows whose status is not ``ok`` are skipped."""
    fig = new_figure((6.4, 4.4), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    ok = [r for r in rows if r.get("status") == "ok"]
    models = sorted({r["model"] for r in ok})
    for k, model in enumerate(models):
        pts = [r for r in ok if r["model"] == model]
        xs = [max(float(r["drift_rel"]), _FLOOR) for r in pts]
        ys = [float(r["latency_p50_ms"]) for r in pts]
        ax.scatter(xs, ys, marker=_MARKERS[k % len(_MARKERS)], s=48, label=model)
        for r, x, y in zip(pts, xs, ys):
            ax.annotate(
                f"{r['runtime']} {r['precision']}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"output drift vs fp32 PyTorch (relative L2; 0 drawn at {_FLOOR:g})")
    ax.set_ylabel("latency p50 (ms, batch 1)")
    ax.set_title(title or "onboard inference: latency vs drift")
    ax.grid(True, which="both", alpha=0.3)
    if models:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
