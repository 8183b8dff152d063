"""``cupola nightlights``: calibrate DSLR night images into radiance and colour indices (thin
wrapper over :mod:`cupola.nightlights`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

nightlights_app = typer.Typer(
    help="Calibrate DSLR night images from the ISS into radiance, colour ratios and lamp classes.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(nightlights_app, name="nightlights")


def _bands(text: str | None, flag: str, lo: float, hi: float, low_open: bool = False) -> dict | None:
    if text is None:
        return None
    from cupola.errors import InputError

    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{flag} takes three numbers R,G,B, got {text!r}") from None
    if len(vals) != 3:
        raise InputError(f"{flag} takes three numbers R,G,B, got {text!r}")
    for v in vals:
        if not (lo < v <= hi if low_open else lo <= v <= hi):  # NaN fails both
            raise InputError(
                f"{flag}: {v:g} is out of range; expected three numbers R,G,B in "
                f"{'(' if low_open else '['}{lo:g}, {hi:g}]"
            )
    return dict(zip("RGB", vals))


@nightlights_app.command("calibrate")
def calibrate_command(
    raws: list[Path] = typer.Argument(
        ...,
        help="RAW files (NEF, DNG, ...) of one sequence: same camera, lens, settings; JPEG, TIFF or PNG "
        "photos are read too, with approximate radiance (see --transfer).",
    ),
    out: Path = options.out_folder("Output folder: one subfolder per RAW plus calibration.json."),
    dark: Path | None = typer.Option(None, "--dark", help="Dark frame (RAW, same exposure and ISO, lens capped)."),
    flat: Path | None = typer.Option(
        None, "--flat", help="Flat-field frame (RAW of a uniform source); replaces lensfun's vignetting."
    ),
    stars: str = typer.Option(
        "auto",
        "--stars",
        help="'auto' (calibrate on the stars in the frames) or a calibration.json from an earlier run.",
    ),
    tie_points: Path | None = typer.Option(
        None, "--tie-points", help="CSV col,row,lat,lon[,height_m] of the first RAW (sensor pixels)."
    ),
    tle: Path | None = options.tle("TLE file of the ISS (for georeferencing).", required=False),
    time: str | None = options.time(
        "Mid-exposure time of the first RAW, ISO 8601 with zone (default: EXIF).", required=False
    ),
    exposure_s: float | None = typer.Option(None, "--exposure-s", help="Exposure time if EXIF lacks it."),
    iso: float | None = typer.Option(None, "--iso", help="ISO speed if EXIF lacks it."),
    f_number: float | None = typer.Option(None, "--f-number", help="f-number if EXIF lacks it."),
    focal_mm: float | None = options.focal_mm("Focal length in mm if EXIF lacks it (or to override it)."),
    sensor_mm: tuple[float, float] | None = options.sensor_mm("Sensor WIDTH HEIGHT (mm) for cameras not known."),
    extinction: str | None = typer.Option(
        None, "--extinction", help="Atmospheric extinction R,G,B in mag per airmass (default 0.10,0.15,0.25)."
    ),
    window: str | None = typer.Option(
        None, "--window", help="Window transmission R,G,B, applied to constants measured without the window."
    ),
    no_atmosphere: bool = typer.Option(False, "--no-atmosphere", help="Radiance at the top of the atmosphere."),
    transfer: str = typer.Option(
        "srgb", "--transfer", help="How JPEG/TIFF/PNG values encode light: srgb (IEC 61966-2-1) or linear."
    ),
    no_sequence_seed: bool = typer.Option(
        False,
        "--no-sequence-seed",
        help="Do not identify the stars of frames the blind search left unsolved from the attitude "
        "carried from the sequence's solved frames.",
    ),
    force: bool = options.force(),
) -> None:
    """Decode, flat-field, calibrate on stars, and write radiance, G/R and B/G, lamp classes and report.png."""
    from cupola.cli.progress import progress_bar
    from cupola.geometry.times import parse_time
    from cupola.nightlights.pipeline import CalibrateOptions, calibrate, write_products
    from cupola.nightlights.radiance import RadianceSettings

    settings = RadianceSettings()
    ext = _bands(extinction, "--extinction", 0.0, 5.0)  # magnitudes per airmass
    win = _bands(window, "--window", 0.0, 1.0, low_open=True)  # transmission
    if ext is not None:
        settings = RadianceSettings(extinction_mag=ext, window_transmission=settings.window_transmission)
    if win is not None:
        settings = RadianceSettings(extinction_mag=settings.extinction_mag, window_transmission=win)
    if no_atmosphere:
        settings = RadianceSettings(settings.extinction_mag, settings.window_transmission, atmosphere=False)
    opts = CalibrateOptions(
        dark=dark,
        flat=flat,
        stars=stars,
        tie_points=tie_points,
        tle=tle,
        time=parse_time(time, "--time") if time else None,
        exposure_s=exposure_s,
        iso=iso,
        f_number=f_number,
        focal_mm=focal_mm,
        sensor_mm=tuple(sensor_mm) if sensor_mm else None,
        radiance=settings,
        force_tle=force,
        transfer=transfer,
        sequence_seed=not no_sequence_seed,
    )
    with progress_bar() as advance:
        seq = calibrate(raws, opts, progress=advance)
        write_products(seq, out, progress=advance)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"nightlights: {len(seq.frames)} frame(s) -> {out}")
    for col in ("RAW", "stars", "calibration", "lens", "median radiance R,G,B (nW cm-2 sr-1)"):
        t.add_column(col)
    import numpy as np

    for fr in seq.frames:
        med = ", ".join(
            f"{np.nanmedian(fr.radiance[k]):.3g}" if np.isfinite(fr.radiance[k]).any() else "-" for k in range(3)
        )
        t.add_row(fr.path.name, fr.star_note or "-", fr.calibration_from, fr.lens.vignetting, med)
    if seq.calibration is not None:
        c = seq.calibration
        t.caption = "zero points " + ", ".join(f"{k} {c.zero_points[k]:.3f}±{c.zero_point_err[k]:.3f}" for k in "RGB")
    Console().print(t)


@nightlights_app.command("stars")
def stars_command(
    photo: Path = typer.Argument(..., help="Night photo with stars: JPEG, TIFF, PNG or RAW (NEF, DNG, ...)."),
    out: Path = options.out_folder("Output folder: wcs.fits, stars.csv, result.json, stars.png."),
    time: str | None = options.time(
        "Mid-exposure time, ISO 8601 with zone (default: EXIF DateTimeOriginal read as UTC).", required=False
    ),
    tle: Path | None = options.tle("TLE file of the ISS: gives the camera's pose in ITRS and LVLH.", required=False),
    focal_mm: float | None = options.focal_mm("Focal length in mm to start from (default: EXIF)."),
    sensor_mm: tuple[float, float] | None = options.sensor_mm("Sensor WIDTH HEIGHT (mm) for cameras not known."),
    transfer: str = typer.Option(
        "srgb", "--transfer", help="How JPEG/TIFF/PNG values encode light: srgb (IEC 61966-2-1) or linear."
    ),
    reference_wcs: Path | None = typer.Option(
        None, "--reference-wcs", help="Another solution's WCS header (e.g. astrometry.net's .wcs) to compare with."
    ),
    force: bool = options.force(),
    quiet: bool = options.quiet("No summary."),
) -> None:
    """Plate solve the star field alone: WCS (FITS), identified stars, camera pose with --tle."""
    from cupola.geometry.times import parse_time
    from cupola.nightlights.plate_job import StarsOptions, run_stars, write_stars_products

    opts = StarsOptions(
        time=parse_time(time, "--time") if time else None,
        tle=tle,
        force_tle=force,
        focal_mm=focal_mm,
        sensor_mm=tuple(sensor_mm) if sensor_mm else None,
        transfer=transfer,
        reference_wcs=reference_wcs,
    )
    res = run_stars(photo, opts)
    write_stars_products(res, out, inputs=[tle, reference_wcs])
    if quiet:
        return
    sol = res.plate.astrometry
    ra, dec = sol.boresight_radec_deg
    print(
        f"nightlights stars: {sol.n_matched} Hipparcos stars ({res.plate.method}), rms {sol.rms_px:.2f} px, "
        f"boresight RA {ra:.4f} Dec {dec:.4f} deg, {res.plate.pixel_scale_arcsec:.2f} arcsec/px -> {out}"
    )
    if res.pose is not None:
        b = res.pose["boresight"]
        print(
            f"  pose: off-nadir {b['off_nadir_deg']:.2f} deg, azimuth from velocity "
            f"{b['azimuth_from_velocity_deg']:.2f} deg, LVLH roll/pitch/yaw "
            f"{res.pose['lvlh_roll_deg']:.2f}/{res.pose['lvlh_pitch_deg']:.2f}/{res.pose['lvlh_yaw_deg']:.2f} deg"
        )
    if res.reference is not None:
        a = res.reference["sky"] or res.reference["all"]
        print(
            f"  vs {reference_wcs}: median {a['median_deg']:.4f}, p90 {a['p90_deg']:.4f}, max {a['max_deg']:.4f} deg "
            f"over {a['pixels']} lattice pixels ({res.reference['sky_from']})"
        )


@nightlights_app.command("zones")
def zones_command(
    radiance: Path = typer.Argument(
        ..., help="Night-light raster: cupola's radiance.tif, a VIIRS or Black Marble GeoTIFF."
    ),
    zones: Path = typer.Option(..., "--zones", help="Zone polygons: GeoJSON, GeoPackage, Shapefile (any CRS)."),
    out: Path = options.out_folder("Output folder: zones.gpkg/.geojson/.csv, maps, plots, report.html, result.json."),
    zone_field: str | None = typer.Option(None, "--zone-field", help="Field naming each zone (default: 'name')."),
    class_field: str | None = typer.Option(
        None, "--class-field", help="Field flagging deprived zones (yes/no, true/false, 1/0, deprived/other)."
    ),
    city_field: str | None = typer.Option(None, "--city-field", help="Field grouping zones into cities."),
    population: Path | None = typer.Option(
        None, "--population", help="Population raster (persons per pixel) on the radiance grid."
    ),
    centre: tuple[float, float] | None = typer.Option(
        None, "--centre", help="LAT LON of the centre for the rings (default: each city's light-weighted centroid)."
    ),
    ring_km: float | None = typer.Option(None, "--ring-km", help="Width of the distance rings in km (default: auto)."),
    band: int = typer.Option(1, "--band", help="Band of the radiance raster (1-based)."),
    lit_threshold: float = typer.Option(
        0.5, "--lit-threshold", help="Radiance above which a pixel is lit (nW cm-2 sr-1)."
    ),
    bootstrap: int = typer.Option(2000, "--bootstrap", help="Bootstrap resamples of the deprived-vs-other difference."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Exact zonal statistics, inequality, centre-periphery rings, deprived vs other, light vs population."""
    from cupola.nightlights.zones import ZonesOptions, run_zones
    from cupola.nightlights.zones_products import write_zones_products

    opts = ZonesOptions(
        zone_field=zone_field,
        class_field=class_field,
        city_field=city_field,
        centre_lat_lon=tuple(centre) if centre else None,
        ring_km=ring_km,
        band=band,
        lit_threshold=lit_threshold,
        n_boot=bootstrap,
        seed=seed,
    )
    result = run_zones(radiance, zones, opts, population_path=population)
    summary = write_zones_products(result, out, inputs=[radiance, zones, population])
    z = summary["zones"]
    print(f"nightlights zones: {z['count']} zones ({z['with_data']} with data) -> {out}")
    for x in result.inequality:
        print(f"  Gini {x.gini:.3f}, Theil {x.theil:.3f}: {x.values} weighted by {x.weights}")
    for c in result.comparisons:
        print(
            f"  deprived - other [{c.city}] {c.measure}: {c.difference:.3g} "
            f"[{c.difference_low:.3g}, {c.difference_high:.3g}], p={c.p_value:.3g}, r_rb={c.rank_biserial:.2f}"
        )
    for c in result.correlations:
        print(
            f"  light vs population [{c.city}]: Pearson(log) {c.pearson_r:.2f} "
            f"[{c.pearson_low:.2f}, {c.pearson_high:.2f}], Spearman {c.spearman_rho:.2f}, n={c.n}"
        )
