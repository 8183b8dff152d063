"""``cupola orbit``: where the satellite was, its altitude and the sun there."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("orbit")(orbit_command)


def orbit_command(
    tle: Path = typer.Option(..., "--tle", help="File of two-line element sets."),
    time: str = typer.Option(..., "--time", help="ISO 8601 time with zone."),
    force: bool = typer.Option(False, "--force", help="Accept element sets more than 30 days away."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Satellite sub-point, altitude, ground speed and the sun there at TIME."""
    from cupola.georef.orbit_report import orbit_report

    from cupola.geometry.orbit import parse_time

    report = orbit_report(tle, parse_time(time, "--time"), force=force)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{report['name']} at {report['time_utc']}", show_header=False)
    for key, value in report.items():
        if key not in ("name", "time_utc"):
            t.add_row(key, f"{value:.6f}" if isinstance(value, float) else str(value))
    Console().print(t)
