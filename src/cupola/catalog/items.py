"""One cupola product folder as a STAC Item (pystac): footprint geometry and bbox, time, the
projection (``proj:``), view (``view:``) and eo extensions, ``gsd``, and assets for the COG
(georef.tif), the thumbnail, quicklook.png, footprint.geojson and result.json; the text of
``description.txt`` (``cupola describe FOLDER --out FOLDER``) as the Item's ``description``.

Asset hrefs are relative to where the Item JSON will be written (``item_dir``), so a static
catalog can be opened from disk or served as files.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded

__all__ = ["product_item", "read_product", "item_id"]

PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
VIEW = "https://stac-extensions.github.io/view/v1.0.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v2.0.0/schema.json"


def item_id(folder: Path) -> str:
    """A STAC id from a folder name (letters, digits, ``-_.``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name).strip("-") or "product"


def read_product(folder: str | Path) -> dict:
    """The result.json of a product folder, with a footprint; InputError naming what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    p = folder / "result.json"
    if not p.is_file():
        raise InputError(f"{folder}: no result.json (not a cupola product folder)")
    d = read_json_bounded(p, "the result.json of a cupola product")
    if not isinstance(d, dict):
        raise InputError(f"{p}: expected a JSON object")
    if _geometry(d) is None:
        g = _folder_geometry(folder)
        if g is None:
            raise InputError(
                f"{p}: no footprint (field 'footprint' or 'footprint_lonlat', footprint.geojson, or a GeoTIFF)"
            )
        d["footprint"] = g
    if not isinstance(d.get("time_utc"), str) and isinstance(d.get("reference_time_utc"), str):
        d["time_utc"] = d["reference_time_utc"]
    return d


def _folder_geometry(folder: Path) -> dict | None:
    """The footprint of a product whose result.json has none: footprint.geojson (its first
    polygon), else the bounds of the first GeoTIFF in the folder, in lon/lat."""
    fp = folder / "footprint.geojson"
    if fp.is_file():
        try:
            g = json.loads(fp.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            g = None
        if isinstance(g, dict) and g.get("type") == "FeatureCollection" and g.get("features"):
            g = g["features"][0]
        if isinstance(g, dict) and g.get("type") == "Feature":
            g = g.get("geometry")
        if isinstance(g, dict) and g.get("type") in ("Polygon", "MultiPolygon") and g.get("coordinates"):
            return g
    for tif in sorted(folder.glob("*.tif")):
        import rasterio
        from rasterio.warp import transform_bounds

        try:
            with rasterio.open(tif) as ds:
                if ds.crs is None:
                    continue
                w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
        except rasterio.errors.RasterioError:
            continue
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return None


def _geometry(d: dict) -> dict | None:
    g = d.get("footprint")
    if isinstance(g, dict) and g.get("type") in ("Polygon", "MultiPolygon") and g.get("coordinates"):
        return g
    ring = d.get("footprint_lonlat")
    if isinstance(ring, list) and len(ring) >= 3:
        try:
            coords = [[float(x), float(y)] for x, y in ring]
        except (TypeError, ValueError):
            return None
        if coords[0] != coords[-1]:
            coords.append(coords[0])
        return {"type": "Polygon", "coordinates": [coords]}
    return None


def _bbox(g: dict) -> list[float]:
    polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
    xs = [pt[0] for poly in polys for ring in poly for pt in ring]
    ys = [pt[1] for poly in polys for ring in poly for pt in ring]
    return [min(xs), min(ys), max(xs), max(ys)]


def _time(d: dict, result_path: Path) -> tuple[datetime, str]:
    t = d.get("time_utc")
    if isinstance(t, str):
        try:
            dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
            return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)), "result"
        except ValueError:
            pass
    return datetime.fromtimestamp(result_path.stat().st_mtime, timezone.utc), "file"


def _cog_properties(tif: Path) -> dict[str, Any]:
    import rasterio

    with rasterio.open(tif) as ds:
        crs = ds.crs.to_epsg() if ds.crs else None
        return {
            "proj:code": f"EPSG:{crs}" if crs else None,
            "proj:shape": [int(ds.height), int(ds.width)],
            "proj:transform": [float(v) for v in list(ds.transform)[:6]],
            "bands": int(ds.count),
        }


def product_item(folder: str | Path, item_dir: str | Path | None = None, *, thumbnail: str | None = None):
    """The pystac.Item of a product folder. ``item_dir``: where the Item JSON will be written
    (asset hrefs are made relative to it; default the folder itself); ``thumbnail``: href of a
    thumbnail already made for it (relative to ``item_dir``)."""
    import pystac

    folder = Path(folder)
    d = read_product(folder)
    item_dir = Path(item_dir) if item_dir is not None else folder
    geom = _geometry(d)
    assert geom is not None
    dt, time_source = _time(d, folder / "result.json")
    props: dict[str, Any] = {"cupola:kind": "georeference" if "pose" in d else "localization"}
    props["cupola:time_source"] = time_source
    if d.get("photo"):
        props["cupola:photo"] = Path(str(d["photo"])).name
    item = pystac.Item(item_id(folder), geom, _bbox(geom), dt, props)
    ext: list[str] = []
    pose, sun, iss = d.get("pose") or {}, (d.get("sun") or {}).get("at_center") or {}, d.get("iss") or {}
    if pose.get("off_nadir_deg") is not None:
        props["view:off_nadir"] = float(min(90.0, max(0.0, pose["off_nadir_deg"])))
    if sun.get("elevation_deg") is not None:
        props["view:sun_elevation"] = float(sun["elevation_deg"])
    if sun.get("azimuth_deg") is not None:
        props["view:sun_azimuth"] = float(sun["azimuth_deg"]) % 360.0
    if any(k.startswith("view:") for k in props):
        ext.append(VIEW)
    if iss.get("altitude_m") is not None:
        props["cupola:iss_altitude_m"] = float(iss["altitude_m"])
    gsd = d.get("gsd_at_center_m")
    if isinstance(gsd, dict):
        vals = [float(v) for v in gsd.values() if isinstance(v, (int, float)) and v > 0]
        if vals:
            props["gsd"] = sum(vals) / len(vals)
    if d.get("confidence") is not None:
        props["cupola:confidence"] = float(d["confidence"])
    desc = folder / "description.txt"  # written by `cupola describe FOLDER --out FOLDER`
    if desc.is_file():
        try:
            text = desc.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{desc}: not readable text ({e})") from None
        if text:
            props["description"] = text

    def rel(p: Path) -> str:
        return Path(os.path.relpath(p, item_dir)).as_posix()

    tif = folder / "georef.tif"
    if tif.is_file():
        try:
            cog = _cog_properties(tif)
        except Exception as e:  # a broken COG is reported, the item keeps its other assets
            raise InputError(f"{tif}: not a readable GeoTIFF ({e})") from None
        nb = cog.pop("bands")
        asset = pystac.Asset(
            rel(tif),
            title="Georeferenced image (COG, EPSG:4326)",
            roles=["data"],
            media_type=pystac.MediaType.COG,
        )
        asset.extra_fields.update({k: v for k, v in cog.items() if k != "proj:code" and v is not None})
        names = ["red", "green", "blue"] if nb == 3 else [f"b{i + 1}" for i in range(nb)]
        asset.extra_fields["bands"] = [{"name": n, **({"eo:common_name": n} if nb == 3 else {})} for n in names]
        item.add_asset("image", asset)
        props["proj:code"] = cog["proj:code"]
        ext += [PROJ, EO]
    if thumbnail:
        item.add_asset(
            "thumbnail",
            pystac.Asset(thumbnail, title="Thumbnail", roles=["thumbnail"], media_type=pystac.MediaType.PNG),
        )
    for name, media, role, title in (
        ("quicklook.png", pystac.MediaType.PNG, "overview", "Quicklook"),
        ("footprint.geojson", pystac.MediaType.GEOJSON, "metadata", "Footprint"),
        ("result.json", pystac.MediaType.JSON, "metadata", "cupola result"),
        ("description.json", pystac.MediaType.JSON, "metadata", "cupola description"),
        ("matches.png", pystac.MediaType.PNG, "overview", "Matches"),
    ):
        if (folder / name).is_file():
            item.add_asset(
                name.split(".")[0], pystac.Asset(rel(folder / name), title=title, roles=[role], media_type=media)
            )
    item.stac_extensions = sorted(set(ext))
    return item
