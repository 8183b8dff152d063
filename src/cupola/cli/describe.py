"""``cupola describe``: a plain-language paragraph and structured facts of a georeferencing or
localization result (thin wrapper over :mod:`cupola.describe`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options


def register(app: typer.Typer) -> None:
    app.command("describe")(describe_command)


def describe_command(
    result: Path = typer.Argument(..., help="A result.json of geolocate/locate, or a product folder holding one."),
    near_km: float = typer.Option(50.0, "--near-km", help="How far outside the footprint a city counts as near (km)."),
    out: Path = options.out_folder(),
) -> None:
    """Countries and regions in view with their shares, cities, water and coasts, sun, season,
    viewing geometry and scale: description.txt and description.json in --out. Offline sources."""
    from cupola.describe.job import describe

    facts = describe(result, out, near_km=near_km)
    print(facts["text"])
    print(f"describe: -> {out}")
