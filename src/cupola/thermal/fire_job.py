"""The job behind ``cupola thermal fire``: a mid-wave and a long-wave band (CTI's 3.3-5.4 and
7.8-10.7 µm; brightness temperature or radiance, on one grid) -> fires and clouds
(:mod:`.fire`), written all or nothing: ``fire.tif`` (confidence 0-1, 0 = no fire, NaN = no data;
COG), ``cloud.tif`` (1 = cloud, COG), ``fires.csv`` (one row per fire pixel: row, col, x, y, lon,
lat, T4, T11, ΔT, confidence, test, pixel area), ``fire.png`` and ``result.json``.
"""

from __future__ import annotations

import os

import numpy as np

from cupola import __version__
from cupola.errors import InputError
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json

__all__ = ["run_fire", "FIRE_SENSORS"]

#: sensor -> (mid-wave band, long-wave band), names of cupola.thermal.sensors.band_response
FIRE_SENSORS = {"cti": ("cti-mwir", "cti-lwir")}


def run_fire(
    mwir_path: str | os.PathLike,
    lwir_path: str | os.PathLike,
    out_dir,
    *,
    sensor: str = "cti",
    night: bool = False,
    water: str | os.PathLike | None = None,
    units: str = "auto",
    scale: float | None = None,
) -> dict:
    """Fires and clouds of a band pair (see the module); returns the summary of ``result.json``."""
    from cupola.analysis.zonal import pixel_area_km2, transformer
    from cupola.io.raster_band import read_raster_band
    from cupola.io.tables import write_records_csv
    from cupola.plot.thermal_fire import write_fire_map
    from cupola.thermal.band_input import check_same_grid, read_brightness
    from cupola.thermal.fire import detect_fires
    from cupola.thermal.planck import BandPlanck
    from cupola.thermal.sensors import band_response

    key = sensor.strip().lower()
    if key not in FIRE_SENSORS:
        raise InputError(f"`sensor` {sensor!r}: unknown; use one of {', '.join(FIRE_SENSORS)}")
    r4, r11 = (band_response(b) for b in FIRE_SENSORS[key])
    b4 = read_brightness(mwir_path, BandPlanck(r4, t_max_k=1500.0), units=units, scale=scale, what="the mid-wave band")
    b11 = read_brightness(lwir_path, BandPlanck(r11), units=units, scale=scale, what="the long-wave band")
    check_same_grid(b4, b11, mwir_path, lwir_path)
    w = None
    if water is not None:
        wb = read_raster_band(water, what="a water mask (GeoTIFF, 1 = water)")
        check_same_grid(b4, wb, mwir_path, water)
        w = np.nan_to_num(wb.values, nan=0.0) > 0.5
    res = detect_fires(b4.bt_k, b11.bt_k, night=night, water=w)
    rows, cols = np.nonzero(res.fire)
    a, b, c, d, e, f = b4.transform
    x = c + a * (cols + 0.5) + b * (rows + 0.5)
    y = f + d * (cols + 0.5) + e * (rows + 0.5)
    crs = b4.crs
    if crs is not None and rows.size:
        lon, lat = transformer(crs, "EPSG:4326").transform(x, y)
    else:
        lon = lat = np.full(rows.shape, np.nan)
    area = (
        np.broadcast_to(pixel_area_km2(b4.transform, b4.shape, crs), b4.shape)
        if crs is not None
        else np.full(b4.shape, np.nan)
    )
    tests = {1: "absolute", 2: "contextual"}
    records = [
        {
            "row": int(r),
            "col": int(q),
            "x": float(xx),
            "y": float(yy),
            "lon": float(lo),
            "lat": float(la),
            "t4_k": float(b4.bt_k[r, q]),
            "t11_k": float(b11.bt_k[r, q]),
            "dt_k": float(res.dt_k[r, q]),
            "confidence": float(res.confidence[r, q]),
            "test": tests[int(res.reason[r, q])],
            "pixel_area_km2": float(area[r, q]),
        }
        for r, q, xx, yy, lo, la in zip(rows, cols, x, y, np.atleast_1d(lon), np.atleast_1d(lat), strict=True)
    ]
    valid = np.isfinite(b4.bt_k) & np.isfinite(b11.bt_k)
    summary: dict = {
        "schema": "cupola.thermal.fire/1",
        "cupola_version": __version__,
        "inputs": {
            "mwir": {"path": str(mwir_path), "units": b4.units, "band": r4.to_dict()},
            "lwir": {"path": str(lwir_path), "units": b11.units, "band": r11.to_dict()},
            "water": str(water) if water is not None else None,
        },
        "sensor": key,
        "algorithm": "contextual fire test after Giglio et al. 2003 (RSE 87, 273-282): absolute T4, candidate T4 "
        "and dT, dT > mean + max(3.5 MAD, 6 K) and T4 > mean + 3 MAD over a 21 px window without clouds or water; "
        "clouds: cold and rough long-wave (Saunders & Kriebel 1988), by day cold and bright in the mid-wave",
        **res.to_dict(),
        "fire_area_km2": float(np.nansum(area[res.fire])) if res.fire.any() else 0.0,
        "valid_fraction": float(valid.mean()),
    }
    conf = np.where(valid, res.confidence, np.nan).astype(np.float32)
    cloud = res.cloud.astype(np.uint8)
    with staged_output(out_dir, kind="thermal-fire", inputs=[mwir_path, lwir_path, water]) as stage:
        write_cog(stage / "fire.tif", conf, b4.transform, crs, description="fire confidence (0 = no fire)")
        write_cog(stage / "cloud.tif", cloud, b4.transform, crs, description="cloud (1) used by the fire test")
        write_records_csv(stage / "fires.csv", records)
        write_fire_map(
            stage / "fire.png",
            b11.bt_k,
            b4.transform,
            cloud=res.cloud,
            fire_rows=rows,
            fire_cols=cols,
            confidence=res.confidence[rows, cols],
            title=f"{key.upper()} fires ({res.period}): {len(records)} fire pixel(s), cloud {res.cloud.mean():.1%}",
        )
        summary["products"] = sorted([p.name for p in stage.iterdir() if not p.name.startswith(".")] + ["result.json"])
        write_json(stage / "result.json", summary)
    return summary
