"""The products of ``cupola thermal stack`` (and ``thermal scene``, a stack of one), written all or
nothing through :func:`cupola.io.staging.staged_output`:

============================== ==========================================================
``lst_<scene>.tif``             masked land-surface temperature (K; water, cloud, bad QC as
                                no data), cloud-optimized GeoTIFF
``cloud_<scene>.tif``           cloud used (product mask grown over each deck, buffered): COG
``screening.csv``               per scene: usable or not, the reason, coverage, good QC, cloud
``heat_island.csv``             per city and scene: urban and rural means, heat island (K)
``heat_island_cities.csv``      per city: mean day and night heat island over usable scenes
``map_<scene>.png``             temperature map with the cloud mask and the city outlines
``uhi_day.png`` / ``uhi_night.png`` heat island per city (mean over usable scenes)
``uhi_series.png``              heat island per scene for the largest cities
``screening.png``               all scenes side by side with their verdicts
``result.json``                 inputs, method, thresholds, every decision and number
============================== ==========================================================
"""

from __future__ import annotations

import numpy as np

from cupola import __version__
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json
from cupola.io.tables import write_records_csv
from cupola.thermal import screening as scr
from cupola.thermal.clouds import BUFFER_PX, COLD_K, GROW_TOLERANCE_K, TEXTURE_K
from cupola.thermal.heat_island import MIN_COVERED, RING_KM
from cupola.thermal.stack import StackResult, scene_time_text

__all__ = ["RESULT_SCHEMA", "write_stack_products", "stack_rows"]

RESULT_SCHEMA = "cupola.thermal.stack/1"
#: cities drawn in the time-series figure (largest first)
SERIES_CITIES = 8


def stack_rows(result: StackResult) -> tuple[list[dict], list[dict]]:
    """(screening rows, heat-island rows) of a stack."""
    screening, uhi = [], []
    for r in result.scenes:
        s = r.screening
        base = {
            "scene": r.name,
            "scene_time": scene_time_text(r.scene.time),
            "period": r.period,
            "sun_elevation_deg": r.sun_elevation_deg,
        }
        screening.append(
            {
                **base,
                "usable": s.usable,
                "reason": s.reason,
                "coverage": s.coverage,
                "qc_good": s.qc_good,
                "cloud": s.cloud,
                "cloud_product_mask": s.cloud_product,
            }
        )
        if r.heat_island is not None:
            for row in r.heat_island.rows():
                uhi.append({**base, "usable": s.usable, **row})
    return screening, uhi


def _method() -> dict:
    return {
        "qc": "ECOSTRESS L2 QC word decoded (JPL D-94635): good = produced (mandatory 0/1), L1B not missing/bad, "
        "LST error <= 2 K",
        "cloud": f"product cloud mask grown over each deck (pixels connected to it and no warmer than its median + "
        f"{GROW_TOLERANCE_K} K), dilated {BUFFER_PX} px; without a mask the temperature/texture test (cold > "
        f"{COLD_K} K below the local 75th percentile, or > {COLD_K / 2} K and 3x3 sd > {TEXTURE_K} K)",
        "screening": f"usable when coverage >= {scr.MIN_COVERAGE:.0%}, good QC >= {scr.MIN_QC_GOOD:.0%} and cloud <= "
        f"{scr.MAX_CLOUD:.0%} of the land (see docs/thermal.md for the reasoning)",
        "heat_island": f"coverage-weighted, true-area mean LST of the city zone minus that of its rural ring (outside "
        f"the zone out to its equivalent radius, {RING_KM[0]:g}-{RING_KM[1]:g} km, minus every city zone); both "
        f"need {MIN_COVERED:.0%} of their area measured",
        "day_night": "sun elevation at the scene centre and time above -0.833 deg: day",
    }


def write_stack_products(result: StackResult, out_dir, *, inputs=(), written: list | None = None) -> dict:
    """Write every product of ``result`` into ``out_dir`` (all or nothing). Returns the summary
    written as ``result.json``."""
    from cupola.plot import thermal as tplot
    from cupola.plot.zones import write_choropleth

    screening, uhi = stack_rows(result)
    cities = result.cities
    summary: dict = {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "inputs": {r.name: r.scene.paths for r in result.scenes},
        "cities": {"count": len(cities) if cities is not None else 0, "source": cities.source if cities else None},
        "method": _method(),
        "thresholds": {"min_coverage": scr.MIN_COVERAGE, "min_qc_good": scr.MIN_QC_GOOD, "max_cloud": scr.MAX_CLOUD},
        "scenes": screening,
        "heat_island_cities": result.summary,
    }
    with staged_output(out_dir, written=written, kind="thermal-stack", inputs=inputs) as stage:
        panels = []
        for r in result.scenes:
            tags = {"scene": r.name, "time": scene_time_text(r.scene.time), "period": r.period}
            write_cog(
                stage / f"lst_{r.name}.tif",
                r.masked_k,
                r.scene.transform,
                r.scene.crs,
                units="K",
                description="land surface temperature, masked",
                tags=tags,
            )
            write_cog(
                stage / f"cloud_{r.name}.tif",
                r.cloud_final.astype(np.uint8),
                r.scene.transform,
                r.scene.crs,
                nodata=255,
                description="cloud (1) used to mask",
                tags=tags,
            )
            verdict = "usable" if r.screening.usable else "not usable"
            tplot.write_lst_map(
                stage / f"map_{r.name}.png",
                r.scene.lst_k,
                r.scene.transform,
                title=f"{r.name} {scene_time_text(r.scene.time)} ({r.period}): {verdict}",
                cloud=r.cloud_final,
                zones=cities.zones if cities is not None else None,
            )
            panels.append(
                {
                    "lst_k": r.scene.lst_k,
                    "transform": r.scene.transform,
                    "cloud": r.cloud_final,
                    "title": f"{r.name} ({r.period})",
                    "usable": r.screening.usable,
                    "reason": r.screening.reason,
                }
            )
        tplot.write_screening_sheet(stage / "screening.png", panels)
        write_records_csv(stage / "screening.csv", screening, significant_digits=6)
        if cities is not None:
            write_records_csv(stage / "heat_island.csv", uhi, significant_digits=6)
            write_records_csv(stage / "heat_island_cities.csv", result.summary, significant_digits=6)
            for period in ("day", "night"):
                values = np.array([row[f"uhi_{period}_k"] for row in result.summary], dtype=np.float64)
                if np.isfinite(values).any():
                    write_choropleth(
                        stage / f"uhi_{period}.png",
                        cities.zones,
                        values,
                        title=f"Surface heat island by {period} (city − rural ring, mean of usable scenes)",
                        label="heat island (K)",
                        diverging=True,
                    )
            order = np.argsort(-np.nan_to_num(np.array([row["area_km2"] for row in result.summary]), nan=-1))
            top = [result.summary[k]["city"] for k in order[:SERIES_CITIES]]
            if uhi:
                tplot.write_uhi_series(stage / "uhi_series.png", uhi, top)
        summary["products"] = sorted([p.name for p in stage.iterdir() if not p.name.startswith(".")] + ["result.json"])
        write_json(stage / "result.json", summary)
    return summary
