"""``cupola thermal``: thermal scenes (ECOSTRESS LST stacks, any thermal band) and multispectral
band stacks (thin wrapper over :mod:`cupola.thermal`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

thermal_app = typer.Typer(
    help="Thermal scenes (ECOSTRESS, CTI, any thermal band): brightness temperature, quality, clouds, heat "
    "islands; multispectral indices and band coregistration.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(thermal_app, name="thermal")


def _print_stack(summary: dict, out: Path) -> None:
    print(f"thermal: {len(summary['scenes'])} scene(s), {summary['cities']['count']} cities -> {out}")
    for s in summary["scenes"]:
        verdict = "usable    " if s["usable"] else "NOT usable"
        print(f"  {s['scene']} {s['scene_time']} {s['period']:5s} {verdict} {s['reason']}")


def _fields_need_cities(cities: Path | None, name_field: str | None, area_field: str | None) -> None:
    """``--name-field`` / ``--area-field`` name fields of the ``--cities`` layer: refused without it."""
    from cupola.errors import InputError

    for flag, value in (("--name-field", name_field), ("--area-field", area_field)):
        if value is not None and cities is None:
            raise InputError(f"{flag} names a field of the city layer: give --cities too")


@thermal_app.command("stack")
def stack_command(
    folder: Path = typer.Argument(..., help="Folder of ECOSTRESS L2 GeoTIFFs (LST/, QC/, cloud_mask/, water_mask/)."),
    cities: Path | None = typer.Option(
        None, "--cities", help="City polygons, or points with a land-area field (GeoJSON, GPKG, ...)."
    ),
    name_field: str | None = typer.Option(None, "--name-field", help="Field naming the cities (default: name)."),
    area_field: str | None = typer.Option(
        None, "--area-field", help="Land area field of point cities, square miles (default: AREALAND)."
    ),
    out: Path = options.out_folder(),
) -> None:
    """Screen every scene (cloud, QC, coverage, with the reason), mask it, and measure the heat island
    per city by day and by night over the stack."""
    from cupola.io.ecostress import find_ecostress_scenes
    from cupola.thermal.products import write_stack_products
    from cupola.thermal.stack import run_stack

    _fields_need_cities(cities, name_field, area_field)
    files = find_ecostress_scenes(folder)
    result = run_stack(files, cities, name_field=name_field, area_field=area_field)
    inputs = [p for f in files for p in f.values()] + ([cities] if cities else [])
    summary = write_stack_products(result, out, inputs=inputs)
    _print_stack(summary, out)


@thermal_app.command("scene")
def scene_command(
    lst: Path = typer.Argument(..., help="ECOSTRESS LST GeoTIFF, or an L2 LSTE HDF5 file."),
    qc: Path | None = typer.Option(None, "--qc", help="QC GeoTIFF of the scene."),
    cloud: Path | None = typer.Option(None, "--cloud", help="Cloud mask GeoTIFF of the scene."),
    water: Path | None = typer.Option(None, "--water", help="Water mask GeoTIFF of the scene."),
    geo: Path | None = typer.Option(None, "--geo", help="ECO_L1B_GEO HDF5 for a swath HDF5 without lat/lon."),
    lst_scale: float | None = typer.Option(None, "--lst-scale", help="Scale of an integer LST without one (K)."),
    cities: Path | None = typer.Option(None, "--cities", help="City polygons or points with a land-area field."),
    name_field: str | None = typer.Option(None, "--name-field", help="Field naming the cities."),
    area_field: str | None = typer.Option(
        None, "--area-field", help="Land area field of point cities, square miles (default: AREALAND)."
    ),
    out: Path = options.out_folder(),
) -> None:
    """One scene: screening with the reason, masked LST as COG, cloud mask, heat island per city."""
    from cupola.io.ecostress import read_ecostress_geotiffs, read_ecostress_h5
    from cupola.io.zone_layer import read_zone_layer
    from cupola.thermal.products import write_stack_products
    from cupola.thermal.stack import analyse_stack, bounds_lonlat, cities_from_layer

    _fields_need_cities(cities, name_field, area_field)
    if lst.suffix.lower() in (".h5", ".hdf5", ".he5"):
        scene = read_ecostress_h5(lst, geo)
    else:
        scene = read_ecostress_geotiffs(lst, qc, cloud, water, lst_scale=lst_scale)
    zones = None
    if cities is not None:
        layer = read_zone_layer(cities)
        zones = cities_from_layer(
            layer.geometries,
            layer.fields,
            layer.crs,
            bounds_lonlat(scene),
            name_field=name_field,
            area_field=area_field,
        )
    result = analyse_stack([scene], zones)
    summary = write_stack_products(result, out, inputs=[lst, qc, cloud, water, geo, cities])
    _print_stack(summary, out)


@thermal_app.command("bt")
def bt_command(
    radiance: Path = typer.Argument(..., help="Thermal radiance raster (W m-2 sr-1 um-1), GeoTIFF."),
    band: str = typer.Option(
        ..., "--band", help="ecostress-1..5, cti-mwir, cti-lwir, gaussian:CENTRE:FWHM, tophat:LOW:HIGH (um) or a CSV."
    ),
    emissivity: float | None = typer.Option(
        None, "--emissivity", help="Surface emissivity for the surface temperature."
    ),
    raster_band: int = typer.Option(1, "--raster-band", help="Band of the radiance raster (1-based)."),
    out: Path = options.out_folder(),
) -> None:
    """Brightness temperature through the band-integrated Planck function (and surface temperature)."""
    from cupola.thermal.band_jobs import run_bt

    s = run_bt(radiance, band, out, emissivity=emissivity, radiance_band=raster_band)
    e = s["central_wavelength_error_k"]
    print(
        f"thermal bt: {s['inputs']['band']['name']} -> {out}; median BT {s['bt_k'].get('median', float('nan')):.2f} K; "
        f"the central-wavelength shortcut would be off by {e['min']:+.3f}..{e['max']:+.3f} K (200-400 K)"
    )


@thermal_app.command("indices")
def indices_command(
    stack: Path | None = typer.Argument(None, help="Multi-band GeoTIFF, or an RGB photo (JPEG/PNG/TIFF)."),
    bands: str | None = typer.Option(None, "--bands", help="Roles of the stack's bands, e.g. red=3,green=2,nir=4."),
    band_file: list[str] = typer.Option([], "--band-file", help="ROLE=FILE, a band in its own file (repeatable)."),
    coregister: bool = typer.Option(
        False, "--coregister", help="Align every band on the reference by phase correlation."
    ),
    reference: str | None = typer.Option(None, "--reference", help="Reference band role (default red)."),
    out: Path = options.out_folder(),
) -> None:
    """NDVI, NDWI, MNDWI, NBR (RGB-only proxies flagged as such), with band-to-band coregistration."""
    from cupola.errors import InputError
    from cupola.thermal.band_jobs import parse_band_map, run_indices

    if reference is not None and not coregister:
        raise InputError("--reference is the band the others are aligned on: give --coregister too")
    files: dict[str, str] = {}
    for item in band_file:
        role, sep, f = item.partition("=")
        if not sep or not f:
            raise InputError(f"--band-file {item!r}: expected ROLE=FILE")
        files[role.lower()] = f
    s = run_indices(
        stack, out, band_map=parse_band_map(bands), band_files=files, coregister_bands=coregister, reference=reference
    )
    names = ", ".join(f"{i['name']}{' (proxy)' if i['proxy'] else ''}" for i in s["indices"])
    print(f"thermal indices: {names} -> {out}")
    for k, v in s["coregistration"].items():
        if not v.get("reference"):
            print(f"  {k}: shift ({v['dx_px']:+.3f}, {v['dy_px']:+.3f}) px, peak {v['peak']:.2f}")


@thermal_app.command("splitwindow")
def splitwindow_command(
    band_i: Path = typer.Argument(..., help="The ~11 um band (brightness temperature K, or radiance), GeoTIFF."),
    band_j: Path = typer.Argument(..., help="The ~12 um band on the same grid, GeoTIFF."),
    sensor: str = typer.Option(..., "--sensor", help="Band pair and coefficients: landsat8 (published) or ecostress."),
    emissivity: str | None = typer.Option(
        None, "--emissivity", help="Surface emissivity: one value, or two (band i, band j) as E_I,E_J."
    ),
    ndvi: Path | None = typer.Option(None, "--ndvi", help="NDVI GeoTIFF on the same grid (NDVI thresholds method)."),
    tcw: float | None = typer.Option(None, "--tcw", help="Total column water vapour (g cm-2); assumed 2 if not given."),
    units: str = typer.Option("auto", "--units", help="What the bands hold: auto, K or radiance (W m-2 sr-1 um-1)."),
    scale: float | None = typer.Option(None, "--scale", help="Scale of integer bands without one."),
    out: Path = options.out_folder(),
) -> None:
    """Land-surface temperature from two thermal bands by the generalized split window (Jimenez-Munoz &
    Sobrino 2008), with its predicted error."""
    from cupola.thermal.splitwindow_job import run_splitwindow

    s = run_splitwindow(
        band_i, band_j, out, sensor=sensor, emissivity=emissivity, ndvi=ndvi, tcw_g_cm2=tcw, units=units, scale=scale
    )
    e = s["predicted_error_k"]
    print(
        f"thermal splitwindow ({s['sensor']}): median LST {s['lst_k'].get('median', float('nan')):.2f} K, "
        f"predicted error {e.get('median', float('nan')):.2f} K (1 sigma) -> {out}"
    )


@thermal_app.command("fire")
def fire_command(
    mwir: Path = typer.Argument(..., help="Mid-wave band (CTI 3.3-5.4 um): brightness temperature K or radiance."),
    lwir: Path = typer.Argument(..., help="Long-wave band (CTI 7.8-10.7 um) on the same grid."),
    sensor: str = typer.Option("cti", "--sensor", help="Band pair: cti."),
    night: bool = typer.Option(False, "--night", help="Night-time thresholds (Giglio et al. 2003); default day."),
    water: Path | None = typer.Option(None, "--water", help="Water mask GeoTIFF (1 = water) on the same grid."),
    units: str = typer.Option("auto", "--units", help="What the bands hold: auto, K or radiance (W m-2 sr-1 um-1)."),
    scale: float | None = typer.Option(None, "--scale", help="Scale of integer bands without one."),
    out: Path = options.out_folder(),
) -> None:
    """Active fires from a mid-wave and a long-wave band by the contextual test of Giglio et al. (2003),
    with clouds told from the surface (cold, rough, and by day bright in the mid-wave)."""
    from cupola.thermal.fire_job import run_fire

    s = run_fire(mwir, lwir, out, sensor=sensor, night=night, water=water, units=units, scale=scale)
    print(
        f"thermal fire ({s['sensor']}, {s['period']}): {s['fire_pixels']} fire pixel(s) "
        f"({s['absolute']} absolute, {s['contextual']} contextual), cloud {s['cloud_fraction']:.1%} -> {out}"
    )
