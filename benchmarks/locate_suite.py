"""Run the localization robustness suite (``cupola.simulate.locate_cases``) and summarise it.

Used by ``bench_locate.py``; also runnable alone to inspect or re-choose thresholds:

    .venv/bin/python benchmarks/locate_suite.py [--log rows.json] [--only FACTOR] [--set name=value ...]
        [--every-wrong]

(a tuple setting as comma-separated numbers: ``--set photo_ladder_px=256,512``)
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "src" / "cupola" / "data" / "samples" / "apl"
SUCCESS_KM = 5.0  # the held-out measure: centre within 5 km


def run(options=None, only: str | None = None, log=None, verbose: bool = True, every_wrong: bool = False) -> list[dict]:
    from pyproj import Geod

    from cupola.locate.localize import Localizer, LocateOptions
    from cupola.simulate.locate_cases import build_suite

    base = options or LocateOptions()
    true_cases, wrong = build_suite(CASES, every_wrong=every_wrong)
    cases = [c for c in true_cases + wrong if only is None or c.variant.factor == only]
    g = Geod(ellps="WGS84")
    rows = []
    for c in cases:
        loc = Localizer(replace(base, focal_mm=c.focal_mm))
        t0 = time.perf_counter()
        res = loc.locate(c.photo, [c.reference])
        sec = time.perf_counter() - t0
        err = None
        if res.center_lonlat is not None and c.truth_center_lonlat is not None:
            err = g.inv(*res.center_lonlat, *c.truth_center_lonlat)[2] / 1000.0
        ok = (res.matched and err is not None and err <= SUCCESS_KM) if c.truth_center_lonlat else not res.matched
        row = {
            "case": c.name,
            "factor": c.variant.factor,
            "label": c.variant.label,
            "expected": c.truth_center_lonlat is not None,
            "matched": res.matched,
            "correct": bool(ok),
            "center_error_km": err,
            "seconds": sec,
            "inliers_first_pass": res.inliers_first_pass,
            "inliers": res.inliers,
            "spread": res.inlier_spread,
            "ratio": res.inlier_ratio,
            "reason": res.reason,
            "timings_s": res.timings_s,
            "iterations": res.iterations,  # each coregistration: inliers, ratio, outline shift, start
            "ground_width_m": res.ground_width_m,
            "truth_width_m": c.truth_width_m,
        }
        rows.append(row)
        if verbose:
            e = "" if err is None else f" err {err:.2f} km"
            print(
                f"# {'ok ' if ok else 'BAD'} {c.name}: {'matched' if res.matched else 'rejected'}{e}, "
                f"{res.inliers} inl (first {res.inliers_first_pass}), {sec:.1f} s; {res.reason[:80]}",
                flush=True,
            )
        if log:
            Path(log).write_text(json.dumps(rows, indent=1, default=float))
    return rows


def summary(rows: list[dict]) -> dict:
    import numpy as np

    by = defaultdict(list)
    for r in rows:
        if r["expected"]:
            by[r["factor"]].append(r["correct"])
    true_rows = [r for r in rows if r["expected"]]
    wrong_rows = [r for r in rows if not r["expected"]]
    secs = [r["seconds"] for r in rows]
    return {
        "per_factor": {k: (sum(v), len(v)) for k, v in by.items()},
        "success_pct": 100.0 * sum(r["correct"] for r in true_rows) / len(true_rows) if true_rows else float("nan"),
        "false_accepts": sum(r["matched"] for r in wrong_rows),
        "wrong_pairs": len(wrong_rows),
        # how near the wrong pairs came to the acceptance (min_inliers and min_inlier_ratio)
        "wrong_max_inliers": max((r["inliers"] for r in wrong_rows), default=0),
        "wrong_max_ratio": max((r["ratio"] for r in wrong_rows), default=0.0),
        "median_s": float(np.median(secs)) if secs else float("nan"),
        "max_s": float(np.max(secs)) if secs else float("nan"),
        "median_true_s": float(np.median([r["seconds"] for r in true_rows])) if true_rows else float("nan"),
    }


def main(argv):
    import argparse

    from cupola.locate.localize import LocateOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--only")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument(
        "--every-wrong",
        action="store_true",
        help="also every varied photo against every other place's reference (207 more wrong pairs, ~10 min)",
    )
    a = ap.parse_args(argv)
    opts = LocateOptions()
    for kv in a.set:
        k, v = kv.split("=")
        default = getattr(opts, k)
        if v.lower() in ("none", "true", "false"):
            setattr(opts, k, {"none": None, "true": True, "false": False}[v.lower()])
            continue
        if isinstance(default, tuple):  # e.g. photo_ladder_px=256,512
            setattr(opts, k, tuple(int(x) if x.lstrip("-").isdigit() else float(x) for x in v.split(",")))
            continue
        setattr(opts, k, type(default)(v) if default is not None else (int(v) if v.lstrip("-").isdigit() else float(v)))
    rows = run(opts, a.only, a.log, every_wrong=a.every_wrong)
    s = summary(rows)
    for k, (n, m) in s["per_factor"].items():
        print(f"# {k}: {n}/{m}")
    print(json.dumps({k: v for k, v in s.items() if k != "per_factor"}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main(sys.argv[1:])
