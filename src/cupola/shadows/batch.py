"""Batch mode: a CSV of landmarks and measurements in, a CSV of results out.

Input columns (header names; order free): ``time`` (ISO 8601 with zone), ``lat``, ``lon`` and
some of ``shadow_m``, ``displacement_m``, ``shadow_east_m``/``shadow_north_m``,
``displacement_east_m``/``displacement_north_m``, ``known_height_m``, ``sigma_shadow_m``,
``sigma_displacement_m``, ``sigma_time_s``, ``method``, ``satellite_altitude_m`` and an optional
``id``/``name``. Measurements may be given in pixels instead, as on the command line:
``base_col``/``base_row`` with ``shadow_tip_col``/``shadow_tip_row`` and/or ``top_col``/``top_row``,
converted through ``gsd_m`` (and ``up_azimuth_deg``) or a georeferenced ``geotiff`` (a path, relative
to the CSV's folder), with ``sigma_px`` the error of each pixel position
(:func:`cupola.shadows.measure.measurement_from`). A row that fails is recorded in the ``error``
column; the others go on.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from cupola.errors import InputError
from cupola.geometry.times import parse_time
from cupola.io.tables import parse_number
from cupola.shadows.measure import measurement_from
from cupola.shadows.method import ShadowResult, solve

OUTPUT_FIELDS = [
    "id",
    "method",
    "time_utc",
    "lat_deg",
    "lon_deg",
    "day_of_year",
    "local_solar_time_h",
    "hour_angle_deg",
    "declination_deg",
    "equation_of_time_min",
    "solar_elevation_deg",
    "solar_azimuth_deg",
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


def _num(row: dict, key: str, line: int, path: Path) -> float | None:
    text = (row.get(key) or "").strip()
    return parse_number(path, line, key, text) if text else None


def _pair(row, a, b, line, path):
    x, y = _num(row, a, line, path), _num(row, b, line, path)
    if (x is None) != (y is None):
        raise InputError(f"{path}: line {line}: give both {a} and {b}")
    return None if x is None else (x, y)


def run_batch(in_csv: Path, out_csv: Path, *, default_method: str = "precise", progress=None) -> tuple[int, int]:
    """Solve every row of ``in_csv`` and write ``out_csv``; returns (rows ok, rows failed)."""
    import io

    from cupola.io.atomic import atomic_write
    from cupola.io.tables import read_text

    in_csv = Path(in_csv)
    with io.StringIO(read_text(in_csv, "landmarks and measurements"), newline="") as f:  # bounded, UTF-8
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise InputError(f"{in_csv}: empty file, expected a header row")
        fields = {k.strip() for k in reader.fieldnames if k}
        missing = {"time", "lat", "lon"} - fields
        if missing:
            raise InputError(f"{in_csv}: missing column(s) {', '.join(sorted(missing))}")
        try:
            rows, lines = [], []
            for r in reader:
                rows.append({(k or "").strip(): v for k, v in r.items()})
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise InputError(f"{in_csv}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise InputError(f"{in_csv}: no rows")
    ok = failed = 0
    out_rows = []
    for i, row in enumerate(rows):
        line = lines[i]
        rec = {"id": row.get("id") or row.get("name") or str(i + 1)}
        try:
            time = parse_time(row.get("time") or "", f"{in_csv}: line {line}: time")
            lat = _num(row, "lat", line, in_csv)
            lon = _num(row, "lon", line, in_csv)
            if lat is None or lon is None:
                raise InputError(f"{in_csv}: line {line}: lat and lon are required")
            geotiff = (row.get("geotiff") or "").strip()
            m = measurement_from(
                shadow_m=_num(row, "shadow_m", line, in_csv),
                displacement_m=_num(row, "displacement_m", line, in_csv),
                shadow_en_m=_pair(row, "shadow_east_m", "shadow_north_m", line, in_csv),
                displacement_en_m=_pair(row, "displacement_east_m", "displacement_north_m", line, in_csv),
                known_height_m=_num(row, "known_height_m", line, in_csv),
                base_px=_pair(row, "base_col", "base_row", line, in_csv),
                top_px=_pair(row, "top_col", "top_row", line, in_csv),
                shadow_tip_px=_pair(row, "shadow_tip_col", "shadow_tip_row", line, in_csv),
                gsd_m=_num(row, "gsd_m", line, in_csv),
                up_azimuth_deg=_num(row, "up_azimuth_deg", line, in_csv) or 0.0,
                geotiff=(in_csv.parent / geotiff) if geotiff else None,
                sigma_px=_num(row, "sigma_px", line, in_csv) or 0.0,
                sigma_shadow_m=_num(row, "sigma_shadow_m", line, in_csv) or 0.0,
                sigma_displacement_m=_num(row, "sigma_displacement_m", line, in_csv) or 0.0,
                sigma_time_s=_num(row, "sigma_time_s", line, in_csv) or 0.0,
            )
            res: ShadowResult = solve(
                time,
                lat=lat,
                lon=lon,
                measurement=m,
                method=(row.get("method") or default_method).strip(),
                satellite_altitude_m=_num(row, "satellite_altitude_m", line, in_csv),
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
            progress(i + 1, len(rows))
    with atomic_write(out_csv) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=OUTPUT_FIELDS)
            w.writeheader()
            for rec in out_rows:
                w.writerow({k: ("" if rec.get(k) is None else rec.get(k)) for k in OUTPUT_FIELDS})
    return ok, failed
