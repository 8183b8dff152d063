"""Human-readable summaries printed by the commands (rich tables)."""

from __future__ import annotations

import math


def _fmt(x, nd=4):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def print_geolocate_summary(result, written) -> None:
    from rich.console import Console
    from rich.table import Table

    d = result.to_dict()
    t = Table(title=f"cupola geolocate: {result.request.photo}", show_header=False)
    t.add_row("time (UTC)", d["time_utc"])
    t.add_row("TLE epoch", f"{d['tle']['epoch']} ({d['tle']['age_days']:+.2f} d)")
    iss = d["iss"]
    t.add_row(
        "ISS sub-point",
        f"{_fmt(iss['subpoint_lat_deg'])}, {_fmt(iss['subpoint_lon_deg'])}  "
        f"alt {iss['altitude_m'] / 1000:.1f} km, {iss['ground_speed_m_s'] / 1000:.2f} km/s over ground",
    )
    sun = d["sun"]["at_center"] or d["sun"]["at_subpoint"]
    t.add_row("sun elevation", f"{sun['elevation_deg']:.2f} deg ({sun['illumination']})")
    p = d["pose"]
    t.add_row(
        "pose",
        f"{p['source']}: roll {p['lvlh_roll_deg']:.3f}, pitch {p['lvlh_pitch_deg']:.3f}, "
        f"yaw {p['lvlh_yaw_deg']:.3f} deg; off-nadir {p['off_nadir_deg']:.2f} deg",
    )
    if "tie_points" in d:
        tp = d["tie_points"]
        t.add_row("tie-point residuals", f"RMS {tp['rms_px']:.2f} px, {tp['rms_m']:.0f} m ({tp['count']} points)")
    t.add_row("centre", f"{_fmt(d['center']['lat_deg'])}, {_fmt(d['center']['lon_deg'])}")
    g = d["gsd_at_center_m"]
    t.add_row("GSD at centre", f"{_fmt(g['along_columns'], 1)} x {_fmt(g['along_rows'], 1)} m")
    for m in d.get("landmarks", []):
        where = f"pixel ({m['col_px']:.0f}, {m['row_px']:.0f})" if m["in_frame"] else "outside the frame"
        t.add_row(f"landmark {m['name']}", where)
    for w in d["warnings"]:
        t.add_row("[yellow]warning[/]", w)
    for path in written:
        t.add_row("wrote", str(path))
    Console().print(t)
