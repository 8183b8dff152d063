"""``cupola locate``: localize astronaut photos against reference imagery (thin wrapper over
:mod:`cupola.locate`). ``cupola locate PHOTO ...`` is short for ``cupola locate photo PHOTO ...``."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from cupola.cli import options


class _DefaultToPhoto(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is the photo of ``photo``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["photo", *args]
        return super().parse_args(ctx, args)


locate_app = typer.Typer(
    cls=_DefaultToPhoto,
    no_args_is_help=True,
    help="Localize astronaut photos by matching them against reference satellite imagery.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(locate_app, name="locate")


@locate_app.command("photo")
def photo_command(
    photo: Path = typer.Argument(..., help="The astronaut photo."),
    reference: Path | None = typer.Option(
        None, "--reference", help="GeoTIFF/VRT, plain image (with --bounds) or folder of tiles."
    ),
    out: Path = options.out_folder(),
    reference_dir: Path | None = typer.Option(
        None,
        "--reference-dir",
        help="Pool of georeferenced tiles (GeoTIFF, or image + NAME.bounds.json) with no "
        "hint which holds the photo: ranked by global descriptor, the best verified.",
    ),
    cache: Path | None = options.cache(
        "Folder for the tiles' cached descriptors and features (with "
        "--reference-dir; nothing is cached on disk without it)."
    ),
    top_k: int = options.top_k(
        "With --reference-dir: tiles verified by matching, best-ranked first (up to 4 more while "
        "their votes cannot be told from the leader's)."
    ),
    bounds: tuple[float, float, float, float] | None = typer.Option(
        None, "--bounds", help="WEST SOUTH EAST NORTH (EPSG:4326) of a plain reference image."
    ),
    nadir: tuple[float, float] | None = typer.Option(None, "--nadir", help="ISS nadir point LAT LON (prior)."),
    tle: Path | None = options.tle("ISS element sets: with --time, the nadir prior.", required=False),
    time: str | None = options.time(
        "Exposure time (ISO 8601 with zone), with --tle (default: the photo's EXIF DateTimeOriginal, taken as UTC).",
        required=False,
    ),
    focal_mm: float | None = options.focal_mm("Lens focal length (mm)."),
    sensor_width_mm: float | None = typer.Option(None, "--sensor-width-mm", help="Sensor width (mm), default 36."),
    matcher: str = options.matcher(),
    quiet: bool = options.quiet(),
    verbose: bool = typer.Option(False, "--verbose", help="Also print where the time went, stage by stage."),
) -> None:
    """Find where PHOTO is on the reference, or say it is not there (exit code 3)."""
    from cupola.cli.progress import progress_bar
    from cupola.errors import NoSolutionError
    from cupola.locate.job import nadir_from_tle, options_from, run_locate, write_locate_products

    if tle is not None and time is None:  # the photo's EXIF DateTimeOriginal, ISS cameras keep UTC
        from cupola.locate.job import exif_time_utc

        time = exif_time_utc(photo)
    if (tle is None) != (time is None):
        from cupola.errors import InputError

        raise InputError("--tle and --time go together (they give the ISS nadir point)")
    if tle is not None:
        if nadir is not None:
            from cupola.errors import InputError

            raise InputError("give the prior either as --nadir or as --tle with --time, not both")
        nadir = nadir_from_tle(tle, time)
    if (reference is None) == (reference_dir is None):
        from cupola.errors import InputError

        raise InputError(
            "give the reference either as --reference or as --reference-dir (a pool of tiles), one of them"
        )
    if reference_dir is not None and bounds is not None:
        from cupola.errors import InputError

        raise InputError("--bounds is for a single --reference image; tiles of --reference-dir carry their own bounds")
    if cache is not None and reference_dir is None:
        from cupola.errors import InputError

        raise InputError("--cache goes with --reference-dir")
    opts = options_from(matcher=matcher, focal_mm=focal_mm, nadir=nadir, sensor_width_mm=sensor_width_mm)
    import time as _time

    t_start = _time.perf_counter()
    pool = None
    if reference_dir is not None:
        from cupola.locate.job import run_locate_pool

        with progress_bar(disable=quiet) as advance:
            pool, image, refs = run_locate_pool(
                photo,
                reference_dir,
                options=opts,
                cache_dir=cache,
                top_k=top_k,
                progress=lambda d, t: advance("tile index", d, t),
            )
        result, reference = pool.result, reference_dir
    else:
        result, image, refs = run_locate(photo, reference, bounds=bounds, options=opts)
    t_search = _time.perf_counter()
    with progress_bar(disable=quiet) as advance:
        written = write_locate_products(
            result,
            image,
            refs,
            out,
            photo_path=photo,
            reference_path=reference,
            progress=lambda d, t: advance("georef.tif", d, t),
            pool=pool,
        )
    if verbose:
        stages = {"reading photo and references, models": t_search - t_start - result.seconds}
        if pool is not None:  # the tile index, the ranking, the verifications; the last one's stages
            stages.update({f"tiles {k}": v for k, v in pool.timings_s.items() if k != "total"})
            stages.update({f"  last verification, {k}": v for k, v in result.timings_s.items()})
        else:
            stages.update(result.timings_s)
            stages["search, other"] = result.seconds - sum(result.timings_s.values())
        stages["writing products"] = _time.perf_counter() - t_search
        for name, sec in stages.items():
            print(f"time {name}: {max(sec, 0.0):.2f} s")
        print(f"time total: {_time.perf_counter() - t_start:.2f} s")
    if not quiet:
        from rich.console import Console

        c = Console()
        if result.matched:
            lon, lat = result.center_lonlat
            c.print(
                f"[green]matched[/] {photo.name} on {result.reference}: centre {lat:.5f}, {lon:.5f}; "
                f"{result.inliers} inliers, confidence {result.confidence:.2f}, {result.seconds:.1f} s"
            )
        elif pool is not None:
            c.print(f"[yellow]{result.reason}[/] ({result.seconds:.1f} s)")
        else:
            c.print(f"[yellow]not here[/]: {result.reason} ({result.seconds:.1f} s)")
        if pool is not None and pool.skipped:
            n = len(pool.skipped)
            c.print(f"skipped {n} file{'s' * (n != 1)} of the folder (see result.json pool.files_skipped)")
        for p in written:
            c.print(f"wrote {p}")
    if not result.matched:
        raise NoSolutionError(f"{photo.name}: {result.reason}")


@locate_app.command("evaluate")
def evaluate_command(
    cases_dir: Path = typer.Argument(..., help="Folder of case folders (case.json + photo + reference)."),
    matcher: str = options.matcher("aliked, xfeat or sift."),
    prior: bool = typer.Option(True, "--prior/--no-prior", help="Use the nadir point in case.json."),
    pool_mode: bool = typer.Option(
        False,
        "--pool",
        help="Each photo against every case's reference as one pool "
        "of tiles (no hint which); a wrong-candidate case must get 'not here'.",
    ),
    cache: Path | None = options.cache("With --pool: folder for the cached tile descriptors."),
    top_k: int = options.top_k(
        "With --pool: tiles verified by matching, best-ranked first (and up to 4 tied by votes)."
    ),
) -> None:
    """Localize every case and report accuracy, rejections and time."""
    from rich.console import Console
    from rich.table import Table

    from cupola.locate.evaluate import evaluate_case, evaluate_case_pool, find_cases, summarise

    folders = find_cases(cases_dir)
    outcomes = []
    pool = localizer = None
    if pool_mode:
        from cupola.locate.cache import FeatureCache
        from cupola.locate.localize import LocateOptions
        from cupola.locate.pool import PoolOptions, TilePool, localizer_with_cache

        store = FeatureCache(cache)
        pool = TilePool(cases_dir, PoolOptions(top_k=top_k), cache=store)
        localizer = localizer_with_cache(LocateOptions(matcher=matcher), store)
    elif cache is not None or top_k != 4:
        from cupola.errors import InputError

        raise InputError("--cache and --top-k go with --pool")
    mode = ", pool of all references" if pool_mode else ""
    t = Table(title=f"cupola locate evaluate ({matcher}, {'with' if prior else 'without'} prior{mode})")
    for col in ("case", "expected", "result", "centre error km", "label centre inside", "IoU", "confidence", "s"):
        t.add_column(col)
    if pool_mode:
        t.add_column("chosen tile (own reference's rank)")
    for folder in folders:
        if pool_mode:
            o = evaluate_case_pool(folder, pool, matcher=matcher, use_prior=prior, localizer=localizer)
        else:
            o = evaluate_case(folder, matcher=matcher, use_prior=prior)
        outcomes.append(o)
        label = {True: "match", False: "wrong candidate", None: "unlabelled"}[o.expected_match]
        t.add_row(
            o.case,
            label,
            ("localized" if o.matched else "rejected") + (" [red]✗[/]" if o.correct is False else ""),
            "" if o.center_error_km is None else f"{o.center_error_km:.2f}",
            "" if o.truth_center_inside is None else str(o.truth_center_inside),
            "" if o.footprint_iou is None else f"{o.footprint_iou:.2f}",
            f"{o.confidence:.2f}",
            f"{o.seconds:.1f}",
            *([f"{o.chosen or '-'} ({o.own_rank})"] if pool_mode else []),
        )
    Console().print(t)
    s = summarise(outcomes)
    print(
        f"localized {s['localized_within_2km']}/{s['true_candidates']} true candidates within 2 km; "
        f"false accepts {s['false_accepts']}/{s['wrong_candidates']}; "
        f"median centre error {_round_or_none(s['median_center_error_km'], 3)} km; "
        f"{s['seconds_per_case']:.1f} s per case (max {s['max_seconds']:.1f} s)"
        + (f"; {s['unlabelled']} unlabelled case(s) not scored" if s["unlabelled"] else "")
    )


def _round_or_none(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


@locate_app.command("batch")
def batch_command(
    catalog: Path = typer.Argument(
        ...,
        help="CSV: photo, reference (or reference_dir)"
        "[, id, west, south, east, north, nadir_lat, nadir_lon, focal_mm].",
    ),
    out: Path = options.out_folder("Output folder (one subfolder per photo)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="dask scheduler ADDRESS (default: a LocalCluster)."),
    workers: int | None = typer.Option(None, "--workers", help="LocalCluster worker processes."),
    matcher: str = options.matcher("aliked, xfeat or sift."),
    reference_dir: Path | None = typer.Option(
        None,
        "--reference-dir",
        help="Pool of georeferenced tiles for the rows without a reference (or a reference_dir column).",
    ),
    cache: Path | None = options.cache("Folder for the pool's cached tile descriptors."),
    top_k: int = options.top_k("Pool rows: tiles verified by matching, best-ranked first (and up to 4 tied by votes)."),
) -> None:
    """Localize a catalog of photos on dask.distributed; reruns skip finished photos. Exit code 2
    when no photo was localized or rejected (each row's record is kept: it says why)."""
    from cupola.cli.progress import progress_bar
    from cupola.locate.batch import run_batch

    with progress_bar() as advance:
        counts = run_batch(
            catalog,
            out,
            matcher=matcher,
            scheduler=scheduler,
            workers=workers,
            progress=lambda d, t: advance("photos", d, t),
            reference_dir=reference_dir,
            cache_dir=cache,
            top_k=top_k,
        )
    print(", ".join(f"{k} {v}" for k, v in counts.items()) + f"; results in {out}")
    if counts["failed"] and not (counts["matched"] or counts["rejected"]):
        import json

        from cupola.errors import InputError

        log = out / "batch_log.jsonl"
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        reasons = [r.get("reason") for r in records if r.get("status") == "failed"][-counts["failed"] :]  # this run's
        raise InputError(
            f"no photo of {catalog} was localized or rejected ({counts['failed']} failed; each reason in {log}); "
            f"first: {next((r for r in reasons if r), '')}"
        )
