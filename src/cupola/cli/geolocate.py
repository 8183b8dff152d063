"""``cupola geolocate``: georeference one photo (thin wrapper over :mod:`cupola.georef`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options


def register(app: typer.Typer) -> None:
    app.command("geolocate")(geolocate_command)


def geolocate_command(
    photo: Path = typer.Argument(..., help="The photo (JPEG, TIFF, PNG)."),
    time: str = options.time("Exposure time, ISO 8601 with zone, e.g. 2017-05-17T05:44:09.526Z."),
    tle: Path = options.tle(),
    out: Path = options.out_folder(),
    focal_mm: float | None = options.focal_mm(),
    sensor_mm: tuple[float, float] | None = options.sensor_mm(),
    distortion: tuple[float, float, float, float, float] | None = typer.Option(
        None, "--distortion", help="Lens distortion K1 K2 P1 P2 K3 (OpenCV/Brown-Conrady, normalized coordinates)."
    ),
    attitude: tuple[float, float, float] | None = options.attitude(),
    look_at: tuple[float, float] | None = typer.Option(
        None, "--look-at", help="Target LAT LON the boresight points at."
    ),
    rotation: float = typer.Option(0.0, "--rotation", help="With --look-at: rotation about the boresight, degrees."),
    tie_points: Path | None = typer.Option(None, "--tie-points", help="CSV col,row,lat,lon[,height_m]."),
    solve_focal: bool = typer.Option(False, "--solve-focal", help="With >= 4 tie points: solve the focal length too."),
    pixels: Path | None = typer.Option(None, "--pixels", help="CSV col,row of pixels to locate (writes pixels.csv)."),
    height_m: float = typer.Option(0.0, "--height-m", help="Surface height above the WGS84 ellipsoid (m)."),
    landmark: list[str] = typer.Option([], "--landmark", help="NAME:LAT:LON to mark on the quicklook (repeatable)."),
    force: bool = options.force(),
    quiet: bool = options.quiet(),
) -> None:
    """Georeference PHOTO: every pixel on the ground, footprint, GeoTIFF, KML and a quicklook."""
    from cupola.cli.progress import progress_bar
    from cupola.cli.report import print_geolocate_summary
    from cupola.geometry.times import parse_time
    from cupola.georef import GeolocateRequest, geolocate, write_products
    from cupola.georef.job import parse_landmark

    request = GeolocateRequest(
        photo=photo,
        time=parse_time(time, "--time"),
        tle_path=tle,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        distortion=distortion,
        attitude_rpy_deg=attitude,
        look_at=look_at,
        look_at_rotation_deg=rotation,
        tie_points=tie_points,
        solve_focal=solve_focal,
        pixels=pixels,
        height_m=height_m,
        force_tle=force,
        landmarks=[parse_landmark(s) for s in landmark],
    )
    result = geolocate(request)
    with progress_bar(disable=quiet) as advance:
        written = write_products(result, out, progress=advance)
    if not quiet:
        print_geolocate_summary(result, written)
