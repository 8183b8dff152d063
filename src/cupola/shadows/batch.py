"""Batch mode: a CSV of landmarks and measurements in, a CSV of results out.

Input columns (header names in any order and letter case; blank lines and ``#`` comments are
skipped, as by every CSV reader of cupola, :func:`cupola.io.tables.read_table`): ``time`` (ISO 8601
with zone), ``lat``, ``lon`` and some of ``shadow_m``, ``displacement_m``, ``shadow_east_m``/``shadow_north_m``,
``displacement_east_m``/``displacement_north_m``, ``known_height_m``, ``sigma_shadow_m``,
``sigma_displacement_m``, ``sigma_time_s``, ``method``, ``satellite_altitude_m`` and an optional
``id``/``name``. Measurements may be given in pixels instead, as on the command line:
``base_col``/``base_row`` with ``shadow_tip_col``/``shadow_tip_row`` and/or ``top_col``/``top_row``,
converted through ``gsd_m`` (and ``up_azimuth_deg``) or a georeferenced ``geotiff`` (a path, relative
to the CSV's folder), with ``sigma_px`` the error of each pixel position
(:func:`cupola.shadows.measure.measurement_from`). A row that fails (a bad value, or another number
of fields than the header) is recorded in the ``error`` column; the others go on.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from cupola.errors import InputError
from cupola.geometry.times import parse_time
from cupola.io.tables import Row, read_table
from cupola.shadows.measure import measurement_from
from cupola.shadows.method import SUN_FIELDS, ShadowResult, solve

OUTPUT_FIELDS = [
    "id",
    "method",
    "time_utc",
    "lat_deg",
    "lon_deg",
    *SUN_FIELDS,
    "shadow_length_m",
    "shadow_direction_misfit_deg",
    "height_m",
    "sigma_height_m",
    "height_source",
    "displacement_m",
    "side_sway_deg",
    "sigma_side_sway_deg",
    "view_azimuth_deg",
    "off_nadir_deg",
    "warnings",
    "error",
]


#: parameter names in the library's messages -> the columns that give them
_COLUMNS = {
    "base_px": "base_col/base_row",
    "top_px": "top_col/top_row",
    "shadow_tip_px": "shadow_tip_col/shadow_tip_row",
}
_PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
#: the header messages expect
_HEADER = "time,lat,lon[,id][,shadow_m][,displacement_m][,...]"


def _pair(row: Row, a: str, b: str) -> tuple[float, float] | None:
    """Two columns given together (a pixel's col and row, a vector's east and north) or not at all."""
    x, y = row.optional_number(a), row.optional_number(b)
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise InputError(f"{row.path}: line {row.line}: give both {a} and {b}")
    return x, y


def run_batch(in_csv: Path, out_csv: Path, *, default_method: str = "precise", progress=None) -> tuple[int, int]:
    """Solve every row of ``in_csv`` and write ``out_csv``; returns (rows ok, rows failed)."""
    from cupola.io.atomic import atomic_write

    in_csv = Path(in_csv)
    table = read_table(in_csv, "landmarks and measurements", required=("time", "lat", "lon"), header=_HEADER)
    ok = failed = 0
    out_rows = []
    for i, row in enumerate(table.rows):
        line = row.line
        rec: dict[str, object] = {"id": row.text("id") or row.text("name") or str(i + 1)}
        try:
            table.check(row)
            time = parse_time(row.text("time"), row.where("time"))
            lat = row.optional_number("lat")
            lon = row.optional_number("lon")
            if lat is None or lon is None:
                raise InputError(f"{in_csv}: line {line}: lat and lon are required")
            geotiff = row.text("geotiff")
            m = measurement_from(
                shadow_m=row.optional_number("shadow_m"),
                displacement_m=row.optional_number("displacement_m"),
                shadow_en_m=_pair(row, "shadow_east_m", "shadow_north_m"),
                displacement_en_m=_pair(row, "displacement_east_m", "displacement_north_m"),
                known_height_m=row.optional_number("known_height_m"),
                base_px=_pair(row, "base_col", "base_row"),
                top_px=_pair(row, "top_col", "top_row"),
                shadow_tip_px=_pair(row, "shadow_tip_col", "shadow_tip_row"),
                gsd_m=row.optional_number("gsd_m"),
                up_azimuth_deg=row.optional_number("up_azimuth_deg") or 0.0,
                geotiff=(in_csv.parent / geotiff) if geotiff else None,
                sigma_px=row.optional_number("sigma_px") or 0.0,
                sigma_shadow_m=row.optional_number("sigma_shadow_m") or 0.0,
                sigma_displacement_m=row.optional_number("sigma_displacement_m") or 0.0,
                sigma_time_s=row.optional_number("sigma_time_s") or 0.0,
            )
            res: ShadowResult = solve(
                time,
                lat=lat,
                lon=lon,
                measurement=m,
                method=row.text("method") or default_method,
                satellite_altitude_m=row.optional_number("satellite_altitude_m"),
            )
            d = res.to_dict()
            rec.update({k: d.get(k) for k in OUTPUT_FIELDS if k in d})
            rec["warnings"] = "; ".join(res.warnings)
            ok += 1
        except InputError as exc:
            text = _PARAMETER.sub(lambda mt: _COLUMNS.get(mt.group(1), mt.group(1)), str(exc))
            rec["error"] = text if f"line {line}" in text else f"{in_csv}: line {line}: {text}"
            failed += 1
        out_rows.append(rec)
        if progress is not None:
            progress(i + 1, len(table))
    with atomic_write(out_csv) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=OUTPUT_FIELDS)
            w.writeheader()
            for rec in out_rows:
                w.writerow({k: ("" if rec.get(k) is None else rec.get(k)) for k in OUTPUT_FIELDS})
    return ok, failed
