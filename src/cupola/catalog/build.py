"""A static STAC Collection of many cupola product folders, with a thumbnail per item.

Layout of the catalog folder::

    collection.json            the Collection (extent from all items), links to every item
    <id>/<id>.json             one Item per product folder (asset hrefs relative to it)
    <id>/thumbnail.png         at most ``thumbnail_px`` on a side, from quicklook.png or georef.tif
    build_report.json          items built and folders skipped, each with its reason

A folder that is broken (no or unreadable result.json, no footprint, an unreadable COG) is
reported and skipped; the rest are built. Nothing is written when no folder gives an item.
The Items are made with pystac and written as plain JSON (pystac's own ``save`` resolves every
link through its object graph, which is what ``benchmarks/bench_describe.py`` compares with).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cupola.catalog.items import item_id, product_item, read_product
from cupola.catalog.validate import validate_stac
from cupola.errors import InputError
from cupola.io.staging import staged_output

__all__ = ["BuildReport", "build_catalog", "find_product_folders"]


@dataclass
class BuildReport:
    """What :func:`build_catalog` did: item ids, broken folders with reasons, seconds."""

    catalog: Path
    items: list[str] = field(default_factory=list)
    broken: list[dict] = field(default_factory=list)  # {"folder", "reason"}
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "catalog": str(self.catalog),
            "items": len(self.items),
            "broken": self.broken,
            "seconds": round(self.seconds, 3),
        }


def find_product_folders(roots: list[Path]) -> tuple[list[Path], list[dict]]:
    """Product folders under each root: the root itself when it holds result.json, else every
    folder below it that does. A root with none (or missing) is reported as broken."""
    found: list[Path] = []
    broken: list[dict] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            broken.append({"folder": str(root), "reason": "not a folder"})
        elif (root / "result.json").exists():
            found.append(root)
        else:
            below = sorted({p.parent for p in root.rglob("result.json")})
            if below:
                found += below
            else:
                broken.append({"folder": str(root), "reason": "no product folder (no result.json) in it"})
    return found, broken


def _thumbnail(folder: Path, dest: Path, px: int) -> bool:
    from PIL import Image

    q = folder / "quicklook.png"
    if q.is_file():
        with Image.open(q) as im:
            im.thumbnail((px, px))
            im.convert("RGB").save(dest)
        return True
    tif = folder / "georef.tif"
    if tif.is_file():
        import numpy as np
        import rasterio

        with rasterio.open(tif) as ds:
            s = min(1.0, px / max(ds.width, ds.height))
            h, w = max(1, round(ds.height * s)), max(1, round(ds.width * s))
            bands = [1, 2, 3] if ds.count >= 3 else [1]
            a = ds.read(bands, out_shape=(len(bands), h, w)).astype(float)
        lo, hi = np.nanpercentile(a, 1), np.nanpercentile(a, 99)
        a = np.clip((a - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
        img = np.moveaxis(a, 0, -1) if a.shape[0] == 3 else a[0]
        Image.fromarray(img).save(dest)
        return True
    return False


def _links(kind: str, self_href: str, root_href: str) -> list[dict]:
    return [{"rel": "root", "href": root_href, "type": "application/json"}] + (
        [{"rel": "self", "href": self_href, "type": "application/json"}] if kind else []
    )


def build_catalog(
    roots: Sequence[str | Path],
    out_dir: str | Path,
    *,
    collection_id: str = "cupola-products",
    title: str = "cupola products",
    thumbnail_px: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build a static STAC Collection in ``out_dir`` from the product folders in ``roots``
    (``progress(done, total)`` after each folder's item).

    Raises InputError when ``roots`` hold no usable product folder (nothing is written), or when
    ``thumbnail_px`` is not positive."""
    import pystac

    if thumbnail_px < 8:
        raise InputError(f"`thumbnail_px` {thumbnail_px}: expected at least 8")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    report = BuildReport(catalog=out_dir / "collection.json")
    folders, report.broken = find_product_folders([Path(r) for r in roots])
    good: list[tuple[Path, str]] = []
    seen: dict[str, int] = {}
    for f in folders:
        try:
            read_product(f)
        except InputError as e:
            report.broken.append({"folder": str(f), "reason": str(e)})
            continue
        iid = item_id(f)
        if iid in seen:
            seen[iid] += 1
            iid = f"{iid}-{seen[iid]}"
        else:
            seen[iid] = 0
        good.append((f, iid))
    if not good:
        why = "; ".join(f"{b['folder']}: {b['reason']}" for b in report.broken[:3])
        raise InputError(f"no usable cupola product folder among the folders given ({why})")
    final = out_dir.resolve()
    with staged_output(out_dir, "`out_dir`", kind="catalog", inputs=[Path(r) for r in roots]) as stage:
        items: list[dict] = []
        for done, (f, iid) in enumerate(good, 1):
            if progress and done > 1:
                progress(done - 1, len(good))
            (stage / iid).mkdir()
            try:
                thumb = _thumbnail(f, stage / iid / "thumbnail.png", thumbnail_px)
                item = product_item(f.resolve(), final / iid, thumbnail="thumbnail.png" if thumb else None)
            except (InputError, OSError, ValueError) as e:
                report.broken.append({"folder": str(f), "reason": str(e)})
                shutil.rmtree(stage / iid)
                continue
            item.id = iid
            d = item.to_dict(include_self_link=False, transform_hrefs=False)
            d["collection"] = collection_id
            d["links"] = [
                {"rel": "root", "href": "../collection.json", "type": "application/json"},
                {"rel": "parent", "href": "../collection.json", "type": "application/json"},
                {"rel": "collection", "href": "../collection.json", "type": "application/json"},
            ]
            problems = validate_stac(d)  # e.g. a footprint that is no polygon: the item would be invalid
            if problems:
                reason = f"{f / 'result.json'}: its STAC item does not validate ({'; '.join(problems)[:300]})"
                report.broken.append({"folder": str(f), "reason": reason})
                shutil.rmtree(stage / iid)
                continue
            (stage / iid / f"{iid}.json").write_text(json.dumps(d, indent=1))
            items.append(d)
            report.items.append(iid)
        if progress:
            progress(len(good), len(good))
        if not items:
            raise InputError("no product folder gave a STAC item (see the reasons above)")
        xs0 = min(i["bbox"][0] for i in items)
        ys0 = min(i["bbox"][1] for i in items)
        xs1 = max(i["bbox"][2] for i in items)
        ys1 = max(i["bbox"][3] for i in items)
        times = sorted(i["properties"]["datetime"] for i in items)
        extent = pystac.Extent(
            pystac.SpatialExtent([[xs0, ys0, xs1, ys1]]),
            pystac.TemporalExtent([[_dt(times[0]), _dt(times[-1])]]),
        )
        coll = pystac.Collection(collection_id, f"{title}: {len(items)} items built by cupola", extent, title=title)
        cd = coll.to_dict(include_self_link=False, transform_hrefs=False)
        cd["license"] = "other"
        cd["links"] = [{"rel": "root", "href": "./collection.json", "type": "application/json"}] + [
            {"rel": "item", "href": f"./{i['id']}/{i['id']}.json", "type": "application/geo+json"} for i in items
        ]
        (stage / "collection.json").write_text(json.dumps(cd, indent=1))
        report.seconds = time.perf_counter() - t0
        (stage / "build_report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return report


def _dt(s: str) -> datetime:
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
