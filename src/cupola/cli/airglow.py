"""``cupola airglow waves``: gravity waves in a sequence of ISS night frames (thin wrapper over
:mod:`cupola.airglow`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

airglow_app = typer.Typer(
    help="Airglow: frames projected onto the emission layer, gravity-wave spectra and a wave table.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(airglow_app, name="airglow")


@airglow_app.command("waves")
def waves_command(
    photos: list[Path] = typer.Argument(None, help="The frames, in time order (times from EXIF, UTC)."),
    frames: Path | None = typer.Option(None, "--frames", help="Folder of frames (with --frame-times)."),
    frame_times: Path | None = typer.Option(
        None, "--frame-times", help="CSV with columns file,time (ISO 8601 UTC): one row per frame."
    ),
    tle: Path = options.tle(),
    force: bool = options.force(),
    focal_mm: float | None = options.focal_mm(),
    sensor_mm: tuple[float, float] | None = options.sensor_mm(),
    attitude: tuple[float, float, float] | None = options.attitude(
        help="Camera roll, pitch, yaw in degrees in the LVLH frame, fixed through the sequence."
    ),
    tie_points: Path | None = typer.Option(
        None,
        "--tie-points",
        help="CSV col,row,lat,lon[,height_m] in the pixels of the first frame: the attitude solved from them "
        "(held fixed in LVLH through the sequence); with a column frame (index from 0), file or time, points on "
        "several frames: a pose per frame (frames without points interpolated).",
    ),
    pose_from: Path | None = typer.Option(
        None, "--pose-from", help="result.json of another cupola command whose pose (LVLH roll, pitch, yaw) to use."
    ),
    attitudes: Path | None = typer.Option(
        None,
        "--attitudes",
        help="CSV of per-frame attitudes: file (one row per frame) or time (a log, interpolated), with "
        "roll_deg,pitch_deg,yaw_deg (LVLH) or qw,qx,qy,qz (camera -> LVLH).",
    ),
    register_ground: bool = typer.Option(
        False,
        "--register-ground",
        help="Refine every frame's attitude by tracking the first frame's ground lights (hand-held sequences).",
    ),
    layer_km: float | None = typer.Option(
        None, "--layer-km", help="Height of the emission layer in km (default: that of --emission, else 87)."
    ),
    emission: str | None = typer.Option(
        None, "--emission", help="The emission imaged: OH (87 km), NA (90), O2 (94), OI557 (97), OI630 (250)."
    ),
    grid_km: float | None = typer.Option(
        None, "--grid-km", help="Grid spacing on the layer in km (default: automatic)."
    ),
    wind: tuple[float, float] | None = typer.Option(
        None, "--wind", help="Wind at the layer, eastward and northward (m/s): intrinsic phase speeds."
    ),
    exposure_s: float | None = typer.Option(
        None,
        "--exposure-s",
        help="Exposure time (s): poses at mid-exposure (the times being shutter openings) and amplitudes "
        "corrected for the smear of the station's motion.",
    ),
    flat: Path | None = typer.Option(
        None, "--flat", help="Flat field (relative response, an image of the frame's size)."
    ),
    dark: Path | None = typer.Option(
        None, "--dark", help="Dark frame (the frames' size and exposure, lens capped), subtracted from every frame."
    ),
    curved_waves: bool = typer.Option(
        False,
        "--curved-waves",
        help="Also search for waves of 50 km and longer with circular crests (a source a few hundred km "
        "away) that the plane-wave search misses; their phase speeds are less certain (docs/airglow.md).",
    ),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Project each frame onto the layer with its own pose, clean stars, lights and clouds, and
    measure the waves (wavelength, azimuth, phase speed, period, amplitude)."""
    from cupola.airglow.inputs import load_request
    from cupola.airglow.products import write_airglow_products
    from cupola.airglow.sequence import analyse_sequence
    from cupola.airglow.shell import layer_height_m
    from cupola.cli.progress import progress_bar

    height_m = layer_height_m(layer_km, emission)
    req = load_request(
        photos=list(photos or []),
        frames_dir=frames,
        frame_times=frame_times,
        tle=tle,
        force=force,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        attitude_rpy_deg=attitude,
        pose_from=pose_from,
        tie_points=tie_points,
        attitudes=attitudes,
        register_ground=register_ground,
        flat=flat,
        dark=dark,
        layer_km=height_m / 1e3,
        exposure_s=exposure_s,
    )
    with progress_bar(disable=quiet) as advance:
        result = analyse_sequence(
            req.frames,
            req.times,
            req.camera,
            req.poses,
            height_m=height_m,
            spacing_km=grid_km,
            flat=req.flat,
            wind_m_s=wind,
            exposure_s=exposure_s,
            names=req.names,
            progress=advance,
            curved_waves=curved_waves,
        )
        result.notes.extend(req.notes)
        summary = write_airglow_products(result, out, inputs=req.paths, extra=req.summary)
    if not quiet:
        print(f"airglow: {len(result.waves)} wave(s) in {summary['frames']} frames -> {out}")
        for i, w in enumerate(result.waves, 1):
            print(
                f"  {i}: {w.wavelength_km:.1f} km toward {w.azimuth_deg:.0f} deg at {w.phase_speed_m_s:.0f} m/s, "
                f"{w.amplitude_pct:.2f} %{' (direction ambiguous)' if w.ambiguous else ''}"
                f"{' (crests along the track: may be fixed to the ground)' if w.track_parallel else ''}"
            )
