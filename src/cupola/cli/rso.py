"""``cupola rso synth|train|recover|pose|evaluate``: synthetic spacecraft imagery, image recovery
and pose estimation (thin wrapper over :mod:`cupola.rso`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

rso_app = typer.Typer(
    help="Resident space objects: synthetic imagery, image recovery (U-Net) and pose (ResNet-50).",
    no_args_is_help=True,
)
train_app = typer.Typer(help="Train the recovery U-Net or the pose ResNet-50 on a synthetic set.", no_args_is_help=True)
rso_app.add_typer(train_app, name="train")


def register(app: typer.Typer) -> None:
    app.add_typer(rso_app, name="rso")


def _mesh() -> Path | None:
    return typer.Option(None, "--mesh", help="Spacecraft mesh (OBJ, GLB, STL, PLY); default the ISS-like model.")


def _scale() -> float:
    return typer.Option(1.0, "--scale", help="Multiply the mesh's coordinates by this to get metres.")


def _model(mesh: Path | None, scale: float):
    from cupola.rso.spacecraft import iss_like_model, load_model

    return iss_like_model() if mesh is None else load_model(mesh, scale=scale)


@rso_app.command("synth")
def synth_command(
    n: int = typer.Option(..., "--n", help="Number of images."),
    seed: int = typer.Option(0, "--seed", help="Random seed (the same seed gives the same set)."),
    size: int = typer.Option(64, "--size", help="Image width and height in pixels (16-512)."),
    mesh: Path | None = _mesh(),
    scale: float = _scale(),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Render a labelled set: uniform random attitudes, range, Sun angle, degraded copies."""
    from cupola.cli.progress import progress_bar
    from cupola.rso.dataset import synthesize

    model = _model(mesh, scale)
    with progress_bar(disable=quiet) as advance:
        summary = synthesize(model, n, out, seed=seed, size_px=size, progress=advance)
    if not quiet:
        print(
            f"rso synth: {n} image(s) of {summary['model']} ({size} px, seed {seed}), "
            f"{summary['render_seconds_per_image'] * 1000:.1f} ms per image -> {out}"
        )
