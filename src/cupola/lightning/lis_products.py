"""``cupola lightning lis``: an ISS LIS science file as flashes (CSV, GeoJSON), a map and a summary;
with its background file, the background images georeferenced by cupola against the file's corners."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from cupola.io.staging import json_safe, staged_output
from cupola.lightning.lis import (FITTED_ALIGNMENT_ROTVEC_DEG, FITTED_FOV_DEG, LIS_FOV_DEG, LisScience,
                                  georeference_backgrounds, read_lis_background, read_lis_science)
from cupola.plot.lightning import write_lis_map

__all__ = ["write_lis_products"]

FLASH_COLUMNS = ["flash_id", "time_utc", "lat", "lon", "radiance_uJ_sr_m2_um", "footprint_km2", "duration_s",
                 "groups"]


def _iso(t) -> str:
    return np.datetime_as_string(np.datetime64(t, "us"), unit="us") + "Z"


def _flash_rows(sc: LisScience):
    f = sc.flashes
    for k in np.argsort(f.time, kind="stable"):
        yield {"flash_id": int(f.address[k]), "time_utc": _iso(f.time[k]), "lat": round(float(f.lat_deg[k]), 5),
               "lon": round(float(f.lon_deg[k]), 5), "radiance_uJ_sr_m2_um": float(f.radiance[k]),
               "footprint_km2": float(f.footprint_km2[k]),
               "duration_s": float(f.duration_s[k]) if f.duration_s is not None else "",
               "groups": int(f.child_count[k]) if f.child_count is not None else ""}


def write_lis_products(science_path, out_dir, *, background_path=None, height_m: float = 0.0) -> list[Path]:
    """Write ``flashes.csv``, ``flashes.geojson``, ``lis_map.png``, ``result.json`` and, with a background
    file, ``backgrounds.csv`` (file and cupola corners, distances) into ``out_dir`` (all or nothing)."""
    sc = read_lis_science(science_path)
    bg = read_lis_background(background_path) if background_path is not None else None
    rows = list(_flash_rows(sc))
    written: list[Path] = []
    inputs = [science_path] + ([background_path] if background_path is not None else [])
    summary: dict = {"schema": "cupola.lightning.lis/1", "science_file": str(science_path), "orbit": sc.orbit,
                     "flashes": len(sc.flashes), "groups": len(sc.groups), "events": len(sc.events),
                     "first_flash_utc": rows[0]["time_utc"] if rows else None,
                     "last_flash_utc": rows[-1]["time_utc"] if rows else None,
                     "viewed_cells": int(len(sc.view_lat_deg))}
    with staged_output(out_dir, written=written, kind="lis", inputs=inputs) as stage:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FLASH_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        (stage / "flashes.csv").write_text(buf.getvalue(), encoding="utf-8")
        feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                  "properties": json_safe({k: v for k, v in r.items() if k not in ("lat", "lon")})} for r in rows]
        (stage / "flashes.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                                                          separators=(",", ":")) + "\n", encoding="utf-8")
        write_lis_map(stage / "lis_map.png", view_lonlat=np.column_stack([sc.view_lon_deg, sc.view_lat_deg]),
                      view_seconds=sc.view_seconds,
                      flash_lonlat=np.column_stack([sc.flashes.lon_deg, sc.flashes.lat_deg]),
                      flash_radiance=sc.flashes.radiance,
                      title=f"ISS LIS orbit {sc.orbit}: {len(sc.flashes)} flashes "
                            f"({len(sc.groups)} groups, {len(sc.events)} events)")
        if bg is not None:
            nominal = georeference_backgrounds(bg, height_m=height_m, fov_deg=LIS_FOV_DEG)
            fitted = georeference_backgrounds(bg, height_m=height_m, fov_deg=FITTED_FOV_DEG,
                                              alignment_rotvec_deg=FITTED_ALIGNMENT_ROTVEC_DEG)
            lines = ["image,time_utc,corner,file_lat,file_lon,cupola_lat,cupola_lon,error_km,fitted_error_km"]
            for i in range(len(bg.time)):
                for c in range(4):
                    fl_, fo_ = bg.corners_lat_lon_deg[i, c]
                    cl, co = nominal["corners_lat_lon_deg"][i, c]
                    lines.append(f"{i},{_iso(bg.time[i])},{c + 1},{fl_:.5f},{fo_:.5f},{cl:.5f},{co:.5f},"
                                 f"{nominal['corner_error_km'][i, c]:.3f},{fitted['corner_error_km'][i, c]:.3f}")
            (stage / "backgrounds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary["background"] = {
                "file": str(background_path), "images": int(len(bg.time)), "height_m": height_m,
                "model": f"pinhole 128x128, {LIS_FOV_DEG:g} deg field of view, the file's transform matrix "
                         "(instrument -> LVLH of the inertial state), cupola's LVLH and ellipsoid",
                "median_corner_error_km": float(np.nanmedian(nominal["corner_error_km"])),
                "median_boresight_error_km": float(np.nanmedian(nominal["boresight_error_km"])),
                "fitted_alignment_rotvec_deg": list(FITTED_ALIGNMENT_ROTVEC_DEG), "fitted_fov_deg": FITTED_FOV_DEG,
                "fitted_median_corner_error_km": float(np.nanmedian(fitted["corner_error_km"])),
            }
        (stage / "result.json").write_text(json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n",
                                           encoding="utf-8")
    return written
