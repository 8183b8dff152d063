"""``cupola lightning``: orient and locate ISS photos and video from lightning detections
(thin wrapper over :mod:`cupola.lightning`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

lightning_app = typer.Typer(
    help="Orient and locate ISS photos and video from lightning-network detections.", no_args_is_help=True
)

CAMERAS = {
    # name: (focal_mm, sensor_w_mm, sensor_h_mm, width_px, height_px)
    "d5-50mm": (50.0, 35.9, 23.9, 5568, 3712),
    "meteor": (10.5, 8.7, 4.89375, 1280, 738),
}


def register(app: typer.Typer) -> None:
    app.add_typer(lightning_app, name="lightning")


@lightning_app.command("solve")
def solve_command(
    photo: Path | None = typer.Argument(None, help="A single photo (with --time and --exposure-s)."),
    video: Path | None = typer.Option(None, "--video", help="A video file (with --time of its first frame)."),
    frames: Path | None = typer.Option(None, "--frames", help="Folder of frames (with --frame-times)."),
    frame_times: Path | None = typer.Option(None, "--frame-times", help="CSV file,time_utc[,exposure_s]."),
    time: str | None = options.time(
        "Start of the exposure (photo) or of the first frame (video), camera clock, ISO 8601.", required=False
    ),
    exposure_s: float | None = typer.Option(None, "--exposure-s", help="Exposure time in seconds."),
    fps: float | None = typer.Option(None, "--fps", help="Video frame rate (default: from the file)."),
    events: list[Path] = typer.Option(
        [],
        "--events",
        help="Network events CSV time_utc,lat,lon[,height_m]"
        "[,peak_current_ka][,type] or mapper groups "
        "time_utc,lat,lon,energy (repeatable).",
    ),
    tle: Path = options.tle(),
    out: Path = options.out_folder(),
    focal_mm: float | None = options.focal_mm(),
    sensor_mm: tuple[float, float] | None = options.sensor_mm(),
    attitude_guess: tuple[float, float, float] | None = typer.Option(
        None, "--attitude-guess", help="Approximate LVLH roll, pitch, yaw in degrees (narrows the search)."
    ),
    guess_radius_deg: float = typer.Option(10.0, "--guess-radius-deg", help="How far off the guess may be, deg."),
    solve_focal: bool = typer.Option(False, "--solve-focal", help="Solve the focal length too."),
    emission_height_m: float = typer.Option(10_000.0, "--emission-height-m", help="Cloud-top emission height, m."),
    emission_height_sigma_m: float = typer.Option(
        2_000.0, "--emission-height-sigma-m", help="Scatter of emission heights between flashes, m."
    ),
    height_mode: str = typer.Option(
        "auto", "--solve-height", help="auto (solved when the data constrain it), yes (free) or no (fixed)."
    ),
    clock_offset_s: float = typer.Option(0.0, "--clock-offset-s", help="Expected network - camera time, s."),
    max_clock_offset_s: float = typer.Option(10.0, "--max-clock-offset-s", help="Search +- this around it, s."),
    event_sigma_m: float | None = typer.Option(
        None,
        "--event-sigma-m",
        help="Location error (1 sigma per axis) of the events, m (default 150 network, 4000 mapper).",
    ),
    centroid_sigma_px: float = typer.Option(1.0, "--centroid-sigma-px", help="Flash centroid error, px."),
    background: Path | None = typer.Option(None, "--background", help="Pre-flash frame or night stack (stills)."),
    flashes: Path | None = typer.Option(
        None, "--flashes", help="Skip detection: CSV col,row,time_start_utc,time_end_utc[,brightness]."
    ),
    pixels: Path | None = typer.Option(None, "--pixels", help="CSV col,row[,height_m] to locate (pixels.csv)."),
    force: bool = options.force(),
    quiet: bool = options.quiet(),
    detect_threshold: float = typer.Option(
        6.0,
        "--detect-threshold",
        help="Detection threshold: a flash's brightening in noise sigmas (its score in flashes.csv).",
    ),
    no_motion_compensation: bool = typer.Option(
        False, "--no-motion-compensation", help="Stills: compare with the sequence median instead."
    ),
    no_stroke_grouping: bool = typer.Option(
        False,
        "--no-stroke-grouping",
        help="Keep a network's strokes separate (default: strokes of one flash become one event).",
    ),
    full_georef: bool = typer.Option(
        False, "--full-georef", help="georef.tif at full resolution (default for large frames: at the detection scale)."
    ),
) -> None:
    """Match flashes in the images to lightning events, solve the camera pose, write the products."""
    from cupola.errors import InputError
    from cupola.geometry.times import parse_time
    from cupola.lightning.detect import DetectOptions
    from cupola.lightning.job import LightningRequest, run
    from cupola.lightning.products import write_products
    from cupola.lightning.solve import SolveOptions

    options = SolveOptions(
        emission_height_m=emission_height_m,
        emission_height_sigma_m=emission_height_sigma_m,
        height_mode=height_mode,
        solve_focal=solve_focal,
        centroid_sigma_px=centroid_sigma_px,
        clock_offset_s=clock_offset_s,
        max_clock_offset_s=max_clock_offset_s,
        attitude_guess_deg=attitude_guess,
        guess_radius_deg=guess_radius_deg,
    )
    req = LightningRequest(
        events=list(events),
        tle_path=tle,
        photo=photo,
        time=parse_time(time, "--time") if time else None,
        exposure_s=exposure_s,
        frames_dir=frames,
        frame_times=frame_times,
        video=video,
        fps=fps,
        background=background,
        flashes=flashes,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        options=options,
        event_sigma_m=event_sigma_m,
        pixels=pixels,
        force_tle=force,
        group_strokes=not no_stroke_grouping,
        full_georef=full_georef,
        detect=DetectOptions(threshold_sigma=detect_threshold, motion_compensation=not no_motion_compensation),
    )
    if not (detect_threshold > 0):
        raise InputError(f"--detect-threshold must be positive, got {detect_threshold:g}")
    import sys

    from rich.console import Console as _Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
        console=_Console(stderr=True),
        disable=quiet or not sys.stderr.isatty(),
    ) as prog:
        task = prog.add_task("decoding frames", total=None)
        req.progress = lambda done, total: prog.update(task, completed=done, total=total)
        result = run(req)
        prog.update(task, description="writing products")
        written = write_products(result, out)
    if quiet:
        return
    from rich.console import Console
    from rich.table import Table

    s = result.solution
    roll, pitch, yaw = s.rpy_deg
    sr, sp, sy = s.rpy_sigma_deg
    t = Table(title=f"lightning solve: {result.image_name}", show_header=False)
    t.add_row(
        "pairs",
        f"{s.flash_index.size} of {len(result.flashes)} flashes matched "
        f"({s.n_events_in_window} events in time and view)",
    )
    t.add_row(
        "attitude (LVLH)", f"roll {roll:.4f} ± {sr:.4f}, pitch {pitch:.4f} ± {sp:.4f}, yaw {yaw:.4f} ± {sy:.4f} deg"
    )
    lo, hi = s.clock_window_s
    t.add_row("clock offset", f"{s.clock_offset_s:+.4f} s (network - camera; window {lo:+.4f} .. {hi:+.4f} s)")
    t.add_row(
        "emission height",
        f"{s.emission_height_m / 1000:.2f} ± {s.emission_height_sigma_m / 1000:.2f} km ({s.emission_height_source})",
    )
    t.add_row("fit", f"chi2/dof {s.chi2 / max(s.dof, 1):.2f}, solve {s.seconds:.2f} s")
    for w in result.warnings:
        t.add_row("[yellow]warning[/]", w)
    t.add_row("wrote", ", ".join(p.name for p in written))
    Console().print(t)


@lightning_app.command("lis")
def lis_command(
    science: Path = typer.Argument(..., help="ISS LIS science file (ISS_LIS_SC_*.nc)."),
    out: Path = options.out_folder(),
    background: Path | None = typer.Option(
        None, "--background", help="ISS LIS background file (ISS_LIS_BG_*.nc): georeference its images."
    ),
    height_m: float = typer.Option(
        0.0,
        "--height-m",
        help="Height above the ellipsoid of the surface_lat/surface_lon corners in backgrounds.csv, m "
        "(the comparison with the file's corners is always on the file's own 13.5 km surface).",
    ),
    quiet: bool = options.quiet("No summary."),
) -> None:
    """ISS LIS flashes as CSV/GeoJSON and a map; background images georeferenced against the file."""
    from cupola.lightning.lis_products import write_lis_products

    written = write_lis_products(science, out, background_path=background, height_m=height_m)
    if not quiet:
        print("wrote " + ", ".join(p.name for p in written))


@lightning_app.command("simulate")
def simulate_command(
    tle: Path = options.tle("File of two-line element sets (the real orbit)."),
    time: str = options.time("Start of the first exposure, camera clock, ISO 8601."),
    out: Path = options.out_folder(),
    attitude: tuple[float, float, float] = options.attitude((0.0, 0.0, 0.0), "LVLH roll, pitch, yaw in degrees."),
    camera: str | None = typer.Option(
        None,
        "--camera",
        help="Preset: d5-50mm or meteor (default meteor unless --focal-mm/--sensor-mm/--size are given).",
    ),
    focal_mm: float | None = options.focal_mm("Focal length, mm."),
    sensor_mm: tuple[float, float] | None = options.sensor_mm("Focal plane, mm."),
    size: tuple[int, int] | None = typer.Option(None, "--size", help="Image width and height, px."),
    n_flashes: int = typer.Option(50, "--flashes", help="Flashes in view during the exposures."),
    n_frames: int = typer.Option(10, "--frames", help="Number of frames."),
    interval_s: float = typer.Option(1.0, "--interval-s", help="Time between frame starts, s."),
    exposure_s: float | None = typer.Option(
        None, "--exposure-s", help="Exposure, s (default half the interval for stills, the interval for video)."
    ),
    video: bool = typer.Option(False, "--video", help="Write video.avi instead of frames (interval < 0.1 s)."),
    clock_offset_s: float = typer.Option(0.0, "--clock-offset-s", help="Network - camera time, s."),
    network_sigma_m: float = typer.Option(150.0, "--network-sigma-m", help="Network location error, m."),
    cloud_top_m: float = typer.Option(10_000.0, "--cloud-top-m", help="Mean cloud-top height, m."),
    cloud_top_sigma_m: float = typer.Option(2_000.0, "--cloud-top-sigma-m", help="Its scatter, m."),
    false_rate: float = typer.Option(0.1, "--false-rate", help="False detections per flash."),
    miss_rate: float = typer.Option(0.1, "--miss-rate", help="Fraction of flashes the camera misses."),
    storms: int = typer.Option(0, "--storms", help="Cluster flashes in this many storm cells (0: uniform)."),
    mapper: bool = typer.Option(False, "--mapper", help="Also write GLM-like mapper groups (mapper.csv)."),
    no_images: bool = typer.Option(False, "--no-images", help="Only the CSV files and the truth."),
    urban_lights: bool = typer.Option(
        False, "--urban-lights", help="Towns as extended lights moving with the ground (rather than point lamps)."
    ),
    cities: int = typer.Option(60, "--cities", help="Towns (point lamps) in one frame, on average."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Simulate a scene (real orbit, simulated lightning and network) as files `lightning solve` reads."""
    from cupola.errors import InputError
    from cupola.geometry.camera import Camera
    from cupola.geometry.times import parse_time
    from cupola.io.tle import element_set_at
    from cupola.simulate.lightning import SceneSpec, simulate_scene, write_scene

    if camera is not None and any(v is not None for v in (focal_mm, sensor_mm, size)):
        raise InputError("give either --camera or --focal-mm/--sensor-mm/--size, not both")
    if camera is None and all(v is None for v in (focal_mm, sensor_mm, size)):
        camera = "meteor"
    if camera is not None:
        if camera not in CAMERAS:
            raise InputError(f"--camera {camera!r}: known are {', '.join(CAMERAS)}")
        f, sw, sh, w, h = CAMERAS[camera]
    else:
        if focal_mm is None or sensor_mm is None or size is None:
            raise InputError("a custom camera needs --focal-mm, --sensor-mm and --size")
        f, (sw, sh), (w, h) = focal_mm, sensor_mm, size
    cam = Camera.from_focal_sensor(focal_mm=f, sensor_width_mm=sw, sensor_height_mm=sh, width_px=w, height_px=h)
    if video and interval_s >= 0.1:
        raise InputError(f"--video needs a frame interval below 0.1 s, got --interval-s {interval_s:g}")
    exp = exposure_s if exposure_s is not None else (interval_s if interval_s < 0.1 else interval_s / 2)
    spec = SceneSpec(
        n_flashes=n_flashes,
        n_frames=n_frames,
        frame_interval_s=interval_s,
        exposure_s=exp,
        clock_offset_s=clock_offset_s,
        network_sigma_m=network_sigma_m,
        cloud_top_m=cloud_top_m,
        cloud_top_sigma_m=cloud_top_sigma_m,
        false_rate=false_rate,
        miss_rate=miss_rate,
        storms=storms,
        mapper=mapper,
        urban_lights=urban_lights,
        n_cities=cities,
    )
    t = parse_time(time, "--time")
    el = element_set_at(tle, t)
    scene = simulate_scene(el, t, cam, attitude, spec, seed=seed)
    written = write_scene(scene, out, t, images=not no_images, video=video, tle_source=str(tle))
    print(
        f"simulated {len(scene.flashes)} detections and {len(scene.events)} network events; wrote "
        + ", ".join(p.name for p in written)
    )
