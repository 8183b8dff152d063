"""``cupola lightning lis``: an ISS LIS science file as flashes (CSV, GeoJSON), a map and a summary;
with its background file, the background images georeferenced by cupola against the file's corners."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from cupola.io.staging import json_safe, staged_output
from cupola.lightning.lis import (
    LIS_FILE_HEIGHT_M,
    LisScience,
    georeference_backgrounds,
    georeference_events,
    read_lis_background,
    read_lis_science,
)
from cupola.plot.lightning import write_lis_map

__all__ = ["write_lis_products"]

FLASH_COLUMNS = ["flash_id", "time_utc", "lat", "lon", "radiance_uJ_sr_m2_um", "footprint_km2", "duration_s", "groups"]


def _iso(t) -> str:
    return np.datetime_as_string(np.datetime64(t, "us"), unit="us") + "Z"


def _flash_rows(sc: LisScience):
    f = sc.flashes
    for k in np.argsort(f.time, kind="stable"):
        yield {
            "flash_id": int(f.address[k]),
            "time_utc": _iso(f.time[k]),
            "lat": round(float(f.lat_deg[k]), 5),
            "lon": round(float(f.lon_deg[k]), 5),
            "radiance_uJ_sr_m2_um": float(f.radiance[k]),
            "footprint_km2": float(f.footprint_km2[k]),
            "duration_s": float(f.duration_s[k]) if f.duration_s is not None else "",
            "groups": int(f.child_count[k]) if f.child_count is not None else "",
        }


def write_lis_products(science_path, out_dir, *, background_path=None, height_m: float = 0.0) -> list[Path]:
    """Write ``flashes.csv``, ``flashes.geojson``, ``lis_map.png``, ``result.json`` and, with a background
    file, ``backgrounds.csv`` (file and cupola corners, distances) into ``out_dir`` (all or nothing).

    The distances compare cupola's corners with the file's on the file's own surface
    (:data:`~cupola.lightning.lis.LIS_FILE_HEIGHT_M` above the ellipsoid); ``height_m`` is the surface
    of the ``surface_lat``/``surface_lon`` columns."""
    sc = read_lis_science(science_path)
    bg = read_lis_background(background_path) if background_path is not None else None
    rows = list(_flash_rows(sc))
    written: list[Path] = []
    inputs = [science_path] + ([background_path] if background_path is not None else [])
    summary: dict = {
        "schema": "cupola.lightning.lis/1",
        "science_file": str(science_path),
        "orbit": sc.orbit,
        "flashes": len(sc.flashes),
        "groups": len(sc.groups),
        "events": len(sc.events),
        "first_flash_utc": rows[0]["time_utc"] if rows else None,
        "last_flash_utc": rows[-1]["time_utc"] if rows else None,
        "viewed_cells": int(len(sc.view_lat_deg)),
    }
    with staged_output(out_dir, written=written, kind="lis", inputs=inputs) as stage:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FLASH_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        (stage / "flashes.csv").write_text(buf.getvalue(), encoding="utf-8")
        feats = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": json_safe({k: v for k, v in r.items() if k not in ("lat", "lon")}),
            }
            for r in rows
        ]
        (stage / "flashes.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":")) + "\n", encoding="utf-8"
        )
        write_lis_map(
            stage / "lis_map.png",
            view_lonlat=np.column_stack([sc.view_lon_deg, sc.view_lat_deg]),
            view_seconds=sc.view_seconds,
            flash_lonlat=np.column_stack([sc.flashes.lon_deg, sc.flashes.lat_deg]),
            flash_radiance=sc.flashes.radiance,
            title=f"ISS LIS orbit {sc.orbit}: {len(sc.flashes)} flashes "
            f"({len(sc.groups)} groups, {len(sc.events)} events)",
        )
        if sc.platform is not None:
            ev = georeference_events(sc)["error_km"]
            summary["events_check"] = {
                "model": "each event's pixel located by cupola from the science file's one-second records, "
                f"at the file's {LIS_FILE_HEIGHT_M / 1000:g} km surface",
                "median_error_km": float(np.nanmedian(ev)),
                "p90_error_km": float(np.nanpercentile(ev, 90)),
                "max_error_km": float(np.nanmax(ev)),
            }
        if bg is not None:
            # like with like: the file's corners lie LIS_FILE_HEIGHT_M above the ellipsoid; the
            # corners on the user's surface (height_m) are written beside them
            cmp_ = georeference_backgrounds(bg)
            nasa = georeference_backgrounds(bg, frame="nasa")
            surf = georeference_backgrounds(bg, height_m=height_m)
            lines = [
                "image,time_utc,corner,file_lat,file_lon,cupola_lat,cupola_lon,error_km,nasa_frame_error_km,"
                "surface_lat,surface_lon"
            ]
            for i in range(len(bg.time)):
                for c in range(4):
                    fl_, fo_ = bg.corners_lat_lon_deg[i, c]
                    cl, co = cmp_["corners_lat_lon_deg"][i, c]
                    sl, so = surf["corners_lat_lon_deg"][i, c]
                    lines.append(
                        f"{i},{_iso(bg.time[i])},{c + 1},{fl_:.5f},{fo_:.5f},{cl:.5f},{co:.5f},"
                        f"{cmp_['corner_error_km'][i, c]:.3f},{nasa['corner_error_km'][i, c]:.3f},"
                        f"{sl:.5f},{so:.5f}"
                    )
            (stage / "backgrounds.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            per_image = np.nanmedian(cmp_["corner_error_km"], axis=1)
            summary["background"] = {
                "file": str(background_path),
                "images": int(len(bg.time)),
                "height_m": height_m,
                "file_corner_height_m": LIS_FILE_HEIGHT_M,
                "model": "NASA's ISS LIS lens (laboratory polynomial) and mounting, the file's transform matrix "
                "(station -> LVLH), cupola's LVLH of the inertial state and WGS84 surface; compared at "
                "the file's corner height",
                "median_corner_error_km": float(np.nanmedian(cmp_["corner_error_km"])),
                "per_image_corner_error_km_p10_p50_p90": [float(v) for v in np.nanpercentile(per_image, [10, 50, 90])],
                "max_corner_error_km": float(np.nanmax(cmp_["corner_error_km"])),
                "median_boresight_error_km": float(np.nanmedian(cmp_["boresight_error_km"])),
                "nasa_frame_median_corner_error_km": float(np.nanmedian(nasa["corner_error_km"])),
            }
        (stage / "result.json").write_text(
            json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
    return written
