"""``cupola orbit``: where the satellite was, its altitude and the sun there."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cupola.cli import options


def register(app: typer.Typer) -> None:
    app.command("orbit")(orbit_command)


def orbit_command(
    tle: Path = options.tle(),
    time: str = options.time(),
    force: bool = options.force(),
    as_json: bool = options.as_json(),
) -> None:
    """Satellite sub-point, altitude, ground speed and the sun there at TIME."""
    from cupola.geometry.times import parse_time
    from cupola.georef.orbit_report import orbit_report

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
