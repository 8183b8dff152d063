"""The products of a hazard map, written all-or-nothing into ``out_dir``:

- ``hazard_polygons.geojson`` and ``hazard_polygons.gpkg``: one feature per polygon with ``class``,
  ``grade`` (burn severity, change grade, or the class itself: see :mod:`cupola.hazards.grading`),
  ``area_km2`` (equal-area), ``confidence``, ``source``, ``acquisition_time``, ``before_time``, ``method``
  (active fire: also ``frp_mw``, the fire radiative power of the fire, and its FRP category as grade);
- ``change.tif``: the detection score as a cloud-optimized GeoTIFF on the 'after' grid;
- ``confidence.tif``: the per-pixel confidence (0 where no hazard was mapped), COG;
- ``depth.tif`` (a flood with a DEM): the FwDET water depth (m), NaN outside the flood, COG;
- ``frp.tif`` (active fire): fire radiative power (MW) per fire pixel (:mod:`cupola.hazards.frp`), COG;
- ``map.png`` and ``map.pdf``: the one-page map;
- ``stac_item.json``: a STAC 1.0 Item listing these assets;
- ``result.json``: the machine-readable summary (with ``clouds``: each image's cloud mask, its
  source, cloud km² and share, and the km² made no data; with ``affected``: features and people in the
  hazard, when layers were given, see :mod:`cupola.hazards.affected`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cupola.analysis.zonal import pixel_area_km2, transformer
from cupola.hazards.analyse import HazardMap
from cupola.hazards.pair import ImagePair
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json
from cupola.io.zone_layer import ZoneLayer, write_zone_layer

__all__ = ["write_hazard_products", "map_frame", "RESULT_VERSION"]

RESULT_VERSION = 1


def _bounds_lonlat(pair: ImagePair) -> tuple[float, float, float, float]:
    a, _b, c, _d, e, f = pair.transform
    rows, cols = pair.after.shape[1:]
    xs = np.array([c, c + a * cols, c, c + a * cols])
    ys = np.array([f, f, f + e * rows, f + e * rows])
    lon, lat = transformer(pair.crs, "EPSG:4326").transform(xs, ys)
    return (float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat)))


def map_frame(pair: ImagePair) -> dict | None:
    """How to draw the map in the 'after' grid's own CRS when it is projected: ``crs`` (its name
    and code), ``bounds`` (x0, y0, x1, y1) in its units, ``unit_m`` metres per unit and
    ``north_deg``, the direction of true north at the scene centre measured clockwise from grid
    north (the meridian convergence, negated). None for a geographic grid (drawn in lon/lat)."""
    from pyproj import CRS

    crs = CRS.from_user_input(pair.crs)
    if crs.is_geographic:
        return None
    a, _b, c, _d, e, f = pair.transform
    rows, cols = pair.after.shape[1:]
    xs, ys = sorted((c, c + a * cols)), sorted((f, f + e * rows))
    cx, cy = 0.5 * (xs[0] + xs[1]), 0.5 * (ys[0] + ys[1])
    lon, lat = transformer(pair.crs, "EPSG:4326").transform(cx, cy)
    nx, ny = transformer("EPSG:4326", pair.crs).transform(lon, min(lat + 0.01, 89.99))
    north_deg = float(np.degrees(np.arctan2(nx - cx, ny - cy)))
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    epsg = crs.to_epsg()
    name = f"{crs.name} (EPSG:{epsg})" if epsg else crs.name
    return {"crs": name, "bounds": (xs[0], ys[0], xs[1], ys[1]), "unit_m": float(unit), "north_deg": north_deg}


def _stac_item(hmap: HazardMap, bounds: tuple, times: dict, assets: dict[str, str]) -> dict:
    """The STAC 1.0 Item of the products, built and validated in structure by pystac."""
    import pystac
    from pystac.utils import str_to_datetime

    west, south, east, north = bounds
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    when = times.get("after") or times.get("produced")
    media = {".geojson": "application/geo+json", ".gpkg": "application/geopackage+sqlite3", ".png": "image/png",
             ".pdf": "application/pdf", ".tif": "image/tiff; application=geotiff; profile=cloud-optimized"}  # fmt: skip
    item = pystac.Item(
        id=f"cupola-hazards-{hmap.kind}-{(when or '').replace(':', '')}",
        geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=[west, south, east, north],
        datetime=str_to_datetime(when) if when else None,
        properties={
            "cupola:hazard": hmap.kind,
            "cupola:method": hmap.model,
            "cupola:area_km2": float(hmap.polygons.area_km2.sum()),
            "cupola:before_time": times.get("before"),
            "created": times.get("produced"),
        },
    )
    for name, href in assets.items():
        media_type = media.get(Path(href).suffix, "application/octet-stream")
        item.add_asset(name, pystac.Asset(href=href, media_type=media_type, roles=["data"]))
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def _cloud_label(hmap: HazardMap) -> str:
    """The map legend's entry for the masked clouds: their area and the share of each image."""
    c = hmap.clouds
    if c is None:
        return "cloud (no data)"
    shares = ", ".join(f"{w} {100 * c.share[w]:.0f} %" for w in c.applied)
    return f"cloud, no data: {c.km2['no_data']:.3g} km² ({shares})"


def _frp_summary(hmap: HazardMap, pair: ImagePair, top: int = 20) -> dict:
    """Total FRP, and the ``top`` largest hotspots with their FRP (MW) and centre (lon, lat)."""
    from rasterio.transform import Affine

    frp = hmap.frp
    assert frp is not None
    order = np.argsort(frp.hotspot_w)[::-1][:top]
    to_lonlat = transformer(pair.crs, "EPSG:4326")
    spots = []
    for k in order:
        rows, cols = np.nonzero(frp.labels == k + 1)
        x, y = Affine(*pair.transform) * (float(cols.mean()) + 0.5, float(rows.mean()) + 0.5)
        lon, lat = to_lonlat.transform(x, y)
        spots.append({"frp_mw": round(float(frp.hotspot_w[k]) / 1e6, 4), "pixels": int(rows.size),
                      "lon": round(float(lon), 6), "lat": round(float(lat), 6)})  # fmt: skip
    return {
        "method": frp.method,
        "within_factor": round(frp.factor, 3),
        "total_mw": float(frp.hotspot_w.sum()) / 1e6,
        "hotspots": int(frp.hotspot_w.size),
        "largest": spots,
    }


def write_hazard_products(
    hmap: HazardMap,
    pair: ImagePair,
    out_dir: str | Path,
    *,
    inputs: list[Path] | tuple = (),
    times: dict[str, str | None] | None = None,
    write_map: bool = True,
    affected: dict | None = None,
    located: dict | None = None,
) -> dict:
    """Write every product of ``hmap`` into ``out_dir`` (all or nothing); return the summary.
    ``located``: how the 'after' photo was georeferenced (its ``photo``, ``reference``,
    ``confidence``), named in the sources and kept in result.json."""
    from cupola.plot.hazards import display_rgb, write_hazard_map

    produced = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    t = {"before": pair.times.get("before"), "after": pair.times.get("after"), **(times or {}), "produced": produced}
    sources = [f"before: {pair.before_path.name if pair.before_path else '?'}"]
    if located is not None:
        sources.append(
            f"after: {Path(located['photo']).name}, located against {Path(located['reference']).name} by "
            f"{located['method']} (confidence {located['confidence']:.2f})"
        )
    else:
        sources.append(f"after: {pair.after_path.name if pair.after_path else '?'}")
    source_text = "; ".join(sources)
    n = len(hmap.polygons)
    grades = hmap.polygons.grade if hmap.polygons.grade is not None else np.array([hmap.class_name] * n, dtype=object)
    names = hmap.grading.names if hmap.grading is not None else (hmap.class_name,)
    fields = {
        "class": np.array([hmap.class_name] * n, dtype=object),
        "grade": grades,
        "area_km2": np.round(hmap.polygons.area_km2, 6),
        "confidence": np.round(hmap.polygons.confidence, 3),
        "source": np.array([source_text] * n, dtype=object),
        "acquisition_time": np.array([t["after"] or ""] * n, dtype=object),
        "before_time": np.array([t["before"] or ""] * n, dtype=object),
        "method": np.array([hmap.model] * n, dtype=object),
    }
    if hmap.polygons.value_sum is not None and hmap.kind == "fire":
        fields["frp_mw"] = np.round(np.asarray(hmap.polygons.value_sum, dtype=np.float64) / 1e6, 4)
    layer = ZoneLayer(hmap.polygons.geometries, fields, "EPSG:4326")
    bounds = _bounds_lonlat(pair)
    seen = np.isfinite(pair.after).all(axis=0)
    if hmap.clouds is not None:
        seen &= ~hmap.clouds.no_data  # clouds are no data, not "no change"
    score = np.where(seen, hmap.layer.score, np.nan).astype(np.float32)
    files = {
        "polygons_geojson": "hazard_polygons.geojson",
        "polygons_gpkg": "hazard_polygons.gpkg",
        "change_cog": "change.tif",
        "confidence_cog": "confidence.tif",
    }
    if hmap.depth is not None:
        files["depth_cog"] = "depth.tif"
    if hmap.frp is not None:
        files["frp_cog"] = "frp.tif"
    if write_map:
        files.update({"map_png": "map.png", "map_pdf": "map.pdf"})
    summary = {
        "version": RESULT_VERSION,
        "kind": hmap.kind,
        "class": hmap.class_name,
        "method": hmap.model,
        "layer_method": hmap.layer.method,
        "threshold": hmap.layer.threshold,
        "confidence_ceiling": hmap.confidence_ceiling,
        "polygons": n,
        "area_km2": float(hmap.polygons.area_km2.sum()),
        "pixels": int(hmap.layer.mask.sum()),
        "equal_area_crs": hmap.polygons.equal_area_crs,
        "grid": {"crs": pair.crs, "transform": list(pair.transform), "shape": list(pair.after.shape[1:])},
        "bounds_lonlat": list(bounds),
        "bands": sorted(pair.roles, key=lambda r: pair.roles[r]),
        "times": t,
        "sources": sources,
        "files": {**files, "stac_item": "stac_item.json"},
    }
    if hmap.grading is not None:
        summary["grading"] = {
            "method": hmap.grading.method,
            "grades": [
                {
                    "grade": name,
                    "lower_bound": bound,
                    "polygons": int((grades == name).sum()),
                    "area_km2": float(hmap.polygons.area_km2[grades == name].sum()),
                }
                for name, bound in zip(names, hmap.grading.bounds)
            ],
        }
    if hmap.depth is not None:
        shape = hmap.depth.depth_m.shape
        d = hmap.depth.depth_m[np.isfinite(hmap.depth.depth_m)]
        summary["depth"] = {
            "method": hmap.depth.method,
            "mean_m": float(d.mean()) if d.size else None,
            "max_m": float(d.max()) if d.size else None,
            "volume_m3": float(np.nansum(hmap.depth.depth_m * pixel_area_km2(pair.transform, shape, pair.crs) * 1e6)),
        }
    if hmap.frp is not None:
        summary["frp"] = _frp_summary(hmap, pair)
    if hmap.clouds is not None:
        summary["clouds"] = hmap.clouds.summary()
    if affected:
        summary["affected"] = affected
    if located is not None:
        summary["located"] = located
    with staged_output(out_dir, "`out_dir`", kind="hazards", inputs=inputs) as stage:
        write_zone_layer(stage / files["polygons_geojson"], layer, name="hazards")
        write_zone_layer(stage / files["polygons_gpkg"], layer, name="hazards")
        write_cog(stage / files["change_cog"], score, pair.transform, pair.crs, description=hmap.layer.method)
        write_cog(
            stage / files["confidence_cog"], hmap.layer.confidence, pair.transform, pair.crs,
            description="per-pixel confidence of the hazard class (0 = not mapped)",
        )  # fmt: skip
        if hmap.depth is not None:
            write_cog(
                stage / files["depth_cog"], hmap.depth.depth_m, pair.transform, pair.crs,
                description="flood depth (m), FwDET; NaN outside the flood",
            )  # fmt: skip
        if hmap.frp is not None:
            write_cog(
                stage / files["frp_cog"], hmap.frp.frp_w / np.float32(1e6), pair.transform, pair.crs,
                description="fire radiative power (MW) per fire pixel, 0 elsewhere",
            )  # fmt: skip
        if write_map:
            frame = map_frame(pair)
            geoms = hmap.polygons.geometries
            if frame is not None and len(geoms):
                from cupola.analysis.zonal import reproject_geometries

                geoms = reproject_geometries(geoms, "EPSG:4326", pair.crs)
            write_hazard_map(
                [stage / files["map_png"], stage / files["map_pdf"]],
                display_rgb(pair.after, pair.roles),
                bounds,
                geoms,
                kind=hmap.kind,
                frame=frame,
                title=f"{hmap.class_name.capitalize()} {'grading' if len(names) > 1 else 'delineation'} map",
                legend_label=f"{hmap.class_name} (confidence ≤ {hmap.confidence_ceiling:g})",
                total_km2=float(hmap.polygons.area_km2.sum()),
                grade_names=names if len(names) > 1 else None,
                grades=grades,
                sources=sources,
                times=t,
                model=hmap.model,
                no_data=None if hmap.clouds is None else hmap.clouds.no_data,
                no_data_label=_cloud_label(hmap),
            )
        write_json(stage / "stac_item.json", _stac_item(hmap, bounds, t, files))
        write_json(stage / "result.json", summary)
    return summary
