"""``cupola locate``: localize astronaut photos against reference imagery (thin wrapper over
:mod:`cupola.locate`). ``cupola locate PHOTO ...`` is short for ``cupola locate photo PHOTO ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup


class _DefaultToPhoto(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is the photo of ``photo``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["photo", *args]
        return super().parse_args(ctx, args)


locate_app = typer.Typer(cls=_DefaultToPhoto, no_args_is_help=True,
                         help="Localize astronaut photos by matching them against reference satellite imagery.")


def register(app: typer.Typer) -> None:
    app.add_typer(locate_app, name="locate")


@locate_app.command("photo")
def photo_command(
    photo: Path = typer.Argument(..., help="The astronaut photo."),
    reference: Path = typer.Option(..., "--reference", help="GeoTIFF/VRT, plain image (with --bounds) or folder of tiles."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    bounds: Optional[tuple[float, float, float, float]] = typer.Option(
        None, "--bounds", help="WEST SOUTH EAST NORTH (EPSG:4326) of a plain reference image."),
    nadir: Optional[tuple[float, float]] = typer.Option(None, "--nadir", help="ISS nadir point LAT LON (prior)."),
    tle: Optional[Path] = typer.Option(None, "--tle", help="ISS element sets: with --time, the nadir prior."),
    time: Optional[str] = typer.Option(None, "--time", help="Exposure time (ISO 8601 with zone), with --tle."),
    focal_mm: Optional[float] = typer.Option(None, "--focal-mm", help="Lens focal length (mm)."),
    sensor_width_mm: Optional[float] = typer.Option(None, "--sensor-width-mm", help="Sensor width (mm), default 36."),
    matcher: str = typer.Option("aliked", "--matcher", help="aliked (ALIKED+LightGlue, default), xfeat (XFeat+LighterGlue, faster) or sift."),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Find where PHOTO is on the reference, or say it is not there (exit code 3)."""
    from cupola.cli.progress import progress_bar
    from cupola.errors import NoSolutionError
    from cupola.locate.job import options_from, run_locate, write_locate_products

    from cupola.locate.job import nadir_from_tle

    if (tle is None) != (time is None):
        from cupola.errors import InputError

        raise InputError("--tle and --time go together (they give the ISS nadir point)")
    if tle is not None:
        if nadir is not None:
            from cupola.errors import InputError

            raise InputError("give the prior either as --nadir or as --tle with --time, not both")
        nadir = nadir_from_tle(tle, time)
    opts = options_from(matcher=matcher, focal_mm=focal_mm, nadir=nadir, sensor_width_mm=sensor_width_mm)
    result, image, refs = run_locate(photo, reference, bounds=bounds, options=opts)
    with progress_bar(disable=quiet) as advance:
        written = write_locate_products(result, image, refs, out, photo_path=photo, reference_path=reference,
                                        progress=lambda d, t: advance("georef.tif", d, t))
    if not quiet:
        from rich.console import Console

        c = Console()
        if result.matched:
            lon, lat = result.center_lonlat
            c.print(f"[green]matched[/] {photo.name} on {result.reference}: centre {lat:.5f}, {lon:.5f}; "
                    f"{result.inliers} inliers, confidence {result.confidence:.2f}, {result.seconds:.1f} s")
        else:
            c.print(f"[yellow]not here[/]: {result.reason} ({result.seconds:.1f} s)")
        for p in written:
            c.print(f"wrote {p}")
    if not result.matched:
        raise NoSolutionError(f"{photo.name}: {result.reason}")


@locate_app.command("evaluate")
def evaluate_command(
    cases_dir: Path = typer.Argument(..., help="Folder of case folders (case.json + photo + reference)."),
    matcher: str = typer.Option("aliked", "--matcher", help="aliked, xfeat or sift."),
    prior: bool = typer.Option(True, "--prior/--no-prior", help="Use the nadir point in case.json."),
) -> None:
    """Localize every case and report accuracy, rejections and time."""
    from rich.console import Console
    from rich.table import Table

    from cupola.locate.evaluate import evaluate_case, find_cases, summarise

    folders = find_cases(cases_dir)
    outcomes = []
    t = Table(title=f"cupola locate evaluate ({matcher}, {'with' if prior else 'without'} prior)")
    for col in ("case", "expected", "result", "centre error km", "label centre inside", "IoU", "confidence", "s"):
        t.add_column(col)
    for folder in folders:
        o = evaluate_case(folder, matcher=matcher, use_prior=prior)
        outcomes.append(o)
        t.add_row(o.case, "match" if o.expected_match else "wrong candidate",
                  ("localized" if o.matched else "rejected") + ("" if o.correct else " [red]✗[/]"),
                  "" if o.center_error_km is None else f"{o.center_error_km:.2f}",
                  "" if o.truth_center_inside is None else str(o.truth_center_inside),
                  "" if o.footprint_iou is None else f"{o.footprint_iou:.2f}",
                  f"{o.confidence:.2f}", f"{o.seconds:.1f}")
    Console().print(t)
    s = summarise(outcomes)
    print(f"localized {s['localized_within_2km']}/{s['true_candidates']} true candidates within 2 km; "
          f"false accepts {s['false_accepts']}/{s['wrong_candidates']}; "
          f"median centre error {s['median_center_error_km'] if s['median_center_error_km'] is None else round(s['median_center_error_km'], 3)} km; "
          f"{s['seconds_per_case']:.1f} s per case (max {s['max_seconds']:.1f} s)")


@locate_app.command("batch")
def batch_command(
    catalog: Path = typer.Argument(..., help="CSV: photo, reference[, id, west, south, east, north, nadir_lat, nadir_lon, focal_mm]."),
    out: Path = typer.Option(..., "--out", help="Output folder (one subfolder per photo)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask scheduler ADDRESS (default: a LocalCluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="LocalCluster worker processes."),
    matcher: str = typer.Option("aliked", "--matcher", help="aliked, xfeat or sift."),
) -> None:
    """Localize a catalog of photos on dask.distributed; reruns skip finished photos."""
    from cupola.cli.progress import progress_bar
    from cupola.locate.batch import run_batch

    with progress_bar() as advance:
        counts = run_batch(catalog, out, matcher=matcher, scheduler=scheduler, workers=workers,
                           progress=lambda d, t: advance("photos", d, t))
    print(", ".join(f"{k} {v}" for k, v in counts.items()) + f"; results in {out}")
