"""``cupola stereo``: a DEM from two overlapping photos with their poses (thin wrapper over
:mod:`cupola.stereo`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options


def register(app: typer.Typer) -> None:
    app.command("stereo")(stereo_command)


def stereo_command(
    photo1: Path = typer.Argument(..., help="The first photo (JPEG, TIFF, PNG)."),
    photo2: Path = typer.Argument(..., help="The second photo, seconds later (or earlier)."),
    out: Path = options.out_folder(),
    pose1: Path | None = typer.Option(
        None, "--pose1", help="result.json of 'cupola geolocate' (or of a matched 'cupola locate') for PHOTO1."
    ),
    pose2: Path | None = typer.Option(None, "--pose2", help="The same for PHOTO2."),
    time1: str | None = typer.Option(None, "--time1", help="PHOTO1's time, ISO 8601 with zone (with --attitude1)."),
    time2: str | None = typer.Option(None, "--time2", help="PHOTO2's time, ISO 8601 with zone."),
    attitude1: tuple[float, float, float] | None = typer.Option(
        None, "--attitude1", help="PHOTO1's camera roll, pitch, yaw in degrees in the LVLH frame."
    ),
    attitude2: tuple[float, float, float] | None = typer.Option(None, "--attitude2", help="The same for PHOTO2."),
    tle: Path | None = options.tle(required=False),
    focal_mm: float | None = options.focal_mm(),
    sensor_mm: tuple[float, float] | None = options.sensor_mm(),
    posting_m: float | None = typer.Option(
        None, "--posting-m", help="DEM cell size in metres (default: twice the ground sample distance)."
    ),
    height_range_m: tuple[float, float] = typer.Option(
        (-500.0, 9000.0), "--height-range-m", help="Lowest and highest heights the scene may hold (m, ellipsoid)."
    ),
    reference_dem: Path | None = typer.Option(
        None, "--reference-dem", help="An elevation raster to measure the DEM against (adds the measured error)."
    ),
    align_to_reference: bool = typer.Option(
        False,
        "--align-to-reference",
        help="With --reference-dem: remove the height offset the pair cannot see (a tiny relative rotation).",
    ),
    force: bool = options.force(),
    quiet: bool = options.quiet(),
) -> None:
    """Heights from two overlapping photos: DEM (COG), predicted error map, shaded relief, result.json."""
    from cupola.geometry.times import parse_time
    from cupola.stereo.job import StereoOptions, StereoRequest, run_stereo, write_products

    request = StereoRequest(
        photo1=photo1,
        photo2=photo2,
        pose1=pose1,
        pose2=pose2,
        time1=None if time1 is None else parse_time(time1, "--time1"),
        time2=None if time2 is None else parse_time(time2, "--time2"),
        attitude1=attitude1,
        attitude2=attitude2,
        tle_path=tle,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        force_tle=force,
        options=StereoOptions(
            posting_m=posting_m, height_range_m=height_range_m, align_to_reference=align_to_reference
        ),
        reference_dem=reference_dem,
    )
    result, _ = run_stereo(request)
    inputs = [photo1, photo2, pose1, pose2, tle, reference_dem]
    written = write_products(result, out, inputs=inputs)
    if not quiet:
        _print_summary(result.summary(), written)


def _print_summary(d: dict, written: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="cupola stereo", show_header=False)
    t.add_row("times (UTC)", f"{d['times_utc'][0]}  {d['times_utc'][1]}  ({d['separation_s']:+.3f} s)")
    t.add_row("base, B/H", f"{d['base_m'] / 1000:.2f} km, {d['base_to_height']:.4f}")
    t.add_row("overlap", f"{100 * d['overlap_fraction']:.0f} % of the smaller footprint")
    m = d["matching"]
    sigma_px = m["disparity_sigma_px_median"]
    t.add_row("matched", f"{100 * m['valid_fraction']:.0f} % of photo 1 (disparity sigma {sigma_px:.3f} px)")
    h = d["height_m"]
    t.add_row("heights", f"{h['p01']:.0f} .. {h['p99']:.0f} m (1-99 %), median {h['median']:.0f} m")
    t.add_row("predicted sigma", f"{d['predicted_sigma_m']['median']:.1f} m (median)")
    t.add_row("DEM", f"{d['dem']['width']} x {d['dem']['height']} cells of {d['dem']['posting_m']:.1f} m")
    if d.get("reference"):
        r = d["reference"]
        ratio, bias = r["rmse_over_predicted"], r["mean_difference_m"]
        t.add_row("vs reference", f"RMSE {r['rmse_m']:.1f} m (bias {bias:+.1f} m), {ratio:.2f} x predicted")
    for w in d["warnings"]:
        t.add_row("[yellow]warning[/]", w)
    for path in written:
        t.add_row("wrote", str(path))
    Console().print(t)
