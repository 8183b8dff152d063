"""The products of ``cupola nightlights zones``, written all or nothing through
:func:`cupola.io.staging.staged_output`:

=========================== ================================================================
``zones.gpkg``              the zones in their own CRS with every statistic (layer ``zones``)
``zones.geojson``           the same in EPSG:4326 (RFC 7946)
``zones.csv``               every statistic, one row per zone (no geometry)
``rings.csv``               the centre-periphery profile, per city and distance ring
``deprived.csv``            deprived versus other zones per city (with a class field)
``correlation.csv``         light versus population per city and pooled (with a population)
``inequality.csv``          Gini and Theil across zones
``result.json``             inputs, settings, method and every summary number
``map_radiance.png``        choropleth of the mean radiance
``map_light_per_person.png`` choropleth of the light per person (with a population)
``map_residual.png``        where light departs from population (with a population)
``lorenz.png``              Lorenz curves
``scatter.png``             light against population density (with a population)
``rings.png``               the centre-periphery profile
``report.html``             one page that shows and links them all
=========================== ================================================================
"""

from __future__ import annotations

import html
import math

import numpy as np

from cupola import __version__
from cupola.analysis.zonal import LIT_THRESHOLD
from cupola.io.atomic import atomic_write
from cupola.io.staging import json_safe, staged_output, write_json
from cupola.io.tables import format_field, write_records_csv
from cupola.io.zone_layer import ZoneLayer, write_zone_layer
from cupola.nightlights.zones import ZonesResult

__all__ = ["RESULT_SCHEMA", "zones_summary", "write_zones_products"]

RESULT_SCHEMA = "cupola.nightlights.zones/1"

METHOD = {
    "coverage": "exactextract cell coverage fractions (partial pixels weighted by the covered fraction)",
    "pixel_area": "true cell area on the raster CRS's ellipsoid (geographic grids: authalic latitude, Snyder 1987 "
    "eq. 3-12; projected grids: nominal area / areal scale factor)",
    "zone_area": "zone polygons in a Lambert azimuthal equal-area projection centred on the layer (WGS84)",
    "light_w_sr": "radiance (nW cm-2 sr-1) integrated over the covered area: 10 x sum(coverage x km2 x radiance)",
    "inequality": "Gini (1 - 2 x area under the Lorenz curve) and Theil T of mean radiance weighted by area, and "
    "of light per person weighted by population",
    "deprived": "difference of medians (deprived - other) with a 95% percentile bootstrap interval, two-sided "
    "Mann-Whitney U, rank-biserial effect size",
    "correlation": "Pearson on log10 values (Fisher-z interval) and Spearman (Fisher-z, Bonett-Wright variance) of "
    "mean radiance against population density; OLS log-log line and residuals in dex",
    "rings": "zones grouped by the geodesic distance of their centroid from the centre",
}


def _zone_rows(result: ZonesResult) -> list[dict]:
    table = result.zone_table()
    n = len(result.names)
    return [{k: v[i] for k, v in table.items()} for i in range(n)]


def zones_summary(result: ZonesResult) -> dict:
    """The ``result.json`` of a run (without its product list)."""
    st = result.stats
    has = np.isfinite(st.radiance_mean)
    partly = has & (st.covered_fraction < 0.999)
    return {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "inputs": {**result.inputs, "zones_crs": result.crs},
        "settings": result.options.to_dict(),
        "radiance_units": result.radiance_units,
        "light_units": "W sr-1 (radiance integrated over area)",
        "lit_threshold_default": LIT_THRESHOLD,
        "method": METHOD,
        "zones": {
            "count": len(result.names),
            "with_data": int(has.sum()),
            "without_data": [str(x) for x in result.names[~has]],
            "partly_outside_or_nodata": int(partly.sum()),
            "area_km2": float(np.nansum(st.zone_area_km2)),
            "covered_area_km2": float(np.nansum(st.covered_area_km2)),
        },
        "totals": {
            "light_w_sr": float(np.nansum(st.light_w_sr)),
            "population": float(np.nansum(st.population)) if st.population is not None else None,
        },
        "centres_lat_lon": {k: list(v) for k, v in result.centres.items()},
        "ring_km": result.ring_km,
        "inequality": [x.to_dict() for x in result.inequality],
        "deprived_vs_other": [x.to_dict() for x in result.comparisons],
        "light_vs_population": {
            "correlation": [x.to_dict() for x in result.correlations],
            "fit_log10_radiance_on_log10_density": result.fit.to_dict() if result.fit else None,
        },
        "rings": result.rings,
    }


def _table_html(rows: list[dict], keys: list[str] | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = keys or list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt_cell(r.get(k)))}</td>" for k in keys) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt_cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            return "–"
        return f"{x:.4g}"
    return format_field(v)


def _report_html(result: ZonesResult, summary: dict, products: list[str]) -> str:
    st = result.stats
    pics = [p for p in products if p.endswith(".png")]
    links = " · ".join(f'<a href="{html.escape(p)}">{html.escape(p)}</a>' for p in products)
    top = np.argsort(-np.nan_to_num(st.radiance_mean, nan=-np.inf))[:10]
    brightest = [
        {
            "zone": result.names[k],
            "city": result.cities[k],
            "radiance_mean": st.radiance_mean[k],
            "light_w_sr": st.light_w_sr[k],
            "zone_area_km2": st.zone_area_km2[k],
            "lit_fraction": st.lit_fraction[k],
        }
        for k in top
        if np.isfinite(st.radiance_mean[k])
    ]
    z = summary["zones"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>cupola: night lights by zone</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}"
        "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}"
        "th{background:#eee}img{max-width:100%;border:1px solid #ddd;margin:4px 0}.grid{display:grid;"
        "grid-template-columns:1fr 1fr;gap:8px}small{color:#666}</style></head><body>",
        "<h1>Night lights by zone</h1>",
        f"<p>Radiance: <code>{html.escape(str(result.inputs.get('radiance')))}</code> "
        f"({html.escape(result.radiance_units)}); zones: <code>{html.escape(str(result.inputs.get('zones')))}</code> "
        f"({z['count']} zones, {z['with_data']} with data, {z['partly_outside_or_nodata']} partly outside the "
        f"raster or on no data); population: <code>{html.escape(str(result.inputs.get('population')))}</code>.</p>",
        f"<p>Files: {links}</p>",
        "<h2>Inequality across zones</h2>",
        _table_html([x.to_dict() for x in result.inequality]),
    ]
    if result.comparisons:
        parts += [
            "<h2>Deprived versus other zones</h2>",
            "<p><small>difference = median(deprived) − median(other), 95 % bootstrap interval; "
            "rank-biserial &lt; 0: deprived darker.</small></p>",
            _table_html([x.to_dict() for x in result.comparisons]),
        ]
    if result.correlations:
        fit = result.fit
        parts += [
            "<h2>Night light against population</h2>",
            _table_html([x.to_dict() for x in result.correlations]),
            f"<p>log10 radiance = {fit.intercept:.3f} + {fit.slope:.3f} × log10 density "
            f"(n = {fit.n}, residual sd {fit.residual_sd_dex:.3f} dex)</p>"
            if fit is not None and math.isfinite(fit.slope)
            else "",
        ]
    parts += [
        f"<h2>Centre to periphery (rings of {result.ring_km:g} km)</h2>",
        _table_html(result.rings),
        "<h2>Brightest zones</h2>",
        _table_html(brightest),
        "<h2>Figures</h2><div class='grid'>",
        *(f"<a href='{html.escape(p)}'><img src='{html.escape(p)}' alt='{html.escape(p)}'></a>" for p in pics),
        "</div>",
        "<h2>Method</h2><ul>",
        *(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in METHOD.items()),
        "</ul>",
        f"<p><small>cupola {html.escape(__version__)}; every number is in zones.csv and result.json.</small></p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_zones_products(result: ZonesResult, out_dir, *, inputs=(), written: list | None = None) -> dict:
    """Write every product of ``result`` into ``out_dir`` (all or nothing; ``inputs`` are never
    replaced). Returns the summary written as ``result.json``."""
    from cupola.plot import zones as zplot

    st = result.stats
    table = result.zone_table()
    summary = zones_summary(result)
    with staged_output(out_dir, written=written, kind="nightlights-zones", inputs=inputs) as stage:
        fields = {
            k: (np.asarray(v, dtype=object) if np.asarray(v).dtype.kind in "OUb" else np.asarray(v))
            for k, v in table.items()
        }
        fields["deprived"] = (
            np.array([None if d is None else ("yes" if d else "no") for d in result.deprived.tolist()], dtype=object)
            if result.deprived is not None
            else np.full(len(result.names), None, dtype=object)
        )
        if result.deprived is None:
            del fields["deprived"]
        write_zone_layer(stage / "zones.gpkg", ZoneLayer(result.geometries, fields, result.crs))
        write_zone_layer(stage / "zones.geojson", ZoneLayer(result.lonlat, fields, "EPSG:4326"))
        write_records_csv(stage / "zones.csv", _zone_rows(result))
        write_records_csv(stage / "rings.csv", result.rings or [{"city": "", "ring_inner_km": None}])
        write_records_csv(stage / "inequality.csv", [x.to_dict() for x in result.inequality])
        if result.comparisons:
            write_records_csv(stage / "deprived.csv", [x.to_dict() for x in result.comparisons])
        if result.correlations:
            write_records_csv(stage / "correlation.csv", [x.to_dict() for x in result.correlations])
        centre = result.options.centre_lat_lon or (
            next(iter(result.centres.values())) if len(result.centres) == 1 else None
        )
        zplot.write_choropleth(
            stage / "map_radiance.png",
            result.lonlat,
            st.radiance_mean,
            title="Mean radiance by zone",
            label=f"mean radiance ({result.radiance_units})",
            log=True,
            marks=result.deprived,
            centre_lat_lon=centre,
        )
        if st.light_w_sr_per_person is not None:
            zplot.write_choropleth(
                stage / "map_light_per_person.png",
                result.lonlat,
                st.light_w_sr_per_person,
                title="Light per person by zone",
                label="light per person (W sr⁻¹)",
                log=True,
                marks=result.deprived,
            )
        if result.residual_dex is not None:
            zplot.write_choropleth(
                stage / "map_residual.png",
                result.lonlat,
                result.residual_dex,
                title="Where light departs from population (log10 observed / expected)",
                label="residual (dex): > 0 brighter than its population predicts",
                diverging=True,
                marks=result.deprived,
            )
        ginis = {}
        curves = {}
        for ineq, (name, curve) in zip(result.inequality, result.lorenz.items()):
            curves[name] = curve
            ginis[name] = ineq.gini
        zplot.write_lorenz(stage / "lorenz.png", curves, ginis)
        if st.population_per_km2 is not None:
            pooled = next((c for c in result.correlations if c.city == "all"), None)
            note = (
                f"pooled: Pearson r {pooled.pearson_r:.2f} [{pooled.pearson_low:.2f}, {pooled.pearson_high:.2f}], "
                f"Spearman {pooled.spearman_rho:.2f}, n={pooled.n}"
                if pooled is not None and math.isfinite(pooled.pearson_r)
                else ""
            )
            zplot.write_scatter(
                stage / "scatter.png",
                st.population_per_km2,
                st.radiance_mean,
                result.cities,
                deprived=result.deprived,
                slope=result.fit.slope if result.fit else None,
                intercept=result.fit.intercept if result.fit else None,
                text=note,
            )
        if result.rings:
            zplot.write_rings(stage / "rings.png", result.rings)
        products = sorted(p.name for p in stage.iterdir() if not p.name.startswith(".")) + [
            "report.html",
            "result.json",
        ]
        summary["products"] = sorted(products)
        with atomic_write(stage / "report.html") as tmp:
            tmp.write_text(_report_html(result, json_safe(summary), sorted(products)), encoding="utf-8")
        write_json(stage / "result.json", summary)
    return summary
