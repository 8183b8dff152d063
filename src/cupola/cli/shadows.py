"""``cupola shadows``: landmark heights from shadows and side-sway angles (thin wrapper over
:mod:`cupola.shadows`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cupola.cli import options

shadows_app = typer.Typer(
    help="Heights from shadows and satellite side-sway (roll) angle from relief displacement.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(shadows_app, name="shadows")


def _run(time, lat, lon, measurement, method, tle, sat_altitude_km, force):
    from cupola.geometry.times import parse_time
    from cupola.shadows import solve

    t = parse_time(time, "--time")
    elements = None
    if tle is not None:
        from cupola.io.tle import element_set_at

        elements = element_set_at(tle, t, force=force)
    return solve(
        t,
        lat=lat,
        lon=lon,
        measurement=measurement,
        method=method,
        satellite_altitude_m=None if sat_altitude_km is None else sat_altitude_km * 1000.0,
        tle_elements=elements,
    )


def _emit(result, *, as_json: bool, out: Path | None, plot: Path | None, keys: tuple[str, ...]) -> None:
    """Write and show ``result``: the table lists the sun's position, then ``keys``."""
    from cupola.io.atomic import atomic_write
    from cupola.shadows.method import SUN_FIELDS

    d = result.to_dict()
    if plot is not None:
        from cupola.plot.shadow_diagram import write_shadow_diagram

        write_shadow_diagram(plot, d)
    if out is not None:
        with atomic_write(out) as tmp:
            Path(tmp).write_text(json.dumps(d, indent=2) + "\n")
    if as_json:
        print(json.dumps(d, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"{result.method} method, {result.time_utc}, {result.lat_deg:.4f}, {result.lon_deg:.4f}",
        show_header=False,
    )
    sigmas = {
        "height_m": "sigma_height_m",
        "side_sway_deg": "sigma_side_sway_deg",
        "solar_elevation_deg": "sigma_solar_elevation_deg",
    }
    for k in (*SUN_FIELDS, *keys):
        v = d.get(k)
        if v is None:
            continue
        text = f"{v:.4f}" if isinstance(v, float) else str(v)
        if k in sigmas and d.get(sigmas[k]):
            text += f"  ± {d[sigmas[k]]:.4f}"
        t.add_row(k, text)
    if d.get("orbit"):
        for k, v in d["orbit"].items():
            t.add_row(f"orbit: {k}", f"{v:.4f}" if isinstance(v, float) else str(v))
    for w in d["warnings"]:
        t.add_row("[yellow]warning[/]", w)
    if plot is not None:
        t.add_row("plot", str(plot))
    if out is not None:
        t.add_row("wrote", str(out))
    Console().print(t)


#: the results each command shows after the sun's position, in order
HEIGHT_KEYS = ("shadow_length_m", "shadow_direction_misfit_deg", "height_m")
SIDEWAY_KEYS = (*HEIGHT_KEYS, "height_source", "displacement_m", "side_sway_deg", "view_azimuth_deg", "off_nadir_deg")


@shadows_app.command("sideway")
def sideway_command(
    time: str = options.time("Imaging time, ISO 8601 with zone (UTC)."),
    lat: float = typer.Option(..., "--lat", help="Landmark latitude, degrees."),
    lon: float = typer.Option(..., "--lon", help="Landmark longitude, degrees."),
    shadow_m: float | None = typer.Option(None, "--shadow-m", help="Shadow length, metres."),
    shadow_vector_m: tuple[float, float] | None = typer.Option(
        None, "--shadow-vector-m", help="Shadow from base to tip, EAST NORTH metres."
    ),
    displacement_m: float | None = typer.Option(None, "--displacement-m", help="Relief displacement, metres."),
    displacement_vector_m: tuple[float, float] | None = typer.Option(
        None, "--displacement-vector-m", help="Displacement from base to top, EAST NORTH metres."
    ),
    height_m: float | None = typer.Option(None, "--height-m", help="Known height (no shadow needed), metres."),
    base_px: tuple[float, float] | None = typer.Option(None, "--base-px", help="Landmark base pixel COL ROW."),
    top_px: tuple[float, float] | None = typer.Option(None, "--top-px", help="Landmark top pixel COL ROW."),
    shadow_tip_px: tuple[float, float] | None = typer.Option(None, "--shadow-tip-px", help="Shadow tip COL ROW."),
    gsd_m: float | None = typer.Option(None, "--gsd-m", help="Ground sample distance, metres per pixel."),
    up_azimuth_deg: float = typer.Option(0.0, "--up-azimuth-deg", help="Azimuth of the image's up direction."),
    geotiff: Path | None = typer.Option(None, "--geotiff", help="Georeferenced image the pixels refer to."),
    sigma_px: float = typer.Option(0.0, "--sigma-px", help="1-sigma error of each pixel position."),
    sigma_m: float = typer.Option(0.0, "--sigma-m", help="1-sigma error of each length, metres."),
    sigma_time_s: float = typer.Option(0.0, "--sigma-time-s", help="1-sigma error of the time, seconds."),
    method: str = options.method(),
    tle: Path | None = options.tle("TLE of the satellite, to compare with the orbit.", required=False),
    sat_altitude_km: float | None = typer.Option(None, "--sat-altitude-km", help="Satellite altitude, km."),
    force: bool = options.force(),
    as_json: bool = options.as_json("Print JSON."),
    out: Path | None = options.out_file(),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the geometry into this PNG."),
) -> None:
    """Height from the shadow (or given) and the side-sway (view zenith) angle from the displacement."""
    from cupola.shadows.measure import measurement_from

    m = measurement_from(
        shadow_m=shadow_m,
        shadow_en_m=shadow_vector_m,
        displacement_m=displacement_m,
        displacement_en_m=displacement_vector_m,
        known_height_m=height_m,
        base_px=base_px,
        top_px=top_px,
        shadow_tip_px=shadow_tip_px,
        gsd_m=gsd_m,
        up_azimuth_deg=up_azimuth_deg,
        geotiff=geotiff,
        sigma_px=sigma_px,
        sigma_shadow_m=sigma_m,
        sigma_displacement_m=sigma_m,
        sigma_time_s=sigma_time_s,
    )
    if not m.has_displacement:
        from cupola.errors import InputError

        raise InputError(
            "sideway needs the relief displacement (--displacement-m, --displacement-vector-m or --top-px)"
        )
    result = _run(time, lat, lon, m, method, tle, sat_altitude_km, force)
    _emit(result, as_json=as_json, out=out, plot=plot, keys=SIDEWAY_KEYS)


@shadows_app.command("height")
def height_command(
    time: str = options.time("Imaging time, ISO 8601 with zone (UTC)."),
    lat: float = typer.Option(..., "--lat", help="Landmark latitude, degrees."),
    lon: float = typer.Option(..., "--lon", help="Landmark longitude, degrees."),
    shadow_m: float | None = typer.Option(None, "--shadow-m", help="Shadow length, metres."),
    shadow_vector_m: tuple[float, float] | None = typer.Option(
        None, "--shadow-vector-m", help="Shadow from base to tip, EAST NORTH metres."
    ),
    base_px: tuple[float, float] | None = typer.Option(None, "--base-px", help="Landmark base pixel COL ROW."),
    shadow_tip_px: tuple[float, float] | None = typer.Option(None, "--shadow-tip-px", help="Shadow tip COL ROW."),
    gsd_m: float | None = typer.Option(None, "--gsd-m", help="Ground sample distance, metres per pixel."),
    up_azimuth_deg: float = typer.Option(0.0, "--up-azimuth-deg", help="Azimuth of the image's up direction."),
    geotiff: Path | None = typer.Option(None, "--geotiff", help="Georeferenced image the pixels refer to."),
    sigma_px: float = typer.Option(0.0, "--sigma-px", help="1-sigma error of each pixel position."),
    sigma_m: float = typer.Option(0.0, "--sigma-m", help="1-sigma error of the shadow length, metres."),
    sigma_time_s: float = typer.Option(0.0, "--sigma-time-s", help="1-sigma error of the time, seconds."),
    method: str = options.method("precise (default) or simple."),
    as_json: bool = options.as_json("Print JSON."),
    out: Path | None = options.out_file(),
    plot: Path | None = typer.Option(None, "--plot", help="Draw the geometry into this PNG."),
) -> None:
    """Height of a landmark from its shadow."""
    from cupola.shadows.measure import measurement_from

    m = measurement_from(
        shadow_m=shadow_m,
        shadow_en_m=shadow_vector_m,
        base_px=base_px,
        shadow_tip_px=shadow_tip_px,
        gsd_m=gsd_m,
        up_azimuth_deg=up_azimuth_deg,
        geotiff=geotiff,
        sigma_px=sigma_px,
        sigma_shadow_m=sigma_m,
        sigma_time_s=sigma_time_s,
    )
    if not m.has_shadow:
        from cupola.errors import InputError

        raise InputError("height needs the shadow (--shadow-m, --shadow-vector-m or --shadow-tip-px)")
    result = _run(time, lat, lon, m, method, None, None, False)
    _emit(result, as_json=as_json, out=out, plot=plot, keys=HEIGHT_KEYS)


@shadows_app.command("batch")
def batch_command(
    table: Path = typer.Argument(..., help="CSV of landmarks and measurements (see cupola.shadows.batch)."),
    out: Path = options.out_file("CSV of results.", required=True),
    method: str = options.method("Default method for rows without a method column."),
) -> None:
    """Solve every row of a CSV; failed rows are recorded in an 'error' column. Exit code 2 when
    no row was solved (the CSV is still written: each row's reason is in it)."""
    import csv

    from cupola.cli.progress import progress_bar
    from cupola.errors import InputError
    from cupola.shadows.batch import run_batch

    with progress_bar() as advance:
        ok, failed = run_batch(table, out, default_method=method, progress=lambda d, t: advance("rows", d, t))
    print(f"{ok} rows solved, {failed} failed; wrote {out}")
    if failed and not ok:
        with open(out, newline="") as f:
            first = next((r["error"] for r in csv.DictReader(f) if r.get("error")), "")
        raise InputError(f"no row of {table} was solved ({failed} failed; each reason in {out}); first: {first}")
