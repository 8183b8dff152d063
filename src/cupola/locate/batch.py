"""Catalog runs on dask.distributed: one task per photo, results written as they finish, finished
photos skipped on rerun, failures recorded per photo.

Catalog CSV columns: ``photo``, ``reference`` and optionally ``id``, ``west,south,east,north``
(a plain reference image's bounds), ``nadir_lat,nadir_lon``, ``focal_mm``. Instead of
``reference``, a ``reference_dir`` column (or ``run_batch(reference_dir=...)`` for every row)
names a pool of georeferenced tiles searched with no hint which holds the photo
(:mod:`cupola.locate.pool`); give a ``cache_dir`` so the tiles are indexed once for all workers.
Relative paths are relative to the catalog's folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cupola.errors import InputError

DONE_FILE = "result.json"
FAILED_FILE = "failed.json"


def read_catalog(path, reference_dir=None) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such catalog")
    from cupola.io.tables import read_table

    table = read_table(
        path,
        "catalog rows",
        required=("photo",),
        optional=("reference", "reference_dir", "id", "focal_mm", "nadir_lat", "nadir_lon"),
    )
    if not ({"reference", "reference_dir"} & set(table.columns) or reference_dir is not None):
        raise InputError(f"{path}: catalog needs columns photo and reference (or reference_dir, a pool of tiles)")
    rows = []
    for line in table:
        row: dict[str, Any] = {c: line.text(c) for c in table.columns}
        if not row.get("reference") and not row.get("reference_dir") and reference_dir is not None:
            row["reference_dir"] = str(reference_dir)
        if not row.get("reference") and not row.get("reference_dir"):
            raise InputError(f"{path}: line {line.line} has neither a reference nor a reference_dir")
        for key in ("photo", "reference", "reference_dir"):
            if not row.get(key):
                continue
            p = Path(row[key])
            row[key] = str(p if p.is_absolute() else path.parent / p)
        row["id"] = row.get("id") or Path(row["photo"]).stem
        row["_line"], row["_catalog"] = line.line, str(path)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: catalog has no rows")
    ids = [r["id"] for r in rows]
    dup = {x for x in ids if ids.count(x) > 1}
    if dup:
        raise InputError(f"{path}: duplicate ids {sorted(dup)[:3]}; add an id column")
    from cupola.io.names import safe_names

    names, notes = safe_names(ids)  # one folder inside --out per row: no '..', no clashes
    for row, name in zip(rows, names):
        row["_dir"] = name
    rows[0]["_notes"] = notes
    return rows


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


_POOLS: dict = {}  # per worker process: pools already indexed, reused by the next photos


def _pool_for(reference_dir: str, cache_dir: str | None, top_k: int):
    from cupola.locate.cache import FeatureCache
    from cupola.locate.pool import PoolOptions, TilePool

    key = (reference_dir, cache_dir, top_k)
    if key not in _POOLS:
        _POOLS[key] = TilePool(reference_dir, PoolOptions(top_k=top_k), cache=FeatureCache(cache_dir))
    return _POOLS[key]


def run_one(row: dict, out_dir: str, matcher: str, cache_dir: str | None = None, top_k: int = 4) -> dict:
    """Worker task: localize one catalog row and write its products; never raises."""
    import traceback

    from cupola.locate.job import options_from, run_locate, write_locate_products

    target = Path(out_dir) / (row.get("_dir") or _safe(row["id"]))
    try:
        torch_threads()
        bounds = None
        if row.get("west"):
            bounds = tuple(float(row[k]) for k in ("west", "south", "east", "north"))
        nadir = (float(row["nadir_lat"]), float(row["nadir_lon"])) if row.get("nadir_lat") else None
        focal = float(row["focal_mm"]) if row.get("focal_mm") else None
        opts = options_from(matcher=matcher, focal_mm=focal, nadir=nadir)
        if row.get("reference_dir") and not row.get("reference"):
            from cupola.locate.job import read_photo_rgb

            pool = _pool_for(row["reference_dir"], cache_dir, top_k)
            photo = read_photo_rgb(row["photo"])
            pres = pool.locate(photo, opts)
            res = pres.result
            refs = (
                [pres.reference]
                if pres.reference is not None
                else [next(t for t in pool.tiles if t.name == pres.ranking[0]["tile"]).load()]
                if pres.ranking
                else []
            )
            write_locate_products(
                res, photo, refs, target, photo_path=row["photo"], reference_path=row["reference_dir"], pool=pres
            )
        else:
            res, photo, refs = run_locate(row["photo"], row["reference"], bounds=bounds, options=opts)
            write_locate_products(res, photo, refs, target, photo_path=row["photo"], reference_path=row["reference"])
        return {
            "id": row["id"],
            "status": "matched" if res.matched else "rejected",
            "reason": res.reason,
            "seconds": res.seconds,
        }
    except Exception as exc:  # noqa: BLE001 - a failure of one photo is recorded, not fatal
        return record_failure(row, out_dir, f"{type(exc).__name__}: {exc}", traceback.format_exc())


def record_failure(row: dict, out_dir, error: str, trace: str | None = None) -> dict:
    """Write the row's failed.json (as its product set: a later success replaces it) and return
    its log record."""
    from cupola.io.staging import staged_output, write_json

    target = Path(out_dir) / (row.get("_dir") or _safe(row["id"]))
    where = f"{row.get('_catalog', 'catalog')}: line {row.get('_line', '?')}: "
    with staged_output(target) as stage:
        write_json(
            stage / FAILED_FILE, {"id": row["id"], "line": row.get("_line"), "error": where + error, "traceback": trace}
        )
    return {"id": row["id"], "line": row.get("_line"), "status": "failed", "reason": where + error, "seconds": None}


def torch_threads() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # SIFT-only installs
        pass


def run_batch(
    catalog,
    out_dir,
    *,
    matcher: str = "aliked",
    scheduler: str | None = None,
    workers: int | None = None,
    progress=None,
    reference_dir=None,
    cache_dir=None,
    top_k: int = 4,
    task=None,
) -> dict:
    """Run every catalog row not finished yet; returns counts by status. ``reference_dir``: a pool
    of tiles for the rows without a reference; ``cache_dir``: where the pool's index is kept;
    ``task``: what runs one row (default :func:`run_one`, same arguments). A row whose worker
    dies (or that kills its worker again and again) becomes a failed row with the reason."""
    from dask.distributed import Client, LocalCluster, as_completed, wait

    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    rows = read_catalog(catalog, reference_dir)
    cache_dir = None if cache_dir is None else str(Path(cache_dir).resolve())
    if cache_dir is not None and any(r.get("reference_dir") for r in rows):
        # index every pool once here, so the workers find the descriptors in the cache
        from cupola.locate.cache import FeatureCache
        from cupola.locate.job import options_from
        from cupola.locate.pool import PoolOptions, TilePool, localizer_with_cache

        store = FeatureCache(cache_dir)
        localizer = localizer_with_cache(options_from(matcher=matcher), store)  # the tiles' matching features too
        for folder in sorted({r["reference_dir"] for r in rows if r.get("reference_dir") and not r.get("reference")}):
            TilePool(folder, PoolOptions(top_k=top_k), cache=store).build_index(localizer=localizer)
    out = Path(out_dir)
    todo = [r for r in rows if not (out / r["_dir"] / DONE_FILE).is_file()]
    counts = {"skipped": len(rows) - len(todo), "matched": 0, "rejected": 0, "failed": 0}
    if not todo:
        return counts
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(f"`scheduler` {scheduler}: cannot connect ({' '.join(str(exc).split())[:200]})") from None
    else:
        import os

        n = workers or max(1, min(len(todo), os.cpu_count() or 1))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    log = out / "batch_log.jsonl"
    try:
        out.mkdir(parents=True, exist_ok=True)  # once the scheduler is reached: a refused run leaves no folder
        for note in rows[0].get("_notes", []):
            with log.open("a") as f:
                f.write(json.dumps({"note": note}) + "\n")
        futures = {
            client.submit(
                task or run_one, r, str(out), matcher, cache_dir, top_k, key=f"locate-{r['_dir']}", pure=False
            ): r
            for r in todo
        }
        logged: set = set()
        suspects: list = []  # rows whose worker died: maybe theirs, maybe a neighbour's fault

        def finish(fut, retried: bool = False) -> None:
            try:
                rec = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: a row killed its worker
                if not retried:
                    suspects.append(futures[fut])
                    return
                rec = record_failure(
                    futures[fut],
                    out,
                    f"the worker running this photo died again and again "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})",
                )
            logged.add(fut)
            counts[rec["status"]] += 1
            with log.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            if progress is not None:
                progress(len(logged), len(todo))

        try:
            for fut in as_completed(futures):
                finish(fut)
            for row in suspects:  # again, alone: only a row that kills its own worker fails
                fut = client.submit(
                    task or run_one,
                    row,
                    str(out),
                    matcher,
                    cache_dir,
                    top_k,
                    key=f"locate-{row['_dir']}-alone",
                    pure=False,
                )
                futures[fut] = row
                wait([fut])
                finish(fut, retried=True)
        except KeyboardInterrupt:  # log every row that finished before leaving
            for fut in list(futures):
                if fut not in logged and fut.done() and fut.status == "finished":
                    finish(fut)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return counts
