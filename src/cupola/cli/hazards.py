"""``cupola hazards flood|burn|fire|change|plume BEFORE AFTER [--reference REF] --out DIR``: hazard
maps from a before/after pair of georeferenced images (thin wrapper over :mod:`cupola.hazards`);
with ``--reference`` the 'after' photo is first located by :mod:`cupola.locate`."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

hazards_app = typer.Typer(
    help="Rapid hazard mapping from a before/after pair: flood extent, burn scars, active fires, change.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(hazards_app, name="hazards")


def _before() -> Path:
    return typer.Argument(..., help="The 'before' image: any georeferenced raster (GeoTIFF).")


def _after() -> Path:
    return typer.Argument(..., help="The 'after' image, georeferenced (e.g. georef.tif of cupola georef/locate).")


def _reference() -> Path | None:
    return typer.Option(
        None,
        "--reference",
        help="AFTER is a photo without georeferencing (e.g. an astronaut JPEG): locate it first against this "
        "georeferenced image (GeoTIFF; BEFORE itself will do) as cupola locate does; its products go to OUT/located.",
    )


def _aoi() -> Path | None:
    return typer.Option(None, "--aoi", help="Area of interest: polygons (GeoJSON, GPKG, ...).")


def _bands() -> str | None:
    return typer.Option(
        None, "--bands", help="Band names in order, e.g. red,green,blue,nir (default: from descriptions or count)."
    )


def _before_bands() -> str | None:
    return typer.Option(None, "--before-bands", help="Band names of the 'before' image when they differ.")


def _min_area() -> float:
    return typer.Option(0.01, "--min-area-km2", help="Drop polygons smaller than this (km², the noise floor).")


def _time(which: str) -> str | None:
    return typer.Option(
        None,
        f"--{which}-time",
        help=f"Acquisition time of the '{which}' image (ISO 8601, UTC); with it, cloud shadows are masked too.",
    )


def _features() -> list[Path]:
    return typer.Option(
        [], "--features", help="A vector layer (roads, buildings, ...) to count in the hazard; repeatable."
    )


def _population() -> Path | None:
    return typer.Option(None, "--population", help="Population raster (people per pixel): people in the hazard.")


def _dem() -> Path | None:
    return typer.Option(
        None, "--dem", help="Ground elevation raster (m): flood depth (FwDET) as depth.tif, polygons graded by depth."
    )


def _clouds() -> str:
    return typer.Option(
        "auto",
        "--clouds",
        help="auto: mask clouds in both images (RGB or thermal model) as no data; off: no automatic mask.",
    )


def _cloud_mask(which: str) -> Path | None:
    return typer.Option(
        None,
        f"--cloud-mask-{which}",
        help=f"Cloud mask raster of the '{which}' image (0 clear, other values cloud; e.g. ECOSTRESS "
        "cloud_mask), georeferenced, covering the pair; replaces the automatic mask of that image.",
    )


def _run(
    kind,
    before,
    after,
    aoi,
    bands,
    before_bands,
    min_area_km2,
    before_time,
    after_time,
    out,
    quiet,
    features=(),
    population=None,
    dem=None,
    clouds="auto",
    cloud_mask_before=None,
    cloud_mask_after=None,
    night_photo=False,
    reference=None,
) -> None:
    import contextlib
    import dataclasses

    from cupola.cli.progress import progress_bar
    from cupola.hazards.affected import affected_features, people_affected
    from cupola.hazards.analyse import check_options, check_times, map_hazard
    from cupola.hazards.pair import clip_to_aoi, read_mask_on_grid, read_on_grid, read_pair
    from cupola.hazards.products import write_hazard_products

    check_options(kind, min_area_km2, clouds=clouds)
    before_time, after_time = check_times(before_time, after_time)
    inputs = [before, after, aoi, population, dem, cloud_mask_before, cloud_mask_after, *features]
    dest, located = out, None
    with progress_bar(disable=quiet) as advance, contextlib.ExitStack() as stack:
        if reference is not None:  # the located photo and the hazard products land together, or nothing does
            from cupola.io.staging import staged_output

            advance("locating", 0, 1)
            dest = stack.enter_context(staged_output(out, kind="hazards", inputs=[*inputs, reference]))
            after, located = _locate_after(after, reference, dest / "located")
            if after_time is None:
                after_time = located.get("photo_time")
            advance("locating", 1, 1)
        advance("reading", 0, 1)
        pair = read_pair(before, after, bands=bands, before_bands=before_bands)
        # the times given win over the images' own tags (the sun for cloud shadows)
        given_times = {k: v for k, v in (("before", before_time), ("after", after_time)) if v}
        pair = dataclasses.replace(pair, times={**pair.times, **given_times})
        if aoi is not None:
            pair = clip_to_aoi(pair, aoi)
        advance("reading", 1, 1)
        dem_m = read_on_grid(dem, pair, "the DEM (`--dem`)") if dem is not None else None
        given = {}
        for which, path in (("before", cloud_mask_before), ("after", cloud_mask_after)):
            if path is not None:
                given[which] = (read_mask_on_grid(path, pair, f"the cloud mask (`--cloud-mask-{which}`)"), path.name)
        hmap = map_hazard(
            pair,
            kind,
            min_area_km2=min_area_km2,
            progress=advance,
            dem_m=dem_m,
            clouds=clouds,
            cloud_masks=given,
            night_photo=night_photo,
            match_colours=reference is not None,  # a photo against a reference: two cameras
        )
        times = {k: v for k, v in (("before", before_time), ("after", after_time)) if v}
        affected: dict = {}
        if features:
            affected["features"] = [affected_features(hmap.polygons, f) for f in features]
        if population is not None:
            affected["people"] = people_affected(hmap.polygons, population)
        advance("products", 0, 1)
        summary = write_hazard_products(
            hmap, pair, dest, inputs=[*inputs, after], times=times, affected=affected, located=located
        )
        advance("products", 1, 1)
    if not quiet:
        if located is not None:
            c = located["center"]
            print(
                f"located {Path(located['photo']).name} against {Path(located['reference']).name}: "
                f"confidence {located['confidence']:.2f}, centre {c['lat_deg']:.4f}, {c['lon_deg']:.4f} "
                f"({located['inliers']} inliers)"
            )
        print(
            f"hazards {kind}: {summary['polygons']} polygon(s), {summary['area_km2']:.4g} km² of {summary['class']} "
            f"({summary['method']}) -> {out}"
        )
        for f in affected.get("features", []):
            print(f"  {f['layer']}: {f['affected']} of {f['features']} feature(s) affected, {f['length_km']:.3g} km")
        if "people" in affected:
            print(f"  people in the {summary['class']}: {affected['people']:.0f}")
        if "frp" in summary:
            f = summary["frp"]
            print(
                f"  fire radiative power: {f['total_mw']:.4g} MW in {f['hotspots']} hotspot(s) "
                f"(within a factor {f['within_factor']:.2g} for 600-1200 K fires)"
            )
            counts = ", ".join(f"{g['grade']}: {g['polygons']}" for g in summary["grading"]["grades"])
            print(f"  fires by power: {counts}")
        if "clouds" in summary:
            c = summary["clouds"]
            shares = ", ".join(f"{w} {100 * c[w]['cloud_share']:.1f} %" for w in ("before", "after"))
            print(f"  clouds (no data): {c['no_data_km2']:.4g} km² ({shares} of the pair)")
        if "depth" in summary and summary["depth"]["max_m"] is not None:
            d = summary["depth"]
            print(f"  flood depth (FwDET): mean {d['mean_m']:.2f} m, max {d['max_m']:.2f} m, {d['volume_m3']:.4g} m³")


def _locate_after(photo: Path, reference: Path, folder: Path) -> tuple[Path, dict]:
    """Locate the 'after' photo against ``reference`` with cupola locate's defaults and write
    locate's products (``georef.tif`` among them) into ``folder``; the located ``georef.tif`` and a
    summary. A photo that is not found is an input error: no hazard map from a guessed position."""
    import contextlib

    import rasterio

    from cupola.errors import InputError
    from cupola.locate.job import exif_time_utc, run_locate, summary, write_locate_products

    try:
        with rasterio.open(reference) as ds:
            georeferenced = ds.crs is not None and not ds.transform.is_identity
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{reference}: cannot read `reference` ({' '.join(str(exc).split())})") from None
    if not georeferenced:
        raise InputError(f"{reference}: `reference` has no georeferencing (CRS and geotransform)")
    result, image, refs = run_locate(photo, reference)
    if not result.matched or result.center_lonlat is None:
        raise InputError(f"{photo}: the 'after' photo was not found in the reference {reference} ({result.reason})")
    write_locate_products(result, image, refs, folder, photo_path=photo, reference_path=reference)
    full = summary(result, photo, reference)  # what locate's own result.json holds
    keep = ("photo", "reference", "confidence", "inliers", "center", "ground_width_m")
    located = {"method": "cupola locate (defaults)", **{k: full[k] for k in keep}, "products": folder.name}
    with contextlib.suppress(InputError):
        located["photo_time"] = exif_time_utc(photo)
    return folder / "georef.tif", located


@hazards_app.command("flood")
def flood_command(
    before: Path = _before(),
    after: Path = _after(),
    reference: Path | None = _reference(),
    aoi: Path | None = _aoi(),
    bands: str | None = _bands(),
    before_bands: str | None = _before_bands(),
    min_area_km2: float = _min_area(),
    before_time: str | None = _time("before"),
    after_time: str | None = _time("after"),
    features: list[Path] = _features(),
    population: Path | None = _population(),
    dem: Path | None = _dem(),
    clouds: str = _clouds(),
    cloud_mask_before: Path | None = _cloud_mask("before"),
    cloud_mask_after: Path | None = _cloud_mask("after"),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Flood extent: water after and not before (MNDWI/NDWI with Otsu; an RGB water model at lower
    confidence for true-colour photos); with --dem its depth (FwDET) and depth grades."""
    _run(
        "flood",
        before,
        after,
        aoi,
        bands,
        before_bands,
        min_area_km2,
        before_time,
        after_time,
        out,
        quiet,
        features,
        population,
        dem,
        clouds,
        cloud_mask_before,
        cloud_mask_after,
        reference=reference,
    )


@hazards_app.command("burn")
def burn_command(
    before: Path = _before(),
    after: Path = _after(),
    reference: Path | None = _reference(),
    aoi: Path | None = _aoi(),
    bands: str | None = _bands(),
    before_bands: str | None = _before_bands(),
    min_area_km2: float = _min_area(),
    before_time: str | None = _time("before"),
    after_time: str | None = _time("after"),
    features: list[Path] = _features(),
    population: Path | None = _population(),
    clouds: str = _clouds(),
    cloud_mask_before: Path | None = _cloud_mask("before"),
    cloud_mask_after: Path | None = _cloud_mask("after"),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Burn scar: dNBR above Otsu's threshold (needs NIR and SWIR2)."""
    _run(
        "burn",
        before,
        after,
        aoi,
        bands,
        before_bands,
        min_area_km2,
        before_time,
        after_time,
        out,
        quiet,
        features,
        population,
        None,
        clouds,
        cloud_mask_before,
        cloud_mask_after,
        reference=reference,
    )


@hazards_app.command("fire")
def fire_command(
    before: Path = _before(),
    after: Path = _after(),
    reference: Path | None = _reference(),
    aoi: Path | None = _aoi(),
    bands: str | None = _bands(),
    before_bands: str | None = _before_bands(),
    min_area_km2: float = typer.Option(0.0, "--min-area-km2", help="Drop polygons smaller than this (km²)."),
    before_time: str | None = _time("before"),
    after_time: str | None = _time("after"),
    features: list[Path] = _features(),
    population: Path | None = _population(),
    cloud_mask_after: Path | None = _cloud_mask("after"),
    night_photo: bool = typer.Option(
        False,
        "--night-photo",
        help="BEFORE and AFTER are night photos (linear R, G, B): a fire is new light with a flame's colour.",
    ),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Active fire: contextual brightness-temperature anomalies of the 'after' thermal band
    (--cloud-mask-after: its clouds are no data; no automatic cloud mask); with --night-photo, new
    light in a night pair whose colour is a flame's, not a lamp's."""
    _run(
        "fire",
        before,
        after,
        aoi,
        bands,
        before_bands,
        min_area_km2,
        before_time,
        after_time,
        out,
        quiet,
        features,
        population,
        None,
        "auto",
        None,
        cloud_mask_after,
        night_photo,
        reference=reference,
    )


@hazards_app.command("change")
def change_command(
    before: Path = _before(),
    after: Path = _after(),
    reference: Path | None = _reference(),
    aoi: Path | None = _aoi(),
    bands: str | None = _bands(),
    before_bands: str | None = _before_bands(),
    min_area_km2: float = _min_area(),
    before_time: str | None = _time("before"),
    after_time: str | None = _time("after"),
    features: list[Path] = _features(),
    population: Path | None = _population(),
    clouds: str = _clouds(),
    cloud_mask_before: Path | None = _cloud_mask("before"),
    cloud_mask_after: Path | None = _cloud_mask("after"),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Change: change-vector analysis of histogram-matched bands with an automatic threshold."""
    _run(
        "change",
        before,
        after,
        aoi,
        bands,
        before_bands,
        min_area_km2,
        before_time,
        after_time,
        out,
        quiet,
        features,
        population,
        None,
        clouds,
        cloud_mask_before,
        cloud_mask_after,
        reference=reference,
    )


@hazards_app.command("plume")
def plume_command(
    before: Path = _before(),
    after: Path = _after(),
    reference: Path | None = _reference(),
    aoi: Path | None = _aoi(),
    bands: str | None = _bands(),
    before_bands: str | None = _before_bands(),
    min_area_km2: float = _min_area(),
    before_time: str | None = _time("before"),
    after_time: str | None = _time("after"),
    features: list[Path] = _features(),
    population: Path | None = _population(),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Volcanic plume / ash: with --bands ...,tir11,tir12 (brightness temperatures near 11 and 12 um,
    K) the split-window difference BT11 - BT12 < 0, new in 'after' (Prata 1989); with red, green,
    blue a new grey-to-brown region that is not white cloud, at lower confidence."""
    _run(
        "plume",
        before,
        after,
        aoi,
        bands,
        before_bands,
        min_area_km2,
        before_time,
        after_time,
        out,
        quiet,
        features,
        population,
        None,
        "off",
        reference=reference,
    )
