"""Catalog runs on dask.distributed: one task per photo, results written as they finish, finished
photos skipped on rerun, failures recorded per photo.

Catalog CSV columns: ``photo``, ``reference`` and optionally ``id``, ``west,south,east,north``
(a plain reference image's bounds), ``nadir_lat,nadir_lon``, ``focal_mm``. Relative paths are
relative to the catalog's folder.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from cupola.errors import InputError

DONE_FILE = "result.json"
FAILED_FILE = "failed.json"


def read_catalog(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such catalog")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"photo", "reference"} <= {c.strip() for c in reader.fieldnames}:
            raise InputError(f"{path}: catalog needs columns photo and reference")
        rows = []
        for i, raw in enumerate(reader):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            for key in ("photo", "reference"):
                p = Path(row[key])
                row[key] = str(p if p.is_absolute() else path.parent / p)
            row["id"] = row.get("id") or Path(row["photo"]).stem
            row["_line"] = i + 2
            rows.append(row)
    if not rows:
        raise InputError(f"{path}: catalog has no rows")
    ids = [r["id"] for r in rows]
    dup = {x for x in ids if ids.count(x) > 1}
    if dup:
        raise InputError(f"{path}: duplicate ids {sorted(dup)[:3]}; add an id column")
    return rows


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def run_one(row: dict, out_dir: str, matcher: str) -> dict:
    """Worker task: localize one catalog row and write its products; never raises."""
    import traceback

    from cupola.io.staging import write_json
    from cupola.locate.job import options_from, run_locate, write_locate_products

    target = Path(out_dir) / _safe(row["id"])
    try:
        torch_threads()
        bounds = None
        if row.get("west"):
            bounds = tuple(float(row[k]) for k in ("west", "south", "east", "north"))
        nadir = (float(row["nadir_lat"]), float(row["nadir_lon"])) if row.get("nadir_lat") else None
        focal = float(row["focal_mm"]) if row.get("focal_mm") else None
        opts = options_from(matcher=matcher, focal_mm=focal, nadir=nadir)
        res, photo, refs = run_locate(row["photo"], row["reference"], bounds=bounds, options=opts)
        write_locate_products(res, photo, refs, target, photo_path=row["photo"], reference_path=row["reference"])
        return {"id": row["id"], "status": "matched" if res.matched else "rejected", "reason": res.reason,
                "seconds": res.seconds}
    except Exception as exc:  # noqa: BLE001 - a failure of one photo is recorded, not fatal
        target.mkdir(parents=True, exist_ok=True)
        write_json(target / FAILED_FILE, {"id": row["id"], "error": f"{type(exc).__name__}: {exc}",
                                          "traceback": traceback.format_exc()})
        return {"id": row["id"], "status": "failed", "reason": str(exc), "seconds": None}


def torch_threads() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # SIFT-only installs
        pass


def run_batch(catalog, out_dir, *, matcher: str = "aliked", scheduler: str | None = None, workers: int | None = None,
              progress=None) -> dict:
    """Run every catalog row not finished yet; returns counts by status."""
    from dask.distributed import Client, LocalCluster, as_completed

    rows = read_catalog(catalog)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = [r for r in rows if not (out / _safe(r["id"]) / DONE_FILE).is_file()]
    counts = {"skipped": len(rows) - len(todo), "matched": 0, "rejected": 0, "failed": 0}
    if not todo:
        return counts
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        import os

        n = workers or max(1, min(len(todo), os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    log = out / "batch_log.jsonl"
    try:
        futures = [client.submit(run_one, r, str(out), matcher, key=f"locate-{_safe(r['id'])}", pure=False)
                   for r in todo]
        done = 0
        for fut in as_completed(futures):
            rec = fut.result()
            counts[rec["status"]] += 1
            with log.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            done += 1
            if progress is not None:
                progress(done, len(todo))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return counts
